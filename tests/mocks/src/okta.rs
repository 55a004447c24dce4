//! A loopback Okta Management API for one org, faithful to what Okta documents:
//! `Authorization: SSWS <token>` (401 `E0000011` otherwise), `limit` + `after` cursor
//! paging announced only in `Link: <…>; rel="next"` headers (one `link` header per
//! relation, `self` always), `X-Rate-Limit-Limit/-Remaining/-Reset` with a real
//! per-minute budget and 429 `E0000047` once it is spent, the System Log's polling
//! behaviour (a `next` link on every page, even an empty one), and the user lifecycle
//! operations changing state. On demand ([`OktaMock::inject_faults`]) it throttles,
//! fails with 5xx, or damages bodies, like the other mocks.
//!
//! Data is generated deterministically from [`OktaMockConfig`] (user *i* is
//! `00umock{i:013}`, the first `admins` active users hold admin roles, user 0 owns the
//! token), so [`OktaMock::expected`] can say exactly what a complete scan must find.
//! With [`OktaMockConfig::fixtures_dir`] set, the list endpoints serve Okta's own
//! published example bodies (`shared/fixtures/okta`), one file per page.
//!
//! | route | paging |
//! |---|---|
//! | `GET /api/v1/users/me`, `GET /api/v1/users/{id}` | — |
//! | `GET /api/v1/users?filter=status eq "…"` (default: all but `DEPROVISIONED`) | `after` = last id |
//! | `GET /api/v1/users/{id}/roles` | — |
//! | `POST /api/v1/users/{id}/lifecycle/suspend`, `…/unsuspend` | — |
//! | `DELETE /api/v1/users/{id}/sessions` | — |
//! | `GET /api/v1/iam/assignees/users` (`{value, _links.next}`) | `after`, in the body |
//! | `GET /api/v1/groups`, `GET /api/v1/groups/{id}/users` | `after` = last id |
//! | `GET /api/v1/users/{id}/groups` | — (Okta answers one page) |
//! | `DELETE /api/v1/groups/{groupId}/users/{userId}` (204 even for a non-member) | — |
//! | `GET /api/v1/apps`, `GET /api/v1/apps/{id}/grants` | `after` = last id |
//! | `GET /api/v1/logs?since=&until=&after=&limit=&sortOrder=` | `after` = position |

// Handlers answer `Result<Response, Response>` (Okta's error body is a response too),
// the usual axum shape; boxing every refusal would only obscure that.
#![allow(clippy::result_large_err)]

use std::collections::HashSet;
use std::io;
use std::net::SocketAddr;
use std::path::{Path as FsPath, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::header::{CONTENT_TYPE, HeaderName, HeaderValue, LINK};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::faults::{self, FaultPlan, Faults, RateBudget};
use crate::server::{MockServer, RequestRecord, RequestUrl};

/// 2024-01-01T00:00:00Z: the anchor of generated account dates.
pub const OKTA_MOCK_EPOCH_MS: i64 = 1_704_067_200_000;

/// What the mock org looks like and how the API behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OktaMockConfig {
    /// The only API token accepted (`Authorization: SSWS <token>`).
    pub token: String,
    /// `ACTIVE` users; the first `admins` of them hold admin roles, user 0 owns the token.
    pub active_users: usize,
    /// `SUSPENDED` users, numbered after the active ones.
    pub suspended_users: usize,
    /// `STAGED` users (created, never activated).
    pub staged_users: usize,
    /// `DEPROVISIONED` users: left out of the default listing, as on Okta.
    pub deprovisioned_users: usize,
    /// Active users with admin roles (at least 1: the token owner).
    pub admins: usize,
    /// Groups `Group 1` …
    pub groups: usize,
    /// Members per group, drawn in turn from the users that are not deprovisioned.
    pub members_per_group: usize,
    /// System Log events at start, one per second from `log_start`.
    pub log_events: usize,
    /// `published` of event 0 (ms); `None`: an hour plus one second per event before now.
    pub log_start: Option<i64>,
    /// OIDC apps `App 1` …
    pub apps: usize,
    /// Okta API scope grants per app.
    pub grants_per_app: usize,
    /// Requests per minute for the token (Okta's `/api/v1/users` limit: 600).
    pub rate_limit_per_minute: u32,
    /// Added to every response.
    pub latency: Duration,
    /// Serve Okta's example bodies from this folder (`shared/fixtures/okta`) on the
    /// user, group and System Log listings instead of generated data.
    pub fixtures_dir: Option<PathBuf>,
}

impl Default for OktaMockConfig {
    fn default() -> Self {
        OktaMockConfig {
            token: "00okta_mock_token".to_owned(),
            active_users: 12,
            suspended_users: 2,
            staged_users: 1,
            deprovisioned_users: 2,
            admins: 3,
            groups: 4,
            members_per_group: 3,
            log_events: 60,
            log_start: None,
            apps: 3,
            grants_per_app: 2,
            rate_limit_per_minute: 600,
            latency: Duration::ZERO,
            fixtures_dir: None,
        }
    }
}

/// Which audit trail a generated event belongs to, by the mock's own event table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogKind {
    Logon,
    User,
    Admin,
}

