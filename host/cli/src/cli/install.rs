//! `sluice plugins install FILE`: validate a connector, then place it in the plugins
//! dir under its canonical name in one rename, so a watching daemon never sees it
//! half-written; with a daemon running, wait until it serves the new version or
//! says why not.

use sluice::control::ListPlugins;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use super::{Backend, Env};
use sluice::model::now_millis;

/// How long to wait for a running daemon to pick the file up.
const DAEMON_WAIT: Duration = Duration::from_secs(30);

pub async fn run(env: &Env, file: &Path, force: bool) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    // Loading here also fills the compile cache the daemon reads, so its load is fast.
    let plugin = env
        .runtime()?
        .load(&bytes)
        .await
        .with_context(|| format!("{} is not an installable connector", file.display()))?;
    let (id, version) = (&plugin.info.id, &plugin.info.version);
    let dir = &env.plugins_dir;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let dest = dir.join(format!("{id}-{version}.wasm"));
    if let Ok(existing) = std::fs::read(&dest) {
        if existing == bytes {
            outln!("{id} {version} is already installed as {}", dest.display());
            return Ok(());
        }
        if !force {
            bail!(
                "{} exists and holds a different build of {id} {version}; bump the version, or pass --force to replace it",
                dest.display()
            );
        }
    }
    let started = now_millis();
    let mut tmp = tempfile::Builder::new()
        .prefix(".install-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    std::io::Write::write_all(&mut tmp, &bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(&dest)
        .map_err(|e| e.error)
        .with_context(|| format!("moving the plugin into place as {}", dest.display()))?;
    outln!("installed {id} {version} as {}", dest.display());

    let Backend::Remote(_) = env.backend().await? else {
        outln!("no daemon is running: it loads the plugin when it starts");
        return Ok(());
    };
    let deadline = Instant::now() + DAEMON_WAIT;
    loop {
        let list = env.backend().await?.call::<ListPlugins>((), ()).await?;
        let same_dir = |a: &Path, b: &Path| {
            std::fs::canonicalize(a)
                .ok()
                .zip(std::fs::canonicalize(b).ok())
                .is_some_and(|(a, b)| a == b)
        };
        if !same_dir(&list.plugins_dir, dir) {
            outln!(
                "the running daemon watches {}, not {}: it will not see this file",
                list.plugins_dir.display(),
                dir.display()
            );
            return Ok(());
        }
        let ours = |f: &Path| f.file_name() == dest.file_name();
        if let Some(p) = list
            .plugins
            .iter()
            .find(|p| ours(&p.file) && p.sha256 == plugin.sha256)
        {
            if p.serving {
                outln!("the daemon serves {id} {version} now");
            } else {
                outln!(
                    "the daemon loaded {id} {version} for pinned instances; a newer version serves the rest"
                );
            }
            return Ok(());
        }
        if let Some(r) = list
            .rejected
            .iter()
            .find(|r| ours(&r.file) && r.at >= started)
        {
            bail!("the daemon rejected {}: {}", dest.display(), r.reason);
        }
        if Instant::now() > deadline {
            bail!(
                "the daemon did not load {} within {DAEMON_WAIT:?}; see `sluice plugins list` and its log",
                dest.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
