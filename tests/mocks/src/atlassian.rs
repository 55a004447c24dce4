//! A loopback Atlassian Organizations REST API (`https://api.atlassian.com/admin`) for
//! one organization, for the `atlassian` connector.
//!
//! As Atlassian documents:
//! - every request carries the organization's API key as `Authorization: Bearer`;
//!   anything else is 401;
//! - lists answer `{"data": […], "links": {"self", "prev", "next"}}`, where `links.next`
//!   is an opaque token passed back as `cursor` and is absent after the last page; the
//!   directory lists take `limit` (at most 100) and filter by `accountIds` and
//!   `groupIds`;
//! - `/events-stream` takes `from` / `to` (epoch milliseconds, inclusive), `limit`
//!   (default 200), `sortOrder` (`asc` / `desc`) and `cursor`, and hands out a cursor on
//!   its last page too "to facilitate seamless polling";
//! - answers carry `X-RateLimit-Limit`, `X-RateLimit-Remaining` and `X-RateLimit-Reset`
//!   (ISO 8601, UTC); over the budget, or on an injected fault, 429 with `Retry-After`;
//! - `POST /admin/v1/orgs/{orgId}/directory/users/{accountId}/suspend-access` (and
//!   `restore-access`) suspends (restores) the user's access, logged in the audit log.
//!
//! Users are in the v2 directory shape of the published example (`accountId`,
//! `accountStatus`, `membershipStatus`, `claimStatus`, `platformRoles`, …): user *i*
//! has account id `5b10a2844c2016{i:010x}`; the first [`AtlassianMockConfig::org_admins`]
//! are organization admins, the last `unmanaged_users` unmanaged (external), the
//! `suspended_users` before them suspended. Events are in the shape of the published
//! `EventPage` example with real values.
//!
//! | route | |
//! |---|---|
//! | `GET /admin/v1/orgs/{orgId}` | the organization |
//! | `GET /admin/v2/orgs/{orgId}/directories/{directoryId}/users` | cursor-paged, filters |
//! | `GET /admin/v2/orgs/{orgId}/directories/{directoryId}/groups` | cursor-paged |
//! | `GET /admin/v1/orgs/{orgId}/events-stream` | cursor-paged, `from`/`to` |
//! | `POST /admin/v1/orgs/{orgId}/directory/users/{accountId}/suspend-access`, `restore-access` | |
//!
//! Assumed where Atlassian publishes no example: the 401 and 429 bodies
//! (`{"code":401,"message":"Unauthorized"}`), the 403 body (the gateway's
//! `{"status":403,"error":"Forbidden","message":"User has no permission to access
//! resource."}` as users have reported it), that `from` filters on the event's `time`,
//! and the action keys of events (Atlassian publishes the activities' labels only).

// Handlers answer `Result<Response, Response>` (Atlassian's error body is a response too).
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

/// The mock organization and its API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtlassianMockConfig {
    /// The organization ID in every path.
    pub org_id: String,
    /// Its name (`GET /admin/v1/orgs/{orgId}`).
    pub org_name: String,
    /// The accepted API key (bearer).
    pub api_key: String,
    /// Users in the directory.
    pub users: usize,
    /// The first N users hold `atlassian/org-admin`.
    pub org_admins: usize,
    /// The last N users are unmanaged accounts (external).
    pub unmanaged_users: usize,
    /// The N users before the unmanaged ones have their access suspended.
    pub suspended_users: usize,
    /// Groups, and members per group drawn in turn from the users.
    pub groups: usize,
    pub members_per_group: usize,
    /// Audit events at start, one a second from `events_start`.
    pub events: usize,
    /// `time` of event 0 (ms); `None`: an hour plus a second per event before now.
    pub events_start: Option<i64>,
    /// The key may read the directory (users, groups): else 403, as for a scoped key.
    pub directory_readable: bool,
    /// The key may read the audit log: else 403, as for a scoped key.
    pub events_readable: bool,
    /// Requests per minute.
    pub rate_limit_per_minute: u32,
    /// Serve Atlassian's published examples from this folder
    /// (`shared/fixtures/atlassian`): users from the v1 list and search examples, groups
    /// from the Jira group example, events from the `EventPage` shape (with a real time).
    pub fixtures_dir: Option<PathBuf>,
}

