//! Running a connector's listings into the store, one committed page at a time.
//!
//! Snapshot kinds (users, groups, files, app permissions, findings) are read whole:
//! a scan gets a new generation, each page is committed with the cursor of the page
//! after it, and the last page's commit marks records missing from this generation as
//! deleted. An interrupted scan (crash, error) resumes from its saved cursor in the same
//! generation, so nothing is lost or duplicated and nothing is wrongly marked deleted.
//!
//! Activities are a feed: each page is committed with the connector's position, so the
//! next run fetches only what is new. A first scan of a connector that reads time ranges
//! is fetched as ranges side by side ([`partitions`]).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::inspection::{InspectOptions, inspect_files};
use crate::model::{ConnectorError, Kind, Millis, Page, SentWrite, now_millis};
use crate::runtime::{CallContext, LoadedPlugin, findings_page};
use crate::session::InstanceSession;
use crate::store::{
    AuditAction, AuditEntry, CommitCaps, HostWrite, Instance, InstanceStatus, ScanRun, ScanState,
    Store, StoreError,
};
use tracing::Instrument as _;

pub mod partitions;

/// Knobs for a scan.
#[derive(Clone, Debug)]
pub struct ScanOptions {
    /// Records per page asked of the connector.
    pub page_size: u32,
    /// Safety bound on pages per kind per run (a connector that never ends).
    pub max_pages: u64,
    /// First activity scan: start here instead of the instance's look-back before now
    /// (recordings fix it so a replay asks for the same window).
    pub activity_since: Option<Millis>,
    /// The run's clock, as connectors see it (`context.now`): when the run starts
    /// unless set (recordings fix it too, so a replay asks for the same windows).
    pub now: Option<Millis>,
    /// Bounds on what a connector may hand over and the store keep.
    pub caps: ScanCaps,
    /// A first activity scan of a connector that reads time ranges is fetched as up to
    /// this many ranges side by side (at most [`partitions::MAX_RANGES`]; 1: one feed).
    pub activity_partitions: u32,
    /// Content inspection after a files scan.
    pub inspection: Arc<InspectOptions>,
    /// Files: list only what changed since the last complete listing (the connector
    /// gets `context.since`), and sweep nothing at the end: a provider's change
    /// notification (a webhook) asks for this, so a new share is seen at once without
    /// listing the tenant. The interval's scans stay full, and find deletions. Without
    /// a complete listing yet, or with one interrupted, the scan is a full one.
    pub changes_only: bool,
}

/// How far back of the last listing's start a changes scan reaches, for providers'
/// clocks and updates still being indexed when that listing ran.
pub const CHANGES_OVERLAP: Millis = 5 * 60 * 1000;

/// Operator-tunable bounds on stored data. A connector that hands over more is
/// stopped with an `over-cap` error naming the cap; nothing of the refused page is
/// stored and its cursor does not move.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScanCaps {
    /// Records in one page (a connector asks for about `page_size`).
    pub page_records: u64,
    /// Records one scan of one kind commits; the scan then stops and resumes from its
    /// cursor on the next run.
    pub scan_records: u64,
    /// Bytes per page and per instance (see [`CommitCaps`]).
    pub commit: CommitCaps,
}

impl Default for ScanCaps {
    fn default() -> Self {
        ScanCaps {
            page_records: 10_000,
            scan_records: 10_000_000,
            commit: CommitCaps {
                page_bytes: 64 << 20,
                instance_bytes: 20 << 30,
            },
        }
    }
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            page_size: 100,
            max_pages: 1_000_000,
            activity_since: None,
            now: None,
            caps: ScanCaps::default(),
            activity_partitions: 4,
            inspection: Arc::default(),
            changes_only: false,
        }
    }
}

/// Asks a running scan to stop at the next page boundary (disable, shutdown).
///
/// Checked between pages only: a page and its cursor are committed together, so a scan
/// stopped this way resumes exactly where it stopped.
#[derive(Clone, Debug, Default)]
pub struct StopSignal(Arc<AtomicBool>);

