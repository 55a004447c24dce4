//! A reusable OAuth 2.0 token endpoint for provider mocks, and the protected-resource
//! check that goes with it.
//!
//! The host, not the connector, acquires tokens (client credentials, refresh token,
//! RFC 7523 JWT bearer), caches them per instance and injects `Authorization: Bearer`.
//! Every provider that uses OAuth (Microsoft identity platform, DocuSign, NetDocuments…)
//! therefore needs the same endpoint in its mock; this module is that endpoint, so each
//! provider mock only mounts it at its documented path and asks it whether the bearer
//! tokens its API routes receive are valid.
//!
//! What it does, the way real authorization servers do:
//! - `POST <path>` with an `application/x-www-form-urlencoded` body; client credentials
//!   come as `client_id`/`client_secret` form fields (client_secret_post) or HTTP Basic.
//! - `grant_type=client_credentials`: checks id and secret; with
//!   [`OAuthMockConfig::basic_client_auth_only`] only as HTTP Basic (OneLogin, Zoom).
//! - `grant_type=account_credentials` (Zoom's server-to-server OAuth): checks id,
//!   secret and the `account_id` form field against [`OAuthMockConfig::account_id`].
//! - `grant_type=refresh_token`: checks the refresh token (and the client id, and the
//!   secret when one is sent); with [`OAuthMockConfig::rotate_refresh_tokens`] every
//!   answer carries a new refresh token and the old one stops working at once.
//! - `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`: verifies the RS256
//!   `assertion` against [`JwtAcceptance`] (signature, `iss`, `sub`, `aud`, `exp`).
//! - Answers `{access_token, token_type: "Bearer", expires_in[, refresh_token][, scope]}`
//!   with opaque tokens (`mock-at-N`) that expire after
//!   [`token_lifetime`](OAuthMockConfig::token_lifetime) or on [`OAuthMock::expire_all`].
//! - Failures use RFC 6749 §5.2 bodies, `{error, error_description}`, with status 400
//!   (401 for `invalid_client`), and never echo a secret back.
//!
//! Mounting it in a provider mock:
//!
//! ```no_run
//! use axum::Router;
//! use axum::http::{HeaderMap, StatusCode};
//! use axum::routing::get;
//! use sluice_mocks::{OAuthMock, OAuthMockConfig};
//!
//! let oauth = OAuthMock::new(OAuthMockConfig {
//!     client_id: "app-id".into(),
//!     client_secret: "app-secret".into(),
//!     ..OAuthMockConfig::default()
//! });
//! let api_oauth = oauth.clone();
//! let router: Router = Router::new()
//!     .route(
//!         "/v1/users",
//!         get(move |headers: HeaderMap| async move {
//!             match api_oauth.validate(&headers) {
//!                 // `info.scope` says which scope/resource the token was issued for.
//!                 Some(_info) => (StatusCode::OK, "[]"),
//!                 None => (StatusCode::UNAUTHORIZED, r#"{"error":"invalid_token"}"#),
//!             }
//!         }),
//!     )
//!     // Any path the provider documents, path parameters allowed.
//!     .merge(oauth.router("/{tenant}/oauth2/v2.0/token"));
//! // Hand `router` to the mock's server; tests then read `oauth.issued()`.
//! ```
//!
//! Tests of the host itself, which need no provider, use [`OAuthMock::serve`]: the token
//! endpoint plus a protected echo of every other `GET`, on its own loopback port.

mod keys;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Form, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, routing::get};
use base64::Engine as _;
use serde_json::{Value, json};

use crate::server::{MockServer, RequestRecord};

pub use keys::{
    OTHER_RSA_PRIVATE_KEY_PKCS8_PEM, TEST_RSA_PRIVATE_KEY_PKCS1_PEM,
    TEST_RSA_PRIVATE_KEY_PKCS8_PEM, TEST_RSA_PUBLIC_KEY_PEM,
};