/// What a complete scan of the mock must yield right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OktaExpected {
    /// Every user, deprovisioned ones included.
    pub users: usize,
    /// Users whose Okta status maps to active / suspended / disabled / deleted.
    pub active: usize,
    pub suspended: usize,
    pub disabled: usize,
    pub deleted: usize,
    /// Users holding an admin role.
    pub admins: usize,
    pub groups: usize,
    /// Group memberships summed over groups.
    pub group_memberships: usize,
    /// System Log events, and how many of each kind.
    pub activities: usize,
    pub logon: usize,
    pub user_activity: usize,
    pub admin_activity: usize,
    /// App scope grants.
    pub app_permissions: usize,
}

/// A running Okta mock on `127.0.0.1`; shuts down when dropped.
#[derive(Debug)]
pub struct OktaMock {
    server: MockServer,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: OktaMockConfig,
    token: Mutex<String>,
    state: Mutex<OrgState>,
    fixtures: Option<Fixtures>,
    /// The org's per-minute budget (`X-Rate-Limit-*`).
    budget: RateBudget,
    faults: FaultPlan,
    requests_seen: AtomicU64,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, OrgState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn token(&self) -> String {
        self.token.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[derive(Debug, Clone)]
struct MockUser {
    id: String,
    login: String,
    first: String,
    last: String,
    status: &'static str,
    status_changed_ms: i64,
    roles: Vec<&'static str>,
    sessions: u32,
}

#[derive(Debug, Clone)]
struct MockGroup {
    id: String,
    name: String,
    members: Vec<String>,
}

#[derive(Debug, Clone)]
struct MockApp {
    id: String,
    label: String,
    /// (grant id, scope id).
    grants: Vec<(String, &'static str)>,
}

#[derive(Debug, Clone)]
struct LogEvent {
    uuid: String,
    published_ms: i64,
    event_type: &'static str,
    kind: LogKind,
    outcome: &'static str,
    actor: (String, String),
    target: (String, String),
}

#[derive(Debug)]
struct OrgState {
    /// Sorted by id, which is how Okta's `after` cursor walks them.
    users: Vec<MockUser>,
    groups: Vec<MockGroup>,
    apps: Vec<MockApp>,
    /// Oldest first.
    events: Vec<LogEvent>,
}

/// The event types generated events cycle through, with the trail each belongs to.
const EVENT_TABLE: &[(&str, LogKind, &str)] = &[
    ("user.session.start", LogKind::Logon, "SUCCESS"),
    ("user.authentication.sso", LogKind::Logon, "SUCCESS"),
    ("user.account.update_profile", LogKind::User, "SUCCESS"),
    ("user.session.start", LogKind::Logon, "FAILURE"),
    ("group.user_membership.add", LogKind::Admin, "SUCCESS"),
    ("application.user_membership.add", LogKind::Admin, "SUCCESS"),
    ("user.account.update_password", LogKind::User, "SUCCESS"),
];

/// Roles of admin *k* (admin 0, the token owner, is the super admin).
fn admin_roles(k: usize) -> Vec<&'static str> {
    match k {
        0 => vec!["SUPER_ADMIN"],
        k if k % 2 == 1 => vec!["ORG_ADMIN"],
        _ => vec!["HELP_DESK_ADMIN", "READ_ONLY_ADMIN"],
    }
}

const SCOPES: &[&str] = &[
    "okta.users.read",
    "okta.groups.read",
    "okta.logs.read",
    "okta.apps.read",
];

fn user_id(i: usize) -> String {
    format!("00umock{i:013}")
}

impl OrgState {
    fn generate(config: &OktaMockConfig, log_start: i64) -> OrgState {
        let c = config;
        let statuses = std::iter::repeat_n("ACTIVE", c.active_users)
            .chain(std::iter::repeat_n("SUSPENDED", c.suspended_users))
            .chain(std::iter::repeat_n("STAGED", c.staged_users))
            .chain(std::iter::repeat_n("DEPROVISIONED", c.deprovisioned_users));
        let users: Vec<MockUser> = statuses
            .enumerate()
            .map(|(i, status)| {
                let admin = status == "ACTIVE" && i < c.admins.max(1);
                let login = if admin {
                    format!("admin-{}@acme.example", i + 1)
                } else {
                    format!("user-{}@acme.example", i + 1)
                };
                MockUser {
                    id: user_id(i),
                    login,
                    first: if admin { "Admin" } else { "User" }.to_owned(),
                    last: format!("{}", i + 1),
                    status,
                    status_changed_ms: OKTA_MOCK_EPOCH_MS + 86_400_000,
                    roles: if admin { admin_roles(i) } else { Vec::new() },
                    sessions: u32::from(status == "ACTIVE"),
                }
            })
            .collect();
        let eligible: Vec<&MockUser> = users
            .iter()
            .filter(|u| u.status != "DEPROVISIONED")
            .collect();
        let groups = (0..c.groups)
            .map(|g| {
                let size = c.members_per_group.min(eligible.len());
                MockGroup {
                    id: format!("00gmock{g:013}"),
                    name: format!("Group {}", g + 1),
                    members: (0..size)
                        .map(|m| {
                            eligible[(g * c.members_per_group + m) % eligible.len()]
                                .id
                                .clone()
                        })
                        .collect::<Vec<_>>(),
                }
            })
            .collect();
        let apps = (0..c.apps)
            .map(|a| MockApp {
                id: format!("0oamock{a:013}"),
                label: format!("App {}", a + 1),
                grants: (0..c.grants_per_app)
                    .map(|g| {
                        (
                            format!("oagmock{:07}{g:06}", a),
                            SCOPES[(a + g) % SCOPES.len()],
                        )
                    })
                    .collect(),
            })
            .collect();
        let mut state = OrgState {
            users,
            groups,
            apps,
            events: Vec::new(),
        };
        for i in 0..c.log_events {
            state.push_generated_event(i, log_start);
        }
        state
    }

    fn push_generated_event(&mut self, i: usize, log_start: i64) {
        let (event_type, kind, outcome) = EVENT_TABLE[i % EVENT_TABLE.len()];
        let people: Vec<&MockUser> = self
            .users
            .iter()
            .filter(|u| u.status != "DEPROVISIONED")
            .collect();
        let who = people
            .get(i % people.len().max(1))
            .map(|u| (u.id.clone(), u.login.clone()))
            .unwrap_or_default();
        let published_ms = self
            .events
            .last()
            .map_or(log_start, |e| e.published_ms + 1_000);
        self.events.push(LogEvent {
            uuid: event_uuid(self.events.len()),
            published_ms,
            event_type,
            kind,
            outcome,
            actor: who.clone(),
            target: who,
        });
    }

    /// An admin event caused by the API token, after the newest event.
    fn push_admin_event(&mut self, event_type: &'static str, target: &MockUser) {
        let actor = self
            .users
            .first()
            .map(|u| (u.id.clone(), u.login.clone()))
            .unwrap_or_default();
        let published_ms = self
            .events
            .last()
            .map_or_else(now_ms, |e| e.published_ms + 1_000);
        self.events.push(LogEvent {
            uuid: event_uuid(self.events.len()),
            published_ms,
            event_type,
            kind: LogKind::Admin,
            outcome: "SUCCESS",
            actor,
            target: (target.id.clone(), target.login.clone()),
        });
    }

    fn user_mut(&mut self, id: &str) -> Option<&mut MockUser> {
        self.users.iter_mut().find(|u| u.id == id)
    }
}

fn event_uuid(i: usize) -> String {
    let mixed = splitmix64(i as u64);
    format!(
        "{:08x}-{:04x}-11ef-8000-{:012x}",
        i,
        (mixed >> 48) & 0xFFFF,
        mixed & 0xFFFF_FFFF_FFFF
    )
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn iso(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Fixtures mode: Okta's published list examples, one file per page.
#[derive(Debug, Clone)]
struct Fixtures {
    /// Bodies of `list-users__*.json` that are arrays, in file-name order.
    user_pages: Vec<String>,
    group_pages: Vec<String>,
    /// Events of `list-logs__*.json` arrays, in file order.
    log_events: Vec<Value>,
    user_ids: HashSet<String>,
    group_ids: HashSet<String>,
    log_uuids: HashSet<String>,
}

impl Fixtures {
    fn load(dir: &FsPath) -> io::Result<Fixtures> {
        let mut names: Vec<String> = std::fs::read_dir(dir)?
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".json"))
            .collect();
        names.sort();
        let mut fixtures = Fixtures {
            user_pages: Vec::new(),
            group_pages: Vec::new(),
            log_events: Vec::new(),
            user_ids: HashSet::new(),
            group_ids: HashSet::new(),
            log_uuids: HashSet::new(),
        };
        for name in names {
            let path = dir.join(&name);
            let text = std::fs::read_to_string(&path)?;
            let value: Value = serde_json::from_str(&text).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            })?;
            // Only list responses are pages; single objects and fragments are not.
            let Some(items) = value.as_array() else {
                continue;
            };
            let ids = |field: &str| {
                items
                    .iter()
                    .filter_map(|item| item[field].as_str().map(str::to_owned))
                    .collect::<Vec<_>>()
            };
            if name.starts_with("list-users__") {
                fixtures.user_ids.extend(ids("id"));
                fixtures.user_pages.push(text);
            } else if name.starts_with("list-groups__") {
                fixtures.group_ids.extend(ids("id"));
                fixtures.group_pages.push(text);
            } else if name.starts_with("list-logs__") {
                fixtures.log_uuids.extend(ids("uuid"));
                fixtures.log_events.extend(items.iter().cloned());
            }
        }
        Ok(fixtures)
    }
}

