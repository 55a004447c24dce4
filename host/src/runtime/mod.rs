//! The sandbox: one wasmtime [`Engine`] per process, plugins pre-instantiated, and a
//! fresh [`Store`] for every call.
//!
//! Setup, in order:
//! 1. [`Runtime::new`] builds the engine (component model, async, epoch interruption)
//!    and a linker with WASI p2 granting nothing (no files, env, args, sockets or name
//!    lookups) plus the connector imports of each supported WIT version.
//! 2. [`Runtime::load`] compiles a component (through the on-disk cache keyed by
//!    content hash and wasmtime version), checks which WIT version it targets from its
//!    import and export names, pre-instantiates it and calls `describe`.
//! 3. Each call ([`LoadedPlugin::check`], [`LoadedPlugin::list`], …) gets its own store
//!    with a memory cap, a CPU-time budget enforced by epoch interruption, and a
//!    wall-clock limit. A trap fails that call only.
//!
//! Instantiation costs microseconds, so statelessness is cheap: a plugin can never
//! carry data (or secrets) from one call, or one instance, to the next.
//!
//! By concern: `compile` (engine settings, compile cache, compile child), `validate`
//! (footprint, WIT version, `describe` checks), `limits` (per-call caps), `pool`
//! (fair admission to the pooling allocator), and the bindings: one module per
//! released WIT version (`since_v0_1_0`, `since_v0_2_0`, `since_v0_3_0`, the latest) and `exports`,
//! what they share that does not depend on a version's types.

mod compile;
mod exports;
mod limits;
mod pool;
mod since_v0_1_0;
mod since_v0_2_0;
mod since_v0_3_0;
mod validate;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use sha2::{Digest, Sha256};
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{CallHook, Engine, Store, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::capabilities::http::{HttpClient, InstanceNet};
pub use crate::model::SentWrite;
use crate::model::http::Method;
use crate::model::{
    ActionKind, ConnectorError, ConnectorInfo, FileChunk, Kind, Millis, Page, Permissions,
};
use crate::model::{Finding, Record};
use compile::CacheScope;
use compile::engine_config;
pub use compile::{WASMTIME_VERSION, compile_child, default_shared_cache_dir};
use limits::{CallClock, MemoryCap};
pub use limits::{SandboxLimits, SessionClock};
use pool::PoolGate;
pub use pool::{
    POOL_CORE_INSTANCES_PER_INSTANCE, POOL_MEMORIES_PER_INSTANCE, POOL_TABLES_PER_INSTANCE,
};
use validate::{check_footprint, placeholder_info, validate_info, wit_version};

/// How long the epoch ticker sleeps between ticks; CPU budgets are checked this often.
const EPOCH_TICK: Duration = Duration::from_millis(20);

/// Runtime settings.
#[derive(Clone, Debug, Default)]
pub struct RuntimeConfig {
    pub limits: SandboxLimits,
    /// Where compiled components are cached; none disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// A per-user compile cache shared by every data dir, used for the components
    /// this binary embeds (the built-in connectors, [`Runtime::load_embedded`]): a
    /// fresh data dir then starts without compiling them (`sluice precompile` fills
    /// it at install). Only a directory owned by this user and writable by no one
    /// else is used, since a compiled component is native code; otherwise, and for
    /// plugin files, `cache_dir` is.
    pub shared_cache_dir: Option<PathBuf>,
    /// Instances drawn from a pre-reserved pool of this many slots instead of being
    /// allocated on demand (`None`). Pooling trades reserved address space for
    /// cheaper instantiation; `just bench` measures both.
    pub pooling_slots: Option<u32>,
    /// Compile components in a child process, `EXE compile-component` (the `sluice`
    /// binary), which writes the compile cache (so `cache_dir` is needed). Cranelift's
    /// transient memory then never enters this process's heap: a daemon that compiled
    /// its plugins itself kept about 45 MB of it resident for good (77 vs 31 MB RSS
    /// with nothing connected). If the child fails, compiling happens here.
    pub compile_in_child: Option<PathBuf>,
}

/// Why a plugin file could not be loaded. Shown to operators as is.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("not a WebAssembly component: {0}")]
    NotAComponent(String),
    #[error("unsupported connector WIT version: {0}")]
    UnsupportedWit(String),
    #[error("describe() failed: {0}")]
    Describe(String),
    #[error("describe() is malformed: {0}")]
    Malformed(String),
    /// The component needs more per instance than the sandbox gives one.
    #[error("the sandbox refuses it: {0}")]
    Footprint(String),
    #[error("{0}")]
    Io(String),
}

