//! A loopback Zendesk Support API for one account: for the `zendesk` connector, and for
//! the test-only `templated` guest (`plugins/testing/templated`), which tests contract
//! 0.2.0's templated config, auth options, scan writes, look-back and `read-file` on a
//! Zendesk-shaped provider.
//!
//! As Zendesk documents:
//! - an API token is basic auth with user name `{email}/token` and the token as
//!   password, an OAuth access token is `Authorization: Bearer <token>`; anything else
//!   is 401 `{"error":"Couldn't authenticate you"}`;
//! - lists page two ways. With `page[size]` (at most 100): **cursor pagination**,
//!   `{"<items>": […], "meta": {"has_more", "after_cursor", "before_cursor"},
//!   "links": {"next", "prev"}}`, where `links.next` is present on the last page too
//!   and only `has_more: false` says to stop. Without it: **offset pagination**,
//!   `page` and `per_page`, `{"<items>": […], "next_page": <URL or null>,
//!   "previous_page": …, "count": <total>}`;
//! - every authenticated answer carries `X-Rate-Limit` and `X-Rate-Limit-Remaining`
//!   (the account's per-minute budget), the user and group lists also
//!   `ratelimit-limit/-remaining/-reset`; once the budget is spent, or on an injected
//!   fault, 429 with `Retry-After`;
//! - the audit log (`filter[created_at][]` twice for a window, `sort=created_at`
//!   oldest first, `-created_at` newest first, the default) is for admins on
//!   Enterprise plans: 403 otherwise; suspending a user is logged there.
//!
//! Users are in the shape of Zendesk's published example
//! (`shared/fixtures/zendesk/users.list…`): user *i* has id `20000000 + i`; user 0
//! owns the credentials (role [`ZendeskMockConfig::owner_role`]), users 1..=`agents`
//! are agents (the first `custom_role_agents` of them in custom role 3692 "Team
//! lead"), the rest end users, the last `suspended_users` suspended. With
//! [`ZendeskMockConfig::fixtures_dir`] set, the users, groups and group memberships
//! lists serve Zendesk's published examples instead.
//!
//! | route (`.json` optional) | |
//! |---|---|
//! | `GET /api/v2/users/me` | `{"user": …}` (user 0) |
//! | `GET /api/v2/users`, `GET /api/v2/users/{id}`, `PUT /api/v2/users/{id}` | cursor or offset |
//! | `GET /api/v2/custom_roles` | one page |
//! | `GET /api/v2/groups`, `GET /api/v2/groups/{id}/memberships` | cursor or offset |
//! | `GET /api/v2/oauth/tokens/current` | the bearer token's scopes |
//! | `GET /api/v2/audit_logs` | cursor or offset |
//! | `POST` anything | 201 `{}`, so a write the host lets through is seen here |
//!
//! Assumed where Zendesk publishes no example: the 429 body
//! (`{"error":"APIRateLimitExceeded",…}`), the audit log's 403 body, and a
//! suspension's audit entry (`source_type: user`, `action: update`).

// Handlers answer `Result<Response, Response>` (Zendesk's error body is a response too).
#![allow(clippy::result_large_err)]

use std::io;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::header::{AUTHORIZATION, HeaderName, HeaderValue};
use axum::http::{StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::faults::{self, FaultPlan, Faults, RateBudget};
use crate::server::{MockServer, RequestRecord, RequestUrl};

/// The mock account and its credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZendeskMockConfig {
    /// The agent whose API token is accepted: basic user name `{email}/token`.
    pub email: String,
    /// The API token (basic auth password).
    pub api_token: String,
    /// The OAuth access token (`Bearer`).
    pub oauth_token: String,
    /// The OAuth token's scopes (`GET /api/v2/oauth/tokens/current`).
    pub oauth_scopes: Vec<String>,
    /// Users listed; user 0 owns the credentials.
    pub users: usize,
    /// The credentials' owner's role: `admin` (default), `agent` or `end-user`. Only
    /// an admin may read the audit log.
    pub owner_role: String,
    /// Users 1..=agents are agents.
    pub agents: usize,
    /// The first of the agents in custom role 3692 ("Team lead").
    pub custom_role_agents: usize,
    /// The last users are suspended.
    pub suspended_users: usize,
    /// Groups, and members per group drawn in turn from user 0 and the agents.
    pub groups: usize,
    pub members_per_group: usize,
    /// Audit log entries at start, one a second from `audit_log_start`.
    pub audit_logs: usize,
    /// `created_at` of entry 0 (ms); `None`: an hour plus a second per entry before now.
    pub audit_log_start: Option<i64>,
    /// The plan has the audit log (Enterprise): else it answers 403.
    pub audit_log_available: bool,
    /// Requests per minute for the account (Enterprise: 700).
    pub rate_limit_per_minute: u32,
    /// Serve Zendesk's example bodies from this folder (`shared/fixtures/zendesk`) on
    /// the users, groups and group memberships lists.
    pub fixtures_dir: Option<PathBuf>,
}

