//! The sandbox, proven from inside by the test-only `probe` guest
//! (`plugins/testing/probe`): egress policy, CPU deadline, memory cap, and no ambient
//! authority (files, environment, arguments, secrets).

use std::sync::Arc;
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

/// `offline("sleep")` sleeping `seconds`, sharing `from`'s session clock if given.
fn sleeping(seconds: f64, from: Option<&CallContext>) -> CallContext {
    let mut ctx = offline("sleep");
    let mut config = (*ctx.config).clone();
    config.insert("seconds".into(), seconds.to_string());
    ctx.config = Arc::new(config);
    if let Some(other) = from {
        ctx.blocked = other.blocked.clone();
    }
    ctx
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_blocked_in_a_wasi_sleep_is_stopped_at_the_blocked_time_limit() {
    // The wall-clock limit is far away: only the blocked-time limit can stop the sleep.
    let (_h, plugin) = probe(SandboxLimits {
        blocked_time: Duration::from_millis(300),
        wall_time: Duration::from_secs(120),
        ..Default::default()
    })
    .await;
    let started = Instant::now();
    let result = tokio::time::timeout(Duration::from_secs(20), plugin.check(sleeping(60.0, None)))
        .await
        .expect("the sleeping call was not stopped within 20 s");
    let err = result.unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Trap(m) if m.contains("blocked") && m.contains("call")),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );

    // A short sleep within the limit is not CPU time: it finishes, even past the CPU
    // budget, and the plugin keeps serving.
    let (_h, plugin) = probe(SandboxLimits {
        cpu_time: Duration::from_millis(200),
        blocked_time: Duration::from_secs(5),
        ..Default::default()
    })
    .await;
    let ok = plugin.check(sleeping(0.5, None)).await.unwrap();
    assert_eq!(ok.principal.as_deref(), Some("slept"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocked_time_is_also_bounded_across_the_calls_of_one_session() {
    let (_h, plugin) = probe(SandboxLimits {
        blocked_time: Duration::from_secs(2),
        session_blocked_time: Duration::from_millis(1500),
        ..Default::default()
    })
    .await;
    let first = sleeping(0.9, None);
    let ok = plugin.check(first.clone()).await.unwrap();
    assert_eq!(ok.principal.as_deref(), Some("slept"));
    assert!(first.blocked.blocked() >= Duration::from_millis(900));

    // Each call is within the per-call limit; together they are not.
    let err = plugin.check(sleeping(0.9, Some(&first))).await.unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Trap(m) if m.contains("blocked") && m.contains("session")),
        "{err}"
    );

    // Another session starts with its own budget.
    let ok = plugin.check(sleeping(0.9, None)).await.unwrap();
    assert_eq!(ok.principal.as_deref(), Some("slept"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_describe_that_sleeps_is_rejected_at_load_within_the_describe_limit() {
    let h = Harness::with_limits(SandboxLimits {
        describe_time: Duration::from_millis(500),
        ..Default::default()
    })
    .await;
    let started = Instant::now();
    let loaded = tokio::time::timeout(
        Duration::from_secs(20),
        h.runtime.load(&test_plugin("probe_sleepy_describe")),
    )
    .await
    .expect("loading the sleepy plugin was not stopped within 20 s");
    let Err(err) = loaded else {
        panic!("a describe() that sleeps is rejected")
    };
    assert!(err.to_string().contains("describe"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );

    // The next load of the same bytes (the next CLI command) does not wait again.
    let started = Instant::now();
    let Err(err) = h.runtime.load(&test_plugin("probe_sleepy_describe")).await else {
        panic!("still rejected")
    };
    assert!(err.to_string().contains("remembered"), "{err}");
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_on_http_is_not_cpu_time_even_when_the_answer_grows_guest_memory() {
    // Taking a 4 MiB answer makes the guest's allocator grow its memory: a host call
    // nested in the HTTP call. The wait around it must still not count as wasm time.
    let mock = sluice_mocks::EchoMock::start().await.unwrap();
    let (_h, plugin) = probe(SandboxLimits {
        cpu_time: Duration::from_millis(300),
        ..Default::default()
    })
    .await;
    let url = format!("{}/slow-big?ms=1200&bytes={}", mock.base_url(), 4 << 20);
    let ok = plugin
        .check(probe_call("egress", &url, &mock.base_url(), true))
        .await
        .unwrap();
    assert_eq!(ok.principal.as_deref(), Some("status:200"));
    // And twice in one call's worth of budget: the first wait is not carried over.
    let ok = plugin
        .check(probe_call("egress", &url, &mock.base_url(), true))
        .await
        .unwrap();
    assert_eq!(ok.principal.as_deref(), Some("status:200"));
}
