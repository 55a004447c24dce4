//! A loopback Slack for one workspace (or Enterprise Grid organisation), serving the
//! three APIs the Slack connector uses on one port, as Slack documents them:
//!
//! - the Web API under `/api/<method>` (Slack's `https://slack.com/api`): every answer
//!   is HTTP 200 with `"ok": true` or `{"ok": false, "error": "<code>"}` (`not_authed`
//!   without a token, `invalid_auth` for a wrong one, `missing_scope` with `needed`
//!   and `provided` when the token lacks the method's scope), every answer to an
//!   authenticated call carries the token's scopes in `x-oauth-scopes`, and lists page
//!   with `limit` and an opaque `cursor`, the next one in
//!   `response_metadata.next_cursor` (empty on the last page);
//! - the Audit Logs API under `/audit/v1/logs` (Slack's `https://api.slack.com`):
//!   `oldest`/`latest` (inclusive, Unix seconds), `limit`, `cursor`; entries newest
//!   first in `{"entries": […], "response_metadata": {"next_cursor": …}}`, failures
//!   as HTTP statuses with `{"ok": false, "error": …}` bodies;
//! - the SCIM API (v1.1) under `/scim/v1/Users/{id}` on the same host: `GET`,
//!   `DELETE` (deactivates) and `PATCH` `{"active": true}` (reactivates), errors as
//!   `{"Errors": {"description", "code"}}`.
//!
//! Throttling (on demand, [`SlackMock::inject_faults`]) is Slack's: HTTP 429 with
//! `Retry-After` in seconds and `{"ok": false, "error": "ratelimited"}`.
//!
//! Assumptions where Slack's documentation is silent (the connector's docs repeat
//! them): Audit Logs and SCIM failures of authentication are HTTP 401, of scope HTTP
//! 403 (with Slack's `ok: false` body, resp. a SCIM `Errors` body); SCIM `DELETE`
//! answers 200 with an empty body; the Audit Logs API records a session reset as
//! `user_session_reset_by_admin` and the SCIM changes as `user_deactivated` and
//! `user_reactivated`; cursors are the mock's own opaque base64 strings.
//!
//! Data is generated deterministically from [`SlackMockConfig`] (member *i* is
//! `W{i:08}`; member 0 is the primary owner whose token it is), so
//! [`SlackMock::expected`] says exactly what a complete scan must find. With
//! [`SlackMockConfig::fixtures_dir`] set, the listings answer Slack's own published
//! examples (`shared/fixtures/slack`) instead.
//!
//! | route | paging |
//! |---|---|
//! | `GET /api/auth.test` | — |
//! | `GET /api/users.list` | `limit` + `cursor` |
//! | `GET /api/usergroups.list?include_users=` | — (one body) |
//! | `GET /api/usergroups.users.list?usergroup=` | — |
//! | `GET /api/admin.apps.approved.list`, `…restricted.list` | `limit` + `cursor` |
//! | `POST /api/admin.users.session.reset` (JSON or form `user_id`) | — |
//! | `GET /audit/v1/logs` | `limit` + `cursor`, newest first |
//! | `GET`/`DELETE`/`PATCH /scim/v1/Users/{id}` | — |

// Handlers answer `Result<Response, Response>` (Slack's failure bodies are responses
// too), the usual axum shape.
#![allow(clippy::result_large_err)]

use std::io;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::header::{CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{Value, json};

use crate::faults::{self, FaultPlan, Faults, RateBudget};
use crate::server::{MockServer, RequestRecord, RequestUrl};

/// Every scope the Slack connector can use.
pub const SLACK_SCOPES: &[&str] = &[
    "users:read",
    "users:read.email",
    "usergroups:read",
    "auditlogs:read",
    "admin.apps:read",
    "admin",
    "admin.users:write",
];

/// What the mock workspace looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackMockConfig {
    /// The only token accepted (`Authorization: Bearer <token>`).
    pub token: String,
    /// The token's scopes (`x-oauth-scopes`); methods refuse without theirs.
    pub scopes: Vec<String>,
    /// Owners besides the primary owner (member 0).
    pub owners: usize,
    /// Workspace admins.
    pub admins: usize,
    /// Ordinary active members.
    pub members: usize,
    /// Guests: the first half multi-channel, the rest single-channel.
    pub guests: usize,
    /// Deactivated members (`deleted: true`).
    pub deactivated: usize,
    /// User groups `Group 1` …
    pub usergroups: usize,
    /// Members per user group, drawn in turn from the active members.
    pub members_per_group: usize,
    /// Audit log entries at start, two per second.
    pub audit_events: usize,
    /// `date_create` of entry 0 (Unix seconds); `None`: an hour before now, less the
    /// time the entries span.
    pub audit_start: Option<i64>,
    /// Apps in `admin.apps.approved.list`.
    pub approved_apps: usize,
    /// Apps in `admin.apps.restricted.list`.
    pub restricted_apps: usize,
    /// Added to every response.
    pub latency: Duration,
    /// Serve Slack's published examples from this folder (`shared/fixtures/slack`) on
    /// the user, user group, audit log and approved app listings.
    pub fixtures_dir: Option<PathBuf>,
}