impl Default for ZendeskMockConfig {
    fn default() -> Self {
        ZendeskMockConfig {
            email: "admin@example.com".into(),
            api_token: "zd-api-token".into(),
            oauth_token: "zd-oauth-token".into(),
            oauth_scopes: vec!["read".into(), "write".into()],
            users: 7,
            owner_role: "admin".into(),
            agents: 0,
            custom_role_agents: 0,
            suspended_users: 0,
            groups: 0,
            members_per_group: 0,
            audit_logs: 3,
            audit_log_start: None,
            audit_log_available: true,
            rate_limit_per_minute: 700,
            fixtures_dir: None,
        }
    }
}

/// What a complete scan of the mock must yield right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ZendeskExpected {
    pub users: usize,
    pub admins: usize,
    pub agents: usize,
    pub end_users: usize,
    pub suspended: usize,
    pub groups: usize,
    /// Group memberships summed over groups.
    pub group_memberships: usize,
    /// Audit log entries, and how many of each kind (`login`, `exported`, the rest).
    pub activities: usize,
    pub logon: usize,
    pub user_activity: usize,
    pub admin_activity: usize,
}

/// A running Zendesk mock.
#[derive(Debug)]
pub struct ZendeskMock {
    server: MockServer,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: ZendeskMockConfig,
    /// The accepted API token (rotatable).
    api_token: Mutex<String>,
    state: Mutex<Account>,
    fixtures: Option<Fixtures>,
    budget: RateBudget,
    faults: FaultPlan,
    /// `basic <user name>` or `bearer` per authenticated request, `refused` else.
    credentials: Mutex<Vec<String>>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, Account> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Debug, Clone)]
struct MockUser {
    id: u64,
    name: String,
    email: String,
    role: &'static str,
    custom_role_id: Option<u64>,
    suspended: bool,
    created_ms: i64,
}

#[derive(Debug, Clone)]
struct MockGroup {
    id: u64,
    name: String,
    /// (membership id, user id).
    members: Vec<(u64, u64)>,
}

#[derive(Debug, Clone)]
struct AuditEntry {
    id: u64,
    created_ms: i64,
    action: &'static str,
    source_type: &'static str,
    source_id: u64,
    source_label: String,
    change: String,
}

#[derive(Debug)]
struct Account {
    users: Vec<MockUser>,
    groups: Vec<MockGroup>,
    /// Oldest first; ids ascending.
    audit: Vec<AuditEntry>,
}

