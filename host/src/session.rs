//! An instance ready for calls: the one owner of preparing an instance's calls.
//!
//! Scans, checks, actions and conformance runs all open an [`InstanceSession`]. Opening
//! one, in order:
//! 1. takes the instance's grants (stored, or what its connector asks for when it was
//!    saved before grants existed);
//! 2. builds the egress policy (the connector's destinations narrowed to the grants),
//!    the token policy (its token endpoint, if granted), the credentials and the
//!    instance's extra CA certificates;
//! 3. registers the instance's rate limits with the shared limiter;
//! 4. registers where rotated secrets (OAuth refresh tokens) are saved: the encrypted
//!    store for a stored instance, a buffer for one being connected.
//!
//! The limiter's and token cache's state outlive a session on purpose: budget windows
//! and tokens span scans, so dropping a session releases nothing that a later one
//! would need. [`InstanceSession::discard`] releases both for an instance that is not
//! kept (a connect whose check failed).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::auth::{Credentials, PersistSecret};
use crate::capabilities::egress::EgressPolicy;
use crate::capabilities::http::InstanceNet;
use crate::capabilities::tls::CaBundle;
use crate::model::grants::{Grants, scan_write};
use crate::model::http::Method;
use crate::model::secret::{Secret, Secrets};
use crate::model::template::{TemplateError, expand};
use crate::model::{AuthScheme, ConnectorError, ConnectorInfo, Permissions};
use crate::runtime::{ActionFailure, ActionOutcome, ActionRequest, CallContext, LoadedPlugin};
use crate::store::{Instance, Store};

/// An instance ready for calls: its plugin, its stored record and the call context
/// every call of it uses.
#[derive(Clone, Debug)]
pub struct InstanceSession {
    plugin: LoadedPlugin,
    instance: Instance,
    ctx: CallContext,
}

impl InstanceSession {
    /// Open a stored instance: its secrets come from the store, and rotated secrets
    /// are saved back to it (encrypted) before they are used.
    pub fn open(
        plugin: &LoadedPlugin,
        store: &Store,
        instance: &Instance,
    ) -> Result<InstanceSession, ConnectorError> {
        let secrets = store
            .secrets(&instance.id)
            .map_err(|e| ConnectorError::Other(e.to_string()))?;
        let store = store.clone();
        let id = instance.id.clone();
        let persist: PersistSecret = Arc::new(move |field: &str, value: &Secret| {
            store
                .replace_secret(&id, field, value)
                .map_err(|e| e.to_string())
        });
        InstanceSession::open_with(plugin, instance, &secrets, persist)
    }

    /// Open an instance with these secrets, saving rotated ones with `persist` (an
    /// instance being connected is not stored yet).
    pub fn open_with(
        plugin: &LoadedPlugin,
        instance: &Instance,
        secrets: &Secrets,
        persist: PersistSecret,
    ) -> Result<InstanceSession, ConnectorError> {
        let ctx = call_context(plugin, instance, secrets)?;
        plugin
            .runtime()
            .http()
            .outbound()
            .tokens
            .persist_with(&instance.id, persist);
        Ok(InstanceSession {
            plugin: plugin.clone(),
            instance: instance.clone(),
            ctx,
        })
    }

    /// Open an instance that is never stored (`test-connector`): rotated secrets are
    /// dropped.
    pub fn scratch(
        plugin: &LoadedPlugin,
        instance: &Instance,
        secrets: &Secrets,
    ) -> Result<InstanceSession, ConnectorError> {
        InstanceSession::open_with(
            plugin,
            instance,
            secrets,
            Arc::new(|_: &str, _: &Secret| Ok(())),
        )
    }

    pub fn plugin(&self) -> &LoadedPlugin {
        &self.plugin
    }

    pub fn instance(&self) -> &Instance {
        &self.instance
    }

    /// The context for one call (cheap: its parts are shared).
    pub fn context(&self) -> CallContext {
        self.ctx.clone()
    }

    /// `check`: validate the connection and report the permissions granted.
    pub async fn check(&self) -> Result<Permissions, ConnectorError> {
        self.plugin.check(self.context()).await
    }