impl OktaMock {
    /// Binds `127.0.0.1:0` and serves on the current tokio runtime. Fails if the
    /// listener cannot be bound or a fixture cannot be read or parsed.
    pub async fn start(config: OktaMockConfig) -> io::Result<OktaMock> {
        let fixtures = config
            .fixtures_dir
            .as_deref()
            .map(Fixtures::load)
            .transpose()?;
        let log_start = config.log_start.unwrap_or_else(|| {
            let now = now_ms();
            now - now.rem_euclid(1_000) - 1_000 * config.log_events as i64 - 3_600_000
        });
        let shared = Arc::new(Shared {
            token: Mutex::new(config.token.clone()),
            state: Mutex::new(OrgState::generate(&config, log_start)),
            fixtures,
            budget: RateBudget::new(config.rate_limit_per_minute, Duration::from_secs(60)),
            faults: FaultPlan::default(),
            requests_seen: AtomicU64::new(0),
            config,
        });
        let router = router(shared.clone());
        let server = MockServer::start(shared.config.latency, |_addr| router).await?;
        Ok(OktaMock { server, shared })
    }

    /// `http://127.0.0.1:PORT`: the connector's `domain`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    pub fn config(&self) -> &OktaMockConfig {
        &self.shared.config
    }

    /// From now on only `token` is accepted, as after the old one was revoked.
    pub fn set_token(&self, token: &str) {
        *self.shared.token.lock().unwrap_or_else(|p| p.into_inner()) = token.to_owned();
    }

    /// Appends `n` generated events, one second apart after the newest.
    pub fn add_log_events(&self, n: usize) {
        let mut state = self.shared.state();
        for _ in 0..n {
            let i = state.events.len();
            state.push_generated_event(i, now_ms());
        }
    }

    /// Ids of every user with Okta status `status` (e.g. `ACTIVE`), in id order.
    pub fn user_ids_with_status(&self, status: &str) -> Vec<String> {
        let state = self.shared.state();
        state
            .users
            .iter()
            .filter(|u| u.status == status)
            .map(|u| u.id.clone())
            .collect()
    }

    /// The ids of group `group_id`'s members now (empty for an unknown group).
    pub fn group_member_ids(&self, group_id: &str) -> Vec<String> {
        let state = self.shared.state();
        state
            .groups
            .iter()
            .find(|g| g.id == group_id)
            .map(|g| g.members.clone())
            .unwrap_or_default()
    }

    /// Every group's id, in order.
    pub fn group_ids(&self) -> Vec<String> {
        self.shared
            .state()
            .groups
            .iter()
            .map(|g| g.id.clone())
            .collect()
    }

    /// The Okta status of user `id` now.
    pub fn user_status(&self, id: &str) -> Option<String> {
        let state = self.shared.state();
        state
            .users
            .iter()
            .find(|u| u.id == id)
            .map(|u| u.status.to_owned())
    }

    /// Open sessions of user `id` (1 for active users at start, 0 after clearing).
    pub fn sessions(&self, id: &str) -> Option<u32> {
        let state = self.shared.state();
        state.users.iter().find(|u| u.id == id).map(|u| u.sessions)
    }

    /// Replaces the pending faults (see [`Faults`]); secondary-limit faults are Okta's
    /// 429 `E0000047` with `X-Rate-Limit-Reset` `retry_after_secs` ahead.
    pub fn inject_faults(&self, faults: Faults) {
        self.shared.faults.inject(faults, &self.shared.budget);
    }

    /// Every request answered so far, refused ones included.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.server.log().snapshot()
    }

    pub fn clear_requests(&self) {
        self.server.log().clear();
    }

    /// Exact counts a complete scan must yield now.
    pub fn expected(&self) -> OktaExpected {
        let state = self.shared.state();
        let count_kind = |kind| state.events.iter().filter(|e| e.kind == kind).count();
        let admins = state.users.iter().filter(|u| !u.roles.is_empty()).count();
        if let Some(fixtures) = &self.shared.fixtures {
            return OktaExpected {
                users: fixtures.user_ids.len(),
                groups: fixtures.group_ids.len(),
                activities: fixtures.log_uuids.len(),
                ..OktaExpected::default()
            };
        }
        let status = |names: &[&str]| {
            state
                .users
                .iter()
                .filter(|u| names.contains(&u.status))
                .count()
        };
        OktaExpected {
            users: state.users.len(),
            active: status(&["ACTIVE", "RECOVERY", "PASSWORD_EXPIRED"]),
            suspended: status(&["SUSPENDED", "LOCKED_OUT"]),
            disabled: status(&["STAGED", "PROVISIONED"]),
            deleted: status(&["DEPROVISIONED"]),
            admins,
            groups: state.groups.len(),
            group_memberships: state.groups.iter().map(|g| g.members.len()).sum(),
            activities: state.events.len(),
            logon: count_kind(LogKind::Logon),
            user_activity: count_kind(LogKind::User),
            admin_activity: count_kind(LogKind::Admin),
            app_permissions: state.apps.iter().map(|a| a.grants.len()).sum(),
        }
    }
}

