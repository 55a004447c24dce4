//! Hot loading: the watched plugins folder swaps versions in atomically, rejects bad
//! files with their reason while the previous version keeps serving, and forgets a
//! removed file. Waits are on the registry's change events, bounded in time.

use std::path::Path;
use std::time::Duration;

use sluice::registry::{Change, Plugins, Registry, watch};
use sluice_tests::{Harness, test_plugin};

/// Rename `bytes` into `dir` as `name`, the way `plugins install` does.
fn place(dir: &Path, name: &str, bytes: &[u8]) {
    let tmp = dir.join(format!(".{name}.part"));
    std::fs::write(&tmp, bytes).unwrap();
    std::fs::rename(&tmp, dir.join(name)).unwrap();
}

async fn next_change(rx: &mut tokio::sync::broadcast::Receiver<Change>) -> Change {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("the watcher reported a change within 20 s")
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watched_folder_loads_swaps_rejects_and_forgets_plugins() {
    let h = Harness::new().await;
    let dir = h.dir.path().join("watched");
    std::fs::create_dir_all(&dir).unwrap();
    let plugins = Plugins::new(&h.runtime, &dir, Registry::default());
    let mut changes = plugins.subscribe();
    let _watch = watch::watch(plugins.clone()).await.unwrap();
    let probe = test_plugin("probe");

    // A new file is loaded and serves.
    place(&dir, "probe.wasm", &probe);
    let c = next_change(&mut changes).await;
    assert_eq!(c.loaded.len(), 1, "{c:?}");
    let serving = plugins.get("probe").expect("probe serves");
    let sha = serving.plugin.sha256.clone();
    // A call holding the old snapshot keeps it whatever happens next.
    let held = plugins.snapshot();

    // Garbage over the same name: rejected with the reason, the old content serves.
    place(&dir, "probe.wasm", b"this is not wasm");
    let c = next_change(&mut changes).await;
    assert_eq!(c.rejected.len(), 1, "{c:?}");
    assert!(
        c.rejected[0].reason.contains("not a WebAssembly component"),
        "{}",
        c.rejected[0].reason
    );
    assert_eq!(plugins.get("probe").unwrap().plugin.sha256, sha);
    let listed = plugins.snapshot().rejected();
    assert!(
        listed.iter().any(|r| r.file == dir.join("probe.wasm")),
        "{listed:?}"
    );

    // A core module beside it: rejected as such.
    place(&dir, "core.wasm", b"\0asm\x01\0\0\0");
    let c = next_change(&mut changes).await;
    assert!(
        c.rejected
            .iter()
            .any(|r| r.reason.contains("this is a core wasm module")),
        "{c:?}"
    );

    // The same version again under another name is a duplicate, not a second version.
    place(&dir, "probe-copy.wasm", &probe);
    let c = next_change(&mut changes).await;
    assert!(
        c.rejected
            .iter()
            .any(|r| r.reason.contains("already loaded from")),
        "{c:?}"
    );

    // The good content back under the first name clears its rejection.
    place(&dir, "probe.wasm", &probe);
    std::fs::remove_file(dir.join("probe-copy.wasm")).unwrap();
    let mut removed_copy = false;
    while !removed_copy
        || plugins
            .snapshot()
            .rejected()
            .iter()
            .any(|r| r.file == dir.join("probe.wasm"))
    {
        let c = next_change(&mut changes).await;
        removed_copy |= c.removed.contains(&dir.join("probe-copy.wasm"));
    }

    // Removing the file unloads the connector; the held snapshot still has it.
    std::fs::remove_file(dir.join("probe.wasm")).unwrap();
    let c = next_change(&mut changes).await;
    assert_eq!(c.unavailable, ["probe"], "{c:?}");
    assert!(plugins.get("probe").is_none());
    assert_eq!(held.get("probe").unwrap().plugin.sha256, sha);
    let err = plugins.resolve("probe", None).unwrap_err();
    assert_eq!(err.code(), "connector-not-loaded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_still_being_written_is_not_loaded_until_it_is_closed() {
    let h = Harness::new().await;
    let dir = h.dir.path().join("watched");
    std::fs::create_dir_all(&dir).unwrap();
    let plugins = Plugins::new(&h.runtime, &dir, Registry::default());
    let mut changes = plugins.subscribe();
    let _watch = watch::watch(plugins.clone()).await.unwrap();
    let probe = test_plugin("probe");

    let mut f = std::fs::File::create(dir.join("probe.wasm")).unwrap();
    std::io::Write::write_all(&mut f, &probe[..probe.len() / 2]).unwrap();
    f.sync_all().unwrap();
    // Nothing is reported while the writer holds the file open.
    assert!(
        tokio::time::timeout(Duration::from_secs(2), changes.recv())
            .await
            .is_err(),
        "a half-written file produced a change"
    );
    assert!(plugins.snapshot().rejected().is_empty());
    std::io::Write::write_all(&mut f, &probe[probe.len() / 2..]).unwrap();
    drop(f);
    let c = next_change(&mut changes).await;
    assert_eq!(c.loaded.len(), 1, "{c:?}");
    assert!(c.rejected.is_empty(), "{c:?}");
}
