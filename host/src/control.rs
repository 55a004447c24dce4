//! The operations operators run, shared by the admin API and the CLI.
//!
//! The CLI calls [`Control`] directly when no daemon owns the data dir, and the daemon's
//! API calls the same methods, so both surfaces behave (and fail) the same way. The
//! request and response types here are the API's JSON bodies; the CLI's remote client
//! deserializes into them too.
//!
//! With a scheduler (inside the daemon), connecting or enabling an instance schedules
//! it and a scan request triggers the scheduler; without one (plain CLI), a scan runs
//! in the calling process.

mod act;
mod connect;
mod op;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::capabilities::http::Outbound;
use crate::model::grants::{GRANTS_SCHEMA, GrantError, GrantRequest, Grants, token_endpoint};
use crate::model::schedule::Schedule;
use crate::model::{
    ActionKind, ConnectorError, ConnectorInfo, Kind, Millis, Permissions, RateLimit, parse_time,
};
use crate::ratelimit::{
    Budget, EffectiveRule, InstanceLimitConfig, InstanceLimitState, SharedScopeState,
    effective_rules, validate_scope_name,
};
use crate::registry::{Change, PluginEntry, Plugins, Rejected};
use crate::runtime::Runtime;
use crate::scan::{KindReport, ScanOptions, scan_instance};
use crate::scheduler::{InstancePlan, KindPlan, KindSchedule, SchedulerHandle};
use crate::session::unapproved;
use crate::store::{
    DEFAULT_PAGE, Instance, InstanceStatus, MAX_PAGE, RecordFilter, RecordPage, ScanRun, ScanState,
    Secret, Store, StoreError,
};
pub use connect::{ConnectError, ConnectRequest, connect};

pub use act::{
    Act, ActInput, ActOutput, Audit, AuditQuery, AuditView, CreateToken, ListTokens, NewToken,
    RevokeToken, TokenInput,
};
pub use op::{
    HostName, InputFrom, InstanceKind, InstanceName, Method, OpDoc, OpVisitor, Operation,
    ScopeName, TokenName,
};

/// Why an operation failed; each case maps to one HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    /// The provider refused the connection check.
    #[error("{0}")]
    CheckFailed(String),
    /// The instance's connector is not loaded, or the scheduler has stopped.
    #[error("{0}")]
    Unavailable(String),
    /// The connector asks for egress or actions the request did not grant; the message
    /// lists them. Nothing was saved and no request was made.
    #[error("{0}")]
    GrantsRequired(String),
    /// A governance action the instance was not granted; nothing was sent.
    #[error("{0}")]
    NotGranted(String),
    /// The connector or provider failed a governance action (it is audited).
    #[error("{0}")]
    ActionFailed(String),
    #[error("{0}")]
    Internal(String),
}

impl ControlError {
    pub fn code(&self) -> &'static str {
        match self {
            ControlError::NotFound(_) => "not-found",
            ControlError::BadRequest(_) => "bad-request",
            ControlError::Conflict(_) => "conflict",
            ControlError::CheckFailed(_) => "check-failed",
            ControlError::Unavailable(_) => "unavailable",
            ControlError::GrantsRequired(_) => "grants-required",
            ControlError::NotGranted(_) => "not-granted",
            ControlError::ActionFailed(_) => "action-failed",
            ControlError::Internal(_) => "internal",
        }
    }

    pub fn http_status(&self) -> u16 {
        match self {
            ControlError::NotFound(_) => 404,
            ControlError::BadRequest(_) => 400,
            ControlError::Conflict(_) => 409,
            ControlError::CheckFailed(_) => 422,
            ControlError::Unavailable(_) => 503,
            ControlError::GrantsRequired(_) => 403,
            ControlError::NotGranted(_) => 403,
            ControlError::ActionFailed(_) => 502,
            ControlError::Internal(_) => 500,
        }
    }
}

impl From<StoreError> for ControlError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::UnknownInstance(_) => ControlError::NotFound(e.to_string()),
            StoreError::DuplicateName(_) | StoreError::DuplicateToken(_) => {
                ControlError::Conflict(e.to_string())
            }
            StoreError::BadCursor(_) => ControlError::BadRequest(e.to_string()),
            other => ControlError::Internal(other.to_string()),
        }
    }
}

impl From<ConnectError> for ControlError {
    fn from(e: ConnectError) -> Self {
        match e {
            ConnectError::UnknownConnector { .. } => ControlError::NotFound(e.to_string()),
            ConnectError::BadName(_) | ConnectError::InvalidConfig(_) => {
                ControlError::BadRequest(e.to_string())
            }
            ConnectError::Check(_) => ControlError::CheckFailed(e.to_string()),
            ConnectError::Grants(GrantError::Required(m)) => ControlError::GrantsRequired(m),
            ConnectError::Grants(GrantError::Invalid(m)) => ControlError::BadRequest(m),
            ConnectError::Store(s) => s.into(),
        }
    }
}

/// A loaded plugin, as listed by `sluice plugins list` and `GET /v1/plugins`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PluginView {
    pub id: String,
    pub name: String,
    pub version: String,
    pub wit_version: String,
    pub sha256: String,
    pub capabilities: Vec<crate::model::Capability>,
    pub actions: Vec<ActionKind>,
    pub file: PathBuf,
    pub builtin: bool,
    pub loaded_at: Millis,
    /// The newest version of its connector: serves every instance not pinned to
    /// another version.
    #[serde(default)]
    pub serving: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PluginList {
    pub plugins_dir: PathBuf,
    pub plugins: Vec<PluginView>,
    pub rejected: Vec<Rejected>,
}

/// One row of `sluice instances`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InstanceSummary {
    pub instance: Instance,
    pub users: u64,
    pub activities: u64,
    /// Seconds its requests waited on rate limits in the serving process.
    pub waited_secs: f64,
}

/// One kind of an instance in detail.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct KindDetail {
    pub kind: Kind,
    pub records: u64,
    pub deleted: u64,
    pub scan: ScanState,
    /// The daemon's schedule for this kind; absent without a daemon or when the
    /// instance is not scheduled.
    pub schedule: Option<KindSchedule>,
}

/// One instance's request budgets: what the connector declares, what is in force and
/// who set it, and the limiters' live state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InstanceLimits {
    pub instance: String,
    pub connector: String,
    /// The connector's declared defaults (`describe().rate_limits`).
    pub connector_defaults: Vec<RateLimit>,
    /// The budgets in force, each with its source.
    pub rules: Vec<EffectiveRule>,
    /// The shared scope it draws from, if any.
    pub shared: Option<String>,
    /// Live state (waits, provider-reported quota) in the process serving this answer;
    /// absent until the instance's limiters were set up there (first plugin call or a
    /// limits change).
    pub state: Option<InstanceLimitState>,
}

/// A shared scope: its budget, members and live state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScopeLimits {
    pub name: String,
    /// The operator's budget; absent when the scope uses a member connector's default.
    pub configured: Option<Budget>,
    pub members: Vec<String>,
    pub state: Option<SharedScopeState>,
}

/// `sluice limits` and `GET /v1/limits`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LimitsView {
    pub instances: Vec<InstanceLimits>,
    pub scopes: Vec<ScopeLimits>,
    /// Process-wide budgets per API host, set by the operator.
    pub hosts: BTreeMap<String, Budget>,
}

/// `sluice instances show`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InstanceDetail {
    pub instance: Instance,
    pub kinds: Vec<KindDetail>,
    pub recent_scans: Vec<ScanRun>,
    pub limits: InstanceLimits,
    /// Bytes its records take in the store, and the cap on them.
    pub stored_bytes: u64,
    pub stored_cap: u64,
    /// Whether a daemon schedules this data dir (next runs are only known then).
    pub daemon: bool,
    /// The auth option in use and the first activity scan's look-back, as the
    /// instance's connector version resolves them (`None` when it is not loaded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<Resolved>,
}

/// What an instance's own choices come to with its connector version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Resolved {
    /// The auth option's id and label.
    pub auth: String,
    pub auth_label: String,
    /// Days the first activity scan reaches back.
    pub look_back_days: u32,
    /// How long the provider keeps its activity feed, as the connector declares.
    pub max_look_back_days: Option<u32>,
}

