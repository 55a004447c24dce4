//! A loopback OneLogin account: API v2 users and roles, the v1 Events API, and the
//! OAuth 2.0 token endpoint, for the `onelogin` connector.
//!
//! As OneLogin documents:
//! - `POST /auth/oauth2/v2/token` issues access tokens for the client-credentials grant
//!   with the client id and secret as HTTP Basic only ([`crate::oauth`] with
//!   `basic_client_auth_only`: a secret in the form body is refused `invalid_client`);
//!   API calls carry `Authorization: Bearer <token>`, anything else is 401;
//! - v2 lists (`GET /api/2/users`, `GET /api/2/roles`) answer a bare JSON array with
//!   `limit` (users: "up to 50 … per page") and the next page's cursor in the
//!   `After-Cursor` header (none on the last page), taken back as `cursor=`;
//! - `GET /api/1/events` answers `{status, pagination{before_cursor, after_cursor,
//!   previous_link, next_link}, data}`, at most 50 a page, filtered by `since`/`until`
//!   on `created_at`, newest first unless `sort=+id`; `GET /api/1/events/types` lists
//!   `{id, name, description}`;
//! - every authenticated answer carries `X-RateLimit-Limit`, `X-RateLimit-Remaining`
//!   and `X-RateLimit-Reset` (seconds until the hour's budget resets; 5,000 calls an
//!   hour for the account); past the budget, or on an injected fault, 429;
//! - errors are v1's `{"status":{"error":true,"code":…,"type":…,"message":…}}` on
//!   `/api/1`, v2's `{"statusCode":…,"name":…,"message":…}` on `/api/2`.
//!
//! The credential pair's scope is [`OneLoginMockConfig::scope`]: `Read All` reads
//! everything, `Read users` only users, `Authentication Only` nothing.
//!
//! Users are in the shape of OneLogin's `User` model (`shared/fixtures/onelogin/
//! users-v2-list…`): user *i* has id `201000000 + i`, is in role `398000 + i % roles`;
//! role 0 is "Administrators", administered (`admins`) by user 0. The last
//! `suspended_users` users have `status` 2. With [`OneLoginMockConfig::fixtures_dir`]
//! set, users, roles and events serve the rendered examples instead (the events
//! whatever `since` and `until` say: they are from 2024).
//!
//! Assumed where OneLogin publishes no example: the 403 for a scope that does not
//! allow an endpoint (v2/v1 body with `Forbidden`), the 429's body and that it carries
//! no `Retry-After`, only `X-RateLimit-Remaining: 0` and `X-RateLimit-Reset`; the
//! event type ids and names below are illustrative (the connector reads them from
//! `/api/1/events/types`, as the real account lists them).

// Handlers answer `Result<Response, Response>` (OneLogin's error body is a response too).
#![allow(clippy::result_large_err)]

use std::io;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::header::{HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::faults::{self, FaultPlan, Faults, RateBudget};
use crate::oauth::{OAuthMock, OAuthMockConfig};
use crate::server::{MockServer, RequestRecord, RequestUrl};

/// The mock account and its API credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneLoginMockConfig {
    pub client_id: String,
    pub client_secret: String,
    /// The credential pair's scope: `Read All` (default), `Read users`,
    /// `Authentication Only`.
    pub scope: String,
    pub users: usize,
    /// Roles; role 0 is "Administrators".
    pub roles: usize,
    /// The last users are suspended (`status` 2).
    pub suspended_users: usize,
    /// Events at start, one a second from an hour plus a second per event before now.
    pub events: usize,
    /// Calls an hour for the account.
    pub rate_limit_per_hour: u32,
    /// Serve the rendered examples from this folder (`shared/fixtures/onelogin`).
    pub fixtures_dir: Option<PathBuf>,
}

impl Default for OneLoginMockConfig {
    fn default() -> Self {
        OneLoginMockConfig {
            client_id: "ol-client-id".into(),
            client_secret: "ol-client-secret".into(),
            scope: "Read All".into(),
            users: 7,
            roles: 3,
            suspended_users: 1,
            events: 10,
            rate_limit_per_hour: 5_000,
            fixtures_dir: None,
        }
    }
}

