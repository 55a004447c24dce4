//! A loopback Zoom API for one account, with Zoom's Server-to-Server OAuth token
//! endpoint mounted beside it (the same server is both `https://zoom.us` and
//! `https://api.zoom.us`).
//!
//! As Zoom documents:
//! - `POST /oauth/token` with `grant_type=account_credentials`, `account_id` in the
//!   form and the app's client id and secret as HTTP Basic only ([`OAuthMock`] with
//!   `basic_client_auth_only`); API calls carry `Authorization: Bearer <token>`, and
//!   anything else is 401 `{"code": 124, "message": "Invalid access token."}`;
//! - a token whose app lacks the endpoint's scope is answered **400**
//!   `{"code": 4711, "message": "Invalid access token, does not contain scopes:[…]."}`
//!   (the endpoint's granular scope named); an app holds classic scopes
//!   (`user:read:admin`) or granular ones (`user:read:list_users:admin`), either works;
//! - lists page by `page_size` (at most 300, default 30) and `next_page_token`, empty
//!   on the last page; `GET /v2/users` lists one `status` (default `active`);
//! - the reports take `from` and `to` (`YYYY-MM-DD`, required, at most a month apart),
//!   and need a Pro or higher plan: else 400 `{"code": 200, "message": "No
//!   permission."}`; entries come newest first;
//! - every answer carries `X-RateLimit-Category` (Light, Medium or Heavy by endpoint),
//!   `X-RateLimit-Limit` and `X-RateLimit-Remaining`; once the per-second budget is
//!   spent, or on an injected fault, 429 `{"code": 429, "message": "You have reached
//!   the maximum per-second rate limit for this API. Try again later."}` with
//!   `Retry-After` and `X-RateLimit-Type: QPS`;
//! - `PUT /v2/users/{userId}/status` `{"action": "deactivate" | "activate"}` answers
//!   204 and is logged in the operation log (`User` / `Update`, "Deactivate User …").
//!
//! | route | |
//! |---|---|
//! | `POST /oauth/token` | the token endpoint |
//! | `GET /v2/users`, `GET /v2/users/{userId}`, `PUT /v2/users/{userId}/status` | users |
//! | `GET /v2/roles` | Owner, Admin, Member, and the custom role "Help desk" |
//! | `GET /v2/report/operationlogs`, `GET /v2/report/activities` | the two reports |
//! | `GET /v2/accounts/me/settings` (`option=security`) | account settings |
//!
//! Users are in the shape of the published example
//! (`shared/fixtures/zoom/list-users…`): user 0 is the Owner, users 1..=`admins`
//! Admins, the next `custom_role_users` in "Help desk", the rest Members; the last
//! `inactive_users` are deactivated, the `pending_users` before them pending. With
//! [`ZoomMockConfig::fixtures_dir`] the users list serves the published example.
//!
//! Assumed where Zoom publishes no example or statement: the 429 and "one month"
//! error bodies (the latter `{"code": 300, …}`), a month as 31 days, entries newest
//! first, the granular scope of the sign-in report (`report:read:user_activities:admin`),
//! and the roles list's shape (`{"roles": [{"id", "name", "description",
//! "total_members"}]}`).

// Handlers answer `Result<Response, Response>` (Zoom's error body is a response too).
#![allow(clippy::result_large_err)]

use std::io;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::header::{HeaderName, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::faults::{self, FaultPlan, Faults, RateBudget};
use crate::oauth::{OAuthMock, OAuthMockConfig};
use crate::server::{MockServer, RequestRecord, RequestUrl};

/// Every classic scope the connector uses.
pub const ZOOM_SCOPES: [&str; 5] = [
    "user:read:admin",
    "user:write:admin",
    "role:read:admin",
    "report:read:admin",
    "account:read:admin",
];

/// The mock account and its app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoomMockConfig {
    /// The account id the token endpoint accepts (`account_id` form field).
    pub account_id: String,
    /// The Server-to-Server OAuth app's client id and secret.
    pub client_id: String,
    pub client_secret: String,
    /// The app's scopes, classic or granular.
    pub scopes: Vec<String>,
    /// Users in all; user 0 is the Owner.
    pub users: usize,
    /// Users 1..=admins hold the Admin role.
    pub admins: usize,
    /// The next users hold the custom role "Help desk".
    pub custom_role_users: usize,
    /// The last users are deactivated (`inactive`)…
    pub inactive_users: usize,
    /// …and the ones before them invited (`pending`).
    pub pending_users: usize,
    /// Operation log entries and sign in / sign out entries at start.
    pub operation_logs: usize,
    pub sign_ins: usize,
    /// Time between two entries of a report (ms); the newest are an hour old.
    pub log_interval_ms: i64,
    /// The plan has reports (Pro or higher): else they answer 400 code 200.
    pub reports_available: bool,
    /// Whether the account's settings pass every posture finding.
    pub secure_settings: bool,
    /// Requests per second (Pro: Medium 20, Heavy 10; Light 30).
    pub rate_limit_per_second: u32,
    /// Serve the published users example from this folder (`shared/fixtures/zoom`).
    pub fixtures_dir: Option<PathBuf>,
}