/// 2024-01-01T00:00:00Z, the anchor of generated dates.
const EPOCH: i64 = 1_704_067_200;
/// The custom role agents are in.
const CUSTOM_ROLE: (u64, &str) = (3692, "Team lead");
/// (action, source type, description) the generated audit entries cycle through.
const AUDIT_TABLE: &[(&str, &str, &str)] = &[
    ("update", "user", "Role changed from End user to Agent"),
    ("login", "user", "Signed in"),
    ("create", "rule", "Trigger created"),
    ("exported", "ticket", "Tickets exported"),
    ("update", "account_setting", "Password policy changed"),
    ("login", "user", "Signed in"),
    ("destroy", "rule", "Macro deleted"),
];

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn iso(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl Account {
    fn generate(c: &ZendeskMockConfig, audit_start: i64) -> Account {
        let users: Vec<MockUser> = (0..c.users)
            .map(|i| {
                let role = match i {
                    0 => match c.owner_role.as_str() {
                        "agent" => "agent",
                        "end-user" => "end-user",
                        _ => "admin",
                    },
                    i if i <= c.agents => "agent",
                    _ => "end-user",
                };
                let (name, email) = if i == 0 {
                    ("Admin".to_owned(), c.email.clone())
                } else {
                    (format!("User {i}"), format!("user{i}@example.com"))
                };
                MockUser {
                    id: 20_000_000 + i as u64,
                    name,
                    email,
                    role,
                    custom_role_id: (1..=c.custom_role_agents.min(c.agents))
                        .contains(&i)
                        .then_some(CUSTOM_ROLE.0),
                    suspended: i > 0 && i + c.suspended_users >= c.users,
                    created_ms: (EPOCH + i as i64 * 3600) * 1000,
                }
            })
            .collect();
        let staff: Vec<u64> = users
            .iter()
            .filter(|u| u.role != "end-user")
            .map(|u| u.id)
            .collect();
        let mut membership = 50_000_000;
        let groups = (0..c.groups)
            .map(|g| MockGroup {
                id: 40_000_000 + g as u64,
                name: format!("Group {}", g + 1),
                members: (0..c.members_per_group.min(staff.len()))
                    .map(|m| {
                        membership += 1;
                        (
                            membership,
                            staff[(g * c.members_per_group + m) % staff.len()],
                        )
                    })
                    .collect(),
            })
            .collect();
        let mut account = Account {
            users,
            groups,
            audit: Vec::new(),
        };
        account.add_audit_entries(c.audit_logs, audit_start);
        account
    }

    fn add_audit_entries(&mut self, n: usize, start: i64) {
        for _ in 0..n {
            let i = self.audit.len();
            let (action, source_type, change) = AUDIT_TABLE[i % AUDIT_TABLE.len()];
            let source = self
                .users
                .get((i + 1) % self.users.len().max(1))
                .map_or((0, String::new()), |u| (u.id, u.name.clone()));
            let created_ms = self.audit.last().map_or(start, |e| e.created_ms + 1_000);
            self.audit.push(AuditEntry {
                id: 30_000_000 + i as u64,
                created_ms,
                action,
                source_type,
                source_id: if source_type == "user" {
                    source.0
                } else {
                    60_000_000 + i as u64
                },
                source_label: if source_type == "user" {
                    source.1.clone()
                } else {
                    format!("{source_type} {i}")
                },
                change: change.to_owned(),
            });
        }
    }

    fn user_mut(&mut self, id: u64) -> Option<&mut MockUser> {
        self.users.iter_mut().find(|u| u.id == id)
    }
}

/// Fixtures mode: Zendesk's published list examples.
#[derive(Debug, Clone)]
struct Fixtures {
    users: Vec<Value>,
    groups: Vec<Value>,
    memberships: Vec<Value>,
}

impl Fixtures {
    fn load(dir: &FsPath) -> io::Result<Fixtures> {
        let read = |name: &str, key: &str| -> io::Result<Vec<Value>> {
            let path = dir.join(format!("{name}.sdk-vcr-cassette.json"));
            let value: Value = serde_json::from_slice(&std::fs::read(&path)?).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            })?;
            Ok(value[key].as_array().cloned().unwrap_or_default())
        };
        Ok(Fixtures {
            users: read("users.list", "users")?,
            groups: read("groups.list", "groups")?,
            memberships: read("group_memberships.list", "group_memberships")?,
        })
    }
}

