//! The scheduler: which (instance, kind) scan runs when.
//!
//! One actor task owns all schedule state; everything else talks to it through a
//! cloneable [`SchedulerHandle`]. It knows nothing about wasm or sled: a
//! [`ScanRunner`] runs a scan and persists status, so the rules below are tested with a
//! fake runner under paused time (`tests.rs`).
//!
//! The rules:
//! 1. Connect flow: a new instance scans its first kind (users, after `check`) before
//!    anything else; when that succeeds, every other kind is due at once.
//! 2. Each kind then rescans on its own interval (defaults in [`crate::model::schedule::default_interval`],
//!    operator overrides in [`Schedule`](crate::model::schedule::Schedule)), plus a jitter of up to
//!    [`SchedulerConfig::jitter_fraction`] of the interval (capped), so a thousand
//!    instances do not all fire in the same second.
//! 3. At most [`SchedulerConfig::max_concurrent`] scans run at once across all
//!    instances, and at most one per (instance, kind). Due scans wait their turn,
//!    earliest first.
//! 4. A failed scan is retried after an exponential backoff (base × 2^(attempts−1),
//!    capped, with jitter into its upper half); a provider's `retry-after` is honoured
//!    when longer. The scan resumes from its saved cursor.
//! 5. Disable and shutdown stop running scans at the next page boundary.
//! 6. A trigger (CLI, API, webhook) makes kinds due now; one that arrives while the
//!    kind is running makes it run again right after.

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng, rngs::StdRng};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::model::{ConnectorError, Kind, Millis, now_millis};
use crate::scan::{KindReport, StopSignal};
use crate::store::InstanceStatus;

/// Scheduler-wide knobs.
#[derive(Clone, Debug)]
pub struct SchedulerConfig {
    /// Scans running at once across all instances.
    pub max_concurrent: usize,
    /// Jitter added to each interval, as a fraction of it…
    pub jitter_fraction: f64,
    /// …but never more than this.
    pub max_jitter: Duration,
    /// First retry delay after an error; doubles per attempt…
    pub backoff_base: Duration,
    /// …up to this.
    pub backoff_cap: Duration,
    /// Seed for jitter (tests); random when `None`.
    pub seed: Option<u64>,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            max_concurrent: 8,
            jitter_fraction: 0.1,
            max_jitter: Duration::from_secs(5 * 60),
            backoff_base: Duration::from_secs(30),
            backoff_cap: Duration::from_secs(3600),
            seed: None,
        }
    }
}

impl SchedulerConfig {
    /// The largest jitter for an interval.
    pub fn jitter_bound(&self, interval: Duration) -> Duration {
        interval.mul_f64(self.jitter_fraction).min(self.max_jitter)
    }

    /// The backoff before retry number `attempts` (1 = first retry), before jitter.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(20));
        self.backoff_base
            .saturating_mul(factor)
            .min(self.backoff_cap)
    }
}

/// One scan for the runner to do.
#[derive(Clone, Debug)]
pub struct Job {
    pub instance_id: String,
    pub kind: Kind,
    /// Run the connector's `check` first and save the permissions (connect flow).
    pub check: bool,
    /// List only what changed since the last listing (see `ScanOptions::changes_only`).
    pub changes_only: bool,
    pub stop: StopSignal,
}

/// What runs scans and records status for the scheduler. The daemon's runner drives
/// wasm connectors into the store; tests use a fake.
pub trait ScanRunner: Send + Sync + 'static {
    /// Run one job to its end (or its stop signal). Failures are in the report.
    fn run(&self, job: Job) -> impl Future<Output = KindReport> + Send;
    /// Persist an instance's status.
    fn set_status(&self, instance_id: &str, status: InstanceStatus);
}

/// What the scheduler needs to know about an instance.
#[derive(Clone, Debug)]
pub struct InstancePlan {
    pub id: String,
    pub name: String,
    /// Kinds to scan, in connect order, with their saved progress.
    pub kinds: Vec<KindPlan>,
}

