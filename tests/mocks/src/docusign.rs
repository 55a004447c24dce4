//! A mock of DocuSign's Monitor, Admin and eSignature APIs and its JWT grant, on one
//! loopback port.
//!
//! What it reproduces, from DocuSign's documentation (see `SOURCES.md` §4):
//! - `POST /oauth/token`: the JWT bearer grant, through [`crate::oauth`] (RS256
//!   assertion with `iss` = integration key, `sub` = user id, `aud` = auth host);
//! - `GET /api/v2.0/datasets/monitor/stream?cursor=&limit=`: `{endCursor, data}`;
//!   `cursor` is an ISO time or a previous `endCursor`, absent means seven days back,
//!   and a caught-up stream answers the cursor it was given;
//! - `GET /management/v2/organizations/{org}/users?account_id=&start=&take=`:
//!   `{users, paging}` with `paging.next` while users remain (400 without `account_id`,
//!   which DocuSign requires);
//! - `GET /restapi/v2.1/accounts/{accountId}`: the eSignature account;
//! - `X-RateLimit-{Limit,Remaining,Reset}` (hourly, 3,000) and
//!   `X-BurstLimit-{Limit,Remaining}` (per 30 s, 500) on every API answer, and 429
//!   `HOURLY_APIINVOCATION_LIMIT_EXCEEDED` when a budget is used up or a fault is
//!   injected through [`Faults`].
//!
//! Bodies follow the published schemas (`_SCHEMA-monitor-stream.json`,
//! `_SCHEMA-admin-list-users.json`) property for property; Monitor event objects are
//! untyped in the spec and use the field names of DocuSign's Monitor event docs.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::Faults;
use crate::faults::{self, Fault, FaultPlan, RateBudget};
use crate::oauth::{JwtAcceptance, OAuthMock, OAuthMockConfig};
use crate::server::{MockServer, RequestRecord, RequestUrl};

/// Organization id the mock serves.
pub const DOCUSIGN_ORG_ID: &str = "9e1d7a54-3c2b-4f10-8e6d-0a1b2c3d4e5f";
/// eSignature account id the mock serves.
pub const DOCUSIGN_ACCOUNT_ID: &str = "f3b2a1c0-7d6e-4a5b-9c8d-1e2f3a4b5c6d";

/// What the mock organization looks like and how the API behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocusignMockConfig {
    /// JWT `iss` accepted.
    pub integration_key: String,
    /// JWT `sub` accepted.
    pub user_id: String,
    /// JWT `aud` accepted.
    pub audience: String,
    /// Active users (membership and user status `active`), administrators included.
    pub active_users: usize,
    /// Active users in the account's administrator group.
    pub admins: usize,
    /// Users whose membership is closed.
    pub closed_users: usize,
    /// Users invited but not activated (`activation_sent`).
    pub pending_users: usize,
    /// Monitor events at start, one second apart, ending before now.
    pub events: usize,
    /// Hourly budget (`X-RateLimit-Limit`).
    pub hourly_limit: u32,
    /// Burst budget per 30 s (`X-BurstLimit-Limit`).
    pub burst_limit: u32,
}

impl Default for DocusignMockConfig {
    fn default() -> Self {
        DocusignMockConfig {
            integration_key: "1f2e3d4c-5b6a-4978-8695-a4b3c2d1e0f9".into(),
            user_id: "7c6b5a49-3827-4160-9f8e-7d6c5b4a3928".into(),
            audience: "account-d.docusign.com".into(),
            active_users: 9,
            admins: 2,
            closed_users: 2,
            pending_users: 1,
            events: 23,
            hourly_limit: 3000,
            burst_limit: 500,
        }
    }
}

/// Exact counts a complete scan must store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocusignExpected {
    /// Users reported (active ones only).
    pub users: usize,
    /// Of those, administrators.
    pub admins: usize,
    /// Monitor events, and of those the sign-ins, account-level envelope events
    /// (user activity) and organization-level administration.
    pub events: usize,
    pub logon_events: usize,
    pub user_events: usize,
    pub admin_events: usize,
    /// Posture findings, and how many of them fail.
    pub findings: usize,
    pub failing_findings: usize,
}

/// A running DocuSign mock.
#[derive(Debug)]
pub struct DocusignMock {
    server: MockServer,
    shared: Arc<Shared>,
    oauth: OAuthMock,
}

#[derive(Debug)]
struct Shared {
    config: DocusignMockConfig,
    oauth: OAuthMock,
    data: Mutex<Data>,
    faults: FaultPlan,
    hourly: RateBudget,
    burst: RateBudget,
}

#[derive(Debug)]
struct Data {
    users: Vec<Value>,
    events: Vec<Value>,
    /// Time of the first event, whole seconds (ms).
    start_ms: i64,
}

