//! A loopback NetDocuments REST API for one repository: OAuth client credentials at
//! `POST /v1/OAuth` (through [`crate::oauth`]), bearer checks on every API route,
//! `$top`/`paging`/`$skiptoken` paging with the next token as `next`, the admin and
//! consolidated repository logs with `start` filtering, a per-minute budget with
//! `x-ratelimit-*` headers, and 429 + `Retry-After` (or 5xx, damaged bodies, slow
//! answers) on demand through [`crate::faults`].
//!
//! NetDocuments publishes no example bodies; the routes and fields follow its API
//! description for the Power Platform connector and its REST reference, and where
//! those are silent (paging on users and the log, the repository info's
//! `administrators` and `federatedIdentity`, log entry fields, rate-limit headers) the
//! mock uses the same documented-style shapes the connector's docs list as assumed.
//!
//! | route | paging |
//! |---|---|
//! | `POST /v1/OAuth` (client credentials, scope `full`) | — |
//! | `GET /v1/User/info` (the service account, user 1) | — |
//! | `GET /v1/Repository/{id}/info` | — |
//! | `GET /v1/Repository/{id}/users` | `$top`, `paging`, `$skiptoken` |
//! | `GET /v1/Repository/{id}/groups?returnInfo=all` | `$top`, `paging`, `$skiptoken` |
//! | `GET /v1/Group/{id}/members` | — |
//! | `GET /v1/Repository/{id}/log?format=json&Logtype=admin\|consolidated&start=` | `$top`, `paging`, `$skiptoken` |
//!
//! Data is generated from [`NetDocumentsMockConfig`]: user *i* (1-based) is `U-000i`,
//! the first `administrators` are repository administrators, the last
//! `external_users` are external; group *g* is `UG-000g`. Log events are one second
//! apart from [`NetDocumentsMockConfig::log_start`], so [`NetDocumentsMock::expected`]
//! says exactly what a complete scan must find.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::http::header::{CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::faults::{self, Fault, FaultPlan, Faults, RateBudget};
use crate::oauth::{OAuthMock, OAuthMockConfig};
use crate::server::{MockServer, RequestRecord, RequestUrl};

/// What the mock repository looks like and how the API behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetDocumentsMockConfig {
    /// The repository; other repository ids answer 404.
    pub repository_id: String,
    /// The only client id the token endpoint accepts (NetDocuments:
    /// `<client id>|<repository id>`).
    pub client_id: String,
    /// The client secret.
    pub client_secret: String,
    /// Repository members.
    pub users: usize,
    /// The first N members administer the repository (user 1 is the service account).
    pub administrators: usize,
    /// The last N members are external.
    pub external_users: usize,
    /// Repository groups.
    pub groups: usize,
    /// Members per group, drawn in turn from all users.
    pub members_per_group: usize,
    /// Admin-log events at start.
    pub admin_events: usize,
    /// Consolidated-log events at start.
    pub user_events: usize,
    /// Time of event 0 of both logs (ms, whole seconds); `None` places the logs so
    /// they end an hour before the mock starts.
    pub log_start: Option<i64>,
    /// `federatedIdentity.enabled` of the repository info; `None` leaves it out.
    pub sso: Option<bool>,
    /// Largest `$top` honoured (NetDocuments: 10,000).
    pub max_top: usize,
    /// Requests allowed per minute (NetDocuments' default: 100,000).
    pub rate_limit_per_minute: u32,
}

impl Default for NetDocumentsMockConfig {
    fn default() -> Self {
        NetDocumentsMockConfig {
            repository_id: "CA-MOCK0001".to_owned(),
            client_id: "AP-MOCK0001|CA-MOCK0001".to_owned(),
            client_secret: "nd-mock-secret".to_owned(),
            users: 23,
            administrators: 2,
            external_users: 4,
            groups: 7,
            members_per_group: 3,
            admin_events: 12,
            user_events: 31,
            log_start: None,
            sso: Some(false),
            max_top: 10_000,
            rate_limit_per_minute: 100_000,
        }
    }
}

/// What a complete scan of the mock must yield right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NetDocumentsExpected {
    /// Repository members.
    pub users: usize,
    /// Repository administrators.
    pub administrators: usize,
    /// External members.
    pub external: usize,
    /// Groups.
    pub groups: usize,
    /// Group memberships summed over groups.
    pub group_memberships: usize,
    /// Admin-log events (`admin` activity).
    pub admin_events: usize,
    /// Consolidated-log events (`user` activity).
    pub user_events: usize,
    /// Posture findings: Adopt SSO and the number of administrators.
    pub findings: usize,
    /// How many of them fail.
    pub failed_findings: usize,
}

