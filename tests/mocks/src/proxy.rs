//! A forward HTTP proxy on loopback, as a corporate egress proxy: it takes
//! absolute-form requests (`GET http://host:port/path HTTP/1.1`) and `CONNECT
//! host:port` tunnels, checks `Proxy-Authorization` when it has credentials, and
//! logs every request it is asked for, so tests can tell what reached it.
//!
//! Like a real proxy it resolves the names it is asked for itself: from its routes,
//! `host:port` → address (the test's stand-in for DNS; the mocks all live on
//! loopback), and it refuses anything else with 502. A forwarded request carries
//! `Connection: close` so each client connection holds one request and the log stays
//! exact.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Longest request head read (request line and headers).
const MAX_HEAD: usize = 64 * 1024;
/// How long a client may take to send its request head.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// What the proxy accepts and where it sends it.
#[derive(Debug, Clone, Default)]
pub struct ForwardProxyConfig {
    /// `(user, password)` the client must send as Basic `Proxy-Authorization`; no
    /// check when `None`.
    pub credentials: Option<(String, String)>,
    /// `host:port` (lowercase, as in the request) → where the proxy connects.
    pub routes: BTreeMap<String, SocketAddr>,
    /// Pass `Proxy-Authorization` on to the provider, as a misconfigured proxy might
    /// (so a reflecting provider could show it to the connector).
    pub forwards_credentials: bool,
}

/// One request the proxy was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxiedRequest {
    /// `GET`, `CONNECT`, …
    pub method: String,
    /// The request target: an absolute URL, or `host:port` for `CONNECT`.
    pub target: String,
    /// The client's `Proxy-Authorization`, verbatim.
    pub proxy_authorization: Option<String>,
    /// The status the proxy answered itself (407, 502), or `None` when it forwarded.
    pub refused: Option<u16>,
}

/// A running forward proxy; stops when dropped.
#[derive(Debug)]
pub struct ForwardProxy {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<ProxiedRequest>>>,
    accepting: JoinHandle<()>,
}

