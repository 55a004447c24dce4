//! The `sluice` command line: argument parsing, and printing for people or as JSON.
//!
//! This is the only layer that prints. Every command opens what it needs (store,
//! runtime, plugins) through [`Env`], runs, and returns an `anyhow` error that `main`
//! prints as one line.

mod client;
mod demo;
mod inspect;
mod install;
mod limits;
mod network;
pub(crate) mod output;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::{Args, Parser, Subcommand};

use sluice::capabilities::http::{HttpClient, HttpLimits, Outbound};
use sluice::control::{
    Act, ActInput, Approve, Audit, AuditQuery, Connect, ConnectInput, Control, ControlError,
    CreateToken, DisableInstance, EnableInstance, GetInstance, HostName, InstanceKind,
    InstanceName, LimitsQuery, ListConnectors, ListInstances, ListLimits, ListPlugins, ListRecords,
    ListTokens, Pin, PinInput, RecordsQuery, RemoveHostLimit, RemoveInstance, RemoveScopeLimit,
    RevokeToken, Scan, ScanInput, ScopeName, SetHostLimit, SetInstanceLimits, SetSchedule,
    SetScopeLimit, TokenInput, TokenName,
};
use sluice::daemon::{self, DaemonConfig, DaemonInfo};
use sluice::model::grants::{GrantRequest, GrantSet};
use sluice::model::schedule::Schedule;
use sluice::model::{ActionKind, Capability, Kind};
use sluice::ratelimit::{Budget, InstanceLimitConfig, RetryPolicy};
use sluice::registry::Plugins;
use sluice::runtime::{Runtime, RuntimeConfig};
use sluice::scan::ScanOptions;
use sluice::scheduler::SchedulerConfig;
use sluice::store::{MAX_PAGE, Secret, Store, StoreError};

use client::ApiClient;
pub use client::Backend;

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
    /// Talk to the daemon at this URL, e.g. https://sluice.corp.example:7780, instead
    /// of the one that owns the data dir (found through its daemon.json). The token is
    /// SLUICE_TOKEN's, else the data dir's.
    #[arg(long, global = true, env = "SLUICE_SERVER", value_name = "URL")]
    pub server: Option<url::Url>,
    /// Trust the CA certificates in this PEM file for an HTTPS daemon's certificate
    /// (`daemon --tls-cert`), in addition to the built-in roots.
    #[arg(long, global = true, env = "SLUICE_SERVER_CA", value_name = "PEM")]
    pub server_ca: Option<PathBuf>,
    /// Per-user cache of the built-in connectors' compiled code, shared by every data
    /// dir, so a new data dir starts without compiling them (`sluice precompile` fills
    /// it); `off` for none. It must belong to you and be writable by no one else.
    /// Default: $XDG_CACHE_HOME/sluice or ~/.cache/sluice.
    #[arg(long, global = true, env = "SLUICE_COMPILE_CACHE", value_name = "DIR")]
    pub compile_cache: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service: schedule every enabled instance and serve the admin API.
    ///
    /// While it runs, the other commands talk to it through the API.
    ///
    /// Behind a corporate proxy: --proxy http://proxy.corp:3128 (or SLUICE_PROXY).
    /// With a TLS-inspecting proxy or a private CA: --ca-file corp-ca.pem. The API over
    /// HTTPS: --tls-cert server.pem --tls-key server-key.pem, then the CLI with
    /// --server-ca ca.pem (and --server https://NAME:PORT when the certificate names a
    /// host rather than the listen address).
    Daemon(DaemonArgs),
    /// Internal: compile the component on stdin into the compile cache file `--out`.
    /// The daemon runs this as a child process so the compiler's memory stays out of
    /// its own heap.
    #[command(hide = true)]
    CompileComponent {
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        memory_bytes: usize,
        /// The parent engine's compatibility hash; the child refuses if its own differs.
        #[arg(long)]
        engine_hash: String,
        #[arg(long)]
        pooling_slots: Option<u32>,
    },
    /// Run the demo: mock providers on loopback, a daemon with two GitHub instances,
    /// the first full scan, the status table, and the API until Ctrl-C.
    Demo(demo::DemoArgs),
    /// Compile the built-in connectors into the per-user compile cache
    /// (--compile-cache) for the CLI's and the daemon's default settings, so that no
    /// later command and no new data dir waits for a compile. Run it once after
    /// installing or upgrading sluice; it is quick when nothing changed.
    Precompile,
    /// Print the admin API's bearer token (created on first use, mode 0600), or manage
    /// named tokens.
    ///
    /// A named token lets the audit log say who acted: give it to a person or an
    /// automation, who sets SLUICE_TOKEN=… for the CLI (or sends it as the bearer
    /// token). Only the data dir's own token (named `admin`) may manage tokens.
    Token {
        #[command(subcommand)]
        command: Option<TokenCommand>,
    },
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
    /// List instances, or show, disable, enable, reschedule or remove one.
    Instances {
        #[command(subcommand)]
        command: Option<InstancesCommand>,
        #[arg(long)]
        json: bool,
    },
    /// Request budgets: connector defaults, operator settings and live state, or change
    /// them (`limits set`, `limits share`, `limits scope`, `limits host`).
    #[command(args_conflicts_with_subcommands = true)]
    Limits {
        #[command(subcommand)]
        command: Option<LimitsCommand>,
        /// Only this instance.
        instance: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Scan an instance now: all kinds the connector supports, or those given.
    ///
    /// With a daemon running, the daemon runs the scan and this waits for it.
    Scan {
        /// Instance name.
        instance: String,
        /// Only these kinds (repeatable): users, groups, activities, files,
        /// app-permissions, posture.
        #[arg(long = "kind", value_name = "KIND")]
        kinds: Vec<Kind>,
        /// With a daemon: start the scan and return without waiting.
        #[arg(long)]
        no_wait: bool,
        /// Files: list only what changed since the last complete listing, as a
        /// provider's change notification does (deletions show in the full scans).
        #[arg(long, conflicts_with = "record")]
        changes: bool,
        /// Record every request and response of a full scan from scratch into DIR
        /// (auth headers and secrets redacted), for `sluice test-connector --fixtures
        /// DIR`. The scan goes into a scratch store: the instance's records and cursors
        /// are untouched. Runs in this process (stop a running daemon first).
        #[arg(long, value_name = "DIR", conflicts_with = "no_wait")]
        record: Option<PathBuf>,
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
    /// Run a governance action on a collected record: suspend a user, revoke an app
    /// grant, remove an outside collaborator, …
    ///
    /// The connector must offer the action (`sluice connectors`), the instance must be
    /// granted it, and the target must be in the store. Without --yes the action is
    /// first previewed (the exact requests, nothing sent) and confirmed on the
    /// terminal. Every attempt is written to the audit log (`sluice audit`); after a
    /// real action the target is rescanned so its new state shows.
    ///
    /// Example: sluice act acme-okta suspend-user --target jdoe@acme.com --reason "offboarding"
    Act(ActArgs),
    /// Check a connector component against the contract, offline, with a pass/fail
    /// table: describe is well formed, every capability works against the fixtures,
    /// pagination ends, activity cursors advance and resume, raw JSON is kept, a 401
    /// is `unauthorized` and a 429 `rate-limited`, nothing outside the declared egress
    /// is requested. Exits non-zero on any failure.
    ///
    /// Example: sluice scan acme --record fixtures/acme && sluice test-connector
    /// github.wasm --fixtures fixtures/acme
    TestConnector {
        /// The component (`.wasm`), or `builtin:ID` for a built-in connector.
        plugin: String,
        /// A fixtures folder: from `sluice scan --record`, or hand-written in the same
        /// format (see the connector guide).
        #[arg(long, value_name = "DIR")]
        fixtures: PathBuf,
        /// Config NAME=VALUE (repeatable), over the recording's and the defaults.
        #[arg(long = "config", value_name = "NAME=VALUE", value_parser = parse_pair)]
        config: Vec<(String, String)>,
        /// Pages per kind before pagination counts as endless.
        #[arg(long, default_value_t = 1000)]
        max_pages: u64,
        #[arg(long)]
        json: bool,
    },
    /// Start a connector: write a buildable crate (the SDK and WIT vendored in, a unit
    /// test over a sample response, fixtures that `test-connector` passes, a README
    /// with the build, test and install commands) into DIR/NAME.
    ///
    /// Example: sluice new-connector acme-hr && cd acme-hr && cargo build --release
    NewConnector {
        /// Connector id and crate name: lowercase letters, digits and dashes.
        name: String,
        /// Parent folder of the new crate.
        #[arg(long, value_name = "DIR", default_value = ".")]
        dir: PathBuf,
    },
    /// The governance audit log, newest first; --verify checks its hash chain.
    Audit {
        /// Only this instance.
        #[arg(long)]
        instance: Option<String>,
        /// At most this many entries.
        #[arg(long)]
        limit: Option<usize>,
        /// Recompute the hash chain; exits non-zero if an entry was changed or removed.
        #[arg(long)]
        verify: bool,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a named token and print it (shown once; only its hash is kept).
    Create { name: String },
    /// Named tokens (names and creation times, never values).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Revoke a named token: requests carrying it are refused from now on.
    Revoke { name: String },
}

#[derive(Debug, Args)]
pub struct ActArgs {
    /// Instance name.
    pub instance: String,
    /// suspend-user, unsuspend-user, require-sign-in, revoke-app-permission,
    /// quarantine-file, remove-external-sharing, remove-group-member or
    /// remove-collaborator.
    #[arg(value_parser = parse_action)]
    pub action: ActionKind,
    /// The record to act on: its id as `sluice users` (files, app-permissions, groups)
    /// shows it, or for user actions a login or email.
    #[arg(long)]
    pub target: String,
    /// Extra argument, NAME=VALUE (repeatable), e.g. member=ID for remove-group-member.
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_pair)]
    pub params: Vec<(String, String)>,
    /// Why: kept in the audit log, and sent to the provider where it takes a note.
    #[arg(long)]
    pub reason: Option<String>,
    /// Show the exact requests the connector would send, and send nothing.
    #[arg(long, conflicts_with = "yes")]
    pub dry_run: bool,
    /// Act without the preview and question (needed when stdin is not a terminal).
    #[arg(long)]
    pub yes: bool,
    #[arg(long)]
    pub json: bool,
}

