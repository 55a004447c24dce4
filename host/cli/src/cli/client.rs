//! Where a CLI command runs: in this process, or through a running daemon's API.
//!
//! sled lets one process open a data dir. When a daemon owns it, the store is locked and
//! `daemon.json` says where the daemon's API listens; the CLI then sends the same
//! operation over HTTP and gets the same types back. Either way the command prints the
//! same output and the same errors, so the operator never has to know which.

use std::time::Duration;

use anyhow::{Context as _, anyhow};
use serde_json::Value;

use sluice::capabilities::tls::CaBundle;
use sluice::control::{Control, ControlError, InputFrom, Method, Operation};
use sluice::daemon::DaemonInfo;
use sluice::store::Secret;

/// The daemon's admin API, as the CLI uses it.
pub struct ApiClient {
    http: reqwest::Client,
    /// `http(s)://host:port`, no trailing slash.
    base: String,
    token: Secret,
    /// Which daemon, for errors: "the sluice daemon (pid 42) at … that owns this data dir".
    daemon: String,
}

impl ApiClient {
    /// A client of the API at `base`, trusting `ca` besides the built-in roots for an
    /// HTTPS daemon; `daemon` names it in errors.
    pub fn new(
        base: &str,
        ca: Option<&CaBundle>,
        token: Secret,
        daemon: String,
    ) -> anyhow::Result<ApiClient> {
        let mut http = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(Duration::from_secs(5));
        for cert in ca.map(CaBundle::certificates).unwrap_or_default() {
            http = http.add_root_certificate(reqwest::Certificate::from_der(cert)?);
        }
        Ok(ApiClient {
            http: http.build()?,
            base: base.trim_end_matches('/').to_string(),
            token,
            daemon,
        })
    }

    /// The client of the daemon that wrote `info` (it owns the data dir).
    pub fn of_daemon(
        info: &DaemonInfo,
        ca: Option<&CaBundle>,
        token: Secret,
    ) -> anyhow::Result<ApiClient> {
        let base = info.api_url();
        let daemon = format!(
            "the sluice daemon (pid {}) at {base} that owns this data dir",
            info.pid
        );
        ApiClient::new(&base, ca, token, daemon)
    }

    /// Send operation `O` to the daemon: its parameters into the path, its input as
    /// the query string or JSON body, and its answer (or error) back.
    pub async fn call<O: Operation>(
        &self,
        params: &O::Params,
        input: &O::Input,
    ) -> anyhow::Result<O::Output> {
        let mut path = O::PATH.to_string();
        if let Value::Object(values) = serde_json::to_value(params)? {
            for (name, value) in values {
                let value = value.as_str().unwrap_or_default();
                path = path.replace(&format!("{{{name}}}"), &seg(value));
            }
        }
        let method = match O::METHOD {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(self.token.expose());
        match O::INPUT {
            InputFrom::Nothing => {}
            InputFrom::Query => req = req.query(input),
            InputFrom::Json | InputFrom::JsonOrEmpty => {
                req = req
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(serde_json::to_vec(input)?);
            }
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("cannot reach {}", self.daemon))?;
        let status = resp.status();
        let bytes = resp.bytes().await.context("reading the daemon's answer")?;
        if !status.is_success() {
            let error = serde_json::from_slice::<Value>(&bytes).unwrap_or_default();
            let message = error["error"]["message"]
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| format!("daemon answered {status}"));
            // The one answer the CLI acts on (it may ask and connect again).
            if error["error"]["code"] == "grants-required" {
                return Err(ControlError::GrantsRequired(message).into());
            }
            return Err(anyhow!(message));
        }
        serde_json::from_slice(&bytes).context("the daemon's answer is not what this CLI expects")
    }
}

/// Instance names are restricted to URL-safe characters by `connect`, but a mistyped
/// name may not be; encode it so the daemon answers "unknown instance".
fn seg(name: &str) -> String {
    url::form_urlencoded::byte_serialize(name.as_bytes()).collect()
}

/// The CLI's view of sluice: local or through the daemon.
pub enum Backend {
    Local(Control),
    Remote(ApiClient),
}

impl Backend {
    pub fn is_remote(&self) -> bool {
        matches!(self, Backend::Remote(_))
    }

    /// Run operation `O`: on the data dir in this process, or through the daemon.
    /// Without a daemon an action is audited as `local:USER`; through the daemon,
    /// under the token's name.
    pub async fn call<O: Operation>(
        &self,
        params: O::Params,
        input: O::Input,
    ) -> anyhow::Result<O::Output> {
        match self {
            Backend::Local(c) => Ok(O::run(c, &local_user(), params, input).await?),
            Backend::Remote(api) => api.call::<O>(&params, &input).await,
        }
    }
}

/// Who the audit log names for a command run without a daemon.
pub fn local_user() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("local:{user}")
}
