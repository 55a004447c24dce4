//! Connecting an app instance: validating the operator's config against what the
//! connector declares, checking the connection, and saving the instance.
//!
//! Also builds the [`CallContext`] for an instance (egress policy and credentials from
//! its config and secrets, narrowed to the operator's grants), used by every later call.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::auth::Credentials;
use crate::capabilities::egress::EgressPolicy;
use crate::capabilities::http::InstanceNet;
use crate::grants::{GrantError, GrantRequest, Grants};
use crate::model::{ConnectorError, ConnectorInfo, Permissions, now_millis};
use crate::registry::Registry;
use crate::runtime::{CallContext, LoadedPlugin};
use crate::store::{Instance, InstanceStatus, Secret, Secrets, Store, StoreError, new_instance_id};

/// What the operator asked for.
#[derive(Clone, Debug, Default)]
pub struct ConnectRequest {
    pub connector: String,
    pub name: String,
    pub config: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, Secret>,
    pub allow_private_network: bool,
    /// Rescan intervals (defaults for kinds not listed).
    pub schedule: crate::scheduler::Schedule,
    /// Operator's rate-limit settings.
    pub limits: crate::ratelimit::InstanceLimitConfig,
    /// Pin the instance to this connector version (default: follow the newest).
    pub pin: Option<String>,
    /// What the operator grants of the egress destinations and actions the connector
    /// asks for; a side the connector asks for must be decided.
    pub grants: GrantRequest,
}

/// Why connecting failed. Nothing was saved.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("unknown connector `{id}` (loaded: {})", if .known.is_empty() { "none — is the plugins dir right?".to_string() } else { .known.join(", ") })]
    UnknownConnector { id: String, known: Vec<String> },
    #[error("invalid instance name `{0}`: use letters, digits, `-`, `_` or `.`, at most 64")]
    BadName(String),
    #[error("{0}")]
    InvalidConfig(String),
    #[error("connection check failed: {0}")]
    Check(ConnectorError),
    /// The connector asks for egress or actions the request does not grant (or the
    /// grants are malformed). Checked before any request is made.
    #[error(transparent)]
    Grants(#[from] GrantError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn field_hint(f: &crate::model::ConfigField) -> String {
    match &f.example {
        Some(ex) => format!("`{}` ({}, e.g. {ex})", f.name, f.label),
        None => format!("`{}` ({})", f.name, f.label),
    }
}