impl ZendeskMock {
    /// Binds `127.0.0.1:0` and serves on the current tokio runtime. Fails if the
    /// listener cannot be bound or a fixture cannot be read or parsed.
    pub async fn start(config: ZendeskMockConfig) -> io::Result<ZendeskMock> {
        let fixtures = config
            .fixtures_dir
            .as_deref()
            .map(Fixtures::load)
            .transpose()?;
        let audit_start = config.audit_log_start.unwrap_or_else(|| {
            let now = now_ms();
            now - now.rem_euclid(1_000) - 1_000 * config.audit_logs as i64 - 3_600_000
        });
        let shared = Arc::new(Shared {
            api_token: Mutex::new(config.api_token.clone()),
            state: Mutex::new(Account::generate(&config, audit_start)),
            fixtures,
            budget: RateBudget::new(config.rate_limit_per_minute, Duration::from_secs(60)),
            faults: FaultPlan::default(),
            credentials: Mutex::default(),
            config,
        });
        let router = router(shared.clone());
        let server = MockServer::start(Duration::ZERO, |_| router).await?;
        Ok(ZendeskMock { server, shared })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// `127.0.0.1`, for a connector that builds its URL from `host` and `port`.
    pub fn host(&self) -> String {
        self.server.addr().ip().to_string()
    }

    pub fn port(&self) -> u16 {
        self.server.addr().port()
    }

    pub fn config(&self) -> &ZendeskMockConfig {
        &self.shared.config
    }

    /// From now on only `token` is accepted as the API token, as after a rotation.
    pub fn set_api_token(&self, token: &str) {
        *self
            .shared
            .api_token
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = token.to_owned();
    }

    /// Appends `n` audit log entries, one second apart after the newest.
    pub fn add_audit_logs(&self, n: usize) {
        self.shared.state().add_audit_entries(n, now_ms());
    }

    /// Whether user `id` is suspended now (none for an unknown user).
    pub fn is_suspended(&self, id: &str) -> Option<bool> {
        let id: u64 = id.parse().ok()?;
        let state = self.shared.state();
        state.users.iter().find(|u| u.id == id).map(|u| u.suspended)
    }

    /// Ids of the users with `role` who are not suspended, in id order.
    pub fn active_user_ids(&self, role: &str) -> Vec<String> {
        let state = self.shared.state();
        (state.users.iter())
            .filter(|u| u.role == role && !u.suspended)
            .map(|u| u.id.to_string())
            .collect()
    }

    /// Replaces the pending faults (see [`Faults`]); throttling faults are 429 with
    /// `Retry-After: retry_after_secs`.
    pub fn inject_faults(&self, faults: Faults) {
        self.shared.faults.inject(faults, &self.shared.budget);
    }

    /// Every request answered so far.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.server.log().snapshot()
    }

    pub fn clear_requests(&self) {
        self.server.log().clear();
        self.shared.credentials.lock().unwrap().clear();
    }

    /// The credential of every request so far, in order: `basic <user name>` or
    /// `bearer` when accepted, `refused` when not.
    pub fn credentials_seen(&self) -> Vec<String> {
        self.shared.credentials.lock().unwrap().clone()
    }

    /// Exact counts a complete scan must yield now.
    pub fn expected(&self) -> ZendeskExpected {
        let state = self.shared.state();
        let audit = |f: &dyn Fn(&str) -> bool| state.audit.iter().filter(|e| f(e.action)).count();
        let (logon, user_activity) = (audit(&|a| a == "login"), audit(&|a| a == "exported"));
        if let Some(fixtures) = &self.shared.fixtures {
            let role = |r: &str| fixtures.users.iter().filter(|u| u["role"] == r).count();
            return ZendeskExpected {
                users: fixtures.users.len(),
                admins: role("admin"),
                agents: role("agent"),
                end_users: role("end-user"),
                suspended: (fixtures.users.iter())
                    .filter(|u| u["suspended"] == true)
                    .count(),
                groups: fixtures.groups.len(),
                group_memberships: fixtures.memberships.len(),
                ..ZendeskExpected::default()
            };
        }
        let role = |r: &str| state.users.iter().filter(|u| u.role == r).count();
        ZendeskExpected {
            users: state.users.len(),
            admins: role("admin"),
            agents: role("agent"),
            end_users: role("end-user"),
            suspended: state.users.iter().filter(|u| u.suspended).count(),
            groups: state.groups.len(),
            group_memberships: state.groups.iter().map(|g| g.members.len()).sum(),
            activities: state.audit.len(),
            logon,
            user_activity,
            admin_activity: state.audit.len() - logon - user_activity,
        }
    }
}

// ---- wire behaviour -------------------------------------------------------------

type Answer = Result<Response, Response>;

