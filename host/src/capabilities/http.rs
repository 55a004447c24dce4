//! The `http` capability: the single choke point for a plugin's network access.
//!
//! Every request a plugin makes passes [`HttpClient::send`], a pipeline of stages in
//! this order, each in its own module:
//! 1. **egress** ([`super::egress`]): the URL must be inside the instance's
//!    [`EgressPolicy`] (what the connector asked for and the operator granted);
//! 2. **interceptors** ([`super::intercept`]): record/replay may answer here;
//! 3. **limiter** ([`RateLimits::send`]): a permit from every budget that applies,
//!    provider throttling and transient failures retried with bounded backoff, longer
//!    waits handed to the plugin as `rate-limited`; around each attempt:
//! 4. **credentials** ([`super::credentials`]): the instance's headers or OAuth token
//!    injected, the plugin's own credential headers dropped;
//! 5. **transport** ([`super::transport`]): reqwest, no redirects, private addresses
//!    refused unless allowed (also through the operator's proxy), extra CA
//!    certificates, a timeout and a body cap.
//!
//! The shared services the stages use ([`Outbound`]: metrics, budgets, tokens) belong
//! to whoever runs the process (the daemon, a CLI command) and are handed in.
//! Failures are values ([`HttpFailure`]) handed back to the plugin, never traps.

use std::sync::Arc;
use std::time::Duration;

use url::Url;

use super::credentials::send_with_credentials;
use super::egress::EgressPolicy;
use super::intercept::{Intercepted, OutboundInterceptor};
use super::tls::CaBundle;
use super::transport::{NetworkConfig, Transport};
use crate::auth::{Credentials, TokenCache};
use crate::metrics::Metrics;
use crate::ratelimit::{RateLimits, RetryPolicy};

pub use crate::model::http::{HttpFailure, InboundResponse, Method, OutboundRequest};

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
    /// CA certificates this instance trusts besides the built-in roots and the
    /// process's (`connect --ca-file`).
    pub ca: Option<CaBundle>,
}

/// The services every instance's requests share, owned by the process that runs
/// them: it keeps a clone to read metrics, configure budgets and forget instances.
#[derive(Clone, Debug)]
pub struct Outbound {
    /// Process-wide counters; the daemon exports them at `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Every instance's, shared scope's and host's request budget.
    pub limits: Arc<RateLimits>,
    /// Every instance's OAuth tokens, kept across calls and scans.
    pub tokens: Arc<TokenCache>,
}

impl Outbound {
    /// Fresh services; throttled and failed requests are retried per `retry`.
    pub fn new(retry: &RetryPolicy) -> Outbound {
        Outbound {
            metrics: Arc::new(Metrics::new()),
            limits: Arc::new(RateLimits::new(retry.clone())),
            tokens: Arc::new(TokenCache::default()),
        }
    }
}

/// The pipeline, shared by all instances. Cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    transport: Transport,
    outbound: Outbound,
    /// Record/replay, when a command asked for it.
    interceptor: Option<Arc<dyn OutboundInterceptor>>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("intercepted", &self.interceptor.is_some())
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A pipeline over the process's shared `outbound` services, direct to the
    /// providers with the built-in CA roots.
    pub fn new(limits: HttpLimits, outbound: Outbound) -> anyhow::Result<HttpClient> {
        HttpClient::with_network(limits, NetworkConfig::default(), outbound)
    }

    /// A pipeline that reaches providers as `network` says (extra CA certificates, a
    /// proxy); fails if those cannot be used.
    pub fn with_network(
        limits: HttpLimits,
        network: NetworkConfig,
        outbound: Outbound,
    ) -> anyhow::Result<HttpClient> {
        Ok(HttpClient {
            transport: Transport::new(&limits, network)?,
            outbound,
            interceptor: None,
        })
    }

    /// This pipeline with `interceptor` after the egress stage (record, replay).
    pub fn intercepted(mut self, interceptor: Arc<dyn OutboundInterceptor>) -> HttpClient {
        self.interceptor = Some(interceptor);
        self
    }

    /// The shared services the stages use.
    pub fn outbound(&self) -> &Outbound {
        &self.outbound
    }

    /// Send a plugin's request through every stage (see the module docs).
    #[tracing::instrument(name = "request", level = "debug", skip_all, fields(
        instance = instance,
        method = req.method.as_str(),
        host = tracing::field::Empty,
        status = tracing::field::Empty,
    ))]
    pub async fn send(
        &self,
        instance_id: &str,
        instance: &str,
        net: &InstanceNet,
        req: OutboundRequest,
    ) -> Result<InboundResponse, HttpFailure> {
        let Outbound {
            metrics,
            limits,
            tokens,
        } = &self.outbound;
        let url = Url::parse(&req.url)
            .map_err(|e| HttpFailure::InvalidRequest(format!("bad URL `{}`: {e}", req.url)))?;
        let span = tracing::Span::current();
        span.record("host", url.host_str().unwrap_or_default());
        // 1. egress
        if let Err(why) = net.policy.check(&url) {
            metrics.http_result(instance, "denied");
            if let Some(interceptor) = &self.interceptor {
                interceptor.denied(&req);
            }
            return Err(HttpFailure::Denied(why));
        }
        // 2. interceptors
        if let Some(interceptor) = &self.interceptor
            && let Intercepted::Answer(answer) = interceptor.intercept(&req)
        {
            return answer;
        }
        // 3. limiter, around 4. credentials and 5. transport
        let host = url.host_str().unwrap_or_default().to_string();
        let idempotent = matches!(
            req.method,
            Method::Get | Method::Head | Method::Put | Method::Delete
        );
        let (result, report) = limits
            .send(instance_id, &host, idempotent, || async {
                let r =
                    send_with_credentials(&self.transport, tokens, instance_id, net, &url, &req)
                        .await;
                match &r {
                    Ok(resp) => {
                        metrics.http_result(instance, &resp.status.to_string());
                        metrics.http_bytes_in.inc_by(resp.body.len() as u64);
                    }
                    Err(HttpFailure::Denied(_)) => metrics.http_result(instance, "denied"),
                    Err(_) => metrics.http_result(instance, "failed"),
                }
                r
            })
            .await;
        metrics.limited(instance, &report);
        match &result {
            Ok(response) => span.record("status", response.status),
            Err(failure) => span.record("status", tracing::field::display(failure)),
        };
        if let (Some(interceptor), Ok(response)) = (&self.interceptor, &result) {
            interceptor.completed(&req, response);
        }
        result
    }
}