impl Default for AtlassianMockConfig {
    fn default() -> Self {
        AtlassianMockConfig {
            org_id: "9a1ck7d4-c2b3-4e5f-8a6b-7c8d9e0f1a2b".into(),
            org_name: "Acme".into(),
            api_key: "atl-org-api-key".into(),
            users: 7,
            org_admins: 1,
            unmanaged_users: 0,
            suspended_users: 0,
            groups: 0,
            members_per_group: 0,
            events: 3,
            events_start: None,
            directory_readable: true,
            events_readable: true,
            rate_limit_per_minute: 1000,
            fixtures_dir: None,
        }
    }
}

/// What a complete scan of the mock must yield right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AtlassianExpected {
    pub users: usize,
    pub admins: usize,
    pub external: usize,
    pub suspended: usize,
    pub groups: usize,
    /// Group memberships summed over groups.
    pub group_memberships: usize,
    /// Audit events with a time, and how many of each trail.
    pub activities: usize,
    pub logon: usize,
    pub user_activity: usize,
    pub admin_activity: usize,
}

/// Which trail a generated event belongs to (the mock's own table, see [`EVENT_TABLE`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventTrail {
    Logon,
    User,
    Admin,
}

/// (action key, trail, message) the generated events cycle through.
pub const EVENT_TABLE: &[(&str, EventTrail, &str)] = &[
    ("user_logged_in", EventTrail::Logon, "Logged in to account"),
    ("group_created", EventTrail::Admin, "Created group"),
    ("page_viewed", EventTrail::User, "Viewed page"),
    (
        "user_added_to_group",
        EventTrail::Admin,
        "Added user to group",
    ),
    (
        "user_logged_out",
        EventTrail::Logon,
        "Logged out of account",
    ),
    (
        "attachment_downloaded",
        EventTrail::User,
        "Downloaded attachment",
    ),
    ("user_login_failed", EventTrail::Logon, "Login failed"),
    (
        "policy_updated",
        EventTrail::Admin,
        "Updated authentication policy",
    ),
];

/// A running Atlassian mock.
#[derive(Debug)]
pub struct AtlassianMock {
    server: MockServer,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: AtlassianMockConfig,
    /// The accepted API key (rotatable).
    api_key: Mutex<String>,
    state: Mutex<Org>,
    fixtures: Option<Fixtures>,
    budget: RateBudget,
    faults: FaultPlan,
    /// `bearer` per authenticated request, `refused` else.
    credentials: Mutex<Vec<String>>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, Org> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Debug, Clone)]
struct MockUser {
    account_id: String,
    name: String,
    email: String,
    org_admin: bool,
    managed: bool,
    suspended: bool,
    added_ms: i64,
}

#[derive(Debug, Clone)]
struct MockGroup {
    id: String,
    name: String,
    members: Vec<String>,
}

#[derive(Debug, Clone)]
struct MockEvent {
    id: String,
    time_ms: i64,
    action: &'static str,
    trail: EventTrail,
    message: String,
    actor: usize,
    /// The account acted on.
    target: String,
}

#[derive(Debug)]
struct Org {
    users: Vec<MockUser>,
    groups: Vec<MockGroup>,
    /// Oldest first.
    events: Vec<MockEvent>,
}

/// 2024-01-01T00:00:00Z, the anchor of generated dates.
const EPOCH_MS: i64 = 1_704_067_200_000;
const MAX_LIMIT: usize = 100;
const MAX_EVENTS_LIMIT: usize = 200;

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