impl StopSignal {
    pub fn new() -> StopSignal {
        StopSignal::default()
    }
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

pub use crate::model::KindReport;

/// Put the writes the connector sent while fetching (its declared scan writes) in
/// the audit log, one entry each, before the page they served is committed.
fn audit_scan_writes(
    store: &Store,
    instance: &Instance,
    version: &str,
    kind: Kind,
    ctx: &CallContext,
) -> Result<(), ScanError> {
    let sent: Vec<SentWrite> = {
        let mut log = ctx.sent_writes.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut *log)
    };
    for write in sent {
        let entry = AuditEntry {
            seq: 0,
            at: now_millis(),
            who: "scan".into(),
            instance: instance.name.clone(),
            instance_id: instance.id.clone(),
            connector: instance.connector.clone(),
            connector_version: version.to_string(),
            action: AuditAction::Host(HostWrite::ScanWrite),
            target: write.request.clone(),
            params: Vec::new(),
            reason: None,
            dry_run: false,
            outcome: match write.status {
                Some(s) if s < 400 => "done".into(),
                _ => "failed".into(),
            },
            message: format!("sent by the connector during a {kind} scan"),
            requests: vec![write.request.clone()],
            provider_status: write.status,
            sent: vec![write],
            prev: String::new(),
            hash: String::new(),
        };
        let logged = store.append_audit(entry)?;
        tracing::info!(instance = %instance.name, %kind, seq = logged.seq, "scan write: {}", logged.target);
    }
    Ok(())
}

/// Where pages come from. The wasm plugin in production; the benchmarks also feed the
/// same mapping compiled natively through it, so both take the identical store path.
pub trait Lister {
    /// One page of `kind` (findings: the whole posture check as one page).
    fn page(
        &self,
        ctx: CallContext,
        kind: Kind,
        cursor: Option<String>,
    ) -> impl std::future::Future<Output = Result<Page, ConnectorError>> + Send;

    /// The version serving the pages, for logs.
    fn version(&self) -> &str {
        ""
    }

    /// Whether `list-activities` reads `[since, until)` ranges (contract 0.3.0
    /// `activity-partitions`).
    fn activity_partitions(&self) -> bool {
        false
    }
}

impl Lister for LoadedPlugin {
    async fn page(
        &self,
        ctx: CallContext,
        kind: Kind,
        cursor: Option<String>,
    ) -> Result<Page, ConnectorError> {
        if kind == Kind::Findings {
            self.posture(ctx).await.map(findings_page)
        } else {
            self.list(ctx, kind, cursor).await
        }
    }

    fn version(&self) -> &str {
        &self.info.version
    }

    fn activity_partitions(&self) -> bool {
        self.info.activity_partitions
    }
}

fn hash(cursor: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one(cursor)
}

/// At most `max` characters of `s`, for messages.
fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// Scan failures that are not the connector's.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn set_status(store: &Store, id: &str, status: InstanceStatus) -> Result<(), StoreError> {
    store.set_status(id, status).map(|_| ())
}

/// A page handed to a blocking thread for its commit.
struct PendingCommit {
    records: u64,
    task: tokio::task::JoinHandle<Result<u64, StoreError>>,
}

/// Wait for the page in flight, if any: its record count and deleted count.
async fn finish(pending: Option<PendingCommit>) -> Option<Result<(u64, u64), StoreError>> {
    let p = pending?;
    let deleted = p
        .task
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    Some(deleted.map(|d| (p.records, d)))
}