    /// A governance action, with the write requests the host saw it send.
    pub async fn act(&self, action: ActionRequest) -> Result<ActionOutcome, ActionFailure> {
        self.plugin.act_tracked(self.context(), action).await
    }

    /// Release the instance's rate limits and tokens: it is not kept.
    pub fn discard(self) {
        let outbound = self.plugin.runtime().http().outbound();
        outbound.limits.forget(&self.instance.id);
        outbound.tokens.forget(&self.instance.id);
    }
}

/// What an instance is granted: its stored grants, or, for an instance saved before
/// grants existed and not migrated yet, what `info` asks for (see
/// `Control::migrate_grants`).
pub fn effective_grants(info: &ConnectorInfo, instance: &Instance) -> Result<Grants, String> {
    match &instance.grants {
        Some(g) => Ok(g.clone()),
        None => Grants::asked_by(info, instance.auth.as_deref(), &instance.config),
    }
}

/// What `info` asks for beyond the instance's grants and what the operator declined;
/// `None` when there is nothing left to decide.
pub fn unapproved(info: &ConnectorInfo, instance: &Instance) -> Result<Option<Grants>, String> {
    let asks = Grants::asked_by(info, instance.auth.as_deref(), &instance.config)?;
    let mut missing = effective_grants(info, instance)?.missing(&asks);
    if let Some(declined) = &instance.declined {
        missing = declined.missing(&missing);
    }
    Ok((!missing.is_empty()).then_some(missing))
}

/// The per-call context for an instance: the egress policy holds what the connector
/// asks for *and* the operator granted, the token policy the token endpoint if it was
/// granted, and only granted actions run. Registers the instance's rate limits.
fn call_context(
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
    let auth = (plugin.info)
        .auth_option(instance.auth.as_deref())
        .map_err(ConnectorError::InvalidConfig)?;
    let token_policy = EgressPolicy::from_templates(
        &auth
            .scheme
            .token_url()
            .map(str::to_owned)
            .into_iter()
            .collect::<Vec<_>>(),
        &instance.config,
        instance.allow_private_network,
    )
    .map_err(ConnectorError::InvalidConfig)?
    .restrict_to(&grants.egress);
    let credentials = Credentials::prepare(&auth.scheme, &instance.config, secrets)
        .map_err(|e| ConnectorError::InvalidConfig(e.to_string()))?;
    let ca = instance
        .ca_pem
        .as_deref()
        .map(CaBundle::from_pem)
        .transpose()
        .map_err(|e| {
            ConnectorError::InvalidConfig(format!("the instance's CA certificates: {e}"))
        })?;
    plugin.runtime().http().outbound().limits.register(
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
            ca,
        }),
        granted_actions: Arc::from(grants.actions),
        since: None,
        until: None,
        now: None,
        page_size: 100,
        auth: auth.id.clone(),
        look_back_days: plugin
            .info
            .effective_look_back_days(instance.look_back_days),
        scan_writes: scan_writes(&plugin.info, &instance.config, &grants.scan_writes)?,
        sent_writes: Arc::default(),
        blocked: Arc::default(),
    })
}

/// The connector's declared scan writes that the instance was granted, resolved over
/// `config`: (method, URL without query). A declared write not granted (a newer
/// version's, not approved yet) is refused like an undeclared one.
fn scan_writes(
    info: &ConnectorInfo,
    config: &BTreeMap<String, String>,
    granted: &[String],
) -> Result<Arc<[(Method, String)]>, ConnectorError> {
    let mut out = Vec::new();
    for w in &info.scan_writes {
        let spelled = scan_write(w, config).map_err(ConnectorError::InvalidConfig)?;
        if !granted.contains(&spelled) {
            continue;
        }
        let method = Method::parse(&w.method).ok_or_else(|| {
            ConnectorError::InvalidConfig(format!("scan write method `{}`", w.method))
        })?;
        let url = spelled.split_once(' ').map(|(_, u)| u).unwrap_or_default();
        out.push((method, url.to_string()));
    }
    Ok(out.into())
}

