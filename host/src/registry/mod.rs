//! Plugins: every `.wasm` in the plugins folder plus the built-in connectors,
//! compiled (through the runtime's on-disk cache), validated, and indexed by connector
//! id and version.
//!
//! A [`Registry`] is an immutable snapshot; [`Plugins`] is the daemon's shared handle
//! to the current one. A change to the folder builds the next snapshot beside the
//! current one and swaps it in atomically, so a call that already resolved its plugin
//! finishes on that version while the next call sees the new one
//! (see [`watch`] for how changes are noticed).
//!
//! Rules, in the order they are applied to a file:
//! - A file that cannot be loaded (not wasm, not a component, an unsupported WIT
//!   version, `describe` trapping or malformed) is recorded in [`Registry::rejected`]
//!   with its reason; one bad file never takes the others down, and a rewritten file
//!   that fails keeps its previous content serving.
//! - Every version in the folder is kept, so instances pinned to an older version keep
//!   running; the newest version of a connector serves every other instance.
//! - While running, a file that arrives with a version older than the one serving its
//!   connector is rejected (roll back by pinning instead); a file with the same version
//!   as another file is rejected as a duplicate. Rewriting a file with the same version
//!   (a rebuild) replaces it. At start-up, files load oldest version first, so every
//!   version present is available.
//! - A file may override a built-in connector with the same or a newer version.

pub mod watch;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::model::{ConnectorError, Millis, now_millis};
use crate::runtime::{LoadedPlugin, Runtime};

/// First-party connectors compiled into the binary by `build.rs`: (name, component).
pub const BUILTIN: &[(&str, &[u8])] = include!(concat!(env!("OUT_DIR"), "/builtin_plugins.rs"));

/// Where the first-party and test-only guests were built (for tests and `just`).
pub const PLUGIN_BUILD_DIR: &str = env!("SLUICE_PLUGIN_BUILD_DIR");

/// A loaded plugin and where it came from.
#[derive(Clone, Debug)]
pub struct PluginEntry {
    pub plugin: LoadedPlugin,
    /// The `.wasm` file, or `builtin:NAME` for a connector compiled into the binary.
    pub file: PathBuf,
    pub builtin: bool,
    pub loaded_at: Millis,
}

impl PluginEntry {
    pub fn version(&self) -> &str {
        &self.plugin.info.version
    }
}

/// A file that was not loaded, and why.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Rejected {
    pub file: PathBuf,
    pub reason: String,
    /// When the file was last tried.
    #[serde(default)]
    pub at: Millis,
}

/// What one refresh changed, for whoever reacts to plugin changes (the daemon
/// reschedules the affected instances).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Change {
    /// (connector id, version, file) newly serving or available.
    pub loaded: Vec<(String, String, PathBuf)>,
    /// Files rejected by this refresh.
    pub rejected: Vec<Rejected>,
    /// Files whose versions were unloaded because the file is gone.
    pub removed: Vec<PathBuf>,
    /// Files whose rejection ended because the content serving was put back.
    pub cleared: Vec<PathBuf>,
    /// Connector ids with no version left.
    pub unavailable: Vec<String>,
    /// Every connector id whose set of versions changed.
    pub connectors: BTreeSet<String>,
}

impl Change {
    pub fn is_empty(&self) -> bool {
        self.loaded.is_empty()
            && self.rejected.is_empty()
            && self.removed.is_empty()
            && self.cleared.is_empty()
    }
}

/// A snapshot of the loaded plugins.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    /// Every loaded version of each connector, oldest first; the last one serves
    /// instances that are not pinned.
    connectors: BTreeMap<String, Vec<PluginEntry>>,
    /// Files not loaded, by file (a later attempt replaces the reason).
    rejected: BTreeMap<PathBuf, Rejected>,
}

/// `MAJOR.MINOR.PATCH` as numbers, for ordering versions.
pub fn version_key(v: &str) -> Vec<u64> {
    v.split(['-', '+'])
        .next()
        .unwrap_or_default()
        .split('.')
        .map(|p| p.parse().unwrap_or(0))
        .collect()
}

/// Whether `path` names a plugin file: `*.wasm`, not hidden (editors and
/// `plugins install` write hidden temporary files first).
pub fn is_plugin_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "wasm")
        && path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| !n.starts_with('.'))
}

/// The plugin files in `dir`, sorted (a missing dir has none).
fn plugin_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| is_plugin_file(p) && p.is_file())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => vec![],
        Err(e) => return Err(e),
    };
    files.sort();
    Ok(files)
}

/// A plugin file.
async fn load_plugin(runtime: &Runtime, bytes: Vec<u8>) -> Result<LoadedPlugin, String> {
    load_blocking(runtime, bytes, false).await
}

