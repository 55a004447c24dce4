//! The `http` capability: the single choke point for a plugin's network access.
//!
//! Every request a plugin makes passes through [`HttpClient::send`], which in order:
//! 1. parses the URL and checks it against the instance's [`EgressPolicy`];
//! 2. strips credential headers the plugin set and injects the instance's
//!    [`Credentials`] (the plugin never sees a secret); for OAuth schemes the bearer
//!    token comes from the per-instance [`TokenCache`], and a 401 drops it and retries
//!    the request once with a fresh one;
//! 3. sends with reqwest, no redirects (a redirect could leave the allowlist; the
//!    plugin follows a 3xx itself and that request is checked again), and a resolver
//!    that refuses names resolving to private addresses unless the operator allowed them;
//! 4. reads the body up to a size cap within a timeout;
//! 5. all of it under the instance's rate limits with bounded retries
//!    ([`RateLimits::send`]): permits from every applicable budget first, provider
//!    throttling and transient failures retried, longer waits handed to the plugin as
//!    `rate-limited`.
//!
//! Failures are values ([`HttpFailure`]) handed back to the plugin, never traps.

use super::tape::Tape;
use std::error::Error as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use url::Url;

use super::egress::{EgressPolicy, ip_allowed};
use crate::auth::token::TokenError;
use crate::auth::{Credentials, TokenCache};
use crate::metrics::Metrics;
use crate::ratelimit::{RateLimits, RetryPolicy};
use crate::store::Secret;

/// HTTP methods a plugin may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    /// `GET`, `POST`, … (as [`Method::as_str`] writes them).
    pub fn parse(s: &str) -> Option<Method> {
        [
            Method::Get,
            Method::Head,
            Method::Post,
            Method::Put,
            Method::Patch,
            Method::Delete,
        ]
        .into_iter()
        .find(|m| m.as_str().eq_ignore_ascii_case(s))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    /// Whether the method changes state at the provider (everything but GET and HEAD).
    pub fn is_write(self) -> bool {
        !matches!(self, Method::Get | Method::Head)
    }
}

/// A request as the plugin made it.
#[derive(Clone, Debug)]
pub struct OutboundRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

/// A whole response, headers lowercased.
#[derive(Clone, Debug)]
pub struct InboundResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Why a request got no response (the WIT `http-error`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HttpFailure {
    #[error("denied: {0}")]
    Denied(String),
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("timed out")]
    Timeout,
    #[error("connection failed: {0}")]
    Connection(String),
    #[error("rate limited")]
    RateLimited(Option<u32>),
    #[error("response larger than {0} bytes")]
    TooLarge(u64),
}

/// Limits applied to every request.
#[derive(Clone, Debug)]
pub struct HttpLimits {
    /// Whole request, connect to last body byte.
    pub timeout: Duration,
    /// Largest response body handed to a plugin.
    pub max_response_bytes: u64,
    /// Retries of throttled and failed requests.
    pub retry: RetryPolicy,
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            timeout: Duration::from_secs(30),
            max_response_bytes: 32 * 1024 * 1024,
            retry: RetryPolicy::default(),
        }
    }
}

/// What one instance's requests need besides the request itself.
#[derive(Clone, Debug, Default)]
pub struct InstanceNet {
    /// Where the plugin's requests may go.
    pub policy: EgressPolicy,
    pub credentials: Credentials,
    /// Where the host may send the instance's OAuth secrets: the auth scheme's token
    /// endpoint if the operator granted it, else nothing. Kept apart from `policy`
    /// because the plugin itself never needs to reach the token endpoint.
    pub token_policy: EgressPolicy,
}

/// How long a keep-alive connection may sit idle in the pool.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle connections kept per host (enough for an instance's concurrent requests).
const POOL_MAX_IDLE_PER_HOST: usize = 8;

/// Shared HTTP client for all instances (connection pools are per process).
#[derive(Clone)]
pub struct HttpClient {
    /// Refuses names that resolve to private addresses.
    strict: reqwest::Client,
    /// For instances whose operator allowed private networks.
    permissive: reqwest::Client,
    config: HttpLimits,
    /// Process-wide counters; the daemon exports them at `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Every instance's, shared scope's and host's request budget.
    pub limits: Arc<RateLimits>,
    /// Every instance's OAuth tokens, kept across calls and scans.
    pub tokens: Arc<TokenCache>,
    /// Recording (`scan --record`) or replaying (`test-connector`) exchanges.
    tape: Option<Arc<Tape>>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Marker error so a refused resolution surfaces as `denied`, not `connection`.
#[derive(Debug)]
struct PrivateAddress(String);

impl std::fmt::Display for PrivateAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} resolves only to private, loopback or link-local addresses; connect with --allow-private-network to allow it",
            self.0
        )
    }
}