/// A commit refused by a cap is the scan's error, not the store's.
fn over_cap<T>(
    done: Result<T, StoreError>,
    report: &mut KindReport,
) -> Result<Option<T>, StoreError> {
    match done {
        Ok(t) => Ok(Some(t)),
        Err(StoreError::Cap(m)) => {
            report.error = Some(ConnectorError::OverCap(m));
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Count a committed page and show the progress in the instance's status.
fn account(
    store: &Store,
    instance: &Instance,
    kind: Kind,
    report: &mut KindReport,
    (records, deleted): (u64, u64),
) -> Result<(), StoreError> {
    report.pages += 1;
    report.records += records;
    report.deleted += deleted;
    set_status(
        store,
        &instance.id,
        InstanceStatus::Scanning {
            kind,
            pages: report.pages,
            records: report.records,
        },
    )
}

/// Scan one kind to completion (or first error), committing page by page.
#[tracing::instrument(name = "scan", skip_all, fields(
    instance = %instance.name,
    kind = %kind,
    plugin = %instance.connector,
    version = %plugin.version(),
))]
pub async fn scan_kind(
    store: &Store,
    plugin: &impl Lister,
    instance: &Instance,
    base: &CallContext,
    kind: Kind,
    opts: &ScanOptions,
    stop: &StopSignal,
) -> Result<KindReport, ScanError> {
    let started = now_millis();
    let mut state = store.scan_state(&instance.id, kind)?;
    // A changes scan lists into the current generation and is not resumed: its pages
    // are upserts, its cursor lives in this run only, and nothing is swept.
    let changes = opts.changes_only
        && kind == Kind::Files
        && !state.in_progress
        && state.changes_since.is_some();
    if changes {
        state.cursor = None;
    } else if kind.is_snapshot() && !state.in_progress {
        state = ScanState {
            generation: state.generation + 1,
            cursor: None,
            in_progress: true,
            pages: 0,
            records: 0,
            started: Some(started),
            last_completed: state.last_completed,
            partitions: Vec::new(),
            changes_since: state.changes_since,
        };
        store.put_scan_state(&instance.id, kind, &state)?;
    }
    let mut report = KindReport {
        kind,
        pages: 0,
        records: 0,
        deleted: 0,
        error: None,
        skipped: false,
        stopped: false,
        inspection: None,
    };
    let mut ctx = base.clone();
    ctx.page_size = opts.page_size;
    ctx.now = Some(opts.now.unwrap_or(started));
    if changes {
        ctx.since = state.changes_since;
    }
    // Page N is committed on a blocking thread while page N+1 is fetched: the
    // connector call and the sled commit each take about half of a page's time, so
    // overlapping them nearly halves a scan. Commits still happen one at a time and in
    // order, each with the cursor of its own page, so a crash or an error in page N+1
    // leaves exactly what a sequential scan would have left.
    let mut pending: Option<PendingCommit> = None;
    let (mut fetched, mut fetched_records) = (0u64, 0u64);
    let caps = &opts.caps;
    // Every cursor this run was handed: one handed again means paging that loops.
    let mut cursors: HashSet<u64> = state.cursor.iter().map(|c| hash(c)).collect();
    if kind == Kind::Activities && plugin.activity_partitions() && state.partitions.is_empty() {
        let first_since = opts
            .activity_since
            .unwrap_or(started - base.look_back_millis());
        let now = ctx.now.unwrap_or(started);
        if let Some(since) = partitions::start(store, instance, &state, first_since, now)?
            && partitions::plan(true, opts, since, now, &mut state)
        {
            store.put_scan_state(&instance.id, kind, &state)?;
        }
    }
    let ranges = partitions::Scan {
        store,
        plugin,
        instance,
        base,
        opts,
        stop,
    };
    if !state.partitions.is_empty() {
        partitions::scan(&ranges, &ctx, &mut state, &mut report).await?;
    } else {
        // One feed (or one generation) page after page.
        loop {
            if stop.is_stopped() {
                report.stopped = true;
                break;
            }
            if fetched >= opts.max_pages {
                report.error = Some(ConnectorError::Other(format!(
                    "stopped after {} pages; the scan resumes from its cursor next time",
                    opts.max_pages
                )));
                break;
            }
            if fetched_records >= caps.scan_records {
                report.error = Some(ConnectorError::OverCap(format!(
                    "stopped after {fetched_records} records in one scan (daemon --max-scan-records {}); the scan resumes from its cursor next time",
                    caps.scan_records
                )));
                break;
            }
            if kind == Kind::Activities && state.cursor.is_none() {
                ctx.since = Some(
                    opts.activity_since
                        .unwrap_or(started - base.look_back_millis()),
                );
            }
            let fetch = plugin
                .page(ctx.clone(), kind, state.cursor.clone())
                .instrument(tracing::debug_span!("page", n = fetched + 1));
            let (result, committed) = tokio::join!(fetch, finish(pending.take()));
            if let Some(done) = committed {
                match over_cap(done, &mut report)? {
                    Some(done) => account(store, instance, kind, &mut report, done)?,
                    // The fetched page follows the refused one: it is not committed.
                    None => break,
                }
            }
            audit_scan_writes(store, instance, plugin.version(), kind, base)?;
            let page: Page = match result {
                Ok(p) => p,
                Err(ConnectorError::Unsupported(why)) if report.pages == 0 => {
                    tracing::info!(instance = %instance.name, %kind, "skipped: {why}");
                    report.skipped = true;
                    if kind.is_snapshot() {
                        state.in_progress = false;
                        store.put_scan_state(&instance.id, kind, &state)?;
                    }
                    break;
                }
                Err(e) => {
                    report.error = Some(e);
                    break;
                }
            };
            fetched += 1;
            let n = page.records.len() as u64;
            if n > caps.page_records {
                report.error = Some(ConnectorError::OverCap(format!(
                    "a page of {n} records exceeds the cap of {} per page (daemon --max-page-records); nothing of it was stored",
                    caps.page_records
                )));
                break;
            }
            fetched_records += n;
            let previous_cursor = state.cursor.clone();
            let last = if kind.is_snapshot() {
                state.cursor = page.next_cursor.clone();
                page.next_cursor.is_none()
            } else {
                if page.next_cursor.is_some() {
                    state.cursor = page.next_cursor.clone();
                }
                // A feed that claims more but does not move would loop forever.
                !page.more || (n == 0 && state.cursor == previous_cursor)
            };
            // Where the next page starts (an activity page that names none repeats its own).
            if !last
                && let Some(next) = &state.cursor
                && !cursors.insert(hash(next))
            {
                report.error = Some(ConnectorError::OverCap(format!(
                    "paging loops: page {fetched} named a next cursor this scan was already given (`{}`); nothing of that page was stored",
                    cut(next, 80)
                )));
                break;
            }
            state.pages += 1;
            state.records += n;
            if last {
                state.in_progress = false;
                state.last_completed = Some(now_millis());
                if kind == Kind::Files {
                    let listed_from = if changes {
                        started
                    } else {
                        state.started.unwrap_or(started)
                    };
                    state.changes_since = Some(listed_from - CHANGES_OVERLAP);
                }
            }
            let (store2, id, mut committed_state) =
                (store.clone(), instance.id.clone(), state.clone());
            if changes && !last {
                // Not resumable: an interrupted changes scan leaves no cursor behind.
                committed_state.cursor = None;
            }
            let sweep = last && !changes;
            let records = page.records;
            pending = Some(PendingCommit {
                records: n,
                task: tokio::task::spawn_blocking({
                    let caps = caps.commit;
                    move || {
                        store2.commit_page_capped(
                            &id,
                            kind,
                            &records,
                            &committed_state,
                            sweep,
                            &caps,
                        )
                    }
                }),
            });
            if last {
                break;
            }
        }
    }
    if let Some(done) = finish(pending.take()).await
        && let Some(done) = over_cap(done, &mut report)?
    {
        account(store, instance, kind, &mut report, done)?;
    }
    store.record_run(
        &instance.id,
        &ScanRun {
            kind,
            started,
            finished: now_millis(),
            pages: report.pages,
            records: report.records,
            deleted: report.deleted,
            error: report.error.clone(),
        },
    )?;
    Ok(report)
}

