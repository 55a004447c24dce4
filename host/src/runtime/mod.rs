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

mod forward;
mod v0_1;
#[cfg(feature = "test-wit")]
mod v0_2_test;

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::capabilities::http::{HttpClient, InstanceNet};
use crate::model::{ActionKind, ConnectorError, ConnectorInfo, Kind, Millis, Page, Permissions};
use crate::model::{Finding, Record};

/// How long the epoch ticker sleeps between ticks; CPU budgets are checked this often.
const EPOCH_TICK: Duration = Duration::from_millis(20);

/// Per-call sandbox limits.
#[derive(Clone, Debug)]
pub struct SandboxLimits {
    /// Linear memory a plugin may grow to, per call.
    pub memory_bytes: usize,
    /// Time a call may spend executing wasm (time waiting on host calls such as HTTP
    /// does not count): a runaway loop is stopped after this.
    pub cpu_time: Duration,
    /// Time a whole call may take, HTTP waits included.
    pub wall_time: Duration,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        SandboxLimits {
            memory_bytes: 256 * 1024 * 1024,
            cpu_time: Duration::from_secs(1),
            wall_time: Duration::from_secs(300),
        }
    }
}

/// How much of a pooled instance's linear memory stays mapped (and is zeroed in place)
/// for the next call.
const KEEP_RESIDENT_BYTES: usize = 4 << 20;

/// The wasmtime release this build links (from Cargo.lock), part of every compile
/// cache file name beside the engine's compatibility hash.
pub const WASMTIME_VERSION: &str = env!("SLUICE_WASMTIME_VERSION");

/// Runtime settings.
#[derive(Clone, Debug, Default)]
pub struct RuntimeConfig {
    pub limits: SandboxLimits,
    /// Where compiled components are cached; none disables the cache.
    pub cache_dir: Option<PathBuf>,
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

/// How long a compile child may take before it is killed (and compiling happens here).
const COMPILE_CHILD_TIMEOUT: Duration = Duration::from_secs(600);

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
    /// The TEST-ONLY `tests/wit/v0.2-test` (feature `test-wit`), not a release.
    #[cfg(feature = "test-wit")]
    #[serde(rename = "0.2.0")]
    V0_2Test,
}

impl WitVersion {
    /// Every version this build links, oldest first.
    pub const SUPPORTED: &[WitVersion] = &[
        WitVersion::V0_1,
        #[cfg(feature = "test-wit")]
        WitVersion::V0_2Test,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WitVersion::V0_1 => "0.1.0",
            #[cfg(feature = "test-wit")]
            WitVersion::V0_2Test => "0.2.0",
        }
    }
}

/// Everything a call for one instance needs from the host.
#[derive(Clone, Debug)]
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
    /// Preferred page size.
    pub page_size: u32,
}

/// Per-store data: what host functions see during one call.
pub(crate) struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: MemoryCap,
    http: HttpClient,
    ctx: CallContext,
    plugin_id: Arc<str>,
    /// For the CPU budget: wall time spent inside host calls is not guest time.
    started: Instant,
    in_host: Duration,
    cpu_budget: Duration,
    cpu_exceeded: bool,
    logs_left: u32,
    /// A dry run: the HTTP capability refuses every write request.
    read_only: bool,
    /// The write requests this call sent, as the host saw them.
    writes: Vec<SentWrite>,
}

/// A write request (anything but GET and HEAD) a call sent, as the host saw it: the
/// plugin cannot misreport what it did.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SentWrite {
    /// `DELETE https://…` (query included; credentials travel in headers, never here).
    pub request: String,
    /// The provider's HTTP status, or none when no response came.
    pub status: Option<u16>,
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Table elements one call's instance may hold across all its tables.
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// Caps the linear memory and table elements of one call's instance, summed over
/// every memory and table of the component (a component of several core modules has
/// several), and remembers that it did, for a clear error.
struct MemoryCap {
    max: usize,
    /// Bytes of every linear memory of the instance together.
    used: usize,
    /// Elements of every table of the instance together.
    table_elements: usize,
    hit: bool,
}

impl MemoryCap {
    fn new(max: usize) -> MemoryCap {
        MemoryCap {
            max,
            used: 0,
            table_elements: 0,
            hit: false,
        }
    }
}