impl std::error::Error for PrivateAddress {}

/// DNS resolution that drops private addresses (defeats DNS rebinding to internal hosts).
struct PublicOnlyResolver;

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| ip_allowed(a.ip(), false))
                .collect();
            if addrs.is_empty() {
                return Err(
                    Box::new(PrivateAddress(host)) as Box<dyn std::error::Error + Send + Sync>
                );
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

impl HttpClient {
    pub fn new(limits: HttpLimits) -> anyhow::Result<HttpClient> {
        let base = || {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .timeout(limits.timeout)
                .connect_timeout(limits.timeout.min(Duration::from_secs(15)))
                // A scan sends its requests back to back; between rescans (minutes) an
                // idle keep-alive connection only holds about 40 KB of buffers and a
                // provider socket; for 1,000 instances heaptrack showed them as the
                // largest consumers, alive into idle. So idle connections go soon.
                .pool_idle_timeout(POOL_IDLE_TIMEOUT)
                .pool_max_idle_per_host(POOL_MAX_IDLE_PER_HOST)
                .user_agent(concat!("sluice/", env!("CARGO_PKG_VERSION")))
        };
        Ok(HttpClient {
            strict: base().dns_resolver(Arc::new(PublicOnlyResolver)).build()?,
            permissive: base().build()?,
            metrics: Arc::new(Metrics::new()),
            limits: Arc::new(RateLimits::new(limits.retry.clone())),
            tokens: Arc::new(TokenCache::default()),
            tape: None,
            config: limits,
        })
    }

    /// This client with every exchange recorded to, or answered from, `tape`. A
    /// replaying client sends nothing to the network and skips credentials and limits.
    pub fn with_tape(mut self, tape: Arc<Tape>) -> HttpClient {
        self.tape = Some(tape);
        self
    }

    /// Send a plugin's request under the instance's policy, credentials and limits.
    pub async fn send(
        &self,
        instance_id: &str,
        instance: &str,
        net: &InstanceNet,
        req: OutboundRequest,
    ) -> Result<InboundResponse, HttpFailure> {
        let url = match Url::parse(&req.url) {
            Ok(u) => u,
            Err(e) => {
                return Err(HttpFailure::InvalidRequest(format!(
                    "bad URL `{}`: {e}",
                    req.url
                )));
            }
        };
        if let Err(why) = net.policy.check(&url) {
            self.metrics.http_result(instance, "denied");
            if let Some(tape) = &self.tape {
                tape.note_denied(&req);
            }
            return Err(HttpFailure::Denied(why));
        }
        if let Some(tape) = self.tape.as_ref().filter(|t| t.is_replay()) {
            return tape.answer(&req).ok_or_else(|| {
                HttpFailure::Connection(format!(
                    "no recorded response for {} {}",
                    req.method.as_str(),
                    req.url
                ))
            });
        }
        let host = url.host_str().unwrap_or_default().to_string();
        let idempotent = matches!(
            req.method,
            Method::Get | Method::Head | Method::Put | Method::Delete
        );
        let (result, report) = self
            .limits
            .send(instance_id, &host, idempotent, || async {
                let r = self.send_authorized(instance_id, net, &url, &req).await;
                match &r {
                    Ok(resp) => {
                        self.metrics.http_result(instance, &resp.status.to_string());
                        self.metrics.http_bytes_in.inc_by(resp.body.len() as u64);
                    }
                    Err(HttpFailure::Denied(_)) => self.metrics.http_result(instance, "denied"),
                    Err(_) => self.metrics.http_result(instance, "failed"),
                }
                r
            })
            .await;
        self.metrics.limited(instance, &report);
        if let (Some(tape), Ok(response)) = (&self.tape, &result) {
            tape.write(&req, response);
        }
        result
    }

    /// The client for an instance: private addresses refused unless it allows them.
    fn client_for(&self, net: &InstanceNet) -> &reqwest::Client {
        if net.policy.allow_private {
            &self.permissive
        } else {
            &self.strict
        }
    }

    /// One attempt with the instance's credentials. For OAuth schemes: take the token
    /// from the cache (fetching it if needed); a 401 drops it and the request is sent
    /// once more with a fresh one. A token endpoint's refusal is answered to the plugin
    /// as a 401 whose `message` is the provider's (secrets redacted), which the SDK
    /// turns into `unauthorized`.
    async fn send_authorized(
        &self,
        instance_id: &str,
        net: &InstanceNet,
        url: &Url,
        req: &OutboundRequest,
    ) -> Result<InboundResponse, HttpFailure> {
        let Some(plan) = net.credentials.tokens() else {
            return self.send_once(net, url, req, None).await;
        };
        // The secrets go only where the operator granted (names are checked again
        // after resolution by the strict client).
        if let Err(why) = net.token_policy.check(plan.token_url()) {
            let url = plan.token_url();
            return Err(HttpFailure::Denied(
                if net.token_policy.destinations().is_empty() {
                    format!(
                        "token endpoint {}://{}{} is not granted to this instance; it is granted like any egress destination (`sluice instances approve` grants what the connector asks for)",
                        url.scheme(),
                        url.host_str().unwrap_or_default(),
                        url.path()
                    )
                } else {
                    format!("token endpoint: {why}")
                },
            ));
        }
        let client = self.client_for(net);
        let mut retried = false;
        loop {
            let token = match self.tokens.token(instance_id, plan, url, client).await {
                Ok(token) => token,
                Err(TokenError::Rejected(message)) => return Ok(token_refused(&message)),
                Err(TokenError::Unreachable(message)) => {
                    return Err(HttpFailure::Connection(message));
                }
            };
            let response = self.send_once(net, url, req, Some(&token.value)).await?;
            if response.status == 401 && !retried {
                retried = true;
                self.tokens.invalidate(instance_id, &token).await;
                continue;
            }
            return Ok(response);
        }
    }

    /// One attempt: headers, credentials, send, read the body under the cap.
    async fn send_once(
        &self,
        net: &InstanceNet,
        url: &Url,
        req: &OutboundRequest,
        bearer: Option<&Secret>,
    ) -> Result<InboundResponse, HttpFailure> {
        let mut headers = HeaderMap::new();
        for (name, value) in &req.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| HttpFailure::InvalidRequest(format!("bad header name `{name}`")))?;
            let value = HeaderValue::from_str(value).map_err(|_| {
                HttpFailure::InvalidRequest(format!("bad value for header `{name}`"))
            })?;
            headers.append(name, value);
        }
        for name in net.credentials.header_names() {
            headers.remove(name);
        }
        net.credentials.apply(&mut headers);
        if let Some(token) = bearer {
            let mut value =
                HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
                    HttpFailure::InvalidRequest(
                        "the token endpoint issued a token not allowed in a header".into(),
                    )
                })?;
            value.set_sensitive(true);
            headers.insert(reqwest::header::AUTHORIZATION, value);
        }

        let method = match req.method {
            Method::Get => reqwest::Method::GET,
            Method::Head => reqwest::Method::HEAD,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
        };
        let client = self.client_for(net);
        let mut builder = client.request(method, url.clone()).headers(headers);
        if let Some(body) = &req.body {
            builder = builder.body(body.clone());
        }
        let mut resp = builder.send().await.map_err(classify)?;

        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let cap = self.config.max_response_bytes;
        if resp.content_length().is_some_and(|n| n > cap) {
            return Err(HttpFailure::TooLarge(cap));
        }
        let mut body = Vec::with_capacity(resp.content_length().unwrap_or(0) as usize);
        while let Some(chunk) = resp.chunk().await.map_err(classify)? {
            if body.len() as u64 + chunk.len() as u64 > cap {
                return Err(HttpFailure::TooLarge(cap));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(InboundResponse {
            status,
            headers,
            body,
        })
    }
}

/// The answer a plugin gets when no token could be had: a 401 like the provider's own,
/// with the token endpoint's message, so the SDK reports `unauthorized(<message>)`.
fn token_refused(message: &str) -> InboundResponse {
    let body = serde_json::json!({"error": "token_request_failed", "message": message});
    InboundResponse {
        status: 401,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("x-sluice-auth".into(), "token-endpoint".into()),
        ],
        body: body.to_string().into_bytes(),
    }
}

/// Map a reqwest error to the plugin-facing failure, without leaking header values.
fn classify(e: reqwest::Error) -> HttpFailure {
    let e = e.without_url();
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(p) = s.downcast_ref::<PrivateAddress>() {
            return HttpFailure::Denied(p.to_string());
        }
        source = s.source();
    }
    if e.is_timeout() {
        HttpFailure::Timeout
    } else {
        // The chain's innermost cause says the most ("connection refused").
        let mut msg = e.to_string();
        let mut source = e.source();
        while let Some(s) = source {
            msg = s.to_string();
            source = s.source();
        }
        HttpFailure::Connection(msg)
    }
}