/// What a complete scan of the mock must yield right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OneLoginExpected {
    pub users: usize,
    /// Users administering a role.
    pub admins: usize,
    pub suspended: usize,
    /// Role assignments summed over users.
    pub role_assignments: usize,
    pub activities: usize,
    pub logon: usize,
    pub user_activity: usize,
    pub admin_activity: usize,
    /// Failed sign-ins.
    pub failures: usize,
}

/// (event type id, name, description, acted by an administrator, kind) the generated
/// events cycle through; kind is `logon`, `user` or `admin`.
const EVENT_TABLE: &[(i64, &str, &str, bool, &str)] = &[
    (
        5,
        "USER_LOGGED_INTO_ONELOGIN",
        "User logged into OneLogin",
        false,
        "logon",
    ),
    (13, "USER_CREATED", "User created", true, "admin"),
    (
        6,
        "USER_FAILED_AUTHENTICATION",
        "User failed authentication",
        false,
        "logon",
    ),
    (
        11,
        "USER_CHANGED_PASSWORD",
        "User changed their password",
        false,
        "user",
    ),
    (14, "USER_UPDATED", "User updated", true, "admin"),
    (
        8,
        "USER_LAUNCHED_APP",
        "User launched an app",
        false,
        "user",
    ),
    (
        9,
        "ROLE_ASSIGNED_TO_USER",
        "Role assigned to user",
        true,
        "admin",
    ),
];

/// Event types listed but never generated.
const OTHER_TYPES: &[(i64, &str, &str)] = &[
    (1, "APP_ADDED_TO_ROLE", "App added to role"),
    (17, "USER_DELETED", "User deleted"),
];

/// A running OneLogin mock.
#[derive(Debug)]
pub struct OneLoginMock {
    server: MockServer,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: OneLoginMockConfig,
    oauth: OAuthMock,
    state: Mutex<Account>,
    fixtures: Option<Fixtures>,
    budget: RateBudget,
    faults: FaultPlan,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, Account> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Debug, Clone)]
struct MockEvent {
    id: u64,
    created_ms: i64,
    /// Index into [`EVENT_TABLE`].
    kind: usize,
    user: usize,
}

#[derive(Debug)]
struct Account {
    users: usize,
    events: Vec<MockEvent>,
}

#[derive(Debug, Clone)]
struct Fixtures {
    users: Vec<Value>,
    roles: Vec<Value>,
    events: Vec<Value>,
}

impl Fixtures {
    fn load(dir: &FsPath) -> io::Result<Fixtures> {
        let read = |name: &str| -> io::Result<Value> {
            let path = dir.join(format!("{name}.rendered-from-sdk-model.json"));
            serde_json::from_slice(&std::fs::read(&path)?).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            })
        };
        let array = |v: Value| v.as_array().cloned().unwrap_or_default();
        Ok(Fixtures {
            users: array(read("users-v2-list")?),
            roles: array(read("roles-v2-list")?),
            events: array(read("events-v1-list")?["data"].take()),
        })
    }
}

/// 2024-01-01T00:00:00Z, the anchor of generated dates.
const EPOCH: i64 = 1_704_067_200;
const USER_BASE: u64 = 201_000_000;
const ROLE_BASE: u64 = 398_000;
const EVENT_BASE: u64 = 900_000_000;

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

impl Account {
    fn add_events(&mut self, n: usize, start: i64) {
        for _ in 0..n {
            let i = self.events.len();
            let created_ms = self.events.last().map_or(start, |e| e.created_ms + 1_000);
            self.events.push(MockEvent {
                id: EVENT_BASE + i as u64,
                created_ms,
                kind: i % EVENT_TABLE.len(),
                // Never user 0, who acts as the administrator.
                user: 1 + i % self.users.saturating_sub(1).max(1),
            });
        }
    }
}