fn parse_action(s: &str) -> Result<ActionKind, String> {
    s.parse()
}

#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// Address of the admin API. Loopback by default; anything else exposes the API
    /// (token-protected) to the network: serve it over HTTPS then (--tls-cert), or
    /// keep it on loopback behind a TLS reverse proxy.
    #[arg(long, default_value = daemon::DEFAULT_LISTEN, env = "SLUICE_LISTEN")]
    pub listen: std::net::SocketAddr,
    /// Scans running at once across all instances.
    #[arg(long, default_value_t = SchedulerConfig::default().max_concurrent)]
    pub max_concurrent_scans: usize,
    #[command(flatten)]
    pub limits: limits::LimitArgs,
    #[command(flatten)]
    pub inspect: inspect::InspectArgs,
    #[command(flatten)]
    pub outbound: network::OutboundArgs,
    #[command(flatten)]
    pub tls: network::ApiTlsArgs,
}

#[derive(Debug, Subcommand)]
pub enum PluginsCommand {
    /// Every loaded connector version (id, version, WIT version, sha256, capabilities,
    /// file, loaded-at; SERVING marks the version unpinned instances use) and the
    /// files that were rejected, with the reason.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Validate a connector `.wasm` and copy it into the plugins dir atomically, as
    /// ID-VERSION.wasm. A running daemon hot-loads it; this waits until it serves
    /// (or was rejected).
    Install {
        /// The component to install.
        file: PathBuf,
        /// Replace a file already installed under that name.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum InstancesCommand {
    /// Every instance with its status (the default).
    List,
    /// One instance in detail: config, permissions, scan state and schedule per kind,
    /// recent scans.
    Show { instance: String },
    /// Stop scanning an instance; a scan in flight stops at its next page. Config,
    /// credentials and data are kept.
    Disable { instance: String },
    /// Resume scanning a disabled instance from its saved cursors.
    Enable { instance: String },
    /// Set rescan intervals, e.g. `activities=2m users=6h` (`KIND=default` resets one).
    Schedule {
        instance: String,
        #[arg(value_name = "KIND=INTERVAL", value_parser = parse_pair, required = true)]
        intervals: Vec<(String, String)>,
    },
    /// The webhook URL and secret that let a provider trigger scans of this instance.
    Webhook { instance: String },
    /// Grant an instance everything the connector version serving it asks for (egress
    /// destinations, actions); an instance in `needs approval` resumes scanning.
    Approve { instance: String },
    /// Run an instance on one loaded version of its connector (see `sluice plugins
    /// list`) instead of following the newest, or `--latest` to follow it again.
    Pin {
        instance: String,
        #[arg(required_unless_present = "latest")]
        version: Option<String>,
        #[arg(long, conflicts_with = "version")]
        latest: bool,
    },
    /// Delete an instance with its credentials and all collected data.
    Remove {
        instance: String,
        /// Confirm the deletion.
        #[arg(long)]
        yes: bool,
    },
}

/// How a budget is given on the command line.
#[derive(Debug, Args)]
pub struct RateArgs {
    /// REQUESTS/DURATION, e.g. 5000/1h or 100/1m.
    pub rate: String,
    /// Requests allowed back to back (default: 2% of the budget).
    #[arg(long)]
    pub burst: Option<u32>,
    /// Requests in flight at once (default: no limit).
    #[arg(long)]
    pub concurrency: Option<u32>,
}

impl RateArgs {
    fn budget(&self) -> anyhow::Result<Budget> {
        let mut b = Budget::parse(&self.rate).map_err(anyhow::Error::msg)?;
        if let Some(burst) = self.burst {
            b.burst = burst;
        }
        if let Some(c) = self.concurrency {
            b.max_concurrency = c;
        }
        b.validate().map_err(anyhow::Error::msg)?;
        Ok(b)
    }
}

#[derive(Debug, Subcommand)]
pub enum LimitsCommand {
    /// Set an instance's budget for all its requests (or, with --scope, one API host's),
    /// replacing the connector's default for that scope.
    Set {
        instance: String,
        #[command(flatten)]
        rate: RateArgs,
        /// `*` (every request, the default) or an API host such as api.github.com.
        #[arg(long, default_value = "*")]
        scope: String,
    },
    /// Go back to the connector's default budget for a scope.
    Unset {
        instance: String,
        #[arg(long, default_value = "*")]
        scope: String,
    },
    /// Make an instance draw from a shared scope (`--none` to leave it).
    Share {
        instance: String,
        scope: Option<String>,
        #[arg(long, conflicts_with = "scope")]
        none: bool,
    },
    /// Set (or --remove) the budget of a shared scope. Without one, a shared scope
    /// uses its first member connector's default.
    Scope {
        name: String,
        #[command(flatten)]
        budget: OptionalRate,
    },
    /// Set (or --remove) a budget for every request to an API host, across instances.
    Host {
        host: String,
        #[command(flatten)]
        budget: OptionalRate,
    },
}

/// A budget to set, or `--remove` to drop it (shared scopes and hosts).
#[derive(Debug, Args)]
pub struct OptionalRate {
    /// REQUESTS/DURATION, e.g. 5000/1h or 100/1m.
    pub rate: Option<String>,
    /// Requests allowed back to back (default: 2% of the budget).
    #[arg(long)]
    pub burst: Option<u32>,
    /// Requests in flight at once (default: no limit).
    #[arg(long)]
    pub concurrency: Option<u32>,
    /// Remove the budget instead.
    #[arg(long, conflicts_with = "rate")]
    pub remove: bool,
}

impl OptionalRate {
    /// The budget, or `None` with `--remove`.
    fn budget(self, what: &str) -> anyhow::Result<Option<Budget>> {
        match (self.rate, self.remove) {
            (_, true) => Ok(None),
            (Some(rate), false) => RateArgs {
                rate,
                burst: self.burst,
                concurrency: self.concurrency,
            }
            .budget()
            .map(Some),
            (None, false) => bail!("give a rate such as 5000/1h for {what}, or --remove"),
        }
    }
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
    /// Trust the CA certificates in this PEM file for this instance's requests, in
    /// addition to the built-in roots and the daemon's --ca-file (a self-hosted app
    /// with a private CA). The certificates are stored with the instance.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Rescan interval for a kind, KIND=INTERVAL (repeatable), e.g. activities=2m.
    /// Defaults: activities 5m, users/groups/app-permissions 1h, files 12h, posture 1d.
    #[arg(long = "every", value_name = "KIND=INTERVAL", value_parser = parse_pair)]
    pub every: Vec<(String, String)>,
    /// Request budget for all of this instance's requests, REQUESTS/DURATION (e.g.
    /// 1000/1h), replacing the connector's default.
    #[arg(long, value_name = "RATE")]
    pub limit: Option<String>,
    /// Draw from a shared budget together with other instances naming it (e.g. two
    /// instances on one API token).
    #[arg(long, value_name = "SCOPE")]
    pub share_limits: Option<String>,
    /// Run on this loaded connector version instead of following the newest one
    /// (`sluice instances pin` changes it later).
    #[arg(long, value_name = "VERSION")]
    pub pin: Option<String>,
    /// Which of the connector's ways to authenticate, by id (see `sluice connectors
    /// --json`, `auth`); default: its first. Pass the secrets that option reads.
    #[arg(long, value_name = "ID")]
    pub auth: Option<String>,
    /// How many days back the first activity scan reaches. Default 90, or less when the
    /// provider keeps less (its maximum is refused beyond; `instances show` tells).
    #[arg(long, value_name = "DAYS")]
    pub look_back: Option<u32>,
    /// Grant everything the connector asks for: its egress destinations and its
    /// governance actions (`--grant all`). Without grants, connect lists what is asked
    /// for and asks on a terminal, or fails otherwise.
    #[arg(long, value_name = "all", value_parser = ["all"])]
    pub grant: Option<String>,
    /// Grant an egress destination the connector asks for (repeatable), e.g.
    /// https://api.github.com, or `all` / `none`. Overrides --grant for egress.
    #[arg(long = "grant-egress", value_name = "URL|all|none")]
    pub grant_egress: Vec<String>,
    /// Grant governance actions (repeatable or comma-separated), e.g.
    /// suspend-user,revoke-app-permission, or `all` / `none`. Overrides --grant for
    /// actions.
    #[arg(
        long = "grant-action",
        value_name = "ACTION|all|none",
        value_delimiter = ','
    )]
    pub grant_actions: Vec<String>,
    #[arg(long)]
    pub json: bool,
}

