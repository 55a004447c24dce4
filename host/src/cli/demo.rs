//! `sluice demo`: the daemon's main job end to end, against the built-in mock providers.
//!
//! Starts mock GitHub organisations on loopback, connects an instance to each (with
//! private networks allowed, since the mocks are on 127.0.0.1), runs a full scan through
//! the wasm connector into sled, and prints what was found.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use sluice_mocks::{GithubMock, GithubMockConfig};

use super::output::{self, Table};
use super::{Env, GlobalArgs};
use crate::connect::{ConnectRequest, connect};
use crate::model::Kind;
use crate::scan::{ScanOptions, scan_instance};
use crate::store::{RecordQuery, Secret};

/// The kinds the demo summarises, in connect order.
const SHOWN: [Kind; 5] = [
    Kind::Users,
    Kind::Groups,
    Kind::Activities,
    Kind::AppPermissions,
    Kind::Findings,
];

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the demo's database here (default: a new temporary dir, kept afterwards so
    /// you can explore it with `sluice --data-dir DIR users acme`).
    #[arg(long = "demo-dir", value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Rows shown per kind.
    #[arg(long, default_value_t = 5)]
    pub rows: usize,
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
    let store = env.store()?;
    let runtime = env.runtime()?;
    let registry = env.registry(&runtime).await;

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
    let mut mocks = Vec::new();
    for cfg in orgs {
        let (org, token) = (cfg.org.clone(), cfg.token.clone());
        let mock = GithubMock::start(cfg)
            .await
            .context("starting the mock GitHub")?;
        println!("mock GitHub for org `{org}` on {}", mock.base_url());
        let name = format!("github-{org}");
        if let Ok(existing) = store.instance(&name) {
            // A rerun with --demo-dir: the old mock's port is gone, so reconnect.
            store.remove_instance(&existing.id)?;
        }
        let (instance, perms) = connect(
            &store,
            &registry,
            ConnectRequest {
                connector: "github".into(),
                name: name.clone(),
                config: [
                    ("org".to_string(), org.clone()),
                    ("base_url".to_string(), mock.base_url()),
                ]
                .into(),
                secrets: [("token".to_string(), Secret::new(token))].into(),
                allow_private_network: true,
            },
        )
        .await?;
        println!(
            "connected `{name}` as {} (scopes: {})",
            perms.principal.as_deref().unwrap_or("?"),
            perms.granted.join(", ")
        );
        mocks.push((mock, instance));
    }

    let plugin = &registry
        .get("github")
        .context("the built-in GitHub connector is not loaded")?
        .plugin;
    for (mock, instance) in &mocks {
        let reports = scan_instance(&store, plugin, instance, &[], &ScanOptions::default()).await?;
        println!();
        output::scan_reports(&instance.name, &reports, false)?;
        if let Some(e) = reports.iter().find_map(|r| r.error.as_ref()) {
            anyhow::bail!("demo scan of `{}` failed: {e}", instance.name);
        }
        let expected = mock.expected();
        println!(
            "mock says: {} users, {} groups, {} audit events, {} app permissions",
            expected.users, expected.groups, expected.audit_events, expected.app_permissions
        );
    }
    store.flush()?;

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
    let mut t = Table::new(&[
        "INSTANCE",
        "USERS",
        "GROUPS",
        "ACTIVITIES",
        "APP PERMISSIONS",
        "FINDINGS",
    ]);
    for (_, inst) in &mocks {
        let mut row = vec![inst.name.clone()];
        for kind in SHOWN {
            row.push(store.count(&inst.id, kind)?.0.to_string());
        }
        t.row(row);
    }
    t.print();
    println!(
        "\nexplore: sluice --data-dir {} instances | users github-acme | activities github-acme --limit 20",
        dir.display()
    );
    Ok(())
}
