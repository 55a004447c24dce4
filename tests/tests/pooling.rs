//! The pooling allocator (the daemon's default): a call beyond the pool's slots waits
//! for a slot instead of failing to instantiate.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use sluice::capabilities::http::{HttpLimits, InstanceNet};
use sluice::model::ConnectorError;
use sluice::runtime::{CallContext, RuntimeConfig, SandboxLimits};
use sluice_tests::{Harness, test_plugin};

fn spin() -> CallContext {
    CallContext {
        instance_id: "probe-1".into(),
        instance_name: "probe".into(),
        config: Arc::new(BTreeMap::from([("mode".to_string(), "spin".to_string())])),
        net: Arc::new(InstanceNet {
            policy: Default::default(),
            credentials: Default::default(),
        }),
        granted_actions: Arc::from([]),
        since: None,
        page_size: 10,
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