impl Default for SlackMockConfig {
    fn default() -> Self {
        SlackMockConfig {
            token: "xoxp-mock-slack-token".to_owned(),
            scopes: SLACK_SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            owners: 1,
            admins: 2,
            members: 14,
            guests: 3,
            deactivated: 2,
            usergroups: 3,
            members_per_group: 4,
            audit_events: 40,
            audit_start: None,
            approved_apps: 3,
            restricted_apps: 2,
            latency: Duration::ZERO,
            fixtures_dir: None,
        }
    }
}

/// What a complete scan of the mock must yield right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SlackExpected {
    /// Every member, deactivated ones included.
    pub users: usize,
    /// Members not deactivated / deactivated.
    pub active: usize,
    pub disabled: usize,
    /// Primary owner, owners and admins.
    pub admins: usize,
    /// Guests.
    pub external: usize,
    pub groups: usize,
    /// Group memberships summed over groups.
    pub group_memberships: usize,
    /// Audit log entries, and how many of each kind.
    pub activities: usize,
    pub logon: usize,
    pub user_activity: usize,
    pub admin_activity: usize,
    /// Approved plus restricted apps.
    pub app_permissions: usize,
}

/// A member's place in the workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlackRole {
    PrimaryOwner,
    Owner,
    Admin,
    Member,
    MultiChannelGuest,
    SingleChannelGuest,
}

/// Which audit trail an action belongs to, by the mock's own table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditKind {
    Logon,
    User,
    Admin,
}

/// The actions generated entries cycle through, with their kinds.
const ACTIONS: &[(&str, AuditKind)] = &[
    ("user_login", AuditKind::Logon),
    ("file_downloaded", AuditKind::User),
    ("user_channel_join", AuditKind::User),
    ("role_change_to_admin", AuditKind::Admin),
    ("user_logout", AuditKind::Logon),
    ("pref_sso_setting_changed", AuditKind::Admin),
    ("app_approved", AuditKind::Admin),
    ("user_login_failed", AuditKind::Logon),
];

/// A running Slack mock on `127.0.0.1`; shuts down when dropped.
#[derive(Debug)]
pub struct SlackMock {
    server: MockServer,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: SlackMockConfig,
    /// Token and scopes, changeable while running.
    auth: Mutex<(String, Vec<String>)>,
    state: Mutex<Workspace>,
    /// Slack's published examples, by file name.
    fixtures: Option<Fixtures>,
    /// Only used up by injected faults (Slack sends no budget headers).
    budget: RateBudget,
    faults: FaultPlan,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, Workspace> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn auth(&self) -> (String, Vec<String>) {
        self.auth.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[derive(Debug, Clone)]
struct Member {
    id: String,
    name: String,
    real_name: String,
    email: String,
    role: SlackRole,
    deleted: bool,
    sessions: u32,
}

#[derive(Debug, Clone)]
struct Entry {
    /// Position in the log; entries are appended in time order.
    seq: u64,
    date_create: i64,
    value: Value,
}

#[derive(Debug, Default)]
struct Workspace {
    members: Vec<Member>,
    /// (id, name, member ids).
    groups: Vec<(String, String, Vec<String>)>,
    entries: Vec<Entry>,
}

#[derive(Debug)]
struct Fixtures(Vec<(String, Value)>);

impl Fixtures {
    fn load(dir: &FsPath) -> io::Result<Fixtures> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".json") {
                let value = serde_json::from_slice(&std::fs::read(entry.path())?)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                files.push((name, value));
            }
        }
        Ok(Fixtures(files))
    }

    fn get(&self, name: &str) -> Option<Value> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn encode_cursor(kind: &str, n: u64) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{kind}:{n}"))
}

