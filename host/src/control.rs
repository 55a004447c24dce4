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
pub mod connect;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::capabilities::http::Outbound;
use crate::model::grants::{GRANTS_SCHEMA, GrantError, GrantRequest, Grants, token_endpoint};
use crate::model::schedule::Schedule;
use crate::model::{
    ActionKind, ConnectorError, ConnectorInfo, Kind, Millis, Permissions, RateLimit,
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
    DEFAULT_PAGE, Instance, InstanceStatus, RecordFilter, RecordPage, ScanRun, ScanState, Secret,
    Store, StoreError,
};
pub use connect::{ConnectError, ConnectRequest, connect};

pub use act::{ActInput, ActOutput, AuditView, NewToken};

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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PluginList {
    pub plugins_dir: PathBuf,
    pub plugins: Vec<PluginView>,
    pub rejected: Vec<Rejected>,
}

/// One row of `sluice instances`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InstanceSummary {
    pub instance: Instance,
    pub users: u64,
    pub activities: u64,
    /// Seconds its requests waited on rate limits in the serving process.
    pub waited_secs: f64,
}

/// One kind of an instance in detail.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScopeLimits {
    pub name: String,
    /// The operator's budget; absent when the scope uses a member connector's default.
    pub configured: Option<Budget>,
    pub members: Vec<String>,
    pub state: Option<SharedScopeState>,
}

/// `sluice limits` and `GET /v1/limits`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LimitsView {
    pub instances: Vec<InstanceLimits>,
    pub scopes: Vec<ScopeLimits>,
    /// Process-wide budgets per API host, set by the operator.
    pub hosts: BTreeMap<String, Budget>,
}

/// `sluice instances show`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectInput {
    pub connector: String,
    pub name: String,
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Secret config fields; stored encrypted and never returned.
    #[serde(default)]
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

/// The answer to a connect: the saved instance, what `check` found, and what the
/// connector may reach and do.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Connected {
    pub instance: Instance,
    pub permissions: Permissions,
    /// What the connector asks for: egress destinations (its token endpoint
    /// included) and actions (the grants are in `instance.grants`).
    pub egress: Vec<String>,
    pub actions: Vec<ActionKind>,
}

/// `POST /v1/instances/{name}/scan`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScanInput {
    /// Kinds to scan; all the connector supports when empty.
    #[serde(default)]
    pub kinds: Vec<Kind>,
    /// Wait for the scans to finish and return their reports.
    #[serde(default)]
    pub wait: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
    /// Grants saved before token endpoints were egress destinations (schema 0) are
    /// given the token endpoint of the version the instance was connected with (or is
    /// pinned to), and only if that version is loaded: a newer version that moved its
    /// token endpoint must be approved like any new destination.
    fn migrated(&self, inst: Instance) -> Result<Instance, ControlError> {
        let registry = self.registry.snapshot();
        let version = inst
            .pinned_version
            .as_deref()
            .unwrap_or(&inst.connector_version);
        match &inst.grants {
            Some(g) if g.schema >= GRANTS_SCHEMA => return Ok(inst),
            Some(_) => {
                let Some(entry) = registry.version(&inst.connector, version) else {
                    return Ok(inst);
                };
                let scheme = &(entry.plugin.info)
                    .auth_option(inst.auth.as_deref())
                    .map_err(ControlError::Internal)?
                    .scheme;
                let token = token_endpoint(scheme, &inst.config).map_err(ControlError::Internal)?;
                tracing::info!(instance = %inst.name, version = %entry.version(), token_endpoint = ?token, "granting the token endpoint of the connected version (grants saved before token endpoints were destinations)");
                let inst = self.store.update_instance(&inst.id, |i| {
                    if let Some(g) = &mut i.grants {
                        g.extend(&Grants {
                            egress: token.clone().into_iter().collect(),
                            actions: Vec::new(),
                            schema: GRANTS_SCHEMA,
                        });
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
        let egress = info
            .as_ref()
            .and_then(|i| Grants::asked_by(i, instance.auth.as_deref(), &instance.config).ok())
            .map(|asks| asks.egress)
            .unwrap_or_default();
        self.schedule(&instance)?;
        Ok(Connected {
            permissions,
            egress,
            actions: info.map(|i| i.actions.clone()).unwrap_or_default(),
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
                    .trigger(&inst.id, &input.kinds)
                    .await
                    .map_err(|e| ControlError::Unavailable(e.to_string()))?;
                let reports = if input.wait { wait.await } else { Vec::new() };
                Ok(ScanOutput { reports })
            }
            None => {
                let reports = scan_instance(
                    &self.store,
                    &entry.plugin,
                    &inst,
                    &input.kinds,
                    &self.scan_options,
                )
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