impl wasmtime::ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = (self.used - current.min(self.used)).saturating_add(desired);
        if total > self.max {
            self.hit = true;
            wasmtime::bail!("plugin exceeded its memory cap of {} MiB", self.max >> 20);
        }
        self.used = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total =
            (self.table_elements - current.min(self.table_elements)).saturating_add(desired);
        if total > MAX_TABLE_ELEMENTS {
            return Ok(false);
        }
        self.table_elements = total;
        Ok(true)
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

/// Per-instance resources a component may use in the pool, whatever it asks: with
/// the pool's totals set to `slots ×` these, a call that holds a slot always fits, so
/// instantiating never fails for want of pool memory, tables or instances. A
/// component needing more is refused at load with a clear error.
pub const POOL_MEMORIES_PER_INSTANCE: u32 = 4;
/// See [`POOL_MEMORIES_PER_INSTANCE`].
pub const POOL_TABLES_PER_INSTANCE: u32 = 8;
/// See [`POOL_MEMORIES_PER_INSTANCE`] (componentize-py's Python components use about a
/// dozen core instances).
pub const POOL_CORE_INSTANCES_PER_INSTANCE: u32 = 32;

/// Admission to the pooling allocator's slots.
///
/// A call holds a slot from instantiation to the end of the call, HTTP waits and
/// WASI sleeps included, so calls that block would otherwise starve every other
/// plugin. Each connector may hold at most half of the slots and each instance a
/// quarter (at least one each); a call beyond its share, or beyond the pool, waits in
/// line (tokio's semaphores are FIFO) instead of failing.
struct PoolGate {
    slots: Arc<tokio::sync::Semaphore>,
    per_connector: KeyedShare,
    per_instance: KeyedShare,
}

/// A share of permits per key (connector id, instance id); a key's semaphore lives
/// while some call of that key holds or waits for it.
struct KeyedShare {
    share: usize,
    keys: std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Semaphore>>>,
}

/// A held share; releases the key's entry when its last holder is gone.
struct SharePermit<'a> {
    owner: &'a KeyedShare,
    key: String,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl KeyedShare {
    fn new(share: usize) -> KeyedShare {
        KeyedShare {
            share: share.max(1),
            keys: Default::default(),
        }
    }

    async fn acquire(&self, key: &str) -> Option<SharePermit<'_>> {
        let semaphore = {
            let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
            keys.entry(key.to_string())
                .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(self.share)))
                .clone()
        };
        // Registered as a holder before waiting, so the entry outlives the wait.
        let mut held = SharePermit {
            owner: self,
            key: key.to_string(),
            permit: None,
        };
        held.permit = Some(semaphore.acquire_owned().await.ok()?);
        Some(held)
    }
}

impl Drop for SharePermit<'_> {
    fn drop(&mut self) {
        drop(self.permit.take());
        let mut keys = self.owner.keys.lock().unwrap_or_else(|p| p.into_inner());
        // Only the map holds it and no permit is out: nobody holds or waits.
        if keys
            .get(&self.key)
            .is_some_and(|s| Arc::strong_count(s) == 1 && s.available_permits() == self.owner.share)
        {
            keys.remove(&self.key);
        }
    }
}

/// Everything a call holds in the pool; dropped with the call's store.
struct PoolAdmission<'a> {
    _slot: tokio::sync::OwnedSemaphorePermit,
    _instance: Option<SharePermit<'a>>,
    _connector: SharePermit<'a>,
}

impl PoolGate {
    fn new(slots: u32) -> PoolGate {
        let slots = slots.max(1) as usize;
        PoolGate {
            slots: Arc::new(tokio::sync::Semaphore::new(slots)),
            per_connector: KeyedShare::new(slots / 2),
            per_instance: KeyedShare::new(slots / 4),
        }
    }