impl Default for ZoomMockConfig {
    fn default() -> Self {
        ZoomMockConfig {
            account_id: "mock-account-id".into(),
            client_id: "mock-zoom-client".into(),
            client_secret: "mock-zoom-secret".into(),
            scopes: ZOOM_SCOPES.map(String::from).to_vec(),
            users: 7,
            admins: 1,
            custom_role_users: 0,
            inactive_users: 0,
            pending_users: 0,
            operation_logs: 3,
            sign_ins: 3,
            log_interval_ms: 6 * 3_600_000,
            reports_available: true,
            secure_settings: true,
            rate_limit_per_second: 30,
            fixtures_dir: None,
        }
    }
}

/// What a complete scan of the mock must yield right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ZoomExpected {
    pub users: usize,
    pub admins: usize,
    /// Deactivated users (Sluice: suspended) and pending ones (disabled).
    pub inactive: usize,
    pub pending: usize,
    pub custom_role: usize,
    /// Operation log entries (admin activity) and sign-in entries (logon).
    pub admin_activity: usize,
    pub logon: usize,
    /// Posture findings failed.
    pub failed_findings: usize,
}

/// A running Zoom mock.
#[derive(Debug)]
pub struct ZoomMock {
    server: MockServer,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: ZoomMockConfig,
    oauth: OAuthMock,
    state: Mutex<Account>,
    fixture_users: Option<Vec<Value>>,
    budget: RateBudget,
    faults: FaultPlan,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, Account> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Debug, Clone)]
struct MockUser {
    id: String,
    first_name: String,
    email: String,
    role_id: &'static str,
    status: &'static str,
    created_ms: i64,
}

#[derive(Debug, Clone)]
struct Entry {
    time_ms: i64,
    body: Value,
}

#[derive(Debug)]
struct Account {
    users: Vec<MockUser>,
    /// Oldest first.
    operation_logs: Vec<Entry>,
    sign_ins: Vec<Entry>,
}

