//! TLS on the admin API (`sluice daemon --tls-cert FILE --tls-key FILE`): the API,
//! `/metrics` and the webhooks (`/hooks/…`) are served over HTTPS on the one listener,
//! with rustls (the TLS stack reqwest already links).
//!
//! Handshakes run in their own tasks, a bounded number at once and each under a
//! deadline, so a client that connects and says nothing (or speaks plain HTTP) holds
//! up nobody else; finished connections are handed to axum through [`TlsListener`].
//! A plain-HTTP request to the TLS port fails its handshake and is closed.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::server::TlsStream;

/// How long a client may take to finish its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in progress at once; more connections wait to be accepted.
const MAX_HANDSHAKES: usize = 64;

/// The admin API's certificate and key, ready to serve.
#[derive(Clone)]
pub struct ApiTls {
    config: Arc<ServerConfig>,
}

impl std::fmt::Debug for ApiTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiTls")
    }
}

impl ApiTls {
    /// Read a PEM certificate chain (the server's certificate first, then any
    /// intermediates) and its PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub fn from_files(cert: &Path, key: &Path) -> anyhow::Result<ApiTls> {
        let cert_pem = std::fs::read(cert)
            .with_context(|| format!("reading the TLS certificate {}", cert.display()))?;
        let key_pem =
            std::fs::read(key).with_context(|| format!("reading the TLS key {}", key.display()))?;
        ApiTls::from_pem(&cert_pem, &key_pem).with_context(|| {
            format!(
                "TLS certificate {} with key {}",
                cert.display(),
                key.display()
            )
        })
    }

    /// [`ApiTls::from_files`] over the files' contents.
    pub fn from_pem(cert_pem: &[u8], key_pem: &[u8]) -> anyhow::Result<ApiTls> {
        let chain = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("the certificate file is not valid PEM: {e}"))?;
        anyhow::ensure!(
            !chain.is_empty(),
            "no certificate in the certificate file (expected PEM `-----BEGIN CERTIFICATE-----`)"
        );
        // The error would not quote the key, but say nothing of it at all.
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|_| {
            anyhow::anyhow!(
                "no private key in the key file (expected PEM `-----BEGIN PRIVATE KEY-----`, RSA or EC)"
            )
        })?;
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .context("the key does not fit the certificate, or either is unusable")?;
        // axum serves HTTP/1.1 here.
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(ApiTls {
            config: Arc::new(config),
        })
    }
}

/// A TCP listener whose connections come out TLS-terminated, for `axum::serve`.
pub(super) struct TlsListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    accepting: tokio::task::JoinHandle<()>,
}

impl TlsListener {
    pub(super) fn new(tcp: TcpListener, tls: &ApiTls) -> std::io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let acceptor = TlsAcceptor::from(tls.config.clone());
        let (done, ready) = mpsc::channel(MAX_HANDSHAKES);
        let accepting = tokio::spawn(async move {
            let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
            loop {
                let Ok(permit) = handshakes.clone().acquire_owned().await else {
                    return;
                };
                let (stream, peer) = match tcp.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // As axum's own listener: per-connection errors are the
                        // client's; others (out of file descriptors) pass with time.
                        if !matches!(
                            e.kind(),
                            std::io::ErrorKind::ConnectionRefused
                                | std::io::ErrorKind::ConnectionAborted
                                | std::io::ErrorKind::ConnectionReset
                        ) {
                            tracing::warn!("accepting an API connection: {e}");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                        continue;
                    }
                };
                let (acceptor, done) = (acceptor.clone(), done.clone());
                tokio::spawn(async move {
                    let _permit = permit;
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => {
                            let _ = done.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, "API TLS handshake failed: {e}"),
                        Err(_) => tracing::debug!(%peer, "API TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener {
            local,
            ready,
            accepting,
        })
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accept task ended (it only does when aborted): nothing more comes.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_mocks::pki::TestCa;

    #[test]
    fn a_key_and_certificate_that_do_not_fit_or_are_missing_are_refused() {
        let ca = TestCa::new("API CA");
        let (server, other) = (ca.issue(&["localhost"]), ca.issue(&["localhost"]));
        let (cert, key) = (server.cert_pem.as_bytes(), server.key_pem.as_bytes());
        assert!(ApiTls::from_pem(cert, key).is_ok());
        let mismatch = ApiTls::from_pem(cert, other.key_pem.as_bytes()).unwrap_err();
        assert!(
            format!("{mismatch:#}").contains("does not fit"),
            "{mismatch:#}"
        );
        let swapped = ApiTls::from_pem(key, cert).unwrap_err();
        assert!(
            format!("{swapped:#}").contains("no certificate"),
            "{swapped:#}"
        );
        let no_key = ApiTls::from_pem(cert, cert).unwrap_err();
        assert!(
            format!("{no_key:#}").contains("no private key"),
            "{no_key:#}"
        );
    }
}