    /// Wait for this connector's and instance's share, then for a slot. `None` once
    /// the runtime is shutting down.
    async fn admit(&self, connector: &str, instance: &str) -> Option<PoolAdmission<'_>> {
        let connector = self.per_connector.acquire(connector).await?;
        let instance = match instance {
            "" => None,
            id => Some(self.per_instance.acquire(id).await?),
        };
        let slot = self.slots.clone().acquire_owned().await.ok()?;
        Some(PoolAdmission {
            _slot: slot,
            _instance: instance,
            _connector: connector,
        })
    }
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
        v0_1::add_to_linker(&mut linker)
            .map_err(anyhow::Error::from)
            .context("linking the connector imports")?;
        #[cfg(feature = "test-wit")]
        v0_2_test::add_to_linker(&mut linker)
            .map_err(anyhow::Error::from)
            .context("linking the test-only 0.2.0 connector imports")?;

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
        let sha256 = hex::encode(Sha256::digest(bytes));
        let component = {
            let (runtime, bytes, sha256) = (self.clone(), bytes.to_vec(), sha256.clone());
            tokio::task::spawn_blocking(move || runtime.compile_cached(&bytes, &sha256))
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
                VersionedPre::V0_1(v0_1::pre(linker, &component).map_err(cannot_link)?)
            }
            #[cfg(feature = "test-wit")]
            WitVersion::V0_2Test => {
                VersionedPre::V0_2Test(v0_2_test::pre(linker, &component).map_err(cannot_link)?)
            }
        };
        let mut plugin = LoadedPlugin {
            runtime: self.clone(),
            pre: Arc::new(pre),
            info: Arc::new(placeholder_info()),
            sha256,
            wit,
        };
        let info = plugin
            .describe()
            .await
            .map_err(|e| LoadError::Describe(e.to_string()))?;
        validate_info(&info).map_err(LoadError::Malformed)?;
        plugin.info = Arc::new(info);
        Ok(plugin)
    }

    fn compile_cached(&self, bytes: &[u8], sha256: &str) -> Result<Component, LoadError> {
        let engine = &self.inner.engine;
        check_component_preamble(bytes)?;
        let Some(dir) = &self.inner.config.cache_dir else {
            return compile(engine, bytes);
        };
        let hash = engine_hash(engine);
        let path = dir.join(format!("{sha256}-wasmtime{WASMTIME_VERSION}-{hash}.cwasm"));
        if !path.exists()
            && let Some(exe) = &self.inner.config.compile_in_child
            && let Err(e) = self.compile_in_child(exe, &hash, bytes, &path)
        {
            tracing::warn!("compile child failed, compiling in this process: {e:#}");
        }
        if path.exists() {
            // SAFETY: the file was written by `precompile_component` of this same
            // wasmtime build (the name carries the version and engine compatibility
            // hash) into the operator's cache dir, which only sluice writes.
            #[allow(unsafe_code)]
            match unsafe { Component::deserialize_file(engine, &path) } {
                Ok(c) => return Ok(c),
                Err(e) => {
                    tracing::warn!(path = %path.display(), "ignoring unusable compile cache entry: {e:#}")
                }
            }
        }
        let compiled = engine
            .precompile_component(bytes)
            .map_err(|e| LoadError::NotAComponent(first_line(&e)))?;
        if let Err(e) = write_atomically(dir, &path, &compiled) {
            tracing::warn!(path = %path.display(), "cannot write compile cache: {e}");
        }
        // SAFETY: `compiled` was produced just now by this engine.
        #[allow(unsafe_code)]
        let component = unsafe { Component::deserialize(engine, &compiled) }
            .map_err(|e| LoadError::NotAComponent(first_line(&e)))?;
        Ok(component)
    }

    /// Run `exe compile-component` on `bytes` (stdin) to write `path`, bounded in time.
    fn compile_in_child(
        &self,
        exe: &Path,
        hash: &str,
        bytes: &[u8],
        path: &Path,
    ) -> anyhow::Result<()> {
        use std::process::{Command, Stdio};
        let config = &self.inner.config;
        let mut cmd = Command::new(exe);
        cmd.arg("compile-component")
            .arg("--out")
            .arg(path)
            .arg("--memory-bytes")
            .arg(config.limits.memory_bytes.to_string())
            .arg("--engine-hash")
            .arg(hash);
        if let Some(n) = config.pooling_slots {
            cmd.arg("--pooling-slots").arg(n.to_string());
        }
        let mut child = cmd
            // The child compiles untrusted bytes and needs nothing from the daemon's
            // environment, which may hold secrets (`SLUICE_TOKEN`, provider tokens an
            // operator exported): it gets none of it.
            .env_clear()
            // The daemon's RUST_LOG could make the compiler log megabytes; the child's
            // failure still reaches stderr as its one `error:` line.
            .env("RUST_LOG", "error")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", exe.display()))?;
        let mut stdin = child.stdin.take().context("no stdin")?;
        let mut stderr = child.stderr.take().context("no stderr")?;
        let input = bytes.to_vec();
        // Both pipes are served from threads, so a child that stops reading or writes
        // more than a pipe holds cannot block this one (or itself).
        let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &input));
        let reader = std::thread::spawn(move || {
            let mut err = Vec::new();
            let _ = std::io::Read::read_to_end(
                &mut std::io::Read::take(&mut stderr, 64 << 10),
                &mut err,
            );
            let _ = std::io::copy(&mut stderr, &mut std::io::sink());
            String::from_utf8_lossy(&err).into_owned()
        });
        let deadline = Instant::now() + COMPILE_CHILD_TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                anyhow::bail!("no result within {COMPILE_CHILD_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let _ = writer.join();
        let err = reader.join().unwrap_or_default();
        if !status.success() {
            anyhow::bail!("{status}: {}", err.trim());
        }
        Ok(())
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
            started: Instant::now(),
            in_host: Duration::ZERO,
            cpu_budget: limits.cpu_time,
            cpu_exceeded: false,
            logs_left: 10_000,
            read_only: false,
            writes: Vec::new(),
        };
        let mut store = Store::new(&self.inner.engine, state);
        store.limiter(|s| &mut s.limiter);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut cx| {
            let s = cx.data_mut();
            let guest = s.started.elapsed().saturating_sub(s.in_host);
            if guest > s.cpu_budget {
                s.cpu_exceeded = true;
                wasmtime::bail!("plugin exceeded its CPU time budget of {:?}", s.cpu_budget);
            }
            Ok(UpdateDeadline::Continue(1))
        });
        store
    }
}

