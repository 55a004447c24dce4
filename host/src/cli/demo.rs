//! `sluice demo`: the daemon's main job end to end, against the built-in mock providers.
//!
//! Starts two mock GitHub organisations on loopback and a daemon (in this process, with
//! sled in a fresh data dir), connects one instance per org through the same operation
//! the API uses, waits for the scheduler's first full scan of both, prints what was
//! found and the status table, and keeps the daemon's API up until Ctrl-C (`--once`
//! exits after the first scan).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use sluice_mocks::{GithubMock, GithubMockConfig};

use super::output;
use super::{Env, GlobalArgs};
use crate::control::ConnectInput;
use crate::daemon::{Daemon, shutdown_signal};
use crate::model::Kind;
use crate::store::{RecordQuery, Secret};

/// The kinds the demo summarises, in connect order.
const SHOWN: [Kind; 5] = [
    Kind::Users,
    Kind::Groups,
    Kind::Activities,
    Kind::AppPermissions,
    Kind::Findings,
];

/// How long the first full scan may take before the demo gives up.
const FIRST_SCAN_LIMIT: Duration = Duration::from_secs(300);

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the demo's database here (default: a new temporary dir, kept afterwards so
    /// you can explore it with `sluice --data-dir DIR users github-acme`).
    #[arg(long = "demo-dir", value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Rows shown per kind.
    #[arg(long, default_value_t = 5)]
    pub rows: usize,
    /// Exit after the first full scan instead of serving the API until Ctrl-C.
    #[arg(long)]
    pub once: bool,
    /// Address of the demo daemon's API (default: a free loopback port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
}

pub async fn run(global: &GlobalArgs, args: DemoArgs) -> anyhow::Result<()> {
    let dir = match args.dir.or(global.data_dir.clone()) {
        Some(d) => d,
        None => tempfile::Builder::new()
            .prefix("sluice-demo-")
            .tempdir()
            .context("creating a temp dir")?
            .keep(),
    };
    let env = Env::new(&GlobalArgs {
        data_dir: Some(dir.clone()),
        ..global.clone()
    })?;

    let orgs = [
        GithubMockConfig {
            org: "acme".into(),
            token: "ghp_demo_acme".into(),
            ..Default::default()
        },
        GithubMockConfig {
            org: "globex".into(),
            token: "ghp_demo_globex".into(),
            admins: 2,
            members: 30,
            outside_collaborators: 4,
            teams: 6,
            audit_events: 420,
            two_factor_required: true,
            ..Default::default()
        },
    ];
    println!("sluice demo — data dir {}\n", dir.display());
    let daemon = Daemon::start(env.daemon_config(args.listen)).await?;
    let control = daemon.control.clone();
    let mut mocks = Vec::new();
    for cfg in orgs {
        let (org, token) = (cfg.org.clone(), cfg.token.clone());
        let mock = GithubMock::start(cfg)
            .await
            .context("starting the mock GitHub")?;
        println!("mock GitHub for org `{org}` on {}", mock.base_url());
        let name = format!("github-{org}");
        if control.store.instance(&name).is_ok() {
            // A rerun with --demo-dir: the old mock's port is gone, so reconnect.
            control.remove(&name).await?;
        }
        let connected = control
            .connect(ConnectInput {
                connector: "github".into(),
                name: name.clone(),
                config: [
                    ("org".to_string(), org.clone()),
                    ("base_url".to_string(), mock.base_url()),
                ]
                .into(),
                secrets: [("token".to_string(), Secret::new(token))].into(),
                allow_private_network: true,
                schedule: Default::default(),
                limits: Default::default(),
            })
            .await?;
        println!(
            "connected `{name}` as {} (scopes: {})",
            connected.permissions.principal.as_deref().unwrap_or("?"),
            connected.permissions.granted.join(", ")
        );
        mocks.push((mock, connected.instance));
    }

    println!("\nthe daemon's scheduler runs the connect flow: check, users, then the rest…");
    let ids: HashSet<String> = mocks.iter().map(|(_, i)| i.id.clone()).collect();
    let failures = wait_for_first_scan(&daemon, &ids).await?;

    let store = &control.store;
    for (mock, instance) in &mocks {
        let expected = mock.expected();
        let counts: Vec<u64> = [
            Kind::Users,
            Kind::Groups,
            Kind::Activities,
            Kind::AppPermissions,
        ]
        .iter()
        .map(|k| store.count(&instance.id, *k).map(|c| c.0))
        .collect::<Result<_, _>>()?;
        println!(
            "`{}`: {} users, {} groups, {} audit events, {} app permissions (mock has {}, {}, {}, {})",
            instance.name,
            counts[0],
            counts[1],
            counts[2],
            counts[3],
            expected.users,
            expected.groups,
            expected.audit_events,
            expected.app_permissions
        );
    }
    let (_, first) = &mocks[0];
    for kind in SHOWN {
        let rows = store.records(
            &first.id,
            kind,
            &RecordQuery {
                limit: Some(args.rows),
                include_deleted: false,
            },
        )?;
        let (total, _) = store.count(&first.id, kind)?;
        println!(
            "\n{} {kind} in `{}` (first {}):",
            total,
            first.name,
            rows.len()
        );
        output::records(kind, &rows, false)?;
    }
    println!();
    output::instances_table(&control.instances()?).print();
    for f in &failures {
        println!("failed: {f}");
    }

    if args.once {
        daemon.shutdown().await?;
        if !failures.is_empty() {
            anyhow::bail!("the demo's first scan had {} failure(s)", failures.len());
        }
        println!(
            "\nexplore: sluice --data-dir {} instances | users github-acme | activities github-acme --limit 20",
            dir.display()
        );
        return Ok(());
    }
    println!(
        "\nadmin API on http://{addr} — try:\n  curl -H \"Authorization: Bearer $(sluice --data-dir {d} token)\" http://{addr}/v1/instances\n  sluice --data-dir {d} instances show github-acme\nthe scheduler keeps rescanning (activities every 5 minutes); Ctrl-C to stop.",
        addr = daemon.addr,
        d = dir.display()
    );
    shutdown_signal().await;
    println!("stopping…");
    daemon.shutdown().await
}

/// Wait until every kind of every given instance has finished its first scan (success
/// or failure). Returns the failures.
async fn wait_for_first_scan(
    daemon: &Daemon,
    ids: &HashSet<String>,
) -> anyhow::Result<Vec<String>> {
    let scheduler = daemon.scheduler();
    let deadline = tokio::time::Instant::now() + FIRST_SCAN_LIMIT;
    loop {
        let snapshot = scheduler.snapshot().await;
        let mut pending = 0;
        let mut failures = Vec::new();
        for id in ids {
            let kinds = snapshot.get(id).map(Vec::as_slice).unwrap_or_default();
            if kinds.is_empty() {
                pending += 1;
            }
            for k in kinds {
                if k.attempts > 0 {
                    let why = k
                        .last_error
                        .as_ref()
                        .map(|e| e.to_string())
                        .unwrap_or_default();
                    failures.push(format!("{id} {}: {why}", k.kind));
                } else if k.last_success.is_none() || k.running {
                    pending += 1;
                }
            }
        }
        if pending == 0 {
            return Ok(failures);
        }
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!("the first scan did not finish within {FIRST_SCAN_LIMIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