/// Account id of user `i`, in the 24-character shape of Atlassian account ids.
pub fn account_id(i: usize) -> String {
    format!("5b10a2844c2016{i:010x}")
}

impl Org {
    fn generate(c: &AtlassianMockConfig, events_start: i64) -> Org {
        let unmanaged_from = c.users.saturating_sub(c.unmanaged_users);
        let suspended_from = unmanaged_from.saturating_sub(c.suspended_users);
        let users: Vec<MockUser> = (0..c.users)
            .map(|i| MockUser {
                account_id: account_id(i),
                name: format!("User {i}"),
                email: if i >= unmanaged_from {
                    format!("guest{i}@partner.example")
                } else {
                    format!("user{i}@acme.example")
                },
                org_admin: i < c.org_admins,
                managed: i < unmanaged_from,
                suspended: (suspended_from..unmanaged_from).contains(&i),
                added_ms: EPOCH_MS + i as i64 * 3_600_000,
            })
            .collect();
        let groups = (0..c.groups)
            .map(|g| MockGroup {
                id: format!("12345678-1234-1234-1234-{g:012}"),
                name: format!("group-{}", g + 1),
                members: (0..c.members_per_group.min(users.len()))
                    .map(|m| {
                        users[(g * c.members_per_group + m) % users.len()]
                            .account_id
                            .clone()
                    })
                    .collect(),
            })
            .collect();
        let mut org = Org {
            users,
            groups,
            events: Vec::new(),
        };
        org.add_events(c.events, events_start);
        org
    }

    fn add_events(&mut self, n: usize, start: i64) {
        for _ in 0..n {
            let i = self.events.len();
            let (action, trail, message) = EVENT_TABLE[i % EVENT_TABLE.len()];
            let target = self
                .users
                .get((i + 1) % self.users.len().max(1))
                .map_or_else(String::new, |u| u.account_id.clone());
            self.push_event(action, trail, message.to_owned(), 0, target, start);
        }
    }

    /// Appends an event one second after the newest (or at `at`, whichever is later).
    fn push_event(
        &mut self,
        action: &'static str,
        trail: EventTrail,
        message: String,
        actor: usize,
        target: String,
        at: i64,
    ) {
        let i = self.events.len();
        let time_ms = self
            .events
            .last()
            .map_or(at, |e| (e.time_ms + 1_000).max(at));
        self.events.push(MockEvent {
            id: format!("{i:08x}-7d1c-4e5f-9a0b-{i:012x}"),
            time_ms,
            action,
            trail,
            message,
            actor,
            target,
        });
    }
}

/// Fixtures mode: Atlassian's published examples.
#[derive(Debug, Clone)]
struct Fixtures {
    users: Vec<Value>,
    groups: Vec<Value>,
    events: Vec<Value>,
}

impl Fixtures {
    fn load(dir: &FsPath) -> io::Result<Fixtures> {
        let read = |name: &str, key: &str| -> io::Result<Vec<Value>> {
            let path = dir.join(format!("{name}.json"));
            let value: Value = serde_json::from_slice(&std::fs::read(&path)?).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            })?;
            Ok(value[key].as_array().cloned().unwrap_or_default())
        };
        let mut users = read("_SHAPE-org-users-list.docs-example", "data")?;
        users.extend(read("org-users-search.docs-example", "data")?);
        let mut events = read("_SHAPE-org-events-list.docs-example", "data")?;
        // The shape's `time` is the placeholder `<string>`; the newer page revision shows
        // a real one, which the mock puts in (an hour ago, inside any look-back) so the
        // event can be read incrementally.
        let hour_ago = now_ms() - 3_600_000;
        for (i, event) in events.iter_mut().enumerate() {
            event["attributes"]["time"] = json!(iso(hour_ago + i as i64 * 1_000));
        }
        Ok(Fixtures {
            users,
            groups: read("jira-group-bulk.openapi-example", "values")?,
            events,
        })
    }
}