/// The WIT package versions this host can load.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum WitVersion {
    #[serde(rename = "0.1.0")]
    V0_1,
    #[serde(rename = "0.2.0")]
    V0_2,
    #[serde(rename = "0.3.0")]
    V0_3,
}

impl WitVersion {
    /// Every version this build links, oldest first.
    pub const SUPPORTED: &[WitVersion] = &[WitVersion::V0_1, WitVersion::V0_2, WitVersion::V0_3];

    pub fn as_str(self) -> &'static str {
        match self {
            WitVersion::V0_1 => "0.1.0",
            WitVersion::V0_2 => "0.2.0",
            WitVersion::V0_3 => "0.3.0",
        }
    }
}

/// Everything a call for one instance needs from the host.
#[derive(Clone, Debug, Default)]
pub struct CallContext {
    pub instance_id: String,
    pub instance_name: String,
    /// Non-secret config; what `config.get` answers.
    pub config: Arc<BTreeMap<String, String>>,
    /// Egress policy and credentials.
    pub net: Arc<InstanceNet>,
    /// Governance actions the operator granted this instance; `act` refuses others
    /// before the plugin runs.
    pub granted_actions: Arc<[ActionKind]>,
    /// First activity scan: collect from this time on.
    pub since: Option<Millis>,
    /// The host's clock for this call (WIT 0.3.0 `context.now`): a scan run's start on
    /// each of its calls; none: the time of the call.
    pub now: Option<Millis>,
    /// An activity partition: collect events before this time (WIT 0.3.0
    /// `context.until`); none outside partitions.
    pub until: Option<Millis>,
    /// How many days back the first activity scan reaches (0: the default, 90).
    pub look_back_days: u32,
    /// Preferred page size.
    pub page_size: u32,
    /// The id of the auth option the instance uses (WIT 0.2.0 `context.auth`).
    pub auth: String,
    /// The writes the connector declared for scans, resolved over the config: a
    /// method and a URL (no query) a request's URL must equal or extend by a path.
    pub scan_writes: Arc<[(Method, String)]>,
    /// Write requests calls other than `act` sent (declared scan writes, or any write
    /// of a 0.1.0 component), for the scan to put in the audit log. Clones share it.
    pub sent_writes: Arc<std::sync::Mutex<Vec<SentWrite>>>,
    /// Time this session's calls spent blocked outside wasm and HTTP, summed (see
    /// [`SandboxLimits::session_blocked_time`]). Clones of a context share it.
    pub blocked: Arc<SessionClock>,
}

/// Per-store data: what host functions see during one call.
pub(crate) struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: MemoryCap,
    http: HttpClient,
    ctx: CallContext,
    plugin_id: Arc<str>,
    /// Where the call's time goes: the CPU budget counts wasm time only, the
    /// watchdog bounds time blocked in host calls other than HTTP.
    clock: Arc<CallClock>,
    cpu_budget: Duration,
    cpu_exceeded: bool,
    logs_left: u32,
    /// A dry run: the HTTP capability refuses every write request.
    read_only: bool,
    /// Writes must be declared scan writes (a 0.2.0 component's calls other than
    /// `act`); 0.1.0 could not declare them, so its scans are not held to it.
    declared_writes_only: bool,
    /// The write requests this call sent, as the host saw them.
    writes: Vec<SentWrite>,
}

impl CallContext {
    /// [`CallContext::look_back_days`] in milliseconds.
    pub fn look_back_millis(&self) -> Millis {
        let days = match self.look_back_days {
            0 => crate::model::DEFAULT_LOOK_BACK_DAYS,
            d => d,
        };
        Millis::from(days) * 86_400_000
    }
}