fn router(shared: Arc<Shared>) -> Router {
    let mut router = Router::new();
    for (path, route) in [
        ("/api/v2/users/me", get(me)),
        ("/api/v2/users", get(list_users)),
        ("/api/v2/custom_roles", get(custom_roles)),
        ("/api/v2/groups", get(list_groups)),
        ("/api/v2/oauth/tokens/current", get(current_token)),
        ("/api/v2/audit_logs", get(audit_logs)),
    ] {
        router = router
            .route(path, route.clone())
            .route(&format!("{path}.json"), route);
    }
    router
        // `{id}` may end in `.json`; the handlers strip it.
        .route("/api/v2/users/{id}", get(show_user).put(update_user))
        .route("/api/v2/groups/{id}/memberships", get(group_memberships))
        .route(
            "/api/v2/groups/{id}/memberships.json",
            get(group_memberships),
        )
        .route(
            "/{*path}",
            post(|| async { (StatusCode::CREATED, Json(json!({}))) }),
        )
        .fallback(|| async { error(StatusCode::NOT_FOUND, "InvalidEndpoint", "Not found") })
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .layer(middleware::from_fn_with_state(shared.clone(), authenticate))
        .with_state(shared)
}

/// Zendesk's error body: `{"error": <code>, "description": <text>}`.
fn error(status: StatusCode, code: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": code, "description": description})),
    )
        .into_response()
}

/// Basic `{email}/token:{api_token}` or `Bearer {oauth_token}`; 401 with Zendesk's
/// body otherwise.
async fn authenticate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let config = &shared.config;
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let api_token = shared
        .api_token
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let seen = if let Some(token) = header.strip_prefix("Bearer ") {
        (token == config.oauth_token).then(|| "bearer".to_string())
    } else if let Some(encoded) = header.strip_prefix("Basic ") {
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|pair| {
                let (user, password) = pair.split_once(':')?;
                (user == format!("{}/token", config.email) && password == api_token)
                    .then(|| format!("basic {user}"))
            })
    } else {
        None
    };
    shared
        .credentials
        .lock()
        .unwrap()
        .push(seen.clone().unwrap_or_else(|| "refused".into()));
    if seen.as_deref() == Some("bearer")
        && let Some(scope) = missing_scope(&config.oauth_scopes, request.method(), request.uri())
    {
        return error(
            StatusCode::FORBIDDEN,
            "Forbidden",
            &format!("You are missing the following required scopes: {scope}"),
        );
    }
    match seen {
        Some(_) => next.run(request).await,
        None => (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "Couldn't authenticate you"})),
        )
            .into_response(),
    }
}

/// The scope an OAuth token with `scopes` lacks for this request, if any: `read` (or
/// `<resource>:read`, `<resource>`) for a GET, `write` (or `<resource>:write`) else,
/// where the resource is `users` or `auditlogs`; other paths are not scopable.
fn missing_scope(scopes: &[String], method: &axum::http::Method, uri: &Uri) -> Option<String> {
    let path = uri.path();
    let resource = if path.starts_with("/api/v2/users") {
        Some("users")
    } else if path.starts_with("/api/v2/audit_logs") {
        Some("auditlogs")
    } else {
        None
    };
    if path.starts_with("/api/v2/oauth/tokens/current") {
        return None;
    }
    let access = if *method == axum::http::Method::GET {
        "read"
    } else {
        "write"
    };
    let allowed = scopes
        .iter()
        .any(|s| s == access || resource.is_some_and(|r| *s == r || *s == format!("{r}:{access}")));
    (!allowed).then(|| access.to_owned())
}

/// Injected faults, then the per-minute budget; every answer carries `X-Rate-Limit`
/// and `X-Rate-Limit-Remaining`, list answers also the `ratelimit-*` headers.
async fn gate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let listing = is_ticketing_list(request.uri());
    let throttled = |retry_after: u64| {
        let mut response = error(
            StatusCode::TOO_MANY_REQUESTS,
            "APIRateLimitExceeded",
            "Number of allowed API requests per minute exceeded",
        );
        set(&mut response, "retry-after", retry_after.to_string());
        response
    };
    let (mut response, budget) = match shared.faults.take() {
        Some(faults::Fault::SecondaryLimit {
            retry_after_secs, ..
        }) => (throttled(retry_after_secs), shared.budget.peek()),
        Some(faults::Fault::ServerError { status }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            (
                error(status, "InternalServerError", "Something went wrong"),
                shared.budget.peek(),
            )
        }
        Some(faults::Fault::ResetMidBody) => (
            faults::reset_mid_body(next.run(request).await).await,
            shared.budget.peek(),
        ),
        Some(faults::Fault::TruncatedBody) => (
            faults::truncate_body(next.run(request).await).await,
            shared.budget.peek(),
        ),
        fault => {
            let budget = shared.budget.consume();
            let response = if budget.allowed {
                let response = next.run(request).await;
                if let Some(faults::Fault::Slow { delay }) = fault {
                    tokio::time::sleep(delay).await;
                }
                response
            } else {
                let wait = budget
                    .reset_epoch_secs
                    .saturating_sub(now_ms() as u64 / 1000)
                    .max(1);
                throttled(wait)
            };
            (response, budget)
        }
    };
    let remaining = if response.status() == StatusCode::TOO_MANY_REQUESTS {
        0
    } else {
        budget.remaining()
    };
    set(&mut response, "x-rate-limit", budget.limit.to_string());
    set(
        &mut response,
        "x-rate-limit-remaining",
        remaining.to_string(),
    );
    if listing {
        // A refusal's window ends when its `Retry-After` says; else the minute's does.
        let reset = (response.headers().get("retry-after"))
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .unwrap_or_else(|| {
                budget
                    .reset_epoch_secs
                    .saturating_sub(now_ms() as u64 / 1000)
            });
        set(&mut response, "ratelimit-limit", budget.limit.to_string());
        set(&mut response, "ratelimit-remaining", remaining.to_string());
        set(&mut response, "ratelimit-reset", reset.to_string());
    }
    response
}

