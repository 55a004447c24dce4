//! The plumbing every mock provider shares: a loopback listener (HTTP, or HTTPS with a
//! test certificate), an axum server that stops when its handle is dropped, a log of every request, added latency, and
//! helpers to rebuild the request's own URL for paging links.
//!
//! Providers differ in what they answer, not in how they are hosted, so each mock only
//! builds an axum `Router` and hands it to [`MockServer::start`]. Keeping the hosting in
//! one place means every mock binds only `127.0.0.1`, records requests the same way (tests
//! assert paging and "no write requests" through [`RequestRecord`]) and shuts down the
//! same way.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRequestParts, Query, Request, State};
use axum::http::header::HOST;
use axum::http::request::Parts;
use axum::middleware::{self, Next};
use axum::response::Response;
use chrono::{DateTime, Utc};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::tls::{MockTls, TlsListener};

/// A running mock HTTP server on `127.0.0.1:<ephemeral port>`.
///
/// Dropping it starts a graceful shutdown: the listener closes, idle keep-alive
/// connections are closed and requests in flight finish.
#[derive(Debug)]
pub(crate) struct MockServer {
    /// Where the server listens; tests and connectors are pointed here.
    addr: SocketAddr,
    /// `http`, or `https` when served over TLS.
    scheme: &'static str,
    /// Every request answered so far, shared with the logging middleware.
    log: RequestLog,
    /// Fires the graceful shutdown; `None` only once `Drop` has taken it.
    shutdown: Option<oneshot::Sender<()>>,
}

impl MockServer {
    /// Binds `127.0.0.1:0`, lets `build` make the provider's router now that the
    /// address is known, wraps it with request logging and `latency`, and serves it on
    /// the current tokio runtime.
    pub(crate) async fn start(
        latency: Duration,
        build: impl FnOnce(SocketAddr) -> Router,
    ) -> std::io::Result<MockServer> {
        MockServer::start_with(latency, None, build).await
    }

    /// [`MockServer::start`], over HTTPS with `tls` when given.
    pub(crate) async fn start_with(
        latency: Duration,
        tls: Option<&MockTls>,
        build: impl FnOnce(SocketAddr) -> Router,
    ) -> std::io::Result<MockServer> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let log = RequestLog::default();
        let scheme = if tls.is_some() { "https" } else { "http" };
        let hosting = Hosting {
            addr,
            scheme,
            latency,
            log: log.clone(),
        };
        let router = build(addr).layer(middleware::from_fn_with_state(hosting, host_request));
        let (shutdown, stopped) = oneshot::channel::<()>();
        // Either an explicit signal or the handle being dropped ends the server. A
        // failing accept loop only ends this mock; the test then sees refused
        // connections, which is the clearest symptom we can give it.
        let stopped = async move {
            let _ = stopped.await;
        };
        match tls {
            Some(tls) => {
                let listener = TlsListener::new(listener, tls)?;
                tokio::spawn(async move {
                    let _ = axum::serve(listener, router)
                        .with_graceful_shutdown(stopped)
                        .await;
                });
            }
            None => {
                tokio::spawn(async move {
                    let _ = axum::serve(listener, router)
                        .with_graceful_shutdown(stopped)
                        .await;
                });
            }
        }
        Ok(MockServer {
            addr,
            scheme,
            log,
            shutdown: Some(shutdown),
        })
    }

    /// The bound socket address.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` (`https://…` over TLS), without a trailing slash.
    pub(crate) fn base_url(&self) -> String {
        format!("{}://{}", self.scheme, self.addr)
    }

    /// The request log shared with the serving task.
    pub(crate) fn log(&self) -> &RequestLog {
        &self.log
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            // The serving task may already be gone with its runtime; nothing to stop then.
            let _ = shutdown.send(());
        }
    }
}

/// One request the mock answered, in arrival order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// HTTP method, upper case (`GET`, `DELETE`, …).
    pub method: String,
    /// Path plus query string exactly as sent, e.g. `/orgs/acme/members?per_page=2&page=3`.
    pub path_and_query: String,
    /// Status code of the response the mock sent.
    pub status: u16,
    /// When the request arrived.
    pub at: DateTime<Utc>,
}

impl RequestRecord {
    /// The path without the query string.
    pub fn path(&self) -> &str {
        self.path_and_query
            .split_once('?')
            .map_or(self.path_and_query.as_str(), |(path, _)| path)
    }

    /// The first value of query parameter `name`, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        let (_, query) = self.path_and_query.split_once('?')?;
        decode_query(query)
            .into_iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }

    /// Whether the request could change provider state (anything but GET, HEAD, OPTIONS).
    pub fn is_write(&self) -> bool {
        !matches!(self.method.as_str(), "GET" | "HEAD" | "OPTIONS")
    }
}

/// The shared, append-only list of [`RequestRecord`]s.
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestLog(Arc<Mutex<Vec<RequestRecord>>>);

impl RequestLog {
    /// A copy of every record so far.
    pub(crate) fn snapshot(&self) -> Vec<RequestRecord> {
        self.lock().clone()
    }

    /// Forgets the records so far, so a test can look at one phase alone.
    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    fn push(&self, record: RequestRecord) {
        self.lock().push(record);
    }

