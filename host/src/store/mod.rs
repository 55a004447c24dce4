//! All persistent state, in sled. Nothing else in the crate touches sled.
//!
//! Trees:
//! - `instances`: instance id → [`Instance`] (JSON); `instance_names`: name → id.
//! - `secrets`: instance id → sealed secret map (see [`secrets`]).
//! - `records`, records and scan state in one tree (so that a page of snapshot records
//!   commits as one atomic `apply_batch`, much cheaper than a multi-tree transaction):
//!   - `instance \0 kind \0 provider-id` → [`StoredRecord`] (JSON, raw provider JSON
//!     kept) for snapshot kinds;
//!   - `instance \0 activities \0 time(be) \0 id` → a block of activities: the
//!     events of one committed page, keyed by the newest (see [`activities`]). The keys
//!     are the time index, so newest-first queries read blocks in key order;
//!   - `0x02 instance \0 kind` → [`ScanState`]: cursor and generation;
//!   - `0x03 instance \0 activities` → the widest time span of a block.
//!
//!   Instance ids are hex, so the one-byte tag never collides with record keys.
//! - `runs`: `instance \0 started(be) \0 kind` → [`ScanRun`]: history for status.
//! - `settings`: daemon-wide operator settings by name (`limits` → [`GlobalLimitConfig`]).
//! - `api_tokens`: named API tokens, hashed (see [`tokens`]).
//! - `audit`: the hash-chained governance audit log (see [`audit`]).
//!
//! A page of records and the cursor that produced it are committed so that a crash at
//! any point never keeps the cursor without the page ([`Store::commit_page`]): a
//! resumed scan re-reads from the last cursor kept. Snapshot pages go in one atomic
//! sled batch; activity pages are written before their cursor, in plain inserts that
//! sled recovers in order. Records are keyed by provider id and events are unique by
//! time and id, so re-reading is idempotent.

mod activities;
pub(crate) mod audit;
mod inspections;
mod keys;
mod query;
mod secrets;
pub mod tokens;
mod usage;
mod webhooks;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionError};

use crate::model::grants::Grants;
use crate::model::limits::{GlobalLimitConfig, InstanceLimitConfig};
use crate::model::schedule::Schedule;
use crate::model::{ConnectorError, Kind, Millis, Permissions, Record, now_millis};

pub use crate::model::secret::{Secret, Secrets};
pub use audit::{AuditAction, AuditEntry, AuditFilter, AuditVerification, HostWrite};
pub use inspections::{FileInspection, file_version};
pub use keys::{HOOKS_KEY_FILE, TOKEN_FILE, api_token, hook_secret};
pub use query::{DEFAULT_PAGE, MAX_PAGE, RecordFilter, RecordPage};
use secrets::{SecretBox, write_private};
pub use usage::CommitCaps;
use usage::usage_key;

/// Store failures. sled's own error type stays inside this module.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("data dir {path} is in use by another sluice process (is a daemon running?)")]
    Locked { path: PathBuf },
    #[error("database error: {0}")]
    Db(String),
    #[error("{0}")]
    Io(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("unknown instance `{0}`")]
    UnknownInstance(String),
    #[error("an instance named `{0}` already exists")]
    DuplicateName(String),
    #[error("a token named `{0}` already exists (revoke it first to replace it)")]
    DuplicateToken(String),
    #[error("invalid cursor `{0}`: pass back the `next_cursor` of an earlier page")]
    BadCursor(String),
    /// A page or an instance over an operator-set cap; nothing was written.
    #[error("{0}")]
    Cap(String),
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        StoreError::Db(e.to_string())
    }
}

impl From<TransactionError<StoreError>> for StoreError {
    fn from(e: TransactionError<StoreError>) -> Self {
        match e {
            TransactionError::Abort(e) => e,
            TransactionError::Storage(e) => e.into(),
        }
    }
}