/// `POST /v1/instances`: connect an instance.
#[derive(Clone, Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectInput {
    pub connector: String,
    pub name: String,
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Secret config fields; stored encrypted and never returned.
    #[serde(default, serialize_with = "expose_secrets")]
    pub secrets: BTreeMap<String, Secret>,
    #[serde(default)]
    pub allow_private_network: bool,
    /// CA certificates (PEM text) the instance trusts besides the built-in roots and
    /// the daemon's: a private CA, a TLS-inspecting gateway's root.
    #[serde(default)]
    pub ca_pem: Option<String>,
    #[serde(default)]
    pub schedule: Schedule,
    #[serde(default)]
    pub limits: InstanceLimitConfig,
    /// Pin to this connector version instead of following the newest.
    #[serde(default)]
    pub pin: Option<String>,
    /// What to grant of the egress destinations and actions the connector asks for:
    /// `{"egress": "all" | "none" | [URL…], "actions": "all" | "none" | [ACTION…]}`.
    /// Required for each side the connector asks for.
    #[serde(default)]
    pub grants: GrantRequest,
    /// Which of the connector's auth options (default: its first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<String>,
    /// Days the first activity scan reaches back (default 90, at most what the
    /// provider keeps).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub look_back_days: Option<u32>,
}

/// Secrets have no `Serialize` on purpose; a connect request is the one thing that
/// writes them out: the CLI sends it to the daemon that owns the data dir.
fn expose_secrets<S: serde::Serializer>(
    secrets: &BTreeMap<String, Secret>,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_map(secrets.iter().map(|(k, v)| (k, v.expose())))
}

/// The answer to a connect: the saved instance, what `check` found, and what the
/// connector may reach and do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Connected {
    pub instance: Instance,
    pub permissions: Permissions,
    /// What the connector asks for: egress destinations (its token endpoint
    /// included) and actions (the grants are in `instance.grants`).
    pub egress: Vec<String>,
    pub actions: Vec<ActionKind>,
    /// Writes it sends while scanning, as `METHOD URL`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scan_writes: Vec<String>,
}

/// `POST /v1/instances/{name}/scan`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScanInput {
    /// Kinds to scan; all the connector supports when empty.
    #[serde(default)]
    pub kinds: Vec<Kind>,
    /// Wait for the scans to finish and return their reports.
    #[serde(default)]
    pub wait: bool,
    /// Files: list only what changed since the last complete listing (a provider's
    /// change notification); the regular full scan keeps its schedule.
    #[serde(default)]
    pub changes_only: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScanOutput {
    /// One report per kind when the caller waited.
    pub reports: Vec<KindReport>,
}

/// The status of an instance that resumes (re-enabled, connector back): connected as
/// of its last completed scan, or still connecting if it never completed one.
fn resumed_status(store: &Store, inst: &Instance) -> Result<InstanceStatus, StoreError> {
    let mut last_success = None;
    for k in Kind::ALL {
        last_success = last_success.max(store.scan_state(&inst.id, k)?.last_completed);
    }
    Ok(match last_success {
        Some(last_success) => InstanceStatus::Connected { last_success },
        None => InstanceStatus::Connecting,
    })
}

/// Everything the operations need. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Control {
    pub store: Store,
    pub runtime: Runtime,
    /// The loaded plugins; swapped underneath as the plugins folder changes.
    pub registry: Plugins,
    pub plugins_dir: PathBuf,
    /// Present inside the daemon.
    pub scheduler: Option<SchedulerHandle>,
    pub scan_options: ScanOptions,
    /// The process's shared request services: budgets to configure, tokens and
    /// limiters to forget with an instance.
    pub outbound: Outbound,
}

impl Control {
    /// Assemble the operations over opened parts; applies the stored daemon-wide
    /// limit settings to the runtime's limiters.
    pub fn new(
        store: Store,
        runtime: Runtime,
        registry: Plugins,
        plugins_dir: PathBuf,
        scheduler: Option<SchedulerHandle>,
        scan_options: ScanOptions,
    ) -> Result<Control, ControlError> {
        let outbound = runtime.http().outbound().clone();
        outbound.limits.configure(&store.global_limits()?);
        let control = Control {
            outbound,
            store,
            runtime,
            registry,
            plugins_dir,
            scheduler,
            scan_options,
        };
        control.migrate_grants()?;
        Ok(control)
    }

    /// Instances saved before grants existed are granted what their connector asked
    /// for when they were connected: the version they were connected with (or are
    /// pinned to) if it is loaded, else the serving one. An instance whose connector
    /// is not loaded is migrated when it is.
    fn migrate_grants(&self) -> Result<(), ControlError> {
        for inst in self.store.instances()? {
            self.migrated(inst)?;
        }
        Ok(())
    }

    /// `inst` with grants, migrating it if it had none (see [`Control::migrate_grants`]).
    ///
    /// Grants saved under older rules are given what those rules left out, as the
    /// version the instance was connected with (or is pinned to) asks, and only if that
    /// version is loaded: before token endpoints were egress destinations (schema 0),
    /// its token endpoint; before scan writes were granted (schema 1), its scan writes.
    /// A newer version that moved its token endpoint or declares new writes must be
    /// approved like any new destination.
    fn migrated(&self, inst: Instance) -> Result<Instance, ControlError> {
        let registry = self.registry.snapshot();
        let version = inst
            .pinned_version
            .as_deref()
            .unwrap_or(&inst.connector_version);
        match &inst.grants {
            Some(g) if g.schema >= GRANTS_SCHEMA => return Ok(inst),
            Some(old) => {
                let Some(entry) = registry.version(&inst.connector, version) else {
                    return Ok(inst);
                };
                let info = &entry.plugin.info;
                let mut added = Grants {
                    schema: GRANTS_SCHEMA,
                    ..Grants::default()
                };
                if old.schema < 1 {
                    let scheme = &info
                        .auth_option(inst.auth.as_deref())
                        .map_err(ControlError::Internal)?
                        .scheme;
                    added.egress = token_endpoint(scheme, &inst.config)
                        .map_err(ControlError::Internal)?
                        .into_iter()
                        .collect();
                }
                added.scan_writes = Grants::asked_by(info, inst.auth.as_deref(), &inst.config)
                    .map_err(ControlError::Internal)?
                    .scan_writes;
                tracing::info!(instance = %inst.name, version = %entry.version(), token_endpoint = ?added.egress, scan_writes = ?added.scan_writes, "granting what the connected version used under older grant rules");
                let inst = self.store.update_instance(&inst.id, |i| {
                    if let Some(g) = &mut i.grants {
                        g.extend(&added);
                    }
                })?;
                self.store.flush()?;
                return Ok(inst);
            }
            None => {}
        }
        let Some(entry) = registry
            .version(&inst.connector, version)
            .or_else(|| registry.get(&inst.connector))
        else {
            return Ok(inst);
        };
        let asks = Grants::asked_by(&entry.plugin.info, inst.auth.as_deref(), &inst.config)
            .map_err(ControlError::Internal)?;
        tracing::info!(instance = %inst.name, version = %entry.version(), "granting what the connector asked for (instance saved before grants)");
        let inst = self
            .store
            .update_instance(&inst.id, |i| i.grants = Some(asks.clone()))?;
        self.store.flush()?;
        Ok(inst)
    }

    /// The `needs approval` status for `inst` if the version that would serve it asks
    /// for more than it was granted.
    fn approval_status(
        &self,
        inst: &Instance,
        entry: &PluginEntry,
    ) -> Result<Option<InstanceStatus>, ControlError> {
        let missing = unapproved(&entry.plugin.info, inst).map_err(ControlError::Internal)?;
        Ok(missing.map(|m| InstanceStatus::NeedsApproval {
            version: entry.version().to_string(),
            egress: m.egress,
            actions: m.actions,
            scan_writes: m.scan_writes,
        }))
    }

