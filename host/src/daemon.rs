//! `sluice daemon`: the long-running service. It owns the data dir, schedules every
//! enabled instance, and serves the admin API.
//!
//! Start-up, in order:
//! 1. Open the store (sled allows one process per data dir; a second daemon fails
//!    here with "in use").
//! 2. Load the plugins, start the scheduler with the [`DaemonRunner`], and hand it every
//!    enabled instance; interrupted scans resume from their cursors.
//! 3. Bind the API (over TLS with `--tls-cert`/`--tls-key`, see [`tls`]), then write
//!    `daemon.json` (address, scheme and pid) so the CLI knows to talk to the API
//!    instead of opening the store.
//!
//! Shutdown ([`Daemon::shutdown`], on SIGINT/SIGTERM): stop accepting requests, let
//! running scans stop at their next page boundary (each page is committed with its
//! cursor, so nothing is partial), flush the store, remove `daemon.json`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

mod tls;

pub use tls::ApiTls;

use crate::api;
use crate::capabilities::http::{HttpClient, HttpLimits, Outbound};
use crate::capabilities::transport::NetworkConfig;
use crate::control::Control;
use crate::metrics::{InstanceLabels, Metrics};
use crate::model::{ConnectorError, Millis, now_millis};
use crate::registry::{Plugins, watch};
use crate::runtime::{Runtime, RuntimeConfig};
use crate::scan::{KindReport, ScanOptions, inspect_after_scan, scan_kind};
use crate::scheduler::{self, Job, ScanRunner, SchedulerConfig, SchedulerHandle};
use crate::session::{InstanceSession, unapproved};
use crate::store::{InstanceStatus, Store, api_token};

/// The API's default address: loopback only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7780";

/// Files the daemon keeps beside the database.
pub const DAEMON_FILE: &str = "daemon.json";

/// How to run a daemon.
#[derive(Clone, Debug)]
pub struct DaemonConfig {
    pub data_dir: PathBuf,
    pub plugins_dir: PathBuf,
    pub listen: SocketAddr,
    pub scheduler: SchedulerConfig,
    pub scan: ScanOptions,
    pub runtime: RuntimeConfig,
    /// Request timeout, body cap, retries.
    pub http: HttpLimits,
    /// Extra CA certificates and the proxy for every instance's requests.
    pub network: NetworkConfig,
    /// Serve the admin API over HTTPS with this certificate (plain HTTP when `None`).
    pub api_tls: Option<ApiTls>,
    /// How long shutdown waits for running scans to reach a page boundary.
    pub shutdown_grace: Duration,
    /// Watch `plugins_dir` and hot-load changes (on by default).
    pub watch_plugins: bool,
    /// How often the daemon checks that its database still writes, and tries to
    /// reopen it when it does not (after a full disk, say).
    pub store_check: Duration,
}

impl DaemonConfig {
    pub fn new(data_dir: PathBuf, plugins_dir: PathBuf, listen: SocketAddr) -> DaemonConfig {
        DaemonConfig {
            runtime: RuntimeConfig {
                cache_dir: Some(data_dir.join("cache")),
                pooling_slots: Some(pool_slots(SchedulerConfig::default().max_concurrent)),
                ..Default::default()
            },
            data_dir,
            plugins_dir,
            listen,
            scheduler: SchedulerConfig::default(),
            scan: ScanOptions::default(),
            http: HttpLimits::default(),
            network: NetworkConfig::default(),
            api_tls: None,
            shutdown_grace: Duration::from_secs(30),
            watch_plugins: true,
            store_check: Duration::from_secs(5),
        }
    }
}

/// Pool slots for a daemon running `max_concurrent_scans`: one per scan, as many again
/// for calls made by the API (connect checks, actions) and plugin loads. Calls beyond
/// the pool wait for a slot.
pub fn pool_slots(max_concurrent_scans: usize) -> u32 {
    (max_concurrent_scans.max(1) * 2 + 8).min(1024) as u32
}

/// What `daemon.json` says: where the running daemon's API is.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DaemonInfo {
    pub pid: u32,
    pub listen: SocketAddr,
    /// The API is served over HTTPS.
    #[serde(default)]
    pub tls: bool,
    pub started: Millis,
    pub version: String,
}