/// The engine settings for a runtime. A compile child (see
/// [`RuntimeConfig::compile_in_child`]) builds the same, so its output loads here.
fn engine_config(pooling_slots: Option<u32>, memory_bytes: usize) -> Config {
    let mut wasm = Config::new();
    wasm.wasm_component_model(true).epoch_interruption(true);
    if let Some(slots) = pooling_slots {
        let mut pool = wasmtime::PoolingAllocationConfig::default();
        pool.total_component_instances(slots)
            .max_core_instances_per_component(POOL_CORE_INSTANCES_PER_INSTANCE)
            .max_memories_per_component(POOL_MEMORIES_PER_INSTANCE)
            .max_tables_per_component(POOL_TABLES_PER_INSTANCE)
            .total_core_instances(slots * POOL_CORE_INSTANCES_PER_INSTANCE)
            .total_memories(slots * POOL_MEMORIES_PER_INSTANCE)
            .total_tables(slots * POOL_TABLES_PER_INSTANCE)
            .max_memory_size(memory_bytes)
            // A connector call touches a MiB or more (response body, parsed JSON,
            // records); keeping them mapped between calls saves a page fault and a
            // zeroing per page per call, which is most of what a fresh instance costs.
            .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
            .table_keep_resident(64 << 10)
            // Reset only the pages a call dirtied (Linux 6.7+ `PAGEMAP_SCAN`).
            // Without it wasmtime memsets the whole kept-resident prefix on
            // every deallocation: instantiating cost 27-30 µs with 4 MiB kept
            // resident, 11 µs with the scan (12 µs keeping nothing resident).
            .pagemap_scan(wasmtime::Enabled::Auto);
        wasm.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pool));
    }
    wasm
}

/// The compatibility hash of an engine, as the cache file names carry it.
fn engine_hash(engine: &Engine) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    format!("{:016x}", h.finish())
}

/// What `sluice compile-component` (the compile child) does: compile `bytes` with the
/// engine settings given, refuse if that engine's hash is not `expect_hash` (the
/// parent's), and write the result to `out` atomically.
pub fn compile_child(
    pooling_slots: Option<u32>,
    memory_bytes: usize,
    expect_hash: &str,
    bytes: &[u8],
    out: &Path,
) -> anyhow::Result<()> {
    let engine = Engine::new(&engine_config(pooling_slots, memory_bytes))
        .map_err(anyhow::Error::from)
        .context("creating the wasm engine")?;
    let hash = engine_hash(&engine);
    anyhow::ensure!(
        hash == expect_hash,
        "engine settings differ from the parent's (hash {hash}, expected {expect_hash})"
    );
    check_component_preamble(bytes)?;
    let compiled = engine
        .precompile_component(bytes)
        .map_err(anyhow::Error::from)?;
    let dir = out.parent().context("the output path has no directory")?;
    write_atomically(dir, out, &compiled).with_context(|| format!("writing {}", out.display()))
}