/// A connected app instance: which connector, its (non-secret) config, and its state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Instance {
    /// Stable id; records and cursors are keyed by it, so renames are cheap.
    pub id: String,
    /// Operator-given unique name used on the CLI.
    pub name: String,
    /// Connector id (`describe().id`).
    pub connector: String,
    /// Connector version at connect time (informational).
    pub connector_version: String,
    /// Non-secret config, defaults applied. Secrets live in the `secrets` tree.
    pub config: BTreeMap<String, String>,
    /// Operator allowed private and loopback destinations (self-hosted apps, mocks).
    pub allow_private_network: bool,
    /// CA certificates (PEM, certificates only) this instance's requests trust besides
    /// the built-in roots and the daemon's: a self-hosted provider's private CA, a
    /// TLS-inspecting gateway. The text itself, so no file has to stay in place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
    /// Disabled instances keep config, credentials and data but are not scanned.
    pub enabled: bool,
    pub created: Millis,
    pub status: InstanceStatus,
    /// What `check` reported at connect time or at the start of the last connect flow.
    pub permissions: Option<Permissions>,
    /// Operator's rescan intervals (defaults for kinds not listed).
    #[serde(default)]
    pub schedule: Schedule,
    /// Operator's rate-limit budgets and shared scope.
    #[serde(default)]
    pub limits: InstanceLimitConfig,
    /// Run this connector version instead of following the newest one loaded.
    #[serde(default)]
    pub pinned_version: Option<String>,
    /// Egress destinations and actions the operator granted. `None` only on instances
    /// saved before grants existed, until they are migrated (granted what their
    /// connector asks for) on the next start.
    #[serde(default)]
    pub grants: Option<Grants>,
    /// What the connector asked for and the operator chose not to grant, when
    /// connecting: a decision, so it does not put the instance in `needs approval`
    /// (only asks nobody has decided on do). `approve` grants these too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declined: Option<Grants>,
    /// The auth option the operator chose at connect (`None`: the connector's default,
    /// its first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<String>,
    /// How many days back the first activity scan reaches (`None`: the default, see
    /// `ConnectorInfo::look_back_days`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub look_back_days: Option<u32>,
}

impl Instance {
    /// A new instance of `connector` `version` with `config`, connecting, with a fresh
    /// id, everything else at its default (no grants yet: connect sets them).
    pub fn new(
        name: &str,
        connector: &str,
        version: &str,
        config: BTreeMap<String, String>,
    ) -> Instance {
        Instance {
            id: new_instance_id(),
            name: name.into(),
            connector: connector.into(),
            connector_version: version.into(),
            config,
            allow_private_network: false,
            ca_pem: None,
            enabled: true,
            created: now_millis(),
            status: InstanceStatus::Connecting,
            permissions: None,
            schedule: Default::default(),
            limits: Default::default(),
            pinned_version: None,
            grants: None,
            declined: None,
            auth: None,
            look_back_days: None,
        }
    }
}

/// Where an instance is in its life, as shown by `sluice instances`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", tag = "state")]
pub enum InstanceStatus {
    Connecting,
    Scanning {
        kind: Kind,
        pages: u64,
        records: u64,
    },
    Connected {
        last_success: Millis,
    },
    Error {
        /// The error case (`unauthorized`, `rate-limited`, …).
        code: String,
        reason: String,
        at: Millis,
        attempts: u32,
        next_retry: Option<Millis>,
    },
    Disabled,
    /// A newer connector version asks for more than the instance's grants: it is not
    /// scanned until the operator approves (`instances approve`) or pins a version
    /// within the grants.
    NeedsApproval {
        /// The version asking.
        version: String,
        /// What it asks for beyond the grants.
        egress: Vec<String>,
        actions: Vec<crate::model::ActionKind>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        scan_writes: Vec<String>,
    },
}

impl InstanceStatus {
    pub fn from_error(err: &ConnectorError, attempts: u32, next_retry: Option<Millis>) -> Self {
        InstanceStatus::Error {
            code: err.code().to_string(),
            reason: err.to_string(),
            at: now_millis(),
            attempts,
            next_retry,
        }
    }

    /// One-word state for tables.
    pub fn label(&self) -> String {
        match self {
            InstanceStatus::Connecting => "connecting".into(),
            InstanceStatus::Scanning { kind, .. } => format!("scanning {kind}"),
            InstanceStatus::Connected { .. } => "connected".into(),
            InstanceStatus::Error { code, .. } => format!("error: {code}"),
            InstanceStatus::Disabled => "disabled".into(),
            InstanceStatus::NeedsApproval { .. } => "needs approval".into(),
        }
    }
}

/// A stored record with the bookkeeping that makes rescans idempotent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StoredRecord {
    /// Snapshot generation that last saw this record (0 for activities).
    pub generation: u64,
    /// Missing from a completed snapshot scan: kept, but marked.
    pub deleted: bool,
    pub deleted_at: Option<Millis>,
    pub first_seen: Millis,
    pub last_seen: Millis,
    pub record: Record,
    /// Files, in query answers: the content inspection of the file (never stored
    /// with the record; see [`FileInspection`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inspection: Option<FileInspection>,
}

