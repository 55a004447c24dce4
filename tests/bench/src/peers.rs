//! `--peers`: Sluice end to end against the Python collectors people run today, on
//! the same loopback GitHub: grove (audit log), MeltanoLabs' Singer tap-github and
//! Airbyte's source-github (organisation members).
//!
//! Each tool runs as whole child processes, start-up included, on a fresh directory
//! of config, state and data, back to back with the others; what a run costs is what
//! the kernel accounts to the process tree (see [`child`]). A run whose records are
//! not exactly the mock's (counted after the run, duplicates caught) is an error, not
//! a row. Each tool runs once, checked but not measured, before its first measured
//! run (the page cache then holds its files, as on any machine that runs it
//! daily). Before the runs the mock's own ceiling is measured with a tight concurrent
//! client, so the table shows how far the fastest tool is from it.
//!
//! The peers are installed at pinned versions into `target/peers-venv` by
//! `tests/bench/peers/setup.sh` (skipped when already there). Run directories live in
//! a temporary directory that is removed afterwards, unless the group fails or
//! `SLUICE_BENCH_KEEP` is set.

mod child;
mod tools;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::de::IgnoredAny;
use serde_json::Value;
use sluice_mocks::pki::TestCa;
use sluice_mocks::{ForwardProxy, ForwardProxyConfig, GithubMock, GithubMockConfig};

use crate::{Row, TOKEN};
use child::Usage;
use tools::{Feed, Setup, Tool};

const GROUP: &str = "peers";
/// The mock organisation.
const ORG: &str = "acme";
/// Owners among the members in the members scenario (the rest are plain members).
const ADMINS: usize = 25;
/// Longest any one process may run before it is killed and the group fails.
const RUN_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// How long the ceiling client pulls pages.
const CEILING_TIME: Duration = Duration::from_secs(3);
/// Concurrent keep-alive connections of the ceiling client.
const CEILING_CLIENTS: usize = 4;
/// Set (to anything) to keep every run's directory: configs, stdout, stderr, data.
const KEEP_ENV: &str = "SLUICE_BENCH_KEEP";

/// One comparison: a feed of a given size.
#[derive(Debug, Clone, Copy)]
struct Scenario {
    feed: Feed,
    records: usize,
}

impl Scenario {
    fn title(&self) -> String {
        match self.feed {
            Feed::AuditLog => format!("audit log, {} events", thousands(self.records)),
            Feed::Members => format!("org members, {}", thousands(self.records)),
        }
    }

    /// Whether the tools reach the mock over HTTPS. The audit log is served over
    /// HTTPS, as grove only speaks HTTPS; the members over plain HTTP, as the Singer
    /// SDK sends its requests with `requests`' bundled CA list and no way to add one
    /// (`REQUESTS_CA_BUNDLE` is read only by `requests.get`-style calls). Every tool
    /// of a scenario sees the same server.
    fn https(&self) -> bool {
        self.feed == Feed::AuditLog
    }

    /// The mock for this scenario: the log or the roster at the right size, no
    /// provider rate limit (the tools are measured, not GitHub's budget), and with
    /// `tls` a certificate for the loopback address and for api.github.com.
    async fn mock(&self, ca: &TestCa, tls: bool) -> anyhow::Result<GithubMock> {
        let mut config = GithubMockConfig {
            org: ORG.into(),
            token: TOKEN.into(),
            rate_limit_per_hour: u32::MAX,
            tls: tls.then(|| ca.issue(&["127.0.0.1", "api.github.com"])),
            outside_collaborators: 0,
            ..Default::default()
        };
        match self.feed {
            Feed::AuditLog => config.audit_events = self.records,
            Feed::Members => {
                config.admins = ADMINS.min(self.records);
                config.members = self.records - config.admins;
                config.audit_events = 0;
            }
        }
        Ok(GithubMock::start(config).await?)
    }

    /// What a complete read must deliver.
    fn expected(&self, mock: &GithubMock) -> usize {
        let expected = mock.expected();
        match self.feed {
            Feed::AuditLog => expected.audit_events,
            Feed::Members => expected.users,
        }
    }
}