impl Shared {
    fn data(&self) -> MutexGuard<'_, Data> {
        self.data.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl DocusignMock {
    /// Starts the mock on `127.0.0.1:0`.
    pub async fn start(config: DocusignMockConfig) -> std::io::Result<DocusignMock> {
        let oauth = OAuthMock::new(OAuthMockConfig {
            jwt: Some(JwtAcceptance::test_key(
                &config.integration_key,
                &config.user_id,
                &config.audience,
            )),
            ..OAuthMockConfig::default()
        });
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let start_ms = (now_ms / 1000 - 3600) * 1000;
        let mut data = Data {
            users: users(&config),
            events: Vec::new(),
            start_ms,
        };
        add_events(&mut data, config.events);
        let shared = Arc::new(Shared {
            hourly: RateBudget::new(config.hourly_limit, Duration::from_secs(3600)),
            burst: RateBudget::new(config.burst_limit, Duration::from_secs(30)),
            oauth: oauth.clone(),
            config,
            data: Mutex::new(data),
            faults: FaultPlan::default(),
        });
        let routes = shared.clone();
        let token = oauth.clone();
        let server = MockServer::start(Duration::ZERO, move |_| {
            Router::new()
                .route("/api/v2.0/datasets/monitor/stream", get(stream))
                .route("/management/v2/organizations/{org}/users", get(list_users))
                .route("/restapi/v2.1/accounts/{account}", get(account))
                .layer(middleware::from_fn_with_state(routes.clone(), gate))
                .with_state(routes)
                .merge(token.router("/oauth/token"))
        })
        .await?;
        Ok(DocusignMock {
            server,
            shared,
            oauth,
        })
    }

    /// `http://127.0.0.1:PORT`: the auth server, Monitor and eSignature root.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The Admin API root (`{base}/management`).
    pub fn admin_url(&self) -> String {
        format!("{}/management", self.base_url())
    }

    /// The mock's configuration.
    pub fn config(&self) -> &DocusignMockConfig {
        &self.shared.config
    }

    /// The token endpoint, to inspect grants.
    pub fn oauth(&self) -> &OAuthMock {
        &self.oauth
    }

    /// Appends `n` Monitor events after the last one.
    pub fn add_events(&self, n: usize) {
        add_events(&mut self.shared.data(), n);
    }

    /// Closes an active user's membership (as an admin would in DocuSign Admin);
    /// returns its id, or none when no active non-admin user is left.
    pub fn close_user(&self) -> Option<String> {
        let mut data = self.shared.data();
        let user = data.users.iter_mut().rev().find(|u| {
            u["user_status"] == "active"
                && u["membership_status"] == "active"
                && u["ds_groups"][0]["is_admin"] == false
        })?;
        user["user_status"] = json!("closed");
        user["membership_status"] = json!("closed");
        user["closed_on"] = json!(iso(now_ms()));
        user["membership_closed_on"] = json!(iso(now_ms()));
        user["id"].as_str().map(str::to_owned)
    }

    /// Faults for the next API requests (token requests are never faulted).
    pub fn inject_faults(&self, faults: Faults) {
        self.shared.faults.inject(faults, &self.shared.hourly);
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.server.log().snapshot()
    }

    /// Forgets the requests so far.
    pub fn clear_requests(&self) {
        self.server.log().clear();
    }

    /// What a complete scan must find now.
    pub fn expected(&self) -> DocusignExpected {
        let data = self.shared.data();
        let active =
            |u: &&Value| u["user_status"] == "active" && u["membership_status"] == "active";
        let users = data.users.iter().filter(active).count();
        let admins = data
            .users
            .iter()
            .filter(active)
            .filter(|u| u["ds_groups"][0]["is_admin"] == true)
            .count();
        let pending = data
            .users
            .iter()
            .filter(|u| u["membership_status"] == "activation_sent")
            .count();
        let by_action = |action: &str| data.events.iter().filter(|e| e["action"] == action).count();
        // few-administrators fails above 4 admins; SCIM fails (every user is managed
        // manually); stale invitations fail with any pending user.
        let failing = usize::from(admins > 4) + usize::from(users > 0) + usize::from(pending > 0);
        DocusignExpected {
            users,
            admins,
            events: data.events.len(),
            logon_events: by_action("Login"),
            user_events: by_action("Sent"),
            admin_events: by_action("Update"),
            findings: 3,
            failing_findings: failing,
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn iso(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The account's users: admins, other active users, closed, pending, in that order.
fn users(config: &DocusignMockConfig) -> Vec<Value> {
    let total = config.active_users + config.closed_users + config.pending_users;
    (0..total)
        .map(|i| {
            let (user_status, membership) = if i < config.active_users {
                ("active", "active")
            } else if i < config.active_users + config.closed_users {
                ("closed", "closed")
            } else {
                ("created", "activation_sent")
            };
            let admin = i < config.admins;
            let id = format!("{:08x}-0000-4000-8000-{:012x}", 0x0d5u32, i + 1);
            let mut user = json!({
                "id": id,
                "user_name": format!("User {}", i + 1),
                "first_name": "User",
                "last_name": (i + 1).to_string(),
                "user_status": user_status,
                "membership_status": membership,
                "email": format!("user{}@acme.test", i + 1),
                "created_on": "2023-03-01T09:00:00Z",
                "membership_created_on": "2023-03-01T09:00:00Z",
                "ds_groups": [{
                    "ds_group_id": if admin { "a0000000-0000-4000-8000-000000000001" } else { "a0000000-0000-4000-8000-000000000002" },
                    "account_id": DOCUSIGN_ACCOUNT_ID,
                    "source_product_name": "ESign",
                    "group_id": if admin { "1" } else { "2" },
                    "group_name": if admin { "Administrators" } else { "Everyone" },
                    "description": "",
                    "is_admin": admin,
                    "last_modified_on": "2023-03-01T09:00:00Z",
                    "user_count": 0,
                    "external_account_id": 12_345_678,
                    "account_name": "Acme Corp",
                    "is_managed_by_scim": false,
                }],
                "membership_id": format!("b0000000-0000-4000-8000-{:012x}", i + 1),
                "is_membership_managed_by_scim": false,
                "is_managed_by_scim": false,
                "license_type": "",
                "subscription_id": "",
                "plan_name": "",
            });
            if user_status == "closed" {
                user["closed_on"] = json!("2024-02-01T09:00:00Z");
                user["membership_closed_on"] = json!("2024-02-01T09:00:00Z");
            }
            user
        })
        .collect()
}

/// Monitor events cycle through sign-ins, envelope activity (account level) and
/// organization administration (no `accountId`).
fn add_events(data: &mut Data, n: usize) {
    for _ in 0..n {
        let i = data.events.len();
        let (object, action, account_level) = match i % 3 {
            0 => ("User", "Login", true),
            1 => ("Envelope", "Sent", true),
            _ => ("OrganizationUser", "Update", false),
        };
        let mut event = json!({
            "timestamp": iso(data.start_ms + i as i64 * 1000),
            "eventId": format!("c0ffee00-0000-4000-8000-{:012x}", i + 1),
            "site": "NA3",
            "organizationId": DOCUSIGN_ORG_ID,
            "userId": format!("{:08x}-0000-4000-8000-{:012x}", 0x0d5u32, i % 5 + 1),
            "userEmail": format!("user{}@acme.test", i % 5 + 1),
            "integratorKey": "",
            "userAgent": "Mozilla/5.0 (X11; Linux x86_64)",
            "ipAddress": format!("203.0.113.{}", i % 250 + 1),
            "object": object,
            "action": action,
            "property": null,
            "field": null,
            "result": "Success",
            "data": {},
        });
        if account_level {
            event["accountId"] = json!(DOCUSIGN_ACCOUNT_ID);
        }
        data.events.push(event);
    }
}

/// Bearer check, injected faults, both budgets, and the rate-limit headers.
async fn gate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    if shared.oauth.validate(request.headers()).is_none() {
        return error(
            StatusCode::UNAUTHORIZED,
            "AUTHORIZATION_INVALID_TOKEN",
            "The access token provided is expired, revoked or malformed.",
        );
    }
    let throttled = |retry: u64| {
        let mut r = limit_exceeded();
        if let Ok(v) = HeaderValue::from_str(&retry.to_string()) {
            r.headers_mut().insert("retry-after", v);
        }
        r
    };
    let mut response = match shared.faults.take() {
        Some(Fault::SecondaryLimit {
            retry_after_secs, ..
        }) => throttled(retry_after_secs),
        Some(Fault::ServerError { status }) => error(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
            "SERVICE_UNAVAILABLE",
            "The service is temporarily unavailable.",
        ),
        Some(Fault::ResetMidBody) => faults::reset_mid_body(next.run(request).await).await,
        Some(Fault::TruncatedBody) => faults::truncate_body(next.run(request).await).await,
        other => {
            let hourly = shared.hourly.consume();
            let burst = shared.burst.consume();
            let mut response = if !hourly.allowed {
                throttled(
                    hourly
                        .reset_epoch_secs
                        .saturating_sub(now_ms() as u64 / 1000)
                        .max(1),
                )
            } else if !burst.allowed {
                throttled(
                    burst
                        .reset_epoch_secs
                        .saturating_sub(now_ms() as u64 / 1000)
                        .max(1),
                )
            } else {
                if let Some(Fault::Slow { delay }) = other {
                    tokio::time::sleep(delay).await;
                }
                next.run(request).await
            };
            set_limits(response.headers_mut(), &shared);
            return response;
        }
    };
    set_limits(response.headers_mut(), &shared);
    response
}

/// The X-RateLimit-* and X-BurstLimit-* headers as DocuSign sends them.
fn set_limits(headers: &mut HeaderMap, shared: &Shared) {
    let hourly = shared.hourly.peek();
    let burst = shared.burst.peek();
    for (name, value) in [
        ("x-ratelimit-limit", hourly.limit.to_string()),
        ("x-ratelimit-remaining", hourly.remaining().to_string()),
        ("x-ratelimit-reset", hourly.reset_epoch_secs.to_string()),
        ("x-burstlimit-limit", burst.limit.to_string()),
        ("x-burstlimit-remaining", burst.remaining().to_string()),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
}

/// DocuSign's answer when a budget is used up.
fn limit_exceeded() -> Response {
    error(
        StatusCode::TOO_MANY_REQUESTS,
        "HOURLY_APIINVOCATION_LIMIT_EXCEEDED",
        "The maximum number of hourly API invocations has been exceeded. The hourly limit is 3000.",
    )
}

/// DocuSign's REST error body.
fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"errorCode": code, "message": message}))).into_response()
}