/// (id, name) of the roles.
const ROLES: [(&str, &str); 4] = [
    ("0", "Owner"),
    ("1", "Admin"),
    ("2", "Member"),
    ("hDk1Role2Zm", "Help desk"),
];
/// 2024-01-01T00:00:00Z, the anchor of users' creation dates.
const EPOCH_MS: i64 = 1_704_067_200_000;

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
    fn generate(c: &ZoomMockConfig) -> Account {
        let users = (0..c.users)
            .map(|i| MockUser {
                id: format!("zU{i:04}mOcKuSeRiD"),
                first_name: format!("User{i}"),
                email: format!("user{i}@example.com"),
                role_id: match i {
                    0 => "0",
                    i if i <= c.admins => "1",
                    i if i <= c.admins + c.custom_role_users => ROLES[3].0,
                    _ => "2",
                },
                status: if i > 0 && i + c.inactive_users >= c.users {
                    "inactive"
                } else if i > 0 && i + c.inactive_users + c.pending_users >= c.users {
                    "pending"
                } else {
                    "active"
                },
                created_ms: EPOCH_MS + i as i64 * 3_600_000,
            })
            .collect();
        let mut account = Account {
            users,
            operation_logs: Vec::new(),
            sign_ins: Vec::new(),
        };
        let now = now_ms() - now_ms().rem_euclid(1000) - 3_600_000;
        account.add_operation_logs(c.operation_logs, now, c.log_interval_ms);
        account.add_sign_ins(c.sign_ins, now, c.log_interval_ms);
        account
    }

    /// `n` entries ending at `newest`, `interval` apart, after the existing ones.
    fn times(existing: &[Entry], n: usize, newest: i64, interval: i64) -> Vec<i64> {
        let start = newest - interval * (n as i64 - 1).max(0);
        (0..n as i64)
            .map(|k| {
                let t = start + k * interval;
                existing.last().map_or(t, |e| t.max(e.time_ms + 1_000))
            })
            .collect()
    }

    fn add_operation_logs(&mut self, n: usize, newest: i64, interval: i64) {
        const TABLE: [(&str, &str, &str); 4] = [
            (
                "Update",
                "User",
                "Update User {email}  - Department: from  to Sales",
            ),
            ("Add", "User", "Add User {email} "),
            (
                "Update",
                "Account",
                "Sign-In Password Requirement  - Include at least 1 number: from Off to On",
            ),
            (
                "Delete",
                "Recording",
                "Delete Recording {email}  - Weekly sync",
            ),
        ];
        let times = Account::times(&self.operation_logs, n, newest, interval);
        for time_ms in times {
            let i = self.operation_logs.len();
            let (action, category, detail) = TABLE[i % TABLE.len()];
            let email = format!("user{}@example.com", i % 5);
            self.operation_logs.push(Entry {
                time_ms,
                body: json!({
                    "action": action,
                    "category_type": category,
                    "operation_detail": detail.replace("{email}", &email),
                    "operator": "user0@example.com",
                    "time": iso(time_ms),
                }),
            });
        }
    }

    fn add_sign_ins(&mut self, n: usize, newest: i64, interval: i64) {
        let times = Account::times(&self.sign_ins, n, newest, interval);
        for time_ms in times {
            let i = self.sign_ins.len();
            self.sign_ins.push(Entry {
                time_ms,
                body: json!({
                    "client_type": if i.is_multiple_of(3) { "Browser" } else { "Windows" },
                    "email": format!("user{}@example.com", i % 5),
                    "ip_address": format!("203.0.113.{}", i % 250),
                    "time": iso(time_ms),
                    "type": if i.is_multiple_of(2) { "Sign in" } else { "Sign out" },
                    "version": "5.17.5.31030",
                }),
            });
        }
    }

    fn log_operation(&mut self, detail: String) {
        let time_ms = self
            .operation_logs
            .last()
            .map_or(0, |e| e.time_ms + 1_000)
            .max(now_ms() - now_ms().rem_euclid(1000));
        self.operation_logs.push(Entry {
            time_ms,
            body: json!({
                "action": "Update",
                "category_type": "User",
                "operation_detail": detail,
                "operator": "user0@example.com",
                "time": iso(time_ms),
            }),
        });
    }
}

impl ZoomMock {
    /// Binds `127.0.0.1:0` and serves on the current tokio runtime. Fails if the
    /// listener cannot be bound or the fixture cannot be read or parsed.
    pub async fn start(config: ZoomMockConfig) -> io::Result<ZoomMock> {
        let fixture_users = config
            .fixtures_dir
            .as_deref()
            .map(load_fixture_users)
            .transpose()?;
        let oauth = OAuthMock::new(OAuthMockConfig {
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone(),
            basic_client_auth_only: true,
            account_id: Some(config.account_id.clone()),
            ..OAuthMockConfig::default()
        });
        let shared = Arc::new(Shared {
            oauth,
            state: Mutex::new(Account::generate(&config)),
            fixture_users,
            budget: RateBudget::new(config.rate_limit_per_second, Duration::from_secs(1)),
            faults: FaultPlan::default(),
            config,
        });
        let router = router(shared.clone());
        let server = MockServer::start(Duration::ZERO, |_| router).await?;
        Ok(ZoomMock { server, shared })
    }

