//! Ingest: activities per second end to end (mock GitHub on loopback → GitHub
//! connector → sled), the wasm component against the same connector source compiled
//! natively and driven through the identical HTTP capability and store path, and a
//! parse-only ceiling (the native mapping over responses already in memory). Then the
//! same over several instances at once, each with its own mock org: one org's pages
//! come one after another, each waiting for the last, so one instance measures round
//! trips and several measure what a daemon sustains.
//!
//! The mock runs on a thread of its own, so the CPU sluice spends per activity (the
//! process's CPU time less the mock thread's) is measured beside the rate: on this
//! VM a page's wall time is mostly loopback wakeups, CPU per activity is what a
//! daemon with many instances runs out of.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use github::GitHub;
use sluice::capabilities::http::{HttpClient, HttpFailure, Method, OutboundRequest};
use sluice::model::{self, ConnectorError, Kind, Page, Record};
use sluice::runtime::CallContext;
use sluice::scan::{Lister, ScanOptions, StopSignal, scan_kind};
use sluice_mocks::{GithubMock, GithubMockConfig};
use sluice_sdk::Guest;
use sluice_sdk::bindings::sluice::connector::http::{HttpError, Method as GuestMethod};
use sluice_sdk::bindings::sluice::connector::types as guest;
use sluice_sdk::testing::FakeHost;

use crate::Row;

type Resp = sluice::capabilities::http::InboundResponse;
type Recorder = Arc<Mutex<Vec<Resp>>>;

/// Answers the connector's requests: the real capability, or recorded bodies.
#[derive(Clone)]
enum Transport {
    Live {
        http: HttpClient,
        handle: tokio::runtime::Handle,
    },
    /// Recorded responses served in the order they were recorded.
    Replay(Arc<Vec<Resp>>, Arc<AtomicUsize>),
}

/// The GitHub connector compiled natively, behind the same [`Lister`] seam as the
/// wasm plugin.
struct NativeGithub {
    transport: Transport,
    /// Live runs can record what they fetched, for the replay ceiling.
    record: Option<Recorder>,
}

fn guest_method(m: GuestMethod) -> Method {
    match m {
        GuestMethod::Get => Method::Get,
        GuestMethod::Head => Method::Head,
        GuestMethod::Post => Method::Post,
        GuestMethod::Put => Method::Put,
        GuestMethod::Patch => Method::Patch,
        GuestMethod::Delete => Method::Delete,
    }
}

fn guest_error(e: HttpFailure) -> HttpError {
    match e {
        HttpFailure::Denied(m) => HttpError::Denied(m),
        HttpFailure::InvalidRequest(m) => HttpError::InvalidRequest(m),
        HttpFailure::Timeout => HttpError::Timeout,
        HttpFailure::Connection(m) => HttpError::Connection(m),
        HttpFailure::RateLimited(s) => HttpError::RateLimited(s),
        HttpFailure::TooLarge(n) => HttpError::TooLarge(n),
    }
}

fn host_error(e: guest::ConnectorError) -> ConnectorError {
    use guest::ConnectorError as G;
    match e {
        G::Unauthorized(m) => ConnectorError::Unauthorized(m),
        G::Forbidden(m) => ConnectorError::Forbidden(m),
        G::NotFound(m) => ConnectorError::NotFound(m),
        G::RateLimited(s) => ConnectorError::RateLimited(s),
        G::Upstream(m) => ConnectorError::Upstream(m),
        G::InvalidConfig(m) => ConnectorError::InvalidConfig(m),
        G::Unsupported(m) => ConnectorError::Unsupported(m),
        G::Other(m) => ConnectorError::Other(m),
    }
}

fn host_activity(a: guest::Activity) -> model::Activity {
    model::Activity {
        id: a.id,
        time: a.time,
        kind: match a.kind {
            guest::ActivityKind::Logon => model::ActivityKind::Logon,
            guest::ActivityKind::User => model::ActivityKind::User,
            guest::ActivityKind::Admin => model::ActivityKind::Admin,
        },
        actor: a.actor,
        action: a.action,
        targets: a.targets,
        ip: a.ip,
        user_agent: a.user_agent,
        location: None,
        session_id: None,
        outcome: match a.outcome {
            guest::Outcome::Success => model::Outcome::Success,
            guest::Outcome::Failure => model::Outcome::Failure,
            guest::Outcome::Unknown => model::Outcome::Unknown,
        },
        raw: model::raw_json(a.raw),
    }
}