#[derive(Clone, Debug)]
pub struct KindPlan {
    pub kind: Kind,
    pub interval: Duration,
    /// When a scan of this kind last completed, if ever.
    pub last_completed: Option<Millis>,
    /// An interrupted scan is waiting to resume from its cursor.
    pub interrupted: bool,
}

/// One kind's schedule as reported by [`SchedulerHandle::snapshot`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct KindSchedule {
    pub kind: Kind,
    pub interval_secs: u64,
    pub running: bool,
    /// When it runs next (wall clock); `None` while waiting for the connect flow or
    /// while running.
    pub next_run: Option<Millis>,
    pub last_success: Option<Millis>,
    /// Consecutive failures; 0 after a success.
    pub attempts: u32,
    pub last_error: Option<ConnectorError>,
}

/// Why the scheduler refused a request.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ScheduleError {
    #[error("instance `{0}` is not scheduled (disabled, or its connector is not loaded)")]
    NotScheduled(String),
    #[error("the scheduler has stopped")]
    Stopped,
}

enum Command {
    Upsert(InstancePlan),
    Remove(String, oneshot::Sender<()>),
    Trigger {
        id: String,
        kinds: Vec<Kind>,
        changes_only: bool,
        reply: oneshot::Sender<Result<Vec<oneshot::Receiver<KindReport>>, ScheduleError>>,
    },
    Snapshot(oneshot::Sender<HashMap<String, Vec<KindSchedule>>>),
    Shutdown(oneshot::Sender<()>),
}

/// Talks to the scheduler actor. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SchedulerHandle {
    tx: mpsc::UnboundedSender<Command>,
}

impl SchedulerHandle {
    /// Start scheduling an instance, or update its kinds and intervals.
    pub fn upsert(&self, plan: InstancePlan) {
        let _ = self.tx.send(Command::Upsert(plan));
    }

    /// Stop scheduling an instance (disable, remove); its running scans stop at the
    /// next page boundary, and the returned future resolves once they have.
    pub async fn remove(&self, instance_id: &str) {
        let (reply, rx) = oneshot::channel();
        if self
            .tx
            .send(Command::Remove(instance_id.to_string(), reply))
            .is_ok()
        {
            let _ = rx.await;
        }
    }

    /// Stop scheduling an instance without waiting for its running scans to reach
    /// their page boundary (for callers that cannot wait).
    pub fn forget(&self, instance_id: &str) {
        let (reply, _) = oneshot::channel();
        let _ = self
            .tx
            .send(Command::Remove(instance_id.to_string(), reply));
    }

    /// Make `kinds` (all when empty) due now. The returned future resolves with one
    /// report per kind once those scans have run; dropping it does not cancel them.
    pub async fn trigger(
        &self,
        instance_id: &str,
        kinds: &[Kind],
    ) -> Result<impl Future<Output = Vec<KindReport>> + use<>, ScheduleError> {
        self.trigger_scan(instance_id, kinds, false).await
    }

    /// [`Self::trigger`], as a changes scan where the kind has one (files, see
    /// `ScanOptions::changes_only`) when `changes_only`: the kind's regular scan keeps
    /// its due time. A full scan already due or asked for wins.
    pub async fn trigger_scan(
        &self,
        instance_id: &str,
        kinds: &[Kind],
        changes_only: bool,
    ) -> Result<impl Future<Output = Vec<KindReport>> + use<>, ScheduleError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Trigger {
                id: instance_id.to_string(),
                kinds: kinds.to_vec(),
                changes_only,
                reply,
            })
            .map_err(|_| ScheduleError::Stopped)?;
        let waiters = rx.await.map_err(|_| ScheduleError::Stopped)??;
        Ok(async move {
            let mut out = Vec::new();
            for w in waiters {
                if let Ok(r) = w.await {
                    out.push(r);
                }
            }
            out
        })
    }

    /// Every scheduled instance's per-kind schedule, by instance id.
    pub async fn snapshot(&self) -> HashMap<String, Vec<KindSchedule>> {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Command::Snapshot(reply)).is_err() {
            return HashMap::new();
        }
        rx.await.unwrap_or_default()
    }

    /// Stop starting scans, ask running ones to stop at their next page boundary, and
    /// resolve once they have.
    pub async fn shutdown(&self) {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Command::Shutdown(reply)).is_ok() {
            let _ = rx.await;
        }
    }
}