/// The `grant_type` of RFC 7523's JWT bearer grant.
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Which clients, grants and lifetimes the endpoint accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthMockConfig {
    /// The only client id accepted (all grants but JWT bearer).
    pub client_id: String,
    /// The client secret: required for client credentials; for the refresh grant
    /// checked only when the client sends one (public clients send none).
    pub client_secret: String,
    /// The refresh token accepted at start; `None` refuses the refresh grant.
    pub refresh_token: Option<String>,
    /// Whether each refresh answer carries a new refresh token (`mock-rt-N`) that
    /// replaces the old one, which is refused from then on (Microsoft, DocuSign do so).
    pub rotate_refresh_tokens: bool,
    /// Accept RFC 7523 assertions like this; `None` refuses the JWT bearer grant.
    pub jwt: Option<JwtAcceptance>,
    /// `expires_in` of issued access tokens; the mock refuses them afterwards.
    pub token_lifetime: Duration,
    /// Fail every token request like this until [`OAuthMock::set_failure`] clears it.
    pub failure: Option<TokenFailure>,
    /// Accept the client's id and secret only as HTTP Basic (`client_secret_basic`),
    /// as OneLogin and Zoom do: sent as form fields they are refused (`invalid_client`).
    pub basic_client_auth_only: bool,
    /// Accept Zoom's `grant_type=account_credentials` for this `account_id` (form
    /// field); none refuses that grant.
    pub account_id: Option<String>,
}

impl Default for OAuthMockConfig {
    fn default() -> Self {
        OAuthMockConfig {
            client_id: "mock-client-id".to_owned(),
            client_secret: "mock-client-secret".to_owned(),
            refresh_token: None,
            rotate_refresh_tokens: false,
            jwt: None,
            token_lifetime: Duration::from_secs(3600),
            failure: None,
            basic_client_auth_only: false,
            account_id: None,
        }
    }
}

/// What a valid JWT bearer assertion looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtAcceptance {
    /// PEM public key checking the RS256 signature, e.g. [`TEST_RSA_PUBLIC_KEY_PEM`].
    pub public_key_pem: String,
    /// Required `iss` (DocuSign: the integration key).
    pub issuer: String,
    /// Required `sub` (DocuSign: the impersonated user's id).
    pub subject: String,
    /// Required `aud` (DocuSign: `account-d.docusign.com`).
    pub audience: String,
}

impl JwtAcceptance {
    /// Accept assertions signed with the [`TEST_RSA_PRIVATE_KEY_PKCS8_PEM`] pair.
    pub fn test_key(issuer: &str, subject: &str, audience: &str) -> JwtAcceptance {
        JwtAcceptance {
            public_key_pem: TEST_RSA_PUBLIC_KEY_PEM.to_owned(),
            issuer: issuer.to_owned(),
            subject: subject.to_owned(),
            audience: audience.to_owned(),
        }
    }
}

/// A provider-style token error answer (RFC 6749 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFailure {
    /// HTTP status, e.g. 400 or 401.
    pub status: u16,
    /// The `error` code, e.g. `invalid_client`.
    pub error: String,
    /// The human-readable `error_description`, omitted when `None`.
    pub error_description: Option<String>,
}

impl TokenFailure {
    /// A failure with `status`, `error` and a description.
    pub fn new(status: u16, error: &str, description: &str) -> TokenFailure {
        TokenFailure {
            status,
            error: error.to_owned(),
            error_description: Some(description.to_owned()),
        }
    }
}

/// Which grant an access token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    ClientCredentials,
    RefreshToken,
    JwtBearer,
    /// Zoom's server-to-server OAuth (`grant_type=account_credentials`).
    AccountCredentials,
}

/// What the endpoint knows about a valid access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// The opaque token itself.
    pub access_token: String,
    pub grant: Grant,
    /// The `scope` requested (form field, or the assertion's `scope` claim), verbatim.
    pub scope: Option<String>,
    /// The assertion's `sub` for JWT bearer tokens, else the client id.
    pub subject: String,
}

impl TokenInfo {
    /// Whether `scope` is one of the space-separated scopes the token was issued for.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scope
            .as_deref()
            .is_some_and(|scopes| scopes.split(' ').any(|s| s == scope))
    }
}

/// One request the token endpoint received, in arrival order, secrets included (this
/// is a test double: tests check what the host sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// The form fields as sent.
    pub form: BTreeMap<String, String>,
    /// Whether the client authenticated with HTTP Basic.
    pub basic: bool,
    /// The HTTP status the endpoint answered.
    pub status: u16,
}

impl TokenRequest {
    /// Form field `name`, if sent.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form.get(name).map(String::as_str)
    }
}

/// The token endpoint and its token registry; cheap to clone, clones share state.
#[derive(Debug, Clone)]
pub struct OAuthMock {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: OAuthMockConfig,
    state: Mutex<Registry>,
}

