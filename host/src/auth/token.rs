//! OAuth 2.0 tokens acquired by the host: client credentials, refresh token (with
//! rotation) and the RFC 7523 JWT bearer grant.
//!
//! A [`TokenPlan`] (`plan.rs`) is built from the connector's declared scheme and the
//! instance's config and secrets each time a session opens. The [`TokenCache`], owned by
//! the process (see `capabilities::http::Outbound`), keeps the tokens
//! per instance across calls and scans: a token is reused until 60 s before it expires
//! or until the API answers 401 with it; one instance fetches one token at a time
//! (single flight, so a burst of requests costs one token request). A rotated refresh
//! token is handed to the instance's [`PersistSecret`] hook, which writes it to the
//! encrypted store, before the access token that came with it is used.
//!
//! Token requests go only to the token endpoint the operator granted (the credentials
//! stage checks it), with the client the transport hands over (the instance's
//! private-network setting and CA certificates and the operator's proxy apply), never
//! through the plugin's egress list.
//! Their failures carry the provider's `error_description` (or `error`, or the status
//! line) with every secret of the plan redacted.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use url::Url;

use super::plan::{Grant, Target, TokenPlan, hash};
use crate::model::secret::Secret;

/// Tokens are treated as expired this long before the provider says they expire, so a
/// request never leaves with a token that dies in flight.
pub const EARLY_EXPIRY: Duration = Duration::from_secs(60);
/// Lifetime assumed when the token answer has no `expires_in`.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// Saves a rotated secret (`field`, new value) of one instance; `Err` carries a message
/// without the value. Registered per instance with [`TokenCache::persist_with`].
pub type PersistSecret = Arc<dyn Fn(&str, &Secret) -> Result<(), String> + Send + Sync>;

/// Why no token could be had. Never contains a secret or token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The endpoint refused or answered nonsense: the plugin sees `unauthorized`.
    #[error("{0}")]
    Rejected(String),
    /// The endpoint could not be reached.
    #[error("token endpoint unreachable: {0}")]
    Unreachable(String),
    /// The host refused to send to the endpoint's address (a private one).
    #[error("{0}")]
    Denied(String),
}

/// A token handed out for one request, with what [`TokenCache::invalidate`] needs.
pub struct IssuedToken {
    pub(crate) value: Secret,
    target: usize,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IssuedToken([redacted])")
    }
}

struct Cached {
    value: Secret,
    /// When the provider says it expires.
    expires_at: Instant,
}

#[derive(Default)]
struct InstanceState {
    fingerprint: [u8; 32],
    /// By target index.
    tokens: HashMap<usize, Cached>,
    /// A rotated refresh token and the hash of the one it replaced the plan's
    /// (`refresh_seed`): used while the plan still carries that seed or this token.
    rotated: Option<(Secret, [u8; 32])>,
}

#[derive(Default)]
struct InstanceTokens {
    /// Held across a token request: one fetch at a time per instance.
    state: tokio::sync::Mutex<InstanceState>,
    persist: Mutex<Option<PersistSecret>>,
}

/// Clock of the cache, replaceable in tests.
pub type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// Every instance's tokens, kept for the process's lifetime (shared by all calls).
pub struct TokenCache {
    instances: Mutex<HashMap<String, Arc<InstanceTokens>>>,
    clock: Clock,
    /// Token requests sent, for tests and metrics.
    requests: std::sync::atomic::AtomicU64,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("instances", &self.lock().len())
            .finish_non_exhaustive()
    }
}

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache::with_clock(Arc::new(Instant::now))
    }
}

/// Whether a token expiring at `expires_at` may still be sent at `now`.
fn usable(expires_at: Instant, now: Instant) -> bool {
    now + EARLY_EXPIRY < expires_at
}