/// Saved progress of one kind's scan for one instance.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScanState {
    /// Snapshot kinds: the generation of the current (or last) scan.
    pub generation: u64,
    /// Where to continue: the next page of an interrupted snapshot scan, or the
    /// activity feed position.
    pub cursor: Option<String>,
    /// A snapshot scan started and has not reached its last page.
    pub in_progress: bool,
    /// Pages and records committed by the current (or last) scan.
    pub pages: u64,
    pub records: u64,
    pub started: Option<Millis>,
    pub last_completed: Option<Millis>,
    /// Activities: a first scan fetched as time ranges side by side, each at its own
    /// position (committed with every page, like `cursor`). Empty otherwise; cleared,
    /// with `cursor` set to the newest range's position, by the commit that ends the
    /// last range.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partitions: Vec<Partition>,
    /// Snapshot kinds: a changes scan (`ScanOptions::changes_only`) lists what changed
    /// from this time on: when the last complete listing started, less
    /// `scan::CHANGES_OVERLAP`. None until a listing completes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes_since: Option<Millis>,
}

/// One time range of a partitioned first activity scan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Partition {
    /// The range's events from this time on (ms).
    pub since: Millis,
    /// ... and before this one; none for the newest range, which reads up to now and
    /// whose final position is where the feed goes on afterwards.
    pub until: Option<Millis>,
    /// The connector's position in this range.
    pub cursor: Option<String>,
    /// The range's last page is committed.
    pub done: bool,
}

/// One finished (or failed) scan of one kind, for history and status.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScanRun {
    pub kind: Kind,
    pub started: Millis,
    pub finished: Millis,
    pub pages: u64,
    pub records: u64,
    /// Records marked deleted at the end of a snapshot scan.
    pub deleted: u64,
    /// None on success.
    pub error: Option<ConnectorError>,
}

/// What to list from the store.
#[derive(Clone, Debug, Default)]
pub struct RecordQuery {
    /// At most this many records.
    pub limit: Option<usize>,
    /// Include records marked deleted.
    pub include_deleted: bool,
}

/// The embedded database, shared by every part of a sluice process.
#[derive(Clone)]
pub struct Store {
    /// The open database; reopened in place by [`Store::recover`]. Every clone of a
    /// store shares it, so a reopened database serves them all.
    trees: std::sync::Arc<std::sync::RwLock<Option<Trees>>>,
    data_dir: PathBuf,
    /// Set while the database cannot write (see [`Store::healthy`]): why.
    unwritable: std::sync::Arc<std::sync::Mutex<Option<String>>>,
    /// Appends to the audit log one at a time (each reads the head it extends).
    audit_lock: std::sync::Arc<std::sync::Mutex<()>>,
    secret_box: std::sync::Arc<SecretBox>,
}

/// The database and its trees.
struct Trees {
    db: sled::Db,
    instances: sled::Tree,
    names: sled::Tree,
    secrets_tree: sled::Tree,
    records: sled::Tree,
    runs: sled::Tree,
    settings: sled::Tree,
    audit: sled::Tree,
    tokens: sled::Tree,
    /// Signed webhook deliveries already accepted: signature digest → when.
    hooks_seen: sled::Tree,
}

impl Trees {
    fn open(db: sled::Db) -> Result<Trees, StoreError> {
        Ok(Trees {
            instances: db.open_tree("instances")?,
            names: db.open_tree("instance_names")?,
            secrets_tree: db.open_tree("secrets")?,
            records: db.open_tree("records")?,
            runs: db.open_tree("runs")?,
            settings: db.open_tree("settings")?,
            audit: db.open_tree("audit")?,
            tokens: db.open_tree("api_tokens")?,
            hooks_seen: db.open_tree("hooks_seen")?,
            db,
        })
    }
}

/// The open trees, for one operation.
struct TreesGuard<'a>(std::sync::RwLockReadGuard<'a, Option<Trees>>);