/// The Ticketing API lists whose answers carry the `ratelimit-*` headers too.
fn is_ticketing_list(uri: &Uri) -> bool {
    let path = uri.path().trim_end_matches(".json");
    matches!(path, "/api/v2/users" | "/api/v2/groups")
}

fn set(response: &mut Response, name: &'static str, value: String) {
    if let Ok(value) = HeaderValue::from_str(&value) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(name), value);
    }
}

/// User `u` in the shape of Zendesk's published example.
fn user_json(base: &str, u: &MockUser) -> Value {
    let created = iso(u.created_ms);
    json!({
        "id": u.id,
        "url": format!("{base}/api/v2/users/{}.json", u.id),
        "name": u.name,
        "email": u.email,
        "created_at": created,
        "updated_at": created,
        "time_zone": "Alaska",
        "phone": null,
        "photo": null,
        "locale_id": 1,
        "locale": "en-US",
        "organization_id": null,
        "role": u.role,
        "role_type": match (u.role, u.custom_role_id) {
            ("admin", _) => json!(4),
            ("agent", Some(_)) => json!(0),
            _ => Value::Null,
        },
        "verified": true,
        "external_id": null,
        "tags": [],
        "alias": null,
        "active": true,
        "shared": false,
        "shared_agent": false,
        "last_login_at": (u.role != "end-user").then(|| iso(u.created_ms + 86_400_000)),
        "two_factor_auth_enabled": false,
        "signature": null,
        "details": null,
        "notes": null,
        "custom_role_id": u.custom_role_id,
        "moderator": u.role == "admin",
        "ticket_restriction": if u.role == "end-user" { json!("requested") } else { Value::Null },
        "only_private_comments": false,
        "restricted_agent": u.role == "end-user",
        "suspended": u.suspended,
        "chat_only": false,
        "user_fields": {},
    })
}

/// One page of `items` (each with a numeric `id`, in list order) under `key`, by
/// cursor (`page[size]`) or offset (`page`, `per_page`), as the request asks.
fn page(url: &RequestUrl, key: &str, items: Vec<Value>) -> Response {
    let size = |name: &str| {
        url.param(name)
            .and_then(|p| p.parse::<usize>().ok())
            .map(|n| n.clamp(1, 100))
    };
    if let Some(size) = size("page[size]") {
        let id = |item: &Value| item["id"].as_u64().unwrap_or_default();
        let cursor = |item: &Value| format!("c{:x}", id(item));
        let start = match url.param("page[after]") {
            Some(after) => match items.iter().position(|i| cursor(i) == after) {
                Some(at) => at + 1,
                None => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "InvalidPaginationParameter",
                        "cursor is invalid",
                    );
                }
            },
            None => 0,
        };
        let end = start.saturating_add(size).min(items.len());
        let chunk = items.get(start..end).unwrap_or_default().to_vec();
        let (first, last) = (chunk.first().map(cursor), chunk.last().map(cursor));
        let drop = [
            "page[after]",
            "page%5Bafter%5D",
            "page[before]",
            "page%5Bbefore%5D",
        ];
        let link = |name: &str, at: &Option<String>| {
            at.as_ref()
                .map(|c| url.with_params(&drop, &[(name, c.as_str())]))
        };
        return Json(json!({
            key: chunk,
            "meta": {"has_more": end < items.len(), "after_cursor": last, "before_cursor": first},
            // Zendesk keeps `links.next` on the last page; only `has_more` says stop.
            "links": {"next": link("page%5Bafter%5D", &last), "prev": link("page%5Bbefore%5D", &first)},
        }))
        .into_response();
    }
    let per_page = size("per_page").unwrap_or(100);
    let page = url
        .param("page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(1_usize)
        .max(1);
    let total = items.len();
    let start = (page - 1).saturating_mul(per_page).min(total);
    let end = start.saturating_add(per_page).min(total);
    let link = |n: usize| url.with_params(&[], &[("page", &n.to_string())]);
    Json(json!({
        key: items[start..end],
        "next_page": (end < total).then(|| link(page + 1)),
        "previous_page": (page > 1).then(|| link(page - 1)),
        "count": total,
    }))
    .into_response()
}

