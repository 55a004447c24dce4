//! Plugin loading: compiling each plugin cold vs loading it from the on-disk compile
//! cache (what a daemon restart pays), and hot loading: the time from a rename into the
//! watched plugins folder to the new version serving.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sluice::registry::{BUILTIN, PLUGIN_BUILD_DIR, Plugins, Registry, watch};

use crate::Row;
use crate::calls::runtime;

/// A test-only guest's bytes from its build.
fn built(file: &str) -> anyhow::Result<Vec<u8>> {
    let path = PathBuf::from(PLUGIN_BUILD_DIR).join(file);
    std::fs::read(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

pub async fn run(quick: bool) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let rounds = if quick { 2 } else { 4 };

    // Cold compile vs the on-disk compile cache, for every built-in and test guest.
    let mut plugins: Vec<(String, Vec<u8>)> = BUILTIN
        .iter()
        .map(|(name, bytes)| (name.to_string(), bytes.to_vec()))
        .collect();
    for guest in ["probe", "stepper", "templated"] {
        plugins.push((guest.replace('_', "-"), built(&format!("{guest}.wasm"))?));
    }
    for (name, bytes) in &plugins {
        let cold_rt = runtime(None, false)?;
        let start = Instant::now();
        for _ in 0..rounds {
            cold_rt.load(bytes).await?;
        }
        let cold = start.elapsed().as_secs_f64() * 1e3 / f64::from(rounds);
        let dir = tempfile::tempdir()?;
        runtime(Some(dir.path().to_path_buf()), false)?
            .load(bytes)
            .await?;
        let start = Instant::now();
        for _ in 0..rounds {
            // A fresh runtime each time: what a daemon restart pays.
            runtime(Some(dir.path().to_path_buf()), false)?
                .load(bytes)
                .await?;
        }
        let cached = start.elapsed().as_secs_f64() * 1e3 / f64::from(rounds);
        rows.push(
            Row::new("plugin load", format!("{name}: cold compile"), cold, "ms")
                .against(cached)
                .note(format!(
                    "baseline: cached load; {} KB component; both include describe()",
                    bytes.len() / 1024
                )),
        );
    }

    // Hot loading: rename stepper 0.2.0 into a watched folder serving 0.1.0, until
    // 0.2.0 serves. Cold: nothing cached; cached: the compile cache already has it.
    let old = built("stepper.wasm")?;
    let new = built("stepper_next.wasm")?;
    let warm_cache = tempfile::tempdir()?;
    runtime(Some(warm_cache.path().to_path_buf()), false)?
        .load(&new)
        .await?;
    for (label, cache) in [
        ("cold compile", None),
        ("compile cached", Some(warm_cache.path().to_path_buf())),
    ] {
        let mut total = Duration::ZERO;
        for _ in 0..rounds {
            total += swap_time(cache.clone(), &old, &new).await?;
        }
        let ms = total.as_secs_f64() * 1e3 / f64::from(rounds);
        rows.push(
            Row::new(
                "hot load",
                format!("rename into plugins dir → new version serving ({label})"),
                ms,
                "ms",
            )
            .note(format!(
                "includes the watcher's {} ms settle time",
                watch::SETTLE.as_millis()
            )),
        );
    }
    Ok(rows)
}

/// One hot swap in a fresh watched folder: the time from the rename to the registry
/// serving the new version.
async fn swap_time(cache: Option<PathBuf>, old: &[u8], new: &[u8]) -> anyhow::Result<Duration> {
    let rt = runtime(cache, false)?;
    let dir = tempfile::tempdir()?;
    let plugins = Plugins::new(&rt, dir.path(), Registry::default());
    let mut changes = plugins.subscribe();
    let _watch = watch::watch(plugins.clone()).await?;
    place(dir.path(), "stepper.wasm", old)?;
    wait_for(&plugins, &mut changes, "0.1.0").await?;
    let tmp = dir.path().join(".stepper-next.wasm.part");
    std::fs::write(&tmp, new)?;
    let start = Instant::now();
    std::fs::rename(&tmp, dir.path().join("stepper-next.wasm"))?;
    wait_for(&plugins, &mut changes, "0.2.0").await?;
    Ok(start.elapsed())
}

fn place(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = dir.join(format!(".{name}.part"));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, dir.join(name))
}

/// Wait on change events until stepper `version` serves (bounded).
async fn wait_for(
    plugins: &Plugins,
    changes: &mut tokio::sync::broadcast::Receiver<sluice::registry::Change>,
    version: &str,
) -> anyhow::Result<()> {
    while plugins.get("stepper").map(|e| e.version().to_string()) != Some(version.into()) {
        tokio::time::timeout(Duration::from_secs(30), changes.recv())
            .await
            .map_err(|_| anyhow::anyhow!("stepper {version} did not load within 30 s"))??;
    }
    Ok(())
}
