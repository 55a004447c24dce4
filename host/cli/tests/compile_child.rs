//! Compiling in a child process (`sluice compile-component`), as the daemon does: the
//! child writes the compile cache and the parent loads from it; if the child cannot
//! run, the parent compiles itself and bad input gets the same error either way.
//!
//! Here (not in `tests/`) because only the host package's own integration tests get
//! the binary's path from cargo (`CARGO_BIN_EXE_sluice`).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use sluice::capabilities::http::{HttpClient, HttpLimits, Outbound};
use sluice::registry::BUILTIN;
use sluice::runtime::{Runtime, RuntimeConfig};

fn github() -> &'static [u8] {
    BUILTIN
        .iter()
        .find(|(name, _)| *name == "github")
        .map(|(_, b)| *b)
        .expect("the built-in github plugin")
}

fn runtime(cache: &Path, child: Option<PathBuf>) -> Runtime {
    Runtime::new(
        RuntimeConfig {
            cache_dir: Some(cache.to_path_buf()),
            pooling_slots: Some(4),
            compile_in_child: child,
            ..Default::default()
        },
        HttpClient::new(HttpLimits::default(), Outbound::new(&Default::default())).unwrap(),
    )
    .unwrap()
}

/// A wrapper around the real binary that notes each run and its exit status in `log`
/// and dumps the environment it was given to `child.env`, beside `log`.
fn logging_child(dir: &Path) -> (PathBuf, PathBuf) {
    let log = dir.join("child.log");
    let script = dir.join("sluice-child");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n/usr/bin/env > '{env}'\n'{bin}' \"$@\"\nstatus=$?\n\
             echo \"$1 exit $status\" >> '{log}'\nexit $status\n",
            env = dir.join("child.env").display(),
            bin = env!("CARGO_BIN_EXE_sluice"),
            log = log.display(),
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (script, log)
}

fn cache_files(cache: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(cache)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default()
}

/// Loads the GitHub plugin through [`logging_child`] into `dir/cache` and checks that
/// the child ran once and succeeded: the parent did not fall back to compiling (which
/// writes the same cache entry). Returns the runtime, the cache dir and the child's log.
async fn load_through_child(dir: &Path) -> (Runtime, PathBuf, PathBuf) {
    let cache = dir.join("cache");
    let (child, log) = logging_child(dir);
    let rt = runtime(&cache, Some(child));
    let plugin = rt.load(github()).await.expect("loads through the child");
    assert_eq!(plugin.info.id, "github");
    assert_eq!(
        std::fs::read_to_string(&log).unwrap().trim(),
        "compile-component exit 0",
        "the child ran once, successfully"
    );
    (rt, cache, log)
}

#[tokio::test]
async fn the_child_compiles_into_the_cache_and_the_parent_loads_it() {
    let dir = tempfile::tempdir().unwrap();
    let (rt, cache, log) = load_through_child(dir.path()).await;
    let files = cache_files(&cache);
    assert_eq!(files.len(), 1, "one cache entry: {files:?}");
    assert!(files[0].to_string_lossy().ends_with(".cwasm"));
    // The instance works: the describe above ran, and a second load is a cache hit
    // that does not run the child again.
    rt.load(github()).await.expect("cached load");
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 1);
}

#[tokio::test]
async fn a_child_that_cannot_run_leaves_compiling_to_the_parent() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let rt = runtime(&cache, Some(dir.path().join("no-such-binary")));
    let plugin = rt.load(github()).await.expect("compiled in process");
    assert_eq!(plugin.info.id, "github");
    assert_eq!(cache_files(&cache).len(), 1, "the parent wrote the cache");
}

#[tokio::test]
async fn a_child_with_other_engine_settings_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.cwasm");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["compile-component", "--memory-bytes", "1048576"])
        .args(["--engine-hash", "0000000000000000", "--out"])
        .arg(&out)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!status.status.success());
    assert!(
        String::from_utf8_lossy(&status.stderr).contains("engine settings differ"),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    assert!(!out.exists(), "nothing written");
}

async fn refusal(rt: &Runtime, bytes: &[u8]) -> String {
    rt.load(bytes).await.expect_err("refused").to_string()
}

#[tokio::test]
async fn bad_input_fails_with_the_same_error_through_the_child() {
    let dir = tempfile::tempdir().unwrap();
    let (child, _log) = logging_child(dir.path());
    let with_child = runtime(&dir.path().join("a"), Some(child));
    let in_process = runtime(&dir.path().join("b"), None);
    // A core module, not a component: the preamble check names the mistake.
    let core = b"\0asm\x01\0\0\0";
    assert_eq!(
        refusal(&with_child, core).await,
        refusal(&in_process, core).await
    );
    // A component header with garbage after it: the compiler's error, same either way.
    let broken = b"\0asm\x0d\0\x01\0garbage";
    assert_eq!(
        refusal(&with_child, broken).await,
        refusal(&in_process, broken).await
    );
    assert!(cache_files(&dir.path().join("a")).is_empty());
}

/// A compile runs beside the async runtime, not on it: on a single-threaded runtime
/// another task gets to run while the component is still being compiled (its cache
/// entry not written yet). Compiling on the worker itself would hold that task back
/// until the compile had finished.
#[tokio::test(flavor = "current_thread")]
async fn other_tasks_run_while_a_component_compiles() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let rt = runtime(&cache, None);
    let watched = cache.clone();
    let seen_during_compile = tokio::spawn(async move { cache_files(&watched).is_empty() });
    let plugin = rt.load(github()).await.expect("compiles and loads");
    assert_eq!(plugin.info.id, "github");
    assert_eq!(cache_files(&cache).len(), 1, "the compile wrote its entry");
    assert!(
        seen_during_compile.await.unwrap(),
        "the other task only ran after the compile had finished"
    );
}

/// The child compiles untrusted bytes, so it gets none of the daemon's environment
/// (which may hold `SLUICE_TOKEN` or provider tokens): only the `RUST_LOG` it is given.
/// And it still works without: no HOME, no PATH.
#[tokio::test]
async fn the_child_gets_none_of_the_daemons_environment() {
    let dir = tempfile::tempdir().unwrap();
    load_through_child(dir.path()).await;
    let seen = std::fs::read_to_string(dir.path().join("child.env")).expect("the child ran");
    let names: Vec<&str> = seen
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(n, _)| n)
        .collect();
    assert!(names.contains(&"RUST_LOG"), "{seen}");
    // What the shell sets for itself is not inherited.
    let own = ["RUST_LOG", "PWD", "OLDPWD", "SHLVL", "_"];
    let parent: Vec<String> = std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| !own.contains(&k.as_str()))
        .collect();
    assert!(
        !parent.is_empty(),
        "the test process has an environment to leak"
    );
    let leaked: Vec<&String> = parent
        .iter()
        .filter(|k| names.contains(&k.as_str()))
        .collect();
    assert!(leaked.is_empty(), "inherited by the child: {leaked:?}");
}
