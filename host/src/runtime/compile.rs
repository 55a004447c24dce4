//! Compiling components: the engine's settings, the on-disk compile cache keyed by
//! content hash, wasmtime version and engine compatibility hash, and the compile
//! child (`sluice compile-component`) that keeps Cranelift's memory out of the daemon.

use std::hash::{Hash, Hasher};
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use wasmtime::component::Component;
use wasmtime::{Config, Engine};

use super::pool::{
    POOL_CORE_INSTANCES_PER_INSTANCE, POOL_MEMORIES_PER_INSTANCE, POOL_TABLES_PER_INSTANCE,
};
use super::{LoadError, Runtime, first_line};

/// How much of a pooled instance's linear memory stays mapped (and is zeroed in place)
/// for the next call.
pub(super) const KEEP_RESIDENT_BYTES: usize = 4 << 20;

/// The wasmtime release this build links (from Cargo.lock), part of every compile
/// cache file name beside the engine's compatibility hash.
pub const WASMTIME_VERSION: &str = env!("SLUICE_WASMTIME_VERSION");

/// How long a compile child may take before it is killed (and compiling happens here).
const COMPILE_CHILD_TIMEOUT: Duration = Duration::from_secs(600);

/// Which compile cache a component may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CacheScope {
    /// The data dir's (`RuntimeConfig::cache_dir`): plugin files.
    DataDir,
    /// The per-user shared cache when usable (`RuntimeConfig::shared_cache_dir`), else
    /// the data dir's: components embedded in this binary.
    Shared,
}

/// The default per-user compile cache shared by every data dir:
/// `$XDG_CACHE_HOME/sluice`, else `~/.cache/sluice` (none without either).
pub fn default_shared_cache_dir() -> Option<std::path::PathBuf> {
    use std::path::PathBuf;
    let non_empty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
    if let Some(xdg) = non_empty("XDG_CACHE_HOME") {
        return Some(PathBuf::from(xdg).join("sluice"));
    }
    non_empty("HOME").map(|home| PathBuf::from(home).join(".cache").join("sluice"))
}

/// Create `dir` (mode 0700) if missing and check that this user owns it and no one
/// else may write to it: what is loaded from it runs as native code.
fn private_dir(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("cannot create it: {e}"))?;
    let meta = std::fs::metadata(dir).map_err(|e| e.to_string())?;
    // `/proc/self` belongs to the process's effective user.
    let me = std::fs::metadata("/proc/self")
        .map_err(|e| format!("cannot tell who this process runs as: {e}"))?
        .uid();
    if meta.uid() != me {
        return Err(format!("it belongs to uid {}, not {me}", meta.uid()));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(format!(
            "others may write to it (mode {:o}); chmod go-w it",
            meta.mode() & 0o777
        ));
    }
    Ok(())
}

impl Runtime {
    pub(super) fn compile_cached(
        &self,
        bytes: &[u8],
        sha256: &str,
        scope: CacheScope,
    ) -> Result<Component, LoadError> {
        let engine = &self.inner.engine;
        check_component_preamble(bytes)?;
        let config = &self.inner.config;
        let shared = match (scope, &config.shared_cache_dir) {
            (CacheScope::Shared, Some(dir)) => match private_dir(dir) {
                Ok(()) => Some(dir),
                Err(e) => {
                    tracing::warn!(dir = %dir.display(), "not using the shared compile cache: {e}");
                    None
                }
            },
            _ => None,
        };
        let Some(dir) = shared.or(config.cache_dir.as_ref()) else {
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
}

/// The engine settings for a runtime. A compile child (see
/// [`RuntimeConfig::compile_in_child`]) builds the same, so its output loads here.
pub(super) fn engine_config(pooling_slots: Option<u32>, memory_bytes: usize) -> Config {
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
pub(super) fn engine_hash(engine: &Engine) -> String {
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

pub(super) fn compile(engine: &Engine, bytes: &[u8]) -> Result<Component, LoadError> {
    check_component_preamble(bytes)?;
    Component::new(engine, bytes).map_err(|e| LoadError::NotAComponent(first_line(&e)))
}

/// Tell the common mistakes apart before the compiler's generic parse errors: a
/// component's preamble is `\0asm`, a version, then layer 1 (a core module has layer 0).
pub(super) fn check_component_preamble(bytes: &[u8]) -> Result<(), LoadError> {
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

pub(super) fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, bytes)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