fn decode_cursor(kind: &str, cursor: &str) -> Option<u64> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cursor)
        .ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix(&format!("{kind}:"))?
        .parse()
        .ok()
}

impl Workspace {
    fn generate(config: &SlackMockConfig, start: i64) -> Workspace {
        let mut roles = vec![SlackRole::PrimaryOwner];
        roles.extend(std::iter::repeat_n(SlackRole::Owner, config.owners));
        roles.extend(std::iter::repeat_n(SlackRole::Admin, config.admins));
        roles.extend(std::iter::repeat_n(SlackRole::Member, config.members));
        let multi = config.guests.div_ceil(2);
        roles.extend(std::iter::repeat_n(SlackRole::MultiChannelGuest, multi));
        roles.extend(std::iter::repeat_n(
            SlackRole::SingleChannelGuest,
            config.guests - multi,
        ));
        let active = roles.len();
        roles.extend(std::iter::repeat_n(SlackRole::Member, config.deactivated));
        let members: Vec<Member> = roles
            .into_iter()
            .enumerate()
            .map(|(i, role)| Member {
                id: format!("W{i:08}"),
                name: format!("member{i}"),
                real_name: format!("Member {i}"),
                email: format!("member{i}@acme.example"),
                role,
                deleted: i >= active,
                sessions: 1,
            })
            .collect();
        let groups = (0..config.usergroups)
            .map(|g| {
                let ids = (0..config.members_per_group)
                    .map(|k| {
                        members[(g * config.members_per_group + k) % active]
                            .id
                            .clone()
                    })
                    .collect();
                (format!("S{g:08}"), format!("Group {}", g + 1), ids)
            })
            .collect();
        let mut workspace = Workspace {
            members,
            groups,
            entries: Vec::new(),
        };
        for i in 0..config.audit_events {
            let (action, _) = ACTIONS[i % ACTIONS.len()];
            let actor = i % active;
            let target = (i + 1) % active;
            workspace.log(action, actor, target, start + (i / 2) as i64);
        }
        workspace
    }

    fn user_json(member: &Member, with_email: bool) -> Value {
        use SlackRole::*;
        let role = member.role;
        let mut profile = json!({
            "real_name": member.real_name,
            "real_name_normalized": member.real_name,
            "display_name": member.name,
            "display_name_normalized": member.name,
            "team": "T0MOCK001",
        });
        if with_email {
            profile["email"] = json!(member.email);
        }
        json!({
            "id": member.id,
            "team_id": "T0MOCK001",
            "name": member.name,
            "deleted": member.deleted,
            "color": "9f69e7",
            "real_name": member.real_name,
            "tz": "Europe/Amsterdam",
            "tz_label": "Central European Time",
            "tz_offset": 3600,
            "profile": profile,
            "is_admin": matches!(role, PrimaryOwner | Owner | Admin),
            "is_owner": matches!(role, PrimaryOwner | Owner),
            "is_primary_owner": role == PrimaryOwner,
            "is_restricted": matches!(role, MultiChannelGuest | SingleChannelGuest),
            "is_ultra_restricted": role == SingleChannelGuest,
            "is_bot": false,
            "is_app_user": false,
            "updated": 1_704_067_200,
            "has_2fa": true,
        })
    }

    fn user_ref(member: &Member) -> Value {
        json!({"id": member.id, "name": member.name, "email": member.email, "team": "E0MOCK001"})
    }

    /// Appends an audit entry: `actor` did `action` to member `target` at `at`.
    fn log(&mut self, action: &str, actor: usize, target: usize, at: i64) {
        let seq = self.entries.len() as u64;
        let value = json!({
            "id": format!("{seq:08x}-5c1a-4d0e-9a7b-mock{seq:08}"),
            "date_create": at,
            "action": action,
            "actor": {"type": "user", "user": Self::user_ref(&self.members[actor])},
            "entity": {"type": "user", "user": Self::user_ref(&self.members[target])},
            "context": {
                "location": {"type": "enterprise", "id": "E0MOCK001", "name": "Acme", "domain": "acme"},
                "ua": "Mozilla/5.0 (SluiceMock) Slack/4.36",
                "ip_address": format!("198.51.100.{}", 1 + seq % 250),
                "session_id": 2_000_000_000 + seq,
            },
        });
        self.entries.push(Entry {
            seq,
            date_create: at,
            value,
        });
    }

    fn index_of(&self, id: &str) -> Option<usize> {
        self.members.iter().position(|m| m.id == id)
    }
}