    /// Grant an instance everything the connector version serving it asks for, and
    /// resume it if it was waiting for approval.
    pub async fn approve(&self, name: &str) -> Result<Instance, ControlError> {
        let inst = self.migrated(self.store.instance(name)?)?;
        let entry = self
            .plugin_of(&inst)
            .map_err(|e| ControlError::Unavailable(e.to_string()))?;
        let asks = Grants::asked_by(&entry.plugin.info, inst.auth.as_deref(), &inst.config)
            .map_err(ControlError::Internal)?;
        let resumed = resumed_status(&self.store, &inst)?;
        let inst = self.store.update_instance(&inst.id, |i| {
            i.grants.get_or_insert_with(Grants::default).extend(&asks);
            i.declined = None;
            if matches!(i.status, InstanceStatus::NeedsApproval { .. }) {
                i.status = resumed.clone();
            }
        })?;
        self.store.flush()?;
        tracing::info!(instance = %inst.name, version = %entry.version(), "grants approved");
        self.schedule(&inst)?;
        Ok(inst)
    }

    pub fn connectors(&self) -> Vec<ConnectorInfo> {
        self.registry
            .snapshot()
            .plugins()
            .map(|e| (*e.plugin.info).clone())
            .collect()
    }

    /// The plugin an instance's calls go to now: its pinned version, else the newest.
    pub fn plugin_of(&self, instance: &Instance) -> Result<PluginEntry, ConnectorError> {
        self.registry
            .resolve(&instance.connector, instance.pinned_version.as_deref())
    }

    /// React to a plugins folder change: instances of a connector that lost its last
    /// version stop and show `connector-not-loaded` (their data stays); instances of a
    /// connector that gained a version are rescheduled on it, and those that were
    /// waiting for it scan now.
    pub async fn plugins_changed(&self, change: &Change) -> Result<(), ControlError> {
        for inst in self.store.instances()? {
            if !change.connectors.contains(&inst.connector) || !inst.enabled {
                continue;
            }
            let waiting = matches!(&inst.status, InstanceStatus::Error { code, .. } if code == "connector-not-loaded");
            match self.plugin_of(&inst) {
                Err(e) => {
                    if let Some(s) = &self.scheduler {
                        s.remove(&inst.id).await;
                    }
                    tracing::warn!(instance = %inst.name, "{e}");
                    self.store
                        .set_status(&inst.id, InstanceStatus::from_error(&e, 0, None))?;
                }
                Ok(entry) => {
                    if let Some(status) = self.approval_status(&inst, &entry)? {
                        // Scans in flight finish their page on the old version; none
                        // starts on the new one until the operator approves.
                        if let Some(s) = &self.scheduler {
                            s.remove(&inst.id).await;
                        }
                        tracing::warn!(instance = %inst.name, version = %entry.version(), "connector version asks for more than granted; needs approval");
                        self.store.set_status(&inst.id, status)?;
                        continue;
                    }
                    if waiting {
                        tracing::info!(instance = %inst.name, version = %entry.version(), "connector is back; resuming");
                        self.store
                            .set_status(&inst.id, resumed_status(&self.store, &inst)?)?;
                    }
                    self.schedule(&inst)?;
                    if waiting && let Some(s) = &self.scheduler {
                        // Let the scans run: their reports arrive through status.
                        drop(s.trigger(&inst.id, &[]).await);
                    }
                }
            }
        }
        Ok(())
    }

    /// Pin an instance to a loaded version of its connector, or (`None`) follow the
    /// newest again.
    pub async fn pin(&self, name: &str, version: Option<&str>) -> Result<Instance, ControlError> {
        let inst = self.store.instance(name)?;
        // Stored as the loaded version's own spelling.
        let pinned = match version {
            Some(v) => Some(
                self.registry
                    .resolve(&inst.connector, Some(v))
                    .map_err(|e| ControlError::BadRequest(e.to_string()))?
                    .version()
                    .to_string(),
            ),
            None => None,
        };
        let inst = self
            .store
            .update_instance(&inst.id, |i| i.pinned_version = pinned.clone())?;
        self.store.flush()?;
        self.schedule(&inst)?;
        Ok(inst)
    }

    pub fn plugins(&self) -> PluginList {
        let registry = self.registry.snapshot();
        PluginList {
            plugins_dir: self.plugins_dir.clone(),
            plugins: registry
                .all_versions()
                .map(|(e, serving)| PluginView {
                    id: e.plugin.info.id.clone(),
                    name: e.plugin.info.name.clone(),
                    version: e.plugin.info.version.clone(),
                    wit_version: e.plugin.wit.as_str().to_string(),
                    sha256: e.plugin.sha256.clone(),
                    capabilities: e.plugin.info.capabilities.clone(),
                    actions: e.plugin.info.actions.clone(),
                    file: e.file.clone(),
                    builtin: e.builtin,
                    loaded_at: e.loaded_at,
                    serving,
                })
                .collect(),
            rejected: registry.rejected(),
        }
    }

    pub fn instances(&self) -> Result<Vec<InstanceSummary>, ControlError> {
        self.store
            .instances()?
            .into_iter()
            .map(|instance| {
                let (users, _) = self.store.count(&instance.id, Kind::Users)?;
                let (activities, _) = self.store.count(&instance.id, Kind::Activities)?;
                let waited_secs = self
                    .outbound
                    .limits
                    .instance_state(&instance.id)
                    .map_or(0.0, |s| s.stats.wait_secs);
                Ok(InstanceSummary {
                    instance: self.store.shown(instance),
                    users,
                    activities,
                    waited_secs,
                })
            })
            .collect()
    }

    pub async fn instance(&self, name: &str) -> Result<InstanceDetail, ControlError> {
        let instance = self.store.instance(name)?;
        let mut schedule = match &self.scheduler {
            Some(s) => s.snapshot().await.remove(&instance.id).unwrap_or_default(),
            None => Vec::new(),
        };
        let mut kinds = Vec::new();
        for kind in Kind::ALL {
            let (records, deleted) = self.store.count(&instance.id, kind)?;
            let scan = self.store.scan_state(&instance.id, kind)?;
            let sched = schedule
                .iter()
                .position(|s| s.kind == kind)
                .map(|i| schedule.swap_remove(i));
            kinds.push(KindDetail {
                kind,
                records,
                deleted,
                scan,
                schedule: sched,
            });
        }
        let resolved = self.plugin_of(&instance).ok().and_then(|entry| {
            let info = &entry.plugin.info;
            let auth = info.auth_option(instance.auth.as_deref()).ok()?;
            Some(Resolved {
                auth: auth.id.clone(),
                auth_label: auth.label.clone(),
                look_back_days: info.effective_look_back_days(instance.look_back_days),
                max_look_back_days: info.max_look_back_days,
            })
        });
        Ok(InstanceDetail {
            resolved,
            recent_scans: self.store.runs(&instance.id, 10)?,
            limits: self.limits_of(&instance),
            stored_bytes: self.store.usage(&instance.id)?,
            stored_cap: self.scan_options.caps.commit.instance_bytes,
            instance: self.store.shown(instance),
            kinds,
            daemon: self.scheduler.is_some(),
        })
    }

    /// Validate, `check`, save, and (in the daemon) schedule the connect flow.
    pub async fn connect(&self, input: ConnectInput) -> Result<Connected, ControlError> {
        input
            .schedule
            .validate()
            .map_err(ControlError::BadRequest)?;
        let req = ConnectRequest {
            connector: input.connector,
            name: input.name,
            config: input.config,
            secrets: input.secrets,
            allow_private_network: input.allow_private_network,
            ca_pem: input.ca_pem,
            schedule: input.schedule,
            limits: input.limits,
            pin: input.pin,
            grants: input.grants,
            auth: input.auth,
            look_back_days: input.look_back_days,
        };
        let (instance, permissions) = connect(&self.store, &self.registry.snapshot(), req).await?;
        self.store.flush()?;
        let info = self
            .plugin_of(&instance)
            .ok()
            .map(|e| e.plugin.info.clone());
        let asks = info
            .as_ref()
            .and_then(|i| Grants::asked_by(i, instance.auth.as_deref(), &instance.config).ok())
            .unwrap_or_default();
        self.schedule(&instance)?;
        Ok(Connected {
            permissions,
            egress: asks.egress,
            actions: info.map(|i| i.actions.clone()).unwrap_or_default(),
            scan_writes: asks.scan_writes,
            instance,
        })
    }