    /// `http://127.0.0.1:PORT`: both the API and the OAuth base URL.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    pub fn config(&self) -> &ZoomMockConfig {
        &self.shared.config
    }

    /// The token endpoint, for what the host sent it.
    pub fn oauth(&self) -> &OAuthMock {
        &self.shared.oauth
    }

    /// Appends `n` operation log entries and `n` sign-ins, a second apart, now.
    pub fn add_activity(&self, n: usize) {
        let mut state = self.shared.state();
        let now = now_ms() - now_ms().rem_euclid(1000);
        state.add_operation_logs(n, now, 1_000);
        state.add_sign_ins(n, now, 1_000);
    }

    /// User `id`'s status (`active`, `inactive`, `pending`), none for an unknown user.
    pub fn status_of(&self, id: &str) -> Option<String> {
        let state = self.shared.state();
        (state.users.iter().find(|u| u.id == id)).map(|u| u.status.to_owned())
    }

    /// Ids of the active Members, in order.
    pub fn active_member_ids(&self) -> Vec<String> {
        let state = self.shared.state();
        (state.users.iter())
            .filter(|u| u.role_id == "2" && u.status == "active")
            .map(|u| u.id.clone())
            .collect()
    }

    /// Replaces the pending faults (see [`Faults`]); throttling faults are 429 with
    /// `Retry-After: retry_after_secs`.
    pub fn inject_faults(&self, faults: Faults) {
        self.shared.faults.inject(faults, &self.shared.budget);
    }

    /// Every request answered so far, the token endpoint's included.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.server.log().snapshot()
    }

    /// The API requests answered so far (not the token endpoint's).
    pub fn api_requests(&self) -> Vec<RequestRecord> {
        let mut requests = self.requests();
        requests.retain(|r| r.path().starts_with("/v2/"));
        requests
    }

    pub fn clear_requests(&self) {
        self.server.log().clear();
    }

    /// Exact counts a complete scan must yield now.
    pub fn expected(&self) -> ZoomExpected {
        let state = self.shared.state();
        let failed_findings = if self.shared.config.secure_settings {
            0
        } else {
            5
        };
        if let Some(users) = &self.shared.fixture_users {
            let role = |id: &str| users.iter().filter(|u| u["role_id"] == id).count();
            return ZoomExpected {
                users: users.len(),
                admins: role("0") + role("1"),
                failed_findings,
                ..ZoomExpected::default()
            };
        }
        let count = |f: &dyn Fn(&MockUser) -> bool| state.users.iter().filter(|u| f(u)).count();
        ZoomExpected {
            users: state.users.len(),
            admins: count(&|u| matches!(u.role_id, "0" | "1")),
            inactive: count(&|u| u.status == "inactive"),
            pending: count(&|u| u.status == "pending"),
            custom_role: count(&|u| u.role_id == ROLES[3].0),
            admin_activity: state.operation_logs.len(),
            logon: state.sign_ins.len(),
            failed_findings,
        }
    }
}

fn load_fixture_users(dir: &FsPath) -> io::Result<Vec<Value>> {
    let path = dir.join("list-users.third-party-mirror.json");
    let value: Value = serde_json::from_slice(&std::fs::read(&path)?).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {e}", path.display()),
        )
    })?;
    Ok(value["users"].as_array().cloned().unwrap_or_default())
}

// ---- wire behaviour -------------------------------------------------------------

type Answer = Result<Response, Response>;

fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/v2/users", get(list_users))
        .route("/v2/users/{id}", get(show_user))
        .route("/v2/users/{id}/status", put(update_status))
        .route("/v2/roles", get(list_roles))
        .route("/v2/report/operationlogs", get(operation_logs))
        .route("/v2/report/activities", get(sign_ins))
        .route("/v2/accounts/me/settings", get(settings))
        .fallback(|| async { error(StatusCode::NOT_FOUND, 404, "Not found.") })
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .layer(middleware::from_fn_with_state(shared.clone(), authenticate))
        .with_state(shared.clone());
    shared.oauth.router("/oauth/token").merge(api)
}

/// Zoom's error body: `{"code": <number>, "message": <text>}`.
fn error(status: StatusCode, code: i64, message: &str) -> Response {
    (status, Json(json!({"code": code, "message": message}))).into_response()
}

/// The (classic, granular) scopes a request needs, and its rate-limit label.
fn requirement(method: &Method, path: &str) -> ((&'static str, &'static str), &'static str) {
    match (method.as_str(), path) {
        ("PUT", _) => (("user:write:admin", "user:update:status:admin"), "Light"),
        (_, "/v2/users") => (("user:read:admin", "user:read:list_users:admin"), "Medium"),
        (_, p) if p.starts_with("/v2/users/") => {
            (("user:read:admin", "user:read:user:admin"), "Light")
        }
        (_, "/v2/roles") => (("role:read:admin", "role:read:list_roles:admin"), "Medium"),
        (_, "/v2/report/operationlogs") => (
            ("report:read:admin", "report:read:operation_logs:admin"),
            "Heavy",
        ),
        (_, "/v2/report/activities") => (
            ("report:read:admin", "report:read:user_activities:admin"),
            "Heavy",
        ),
        _ => (
            ("account:read:admin", "account:read:settings:admin"),
            "Medium",
        ),
    }
}

