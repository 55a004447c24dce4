//! The pooling allocator (the daemon's default): a call beyond the pool's slots waits
//! for a slot instead of failing to instantiate, one connector cannot take the whole
//! pool, and no component takes more of it per instance than its share.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sluice::capabilities::egress::EgressPolicy;
use sluice::capabilities::http::{HttpLimits, InstanceNet};
use sluice::model::ConnectorError;
use sluice::runtime::{CallContext, POOL_MEMORIES_PER_INSTANCE, RuntimeConfig, SandboxLimits};
use sluice_tests::{Harness, test_plugin, with_extra_memories};

fn spin() -> CallContext {
    CallContext {
        instance_id: "probe-1".into(),
        instance_name: "probe".into(),
        config: Arc::new(BTreeMap::from([("mode".to_string(), "spin".to_string())])),
        net: Arc::default(),
        granted_actions: Arc::from([]),
        since: None,
        page_size: 10,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_beyond_the_pool_wait_for_a_slot_instead_of_failing() {
    let h = Harness::with_runtime(
        RuntimeConfig {
            limits: SandboxLimits {
                cpu_time: Duration::from_millis(150),
                ..Default::default()
            },
            pooling_slots: Some(1),
            ..Default::default()
        },
        HttpLimits::default(),
    )
    .await;
    let plugin = h
        .runtime
        .load(&test_plugin("probe"))
        .await
        .expect("probe loads");

    // Each call holds the only slot until its CPU budget stops it.
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..3 {
        let plugin = plugin.clone();
        calls.spawn(async move { plugin.check(spin()).await });
    }
    let mut ended = 0;
    while let Some(result) = calls.join_next().await {
        let err = result.unwrap().unwrap_err();
        assert!(
            matches!(&err, ConnectorError::Trap(m) if m.contains("CPU time")),
            "every call ran (and was stopped by its budget), none failed for want of a slot: {err}"
        );
        ended += 1;
    }
    assert_eq!(ended, 3);
    // The pool is free again afterwards.
    assert!(plugin.describe().await.is_ok());
}

/// A probe call that GETs `url` for instance `n`.
fn fetching(url: &str, n: usize) -> CallContext {
    let config = BTreeMap::from([
        ("mode".to_string(), "egress".to_string()),
        ("url".to_string(), url.to_string()),
    ]);
    CallContext {
        instance_id: format!("probe-{n}"),
        instance_name: format!("probe-{n}"),
        net: Arc::new(InstanceNet {
            policy: EgressPolicy::from_templates(&["{url}".into()], &config, true).unwrap(),
            ..Default::default()
        }),
        config: Arc::new(config),
        granted_actions: Arc::from([]),
        since: None,
        page_size: 10,
        ..Default::default()
    }
}

/// Calls that block (here on a provider that never answers) hold their pool slot
/// until they end; one connector's calls may hold only its share, so every other
/// connector is still served meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connector_whose_calls_block_cannot_take_the_whole_pool() {
    let h = Harness::with_runtime(
        RuntimeConfig {
            limits: SandboxLimits {
                wall_time: Duration::from_secs(6),
                ..Default::default()
            },
            pooling_slots: Some(4),
            ..Default::default()
        },
        HttpLimits::default(),
    )
    .await;
    let probe = h.runtime.load(&test_plugin("probe")).await.unwrap();
    let other = h.runtime.load(&test_plugin("misbehave")).await.unwrap();

    // A provider that accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    let _provider = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(conn);
        }
    });

    let mut calls = tokio::task::JoinSet::new();
    for n in 0..4 {
        let (probe, ctx) = (probe.clone(), fetching(&url, n));
        calls.spawn(async move { probe.check(ctx).await });
    }
    // Bounded wait until the probe's share of calls is blocked at the provider.
    let deadline = Instant::now() + Duration::from_secs(5);
    while accepted.load(Ordering::SeqCst) < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 2);

    let info = tokio::time::timeout(Duration::from_secs(3), other.describe())
        .await
        .expect("another connector's call is admitted while the probe's block")
        .unwrap();
    assert_eq!(info.id, "misbehave");
    assert!(
        calls.try_join_next().is_none(),
        "the probe's calls still block"
    );
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        2,
        "only the probe's share (half the pool) was admitted"
    );
    // The rest waited in line and ran; none failed for want of a slot.
    while let Some(result) = calls.join_next().await {
        let err = result.unwrap().unwrap_err();
        assert!(
            matches!(&err, ConnectorError::Trap(m) if m.contains("wall-clock")),
            "{err}"
        );
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 4);
}

/// Each instance gets a bounded number of the pool's memories: a component with more
/// is refused at load with a clear reason, one within the bound loads and runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_component_with_more_memories_than_an_instance_gets_is_refused_at_load() {
    let h = Harness::with_runtime(
        RuntimeConfig {
            pooling_slots: Some(2),
            ..Default::default()
        },
        HttpLimits::default(),
    )
    .await;
    let probe = test_plugin("probe");
    let greedy = with_extra_memories(&probe, POOL_MEMORIES_PER_INSTANCE);
    let err = h.runtime.load(&greedy).await.unwrap_err().to_string();
    assert!(
        err.contains("linear memories") && err.contains(&POOL_MEMORIES_PER_INSTANCE.to_string()),
        "{err}"
    );

    let modest = h
        .runtime
        .load(&with_extra_memories(&probe, 1))
        .await
        .unwrap();
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let modest = modest.clone();
        calls.spawn(async move { modest.describe().await });
    }
    while let Some(result) = calls.join_next().await {
        assert_eq!(result.unwrap().unwrap().id, "probe");
    }
}
