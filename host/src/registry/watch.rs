//! Watching the plugins folder: a new, changed or removed `.wasm` reaches
//! [`Plugins::refresh`] once it is complete.
//!
//! "Complete" is judged from the kind of event, not from a timer alone: on Linux a
//! file is considered when a writer closes it (`IN_CLOSE_WRITE`) or when it is renamed
//! into the folder, never on the creation or the writes before that, so a file still
//! being copied is not read half-written. Events are then gathered until the folder
//! has been quiet for [`SETTLE`], so a burst (a build writing several plugins, an
//! editor's save dance) becomes one refresh. Where the platform cannot say when a
//! writer is done, writes also count and the settle time is what protects. If the
//! kernel drops events (queue overflow), the whole folder is re-read.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{EventKind, RecursiveMode, Watcher as _};

use super::{Plugins, is_plugin_file};

/// How long the folder must be quiet before a batch of changes is applied.
pub const SETTLE: Duration = Duration::from_millis(200);

/// What the OS watcher hands the refresh task.
enum Notice {
    Path(PathBuf),
    /// Events were lost: re-read everything.
    Rescan,
}

/// A running watch; dropping it stops watching.
pub struct Watcher {
    _os: notify::RecommendedWatcher,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher").finish_non_exhaustive()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Watch `plugins`' folder (created if missing) and refresh on every change. Before
/// returning, the folder is re-read once, catching files that changed between
/// loading and watching.
pub async fn watch(plugins: Plugins) -> anyhow::Result<Watcher> {
    let dir = plugins.dir().to_path_buf();
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("creating the plugins dir {}", dir.display()))?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Notice>();
    let mut os = notify::recommended_watcher(move |res: notify::Result<notify::Event>| match res {
        Ok(event) if event.need_rescan() => {
            let _ = tx.send(Notice::Rescan);
        }
        Ok(event) => {
            for path in complete_paths(&event) {
                let _ = tx.send(Notice::Path(path));
            }
        }
        Err(e) => {
            tracing::warn!("watching the plugins dir: {e}; re-reading it");
            let _ = tx.send(Notice::Rescan);
        }
    })
    .context("starting the plugins dir watcher")?;
    os.watch(&dir, RecursiveMode::NonRecursive)
        .with_context(|| format!("watching the plugins dir {}", dir.display()))?;
    tracing::info!(dir = %dir.display(), "watching the plugins dir");
    plugins.rescan().await;
    let task = tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut paths = BTreeSet::new();
            let mut rescan = false;
            let mut add = |n: Notice| match n {
                Notice::Path(p) => {
                    paths.insert(p);
                }
                Notice::Rescan => rescan = true,
            };
            add(first);
            loop {
                match tokio::time::timeout(SETTLE, rx.recv()).await {
                    Ok(Some(n)) => add(n),
                    Ok(None) => return,
                    Err(_) => break,
                }
            }
            if rescan {
                plugins.rescan().await;
            } else {
                plugins.refresh(paths).await;
            }
        }
    });
    Ok(Watcher { _os: os, task })
}

/// The plugin files an event says are complete or gone.
fn complete_paths(event: &notify::Event) -> Vec<PathBuf> {
    let writes_count = !cfg!(target_os = "linux");
    let take: Vec<&Path> = match &event.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => {
            event.paths.iter().map(PathBuf::as_path).collect()
        }
        // Renamed into, out of, or within the folder; removed.
        EventKind::Modify(ModifyKind::Name(_)) | EventKind::Remove(_) => {
            event.paths.iter().map(PathBuf::as_path).collect()
        }
        EventKind::Create(_) | EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any)
            if writes_count =>
        {
            event.paths.iter().map(PathBuf::as_path).collect()
        }
        _ => vec![],
    };
    take.into_iter()
        .filter(|p| is_plugin_file(p))
        .map(Path::to_path_buf)
        .collect()
}