impl DaemonInfo {
    /// The running daemon of a data dir, if it wrote its file.
    pub fn read(data_dir: &Path) -> Option<DaemonInfo> {
        let bytes = std::fs::read(data_dir.join(DAEMON_FILE)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Whether the process that wrote the file still runs a sluice executable, as far
    /// as `/proc` tells (elsewhere: `false`, and the CLI asks the store lock first).
    /// A daemon killed with -9 leaves its file behind; its pid may be reused.
    pub fn alive(&self) -> bool {
        std::fs::read_link(format!("/proc/{}/exe", self.pid))
            .ok()
            .and_then(|exe| exe.file_name().map(|n| n.to_string_lossy().into_owned()))
            .is_some_and(|name| name.starts_with("sluice"))
    }

    /// Where a client on this machine reaches the API: `https://127.0.0.1:7780` (a
    /// daemon listening on every address is reached on loopback).
    pub fn api_url(&self) -> String {
        let mut addr = self.listen;
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        format!("{}://{addr}", if self.tls { "https" } else { "http" })
    }
}

/// Runs the scheduler's jobs: wasm connector calls into the store.
pub struct DaemonRunner {
    store: Store,
    registry: Plugins,
    options: ScanOptions,
    metrics: Arc<Metrics>,
}

impl DaemonRunner {
    #[tracing::instrument(name = "job", skip_all, fields(instance_id = %job.instance_id, kind = %job.kind))]
    async fn run_job(&self, job: &Job) -> Result<(KindReport, String, String), ConnectorError> {
        let other = |e: crate::store::StoreError| ConnectorError::Other(e.to_string());
        let inst = self.store.instance(&job.instance_id).map_err(other)?;
        // Resolved once per job: a version swapped in meanwhile serves the next job.
        let entry = self
            .registry
            .resolve(&inst.connector, inst.pinned_version.as_deref())?;
        // The last line of defence behind `needs approval`: a version asking for more
        // than the instance was granted never scans (its egress would be cut to the
        // grants anyway).
        if let Some(missing) =
            unapproved(&entry.plugin.info, &inst).map_err(ConnectorError::InvalidConfig)?
        {
            return Err(ConnectorError::NotGranted(format!(
                "{} {} asks for more than instance `{}` was granted ({}); approve with `sluice instances approve {}`",
                inst.connector,
                entry.version(),
                inst.name,
                missing.lines().join("; "),
                inst.name
            )));
        }
        let session = InstanceSession::open(&entry.plugin, &self.store, &inst)?;
        let ctx = session.context();
        if job.check {
            let permissions = session.check().await?;
            self.store
                .update_instance(&inst.id, |i| i.permissions = Some(permissions.clone()))
                .map_err(other)?;
        }
        let changes;
        let options = if job.changes_only {
            changes = ScanOptions {
                changes_only: true,
                ..self.options.clone()
            };
            &changes
        } else {
            &self.options
        };
        let mut report = scan_kind(
            &self.store,
            &entry.plugin,
            &inst,
            &ctx,
            job.kind,
            options,
            &job.stop,
        )
        .await
        .map_err(|e| ConnectorError::Other(e.to_string()))?;
        inspect_after_scan(
            &self.store,
            &entry.plugin,
            &inst,
            &ctx,
            &self.options,
            &mut report,
        )
        .await
        .map_err(|e| ConnectorError::Other(e.to_string()))?;
        Ok((report, inst.name, inst.connector))
    }
}

impl ScanRunner for DaemonRunner {
    async fn run(&self, job: Job) -> KindReport {
        let (report, name, connector) = match self.run_job(&job).await {
            Ok(r) => r,
            Err(e) => {
                let inst = self.store.instance(&job.instance_id).ok();
                let name = inst.as_ref().map(|i| i.name.clone()).unwrap_or_default();
                let connector = inst.map(|i| i.connector).unwrap_or_default();
                (KindReport::failed(job.kind, e), name, connector)
            }
        };
        self.metrics.scan_finished(&name, &connector, &report);
        if let Some(ConnectorError::RateLimited(Some(secs))) = &report.error {
            self.metrics
                .ratelimit_wait_seconds
                .get_or_create(&InstanceLabels { instance: name })
                .inc_by(f64::from(*secs));
        }
        report
    }

    fn set_status(&self, instance_id: &str, status: InstanceStatus) {
        if let Err(e) = self.store.set_status(instance_id, status) {
            tracing::debug!(instance = instance_id, "status not saved: {e}");
        }
    }
}

/// A running daemon.
pub struct Daemon {
    pub control: Arc<Control>,
    /// The API's bound address (useful with port 0).
    pub addr: SocketAddr,
    /// Whether the API is served over HTTPS.
    pub tls: bool,
    pub data_dir: PathBuf,
    scheduler: SchedulerHandle,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    stop_server: oneshot::Sender<()>,
    grace: Duration,
    /// The plugins folder watch, and the task rescheduling instances on changes.
    watcher: Option<watch::Watcher>,
    on_change: tokio::task::JoinHandle<()>,
    store_watch: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon")
            .field("addr", &self.addr)
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

impl Daemon {
    /// Open the data dir, schedule every enabled instance and serve the API.
    pub async fn start(cfg: DaemonConfig) -> anyhow::Result<Daemon> {
        let store = Store::open(&cfg.data_dir)?;
        let token = api_token(&cfg.data_dir)?;
        // The daemon owns the services every instance's requests share.
        let outbound = Outbound::new(&cfg.http.retry);
        let metrics = outbound.metrics.clone();
        let runtime = Runtime::new(
            cfg.runtime.clone(),
            HttpClient::with_network(cfg.http.clone(), cfg.network.clone(), outbound)?,
        )?;
        let registry = Plugins::load(&runtime, &cfg.plugins_dir).await;
        let runner = Arc::new(DaemonRunner {
            store: store.clone(),
            registry: registry.clone(),
            options: cfg.scan.clone(),
            metrics: metrics.clone(),
        });
        let scheduler = scheduler::start(cfg.scheduler.clone(), runner);
        let control = Arc::new(Control::new(
            store.clone(),
            runtime,
            registry,
            cfg.plugins_dir.clone(),
            Some(scheduler.clone()),
            cfg.scan.clone(),
        )?);
        for inst in store.instances()? {
            if inst.enabled {
                control.schedule(&inst)?;
            } else if inst.status != InstanceStatus::Disabled {
                store.set_status(&inst.id, InstanceStatus::Disabled)?;
            }
        }
        // Subscribed before the watch starts, so no change goes unhandled.
        let mut changes = control.registry.subscribe();
        let reacting = control.clone();
        let on_change = tokio::spawn(async move {
            loop {
                match changes.recv().await {
                    Ok(change) => {
                        if let Err(e) = reacting.plugins_changed(&change).await {
                            tracing::warn!("rescheduling after a plugin change: {e}");
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        let watcher = if cfg.watch_plugins {
            Some(watch::watch(control.registry.clone()).await?)
        } else {
            None
        };

        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .with_context(|| format!("cannot listen on {}", cfg.listen))?;
        let addr = listener.local_addr()?;
        if !addr.ip().is_loopback() && cfg.api_tls.is_none() {
            tracing::warn!(
                %addr,
                "the admin API listens beyond loopback over plain HTTP: tokens and webhook secrets cross the network in clear; use --tls-cert/--tls-key or a TLS reverse proxy"
            );
        }
        let app = api::router(api::ApiState {
            control: control.clone(),
            token,
            metrics,
            data_dir: cfg.data_dir.clone(),
        });
        let (stop_server, stopped) = oneshot::channel::<()>();
        let server = match &cfg.api_tls {
            Some(tls) => tokio::spawn(serve(tls::TlsListener::new(listener, tls)?, app, stopped)),
            None => tokio::spawn(serve(listener, app, stopped)),
        };
        let info = DaemonInfo {
            pid: std::process::id(),
            listen: addr,
            tls: cfg.api_tls.is_some(),
            started: now_millis(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        };
        std::fs::write(
            cfg.data_dir.join(DAEMON_FILE),
            serde_json::to_vec_pretty(&info)?,
        )
        .context("writing daemon.json")?;
        tracing::info!(
            %addr,
            tls = cfg.api_tls.is_some(),
            proxy = cfg.network.proxy.as_ref().map(tracing::field::display),
            data_dir = %cfg.data_dir.display(),
            "daemon started"
        );
        Ok(Daemon {
            control,
            addr,
            tls: cfg.api_tls.is_some(),
            data_dir: cfg.data_dir,
            scheduler,
            server,
            stop_server,
            grace: cfg.shutdown_grace,
            watcher,
            on_change,
            store_watch: watch_store(store, cfg.store_check),
        })
    }

    /// `http://ADDR` or `https://ADDR`.
    pub fn api_url(&self) -> String {
        format!(
            "{}://{}",
            if self.tls { "https" } else { "http" },
            self.addr
        )
    }

    pub fn scheduler(&self) -> &SchedulerHandle {
        &self.scheduler
    }

    /// Stop serving, stop scans at a page boundary, flush, and remove `daemon.json`.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        drop(self.watcher);
        self.on_change.abort();
        self.store_watch.abort();
        let _ = self.stop_server.send(());
        if tokio::time::timeout(self.grace, self.scheduler.shutdown())
            .await
            .is_err()
        {
            tracing::warn!(
                "scans did not stop within {:?}; their last pages are not committed and will be re-read",
                self.grace
            );
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), self.server).await;
        let _ = std::fs::remove_file(self.data_dir.join(DAEMON_FILE));
        self.control.store.flush()?;
        tracing::info!("daemon stopped");
        Ok(())
    }
}

/// Every `every`, check that the database still writes; when it does not (sled
/// stops writing for good after a disk error such as a full disk), say so in every
/// instance's status and reopen it until that works. Failed scans retry on their own
/// schedule and succeed once it is back, with no restart.
pub fn watch_store(store: Store, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut failing = false;
        loop {
            tokio::time::sleep(every).await;
            let s = store.clone();
            let checked = tokio::task::spawn_blocking(move || match s.healthy() {
                Ok(()) => Ok(false),
                Err(e) => s.recover().map(|()| true).map_err(|r| (e, r)),
            })
            .await;
            match checked {
                Ok(Ok(reopened)) => {
                    if failing || reopened {
                        tracing::info!("the database writes again; scans resume");
                    }
                    failing = false;
                }
                Ok(Err((e, r))) => {
                    if !failing {
                        tracing::error!(
                            "the database cannot write ({e}); reopening it every {every:?} until it can"
                        );
                    }
                    tracing::debug!("reopening the database failed: {r}");
                    failing = true;
                }
                Err(e) => tracing::error!("checking the database: {e}"),
            }
        }
    })
}

/// Serve `app` on `listener` until `stopped` fires.
async fn serve<L>(
    listener: L,
    app: axum::Router,
    stopped: oneshot::Receiver<()>,
) -> std::io::Result<()>
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = stopped.await;
        })
        .await
}

/// Resolve on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