/// `GET /api/v2.0/datasets/monitor/stream`.
async fn stream(
    State(shared): State<Arc<Shared>>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let limit = match param("limit").map(|l| l.parse::<usize>()) {
        None => 1000,
        Some(Ok(l)) if (1..=1000).contains(&l) => l,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST_PARAMETER",
                "limit must be 1 to 1000",
            );
        }
    };
    let data = shared.data();
    let start = match param("cursor") {
        None => {
            let week_ago = now_ms() - 7 * 86_400_000;
            first_at_or_after(&data, week_ago)
        }
        Some(cursor) => match cursor.strip_prefix("mc1.").map(str::parse::<usize>) {
            Some(Ok(index)) if index <= data.events.len() => index,
            Some(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "INVALID_CURSOR",
                    "The cursor is invalid.",
                );
            }
            None => match DateTime::parse_from_rfc3339(&cursor) {
                Ok(time) => first_at_or_after(&data, time.timestamp_millis()),
                Err(_) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "INVALID_CURSOR",
                        "The cursor is invalid.",
                    );
                }
            },
        },
    };
    let end = (start + limit).min(data.events.len());
    Json(json!({
        "endCursor": format!("mc1.{end}"),
        "data": data.events[start..end],
    }))
    .into_response()
}

fn first_at_or_after(data: &Data, ms: i64) -> usize {
    let offset = (ms - data.start_ms).max(0) as u64;
    (offset.div_ceil(1000) as usize).min(data.events.len())
}