// ---- wire behaviour -------------------------------------------------------------

type Answer = Result<Response, Response>;

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/v1/users", get(list_users))
        .route("/api/v1/users/me", get(me))
        .route("/api/v1/users/{id}", get(get_user))
        .route("/api/v1/users/{id}/roles", get(user_roles))
        .route("/api/v1/users/{id}/lifecycle/suspend", post(suspend))
        .route("/api/v1/users/{id}/lifecycle/unsuspend", post(unsuspend))
        .route("/api/v1/users/{id}/sessions", delete(clear_sessions))
        .route("/api/v1/users/{id}/groups", get(user_groups))
        .route("/api/v1/iam/assignees/users", get(role_assignees))
        .route("/api/v1/groups", get(list_groups))
        .route("/api/v1/groups/{id}/users", get(group_users))
        .route("/api/v1/groups/{id}/users/{user}", delete(unassign_user))
        .route("/api/v1/apps", get(list_apps))
        .route("/api/v1/apps/{id}/grants", get(app_grants))
        .route("/api/v1/logs", get(logs))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .with_state(shared)
}

/// Okta's error body.
fn okta_error(status: StatusCode, code: &str, summary: &str) -> Response {
    json_body(
        status,
        &json!({
            "errorCode": code,
            "errorSummary": summary,
            "errorLink": code,
            "errorId": format!("oae{}", code.trim_start_matches('E')),
            "errorCauses": []
        }),
    )
}

fn validation_error(summary: &str, cause: &str) -> Response {
    json_body(
        StatusCode::BAD_REQUEST,
        &json!({
            "errorCode": "E0000001",
            "errorSummary": summary,
            "errorLink": "E0000001",
            "errorId": "oae0000001",
            "errorCauses": [{ "errorSummary": cause }]
        }),
    )
}