impl ConnectArgs {
    /// The grant request the flags make (a side without flags stays undecided).
    fn grants(&self) -> anyhow::Result<GrantRequest> {
        fn side<T>(
            flags: &[String],
            all: bool,
            parse: impl Fn(&str) -> anyhow::Result<T>,
        ) -> anyhow::Result<Option<GrantSet<T>>> {
            if flags.is_empty() {
                return Ok(all.then_some(GrantSet::All));
            }
            if flags.iter().any(|f| f == "all") {
                return Ok(Some(GrantSet::All));
            }
            let listed = flags.iter().filter(|f| f.as_str() != "none");
            Ok(Some(GrantSet::Only(
                listed.map(|f| parse(f)).collect::<anyhow::Result<_>>()?,
            )))
        }
        let all = self.grant.is_some();
        Ok(GrantRequest {
            egress: side(&self.grant_egress, all, |f| Ok(f.to_string()))?,
            actions: side(&self.grant_actions, all, |f| {
                f.trim().parse::<ActionKind>().map_err(anyhow::Error::msg)
            })?,
        })
    }
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// Instance name.
    pub instance: String,
    /// Print one JSON array instead of a table.
    #[arg(long)]
    pub json: bool,
    /// At most this many records (the rest can be fetched with --cursor).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Continue after a previous listing (the cursor it printed).
    #[arg(long)]
    pub cursor: Option<String>,
    /// Include records marked deleted (gone from the provider since a scan).
    #[arg(long)]
    pub deleted: bool,
    /// Activities at or after this time: RFC 3339, a date, epoch ms, or an age like 24h.
    #[arg(long)]
    pub since: Option<String>,
    /// Activities at or before this time (same formats as --since).
    #[arg(long)]
    pub until: Option<String>,
    /// Activities by this actor; files by this owner; app permissions of this grantee.
    #[arg(long)]
    pub actor: Option<String>,
    /// Activities of this kind: logon, user or admin.
    #[arg(long)]
    pub kind: Option<String>,
    /// Users in this status (active, suspended, disabled, deleted); findings that pass
    /// or fail.
    #[arg(long)]
    pub status: Option<String>,
    /// Free text, matched anywhere in the record (raw provider JSON included).
    #[arg(long, short = 'q')]
    pub search: Option<String>,
    /// Files shared this way: public (a link anyone can open), external (a public
    /// link or someone outside the organisation) or internal (neither).
    #[arg(long, value_parser = ["public", "external", "internal"])]
    pub shared: Option<String>,
    /// Files whose content inspection matched this classifier: card, iban, ssn, email,
    /// aws-access-key-id, aws-secret-access-key, github-token, slack-token,
    /// private-key, jwt, or an operator rule's name.
    #[arg(long)]
    pub classifier: Option<String>,
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("expected NAME=VALUE, got `{s}`")),
    }
}