impl AtlassianMock {
    /// Binds `127.0.0.1:0` and serves on the current tokio runtime. Fails if the
    /// listener cannot be bound or a fixture cannot be read or parsed.
    pub async fn start(config: AtlassianMockConfig) -> io::Result<AtlassianMock> {
        let fixtures = config
            .fixtures_dir
            .as_deref()
            .map(Fixtures::load)
            .transpose()?;
        let events_start = config.events_start.unwrap_or_else(|| {
            let now = now_ms();
            now - now.rem_euclid(1_000) - 1_000 * config.events as i64 - 3_600_000
        });
        let shared = Arc::new(Shared {
            api_key: Mutex::new(config.api_key.clone()),
            state: Mutex::new(Org::generate(&config, events_start)),
            fixtures,
            budget: RateBudget::new(config.rate_limit_per_minute, Duration::from_secs(60)),
            faults: FaultPlan::default(),
            credentials: Mutex::default(),
            config,
        });
        let router = router(shared.clone());
        let server = MockServer::start(Duration::ZERO, |_| router).await?;
        Ok(AtlassianMock { server, shared })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    pub fn config(&self) -> &AtlassianMockConfig {
        &self.shared.config
    }

    /// From now on only `key` is accepted, as after a rotation.
    pub fn set_api_key(&self, key: &str) {
        *self
            .shared
            .api_key
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = key.to_owned();
    }

    /// Appends `n` audit events, one second apart after the newest (and not before now).
    pub fn add_events(&self, n: usize) {
        self.shared.state().add_events(n, now_ms());
    }

    /// Whether user `account_id`'s access is suspended now (none for an unknown user).
    pub fn is_suspended(&self, account_id: &str) -> Option<bool> {
        let state = self.shared.state();
        (state.users.iter())
            .find(|u| u.account_id == account_id)
            .map(|u| u.suspended)
    }

    /// Account ids of the managed users whose access is not suspended, in order.
    pub fn active_user_ids(&self) -> Vec<String> {
        let state = self.shared.state();
        (state.users.iter())
            .filter(|u| u.managed && !u.suspended)
            .map(|u| u.account_id.clone())
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
        self.shared
            .credentials
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// The credential of every request so far, in order: `bearer` when accepted,
    /// `refused` when not.
    pub fn credentials_seen(&self) -> Vec<String> {
        self.shared
            .credentials
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Exact counts a complete scan must yield now.
    pub fn expected(&self) -> AtlassianExpected {
        if let Some(fixtures) = &self.shared.fixtures {
            return AtlassianExpected {
                users: fixtures.users.len(),
                groups: fixtures.groups.len(),
                activities: fixtures.events.len(),
                admin_activity: fixtures.events.len(),
                ..AtlassianExpected::default()
            };
        }
        let state = self.shared.state();
        let trail = |t| state.events.iter().filter(|e| e.trail == t).count();
        AtlassianExpected {
            users: state.users.len(),
            admins: state.users.iter().filter(|u| u.org_admin).count(),
            external: state.users.iter().filter(|u| !u.managed).count(),
            suspended: state.users.iter().filter(|u| u.suspended).count(),
            groups: state.groups.len(),
            group_memberships: state.groups.iter().map(|g| g.members.len()).sum(),
            activities: state.events.len(),
            logon: trail(EventTrail::Logon),
            user_activity: trail(EventTrail::User),
            admin_activity: trail(EventTrail::Admin),
        }
    }
}

// ---- wire behaviour -------------------------------------------------------------

type Answer = Result<Response, Response>;

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/admin/v1/orgs/{org}", get(show_org))
        .route(
            "/admin/v2/orgs/{org}/directories/{directory}/users",
            get(list_users),
        )
        .route(
            "/admin/v2/orgs/{org}/directories/{directory}/groups",
            get(list_groups),
        )
        .route("/admin/v1/orgs/{org}/events-stream", get(events_stream))
        .route(
            "/admin/v1/orgs/{org}/directory/users/{account}/{verb}",
            post(change_access),
        )
        .fallback(|| async { not_found() })
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .layer(middleware::from_fn_with_state(shared.clone(), authenticate))
        .with_state(shared)
}

/// A JSON:API-style error, as the Organizations API answers 400 and 404.
fn error(status: StatusCode, title: &str, detail: &str) -> Response {
    (
        status,
        Json(json!({"errors": [{"status": status.as_u16().to_string(), "title": title, "detail": detail}]})),
    )
        .into_response()
}

fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "Not Found",
        "The requested resource was not found",
    )
}

