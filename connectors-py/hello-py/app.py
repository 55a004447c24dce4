"""hello-py: a Sluice connector written in Python, built with componentize-py.

It implements `sluice:connector@0.1.0`, the first contract version (the WIT
is `wit/since_v0.1.0` at the repository root; it stays on 0.1.0 on purpose, a live
example of an older contract version the host keeps loading) and lists user accounts from
`GET {base_url}/users?limit=N`, following the `next` URL the provider returns, with a
bearer token the host adds (the connector never sees it). Build it with
`just build-py-connector`; check it with
`sluice test-connector target/py/hello_py.wasm --fixtures connectors-py/hello-py/fixtures`.

Connector errors are raised as `Err(types.ConnectorError_…)`; a failed `http.send`
arrives as an `Err` exception whose `.value` is the `http-error`.
"""
import json
from typing import List, Optional

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import config, http, log, types

DEFAULT_BASE_URL = "https://api.example.com"


def _unsupported(what: str) -> Err:
    return Err(types.ConnectorError_Unsupported(f"hello-py does not support {what}"))


def _opt_str(v) -> Optional[str]:
    return None if v is None else str(v)


def _base_url() -> str:
    return (config.get("base_url") or DEFAULT_BASE_URL).rstrip("/")


def _http_error(e) -> types.ConnectorError:
    if isinstance(e, http.HttpError_RateLimited):
        return types.ConnectorError_RateLimited(e.value)
    if isinstance(e, http.HttpError_Denied):
        return types.ConnectorError_InvalidConfig(f"egress denied: {e.value}")
    return types.ConnectorError_Upstream(f"{type(e).__name__}: {getattr(e, 'value', '')}")


def _retry_after(headers) -> Optional[int]:
    for name, value in headers:
        if name.lower() == "retry-after":
            try:
                return max(0, int(float(value)))
            except ValueError:
                return None
    return None


def _get_json(url: str):
    """GET `url` and parse its JSON body; HTTP failures become typed connector errors."""
    log.log(log.Level.DEBUG, f"GET {url}")
    try:
        resp = http.send(http.Request(method=http.Method.GET, url=url,
                                      headers=[("accept", "application/json")], body=None))
    except Err as e:
        raise Err(_http_error(e.value))
    status = resp.status
    if status == 401:
        raise Err(types.ConnectorError_Unauthorized(f"HTTP 401 from {url}"))
    if status == 403:
        raise Err(types.ConnectorError_Forbidden(f"HTTP 403 from {url}"))
    if status == 404:
        raise Err(types.ConnectorError_NotFound(f"HTTP 404 from {url}"))
    if status == 429:
        raise Err(types.ConnectorError_RateLimited(_retry_after(resp.headers)))
    if status >= 500:
        raise Err(types.ConnectorError_Upstream(f"HTTP {status} from {url}"))
    if status >= 300:
        raise Err(types.ConnectorError_Other(f"HTTP {status} from {url}"))
    try:
        return json.loads(resp.body)
    except ValueError as e:
        raise Err(types.ConnectorError_Upstream(f"bad JSON from {url}: {e}"))


def _user(item: dict) -> types.User:
    return types.User(
        id=str(item["id"]),
        login=_opt_str(item.get("login")),
        email=_opt_str(item.get("email")),
        display_name=_opt_str(item.get("name")),
        status=types.UserStatus.SUSPENDED if item.get("suspended") else types.UserStatus.ACTIVE,
        is_admin=bool(item.get("admin", False)),
        is_external=False,
        roles=[],
        group_ids=[],
        last_sign_in=None,
        created=None,
        raw=json.dumps(item),
    )


class Connector(exports.Connector):
    def describe(self) -> types.ConnectorInfo:
        return types.ConnectorInfo(
            id="hello-py",
            name="Hello (Python)",
            version="0.1.0",
            provider="Example",
            description="User accounts from an example API; written in Python with componentize-py.",
            capabilities=[types.Capability.ACCOUNTS],
            actions=[],
            config=[
                types.ConfigField(
                    name="base_url", label="API base URL", required=False, secret=False,
                    default=DEFAULT_BASE_URL, example=DEFAULT_BASE_URL,
                    description="Users are read from {base_url}/users.",
                ),
                types.ConfigField(
                    name="token", label="API token", required=True, secret=True,
                    default=None, example=None,
                    description="Sent by the host as a bearer token.",
                ),
            ],
            auth=types.AuthScheme_Bearer(types.BearerAuth(token_field="token")),
            egress=["{base_url}"],
            rate_limits=[types.RateLimit(scope="*", requests=600, per_seconds=60,
                                         burst=20, max_concurrency=4)],
        )

    def check(self, ctx: types.Context) -> types.Permissions:
        _get_json(f"{_base_url()}/users?limit=1")
        return types.Permissions(principal=None, granted=[], missing=[])

    def list_users(self, ctx: types.Context, cursor: Optional[str]) -> types.UserPage:
        url = cursor or f"{_base_url()}/users?limit={ctx.page_size}"
        body = _get_json(url)
        if not isinstance(body, dict) or not isinstance(body.get("users"), list):
            raise Err(types.ConnectorError_Upstream("expected {\"users\": [...]}"))
        users: List[types.User] = [
            _user(item) for item in body["users"]
            if isinstance(item, dict) and item.get("id") is not None
        ]
        next_url = body.get("next")
        return types.UserPage(items=users, next_cursor=next_url if isinstance(next_url, str) else None)

    def list_groups(self, ctx, cursor) -> types.GroupPage:
        raise _unsupported("list-groups")

    def list_activities(self, ctx, cursor) -> types.ActivityPage:
        raise _unsupported("list-activities")

    def list_files(self, ctx, cursor) -> types.FilePage:
        raise _unsupported("list-files")

    def list_app_permissions(self, ctx, cursor) -> types.AppPermissionPage:
        raise _unsupported("list-app-permissions")

    def posture(self, ctx) -> List[types.Finding]:
        raise _unsupported("posture")

    def act(self, ctx, action) -> types.ActionOutcome:
        raise _unsupported("act")