/// After a files scan that reached its last page, inspect the content of the files
/// whose version has no result yet (see [`crate::inspection`]); the report says what
/// was read.
pub async fn inspect_after_scan(
    store: &Store,
    plugin: &LoadedPlugin,
    instance: &Instance,
    ctx: &CallContext,
    opts: &ScanOptions,
    report: &mut KindReport,
) -> Result<(), ScanError> {
    if report.kind != Kind::Files || report.error.is_some() || report.skipped || report.stopped {
        return Ok(());
    }
    if store.scan_state(&instance.id, Kind::Files)?.in_progress {
        return Ok(());
    }
    report.inspection = inspect_files(store, plugin, &instance.id, ctx, &opts.inspection)
        .instrument(tracing::info_span!("inspect", instance = %instance.name))
        .await?;
    Ok(())
}

/// Scan the given kinds (all the connector supports when empty), in connect order.
/// Stops early on errors that will fail every kind (bad credentials, bad config).
pub async fn scan_instance(
    store: &Store,
    plugin: &LoadedPlugin,
    instance: &Instance,
    kinds: &[Kind],
    opts: &ScanOptions,
) -> Result<Vec<KindReport>, ScanError> {
    let ctx = match InstanceSession::open(plugin, store, instance) {
        Ok(session) => session.context(),
        Err(e) => {
            set_status(store, &instance.id, InstanceStatus::from_error(&e, 1, None))?;
            let kind = kinds.first().copied().unwrap_or(Kind::Users);
            return Ok(vec![KindReport::failed(kind, e)]);
        }
    };
    let caps = &plugin.info.capabilities;
    let wanted: Vec<Kind> = Kind::ALL
        .into_iter()
        .filter(|k| kinds.is_empty() || kinds.contains(k))
        .filter(|k| k.supported_by(caps))
        .collect();
    let mut reports = Vec::new();
    let mut first_error = None;
    for kind in wanted {
        let report = scan_kind(
            store,
            plugin,
            instance,
            &ctx,
            kind,
            opts,
            &StopSignal::new(),
        )
        .await?;
        let mut report = report;
        inspect_after_scan(store, plugin, instance, &ctx, opts, &mut report).await?;
        let fatal = matches!(
            report.error,
            Some(ConnectorError::Unauthorized(_) | ConnectorError::InvalidConfig(_))
        );
        if let (Some(e), None) = (&report.error, &first_error) {
            first_error = Some(e.clone());
        }
        reports.push(report);
        if fatal {
            break;
        }
    }
    let status = match first_error {
        Some(e) => InstanceStatus::from_error(&e, 1, None),
        None => InstanceStatus::Connected {
            last_success: now_millis(),
        },
    };
    set_status(store, &instance.id, status)?;
    Ok(reports)
}