/// A bearer token the endpoint issued, and the endpoint's scope; 401 or 400 (4711)
/// with Zoom's bodies otherwise.
async fn authenticate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    if shared.oauth.validate(request.headers()).is_none() {
        return error(StatusCode::UNAUTHORIZED, 124, "Invalid access token.");
    }
    let ((classic, granular), _) = requirement(request.method(), request.uri().path());
    let scopes = &shared.config.scopes;
    if !scopes.iter().any(|s| s == classic || s == granular) {
        return error(
            StatusCode::BAD_REQUEST,
            4711,
            &format!("Invalid access token, does not contain scopes:[{granular}]."),
        );
    }
    next.run(request).await
}

/// Injected faults, then the per-second budget; every answer carries the
/// endpoint's `X-RateLimit-Category` and the budget's limit and remaining.
async fn gate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let (_, category) = requirement(request.method(), request.uri().path());
    let throttled = |retry_after: u64| {
        let mut response = error(
            StatusCode::TOO_MANY_REQUESTS,
            429,
            "You have reached the maximum per-second rate limit for this API. Try again later.",
        );
        set(&mut response, "retry-after", retry_after.to_string());
        set(&mut response, "x-ratelimit-type", "QPS".into());
        response
    };
    let (mut response, budget) = match shared.faults.take() {
        Some(faults::Fault::SecondaryLimit {
            retry_after_secs, ..
        }) => (throttled(retry_after_secs), shared.budget.peek()),
        Some(faults::Fault::ServerError { status }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            (error(status, 500, "Internal Error."), shared.budget.peek())
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
    set(&mut response, "x-ratelimit-category", category.into());
    set(&mut response, "x-ratelimit-limit", budget.limit.to_string());
    set(
        &mut response,
        "x-ratelimit-remaining",
        remaining.to_string(),
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

/// One token-paged page of `items` under `key`: `page_size` (default 30, at most
/// 300), `next_page_token` (`npt<offset>`), empty on the last page.
fn page(url: &RequestUrl, key: &str, items: Vec<Value>, extra: Value) -> Answer {
    let size = match url.param("page_size").map(str::parse::<usize>) {
        None => 30,
        Some(Ok(n)) if (1..=300).contains(&n) => n,
        _ => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                300,
                "Invalid field: page_size.",
            ));
        }
    };
    let offset = match url.param("next_page_token") {
        None => 0,
        Some(token) => token
            .strip_prefix("npt")
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| {
                error(
                    StatusCode::BAD_REQUEST,
                    300,
                    "The next page token is invalid or expired.",
                )
            })?,
    };
    let total = items.len();
    let end = (offset + size).min(total);
    let next = if end < total {
        format!("npt{end}")
    } else {
        String::new()
    };
    let mut body = json!({
        "page_size": size,
        "next_page_token": next,
        "total_records": total,
        key: items.get(offset.min(total)..end).unwrap_or_default(),
    });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    Ok(Json(body).into_response())
}

fn user_json(u: &MockUser) -> Value {
    json!({
        "id": u.id,
        "first_name": u.first_name,
        "last_name": "Mock",
        "display_name": format!("{} Mock", u.first_name),
        "email": u.email,
        "type": if u.role_id == "2" { 1 } else { 2 },
        "pmi": 6_589_310_000_i64 + u.created_ms % 10_000,
        "timezone": "America/New_York",
        "verified": 1,
        "dept": "Sales",
        "created_at": iso(u.created_ms),
        "user_created_at": iso(u.created_ms),
        "last_login_time": (u.status == "active").then(|| iso(u.created_ms + 86_400_000)),
        "last_client_version": "5.17.5.31030(mac)",
        "language": "en-US",
        "phone_number": "",
        "status": u.status,
        "role_id": u.role_id,
        "employee_unique_id": "",
        "group_ids": ["grpMock01"],
        "user_type": "",
        "plan_united_type": "0",
    })
}

async fn list_users(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Answer {
    let status = url.param("status").unwrap_or("active");
    if let Some(users) = &shared.fixture_users {
        let listed = (users.iter())
            .filter(|u| u["status"].as_str().unwrap_or("active") == status)
            .cloned()
            .collect();
        return page(&url, "users", listed, json!({}));
    }
    let listed = (shared.state().users.iter())
        .filter(|u| u.status == status)
        .map(user_json)
        .collect();
    page(&url, "users", listed, json!({}))
}

fn no_user(id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        1001,
        &format!("User does not exist: {id}."),
    )
}

