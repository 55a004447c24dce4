// hello-js: a Sluice connector written in JavaScript, built with componentize-js.
//
// It implements `sluice:connector@0.2.0` (the WIT is `wit/since_v0.2.0` at the
// repository root) and lists user accounts from `GET {base_url}/users?limit=N`,
// following the `next` URL the provider returns, with a bearer token the host adds
// (the connector never sees it). Build it with `just build-js-connector`; check it with
// `sluice test-connector target/js/hello_js.wasm --fixtures connectors-js/hello-js/fixtures`.
//
// WIT names arrive in camelCase (`list-users` is `listUsers`, `page-size` is
// `pageSize`), enums are strings, variants are `{ tag, val }` and an absent option is
// `undefined`. A connector error is *thrown* as the variant itself, e.g.
// `throw { tag: 'unsupported', val: '…' }`; a failed `http.send` throws an error whose
// `.payload` is the `http-error`. HTTP goes through the contract's `http` import only:
// the component imports no WASI at all (see build.sh).

import { send } from 'sluice:connector/http@0.2.0';
import { log } from 'sluice:connector/log@0.2.0';
import { get as configGet } from 'sluice:connector/config@0.2.0';

const DEFAULT_BASE_URL = 'https://api.example.com';

const unsupported = (what) => ({ tag: 'unsupported', val: `hello-js does not support ${what}` });

const optStr = (v) => (v === undefined || v === null ? undefined : String(v));

function baseUrl() {
  return (configGet('base_url') ?? DEFAULT_BASE_URL).replace(/\/+$/, '');
}

/** An `http-error` (no response at all) as the `connector-error` to return. */
function httpError(e) {
  switch (e.tag) {
    case 'rate-limited':
      return { tag: 'rate-limited', val: e.val };
    case 'denied':
      return { tag: 'invalid-config', val: `egress denied: ${e.val}` };
    default:
      return { tag: 'upstream', val: `${e.tag}: ${e.val ?? ''}` };
  }
}

function retryAfter(headers) {
  for (const [name, value] of headers) {
    if (name.toLowerCase() === 'retry-after') {
      const secs = Number(value);
      return Number.isFinite(secs) ? Math.max(0, Math.floor(secs)) : undefined;
    }
  }
  return undefined;
}

/** GET `url` and parse its JSON body; HTTP failures are thrown as typed connector errors. */
function getJson(url) {
  log('debug', `GET ${url}`);
  let resp;
  try {
    resp = send({ method: 'get', url, headers: [['accept', 'application/json']], body: undefined });
  } catch (e) {
    if (e && e.payload) throw httpError(e.payload);
    throw e;
  }
  const status = resp.status;
  if (status === 401) throw { tag: 'unauthorized', val: `HTTP 401 from ${url}` };
  if (status === 403) throw { tag: 'forbidden', val: `HTTP 403 from ${url}` };
  if (status === 404) throw { tag: 'not-found', val: `HTTP 404 from ${url}` };
  if (status === 429) throw { tag: 'rate-limited', val: retryAfter(resp.headers) };
  if (status >= 500) throw { tag: 'upstream', val: `HTTP ${status} from ${url}` };
  if (status >= 300) throw { tag: 'other', val: `HTTP ${status} from ${url}` };
  try {
    return JSON.parse(new TextDecoder().decode(resp.body));
  } catch (e) {
    throw { tag: 'upstream', val: `bad JSON from ${url}: ${e.message}` };
  }
}

function user(item) {
  return {
    id: String(item.id),
    login: optStr(item.login),
    email: optStr(item.email),
    displayName: optStr(item.name),
    status: item.suspended ? 'suspended' : 'active',
    isAdmin: Boolean(item.admin),
    isExternal: false,
    roles: [],
    groupIds: [],
    lastSignIn: undefined,
    created: undefined,
    raw: JSON.stringify(item),
  };
}

export const connector = {
  describe() {
    return {
      id: 'hello-js',
      name: 'Hello (JavaScript)',
      version: '0.1.0',
      provider: 'Example',
      description: 'User accounts from an example API; written in JavaScript with componentize-js.',
      capabilities: ['accounts'],
      actions: [],
      config: [
        {
          name: 'base_url', label: 'API base URL', required: false, secret: false,
          default: DEFAULT_BASE_URL, example: DEFAULT_BASE_URL,
          description: 'Users are read from {base_url}/users.',
        },
        {
          name: 'token', label: 'API token', required: true, secret: true,
          default: undefined, example: undefined,
          description: 'Sent by the host as a bearer token.',
        },
      ],
      auth: [{ id: 'token', label: 'API token', scheme: { tag: 'bearer', val: { tokenField: 'token' } } }],
      egress: ['{base_url}'],
      rateLimits: [{ scope: '*', requests: 600, perSeconds: 60, burst: 20, maxConcurrency: 4 }],
      scanWrites: [],
      maxLookBackDays: undefined,
    };
  },

  check(_ctx) {
    getJson(`${baseUrl()}/users?limit=1`);
    return { principal: undefined, granted: [], missing: [] };
  },

  listUsers(ctx, cursor) {
    const body = getJson(cursor ?? `${baseUrl()}/users?limit=${ctx.pageSize}`);
    if (body === null || typeof body !== 'object' || !Array.isArray(body.users)) {
      throw { tag: 'upstream', val: 'expected {"users": [...]}' };
    }
    const items = body.users
      .filter((u) => u !== null && typeof u === 'object' && u.id !== undefined && u.id !== null)
      .map(user);
    return { items, nextCursor: typeof body.next === 'string' ? body.next : undefined };
  },

  listGroups() { throw unsupported('list-groups'); },
  listActivities() { throw unsupported('list-activities'); },
  listFiles() { throw unsupported('list-files'); },
  readFile() { throw unsupported('read-file'); },
  listAppPermissions() { throw unsupported('list-app-permissions'); },
  posture() { throw unsupported('posture'); },
  act() { throw unsupported('act'); },
};
