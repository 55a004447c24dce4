//! The sandbox, proven from inside by the test-only `probe` guest
//! (`plugins/testing/probe`): egress policy, CPU deadline, memory cap, and no ambient
//! authority (files, environment, arguments, secrets).

use std::time::{Duration, Instant};

use sluice::model::ConnectorError;
use sluice::runtime::{CallContext, LoadedPlugin, SandboxLimits};
use sluice_mocks::{GithubMock, GithubMockConfig};
use sluice_tests::{Harness, probe_call, test_plugin};

async fn probe(limits: SandboxLimits) -> (Harness, LoadedPlugin) {
    let h = Harness::with_limits(limits).await;
    let plugin = h
        .runtime
        .load(&test_plugin("probe"))
        .await
        .expect("probe loads");
    (h, plugin)
}

/// A context for the modes that make no request (egress allows a dummy host).
fn offline(mode: &str) -> CallContext {
    probe_call(mode, "https://x.example", "https://x.example", false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn egress_outside_the_allowlist_or_to_private_addresses_is_denied() {
    let mock = GithubMock::start(GithubMockConfig::default())
        .await
        .unwrap();
    let (_h, plugin) = probe(SandboxLimits::default()).await;
    let target = format!("{}/user", mock.base_url());

    // Allowed host, private networks allowed: the request goes out.
    let ok = plugin
        .check(probe_call("egress", &target, &mock.base_url(), true))
        .await
        .unwrap();
    assert_eq!(
        ok.principal.as_deref(),
        Some("status:401"),
        "no credentials were injected"
    );
    assert_eq!(mock.requests().len(), 1);

    // Not in the allowlist.
    let err = plugin
        .check(probe_call(
            "egress",
            &target,
            "https://api.github.com",
            true,
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Other(m) if m.starts_with("denied:") && m.contains("allowlist")),
        "{err}"
    );

    // In the allowlist, but loopback without the operator's consent.
    let err = plugin
        .check(probe_call("egress", &target, &mock.base_url(), false))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Other(m) if m.contains("--allow-private-network")),
        "{err}"
    );
    assert_eq!(
        mock.requests().len(),
        1,
        "denied requests never left the host"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_infinite_loop_is_stopped_by_the_deadline_and_the_host_keeps_serving() {
    let (_h, plugin) = probe(SandboxLimits {
        cpu_time: Duration::from_millis(300),
        ..Default::default()
    })
    .await;
    let started = Instant::now();
    let err = plugin.check(offline("spin")).await.unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Trap(m) if m.contains("CPU time")),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    // The same plugin serves the next call.
    let info = plugin.describe().await.unwrap();
    assert_eq!(info.id, "probe");
    let seen = plugin.check(offline("fs-env")).await.unwrap();
    assert!(!seen.granted.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbounded_allocation_hits_the_memory_cap() {
    let (_h, plugin) = probe(SandboxLimits {
        memory_bytes: 64 << 20,
        ..Default::default()
    })
    .await;
    let err = plugin.check(offline("alloc")).await.unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Trap(m) if m.contains("memory cap"))
            || matches!(&err, ConnectorError::Other(m) if m == "alloc-failed"),
        "{err}"
    );
    assert_eq!(plugin.describe().await.unwrap().id, "probe");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_environment_arguments_and_secrets_are_out_of_reach() {
    // The test process has an environment; the guest must see none of it.
    assert!(std::env::vars().count() > 0);
    let (_h, plugin) = probe(SandboxLimits::default()).await;
    let seen = plugin.check(offline("fs-env")).await.unwrap();
    assert_eq!(
        seen.granted,
        ["read_dir:err", "read:err", "env:0", "args:0"]
    );

    let secret = plugin.check(offline("secret")).await.unwrap();
    assert_eq!(secret.principal.as_deref(), Some("none"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trap_fails_only_that_call() {
    let (_h, plugin) = probe(SandboxLimits::default()).await;
    let err = plugin.check(offline("trap")).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Trap(_)), "{err}");
    assert_eq!(plugin.describe().await.unwrap().id, "probe");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compiled_components_are_cached_by_content_hash_and_wasmtime_version() {
    let (h, plugin) = probe(SandboxLimits::default()).await;
    let cache = h.dir.path().join("cache");
    let entries: Vec<String> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let name = format!(
        "{}-wasmtime{}-",
        plugin.sha256,
        sluice::runtime::WASMTIME_VERSION
    );
    let entry = entries
        .iter()
        .find(|n| n.starts_with(&name) && n.ends_with(".cwasm"))
        .unwrap_or_else(|| panic!("no cache entry for the probe in {entries:?}"));
    // A second load is served from the cache: the entry is not rewritten.
    let before = std::fs::metadata(cache.join(entry))
        .unwrap()
        .modified()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    h.runtime.load(&test_plugin("probe")).await.unwrap();
    let after = std::fs::metadata(cache.join(entry))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(before, after, "a cached component was recompiled");
    // A corrupt entry is noticed and replaced by a fresh compile.
    std::fs::write(cache.join(entry), b"not a compiled component").unwrap();
    let again = h.runtime.load(&test_plugin("probe")).await.unwrap();
    assert_eq!(again.sha256, plugin.sha256);
    let rewritten = std::fs::read(cache.join(entry)).unwrap();
    assert_ne!(
        rewritten, b"not a compiled component",
        "the cache entry was rewritten"
    );
}