impl SlackMock {
    pub async fn start(config: SlackMockConfig) -> io::Result<SlackMock> {
        let fixtures = config
            .fixtures_dir
            .as_deref()
            .map(Fixtures::load)
            .transpose()?;
        let start = config
            .audit_start
            .unwrap_or_else(|| now_secs() - 3600 - config.audit_events as i64);
        let shared = Arc::new(Shared {
            auth: Mutex::new((config.token.clone(), config.scopes.clone())),
            state: Mutex::new(Workspace::generate(&config, start)),
            fixtures,
            budget: RateBudget::new(u32::MAX, Duration::from_secs(60)),
            faults: FaultPlan::default(),
            config,
        });
        let router = Router::new()
            .route("/api/auth.test", get(auth_test).post(auth_test))
            .route("/api/users.list", get(users_list))
            .route("/api/usergroups.list", get(usergroups_list))
            .route("/api/usergroups.users.list", get(usergroups_users_list))
            .route("/api/admin.apps.approved.list", get(approved_apps))
            .route("/api/admin.apps.restricted.list", get(restricted_apps))
            .route("/api/admin.users.session.reset", post(session_reset))
            .route("/audit/v1/logs", get(audit_logs))
            .route(
                "/scim/v1/Users/{id}",
                get(scim_get).delete(scim_delete).patch(scim_patch),
            )
            .fallback(|| async { web_error("unknown_method") })
            .layer(middleware::from_fn_with_state(shared.clone(), gate))
            .with_state(shared.clone());
        let server = MockServer::start(shared.config.latency, |_| router).await?;
        Ok(SlackMock { server, shared })
    }

    /// `http://127.0.0.1:PORT`: the connector's `admin_api_url` (Audit Logs, SCIM).
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// `http://127.0.0.1:PORT/api`: the connector's `api_url` (Web API).
    pub fn api_url(&self) -> String {
        format!("{}/api", self.server.base_url())
    }

    pub fn config(&self) -> &SlackMockConfig {
        &self.shared.config
    }

    /// From now on only `token` is accepted, as after the old one was revoked.
    pub fn set_token(&self, token: &str) {
        self.shared.auth.lock().unwrap_or_else(|p| p.into_inner()).0 = token.to_owned();
    }

    /// The token's scopes from now on.
    pub fn set_scopes(&self, scopes: &[&str]) {
        self.shared.auth.lock().unwrap_or_else(|p| p.into_inner()).1 =
            scopes.iter().map(|s| (*s).to_owned()).collect();
    }

    /// Every request answered so far.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.server.log().snapshot()
    }

    pub fn clear_requests(&self) {
        self.server.log().clear();
    }

    /// Faults for the next requests (see [`Faults`]); throttling is Slack's 429.
    pub fn inject_faults(&self, faults: Faults) {
        self.shared.faults.inject(faults, &self.shared.budget);
    }

    /// Appends `n` audit entries dated now (a sign-in by member 1 each).
    pub fn add_audit_events(&self, n: usize) {
        let mut state = self.shared.state();
        let now = now_secs();
        for _ in 0..n {
            state.log("user_login", 1, 1, now);
        }
    }

    /// Ids of active members with `role`.
    pub fn member_ids(&self, role: SlackRole) -> Vec<String> {
        self.shared
            .state()
            .members
            .iter()
            .filter(|m| m.role == role && !m.deleted)
            .map(|m| m.id.clone())
            .collect()
    }

    /// Whether member `id` is deactivated; none for an unknown id.
    pub fn is_deactivated(&self, id: &str) -> Option<bool> {
        let state = self.shared.state();
        state.index_of(id).map(|i| state.members[i].deleted)
    }

    /// Member `id`'s live sessions; none for an unknown id.
    pub fn sessions(&self, id: &str) -> Option<u32> {
        let state = self.shared.state();
        state.index_of(id).map(|i| state.members[i].sessions)
    }

    /// What a complete scan must find now.
    pub fn expected(&self) -> SlackExpected {
        let config = &self.shared.config;
        let state = self.shared.state();
        let count = |f: &dyn Fn(&Member) -> bool| state.members.iter().filter(|m| f(m)).count();
        let kind_count = |kind: AuditKind| {
            state
                .entries
                .iter()
                .filter(|e| audit_kind(e.value["action"].as_str().unwrap_or_default()) == kind)
                .count()
        };
        SlackExpected {
            users: state.members.len(),
            active: count(&|m| !m.deleted),
            disabled: count(&|m| m.deleted),
            admins: count(&|m| {
                matches!(
                    m.role,
                    SlackRole::PrimaryOwner | SlackRole::Owner | SlackRole::Admin
                )
            }),
            external: count(&|m| {
                matches!(
                    m.role,
                    SlackRole::MultiChannelGuest | SlackRole::SingleChannelGuest
                )
            }),
            groups: state.groups.len(),
            group_memberships: state.groups.iter().map(|(_, _, m)| m.len()).sum(),
            activities: state.entries.len(),
            logon: kind_count(AuditKind::Logon),
            user_activity: kind_count(AuditKind::User),
            admin_activity: kind_count(AuditKind::Admin),
            app_permissions: config.approved_apps + config.restricted_apps,
        }
    }
}