fn json_body(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn not_found() -> Response {
    okta_error(
        StatusCode::NOT_FOUND,
        "E0000022",
        "The endpoint does not support the provided HTTP method",
    )
}

fn user_not_found(id: &str) -> Response {
    okta_error(
        StatusCode::NOT_FOUND,
        "E0000007",
        &format!("Not found: Resource not found: {id} (User)"),
    )
}

/// Authentication, then injected faults, then the per-minute budget; every
/// authenticated answer carries `X-Rate-Limit-*` and `X-Okta-Request-Id`.
async fn gate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let n = shared.requests_seen.fetch_add(1, Ordering::Relaxed) + 1;
    if !authenticated(request.headers(), &shared.token()) {
        return okta_error(
            StatusCode::UNAUTHORIZED,
            "E0000011",
            "Invalid token provided",
        );
    }
    let (mut response, limit, remaining, reset) = match shared.faults.take() {
        Some(faults::Fault::SecondaryLimit {
            retry_after_secs, ..
        }) => {
            let budget = shared.budget.peek();
            let reset = epoch_secs() + retry_after_secs.max(1);
            (too_many_requests(), budget.limit, 0, reset)
        }
        Some(faults::Fault::ServerError { status }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            let budget = shared.budget.peek();
            (
                okta_error(status, "E0000009", "Internal Server Error"),
                budget.limit,
                budget.remaining(),
                budget.reset_epoch_secs,
            )
        }
        Some(faults::Fault::ResetMidBody) => {
            let budget = shared.budget.peek();
            let response = faults::reset_mid_body(next.run(request).await).await;
            (
                response,
                budget.limit,
                budget.remaining(),
                budget.reset_epoch_secs,
            )
        }
        Some(faults::Fault::TruncatedBody) => {
            let budget = shared.budget.peek();
            let response = faults::truncate_body(next.run(request).await).await;
            (
                response,
                budget.limit,
                budget.remaining(),
                budget.reset_epoch_secs,
            )
        }
        fault => {
            let budget = shared.budget.consume();
            let response = if budget.allowed {
                let response = next.run(request).await;
                if let Some(faults::Fault::Slow { delay }) = fault {
                    tokio::time::sleep(delay).await;
                }
                response
            } else {
                too_many_requests()
            };
            (
                response,
                budget.limit,
                budget.remaining(),
                budget.reset_epoch_secs,
            )
        }
    };
    let headers = response.headers_mut();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    };
    set("x-rate-limit-limit", limit.to_string());
    set("x-rate-limit-remaining", remaining.to_string());
    set("x-rate-limit-reset", reset.to_string());
    set("x-okta-request-id", format!("mock-{n:08}"));
    response
}

fn too_many_requests() -> Response {
    okta_error(
        StatusCode::TOO_MANY_REQUESTS,
        "E0000047",
        "API call exceeded rate limit due to too many requests.",
    )
}

fn epoch_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `Authorization: SSWS <token>` (scheme case-insensitive).
fn authenticated(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .is_some_and(|(scheme, credential)| {
            scheme.eq_ignore_ascii_case("ssws") && credential.trim() == token
        })
}

/// `limit`: `default` when absent or junk, at most `max`.
fn limit(url: &RequestUrl, default: usize, max: usize) -> usize {
    url.param("limit")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
        .min(max)
}

/// A JSON array page with Okta's links: `self` always, `next` when `next_after` is set.
fn page(url: &RequestUrl, body: Value, next_after: Option<String>) -> Response {
    raw_page(url, body.to_string(), next_after)
}

fn raw_page(url: &RequestUrl, body: String, next_after: Option<String>) -> Response {
    let mut response = (StatusCode::OK, [(CONTENT_TYPE, "application/json")], body).into_response();
    let mut links = vec![format!("<{}>; rel=\"self\"", url.with_params(&[], &[]))];
    if let Some(after) = next_after {
        links.push(format!(
            "<{}>; rel=\"next\"",
            url.with_params(&["after"], &[("after", &after)])
        ));
    }
    for link in links {
        if let Ok(value) = HeaderValue::from_str(&link) {
            response.headers_mut().append(LINK, value);
        }
    }
    response
}

/// Cursor paging over items sorted by id: those after `after`, `limit` of them, and
/// the id to continue after when more remain.
fn after_page<'a, T>(
    url: &RequestUrl,
    items: &'a [T],
    id: impl Fn(&T) -> &str,
    default: usize,
    max: usize,
) -> (&'a [T], Option<String>) {
    let limit = limit(url, default, max);
    let start = url
        .param("after")
        .map_or(0, |after| items.partition_point(|item| id(item) <= after));
    let end = start.saturating_add(limit).min(items.len());
    let slice = &items[start..end];
    let next = (end < items.len())
        .then(|| slice.last().map(|item| id(item).to_owned()))
        .flatten();
    (slice, next)
}