/// One measured run of one tool.
#[derive(Debug, Clone, Copy)]
struct Measured {
    usage: Usage,
    /// For Sluice: the `scan` process alone (`usage` includes `connect`).
    scan_only: Option<Usage>,
    /// CPU seconds the bench process (the mock, mostly) spent during the run.
    mock_cpu_secs: f64,
}

pub async fn run(quick: bool, rounds: usize) -> anyhow::Result<Vec<Row>> {
    let rounds = rounds.max(1);
    let exe_dir = std::env::current_exe()?
        .parent()
        .context("bench binary has no directory")?
        .to_path_buf();
    let sluice = exe_dir.join("sluice");
    anyhow::ensure!(
        sluice.exists(),
        "{} is missing: build it with the bench (`just bench` does)",
        sluice.display()
    );
    let venvs = exe_dir
        .parent()
        .context("bench binary is not in target/<profile>")?
        .join("peers-venv");
    install_peers(&venvs).await?;

    let work = tempfile::Builder::new().prefix("sluice-peers-").tempdir()?;
    let keep = std::env::var_os(KEEP_ENV).is_some();
    match compare(quick, rounds, work.path(), &venvs, &sluice, keep).await {
        Ok(rows) if !keep => Ok(rows),
        outcome => {
            // Errors name files in here (a tool's stderr, its output).
            let kept = work.keep();
            eprintln!("peers: run directories kept in {}", kept.display());
            outcome
        }
    }
}

/// Runs every scenario in `work`; with `keep`, each run's directory stays.
async fn compare(
    quick: bool,
    rounds: usize,
    work: &Path,
    venvs: &Path,
    sluice: &Path,
    keep: bool,
) -> anyhow::Result<Vec<Row>> {
    let ca = TestCa::new("Sluice bench CA");
    let ca_file = ca.write(work);

    let scenarios: Vec<Scenario> = if quick {
        vec![
            Scenario {
                feed: Feed::AuditLog,
                records: 2_000,
            },
            Scenario {
                feed: Feed::Members,
                records: 500,
            },
        ]
    } else {
        vec![
            Scenario {
                feed: Feed::AuditLog,
                records: 20_000,
            },
            Scenario {
                feed: Feed::AuditLog,
                records: 200_000,
            },
            Scenario {
                feed: Feed::Members,
                records: 5_000,
            },
        ]
    };

    let mut rows = Vec::new();
    let mut warmed: Vec<Tool> = Vec::new();
    for (n, scenario) in scenarios.iter().enumerate() {
        let mock = scenario.mock(&ca, scenario.https()).await?;
        let expected = scenario.expected(&mock);
        anyhow::ensure!(
            expected == scenario.records,
            "the mock serves {expected} records, not {}",
            scenario.records
        );
        let tools: Vec<Tool> = Tool::PEERS
            .into_iter()
            .chain([Tool::Sluice])
            .filter(|t| t.reads(scenario.feed))
            .collect();
        // tap-github checks its token at https://api.github.com/rate_limit whatever its
        // API URL: a twin of the mock over HTTPS answers that, through a proxy.
        let twin = if tools.contains(&Tool::SingerTap) {
            Some(scenario.mock(&ca, true).await?)
        } else {
            None
        };
        let proxy = ForwardProxy::start(ForwardProxyConfig {
            routes: BTreeMap::from([(
                "api.github.com:443".to_owned(),
                twin.as_ref().unwrap_or(&mock).addr(),
            )]),
            ..Default::default()
        })
        .await?;
        let mut setup = Setup {
            base_url: mock.base_url(),
            org: ORG.into(),
            token: TOKEN.into(),
            ca_file: ca_file.clone(),
            proxy_url: proxy.url(),
            venvs: venvs.to_path_buf(),
            sluice: sluice.to_path_buf(),
            singer_catalog: Value::Null,
            airbyte_catalog: Value::Null,
        };
        discover(&mut setup, &tools, &work.join(format!("discover-{n}"))).await?;

        let ceiling = ceiling(&mock, scenario.feed, &ca).await?;
        eprintln!(
            "peers: {}: mock ceiling {:.0} records/s ({CEILING_CLIENTS} keep-alive {} clients)",
            scenario.title(),
            ceiling,
            if scenario.https() { "HTTPS" } else { "HTTP" }
        );

        let mut results: BTreeMap<&'static str, Vec<Measured>> = BTreeMap::new();
        for tool in &tools {
            if !warmed.contains(tool) {
                let dir = work.join(format!("{n}-warmup-{}", slug(*tool)));
                run_tool(&setup, *tool, *scenario, expected, &dir).await?;
                warmed.push(*tool);
                if !keep {
                    let _ = std::fs::remove_dir_all(&dir);
                }
            }
        }
        for round in 0..rounds {
            // Alternate the order so no tool always runs right after the same one.
            let mut order = tools.clone();
            if round % 2 == 1 {
                order.reverse();
            }
            for tool in order {
                let dir = work.join(format!("{n}-{round}-{}", slug(tool)));
                let m = run_tool(&setup, tool, *scenario, expected, &dir).await?;
                eprintln!(
                    "peers: {}: {} {:.2} s wall, {:.2} CPU-s, {:.0} MB peak RSS (mock {:.2} CPU-s)",
                    scenario.title(),
                    tool.name(),
                    m.usage.wall.as_secs_f64(),
                    m.usage.cpu_secs,
                    mb(m.usage.peak_rss),
                    m.mock_cpu_secs
                );
                results.entry(tool.name()).or_default().push(m);
                // Each run's directory goes once it is counted; the 200k runs leave
                // hundreds of megabytes.
                if !keep {
                    let _ = std::fs::remove_dir_all(&dir);
                }
            }
        }
        rows.extend(scenario_rows(scenario, &tools, &results, ceiling, rounds));
        drop(proxy);
        drop(twin);
        drop(mock);
    }
    Ok(rows)
}

