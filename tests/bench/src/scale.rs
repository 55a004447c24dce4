//! Scale: many instances against mock providers on one daemon (the real `sluice`
//! binary, in its own process so its memory and CPU are its own): scans per minute
//! during the connect flow, RSS at peak and at idle, memory per idle instance, and the
//! scheduler's CPU use at idle.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sluice_mocks::{GithubMock, GithubMockConfig};

use crate::Row;

/// `/proc/PID/status` field in kB.
fn status_kb(pid: u32, field: &str) -> anyhow::Result<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no {field} for pid {pid}"))
}

/// User + system CPU seconds of a process.
fn cpu_secs(pid: u32) -> anyhow::Result<f64> {
    crate::cpu_secs(&format!("/proc/{pid}/stat"))
}

struct Daemon {
    child: Child,
    base: String,
    token: String,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `sluice` binary beside this one, with `cache` as its per-user compile cache
/// (never the user's own `~/.cache/sluice`).
fn sluice(cache: &Path) -> anyhow::Result<Command> {
    let mut cmd = Command::new(sluice_binary()?);
    cmd.env("SLUICE_COMPILE_CACHE", cache);
    Ok(cmd)
}

fn sluice_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let bin = exe.with_file_name("sluice");
    anyhow::ensure!(
        bin.exists(),
        "{} is missing: build it with the bench (`just bench` does)",
        bin.display()
    );
    Ok(bin)
}