#[derive(Debug)]
struct Registry {
    /// Issued access tokens, valid or not.
    tokens: HashMap<String, Issued>,
    /// Access tokens issued so far; numbers `mock-at-N`.
    issued: usize,
    /// Refresh tokens issued so far by rotation; numbers `mock-rt-N`.
    rotations: usize,
    /// The refresh token accepted now.
    refresh_token: Option<String>,
    failure: Option<TokenFailure>,
    requests: Vec<TokenRequest>,
    /// Claims of every assertion that verified.
    assertions: Vec<Value>,
}

#[derive(Debug)]
struct Issued {
    info: TokenInfo,
    expires_at: Instant,
    revoked: bool,
}

impl OAuthMock {
    /// A token endpoint accepting what `config` says; serve it with [`router`](Self::router).
    pub fn new(config: OAuthMockConfig) -> OAuthMock {
        let state = Registry {
            tokens: HashMap::new(),
            issued: 0,
            rotations: 0,
            refresh_token: config.refresh_token.clone(),
            failure: config.failure.clone(),
            requests: Vec::new(),
            assertions: Vec::new(),
        };
        OAuthMock {
            shared: Arc::new(Shared {
                config,
                state: Mutex::new(state),
            }),
        }
    }

    /// A router answering `POST path` (axum path syntax, `{param}` allowed) as the token
    /// endpoint; merge it into the provider mock's router.
    pub fn router(&self, path: &str) -> Router {
        Router::new()
            .route(path, post(token_endpoint))
            .with_state(self.clone())
    }

    /// The token in `Authorization: Bearer <token>` if this endpoint issued it and it
    /// has neither expired nor been expired by [`expire_all`](Self::expire_all).
    pub fn validate(&self, headers: &HeaderMap) -> Option<TokenInfo> {
        let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let state = self.state();
        let issued = state.tokens.get(token.trim())?;
        (!issued.revoked && Instant::now() < issued.expires_at).then(|| issued.info.clone())
    }

    /// Access tokens issued so far.
    pub fn issued(&self) -> usize {
        self.state().issued
    }

    /// Access tokens issued so far whose scope includes `scope`.
    pub fn issued_for(&self, scope: &str) -> usize {
        self.state()
            .tokens
            .values()
            .filter(|issued| issued.info.has_scope(scope))
            .count()
    }

    /// Every token request so far, answered or refused.
    pub fn requests(&self) -> Vec<TokenRequest> {
        self.state().requests.clone()
    }

    /// Makes every access token issued so far invalid, as if it had expired, so the
    /// API answers 401 and the client must fetch a new one.
    pub fn expire_all(&self) {
        for issued in self.state().tokens.values_mut() {
            issued.revoked = true;
        }
    }

    /// Fail every token request like `failure` from now on; `None` stops failing.
    pub fn set_failure(&self, failure: Option<TokenFailure>) {
        self.state().failure = failure;
    }

    /// The refresh token the endpoint accepts now (the latest rotation).
    pub fn refresh_token(&self) -> Option<String> {
        self.state().refresh_token.clone()
    }

    /// Claims of every JWT assertion that verified, in order.
    pub fn assertions(&self) -> Vec<Value> {
        self.state().assertions.clone()
    }

    /// Hosts this endpoint alone on `127.0.0.1:<ephemeral>`: `POST token_path` plus a
    /// protected resource answering every other `GET` with 200
    /// `{path, scope, subject, grant}` for a valid bearer token and 401
    /// `{"error":"invalid_token"}` otherwise. For tests of the client side that need no
    /// provider. Serving the same mock twice gives two origins sharing one registry.
    pub async fn serve(&self, token_path: &str) -> std::io::Result<OAuthServer> {
        let mock = self.clone();
        let path = token_path.to_owned();
        let server = MockServer::start(Duration::ZERO, move |_| {
            let protected = mock.clone();
            mock.router(&path)
                .fallback(get(move |uri: Uri, headers: HeaderMap| async move {
                    protected_resource(&protected, &uri, &headers)
                }))
        })
        .await?;
        Ok(OAuthServer {
            server,
            token_path: token_path.to_owned(),
        })
    }