async fn me(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Answer {
    let state = shared.state();
    let owner = state
        .users
        .first()
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "RecordNotFound", "Not found"))?;
    Ok(Json(json!({"user": user_json(url.base(), owner)})).into_response())
}

async fn list_users(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Response {
    if let Some(fixtures) = &shared.fixtures {
        let mut users = fixtures.users.clone();
        users.sort_by_key(|u| u["id"].as_u64());
        return page(&url, "users", users);
    }
    let users = shared
        .state()
        .users
        .iter()
        .map(|u| user_json(url.base(), u))
        .collect();
    page(&url, "users", users)
}

/// `{id}` or `{id}.json` as a user id; 404 otherwise.
fn user_id(raw: &str) -> Result<u64, Response> {
    raw.trim_end_matches(".json")
        .parse()
        .map_err(|_| error(StatusCode::NOT_FOUND, "RecordNotFound", "Not found"))
}

async fn show_user(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    url: RequestUrl,
) -> Answer {
    let id = user_id(&id)?;
    let state = shared.state();
    let user = (state.users.iter().find(|u| u.id == id))
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "RecordNotFound", "Not found"))?;
    Ok(Json(json!({"user": user_json(url.base(), user)})).into_response())
}

/// `PUT /api/v2/users/{id}`: only `suspended` is honoured (admins only); a change is
/// logged in the audit log.
async fn update_user(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    url: RequestUrl,
    Json(body): Json<Value>,
) -> Answer {
    let id = user_id(&id)?;
    if shared.config.owner_role != "admin" {
        return Err(error(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "You do not have access to this page. Please contact the account owner of this help desk for further help.",
        ));
    }
    let mut state = shared.state();
    let user = state
        .user_mut(id)
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "RecordNotFound", "Not found"))?;
    let changed = match body.pointer("/user/suspended").and_then(Value::as_bool) {
        Some(suspended) if suspended != user.suspended => {
            user.suspended = suspended;
            Some((suspended, user.name.clone()))
        }
        _ => None,
    };
    let answer = json!({"user": user_json(url.base(), user)});
    if let Some((suspended, name)) = changed {
        let i = state.audit.len();
        let created_ms = state
            .audit
            .last()
            .map_or_else(now_ms, |e| e.created_ms + 1_000)
            .max(now_ms());
        state.audit.push(AuditEntry {
            id: 30_000_000 + i as u64,
            created_ms,
            action: "update",
            source_type: "user",
            source_id: id,
            source_label: name,
            change: format!("Suspended changed from {} to {suspended}", !suspended),
        });
    }
    Ok(Json(answer).into_response())
}

async fn custom_roles() -> Json<Value> {
    Json(json!({
        "custom_roles": [{
            "id": CUSTOM_ROLE.0, "name": CUSTOM_ROLE.1, "description": "Can manage end users",
            "role_type": 0, "team_member_count": 1,
            "created_at": iso(EPOCH * 1000), "updated_at": iso(EPOCH * 1000),
            "configuration": {"end_user_profile_access": "full", "group_access": true},
        }],
        "next_page": null, "previous_page": null, "count": 1,
    }))
}