async fn start_daemon(dir: &Path) -> anyhow::Result<Daemon> {
    let child = sluice(&dir.join("compile-cache"))?
        .arg("--data-dir")
        .arg(dir)
        .args([
            "daemon",
            "--listen",
            "127.0.0.1:0",
            "--max-concurrent-scans",
            "8",
        ])
        .env("SLUICE_PLUGINS_DIR", dir.join("plugins"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let info = loop {
        if let Ok(b) = std::fs::read(dir.join("daemon.json")) {
            break serde_json::from_slice::<Value>(&b)?;
        }
        anyhow::ensure!(Instant::now() < deadline, "the daemon did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let token = std::fs::read_to_string(dir.join("api.token"))?
        .trim()
        .to_string();
    Ok(Daemon {
        child,
        base: format!("http://{}", info["listen"].as_str().unwrap_or_default()),
        token,
    })
}

/// Median milliseconds of `runs` whole `sluice instances` processes on data dir `dir`,
/// after one untimed run (a fresh data dir compiles the built-in connectors once).
fn cli_millis(dir: &Path, runs: usize) -> anyhow::Result<f64> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..=runs {
        let start = Instant::now();
        let out = sluice(&dir.join("compile-cache"))?
            .arg("--data-dir")
            .arg(dir)
            .arg("instances")
            .env("SLUICE_PLUGINS_DIR", dir.join("plugins"))
            .output()?;
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(
            out.status.success(),
            "sluice instances: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    times.remove(0);
    Ok(median(times))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// A new user's first `sluice connect` on a fresh data dir, whole process (connect
/// runs `check` against a small GitHub mock and saves the instance): with a compile
/// cache `sluice precompile` filled, against an empty one (GitHub's connector is
/// compiled on the way).
async fn first_connect(quick: bool) -> anyhow::Result<Row> {
    const TOKEN: &str = "ghp_first_connect";
    let mock = GithubMock::start(GithubMockConfig {
        token: TOKEN.into(),
        admins: 1,
        members: 4,
        ..Default::default()
    })
    .await?;
    let precompiled = tempfile::tempdir()?;
    let out = sluice(precompiled.path())?.arg("precompile").output()?;
    anyhow::ensure!(
        out.status.success(),
        "sluice precompile: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let base_url = format!("base_url={}", mock.base_url());
    let connect = |cache: &Path| -> anyhow::Result<f64> {
        let data = tempfile::tempdir()?;
        let start = Instant::now();
        let out = sluice(cache)?
            .arg("--data-dir")
            .arg(data.path())
            .args([
                "connect", "github", "--name", "acme", "--config", "org=acme",
            ])
            .args(["--config", &base_url, "--secret", &format!("token={TOKEN}")])
            .args(["--allow-private-network", "--grant", "all"])
            .env("SLUICE_PLUGINS_DIR", data.path().join("plugins"))
            .output()?;
        let ms = start.elapsed().as_secs_f64() * 1000.0;
        anyhow::ensure!(
            out.status.success(),
            "sluice connect: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(ms)
    };
    let runs = if quick { 3 } else { 7 };
    let (mut warm, mut cold) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let empty = tempfile::tempdir()?;
        cold.push(connect(empty.path())?);
        warm.push(connect(precompiled.path())?);
    }
    Ok(Row::new(
        "scale",
        "first `sluice connect` on a fresh data dir, after `sluice precompile`",
        median(warm),
        "ms",
    )
    .against(median(cold))
    .note(format!(
        "median of {runs} whole processes; baseline: an empty compile cache (compiles GitHub's connector); goal ≤ 150 ms"
    )))
}

pub async fn run(quick: bool) -> anyhow::Result<Vec<Row>> {
    let first_connect = first_connect(quick).await?;
    let n: usize = if quick { 100 } else { 1000 };
    let dir = tempfile::tempdir()?;
    let d = start_daemon(dir.path()).await?;
    let pid = d.child.id();
    let http = reqwest::Client::builder().no_proxy().build()?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_empty = status_kb(pid, "VmRSS:")?;

    let mut mocks = Vec::with_capacity(n);
    for i in 0..n {
        mocks.push(
            GithubMock::start(GithubMockConfig {
                org: format!("org{i}"),
                token: format!("ghp_scale_{i}"),
                admins: 1,
                members: 4,
                outside_collaborators: 1,
                teams: 2,
                members_per_team: 2,
                audit_events: 30,
                rate_limit_per_hour: u32::MAX,
                ..Default::default()
            })
            .await?,
        );
    }
    let start = Instant::now();
    for (i, m) in mocks.iter().enumerate() {
        let body = json!({
            "connector": "github",
            "name": format!("org{i}"),
            "config": {"org": format!("org{i}"), "base_url": m.base_url()},
            "secrets": {"token": format!("ghp_scale_{i}")},
            "allow_private_network": true,
            "grants": {"egress": "all", "actions": "all"},
        });
        let r = http
            .post(format!("{}/v1/instances", d.base))
            .bearer_auth(&d.token)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&body)?)
            .send()
            .await?;
        anyhow::ensure!(r.status().as_u16() == 201, "connect org{i}: {}", r.status());
    }
    // Wait for every instance's first full scan (the connect flow), bounded.
    let deadline = Instant::now() + Duration::from_secs(if quick { 120 } else { 480 });
    let mut peak_rss = 0f64;
    loop {
        peak_rss = peak_rss.max(status_kb(pid, "VmRSS:")?);
        let r = http
            .get(format!("{}/v1/instances", d.base))
            .bearer_auth(&d.token)
            .send()
            .await?;
        let list: Value = serde_json::from_slice(&r.bytes().await?)?;
        let done = list
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|i| i["instance"]["status"]["state"] == "connected")
                    .count()
            })
            .unwrap_or(0);
        if done == n {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {done} of {n} instances finished their first scan"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let took = start.elapsed().as_secs_f64();
    peak_rss = peak_rss.max(status_kb(pid, "VmHWM:")?);
    // Five kinds per GitHub instance in the connect flow (users, groups, activities,
    // app permissions, posture).
    let scans = (n * 5) as f64;

    // Idle: nothing is due for minutes with the default intervals.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let cpu0 = cpu_secs(pid)?;
    let idle_window = if quick { 5.0 } else { 15.0 };
    tokio::time::sleep(Duration::from_secs_f64(idle_window)).await;
    let idle_cpu = (cpu_secs(pid)? - cpu0) / idle_window * 100.0;
    let rss_idle = status_kb(pid, "VmRSS:")?;

    // The CLI while this daemon runs (it goes to the daemon's API), against the same
    // command on a data dir no daemon holds (it opens the store itself).
    let cli_daemon = cli_millis(dir.path(), 10)?;
    let idle_dir = tempfile::tempdir()?;
    let cli_local = cli_millis(idle_dir.path(), 10)?;

    Ok(vec![
        first_connect,
        Row::new(
            "scale",
            format!("CLI `sluice instances` through the running daemon ({n} instances)"),
            cli_daemon,
            "ms",
        )
        .against(cli_local)
        .note("median of 10 whole processes; baseline: the same on a data dir no daemon holds"),
        Row::new(
            "scale",
            format!("{n} instances: connect-flow scans per minute"),
            scans / took * 60.0,
            "scans/min",
        )
        .note(format!(
            "{n} instances × 5 kinds in {took:.1}s, 8 concurrent scans, mocks in another process"
        )),
        Row::new("scale", "scheduler CPU at idle", idle_cpu, "% of a core")
            .note(format!("{n} instances, over {idle_window:.0}s")),
        Row::new(
            "scale",
            format!("RSS at idle, {n} instances"),
            rss_idle / 1024.0,
            "MB",
        )
        .against(200.0)
        .note("baseline: the 200 MB goal for 1,000 instances"),
        Row::new(
            "scale",
            "RSS at peak (connect flow)",
            peak_rss / 1024.0,
            "MB",
        ),
        Row::new(
            "scale",
            "memory per idle instance",
            (rss_idle - rss_empty) * 1024.0 / n as f64 / 1024.0,
            "KB",
        )
        .note(format!(
            "(idle RSS − {:.0} MB with no instances) / {n}",
            rss_empty / 1024.0
        )),
    ])
}