    /// The scheduler's view of an instance: its kinds in connect order with progress.
    pub fn plan(&self, instance: &Instance) -> Result<Option<InstancePlan>, ControlError> {
        let Ok(entry) = self.plugin_of(instance) else {
            return Ok(None);
        };
        let caps = &entry.plugin.info.capabilities;
        let mut kinds = Vec::new();
        for kind in Kind::ALL.into_iter().filter(|k| k.supported_by(caps)) {
            let state = self.store.scan_state(&instance.id, kind)?;
            kinds.push(KindPlan {
                kind,
                interval: instance.schedule.interval(kind),
                last_completed: state.last_completed,
                interrupted: state.in_progress,
            });
        }
        Ok(Some(InstancePlan {
            id: instance.id.clone(),
            name: instance.name.clone(),
            kinds,
        }))
    }

    /// Hand an enabled instance to the scheduler (no-op without one). An instance whose
    /// connector is not loaded is put in error instead.
    ///
    /// An instance whose connector version asks for more than it was granted is put in
    /// `needs approval` and not scheduled; one that no longer needs approval (approved,
    /// pinned back, or the newer file removed) resumes.
    pub fn schedule(&self, instance: &Instance) -> Result<(), ControlError> {
        if !instance.enabled {
            return Ok(());
        }
        // Fresh from the store: the caller's copy may predate a status change.
        let instance = &self.migrated(self.store.instance(&instance.id)?)?;
        match self.plugin_of(instance) {
            Ok(entry) => {
                if let Some(status) = self.approval_status(instance, &entry)? {
                    if let Some(s) = &self.scheduler {
                        s.forget(&instance.id);
                    }
                    self.store.set_status(&instance.id, status)?;
                    return Ok(());
                }
                if matches!(instance.status, InstanceStatus::NeedsApproval { .. }) {
                    self.store
                        .set_status(&instance.id, resumed_status(&self.store, instance)?)?;
                }
                let Some(scheduler) = &self.scheduler else {
                    return Ok(());
                };
                if let Some(plan) = self.plan(instance)? {
                    scheduler.upsert(plan);
                }
            }
            Err(e) if self.scheduler.is_some() => {
                self.store
                    .set_status(&instance.id, InstanceStatus::from_error(&e, 0, None))?;
            }
            Err(_) => {}
        }
        Ok(())
    }

    /// Stop scheduling; a scan in flight stops at its next page boundary before this
    /// returns. Config, credentials and data are kept.
    pub async fn disable(&self, name: &str) -> Result<Instance, ControlError> {
        let inst = self.store.instance(name)?;
        self.store.update_instance(&inst.id, |i| {
            i.enabled = false;
            i.status = InstanceStatus::Disabled;
        })?;
        if let Some(s) = &self.scheduler {
            s.remove(&inst.id).await;
        }
        self.store.flush()?;
        Ok(self.store.instance(&inst.id)?)
    }

    /// Resume scheduling from the saved cursors.
    pub async fn enable(&self, name: &str) -> Result<Instance, ControlError> {
        let inst = self.store.instance(name)?;
        let resumed = resumed_status(&self.store, &inst)?;
        let inst = self.store.update_instance(&inst.id, |i| {
            i.enabled = true;
            if i.status == InstanceStatus::Disabled {
                i.status = resumed.clone();
            }
        })?;
        self.store.flush()?;
        self.schedule(&inst)?;
        Ok(self.store.instance(&inst.id)?)
    }

    /// Delete an instance with its credentials and data (after stopping its scans).
    pub async fn remove(&self, name: &str) -> Result<Instance, ControlError> {
        let inst = self.store.instance(name)?;
        if let Some(s) = &self.scheduler {
            s.remove(&inst.id).await;
        }
        self.outbound.limits.forget(&inst.id);
        self.outbound.tokens.forget(&inst.id);
        Ok(self.store.remove_instance(&inst.id)?)
    }

    /// Replace an instance's rescan intervals.
    pub async fn set_schedule(
        &self,
        name: &str,
        schedule: Schedule,
    ) -> Result<Instance, ControlError> {
        schedule.validate().map_err(ControlError::BadRequest)?;
        let inst = self.store.instance(name)?;
        let inst = self
            .store
            .update_instance(&inst.id, |i| i.schedule = schedule.clone())?;
        self.store.flush()?;
        self.schedule(&inst)?;
        Ok(inst)
    }

    /// Scan now: through the scheduler in the daemon (waiting when asked), in this
    /// process otherwise.
    pub async fn scan(&self, name: &str, input: ScanInput) -> Result<ScanOutput, ControlError> {
        let inst = self.store.instance(name)?;
        let entry = self.plugin_of(&inst).map_err(|e| {
            ControlError::Unavailable(format!(
                "{e} for instance `{}` (check the plugins dir {})",
                inst.name,
                self.plugins_dir.display()
            ))
        })?;
        for k in &input.kinds {
            if !k.supported_by(&entry.plugin.info.capabilities) {
                return Err(ControlError::BadRequest(format!(
                    "connector `{}` does not support {k}",
                    inst.connector
                )));
            }
        }
        if !inst.enabled {
            return Err(ControlError::Conflict(format!(
                "instance `{}` is disabled; enable it first",
                inst.name
            )));
        }
        if let Some(InstanceStatus::NeedsApproval { version, .. }) =
            self.approval_status(&self.migrated(inst.clone())?, &entry)?
        {
            return Err(ControlError::Conflict(format!(
                "instance `{}`: {} {version} asks for more than it was granted; see `sluice instances show {}` and approve with `sluice instances approve {}`",
                inst.name, inst.connector, inst.name, inst.name
            )));
        }
        match &self.scheduler {
            Some(s) => {
                let wait = s
                    .trigger_scan(&inst.id, &input.kinds, input.changes_only)
                    .await
                    .map_err(|e| ControlError::Unavailable(e.to_string()))?;
                let reports = if input.wait { wait.await } else { Vec::new() };
                Ok(ScanOutput { reports })
            }
            None => {
                let opts = ScanOptions {
                    changes_only: input.changes_only,
                    ..self.scan_options.clone()
                };
                let reports = scan_instance(&self.store, &entry.plugin, &inst, &input.kinds, &opts)
                    .await
                    .map_err(|e| ControlError::Internal(e.to_string()))?;
                self.store.flush()?;
                Ok(ScanOutput { reports })
            }
        }
    }

    /// One page of an instance's records of `kind`.
    pub fn query(
        &self,
        name: &str,
        kind: Kind,
        filter: &RecordFilter,
        cursor: Option<&str>,
        limit: Option<usize>,
    ) -> Result<RecordPage, ControlError> {
        filter.validate(kind).map_err(ControlError::BadRequest)?;
        let inst = self.store.instance(name)?;
        Ok(self.store.query(
            &inst.id,
            kind,
            filter,
            cursor,
            limit.unwrap_or(DEFAULT_PAGE),
        )?)
    }

    fn limits_of(&self, inst: &Instance) -> InstanceLimits {
        let declared = self
            .plugin_of(inst)
            .map(|e| e.plugin.info.rate_limits.clone())
            .unwrap_or_default();
        InstanceLimits {
            instance: inst.name.clone(),
            connector: inst.connector.clone(),
            rules: effective_rules(&declared, &inst.config, &inst.limits),
            connector_defaults: declared,
            shared: inst.limits.shared.clone(),
            state: self.outbound.limits.instance_state(&inst.id),
        }
    }