/// Runs `setup.sh`, which creates or keeps the venvs.
async fn install_peers(venvs: &Path) -> anyhow::Result<()> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("peers/setup.sh");
    let venvs = venvs.to_path_buf();
    let status =
        tokio::task::spawn_blocking(move || Command::new("bash").arg(&script).arg(&venvs).status())
            .await??;
    anyhow::ensure!(status.success(), "peers/setup.sh failed ({status})");
    Ok(())
}

/// The catalogs the Singer tap and the Airbyte source are run with, from their own
/// `--discover` / `discover` (source-github asks the API's `/rate_limit` while
/// discovering, so this needs the scenario's mock).
async fn discover(setup: &mut Setup, tools: &[Tool], dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    if tools.contains(&Tool::SingerTap) && setup.singer_catalog.is_null() {
        std::fs::write(
            dir.join("config.json"),
            serde_json::to_vec(&setup.singer_config())?,
        )?;
        let mut command = Command::new(setup.program("singer", "tap-github"));
        command
            .current_dir(dir)
            .args(["--config", "config.json", "--discover"]);
        let out = output(command).await?;
        setup.singer_catalog =
            serde_json::from_slice(&out).context("tap-github --discover output")?;
    }
    if tools.contains(&Tool::AirbyteSource) && setup.airbyte_catalog.is_null() {
        std::fs::write(
            dir.join("config.json"),
            serde_json::to_vec(&setup.airbyte_config())?,
        )?;
        let mut command = Command::new(setup.program("airbyte", "source-github"));
        command
            .current_dir(dir)
            .args(["discover", "--config", "config.json"])
            .env("REQUESTS_CA_BUNDLE", &setup.ca_file);
        let out = output(command).await?;
        setup.airbyte_catalog = String::from_utf8_lossy(&out)
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find(|m| m["type"] == "CATALOG")
            .map(|m| m["catalog"].clone())
            .context("source-github discover printed no CATALOG message")?;
    }
    Ok(())
}