impl std::ops::Deref for TreesGuard<'_> {
    type Target = Trees;
    fn deref(&self) -> &Trees {
        self.0.as_ref().expect("checked when the guard was made")
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

const SEP: u8 = 0;
/// Key-space tags inside the `records` tree (see the module docs). `TIME_TAG` marked
/// the separate activity time index of older stores, migrated away at open.
const TIME_TAG: u8 = 0x01;
const STATE_TAG: u8 = 0x02;

fn tagged(tag: u8, k: Vec<u8>) -> Vec<u8> {
    let mut out = Vec::with_capacity(k.len() + 1);
    out.push(tag);
    out.extend_from_slice(&k);
    out
}

fn state_key(instance_id: &str, kind: Kind) -> Vec<u8> {
    tagged(
        STATE_TAG,
        key(&[instance_id.as_bytes(), kind.as_str().as_bytes()]),
    )
}

/// The key of a snapshot record (users, groups, …): its provider id. Activities are
/// stored in blocks ([`activities`]).
fn record_key(instance_id: &str, kind: Kind, r: &Record) -> Vec<u8> {
    key(&[
        instance_id.as_bytes(),
        kind.as_str().as_bytes(),
        r.id().as_bytes(),
    ])
}

fn key(parts: &[&[u8]]) -> Vec<u8> {
    let mut k = Vec::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            k.push(SEP);
        }
        k.extend_from_slice(p);
    }
    k
}

fn prefix(parts: &[&[u8]]) -> Vec<u8> {
    let mut k = key(parts);
    k.push(SEP);
    k
}

/// The first key after every key that starts with `p`.
fn prefix_end(p: &[u8]) -> Vec<u8> {
    let mut end = p.to_vec();
    if let Some(last) = end.last_mut() {
        *last += 1; // prefixes end in SEP (0), so this cannot overflow
    }
    end
}

fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_json<T: for<'de> Deserialize<'de>>(b: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(b).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl Store {
    /// Open (creating if needed) the store in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| StoreError::Io(format!("creating {}: {e}", data_dir.display())))?;
        make_private(data_dir)?;
        let db = open_db(data_dir)?;
        let sealed = db.open_tree("secrets")?.len();
        let secret_box = SecretBox::open(&data_dir.join("secret.key"), sealed)?;
        migrate_separate_index_trees(&db)?;
        Ok(Store {
            trees: std::sync::Arc::new(std::sync::RwLock::new(Some(Trees::open(db)?))),
            data_dir: data_dir.to_path_buf(),
            unwritable: Default::default(),
            audit_lock: Default::default(),
            secret_box: std::sync::Arc::new(secret_box),
        })
    }

    /// The open trees; an error while the database is being reopened failed.
    fn t(&self) -> Result<TreesGuard<'_>, StoreError> {
        let guard = self.trees.read().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            return Err(StoreError::Db(
                "the database could not be reopened after a disk error; retrying".into(),
            ));
        }
        Ok(TreesGuard(guard))
    }

    /// Whether the database still writes: sled stops writing for good after a disk
    /// error (a full disk, say) until it is reopened. Cheap when nothing is dirty.
    /// While it cannot, every instance's status reads as the store's error.
    pub fn healthy(&self) -> Result<(), StoreError> {
        let flushed = self.t().and_then(|t| Ok(t.db.flush()?));
        if let Err(e) = &flushed {
            *self.unwritable.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
        }
        flushed.map(|_| ())
    }

    /// An instance's status as operators should see it: while the database cannot
    /// write, the stored status is stale (a scan that failed could not say so).
    pub fn shown(&self, mut inst: Instance) -> Instance {
        if let Some(why) = &*self.unwritable.lock().unwrap_or_else(|p| p.into_inner()) {
            inst.status = InstanceStatus::Error {
                code: "store-unwritable".into(),
                reason: format!(
                    "the data dir cannot be written ({why}); free disk space: scans resume by themselves once it can"
                ),
                at: now_millis(),
                attempts: 0,
                next_retry: None,
            };
        }
        inst
    }

    /// Reopen the database after a disk error, in place for every clone of this store:
    /// what was committed before the error is there (sled recovers to its last
    /// durable write, like after a crash, and every page commits with its cursor in
    /// one write), what failed is not. Fails while the disk still fails.
    pub fn recover(&self) -> Result<(), StoreError> {
        // Never queue for the lock: an operation holding a read guard may take another
        // one, which a queued writer would block for good. Operations are short.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let mut trees = loop {
            match self.trees.try_write() {
                Ok(t) => break t,
                Err(std::sync::TryLockError::Poisoned(p)) => break p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock)
                    if std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                Err(std::sync::TryLockError::WouldBlock) => {
                    return Err(StoreError::Db("the database is busy; will retry".into()));
                }
            }
        };
        if let Some(t) = trees.as_ref()
            && t.db.flush().is_ok()
        {
            return Ok(());
        }
        // The old handles go first: sled holds a lock on its files while open.
        drop(trees.take());
        let reopened = open_db(&self.data_dir).and_then(|db| {
            let t = Trees::open(db)?;
            // Prove it writes before saying so.
            t.settings
                .insert("health-check", &now_millis().to_be_bytes())?;
            t.db.flush()?;
            Ok(t)
        });
        match reopened {
            Ok(t) => {
                *trees = Some(t);
                *self.unwritable.lock().unwrap_or_else(|p| p.into_inner()) = None;
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

/// Open the sled database of a data dir.
fn open_db(data_dir: &Path) -> Result<sled::Db, StoreError> {
    {
        let db_path = data_dir.join("db");
        let open = || {
            sled::Config::new()
                .path(&db_path)
                .open()
                .map_err(|e| match e {
                    sled::Error::Io(ref io) if io.kind() == std::io::ErrorKind::WouldBlock => {
                        StoreError::Locked {
                            path: data_dir.to_path_buf(),
                        }
                    }
                    sled::Error::Io(ref io) if io.to_string().contains("lock") => {
                        StoreError::Locked {
                            path: data_dir.to_path_buf(),
                        }
                    }
                    other => other.into(),
                })
        };
        // A store just closed in this process keeps its lock until sled's background
        // flusher (every 500 ms) lets go of the last handle: wait that long, not longer.
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(1200);
        loop {
            match open() {
                Err(StoreError::Locked { .. }) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(50))
                }
                other => break other,
            }
        }
    }
}

