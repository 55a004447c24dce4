//! Stage 5 of the outbound pipeline, the transport: reqwest with no redirects (a
//! redirect could leave the allowlist; the plugin follows a 3xx itself and that
//! request passes every stage again), private addresses refused unless the operator
//! allowed them for the instance, a timeout, and a cap on the response body read.
//!
//! What the operator configures for the whole process ([`NetworkConfig`]): extra CA
//! certificates and an outbound proxy; per instance: its own extra CA certificates and
//! whether it may reach private networks. One reqwest client is kept per combination
//! in use, so instances with the same settings share a connection pool.
//!
//! How private addresses are kept out:
//! - **direct**: the client's resolver drops private, loopback and link-local
//!   addresses of every name it resolves (which also defeats DNS rebinding: the
//!   address checked is the address connected to);
//! - **through a proxy**: the proxy resolves the target's name, so the host resolves
//!   it first and refuses the request if *any* address is private (the proxy might
//!   pick that one). The remaining gap: the proxy resolves again, later, and may get
//!   another answer (a name whose owner switches it to an internal address between the
//!   two lookups gets through); the proxy's own egress rules are the second line.
//!   The proxy's own address is the operator's choice and may be private.

use std::collections::HashMap;
use std::error::Error as _;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::HeaderMap;
use url::Url;

use super::egress::{ip_allowed, private_denied};
use super::http::{HttpLimits, InstanceNet};
use super::proxy::OutboundProxy;
use super::tls::CaBundle;
use crate::model::http::{HttpFailure, InboundResponse, Method};

/// How long a keep-alive connection may sit idle in the pool.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle connections kept per host (enough for an instance's concurrent requests).
const POOL_MAX_IDLE_PER_HOST: usize = 8;

/// Looks up a host name's addresses, for the private-address checks.
pub trait NameLookup: Send + Sync {
    fn lookup<'a>(
        &'a self,
        host: &'a str,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send + 'a>>;
}

/// The system resolver (`getaddrinfo`, on tokio's blocking pool).
#[derive(Clone, Copy, Debug)]
pub struct SystemLookup;

impl NameLookup for SystemLookup {
    fn lookup<'a>(
        &'a self,
        host: &'a str,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send + 'a>> {
        Box::pin(async move {
            Ok(tokio::net::lookup_host((host, 0))
                .await?
                .map(|a| a.ip())
                .collect())
        })
    }
}

/// How the process reaches providers, for every instance.
#[derive(Clone, Default)]
pub struct NetworkConfig {
    /// CA certificates every instance trusts besides the built-in roots (daemon
    /// `--ca-file`).
    pub ca: Option<CaBundle>,
    /// Send every request through this proxy (daemon `--proxy`).
    pub proxy: Option<OutboundProxy>,
    /// Where names are looked up for the private-address checks: the system resolver
    /// when `None`. Tests answer for names of their own here.
    pub lookup: Option<Arc<dyn NameLookup>>,
}

impl std::fmt::Debug for NetworkConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetworkConfig")
            .field("ca", &self.ca)
            .field("proxy", &self.proxy)
            .field("lookup", &self.lookup.as_ref().map(|_| "custom"))
            .finish()
    }
}

/// What makes two instances' clients differ (the process-wide settings are fixed).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ClientKey {
    /// Whether the client's resolver lets private addresses through.
    allow_private: bool,
    /// The instance's own CA bundle, by content.
    ca: Option<[u8; 32]>,
}

