//! A loopback Zendesk Support API for the test-only `templated` connector
//! (`plugins/testing/templated`), which tests contract 0.2.0's templated config, auth
//! options, scan writes, look-back and `read-file` on a Zendesk-shaped provider.
//!
//! As Zendesk documents: an API token is basic auth with user name `{email}/token` and
//! the token as password, an OAuth access token is `Authorization: Bearer <token>`;
//! anything else is 401 `{"error":"Couldn't authenticate you"}`. Lists use offset
//! paging: `page` and `per_page` (at most 100), bodies `{"<items>": […], "next_page":
//! <absolute URL or null>, "previous_page": …, "count": <total>}`, users in the shape
//! of Zendesk's published example (`shared/fixtures/zendesk/users.list…`).
//!
//! | route | |
//! |---|---|
//! | `GET /api/v2/users/me.json` | `{"user": …}` (user 0, the admin) |
//! | `GET /api/v2/users.json?page=&per_page=` | offset pages |
//! | `GET /api/v2/audit_logs.json?filter[created_at][]=…` | one page, every entry |
//! | `POST` anything | 201 `{}`, so a write the host lets through is seen here |
//!
//! Every request is recorded ([`ZendeskMock::requests`]) with the credential it
//! carried ([`ZendeskMock::credentials_seen`]), for assertions.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use serde_json::{Value, json};

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
    /// Users listed; user 0 is the admin the credentials belong to.
    pub users: usize,
    /// Audit log entries.
    pub audit_logs: usize,
}

impl Default for ZendeskMockConfig {
    fn default() -> Self {
        ZendeskMockConfig {
            email: "admin@example.com".into(),
            api_token: "zd-api-token".into(),
            oauth_token: "zd-oauth-token".into(),
            users: 7,
            audit_logs: 3,
        }
    }
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
    /// `basic <user name>` or `bearer` per authenticated request, `none`/`bad` else.
    credentials: Mutex<Vec<String>>,
}

/// 2024-01-01T00:00:00Z, the anchor of generated dates.
const EPOCH: i64 = 1_704_067_200;

impl ZendeskMock {
    pub async fn start(config: ZendeskMockConfig) -> std::io::Result<ZendeskMock> {
        let shared = Arc::new(Shared {
            config,
            credentials: Mutex::default(),
        });
        let router = Router::new()
            .route("/api/v2/users/me.json", get(me))
            .route("/api/v2/users.json", get(users))
            .route("/api/v2/audit_logs.json", get(audit_logs))
            .route(
                "/{*path}",
                post(|| async { (StatusCode::CREATED, Json(json!({}))) }),
            )
            .layer(middleware::from_fn_with_state(shared.clone(), authenticate))
            .with_state(shared.clone());
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
    let seen = if let Some(token) = header.strip_prefix("Bearer ") {
        (token == config.oauth_token).then(|| "bearer".to_string())
    } else if let Some(encoded) = header.strip_prefix("Basic ") {
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|pair| {
                let (user, password) = pair.split_once(':')?;
                (user == format!("{}/token", config.email) && password == config.api_token)
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
    match seen {
        Some(_) => next.run(request).await,
        None => (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "Couldn't authenticate you"})),
        )
            .into_response(),
    }
}

/// User `i` in the shape of Zendesk's published example.
fn user(base: &str, i: usize, config: &ZendeskMockConfig) -> Value {
    let id = 20_000_000 + i as u64;
    let created = chrono::DateTime::from_timestamp(EPOCH + i as i64 * 3600, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (name, email, role) = if i == 0 {
        ("Admin".to_string(), config.email.clone(), "admin")
    } else {
        (
            format!("User {i}"),
            format!("user{i}@example.com"),
            "end-user",
        )
    };
    json!({
        "id": id,
        "url": format!("{base}/api/v2/users/{id}.json"),
        "name": name,
        "email": email,
        "created_at": created,
        "updated_at": created,
        "time_zone": "Alaska",
        "phone": null,
        "photo": null,
        "locale_id": 1,
        "locale": "en-US",
        "organization_id": null,
        "role": role,
        "verified": true,
        "external_id": null,
        "tags": [],
        "alias": null,
        "active": true,
        "shared": false,
        "shared_agent": false,
        "last_login_at": null,
        "two_factor_auth_enabled": false,
        "signature": null,
        "details": null,
        "notes": null,
        "custom_role_id": null,
        "moderator": role == "admin",
        "ticket_restriction": null,
        "only_private_comments": false,
        "restricted_agent": false,
        "suspended": false,
        "chat_only": false,
        "user_fields": {},
    })
}

async fn me(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Json<Value> {
    Json(json!({"user": user(url.base(), 0, &shared.config)}))
}

async fn users(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Json<Value> {
    let total = shared.config.users;
    let per_page = (url.param("per_page").and_then(|p| p.parse().ok()))
        .unwrap_or(100_usize)
        .clamp(1, 100);
    let page = (url.param("page").and_then(|p| p.parse().ok()))
        .unwrap_or(1_usize)
        .max(1);
    let start = (page - 1).saturating_mul(per_page).min(total);
    let end = start.saturating_add(per_page).min(total);
    let items: Vec<Value> = (start..end)
        .map(|i| user(url.base(), i, &shared.config))
        .collect();
    let link = |n: usize| url.with_params(&[], &[("page", &n.to_string())]);
    Json(json!({
        "users": items,
        "next_page": (end < total).then(|| link(page + 1)),
        "previous_page": (page > 1).then(|| link(page - 1)),
        "count": total,
    }))
}

async fn audit_logs(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Json<Value> {
    let logs: Vec<Value> = (0..shared.config.audit_logs)
        .map(|i| {
            let id = 30_000_000 + i as u64;
            let at = chrono::Utc::now() - chrono::Duration::minutes(10 - i as i64);
            json!({
                "url": format!("{}/api/v2/audit_logs/{id}.json", url.base()),
                "id": id,
                "action_label": "Updated",
                "actor_id": 20_000_000,
                "actor_name": "Admin",
                "source_id": 20_000_001 + i as u64,
                "source_type": "user",
                "source_label": format!("User {}", i + 1),
                "action": "update",
                "change_description": "Role changed from End user to Agent",
                "ip_address": "203.0.113.7",
                "created_at": at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            })
        })
        .collect();
    let count = logs.len();
    Json(json!({
        "audit_logs": logs,
        "next_page": null,
        "previous_page": null,
        "count": count,
    }))
}