/// Start the scheduler actor on the current tokio runtime.
pub fn start<R: ScanRunner>(config: SchedulerConfig, runner: Arc<R>) -> SchedulerHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    let (done_tx, done_rx) = mpsc::unbounded_channel();
    let rng = match config.seed {
        Some(s) => StdRng::seed_from_u64(s),
        None => StdRng::from_entropy(),
    };
    let actor = Actor {
        config,
        runner,
        entries: BTreeMap::new(),
        running: HashMap::new(),
        next_run_id: 0,
        rng,
        done_tx,
        shutdown: None,
        removals: HashMap::new(),
    };
    tokio::spawn(actor.run(rx, done_rx));
    SchedulerHandle { tx }
}

struct Slot {
    kind: Kind,
    interval: Duration,
    /// `None`: waiting for the connect flow's first kind.
    next_due: Option<Instant>,
    running: Option<(u64, StopSignal)>,
    attempts: u32,
    last_error: Option<ConnectorError>,
    last_success: Option<Millis>,
    /// Last finish (success or failure), to pick the error shown in status.
    last_finished: Option<Millis>,
    /// Triggered while running: run again right after.
    rerun: bool,
    /// The next run is a changes scan, triggered ahead of the regular one, which was
    /// due at `full_due` and is put back there after it.
    changes_only: bool,
    full_due: Option<Instant>,
    /// The running scan is a changes scan.
    running_changes: bool,
    /// Waiting for the next run's report / for the running one's.
    waiters_next: Vec<oneshot::Sender<KindReport>>,
    waiters_running: Vec<oneshot::Sender<KindReport>>,
}

struct Entry {
    name: String,
    slots: Vec<Slot>,
    /// Connect flow: this kind must succeed once before the others are scheduled.
    gate: Option<Kind>,
}

impl Entry {
    fn slot(&mut self, kind: Kind) -> Option<&mut Slot> {
        self.slots.iter_mut().find(|s| s.kind == kind)
    }
}

struct Done {
    run_id: u64,
    report: KindReport,
}

struct Actor<R> {
    config: SchedulerConfig,
    runner: Arc<R>,
    entries: BTreeMap<String, Entry>,
    /// run id → (instance id, kind); includes runs of removed instances until they end.
    running: HashMap<u64, (String, Kind)>,
    next_run_id: u64,
    rng: StdRng,
    done_tx: mpsc::UnboundedSender<Done>,
    shutdown: Option<Vec<oneshot::Sender<()>>>,
    /// Removed instances whose scans are still stopping, and who waits for them.
    removals: HashMap<String, Vec<oneshot::Sender<()>>>,
}

fn wall_clock(at: Instant) -> Millis {
    let now = Instant::now();
    if at <= now {
        now_millis()
    } else {
        now_millis() + (at - now).as_millis() as Millis
    }
}