fn user_json(base: &str, user: &MockUser) -> Value {
    let created = OKTA_MOCK_EPOCH_MS;
    let active = user.status != "STAGED";
    json!({
        "id": user.id,
        "status": user.status,
        "created": iso(created),
        "activated": active.then(|| iso(created + 60_000)),
        "statusChanged": iso(user.status_changed_ms),
        "lastLogin": (user.status == "ACTIVE").then(|| iso(created + 2 * 86_400_000)),
        "lastUpdated": iso(user.status_changed_ms),
        "passwordChanged": active.then(|| iso(created + 60_000)),
        "type": { "id": "otymock0000000000001" },
        "profile": {
            "firstName": user.first,
            "lastName": user.last,
            "mobilePhone": null,
            "secondEmail": null,
            "login": user.login,
            "email": user.login
        },
        "credentials": {
            "password": {},
            "provider": { "type": "OKTA", "name": "OKTA" }
        },
        "_links": { "self": { "href": format!("{base}/api/v1/users/{}", user.id) } }
    })
}

fn role_label(kind: &str) -> &'static str {
    match kind {
        "SUPER_ADMIN" => "Super Administrator",
        "ORG_ADMIN" => "Organizational Administrator",
        "HELP_DESK_ADMIN" => "Help Desk Administrator",
        "READ_ONLY_ADMIN" => "Read Only Administrator",
        _ => "Administrator",
    }
}