/// The gateway's 403, as users have reported it.
fn forbidden(path: &str) -> Response {
    (
        StatusCode::FORBIDDEN,
        Json(json!({
            "timestamp": iso(now_ms()), "path": path, "status": 403, "error": "Forbidden",
            "message": "User has no permission to access resource.", "requestId": "b4fce632-202784",
        })),
    )
        .into_response()
}

/// `Bearer {api_key}`; 401 otherwise.
async fn authenticate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let key = shared
        .api_key
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let accepted = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|token| token == key);
    shared
        .credentials
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(if accepted { "bearer" } else { "refused" }.into());
    if accepted {
        next.run(request).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({"code": 401, "message": "Unauthorized"})),
        )
            .into_response()
    }
}

/// Injected faults, then the per-minute budget; every answer carries the
/// `X-RateLimit-*` headers, the reset as an ISO 8601 time.
async fn gate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let throttled = |retry_after: u64| {
        let mut response = (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({"code": 429, "message": "Too Many Requests"})),
        )
            .into_response();
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
                error(status, "Internal Server Error", "Something went wrong"),
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
    let reset_secs = (response.headers().get("retry-after"))
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .map_or(budget.reset_epoch_secs, |wait| {
            now_ms() as u64 / 1000 + wait
        });
    set(&mut response, "x-ratelimit-limit", budget.limit.to_string());
    set(
        &mut response,
        "x-ratelimit-remaining",
        remaining.to_string(),
    );
    set(
        &mut response,
        "x-ratelimit-reset",
        iso(reset_secs as i64 * 1000),
    );
    response
}

fn set(response: &mut Response, name: &'static str, value: String) {
    if let Ok(value) = HeaderValue::from_str(&value) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(name), value);
    }
}

/// The opaque token of list position `offset`.
fn token(offset: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("offset:{offset}"))
}

/// The position a `cursor` token names; 400 for a token the mock never gave.
fn offset_of(url: &RequestUrl) -> Result<usize, Response> {
    let Some(cursor) = url.param("cursor") else {
        return Ok(0);
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|t| t.strip_prefix("offset:")?.parse().ok())
        .ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                "Bad Request",
                "Invalid page cursor",
            )
        })
}