async fn list_groups(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Response {
    if let Some(fixtures) = &shared.fixtures {
        let mut groups = fixtures.groups.clone();
        groups.sort_by_key(|g| g["id"].as_u64());
        return page(&url, "groups", groups);
    }
    let groups = (shared.state().groups.iter())
        .map(|g| {
            json!({
                "url": format!("{}/api/v2/groups/{}.json", url.base(), g.id),
                "id": g.id, "name": g.name, "description": "", "default": false,
                "deleted": false, "is_public": true,
                "created_at": iso(EPOCH * 1000), "updated_at": iso(EPOCH * 1000),
            })
        })
        .collect();
    page(&url, "groups", groups)
}

async fn group_memberships(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    url: RequestUrl,
) -> Answer {
    let id = user_id(&id)?;
    if let Some(fixtures) = &shared.fixtures {
        let mine = (fixtures.memberships.iter())
            .filter(|m| m["group_id"].as_u64() == Some(id))
            .cloned()
            .collect();
        return Ok(page(&url, "group_memberships", mine));
    }
    let state = shared.state();
    let group = (state.groups.iter().find(|g| g.id == id))
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "RecordNotFound", "Not found"))?;
    let memberships = (group.members.iter())
        .map(|(mid, user)| {
            json!({
                "url": format!("{}/api/v2/group_memberships/{mid}.json", url.base()),
                "id": mid, "user_id": user, "group_id": id, "default": false,
                "created_at": iso(EPOCH * 1000), "updated_at": iso(EPOCH * 1000),
            })
        })
        .collect();
    Ok(page(&url, "group_memberships", memberships))
}

async fn current_token(State(shared): State<Arc<Shared>>, request: Request) -> Answer {
    let bearer = (request.headers().get(AUTHORIZATION))
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer "));
    if !bearer {
        return Err(error(StatusCode::NOT_FOUND, "RecordNotFound", "Not found"));
    }
    let token = &shared.config.oauth_token;
    Ok(Json(json!({"token": {
        "id": 1, "user_id": 20_000_000, "client_id": 7,
        // Zendesk shows only the first 10 characters.
        "token": token.chars().take(10).collect::<String>(),
        "scopes": shared.config.oauth_scopes,
        "created_at": iso(EPOCH * 1000), "expires_at": null,
    }}))
    .into_response())
}

async fn audit_logs(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Answer {
    if !shared.config.audit_log_available || shared.config.owner_role != "admin" {
        return Err(error(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "You do not have access to this page. Please contact the account owner of this help desk for further help.",
        ));
    }
    let bound = |text: &str| {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.timestamp_millis())
            .map_err(|_| {
                error(
                    StatusCode::BAD_REQUEST,
                    "InvalidValue",
                    "filter[created_at] is not a time",
                )
            })
    };
    let window = url.params_named("filter[created_at][]");
    let start = window.first().map(|t| bound(t)).transpose()?;
    // Zendesk filters in whole seconds: the end's whole second is included.
    let end = window
        .get(1)
        .map(|t| bound(t))
        .transpose()?
        .map(|ms| ms + 999);
    let state = shared.state();
    let mut entries: Vec<Value> = (state.audit.iter())
        .filter(|e| {
            start.is_none_or(|s| e.created_ms >= s) && end.is_none_or(|t| e.created_ms <= t)
        })
        .map(|e| {
            let label = match e.action {
                "login" => "Signed in",
                "exported" => "Exported",
                "create" => "Created",
                "destroy" => "Deleted",
                _ => "Updated",
            };
            json!({
                "url": format!("{}/api/v2/audit_logs/{}.json", url.base(), e.id),
                "id": e.id,
                "action_label": label,
                "actor_id": 20_000_000,
                "actor_name": "Admin",
                "source_id": e.source_id,
                "source_type": e.source_type,
                "source_label": e.source_label,
                "action": e.action,
                "change_description": e.change,
                "ip_address": "203.0.113.7",
                "created_at": iso(e.created_ms),
            })
        })
        .collect();
    let ascending = if url.param("page[size]").is_some() {
        url.param("sort") == Some("created_at")
    } else {
        url.param("sort_order") == Some("asc") || url.param("sort") == Some("created_at")
    };
    if !ascending {
        entries.reverse();
    }
    Ok(page(&url, "audit_logs", entries))
}
