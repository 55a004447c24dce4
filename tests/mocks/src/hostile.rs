//! A hostile provider, for the host's hardening tests: it reflects what it receives.
//! Echo endpoints and verbose error bodies exist at real providers (debug routes,
//! "invalid token: <token>" messages); a plugin must never see the credentials the
//! host injected through them.
//!
//! - `GET /echo` → 200 `{"headers": {name: value}}`, and every request header again as
//!   a response header `x-echo-<name>`.
//! - `GET /error` → 400 `{"error": "invalid credentials: <Authorization header>"}`.
//! - `GET /host` → 200 `{"host": <Host header>}`.
//! - `GET /slow-big?ms=M&bytes=N` → after M ms, 200 with an N-byte body (a slow
//!   provider whose answer makes the guest grow its memory to take it).

use std::collections::BTreeMap;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::server::{MockServer, RequestRecord};

/// A running echo provider.
#[derive(Debug)]
pub struct EchoMock {
    server: MockServer,
}

fn headers_map(headers: &HeaderMap) -> BTreeMap<String, String> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

async fn echo(headers: HeaderMap) -> Response {
    let mut reflected = HeaderMap::new();
    for (name, value) in &headers {
        if let Ok(name) = HeaderName::from_bytes(format!("x-echo-{name}").as_bytes()) {
            reflected.insert(name, value.clone());
        }
    }
    (reflected, Json(json!({ "headers": headers_map(&headers) }))).into_response()
}

async fn error(headers: HeaderMap) -> Response {
    let auth = headers
        .get("authorization")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default();
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": format!("invalid credentials: {auth}") })),
    )
        .into_response()
}

async fn host(headers: HeaderMap) -> Json<serde_json::Value> {
    let host = headers
        .get("host")
        .cloned()
        .unwrap_or(HeaderValue::from_static(""));
    Json(json!({ "host": String::from_utf8_lossy(host.as_bytes()) }))
}

async fn slow_big(axum::extract::Query(q): axum::extract::Query<BTreeMap<String, u64>>) -> Vec<u8> {
    tokio::time::sleep(Duration::from_millis(q.get("ms").copied().unwrap_or(0))).await;
    vec![b'x'; q.get("bytes").copied().unwrap_or(0) as usize]
}

impl EchoMock {
    pub async fn start() -> std::io::Result<EchoMock> {
        let router = Router::new()
            .route("/echo", get(echo))
            .route("/error", get(error))
            .route("/host", get(host))
            .route("/slow-big", get(slow_big));
        let server = MockServer::start(Duration::ZERO, |_| router).await?;
        Ok(EchoMock { server })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// Every request answered so far.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.server.log().snapshot()
    }
}

/// A provider for the `misbehave` test connector (`plugins/testing/misbehave`) with
/// pages as big and as many as a test asks: `GET /users?page=N` → `{"users": [{"id":
/// "uN-I"}…], "next": N+1 or null}`.
#[derive(Debug)]
pub struct PagesMock {
    server: MockServer,
}

impl PagesMock {
    /// `pages` pages of `per_page` users each.
    pub async fn start(pages: u64, per_page: u64) -> std::io::Result<PagesMock> {
        let users = move |query: axum::extract::Query<BTreeMap<String, String>>| async move {
            let page: u64 = query.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
            let users: Vec<_> = (0..per_page)
                .map(|i| json!({ "id": format!("u{page}-{i}"), "login": format!("user {page}/{i}") }))
                .collect();
            let next = (page < pages).then_some(page + 1);
            Json(json!({ "users": users, "next": next }))
        };
        let router = Router::new().route("/users", get(users));
        let server = MockServer::start(Duration::ZERO, |_| router).await?;
        Ok(PagesMock { server })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// Every request answered so far.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.server.log().snapshot()
    }
}
