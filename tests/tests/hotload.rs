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
    // What serves is the complete file, never the half seen earlier.
    let complete = h.runtime.load(&probe).await.unwrap();
    assert_eq!(plugins.get("probe").unwrap().plugin.sha256, complete.sha256);
}

// ---- versions, grants and approval through the daemon --------------------------------

mod daemon_versions {
    use std::path::{Path, PathBuf};

    use serde_json::{Value, json};
    use sluice::registry::PLUGIN_BUILD_DIR;
    use sluice_mocks::StepperMock;
    use sluice_tests::daemon::{TestDaemon, WAIT};

    use super::{next_change, place};

    fn stepper(file: &str) -> Vec<u8> {
        let path = PathBuf::from(PLUGIN_BUILD_DIR).join(file);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// A daemon whose plugins folder holds stepper 0.1.0.
    async fn daemon_with_stepper(data_dir: &Path) -> TestDaemon {
        let plugins = data_dir.join("plugins");
        std::fs::create_dir_all(&plugins).unwrap();
        place(&plugins, "stepper.wasm", &stepper("stepper.wasm"));
        TestDaemon::start(data_dir).await
    }

    async fn connect(d: &TestDaemon, mock: &StepperMock, name: &str, grants: Value) -> Value {
        let (status, body) = d
            .api(
                "POST",
                "/v1/instances",
                Some(json!({
                    "connector": "stepper",
                    "name": name,
                    "config": { "base_url": mock.base_url() },
                    "allow_private_network": true,
                    "grants": grants,
                })),
            )
            .await;
        assert_eq!(status, 201, "connect: {body}");
        body
    }

    /// The `display_name` of every stored user: `stepper VERSION` of the version that
    /// listed it.
    async fn listed_by(d: &TestDaemon, name: &str) -> Vec<String> {
        let (status, body) = d
            .api(
                "GET",
                &format!("/v1/instances/{name}/users?limit=100"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["record"]["display_name"].as_str().unwrap().to_string())
            .collect()
    }

    async fn scan_users(d: &TestDaemon, name: &str) -> (u16, Value) {
        d.api(
            "POST",
            &format!("/v1/instances/{name}/scan"),
            Some(json!({ "kinds": ["users"], "wait": true })),
        )
        .await
    }

    fn no_failed_scans(detail: &Value) {
        for run in detail["recent_scans"].as_array().unwrap() {
            assert!(run["error"].is_null(), "a scan failed: {run}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_version_dropped_mid_scan_lets_that_scan_finish_and_serves_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let d = daemon_with_stepper(dir.path()).await;
        let mock = StepperMock::start(3).await.unwrap();
        let mut held = mock.hold_page(2);
        // 0.2.0 asks for one more host and action: granted ahead, so no approval wait.
        connect(
            &d,
            &mock,
            "steps",
            json!({
                "egress": [mock.base_url(), "https://audit.stepper.test/"],
                "actions": ["suspend-user", "revoke-app-permission"],
            }),
        )
        .await;
        // The connect flow's users scan has committed page 1 and waits on page 2.
        held.reached(WAIT).await;

        let mut changes = d.daemon.control.registry.subscribe();
        place(
            &dir.path().join("plugins"),
            "stepper-next.wasm",
            &stepper("stepper_next.wasm"),
        );
        let c = next_change(&mut changes).await;
        assert_eq!(c.loaded.len(), 1, "{c:?}");
        assert_eq!(
            d.daemon.control.registry.get("stepper").unwrap().version(),
            "0.2.0"
        );

        held.release();
        let detail = d.wait_scanned("steps").await;
        no_failed_scans(&detail);
        let users = listed_by(&d, "steps").await;
        assert_eq!(users.len(), mock.users());
        assert!(
            users.iter().all(|u| u == "stepper 0.1.0"),
            "the scan in flight finished on the version it started with: {users:?}"
        );

        let (status, out) = scan_users(&d, "steps").await;
        assert_eq!(status, 200, "{out}");
        assert!(out["reports"][0]["error"].is_null(), "{out}");
        let users = listed_by(&d, "steps").await;
        assert_eq!(users.len(), mock.users());
        assert!(
            users.iter().all(|u| u == "stepper 0.2.0"),
            "the next scan runs the new version: {users:?}"
        );
        let (_, detail) = d.api("GET", "/v1/instances/steps", None).await;
        no_failed_scans(&detail);
        d.daemon.shutdown().await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_version_asking_for_more_waits_for_approval_then_runs() {
        let dir = tempfile::tempdir().unwrap();
        let d = daemon_with_stepper(dir.path()).await;
        let mock = StepperMock::start(2).await.unwrap();
        connect(
            &d,
            &mock,
            "steps",
            json!({ "egress": "all", "actions": "all" }),
        )
        .await;
        d.wait_scanned("steps").await;

        let mut changes = d.daemon.control.registry.subscribe();
        place(
            &dir.path().join("plugins"),
            "stepper-next.wasm",
            &stepper("stepper_next.wasm"),
        );
        next_change(&mut changes).await;
        let detail = d
            .wait_until("steps", |i| {
                i["instance"]["status"]["state"] == "needs-approval"
            })
            .await;
        let status = &detail["instance"]["status"];
        assert_eq!(status["version"], "0.2.0");
        assert_eq!(status["egress"], json!(["https://audit.stepper.test/"]));
        assert_eq!(status["actions"], json!(["revoke-app-permission"]));
        let (_, list) = d.api("GET", "/v1/instances", None).await;
        assert_eq!(list[0]["instance"]["status"]["state"], "needs-approval");

        // Not scanned on the new version until approved.
        mock.clear_requests();
        let (code, body) = scan_users(&d, "steps").await;
        assert_eq!(code, 409, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("instances approve steps"),
            "{body}"
        );
        assert!(mock.requests().is_empty(), "{:?}", mock.requests());
        assert!(
            listed_by(&d, "steps")
                .await
                .iter()
                .all(|u| u == "stepper 0.1.0")
        );

        let (code, approved) = d.api("POST", "/v1/instances/steps/approve", None).await;
        assert_eq!(code, 200, "{approved}");
        assert!(
            approved["grants"]["egress"]
                .as_array()
                .unwrap()
                .contains(&json!("https://audit.stepper.test/")),
            "{approved}"
        );
        assert_ne!(approved["status"]["state"], "needs-approval");
        let (code, out) = scan_users(&d, "steps").await;
        assert_eq!(code, 200, "{out}");
        assert!(out["reports"][0]["error"].is_null(), "{out}");
        assert!(
            listed_by(&d, "steps")
                .await
                .iter()
                .all(|u| u == "stepper 0.2.0")
        );
        d.daemon.shutdown().await.unwrap();
    }
}
