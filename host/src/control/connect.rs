//! Connecting an app instance: validating the operator's config against what the
//! connector declares, deciding its grants, checking the connection through an
//! [`InstanceSession`], and saving the instance only if the check passed.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::capabilities::tls::CaBundle;
use crate::model::grants::{GrantError, GrantRequest, Grants};
use crate::model::secret::{Secret, Secrets};
use crate::model::{ConnectorError, Permissions};
use crate::registry::Registry;
use crate::session::{InstanceSession, resolve_templates, validate_config};
use crate::store::{Instance, Store, StoreError};

/// What the operator asked for.
#[derive(Clone, Debug, Default)]
pub struct ConnectRequest {
    pub connector: String,
    pub name: String,
    pub config: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, Secret>,
    pub allow_private_network: bool,
    /// CA certificates (PEM) the instance trusts besides the built-in roots.
    pub ca_pem: Option<String>,
    /// Rescan intervals (defaults for kinds not listed).
    pub schedule: crate::model::schedule::Schedule,
    /// Operator's rate-limit settings.
    pub limits: crate::ratelimit::InstanceLimitConfig,
    /// Pin the instance to this connector version (default: follow the newest).
    pub pin: Option<String>,
    /// Which of the connector's auth options (default: its first).
    pub auth: Option<String>,
    /// Days the first activity scan reaches back (default: 90, at most what the
    /// provider keeps).
    pub look_back_days: Option<u32>,
    /// What the operator grants of the egress destinations and actions the connector
    /// asks for; a side the connector asks for must be decided.
    pub grants: GrantRequest,
}

/// Why connecting failed. Nothing was saved.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("unknown connector `{id}` (loaded: {})", if .known.is_empty() { "none — is the plugins dir right?".to_string() } else { .known.join(", ") })]
    UnknownConnector { id: String, known: Vec<String> },
    #[error(
        "invalid instance name `{0}`: use letters, digits, `-`, `_` or `.`, starting with a letter or digit, at most 64"
    )]
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

/// Letters, digits, `-`, `_` and `.`, starting with a letter or digit (so `.`, `..`
/// and hidden-file names, which no URL path or file name can carry, are refused).
fn valid_name(name: &str) -> bool {
    name.len() <= 64
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
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
    // Stored as the certificates alone, so nothing else of the file is kept or shown.
    let ca_pem = req
        .ca_pem
        .as_deref()
        .map(|pem| CaBundle::from_pem(pem).map(|bundle| bundle.to_pem()))
        .transpose()
        .map_err(|e| {
            ConnectError::InvalidConfig(format!("the CA certificates (--ca-file): {e}"))
        })?;
    let info = &plugin.info;
    let scheme = &(info.auth_option(req.auth.as_deref()))
        .map_err(ConnectError::InvalidConfig)?
        .scheme;
    info.look_back_days(req.look_back_days)
        .map_err(ConnectError::InvalidConfig)?;
    let config = validate_config(info, scheme, &req.config, &req.secrets)
        .map_err(ConnectError::InvalidConfig)?;
    // Every template must resolve now, not at the first request.
    resolve_templates(info, scheme, &config).map_err(ConnectError::InvalidConfig)?;
    // Decided before `check`: nothing reaches the provider without the operator's say.
    let asks = Grants::asked_by(info, req.auth.as_deref(), &config)
        .map_err(ConnectError::InvalidConfig)?;
    let grants = req.grants.resolve(&plugin.info.id, &asks)?;
    let mut instance = Instance {
        allow_private_network: req.allow_private_network,
        ca_pem,
        schedule: req.schedule,
        limits: req.limits,
        pinned_version: req.pin.as_ref().map(|_| plugin.info.version.clone()),
        declined: Some(grants.missing(&asks)).filter(|d| !d.is_empty()),
        grants: Some(grants),
        auth: req.auth,
        look_back_days: req.look_back_days,
        ..Instance::new(&req.name, &plugin.info.id, &plugin.info.version, config)
    };
    let secrets: Secrets = req.secrets;
    // A refresh token rotated during the check is saved with the new instance.
    let rotated: Arc<std::sync::Mutex<Secrets>> = Arc::default();
    let pending = rotated.clone();
    let buffer = Arc::new(move |field: &str, value: &Secret| {
        pending
            .lock()
            .map_err(|_| "rotation buffer poisoned".to_string())?
            .insert(field.to_string(), value.clone());
        Ok(())
    });
    let session =
        InstanceSession::open_with(plugin, &instance, &secrets, buffer).map_err(|e| match e {
            ConnectorError::InvalidConfig(m) => ConnectError::InvalidConfig(m),
            other => ConnectError::Check(other),
        })?;
    let permissions = match session.check().await {
        Ok(p) => p,
        Err(e) => {
            // Nothing was saved, so nothing of it may linger in the limiters either.
            session.discard();
            return Err(ConnectError::Check(e));
        }
    };
    instance.permissions = Some(permissions.clone());
    let mut secrets = secrets;
    secrets.extend(rotated.lock().map(|r| r.clone()).unwrap_or_default());
    store.create_instance(&instance, &secrets)?;
    // From now on rotated secrets go to the store.
    InstanceSession::open(plugin, store, &instance).map_err(ConnectError::Check)?;
    Ok((instance, permissions))
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    #[test]
    fn names_start_with_a_letter_or_digit() {
        for good in ["acme", "acme-2", "a.b_c", "0rg"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in [".", "..", ".hidden", "-x", "", "a/b", &"x".repeat(65)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}