/// Check the operator's config and secrets against the connector's declared fields;
/// returns the config with defaults applied.
pub fn validate_config(
    info: &ConnectorInfo,
    config: &BTreeMap<String, String>,
    secrets: &BTreeMap<String, Secret>,
) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (k, v) in config {
        match info.config.iter().find(|f| &f.name == k) {
            None => {
                return Err(format!(
                    "unknown config field `{k}` for connector `{}` (fields: {})",
                    info.id,
                    info.config
                        .iter()
                        .map(|f| f.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            Some(f) if f.secret => {
                return Err(format!(
                    "`{k}` is a secret: pass it with --secret {k}=… so it is stored encrypted"
                ));
            }
            Some(_) => {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    for k in secrets.keys() {
        match info.config.iter().find(|f| &f.name == k) {
            None => return Err(format!("unknown secret `{k}` for connector `{}`", info.id)),
            Some(f) if !f.secret => {
                return Err(format!(
                    "`{k}` is not a secret: pass it with --config {k}=…"
                ));
            }
            Some(_) => {}
        }
    }
    for f in &info.config {
        let given = if f.secret {
            secrets.get(&f.name).is_some_and(|s| !s.expose().is_empty())
        } else {
            out.contains_key(&f.name)
        };
        if given {
            continue;
        }
        if let (Some(d), false) = (&f.default, f.secret) {
            out.insert(f.name.clone(), d.clone());
        } else if f.required {
            let flag = if f.secret { "--secret" } else { "--config" };
            return Err(format!(
                "missing required {} {}: pass {flag} {}=…",
                if f.secret { "secret" } else { "config field" },
                field_hint(f),
                f.name
            ));
        }
    }
    Ok(out)
}

/// Where instance `id`'s rotated secrets (OAuth refresh tokens) are saved: the
/// encrypted store. Registered with the HTTP client's token cache by everything that
/// runs calls for a stored instance.
pub fn persist_to_store(plugin: &LoadedPlugin, store: &Store, id: &str) {
    let store = store.clone();
    let instance = id.to_string();
    plugin.runtime().http().tokens.persist_with(
        id,
        Arc::new(move |field: &str, value: &Secret| {
            store
                .replace_secret(&instance, field, value)
                .map_err(|e| e.to_string())
        }),
    );
}

/// What an instance is granted: its stored grants, or, for an instance saved before
/// grants existed and not migrated yet, what `info` asks for (see
/// `Control::migrate_grants`).
pub fn effective_grants(info: &ConnectorInfo, instance: &Instance) -> Result<Grants, String> {
    match &instance.grants {
        Some(g) => Ok(g.clone()),
        None => Grants::asked_by(info, &instance.config),
    }
}

/// What `info` asks for beyond the instance's grants and what the operator declined;
/// `None` when there is nothing left to decide.
pub fn unapproved(info: &ConnectorInfo, instance: &Instance) -> Result<Option<Grants>, String> {
    let asks = Grants::asked_by(info, &instance.config)?;
    let mut missing = effective_grants(info, instance)?.missing(&asks);
    if let Some(declined) = &instance.declined {
        missing = declined.missing(&missing);
    }
    Ok((!missing.is_empty()).then_some(missing))
}

/// Build the per-call context for an instance: the egress policy holds what the
/// connector asks for *and* the operator granted, and only granted actions run.
pub fn call_context(
    plugin: &LoadedPlugin,
    instance: &Instance,
    secrets: &Secrets,
) -> Result<CallContext, ConnectorError> {
    let grants = effective_grants(&plugin.info, instance).map_err(ConnectorError::InvalidConfig)?;
    let policy = EgressPolicy::from_templates(
        &plugin.info.egress,
        &instance.config,
        instance.allow_private_network,
    )
    .map_err(ConnectorError::InvalidConfig)?
    .restrict_to(&grants.egress);
    let token_policy = EgressPolicy::from_templates(
        &plugin
            .info
            .auth
            .token_url()
            .map(str::to_owned)
            .into_iter()
            .collect::<Vec<_>>(),
        &instance.config,
        instance.allow_private_network,
    )
    .map_err(ConnectorError::InvalidConfig)?
    .restrict_to(&grants.egress);
    let credentials = Credentials::prepare(&plugin.info.auth, &instance.config, secrets)
        .map_err(|e| ConnectorError::InvalidConfig(e.to_string()))?;
    plugin.runtime().http().limits.register(
        &instance.id,
        &instance.name,
        &plugin.info.rate_limits,
        &instance.config,
        &instance.limits,
    );
    Ok(CallContext {
        instance_id: instance.id.clone(),
        instance_name: instance.name.clone(),
        config: Arc::new(instance.config.clone()),
        net: Arc::new(InstanceNet {
            policy,
            credentials,
            token_policy,
        }),
        granted_actions: Arc::from(grants.actions),
        since: None,
        page_size: 100,
    })
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Validate, `check`, and save a new instance. Nothing is written unless `check` passes.
pub async fn connect(
    store: &Store,
    registry: &Registry,
    req: ConnectRequest,
) -> Result<(Instance, Permissions), ConnectError> {
    if registry.get(&req.connector).is_none() {
        return Err(ConnectError::UnknownConnector {
            id: req.connector.clone(),
            known: registry.ids().into_iter().map(String::from).collect(),
        });
    }
    let entry = registry
        .resolve(&req.connector, req.pin.as_deref())
        .map_err(|e| ConnectError::InvalidConfig(e.to_string()))?;
    if !valid_name(&req.name) {
        return Err(ConnectError::BadName(req.name));
    }
    if store.instance(&req.name).is_ok() {
        return Err(StoreError::DuplicateName(req.name).into());
    }
    let plugin = &entry.plugin;
    req.limits.validate().map_err(ConnectError::InvalidConfig)?;
    let config = validate_config(&plugin.info, &req.config, &req.secrets)
        .map_err(ConnectError::InvalidConfig)?;
    // Decided before `check`: nothing reaches the provider without the operator's say.
    let asks = Grants::asked_by(&plugin.info, &config).map_err(ConnectError::InvalidConfig)?;
    let grants = req.grants.resolve(&plugin.info.id, &asks)?;
    let mut instance = Instance {
        id: new_instance_id(),
        name: req.name,
        connector: plugin.info.id.clone(),
        connector_version: plugin.info.version.clone(),
        config,
        allow_private_network: req.allow_private_network,
        enabled: true,
        created: now_millis(),
        status: InstanceStatus::Connecting,
        permissions: None,
        schedule: req.schedule,
        limits: req.limits,
        pinned_version: req.pin.as_ref().map(|_| plugin.info.version.clone()),
        declined: Some(grants.missing(&asks)).filter(|d| !d.is_empty()),
        grants: Some(grants),
    };
    let secrets: Secrets = req.secrets;
    // A refresh token rotated during the check is saved with the new instance.
    let rotated: Arc<std::sync::Mutex<Secrets>> = Arc::default();
    let pending = rotated.clone();
    plugin.runtime().http().tokens.persist_with(
        &instance.id,
        Arc::new(move |field: &str, value: &Secret| {
            pending
                .lock()
                .map_err(|_| "rotation buffer poisoned".to_string())?
                .insert(field.to_string(), value.clone());
            Ok(())
        }),
    );
    let ctx = call_context(plugin, &instance, &secrets).map_err(|e| match e {
        ConnectorError::InvalidConfig(m) => ConnectError::InvalidConfig(m),
        other => ConnectError::Check(other),
    })?;
    let permissions = match plugin.check(ctx).await {
        Ok(p) => p,
        Err(e) => {
            // Nothing was saved, so nothing of it may linger in the limiters either.
            plugin.runtime().http().limits.forget(&instance.id);
            plugin.runtime().http().tokens.forget(&instance.id);
            return Err(ConnectError::Check(e));
        }
    };
    instance.permissions = Some(permissions.clone());
    let mut secrets = secrets;
    secrets.extend(rotated.lock().map(|r| r.clone()).unwrap_or_default());
    store.create_instance(&instance, &secrets)?;
    persist_to_store(plugin, store, &instance.id);
    Ok((instance, permissions))
}