    /// Every instance's limits (or one's), shared scopes and host budgets.
    pub fn limits(&self, name: Option<&str>) -> Result<LimitsView, ControlError> {
        let all = self.store.instances()?;
        let instances = match name {
            Some(n) => vec![self.store.instance(n)?],
            None => all.clone(),
        };
        let global = self.store.global_limits()?;
        let live = self.outbound.limits.shared_scopes();
        let mut names: Vec<String> = global.scopes.keys().cloned().collect();
        for i in &all {
            if let Some(s) = &i.limits.shared
                && !names.contains(s)
            {
                names.push(s.clone());
            }
        }
        names.sort();
        let scopes = names
            .into_iter()
            .map(|name| ScopeLimits {
                configured: global.scopes.get(&name).copied(),
                members: all
                    .iter()
                    .filter(|i| i.limits.shared.as_deref() == Some(name.as_str()))
                    .map(|i| i.name.clone())
                    .collect(),
                state: live.iter().find(|s| s.name == name).cloned(),
                name,
            })
            .collect();
        Ok(LimitsView {
            instances: instances.iter().map(|i| self.limits_of(i)).collect(),
            scopes,
            hosts: global.hosts,
        })
    }

    /// Replace an instance's budgets and shared scope.
    pub fn set_instance_limits(
        &self,
        name: &str,
        limits: InstanceLimitConfig,
    ) -> Result<InstanceLimits, ControlError> {
        limits.validate().map_err(ControlError::BadRequest)?;
        let inst = self.store.instance(name)?;
        let inst = self
            .store
            .update_instance(&inst.id, |i| i.limits = limits.clone())?;
        self.store.flush()?;
        if let Ok(e) = self.plugin_of(&inst) {
            self.outbound.limits.register(
                &inst.id,
                &inst.name,
                &e.plugin.info.rate_limits,
                &inst.config,
                &inst.limits,
            );
        }
        Ok(self.limits_of(&inst))
    }

    /// Set (or with `None` remove) a shared scope's budget.
    pub fn set_scope_limit(
        &self,
        scope: &str,
        budget: Option<Budget>,
    ) -> Result<LimitsView, ControlError> {
        validate_scope_name(scope).map_err(ControlError::BadRequest)?;
        self.update_global(|g| match budget {
            Some(b) => {
                b.validate().map_err(ControlError::BadRequest)?;
                g.scopes.insert(scope.to_string(), b);
                Ok(())
            }
            None => g.scopes.remove(scope).map(|_| ()).ok_or_else(|| {
                ControlError::NotFound(format!("no budget is set for shared scope `{scope}`"))
            }),
        })
    }

    /// Set (or with `None` remove) a process-wide budget for an API host.
    pub fn set_host_limit(
        &self,
        host: &str,
        budget: Option<Budget>,
    ) -> Result<LimitsView, ControlError> {
        let host = host.trim().to_ascii_lowercase();
        if host.is_empty() || host.contains(['/', ' ', ':']) {
            return Err(ControlError::BadRequest(format!(
                "invalid host `{host}`: give a bare host name such as api.github.com"
            )));
        }
        self.update_global(|g| match budget {
            Some(b) => {
                b.validate().map_err(ControlError::BadRequest)?;
                g.hosts.insert(host.clone(), b);
                Ok(())
            }
            None => g.hosts.remove(&host).map(|_| ()).ok_or_else(|| {
                ControlError::NotFound(format!("no budget is set for host `{host}`"))
            }),
        })
    }

    fn update_global(
        &self,
        f: impl FnOnce(&mut crate::ratelimit::GlobalLimitConfig) -> Result<(), ControlError>,
    ) -> Result<LimitsView, ControlError> {
        let mut g = self.store.global_limits()?;
        f(&mut g)?;
        self.store.put_global_limits(&g)?;
        self.outbound.limits.configure(&g);
        self.limits(None)
    }

    /// Instances per status label, for the metrics gauge.
    pub fn status_counts(&self) -> Result<Vec<(String, i64)>, ControlError> {
        let mut counts: BTreeMap<String, i64> = BTreeMap::new();
        for i in self.store.instances()? {
            let state = match i.status {
                InstanceStatus::Connecting => "connecting",
                InstanceStatus::Scanning { .. } => "scanning",
                InstanceStatus::Connected { .. } => "connected",
                InstanceStatus::Error { .. } => "error",
                InstanceStatus::Disabled => "disabled",
                InstanceStatus::NeedsApproval { .. } => "needs-approval",
            };
            *counts.entry(state.to_string()).or_default() += 1;
        }
        Ok(counts.into_iter().collect())
    }
}

/// Every admin operation, in the order the OpenAPI description lists them. The API
/// serves exactly these (besides health, metrics, the description itself, webhooks).
pub fn for_each_op(v: &mut impl OpVisitor) {
    v.visit::<ListConnectors>();
    v.visit::<ListPlugins>();
    v.visit::<ListInstances>();
    v.visit::<Connect>();
    v.visit::<GetInstance>();
    v.visit::<RemoveInstance>();
    v.visit::<DisableInstance>();
    v.visit::<EnableInstance>();
    v.visit::<SetSchedule>();
    v.visit::<Pin>();
    v.visit::<Approve>();
    v.visit::<Scan>();
    v.visit::<act::Act>();
    v.visit::<ListRecords>();
    v.visit::<GetInstanceLimits>();
    v.visit::<SetInstanceLimits>();
    v.visit::<ListLimits>();
    v.visit::<SetScopeLimit>();
    v.visit::<RemoveScopeLimit>();
    v.visit::<SetHostLimit>();
    v.visit::<RemoveHostLimit>();
    v.visit::<act::Audit>();
    v.visit::<act::ListTokens>();
    v.visit::<act::CreateToken>();
    v.visit::<act::RevokeToken>();
}

// The operations, each calling the method above that owns its behaviour.

/// `GET /v1/connectors`.
#[derive(Debug)]
pub struct ListConnectors;

impl Operation for ListConnectors {
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v1/connectors";
    const INPUT: InputFrom = InputFrom::Nothing;
    const DOC: OpDoc = OpDoc {
        id: "listConnectors",
        tag: "connectors",
        summary: "List connectors",
        description: "What every loaded connector's `describe` says: capabilities, \
            actions, config fields, auth scheme, egress and rate limits, by \
            connector id.",
        responses: &[(200, "The loaded connectors.")],
    };
    type Params = ();
    type Input = ();
    type Output = Vec<ConnectorInfo>;

    async fn run(c: &Control, _: &str, _: (), _: ()) -> Result<Self::Output, ControlError> {
        Ok(c.connectors())
    }
}

/// `GET /v1/plugins`.
#[derive(Debug)]
pub struct ListPlugins;

impl Operation for ListPlugins {
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v1/plugins";
    const INPUT: InputFrom = InputFrom::Nothing;
    const DOC: OpDoc = OpDoc {
        id: "listPlugins",
        tag: "connectors",
        summary: "List plugins",
        description: "The loaded plugins (built-in and from the plugins dir) and the files \
            that were rejected, with the reason.",
        responses: &[(200, "The plugins.")],
    };
    type Params = ();
    type Input = ();
    type Output = PluginList;

    async fn run(c: &Control, _: &str, _: (), _: ()) -> Result<PluginList, ControlError> {
        Ok(c.plugins())
    }
}

/// `GET /v1/instances`.
#[derive(Debug)]
pub struct ListInstances;

impl Operation for ListInstances {
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v1/instances";
    const INPUT: InputFrom = InputFrom::Nothing;
    const DOC: OpDoc = OpDoc {
        id: "listInstances",
        tag: "instances",
        summary: "List instances",
        description: "Every instance, by name, with its user and activity record counts \
            and the time its requests have waited on rate limits.",
        responses: &[(200, "The instances."), (500, "Internal")],
    };
    type Params = ();
    type Input = ();
    type Output = Vec<InstanceSummary>;

    async fn run(c: &Control, _: &str, _: (), _: ()) -> Result<Self::Output, ControlError> {
        c.instances()
    }
}

/// `POST /v1/instances`.
#[derive(Debug)]
pub struct Connect;