    fn state(&self) -> MutexGuard<'_, Registry> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// [`OAuthMock::serve`]'s server; shuts down when dropped.
#[derive(Debug)]
pub struct OAuthServer {
    server: MockServer,
    token_path: String,
}

impl OAuthServer {
    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The token endpoint's absolute URL.
    pub fn token_url(&self) -> String {
        format!("{}{}", self.server.base_url(), self.token_path)
    }

    /// Every request the server answered (token endpoint and protected resource).
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.server.log().snapshot()
    }
}

fn protected_resource(mock: &OAuthMock, uri: &Uri, headers: &HeaderMap) -> Response {
    match mock.validate(headers) {
        Some(info) => Json(json!({
            "path": uri.path(),
            "scope": info.scope,
            "subject": info.subject,
            "grant": format!("{:?}", info.grant),
        }))
        .into_response(),
        None => (
            StatusCode::UNAUTHORIZED,
            [(WWW_AUTHENTICATE, r#"Bearer error="invalid_token""#)],
            Json(json!({"error": "invalid_token"})),
        )
            .into_response(),
    }
}

async fn token_endpoint(
    State(mock): State<OAuthMock>,
    headers: HeaderMap,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    let answer = answer(&mock, &headers, &form);
    let status = match &answer {
        Ok(_) => 200,
        Err(failure) => failure.status,
    };
    let basic = basic_credentials(&headers).is_some();
    mock.state().requests.push(TokenRequest {
        form,
        basic,
        status,
    });
    match answer {
        Ok(body) => (
            [("cache-control", "no-store"), ("pragma", "no-cache")],
            Json(body),
        )
            .into_response(),
        Err(failure) => {
            let mut body = json!({"error": failure.error});
            if let Some(description) = failure.error_description {
                body["error_description"] = Value::String(description);
            }
            let status = StatusCode::from_u16(failure.status).unwrap_or(StatusCode::BAD_REQUEST);
            (status, Json(body)).into_response()
        }
    }
}

fn invalid_client() -> TokenFailure {
    TokenFailure::new(401, "invalid_client", "Client authentication failed.")
}

fn invalid_grant(description: &str) -> TokenFailure {
    TokenFailure::new(400, "invalid_grant", description)
}

/// The client id and secret from HTTP Basic (`client_secret_basic`), form-urldecoded
/// as RFC 6749 section 2.3.1 asks.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        .and_then(|encoded| {
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .ok()
        })
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|pair| {
            let decode = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            pair.split_once(':')
                .map(|(id, secret)| (decode(id), decode(secret)))
        })
}

/// The client id and secret from the form (client_secret_post) or HTTP Basic; with
/// `basic_only`, form fields do not count.
fn client_credentials(
    headers: &HeaderMap,
    form: &BTreeMap<String, String>,
    basic_only: bool,
) -> (Option<String>, Option<String>) {
    match basic_credentials(headers) {
        Some((id, secret)) => (Some(id), Some(secret)),
        None if basic_only => (None, None),
        None => (
            form.get("client_id").cloned(),
            form.get("client_secret").cloned(),
        ),
    }
}

