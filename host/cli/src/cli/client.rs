//! Where a CLI command runs: in this process, or through a running daemon's API.
//!
//! sled lets one process open a data dir. When a daemon owns it, the store is locked and
//! `daemon.json` says where the daemon's API listens; the CLI then sends the same
//! operation over HTTP and gets the same types back. Either way the command prints the
//! same output and the same errors, so the operator never has to know which.

use std::time::Duration;

use anyhow::{Context as _, anyhow};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use sluice::capabilities::tls::CaBundle;
use sluice::control::{
    ActInput, ActOutput, AuditView, ConnectInput, Connected, Control, ControlError, InstanceDetail,
    InstanceLimits, InstanceSummary, LimitsView, NewToken, PluginList, ScanInput, ScanOutput,
};
use sluice::daemon::DaemonInfo;
use sluice::model::schedule::Schedule;
use sluice::model::{ConnectorInfo, Kind};
use sluice::ratelimit::{Budget, InstanceLimitConfig};
use sluice::store::tokens::TokenInfo;
use sluice::store::{AuditFilter, Instance, RecordFilter, RecordPage, Secret};

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

    async fn call<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Value>,
    ) -> anyhow::Result<T> {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(self.token.expose())
            .query(query);
        if let Some(b) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(serde_json::to_vec(&b)?);
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

    async fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.call(reqwest::Method::GET, path, &[], None).await
    }

    async fn post<T: DeserializeOwned>(&self, path: &str, body: Value) -> anyhow::Result<T> {
        self.call(reqwest::Method::POST, path, &[], Some(body))
            .await
    }

    /// `PUT` a budget, or `DELETE` it when there is none.
    async fn put_or_delete<T: DeserializeOwned>(
        &self,
        path: &str,
        budget: Option<Budget>,
    ) -> anyhow::Result<T> {
        match budget {
            Some(b) => {
                let body = serde_json::to_value(b)?;
                self.call(reqwest::Method::PUT, path, &[], Some(body)).await
            }
            None => self.call(reqwest::Method::DELETE, path, &[], None).await,
        }
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

    pub async fn connectors(&self) -> anyhow::Result<Vec<ConnectorInfo>> {
        match self {
            Backend::Local(c) => Ok(c.connectors()),
            Backend::Remote(api) => api.get("/v1/connectors").await,
        }
    }

    pub async fn plugins(&self) -> anyhow::Result<PluginList> {
        match self {
            Backend::Local(c) => Ok(c.plugins()),
            Backend::Remote(api) => api.get("/v1/plugins").await,
        }
    }

    pub async fn instances(&self) -> anyhow::Result<Vec<InstanceSummary>> {
        match self {
            Backend::Local(c) => Ok(c.instances()?),
            Backend::Remote(api) => api.get("/v1/instances").await,
        }
    }

    pub async fn instance(&self, name: &str) -> anyhow::Result<InstanceDetail> {
        match self {
            Backend::Local(c) => Ok(c.instance(name).await?),
            Backend::Remote(api) => api.get(&format!("/v1/instances/{}", seg(name))).await,
        }
    }

    pub async fn connect(&self, input: ConnectInput) -> anyhow::Result<Connected> {
        match self {
            Backend::Local(c) => Ok(c.connect(input).await?),
            Backend::Remote(api) => {
                // Secrets have no Serialize on purpose; this is the one place they are
                // written out, to the daemon over loopback.
                let secrets: serde_json::Map<String, Value> = input
                    .secrets
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.expose().to_string())))
                    .collect();
                let body = json!({
                    "connector": input.connector,
                    "name": input.name,
                    "config": input.config,
                    "secrets": secrets,
                    "allow_private_network": input.allow_private_network,
                    "ca_pem": input.ca_pem,
                    "schedule": input.schedule,
                    "limits": input.limits,
                    "pin": input.pin,
                    "grants": input.grants,
                });
                api.post("/v1/instances", body).await
            }
        }
    }

    pub async fn disable(&self, name: &str) -> anyhow::Result<Instance> {
        match self {
            Backend::Local(c) => Ok(c.disable(name).await?),
            Backend::Remote(api) => {
                api.post(&format!("/v1/instances/{}/disable", seg(name)), json!({}))
                    .await
            }
        }
    }

    pub async fn enable(&self, name: &str) -> anyhow::Result<Instance> {
        match self {
            Backend::Local(c) => Ok(c.enable(name).await?),
            Backend::Remote(api) => {
                api.post(&format!("/v1/instances/{}/enable", seg(name)), json!({}))
                    .await
            }
        }
    }

    pub async fn remove(&self, name: &str) -> anyhow::Result<Instance> {
        match self {
            Backend::Local(c) => Ok(c.remove(name).await?),
            Backend::Remote(api) => {
                api.call(
                    reqwest::Method::DELETE,
                    &format!("/v1/instances/{}", seg(name)),
                    &[],
                    None,
                )
                .await
            }
        }
    }

    pub async fn approve(&self, name: &str) -> anyhow::Result<Instance> {
        match self {
            Backend::Local(c) => Ok(c.approve(name).await?),
            Backend::Remote(api) => {
                api.post(&format!("/v1/instances/{}/approve", seg(name)), json!({}))
                    .await
            }
        }
    }

    pub async fn pin(&self, name: &str, version: Option<&str>) -> anyhow::Result<Instance> {
        match self {
            Backend::Local(c) => Ok(c.pin(name, version).await?),
            Backend::Remote(api) => {
                api.call(
                    reqwest::Method::PUT,
                    &format!("/v1/instances/{}/pin", seg(name)),
                    &[],
                    Some(json!({ "version": version })),
                )
                .await
            }
        }
    }

    pub async fn set_schedule(&self, name: &str, schedule: Schedule) -> anyhow::Result<Instance> {
        match self {
            Backend::Local(c) => Ok(c.set_schedule(name, schedule).await?),
            Backend::Remote(api) => {
                api.call(
                    reqwest::Method::PUT,
                    &format!("/v1/instances/{}/schedule", seg(name)),
                    &[],
                    Some(serde_json::to_value(&schedule)?),
                )
                .await
            }
        }
    }

    pub async fn scan(&self, name: &str, input: ScanInput) -> anyhow::Result<ScanOutput> {
        match self {
            Backend::Local(c) => Ok(c.scan(name, input).await?),
            Backend::Remote(api) => {
                api.post(
                    &format!("/v1/instances/{}/scan", seg(name)),
                    serde_json::to_value(&input)?,
                )
                .await
            }
        }
    }

    pub async fn limits(&self, name: Option<&str>) -> anyhow::Result<LimitsView> {
        match self {
            Backend::Local(c) => Ok(c.limits(name)?),
            Backend::Remote(api) => {
                let q: Vec<(&str, String)> = name
                    .map(|n| ("instance", n.to_string()))
                    .into_iter()
                    .collect();
                api.call(reqwest::Method::GET, "/v1/limits", &q, None).await
            }
        }
    }

    pub async fn set_instance_limits(
        &self,
        name: &str,
        limits: &InstanceLimitConfig,
    ) -> anyhow::Result<InstanceLimits> {
        match self {
            Backend::Local(c) => Ok(c.set_instance_limits(name, limits.clone())?),
            Backend::Remote(api) => {
                api.call(
                    reqwest::Method::PUT,
                    &format!("/v1/instances/{}/limits", seg(name)),
                    &[],
                    Some(serde_json::to_value(limits)?),
                )
                .await
            }
        }
    }

    /// Set or (with `None`) remove a shared scope's budget.
    pub async fn set_scope_limit(
        &self,
        scope: &str,
        budget: Option<Budget>,
    ) -> anyhow::Result<LimitsView> {
        match self {
            Backend::Local(c) => Ok(c.set_scope_limit(scope, budget)?),
            Backend::Remote(api) => {
                api.put_or_delete(&format!("/v1/limits/scopes/{}", seg(scope)), budget)
                    .await
            }
        }
    }

    /// Set or (with `None`) remove an API host's budget.
    pub async fn set_host_limit(
        &self,
        host: &str,
        budget: Option<Budget>,
    ) -> anyhow::Result<LimitsView> {
        match self {
            Backend::Local(c) => Ok(c.set_host_limit(host, budget)?),
            Backend::Remote(api) => {
                api.put_or_delete(&format!("/v1/limits/hosts/{}", seg(host)), budget)
                    .await
            }
        }
    }

    pub async fn query(
        &self,
        name: &str,
        kind: Kind,
        filter: &RecordFilter,
        cursor: Option<&str>,
        limit: Option<usize>,
    ) -> anyhow::Result<RecordPage> {
        match self {
            Backend::Local(c) => Ok(c.query(name, kind, filter, cursor, limit)?),
            Backend::Remote(api) => {
                let mut q: Vec<(&str, String)> = Vec::new();
                let opt = |q: &mut Vec<(&str, String)>, k, v: &Option<String>| {
                    if let Some(v) = v {
                        q.push((k, v.clone()));
                    }
                };
                if let Some(s) = filter.since {
                    q.push(("since", s.to_string()));
                }
                if let Some(u) = filter.until {
                    q.push(("until", u.to_string()));
                }
                opt(&mut q, "actor", &filter.actor);
                opt(&mut q, "kind", &filter.kind);
                opt(&mut q, "status", &filter.status);
                opt(&mut q, "q", &filter.q);
                if filter.include_deleted {
                    q.push(("deleted", "true".into()));
                }
                opt(&mut q, "cursor", &cursor.map(String::from));
                if let Some(l) = limit {
                    q.push(("limit", l.to_string()));
                }
                api.call(
                    reqwest::Method::GET,
                    &format!("/v1/instances/{}/{kind}", seg(name)),
                    &q,
                    None,
                )
                .await
            }
        }
    }

    /// Run or preview a governance action. Without a daemon it is audited as
    /// `local:USER`; through the daemon, under the token's name.
    pub async fn act(&self, name: &str, input: ActInput) -> anyhow::Result<ActOutput> {
        match self {
            Backend::Local(c) => Ok(c.act(name, input, &local_user()).await?),
            Backend::Remote(api) => {
                api.post(
                    &format!("/v1/instances/{}/actions", seg(name)),
                    serde_json::to_value(input)?,
                )
                .await
            }
        }
    }

    pub async fn audit(&self, filter: &AuditFilter, verify: bool) -> anyhow::Result<AuditView> {
        match self {
            Backend::Local(c) => Ok(c.audit(filter, verify)?),
            Backend::Remote(api) => {
                let mut q: Vec<(&str, String)> = Vec::new();
                if let Some(i) = &filter.instance {
                    q.push(("instance", i.clone()));
                }
                if let Some(l) = filter.limit {
                    q.push(("limit", l.to_string()));
                }
                if verify {
                    q.push(("verify", "true".into()));
                }
                api.call(reqwest::Method::GET, "/v1/audit", &q, None).await
            }
        }
    }

    pub async fn create_token(&self, name: &str) -> anyhow::Result<NewToken> {
        match self {
            Backend::Local(c) => Ok(c.create_token(name)?),
            Backend::Remote(api) => api.post("/v1/tokens", json!({ "name": name })).await,
        }
    }

    pub async fn tokens(&self) -> anyhow::Result<Vec<TokenInfo>> {
        match self {
            Backend::Local(c) => Ok(c.tokens()?),
            Backend::Remote(api) => api.get("/v1/tokens").await,
        }
    }

    pub async fn revoke_token(&self, name: &str) -> anyhow::Result<TokenInfo> {
        match self {
            Backend::Local(c) => Ok(c.revoke_token(name)?),
            Backend::Remote(api) => {
                api.call(
                    reqwest::Method::DELETE,
                    &format!("/v1/tokens/{}", seg(name)),
                    &[],
                    None,
                )
                .await
            }
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