impl Store {
    /// Write everything to disk now (sled also flushes periodically).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.t()?.db.flush()?;
        Ok(())
    }

    // ---- instances -------------------------------------------------------------

    /// Create an instance and its secrets atomically; names are unique.
    pub fn create_instance(&self, inst: &Instance, secrets: &Secrets) -> Result<(), StoreError> {
        let sealed = self.secret_box.seal(&inst.id, secrets)?;
        let value = to_json(inst)?;
        (
            &self.t()?.instances,
            &self.t()?.names,
            &self.t()?.secrets_tree,
        )
            .transaction(|(instances, names, secrets_tree)| {
                if names.get(inst.name.as_bytes())?.is_some() {
                    return Err(ConflictableTransactionError::Abort(
                        StoreError::DuplicateName(inst.name.clone()),
                    ));
                }
                names.insert(inst.name.as_bytes(), inst.id.as_bytes())?;
                instances.insert(inst.id.as_bytes(), value.clone())?;
                secrets_tree.insert(inst.id.as_bytes(), sealed.clone())?;
                Ok(())
            })?;
        Ok(())
    }

    /// Every instance, by name.
    pub fn instances(&self) -> Result<Vec<Instance>, StoreError> {
        let mut all = self
            .t()?
            .instances
            .iter()
            .values()
            .map(|v| from_json::<Instance>(&v?))
            .collect::<Result<Vec<_>, _>>()?;
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(all)
    }

    /// Look an instance up by name (or id).
    pub fn instance(&self, name_or_id: &str) -> Result<Instance, StoreError> {
        let id = match self.t()?.names.get(name_or_id.as_bytes())? {
            Some(id) => id,
            None => sled::IVec::from(name_or_id.as_bytes()),
        };
        match self.t()?.instances.get(&id)? {
            Some(v) => from_json(&v),
            None => Err(StoreError::UnknownInstance(name_or_id.to_string())),
        }
    }

    /// Read-modify-write an instance.
    pub fn update_instance(
        &self,
        id: &str,
        f: impl Fn(&mut Instance),
    ) -> Result<Instance, StoreError> {
        let mut out = None;
        let mut err = None;
        self.t()?.instances.update_and_fetch(id.as_bytes(), |old| {
            let old = old?;
            match from_json::<Instance>(old) {
                Ok(mut inst) => {
                    f(&mut inst);
                    match to_json(&inst) {
                        Ok(v) => {
                            out = Some(inst);
                            Some(v)
                        }
                        Err(e) => {
                            err = Some(e);
                            Some(old.to_vec())
                        }
                    }
                }
                Err(e) => {
                    err = Some(e);
                    Some(old.to_vec())
                }
            }
        })?;
        if let Some(e) = err {
            return Err(e);
        }
        out.ok_or_else(|| StoreError::UnknownInstance(id.to_string()))
    }

    /// Record an instance's status. A disabled instance stays `disabled` whatever a
    /// scan that was still finishing reports.
    pub fn set_status(&self, id: &str, status: InstanceStatus) -> Result<Instance, StoreError> {
        self.update_instance(id, |i| {
            if i.enabled || status == InstanceStatus::Disabled {
                i.status = status.clone()
            }
        })
    }

    /// The instance's secrets, decrypted.
    pub fn secrets(&self, id: &str) -> Result<Secrets, StoreError> {
        match self.t()?.secrets_tree.get(id.as_bytes())? {
            Some(b) => self.secret_box.open_sealed(id, &b),
            None => Ok(Secrets::new()),
        }
    }

    /// Replace (or add) one secret of an instance, e.g. a refresh token the provider
    /// rotated; the others are kept. Flushed before returning, so a crash right after
    /// cannot lose a token the provider already considers the only valid one.
    pub fn replace_secret(&self, id: &str, field: &str, value: &Secret) -> Result<(), StoreError> {
        if self.t()?.instances.get(id.as_bytes())?.is_none() {
            return Err(StoreError::UnknownInstance(id.to_string()));
        }
        let mut secrets = self.secrets(id)?;
        secrets.insert(field.to_string(), value.clone());
        let sealed = self.secret_box.seal(id, &secrets)?;
        self.t()?.secrets_tree.insert(id.as_bytes(), sealed)?;
        self.t()?.secrets_tree.flush()?;
        Ok(())
    }

    /// Delete an instance with all its records, cursors, runs and secrets.
    pub fn remove_instance(&self, name_or_id: &str) -> Result<Instance, StoreError> {
        let inst = self.instance(name_or_id)?;
        let p = prefix(&[inst.id.as_bytes()]);
        for (tree, p) in [
            (&self.t()?.records, p.clone()),
            (&self.t()?.records, tagged(TIME_TAG, p.clone())),
            (&self.t()?.records, tagged(STATE_TAG, p.clone())),
            (&self.t()?.records, tagged(activities::SPAN_TAG, p.clone())),
            (&self.t()?.records, tagged(usage::USAGE_TAG, p.clone())),
            (
                &self.t()?.records,
                tagged(inspections::INSPECT_TAG, p.clone()),
            ),
            (&self.t()?.runs, p),
        ] {
            let mut batch = sled::Batch::default();
            for k in tree.scan_prefix(&p).keys() {
                batch.remove(k?);
            }
            tree.apply_batch(batch)?;
        }
        self.t()?.secrets_tree.remove(inst.id.as_bytes())?;
        self.t()?.names.remove(inst.name.as_bytes())?;
        self.t()?.instances.remove(inst.id.as_bytes())?;
        self.flush()?;
        Ok(inst)
    }

    // ---- settings -----------------------------------------------------------------

    /// Shared-scope and host budgets.
    pub fn global_limits(&self) -> Result<GlobalLimitConfig, StoreError> {
        match self.t()?.settings.get("limits")? {
            Some(v) => from_json(&v),
            None => Ok(GlobalLimitConfig::default()),
        }
    }

    pub fn put_global_limits(&self, limits: &GlobalLimitConfig) -> Result<(), StoreError> {
        self.t()?.settings.insert("limits", to_json(limits)?)?;
        self.flush()
    }

    // ---- scan state and pages ----------------------------------------------------

    pub fn scan_state(&self, instance_id: &str, kind: Kind) -> Result<ScanState, StoreError> {
        match self.t()?.records.get(state_key(instance_id, kind))? {
            Some(v) => from_json(&v),
            None => Ok(ScanState::default()),
        }
    }

    /// Save scan state on its own (scan start), with no records.
    pub fn put_scan_state(
        &self,
        instance_id: &str,
        kind: Kind,
        state: &ScanState,
    ) -> Result<(), StoreError> {
        self.t()?
            .records
            .insert(state_key(instance_id, kind), to_json(state)?)?;
        Ok(())
    }

    /// Commit one page: its records and the scan state that follows it. The state is
    /// never kept without the records: snapshot pages commit atomically, activity pages
    /// before their state (see `insert_activities`).
    ///
    /// `sweep`: this is the last page of snapshot generation `state.generation`; every
    /// record of the kind not seen in this generation is marked deleted in the same
    /// transaction. Returns the number of records newly marked deleted.
    pub fn commit_page(
        &self,
        instance_id: &str,
        kind: Kind,
        records: &[Record],
        state: &ScanState,
        sweep: bool,
    ) -> Result<u64, StoreError> {
        self.commit_page_capped(instance_id, kind, records, state, sweep, &CommitCaps::NONE)
    }

    /// [`Self::commit_page`] held to `caps`: a page over them is refused whole
    /// ([`StoreError::Cap`]) and its cursor not moved.
    pub fn commit_page_capped(
        &self,
        instance_id: &str,
        kind: Kind,
        records: &[Record],
        state: &ScanState,
        sweep: bool,
        caps: &CommitCaps,
    ) -> Result<u64, StoreError> {
        let now = now_millis();
        let usage = self.usage(instance_id)?;
        if !kind.is_snapshot() {
            // Events first, the cursor after them: see `insert_activities`.
            let added = self.insert_activities(instance_id, records, now, usage, caps)?;
            // Plain inserts in this order, not a `Batch`: sled seals and writes its IO
            // buffer for every batch, which made each page a disk write (15× the
            // writes, a page commit 40% slower). sled recovers a prefix of its writes,
            // so a crash leaves the blocks, then the count, then the cursor: a count
            // without its cursor is right, since the resumed page finds its events
            // stored and adds nothing.
            let t = self.t()?;
            t.records
                .insert(usage_key(instance_id), &(usage + added).to_be_bytes())?;
            t.records
                .insert(state_key(instance_id, kind), to_json(state)?)?;
            return Ok(0);
        }
        let mut batch = sled::Batch::default();
        let generation = state.generation;
        let mut seen = HashSet::with_capacity(records.len());
        // Bytes this page writes, and the change in what the instance keeps.
        let (mut page_bytes, mut delta) = (0u64, 0i64);
        for r in records {
            let k = record_key(instance_id, kind, r);
            // Keep first_seen across rescans.
            let first_seen = match self.t()?.records.get(&k)? {
                Some(old) => {
                    delta -= (k.len() + old.len()) as i64;
                    from_json::<StoredRecord>(&old)?.first_seen
                }
                None => now,
            };
            let stored = StoredRecordRef {
                generation,
                deleted: false,
                deleted_at: None,
                first_seen,
                last_seen: now,
                record: r,
            };
            let value = to_json(&stored)?;
            page_bytes += value.len() as u64;
            delta += (k.len() + value.len()) as i64;
            seen.insert(k.clone());
            batch.insert(k, value);
        }
        // Sweeping only flags records (a few bytes each way): not counted.
        let usage = caps.admit(page_bytes, usage, delta)?;
        let mut deleted = 0;
        if sweep {
            let p = prefix(&[instance_id.as_bytes(), kind.as_str().as_bytes()]);
            for item in self.t()?.records.scan_prefix(&p) {
                let (k, v) = item?;
                if seen.contains(k.as_ref()) {
                    continue;
                }
                let mut old: StoredRecord = from_json(&v)?;
                if old.generation < generation && !old.deleted {
                    old.deleted = true;
                    old.deleted_at = Some(now);
                    batch.insert(k, to_json(&old)?);
                    deleted += 1;
                }
            }
        }
        batch.insert(state_key(instance_id, kind), to_json(state)?);
        batch.insert(usage_key(instance_id), &usage.to_be_bytes());
        // One batch on one tree: atomic, and crash-safe through sled's batch manifest.
        self.t()?.records.apply_batch(batch)?;
        Ok(deleted)
    }

    pub fn record_run(&self, instance_id: &str, run: &ScanRun) -> Result<(), StoreError> {
        self.t()?.runs.insert(
            key(&[
                instance_id.as_bytes(),
                &run.started.to_be_bytes(),
                run.kind.as_str().as_bytes(),
            ]),
            to_json(run)?,
        )?;
        Ok(())
    }

    /// Scan history, newest first.
    pub fn runs(&self, instance_id: &str, limit: usize) -> Result<Vec<ScanRun>, StoreError> {
        self.t()?
            .runs
            .scan_prefix(prefix(&[instance_id.as_bytes()]))
            .values()
            .rev()
            .take(limit)
            .map(|v| from_json(&v?))
            .collect()
    }

    // ---- queries -----------------------------------------------------------------

    /// Records of one kind, in key order (activities: newest first).
    pub fn records(
        &self,
        instance_id: &str,
        kind: Kind,
        query: &RecordQuery,
    ) -> Result<Vec<StoredRecord>, StoreError> {
        let limit = query.limit.unwrap_or(usize::MAX);
        let mut out = Vec::new();
        if kind == Kind::Activities {
            for item in self.activities_desc(instance_id, None, None)?.take(limit) {
                out.push(item?.1);
            }
            return Ok(out);
        }
        for v in self
            .t()?
            .records
            .scan_prefix(prefix(&[instance_id.as_bytes(), kind.as_str().as_bytes()]))
            .values()
        {
            if out.len() >= limit {
                break;
            }
            let r: StoredRecord = from_json(&v?)?;
            if r.deleted && !query.include_deleted {
                continue;
            }
            out.push(r);
        }
        Ok(out)
    }

    /// One snapshot record (users, groups, files, app permissions, findings) by
    /// provider id, deleted or not.
    pub fn record(
        &self,
        instance_id: &str,
        kind: Kind,
        id: &str,
    ) -> Result<Option<StoredRecord>, StoreError> {
        let k = key(&[
            instance_id.as_bytes(),
            kind.as_str().as_bytes(),
            id.as_bytes(),
        ]);
        match self.t()?.records.get(k)? {
            Some(v) => Ok(Some(from_json(&v)?)),
            None => Ok(None),
        }
    }

    /// Count records of a kind: (live, deleted).
    pub fn count(&self, instance_id: &str, kind: Kind) -> Result<(u64, u64), StoreError> {
        if kind == Kind::Activities {
            // Events are never marked deleted.
            return Ok((self.count_activities(instance_id)?, 0));
        }
        let (mut live, mut deleted) = (0, 0);
        for v in self
            .t()?
            .records
            .scan_prefix(prefix(&[instance_id.as_bytes(), kind.as_str().as_bytes()]))
            .values()
        {
            let v = v?;
            // Cheap check without a full parse: the envelope starts with its flags.
            let r: StoredRecordFlags = from_json(&v)?;
            if r.deleted { deleted += 1 } else { live += 1 }
        }
        Ok((live, deleted))
    }
}

