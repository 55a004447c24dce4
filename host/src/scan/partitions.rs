//! A first activity scan fetched as time ranges side by side.
//!
//! When a connector reads `[since, until)` ranges (`activity-partitions`, contract 0.3.0)
//! and an activity feed has no position yet, the look-back is split into up to
//! [`ScanOptions::activity_partitions`] ranges of at least an hour, on whole seconds.
//! So is a catch-up: a feed last caught up more than [`CATCH_UP_MILLIS`] ago (a daemon
//! that was down) is read from its newest stored event's second on as ranges, and the
//! newest range's position replaces the feed's. (Like a one-feed restart at a time,
//! this does not see events the provider publishes later with earlier times.)
//! Each range is paged by its own fetcher, so a provider's page latency is paid side by
//! side, not once per page in turn; one committer takes the pages as they arrive and
//! commits each with every range's position (the page's events first, the state after
//! them, as for any page). A crash or an error leaves each range at its last committed
//! page, and the next run resumes every unfinished range from there, so nothing is lost;
//! events are keyed by id, so a page fetched twice is stored once. The newest range has
//! no end: its final position is where the feed goes on from, set (and the ranges
//! cleared) by the commit that finishes the last range.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::mpsc;

use super::{
    Lister, ScanError, ScanOptions, StopSignal, account, audit_scan_writes, cut, hash, over_cap,
};
use crate::model::{ConnectorError, Kind, KindReport, Millis, Page, now_millis};
use crate::runtime::CallContext;
use crate::store::{Instance, Partition, ScanState, Store};

/// The shortest range worth fetching on its own.
pub const MIN_RANGE_MILLIS: Millis = 3_600_000;

/// Most ranges one scan runs at once.
pub const MAX_RANGES: u32 = 8;

/// A feed last caught up longer ago than this is caught up as ranges (6 hours).
pub const CATCH_UP_MILLIS: Millis = 6 * 3_600_000;

/// Where a partitioned read of the activity feed would start: the look-back's start for
/// a first scan; for a catch-up, the newest stored event (or the last catch-up); none
/// when the feed is read as it is.
pub fn start(
    store: &Store,
    instance: &Instance,
    state: &ScanState,
    first_since: Millis,
    now: Millis,
) -> Result<Option<Millis>, ScanError> {
    if state.cursor.is_none() {
        return Ok(Some(first_since));
    }
    match state.last_completed {
        Some(caught_up) if now - caught_up > CATCH_UP_MILLIS => {
            let newest = store.newest_activity_time(&instance.id)?;
            Ok(Some(newest.unwrap_or(caught_up).div_euclid(1000) * 1000))
        }
        _ => Ok(None),
    }
}

/// Split a read of the activity feed from `since` (see [`start`]) to `now` into ranges
/// when the connector reads ranges and the span is long enough. True when it did (the
/// ranges are in `state`, not yet saved).
pub fn plan(
    supported: bool,
    opts: &ScanOptions,
    since: Millis,
    now: Millis,
    state: &mut ScanState,
) -> bool {
    if !supported || !state.partitions.is_empty() {
        return false;
    }
    let span = now - since;
    let n = i64::from(opts.activity_partitions.min(MAX_RANGES)).min(span / MIN_RANGE_MILLIS);
    if n < 2 {
        return false;
    }
    let bound = |k: i64| match k {
        0 => since,
        k => (since + span * k / n).div_euclid(1000) * 1000,
    };
    state.partitions = (0..n)
        .map(|k| Partition {
            since: bound(k),
            until: (k + 1 < n).then(|| bound(k + 1)),
            cursor: None,
            done: false,
        })
        .collect();
    true
}

/// What a range's fetcher hands the committer.
enum Fetched {
    Page {
        range: usize,
        page: Page,
        /// The range's position after this page.
        cursor: Option<String>,
        /// The range's last page.
        last: bool,
    },
    Failed(ConnectorError),
}