/// The mock's kind of an action it writes.
fn audit_kind(action: &str) -> AuditKind {
    match action {
        "user_session_reset_by_admin" | "user_deactivated" | "user_reactivated" => AuditKind::Admin,
        _ => ACTIONS
            .iter()
            .find(|(a, _)| *a == action)
            .map_or(AuditKind::User, |(_, k)| *k),
    }
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

/// A Web API failure: HTTP 200, `ok: false`.
fn web_error(code: &str) -> Response {
    json_response(StatusCode::OK, &json!({"ok": false, "error": code}))
}

/// Which API a path belongs to, for the shape of its failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Surface {
    Web,
    Audit,
    Scim,
}

fn surface(path: &str) -> Surface {
    if path.starts_with("/audit/") {
        Surface::Audit
    } else if path.starts_with("/scim/") {
        Surface::Scim
    } else {
        Surface::Web
    }
}

/// A failure as `surface` shapes it: Web API `ok: false` with 200, Audit Logs API
/// `ok: false` with `status`, SCIM `Errors` with `status`.
fn failure(surface: Surface, status: StatusCode, code: &str, extra: Value) -> Response {
    match surface {
        Surface::Web => {
            let mut body = json!({"ok": false, "error": code});
            merge(&mut body, extra);
            json_response(StatusCode::OK, &body)
        }
        Surface::Audit => {
            let mut body = json!({"ok": false, "error": code});
            merge(&mut body, extra);
            json_response(status, &body)
        }
        Surface::Scim => json_response(
            status,
            &json!({"Errors": {"description": code, "code": status.as_u16()}}),
        ),
    }
}

fn merge(body: &mut Value, extra: Value) {
    if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
        body.extend(extra);
    }
}

/// The scope each route needs.
fn needed_scope(path: &str) -> Option<&'static str> {
    Some(match path {
        "/api/users.list" => "users:read",
        "/api/usergroups.list" | "/api/usergroups.users.list" => "usergroups:read",
        "/api/admin.apps.approved.list" | "/api/admin.apps.restricted.list" => "admin.apps:read",
        "/api/admin.users.session.reset" => "admin.users:write",
        "/audit/v1/logs" => "auditlogs:read",
        p if p.starts_with("/scim/") => "admin",
        _ => return None,
    })
}

/// Authentication, scopes, then injected faults; authenticated Web API answers carry
/// `x-oauth-scopes`.
async fn gate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let surface = surface(&path);
    let (token, scopes) = shared.auth();
    match bearer(request.headers()) {
        None => {
            return failure(surface, StatusCode::UNAUTHORIZED, "not_authed", json!({}));
        }
        Some(sent) if sent != token => {
            return failure(surface, StatusCode::UNAUTHORIZED, "invalid_auth", json!({}));
        }
        Some(_) => {}
    }
    let provided = scopes.join(",");
    if let Some(needed) = needed_scope(&path)
        && !scopes.iter().any(|s| s == needed)
    {
        return failure(
            surface,
            StatusCode::FORBIDDEN,
            "missing_scope",
            json!({"needed": needed, "provided": provided}),
        );
    }
    let mut response = match shared.faults.take() {
        Some(faults::Fault::SecondaryLimit {
            retry_after_secs, ..
        }) => {
            let mut response = json_response(
                StatusCode::TOO_MANY_REQUESTS,
                &json!({"ok": false, "error": "ratelimited"}),
            );
            if let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                response.headers_mut().insert(RETRY_AFTER, value);
            }
            response
        }
        Some(faults::Fault::ServerError { status }) => json_response(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
            &json!({"ok": false, "error": "fatal_error"}),
        ),
        Some(faults::Fault::ResetMidBody) => faults::reset_mid_body(next.run(request).await).await,
        Some(faults::Fault::TruncatedBody) => faults::truncate_body(next.run(request).await).await,
        fault => {
            let response = next.run(request).await;
            if let Some(faults::Fault::Slow { delay }) = fault {
                tokio::time::sleep(delay).await;
            }
            response
        }
    };
    if surface == Surface::Web
        && let Ok(value) = HeaderValue::from_str(&provided)
    {
        response
            .headers_mut()
            .insert(HeaderName::from_static("x-oauth-scopes"), value);
    }
    response
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned())
}