/// A built-in connector: its compiled form may live in the per-user shared cache.
async fn load_builtin(runtime: &Runtime, bytes: &'static [u8]) -> Result<LoadedPlugin, String> {
    load_blocking(runtime, bytes.to_vec(), true).await
}

/// Compile and describe on a blocking thread: a cold compile takes a few hundred
/// milliseconds of CPU, which must not stall the async workers serving scans and the
/// API.
async fn load_blocking(
    runtime: &Runtime,
    bytes: Vec<u8>,
    embedded: bool,
) -> Result<LoadedPlugin, String> {
    let runtime = runtime.clone();
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        handle.block_on(async {
            if embedded {
                runtime.load_embedded(&bytes).await
            } else {
                runtime.load(&bytes).await
            }
        })
    })
    .await
    .map_err(|e| format!("loading panicked: {e}"))?
    .map_err(|e| e.to_string())
}

impl Registry {
    /// The built-in connectors, then every plugin file in `dir`.
    pub async fn load(runtime: &Runtime, dir: &Path) -> Registry {
        Registry::load_some(runtime, dir, None).await
    }

    /// [`Registry::load`] with only the built-in connectors `only` names (all when
    /// `None`): a command about one connector compiles that one, not all of them (a
    /// fresh data dir has no compile cache yet). Plugin files in `dir` all load.
    pub async fn load_some(runtime: &Runtime, dir: &Path, only: Option<&[String]>) -> Registry {
        let mut reg = Registry::default();
        let wanted = |name: &str| only.is_none_or(|o| o.iter().any(|id| id == name));
        for (name, bytes) in BUILTIN.iter().filter(|(name, _)| wanted(name)) {
            let file = PathBuf::from(format!("builtin:{name}"));
            match load_builtin(runtime, bytes).await {
                Ok(plugin) => {
                    let entry = PluginEntry {
                        plugin,
                        file: file.clone(),
                        builtin: true,
                        loaded_at: now_millis(),
                    };
                    if let Err(reason) = reg.admit(entry, false) {
                        reg.reject(&file, reason);
                    }
                }
                Err(reason) => reg.reject(&file, reason),
            }
        }
        reg.load_files(runtime, dir).await;
        reg
    }

    /// Only the plugin files in `dir` (a missing dir is an empty registry).
    pub async fn load_dir(runtime: &Runtime, dir: &Path) -> Registry {
        let mut reg = Registry::default();
        reg.load_files(runtime, dir).await;
        reg
    }

    /// Load one more file into this registry (tests and tools; the daemon refreshes
    /// through [`Plugins`]). A failure is recorded in [`Registry::rejected`].
    pub async fn load_file(&mut self, runtime: &Runtime, file: &Path) -> Option<&PluginEntry> {
        let loaded = match std::fs::read(file) {
            Ok(bytes) => load_plugin(runtime, bytes).await,
            Err(e) => Err(format!("cannot read: {e}")),
        };
        let entry = match loaded {
            Ok(plugin) => PluginEntry {
                plugin,
                file: file.to_path_buf(),
                builtin: false,
                loaded_at: now_millis(),
            },
            Err(reason) => {
                self.reject(file, reason);
                return None;
            }
        };
        if let Err(reason) = self.admit(entry, false) {
            self.reject(file, reason);
            return None;
        }
        self.entry_from(file)
    }

    async fn load_files(&mut self, runtime: &Runtime, dir: &Path) {
        let files = match plugin_files(dir) {
            Ok(f) => f,
            Err(e) => {
                self.reject(dir, format!("cannot read plugins dir: {e}"));
                return;
            }
        };
        let mut loaded = Vec::new();
        for file in files {
            match std::fs::read(&file) {
                Ok(bytes) => match load_plugin(runtime, bytes).await {
                    Ok(plugin) => loaded.push(PluginEntry {
                        plugin,
                        file,
                        builtin: false,
                        loaded_at: now_millis(),
                    }),
                    Err(reason) => self.reject(&file, reason),
                },
                Err(e) => self.reject(&file, format!("cannot read: {e}")),
            }
        }
        // Oldest first, so every version present is admitted.
        loaded.sort_by_key(|e| version_key(e.version()));
        for entry in loaded {
            let file = entry.file.clone();
            if let Err(reason) = self.admit(entry, false) {
                self.reject(&file, reason);
            }
        }
        for r in self.rejected.values() {
            tracing::warn!(file = %r.file.display(), "plugin rejected: {}", r.reason);
        }
    }