impl Drop for ForwardProxy {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

impl ForwardProxy {
    /// Binds `127.0.0.1:0` and serves on the current tokio runtime.
    pub async fn start(config: ForwardProxyConfig) -> std::io::Result<ForwardProxy> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let log: Arc<Mutex<Vec<ProxiedRequest>>> = Arc::default();
        let config = Arc::new(config);
        let shared = log.clone();
        let accepting = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (config, log) = (config.clone(), shared.clone());
                tokio::spawn(async move {
                    let _ = handle(client, &config, &log).await;
                });
            }
        });
        Ok(ForwardProxy {
            addr,
            log,
            accepting,
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://USER:PASSWORD@127.0.0.1:PORT`.
    pub fn url_with(&self, user: &str, password: &str) -> String {
        format!("http://{user}:{password}@{}", self.addr)
    }

    /// Every request asked for so far, in arrival order.
    pub fn requests(&self) -> Vec<ProxiedRequest> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// The request head: request line, headers, and body bytes read past it.
struct Head {
    method: String,
    target: String,
    version: String,
    headers: Vec<(String, String)>,
    rest: Vec<u8>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

async fn read_head(client: &mut TcpStream) -> std::io::Result<Option<Head>> {
    let mut buf = Vec::with_capacity(4096);
    let end = loop {
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        if buf.len() > MAX_HEAD {
            return Ok(None);
        }
        let mut chunk = [0u8; 4096];
        let n = client.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let text = String::from_utf8_lossy(&buf[..end]).into_owned();
    let mut lines = text.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let (Some(method), Some(target), Some(version)) = (
        request_line.next(),
        request_line.next(),
        request_line.next(),
    ) else {
        return Ok(None);
    };
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Ok(Some(Head {
        method: method.to_string(),
        target: target.to_string(),
        version: version.to_string(),
        headers,
        rest: buf[end + 4..].to_vec(),
    }))
}

async fn answer(client: &mut TcpStream, status: u16, reason: &str, extra: &str) {
    let body = format!("mock proxy: {status} {reason}\n");
    let _ = client
        .write_all(
            format!(
                "HTTP/1.1 {status} {reason}\r\n{extra}content-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .await;
    let _ = client.shutdown().await;
}

async fn handle(
    mut client: TcpStream,
    config: &ForwardProxyConfig,
    log: &Mutex<Vec<ProxiedRequest>>,
) -> std::io::Result<()> {
    let Some(head) = tokio::time::timeout(HEAD_TIMEOUT, read_head(&mut client))
        .await
        .map_err(|_| std::io::ErrorKind::TimedOut)??
    else {
        return Ok(());
    };
    let authorization = head.header("proxy-authorization").map(str::to_string);
    let connect = head.method.eq_ignore_ascii_case("CONNECT");
    let authority = if connect {
        Some(head.target.to_ascii_lowercase())
    } else {
        head.target
            .strip_prefix("http://")
            .and_then(|rest| rest.split('/').next())
            .map(|a| {
                let a = a.to_ascii_lowercase();
                if a.contains(':') {
                    a
                } else {
                    format!("{a}:80")
                }
            })
    };
    let authorized = match &config.credentials {
        None => true,
        Some((user, password)) => {
            let expected = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            );
            authorization.as_deref() == Some(expected.as_str())
        }
    };
    let backend = authority
        .as_ref()
        .and_then(|a| config.routes.get(a))
        .copied();
    let refused = match (authorized, backend) {
        (false, _) => Some(407),
        (true, None) => Some(502),
        (true, Some(_)) => None,
    };
    log.lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(ProxiedRequest {
            method: head.method.clone(),
            target: head.target.clone(),
            proxy_authorization: authorization,
            refused,
        });
    let backend = match (refused, backend) {
        (Some(407), _) => {
            answer(
                &mut client,
                407,
                "Proxy Authentication Required",
                "proxy-authenticate: Basic realm=\"mock\"\r\n",
            )
            .await;
            return Ok(());
        }
        (_, Some(backend)) => backend,
        _ => {
            answer(&mut client, 502, "Bad Gateway", "").await;
            return Ok(());
        }
    };
    let Ok(mut upstream) = TcpStream::connect(backend).await else {
        answer(&mut client, 502, "Bad Gateway", "").await;
        return Ok(());
    };
    if connect {
        client
            .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            .await?;
        upstream.write_all(&head.rest).await?;
        tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
        return Ok(());
    }
    // Origin-form to the provider, without the proxy's own headers.
    let path = head.target["http://".len()..]
        .find('/')
        .map_or("/".to_string(), |at| {
            head.target["http://".len() + at..].to_string()
        });
    let mut forwarded = format!("{} {path} {}\r\n", head.method, head.version);
    for (name, value) in &head.headers {
        let lower = name.to_ascii_lowercase();
        let forwarded_credentials = config.forwards_credentials && lower == "proxy-authorization";
        if (lower.starts_with("proxy-") && !forwarded_credentials) || lower == "connection" {
            continue;
        }
        forwarded.push_str(&format!("{name}: {value}\r\n"));
    }
    forwarded.push_str("connection: close\r\n\r\n");
    upstream.write_all(forwarded.as_bytes()).await?;
    upstream.write_all(&head.rest).await?;
    let (mut client_read, mut client_write) = client.split();
    let (mut upstream_read, mut upstream_write) = upstream.split();
    // The provider closes after its answer; the request body, if any, flows until then.
    tokio::select! {
        _ = tokio::io::copy(&mut upstream_read, &mut client_write) => {}
        _ = async {
            let _ = tokio::io::copy(&mut client_read, &mut upstream_write).await;
            std::future::pending::<()>().await
        } => {}
    }
    let _ = client_write.shutdown().await;
    Ok(())
}