fn first_line(e: &impl std::fmt::Display) -> String {
    format!("{e:#}")
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

fn compile(engine: &Engine, bytes: &[u8]) -> Result<Component, LoadError> {
    check_component_preamble(bytes)?;
    Component::new(engine, bytes).map_err(|e| LoadError::NotAComponent(first_line(&e)))
}

/// Tell the common mistakes apart before the compiler's generic parse errors: a
/// component's preamble is `\0asm`, a version, then layer 1 (a core module has layer 0).
fn check_component_preamble(bytes: &[u8]) -> Result<(), LoadError> {
    if bytes.len() < 8 || &bytes[0..4] != b"\0asm" {
        return Err(LoadError::NotAComponent(
            "the file does not start with the wasm magic number".into(),
        ));
    }
    if bytes[6..8] != [1, 0] {
        return Err(LoadError::NotAComponent(
            "this is a core wasm module; build a component (cargo build --target wasm32-wasip2)"
                .into(),
        ));
    }
    Ok(())
}

fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Refuse a component that needs more linear memories or tables per instance than
/// the sandbox gives one (see [`POOL_MEMORIES_PER_INSTANCE`]), whether or not this
/// runtime pools, so a plugin that loads in the CLI also loads in the daemon.
fn check_footprint(component: &Component) -> Result<(), LoadError> {
    let Some(needs) = component.resources_required() else {
        return Err(LoadError::NotAComponent(
            "the component imports core modules, which sluice does not provide".into(),
        ));
    };
    if needs.num_memories > POOL_MEMORIES_PER_INSTANCE {
        return Err(LoadError::Footprint(format!(
            "the component defines {} linear memories; a connector may have at most {POOL_MEMORIES_PER_INSTANCE}",
            needs.num_memories
        )));
    }
    if needs.num_tables > POOL_TABLES_PER_INSTANCE {
        return Err(LoadError::Footprint(format!(
            "the component defines {} tables; a connector may have at most {POOL_TABLES_PER_INSTANCE}",
            needs.num_tables
        )));
    }
    Ok(())
}

/// Which connector WIT version a component targets, from its import and export names.
fn wit_version(engine: &Engine, component: &Component) -> Result<WitVersion, LoadError> {
    let ty = component.component_type();
    let exports: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_string()).collect();
    let imports: Vec<String> = ty.imports(engine).map(|(n, _)| n.to_string()).collect();
    let ours = exports
        .iter()
        .find(|n| n.starts_with("sluice:connector/connector@"))
        .ok_or_else(|| {
            LoadError::UnsupportedWit(format!(
                "the component exports no `sluice:connector/connector` interface (exports: {})",
                if exports.is_empty() {
                    "none".to_string()
                } else {
                    exports.join(", ")
                }
            ))
        })?;
    let version = ours.rsplit('@').next().unwrap_or_default();
    for import in imports
        .iter()
        .filter(|n| n.starts_with("sluice:connector/"))
    {
        if !import.ends_with(&format!("@{version}")) {
            return Err(LoadError::UnsupportedWit(format!(
                "mixed WIT versions: exports {ours} but imports {import}"
            )));
        }
    }
    WitVersion::SUPPORTED
        .iter()
        .copied()
        .find(|v| v.as_str() == version)
        .ok_or_else(|| {
            let supported: Vec<&str> = WitVersion::SUPPORTED.iter().map(|v| v.as_str()).collect();
            LoadError::UnsupportedWit(format!(
                "sluice:connector@{version} (this host supports {})",
                supported.join(", ")
            ))
        })
}