/// `GET /management/v2/organizations/{org}/users`.
async fn list_users(
    State(shared): State<Arc<Shared>>,
    Path(org): Path<String>,
    url: RequestUrl,
) -> Response {
    if org != DOCUSIGN_ORG_ID {
        return error(
            StatusCode::NOT_FOUND,
            "ORGANIZATION_NOT_FOUND",
            "Organization not found.",
        );
    }
    if url.param("account_id") != Some(DOCUSIGN_ACCOUNT_ID) {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "At least one of email, account_id or organization_reserved_domain_id must be specified.",
        );
    }
    let number = |name: &str, default: usize| {
        url.param(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let start = number("start", 0);
    let take = number("take", 20).max(1);
    let data = shared.data();
    let total = data.users.len();
    let from = start.min(total);
    let to = (start + take).min(total);
    let page: Vec<Value> = data.users[from..to].to_vec();
    let mut paging = json!({
        "result_set_size": page.len(),
        "result_set_start_position": from,
        "result_set_end_position": to.saturating_sub(1),
        "total_set_size": total,
    });
    if to < total {
        paging["next"] = json!(url.with_params(&[], &[("start", &to.to_string())]));
    }
    if from > 0 {
        paging["previous"] =
            json!(url.with_params(&[], &[("start", &from.saturating_sub(take).to_string())]));
    }
    Json(json!({"users": page, "paging": paging})).into_response()
}

/// `GET /restapi/v2.1/accounts/{accountId}`.
async fn account(Path(id): Path<String>) -> Response {
    if id != DOCUSIGN_ACCOUNT_ID {
        return error(
            StatusCode::NOT_FOUND,
            "ACCOUNT_NOT_FOUND",
            "Invalid account specified for user.",
        );
    }
    Json(json!({
        "accountId": id,
        "accountIdGuid": id,
        "accountName": "Acme Corp",
        "planName": "Business Pro",
        "currentPlanId": "00000000-0000-0000-0000-000000000000",
    }))
    .into_response()
}