    /// Add a loaded plugin under the module's rules. `arriving`: the file appeared or
    /// changed while running (downgrades are refused).
    fn admit(&mut self, entry: PluginEntry, arriving: bool) -> Result<(), String> {
        let id = entry.plugin.info.id.clone();
        let version = entry.version().to_string();
        let key = version_key(&version);
        let versions = self.connectors.entry(id.clone()).or_default();
        if let Some(twin) = versions
            .iter()
            .find(|e| !e.builtin && e.file != entry.file && version_key(e.version()) == key)
        {
            return Err(format!(
                "connector `{id}` {version} is already loaded from {}",
                twin.file.display()
            ));
        }
        if arriving
            && let Some(latest) = versions.last()
            && key < version_key(latest.version())
        {
            return Err(format!(
                "connector `{id}` {version} is older than {} already serving from {}; \
                 pin instances to a version to roll back",
                latest.version(),
                latest.file.display()
            ));
        }
        // The file's previous content, and a built-in of the same version, give way.
        versions
            .retain(|e| e.file != entry.file && !(e.builtin && version_key(e.version()) == key));
        tracing::info!(connector = %id, %version, file = %entry.file.display(), "plugin loaded");
        self.rejected.remove(&entry.file);
        versions.push(entry);
        versions.sort_by_key(|e| version_key(e.version()));
        Ok(())
    }

    fn reject(&mut self, file: &Path, reason: String) {
        tracing::warn!(file = %file.display(), "plugin rejected: {reason}");
        self.rejected.insert(
            file.to_path_buf(),
            Rejected {
                file: file.to_path_buf(),
                reason,
                at: now_millis(),
            },
        );
    }

    /// Drop every version loaded from `file` and its rejection; the ids left with
    /// no version.
    fn forget_file(&mut self, file: &Path) -> (bool, Vec<String>) {
        let mut had = self.rejected.remove(file).is_some();
        let mut gone = Vec::new();
        for (id, versions) in &mut self.connectors {
            let before = versions.len();
            versions.retain(|e| e.file != file);
            if versions.len() != before {
                had = true;
                if versions.is_empty() {
                    gone.push(id.clone());
                }
            }
        }
        self.connectors.retain(|_, v| !v.is_empty());
        (had, gone)
    }

    fn entry_from(&self, file: &Path) -> Option<&PluginEntry> {
        self.connectors.values().flatten().find(|e| e.file == file)
    }

    /// The version serving unpinned instances of connector `id`.
    pub fn get(&self, id: &str) -> Option<&PluginEntry> {
        self.connectors.get(id).and_then(|v| v.last())
    }

    /// One loaded version of connector `id`.
    pub fn version(&self, id: &str, version: &str) -> Option<&PluginEntry> {
        let key = version_key(version);
        self.connectors
            .get(id)?
            .iter()
            .find(|e| version_key(e.version()) == key)
    }

    /// The plugin an instance's calls go to: its pinned version, else the newest.
    pub fn resolve(
        &self,
        connector: &str,
        pin: Option<&str>,
    ) -> Result<&PluginEntry, ConnectorError> {
        let found = match pin {
            Some(v) => self.version(connector, v),
            None => self.get(connector),
        };
        found.ok_or_else(|| {
            let loaded: Vec<&str> = self
                .connectors
                .get(connector)
                .map(|v| v.iter().map(|e| e.version()).collect())
                .unwrap_or_default();
            ConnectorError::NotLoaded(match (pin, loaded.is_empty()) {
                (_, true) => format!("connector `{connector}` is not loaded"),
                (Some(v), false) => format!(
                    "connector `{connector}` {v} (pinned) is not loaded; loaded: {}",
                    loaded.join(", ")
                ),
                (None, false) => unreachable!("a connector with versions has a newest"),
            })
        })
    }

    /// The serving version of each connector, by id.
    pub fn plugins(&self) -> impl Iterator<Item = &PluginEntry> {
        self.connectors.values().filter_map(|v| v.last())
    }

    /// Every loaded version of every connector, by id then version.
    pub fn all_versions(&self) -> impl Iterator<Item = (&PluginEntry, bool)> {
        self.connectors.values().flat_map(|v| {
            v.iter()
                .enumerate()
                .map(move |(i, e)| (e, i + 1 == v.len()))
        })
    }

    /// Files that were not loaded.
    pub fn rejected(&self) -> Vec<Rejected> {
        self.rejected.values().cloned().collect()
    }

    /// Connector ids, for "unknown connector" errors.
    pub fn ids(&self) -> Vec<&str> {
        self.connectors.keys().map(String::as_str).collect()
    }
}

/// The daemon's current [`Registry`], swapped as the plugins folder changes. Cheap to
/// clone; every clone sees the same registry.
#[derive(Clone)]
pub struct Plugins {
    shared: Arc<Shared>,
}

struct Shared {
    current: ArcSwap<Registry>,
    runtime: Runtime,
    dir: PathBuf,
    /// One refresh at a time: each builds on the registry the previous one left.
    updating: tokio::sync::Mutex<()>,
    changes: tokio::sync::broadcast::Sender<Change>,
}

