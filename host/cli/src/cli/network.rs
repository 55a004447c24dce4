//! The command line's network options: how the daemon (and commands that run without
//! one) reach providers, how the daemon serves its API, and how the CLI reaches a
//! daemon. Reading and checking files happens here; what the settings do is the
//! library's (`capabilities::transport`, `daemon::ApiTls`).

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::Context as _;
use clap::Args;

use sluice::capabilities::proxy::OutboundProxy;
use sluice::capabilities::tls::CaBundle;
use sluice::capabilities::transport::NetworkConfig;
use sluice::daemon::ApiTls;

/// Env vars that set the outbound options for the daemon and for commands that run
/// without one.
const PROXY_ENV: &str = "SLUICE_PROXY";
const CA_FILE_ENV: &str = "SLUICE_CA_FILE";

/// A `--proxy` value as typed: it may hold a password, so it never prints.
#[derive(Clone)]
pub struct ProxyText(String);

impl FromStr for ProxyText {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(ProxyText(s.to_string()))
    }
}

impl std::fmt::Debug for ProxyText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProxyText([redacted])")
    }
}

/// How the daemon reaches providers.
#[derive(Debug, Clone, Args)]
pub struct OutboundArgs {
    /// Send every provider and token request through this HTTP proxy, e.g.
    /// http://proxy.corp:3128 or http://USER:PASSWORD@proxy.corp:3128 (the password is
    /// sent as Proxy-Authorization and never logged). The egress grants and the
    /// private-address refusal still apply: the daemon resolves each destination
    /// itself and refuses private addresses before the proxy is asked. The proxy's
    /// own address may be private. HTTP_PROXY/HTTPS_PROXY are ignored.
    #[arg(long, value_name = "URL", env = PROXY_ENV, hide_env_values = true)]
    pub proxy: Option<ProxyText>,
    /// Trust the CA certificates in this PEM file for every instance, in addition to
    /// the built-in roots: a corporate CA, a TLS-inspecting proxy's root. (`connect
    /// --ca-file` adds certificates for one instance.)
    #[arg(long, value_name = "PEM", env = CA_FILE_ENV)]
    pub ca_file: Option<PathBuf>,
}

impl OutboundArgs {
    pub fn network(&self) -> anyhow::Result<NetworkConfig> {
        network_config(
            self.proxy.as_ref().map(|p| p.0.as_str()),
            self.ca_file.as_deref(),
        )
    }
}

/// TLS for the admin API.
#[derive(Debug, Clone, Args)]
pub struct ApiTlsArgs {
    /// Serve the admin API (and webhooks) over HTTPS with this PEM certificate chain
    /// (server certificate first). Needs --tls-key. Clients then trust its CA: the CLI
    /// with --server-ca. Alternatively keep the API on loopback behind a TLS reverse
    /// proxy (nginx, Caddy, …).
    #[arg(
        long,
        value_name = "PEM",
        env = "SLUICE_TLS_CERT",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(
        long,
        value_name = "PEM",
        env = "SLUICE_TLS_KEY",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
}

impl ApiTlsArgs {
    pub fn tls(&self) -> anyhow::Result<Option<ApiTls>> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Ok(Some(ApiTls::from_files(cert, key)?)),
            _ => Ok(None),
        }
    }
}

/// The outbound settings of a command that runs without a daemon (`connect`, `scan`):
/// the daemon's, from the same environment variables.
pub fn network_from_env() -> anyhow::Result<NetworkConfig> {
    let proxy = std::env::var(PROXY_ENV)
        .ok()
        .filter(|p| !p.trim().is_empty());
    let ca_file = std::env::var_os(CA_FILE_ENV)
        .filter(|p| !p.is_empty())
        .map(PathBuf::from);
    network_config(proxy.as_deref(), ca_file.as_deref())
}

fn network_config(proxy: Option<&str>, ca_file: Option<&Path>) -> anyhow::Result<NetworkConfig> {
    Ok(NetworkConfig {
        proxy: proxy
            .map(OutboundProxy::parse)
            .transpose()
            .with_context(|| format!("--proxy ({PROXY_ENV})"))?,
        ca: ca_file.map(read_ca_file).transpose()?,
        lookup: None,
    })
}

/// A PEM file of CA certificates, checked (see `CaBundle::from_pem`).
pub fn read_ca_file(path: &Path) -> anyhow::Result<CaBundle> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the CA file {}", path.display()))?;
    CaBundle::from_pem(&text).with_context(|| format!("the CA file {}", path.display()))
}