impl OneLoginMock {
    /// Binds `127.0.0.1:0` and serves on the current tokio runtime. Fails if the
    /// listener cannot be bound or a fixture cannot be read or parsed.
    pub async fn start(config: OneLoginMockConfig) -> io::Result<OneLoginMock> {
        let fixtures = config
            .fixtures_dir
            .as_deref()
            .map(Fixtures::load)
            .transpose()?;
        let oauth = OAuthMock::new(OAuthMockConfig {
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone(),
            basic_client_auth_only: true,
            ..OAuthMockConfig::default()
        });
        let now = now_ms();
        let start = now - now.rem_euclid(1_000) - 1_000 * config.events as i64 - 3_600_000;
        let mut account = Account {
            users: config.users,
            events: Vec::new(),
        };
        account.add_events(config.events, start);
        let shared = Arc::new(Shared {
            oauth: oauth.clone(),
            state: Mutex::new(account),
            fixtures,
            budget: RateBudget::new(config.rate_limit_per_hour, Duration::from_secs(3_600)),
            faults: FaultPlan::default(),
            config,
        });
        let api = router(shared.clone());
        let server = MockServer::start(Duration::ZERO, move |_| {
            oauth.router("/auth/oauth2/v2/token").merge(api)
        })
        .await?;
        Ok(OneLoginMock { server, shared })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    pub fn config(&self) -> &OneLoginMockConfig {
        &self.shared.config
    }

    /// The token endpoint: issued tokens and the requests it answered.
    pub fn oauth(&self) -> &OAuthMock {
        &self.shared.oauth
    }

    /// Appends `n` events, one second apart after the newest.
    pub fn add_events(&self, n: usize) {
        self.shared.state().add_events(n, now_ms());
    }

    /// Replaces the pending faults (see [`Faults`]); throttling faults are 429 with
    /// `X-RateLimit-Reset: retry_after_secs`.
    pub fn inject_faults(&self, faults: Faults) {
        self.shared.faults.inject(faults, &self.shared.budget);
    }

    /// Every request answered so far (the token endpoint's too).
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.server.log().snapshot()
    }

    pub fn clear_requests(&self) {
        self.server.log().clear();
    }

    /// Exact counts a complete scan must yield now.
    pub fn expected(&self) -> OneLoginExpected {
        if let Some(f) = &self.shared.fixtures {
            let admins: std::collections::BTreeSet<u64> = (f.roles.iter())
                .flat_map(|r| r["admins"].as_array().cloned().unwrap_or_default())
                .filter_map(|a| a.as_u64())
                .filter(|a| f.users.iter().any(|u| u["id"].as_u64() == Some(*a)))
                .collect();
            return OneLoginExpected {
                users: f.users.len(),
                admins: admins.len(),
                suspended: f.users.iter().filter(|u| u["status"] == 2).count(),
                role_assignments: (f.users.iter())
                    .map(|u| u["role_ids"].as_array().map_or(0, Vec::len))
                    .sum(),
                activities: f.events.len(),
                ..OneLoginExpected::default()
            };
        }
        let c = &self.shared.config;
        let state = self.shared.state();
        let kind = |k: &str| {
            (state.events.iter())
                .filter(|e| EVENT_TABLE[e.kind].4 == k)
                .count()
        };
        OneLoginExpected {
            users: c.users,
            admins: usize::from(c.users > 0 && c.roles > 0),
            suspended: c.suspended_users.min(c.users.saturating_sub(1)),
            role_assignments: if c.roles > 0 { c.users } else { 0 },
            activities: state.events.len(),
            logon: kind("logon"),
            user_activity: kind("user"),
            admin_activity: kind("admin"),
            failures: (state.events.iter())
                .filter(|e| EVENT_TABLE[e.kind].1.contains("FAILED"))
                .count(),
        }
    }
}

// ---- wire behaviour -------------------------------------------------------------

