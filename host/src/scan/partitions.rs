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
//!
//! Logs are rarely even: a bulk change can put most of a year's events into one day.
//! So when a range is through while others are not, the bounded range with the most
//! time left is split again ([`resplit`]): its committed pages show which way it pages
//! (newest or oldest first) and so where its unread part lies, and that part is handed
//! to new ranges (a fetcher each, up to the scan's number of ranges), saved with the
//! page that finished the other range. The split range is marked done with the bounds
//! it read, its fetcher stops, and any page of it still in flight is dropped: the new
//! ranges read those events again (stored once, keyed by id). A range whose order
//! cannot be told (one event time so far, or times going both ways) is not split.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::sync::mpsc;

use super::{
    Lister, ScanError, ScanOptions, StopSignal, account, audit_scan_writes, cut, hash, over_cap,
};
use crate::model::{ConnectorError, Kind, KindReport, Millis, Page, Record, now_millis};
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

/// What a range's fetcher hands the committer. Every fetcher's last message is a
/// `Page` with `last`, a `Failed` or an `Ended`, so the committer knows when all are
/// through without waiting for the channel to close.
enum Fetched {
    Page {
        range: usize,
        page: Page,
        /// The range's position after this page.
        cursor: Option<String>,
        /// The range's last page.
        last: bool,
    },
    Failed(usize, ConnectorError),
    /// The fetcher stopped before the range's end: halted, retired or stopped.
    Ended(usize),
}

impl Fetched {
    fn range(&self) -> usize {
        match self {
            Fetched::Page { range, .. } | Fetched::Failed(range, _) | Fetched::Ended(range) => {
                *range
            }
        }
    }

    /// The fetcher's last message.
    fn is_final(&self) -> bool {
        !matches!(self, Fetched::Page { last: false, .. })
    }
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

/// Whether the fetchers should stop: all of them (`halt`), or one range (retired by a
/// re-split, see [`Progress`]).
struct Halts {
    all: AtomicBool,
    retired: Mutex<HashSet<usize>>,
}

impl Halts {
    fn halted(&self, range: usize) -> bool {
        self.all.load(Ordering::SeqCst)
            || self
                .retired
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains(&range)
    }
}

/// Page one range from its saved position to its end, handing each page on; stops at
/// the first error, when halted, or when the committer is gone. Its last message says
/// it is through (see [`Fetched`]).
async fn fetch_range(
    plugin: &impl Lister,
    mut ctx: CallContext,
    range: (usize, Partition),
    tx: mpsc::Sender<Fetched>,
    halts: &Halts,
    stop: &StopSignal,
) {
    let (index, range) = range;
    ctx.since = Some(range.since);
    ctx.until = range.until;
    let mut cursor = range.cursor;
    // Every cursor this range was handed: one handed again means paging that loops.
    let mut given: HashSet<u64> = cursor.iter().map(|c| hash(c)).collect();
    loop {
        if halts.halted(index) || stop.is_stopped() {
            let _ = tx.send(Fetched::Ended(index)).await;
            return;
        }
        let fetched = match plugin
            .page(ctx.clone(), Kind::Activities, cursor.clone())
            .await
        {
            Err(e) => Fetched::Failed(index, e),
            Ok(page) => {
                let previous = cursor.clone();
                if page.next_cursor.is_some() {
                    cursor = page.next_cursor.clone();
                }
                // A feed that claims more but does not move would loop forever.
                let last = !page.more || (page.records.is_empty() && cursor == previous);
                match &cursor {
                    Some(next) if !last && !given.insert(hash(next)) => Fetched::Failed(
                        index,
                        ConnectorError::OverCap(format!(
                            "paging loops: a page of the range from {} named a next cursor this scan was already given (`{}`); nothing of that page was stored",
                            range.since,
                            cut(next, 80)
                        )),
                    ),
                    _ => Fetched::Page {
                        range: index,
                        page,
                        cursor: cursor.clone(),
                        last,
                    },
                }
            }
        };
        let end = fetched.is_final();
        if tx.send(fetched).await.is_err() || end {
            return;
        }
    }
}

/// What the committed pages of one range tell about the part of it not yet read: a
/// feed pages a time range from one end to the other, so once the order is known the
/// rest lies before the oldest event seen (newest first) or after the newest (oldest
/// first).
#[derive(Debug, Default, Clone)]
struct Progress {
    /// Newest first (true) or oldest first; none until two times differ.
    newest_first: Option<bool>,
    /// The pages' times went both ways: the rest cannot be told, so never re-split.
    unordered: bool,
    oldest: Option<Millis>,
    newest: Option<Millis>,
    /// The last event time of the last page.
    last: Option<Millis>,
}

impl Progress {
    fn saw(&mut self, page: &Page) {
        let times = page.records.iter().filter_map(|r| match r {
            Record::Activity(a) => Some(a.time),
            _ => None,
        });
        for t in times {
            if let Some(before) = self.last
                && before != t
            {
                let descending = t < before;
                match self.newest_first {
                    None => self.newest_first = Some(descending),
                    Some(order) if order != descending => self.unordered = true,
                    Some(_) => {}
                }
            }
            self.last = Some(t);
            self.oldest = Some(self.oldest.map_or(t, |o| o.min(t)));
            self.newest = Some(self.newest.map_or(t, |n| n.max(t)));
        }
    }