impl Operation for Connect {
    const METHOD: Method = Method::Post;
    const PATH: &'static str = "/v1/instances";
    const INPUT: InputFrom = InputFrom::Json;
    const DOC: OpDoc = OpDoc {
        id: "connectInstance",
        tag: "instances",
        summary: "Connect an instance",
        description: "Validates the name, config and secrets against the connector's \
            declared fields, runs the connector's `check`, saves the instance \
            (secrets encrypted) and, in the daemon, schedules it: the connect \
            flow scans users first, then every other kind. Nothing is saved \
            unless `check` passes. The connector's egress destinations (its \
            templates resolved over the config) and governance actions must be \
            granted in `grants` for each side it asks for; otherwise nothing is \
            saved, no request is made, and the answer is 403 `grants-required` \
            listing what it asks for.",
        responses: &[
            (201, "Connected."),
            (
                400,
                "Malformed JSON or a body that does not match `ConnectInput` \
                (unknown or missing field, wrong type, unknown kind), an invalid \
                instance name, config or secrets that do not match the \
                connector's fields, a schedule interval out of range, or an \
                invalid budget or shared-scope name in `limits` (`bad-request`).",
            ),
            (
                403,
                "The connector asks for egress destinations or actions that \
                `grants` does not decide (`grants-required`); the message lists \
                them.",
            ),
            (404, "No loaded connector has this id (`not-found`)."),
            (
                409,
                "An instance with this name (or with this name as its id) already \
                exists (`conflict`).",
            ),
            (413, "PayloadTooLarge"),
            (415, "UnsupportedMediaType"),
            (
                422,
                "The provider refused the connection check (`check-failed`).",
            ),
            (500, "Internal"),
        ],
    };
    type Params = ();
    type Input = ConnectInput;
    type Output = Connected;

    fn status(_: &ConnectInput) -> u16 {
        201
    }

    async fn run(c: &Control, _: &str, _: (), i: ConnectInput) -> Result<Connected, ControlError> {
        c.connect(i).await
    }
}

/// `GET /v1/instances/{name}`.
#[derive(Debug)]
pub struct GetInstance;

impl Operation for GetInstance {
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v1/instances/{name}";
    const INPUT: InputFrom = InputFrom::Nothing;
    const DOC: OpDoc = OpDoc {
        id: "getInstance",
        tag: "instances",
        summary: "Show an instance",
        description: "The instance with, for every kind, record counts, saved scan \
            progress and (in the daemon) its schedule, plus the 10 most recent \
            scan runs.",
        responses: &[
            (200, "The instance."),
            (404, "InstanceNotFound"),
            (500, "Internal"),
        ],
    };
    type Params = InstanceName;
    type Input = ();
    type Output = InstanceDetail;

    async fn run(
        c: &Control,
        _: &str,
        p: InstanceName,
        _: (),
    ) -> Result<InstanceDetail, ControlError> {
        c.instance(&p.name).await
    }
}

/// `DELETE /v1/instances/{name}`.
#[derive(Debug)]
pub struct RemoveInstance;

impl Operation for RemoveInstance {
    const METHOD: Method = Method::Delete;
    const PATH: &'static str = "/v1/instances/{name}";
    const INPUT: InputFrom = InputFrom::Nothing;
    const DOC: OpDoc = OpDoc {
        id: "removeInstance",
        tag: "instances",
        summary: "Remove an instance",
        description: "Stops its scans, then deletes the instance with its credentials, \
            records, cursors and scan history. Returns the instance as it was.",
        responses: &[
            (200, "The removed instance."),
            (404, "InstanceNotFound"),
            (500, "Internal"),
        ],
    };
    type Params = InstanceName;
    type Input = ();
    type Output = Instance;

    async fn run(c: &Control, _: &str, p: InstanceName, _: ()) -> Result<Instance, ControlError> {
        c.remove(&p.name).await
    }
}

/// `POST /v1/instances/{name}/disable`.
#[derive(Debug)]
pub struct DisableInstance;

impl Operation for DisableInstance {
    const METHOD: Method = Method::Post;
    const PATH: &'static str = "/v1/instances/{name}/disable";
    const INPUT: InputFrom = InputFrom::Nothing;
    const DOC: OpDoc = OpDoc {
        id: "disableInstance",
        tag: "instances",
        summary: "Disable an instance",
        description: "Stops scheduling; a scan in flight stops at its next page boundary \
            before this returns. Config, credentials and data are kept. Takes no \
            body.",
        responses: &[
            (200, "The disabled instance."),
            (404, "InstanceNotFound"),
            (500, "Internal"),
        ],
    };
    type Params = InstanceName;
    type Input = ();
    type Output = Instance;

    async fn run(c: &Control, _: &str, p: InstanceName, _: ()) -> Result<Instance, ControlError> {
        c.disable(&p.name).await
    }
}

/// `POST /v1/instances/{name}/enable`.
#[derive(Debug)]
pub struct EnableInstance;

impl Operation for EnableInstance {
    const METHOD: Method = Method::Post;
    const PATH: &'static str = "/v1/instances/{name}/enable";
    const INPUT: InputFrom = InputFrom::Nothing;
    const DOC: OpDoc = OpDoc {
        id: "enableInstance",
        tag: "instances",
        summary: "Enable an instance",
        description: "Resumes scheduling from the saved cursors. A disabled instance \
            becomes `connected` if it was ever scanned, else `connecting`; an \
            instance whose connector is not loaded goes to `error` \
            (`connector-not-loaded`). Takes no body.",
        responses: &[
            (200, "The enabled instance."),
            (404, "InstanceNotFound"),
            (500, "Internal"),
        ],
    };
    type Params = InstanceName;
    type Input = ();
    type Output = Instance;

    async fn run(c: &Control, _: &str, p: InstanceName, _: ()) -> Result<Instance, ControlError> {
        c.enable(&p.name).await
    }
}

/// `PUT /v1/instances/{name}/schedule`.
#[derive(Debug)]
pub struct SetSchedule;

impl Operation for SetSchedule {
    const METHOD: Method = Method::Put;
    const PATH: &'static str = "/v1/instances/{name}/schedule";
    const INPUT: InputFrom = InputFrom::Json;
    const DOC: OpDoc = OpDoc {
        id: "setInstanceSchedule",
        tag: "instances",
        summary: "Replace an instance's rescan intervals",
        description: "Replaces the whole schedule: kinds not listed go back to their \
            default interval (`{}` resets everything). Intervals are in seconds, \
            from 10 to 2592000 (30 days). The body is checked before the \
            instance is looked up. The daemon reschedules the instance at once.",
        responses: &[
            (200, "The instance with its new schedule."),
            (
                400,
                "Malformed JSON, a body that does not match `Schedule` (an \
                unknown field or kind, a negative or non-integer interval), or \
                an interval out of range (`bad-request`).",
            ),
            (404, "InstanceNotFound"),
            (413, "PayloadTooLarge"),
            (415, "UnsupportedMediaType"),
            (500, "Internal"),
        ],
    };
    type Params = InstanceName;
    type Input = Schedule;
    type Output = Instance;

    async fn run(
        c: &Control,
        _: &str,
        p: InstanceName,
        schedule: Schedule,
    ) -> Result<Instance, ControlError> {
        c.set_schedule(&p.name, schedule).await
    }
}

/// `PUT /v1/instances/{name}/pin`.
#[derive(Debug)]
pub struct Pin;

/// The body of [`Pin`].
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PinInput {
    /// A loaded version, or null to follow the newest.
    pub version: Option<String>,
}

impl Operation for Pin {
    const METHOD: Method = Method::Put;
    const PATH: &'static str = "/v1/instances/{name}/pin";
    const INPUT: InputFrom = InputFrom::Json;
    const DOC: OpDoc = OpDoc {
        id: "pinInstance",
        tag: "instances",
        summary: "Pin an instance to a loaded connector version, or follow the newest",
        description: "`{\"version\": \"0.2.0\"}` runs the instance on that loaded version \
            of its connector (see `GET /v1/plugins`) until unpinned; \
            `{\"version\": null}` follows the newest loaded version again. The \
            daemon reschedules the instance at once.",
        responses: &[
            (200, "The instance with its pin."),
            (
                400,
                "Malformed body, or that version of the connector is not loaded \
                (`bad-request`).",
            ),
            (404, "InstanceNotFound"),
            (500, "Internal"),
        ],
    };
    type Params = InstanceName;
    type Input = PinInput;
    type Output = Instance;

    async fn run(
        c: &Control,
        _: &str,
        p: InstanceName,
        i: PinInput,
    ) -> Result<Instance, ControlError> {
        c.pin(&p.name, i.version.as_deref()).await
    }
}