/// The provider's message from a token error body: `error_description`, else `error`,
/// else `None`.
fn provider_message(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let text = |key: &str| {
        v.get(key)
            .and_then(|x| x.as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    text("error_description").or_else(|| text("error"))
}

impl TokenCache {
    /// A cache reading time from `clock`.
    pub fn with_clock(clock: Clock) -> TokenCache {
        TokenCache {
            instances: Mutex::new(HashMap::new()),
            clock,
            requests: Default::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<InstanceTokens>>> {
        self.instances.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn instance(&self, id: &str) -> Arc<InstanceTokens> {
        self.lock().entry(id.to_owned()).or_default().clone()
    }

    /// Where instance `id` saves rotated refresh tokens (replaces an earlier hook).
    pub fn persist_with(&self, id: &str, persist: PersistSecret) {
        *self
            .instance(id)
            .persist
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(persist);
    }

    /// Forget an instance's tokens and hook (deleted, or never saved).
    pub fn forget(&self, id: &str) {
        self.lock().remove(id);
    }

    /// Token requests sent so far by this cache.
    pub fn requests_sent(&self) -> u64 {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The token for a request of instance `id` to `url`: cached, or fetched (one
    /// fetch at a time per instance) with the client `client` yields. `client` is
    /// awaited only when a fetch is needed: the transport checks the token endpoint's
    /// address there, which a cached token does not need.
    pub async fn token(
        &self,
        id: &str,
        plan: &TokenPlan,
        url: &Url,
        client: impl Future<Output = Result<reqwest::Client, TokenError>>,
    ) -> Result<IssuedToken, TokenError> {
        let target = plan.target_for(url);
        let instance = self.instance(id);
        let mut state = instance.state.lock().await;
        if state.fingerprint != plan.fingerprint {
            // New config or secrets: nothing cached was made from them.
            state.fingerprint = plan.fingerprint;
            state.tokens.clear();
        }
        if let Some(cached) = state.tokens.get(&target)
            && usable(cached.expires_at, (self.clock)())
        {
            return Ok(IssuedToken {
                value: cached.value.clone(),
                target,
            });
        }
        let refresh_token = match (&state.rotated, plan.refresh_seed) {
            (Some((current, seed)), Some(planned))
                if *seed == planned || hash(&[current.expose()]) == planned =>
            {
                Some(current.clone())
            }
            _ => None,
        };
        let client = client.await?;
        let fetched = self
            .fetch(plan, &plan.targets[target], refresh_token.as_ref(), &client)
            .await?;
        if let Some(rotated) = fetched.refresh_token
            && let Grant::RefreshToken { field, .. } = &plan.grant
        {
            let seed = plan.refresh_seed.unwrap_or_default();
            // Keep it first: the old one may already be void at the provider.
            state.rotated = Some((rotated.clone(), seed));
            let persist = instance
                .persist
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            match persist {
                Some(persist) => persist(field, &rotated).map_err(|e| {
                    TokenError::Rejected(format!(
                        "the provider rotated the refresh token but saving it failed: {e}"
                    ))
                })?,
                None => tracing::warn!(
                    instance = id,
                    "rotated refresh token kept in memory only: no store to save it to"
                ),
            }
        }
        let expires_at = (self.clock)() + fetched.lifetime;
        state.tokens.insert(
            target,
            Cached {
                value: fetched.access_token.clone(),
                expires_at,
            },
        );
        Ok(IssuedToken {
            value: fetched.access_token,
            target,
        })
    }

    /// Drop `token` (the API answered 401 to it), unless a newer one replaced it.
    pub async fn invalidate(&self, id: &str, token: &IssuedToken) {
        let instance = self.instance(id);
        let mut state = instance.state.lock().await;
        if state
            .tokens
            .get(&token.target)
            .is_some_and(|c| c.value == token.value)
        {
            state.tokens.remove(&token.target);
        }
    }

    async fn fetch(
        &self,
        plan: &TokenPlan,
        target: &Target,
        refresh_token: Option<&Secret>,
        client: &reqwest::Client,
    ) -> Result<Fetched, TokenError> {
        let body = plan.form(target, refresh_token)?;
        self.requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let endpoint = plan.token_url.host_str().unwrap_or_default().to_owned();
        let mut request = client
            .post(plan.token_url.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(authorization) = plan.authorization() {
            let mut value = reqwest::header::HeaderValue::try_from(authorization.expose())
                .map_err(|_| TokenError::Rejected("the client id cannot go in a header".into()))?;
            value.set_sensitive(true);
            request = request.header(reqwest::header::AUTHORIZATION, value);
        }
        let response = request
            .body(body)
            .send()
            .await
            .map_err(|e| TokenError::Unreachable(plan.redacted(&innermost(e))))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| TokenError::Unreachable(plan.redacted(&e.without_url().to_string())))?;
        if !status.is_success() {
            let message = provider_message(&bytes).unwrap_or_else(|| {
                format!(
                    "HTTP {} {}",
                    status.as_u16(),
                    status.canonical_reason().unwrap_or_default()
                )
            });
            return Err(TokenError::Rejected(plan.redacted(&format!(
                "token request to {endpoint} failed: {message}"
            ))));
        }
        parse_answer(&bytes).map_err(|why| {
            TokenError::Rejected(format!("token endpoint {endpoint} answered {why}"))
        })
    }
}

/// A reqwest error's innermost cause ("connection refused"), without the URL.
fn innermost(e: reqwest::Error) -> String {
    use std::error::Error as _;
    let e = e.without_url();
    if e.is_timeout() {
        return "timed out".to_owned();
    }
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg = s.to_string();
        source = s.source();
    }
    msg
}

struct Fetched {
    access_token: Secret,
    lifetime: Duration,
    refresh_token: Option<Secret>,
}

/// `{access_token, token_type, expires_in[, refresh_token]}`; `Err` says what is wrong
/// without quoting the body (it may hold a token).
fn parse_answer(body: &[u8]) -> Result<Fetched, String> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| "a body that is not JSON".to_owned())?;
    let access_token = v
        .get("access_token")
        .and_then(|t| t.as_str())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| "no access_token".to_owned())?;
    if let Some(kind) = v.get("token_type").and_then(|t| t.as_str())
        && !kind.eq_ignore_ascii_case("bearer")
    {
        return Err(format!("token_type `{kind}`, not Bearer"));
    }
    let lifetime = match v.get("expires_in") {
        Some(serde_json::Value::Number(n)) => n.as_u64().map(Duration::from_secs),
        // Some providers (older Azure AD endpoints) send it as a string.
        Some(serde_json::Value::String(s)) => s.parse().ok().map(Duration::from_secs),
        _ => None,
    }
    .unwrap_or(DEFAULT_LIFETIME);
    let refresh_token = v
        .get("refresh_token")
        .and_then(|t| t.as_str())
        .filter(|t| !t.is_empty())
        .map(Secret::new);
    Ok(Fetched {
        access_token: Secret::new(access_token),
        lifetime,
        refresh_token,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::auth::AuthError;
    use crate::model::secret::Secrets;
    use crate::model::{AuthScheme, ClientAuth};
    use sluice_mocks::{JwtAcceptance, OAuthMock, OAuthMockConfig, TokenFailure};
    use std::sync::atomic::{AtomicU64, Ordering};

    /// The client, ready: as the transport hands it over when no check refuses.
    fn ready(client: &reqwest::Client) -> std::future::Ready<Result<reqwest::Client, TokenError>> {
        std::future::ready(Ok(client.clone()))
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn secrets(pairs: &[(&str, &str)]) -> Secrets {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Secret::new(*v)))
            .collect()
    }

    fn client_credentials(token_url: &str, scopes: &[&str]) -> AuthScheme {
        AuthScheme::Oauth2ClientCredentials {
            token_url: token_url.into(),
            client_id_field: "client_id".into(),
            client_secret_field: "client_secret".into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            client_auth: ClientAuth::RequestBody,
            grant_type: None,
            params: Vec::new(),
        }
    }

    fn plan(scheme: &AuthScheme, config: &[(&str, &str)]) -> TokenPlan {
        TokenPlan::prepare(
            scheme,
            &map(config),
            &secrets(&[("client_secret", "mock-client-secret")]),
        )
        .unwrap()
    }

    /// A clock the test moves by hand.
    fn manual_clock() -> (Clock, Arc<AtomicU64>) {
        let start = Instant::now();
        let offset = Arc::new(AtomicU64::new(0));
        let seen = offset.clone();
        (
            Arc::new(move || start + Duration::from_secs(seen.load(Ordering::SeqCst))),
            offset,
        )
    }

    #[test]
    fn token_url_scopes_and_audience_are_templates_over_config() {
        let scheme = client_credentials(
            "https://login.example/{tenant}/oauth2/v2.0/token",
            &["{graph}/.default", "offline_access"],
        );
        let p = plan(
            &scheme,
            &[
                ("tenant", "contoso"),
                ("graph", "https://graph.example"),
                ("client_id", "app"),
            ],
        );
        assert_eq!(
            p.token_url().as_str(),
            "https://login.example/contoso/oauth2/v2.0/token"
        );
        assert_eq!(
            p.scopes,
            ["https://graph.example/.default", "offline_access"]
        );

        let jwt = AuthScheme::JwtBearer {
            token_url: "https://{auth_host}/oauth/token".into(),
            issuer_field: "integration_key".into(),
            subject_field: "user_id".into(),
            audience: "{auth_host}".into(),
            private_key_field: "private_key".into(),
            scopes: vec!["signature".into(), "impersonation".into()],
        };
        let p = TokenPlan::prepare(
            &jwt,
            &map(&[
                ("auth_host", "account-d.example"),
                ("integration_key", "ik"),
                ("user_id", "u1"),
            ]),
            &secrets(&[(
                "private_key",
                sluice_mocks::oauth::TEST_RSA_PRIVATE_KEY_PKCS1_PEM,
            )]),
        )
        .unwrap();
        assert!(matches!(&p.grant, Grant::Jwt { audience, .. } if audience == "account-d.example"));
        assert_eq!(
            p.targets[0].scope.as_deref(),
            Some("signature impersonation")
        );

        let missing = TokenPlan::prepare(&scheme, &map(&[("client_id", "app")]), &Secrets::new());
        assert!(
            matches!(missing, Err(AuthError::MissingConfig(_))),
            "{missing:?}"
        );
        let bad_key = TokenPlan::prepare(
            &jwt,
            &map(&[
                ("auth_host", "a.example"),
                ("integration_key", "ik"),
                ("user_id", "u"),
            ]),
            &secrets(&[("private_key", "not a pem at all")]),
        );
        assert_eq!(
            bad_key.unwrap_err(),
            AuthError::BadPrivateKey("private_key".into())
        );
    }

    #[test]
    fn resource_scopes_pick_the_token_by_request_origin() {
        let scheme = client_credentials(
            "https://login.example/token",
            &[
                "https://graph.example/.default",
                "https://management.example:8443/.default",
            ],
        );
        let p = plan(&scheme, &[("client_id", "app")]);
        let scope = |url: &str| p.scope_for(&Url::parse(url).unwrap()).map(str::to_owned);
        assert_eq!(
            scope("https://graph.example/v1.0/users?$top=5").as_deref(),
            Some("https://graph.example/.default")
        );
        assert_eq!(
            scope("https://management.example:8443/subscriptions").as_deref(),
            Some("https://management.example:8443/.default")
        );
        // Same host, other port: another origin, so the first scope's token.
        assert_eq!(
            scope("https://management.example/x").as_deref(),
            Some("https://graph.example/.default")
        );
        assert_eq!(
            scope("https://elsewhere.example/").as_deref(),
            Some("https://graph.example/.default")
        );

        // One resource scope (or none) means one token for all scopes together.
        let single = plan(
            &client_credentials(
                "https://l.example/t",
                &["https://graph.example/.default", "x"],
            ),
            &[("client_id", "app")],
        );
        assert_eq!(single.targets.len(), 1);
        assert_eq!(
            single.targets[0].scope.as_deref(),
            Some("https://graph.example/.default x")
        );
        let none = plan(
            &client_credentials("https://l.example/t", &[]),
            &[("client_id", "a")],
        );
        assert_eq!(none.targets[0].scope, None);
    }

    #[test]
    fn tokens_count_as_expired_sixty_seconds_early() {
        let now = Instant::now();
        assert!(usable(now + Duration::from_secs(61), now));
        assert!(!usable(now + Duration::from_secs(60), now));
        assert!(!usable(now, now));
    }

    #[test]
    fn plan_debug_shows_no_secret() {
        let p = plan(
            &client_credentials("https://l.example/t", &["a"]),
            &[("client_id", "app")],
        );
        let shown = format!("{p:?}");
        assert!(shown.contains("client_credentials"), "{shown}");
        assert!(!shown.contains("mock-client-secret"), "{shown}");
        assert_eq!(
            p.redacted("bad secret mock-client-secret here"),
            "bad secret [redacted] here"
        );
    }

    #[tokio::test]
    async fn cached_until_early_expiry_then_fetched_again() {
        let mock = OAuthMock::new(OAuthMockConfig {
            token_lifetime: Duration::from_secs(600),
            ..OAuthMockConfig::default()
        });
        let server = mock.serve("/token").await.unwrap();
        let p = plan(
            &client_credentials(&server.token_url(), &["read"]),
            &[("client_id", "mock-client-id")],
        );
        let (clock, offset) = manual_clock();
        let cache = TokenCache::with_clock(clock);
        let client = reqwest::Client::new();
        let api = Url::parse(&format!("{}/me", server.base_url())).unwrap();
        let first = cache.token("i1", &p, &api, ready(&client)).await.unwrap();
        offset.store(539, Ordering::SeqCst);
        let again = cache.token("i1", &p, &api, ready(&client)).await.unwrap();
        assert_eq!(first.value, again.value);
        assert_eq!(mock.issued(), 1);
        offset.store(540, Ordering::SeqCst);
        let renewed = cache.token("i1", &p, &api, ready(&client)).await.unwrap();
        assert_ne!(first.value, renewed.value);
        assert_eq!(mock.issued(), 2);
        // Another instance has its own token.
        cache.token("i2", &p, &api, ready(&client)).await.unwrap();
        assert_eq!(mock.issued(), 3);
        // A 401 to the current token drops it; a stale token's 401 does not.
        cache.invalidate("i1", &first).await;
        assert_eq!(
            cache
                .token("i1", &p, &api, ready(&client))
                .await
                .unwrap()
                .value,
            renewed.value
        );
        cache.invalidate("i1", &renewed).await;
        cache.token("i1", &p, &api, ready(&client)).await.unwrap();
        assert_eq!(mock.issued(), 4);
        let form = &mock.requests()[0];
        assert_eq!(form.field("grant_type"), Some("client_credentials"));
        assert_eq!(form.field("client_secret"), Some("mock-client-secret"));
        assert_eq!(form.field("scope"), Some("read"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_share_one_token_request() {
        let mock = OAuthMock::new(OAuthMockConfig::default());
        let server = mock.serve("/token").await.unwrap();
        let p = Arc::new(plan(
            &client_credentials(&server.token_url(), &[]),
            &[("client_id", "mock-client-id")],
        ));
        let cache = Arc::new(TokenCache::default());
        let client = reqwest::Client::new();
        let api = Url::parse(&server.base_url()).unwrap();
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (cache, p, client, api) =
                    (cache.clone(), p.clone(), client.clone(), api.clone());
                tokio::spawn(async move {
                    cache
                        .token("i1", &p, &api, ready(&client))
                        .await
                        .unwrap()
                        .value
                })
            })
            .collect();
        let mut tokens = Vec::new();
        for task in tasks {
            tokens.push(task.await.unwrap());
        }
        assert!(tokens.iter().all(|t| *t == tokens[0]));
        assert_eq!(mock.issued(), 1);
        assert_eq!(cache.requests_sent(), 1);
    }

    #[tokio::test]
    async fn rotated_refresh_token_is_persisted_before_use_and_then_used() {
        let mock = OAuthMock::new(OAuthMockConfig {
            refresh_token: Some("rt-0".into()),
            rotate_refresh_tokens: true,
            ..OAuthMockConfig::default()
        });
        let server = mock.serve("/token").await.unwrap();
        let scheme = AuthScheme::Oauth2RefreshToken {
            token_url: server.token_url(),
            client_id_field: "client_id".into(),
            client_secret_field: None,
            refresh_token_field: "refresh_token".into(),
            scopes: vec![],
        };
        let config = map(&[("client_id", "mock-client-id")]);
        let p =
            TokenPlan::prepare(&scheme, &config, &secrets(&[("refresh_token", "rt-0")])).unwrap();
        let cache = TokenCache::default();
        let client = reqwest::Client::new();
        let api = Url::parse(&server.base_url()).unwrap();

        // Saving fails: the token that came with the rotation is not handed out.
        cache.persist_with(
            "i1",
            Arc::new(|_: &str, _: &Secret| Err("disk full".into())),
        );
        let err = cache
            .token("i1", &p, &api, ready(&client))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, TokenError::Rejected(m) if m.contains("disk full")),
            "{err:?}"
        );

        let saved: Arc<Mutex<Vec<(String, Secret)>>> = Arc::default();
        let sink = saved.clone();
        cache.persist_with(
            "i1",
            Arc::new(move |field: &str, value: &Secret| {
                sink.lock().unwrap().push((field.to_owned(), value.clone()));
                Ok(())
            }),
        );
        // The rotated token kept in memory (mock-rt-1) is what the next refresh uses,
        // even though the plan still carries rt-0.
        cache.token("i1", &p, &api, ready(&client)).await.unwrap();
        assert_eq!(
            *saved.lock().unwrap(),
            [("refresh_token".to_owned(), Secret::new("mock-rt-2"))]
        );
        assert_eq!(mock.requests()[1].field("refresh_token"), Some("mock-rt-1"));
        // A plan re-read from the store (now holding mock-rt-2) keeps working.
        let reread = TokenPlan::prepare(
            &scheme,
            &config,
            &secrets(&[("refresh_token", "mock-rt-2")]),
        )
        .unwrap();
        mock.expire_all();
        cache
            .invalidate(
                "i1",
                &cache
                    .token("i1", &reread, &api, ready(&client))
                    .await
                    .unwrap(),
            )
            .await;
        cache
            .token("i1", &reread, &api, ready(&client))
            .await
            .unwrap();
        assert_eq!(mock.refresh_token().as_deref(), Some("mock-rt-3"));
    }

    /// Zoom's server-to-server OAuth: `grant_type=account_credentials` with the
    /// account id from config, the client's id and secret as HTTP Basic and never in
    /// the form; the endpoint refuses them as form fields, and a wrong account id.
    #[tokio::test]
    async fn basic_client_auth_with_another_grant_type_and_templated_params() {
        let mock = OAuthMock::new(OAuthMockConfig {
            basic_client_auth_only: true,
            account_id: Some("acct-42".into()),
            ..OAuthMockConfig::default()
        });
        let server = mock.serve("/oauth/token").await.unwrap();
        let zoom = |client_auth| AuthScheme::Oauth2ClientCredentials {
            token_url: server.token_url(),
            client_id_field: "client_id".into(),
            client_secret_field: "client_secret".into(),
            scopes: vec![],
            client_auth,
            grant_type: Some("account_credentials".into()),
            params: vec![("account_id".into(), "{account_id}".into())],
        };
        let config = [("client_id", "mock-client-id"), ("account_id", "acct-42")];
        let api = Url::parse(&server.base_url()).unwrap();
        let client = reqwest::Client::new();

        let cache = TokenCache::default();
        let basic = plan(&zoom(ClientAuth::Basic), &config);
        cache
            .token("i1", &basic, &api, ready(&client))
            .await
            .unwrap();
        let sent = &mock.requests()[0];
        assert_eq!(sent.status, 200);
        assert!(sent.basic, "the client authenticated with HTTP Basic");
        assert_eq!(sent.field("grant_type"), Some("account_credentials"));
        assert_eq!(sent.field("account_id"), Some("acct-42"));
        assert_eq!(sent.field("client_id"), None);
        assert_eq!(sent.field("client_secret"), None);

        // The same grant with the secret in the form, as 0.2.0 sent it: refused.
        let cache = TokenCache::default();
        let body = plan(&zoom(ClientAuth::RequestBody), &config);
        let err = cache
            .token("i1", &body, &api, ready(&client))
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("Client authentication failed"),
            "{err}"
        );
        assert!(!err.to_string().contains("mock-client-secret"), "{err}");

        // Another account: the endpoint refuses the grant.
        let cache = TokenCache::default();
        let other = plan(
            &zoom(ClientAuth::Basic),
            &[("client_id", "mock-client-id"), ("account_id", "acct-7")],
        );
        let err = cache
            .token("i1", &other, &api, ready(&client))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("Invalid account_id"), "{err}");

        // A param template naming a missing field fails the plan, not the request.
        let missing = TokenPlan::prepare(
            &zoom(ClientAuth::Basic),
            &map(&[("client_id", "mock-client-id")]),
            &secrets(&[("client_secret", "mock-client-secret")]),
        );
        assert!(
            matches!(missing, Err(AuthError::MissingConfig(ref f)) if f == "account_id"),
            "{missing:?}"
        );
    }

    #[tokio::test]
    async fn endpoint_errors_carry_the_provider_message_without_secrets() {
        let mock = OAuthMock::new(OAuthMockConfig {
            failure: Some(TokenFailure::new(
                401,
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided: mock-client-secret",
            )),
            ..OAuthMockConfig::default()
        });
        let server = mock.serve("/token").await.unwrap();
        let p = plan(
            &client_credentials(&server.token_url(), &[]),
            &[("client_id", "mock-client-id")],
        );
        let cache = TokenCache::default();
        let api = Url::parse(&server.base_url()).unwrap();
        let err = cache
            .token("i1", &p, &api, ready(&reqwest::Client::new()))
            .await
            .unwrap_err();
        let TokenError::Rejected(message) = &err else {
            panic!("{err:?}")
        };
        assert!(
            message.contains("AADSTS7000215: Invalid client secret provided"),
            "{message}"
        );
        assert!(!message.contains("mock-client-secret"), "{message}");
        assert!(!format!("{err:?}").contains("mock-client-secret"));

        mock.set_failure(Some(TokenFailure {
            status: 503,
            error: String::new(),
            error_description: None,
        }));
        let err = cache
            .token("i1", &p, &api, ready(&reqwest::Client::new()))
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("HTTP 503 Service Unavailable"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn jwt_assertion_has_the_documented_claims() {
        let mock = OAuthMock::new(OAuthMockConfig {
            jwt: Some(JwtAcceptance::test_key("ik", "u1", "account-d.example")),
            ..OAuthMockConfig::default()
        });
        let server = mock.serve("/oauth/token").await.unwrap();
        let scheme = AuthScheme::JwtBearer {
            token_url: server.token_url(),
            issuer_field: "integration_key".into(),
            subject_field: "user_id".into(),
            audience: "{aud}".into(),
            private_key_field: "private_key".into(),
            scopes: vec!["signature".into(), "impersonation".into()],
        };
        let p = TokenPlan::prepare(
            &scheme,
            &map(&[
                ("integration_key", "ik"),
                ("user_id", "u1"),
                ("aud", "account-d.example"),
            ]),
            &secrets(&[(
                "private_key",
                sluice_mocks::oauth::TEST_RSA_PRIVATE_KEY_PKCS8_PEM,
            )]),
        )
        .unwrap();
        let api = Url::parse(&server.base_url()).unwrap();
        TokenCache::default()
            .token("i1", &p, &api, ready(&reqwest::Client::new()))
            .await
            .unwrap();
        let claims = &mock.assertions()[0];
        assert_eq!(claims["scope"], "signature impersonation");
        assert_eq!(
            claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
            3600
        );
        assert!(!format!("{p:?}").contains("PRIVATE KEY"));
    }
}