/// A running NetDocuments mock on `127.0.0.1`; shuts down when dropped.
#[derive(Debug)]
pub struct NetDocumentsMock {
    server: MockServer,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: NetDocumentsMockConfig,
    oauth: OAuthMock,
    /// Events in each log now: `(admin, consolidated)`.
    events: Mutex<(usize, usize)>,
    log_start: i64,
    budget: RateBudget,
    faults: FaultPlan,
}

impl Shared {
    fn events(&self) -> MutexGuard<'_, (usize, usize)> {
        self.events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Administrators NetDocuments posture recommends at most (the connector's threshold).
const MAX_ADMINISTRATORS: usize = 3;

impl NetDocumentsMock {
    /// Binds `127.0.0.1:0` and serves on the current tokio runtime.
    pub async fn start(config: NetDocumentsMockConfig) -> std::io::Result<NetDocumentsMock> {
        let oauth = OAuthMock::new(OAuthMockConfig {
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone(),
            ..OAuthMockConfig::default()
        });
        let log_start = config.log_start.unwrap_or_else(|| {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
            let longest = i64::try_from(config.admin_events.max(config.user_events))
                .unwrap_or(i64::MAX / 2_000);
            now - now.rem_euclid(1_000) - longest * 1_000 - 3_600_000
        });
        let shared = Arc::new(Shared {
            events: Mutex::new((config.admin_events, config.user_events)),
            log_start,
            budget: RateBudget::new(config.rate_limit_per_minute, Duration::from_secs(60)),
            faults: FaultPlan::default(),
            oauth,
            config,
        });
        let router = router(shared.clone());
        let server = MockServer::start(Duration::ZERO, |_| router).await?;
        Ok(NetDocumentsMock { server, shared })
    }

    /// `http://127.0.0.1:PORT`: the connector's `api_url`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The configuration the mock was started with.
    pub fn config(&self) -> &NetDocumentsMockConfig {
        &self.shared.config
    }

    /// The token endpoint, for assertions on what the host sent.
    pub fn oauth(&self) -> &OAuthMock {
        &self.shared.oauth
    }

    /// Appends events to the logs, each one second after the newest of its log.
    pub fn add_events(&self, admin: usize, user: usize) {
        let mut events = self.shared.events();
        events.0 += admin;
        events.1 += user;
    }

    /// Replaces the pending faults (see [`Faults`] for the order they are applied in).
    pub fn inject_faults(&self, faults: Faults) {
        self.shared.faults.inject(faults, &self.shared.budget);
    }

    /// Every request answered so far, in arrival order, including refused ones.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.server.log().snapshot()
    }

    /// Forgets the requests so far.
    pub fn clear_requests(&self) {
        self.server.log().clear();
    }

    /// Exact counts a complete scan must yield now.
    pub fn expected(&self) -> NetDocumentsExpected {
        let config = &self.shared.config;
        let (admin_events, user_events) = *self.shared.events();
        let administrators = config.administrators.min(config.users);
        let checks = [
            config.sso == Some(true),
            administrators <= MAX_ADMINISTRATORS,
        ];
        NetDocumentsExpected {
            users: config.users,
            administrators,
            external: config.external_users.min(config.users),
            groups: config.groups,
            group_memberships: (1..=config.groups)
                .map(|g| group_members(config, g).len())
                .sum(),
            admin_events,
            user_events,
            findings: checks.len(),
            failed_findings: checks.iter().filter(|passed| !**passed).count(),
        }
    }
}

fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/v1/User/info", get(user_info))
        .route("/v1/Repository/{repo}/info", get(repository_info))
        .route("/v1/Repository/{repo}/users", get(users))
        .route("/v1/Repository/{repo}/groups", get(groups))
        .route("/v1/Group/{group}/members", get(group_members_route))
        .route("/v1/Repository/{repo}/log", get(log))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "Not Found") })
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .with_state(shared.clone());
    shared.oauth.router("/v1/OAuth").merge(api)
}

/// Every API request: the bearer token, then injected faults, then the budget; every
/// answer leaves with the budget headers.
async fn gate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    if shared.oauth.validate(request.headers()).is_none() {
        return error(StatusCode::UNAUTHORIZED, "invalid_token");
    }
    let mut response = match shared.faults.take() {
        Some(Fault::SecondaryLimit {
            retry_after_secs,
            as_403,
        }) => {
            let status = if as_403 {
                StatusCode::FORBIDDEN
            } else {
                StatusCode::TOO_MANY_REQUESTS
            };
            let mut response = error(status, "Too many requests; retry later");
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(retry_after_secs));
            response
        }
        Some(Fault::ServerError { status }) => error(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
            "Server Error",
        ),
        Some(Fault::ResetMidBody) => faults::reset_mid_body(next.run(request).await).await,
        Some(Fault::TruncatedBody) => faults::truncate_body(next.run(request).await).await,
        Some(Fault::Slow { delay }) => {
            let response = budgeted(&shared, request, next).await;
            tokio::time::sleep(delay).await;
            response
        }
        None => budgeted(&shared, request, next).await,
    };
    let budget = shared.budget.peek();
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-ratelimit-limit", budget.limit.to_string()),
        ("x-ratelimit-remaining", budget.remaining().to_string()),
        ("x-ratelimit-reset", budget.reset_epoch_secs.to_string()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    response
}