/// `POST /v1/instances/{name}/approve`.
#[derive(Debug)]
pub struct Approve;

impl Operation for Approve {
    const METHOD: Method = Method::Post;
    const PATH: &'static str = "/v1/instances/{name}/approve";
    const INPUT: InputFrom = InputFrom::Nothing;
    const DOC: OpDoc = OpDoc {
        id: "approveInstance",
        tag: "instances",
        summary: "Approve what the connector asks for",
        description: "Grants the instance every egress destination and governance action \
            that the connector version serving it asks for, added to its \
            existing grants. An instance in `needs-approval` (a newer connector \
            version asks for more than it was granted) resumes scanning on that \
            version. Takes no body.",
        responses: &[
            (200, "The instance with its new grants."),
            (404, "InstanceNotFound"),
            (500, "Internal"),
            (
                503,
                "The instance's connector is not loaded (`unavailable`).",
            ),
        ],
    };
    type Params = InstanceName;
    type Input = ();
    type Output = Instance;

    async fn run(c: &Control, _: &str, p: InstanceName, _: ()) -> Result<Instance, ControlError> {
        c.approve(&p.name).await
    }
}

/// `POST /v1/instances/{name}/scan`.
#[derive(Debug)]
pub struct Scan;

impl Operation for Scan {
    const METHOD: Method = Method::Post;
    const PATH: &'static str = "/v1/instances/{name}/scan";
    // An empty body means "everything, don't wait".
    const INPUT: InputFrom = InputFrom::JsonOrEmpty;
    const DOC: OpDoc = OpDoc {
        id: "scanInstance",
        tag: "instances",
        summary: "Scan now",
        description: "Makes the given kinds (all the connector supports when none are \
            given) due now. In the daemon the scheduler runs them; a kind \
            already running runs again right after. With `wait: true` the answer \
            (200) comes once the scans have finished and carries one report per \
            kind (a failed scan is a report with an `error`, not an error \
            response); otherwise the answer is 202 with no reports. The body is \
            optional: an empty body means every kind, without waiting; \
            `Content-Type` is not checked.",
        responses: &[
            (
                200,
                "`wait` was true: the scans finished; one report per kind.",
            ),
            (
                202,
                "`wait` was false: the scans were triggered; `reports` is empty.",
            ),
            (
                400,
                "Malformed body, an unknown field or kind, or a kind the \
                connector does not support (`bad-request`).",
            ),
            (404, "InstanceNotFound"),
            (
                409,
                "The instance is disabled; enable it first (`conflict`).",
            ),
            (
                413,
                "The body is larger than the 2 MiB limit. This answer comes from \
                the HTTP framework before the handler runs: plain text, not the \
                JSON `Error`.",
            ),
            (500, "Internal"),
            (
                503,
                "The instance's connector is not loaded, the instance is not \
                scheduled, or the scheduler has stopped (`unavailable`).",
            ),
        ],
    };
    type Params = InstanceName;
    type Input = ScanInput;
    type Output = ScanOutput;

    fn status(input: &ScanInput) -> u16 {
        if input.wait { 200 } else { 202 }
    }

    async fn run(
        c: &Control,
        _: &str,
        p: InstanceName,
        i: ScanInput,
    ) -> Result<ScanOutput, ControlError> {
        c.scan(&p.name, i).await
    }
}

/// `GET /v1/instances/{name}/{kind}`: one page of records.
#[derive(Debug)]
pub struct ListRecords;

/// The query string of [`ListRecords`]: a [`RecordFilter`] as people write it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordsQuery {
    /// Activities only: at or after this time. RFC 3339 (`2026-11-22T10:00:00Z`), a
    /// date (`2026-11-22`, midnight UTC), milliseconds since the epoch, or a duration
    /// meaning "that long ago" (`90m`, `24h`, `7d`).
    pub since: Option<String>,
    /// Activities only: at or before this time (same formats as `since`; must not be
    /// before `since`).
    pub until: Option<String>,
    /// Activities by this actor; files by this owner; app permissions granted to this
    /// principal (case-insensitive). Activities, files and app-permissions only.
    pub actor: Option<String>,
    /// Activities only: of this kind (`logon`, `user` or `admin`).
    pub kind: Option<String>,
    /// Users in this status (`active`, `suspended`, `disabled`, `deleted`); findings
    /// that `pass` or `fail`. Users and findings only.
    pub status: Option<String>,
    /// Free text, matched case-insensitively anywhere in the record (raw JSON
    /// included).
    pub q: Option<String>,
    /// Files only: shared `public` (a link anyone can open), `external` (a public link
    /// or a principal outside the organisation) or `internal` (neither).
    pub shared: Option<String>,
    /// Files only: whose content inspection matched this classifier (`card`, `iban`,
    /// `ssn`, `email`, `aws-access-key-id`, `private-key`, an operator rule's name, …).
    pub classifier: Option<String>,
    /// Include records marked deleted (gone from the provider since a scan).
    #[serde(default)]
    pub deleted: bool,
    /// The `next_cursor` of an earlier page.
    pub cursor: Option<String>,
    /// Records per page (1 to 1000, default 100).
    pub limit: Option<usize>,
}

impl RecordsQuery {
    /// The store filter this query asks for, its times parsed (`24h` is that long
    /// before now).
    pub fn filter(&self) -> Result<RecordFilter, String> {
        let time = |t: &Option<String>| t.as_deref().map(parse_time).transpose();
        Ok(RecordFilter {
            since: time(&self.since)?,
            until: time(&self.until)?,
            actor: self.actor.clone(),
            kind: self.kind.clone(),
            status: self.status.clone(),
            q: self.q.clone(),
            shared: self.shared.clone(),
            classifier: self.classifier.clone(),
            include_deleted: self.deleted,
        })
    }
}

impl Operation for ListRecords {
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v1/instances/{name}/{kind}";
    const INPUT: InputFrom = InputFrom::Query;
    const DOC: OpDoc = OpDoc {
        id: "listRecords",
        tag: "records",
        summary: "Query collected records",
        description: "One page of an instance's stored records of one kind that match the \
            filters. Activities page newest first through the time index; other \
            kinds in provider-id order. Cursors are positions, not offsets: \
            records added while a client pages never shift or repeat what it \
            already read. Each filter narrows the result; a filter that does not \
            apply to the kind is refused (400) rather than ignored. Unknown \
            query parameters are refused too.",
        responses: &[
            (200, "A page of records."),
            (
                400,
                "A malformed or unknown query parameter, an unparseable time, a \
                filter that does not apply to the kind, `since` after `until`, a \
                `limit` outside 1–1000, or an invalid cursor (`bad-request`).",
            ),
            (
                404,
                "No instance has this name or id, or the kind is unknown \
                (`not-found`).",
            ),
            (500, "Internal"),
        ],
    };
    type Params = InstanceKind;
    type Input = RecordsQuery;
    type Output = RecordPage;

    async fn run(
        c: &Control,
        _: &str,
        p: InstanceKind,
        q: RecordsQuery,
    ) -> Result<RecordPage, ControlError> {
        let kind: Kind = p.kind.parse().map_err(ControlError::NotFound)?;
        if let Some(l) = q.limit
            && (l == 0 || l > MAX_PAGE)
        {
            return Err(ControlError::BadRequest(format!(
                "limit must be between 1 and {MAX_PAGE}"
            )));
        }
        let filter = q.filter().map_err(ControlError::BadRequest)?;
        c.query(&p.name, kind, &filter, q.cursor.as_deref(), q.limit)
    }
}

/// `GET /v1/instances/{name}/limits`.
#[derive(Debug)]
pub struct GetInstanceLimits;

impl Operation for GetInstanceLimits {
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v1/instances/{name}/limits";
    const INPUT: InputFrom = InputFrom::Nothing;
    const DOC: OpDoc = OpDoc {
        id: "getInstanceLimits",
        tag: "limits",
        summary: "Show an instance's rate limits",
        description: "The connector's declared budgets, the budgets in force (each with \
            its source) and the shared scope the instance draws from, with the \
            limiters' live state in the daemon. The same object as the `limits` \
            field of `GET /v1/instances/{name}`.",
        responses: &[
            (200, "The instance's limits."),
            (404, "InstanceNotFound"),
            (500, "Internal"),
        ],
    };
    type Params = InstanceName;
    type Input = ();
    type Output = InstanceLimits;