fn field_hint(f: &crate::model::ConfigField) -> String {
    match &f.example {
        Some(ex) => format!("`{}` ({}, e.g. {ex})", f.name, f.label),
        None => format!("`{}` ({})", f.name, f.label),
    }
}

/// Check the operator's config and secrets against the connector's declared fields
/// and the chosen auth `scheme`; returns the config with defaults applied, templated
/// defaults (`https://{subdomain}.zendesk.com`) filled in.
///
/// A secret field that some auth option reads is required exactly when `scheme`
/// reads it: an operator choosing the API token does not pass an OAuth client secret.
pub fn validate_config(
    info: &ConnectorInfo,
    scheme: &AuthScheme,
    config: &BTreeMap<String, String>,
    secrets: &BTreeMap<String, Secret>,
) -> Result<BTreeMap<String, String>, String> {
    let ours: Vec<&str> = scheme.secret_fields().collect();
    let by_auth = |name: &str| {
        info.auth
            .iter()
            .any(|o| o.scheme.secret_fields().any(|f| f == name))
    };
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
    let mut templated = Vec::new();
    for f in &info.config {
        let given = if f.secret {
            secrets.get(&f.name).is_some_and(|s| !s.expose().is_empty())
        } else {
            out.contains_key(&f.name)
        };
        if given {
            continue;
        }
        let required = if f.secret && by_auth(&f.name) {
            ours.contains(&f.name.as_str())
        } else {
            f.required
        };
        if let (Some(d), false) = (&f.default, f.secret) {
            if d.contains('{') {
                templated.push(f);
            } else {
                out.insert(f.name.clone(), d.clone());
            }
        } else if required {
            let flag = if f.secret { "--secret" } else { "--config" };
            return Err(format!(
                "missing required {} {}: pass {flag} {}=…",
                if f.secret { "secret" } else { "config field" },
                field_hint(f),
                f.name
            ));
        }
    }
    // Over the operator's values and plain defaults, in declaration order.
    for f in templated {
        let default = f.default.as_deref().unwrap_or_default();
        let value = expand(default, &out).map_err(|e| match e {
            TemplateError::MissingField { field, .. } => format!(
                "config field `{}` defaults to `{default}`, which needs `{field}`: pass --config {field}=… (or --config {}=…)",
                f.name, f.name
            ),
            other => format!("config field `{}`: {other}", f.name),
        })?;
        out.insert(f.name.clone(), value);
    }
    Ok(out)
}