/// Checks on `describe()` output that the WIT types cannot express.
fn validate_info(info: &ConnectorInfo) -> Result<(), String> {
    let id_ok = !info.id.is_empty()
        && info
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !id_ok {
        return Err(format!("id `{}` must be lowercase [a-z0-9-]", info.id));
    }
    let core = info.version.split(['-', '+']).next().unwrap_or_default();
    if core.split('.').count() != 3 || core.split('.').any(|n| n.parse::<u64>().is_err()) {
        return Err(format!(
            "version `{}` is not semver (MAJOR.MINOR.PATCH)",
            info.version
        ));
    }
    let mut names = std::collections::HashSet::new();
    for f in &info.config {
        if !names.insert(f.name.as_str()) {
            return Err(format!("config field `{}` is declared twice", f.name));
        }
    }
    let secret_fields = info.auth_secret_fields();
    for name in secret_fields {
        match info.config.iter().find(|f| f.name == name) {
            Some(f) if f.secret => {}
            Some(_) => {
                return Err(format!(
                    "auth uses config field `{name}`, which is not marked secret"
                ));
            }
            None => {
                return Err(format!(
                    "auth uses config field `{name}`, which is not declared"
                ));
            }
        }
    }
    // The token endpoint is a destination too (see `AuthScheme::token_url`).
    for t in info
        .egress
        .iter()
        .map(String::as_str)
        .chain(info.auth.token_url())
    {
        let mut rest = t;
        while let Some(start) = rest.find('{') {
            let end = rest[start..]
                .find('}')
                .ok_or_else(|| format!("egress template `{t}` has an unclosed `{{`"))?;
            let name = &rest[start + 1..start + end];
            match info.config.iter().find(|f| f.name == name) {
                Some(f) if f.secret => {
                    return Err(format!("egress template `{t}` uses secret field `{name}`"));
                }
                Some(_) => {}
                None => {
                    return Err(format!(
                        "egress template `{t}` uses undeclared field `{name}`"
                    ));
                }
            }
            rest = &rest[start + end + 1..];
        }
    }
    Ok(())
}

impl ConnectorInfo {
    /// Config fields the auth scheme reads as secrets.
    pub fn auth_secret_fields(&self) -> Vec<&str> {
        use crate::model::AuthScheme::*;
        match &self.auth {
            None => vec![],
            Bearer { token_field } => vec![token_field],
            Basic { password_field, .. } => vec![password_field],
            ApiKey { key_field, .. } => vec![key_field],
            Oauth2ClientCredentials {
                client_secret_field,
                ..
            } => vec![client_secret_field],
            Oauth2RefreshToken {
                client_secret_field,
                refresh_token_field,
                ..
            } => {
                let mut v = vec![refresh_token_field.as_str()];
                v.extend(client_secret_field.as_deref());
                v
            }
            JwtBearer {
                private_key_field, ..
            } => vec![private_key_field],
        }
    }
}

fn placeholder_info() -> ConnectorInfo {
    ConnectorInfo {
        id: String::new(),
        name: String::new(),
        version: String::new(),
        provider: String::new(),
        description: String::new(),
        capabilities: vec![],
        actions: vec![],
        config: vec![],
        auth: crate::model::AuthScheme::None,
        egress: vec![],
        rate_limits: vec![],
    }
}

/// Pre-instantiated component, per supported WIT version.
enum VersionedPre {
    V0_1(v0_1::Pre),
    #[cfg(feature = "test-wit")]
    V0_2Test(v0_2_test::Pre),
}

/// Run the same call on whichever version's bindings `$pre` holds: every version
/// module's `Pre` has the same methods (see `forward.rs`).
macro_rules! on_version {
    ($pre:expr, $p:ident => $call:expr) => {
        match $pre {
            VersionedPre::V0_1($p) => $call,
            #[cfg(feature = "test-wit")]
            VersionedPre::V0_2Test($p) => $call,
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
        self.call_tracked(ctx, false, f).await.0
    }

    /// [`Self::call`], `read_only` (writes refused by the HTTP capability) or not, also
    /// returning the write requests the call sent.
    async fn call_tracked<R>(
        &self,
        ctx: CallContext,
        read_only: bool,
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
        let mut store = rt.new_store(ctx, Arc::from(self.info.id.as_str()));
        store.data_mut().read_only = read_only;
        let wall = rt.limits().wall_time;
        let result = tokio::time::timeout(wall, f(&self.pre, &mut store)).await;
        let writes = std::mem::take(&mut store.data_mut().writes);
        let result = match result {
            Ok(Ok(r)) => r,
            Ok(Err(trap)) => {
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
            Err(_) => Err(ConnectorError::Trap(format!(
                "call exceeded the wall-clock limit of {wall:?}"
            ))),
        };
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

    /// `describe()`, called with an empty context.
    pub async fn describe(&self) -> Result<ConnectorInfo, ConnectorError> {
        self.call(
            empty_context(),
            async |pre, store| on_version!(pre, p => p.describe(store).await.map(Ok)),
        )
        .await
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
        let (result, sent) = self
            .call_tracked(
                ctx,
                dry_run,
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
        instance_id: String::new(),
        instance_name: String::new(),
        config: Arc::default(),
        net: Arc::default(),
        granted_actions: Arc::from([]),
        since: None,
        page_size: 100,
    }
}

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