impl NativeGithub {
    /// One page, synchronously (the connector's code is synchronous, as in wasm).
    fn page_blocking(
        &self,
        ctx: &CallContext,
        cursor: Option<String>,
    ) -> Result<Page, ConnectorError> {
        let mut host = FakeHost::new();
        for (k, v) in ctx.config.iter() {
            host = host.config(k, v);
        }
        let transport = self.transport.clone();
        let record = self.record.clone();
        let (id, name, net) = (
            ctx.instance_id.clone(),
            ctx.instance_name.clone(),
            ctx.net.clone(),
        );
        let host = host.on_request(move |req| {
            let resp = match &transport {
                Transport::Live { http, handle } => {
                    let out = OutboundRequest {
                        method: guest_method(req.method),
                        url: req.url.clone(),
                        headers: req.headers.clone(),
                        body: req.body.clone(),
                    };
                    let r = handle
                        .block_on(http.send(&id, &name, &net, out))
                        .map_err(guest_error)?;
                    if let Some(rec) = &record {
                        rec.lock().unwrap().push(r.clone());
                    }
                    r
                }
                Transport::Replay(bodies, next) => bodies
                    .get(next.fetch_add(1, Ordering::Relaxed))
                    .cloned()
                    .ok_or_else(|| HttpError::Connection(format!("not recorded: {}", req.url)))?,
            };
            Ok(sluice_sdk::http::Response::new(
                resp.status,
                resp.headers,
                resp.body,
            ))
        });
        let wctx = guest::Context {
            instance_id: ctx.instance_id.clone(),
            instance_name: ctx.instance_name.clone(),
            since: ctx.since,
            until: ctx.until,
            now: ctx.now.unwrap_or_else(sluice::model::now_millis),
            page_size: ctx.page_size,
            auth: ctx.auth.clone(),
        };
        let (result, _) = host.run(|| <GitHub as Guest>::list_activities(wctx, cursor));
        let page = result.map_err(host_error)?;
        Ok(Page {
            records: page
                .items
                .into_iter()
                .map(|a| Record::Activity(host_activity(a)))
                .collect(),
            next_cursor: page.next_cursor,
            more: page.more,
        })
    }
}

/// [`NativeGithub`] shared with the blocking threads its pages run on.
#[derive(Clone)]
struct NativeLister(Arc<NativeGithub>);

impl Lister for NativeLister {
    async fn page(
        &self,
        ctx: CallContext,
        kind: Kind,
        cursor: Option<String>,
    ) -> Result<Page, ConnectorError> {
        if kind != Kind::Activities {
            return Err(ConnectorError::Unsupported("bench: activities only".into()));
        }
        let this = self.0.clone();
        tokio::task::spawn_blocking(move || this.page_blocking(&ctx, cursor))
            .await
            .map_err(|e| ConnectorError::Other(e.to_string()))?
    }
}

struct Run {
    records: u64,
    secs: f64,
    bytes: u64,
    /// CPU seconds of this process, less the mock's thread, during the run.
    cpu: f64,
}

impl Run {
    fn per_sec(&self) -> f64 {
        self.records as f64 / self.secs
    }
    fn mb_per_sec(&self) -> f64 {
        self.bytes as f64 / self.secs / 1e6
    }
    fn cpu_us_per_record(&self) -> f64 {
        self.cpu * 1e6 / self.records as f64
    }
}