type Answer = Result<Response, Response>;

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/2/users", get(list_users))
        .route("/api/2/roles", get(list_roles))
        .route("/api/1/events", get(list_events))
        .route("/api/1/events/types", get(event_types))
        .fallback(|| async { v2_error(StatusCode::NOT_FOUND, "Not Found", "Not Found") })
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .layer(middleware::from_fn_with_state(shared.clone(), authenticate))
        .with_state(shared)
}

/// v2's error body.
fn v2_error(status: StatusCode, name: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"statusCode": status.as_u16(), "name": name, "message": message})),
    )
        .into_response()
}

/// v1's error body.
fn v1_error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"status": {"error": true, "code": status.as_u16(), "type": kind, "message": message}})),
    )
        .into_response()
}

/// The error body of the API version `path` is in.
fn error_for(path: &str, status: StatusCode, kind: &str, message: &str) -> Response {
    if path.starts_with("/api/1/") {
        v1_error(status, kind, message)
    } else {
        v2_error(status, kind, message)
    }
}

/// A bearer token the token endpoint issued, and a scope that allows the path.
async fn authenticate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    if shared.oauth.validate(request.headers()).is_none() {
        return error_for(
            &path,
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "Authentication Failure",
        );
    }
    let allowed = match shared.config.scope.as_str() {
        "Read All" | "Manage All" => true,
        "Read users" | "Manage users" => path.starts_with("/api/2/users"),
        _ => false,
    };
    if !allowed {
        return error_for(
            &path,
            StatusCode::FORBIDDEN,
            "Forbidden",
            "The access token's scope does not allow this resource",
        );
    }
    next.run(request).await
}

/// Injected faults, then the hourly budget; every answer carries the
/// `X-RateLimit-*` headers.
async fn gate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let throttled = |reset: u64| {
        let mut response = error_for(
            &path,
            StatusCode::TOO_MANY_REQUESTS,
            "Too Many Requests",
            "Rate limit exceeded",
        );
        set(&mut response, "x-ratelimit-reset", reset.to_string());
        response
    };
    let (mut response, budget) = match shared.faults.take() {
        Some(faults::Fault::SecondaryLimit {
            retry_after_secs, ..
        }) => (throttled(retry_after_secs), shared.budget.peek()),
        Some(faults::Fault::ServerError { status }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            (
                error_for(
                    &path,
                    status,
                    "Internal Server Error",
                    "Something went wrong",
                ),
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
                throttled(
                    budget
                        .reset_epoch_secs
                        .saturating_sub(now_ms() as u64 / 1000)
                        .max(1),
                )
            };
            (response, budget)
        }
    };
    let throttled = response.status() == StatusCode::TOO_MANY_REQUESTS;
    let remaining = if throttled { 0 } else { budget.remaining() };
    set(&mut response, "x-ratelimit-limit", budget.limit.to_string());
    set(
        &mut response,
        "x-ratelimit-remaining",
        remaining.to_string(),
    );
    if !throttled {
        let reset = budget
            .reset_epoch_secs
            .saturating_sub(now_ms() as u64 / 1000);
        set(&mut response, "x-ratelimit-reset", reset.to_string());
    }
    response
}

fn set(response: &mut Response, name: &'static str, value: String) {
    if let Ok(value) = HeaderValue::from_str(&value) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(name), value);
    }
}