    async fn run(
        c: &Control,
        _: &str,
        p: InstanceName,
        _: (),
    ) -> Result<InstanceLimits, ControlError> {
        let mut v = c.limits(Some(&p.name))?;
        Ok(v.instances.remove(0))
    }
}

/// `PUT /v1/instances/{name}/limits`.
#[derive(Debug)]
pub struct SetInstanceLimits;

impl Operation for SetInstanceLimits {
    const METHOD: Method = Method::Put;
    const PATH: &'static str = "/v1/instances/{name}/limits";
    const INPUT: InputFrom = InputFrom::Json;
    const DOC: OpDoc = OpDoc {
        id: "setInstanceLimits",
        tag: "limits",
        summary: "Replace an instance's rate limits",
        description: "Replaces the instance's budgets and shared scope as a whole (`{}` \
            goes back to the connector's defaults and leaves any shared scope). \
            Operator budgets replace the connector's budget of the same scope \
            (`*` or an API host) or add one. The body is checked before the \
            instance is looked up. Takes effect in the daemon at once.",
        responses: &[
            (200, "The instance's limits with the new settings."),
            (
                400,
                "Malformed JSON, a body that does not match `InstanceLimitConfig` \
                (unknown field, wrong type), an invalid budget, or an invalid \
                shared-scope name (`bad-request`).",
            ),
            (404, "InstanceNotFound"),
            (413, "PayloadTooLarge"),
            (415, "UnsupportedMediaType"),
            (500, "Internal"),
        ],
    };
    type Params = InstanceName;
    type Input = InstanceLimitConfig;
    type Output = InstanceLimits;

    async fn run(
        c: &Control,
        _: &str,
        p: InstanceName,
        cfg: InstanceLimitConfig,
    ) -> Result<InstanceLimits, ControlError> {
        c.set_instance_limits(&p.name, cfg)
    }
}

/// `GET /v1/limits`.
#[derive(Debug)]
pub struct ListLimits;

/// The query string of [`ListLimits`].
#[derive(Clone, Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsQuery {
    /// Only this instance (name or id) in `instances`; `scopes` and `hosts` are listed
    /// in full either way.
    pub instance: Option<String>,
}

impl Operation for ListLimits {
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v1/limits";
    const INPUT: InputFrom = InputFrom::Query;
    const DOC: OpDoc = OpDoc {
        id: "listLimits",
        tag: "limits",
        summary: "Show all rate limits",
        description: "Every instance's budgets (or only one's with `instance`), every \
            shared scope (those with an operator budget and those an instance \
            names) with its members, and the process-wide host budgets. Live \
            state is the daemon's. Unknown query parameters are refused.",
        responses: &[
            (200, "The limits."),
            (
                400,
                "A malformed or unknown query parameter (`bad-request`).",
            ),
            (404, "`instance` names no instance (`not-found`)."),
            (500, "Internal"),
        ],
    };
    type Params = ();
    type Input = LimitsQuery;
    type Output = LimitsView;

    async fn run(c: &Control, _: &str, _: (), q: LimitsQuery) -> Result<LimitsView, ControlError> {
        c.limits(q.instance.as_deref())
    }
}

/// `PUT /v1/limits/scopes/{scope}`.
#[derive(Debug)]
pub struct SetScopeLimit;

impl Operation for SetScopeLimit {
    const METHOD: Method = Method::Put;
    const PATH: &'static str = "/v1/limits/scopes/{scope}";
    const INPUT: InputFrom = InputFrom::Json;
    const DOC: OpDoc = OpDoc {
        id: "setScopeLimit",
        tag: "limits",
        summary: "Set a shared scope's budget",
        description: "Sets (creating or replacing) the budget that every instance naming \
            this shared scope draws from together. Stored in the data dir; takes \
            effect in the daemon at once. Answers with the whole limits view.",
        responses: &[
            (200, "All limits, with the new budget."),
            (
                400,
                "An invalid scope name, malformed JSON, a body that does not \
                match `Budget`, or an invalid budget (`bad-request`).",
            ),
            (413, "PayloadTooLarge"),
            (415, "UnsupportedMediaType"),
            (500, "Internal"),
        ],
    };
    type Params = ScopeName;
    type Input = Budget;
    type Output = LimitsView;

    async fn run(
        c: &Control,
        _: &str,
        p: ScopeName,
        b: Budget,
    ) -> Result<LimitsView, ControlError> {
        c.set_scope_limit(&p.scope, Some(b))
    }
}

/// `DELETE /v1/limits/scopes/{scope}`.
#[derive(Debug)]
pub struct RemoveScopeLimit;

impl Operation for RemoveScopeLimit {
    const METHOD: Method = Method::Delete;
    const PATH: &'static str = "/v1/limits/scopes/{scope}";
    const INPUT: InputFrom = InputFrom::Nothing;
    const DOC: OpDoc = OpDoc {
        id: "removeScopeLimit",
        tag: "limits",
        summary: "Remove a shared scope's budget",
        description: "Removes the operator's budget of a shared scope. Instances that \
            still name the scope keep drawing from it together, with a member \
            connector's `*` default as its budget. Answers with the whole limits \
            view.",
        responses: &[
            (200, "All limits, without the budget."),
            (400, "An invalid scope name (`bad-request`)."),
            (404, "No budget is set for this scope (`not-found`)."),
            (500, "Internal"),
        ],
    };
    type Params = ScopeName;
    type Input = ();
    type Output = LimitsView;

    async fn run(c: &Control, _: &str, p: ScopeName, _: ()) -> Result<LimitsView, ControlError> {
        c.set_scope_limit(&p.scope, None)
    }
}

/// `PUT /v1/limits/hosts/{host}`.
#[derive(Debug)]
pub struct SetHostLimit;

impl Operation for SetHostLimit {
    const METHOD: Method = Method::Put;
    const PATH: &'static str = "/v1/limits/hosts/{host}";
    const INPUT: InputFrom = InputFrom::Json;
    const DOC: OpDoc = OpDoc {
        id: "setHostLimit",
        tag: "limits",
        summary: "Set an API host's budget",
        description: "Sets (creating or replacing) a process-wide budget for requests to \
            one API host, across all instances, on top of their own budgets. \
            Stored in the data dir; takes effect in the daemon at once. Answers \
            with the whole limits view.",
        responses: &[
            (200, "All limits, with the new budget."),
            (
                400,
                "An invalid host, malformed JSON, a body that does not match \
                `Budget`, or an invalid budget (`bad-request`).",
            ),
            (413, "PayloadTooLarge"),
            (415, "UnsupportedMediaType"),
            (500, "Internal"),
        ],
    };
    type Params = HostName;
    type Input = Budget;
    type Output = LimitsView;

    async fn run(c: &Control, _: &str, p: HostName, b: Budget) -> Result<LimitsView, ControlError> {
        c.set_host_limit(&p.host, Some(b))
    }
}

/// `DELETE /v1/limits/hosts/{host}`.
#[derive(Debug)]
pub struct RemoveHostLimit;

impl Operation for RemoveHostLimit {
    const METHOD: Method = Method::Delete;
    const PATH: &'static str = "/v1/limits/hosts/{host}";
    const INPUT: InputFrom = InputFrom::Nothing;
    const DOC: OpDoc = OpDoc {
        id: "removeHostLimit",
        tag: "limits",
        summary: "Remove an API host's budget",
        description: "Removes the process-wide budget of an API host. Answers with the \
            whole limits view.",
        responses: &[
            (200, "All limits, without the budget."),
            (400, "An invalid host (`bad-request`)."),
            (404, "No budget is set for this host (`not-found`)."),
            (500, "Internal"),
        ],
    };
    type Params = HostName;
    type Input = ();
    type Output = LimitsView;

    async fn run(c: &Control, _: &str, p: HostName, _: ()) -> Result<LimitsView, ControlError> {
        c.set_host_limit(&p.host, None)
    }
}
