//! The `sluice` command line: argument parsing, and printing for people or as JSON.
//!
//! This is the only layer that prints. Every command opens what it needs (store,
//! runtime, plugins) through [`Env`], runs, and returns an `anyhow` error that `main`
//! prints as one line.

mod demo;
mod output;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};

use crate::capabilities::http::{HttpClient, HttpLimits};
use crate::connect::{ConnectRequest, connect};
use crate::model::{Capability, Kind};
use crate::registry::Registry;
use crate::runtime::{Runtime, RuntimeConfig};
use crate::scan::{ScanOptions, scan_instance};
use crate::store::{RecordQuery, Secret, Store};

/// Sluice hosts SaaS app connectors as sandboxed WebAssembly components: connect your
/// apps (GitHub, Okta, Microsoft 365, …), collect accounts, groups, activity, app grants
/// and posture findings into one local store, and act on them.
#[derive(Debug, Parser)]
#[command(
    name = "sluice",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Where sluice keeps its database, secret key and compile cache.
    /// Default: $XDG_DATA_HOME/sluice or ~/.local/share/sluice.
    #[arg(long, global = true, env = "SLUICE_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Folder of connector `.wasm` files, loaded in addition to the built-in connectors.
    /// Default: DATA_DIR/plugins.
    #[arg(long, global = true, env = "SLUICE_PLUGINS_DIR", value_name = "DIR")]
    pub plugins_dir: Option<PathBuf>,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human, env = "SLUICE_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// More log output (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the demo: mock providers on loopback, connected, scanned, and summarised.
    Demo(demo::DemoArgs),
    /// Loaded connector plugins and rejected files.
    #[command(subcommand)]
    Plugins(PluginsCommand),
    /// The capability matrix: what each connector collects and can do.
    Connectors {
        #[arg(long)]
        json: bool,
    },
    /// Connect an app instance: validates config, checks the connection, saves it.
    ///
    /// Example: sluice connect github --name acme --config org=acme --secret token=@token.txt
    Connect(ConnectArgs),
    /// List instances, or show / remove one.
    Instances {
        #[command(subcommand)]
        command: Option<InstancesCommand>,
        #[arg(long)]
        json: bool,
    },
    /// Scan an instance now (one-shot): all kinds the connector supports, or those given.
    Scan {
        /// Instance name.
        instance: String,
        /// Only these kinds (repeatable): users, groups, activities, files,
        /// app-permissions, posture.
        #[arg(long = "kind", value_name = "KIND")]
        kinds: Vec<Kind>,
        #[arg(long)]
        json: bool,
    },
    /// Accounts collected from an instance.
    Users(QueryArgs),
    /// Groups and their members.
    Groups(QueryArgs),
    /// Sign-in, user and admin activity, newest first.
    Activities(QueryArgs),
    /// Files.
    Files(QueryArgs),
    /// OAuth grants and app installations.
    AppPermissions(QueryArgs),
    /// Security-posture findings.
    Findings(QueryArgs),
}

#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// Every loaded connector (id, version, WIT version, sha256, file) and rejected files.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum InstancesCommand {
    /// Every instance with its status (the default).
    List,
    /// One instance in detail: config, permissions, scan state, recent scans.
    Show { instance: String },
    /// Delete an instance with its credentials and all collected data.
    Remove {
        instance: String,
        /// Confirm the deletion.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Args)]
pub struct ConnectArgs {
    /// Connector id, e.g. `github` (see `sluice connectors`).
    pub connector: String,
    /// A unique name for this instance, e.g. the org name.
    #[arg(long)]
    pub name: String,
    /// Non-secret config, NAME=VALUE (repeatable).
    #[arg(long = "config", value_name = "NAME=VALUE", value_parser = parse_pair)]
    pub config: Vec<(String, String)>,
    /// Secret config, NAME=VALUE, NAME=@FILE or NAME=- (stdin); stored encrypted,
    /// never shown.
    #[arg(long = "secret", value_name = "NAME=VALUE", value_parser = parse_pair)]
    pub secrets: Vec<(String, String)>,
    /// Let this instance reach private and loopback addresses (self-hosted apps, mocks).
    #[arg(long)]
    pub allow_private_network: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// Instance name.
    pub instance: String,
    /// Print one JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
    /// At most this many records.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Include records marked deleted (gone from the provider since a scan).
    #[arg(long)]
    pub deleted: bool,
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("expected NAME=VALUE, got `{s}`")),
    }
}

/// Paths and lazily opened services for one command.
pub struct Env {
    pub data_dir: PathBuf,
    pub plugins_dir: PathBuf,
}

impl Env {
    pub fn new(global: &GlobalArgs) -> anyhow::Result<Env> {
        let data_dir = match &global.data_dir {
            Some(d) => d.clone(),
            None => default_data_dir()?,
        };
        let plugins_dir = global
            .plugins_dir
            .clone()
            .unwrap_or_else(|| data_dir.join("plugins"));
        Ok(Env {
            data_dir,
            plugins_dir,
        })
    }

    pub fn store(&self) -> anyhow::Result<Store> {
        Ok(Store::open(&self.data_dir)?)
    }

