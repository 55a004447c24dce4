//! Stage 4 of the outbound pipeline, the transport: reqwest with no redirects (a
//! redirect could leave the allowlist; the plugin follows a 3xx itself and that
//! request passes every stage again), a resolver that refuses names resolving to
//! private addresses unless the operator allowed them for the instance, a timeout, and
//! a cap on the response body read.

use std::error::Error as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::HeaderMap;
use url::Url;

use super::egress::ip_allowed;
use super::http::HttpLimits;
use crate::model::http::{HttpFailure, InboundResponse, Method};

/// How long a keep-alive connection may sit idle in the pool.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle connections kept per host (enough for an instance's concurrent requests).
const POOL_MAX_IDLE_PER_HOST: usize = 8;

/// The process's HTTP clients (connection pools are per process).
#[derive(Clone)]
pub(crate) struct Transport {
    /// Refuses names that resolve to private addresses.
    strict: reqwest::Client,
    /// For instances whose operator allowed private networks.
    permissive: reqwest::Client,
    /// Largest response body read.
    max_response_bytes: u64,
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

impl Transport {
    pub(crate) fn new(limits: &HttpLimits) -> anyhow::Result<Transport> {
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
        Ok(Transport {
            strict: base().dns_resolver(Arc::new(PublicOnlyResolver)).build()?,
            permissive: base().build()?,
            max_response_bytes: limits.max_response_bytes,
        })
    }

    /// The client for an instance: private addresses refused unless it allows them.
    pub(crate) fn client(&self, allow_private: bool) -> &reqwest::Client {
        if allow_private {
            &self.permissive
        } else {
            &self.strict
        }
    }

    /// Send one request with these (final) headers and read the body under the cap.
    pub(crate) async fn send(
        &self,
        allow_private: bool,
        method: Method,
        url: &Url,
        headers: HeaderMap,
        body: Option<&[u8]>,
    ) -> Result<InboundResponse, HttpFailure> {
        let method = match method {
            Method::Get => reqwest::Method::GET,
            Method::Head => reqwest::Method::HEAD,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut builder = self
            .client(allow_private)
            .request(method, url.clone())
            .headers(headers);
        if let Some(body) = body {
            builder = builder.body(body.to_vec());
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
        let cap = self.max_response_bytes;
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