/// The process's HTTP clients (connection pools are per process). Cheap to clone.
#[derive(Clone)]
pub(crate) struct Transport {
    network: Arc<NetworkConfig>,
    lookup: Arc<dyn NameLookup>,
    timeout: Duration,
    /// Largest response body read.
    max_response_bytes: u64,
    /// The proxy's credentials as they travel, for redaction (see [`Transport::secrets`]).
    proxy_secrets: Arc<[String]>,
    /// One client per [`ClientKey`] seen so far.
    clients: Arc<Mutex<HashMap<ClientKey, reqwest::Client>>>,
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

/// The client's resolver: names through [`NameLookup`], private addresses dropped
/// unless allowed.
struct CheckedResolver {
    lookup: Arc<dyn NameLookup>,
    allow_private: bool,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let lookup = self.lookup.clone();
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> = lookup
                .lookup(&host)
                .await?
                .into_iter()
                .filter(|ip| ip_allowed(*ip, allow_private))
                .map(|ip| SocketAddr::new(ip, 0))
                .collect();
            if addrs.is_empty() {
                return Err(if allow_private {
                    format!("{host} has no address").into()
                } else {
                    Box::new(PrivateAddress(host)) as Box<dyn std::error::Error + Send + Sync>
                });
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

impl Transport {
    /// The transport for `network`; fails if its CA bundle or proxy cannot be used.
    pub(crate) fn new(limits: &HttpLimits, network: NetworkConfig) -> anyhow::Result<Transport> {
        let proxy_secrets = match network.proxy.as_ref().and_then(|p| p.credentials()) {
            Some((user, password)) => vec![
                password.to_string(),
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")),
            ],
            None => Vec::new(),
        };
        let transport = Transport {
            proxy_secrets: proxy_secrets.into(),
            lookup: network
                .lookup
                .clone()
                .unwrap_or_else(|| Arc::new(SystemLookup)),
            network: Arc::new(network),
            timeout: limits.timeout,
            max_response_bytes: limits.max_response_bytes,
            clients: Arc::default(),
        };
        // Built now so a bad setting stops the process at start, not at a request.
        for allow_private in [false, true] {
            transport.client_with(&transport.key(allow_private, None), None)?;
        }
        Ok(transport)
    }

    /// Texts the proxy's credentials travel as, to be redacted from responses (a proxy
    /// that forwards `Proxy-Authorization` to a provider that echoes it).
    pub(crate) fn secrets(&self) -> &[String] {
        &self.proxy_secrets
    }

    /// The client for a request of `net`'s instance to `url`, once the checks the
    /// client cannot make itself passed: through a proxy, that `url`'s host has no
    /// private address (unless the instance allows private networks).
    pub(crate) async fn client_for(
        &self,
        net: &InstanceNet,
        url: &Url,
    ) -> Result<reqwest::Client, HttpFailure> {
        let allow_private = net.policy.allow_private;
        if self.network.proxy.is_some() && !allow_private {
            self.check_before_proxy(url).await?;
        }
        self.client_with(&self.key(allow_private, net.ca.as_ref()), net.ca.as_ref())
            .map_err(|e| HttpFailure::Connection(format!("TLS setup: {}", innermost(&e))))
    }

    /// Which client an instance with these settings uses.
    fn key(&self, allow_private: bool, ca: Option<&CaBundle>) -> ClientKey {
        ClientKey {
            // Through a proxy the client resolves only the proxy's name, which is the
            // operator's: one client serves both kinds of instances.
            allow_private: allow_private && self.network.proxy.is_none(),
            ca: ca.map(CaBundle::fingerprint),
        }
    }

    /// Resolve `url`'s host and refuse it if any address is private.
    async fn check_before_proxy(&self, url: &Url) -> Result<(), HttpFailure> {
        let host = match url.host() {
            Some(url::Host::Domain(name)) => name,
            Some(url::Host::Ipv4(ip)) => return check_ip(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => return check_ip(IpAddr::V6(ip)),
            None => return Err(HttpFailure::InvalidRequest(format!("{url} has no host"))),
        };
        let addrs = self.lookup.lookup(host).await.map_err(|e| {
            HttpFailure::Connection(format!(
                "cannot resolve {host} to check its addresses before sending it to the proxy: {e}"
            ))
        })?;
        if addrs.is_empty() {
            return Err(HttpFailure::Connection(format!("{host} has no address")));
        }
        match addrs.into_iter().find(|ip| !ip_allowed(*ip, false)) {
            Some(ip) => Err(HttpFailure::Denied(format!(
                "{host} resolves to {ip}, a private, loopback or link-local address, and the proxy might connect to it; connect with --allow-private-network to allow it"
            ))),
            None => Ok(()),
        }
    }

    /// The cached client for `key`, built with `instance_ca` (whose fingerprint is in
    /// the key) on first use.
    fn client_with(
        &self,
        key: &ClientKey,
        instance_ca: Option<&CaBundle>,
    ) -> Result<reqwest::Client, reqwest::Error> {
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(client) = clients.get(key) {
            return Ok(client.clone());
        }
        let client = self.build(key.allow_private, instance_ca)?;
        clients.insert(key.clone(), client.clone());
        Ok(client)
    }

    fn build(
        &self,
        allow_private: bool,
        instance_ca: Option<&CaBundle>,
    ) -> Result<reqwest::Client, reqwest::Error> {
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // No proxy from the environment, ever (see `proxy`).
            .no_proxy()
            .timeout(self.timeout)
            .connect_timeout(self.timeout.min(Duration::from_secs(15)))
            // A scan sends its requests back to back; between rescans (minutes) an
            // idle keep-alive connection only holds about 40 KB of buffers and a
            // provider socket; for 1,000 instances heaptrack showed them as the
            // largest consumers, alive into idle. So idle connections go soon.
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .pool_max_idle_per_host(POOL_MAX_IDLE_PER_HOST)
            .user_agent(concat!("sluice/", env!("CARGO_PKG_VERSION")));
        for bundle in [self.network.ca.as_ref(), instance_ca]
            .into_iter()
            .flatten()
        {
            for cert in bundle.certificates() {
                builder = builder.add_root_certificate(reqwest::Certificate::from_der(cert)?);
            }
        }
        let mut resolver_allows_private = allow_private;
        if let Some(proxy) = &self.network.proxy {
            let mut p = reqwest::Proxy::all(proxy.url().clone())?;
            if let Some((user, password)) = proxy.credentials() {
                p = p.basic_auth(user, password);
            }
            builder = builder.proxy(p);
            // The client resolves only the proxy's own name.
            resolver_allows_private = true;
        }
        builder
            .dns_resolver(Arc::new(CheckedResolver {
                lookup: self.lookup.clone(),
                allow_private: resolver_allows_private,
            }))
            .build()
    }

    /// Send one request with these (final) headers and read the body under the cap.
    pub(crate) async fn send(
        &self,
        net: &InstanceNet,
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
            .client_for(net, url)
            .await?
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

fn check_ip(ip: IpAddr) -> Result<(), HttpFailure> {
    if ip_allowed(ip, false) {
        Ok(())
    } else {
        Err(HttpFailure::Denied(private_denied(ip)))
    }
}

/// An error chain's innermost cause ("connection refused", "invalid peer
/// certificate: UnknownIssuer"): it says the most.
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg = s.to_string();
        source = s.source();
    }
    msg
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
        HttpFailure::Connection(innermost(&e))
    }
}

#[cfg(test)]
mod tests {
    use sluice_mocks::pki::TestCa;

    use super::*;
    use crate::capabilities::egress::EgressPolicy;

    fn net(allow_private: bool, ca: Option<&CaBundle>) -> InstanceNet {
        let mut policy = EgressPolicy::default();
        policy.allow_private = allow_private;
        InstanceNet {
            policy,
            ca: ca.cloned(),
            ..Default::default()
        }
    }

    fn clients(t: &Transport) -> usize {
        t.clients.lock().unwrap().len()
    }

    #[tokio::test]
    async fn instances_with_the_same_settings_share_one_client_and_its_pool() {
        let url = Url::parse("http://127.0.0.1:9/").unwrap();
        let (a, b) = (TestCa::new("A").pem(), TestCa::new("B").pem());
        let (a, b) = (
            CaBundle::from_pem(&a).unwrap(),
            CaBundle::from_pem(&b).unwrap(),
        );
        let direct = Transport::new(&HttpLimits::default(), NetworkConfig::default()).unwrap();
        assert_eq!(clients(&direct), 2, "strict and permissive, built at start");
        for (allow_private, ca) in [
            (false, None),
            (true, None),
            (false, Some(&a)),
            (false, Some(&a.clone())),
            (true, Some(&a)),
            (false, Some(&b)),
        ] {
            direct
                .client_for(&net(allow_private, ca), &url)
                .await
                .unwrap();
        }
        assert_eq!(
            clients(&direct),
            5,
            "one more per (private networks, CA) in use"
        );

        // Through a proxy the client only resolves the proxy: private networks or not,
        // one client per CA.
        let proxied = Transport::new(
            &HttpLimits::default(),
            NetworkConfig {
                proxy: Some(OutboundProxy::parse("http://127.0.0.1:9").unwrap()),
                ..Default::default()
            },
        )
        .unwrap();
        let public = Url::parse("http://140.82.112.3/").unwrap();
        for allow_private in [false, true] {
            proxied
                .client_for(&net(allow_private, Some(&a)), &public)
                .await
                .unwrap();
        }
        assert_eq!(clients(&proxied), 2, "the one without a CA, the one with");
    }
}