    pub fn runtime(&self) -> anyhow::Result<Runtime> {
        Runtime::new(
            RuntimeConfig {
                cache_dir: Some(self.data_dir.join("cache")),
                ..Default::default()
            },
            HttpClient::new(HttpLimits::default())?,
        )
    }

    pub async fn registry(&self, runtime: &Runtime) -> Registry {
        Registry::load(runtime, &self.plugins_dir).await
    }
}

fn default_data_dir() -> anyhow::Result<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|x| !x.is_empty()) {
        return Ok(PathBuf::from(x).join("sluice"));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .context("cannot find a data dir: set --data-dir, SLUICE_DATA_DIR or HOME")?;
    Ok(PathBuf::from(home).join(".local/share/sluice"))
}

fn read_secret(name: &str, value: &str) -> anyhow::Result<Secret> {
    let v = if value == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .with_context(|| format!("reading secret `{name}` from stdin"))?;
        s
    } else if let Some(path) = value.strip_prefix('@') {
        std::fs::read_to_string(path)
            .with_context(|| format!("reading secret `{name}` from {path}"))?
    } else {
        value.to_string()
    };
    let v = v.trim_end_matches(['\n', '\r']).to_string();
    if v.is_empty() {
        bail!("secret `{name}` is empty");
    }
    Ok(Secret::new(v))
}

/// Run a parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let env = Env::new(&cli.global)?;
    match cli.command {
        Command::Demo(args) => demo::run(&cli.global, args).await,
        Command::Plugins(PluginsCommand::List { json }) => {
            let runtime = env.runtime()?;
            let registry = env.registry(&runtime).await;
            output::plugins(&registry, &env.plugins_dir, json)
        }
        Command::Connectors { json } => {
            let runtime = env.runtime()?;
            let registry = env.registry(&runtime).await;
            output::connectors(&registry, json)
        }
        Command::Connect(args) => {
            let store = env.store()?;
            let runtime = env.runtime()?;
            let registry = env.registry(&runtime).await;
            let mut secrets = BTreeMap::new();
            for (k, v) in &args.secrets {
                secrets.insert(k.clone(), read_secret(k, v)?);
            }
            let req = ConnectRequest {
                connector: args.connector,
                name: args.name,
                config: args.config.into_iter().collect(),
                secrets,
                allow_private_network: args.allow_private_network,
            };
            let (instance, permissions) = connect(&store, &registry, req).await?;
            store.flush()?;
            output::connected(&instance, &permissions, &registry, args.json)
        }
        Command::Instances { command, json } => {
            let store = env.store()?;
            match command.unwrap_or(InstancesCommand::List) {
                InstancesCommand::List => output::instances(&store, json),
                InstancesCommand::Show { instance } => output::instance(&store, &instance, json),
                InstancesCommand::Remove { instance, yes } => {
                    let inst = store.instance(&instance)?;
                    if !yes {
                        bail!(
                            "this deletes `{}` with its credentials and all collected data; add --yes to confirm",
                            inst.name
                        );
                    }
                    store.remove_instance(&inst.id)?;
                    println!("removed instance `{}`", inst.name);
                    Ok(())
                }
            }
        }
        Command::Scan {
            instance,
            kinds,
            json,
        } => {
            let store = env.store()?;
            let inst = store.instance(&instance)?;
            let runtime = env.runtime()?;
            let registry = env.registry(&runtime).await;
            let entry = registry.get(&inst.connector).with_context(|| {
                format!(
                    "connector `{}` of instance `{}` is not loaded (check the plugins dir {})",
                    inst.connector,
                    inst.name,
                    env.plugins_dir.display()
                )
            })?;
            for k in &kinds {
                if !k.supported_by(&entry.plugin.info.capabilities) {
                    bail!("connector `{}` does not support {k}", inst.connector);
                }
            }
            let reports = scan_instance(
                &store,
                &entry.plugin,
                &inst,
                &kinds,
                &ScanOptions::default(),
            )
            .await?;
            store.flush()?;
            output::scan_reports(&inst.name, &reports, json)?;
            if let Some(e) = reports.iter().find_map(|r| r.error.as_ref()) {
                bail!("scan of `{}` failed: {e}", inst.name);
            }
            Ok(())
        }
        Command::Users(q) => query(&env, Kind::Users, q),
        Command::Groups(q) => query(&env, Kind::Groups, q),
        Command::Activities(q) => query(&env, Kind::Activities, q),
        Command::Files(q) => query(&env, Kind::Files, q),
        Command::AppPermissions(q) => query(&env, Kind::AppPermissions, q),
        Command::Findings(q) => query(&env, Kind::Findings, q),
    }
}

fn query(env: &Env, kind: Kind, q: QueryArgs) -> anyhow::Result<()> {
    let store = env.store()?;
    let inst = store.instance(&q.instance)?;
    let records = store.records(
        &inst.id,
        kind,
        &RecordQuery {
            limit: q.limit,
            include_deleted: q.deleted,
        },
    )?;
    output::records(kind, &records, q.json)
}

/// The capability columns of the matrix, in the provider docs' order.
pub fn matrix_columns() -> [Capability; 9] {
    Capability::ALL
}