    fn lock(&self) -> MutexGuard<'_, Vec<RequestRecord>> {
        // A panic elsewhere while holding the lock cannot leave a Vec half-pushed.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// What the outermost middleware needs for every request.
#[derive(Debug, Clone)]
struct Hosting {
    addr: SocketAddr,
    scheme: &'static str,
    latency: Duration,
    log: RequestLog,
}

/// The bound address, put into request extensions so handlers can build absolute URLs
/// when a client sends no `Host` header.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LocalAddr(pub(crate) SocketAddr);

/// `http` or `https`, put into request extensions so links keep the client's scheme.
#[derive(Debug, Clone, Copy)]
struct ServedScheme(&'static str);

/// Outermost layer: records the request with the final status (so 401s and injected
/// faults are logged too) and delays the response by the configured latency.
async fn host_request(
    State(hosting): State<Hosting>,
    mut request: Request,
    next: Next,
) -> Response {
    let at = Utc::now();
    let method = request.method().to_string();
    let path_and_query = request.uri().path_and_query().map_or_else(
        || request.uri().path().to_owned(),
        |pq| pq.as_str().to_owned(),
    );
    request.extensions_mut().insert(LocalAddr(hosting.addr));
    request
        .extensions_mut()
        .insert(ServedScheme(hosting.scheme));
    let response = next.run(request).await;
    if !hosting.latency.is_zero() {
        tokio::time::sleep(hosting.latency).await;
    }
    hosting.log.push(RequestRecord {
        method,
        path_and_query,
        status: response.status().as_u16(),
        at,
    });
    response
}

/// The URL a request was sent to, as the client saw it, so paging links can point back
/// at the same host with the same parameters.
#[derive(Debug, Clone)]
pub(crate) struct RequestUrl {
    /// `http://host:port` from the `Host` header, else the bound address (`https`
    /// when served over TLS).
    base: String,
    /// The path as sent (not normalised: a link repeats what the client asked for).
    path: String,
    /// The raw query string, undecoded, so kept parameters are repeated byte for byte.
    raw_query: Option<String>,
    /// The decoded query parameters, in order.
    params: Vec<(String, String)>,
}

impl RequestUrl {
    /// The first value of query parameter `name`; empty values count as absent, as they
    /// do for GitHub (`before=` in its own audit-log links).
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(key, value)| key == name && !value.is_empty())
            .map(|(_, value)| value.as_str())
    }

    /// Every non-empty value of query parameter `name`, in order (Zendesk repeats
    /// `filter[created_at][]` for a window's start and end).
    pub(crate) fn params_named(&self, name: &str) -> Vec<&str> {
        self.params
            .iter()
            .filter(|(key, value)| key == name && !value.is_empty())
            .map(|(_, value)| value.as_str())
            .collect()
    }

    /// `http://host:port`, without a trailing slash.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// This request's absolute URL with every parameter named in `drop` or `append`
    /// removed and `append` added at the end, other parameters kept in order verbatim.
    pub(crate) fn with_params(&self, drop: &[&str], append: &[(&str, &str)]) -> String {
        let replaced = |key: &str| drop.contains(&key) || append.iter().any(|(k, _)| *k == key);
        let mut pairs: Vec<String> = self
            .raw_query
            .as_deref()
            .unwrap_or_default()
            .split('&')
            .filter(|pair| !pair.is_empty())
            .filter(|pair| !replaced(pair.split_once('=').map_or(*pair, |(key, _)| key)))
            .map(str::to_owned)
            .collect();
        pairs.extend(append.iter().map(|(key, value)| format!("{key}={value}")));
        if pairs.is_empty() {
            format!("{}{}", self.base, self.path)
        } else {
            format!("{}{}?{}", self.base, self.path, pairs.join("&"))
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestUrl {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let host = parts
            .headers
            .get(HOST)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
            .or_else(|| parts.uri.authority().map(|authority| authority.to_string()))
            .or_else(|| {
                parts
                    .extensions
                    .get::<LocalAddr>()
                    .map(|LocalAddr(addr)| addr.to_string())
            })
            .unwrap_or_else(|| Ipv4Addr::LOCALHOST.to_string());
        let raw_query = parts.uri.query().map(str::to_owned);
        let scheme = parts
            .extensions
            .get::<ServedScheme>()
            .map_or("http", |ServedScheme(s)| s);
        Ok(RequestUrl {
            base: format!("{scheme}://{host}"),
            path: parts.uri.path().to_owned(),
            params: decode_query(raw_query.as_deref().unwrap_or_default()),
            raw_query,
        })
    }
}

/// Decodes `a=1&b=x%20y` into pairs; undecodable input yields no pairs rather than an
/// error, the same leniency providers show towards junk parameters.
fn decode_query(query: &str) -> Vec<(String, String)> {
    let uri: axum::http::Uri = match format!("/?{query}").parse() {
        Ok(uri) => uri,
        Err(_) => return Vec::new(),
    };
    Query::<Vec<(String, String)>>::try_from_uri(&uri)
        .map(|Query(pairs)| pairs)
        .unwrap_or_default()
}