async fn me(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Answer {
    let state = shared.state();
    let owner = state.users.first().ok_or_else(|| user_not_found("me"))?;
    Ok(json_body(StatusCode::OK, &user_json(url.base(), owner)))
}

async fn get_user(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    url: RequestUrl,
) -> Answer {
    let state = shared.state();
    let user = state
        .users
        .iter()
        .find(|u| u.id == id || u.login == id)
        .ok_or_else(|| user_not_found(&id))?;
    Ok(json_body(StatusCode::OK, &user_json(url.base(), user)))
}

async fn list_users(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Answer {
    // `filter=status eq "X"`, the one filter this mock understands.
    let wanted = match url.param("filter") {
        None => None,
        Some(filter) => Some(
            filter
                .strip_prefix("status eq \"")
                .and_then(|rest| rest.strip_suffix('"'))
                .map(str::to_owned)
                .ok_or_else(|| {
                    okta_error(
                        StatusCode::BAD_REQUEST,
                        "E0000031",
                        "Invalid search criteria.",
                    )
                })?,
        ),
    };
    if let Some(fixtures) = &shared.fixtures {
        if wanted.is_some() {
            return Ok(raw_page(&url, "[]".to_owned(), None));
        }
        return Ok(fixture_page(&url, &fixtures.user_pages));
    }
    let state = shared.state();
    let users: Vec<&MockUser> = state
        .users
        .iter()
        .filter(|u| match &wanted {
            Some(status) => u.status == status.as_str(),
            None => u.status != "DEPROVISIONED",
        })
        .collect();
    let (slice, next) = after_page(&url, &users, |u| u.id.as_str(), 200, 200);
    let body = Value::Array(slice.iter().map(|u| user_json(url.base(), u)).collect());
    Ok(page(&url, body, next))
}

/// Fixture lists: page *n* (the `after` value) is file *n*.
fn fixture_page(url: &RequestUrl, pages: &[String]) -> Response {
    let n: usize = url.param("after").and_then(|a| a.parse().ok()).unwrap_or(0);
    let body = pages.get(n).cloned().unwrap_or_else(|| "[]".to_owned());
    let next = (n + 1 < pages.len()).then(|| (n + 1).to_string());
    raw_page(url, body, next)
}

async fn user_roles(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    url: RequestUrl,
) -> Answer {
    let state = shared.state();
    let user = state
        .users
        .iter()
        .find(|u| u.id == id)
        .ok_or_else(|| user_not_found(&id))?;
    let roles: Vec<Value> = user
        .roles
        .iter()
        .enumerate()
        .map(|(n, kind)| {
            json!({
                "id": format!("ramock{}{n:02}", &user.id[7..]),
                "label": role_label(kind),
                "type": kind,
                "status": "ACTIVE",
                "created": iso(OKTA_MOCK_EPOCH_MS),
                "lastUpdated": iso(OKTA_MOCK_EPOCH_MS),
                "assignmentType": "USER",
                "_links": { "assignee": { "href": format!("{}/api/v1/users/{}", url.base(), user.id) } }
            })
        })
        .collect();
    Ok(json_body(StatusCode::OK, &Value::Array(roles)))
}

async fn role_assignees(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Answer {
    let state = shared.state();
    let admins: Vec<&MockUser> = if shared.fixtures.is_some() {
        Vec::new()
    } else {
        state.users.iter().filter(|u| !u.roles.is_empty()).collect()
    };
    let (slice, next) = after_page(&url, &admins, |u| u.id.as_str(), 100, 100);
    let mut links = json!({});
    if let Some(after) = next {
        links["next"] = json!({ "href": url.with_params(&["after"], &[("after", &after)]) });
    }
    let body = json!({
        "value": slice.iter().map(|u| json!({
            "id": u.id,
            "orn": format!("orn:okta:directory:mock:users:{}", u.id),
            "_links": { "self": { "href": format!("{}/api/v1/users/{}", url.base(), u.id) } }
        })).collect::<Vec<_>>(),
        "_links": links
    });
    Ok(json_body(StatusCode::OK, &body))
}

/// A lifecycle transition from `from` to `to`, logged as `event_type`.
fn transition(
    shared: &Shared,
    id: &str,
    from: &str,
    to: &'static str,
    event_type: &'static str,
    refusal: &str,
) -> Answer {
    let mut state = shared.state();
    let user = state.user_mut(id).ok_or_else(|| user_not_found(id))?;
    if user.status != from {
        return Err(validation_error(
            &format!("Api validation failed: {event_type}"),
            refusal,
        ));
    }
    user.status = to;
    user.status_changed_ms = now_ms();
    let user = user.clone();
    state.push_admin_event(event_type, &user);
    Ok(json_body(StatusCode::OK, &json!({})))
}

async fn suspend(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Answer {
    transition(
        &shared,
        &id,
        "ACTIVE",
        "SUSPENDED",
        "user.lifecycle.suspend",
        "Cannot suspend a user that is not active",
    )
}

async fn unsuspend(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Answer {
    transition(
        &shared,
        &id,
        "SUSPENDED",
        "ACTIVE",
        "user.lifecycle.unsuspend",
        "Cannot unsuspend a user that is not suspended",
    )
}

async fn clear_sessions(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Answer {
    let mut state = shared.state();
    let user = state.user_mut(&id).ok_or_else(|| user_not_found(&id))?;
    user.sessions = 0;
    let user = user.clone();
    state.push_admin_event("user.session.clear", &user);
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn group_not_found(id: &str) -> Response {
    okta_error(
        StatusCode::NOT_FOUND,
        "E0000007",
        &format!("Not found: Resource not found: {id} (UserGroup)"),
    )
}

/// The groups a user belongs to (one page: Okta caps a user's groups well below it).
async fn user_groups(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    url: RequestUrl,
) -> Answer {
    let state = shared.state();
    if !state.users.iter().any(|u| u.id == id) {
        return Err(user_not_found(&id));
    }
    let body = Value::Array(
        state
            .groups
            .iter()
            .filter(|g| g.members.contains(&id))
            .map(|g| group_json(url.base(), g))
            .collect(),
    );
    Ok(page(&url, body, None))
}

/// Unassign a user from a group: 204, also when the user was not a member (as Okta).
async fn unassign_user(
    State(shared): State<Arc<Shared>>,
    Path((group_id, user_id)): Path<(String, String)>,
) -> Answer {
    let mut state = shared.state();
    let user = state
        .users
        .iter()
        .find(|u| u.id == user_id)
        .cloned()
        .ok_or_else(|| user_not_found(&user_id))?;
    let group = state
        .groups
        .iter_mut()
        .find(|g| g.id == group_id)
        .ok_or_else(|| group_not_found(&group_id))?;
    let before = group.members.len();
    group.members.retain(|m| m != &user_id);
    if group.members.len() < before {
        state.push_admin_event("group.user_membership.remove", &user);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn group_json(base: &str, group: &MockGroup) -> Value {
    json!({
        "id": group.id,
        "created": iso(OKTA_MOCK_EPOCH_MS),
        "lastUpdated": iso(OKTA_MOCK_EPOCH_MS),
        "lastMembershipUpdated": iso(OKTA_MOCK_EPOCH_MS),
        "objectClass": ["okta:user_group"],
        "type": "OKTA_GROUP",
        "profile": { "name": group.name, "description": format!("{} of the mock org", group.name) },
        "_links": {
            "users": { "href": format!("{base}/api/v1/groups/{}/users", group.id) },
            "apps": { "href": format!("{base}/api/v1/groups/{}/apps", group.id) }
        }
    })
}

async fn list_groups(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Answer {
    if let Some(fixtures) = &shared.fixtures {
        return Ok(fixture_page(&url, &fixtures.group_pages));
    }
    let state = shared.state();
    let (slice, next) = after_page(&url, &state.groups, |g| g.id.as_str(), 10_000, 10_000);
    let body = Value::Array(slice.iter().map(|g| group_json(url.base(), g)).collect());
    Ok(page(&url, body, next))
}

async fn group_users(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    url: RequestUrl,
) -> Answer {
    if shared.fixtures.is_some() {
        return Ok(page(&url, json!([]), None));
    }
    let state = shared.state();
    let group = state.groups.iter().find(|g| g.id == id).ok_or_else(|| {
        okta_error(
            StatusCode::NOT_FOUND,
            "E0000007",
            &format!("Not found: Resource not found: {id} (UserGroup)"),
        )
    })?;
    let mut members: Vec<&MockUser> = state
        .users
        .iter()
        .filter(|u| group.members.contains(&u.id))
        .collect();
    members.sort_by(|a, b| a.id.cmp(&b.id));
    let (slice, next) = after_page(&url, &members, |u| u.id.as_str(), 1_000, 1_000);
    let body = Value::Array(slice.iter().map(|u| user_json(url.base(), u)).collect());
    Ok(page(&url, body, next))
}

async fn list_apps(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Answer {
    let state = shared.state();
    let apps: &[MockApp] = if shared.fixtures.is_some() {
        &[]
    } else {
        &state.apps
    };
    let (slice, next) = after_page(&url, apps, |a| a.id.as_str(), 20, 200);
    let body = Value::Array(
        slice
            .iter()
            .map(|a| {
                json!({
                    "id": a.id,
                    "name": "oidc_client",
                    "label": a.label,
                    "status": "ACTIVE",
                    "created": iso(OKTA_MOCK_EPOCH_MS),
                    "lastUpdated": iso(OKTA_MOCK_EPOCH_MS),
                    "signOnMode": "OPENID_CONNECT",
                    "credentials": { "oauthClient": { "client_id": a.id } },
                    "_links": { "self": { "href": format!("{}/api/v1/apps/{}", url.base(), a.id) } }
                })
            })
            .collect(),
    );
    Ok(page(&url, body, next))
}

async fn app_grants(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    url: RequestUrl,
) -> Answer {
    let state = shared.state();
    let app = state.apps.iter().find(|a| a.id == id).ok_or_else(|| {
        okta_error(
            StatusCode::NOT_FOUND,
            "E0000007",
            &format!("Not found: Resource not found: {id} (AppInstance)"),
        )
    })?;
    let owner = state
        .users
        .first()
        .map(|u| u.id.clone())
        .unwrap_or_default();
    let (slice, next) = after_page(&url, &app.grants, |g| g.0.as_str(), 20, 200);
    let body = Value::Array(
        slice
            .iter()
            .map(|(grant, scope)| {
                json!({
                    "id": grant,
                    "status": "ACTIVE",
                    "created": iso(OKTA_MOCK_EPOCH_MS + 3_600_000),
                    "createdBy": { "id": owner, "type": "User" },
                    "lastUpdated": iso(OKTA_MOCK_EPOCH_MS + 3_600_000),
                    "issuer": url.base(),
                    "clientId": app.id,
                    "scopeId": scope,
                    "source": "ADMIN",
                    "_links": {
                        "app": { "href": format!("{}/api/v1/apps/{}", url.base(), app.id) },
                        "self": { "href": format!("{}/api/v1/apps/{}/grants/{grant}", url.base(), app.id) }
                    }
                })
            })
            .collect(),
    );
    Ok(page(&url, body, next))
}

fn event_json(event: &LogEvent, index: usize) -> Value {
    json!({
        "actor": {
            "id": event.actor.0, "type": "User", "alternateId": event.actor.1,
            "displayName": event.actor.1, "detailEntry": null
        },
        "client": {
            "userAgent": {
                "rawUserAgent": "Mozilla/5.0 (X11; Linux x86_64) SluiceMock/1.0",
                "os": "Linux", "browser": "UNKNOWN"
            },
            "zone": "null",
            "device": "Computer",
            "id": null,
            "ipAddress": format!("198.51.100.{}", index % 250 + 1),
            "geographicalContext": null
        },
        "displayMessage": event.event_type,
        "eventType": event.event_type,
        "outcome": { "result": event.outcome, "reason": null },
        "published": iso(event.published_ms),
        "severity": "INFO",
        "debugContext": { "debugData": { "requestId": format!("mockreq{index:08}") } },
        "legacyEventType": null,
        "transaction": { "type": "WEB", "id": format!("mocktx{index:08}"), "detail": {} },
        "uuid": event.uuid,
        "version": "0",
        "request": { "ipChain": [] },
        "target": [{
            "id": event.target.0, "type": "User", "alternateId": event.target.1,
            "displayName": event.target.1, "detailEntry": null
        }]
    })
}

fn parse_time(url: &RequestUrl, name: &str) -> Result<Option<i64>, Response> {
    url.param(name)
        .map(|text| {
            DateTime::parse_from_rfc3339(text)
                .map(|t| t.timestamp_millis())
                .map_err(|_| {
                    okta_error(
                        StatusCode::BAD_REQUEST,
                        "E0000030",
                        &format!("Invalid date. Dates must be of the form yyyy-MM-dd'T'HH:mm:ss.SSSZZ, e.g. 2013-01-01T12:00:00.000-07:00. ({name})"),
                    )
                })
        })
        .transpose()
}

/// The System Log. `after` is the position after the last event returned; without
/// `until` the request is a polling one and always gets a `next` link, so a client can
/// come back later for what happens next.
async fn logs(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Answer {
    let since = parse_time(&url, "since")?.unwrap_or_else(|| now_ms() - 7 * 86_400_000);
    let until = parse_time(&url, "until")?;
    let limit = limit(&url, 100, 1_000);
    let start: usize = url.param("after").and_then(|a| a.parse().ok()).unwrap_or(0);
    let state = shared.state();
    // Fixtures are old examples: served whatever `since` says.
    let events: Vec<(usize, Value)> = match &shared.fixtures {
        Some(fixtures) => fixtures
            .log_events
            .iter()
            .cloned()
            .enumerate()
            .skip(start)
            .take(limit)
            .collect(),
        None => state
            .events
            .iter()
            .enumerate()
            .skip(start)
            .filter(|(_, e)| e.published_ms >= since && until.is_none_or(|u| e.published_ms < u))
            .take(limit)
            .map(|(i, e)| (i, event_json(e, i)))
            .collect(),
    };
    let total = shared
        .fixtures
        .as_ref()
        .map_or(state.events.len(), |f| f.log_events.len());
    let position = events.last().map_or(total.max(start), |(i, _)| i + 1);
    let next = (until.is_none() || position < total).then(|| position.to_string());
    let body = Value::Array(events.into_iter().map(|(_, e)| e).collect());
    Ok(page(&url, body, next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_org_matches_its_config() {
        let config = OktaMockConfig::default();
        let state = OrgState::generate(&config, OKTA_MOCK_EPOCH_MS);
        assert_eq!(state.users.len(), 17);
        assert_eq!(
            state.users.iter().filter(|u| !u.roles.is_empty()).count(),
            3
        );
        assert!(state.users.windows(2).all(|w| w[0].id < w[1].id));
        assert_eq!(state.events.len(), 60);
        assert!(state.groups.iter().all(|g| g.members.len() == 3));
        assert_eq!(state.events[1].published_ms, OKTA_MOCK_EPOCH_MS + 1_000);
    }
}