/// [`StoredRecord`]'s serialized form, borrowing the record: committing a page does not
/// clone every record (and its raw JSON) just to write it.
#[derive(Serialize)]
struct StoredRecordRef<'a> {
    generation: u64,
    deleted: bool,
    deleted_at: Option<Millis>,
    first_seen: Millis,
    last_seen: Millis,
    record: &'a Record,
}

/// Stores written before the index and scan state moved into the `records` tree kept
/// them in trees of their own; move them over once, at open.
fn migrate_separate_index_trees(db: &sled::Db) -> Result<(), StoreError> {
    let names = db.tree_names();
    let records = db.open_tree("records")?;
    for (name, tag) in [("activity_time", TIME_TAG), ("scan_state", STATE_TAG)] {
        if !names.iter().any(|n| n.as_ref() == name.as_bytes()) {
            continue;
        }
        let old = db.open_tree(name)?;
        let mut batch = sled::Batch::default();
        for item in old.iter() {
            let (k, v) = item?;
            batch.insert(tagged(tag, k.to_vec()), v);
        }
        records.apply_batch(batch)?;
        db.drop_tree(name)?;
    }
    // Then the time index itself: activities move to time-ordered keys.
    let mut batch = sled::Batch::default();
    let mut moved = 0usize;
    for item in records.scan_prefix([TIME_TAG]) {
        let (k, _) = item?;
        // tag instance \0 time(8) \0 id
        let body = &k[1..];
        let Some(sep) = body.iter().position(|b| *b == SEP) else {
            continue;
        };
        let (instance, rest) = (&body[..sep], &body[sep + 1..]);
        if rest.len() < 10 {
            continue;
        }
        let (time, id) = (&rest[..8], &rest[9..]);
        let old = key(&[instance, Kind::Activities.as_str().as_bytes(), id]);
        if let Some(v) = records.get(&old)? {
            batch.insert(
                key(&[instance, Kind::Activities.as_str().as_bytes(), time, id]),
                v,
            );
            batch.remove(old);
        }
        batch.remove(k);
        moved += 1;
    }
    if moved > 0 {
        records.apply_batch(batch)?;
        tracing::info!("migrated {moved} activities to time-ordered keys");
    }
    Ok(())
}

/// Just the flags of a [`StoredRecord`], for counting without parsing raw JSON into values.
#[derive(Deserialize)]
struct StoredRecordFlags {
    deleted: bool,
}

/// Create a file only the owner can read; used for tokens and keys beside the database.
pub fn write_private_file(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    write_private(path, bytes)
}

/// A fresh random instance id.
pub fn new_instance_id() -> String {
    use rand::RngCore;
    let mut b = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

#[cfg(test)]
pub(crate) mod tests;

/// Make the data dir readable by its owner only: collected records, the audit log and
/// the key files are in it, and sled creates its files with the process umask.
fn make_private(dir: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let meta = std::fs::metadata(dir)
            .map_err(|e| StoreError::Io(format!("reading {}: {e}", dir.display())))?;
        if meta.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| StoreError::Io(format!("making {} private: {e}", dir.display())))?;
        }
    }
    Ok(())
}