fn answer(
    mock: &OAuthMock,
    headers: &HeaderMap,
    form: &BTreeMap<String, String>,
) -> Result<Value, TokenFailure> {
    let config = &mock.shared.config;
    if let Some(failure) = mock.state().failure.clone() {
        return Err(failure);
    }
    let (client_id, client_secret) =
        client_credentials(headers, form, config.basic_client_auth_only);
    let scope = form.get("scope").cloned();
    match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {
            if client_id.as_deref() != Some(config.client_id.as_str())
                || client_secret.as_deref() != Some(config.client_secret.as_str())
            {
                return Err(invalid_client());
            }
            Ok(mock.issue(
                Grant::ClientCredentials,
                scope,
                config.client_id.clone(),
                false,
            ))
        }
        Some("account_credentials") => {
            let Some(account_id) = &config.account_id else {
                return Err(TokenFailure::new(
                    400,
                    "unsupported_grant_type",
                    "The account credentials grant is not enabled for this client.",
                ));
            };
            if client_id.as_deref() != Some(config.client_id.as_str())
                || client_secret.as_deref() != Some(config.client_secret.as_str())
            {
                return Err(invalid_client());
            }
            if form.get("account_id") != Some(account_id) {
                return Err(invalid_grant("Invalid account_id."));
            }
            Ok(mock.issue(
                Grant::AccountCredentials,
                scope,
                config.client_id.clone(),
                false,
            ))
        }
        Some("refresh_token") => {
            if client_id.as_deref() != Some(config.client_id.as_str())
                || client_secret
                    .as_deref()
                    .is_some_and(|secret| secret != config.client_secret)
            {
                return Err(invalid_client());
            }
            let current = mock.refresh_token();
            if current.is_none() || form.get("refresh_token") != current.as_ref() {
                return Err(invalid_grant(
                    "The refresh token is invalid, expired or was already used.",
                ));
            }
            Ok(mock.issue(
                Grant::RefreshToken,
                scope,
                config.client_id.clone(),
                config.rotate_refresh_tokens,
            ))
        }
        Some(JWT_BEARER_GRANT) => {
            let Some(acceptance) = &config.jwt else {
                return Err(TokenFailure::new(
                    400,
                    "unsupported_grant_type",
                    "The JWT bearer grant is not enabled for this client.",
                ));
            };
            let assertion = form
                .get("assertion")
                .ok_or_else(|| invalid_grant("The assertion parameter is missing."))?;
            let claims = verify_assertion(acceptance, assertion)?;
            let scope = claims
                .get("scope")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or(scope);
            mock.state().assertions.push(claims);
            Ok(mock.issue(Grant::JwtBearer, scope, acceptance.subject.clone(), false))
        }
        Some(other) => Err(TokenFailure::new(
            400,
            "unsupported_grant_type",
            &format!("The grant type '{other}' is not supported."),
        )),
        None => Err(TokenFailure::new(
            400,
            "invalid_request",
            "The grant_type parameter is missing.",
        )),
    }
}

/// Checks an RS256 assertion's signature, `iss`, `sub`, `aud` and `exp`; its claims.
fn verify_assertion(acceptance: &JwtAcceptance, assertion: &str) -> Result<Value, TokenFailure> {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};

    let key = DecodingKey::from_rsa_pem(acceptance.public_key_pem.as_bytes())
        .map_err(|err| invalid_grant(&format!("The mock's public key is unusable: {err}")))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[&acceptance.audience]);
    validation.set_issuer(&[&acceptance.issuer]);
    validation.sub = Some(acceptance.subject.clone());
    validation.set_required_spec_claims(&["exp", "iat", "iss", "sub", "aud"]);
    decode::<Value>(assertion, &key, &validation)
        .map(|data| data.claims)
        .map_err(|err| invalid_grant(&format!("The assertion is invalid: {err}.")))
}