/// A command's stdout, failing with its stderr.
async fn output(mut command: Command) -> anyhow::Result<Vec<u8>> {
    let program = format!("{:?}", command.get_program());
    let out = tokio::task::spawn_blocking(move || command.output()).await??;
    anyhow::ensure!(
        out.status.success(),
        "{program} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(out.stdout)
}

/// One run of `tool` in the fresh directory `dir`: its processes one after the
/// other, then the count check.
async fn run_tool(
    setup: &Setup,
    tool: Tool,
    scenario: Scenario,
    expected: usize,
    dir: &Path,
) -> anyhow::Result<Measured> {
    std::fs::create_dir_all(dir)?;
    let steps = setup.steps(tool, scenario.feed, dir)?;
    let dir_owned = dir.to_path_buf();
    let (usage, scan_only, mock_cpu_secs) = tokio::task::spawn_blocking(move || {
        let mut total: Option<Usage> = None;
        let mut last = None;
        let before = crate::cpu_secs("/proc/self/stat")?;
        for mut step in steps {
            let out = dir_owned.join(format!("{}.out", step.label));
            let err = dir_owned.join(format!("{}.err", step.label));
            let usage = child::run(&mut step.command, &out, &err, RUN_TIMEOUT)?;
            total = Some(total.map_or(usage, |t| t.then(usage)));
            last = Some(usage);
        }
        let mock_cpu = crate::cpu_secs("/proc/self/stat")? - before;
        let total = total.context("a run without processes")?;
        anyhow::Ok((
            total,
            (tool == Tool::Sluice).then_some(last).flatten(),
            mock_cpu,
        ))
    })
    .await??;
    setup.count(tool, scenario.feed, dir, expected)?;
    Ok(Measured {
        usage,
        scan_only,
        mock_cpu_secs,
    })
}

/// Records per second a tight client pulls from the mock: [`CEILING_CLIENTS`] tasks
/// on keep-alive HTTPS connections, each following `Link: rel="next"` from the
/// first page (and starting over at the end) for [`CEILING_TIME`]. The client runs in
/// this process and shares the two cores, so this is a lower bound of the mock's own.
async fn ceiling(mock: &GithubMock, feed: Feed, ca: &TestCa) -> anyhow::Result<f64> {
    // Over the same scheme as the tools (the CA is trusted either way).
    let client = reqwest::Client::builder()
        .no_proxy()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem().as_bytes())?)
        .build()?;
    let first = match feed {
        Feed::AuditLog => format!(
            "{}/orgs/{ORG}/audit-log?include=all&order=asc&per_page=100",
            mock.base_url()
        ),
        Feed::Members => format!("{}/orgs/{ORG}/members?per_page=100", mock.base_url()),
    };
    let records = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + CEILING_TIME;
    let mut tasks = Vec::new();
    for _ in 0..CEILING_CLIENTS {
        let (client, first, records) = (client.clone(), first.clone(), records.clone());
        tasks.push(tokio::spawn(async move {
            let mut url = first.clone();
            while Instant::now() < deadline {
                let response = client
                    .get(&url)
                    .bearer_auth(TOKEN)
                    .send()
                    .await?
                    .error_for_status()?;
                let next = next_link(response.headers());
                let page: Vec<IgnoredAny> = serde_json::from_slice(&response.bytes().await?)?;
                records.fetch_add(page.len(), Ordering::Relaxed);
                url = next.unwrap_or_else(|| first.clone());
            }
            anyhow::Ok(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(records.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

/// The `rel="next"` URL of a `Link` header.
fn next_link(headers: &reqwest::header::HeaderMap) -> Option<String> {
    let link = headers.get(reqwest::header::LINK)?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (url, rel) = part.split_once(';')?;
        rel.contains("rel=\"next\"").then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
    })
}

/// The median of each measure over the rounds (each measure on its own).
fn median(runs: &[Measured], measure: impl Fn(&Measured) -> f64) -> f64 {
    let mut values: Vec<f64> = runs.iter().map(measure).collect();
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// The table rows of one scenario: Sluice against the best peer and against each
/// peer, on records/s, CPU per 1,000 records and peak RSS; and the mock's ceiling.
fn scenario_rows(
    scenario: &Scenario,
    tools: &[Tool],
    results: &BTreeMap<&'static str, Vec<Measured>>,
    ceiling: f64,
    rounds: usize,
) -> Vec<Row> {
    let records = scenario.records as f64;
    let title = scenario.title();
    let rate = |t: Tool| median(&results[t.name()], |m| records / m.usage.wall.as_secs_f64());
    let cpu = |t: Tool| median(&results[t.name()], |m| m.usage.cpu_secs / records * 1000.0);
    let rss = |t: Tool| median(&results[t.name()], |m| mb(m.usage.peak_rss));
    let wall = |t: Tool| median(&results[t.name()], |m| m.usage.wall.as_secs_f64());
    let mock_cpu = |t: Tool| median(&results[t.name()], |m| m.mock_cpu_secs);
    let peers: Vec<Tool> = tools
        .iter()
        .copied()
        .filter(|t| *t != Tool::Sluice)
        .collect();
    let sluice_runs = &results[Tool::Sluice.name()];
    let scan_wall = median(sluice_runs, |m| {
        m.scan_only.map_or(f64::NAN, |u| u.wall.as_secs_f64())
    });
    let scan_cpu = median(sluice_runs, |m| {
        m.scan_only.map_or(f64::NAN, |u| u.cpu_secs)
    });
    let of_rounds = if rounds > 1 {
        format!(", median of {rounds}")
    } else {
        String::new()
    };

    let mut rows = Vec::new();
    let fastest = tools
        .iter()
        .copied()
        .max_by(|a, b| rate(*a).total_cmp(&rate(*b)))
        .unwrap_or(Tool::Sluice);
    rows.push(
        Row::new(
            GROUP,
            format!("{title}: mock ceiling"),
            ceiling,
            "records/s",
        )
        .note(format!(
            "{CEILING_CLIENTS} keep-alive {} clients in the bench process; fastest tool \
             ({}) reached {:.0}% of it",
            if scenario.https() { "HTTPS" } else { "HTTP" },
            fastest.name(),
            rate(fastest) / ceiling * 100.0
        )),
    );
    let Some(best) = peers
        .iter()
        .copied()
        .max_by(|a, b| rate(*a).total_cmp(&rate(*b)))
    else {
        return rows;
    };
    let leanest = peers
        .iter()
        .copied()
        .min_by(|a, b| cpu(*a).total_cmp(&cpu(*b)))
        .unwrap_or(best);
    let sluice_note = format!(
        "Sluice connect + scan {:.2} s, {:.2} CPU-s (scan alone {:.2} s, {:.2} CPU-s); mock \
         {:.2} CPU-s{of_rounds}",
        wall(Tool::Sluice),
        median(sluice_runs, |m| m.usage.cpu_secs),
        scan_wall,
        scan_cpu,
        mock_cpu(Tool::Sluice),
    );
    let peer_note = |t: Tool| {
        format!(
            "{} {:.2} s, {:.2} CPU-s; mock {:.2} CPU-s{of_rounds}",
            t.name(),
            wall(t),
            median(&results[t.name()], |m| m.usage.cpu_secs),
            mock_cpu(t)
        )
    };
    // The best peer first, marked, when there is more than one.
    let ranked = |best: Tool, what: &str| -> Vec<(Tool, String)> {
        std::iter::once(best)
            .chain(peers.iter().copied().filter(|p| *p != best))
            .map(|p| {
                let mark = if peers.len() > 1 && p == best {
                    format!(" ({what} peer)")
                } else {
                    String::new()
                };
                (p, format!("{}{mark}", p.name()))
            })
            .collect()
    };
    for (peer, label) in ranked(best, "fastest") {
        rows.push(
            Row::new(
                GROUP,
                format!("{title}: records/s, Sluice vs {label}"),
                rate(Tool::Sluice),
                "records/s",
            )
            .against(rate(peer))
            .note(format!("{sluice_note}; {}", peer_note(peer))),
        );
    }
    for (peer, label) in ranked(leanest, "leanest") {
        rows.push(
            Row::new(
                GROUP,
                format!("{title}: CPU per 1,000 records, Sluice vs {label}"),
                cpu(Tool::Sluice),
                "CPU-s",
            )
            .against(cpu(peer)),
        );
    }
    for peer in &peers {
        rows.push(
            Row::new(
                GROUP,
                format!("{title}: peak RSS, Sluice vs {}", peer.name()),
                rss(Tool::Sluice),
                "MB",
            )
            .against(rss(*peer))
            .note("largest process of the run (Sluice: connect or scan)"),
        );
    }
    rows
}

fn slug(tool: Tool) -> &'static str {
    match tool {
        Tool::Grove => "grove",
        Tool::SingerTap => "singer",
        Tool::AirbyteSource => "airbyte",
        Tool::Sluice => "sluice",
    }
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// 200000 → "200,000".
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