/// `limit`: `default` when absent or junk, within 1..=`max`.
fn limit(url: &RequestUrl, default: usize, max: usize) -> usize {
    url.param("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0)
        .unwrap_or(default)
        .min(max)
}

/// The offset a list `cursor` names, or `invalid_cursor`.
fn offset(url: &RequestUrl, kind: &str) -> Result<usize, Response> {
    match url.param("cursor") {
        None => Ok(0),
        Some(cursor) => decode_cursor(kind, cursor)
            .map(|n| n as usize)
            .ok_or_else(|| web_error("invalid_cursor")),
    }
}

/// One page of `items` from `start` with `limit`, and the cursor after it (empty
/// when it was the last).
fn page<T: Clone>(items: &[T], start: usize, limit: usize, kind: &str) -> (Vec<T>, String) {
    let start = start.min(items.len());
    let end = start.saturating_add(limit).min(items.len());
    let next = if end < items.len() {
        encode_cursor(kind, end as u64)
    } else {
        String::new()
    };
    (items[start..end].to_vec(), next)
}

async fn auth_test(State(shared): State<Arc<Shared>>) -> Response {
    let state = shared.state();
    let owner = &state.members[0];
    json_response(
        StatusCode::OK,
        &json!({
            "ok": true,
            "url": "https://acme.enterprise.slack.com/",
            "team": "Acme",
            "user": owner.name,
            "team_id": "T0MOCK001",
            "user_id": owner.id,
            "enterprise_id": "E0MOCK001",
            "is_enterprise_install": false,
        }),
    )
}

/// With fixtures, the published body on the first page and an empty last page after
/// (the published examples carry a `next_cursor` of their own).
fn fixture_page(shared: &Shared, url: &RequestUrl, name: &str, items: &str) -> Option<Response> {
    let fixture = shared.fixtures.as_ref()?.get(name)?;
    Some(if url.param("cursor").is_some() {
        json_response(
            StatusCode::OK,
            &json!({"ok": true, items: [], "response_metadata": {"next_cursor": ""}}),
        )
    } else {
        json_response(StatusCode::OK, &fixture)
    })
}

async fn users_list(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Response {
    if let Some(response) =
        fixture_page(&shared, &url, "users.list.openapi-example.json", "members")
    {
        return response;
    }
    let with_email = shared.auth().1.iter().any(|s| s == "users:read.email");
    let start = match offset(&url, "user") {
        Ok(start) => start,
        Err(response) => return response,
    };
    let state = shared.state();
    let all = state.members.len();
    let (members, next) = page(&state.members, start, limit(&url, all.max(1), 1000), "user");
    let members: Vec<Value> = members
        .iter()
        .map(|m| Workspace::user_json(m, with_email))
        .collect();
    json_response(
        StatusCode::OK,
        &json!({"ok": true, "members": members, "cache_ts": now_secs(),
                "response_metadata": {"next_cursor": next}}),
    )
}

fn usergroup_json(id: &str, name: &str, members: &[String], include_users: bool) -> Value {
    let handle = name.to_lowercase().replace(' ', "-");
    let mut group = json!({
        "id": id,
        "team_id": "T0MOCK001",
        "is_usergroup": true,
        "is_external": false,
        "name": name,
        "description": format!("The {name} people"),
        "handle": handle,
        "auto_type": null,
        "created_by": "W00000000",
        "updated_by": "W00000000",
        "deleted_by": null,
        "date_create": 1_704_067_200,
        "date_update": 1_704_067_200,
        "date_delete": 0,
        "prefs": {"channels": [], "groups": []},
        "user_count": members.len().to_string(),
    });
    if include_users {
        group["users"] = json!(members);
    }
    group
}

async fn usergroups_list(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Response {
    if let Some(response) = fixture_page(
        &shared,
        &url,
        "usergroups.list.openapi-example.json",
        "usergroups",
    ) {
        return response;
    }
    let include_users = url.param("include_users") == Some("true");
    let state = shared.state();
    let groups: Vec<Value> = state
        .groups
        .iter()
        .map(|(id, name, members)| usergroup_json(id, name, members, include_users))
        .collect();
    json_response(StatusCode::OK, &json!({"ok": true, "usergroups": groups}))
}

async fn usergroups_users_list(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Response {
    if let Some(fixture) = shared
        .fixtures
        .as_ref()
        .and_then(|f| f.get("usergroups.users.list.openapi-example.json"))
    {
        return json_response(StatusCode::OK, &fixture);
    }
    let Some(id) = url.param("usergroup") else {
        return web_error("invalid_arguments");
    };
    let state = shared.state();
    match state.groups.iter().find(|(g, _, _)| g == id) {
        Some((_, _, members)) => {
            json_response(StatusCode::OK, &json!({"ok": true, "users": members}))
        }
        None => web_error("no_such_subteam"),
    }
}

fn app_json(i: usize, approved: bool) -> Value {
    let id = format!("A{}{i:07}", if approved { "P" } else { "R" });
    let name = format!(
        "{} App {}",
        if approved { "Approved" } else { "Restricted" },
        i + 1
    );
    json!({
        "app": {
            "id": id,
            "name": name,
            "description": "A mock app",
            "help_url": "https://apps.example/help",
            "privacy_policy_url": "https://apps.example/privacy",
            "app_homepage_url": "https://apps.example",
            "app_directory_url": format!("https://acme.enterprise.slack.com/apps/{id}"),
            "is_app_directory_approved": approved,
            "is_internal": false,
            "additional_info": "",
            "icons": {},
        },
        "scopes": [
            {"name": "users:read", "description": "View people in a workspace", "is_sensitive": false, "token_type": "bot"},
            {"name": "chat:write", "description": "Send messages", "is_sensitive": true, "token_type": "bot"},
        ],
        "date_updated": 1_704_067_200 + i as i64 * 86_400,
        "last_resolved_by": {"actor_id": "W00000000", "actor_type": "user"},
    })
}

async fn approved_apps(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Response {
    if let Some(response) = fixture_page(
        &shared,
        &url,
        "admin.apps.approved.list.openapi-example.json",
        "approved_apps",
    ) {
        return response;
    }
    apps_page(&url, shared.config.approved_apps, true)
}

async fn restricted_apps(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Response {
    if shared.fixtures.is_some() {
        // No published example: an empty list.
        return json_response(
            StatusCode::OK,
            &json!({"ok": true, "restricted_apps": [], "response_metadata": {"next_cursor": ""}}),
        );
    }
    apps_page(&url, shared.config.restricted_apps, false)
}

fn apps_page(url: &RequestUrl, count: usize, approved: bool) -> Response {
    let start = match offset(url, "app") {
        Ok(start) => start,
        Err(response) => return response,
    };
    let indices: Vec<usize> = (0..count).collect();
    let (indices, next) = page(&indices, start, limit(url, 100, 1000), "app");
    let apps: Vec<Value> = indices.iter().map(|i| app_json(*i, approved)).collect();
    let field = if approved {
        "approved_apps"
    } else {
        "restricted_apps"
    };
    json_response(
        StatusCode::OK,
        &json!({"ok": true, field: apps, "response_metadata": {"next_cursor": next}}),
    )
}

async fn session_reset(
    State(shared): State<Arc<Shared>>,
    url: RequestUrl,
    body: Bytes,
) -> Response {
    // Slack takes arguments as JSON, as a form, or in the query.
    let from_json = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("user_id").and_then(Value::as_str).map(str::to_owned));
    let from_form = || {
        std::str::from_utf8(&body).ok().and_then(|text| {
            text.split('&')
                .find_map(|pair| pair.strip_prefix("user_id="))
                .map(str::to_owned)
        })
    };
    let Some(user) = from_json
        .or_else(from_form)
        .or_else(|| url.param("user_id").map(str::to_owned))
    else {
        return web_error("invalid_arguments");
    };
    let mut state = shared.state();
    let Some(index) = state.index_of(&user) else {
        return web_error("user_not_found");
    };
    state.members[index].sessions = 0;
    state.log("user_session_reset_by_admin", 0, index, now_secs());
    json_response(StatusCode::OK, &json!({"ok": true}))
}

async fn audit_logs(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Response {
    if let Some(fixtures) = &shared.fixtures
        && let Some(body) = fixtures.get("audit-v1-logs-user_login.sdk-fixture.json")
    {
        // The published page carries `next_cursor: "xxx"`: its next page is empty.
        return json_response(
            StatusCode::OK,
            &if url.param("cursor").is_some() {
                json!({"entries": [], "response_metadata": {"next_cursor": ""}})
            } else {
                body
            },
        );
    }
    let number = |name: &str| url.param(name).and_then(|v| v.parse::<i64>().ok());
    let (oldest, latest) = (number("oldest"), number("latest"));
    let before = match url.param("cursor") {
        None => u64::MAX,
        Some(cursor) => match decode_cursor("entry", cursor) {
            Some(seq) => seq,
            None => {
                return failure(
                    Surface::Audit,
                    StatusCode::BAD_REQUEST,
                    "invalid_cursor",
                    json!({}),
                );
            }
        },
    };
    let limit = limit(&url, 100, 9999);
    let state = shared.state();
    let mut matching: Vec<&Entry> = state
        .entries
        .iter()
        .filter(|e| e.seq < before)
        .filter(|e| oldest.is_none_or(|o| e.date_create >= o))
        .filter(|e| latest.is_none_or(|l| e.date_create <= l))
        .collect();
    matching.sort_by_key(|e| std::cmp::Reverse(e.seq));
    let more = matching.len() > limit;
    matching.truncate(limit);
    let next = match matching.last() {
        Some(last) if more => encode_cursor("entry", last.seq),
        _ => String::new(),
    };
    let entries: Vec<Value> = matching.iter().map(|e| e.value.clone()).collect();
    json_response(
        StatusCode::OK,
        &json!({"entries": entries, "response_metadata": {"next_cursor": next}}),
    )
}

fn scim_user(member: &Member) -> Value {
    let (given, family) = member
        .real_name
        .split_once(' ')
        .unwrap_or((member.real_name.as_str(), ""));
    json!({
        "schemas": ["urn:scim:schemas:core:1.0"],
        "id": member.id,
        "externalId": "",
        "meta": {"created": "2024-01-01T00:00:00-00:00", "location": format!("https://api.slack.com/scim/v1/Users/{}", member.id)},
        "userName": member.name,
        "nickName": member.name,
        "name": {"givenName": given, "familyName": family},
        "displayName": member.real_name,
        "emails": [{"value": member.email, "primary": true}],
        "active": !member.deleted,
        "groups": [],
    })
}

fn scim_not_found() -> Response {
    failure(
        Surface::Scim,
        StatusCode::NOT_FOUND,
        "User not found",
        json!({}),
    )
}

async fn scim_get(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let state = shared.state();
    match state.index_of(&id) {
        Some(i) => json_response(StatusCode::OK, &scim_user(&state.members[i])),
        None => scim_not_found(),
    }
}

async fn scim_delete(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let mut state = shared.state();
    let Some(i) = state.index_of(&id) else {
        return scim_not_found();
    };
    if !state.members[i].deleted {
        state.members[i].deleted = true;
        state.members[i].sessions = 0;
        state.log("user_deactivated", 0, i, now_secs());
    }
    StatusCode::OK.into_response()
}

async fn scim_patch(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let mut state = shared.state();
    let Some(i) = state.index_of(&id) else {
        return scim_not_found();
    };
    let patch: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if let Some(active) = patch.get("active").and_then(Value::as_bool)
        && active == state.members[i].deleted
    {
        state.members[i].deleted = !active;
        let action = if active {
            "user_reactivated"
        } else {
            "user_deactivated"
        };
        state.log(action, 0, i, now_secs());
    }
    json_response(StatusCode::OK, &scim_user(&state.members[i]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_other_kinds() {
        let cursor = encode_cursor("user", 42);
        assert_eq!(decode_cursor("user", &cursor), Some(42));
        assert_eq!(decode_cursor("app", &cursor), None);
        assert_eq!(decode_cursor("user", "not base64!"), None);
    }

    #[test]
    fn generated_workspace_matches_its_expectations() {
        let config = SlackMockConfig::default();
        let ws = Workspace::generate(&config, 1_700_000_000);
        assert_eq!(ws.members.len(), 1 + 1 + 2 + 14 + 3 + 2);
        assert_eq!(ws.members.iter().filter(|m| m.deleted).count(), 2);
        assert_eq!(ws.entries.len(), 40);
        assert_eq!(ws.entries[1].date_create, ws.entries[0].date_create);
        assert!(ws.groups.iter().all(|(_, _, m)| m.len() == 4));
    }
}