/// The mock GitHub on a thread of its own with a single-threaded runtime, as a
/// provider on another machine would be, so its CPU time can be told apart.
struct MockThread {
    mock: Option<GithubMock>,
    /// `/proc/self/task/<tid>/stat` of the mock's thread.
    stat: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MockThread {
    async fn start(events: usize) -> anyhow::Result<MockThread> {
        let (ready, started) = tokio::sync::oneshot::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("mock-github".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready.send(Err(anyhow::Error::from(e)));
                        return;
                    }
                };
                runtime.block_on(async move {
                    // "/proc/thread-self" links to "<pid>/task/<tid>".
                    let me = std::fs::read_link("/proc/thread-self")
                        .map(|p| format!("/proc/{}/stat", p.display()));
                    let mock = crate::mock(events).await;
                    let _ = ready.send(me.map_err(Into::into).and_then(|me| Ok((mock?, me))));
                    let _ = stopped.await;
                });
            })?;
        let (mock, stat) = started.await??;
        Ok(MockThread {
            mock: Some(mock),
            stat,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    fn mock(&self) -> &GithubMock {
        self.mock.as_ref().expect("running until dropped")
    }

    fn cpu_secs(&self) -> anyhow::Result<f64> {
        crate::cpu_secs(&self.stat)
    }
}

impl Drop for MockThread {
    fn drop(&mut self) {
        // The server stops when its handle drops; then the thread's runtime ends.
        drop(self.mock.take());
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Scan `events` activities into a fresh store with either the wasm plugin or the
/// native build, through the same `scan_kind`: split over `streams` instances, each
/// with a mock GitHub org of its own, scanned concurrently as the daemon's scheduler
/// runs them. One stream measures how fast one org's audit log comes in; several
/// measure what the daemon sustains.
async fn ingest(
    events: usize,
    streams: usize,
    native: bool,
    record: Option<Recorder>,
) -> anyhow::Result<Run> {
    let mut mocks = Vec::with_capacity(streams);
    for i in 0..streams {
        mocks.push(MockThread::start(events / streams + usize::from(i < events % streams)).await?);
    }
    let (h, first, ctx) = crate::connected(mocks[0].mock(), crate::UNLIMITED).await?;
    let mut instances = vec![(first, ctx)];
    for (i, m) in mocks.iter().enumerate().skip(1) {
        instances.push(crate::connect(&h, m.mock(), &format!("acme-{i}"), crate::UNLIMITED).await?);
    }
    let plugin = h.github();
    let native = native.then(|| {
        NativeLister(Arc::new(NativeGithub {
            transport: Transport::Live {
                http: h.runtime.http().clone(),
                handle: tokio::runtime::Handle::current(),
            },
            record,
        }))
    });
    let mocks_cpu = || -> anyhow::Result<f64> { mocks.iter().map(MockThread::cpu_secs).sum() };
    let bytes_before = h.runtime.http().outbound().metrics.http_bytes_in.get();
    let cpu_before = crate::cpu_secs("/proc/self/stat")? - mocks_cpu()?;
    let start = Instant::now();
    let scans: Vec<_> = instances
        .into_iter()
        .map(|(inst, ctx)| {
            let (store, plugin, native) = (h.store.clone(), plugin.clone(), native.clone());
            tokio::spawn(async move {
                let (opts, stop) = (ScanOptions::default(), StopSignal::new());
                let kind = Kind::Activities;
                match native {
                    Some(n) => scan_kind(&store, &n, &inst, &ctx, kind, &opts, &stop).await,
                    None => scan_kind(&store, &plugin, &inst, &ctx, kind, &opts, &stop).await,
                }
            })
        })
        .collect();
    let mut records = 0;
    for scan in scans {
        let report = scan.await??;
        if let Some(e) = report.error {
            anyhow::bail!("ingest scan failed: {e}");
        }
        records += report.records;
    }
    h.store.flush()?;
    let secs = start.elapsed().as_secs_f64();
    let cpu = crate::cpu_secs("/proc/self/stat")? - mocks_cpu()? - cpu_before;
    anyhow::ensure!(
        records as usize >= events,
        "scanned {records} of {events} events"
    );
    Ok(Run {
        records,
        secs,
        bytes: h.runtime.http().outbound().metrics.http_bytes_in.get() - bytes_before,
        cpu,
    })
}

/// The provider round trip of the first-scan rows (a provider across a network).
const ROUND_TRIP: Duration = Duration::from_millis(20);

/// A first scan of `events` audit events spread over 80 days behind [`ROUND_TRIP`],
/// read as up to `ranges` time ranges side by side (1: one feed, page after page).
async fn first_scan(events: usize, ranges: u32) -> anyhow::Result<Run> {
    let mock = GithubMock::start(GithubMockConfig {
        token: crate::TOKEN.into(),
        audit_events: events,
        audit_spacing_ms: 80 * 86_400_000 / events.max(1) as i64,
        latency: ROUND_TRIP,
        rate_limit_per_hour: u32::MAX,
        ..Default::default()
    })
    .await?;
    let (h, inst, ctx) = crate::connected(&mock, crate::UNLIMITED).await?;
    let opts = ScanOptions {
        activity_partitions: ranges,
        ..Default::default()
    };
    let start = Instant::now();
    let report = scan_kind(
        &h.store,
        &h.github(),
        &inst,
        &ctx,
        Kind::Activities,
        &opts,
        &StopSignal::new(),
    )
    .await?;
    let secs = start.elapsed().as_secs_f64();
    if let Some(e) = report.error {
        anyhow::bail!("first scan failed: {e}");
    }
    anyhow::ensure!(
        report.records as usize == events,
        "scanned {} of {events} events",
        report.records
    );
    Ok(Run {
        records: report.records,
        secs,
        bytes: 0,
        cpu: 0.0,
    })
}

/// The native mapping alone, over recorded responses: no HTTP, no store.
fn parse_only(recorded: Arc<Vec<Resp>>, ctx: &CallContext, rounds: usize) -> anyhow::Result<Run> {
    let next = Arc::new(AtomicUsize::new(0));
    let native = NativeGithub {
        transport: Transport::Replay(recorded.clone(), next.clone()),
        record: None,
    };
    let bytes: u64 = recorded.iter().map(|r| r.body.len() as u64).sum();
    let start = Instant::now();
    let mut records = 0u64;
    for _ in 0..rounds {
        next.store(0, Ordering::Relaxed);
        let mut cursor = None;
        for _ in 0..1_000_000 {
            let page = native
                .page_blocking(ctx, cursor.clone())
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            records += page.records.len() as u64;
            if !page.more
                || page.next_cursor.is_none()
                || next.load(Ordering::Relaxed) >= recorded.len()
            {
                break;
            }
            cursor = page.next_cursor;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    Ok(Run {
        records,
        secs,
        bytes: bytes * rounds as u64,
        // One thread, busy throughout.
        cpu: secs,
    })
}

/// Instances scanned at once in the concurrent row.
const STREAMS: usize = 4;

/// `100k`, `1M`.
fn count(n: usize) -> String {
    if n >= 1_000_000 {
        format!("{}M", n / 1_000_000)
    } else {
        format!("{}k", n / 1000)
    }
}

pub async fn run(quick: bool) -> anyhow::Result<Vec<Row>> {
    let sizes: &[usize] = if quick {
        &[20_000]
    } else {
        &[100_000, 1_000_000]
    };
    let mut rows = Vec::new();
    let mut ceiling_input = None;
    let mut cpu_row = None;
    for &n in sizes {
        let recorder: Recorder = Arc::new(Mutex::new(Vec::new()));
        let native = ingest(
            n,
            1,
            true,
            (ceiling_input.is_none()).then(|| recorder.clone()),
        )
        .await?;
        let wasm = ingest(n, 1, false, None).await?;
        if ceiling_input.is_none() {
            ceiling_input = Some(Arc::new(std::mem::take(&mut *recorder.lock().unwrap())));
        }
        let label = count(n);
        rows.push(
            Row::new("ingest", format!("{label} activities, wasm end to end"), wasm.per_sec(), "records/s")
                .against(native.per_sec())
                .note(format!(
                    "baseline: same connector native, same HTTP + store path; wasm {:.1} MB/s, native {:.1} MB/s",
                    wasm.mb_per_sec(),
                    native.mb_per_sec()
                )),
        );
        // The largest size's, placed after the rate rows.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        cpu_row = Some(
            Row::new(
                "ingest",
                format!("{label} activities, sluice CPU per activity, wasm"),
                wasm.cpu_us_per_record(),
                "µs",
            )
            .against(native.cpu_us_per_record())
            .note(format!(
                "baseline: native; process CPU less the mock's thread (HTTP, connector, store, sled IO); {cores} cores at this rate: {:.0} activities/s",
                cores as f64 * 1e6 / wasm.cpu_us_per_record()
            )),
        );
    }
    rows.extend(cpu_row);
    // What the daemon sustains: one org's audit log is a chain of pages, each waiting
    // for the one before, so its rate is bound by round trips; several orgs at once
    // are bound by CPU.
    let n = *sizes.last().expect("a size");
    let native = ingest(n, STREAMS, true, None).await?;
    let wasm = ingest(n, STREAMS, false, None).await?;
    rows.push(
        Row::new(
            "ingest",
            format!("{} activities over {STREAMS} instances at once, wasm end to end", count(n)),
            wasm.per_sec(),
            "records/s",
        )
        .against(native.per_sec())
        .note(format!(
            "baseline: native; {STREAMS} mock orgs scanned concurrently into one store; wasm {:.1} MB/s",
            wasm.mb_per_sec()
        )),
    );
    // A first scan pays one round trip per page; as time ranges, four at once.
    let events = if quick { 5_000 } else { 20_000 };
    let one_feed = first_scan(events, 1).await?;
    let ranged = first_scan(events, ScanOptions::default().activity_partitions).await?;
    rows.push(
        Row::new(
            "ingest",
            format!(
                "first scan, {} events over 80 days, {} ms round trips: time ranges vs one feed",
                count(events),
                ROUND_TRIP.as_millis()
            ),
            ranged.per_sec(),
            "records/s",
        )
        .against(one_feed.per_sec())
        .note(format!(
            "baseline: the same scan page after page; {:.2} s vs {:.2} s",
            ranged.secs, one_feed.secs
        )),
    );
    // The ceiling: the native mapping replaying the first size's responses.
    if let Some(recorded) = ceiling_input {
        let mock = crate::mock(250).await?;
        let (_h, _inst, mut ctx) = crate::connected(&mock, crate::UNLIMITED).await?;
        ctx.since = Some(0);
        let ceiling = tokio::task::spawn_blocking(move || parse_only(recorded, &ctx, 3)).await??;
        rows.push(
            Row::new(
                "ingest",
                "parse-only ceiling (native, in memory)",
                ceiling.per_sec(),
                "records/s",
            )
            .note(format!(
                "{:.1} MB/s; no HTTP, no store",
                ceiling.mb_per_sec()
            )),
        );
    }
    Ok(rows)
}