/// Apply KIND=INTERVAL pairs to a schedule (`default` removes the override).
fn apply_intervals(schedule: &mut Schedule, pairs: &[(String, String)]) -> anyhow::Result<()> {
    for (k, v) in pairs {
        let kind: Kind = k.parse().map_err(anyhow::Error::msg)?;
        if v.trim() == "default" {
            schedule.intervals.remove(&kind);
        } else {
            schedule.set(kind, v).map_err(anyhow::Error::msg)?;
        }
    }
    Ok(())
}

/// Paths for one command, and how to reach sluice's state.
pub struct Env {
    pub data_dir: PathBuf,
    pub plugins_dir: PathBuf,
    /// The daemon to talk to (`--server`), instead of the data dir's.
    server: Option<url::Url>,
    /// CA certificates for an HTTPS daemon (`--server-ca`).
    server_ca: Option<PathBuf>,
    /// The per-user compile cache of the built-in connectors (`--compile-cache`).
    pub compile_cache: Option<PathBuf>,
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
        let compile_cache = match &global.compile_cache {
            Some(dir) if dir.as_os_str().is_empty() || dir.as_os_str() == "off" => None,
            Some(dir) => Some(dir.clone()),
            None => sluice::runtime::default_shared_cache_dir(),
        };
        Ok(Env {
            data_dir,
            plugins_dir,
            server: global.server.clone(),
            server_ca: global.server_ca.clone(),
            compile_cache,
        })
    }

    /// The runtime of a command that runs without a daemon; it reaches providers as
    /// the daemon would (SLUICE_PROXY, SLUICE_CA_FILE).
    pub fn runtime(&self) -> anyhow::Result<Runtime> {
        self.runtime_with(RuntimeConfig {
            cache_dir: Some(self.data_dir.join("cache")),
            shared_cache_dir: self.compile_cache.clone(),
            ..Default::default()
        })
    }

    fn runtime_with(&self, config: RuntimeConfig) -> anyhow::Result<Runtime> {
        Runtime::new(
            config,
            HttpClient::with_network(
                HttpLimits::default(),
                network::network_from_env()?,
                Outbound::new(&RetryPolicy::default()),
            )?,
        )
    }

    /// The daemon's bearer token: SLUICE_TOKEN (a named token makes the audit log
    /// name its holder instead of `admin`), else the data dir's.
    fn api_token(&self) -> anyhow::Result<Secret> {
        Ok(match std::env::var("SLUICE_TOKEN") {
            Ok(t) if !t.trim().is_empty() => Secret::new(t.trim().to_string()),
            _ => sluice::store::api_token(&self.data_dir)?,
        })
    }

    /// Local when the data dir is free; the daemon's API when a daemon owns it or
    /// `--server` names one.
    pub async fn backend(&self) -> anyhow::Result<Backend> {
        self.backend_for(Need::All).await
    }

    /// [`Env::backend`] for a command that needs only some connectors: a local
    /// backend then compiles only those built-ins (a fresh data dir has no compile
    /// cache, and compiling all five takes seconds).
    pub async fn backend_for(&self, need: Need<'_>) -> anyhow::Result<Backend> {
        let server_ca = self
            .server_ca
            .as_deref()
            .map(network::read_ca_file)
            .transpose()
            .context("--server-ca")?;
        if let Some(url) = &self.server {
            let base = url.as_str();
            return Ok(Backend::Remote(ApiClient::new(
                base,
                server_ca.as_ref(),
                self.api_token()?,
                format!("the sluice daemon at {}", base.trim_end_matches('/')),
            )?));
        }
        // A running daemon owns the data dir: go to its API at once rather than wait
        // on the store's lock to learn that (about a second).
        if let Some(info) = DaemonInfo::read(&self.data_dir).filter(DaemonInfo::alive) {
            return Ok(Backend::Remote(ApiClient::of_daemon(
                &info,
                server_ca.as_ref(),
                self.api_token()?,
            )?));
        }
        match Store::open(&self.data_dir) {
            Ok(store) => {
                let runtime = self.runtime()?;
                let only: Option<Vec<String>> = match need {
                    Need::All => None,
                    Need::Connector(id) => Some(vec![id.to_string()]),
                    // An unknown instance loads everything; the command then fails
                    // with the store's "no instance" error, as before.
                    Need::Instance(name) => store.instance(name).ok().map(|i| vec![i.connector]),
                };
                let registry =
                    Plugins::load_some(&runtime, &self.plugins_dir, only.as_deref()).await;
                Ok(Backend::Local(Control::new(
                    store,
                    runtime,
                    registry,
                    self.plugins_dir.clone(),
                    None,
                    ScanOptions::default(),
                )?))
            }
            Err(e @ StoreError::Locked { .. }) => match DaemonInfo::read(&self.data_dir) {
                Some(info) => Ok(Backend::Remote(ApiClient::of_daemon(
                    &info,
                    server_ca.as_ref(),
                    self.api_token()?,
                )?)),
                None => Err(e.into()),
            },
            Err(e) => Err(e.into()),
        }
    }

    pub fn daemon_config(&self, listen: std::net::SocketAddr) -> DaemonConfig {
        let mut config = DaemonConfig::new(self.data_dir.clone(), self.plugins_dir.clone(), listen);
        config.runtime.shared_cache_dir = self.compile_cache.clone();
        config
    }
}