/// Counts the request against the per-minute budget; 429 once it is used up.
async fn budgeted(shared: &Shared, request: Request, next: Next) -> Response {
    let budget = shared.budget.consume();
    if budget.allowed {
        return next.run(request).await;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut response = error(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded");
    response.headers_mut().insert(
        RETRY_AFTER,
        HeaderValue::from(budget.reset_epoch_secs.saturating_sub(now).max(1)),
    );
    response
}

/// NetDocuments' error body shape.
fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(CONTENT_TYPE, "application/json")],
        json!({ "error": message }).to_string(),
    )
        .into_response()
}

fn ok(body: Value) -> Response {
    (
        StatusCode::OK,
        [(CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

/// The 404 for a repository other than the mock's (ids are case-insensitive at
/// NetDocuments), none for the mock's own.
fn unknown(shared: &Shared, repo: &str) -> Option<Response> {
    (!repo.eq_ignore_ascii_case(&shared.config.repository_id))
        .then(|| error(StatusCode::NOT_FOUND, "Repository not found"))
}

fn user_id(i: usize) -> String {
    format!("U-{i:04}")
}

fn group_id(g: usize) -> String {
    format!("UG-{g:04}")
}

/// User `i` (1-based) as `GET /v1/Repository/{id}/users` lists it.
fn user(config: &NetDocumentsMockConfig, i: usize) -> Value {
    let external = i + config.external_users > config.users;
    let domain = if external { "client.test" } else { "firm.test" };
    json!({
        "id": user_id(i),
        "displayName": format!("User {i}"),
        "email": format!("user-{i}@{domain}"),
        "external": external,
        // NetDocuments' .NET date form, as its lookup tables document.
        "lastLogin": format!("/Date({}-0500)/", 1_704_067_200_000_i64 + i as i64 * 86_400_000),
        "registered": "2023-01-01T00:00:00Z",
    })
}

/// Member user numbers of group `g` (1-based): `members_per_group` users in turn.
fn group_members(config: &NetDocumentsMockConfig, g: usize) -> Vec<usize> {
    if config.users == 0 {
        return Vec::new();
    }
    let count = config.members_per_group.min(config.users);
    (0..count)
        .map(|k| ((g - 1) * config.members_per_group + k) % config.users + 1)
        .collect()
}

async fn user_info(State(shared): State<Arc<Shared>>) -> Response {
    let config = &shared.config;
    let mut me = user(config, 1);
    me["isRepositoryMember"] = json!(true);
    me["primaryCabinet"] = json!("NG-MOCK0001");
    ok(me)
}

async fn repository_info(State(shared): State<Arc<Shared>>, Path(repo): Path<String>) -> Response {
    if let Some(response) = unknown(&shared, &repo) {
        return response;
    }
    let config = &shared.config;
    let mut info = json!({
        "id": config.repository_id,
        "name": "Mock & Partners LLP",
        "administrators": (1..=config.administrators.min(config.users))
            .map(|i| json!({"id": user_id(i), "displayName": format!("User {i}")}))
            .collect::<Vec<_>>(),
    });
    if let Some(enabled) = config.sso {
        info["federatedIdentity"] = json!({"enabled": enabled, "required": enabled});
    }
    ok(info)
}

/// One page of `items` as the request asks: `$top` (clamped), `paging=true` for
/// `{results, next}` with `$skiptoken`, a bare array of the first `$top` otherwise.
fn paged(shared: &Shared, url: &RequestUrl, items: Vec<Value>) -> Response {
    let top = url
        .param("$top")
        .and_then(|top| top.parse::<usize>().ok())
        .unwrap_or(5_000)
        .clamp(1, shared.config.max_top);
    let offset = match url.param("$skiptoken").map(decode_skiptoken) {
        None => 0,
        Some(Some(offset)) => offset,
        Some(None) => return error(StatusCode::BAD_REQUEST, "Invalid $skiptoken"),
    };
    let page: Vec<Value> = items.iter().skip(offset).take(top).cloned().collect();
    if url.param("paging") != Some("true") {
        return ok(Value::Array(page));
    }
    let end = offset + page.len();
    let mut body = json!({ "results": page });
    if end < items.len() {
        body["next"] = json!(encode_skiptoken(end));
    }
    ok(body)
}

/// Skip tokens are opaque to clients: base64 of `offset:N`.
fn encode_skiptoken(offset: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("offset:{offset}"))
}

fn decode_skiptoken(token: &str) -> Option<usize> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("offset:")?
        .parse()
        .ok()
}

async fn users(
    State(shared): State<Arc<Shared>>,
    Path(repo): Path<String>,
    url: RequestUrl,
) -> Response {
    if let Some(response) = unknown(&shared, &repo) {
        return response;
    }
    let config = &shared.config;
    let items = (1..=config.users).map(|i| user(config, i)).collect();
    paged(&shared, &url, items)
}

async fn groups(
    State(shared): State<Arc<Shared>>,
    Path(repo): Path<String>,
    url: RequestUrl,
) -> Response {
    if let Some(response) = unknown(&shared, &repo) {
        return response;
    }
    let config = &shared.config;
    let with_info = url.param("returnInfo") == Some("all");
    let items = (1..=config.groups)
        .map(|g| {
            if with_info {
                json!({
                    "id": group_id(g),
                    "name": format!("Group {g}"),
                    "external": g % 3 == 0,
                    "hidden": false,
                    "hideMembership": g % 2 == 0,
                })
            } else {
                json!(group_id(g))
            }
        })
        .collect();
    paged(&shared, &url, items)
}

async fn group_members_route(
    State(shared): State<Arc<Shared>>,
    Path(group): Path<String>,
) -> Response {
    let config = &shared.config;
    let number = group
        .strip_prefix("UG-")
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|g| (1..=config.groups).contains(g));
    let Some(g) = number else {
        return error(StatusCode::NOT_FOUND, "Group not found");
    };
    ok(Value::Array(
        group_members(config, g)
            .into_iter()
            .map(|i| json!({"id": user_id(i), "displayName": format!("User {i}")}))
            .collect(),
    ))
}

/// RFC 3339 UTC, whole seconds.
fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Event `n` of the admin (`admin == true`) or consolidated log.
fn event(shared: &Shared, admin: bool, n: usize) -> Value {
    let config = &shared.config;
    let ms = shared.log_start + n as i64 * 1_000;
    let user = if config.users == 0 {
        1
    } else {
        n % config.users + 1
    };
    let (action, object, name) = if admin {
        (
            [
                "Group member added",
                "User added to repository",
                "Cabinet rights changed",
            ][n % 3],
            group_id(n % config.groups.max(1) + 1),
            format!("Group {}", n % config.groups.max(1) + 1),
        )
    } else {
        (
            ["Viewed", "Edited", "Downloaded", "Shared"][n % 4],
            format!("4821-{:04}-{:04}", n / 10_000, n % 10_000),
            format!("Document {n}.docx"),
        )
    };
    json!({
        "date": rfc3339(ms),
        "userId": user_id(user),
        "user": format!("User {user}"),
        "action": action,
        "objectId": object,
        "objectName": name,
        "ip": format!("192.0.2.{}", n % 250 + 1),
    })
}

async fn log(
    State(shared): State<Arc<Shared>>,
    Path(repo): Path<String>,
    url: RequestUrl,
) -> Response {
    if let Some(response) = unknown(&shared, &repo) {
        return response;
    }
    if url.param("format") != Some("json") {
        return error(
            StatusCode::BAD_REQUEST,
            "format=json is required for JSON logs",
        );
    }
    let admin = match url.param("Logtype") {
        Some("admin") => true,
        Some("consolidated") => false,
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "Logtype must be consolidated or admin",
            );
        }
    };
    let start = match url.param("start") {
        None => None,
        Some(text) => match DateTime::parse_from_rfc3339(text) {
            Ok(time) => Some(time.timestamp_millis()),
            Err(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "start must be yyyy-MM-ddThh:mm:ssZ",
                );
            }
        },
    };
    let (admin_events, user_events) = *shared.events();
    let count = if admin { admin_events } else { user_events };
    let items = (0..count)
        .filter(|n| start.is_none_or(|start| shared.log_start + *n as i64 * 1_000 >= start))
        .map(|n| event(&shared, admin, n))
        .collect();
    paged(&shared, &url, items)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skiptokens_round_trip_and_reject_junk() {
        assert_eq!(decode_skiptoken(&encode_skiptoken(40)), Some(40));
        assert_eq!(decode_skiptoken("offset:3"), None);
    }

    #[test]
    fn groups_draw_members_in_turn() {
        let config = NetDocumentsMockConfig {
            users: 5,
            members_per_group: 3,
            ..NetDocumentsMockConfig::default()
        };
        assert_eq!(group_members(&config, 1), [1, 2, 3]);
        assert_eq!(group_members(&config, 2), [4, 5, 1]);
    }
}
