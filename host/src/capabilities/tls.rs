//! Extra certificate authorities for outbound TLS: a private CA that a self-hosted
//! provider's certificate chains to, or the root of a TLS-inspecting gateway.
//!
//! The daemon's bundle (`sluice daemon --ca-file`) is trusted for every instance, an
//! instance's own (`sluice connect --ca-file`) for that instance only; both are added
//! to the built-in roots (Mozilla's, compiled in), never in place of them.
//!
//! A bundle keeps only its certificates, re-encoded as PEM: an instance stores that
//! text (not a path, so the daemon never depends on a file staying where it was at
//! connect time), and the stored record, which the API shows, can never carry a
//! private key or whatever else the operator's file held. A file with no certificate,
//! one that does not parse, or one holding a private key is refused when it is given.

use std::sync::Arc;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use tokio_rustls::rustls::RootCertStore;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::{PemObject, SectionKind};

/// Why a CA bundle was refused. Never quotes the file (it might hold a key).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaError {
    #[error("no certificate in it (expected PEM `-----BEGIN CERTIFICATE-----` blocks)")]
    NoCertificate,
    #[error("it is not valid PEM: {0}")]
    NotPem(String),
    #[error("certificate {index} is not a usable X.509 certificate: {reason}")]
    BadCertificate { index: usize, reason: String },
    #[error(
        "it holds a private key; a CA bundle needs only the certificates (keep the key out of it)"
    )]
    HoldsPrivateKey,
}

/// Certificates to trust in addition to the built-in roots. Cheap to clone.
#[derive(Clone, PartialEq, Eq)]
pub struct CaBundle {
    /// The certificates, each as DER.
    certs: Arc<[CertificateDer<'static>]>,
    /// SHA-256 over the certificates in order: clients are shared by bundle.
    fingerprint: [u8; 32],
}

impl std::fmt::Debug for CaBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CaBundle({})", self.summary())
    }
}

impl CaBundle {
    /// Parse and check PEM text: at least one certificate, each one usable as a trust
    /// anchor, no private key. Other PEM sections (CRLs, …) are ignored.
    pub fn from_pem(pem: &str) -> Result<CaBundle, CaError> {
        let mut certs = Vec::new();
        for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(pem.as_bytes()) {
            let (kind, der) = section.map_err(|e| CaError::NotPem(e.to_string()))?;
            match kind {
                SectionKind::Certificate => certs.push(CertificateDer::from(der)),
                SectionKind::PrivateKey
                | SectionKind::RsaPrivateKey
                | SectionKind::EcPrivateKey => {
                    return Err(CaError::HoldsPrivateKey);
                }
                _ => {}
            }
        }
        if certs.is_empty() {
            return Err(CaError::NoCertificate);
        }
        // The check the TLS client makes when it is built, made now so a bad file is
        // refused when it is given, not when a request is sent.
        let mut roots = RootCertStore::empty();
        for (i, cert) in certs.iter().enumerate() {
            roots
                .add(cert.clone())
                .map_err(|e| CaError::BadCertificate {
                    index: i + 1,
                    reason: e.to_string(),
                })?;
        }
        let mut hash = Sha256::new();
        for cert in &certs {
            hash.update((cert.len() as u64).to_be_bytes());
            hash.update(cert);
        }
        Ok(CaBundle {
            certs: certs.into(),
            fingerprint: hash.finalize().into(),
        })
    }

    /// The certificates as PEM, one block each: what an instance stores.
    pub fn to_pem(&self) -> String {
        let mut out = String::new();
        for cert in self.certs.iter() {
            out.push_str("-----BEGIN CERTIFICATE-----\n");
            let b64 = base64::engine::general_purpose::STANDARD.encode(cert);
            for line in b64.as_bytes().chunks(64) {
                out.push_str(std::str::from_utf8(line).unwrap_or_default());
                out.push('\n');
            }
            out.push_str("-----END CERTIFICATE-----\n");
        }
        out
    }

    /// The certificates, DER encoded.
    pub fn certificates(&self) -> &[CertificateDer<'static>] {
        &self.certs
    }

    /// Identifies the bundle's content (equal bundles, equal fingerprints).
    pub fn fingerprint(&self) -> [u8; 32] {
        self.fingerprint
    }

    /// For people: `2 certificates, sha256 3f1a…`.
    pub fn summary(&self) -> String {
        let n = self.certs.len();
        format!(
            "{n} certificate{}, sha256 {}",
            if n == 1 { "" } else { "s" },
            &hex::encode(self.fingerprint)[..16]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_mocks::pki::TestCa;

    #[test]
    fn keeps_only_the_certificates_and_refuses_what_is_not_a_bundle() {
        let (a, b) = (TestCa::new("A"), TestCa::new("B"));
        let bundle = CaBundle::from_pem(&format!("# our CAs\n{}\n{}", a.pem(), b.pem())).unwrap();
        assert_eq!(bundle.certificates().len(), 2);
        assert!(bundle.summary().starts_with("2 certificates, sha256 "));
        // What is stored parses to the same bundle, without the comment.
        let stored = bundle.to_pem();
        assert!(!stored.contains('#'));
        assert_eq!(CaBundle::from_pem(&stored).unwrap(), bundle);
        assert_ne!(
            CaBundle::from_pem(&a.pem()).unwrap().fingerprint(),
            bundle.fingerprint()
        );

        assert_eq!(
            CaBundle::from_pem("just text\n").unwrap_err(),
            CaError::NoCertificate
        );
        let server = a.issue(&["localhost"]);
        assert_eq!(
            CaBundle::from_pem(&server.key_pem).unwrap_err(),
            CaError::HoldsPrivateKey
        );
        assert_eq!(
            CaBundle::from_pem(&format!("{}{}", server.cert_pem, server.key_pem)).unwrap_err(),
            CaError::HoldsPrivateKey
        );
        let garbage = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            CaBundle::from_pem(garbage).unwrap_err(),
            CaError::BadCertificate { index: 1, .. }
        ));
    }
}