    /// The part of `range` not read yet, on whole seconds, when it can be told; it
    /// takes in the second of the boundary event again (stored once: events are keyed
    /// by id).
    fn rest(&self, range: &Partition) -> Option<(Millis, Millis)> {
        let until = range.until?;
        if self.unordered {
            return None;
        }
        let (from, to) = match self.newest_first? {
            true => (range.since, self.oldest?.div_euclid(1000) * 1000 + 1000),
            false => (self.newest?.div_euclid(1000) * 1000, until),
        };
        (from < to).then_some((from.max(range.since), to.min(until)))
    }
}

/// When a range is through and fewer than `target` remain, the unfinished bounded range
/// with the most time left is retired and what it has left is fetched as new ranges side
/// by side (at least [`MIN_RANGE_MILLIS`] each). The retired range is marked done with
/// the bounds of what it read; its fetcher stops and its pages still in flight are
/// dropped (the new ranges read them again). The newest range is never retired: its
/// position is where the feed goes on from. Returns the retired range's index and the
/// new ranges' indexes.
fn resplit(
    state: &mut ScanState,
    progress: &[Progress],
    target: usize,
) -> Option<(usize, std::ops::Range<usize>)> {
    let open = state.partitions.iter().filter(|p| !p.done).count();
    let free = target.checked_sub(open)?;
    if free == 0 {
        return None;
    }
    let (retire, (from, to)) = (state.partitions.iter().enumerate())
        .filter(|(_, p)| !p.done && p.until.is_some())
        .filter_map(|(i, p)| Some((i, progress.get(i)?.rest(p)?)))
        .max_by_key(|(_, (from, to))| to - from)?;
    let pieces = (free as i64 + 1).min((to - from) / MIN_RANGE_MILLIS);
    if pieces < 2 {
        return None;
    }
    let old = &mut state.partitions[retire];
    // What it read: the rest is fetched anew.
    if progress[retire].newest_first == Some(true) {
        old.since = to;
    } else {
        old.until = Some(from);
    }
    old.done = true;
    let bound = |k: i64| match k {
        0 => from,
        k if k == pieces => to,
        k => (from + (to - from) * k / pieces).div_euclid(1000) * 1000,
    };
    let first = state.partitions.len();
    state.partitions.extend((0..pieces).map(|k| Partition {
        since: bound(k),
        until: Some(bound(k + 1)),
        cursor: None,
        done: false,
    }));
    Some((retire, first..state.partitions.len()))
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
    let target = opts.activity_partitions.clamp(1, MAX_RANGES) as usize;
    let halts = Halts {
        all: AtomicBool::new(false),
        retired: Mutex::new(HashSet::new()),
    };
    let (tx, mut rx) = mpsc::channel(2 * MAX_RANGES as usize);
    // Ranges to fetch go to the pool, which runs a fetcher for each.
    let (launch, mut to_launch) = mpsc::unbounded_channel::<(usize, Partition)>();
    let pool = async {
        let mut running = FuturesUnordered::new();
        loop {
            tokio::select! {
                next = to_launch.recv() => match next {
                    Some(range) => running.push(fetch_range(plugin, ctx.clone(), range, tx.clone(), &halts, stop)),
                    None => break,
                },
                Some(()) = running.next(), if !running.is_empty() => {}
            }
        }
        while running.next().await.is_some() {}
    };
    let commit = async {
        let mut active = 0usize;
        for range in (state.partitions.iter().cloned().enumerate()).filter(|(_, r)| !r.done) {
            active += 1;
            let _ = launch.send(range);
        }
        let mut progress = vec![Progress::default(); state.partitions.len()];
        let caps = &opts.caps;
        let (mut fetched, mut fetched_records) = (0u64, 0u64);
        let result: Result<(), ScanError> = async {
            while active > 0 {
                let Some(got) = rx.recv().await else { break };
                if got.is_final() {
                    active -= 1;
                }
                // A retired range's pages are read again by the ranges that replaced it.
                if state.partitions[got.range()].done {
                    continue;
                }
                audit_scan_writes(store, instance, plugin.version(), kind, base)?;
                let (range, page, cursor, last) = match got {
                    Fetched::Failed(_, e) => {
                        report.error = Some(e);
                        break;
                    }
                    Fetched::Ended(_) => continue,
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
                progress[range].saw(&page);
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
                } else if last
                    && let Some((retired, added)) = resplit(state, &progress, target)
                {
                    // Saved with this page: a crash after it resumes the new ranges.
                    progress.resize(state.partitions.len(), Progress::default());
                    halts
                        .retired
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(retired);
                    for i in added {
                        active += 1;
                        let _ = launch.send((i, state.partitions[i].clone()));
                    }
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
        halts.all.store(true, Ordering::SeqCst);
        drop(launch);
        rx.close();
        while rx.try_recv().is_ok() {}
        result
    };
    let (_, result) = tokio::join!(pool, commit);
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
        /// Page each range newest first, as GitHub and Webex do (else oldest first).
        newest_first: bool,
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
                newest_first: false,
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
            let mut inside: Vec<(usize, Millis)> = (self.times.iter().copied().enumerate())
                .filter(|&(_, t)| since <= t && t < until)
                .collect();
            if self.newest_first {
                inside.reverse();
            }
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

    /// A store in a fresh directory (kept while the first value lives) with one
    /// instance.
    fn fresh() -> (tempfile::TempDir, Store, Instance) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let inst = instance("acme");
        store.create_instance(&inst, &Default::default()).unwrap();
        (dir, store, inst)
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
        let (_dir, store, inst) = fresh();
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
        let (_dir, store, inst) = fresh();
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
        let (_dir, store, inst) = fresh();
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

    #[test]
    fn the_rest_of_a_range_lies_past_its_last_event_in_paging_order() {
        let range = Partition {
            since: 10_000,
            until: Some(100_000),
            cursor: None,
            done: false,
        };
        let page = |times: &[Millis]| Page {
            records: times
                .iter()
                .map(|&t| activity(&format!("e{t}"), t))
                .collect(),
            next_cursor: None,
            more: true,
        };
        let mut newest_first = Progress::default();
        newest_first.saw(&page(&[90_500, 80_000, 70_250]));
        assert_eq!(newest_first.rest(&range), Some((10_000, 71_000)));
        let mut oldest_first = Progress::default();
        oldest_first.saw(&page(&[20_000, 30_000]));
        oldest_first.saw(&page(&[40_700]));
        assert_eq!(oldest_first.rest(&range), Some((40_000, 100_000)));
        // One time only, times both ways, or the open range: nothing can be told.
        let mut flat = Progress::default();
        flat.saw(&page(&[50_000, 50_000]));
        assert_eq!(flat.rest(&range), None);
        let mut both = Progress::default();
        both.saw(&page(&[20_000, 30_000, 25_000]));
        assert_eq!(both.rest(&range), None);
        let open = Partition {
            until: None,
            ..range.clone()
        };
        assert_eq!(oldest_first.rest(&open), None);
    }

    /// A log whose events crowd into one of the four ranges: one a second for its six
    /// hours, one a minute elsewhere.
    fn crowded() -> Vec<Millis> {
        let start = *NOW - 24 * HOUR;
        let mut times: Vec<Millis> = (0..24 * 60).map(|m| start + m * 60_000).collect();
        times.extend((0..6 * 3600).map(|s| start + 6 * HOUR + s * 1000 + 500));
        times.sort();
        times
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_crowded_range_is_split_again_when_others_finish_and_every_event_is_stored_once() {
        for newest_first in [false, true] {
            let (_dir, store, inst) = fresh();
            let times = crowded();
            let mut feed = Ranged::new(times.clone(), 100);
            feed.newest_first = newest_first;
            let (ctx, stop) = (context(), StopSignal::new());

            let report = scan_kind(&store, &feed, &inst, &ctx, Kind::Activities, &opts(), &stop)
                .await
                .unwrap();
            assert!(report.error.is_none(), "{:?}", report.error);
            let stored = ids(&store, &inst.id, Kind::Activities, false);
            let unique: HashSet<&String> = stored.iter().collect();
            assert_eq!(stored.len(), times.len(), "newest first: {newest_first}");
            assert_eq!(unique.len(), times.len());
            let asked = feed.asked.lock().unwrap().clone();
            let ranges: HashSet<Millis> = asked.iter().map(|a| a.0).collect();
            assert!(
                ranges.len() > 4,
                "the crowded range was not split again ({} ranges, newest first: {newest_first})",
                ranges.len()
            );
            let state = store.scan_state(&inst.id, Kind::Activities).unwrap();
            assert!(state.partitions.is_empty());
            // The feed goes on from the newest range's end, as without re-splitting.
            let tail = *NOW - 6 * HOUR;
            let in_tail = times.iter().filter(|&&t| t >= tail).count();
            assert_eq!(state.cursor, Some(format!("{tail}+{in_tail}")));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_scan_cut_short_after_a_split_resumes_the_new_ranges_and_loses_nothing() {
        let (_dir, store, inst) = fresh();
        let times = crowded();
        let mut feed = Ranged::new(times.clone(), 100);
        feed.newest_first = true;
        let (ctx, stop) = (context(), StopSignal::new());
        let short = ScanOptions {
            max_pages: 60,
            ..opts()
        };
        let first = scan_kind(&store, &feed, &inst, &ctx, Kind::Activities, &short, &stop)
            .await
            .unwrap();
        assert!(first.error.is_some(), "stopped by the page cap");
        let saved = store.scan_state(&inst.id, Kind::Activities).unwrap();
        assert!(
            saved.partitions.len() > 4,
            "the split is saved: {:?}",
            saved.partitions
        );
        let mut total = first.records;
        for _ in 0..20 {
            let state = store.scan_state(&inst.id, Kind::Activities).unwrap();
            if state.partitions.is_empty() && state.cursor.is_some() {
                break;
            }
            let next = scan_kind(&store, &feed, &inst, &ctx, Kind::Activities, &short, &stop)
                .await
                .unwrap();
            total += next.records;
        }
        let stored = ids(&store, &inst.id, Kind::Activities, false);
        assert_eq!(stored.len(), times.len(), "no gaps, no duplicates");
        assert!(total >= times.len() as u64);
        assert!(
            store
                .scan_state(&inst.id, Kind::Activities)
                .unwrap()
                .partitions
                .is_empty()
        );
    }
}