impl std::fmt::Debug for Plugins {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugins")
            .field("dir", &self.shared.dir)
            .field("connectors", &self.snapshot().ids())
            .finish()
    }
}

impl Plugins {
    /// Built-ins and the files in `dir`.
    pub async fn load(runtime: &Runtime, dir: &Path) -> Plugins {
        Plugins::load_some(runtime, dir, None).await
    }

    /// [`Plugins::load`] with only the built-in connectors `only` names (see
    /// [`Registry::load_some`]).
    pub async fn load_some(runtime: &Runtime, dir: &Path, only: Option<&[String]>) -> Plugins {
        let registry = Registry::load_some(runtime, dir, only).await;
        Plugins::new(runtime, dir, registry)
    }

    /// Serve `registry`; later refreshes read `dir`.
    pub fn new(runtime: &Runtime, dir: &Path, registry: Registry) -> Plugins {
        Plugins {
            shared: Arc::new(Shared {
                current: ArcSwap::from_pointee(registry),
                runtime: runtime.clone(),
                dir: dir.to_path_buf(),
                updating: tokio::sync::Mutex::new(()),
                changes: tokio::sync::broadcast::channel(64).0,
            }),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// The registry as it is now; later swaps do not change it.
    pub fn snapshot(&self) -> Arc<Registry> {
        self.shared.current.load_full()
    }

    /// The serving version of connector `id`.
    pub fn get(&self, id: &str) -> Option<PluginEntry> {
        self.shared.current.load().get(id).cloned()
    }

    /// The plugin for an instance of `connector`, pinned or newest.
    pub fn resolve(
        &self,
        connector: &str,
        pin: Option<&str>,
    ) -> Result<PluginEntry, ConnectorError> {
        self.shared.current.load().resolve(connector, pin).cloned()
    }

    /// Every refresh that changed something, from now on.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Change> {
        self.shared.changes.subscribe()
    }

    /// Re-read the whole folder: files that appeared, changed or went away.
    pub async fn rescan(&self) -> Change {
        let mut paths: BTreeSet<PathBuf> = plugin_files(&self.shared.dir)
            .unwrap_or_default()
            .into_iter()
            .collect();
        let current = self.snapshot();
        paths.extend(
            current
                .connectors
                .values()
                .flatten()
                .filter(|e| !e.builtin)
                .map(|e| e.file.clone()),
        );
        paths.extend(
            current
                .rejected
                .keys()
                .filter(|p| is_plugin_file(p))
                .cloned(),
        );
        self.refresh(paths).await
    }

    /// Bring these files' state up to date: load what exists (skipping content already
    /// loaded), forget what is gone, then swap the result in.
    pub async fn refresh(&self, paths: impl IntoIterator<Item = PathBuf>) -> Change {
        let _one_at_a_time = self.shared.updating.lock().await;
        let mut next: Registry = (*self.snapshot()).clone();
        let mut change = Change::default();
        for path in paths {
            if !is_plugin_file(&path) {
                continue;
            }
            let bytes = match std::fs::read(&path) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    let (had, gone) = next.forget_file(&path);
                    if had {
                        tracing::info!(file = %path.display(), "plugin file removed");
                        for id in &gone {
                            change.connectors.insert(id.clone());
                        }
                        change.removed.push(path);
                        change.unavailable.extend(gone);
                    }
                    continue;
                }
                Err(e) => {
                    next.reject(&path, format!("cannot read: {e}"));
                    change.rejected.push(next.rejected[&path].clone());
                    continue;
                }
            };
            let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
            if next
                .entry_from(&path)
                .is_some_and(|e| e.plugin.sha256 == sha)
            {
                // Touched, or the content already serving put back after a bad write.
                if next.rejected.remove(&path).is_some() {
                    change.cleared.push(path);
                }
                continue;
            }
            let result = match load_plugin(&self.shared.runtime, bytes).await {
                Ok(plugin) => {
                    let entry = PluginEntry {
                        plugin,
                        file: path.clone(),
                        builtin: false,
                        loaded_at: now_millis(),
                    };
                    let (id, version) = (entry.plugin.info.id.clone(), entry.version().to_string());
                    next.admit(entry, true).map(|()| (id, version))
                }
                Err(reason) => Err(reason),
            };
            match result {
                Ok((id, version)) => {
                    change.connectors.insert(id.clone());
                    change.loaded.push((id, version, path));
                }
                Err(reason) => {
                    next.reject(&path, reason);
                    change.rejected.push(next.rejected[&path].clone());
                }
            }
        }
        // Whatever lost its last version and got one back in the same refresh is fine.
        change.unavailable.retain(|id| next.get(id).is_none());
        if !change.is_empty() {
            self.shared.current.store(Arc::new(next));
            let _ = self.shared.changes.send(change.clone());
        }
        change
    }
}