#[cfg(test)]
mod tests {
    //! The page pipeline keeps a sequential scan's guarantees: commits in order, each
    //! with its own page's cursor, so an error mid-scan resumes with nothing lost,
    //! duplicated or wrongly deleted.

    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use super::*;
    use crate::store::tests::{ids, instance, user};

    /// Pages keyed by the cursor that asks for them; a cursor listed in `fail_once`
    /// answers `upstream` the first time it is asked.
    struct Scripted {
        pages: BTreeMap<Option<String>, Page>,
        fail_once: Mutex<Vec<Option<String>>>,
        asked: Mutex<Vec<Option<String>>>,
    }

    impl Lister for Scripted {
        async fn page(
            &self,
            _ctx: CallContext,
            _kind: Kind,
            cursor: Option<String>,
        ) -> Result<Page, ConnectorError> {
            self.asked.lock().unwrap().push(cursor.clone());
            let mut fail = self.fail_once.lock().unwrap();
            if let Some(i) = fail.iter().position(|c| *c == cursor) {
                fail.remove(i);
                return Err(ConnectorError::Upstream("503 from the provider".into()));
            }
            Ok(self.pages[&cursor].clone())
        }
    }

    fn users_page(ids: &[&str], next: Option<&str>) -> Page {
        Page {
            records: ids.iter().map(|id| user(id)).collect(),
            next_cursor: next.map(String::from),
            more: next.is_some(),
        }
    }