/// Resolve every template the instance will use (egress, the chosen auth scheme's
/// token endpoint, audience and user name, scan writes) over its defaulted `config`,
/// so an incomplete config is refused at connect, before anything is saved or sent.
pub fn resolve_templates(
    info: &ConnectorInfo,
    scheme: &AuthScheme,
    config: &BTreeMap<String, String>,
) -> Result<(), String> {
    let egress = info.egress.iter().map(|t| ("egress", t.as_str()));
    let auth = scheme.templates().into_iter().map(|t| ("auth", t));
    let writes = info
        .scan_writes
        .iter()
        .map(|w| ("scan write", w.url.as_str()));
    for (what, template) in egress.chain(auth).chain(writes) {
        let value = expand(template, config).map_err(|e| match e {
            TemplateError::MissingField { field, .. } => format!(
                "the {what} template `{template}` needs config field `{field}`, which is not set: pass --config {field}=…"
            ),
            other => format!("the {what} template: {other}"),
        })?;
        if value.contains(['{', '}']) {
            return Err(format!(
                "the {what} template `{template}` resolves to `{value}`, which still has a placeholder"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AuthOption, ConfigField, DEFAULT_LOOK_BACK_DAYS};

    fn field(name: &str, secret: bool, default: Option<&str>) -> ConfigField {
        ConfigField {
            name: name.into(),
            label: name.into(),
            required: false,
            secret,
            default: default.map(Into::into),
            example: None,
            description: None,
        }
    }

    /// Zendesk-shaped: a templated base URL, and an API token (basic, user name
    /// `{email}/token`) or an OAuth token.
    fn zendesk() -> ConnectorInfo {
        ConnectorInfo {
            id: "zendesk".into(),
            name: "Zendesk".into(),
            version: "0.2.0".into(),
            provider: "Zendesk".into(),
            description: String::new(),
            capabilities: vec![],
            actions: vec![],
            config: vec![
                field("subdomain", false, None),
                field("base_url", false, Some("https://{subdomain}.zendesk.com")),
                field("email", false, None),
                field("api_token", true, None),
                field("oauth_token", true, None),
            ],
            auth: vec![
                AuthOption {
                    id: "api-token".into(),
                    label: "API token".into(),
                    scheme: AuthScheme::Basic {
                        username: "{email}/token".into(),
                        password_field: "api_token".into(),
                    },
                },
                AuthOption {
                    id: "oauth".into(),
                    label: "OAuth".into(),
                    scheme: AuthScheme::Bearer {
                        token_field: "oauth_token".into(),
                    },
                },
            ],
            egress: vec!["{base_url}".into()],
            rate_limits: vec![],
            scan_writes: vec![],
            max_look_back_days: Some(30),
            activity_partitions: false,
        }
    }

    fn pairs(p: &[(&str, &str)]) -> BTreeMap<String, String> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn secrets(p: &[(&str, &str)]) -> BTreeMap<String, Secret> {
        p.iter()
            .map(|(k, v)| (k.to_string(), Secret::new(*v)))
            .collect()
    }

    #[test]
    fn a_templated_default_is_filled_in_and_an_incomplete_one_is_refused() {
        let info = zendesk();
        let token = &info.auth[0].scheme;
        let config = validate_config(
            &info,
            token,
            &pairs(&[("subdomain", "acme"), ("email", "a@acme.test")]),
            &secrets(&[("api_token", "t")]),
        )
        .unwrap();
        assert_eq!(config["base_url"], "https://acme.zendesk.com");
        resolve_templates(&info, token, &config).unwrap();

        let err = validate_config(&info, token, &pairs(&[]), &secrets(&[("api_token", "t")]))
            .unwrap_err();
        assert!(
            err.contains("`base_url`") && err.contains("`subdomain`"),
            "{err}"
        );
    }

    #[test]
    fn the_chosen_auth_options_templates_must_resolve_and_its_secrets_are_required() {
        let info = zendesk();
        let (token, oauth) = (&info.auth[0].scheme, &info.auth[1].scheme);
        let no_email = validate_config(
            &info,
            token,
            &pairs(&[("subdomain", "acme")]),
            &secrets(&[("api_token", "t")]),
        )
        .unwrap();
        let err = resolve_templates(&info, token, &no_email).unwrap_err();
        assert!(
            err.contains("{email}/token") && err.contains("`email`"),
            "{err}"
        );
        // OAuth needs neither the e-mail nor the API token…
        resolve_templates(&info, oauth, &no_email).unwrap();
        validate_config(
            &info,
            oauth,
            &pairs(&[("subdomain", "acme")]),
            &secrets(&[("oauth_token", "o")]),
        )
        .unwrap();
        // …but its own secret.
        let err = validate_config(
            &info,
            oauth,
            &pairs(&[("subdomain", "acme")]),
            &secrets(&[]),
        )
        .unwrap_err();
        assert!(err.contains("oauth_token"), "{err}");
        assert!(
            info.auth_option(Some("saml"))
                .unwrap_err()
                .contains("api-token, oauth")
        );
    }

    #[test]
    fn the_look_back_defaults_within_what_the_provider_keeps() {
        let mut info = zendesk();
        assert_eq!(info.look_back_days(None), Ok(30));
        assert_eq!(info.look_back_days(Some(7)), Ok(7));
        assert!(info.look_back_days(Some(31)).is_err());
        assert!(info.look_back_days(Some(0)).is_err());
        // A later version keeping less cuts a stored choice instead of failing.
        info.max_look_back_days = Some(5);
        assert_eq!(info.effective_look_back_days(Some(7)), 5);
        info.max_look_back_days = None;
        assert_eq!(info.look_back_days(None), Ok(DEFAULT_LOOK_BACK_DAYS));
    }
}