/// `(limit, offset)` of a v2 list request: from `cursor` (as OneLogin's, the base64
/// of `limit=N&offset=M`) or from `limit` (at most 50) from the start.
fn v2_window(url: &RequestUrl) -> Result<(usize, usize), Response> {
    let bad = || v2_error(StatusCode::BAD_REQUEST, "Bad Request", "Invalid cursor");
    if let Some(cursor) = url.param("cursor") {
        let text = base64::engine::general_purpose::STANDARD
            .decode(cursor)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(bad)?;
        let mut limit = None;
        let mut offset = None;
        for pair in text.split('&') {
            match pair.split_once('=') {
                Some(("limit", v)) => limit = v.parse().ok(),
                Some(("offset", v)) => offset = v.parse().ok(),
                _ => {}
            }
        }
        return Ok((limit.ok_or_else(bad)?, offset.ok_or_else(bad)?));
    }
    let limit = url
        .param("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(50)
        .clamp(1, 50);
    Ok((limit, 0))
}

/// One v2 page of `items`: a bare array, `After-Cursor` while more remain.
fn v2_page(url: &RequestUrl, items: &[Value]) -> Answer {
    let (limit, offset) = v2_window(url)?;
    let end = offset.saturating_add(limit).min(items.len());
    let chunk = items.get(offset.min(end)..end).unwrap_or_default().to_vec();
    let mut response = Json(Value::Array(chunk)).into_response();
    set(&mut response, "total-count", items.len().to_string());
    if end < items.len() {
        let cursor =
            base64::engine::general_purpose::STANDARD.encode(format!("limit={limit}&offset={end}"));
        set(&mut response, "after-cursor", cursor);
    }
    Ok(response)
}

/// User `i` in the shape of OneLogin's `User` model.
fn user_json(c: &OneLoginMockConfig, i: usize) -> Value {
    let created = iso((EPOCH + i as i64 * 3600) * 1000);
    let suspended = i > 0 && i + c.suspended_users >= c.users;
    let roles: Vec<u64> = if c.roles > 0 {
        vec![ROLE_BASE + (i % c.roles) as u64]
    } else {
        vec![]
    };
    let (first, last, username) = if i == 0 {
        ("Alice", "Admin", "alice.admin".to_owned())
    } else {
        ("User", "Person", format!("user{i}"))
    };
    json!({
        "id": USER_BASE + i as u64,
        "username": username,
        "email": format!("{username}@example.com"),
        "firstname": first,
        "lastname": if i == 0 { last.to_owned() } else { format!("{last} {i}") },
        "title": null, "department": null, "company": "Example Corp", "comment": "",
        "group_id": null,
        "role_ids": roles,
        "phone": null,
        "state": 1,
        "status": if suspended { 2 } else { 1 },
        "directory_id": null, "trusted_idp_id": null, "manager_ad_id": null,
        "manager_user_id": null, "samaccountname": null, "member_of": null,
        "userprincipalname": null, "distinguished_name": null, "external_id": null,
        "activated_at": created,
        "last_login": iso((EPOCH + i as i64 * 3600 + 86_400) * 1000),
        "invitation_sent_at": null,
        "updated_at": created,
        "preferred_locale_code": null,
        "created_at": created,
        "invalid_login_attempts": 0,
        "locked_until": null,
        "password_changed_at": created,
        "custom_attributes": {},
    })
}

async fn list_users(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Answer {
    if let Some(f) = &shared.fixtures {
        return v2_page(&url, &f.users);
    }
    let c = &shared.config;
    let users: Vec<Value> = (0..c.users).map(|i| user_json(c, i)).collect();
    v2_page(&url, &users)
}

async fn list_roles(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Answer {
    if let Some(f) = &shared.fixtures {
        return v2_page(&url, &f.roles);
    }
    let c = &shared.config;
    let roles: Vec<Value> = (0..c.roles)
        .map(|r| {
            let members: Vec<u64> = (0..c.users)
                .filter(|i| i % c.roles == r)
                .map(|i| USER_BASE + i as u64)
                .collect();
            json!({
                "id": ROLE_BASE + r as u64,
                "name": if r == 0 { "Administrators".to_owned() } else { format!("Role {r}") },
                "apps": [],
                "users": members,
                "admins": if r == 0 && c.users > 0 { vec![USER_BASE] } else { vec![] },
            })
        })
        .collect();
    v2_page(&url, &roles)
}

fn ok_status() -> Value {
    json!({"error": false, "code": 200, "type": "success", "message": "Success"})
}

async fn event_types() -> Json<Value> {
    let data: Vec<Value> = (EVENT_TABLE
        .iter()
        .map(|(id, name, d, _, _)| (*id, *name, *d)))
    .chain(OTHER_TYPES.iter().copied())
    .map(|(id, name, description)| json!({"id": id, "name": name, "description": description}))
    .collect();
    Json(json!({"status": ok_status(), "data": data}))
}

fn event_json(e: &MockEvent) -> Value {
    let (type_id, _, _, by_admin, _) = EVENT_TABLE[e.kind];
    let user = USER_BASE + e.user as u64;
    let actor = if by_admin { USER_BASE } else { user };
    let name = |id: u64| {
        if id == USER_BASE {
            "Alice Admin".to_owned()
        } else {
            format!("User Person {}", id - USER_BASE)
        }
    };
    json!({
        "id": e.id,
        "created_at": iso(e.created_ms),
        "account_id": 55555,
        "user_id": user,
        "user_name": name(user),
        "event_type_id": type_id,
        "notes": null,
        "ipaddr": "203.0.113.57",
        "actor_user_id": actor,
        "actor_user_name": name(actor),
        "actor_system": "",
        "assuming_acting_user_id": null,
        "role_id": null, "role_name": null, "app_id": null, "app_name": null,
        "group_id": null, "group_name": null, "otp_device_id": null,
        "otp_device_name": null, "policy_id": null, "policy_name": null,
        "custom_message": null, "directory_sync_run_id": null, "resource_type_id": null,
        "client_id": null, "proxy_ip": null, "risk_score": null, "risk_reasons": null,
        "error_description": null, "solved": null,
    })
}

async fn list_events(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Answer {
    let bound = |name: &str| {
        url.param(name)
            .map(|t| {
                DateTime::parse_from_rfc3339(t)
                    .map(|t| t.timestamp_millis())
                    .map_err(|_| {
                        v1_error(
                            StatusCode::BAD_REQUEST,
                            "bad request",
                            &format!("{name} is not an ISO 8601 time"),
                        )
                    })
            })
            .transpose()
    };
    let (since, until) = (bound("since")?, bound("until")?);
    let mut events: Vec<Value> = match &shared.fixtures {
        Some(f) => f.events.clone(),
        None => shared.state().events.iter().map(event_json).collect(),
    };
    let time = |e: &Value| {
        e["created_at"]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map_or(0, |t| t.timestamp_millis())
    };
    // The rendered examples are from 2024: served whatever the window.
    if shared.fixtures.is_none() {
        events.retain(|e| since.is_none_or(|s| time(e) >= s) && until.is_none_or(|u| time(e) < u));
    }
    events.sort_by_key(|e| e["id"].as_u64());
    if url.param("sort") != Some("+id") {
        events.reverse();
    }
    let limit = url
        .param("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(50)
        .clamp(1, 50);
    let cursor = |e: &Value| format!("e{}", e["id"].as_u64().unwrap_or_default());
    let start = match url.param("after_cursor") {
        Some(after) => events
            .iter()
            .position(|e| cursor(e) == after)
            .map(|at| at + 1)
            .ok_or_else(|| {
                v1_error(
                    StatusCode::BAD_REQUEST,
                    "bad request",
                    "Invalid after_cursor",
                )
            })?,
        None => 0,
    };
    let end = start.saturating_add(limit).min(events.len());
    let chunk = events[start.min(end)..end].to_vec();
    let after = (end < events.len())
        .then(|| chunk.last().map(cursor))
        .flatten();
    let before = (start > 0).then(|| chunk.first().map(cursor)).flatten();
    let link = |name: &str, c: &Option<String>| {
        c.as_ref()
            .map(|c| url.with_params(&["after_cursor", "before_cursor"], &[(name, c.as_str())]))
    };
    Ok(Json(json!({
        "status": ok_status(),
        "pagination": {
            "before_cursor": before,
            "after_cursor": after,
            "previous_link": link("before_cursor", &before),
            "next_link": link("after_cursor", &after),
        },
        "data": chunk,
    }))
    .into_response())
}
