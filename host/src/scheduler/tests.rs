//! Scheduler rules under paused time, with a fake runner whose scans take a known
//! (virtual) time and fail on demand.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
use crate::model::schedule::default_interval;

const PAGE_TIME: Duration = Duration::from_secs(2);

#[derive(Clone, Debug)]
struct Started {
    at: Instant,
    instance: String,
    kind: Kind,
    check: bool,
    changes_only: bool,
}

/// Scans take `pages × PAGE_TIME`; failures are scripted per (instance, kind).
#[derive(Default)]
struct FakeRunner {
    pages: u64,
    started: Mutex<Vec<Started>>,
    stopped: Mutex<Vec<(String, Kind, u64)>>,
    failures: Mutex<HashMap<(String, Kind), Vec<ConnectorError>>>,
    statuses: Mutex<HashMap<String, InstanceStatus>>,
    running: AtomicUsize,
    max_running: AtomicUsize,
}

impl FakeRunner {
    fn new(pages: u64) -> Arc<FakeRunner> {
        Arc::new(FakeRunner {
            pages,
            ..Default::default()
        })
    }

    fn fail(&self, instance: &str, kind: Kind, errors: Vec<ConnectorError>) {
        self.failures
            .lock()
            .unwrap()
            .insert((instance.to_string(), kind), errors);
    }

    fn starts(&self, instance: &str, kind: Kind) -> Vec<Instant> {
        self.started
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.instance == instance && s.kind == kind)
            .map(|s| s.at)
            .collect()
    }

    fn status(&self, instance: &str) -> Option<InstanceStatus> {
        self.statuses.lock().unwrap().get(instance).cloned()
    }
}

impl ScanRunner for FakeRunner {
    async fn run(&self, job: Job) -> KindReport {
        self.started.lock().unwrap().push(Started {
            at: Instant::now(),
            instance: job.instance_id.clone(),
            kind: job.kind,
            check: job.check,
            changes_only: job.changes_only,
        });
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_running.fetch_max(now, Ordering::SeqCst);
        let mut report = KindReport {
            kind: job.kind,
            pages: 0,
            records: 0,
            deleted: 0,
            error: None,
            skipped: false,
            stopped: false,
            inspection: None,
        };
        for _ in 0..self.pages {
            if job.stop.is_stopped() {
                report.stopped = true;
                self.stopped.lock().unwrap().push((
                    job.instance_id.clone(),
                    job.kind,
                    report.pages,
                ));
                break;
            }
            tokio::time::sleep(PAGE_TIME).await;
            report.pages += 1;
            report.records += 10;
        }
        if !report.stopped {
            let mut failures = self.failures.lock().unwrap();
            if let Some(list) = failures.get_mut(&(job.instance_id.clone(), job.kind))
                && !list.is_empty()
            {
                report.error = Some(list.remove(0));
            }
        }
        self.running.fetch_sub(1, Ordering::SeqCst);
        report
    }

    fn set_status(&self, instance_id: &str, status: InstanceStatus) {
        self.statuses
            .lock()
            .unwrap()
            .insert(instance_id.to_string(), status);
    }
}

fn plan(id: &str, kinds: &[Kind], last_completed: Option<Millis>) -> InstancePlan {
    InstancePlan {
        id: id.into(),
        name: id.into(),
        kinds: kinds
            .iter()
            .map(|k| KindPlan {
                kind: *k,
                interval: default_interval(*k),
                last_completed,
                interrupted: false,
            })
            .collect(),
    }
}

fn config() -> SchedulerConfig {
    SchedulerConfig {
        seed: Some(7),
        ..Default::default()
    }
}

/// Let virtual time pass in small steps so every woken task gets to run.
async fn advance(d: Duration) {
    let step = Duration::from_millis(500);
    let mut left = d;
    while !left.is_zero() {
        let s = left.min(step);
        tokio::time::advance(s).await;
        tokio::task::yield_now().await;
        left -= s;
    }
}