    fn context() -> CallContext {
        CallContext {
            instance_id: String::new(),
            instance_name: String::new(),
            config: Default::default(),
            net: Arc::default(),
            granted_actions: Arc::from([]),
            since: None,
            page_size: 100,
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn an_error_mid_scan_keeps_committed_pages_and_resumes_from_their_cursor() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let inst = instance("acme");
        store.create_instance(&inst, &Default::default()).unwrap();
        let pages = BTreeMap::from([
            (None, users_page(&["u1", "u2"], Some("p2"))),
            (Some("p2".into()), users_page(&["u3", "u4"], Some("p3"))),
            (Some("p3".into()), users_page(&["u5"], Some("p4"))),
            (Some("p4".into()), users_page(&["u6"], None)),
        ]);
        let lister = Scripted {
            pages,
            fail_once: Mutex::new(vec![Some("p4".into())]),
            asked: Mutex::new(vec![]),
        };
        let opts = ScanOptions::default();
        let ctx = context();
        let stop = StopSignal::new();

        let first = scan_kind(&store, &lister, &inst, &ctx, Kind::Users, &opts, &stop)
            .await
            .unwrap();
        assert_eq!(
            (first.pages, first.records),
            (3, 5),
            "the three pages fetched before the error are all committed"
        );
        assert!(matches!(first.error, Some(ConnectorError::Upstream(_))));
        assert_eq!(
            ids(&store, &inst.id, Kind::Users, false),
            ["u1", "u2", "u3", "u4", "u5"]
        );
        let state = store.scan_state(&inst.id, Kind::Users).unwrap();
        assert_eq!(state.cursor.as_deref(), Some("p4"));
        assert!(state.in_progress, "an unfinished generation sweeps nothing");

        let second = scan_kind(&store, &lister, &inst, &ctx, Kind::Users, &opts, &stop)
            .await
            .unwrap();
        assert_eq!((second.pages, second.records, second.deleted), (1, 1, 0));
        assert_eq!(
            lister.asked.lock().unwrap().as_slice(),
            [
                None,
                Some("p2".into()),
                Some("p3".into()),
                Some("p4".into()),
                Some("p4".into())
            ],
            "the resumed scan starts at the failed page, not at the beginning"
        );
        assert_eq!(
            ids(&store, &inst.id, Kind::Users, false),
            ["u1", "u2", "u3", "u4", "u5", "u6"]
        );
        assert!(ids(&store, &inst.id, Kind::Users, true).is_empty());
        assert!(!store.scan_state(&inst.id, Kind::Users).unwrap().in_progress);
    }

    #[tokio::test]
    async fn the_last_page_sweeps_records_the_generation_did_not_see() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let inst = instance("acme");
        store.create_instance(&inst, &Default::default()).unwrap();
        let (opts, ctx, stop) = (ScanOptions::default(), context(), StopSignal::new());
        let scan = |pages: BTreeMap<Option<String>, Page>| {
            let lister = Scripted {
                pages,
                fail_once: Mutex::new(vec![]),
                asked: Mutex::new(vec![]),
            };
            let (store, inst, ctx, opts, stop) = (&store, &inst, &ctx, &opts, &stop);
            async move {
                scan_kind(store, &lister, inst, ctx, Kind::Users, opts, stop)
                    .await
                    .unwrap()
            }
        };
        scan(BTreeMap::from([
            (None, users_page(&["u1", "u2"], Some("p2"))),
            (Some("p2".into()), users_page(&["u3"], None)),
        ]))
        .await;
        let report = scan(BTreeMap::from([
            (None, users_page(&["u1"], Some("p2"))),
            (Some("p2".into()), users_page(&["u3"], None)),
        ]))
        .await;
        assert_eq!((report.pages, report.records, report.deleted), (2, 2, 1));
        assert_eq!(ids(&store, &inst.id, Kind::Users, true), ["u2"]);
        assert_eq!(ids(&store, &inst.id, Kind::Users, false), ["u1", "u3"]);
    }

