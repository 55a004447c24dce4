//! HTTPS for the mocks: a provider behind a certificate from a private CA, as a
//! self-hosted app or a TLS-inspecting gateway presents one. Tests make the CA and
//! the certificate when they run (no key is checked in) and hand them over as
//! [`MockTls`]; the mock then serves the same routes over TLS.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::server::TlsStream;

/// How long a client may take over its handshake before the mock moves on.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// A server certificate chain and its key, PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct MockTls {
    /// The server certificate first, then any intermediates.
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for MockTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MockTls")
    }
}

impl MockTls {
    fn acceptor(&self) -> std::io::Result<TlsAcceptor> {
        let invalid = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, what);
        let chain = CertificateDer::pem_slice_iter(self.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid(format!("mock certificate: {e}")))?;
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())
            .map_err(|e| invalid(format!("mock key: {e}")))?;
        let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key))
            .map_err(|e| invalid(format!("mock TLS config: {e}")))?;
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

/// A loopback listener whose connections come out TLS-terminated, for `axum::serve`.
/// Handshakes run one at a time: a mock serves one test's client.
pub(crate) struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl TlsListener {
    pub(crate) fn new(tcp: TcpListener, tls: &MockTls) -> std::io::Result<TlsListener> {
        Ok(TlsListener {
            tcp,
            acceptor: tls.acceptor()?,
        })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (stream, peer) = match self.tcp.accept().await {
                Ok(accepted) => accepted,
                Err(_) => {
                    // Out of descriptors, say: give them time to come back.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            // A client that refuses the certificate (the point of some tests) just
            // ends its own connection.
            if let Ok(Ok(tls)) =
                tokio::time::timeout(HANDSHAKE_TIMEOUT, self.acceptor.accept(stream)).await
            {
                return (tls, peer);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}