impl CallState {
    /// Whether a write to `url` may be sent in this call (see `declared_writes_only`).
    fn scan_write_allowed(&self, method: Method, url: &str) -> Result<(), String> {
        if !self.declared_writes_only {
            return Ok(());
        }
        let path = url.split(['?', '#']).next().unwrap_or(url);
        let declared = self.ctx.scan_writes.iter().any(|(m, prefix)| {
            *m == method
                && path.strip_prefix(prefix.as_str()).is_some_and(|rest| {
                    rest.is_empty() || rest.starts_with('/') || prefix.ends_with('/')
                })
        });
        if declared {
            Ok(())
        } else {
            Err(format!(
                "{} {path} is not a scan write the connector declared and the instance was granted; outside actions only those are sent",
                method.as_str()
            ))
        }
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The per-process wasm runtime.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<RuntimeInner>,
}

struct RuntimeInner {
    engine: Engine,
    linker: Linker<CallState>,
    http: HttpClient,
    config: RuntimeConfig,
    stop_ticker: Arc<AtomicBool>,
    /// With the pooling allocator: admission to the pool's slots, with a fair share
    /// per connector and per instance (see [`PoolGate`]).
    pool: Option<PoolGate>,
}

impl Drop for RuntimeInner {
    fn drop(&mut self) {
        self.stop_ticker.store(true, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    pub fn new(config: RuntimeConfig, http: HttpClient) -> anyhow::Result<Runtime> {
        let wasm = engine_config(config.pooling_slots, config.limits.memory_bytes);
        let engine = Engine::new(&wasm)
            .map_err(anyhow::Error::from)
            .context("creating the wasm engine")?;

        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(anyhow::Error::from)
            .context("linking WASI")?;
        since_v0_1_0::add_to_linker(&mut linker)
            .map_err(anyhow::Error::from)
            .context("linking the connector 0.1.0 imports")?;
        since_v0_2_0::add_to_linker(&mut linker)
            .map_err(anyhow::Error::from)
            .context("linking the connector 0.2.0 imports")?;
        since_v0_3_0::add_to_linker(&mut linker)
            .map_err(anyhow::Error::from)
            .context("linking the connector 0.3.0 imports")?;

        // One thread advances the epoch for every store; each call's deadline
        // callback then checks its own CPU budget.
        let stop = Arc::new(AtomicBool::new(false));
        let weak = engine.weak();
        let stop_thread = stop.clone();
        std::thread::Builder::new()
            .name("sluice-epoch".into())
            .spawn(move || {
                while !stop_thread.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match weak.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .context("starting the epoch thread")?;

        Ok(Runtime {
            inner: Arc::new(RuntimeInner {
                engine,
                linker,
                http,
                pool: config.pooling_slots.map(PoolGate::new),
                config,
                stop_ticker: stop,
            }),
        })
    }

    pub fn http(&self) -> &HttpClient {
        &self.inner.http
    }

    pub fn limits(&self) -> &SandboxLimits {
        &self.inner.config.limits
    }

    /// Compile (or load from cache), validate and describe a plugin.
    ///
    /// Compiling takes a CPU for a third of a second or more (a minute for an 18 MB
    /// Python component in a debug build), so it runs on a blocking thread: on an
    /// async worker it would stall every scan and API request scheduled there.
    pub async fn load(&self, bytes: &[u8]) -> Result<LoadedPlugin, LoadError> {
        self.load_in(bytes, CacheScope::DataDir).await
    }

    /// [`Runtime::load`] for a component this binary embeds (a built-in connector):
    /// its compiled form may come from, and goes to, the per-user
    /// [`RuntimeConfig::shared_cache_dir`].
    pub async fn load_embedded(&self, bytes: &[u8]) -> Result<LoadedPlugin, LoadError> {
        self.load_in(bytes, CacheScope::Shared).await
    }

    async fn load_in(&self, bytes: &[u8], scope: CacheScope) -> Result<LoadedPlugin, LoadError> {
        let sha256 = hex::encode(Sha256::digest(bytes));
        // A describe() that trapped (a loop, a sleep) would trap again: every later
        // load of the same bytes is refused at once instead of waiting out its limit.
        let rejected = (self.inner.config.cache_dir.as_ref())
            .map(|dir| dir.join(format!("{sha256}.describe-rejected")));
        if let Some(reason) = rejected
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
        {
            return Err(LoadError::Describe(format!("{reason} (remembered)")));
        }
        let component = {
            let (runtime, bytes, sha256) = (self.clone(), bytes.to_vec(), sha256.clone());
            tokio::task::spawn_blocking(move || runtime.compile_cached(&bytes, &sha256, scope))
                .await
                .map_err(|e| LoadError::Io(format!("compiling the component: {e}")))??
        };
        check_footprint(&component)?;
        let wit = wit_version(&self.inner.engine, &component)?;
        let cannot_link = |e: wasmtime::Error| {
            LoadError::UnsupportedWit(format!("cannot link the component: {e:#}"))
        };
        let linker = &self.inner.linker;
        let pre = match wit {
            WitVersion::V0_1 => {
                VersionedPre::V0_1(since_v0_1_0::pre(linker, &component).map_err(cannot_link)?)
            }
            WitVersion::V0_2 => {
                VersionedPre::V0_2(since_v0_2_0::pre(linker, &component).map_err(cannot_link)?)
            }
            WitVersion::V0_3 => {
                VersionedPre::V0_3(since_v0_3_0::pre(linker, &component).map_err(cannot_link)?)
            }
        };
        let mut plugin = LoadedPlugin {
            runtime: self.clone(),
            pre: Arc::new(pre),
            info: Arc::new(placeholder_info()),
            sha256,
            wit,
        };
        let info = match plugin.describe().await {
            Ok(info) => info,
            Err(e) => {
                if let (ConnectorError::Trap(_), Some(path)) = (&e, &rejected) {
                    let _ = std::fs::write(path, e.to_string());
                }
                return Err(LoadError::Describe(e.to_string()));
            }
        };
        validate_info(&info).map_err(LoadError::Malformed)?;
        plugin.info = Arc::new(info);
        Ok(plugin)
    }

    fn new_store(&self, ctx: CallContext, plugin_id: Arc<str>) -> Store<CallState> {
        let limits = &self.inner.config.limits;
        let wasi = WasiCtxBuilder::new()
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let state = CallState {
            wasi,
            table: ResourceTable::new(),
            limiter: MemoryCap::new(limits.memory_bytes),
            http: self.inner.http.clone(),
            ctx,
            plugin_id,
            clock: Arc::new(CallClock::new()),
            cpu_budget: limits.cpu_time,
            cpu_exceeded: false,
            logs_left: 10_000,
            read_only: false,
            declared_writes_only: false,
            writes: Vec::new(),
        };
        let mut store = Store::new(&self.inner.engine, state);
        store.limiter(|s| &mut s.limiter);
        store.set_hostcall_fuel(limits.hostcall_bytes);
        store.call_hook(|cx, hook| {
            match hook {
                CallHook::CallingHost => cx.data().clock.enter_host(),
                CallHook::ReturningFromHost => cx.data().clock.leave_host(),
                CallHook::CallingWasm | CallHook::ReturningFromWasm => {}
            }
            Ok(())
        });
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut cx| {
            let s = cx.data_mut();
            let guest = s.clock.guest();
            if guest > s.cpu_budget {
                s.cpu_exceeded = true;
                wasmtime::bail!("plugin exceeded its CPU time budget of {:?}", s.cpu_budget);
            }
            Ok(UpdateDeadline::Continue(1))
        });
        store
    }
}

/// Resolves once `clock` shows `limit` blocked in host calls other than HTTP (a
/// WASI sleep or poll, which uses no CPU and so escapes the CPU budget).
async fn blocked_watchdog(clock: &CallClock, limit: Duration) {
    loop {
        let blocked = clock.blocked();
        if blocked >= limit {
            return;
        }
        // Blocked time grows no faster than real time: sleeping the remainder wakes
        // no earlier than needed; the floor keeps a nearly-spent budget from spinning.
        tokio::time::sleep((limit - blocked).max(Duration::from_millis(10))).await;
    }
}

fn first_line(e: &impl std::fmt::Display) -> String {
    format!("{e:#}")
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// Pre-instantiated component, per supported WIT version.
enum VersionedPre {
    V0_1(since_v0_1_0::Pre),
    V0_2(since_v0_2_0::Pre),
    V0_3(since_v0_3_0::Pre),
}

/// Run the same call on whichever version's bindings `$pre` holds: every version
/// module's `Pre` has the same methods.
macro_rules! on_version {
    ($pre:expr, $p:ident => $call:expr) => {
        match $pre {
            VersionedPre::V0_1($p) => $call,
            VersionedPre::V0_2($p) => $call,
            VersionedPre::V0_3($p) => $call,
        }
    };
}

/// A compiled, validated plugin, ready for calls. Cheap to clone.
#[derive(Clone)]
pub struct LoadedPlugin {
    runtime: Runtime,
    pre: Arc<VersionedPre>,
    /// What `describe` returned at load time.
    pub info: Arc<ConnectorInfo>,
    /// Content hash of the `.wasm` file.
    pub sha256: String,
    pub wit: WitVersion,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("id", &self.info.id)
            .field("version", &self.info.version)
            .field("sha256", &self.sha256)
            .finish()
    }
}

/// A governance action request (host side of WIT `action`).
#[derive(Clone, Debug)]
pub struct ActionRequest {
    pub kind: ActionKind,
    pub target: String,
    pub params: Vec<(String, String)>,
    pub reason: Option<String>,
    pub dry_run: bool,
}

/// How an action ended (host side of WIT `action-outcome`).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ActionOutcome {
    /// `done`, `already` or `planned`, as the connector reports it.
    pub status: String,
    pub message: String,
    /// The write requests the connector says it sent (or would send, in a dry run).
    pub requests: Vec<String>,
    /// The write requests the host actually sent for this call, with the provider's
    /// status: filled by the host, not the plugin.
    #[serde(default)]
    pub sent: Vec<SentWrite>,
}

/// A failed action with the writes it sent before failing (a partial failure may have
/// changed something at the provider, and the audit log must say so).
#[derive(Clone, Debug)]
pub struct ActionFailure {
    pub error: ConnectorError,
    pub sent: Vec<SentWrite>,
}

impl LoadedPlugin {
    /// The runtime this plugin was loaded into (its HTTP client and limiters).
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Run `f` against a fresh instance in a fresh store, turning traps and timeouts
    /// into [`ConnectorError::Trap`].
    async fn call<R>(
        &self,
        ctx: CallContext,
        f: impl AsyncFnOnce(
            &VersionedPre,
            &mut Store<CallState>,
        ) -> wasmtime::Result<Result<R, ConnectorError>>,
    ) -> Result<R, ConnectorError> {
        let wall = self.runtime.limits().wall_time;
        self.call_tracked(ctx, false, false, wall, f).await.0
    }

    /// Whether this plugin's calls other than `act` may send only declared writes.
    fn holds_to_scan_writes(&self) -> bool {
        self.wit != WitVersion::V0_1
    }

    /// [`Self::call`], `read_only` (writes refused by the HTTP capability) or not,
    /// within `wall`, also returning the write requests the call sent.
    async fn call_tracked<R>(
        &self,
        ctx: CallContext,
        acting: bool,
        read_only: bool,
        wall: Duration,
        f: impl AsyncFnOnce(
            &VersionedPre,
            &mut Store<CallState>,
        ) -> wasmtime::Result<Result<R, ConnectorError>>,
    ) -> (Result<R, ConnectorError>, Vec<SentWrite>) {
        let rt = &self.runtime;
        // Held until the store (and its pool slot) is dropped at the end of the call.
        let _admission = match &rt.inner.pool {
            Some(pool) => match pool.admit(&self.info.id, &ctx.instance_id).await {
                Some(admission) => Some(admission),
                None => {
                    let e = ConnectorError::Other("the runtime is shutting down".into());
                    return (Err(e), Vec::new());
                }
            },
            None => None,
        };
        let session = ctx.blocked.clone();
        let sent_log = ctx.sent_writes.clone();
        let mut store = rt.new_store(ctx, Arc::from(self.info.id.as_str()));
        store.data_mut().read_only = read_only;
        // `act` calls are the ones that run with `read_only` decided by the caller;
        // every other call goes through `call` and may send only declared writes.
        store.data_mut().declared_writes_only = !acting && self.holds_to_scan_writes();
        let clock = store.data().clock.clone();
        let limits = rt.limits();
        let session_left = limits
            .session_blocked_time
            .saturating_sub(session.blocked());
        let (blocked_limit, per) = if session_left < limits.blocked_time {
            (session_left, "session")
        } else {
            (limits.blocked_time, "call")
        };
        let result = tokio::select! {
            r = tokio::time::timeout(wall, f(&self.pre, &mut store)) => Some(r),
            () = blocked_watchdog(&clock, blocked_limit) => None,
        };
        session.add(clock.blocked());
        let writes = std::mem::take(&mut store.data_mut().writes);
        let result = match result {
            None => {
                let e = format!(
                    "blocked outside wasm and HTTP (a WASI sleep or poll) for {:?}; a {per} may block for at most {blocked_limit:?}",
                    clock.blocked()
                );
                tracing::warn!(plugin = %self.info.id, instance = %store.data().ctx.instance_name, "plugin stopped: {e}");
                Err(ConnectorError::Trap(e))
            }
            Some(Ok(Ok(r))) => r,
            Some(Ok(Err(trap))) => {
                let data = store.data();
                let reason = if data.cpu_exceeded {
                    format!("exceeded its CPU time budget of {:?}", data.cpu_budget)
                } else if data.limiter.hit {
                    format!("exceeded its memory cap of {} MiB", data.limiter.max >> 20)
                } else {
                    first_line(&trap)
                };
                tracing::warn!(plugin = %self.info.id, instance = %data.ctx.instance_name, "plugin trapped: {reason}");
                Err(ConnectorError::Trap(reason))
            }
            Some(Err(_)) => Err(ConnectorError::Trap(format!(
                "call exceeded the wall-clock limit of {wall:?}"
            ))),
        };
        if !acting && !writes.is_empty() {
            let mut log = sent_log.lock().unwrap_or_else(|p| p.into_inner());
            log.extend(writes.iter().cloned());
        }
        (result, writes)
    }

    /// Instantiate in a fresh store and call nothing: what every call pays before its
    /// export runs (for benchmarks and health checks).
    pub async fn instantiate(&self) -> Result<(), ConnectorError> {
        self.call(
            empty_context(),
            async |pre, store| on_version!(pre, p => p.instantiate(store).await.map(|_| Ok(()))),
        )
        .await
    }

    /// `describe()`, called with an empty context, within
    /// [`SandboxLimits::describe_time`].
    pub async fn describe(&self) -> Result<ConnectorInfo, ConnectorError> {
        let wall = self.runtime.limits().describe_time;
        self.call_tracked(
            empty_context(),
            false,
            false,
            wall,
            async |pre, store| on_version!(pre, p => p.describe(store).await.map(Ok)),
        )
        .await
        .0
    }

    pub async fn check(&self, ctx: CallContext) -> Result<Permissions, ConnectorError> {
        self.call(
            ctx,
            async |pre, store| on_version!(pre, p => p.check(store).await),
        )
        .await
    }

    /// One page of a listing kind (everything except findings).
    pub async fn list(
        &self,
        ctx: CallContext,
        kind: Kind,
        cursor: Option<String>,
    ) -> Result<Page, ConnectorError> {
        self.call(
            ctx,
            async |pre, store| on_version!(pre, p => p.list(store, kind, cursor).await),
        )
        .await
    }

    pub async fn posture(&self, ctx: CallContext) -> Result<Vec<Finding>, ConnectorError> {
        self.call(
            ctx,
            async |pre, store| on_version!(pre, p => p.posture(store).await),
        )
        .await
    }

    /// Up to `length` bytes (at most [`MAX_FILE_CHUNK`]) of file `id` from `offset`,
    /// for a connector that declares the `file-content` capability.
    pub async fn read_file(
        &self,
        ctx: CallContext,
        id: &str,
        offset: u64,
        length: u32,
    ) -> Result<FileChunk, ConnectorError> {
        if !self
            .info
            .capabilities
            .contains(&crate::model::Capability::FileContent)
        {
            return Err(ConnectorError::Unsupported(format!(
                "connector `{}` does not declare the file-content capability",
                self.info.id
            )));
        }
        let length = length.min(MAX_FILE_CHUNK);
        let chunk = self
            .call(
                ctx,
                async |pre, store| on_version!(pre, p => p.read_file(store, id, offset, length).await),
            )
            .await?;
        if chunk.data.len() > length as usize {
            return Err(ConnectorError::Upstream(format!(
                "read-file returned {} bytes where at most {length} were asked for",
                chunk.data.len()
            )));
        }
        Ok(chunk)
    }

    /// Run a governance action, if the operator granted it to the instance; refused
    /// before the plugin is instantiated (so before any request) otherwise. A dry run
    /// cannot write: the HTTP capability refuses every request but GET and HEAD.
    pub async fn act(
        &self,
        ctx: CallContext,
        action: ActionRequest,
    ) -> Result<ActionOutcome, ConnectorError> {
        self.act_tracked(ctx, action).await.map_err(|f| f.error)
    }

    /// [`Self::act`], with the write requests the host saw the call send, on success
    /// and on failure.
    pub async fn act_tracked(
        &self,
        ctx: CallContext,
        action: ActionRequest,
    ) -> Result<ActionOutcome, ActionFailure> {
        if !ctx.granted_actions.contains(&action.kind) {
            return Err(ActionFailure {
                error: ConnectorError::NotGranted(format!(
                    "action `{}` is not granted to instance `{}`; `sluice instances approve {}` grants what its connector asks for",
                    action.kind, ctx.instance_name, ctx.instance_name
                )),
                sent: Vec::new(),
            });
        }
        let dry_run = action.dry_run;
        let wall = self.runtime.limits().wall_time;
        let (result, sent) = self
            .call_tracked(
                ctx,
                true,
                dry_run,
                wall,
                async |pre, store| on_version!(pre, p => p.act(store, action).await),
            )
            .await;
        match result {
            Ok(mut outcome) => {
                outcome.sent = sent;
                Ok(outcome)
            }
            Err(error) => Err(ActionFailure { error, sent }),
        }
    }
}

/// The context of calls that belong to no instance.
fn empty_context() -> CallContext {
    CallContext {
        page_size: 100,
        ..CallContext::default()
    }
}

/// The most a `read-file` call hands over (the host asks in chunks of this size).
pub const MAX_FILE_CHUNK: u32 = 1 << 20;

/// Findings as records, for the store.
pub fn findings_page(findings: Vec<Finding>) -> Page {
    Page {
        records: findings.into_iter().map(Record::Finding).collect(),
        next_cursor: None,
        more: false,
    }
}

#[cfg(test)]
mod tests {
    /// build.rs reads the version from Cargo.lock; a lockfile format it misreads
    /// would leave "unlocked" or a fragment in every cache file name.
    #[test]
    fn the_wasmtime_version_comes_from_the_lockfile() {
        let lock = include_str!("../../../Cargo.lock");
        let entry = format!(
            "name = \"wasmtime\"\nversion = \"{}\"\n",
            super::WASMTIME_VERSION
        );
        assert!(lock.contains(&entry), "{}", super::WASMTIME_VERSION);
        let parts: Vec<&str> = super::WASMTIME_VERSION.split('.').collect();
        assert_eq!(parts.len(), 3, "{}", super::WASMTIME_VERSION);
        assert!(parts.iter().all(|p| p.parse::<u32>().is_ok()));
    }
}