    /// Files listed whole, or only those changed when the host passes `since`.
    struct Tenant {
        all: Vec<&'static str>,
        changed: Vec<&'static str>,
        asked_since: Mutex<Vec<Option<Millis>>>,
    }

    impl Lister for Tenant {
        async fn page(
            &self,
            ctx: CallContext,
            _kind: Kind,
            _cursor: Option<String>,
        ) -> Result<Page, ConnectorError> {
            self.asked_since.lock().unwrap().push(ctx.since);
            let ids = if ctx.since.is_some() {
                &self.changed
            } else {
                &self.all
            };
            Ok(Page {
                records: ids.iter().map(|id| file(id)).collect(),
                next_cursor: None,
                more: false,
            })
        }
    }

    fn file(id: &str) -> crate::model::Record {
        crate::model::Record::File(crate::model::File {
            id: id.into(),
            name: format!("{id}.txt"),
            path: None,
            owner: None,
            mime_type: None,
            size: None,
            modified: None,
            shared_externally: false,
            public: false,
            sharing: Default::default(),
            labels: vec![],
            content_hash: None,
            raw: serde_json::json!({ "id": id }).into(),
        })
    }

    #[tokio::test]
    async fn a_changes_scan_lists_since_the_last_listing_and_sweeps_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let inst = instance("acme");
        store.create_instance(&inst, &Default::default()).unwrap();
        let (ctx, stop) = (context(), StopSignal::new());
        let changes = ScanOptions {
            changes_only: true,
            ..ScanOptions::default()
        };
        let tenant = |all: Vec<&'static str>, changed: Vec<&'static str>| Tenant {
            all,
            changed,
            asked_since: Mutex::new(vec![]),
        };

        // Before any complete listing a changes scan is a full one.
        let first = tenant(vec!["f1", "f2", "f3"], vec![]);
        let before = now_millis();
        scan_kind(&store, &first, &inst, &ctx, Kind::Files, &changes, &stop)
            .await
            .unwrap();
        assert_eq!(*first.asked_since.lock().unwrap(), [None]);
        let state = store.scan_state(&inst.id, Kind::Files).unwrap();
        let since = state.changes_since.expect("a complete listing sets it");
        assert!(since >= before - CHANGES_OVERLAP && since <= now_millis() - CHANGES_OVERLAP);

        // A changes scan: the connector is asked for what changed since then, and the
        // files it does not list are not marked deleted.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let second = tenant(vec!["f1"], vec!["f2", "f4"]);
        let report = scan_kind(&store, &second, &inst, &ctx, Kind::Files, &changes, &stop)
            .await
            .unwrap();
        assert_eq!(*second.asked_since.lock().unwrap(), [Some(since)]);
        assert_eq!((report.records, report.deleted), (2, 0));
        assert_eq!(
            ids(&store, &inst.id, Kind::Files, false),
            ["f1", "f2", "f3", "f4"]
        );
        let after = store.scan_state(&inst.id, Kind::Files).unwrap();
        assert_eq!(after.generation, state.generation, "no new generation");
        assert!(
            after.changes_since.unwrap() > since,
            "the next changes scan starts later"
        );
        assert!(!after.in_progress && after.cursor.is_none());

        // The regular full scan still finds deletions.
        let third = tenant(vec!["f1", "f4"], vec![]);
        let report = scan_kind(
            &store,
            &third,
            &inst,
            &ctx,
            Kind::Files,
            &ScanOptions::default(),
            &stop,
        )
        .await
        .unwrap();
        assert_eq!(*third.asked_since.lock().unwrap(), [None]);
        assert_eq!(report.deleted, 2);
        assert_eq!(ids(&store, &inst.id, Kind::Files, true), ["f2", "f3"]);
    }
}