impl OAuthMock {
    /// Registers and returns a fresh access token (and, when `rotate`, a new refresh
    /// token that replaces the accepted one).
    fn issue(&self, grant: Grant, scope: Option<String>, subject: String, rotate: bool) -> Value {
        let lifetime = self.shared.config.token_lifetime;
        let mut state = self.state();
        state.issued += 1;
        let access_token = format!("mock-at-{}", state.issued);
        let info = TokenInfo {
            access_token: access_token.clone(),
            grant,
            scope: scope.clone(),
            subject,
        };
        state.tokens.insert(
            access_token.clone(),
            Issued {
                info,
                expires_at: Instant::now() + lifetime,
                revoked: false,
            },
        );
        let mut body = json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": lifetime.as_secs(),
        });
        if let Some(scope) = scope {
            body["scope"] = Value::String(scope);
        }
        if rotate {
            state.rotations += 1;
            let next = format!("mock-rt-{}", state.rotations);
            state.refresh_token = Some(next.clone());
            body["refresh_token"] = Value::String(next);
        }
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn post(url: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let response = reqwest::Client::new()
            .post(url)
            .form(form)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap())
    }

    async fn get_with(url: &str, token: &str) -> u16 {
        reqwest::Client::new()
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    #[tokio::test]
    async fn client_credentials_issue_tokens_the_resource_accepts_until_expired() {
        let mock = OAuthMock::new(OAuthMockConfig::default());
        let server = mock.serve("/oauth2/token").await.unwrap();
        let (status, body) = post(
            &server.token_url(),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "mock-client-id"),
                ("client_secret", "mock-client-secret"),
                ("scope", "https://graph.example/.default"),
            ],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 3600);
        let token = body["access_token"].as_str().unwrap();
        let me = format!("{}/me", server.base_url());
        assert_eq!(get_with(&me, token).await, 200);
        assert_eq!(get_with(&me, "forged").await, 401);
        assert_eq!(mock.issued(), 1);
        assert_eq!(mock.issued_for("https://graph.example/.default"), 1);
        mock.expire_all();
        assert_eq!(get_with(&me, token).await, 401);

        let (status, body) = post(
            &server.token_url(),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "mock-client-id"),
                ("client_secret", "wrong"),
            ],
        )
        .await;
        assert_eq!(status, 401);
        assert_eq!(body["error"], "invalid_client");
        assert!(!body.to_string().contains("wrong"));
        assert_eq!(mock.issued(), 1);
        assert_eq!(mock.requests().len(), 2);
    }

    #[tokio::test]
    async fn rotated_refresh_tokens_replace_the_old_one() {
        let mock = OAuthMock::new(OAuthMockConfig {
            refresh_token: Some("rt-initial".into()),
            rotate_refresh_tokens: true,
            ..OAuthMockConfig::default()
        });
        let server = mock.serve("/token").await.unwrap();
        let refresh = |token: String| {
            let url = server.token_url();
            async move {
                post(
                    &url,
                    &[
                        ("grant_type", "refresh_token"),
                        ("client_id", "mock-client-id"),
                        ("refresh_token", &token),
                    ],
                )
                .await
            }
        };
        let (status, body) = refresh("rt-initial".into()).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["refresh_token"], "mock-rt-1");
        assert_eq!(mock.refresh_token().as_deref(), Some("mock-rt-1"));
        let (status, body) = refresh("rt-initial".into()).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant"))
        );
        let (status, _) = refresh("mock-rt-1".into()).await;
        assert_eq!(status, 200);
        assert_eq!(mock.issued(), 2);
    }

    #[tokio::test]
    async fn jwt_assertions_are_checked_for_signature_and_claims() {
        use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};

        let mock = OAuthMock::new(OAuthMockConfig {
            jwt: Some(JwtAcceptance::test_key(
                "integration-key",
                "user-1",
                "aud.example",
            )),
            ..OAuthMockConfig::default()
        });
        let server = mock.serve("/oauth/token").await.unwrap();
        let now = chrono::Utc::now().timestamp();
        let sign = |pem: &str, sub: &str| {
            let claims = json!({"iss": "integration-key", "sub": sub, "aud": "aud.example",
                "iat": now, "exp": now + 3600, "scope": "signature impersonation"});
            let key = EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
            encode(&Header::new(Algorithm::RS256), &claims, &key).unwrap()
        };
        for (pem, sub, expected) in [
            (TEST_RSA_PRIVATE_KEY_PKCS8_PEM, "user-1", 200),
            (TEST_RSA_PRIVATE_KEY_PKCS1_PEM, "user-1", 200),
            (OTHER_RSA_PRIVATE_KEY_PKCS8_PEM, "user-1", 400),
            (TEST_RSA_PRIVATE_KEY_PKCS8_PEM, "someone-else", 400),
        ] {
            let assertion = sign(pem, sub);
            let (status, body) = post(
                &server.token_url(),
                &[("grant_type", JWT_BEARER_GRANT), ("assertion", &assertion)],
            )
            .await;
            assert_eq!(status, expected, "{sub}: {body}");
        }
        assert_eq!(mock.issued(), 2);
        assert_eq!(mock.issued_for("impersonation"), 2);
        assert_eq!(mock.assertions()[0]["sub"], "user-1");
    }

    #[tokio::test]
    async fn configured_failure_answers_with_a_provider_error_body() {
        let mock = OAuthMock::new(OAuthMockConfig {
            failure: Some(TokenFailure::new(
                400,
                "invalid_scope",
                "AADSTS70011: The provided value for scope is not valid.",
            )),
            ..OAuthMockConfig::default()
        });
        let server = mock.serve("/token").await.unwrap();
        let (status, body) =
            post(&server.token_url(), &[("grant_type", "client_credentials")]).await;
        assert_eq!(status, 400);
        assert_eq!(
            body["error_description"],
            "AADSTS70011: The provided value for scope is not valid."
        );
        mock.set_failure(None);
        let (status, _) = post(
            &server.token_url(),
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "mock-client-id"),
                ("client_secret", "mock-client-secret"),
            ],
        )
        .await;
        assert_eq!(status, 200);
    }
}