/// What a partitioned scan works on (the arguments of [`super::scan_kind`]).
pub struct Scan<'a, L> {
    pub store: &'a Store,
    pub plugin: &'a L,
    pub instance: &'a Instance,
    pub base: &'a CallContext,
    pub opts: &'a ScanOptions,
    pub stop: &'a StopSignal,
}

/// Page one range from its saved position to its end, handing each page on; stops at
/// the first error, or when the committer stops (`halt`, or the channel closes).
async fn fetch_range(
    plugin: &impl Lister,
    mut ctx: CallContext,
    range: (usize, Partition),
    tx: mpsc::Sender<Fetched>,
    halt: &AtomicBool,
    stop: &StopSignal,
) {
    let (index, range) = range;
    ctx.since = Some(range.since);
    ctx.until = range.until;
    let mut cursor = range.cursor;
    // Every cursor this range was handed: one handed again means paging that loops.
    let mut given: HashSet<u64> = cursor.iter().map(|c| hash(c)).collect();
    while !halt.load(Ordering::SeqCst) && !stop.is_stopped() {
        let fetched = match plugin
            .page(ctx.clone(), Kind::Activities, cursor.clone())
            .await
        {
            Err(e) => Fetched::Failed(e),
            Ok(page) => {
                let previous = cursor.clone();
                if page.next_cursor.is_some() {
                    cursor = page.next_cursor.clone();
                }
                // A feed that claims more but does not move would loop forever.
                let last = !page.more || (page.records.is_empty() && cursor == previous);
                match &cursor {
                    Some(next) if !last && !given.insert(hash(next)) => {
                        Fetched::Failed(ConnectorError::OverCap(format!(
                            "paging loops: a page of the range from {} named a next cursor this scan was already given (`{}`); nothing of that page was stored",
                            range.since,
                            cut(next, 80)
                        )))
                    }
                    _ => Fetched::Page {
                        range: index,
                        page,
                        cursor: cursor.clone(),
                        last,
                    },
                }
            }
        };
        let end = !matches!(fetched, Fetched::Page { last: false, .. });
        if tx.send(fetched).await.is_err() || end {
            return;
        }
    }
}