#[tokio::test(start_paused = true)]
async fn connect_flow_runs_check_and_users_before_the_other_kinds() {
    let runner = FakeRunner::new(3);
    let h = start(config(), runner.clone());
    h.upsert(plan(
        "a",
        &[Kind::Users, Kind::Groups, Kind::Activities],
        None,
    ));
    advance(Duration::from_secs(1)).await;
    {
        let started = runner.started.lock().unwrap().clone();
        assert_eq!(started.len(), 1, "only users runs first: {started:?}");
        assert_eq!(started[0].kind, Kind::Users);
        assert!(started[0].check, "the first scan runs check first");
    }
    assert!(matches!(
        runner.status("a"),
        Some(InstanceStatus::Scanning {
            kind: Kind::Users,
            ..
        })
    ));
    // Users takes 3 pages × 2 s; then groups and activities start at once, without check.
    advance(Duration::from_secs(7)).await;
    let started = runner.started.lock().unwrap().clone();
    assert_eq!(started.len(), 3, "{started:?}");
    let users_done = started[0].at + PAGE_TIME * 3;
    for s in &started[1..] {
        assert_eq!(s.at, users_done, "{s:?} starts as soon as users is done");
        assert!(!s.check);
    }
    advance(Duration::from_secs(10)).await;
    assert!(matches!(
        runner.status("a"),
        Some(InstanceStatus::Connected { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn each_kind_rescans_on_its_interval_with_bounded_jitter() {
    let runner = FakeRunner::new(1);
    let cfg = config();
    let h = start(cfg.clone(), runner.clone());
    h.upsert(plan("a", &[Kind::Users, Kind::Activities], None));
    advance(Duration::from_secs(3 * 3600 + 60)).await;

    for (kind, expect_at_least) in [(Kind::Activities, 30), (Kind::Users, 3)] {
        let starts = runner.starts("a", kind);
        assert!(
            starts.len() >= expect_at_least,
            "{kind}: only {} scans in 3 h",
            starts.len()
        );
        let interval = default_interval(kind);
        let jitter = cfg.jitter_bound(interval);
        for pair in starts.windows(2) {
            let gap = pair[1] - pair[0];
            assert!(
                gap >= interval + PAGE_TIME && gap <= interval + PAGE_TIME + jitter,
                "{kind}: gap {gap:?} outside [{:?}, {:?}]",
                interval + PAGE_TIME,
                interval + PAGE_TIME + jitter
            );
        }
    }
    let snapshot = h.snapshot().await;
    let kinds = &snapshot["a"];
    let acts = kinds.iter().find(|k| k.kind == Kind::Activities).unwrap();
    assert_eq!(acts.interval_secs, 300);
    assert!(acts.last_success.is_some());
    assert!(acts.next_run.is_some());
}

#[tokio::test(start_paused = true)]
async fn operator_intervals_override_the_defaults() {
    let runner = FakeRunner::new(1);
    let h = start(config(), runner.clone());
    let mut p = plan("a", &[Kind::Activities], Some(now_millis()));
    p.kinds[0].interval = Duration::from_secs(60);
    h.upsert(p);
    advance(Duration::from_secs(10 * 60)).await;
    let n = runner.starts("a", Kind::Activities).len();
    assert!(
        (8..=10).contains(&n),
        "every minute for 10 minutes, got {n}"
    );
}

#[tokio::test(start_paused = true)]
async fn restart_spreads_scans_by_jitter_and_respects_last_completion() {
    let runner = FakeRunner::new(1);
    let cfg = config();
    let h = start(cfg.clone(), runner.clone());
    // Completed 10 minutes ago: users (hourly) is due in 50 minutes, plus jitter.
    let ten_min_ago = now_millis() - 10 * 60 * 1000;
    let t0 = Instant::now();
    for i in 0..50 {
        h.upsert(plan(&format!("i{i}"), &[Kind::Users], Some(ten_min_ago)));
    }
    advance(Duration::from_secs(60 * 60)).await;
    let starts: Vec<Instant> = runner
        .started
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.at)
        .collect();
    assert_eq!(starts.len(), 50);
    let earliest = t0 + Duration::from_secs(50 * 60);
    let latest = earliest + cfg.jitter_bound(default_interval(Kind::Users));
    for s in &starts {
        assert!(
            *s >= earliest && *s <= latest,
            "start outside the jitter window"
        );
    }
    let distinct: std::collections::HashSet<_> = starts.iter().collect();
    assert!(
        distinct.len() > 10,
        "jitter spreads the starts: {}",
        distinct.len()
    );
}

#[tokio::test(start_paused = true)]
async fn the_concurrency_cap_holds_across_instances() {
    let runner = FakeRunner::new(5);
    let cfg = SchedulerConfig {
        max_concurrent: 4,
        ..config()
    };
    let h = start(cfg, runner.clone());
    for i in 0..40 {
        h.upsert(plan(
            &format!("i{i:02}"),
            &[Kind::Users, Kind::Groups],
            None,
        ));
    }
    advance(Duration::from_secs(15 * 60)).await;
    assert_eq!(runner.max_running.load(Ordering::SeqCst), 4);
    let started = runner.started.lock().unwrap().clone();
    for i in 0..40 {
        let id = format!("i{i:02}");
        for kind in [Kind::Users, Kind::Groups] {
            assert!(
                started.iter().any(|s| s.instance == id && s.kind == kind),
                "{id} {kind} never ran"
            );
        }
    }
    // One scan per (instance, kind) at a time: no overlapping runs of a pair.
    let mut by_pair: HashMap<(String, Kind), Vec<Instant>> = HashMap::new();
    for s in started {
        by_pair.entry((s.instance, s.kind)).or_default().push(s.at);
    }
    for (pair, starts) in by_pair {
        for w in starts.windows(2) {
            assert!(w[1] - w[0] >= PAGE_TIME * 5, "{pair:?} overlapped");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn errors_back_off_exponentially_up_to_the_cap_then_recover() {
    let runner = FakeRunner::new(1);
    let cfg = SchedulerConfig {
        backoff_base: Duration::from_secs(30),
        backoff_cap: Duration::from_secs(240),
        ..config()
    };
    let h = start(cfg.clone(), runner.clone());
    let errors = vec![ConnectorError::Upstream("boom".into()); 6];
    runner.fail("a", Kind::Users, errors);
    h.upsert(plan("a", &[Kind::Users, Kind::Groups], None));
    advance(Duration::from_secs(3)).await;
    match runner.status("a") {
        Some(InstanceStatus::Error {
            attempts,
            next_retry,
            code,
            ..
        }) => {
            assert_eq!(attempts, 1);
            assert_eq!(code, "upstream");
            assert!(next_retry.is_some());
        }
        other => panic!("expected error status, got {other:?}"),
    }
    advance(Duration::from_secs(30 * 60)).await;
    let starts = runner.starts("a", Kind::Users);
    assert_eq!(
        starts.len(),
        7,
        "six failures, then a success, then the hourly rescan"
    );
    for (n, w) in starts.windows(2).take(6).enumerate() {
        let delay = w[1] - w[0] - PAGE_TIME;
        let full = cfg.backoff(n as u32 + 1);
        assert!(
            delay >= full / 2 && delay <= full,
            "retry {}: {delay:?} not in [{:?}, {full:?}]",
            n + 1,
            full / 2
        );
    }
    assert_eq!(cfg.backoff(10), Duration::from_secs(240), "capped");
    // The seventh attempt succeeded: groups ran (the gate opened) and status is connected.
    assert!(!runner.starts("a", Kind::Groups).is_empty());
    assert!(matches!(
        runner.status("a"),
        Some(InstanceStatus::Connected { .. })
    ));
    // Groups never ran while users was failing.
    let first_group = runner.starts("a", Kind::Groups)[0];
    assert!(first_group > starts[6]);
}

#[tokio::test(start_paused = true)]
async fn a_providers_retry_after_is_honoured_when_longer_than_the_backoff() {
    let runner = FakeRunner::new(1);
    let h = start(config(), runner.clone());
    runner.fail(
        "a",
        Kind::Users,
        vec![ConnectorError::RateLimited(Some(900))],
    );
    h.upsert(plan("a", &[Kind::Users], None));
    advance(Duration::from_secs(20 * 60)).await;
    let starts = runner.starts("a", Kind::Users);
    assert!(starts.len() >= 2);
    let gap = starts[1] - starts[0] - PAGE_TIME;
    assert!(gap >= Duration::from_secs(900), "{gap:?}");
    assert!(gap <= Duration::from_secs(901), "{gap:?}");
}

#[tokio::test(start_paused = true)]
async fn a_trigger_runs_now_and_reports_and_one_during_a_run_reruns_after() {
    let runner = FakeRunner::new(3);
    let h = start(config(), runner.clone());
    h.upsert(plan("a", &[Kind::Activities], Some(now_millis())));
    advance(Duration::from_secs(1)).await;
    assert!(runner.starts("a", Kind::Activities).is_empty());

    let wait = h.trigger("a", &[Kind::Activities]).await.unwrap();
    let reports = tokio::spawn(wait);
    advance(Duration::from_secs(1)).await;
    // Triggered again while running: runs once more right after.
    let again = h.trigger("a", &[]).await.unwrap();
    let again = tokio::spawn(again);
    advance(Duration::from_secs(20)).await;
    let reports = reports.await.unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].pages, 3);
    assert_eq!(again.await.unwrap().len(), 1);
    let starts = runner.starts("a", Kind::Activities);
    assert_eq!(starts.len(), 2, "{starts:?}");
    assert_eq!(starts[1] - starts[0], PAGE_TIME * 3);

    assert_eq!(
        h.trigger("nope", &[]).await.err(),
        Some(ScheduleError::NotScheduled("nope".into()))
    );
}

#[tokio::test(start_paused = true)]
async fn a_changes_trigger_runs_a_changes_scan_and_keeps_the_full_scan_due() {
    let runner = FakeRunner::new(1);
    let h = start(config(), runner.clone());
    // The last full files scan was nearly an interval ago: the next is due soon.
    let interval = default_interval(Kind::Files).as_millis() as Millis;
    h.upsert(plan(
        "a",
        &[Kind::Files],
        Some(now_millis() - interval + 120_000),
    ));
    advance(Duration::from_secs(1)).await;
    // Virtual time moves, the wall clock does not: compare what is left until due.
    let left = |h: SchedulerHandle| async move {
        h.snapshot().await["a"][0].next_run.expect("scheduled") - now_millis()
    };
    let left_before = left(h.clone()).await;

    let wait = h.trigger_scan("a", &[Kind::Files], true).await.unwrap();
    let reports = tokio::spawn(wait);
    advance(Duration::from_secs(5)).await;
    assert_eq!(reports.await.unwrap().len(), 1);
    let started = runner.started.lock().unwrap().clone();
    assert_eq!(started.len(), 1);
    assert!(
        started[0].changes_only,
        "a webhook's trigger is a changes scan"
    );
    let left_after = left(h.clone()).await;
    assert!(
        left_after <= left_before - 4_000,
        "the full scan stays due when it was ({left_before} ms), not an interval after the changes scan ({left_after} ms)"
    );

    // An operator's trigger is a full scan, now.
    let wait = h.trigger("a", &[Kind::Files]).await.unwrap();
    let reports = tokio::spawn(wait);
    advance(Duration::from_secs(5)).await;
    assert_eq!(reports.await.unwrap().len(), 1);
    let started = runner.started.lock().unwrap().clone();
    assert_eq!(started.len(), 2);
    assert!(!started[1].changes_only);
}

#[tokio::test(start_paused = true)]
async fn removing_an_instance_stops_its_scan_at_a_page_boundary() {
    let runner = FakeRunner::new(10);
    let h = start(config(), runner.clone());
    h.upsert(plan("a", &[Kind::Users], None));
    h.upsert(plan("b", &[Kind::Users], None));
    advance(Duration::from_secs(5)).await;
    let removed = tokio::spawn({
        let h = h.clone();
        async move { h.remove("a").await }
    });
    advance(Duration::from_secs(2)).await;
    assert!(
        removed.is_finished(),
        "remove resolves once the scan has stopped"
    );
    advance(Duration::from_secs(60)).await;
    let stopped = runner.stopped.lock().unwrap().clone();
    assert_eq!(stopped.len(), 1, "{stopped:?}");
    assert_eq!(stopped[0].0, "a");
    assert!(
        stopped[0].2 < 10,
        "stopped early, after {} pages",
        stopped[0].2
    );
    // b was untouched and is not rescheduled within the hour.
    assert_eq!(runner.starts("b", Kind::Users).len(), 1);
    assert!(matches!(
        runner.status("b"),
        Some(InstanceStatus::Connected { .. })
    ));
    assert!(!h.snapshot().await.contains_key("a"));
}

#[tokio::test(start_paused = true)]
async fn shutdown_waits_for_running_scans_to_stop() {
    let runner = FakeRunner::new(100);
    let h = start(config(), runner.clone());
    h.upsert(plan("a", &[Kind::Users], None));
    advance(Duration::from_secs(5)).await;
    let shut = tokio::spawn({
        let h = h.clone();
        async move { h.shutdown().await }
    });
    advance(Duration::from_secs(5)).await;
    assert!(
        shut.is_finished(),
        "shutdown waited for a page, not the whole scan"
    );
    assert_eq!(runner.running.load(Ordering::SeqCst), 0);
    assert_eq!(runner.stopped.lock().unwrap().len(), 1);
    // After shutdown nothing is started.
    h.upsert(plan("b", &[Kind::Users], None));
    advance(Duration::from_secs(5)).await;
    assert!(runner.starts("b", Kind::Users).is_empty());
}