impl<R: ScanRunner> Actor<R> {
    async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut done: mpsc::UnboundedReceiver<Done>,
    ) {
        loop {
            if self.shutdown.is_none() {
                self.start_due();
            }
            if let Some(waiters) = &mut self.shutdown
                && self.running.is_empty()
            {
                for w in waiters.drain(..) {
                    let _ = w.send(());
                }
                return;
            }
            let wake = self.next_wake();
            tokio::select! {
                cmd = commands.recv() => match cmd {
                    Some(cmd) => self.command(cmd),
                    // Every handle is gone: stop as on shutdown.
                    None => self.begin_shutdown(None),
                },
                Some(d) = done.recv() => self.finish(d),
                _ = sleep_until_opt(wake) => {}
            }
        }
    }

    /// When the earliest waiting scan is due, if a concurrency slot is free for it.
    fn next_wake(&self) -> Option<Instant> {
        if self.shutdown.is_some() || self.running.len() >= self.config.max_concurrent {
            return None;
        }
        self.entries
            .values()
            .flat_map(|e| e.slots.iter())
            .filter(|s| s.running.is_none())
            .filter_map(|s| s.next_due)
            .min()
    }

    fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Upsert(plan) => self.upsert(plan),
            Command::Remove(id, reply) => {
                if let Some(entry) = self.entries.remove(&id) {
                    for slot in &entry.slots {
                        if let Some((_, stop)) = &slot.running {
                            stop.stop();
                        }
                    }
                }
                if self.running.values().any(|(i, _)| *i == id) {
                    self.removals.entry(id).or_default().push(reply);
                } else {
                    let _ = reply.send(());
                }
            }
            Command::Trigger {
                id,
                kinds,
                changes_only,
                reply,
            } => {
                let _ = reply.send(self.trigger(&id, &kinds, changes_only));
            }
            Command::Snapshot(reply) => {
                let _ = reply.send(self.snapshot());
            }
            Command::Shutdown(reply) => self.begin_shutdown(Some(reply)),
        }
    }

    fn begin_shutdown(&mut self, reply: Option<oneshot::Sender<()>>) {
        for entry in self.entries.values() {
            for slot in &entry.slots {
                if let Some((_, stop)) = &slot.running {
                    stop.stop();
                }
            }
        }
        let waiters = self.shutdown.get_or_insert_with(Vec::new);
        waiters.extend(reply);
    }

    fn jitter(&mut self, interval: Duration) -> Duration {
        let bound = self.config.jitter_bound(interval);
        bound.mul_f64(self.rng.gen_range(0.0..=1.0))
    }

    fn upsert(&mut self, plan: InstancePlan) {
        let now = Instant::now();
        if let Some(entry) = self.entries.get_mut(&plan.id) {
            // Keep running state; take new intervals and kinds.
            entry.name = plan.name;
            entry
                .slots
                .retain(|s| plan.kinds.iter().any(|k| k.kind == s.kind));
            for k in &plan.kinds {
                match entry.slots.iter_mut().find(|s| s.kind == k.kind) {
                    Some(slot) => {
                        if slot.interval != k.interval {
                            slot.interval = k.interval;
                            if let (Some(due), Some(last)) = (slot.next_due, slot.last_success) {
                                let elapsed =
                                    Duration::from_millis((now_millis() - last).max(0) as u64);
                                let new_due = now + k.interval.saturating_sub(elapsed);
                                slot.next_due = Some(due.min(new_due));
                            }
                        }
                    }
                    None => entry.slots.push(new_slot(k, Some(now))),
                }
            }
            return;
        }
        // Connect flow: nothing of the first kind ever completed.
        let gate = plan
            .kinds
            .first()
            .filter(|k| k.last_completed.is_none())
            .map(|k| k.kind);
        let mut slots = Vec::with_capacity(plan.kinds.len());
        for k in &plan.kinds {
            let due = if gate.is_some() {
                (Some(k.kind) == gate).then_some(now)
            } else if k.interrupted || k.last_completed.is_none() {
                Some(now + self.jitter(Duration::from_secs(60)))
            } else {
                let since = Duration::from_millis(
                    (now_millis() - k.last_completed.unwrap_or(0)).max(0) as u64,
                );
                Some(now + k.interval.saturating_sub(since) + self.jitter(k.interval))
            };
            slots.push(new_slot(k, due));
        }
        let entry = Entry {
            name: plan.name,
            slots,
            gate,
        };
        self.entries.insert(plan.id.clone(), entry);
        self.publish_status(&plan.id);
    }

    fn trigger(
        &mut self,
        id: &str,
        kinds: &[Kind],
        changes_only: bool,
    ) -> Result<Vec<oneshot::Receiver<KindReport>>, ScheduleError> {
        let entry = self
            .entries
            .get_mut(id)
            .ok_or_else(|| ScheduleError::NotScheduled(id.to_string()))?;
        let now = Instant::now();
        let mut out = Vec::new();
        for slot in &mut entry.slots {
            if !kinds.is_empty() && !kinds.contains(&slot.kind) {
                continue;
            }
            let (tx, rx) = oneshot::channel();
            slot.waiters_next.push(tx);
            out.push(rx);
            if slot.running.is_some() {
                slot.rerun = true;
            } else if !changes_only {
                slot.changes_only = false;
                slot.full_due = None;
                slot.next_due = Some(now);
            } else if !slot.changes_only && slot.next_due.is_some_and(|d| d > now) {
                slot.changes_only = true;
                slot.full_due = slot.next_due;
                slot.next_due = Some(now);
            } else if slot.next_due.is_none() {
                slot.next_due = Some(now);
            }
        }
        Ok(out)
    }

    /// Start due scans, earliest first, while the concurrency cap allows.
    fn start_due(&mut self) {
        let now = Instant::now();
        while self.running.len() < self.config.max_concurrent {
            let next = self
                .entries
                .iter()
                .flat_map(|(id, e)| e.slots.iter().map(move |s| (id, s)))
                .filter(|(_, s)| s.running.is_none())
                .filter_map(|(id, s)| s.next_due.filter(|d| *d <= now).map(|d| (d, id, s.kind)))
                .min_by_key(|(d, _, _)| *d);
            let Some((_, id, kind)) = next else { break };
            let id = id.clone();
            self.start(&id, kind);
        }
    }

    fn start(&mut self, id: &str, kind: Kind) {
        let run_id = self.next_run_id;
        self.next_run_id += 1;
        let Some(entry) = self.entries.get_mut(id) else {
            return;
        };
        let check = entry.gate == Some(kind);
        let Some(slot) = entry.slot(kind) else { return };
        let stop = StopSignal::new();
        slot.running = Some((run_id, stop.clone()));
        slot.next_due = None;
        slot.rerun = false;
        let changes_only = std::mem::take(&mut slot.changes_only);
        slot.running_changes = changes_only;
        slot.waiters_running = std::mem::take(&mut slot.waiters_next);
        self.running.insert(run_id, (id.to_string(), kind));
        let job = Job {
            instance_id: id.to_string(),
            kind,
            check,
            changes_only,
            stop,
        };
        tracing::debug!(instance = %entry.name, %kind, "scan starting");
        self.runner.set_status(
            id,
            InstanceStatus::Scanning {
                kind,
                pages: 0,
                records: 0,
            },
        );
        let runner = self.runner.clone();
        let done = self.done_tx.clone();
        tokio::spawn(async move {
            // A panicking runner must not leave the slot marked running forever.
            let report = match tokio::spawn(async move { runner.run(job).await }).await {
                Ok(r) => r,
                Err(e) => KindReport::failed(
                    kind,
                    ConnectorError::Other(format!("scan task failed: {e}")),
                ),
            };
            let _ = done.send(Done { run_id, report });
        });
    }

    fn finish(&mut self, done: Done) {
        let Some((id, kind)) = self.running.remove(&done.run_id) else {
            return;
        };
        let report = done.report;
        let now = Instant::now();
        let backoff_jitter = self.rng.gen_range(0.5..=1.0);
        let success_jitter = self.rng.gen_range(0.0..=1.0);
        let config = self.config.clone();
        let Some(entry) = self.entries.get_mut(&id) else {
            // Removed or disabled while running.
            if !self.running.values().any(|(i, _)| *i == id) {
                for w in self.removals.remove(&id).unwrap_or_default() {
                    let _ = w.send(());
                }
            }
            return;
        };
        let gate = entry.gate;
        let name = entry.name.clone();
        let Some(slot) = entry.slot(kind) else { return };
        if slot.running.as_ref().map(|(r, _)| *r) != Some(done.run_id) {
            return;
        }
        slot.running = None;
        for w in slot.waiters_running.drain(..) {
            let _ = w.send(report.clone());
        }
        let mut opened_gate = false;
        if report.stopped {
            slot.next_due = Some(now);
        } else if let Some(err) = &report.error {
            slot.attempts += 1;
            slot.last_error = Some(err.clone());
            slot.last_finished = Some(now_millis());
            let mut delay = config.backoff(slot.attempts).mul_f64(backoff_jitter);
            if let ConnectorError::RateLimited(Some(secs)) = err {
                delay = delay.max(Duration::from_secs(u64::from(*secs)));
            }
            slot.next_due = Some(now + delay);
            tracing::info!(instance = %name, %kind, attempts = slot.attempts, "scan failed, retry in {delay:?}: {err}");
        } else {
            slot.attempts = 0;
            slot.last_error = None;
            slot.last_success = Some(now_millis());
            slot.last_finished = slot.last_success;
            let jitter = config.jitter_bound(slot.interval).mul_f64(success_jitter);
            slot.next_due = Some(now + slot.interval + jitter);
            opened_gate = gate == Some(kind);
        }
        // A changes scan ran ahead of the regular scan; whatever its outcome, the
        // regular scan stays due when it was (it finds deletions).
        if std::mem::take(&mut slot.running_changes)
            && let Some(due) = slot.full_due.take()
        {
            slot.next_due = Some(due.min(slot.next_due.unwrap_or(due)));
        }
        if slot.rerun || !slot.waiters_next.is_empty() {
            slot.rerun = false;
            slot.next_due = Some(now);
        }
        if opened_gate {
            entry.gate = None;
            for s in &mut entry.slots {
                if s.next_due.is_none() && s.running.is_none() {
                    s.next_due = Some(now);
                }
            }
        }
        self.publish_status(&id);
    }

    /// Derive the instance's status from its slots and persist it.
    fn publish_status(&self, id: &str) {
        let Some(entry) = self.entries.get(id) else {
            return;
        };
        if entry.slots.iter().any(|s| s.running.is_some()) {
            return; // the running scan reports its own progress
        }
        let failing = entry
            .slots
            .iter()
            .filter(|s| s.attempts > 0)
            .max_by_key(|s| s.last_finished);
        let status = if let Some(s) = failing {
            let err = s
                .last_error
                .clone()
                .unwrap_or(ConnectorError::Other("unknown".into()));
            InstanceStatus::from_error(&err, s.attempts, s.next_due.map(wall_clock))
        } else if entry.gate.is_some() {
            InstanceStatus::Connecting
        } else {
            match entry.slots.iter().filter_map(|s| s.last_success).max() {
                Some(last_success) => InstanceStatus::Connected { last_success },
                None => InstanceStatus::Connecting,
            }
        };
        self.runner.set_status(id, status);
    }

    fn snapshot(&self) -> HashMap<String, Vec<KindSchedule>> {
        self.entries
            .iter()
            .map(|(id, e)| {
                let kinds = e
                    .slots
                    .iter()
                    .map(|s| KindSchedule {
                        kind: s.kind,
                        interval_secs: s.interval.as_secs(),
                        running: s.running.is_some(),
                        next_run: s.next_due.map(wall_clock),
                        last_success: s.last_success,
                        attempts: s.attempts,
                        last_error: s.last_error.clone(),
                    })
                    .collect();
                (id.clone(), kinds)
            })
            .collect()
    }
}

fn new_slot(k: &KindPlan, next_due: Option<Instant>) -> Slot {
    Slot {
        kind: k.kind,
        interval: k.interval,
        next_due,
        running: None,
        attempts: 0,
        last_error: None,
        last_success: k.last_completed,
        last_finished: k.last_completed,
        rerun: false,
        changes_only: false,
        full_due: None,
        running_changes: false,
        waiters_next: Vec::new(),
        waiters_running: Vec::new(),
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