/// The `limit` asked for, within `1..=max` (`default` without one).
fn limit_of(url: &RequestUrl, default: usize, max: usize) -> usize {
    url.param("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(default)
        .clamp(1, max)
}

/// One page of `items` from the request's cursor; `links.next` while more remain, or
/// always when `poll` (the events stream's last page carries a cursor too).
fn page(url: &RequestUrl, items: Vec<Value>, max: usize, poll: bool) -> Answer {
    let start = offset_of(url)?.min(items.len());
    let limit = limit_of(url, max.min(MAX_LIMIT), max);
    let end = start.saturating_add(limit).min(items.len());
    let next = (end < items.len() || poll).then(|| token(end));
    Ok(Json(json!({
        "data": items[start..end],
        "links": {
            "self": token(start),
            "prev": (start > 0).then(|| token(start.saturating_sub(limit))),
            "next": next,
        },
    }))
    .into_response())
}

/// The organization in the path, or 404.
fn check_org(shared: &Shared, org: &str) -> Result<(), Response> {
    if org == shared.config.org_id {
        Ok(())
    } else {
        Err(not_found())
    }
}

async fn show_org(State(shared): State<Arc<Shared>>, Path(org): Path<String>) -> Answer {
    check_org(&shared, &org)?;
    let c = &shared.config;
    Ok(Json(json!({"data": {
        "id": c.org_id, "type": "orgs", "attributes": {"name": c.org_name},
        "relationships": {
            "domains": {"links": {"related": format!("/admin/v1/orgs/{}/domains", c.org_id)}},
            "users": {"links": {"related": format!("/admin/v1/orgs/{}/users", c.org_id)}},
        },
        "links": {"self": format!("/admin/v1/orgs/{}", c.org_id)},
    }}))
    .into_response())
}

/// User `u` in the v2 directory shape of the published example.
fn user_json(u: &MockUser) -> Value {
    let membership = if u.suspended { "suspended" } else { "active" };
    let mut roles = vec!["atlassian/user"];
    if u.org_admin {
        roles.insert(0, "atlassian/org-admin");
    }
    json!({
        "accountId": u.account_id,
        "accountType": "atlassian",
        "status": membership,
        "accountStatus": "active",
        "membershipStatus": membership,
        "addedToOrg": iso(u.added_ms),
        "name": u.name,
        "nickname": u.name.replace(' ', "").to_lowercase(),
        "email": u.email,
        "emailVerified": true,
        "claimStatus": if u.managed { "managed" } else { "unmanaged" },
        "platformRoles": roles,
        "picture": "https://picture.example.com/picture.png",
        "avatar": "https://avatar.example.com/avatar.png",
        "managementSource": "invited",
        "mfaEnabled": u.org_admin,
        "counts": {"resources": 2},
        "links": {"self": token(0)},
    })
}

async fn list_users(
    State(shared): State<Arc<Shared>>,
    Path((org, _directory)): Path<(String, String)>,
    uri: Uri,
    url: RequestUrl,
) -> Answer {
    check_org(&shared, &org)?;
    let path = uri.path();
    if !shared.config.directory_readable {
        return Err(forbidden(path));
    }
    let accounts = url.params_named("accountIds");
    let groups = url.params_named("groupIds");
    if let Some(fixtures) = &shared.fixtures {
        return page(&url, fixtures.users.clone(), MAX_LIMIT, false);
    }
    let state = shared.state();
    let members: Option<Vec<&String>> = (!groups.is_empty()).then(|| {
        (state.groups.iter())
            .filter(|g| groups.contains(&g.id.as_str()))
            .flat_map(|g| &g.members)
            .collect()
    });
    let users = (state.users.iter())
        .filter(|u| accounts.is_empty() || accounts.contains(&u.account_id.as_str()))
        .filter(|u| members.as_ref().is_none_or(|m| m.contains(&&u.account_id)))
        .map(user_json)
        .collect();
    page(&url, users, MAX_LIMIT, false)
}

async fn list_groups(
    State(shared): State<Arc<Shared>>,
    Path((org, _directory)): Path<(String, String)>,
    uri: Uri,
    url: RequestUrl,
) -> Answer {
    check_org(&shared, &org)?;
    let path = uri.path();
    if !shared.config.directory_readable {
        return Err(forbidden(path));
    }
    if let Some(fixtures) = &shared.fixtures {
        return page(&url, fixtures.groups.clone(), MAX_LIMIT, false);
    }
    let groups = (shared.state().groups.iter())
        .map(|g| {
            json!({
                "id": g.id, "name": g.name, "description": format!("Members of {}", g.name),
                "directoryId": "12345678-1234-1234-1234-123456789012",
                "managementAccess": {"deletable": true, "modifiable": true, "readable": true},
                "externalSynced": false, "managedBy": "admins",
                "counts": {"users": g.members.len(), "resources": 1},
                "links": {"self": token(0)},
            })
        })
        .collect();
    page(&url, groups, MAX_LIMIT, false)
}

/// Event `e` in the shape of the published `EventPage` example.
fn event_json(state: &Org, e: &MockEvent) -> Value {
    let actor = state.users.get(e.actor);
    json!({
        "id": e.id,
        "type": "events",
        "attributes": {
            "time": iso(e.time_ms),
            "processedAt": iso(e.time_ms + 250),
            "action": e.action,
            "actor": {
                "id": actor.map(|u| u.account_id.clone()),
                "name": actor.map(|u| u.name.clone()),
                "email": actor.map(|u| u.email.clone()),
                "links": {"self": "https://api.atlassian.com/users/actor"},
            },
            "context": [{"id": e.target, "type": "users", "attributes": {}, "links": {"self": "s", "alt": "a"}}],
            "container": [{"id": "org", "type": "orgs", "attributes": {}, "links": {"self": "s", "alt": "a"}}],
            "location": {"ip": "203.0.113.9", "geo": "48.1,11.6", "countryName": "Germany",
                         "regionName": "Bavaria", "city": "Munich"},
        },
        "links": {"self": format!("/events/{}", e.id)},
        "message": {"content": e.message, "format": "simple"},
    })
}

async fn events_stream(
    State(shared): State<Arc<Shared>>,
    Path(org): Path<String>,
    uri: Uri,
    url: RequestUrl,
) -> Answer {
    check_org(&shared, &org)?;
    let path = uri.path();
    if !shared.config.events_readable {
        return Err(forbidden(path));
    }
    let bound = |name: &str| -> Result<Option<i64>, Response> {
        url.param(name)
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    error(
                        StatusCode::BAD_REQUEST,
                        "Bad Request",
                        &format!("{name} is not epoch milliseconds"),
                    )
                })
            })
            .transpose()
    };
    let (from, to) = (bound("from")?, bound("to")?);
    let within = |ms: i64| from.is_none_or(|f| ms >= f) && to.is_none_or(|t| ms <= t);
    let mut events: Vec<Value> = if let Some(fixtures) = &shared.fixtures {
        (fixtures.events.iter())
            .filter(|e| {
                e["attributes"]["time"]
                    .as_str()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                    .is_some_and(|t| within(t.timestamp_millis()))
            })
            .cloned()
            .collect()
    } else {
        let state = shared.state();
        (state.events.iter())
            .filter(|e| within(e.time_ms))
            .map(|e| event_json(&state, e))
            .collect()
    };
    if url.param("sortOrder") != Some("asc") {
        events.reverse();
    }
    page(&url, events, MAX_EVENTS_LIMIT, true)
}

/// `suspend-access` / `restore-access`: sets the user's membership and logs it.
async fn change_access(
    State(shared): State<Arc<Shared>>,
    Path((org, account, verb)): Path<(String, String, String)>,
) -> Answer {
    check_org(&shared, &org)?;
    let suspend = match verb.as_str() {
        "suspend-access" => true,
        "restore-access" => false,
        _ => return Err(not_found()),
    };
    let mut state = shared.state();
    let user = (state.users.iter_mut())
        .find(|u| u.account_id == account)
        .ok_or_else(not_found)?;
    user.suspended = suspend;
    let (action, message) = if suspend {
        (
            "user_access_suspended",
            format!("Suspended access for {}", user.name),
        )
    } else {
        (
            "user_access_restored",
            format!("Restored access for {}", user.name),
        )
    };
    state.push_event(
        action,
        EventTrail::Admin,
        message,
        0,
        account.clone(),
        now_ms(),
    );
    let word = if suspend { "suspended" } else { "restored" };
    Ok(Json(json!({
        "message": format!("Access to organization {org} for user {account} {word}"),
    }))
    .into_response())
}