async fn show_user(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Answer {
    let state = shared.state();
    let user = (state.users.iter().find(|u| u.id == id)).ok_or_else(|| no_user(&id))?;
    Ok(Json(user_json(user)).into_response())
}

async fn update_status(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Answer {
    let (status, verb) = match body["action"].as_str() {
        Some("deactivate") => ("inactive", "Deactivate"),
        Some("activate") => ("active", "Activate"),
        _ => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                300,
                "Validation Failed. action: Invalid field.",
            ));
        }
    };
    let mut state = shared.state();
    let user = (state.users.iter_mut().find(|u| u.id == id)).ok_or_else(|| no_user(&id))?;
    if user.role_id == "0" {
        return Err(error(
            StatusCode::BAD_REQUEST,
            200,
            "Can not deactivate the account owner.",
        ));
    }
    if user.status != status {
        user.status = status;
        let detail = format!("{verb} User {} ", user.email);
        state.log_operation(detail);
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_roles(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Answer {
    let state = shared.state();
    let roles = ROLES
        .iter()
        .map(|(id, name)| {
            json!({
                "id": id,
                "name": name,
                "description": format!("{name} role"),
                "total_members": state.users.iter().filter(|u| u.role_id == *id).count(),
            })
        })
        .collect();
    page(&url, "roles", roles, json!({}))
}

/// The report's `from`..=`to` (ms bounds) from the query; 400s as Zoom answers.
fn report_window(shared: &Shared, url: &RequestUrl) -> Result<(i64, i64, Value), Response> {
    if !shared.config.reports_available {
        return Err(error(StatusCode::BAD_REQUEST, 200, "No permission."));
    }
    let date = |name: &str| {
        url.param(name)
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .ok_or_else(|| {
                error(
                    StatusCode::BAD_REQUEST,
                    300,
                    &format!("Invalid field: {name}."),
                )
            })
    };
    let (from, to) = (date("from")?, date("to")?);
    if to < from || (to - from).num_days() > 31 {
        return Err(error(
            StatusCode::BAD_REQUEST,
            300,
            "The date range should be within one month.",
        ));
    }
    let start = from.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let end = to.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc() + chrono::Duration::days(1);
    let extra = json!({"from": from.to_string(), "to": to.to_string()});
    Ok((start.timestamp_millis(), end.timestamp_millis(), extra))
}

/// The entries in the window, newest first.
fn in_window(entries: &[Entry], start: i64, end: i64) -> Vec<Value> {
    (entries.iter().rev())
        .filter(|e| (start..end).contains(&e.time_ms))
        .map(|e| e.body.clone())
        .collect()
}

async fn operation_logs(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Answer {
    let (start, end, extra) = report_window(&shared, &url)?;
    let entries = in_window(&shared.state().operation_logs, start, end);
    page(&url, "operation_logs", entries, extra)
}

async fn sign_ins(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Answer {
    let (start, end, extra) = report_window(&shared, &url)?;
    let entries = in_window(&shared.state().sign_ins, start, end);
    page(&url, "activity_logs", entries, extra)
}

async fn settings(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Answer {
    let secure = shared.config.secure_settings;
    let body = match url.param("option") {
        Some("security") => json!({"security": {
            "admin_change_name_pic": false,
            "hide_billing_info": false,
            "import_photos_from_devices": true,
            "password_requirement": {
                "consecutive_characters_length": 0,
                "have_letter": true,
                "have_number": secure,
                "have_special_character": secure,
                "have_upper_and_lower_characters": secure,
                "minimum_password_length": if secure { 10 } else { 6 },
                "only_allow_numeric": false,
                "weak_enhance_detection": secure,
            },
            "sign_again_period_for_inactivity_on_client": 0,
            "sign_again_period_for_inactivity_on_web": 0,
            "sign_in_with_two_factor_auth": if secure { "all" } else { "none" },
        }}),
        None => json!({
            "schedule_meeting": {
                "host_video": false,
                "participants_video": false,
                "join_before_host": false,
                "require_password_for_scheduling_new_meetings": secure,
                "require_password_for_instant_meetings": secure,
                "require_password_for_pmi_meetings": if secure { "all" } else { "none" },
                "embed_password_in_join_link": !secure,
            },
            "in_meeting": {
                "e2e_encryption": true,
                "chat": true,
                "waiting_room": secure,
                "screen_sharing": true,
            },
        }),
        Some(other) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                300,
                &format!("Invalid field: option ({other})."),
            ));
        }
    };
    Ok(Json(body).into_response())
}
