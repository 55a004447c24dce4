//! Plugin discovery: every `.wasm` in the plugins folder, compiled (through the
//! runtime's on-disk cache), validated, and indexed by connector id.
//!
//! A file that cannot be loaded is kept in [`Registry::rejected`] with its reason
//! instead of failing the whole folder: one bad plugin must not take the others down.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::model::{Millis, now_millis};
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

/// A file that was not loaded, and why.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Rejected {
    pub file: PathBuf,
    pub reason: String,
}

/// The loaded plugins, by connector id.
#[derive(Clone, Debug, Default)]
pub struct Registry {
    plugins: BTreeMap<String, PluginEntry>,
    rejected: Vec<Rejected>,
}

/// `MAJOR.MINOR.PATCH` as numbers, for choosing the newest of two files.
fn version_key(v: &str) -> Vec<u64> {
    v.split(['-', '+'])
        .next()
        .unwrap_or_default()
        .split('.')
        .map(|p| p.parse().unwrap_or(0))
        .collect()
}

impl Registry {
    /// The built-in connectors, then every `*.wasm` in `dir`; a file in `dir` replaces
    /// a built-in of the same id unless it is older.
    pub async fn load(runtime: &Runtime, dir: &Path) -> Registry {
        let mut reg = Registry::default();
        for (name, bytes) in BUILTIN {
            reg.load_bytes(runtime, Path::new(&format!("builtin:{name}")), bytes, true)
                .await;
        }
        reg.load_files(runtime, dir).await;
        reg
    }

    /// Only the `*.wasm` files in `dir` (a missing dir is an empty registry).
    pub async fn load_dir(runtime: &Runtime, dir: &Path) -> Registry {
        let mut reg = Registry::default();
        reg.load_files(runtime, dir).await;
        reg
    }

    async fn load_files(&mut self, runtime: &Runtime, dir: &Path) {
        let reg = self;
        let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
            Ok(rd) => rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => vec![],
            Err(e) => {
                reg.rejected.push(Rejected {
                    file: dir.to_path_buf(),
                    reason: format!("cannot read plugins dir: {e}"),
                });
                vec![]
            }
        };
        files.sort();
        for file in files {
            reg.load_file(runtime, &file).await;
        }
    }

    /// Load one file into the registry, recording a rejection on failure.
    pub async fn load_file(&mut self, runtime: &Runtime, file: &Path) -> Option<&PluginEntry> {
        let bytes = match std::fs::read(file) {
            Ok(b) => b,
            Err(e) => {
                self.reject(file, format!("cannot read: {e}"));
                return None;
            }
        };
        self.load_bytes(runtime, file, &bytes, false).await
    }

    async fn load_bytes(
        &mut self,
        runtime: &Runtime,
        file: &Path,
        bytes: &[u8],
        builtin: bool,
    ) -> Option<&PluginEntry> {
        let plugin = match runtime.load(bytes).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(file = %file.display(), "plugin rejected: {e}");
                self.reject(file, e.to_string());
                return None;
            }
        };
        let id = plugin.info.id.clone();
        if let Some(existing) = self.plugins.get(&id) {
            let (old, new) = (&existing.plugin.info.version, &plugin.info.version);
            let older = if existing.builtin {
                version_key(new) < version_key(old)
            } else {
                version_key(new) <= version_key(old)
            };
            if older {
                let reason = format!(
                    "connector `{id}` {new} is not newer than {old} already loaded from {}",
                    existing.file.display()
                );
                self.reject(file, reason);
                return None;
            }
            if !existing.builtin {
                let replaced = existing.file.clone();
                self.reject(
                    &replaced,
                    format!("superseded by {} ({new})", file.display()),
                );
            }
        }
        tracing::debug!(connector = %id, version = %plugin.info.version, file = %file.display(), "plugin loaded");
        self.plugins.insert(
            id.clone(),
            PluginEntry {
                plugin,
                file: file.to_path_buf(),
                builtin,
                loaded_at: now_millis(),
            },
        );
        self.plugins.get(&id)
    }

    fn reject(&mut self, file: &Path, reason: String) {
        self.rejected.push(Rejected {
            file: file.to_path_buf(),
            reason,
        });
    }

    pub fn get(&self, id: &str) -> Option<&PluginEntry> {
        self.plugins.get(id)
    }

    /// Loaded plugins, by id.
    pub fn plugins(&self) -> impl Iterator<Item = &PluginEntry> {
        self.plugins.values()
    }

    /// Files that were not loaded.
    pub fn rejected(&self) -> &[Rejected] {
        &self.rejected
    }

    /// Connector ids, for "unknown connector" errors.
    pub fn ids(&self) -> Vec<&str> {
        self.plugins.keys().map(String::as_str).collect()
    }
}