/// `sluice precompile`: every built-in, for the engine settings of local commands and
/// of a daemon with default flags (other sandbox flags compile once on its start).
async fn precompile(env: &Env) -> anyhow::Result<()> {
    let Some(dir) = &env.compile_cache else {
        bail!("no compile cache to fill: --compile-cache is off and HOME is not set");
    };
    let daemon = env.daemon_config(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
    let runtimes = [
        ("commands", env.runtime()?),
        ("daemon", env.runtime_with(daemon.runtime)?),
    ];
    for (who, runtime) in runtimes {
        for (name, bytes) in sluice::registry::BUILTIN {
            let started = std::time::Instant::now();
            runtime
                .load_embedded(bytes)
                .await
                .with_context(|| format!("compiling the built-in {name}"))?;
            outln!(
                "{who:<8} {name:<14} {:>7.1} ms",
                started.elapsed().as_secs_f64() * 1e3
            );
        }
    }
    outln!("compiled built-in connectors are in {}", dir.display());
    Ok(())
}

/// Which connectors a command needs (see [`Env::backend_for`]).
#[derive(Clone, Copy, Debug)]
pub enum Need<'a> {
    All,
    /// A connector id, e.g. `connect github`.
    Connector(&'a str),
    /// The connector of an instance, by name.
    Instance(&'a str),
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
    let command = match cli.command {
        // The daemon's compile child runs with an empty environment (no HOME) and
        // touches no data dir, so it must not need one.
        Command::CompileComponent {
            out,
            memory_bytes,
            engine_hash,
            pooling_slots,
        } => {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)
                .context("reading the component from stdin")?;
            return sluice::runtime::compile_child(
                pooling_slots,
                memory_bytes,
                &engine_hash,
                &bytes,
                &out,
            );
        }
        command => command,
    };
    let env = Env::new(&cli.global)?;
    match command {
        Command::Daemon(args) => {
            let mut cfg = env.daemon_config(args.listen);
            cfg.scheduler.max_concurrent = args.max_concurrent_scans.max(1);
            cfg.runtime.pooling_slots = Some(daemon::pool_slots(cfg.scheduler.max_concurrent));
            cfg.runtime.compile_in_child = std::env::current_exe().ok();
            args.limits.apply(&mut cfg)?;
            args.inspect.apply(&mut cfg)?;
            cfg.network = args.outbound.network()?;
            cfg.api_tls = args.tls.tls()?;
            let proxy = cfg
                .network
                .proxy
                .as_ref()
                .map(|p| format!(", requests through {p}"));
            let d = daemon::Daemon::start(cfg).await?;
            outln!(
                "sluice daemon: API on {} (token: sluice token), data dir {}{}; Ctrl-C to stop",
                d.api_url(),
                env.data_dir.display(),
                proxy.unwrap_or_default()
            );
            daemon::shutdown_signal().await;
            outln!("stopping: letting running scans reach a page boundary…");
            d.shutdown().await
        }
        Command::CompileComponent { .. } => unreachable!("run before the data dir is resolved"),
        Command::Demo(args) => demo::run(&cli.global, args).await,
        Command::Precompile => precompile(&env).await,
        Command::Token { command: None } => {
            outln!("{}", sluice::store::api_token(&env.data_dir)?.expose());
            Ok(())
        }
        Command::Token {
            command: Some(command),
        } => token(&env, command).await,
        Command::Act(args) => act(&env, args).await,
        Command::NewConnector { name, dir } => {
            let out = crate::scaffold::new_connector(&name, &dir)?;
            outln!("created {}", out.display());
            outln!(
                "next: cd {} && cargo build --release && sluice test-connector target/wasm32-wasip2/release/{}.wasm --fixtures fixtures",
                out.display(),
                name.replace('-', "_")
            );
            Ok(())
        }
        Command::Audit {
            instance,
            limit,
            verify,
            json,
        } => {
            let b = env.backend().await?;
            let view = b
                .call::<Audit>(
                    (),
                    AuditQuery {
                        instance,
                        limit,
                        verify,
                    },
                )
                .await?;
            output::audit(&view, json)?;
            match &view.verification {
                Some(v) if !v.ok => bail!(
                    "the audit log does not verify: {}",
                    v.problem.as_deref().unwrap_or("broken chain")
                ),
                _ => Ok(()),
            }
        }
        Command::Plugins(PluginsCommand::List { json }) => {
            let b = env.backend().await?;
            output::plugins(&b.call::<ListPlugins>((), ()).await?, json)
        }
        Command::Plugins(PluginsCommand::Install { file, force }) => {
            install::run(&env, &file, force).await
        }
        Command::Connectors { json } => {
            let b = env.backend().await?;
            output::connectors(&b.call::<ListConnectors>((), ()).await?, json)
        }
        Command::Connect(args) => {
            let grants = args.grants()?;
            let mut secrets = BTreeMap::new();
            for (k, v) in &args.secrets {
                secrets.insert(k.clone(), read_secret(k, v)?);
            }
            let mut schedule = Schedule::default();
            apply_intervals(&mut schedule, &args.every)?;
            let mut limits = InstanceLimitConfig {
                shared: args.share_limits,
                ..Default::default()
            };
            if let Some(rate) = &args.limit {
                limits
                    .budgets
                    .insert("*".into(), Budget::parse(rate).map_err(anyhow::Error::msg)?);
            }
            let mut input = ConnectInput {
                grants,
                connector: args.connector,
                name: args.name,
                config: args.config.into_iter().collect(),
                secrets,
                allow_private_network: args.allow_private_network,
                ca_pem: args
                    .ca_file
                    .as_deref()
                    .map(|path| network::read_ca_file(path).map(|ca| ca.to_pem()))
                    .transpose()
                    .context("--ca-file")?,
                schedule,
                limits,
                pin: args.pin,
                auth: args.auth,
                look_back_days: args.look_back,
            };
            let b = env.backend_for(Need::Connector(&input.connector)).await?;
            let connected = match b.call::<Connect>((), input.clone()).await {
                Err(e) => match e.downcast_ref::<ControlError>() {
                    Some(ControlError::GrantsRequired(asks)) if interactive() => {
                        // Nothing was saved or sent yet: ask, then connect again.
                        eprintln!("{}", output::terminal_safe(&asks.to_string()));
                        if !confirm("Grant everything listed above?")? {
                            bail!("not connected: nothing was granted");
                        }
                        let all = GrantRequest::all();
                        input.grants.egress.get_or_insert(all.egress.unwrap());
                        input.grants.actions.get_or_insert(all.actions.unwrap());
                        b.call::<Connect>((), input).await?
                    }
                    _ => return Err(e),
                },
                Ok(c) => c,
            };
            output::connected(&connected, b.is_remote(), args.json)
        }
        Command::Instances { command, json } => {
            instances(&env, command.unwrap_or(InstancesCommand::List), json).await
        }
        Command::Limits {
            command,
            instance,
            json,
        } => limits(&env, command, instance, json).await,
        Command::Scan {
            instance,
            kinds,
            record: Some(dir),
            json,
            ..
        } => record(&env, &instance, &kinds, &dir, json).await,
        Command::TestConnector {
            plugin,
            fixtures,
            config,
            max_pages,
            json,
        } => {
            let bytes = plugin_bytes(&plugin)?;
            let report = sluice::conformance::run(
                &bytes,
                &sluice::conformance::ConformanceInput {
                    fixtures,
                    config: config.into_iter().collect(),
                    max_pages: max_pages.max(1),
                    cache_dir: Some(env.data_dir.join("cache")),
                },
            )
            .await?;
            output::conformance(&report, json)?;
            if !report.passed() {
                let failed = report.checks.iter().filter(|c| !c.passed).count();
                bail!("{plugin}: {failed} conformance check(s) failed");
            }
            Ok(())
        }
        Command::Scan {
            instance,
            kinds,
            no_wait,
            changes,
            json,
            record: None,
        } => {
            let b = env.backend_for(Need::Instance(&instance)).await?;
            let out = b
                .call::<Scan>(
                    instance_name(&instance),
                    ScanInput {
                        kinds,
                        wait: !no_wait,
                        changes_only: changes,
                    },
                )
                .await?;
            if no_wait && b.is_remote() {
                outln!("scan of `{instance}` started by the daemon");
                return Ok(());
            }
            output::scan_reports(&instance, &out.reports, json)?;
            if let Some(e) = out.reports.iter().find_map(|r| r.error.as_ref()) {
                bail!("scan of `{instance}` failed: {e}");
            }
            Ok(())
        }
        Command::Users(q) => query(&env, Kind::Users, q).await,
        Command::Groups(q) => query(&env, Kind::Groups, q).await,
        Command::Activities(q) => query(&env, Kind::Activities, q).await,
        Command::Files(q) => query(&env, Kind::Files, q).await,
        Command::AppPermissions(q) => query(&env, Kind::AppPermissions, q).await,
        Command::Findings(q) => query(&env, Kind::Findings, q).await,
    }
}

/// A component's bytes: a file, or `builtin:ID`.
fn plugin_bytes(plugin: &str) -> anyhow::Result<Vec<u8>> {
    if let Some(id) = plugin.strip_prefix("builtin:") {
        return sluice::registry::BUILTIN
            .iter()
            .find(|(name, _)| *name == id)
            .map(|(_, b)| b.to_vec())
            .with_context(|| {
                let known: Vec<&str> = sluice::registry::BUILTIN.iter().map(|(n, _)| *n).collect();
                format!(
                    "no built-in connector `{id}` (built in: {})",
                    known.join(", ")
                )
            });
    }
    std::fs::read(plugin).with_context(|| format!("reading {plugin}"))
}

/// `sluice scan INSTANCE --record DIR`.
async fn record(
    env: &Env,
    instance: &str,
    kinds: &[Kind],
    dir: &std::path::Path,
    json: bool,
) -> anyhow::Result<()> {
    let store = match Store::open(&env.data_dir) {
        Ok(s) => s,
        Err(e @ StoreError::Locked { .. }) => {
            return Err(anyhow::Error::new(e)
                .context("--record runs the scan in this process: stop the daemon first"));
        }
        Err(e) => return Err(e.into()),
    };
    let inst = store.instance(instance)?;
    let runtime = env.runtime()?;
    let registry = Plugins::load(&runtime, &env.plugins_dir).await;
    let entry = registry
        .resolve(&inst.connector, inst.pinned_version.as_deref())
        .map_err(|e| anyhow::anyhow!("{e} for instance `{}`", inst.name))?;
    let bytes = if entry.builtin {
        plugin_bytes(&format!("builtin:{}", inst.connector))?
    } else {
        std::fs::read(&entry.file).with_context(|| format!("reading {}", entry.file.display()))?
    };
    let (reports, exchanges) = sluice::conformance::record_scan(
        &store,
        &inst,
        &bytes,
        kinds,
        dir,
        Some(env.data_dir.join("cache")),
    )
    .await?;
    output::scan_reports(instance, &reports, json)?;
    eprintln!(
        "recorded {exchanges} exchanges into {} (auth headers and secrets redacted); replay: sluice test-connector PLUGIN.wasm --fixtures {}",
        dir.display(),
        dir.display()
    );
    if let Some(e) = reports.iter().find_map(|r| r.error.as_ref()) {
        bail!("the recorded scan of `{instance}` failed: {e}");
    }
    Ok(())
}

async fn token(env: &Env, command: TokenCommand) -> anyhow::Result<()> {
    let b = env.backend().await?;
    match command {
        TokenCommand::Create { name } => {
            let t = b.call::<CreateToken>((), TokenInput { name }).await?;
            eprintln!(
                "token `{}` created; it is shown only now. Use it as SLUICE_TOKEN=… or `Authorization: Bearer …`:",
                t.name
            );
            outln!("{}", t.token);
            Ok(())
        }
        TokenCommand::List { json } => output::tokens(&b.call::<ListTokens>((), ()).await?, json),
        TokenCommand::Revoke { name } => {
            let t = b.call::<RevokeToken>(TokenName { name }, ()).await?;
            outln!("revoked token `{}`", t.name);
            Ok(())
        }
    }
}

async fn act(env: &Env, args: ActArgs) -> anyhow::Result<()> {
    let b = env.backend_for(Need::Instance(&args.instance)).await?;
    let input = ActInput {
        action: args.action,
        target: args.target,
        params: args.params.into_iter().collect(),
        reason: args.reason,
        dry_run: args.dry_run,
    };
    if !args.dry_run && !args.yes {
        if !interactive() {
            bail!(
                "not acting without confirmation: pass --yes (or --dry-run to preview) when stdin is not a terminal"
            );
        }
        let preview = b
            .call::<Act>(
                instance_name(&args.instance),
                ActInput {
                    dry_run: true,
                    ..input.clone()
                },
            )
            .await?;
        output::acted(&preview, false)?;
        if !confirm(&format!("Send this to {} now?", preview.audit.connector))? {
            bail!("not sent: the preview is in the audit log, nothing was changed");
        }
    }
    let out = b.call::<Act>(instance_name(&args.instance), input).await?;
    output::acted(&out, args.json)
}

async fn instances(env: &Env, command: InstancesCommand, json: bool) -> anyhow::Result<()> {
    let b = env.backend().await?;
    match command {
        InstancesCommand::List => output::instances(&b.call::<ListInstances>((), ()).await?, json),
        InstancesCommand::Show { instance } => output::instance(
            &b.call::<GetInstance>(instance_name(&instance), ()).await?,
            json,
        ),
        InstancesCommand::Disable { instance } => {
            let i = b
                .call::<DisableInstance>(instance_name(&instance), ())
                .await?;
            outln!(
                "disabled `{}`: not scanned until `sluice instances enable {}`",
                i.name,
                i.name
            );
            Ok(())
        }
        InstancesCommand::Enable { instance } => {
            let i = b
                .call::<EnableInstance>(instance_name(&instance), ())
                .await?;
            if b.is_remote() {
                outln!(
                    "enabled `{}`: scans resume from their saved cursors",
                    i.name
                );
            } else {
                outln!(
                    "enabled `{}`: the daemon scans it when running (or run `sluice scan {}`)",
                    i.name,
                    i.name
                );
            }
            Ok(())
        }
        InstancesCommand::Schedule {
            instance,
            intervals,
        } => {
            let mut schedule = b
                .call::<GetInstance>(instance_name(&instance), ())
                .await?
                .instance
                .schedule;
            apply_intervals(&mut schedule, &intervals)?;
            let i = b
                .call::<SetSchedule>(instance_name(&instance), schedule)
                .await?;
            output::schedule(&i);
            Ok(())
        }
        InstancesCommand::Webhook { instance } => {
            let i = b
                .call::<GetInstance>(instance_name(&instance), ())
                .await?
                .instance;
            let secret = sluice::store::hook_secret(&env.data_dir, &i.id)?;
            let listen = DaemonInfo::read(&env.data_dir)
                .map(|d| d.listen.to_string())
                .unwrap_or_else(|| daemon::DEFAULT_LISTEN.to_string());
            outln!("URL:    http://{listen}/hooks/{}", i.name);
            outln!("secret: {}", secret.expose());
            outln!(
                "\nA POST to the URL starts an incremental activities scan (add ?kind=users,groups for\nothers). Authenticate with `Authorization: Bearer SECRET`, or sign the body with\nHMAC-SHA256 in `X-Hub-Signature-256: sha256=HEX` (set SECRET as a GitHub webhook's secret)."
            );
            Ok(())
        }
        InstancesCommand::Approve { instance } => {
            let i = b.call::<Approve>(instance_name(&instance), ()).await?;
            outln!("approved `{}`: it may now", i.name);
            for line in i.grants.unwrap_or_default().lines() {
                outln!("  {line}");
            }
            Ok(())
        }
        InstancesCommand::Pin {
            instance,
            version,
            latest,
        } => {
            let version = if latest { None } else { version };
            let i = b
                .call::<Pin>(instance_name(&instance), PinInput { version })
                .await?;
            match &i.pinned_version {
                Some(v) => outln!(
                    "`{}` runs on {} {v} until `sluice instances pin {} --latest`",
                    i.name,
                    i.connector,
                    i.name
                ),
                None => outln!("`{}` follows the newest {} loaded", i.name, i.connector),
            }
            Ok(())
        }
        InstancesCommand::Remove { instance, yes } => {
            if !yes {
                let i = b
                    .call::<GetInstance>(instance_name(&instance), ())
                    .await?
                    .instance;
                bail!(
                    "this deletes `{}` with its credentials and all collected data; add --yes to confirm",
                    i.name
                );
            }
            let i = b
                .call::<RemoveInstance>(instance_name(&instance), ())
                .await?;
            outln!("removed instance `{}`", i.name);
            Ok(())
        }
    }
}

async fn limits(
    env: &Env,
    command: Option<LimitsCommand>,
    instance: Option<String>,
    json: bool,
) -> anyhow::Result<()> {
    let b = env.backend().await?;
    let Some(command) = command else {
        let view = b.call::<ListLimits>((), LimitsQuery { instance }).await?;
        return output::limits(&view, json);
    };
    let show = |name: &str| {
        let name = name.to_string();
        let b = &b;
        async move {
            let query = LimitsQuery {
                instance: Some(name),
            };
            output::limits(&b.call::<ListLimits>((), query).await?, json)
        }
    };
    match command {
        LimitsCommand::Set {
            instance,
            rate,
            scope,
        } => {
            let mut cfg = b
                .call::<GetInstance>(instance_name(&instance), ())
                .await?
                .instance
                .limits;
            cfg.budgets
                .insert(scope.to_ascii_lowercase(), rate.budget()?);
            b.call::<SetInstanceLimits>(instance_name(&instance), cfg)
                .await?;
            show(&instance).await
        }
        LimitsCommand::Unset { instance, scope } => {
            let mut cfg = b
                .call::<GetInstance>(instance_name(&instance), ())
                .await?
                .instance
                .limits;
            if cfg.budgets.remove(&scope.to_ascii_lowercase()).is_none() {
                bail!("`{instance}` has no operator budget for scope `{scope}`");
            }
            b.call::<SetInstanceLimits>(instance_name(&instance), cfg)
                .await?;
            show(&instance).await
        }
        LimitsCommand::Share {
            instance,
            scope,
            none,
        } => {
            let mut cfg = b
                .call::<GetInstance>(instance_name(&instance), ())
                .await?
                .instance
                .limits;
            cfg.shared = match (scope, none) {
                (Some(s), _) => Some(s),
                (None, true) => None,
                (None, false) => bail!("name a shared scope, or pass --none to leave one"),
            };
            b.call::<SetInstanceLimits>(instance_name(&instance), cfg)
                .await?;
            show(&instance).await
        }
        LimitsCommand::Scope { name, budget } => {
            let budget = budget.budget(&name)?;
            let scope = ScopeName { scope: name };
            let view = match budget {
                Some(b_) => b.call::<SetScopeLimit>(scope, b_).await?,
                None => b.call::<RemoveScopeLimit>(scope, ()).await?,
            };
            output::limits(&view, json)
        }
        LimitsCommand::Host { host, budget } => {
            let budget = budget.budget(&host)?;
            let host = HostName { host };
            let view = match budget {
                Some(b_) => b.call::<SetHostLimit>(host, b_).await?,
                None => b.call::<RemoveHostLimit>(host, ()).await?,
            };
            output::limits(&view, json)
        }
    }
}

async fn query(env: &Env, kind: Kind, q: QueryArgs) -> anyhow::Result<()> {
    let mut query = RecordsQuery {
        since: q.since,
        until: q.until,
        actor: q.actor,
        kind: q.kind,
        status: q.status,
        q: q.search,
        shared: q.shared,
        classifier: q.classifier,
        deleted: q.deleted,
        cursor: None,
        limit: None,
    };
    let filter = query.filter().map_err(anyhow::Error::msg)?;
    filter.validate(kind).map_err(anyhow::Error::msg)?;
    // Times as parsed now, so "24h" means the same instant on every page.
    query.since = filter.since.map(|t| t.to_string());
    query.until = filter.until.map(|t| t.to_string());
    if q.limit == Some(0) {
        bail!("--limit must be at least 1");
    }
    let b = env.backend_for(Need::Instance(&q.instance)).await?;
    let want = q.limit.unwrap_or(usize::MAX);
    let mut cursor = q.cursor;
    let mut records = Vec::new();
    loop {
        let page_size = (want - records.len()).min(MAX_PAGE);
        let query = RecordsQuery {
            cursor: cursor.clone(),
            limit: Some(page_size),
            ..query.clone()
        };
        let page = b
            .call::<ListRecords>(
                InstanceKind {
                    name: q.instance.clone(),
                    kind: kind.to_string(),
                },
                query,
            )
            .await?;
        records.extend(page.items);
        cursor = page.next_cursor;
        if cursor.is_none() || records.len() >= want {
            break;
        }
    }
    output::records(kind, &records, q.json)?;
    if let (Some(c), Some(_)) = (&cursor, q.limit) {
        eprintln!("more: add --cursor {c}");
    }
    Ok(())
}

/// The path parameter of an operation on one instance.
fn instance_name(name: &str) -> InstanceName {
    InstanceName {
        name: name.to_string(),
    }
}

/// The capability columns of the matrix, in the provider docs' order.
pub fn matrix_columns() -> [Capability; 11] {
    Capability::ALL
}

/// Whether the operator is at a terminal to answer a question.
fn interactive() -> bool {
    use std::io::IsTerminal as _;
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Ask a yes/no question on the terminal; anything but `y`/`yes` is no.
fn confirm(question: &str) -> anyhow::Result<bool> {
    eprint!("{question} [y/N] ");
    std::io::Write::flush(&mut std::io::stderr())?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}