/// Fetch every unfinished range of `state` side by side and commit their pages as they
/// come, until all are done, one fails, a cap is reached or the scan is stopped.
pub async fn scan(
    scan: &Scan<'_, impl Lister>,
    ctx: &CallContext,
    state: &mut ScanState,
    report: &mut KindReport,
) -> Result<(), ScanError> {
    let Scan {
        store,
        plugin,
        instance,
        base,
        opts,
        stop,
    } = *scan;
    let kind = Kind::Activities;
    let halt = AtomicBool::new(false);
    let (tx, mut rx) = mpsc::channel(state.partitions.len());
    let fetchers = futures_util::future::join_all(
        state
            .partitions
            .iter()
            .cloned()
            .enumerate()
            .filter(|(_, range)| !range.done)
            .map(|range| fetch_range(plugin, ctx.clone(), range, tx.clone(), &halt, stop))
            .collect::<Vec<_>>(),
    );
    drop(tx);
    let commit = async {
        let caps = &opts.caps;
        let (mut fetched, mut fetched_records) = (0u64, 0u64);
        let result: Result<(), ScanError> = async {
            while let Some(got) = rx.recv().await {
                audit_scan_writes(store, instance, plugin.version(), kind, base)?;
                let (range, page, cursor, last) = match got {
                    Fetched::Failed(e) => {
                        report.error = Some(e);
                        break;
                    }
                    Fetched::Page {
                        range,
                        page,
                        cursor,
                        last,
                    } => (range, page, cursor, last),
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
                let at = &mut state.partitions[range];
                at.cursor = cursor;
                at.done = last;
                state.pages += 1;
                state.records += n;
                if state.partitions.iter().all(|p| p.done) {
                    state.cursor = state
                        .partitions
                        .iter()
                        .find(|p| p.until.is_none())
                        .and_then(|p| p.cursor.clone());
                    state.partitions.clear();
                    state.last_completed = Some(now_millis());
                }
                let (store2, id, committed) = (store.clone(), instance.id.clone(), state.clone());
                let commit_caps = caps.commit;
                let done = tokio::task::spawn_blocking(move || {
                    store2.commit_page_capped(&id, kind, &page.records, &committed, false, &commit_caps)
                })
                .await
                .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
                match over_cap(done.map(|deleted| (n, deleted)), report)? {
                    Some(done) => account(store, instance, kind, report, done)?,
                    None => break,
                }
                if state.partitions.is_empty() {
                    break;
                }
                if fetched >= opts.max_pages {
                    report.error = Some(ConnectorError::Other(format!(
                        "stopped after {} pages; the scan resumes from its cursors next time",
                        opts.max_pages
                    )));
                    break;
                }
                if fetched_records >= caps.scan_records {
                    report.error = Some(ConnectorError::OverCap(format!(
                        "stopped after {fetched_records} records in one scan (daemon --max-scan-records {}); the scan resumes from its cursors next time",
                        caps.scan_records
                    )));
                    break;
                }
            }
            Ok(())
        }
        .await;
        // Fetchers stop at their next page, or at once when waiting to hand one over.
        halt.store(true, Ordering::SeqCst);
        rx.close();
        while rx.try_recv().is_ok() {}
        result
    };
    let (_, result) = tokio::join!(fetchers, commit);
    if stop.is_stopped() && !state.partitions.is_empty() && report.error.is_none() {
        report.stopped = true;
    }
    result
}

#[cfg(test)]
mod tests {
    //! Ranges side by side keep a sequential feed's guarantees: every event once, each
    //! range resuming from its own committed position after an error.

    use std::sync::atomic::AtomicUsize;
    use std::sync::{LazyLock, Mutex};
    use std::time::Duration;

    use super::*;
    use crate::scan::scan_kind;
    use crate::store::tests::{activity, ids, instance};

    const HOUR: Millis = 3_600_000;
    /// The tests' clock: now, on a whole second (the store stamps `last_completed`
    /// with the wall clock, which catch-up compares with the run's clock).
    static NOW: LazyLock<Millis> = LazyLock::new(|| now_millis().div_euclid(1000) * 1000);

    /// One call: the range start, its end, the cursor.
    type Asked = (Millis, Option<Millis>, Option<String>);

    /// A feed that reads `[since, until)` ranges: the cursor is `<since>+<offset>`, the
    /// range's start and the offset into its events; `fail_once` names a (range start, offset) that answers `upstream`
    /// the first time.
    struct Ranged {
        times: Vec<Millis>,
        page: usize,
        fail_once: Mutex<Option<(Millis, usize)>>,
        asked: Mutex<Vec<Asked>>,
        in_flight: AtomicUsize,
        most_in_flight: AtomicUsize,
    }

    impl Ranged {
        fn new(times: Vec<Millis>, page: usize) -> Ranged {
            Ranged {
                times,
                page,
                fail_once: Mutex::new(None),
                asked: Mutex::new(Vec::new()),
                in_flight: AtomicUsize::new(0),
                most_in_flight: AtomicUsize::new(0),
            }
        }
    }

    impl Lister for Ranged {
        async fn page(
            &self,
            ctx: CallContext,
            _kind: Kind,
            cursor: Option<String>,
        ) -> Result<Page, ConnectorError> {
            let (since, offset) = match cursor.as_deref().and_then(|c| c.split_once('+')) {
                Some((since, offset)) => (since.parse().unwrap(), offset.parse().unwrap()),
                None => (ctx.since.unwrap(), 0),
            };
            self.asked
                .lock()
                .unwrap()
                .push((since, ctx.until, cursor.clone()));
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_in_flight.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(2)).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            if *self.fail_once.lock().unwrap() == Some((since, offset)) {
                *self.fail_once.lock().unwrap() = None;
                return Err(ConnectorError::Upstream("503 from the provider".into()));
            }
            // A provider has no events after now.
            let until = ctx.until.or(ctx.now).unwrap_or(Millis::MAX);
            let inside: Vec<(usize, Millis)> = (self.times.iter().copied().enumerate())
                .filter(|&(_, t)| since <= t && t < until)
                .collect();
            let end = (offset + self.page).min(inside.len());
            Ok(Page {
                records: inside[offset..end]
                    .iter()
                    .map(|&(i, t)| activity(&format!("e{i:05}"), t))
                    .collect(),
                next_cursor: Some(format!("{since}+{end}")),
                more: end < inside.len(),
            })
        }

        fn activity_partitions(&self) -> bool {
            true
        }
    }

    fn context() -> CallContext {
        CallContext {
            page_size: 100,
            look_back_days: 1,
            ..Default::default()
        }
    }

    fn opts() -> ScanOptions {
        ScanOptions {
            now: Some(*NOW),
            activity_since: Some(*NOW - 24 * HOUR),
            ..Default::default()
        }
    }

    /// One event every `every` ms for `days` days from the day before `NOW`.
    fn spread(every: Millis, days: i64) -> Vec<Millis> {
        (0..days * 24 * HOUR / every)
            .map(|i| *NOW - 24 * HOUR + i * every)
            .collect()
    }

    #[test]
    fn ranges_cover_the_span_on_whole_seconds_and_only_when_long_enough() {
        let mut state = ScanState::default();
        let since = *NOW - 24 * HOUR + 123;
        assert!(plan(true, &opts(), since, *NOW, &mut state));
        let ranges = &state.partitions;
        assert_eq!(ranges.len(), 4);
        assert_eq!(ranges[0].since, since);
        for pair in ranges.windows(2) {
            assert_eq!(pair[0].until, Some(pair[1].since), "contiguous");
            assert_eq!(pair[1].since % 1000, 0, "whole seconds");
        }
        assert_eq!(ranges[3].until, None, "the newest reads up to now");

        let mut short = ScanState::default();
        assert!(!plan(true, &opts(), *NOW - HOUR, *NOW, &mut short));
        assert!(!plan(false, &opts(), since, *NOW, &mut short));
        assert!(short.partitions.is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_first_scan_fetches_ranges_side_by_side_and_stores_every_event_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let inst = instance("acme");
        store.create_instance(&inst, &Default::default()).unwrap();
        let times = spread(60_000, 1);
        let feed = Ranged::new(times.clone(), 50);
        let (ctx, stop) = (context(), StopSignal::new());

        let report = scan_kind(&store, &feed, &inst, &ctx, Kind::Activities, &opts(), &stop)
            .await
            .unwrap();
        assert!(report.error.is_none(), "{:?}", report.error);
        assert_eq!(report.records, times.len() as u64);
        let mut stored = ids(&store, &inst.id, Kind::Activities, false);
        stored.sort();
        let want: Vec<String> = (0..times.len()).map(|i| format!("e{i:05}")).collect();
        assert!(stored == want, "every event once: {} stored", stored.len());
        let ranges: HashSet<Millis> = feed.asked.lock().unwrap().iter().map(|a| a.0).collect();
        assert_eq!(ranges.len(), 4);
        assert!(
            feed.most_in_flight.load(Ordering::SeqCst) > 1,
            "ranges were fetched one at a time"
        );
        let state = store.scan_state(&inst.id, Kind::Activities).unwrap();
        assert!(state.partitions.is_empty());
        // The newest range's end: 24 h of one event a minute, 6 h per range.
        assert_eq!(state.cursor, Some(format!("{}+360", *NOW - 6 * HOUR)));

        // The next run goes on from there as one feed.
        feed.asked.lock().unwrap().clear();
        scan_kind(&store, &feed, &inst, &ctx, Kind::Activities, &opts(), &stop)
            .await
            .unwrap();
        let asked = feed.asked.lock().unwrap().clone();
        assert_eq!(asked.len(), 1);
        assert_eq!(asked[0].2, Some(format!("{}+360", *NOW - 6 * HOUR)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_error_in_one_range_keeps_every_ranges_position_and_the_rescan_resumes_each() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let inst = instance("acme");
        store.create_instance(&inst, &Default::default()).unwrap();
        let times = spread(60_000, 1);
        let feed = Ranged::new(times.clone(), 50);
        let (ctx, stop) = (context(), StopSignal::new());
        let second_range = *NOW - 18 * HOUR;
        *feed.fail_once.lock().unwrap() = Some((second_range, 200));

        let first = scan_kind(&store, &feed, &inst, &ctx, Kind::Activities, &opts(), &stop)
            .await
            .unwrap();
        assert!(matches!(first.error, Some(ConnectorError::Upstream(_))));
        let state = store.scan_state(&inst.id, Kind::Activities).unwrap();
        assert_eq!(
            state.partitions.len(),
            4,
            "the ranges stay until all are done"
        );
        assert_eq!(state.cursor, None);
        let failed = state.partitions.iter().find(|p| p.since == second_range);
        assert_eq!(failed.unwrap().cursor, Some(format!("{second_range}+200")));
        let stored = ids(&store, &inst.id, Kind::Activities, false).len() as u64;
        assert_eq!(stored, first.records, "what was committed is stored");

        feed.asked.lock().unwrap().clear();
        let second = scan_kind(&store, &feed, &inst, &ctx, Kind::Activities, &opts(), &stop)
            .await
            .unwrap();
        assert!(second.error.is_none(), "{:?}", second.error);
        // Each unfinished range resumed from its committed position; finished ones rest.
        let asked = feed.asked.lock().unwrap().clone();
        for saved in &state.partitions {
            let first_ask = asked.iter().find(|a| a.0 == saved.since);
            if saved.done {
                assert!(first_ask.is_none(), "a finished range was asked again");
            } else {
                assert_eq!(first_ask.unwrap().2, saved.cursor, "range {}", saved.since);
            }
        }
        let stored = ids(&store, &inst.id, Kind::Activities, false);
        assert_eq!(stored.len(), times.len(), "no gaps, no duplicates");
        assert_eq!(first.records + second.records, times.len() as u64);
        let state = store.scan_state(&inst.id, Kind::Activities).unwrap();
        assert!(state.partitions.is_empty());
        assert_eq!(state.cursor, Some(format!("{}+360", *NOW - 6 * HOUR)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_feed_last_caught_up_a_day_ago_catches_up_as_ranges_and_stores_every_event_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let inst = instance("acme");
        store.create_instance(&inst, &Default::default()).unwrap();
        // A day before now and a day after: the second day happens while "down".
        let times = spread(60_000, 2);
        let feed = Ranged::new(times.clone(), 50);
        let (ctx, stop) = (context(), StopSignal::new());
        scan_kind(&store, &feed, &inst, &ctx, Kind::Activities, &opts(), &stop)
            .await
            .unwrap();
        assert_eq!(ids(&store, &inst.id, Kind::Activities, false).len(), 1440);

        // A day later: the feed was caught up 24 h ago, so it is read as ranges from
        // its newest stored event on, not page after page from its cursor.
        feed.asked.lock().unwrap().clear();
        let later = ScanOptions {
            now: Some(*NOW + 24 * HOUR),
            ..opts()
        };
        let report = scan_kind(&store, &feed, &inst, &ctx, Kind::Activities, &later, &stop)
            .await
            .unwrap();
        assert!(report.error.is_none(), "{:?}", report.error);
        let asked = feed.asked.lock().unwrap().clone();
        let ranges: HashSet<Millis> = asked.iter().map(|a| a.0).collect();
        assert_eq!(ranges.len(), 4, "caught up as four ranges");
        assert_eq!(
            ranges.iter().min(),
            Some(&(*NOW - 60_000)),
            "from the newest event"
        );
        assert_eq!(
            ids(&store, &inst.id, Kind::Activities, false).len(),
            times.len(),
            "every event once"
        );
        let state = store.scan_state(&inst.id, Kind::Activities).unwrap();
        assert!(state.partitions.is_empty());
        let newest = ranges.iter().max().unwrap();
        let in_newest = times.iter().filter(|&&t| t >= *newest).count();
        assert_eq!(state.cursor, Some(format!("{newest}+{in_newest}")));
    }
}
