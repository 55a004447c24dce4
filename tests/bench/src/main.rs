//! `just bench`: benchmarks measured side by side in one run, printed as a table and
//! written as JSON. These are measurements, not tests: nothing here asserts a timing.
//!
//! Every row states what it measured and, where the question is "how much does X
//! cost", the same work without X in the same run, as a ratio.

mod calls;
mod ingest;
mod inspect;
mod limits;
mod peers;
mod plugins;
mod scale;
mod storage;

use std::path::PathBuf;

use clap::Parser;
use serde::Serialize;
use sluice::capabilities::http::HttpLimits;
use sluice::ratelimit::Budget;
use sluice::runtime::{CallContext, RuntimeConfig};
use sluice::store::Instance;
use sluice_mocks::{GithubMock, GithubMockConfig};
use sluice_tests::Harness;

/// The allocator the `sluice` binary runs with, so in-process rows measure the same.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The mock GitHub's token in every benchmark.
pub const TOKEN: &str = "ghp_bench";

/// A budget so large the limiter never waits.
pub const UNLIMITED: Budget = Budget {
    requests: u32::MAX,
    per_secs: 1,
    burst: u32::MAX / 2,
    max_concurrency: 0,
};

/// A mock GitHub org with `events` audit events and no provider rate limit.
pub async fn mock(events: usize) -> anyhow::Result<GithubMock> {
    Ok(GithubMock::start(GithubMockConfig {
        token: TOKEN.into(),
        audit_events: events,
        rate_limit_per_hour: u32::MAX,
        ..Default::default()
    })
    .await?)
}

/// User + system CPU seconds from a `/proc/.../stat` file (a process or a thread).
pub fn cpu_secs(stat: &str) -> anyhow::Result<f64> {
    let s = std::fs::read_to_string(stat)?;
    // Fields after the command name (which may contain spaces) start after ") ".
    let rest = s.rsplit_once(") ").map(|(_, r)| r).unwrap_or_default();
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    Ok(ticks / 100.0)
}

/// A fresh harness with one GitHub instance connected to `mock` under `budget` (the
/// connector's 5,000/hour default would make most rows rate-limit benchmarks), and
/// the instance's call context.
pub async fn connected(
    mock: &GithubMock,
    budget: Budget,
) -> anyhow::Result<(Harness, Instance, CallContext)> {
    let h = Harness::with_runtime(
        RuntimeConfig {
            pooling_slots: Some(16),
            ..Default::default()
        },
        HttpLimits::default(),
    )
    .await;
    let (inst, ctx) = connect(&h, mock, "acme", budget).await?;
    Ok((h, inst, ctx))
}

/// One more GitHub instance named `name` on `h`, connected to `mock` under `budget`.
pub async fn connect(
    h: &Harness,
    mock: &GithubMock,
    name: &str,
    budget: Budget,
) -> anyhow::Result<(Instance, CallContext)> {
    let (inst, _) = h
        .connect_github(mock, name, TOKEN)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    h.store.update_instance(&inst.id, |i| {
        i.limits.budgets.insert("*".into(), budget);
    })?;
    let inst = h.store.instance(&inst.id)?;
    let ctx = sluice::session::InstanceSession::open(&h.github(), &h.store, &inst)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .context();
    Ok((inst, ctx))
}

/// Benchmarks of the sluice host, against the loopback mock providers.
#[derive(Debug, Parser)]
struct Args {
    /// Where to write the results as JSON.
    #[arg(long, default_value = "target/bench-results.json")]
    out: PathBuf,
    /// Smaller sizes, for a smoke run.
    #[arg(long)]
    quick: bool,
    /// Only these groups (repeatable): ingest, calls, plugins, storage, limiter, scale,
    /// inspect, peers.
    #[arg(long = "only", value_name = "GROUP")]
    only: Vec<String>,
    /// Sluice against grove, the Singer tap and Airbyte's source (installed from PyPI
    /// into target/peers-venv on first use): the `peers` group, alone unless `--only`
    /// names others too. It is never part of a plain run.
    #[arg(long)]
    peers: bool,
    /// Rounds of the peers group (each tool once per round, medians reported).
    #[arg(long, default_value_t = 1, value_name = "N")]
    peer_rounds: usize,
}

/// One measured quantity.
#[derive(Debug, Serialize)]
pub struct Row {
    pub group: &'static str,
    pub name: String,
    pub value: f64,
    pub unit: &'static str,
    /// The same measurement without the thing under test, when there is one.
    pub baseline: Option<f64>,
    /// value / baseline.
    pub ratio: Option<f64>,
    pub note: String,
}

impl Row {
    pub fn new(
        group: &'static str,
        name: impl Into<String>,
        value: f64,
        unit: &'static str,
    ) -> Row {
        Row {
            group,
            name: name.into(),
            value,
            unit,
            baseline: None,
            ratio: None,
            note: String::new(),
        }
    }

    pub fn against(mut self, baseline: f64) -> Row {
        self.baseline = Some(baseline);
        self.ratio = (baseline != 0.0).then(|| self.value / baseline);
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Row {
        self.note = note.into();
        self
    }
}

fn fmt(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

fn print(rows: &[Row]) {
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.group.to_string(),
                r.name.clone(),
                format!("{} {}", fmt(r.value), r.unit),
                r.baseline
                    .map(|b| format!("{} {}", fmt(b), r.unit))
                    .unwrap_or_default(),
                r.ratio.map(|x| format!("{x:.3}")).unwrap_or_default(),
                r.note.clone(),
            ]
        })
        .collect();
    let header = ["GROUP", "MEASURE", "VALUE", "BASELINE", "RATIO", "NOTE"];
    let mut widths = header.map(str::len);
    for c in &cells {
        for (i, v) in c.iter().enumerate() {
            widths[i] = widths[i].max(v.chars().count());
        }
    }
    let line = |c: &[String]| {
        let mut s = String::new();
        for (i, v) in c.iter().enumerate() {
            s.push_str(&format!("{v:<w$}  ", w = widths[i]));
        }
        println!("{}", s.trim_end());
    };
    line(&header.map(String::from));
    for c in &cells {
        line(c);
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut rows = Vec::new();
    let only = args.only.clone();
    let peers_only = args.peers && only.is_empty();
    let want = |g: &str| {
        if g == "peers" {
            args.peers || only.iter().any(|o| o == g)
        } else {
            !peers_only && (only.is_empty() || only.iter().any(|o| o == g))
        }
    };
    let quick = args.quick;
    rt.block_on(async {
        if want("ingest") {
            rows.extend(ingest::run(quick).await?);
        }
        if want("calls") {
            rows.extend(calls::run(quick).await?);
        }
        if want("plugins") {
            rows.extend(plugins::run(quick).await?);
        }
        if want("storage") {
            rows.extend(tokio::task::spawn_blocking(move || storage::run(quick)).await??);
        }
        if want("limiter") {
            rows.extend(limits::run(quick).await?);
        }
        if want("scale") {
            rows.extend(scale::run(quick).await?);
        }
        if want("inspect") {
            rows.extend(tokio::task::spawn_blocking(move || inspect::run(quick)).await??);
        }
        if want("peers") {
            rows.extend(peers::run(quick, args.peer_rounds).await?);
        }
        anyhow::Ok(())
    })?;
    print(&rows);
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.out, serde_json::to_vec_pretty(&rows)?)?;
    println!("\nresults: {}", args.out.display());
    Ok(())
}
