//! Rate limits and provider faults end to end: wasm connector → http capability
//! (limiter, retries) → mock GitHub on loopback → store.
//!
//! The sliding-window and utilisation guarantees are proven under paused time in
//! `host/src/ratelimit/tests.rs`; these tests show the same machinery holding against a
//! real HTTP provider, with short real timeouts.

use std::collections::BTreeSet;
use std::time::Duration;

use sluice::capabilities::http::HttpLimits;
use sluice::model::{ConnectorError, Kind};
use sluice::ratelimit::{Budget, InstanceLimitConfig, RetryPolicy};
use sluice::store::InstanceStatus;
use sluice_mocks::{Faults, GithubMock, GithubMockConfig};
use sluice_tests::Harness;
use sluice_tests::daemon::{TestDaemon, WAIT};

const TOKEN: &str = "ghp_limits";

fn fast_http() -> HttpLimits {
    HttpLimits {
        timeout: Duration::from_millis(700),
        retry: RetryPolicy {
            max_attempts: 4,
            base: Duration::from_millis(20),
            cap: Duration::from_millis(200),
            max_wait: Duration::from_secs(10),
        },
        ..Default::default()
    }
}

async fn mock(audit_events: usize) -> GithubMock {
    GithubMock::start(GithubMockConfig {
        token: TOKEN.into(),
        audit_events,
        ..Default::default()
    })
    .await
    .unwrap()
}

/// The instance's limiter counters in the harness's process.
fn stats(h: &Harness, inst: &sluice::store::Instance) -> sluice::ratelimit::LimitStats {
    h.runtime
        .http()
        .outbound()
        .limits
        .instance_state(&inst.id)
        .expect("the instance made requests")
        .stats
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_budget_is_never_exceeded_against_a_real_provider() {
    let m = mock(900).await;
    let h = Harness::with_http(fast_http()).await;
    let (inst, _) = h.connect_github(&m, "acme", TOKEN).await.unwrap();
    let limits = InstanceLimitConfig {
        budgets: [(
            "*".to_string(),
            Budget {
                requests: 20,
                per_secs: 1,
                burst: 4,
                max_concurrency: 1,
            },
        )]
        .into(),
        shared: None,
    };
    h.store
        .update_instance(&inst.id, |i| i.limits = limits.clone())
        .unwrap();
    m.clear_requests();
    let reports = h.scan(&inst, &[Kind::Activities], 30).await;
    assert!(reports[0].error.is_none(), "{reports:?}");
    let mut times: Vec<_> = m.requests().iter().map(|r| r.at).collect();
    assert!(times.len() >= 30, "{} requests", times.len());
    times.sort();
    let second = chrono::Duration::milliseconds(1000);
    let mut lo = 0;
    for hi in 0..times.len() {
        while times[hi] - times[lo] >= second {
            lo += 1;
        }
        assert!(hi - lo < 20, "more than 20 requests within one second");
    }
    let waited = stats(&h, &inst);
    assert!(waited.delayed > 0 && waited.wait_secs > 0.5, "{waited:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bursts_of_5xx_resets_and_slow_answers_are_retried_and_every_record_arrives_once() {
    let m = mock(300).await;
    let h = Harness::with_http(fast_http()).await;
    let (inst, _) = h.connect_github(&m, "acme", TOKEN).await.unwrap();
    for faults in [
        Faults {
            server_errors: 3,
            server_error_statuses: vec![500, 502, 503],
            ..Default::default()
        },
        Faults {
            reset_mid_body: 2,
            ..Default::default()
        },
        Faults {
            slow_responses: 1,
            slow_delay: Duration::from_secs(3),
            ..Default::default()
        },
    ] {
        m.inject_faults(faults.clone());
        let reports = h.scan(&inst, &[], 40).await;
        for r in &reports {
            assert!(r.error.is_none(), "{faults:?}: {r:?}");
        }
    }
    let acts: Vec<String> = h
        .records(&inst, Kind::Activities, false)
        .into_iter()
        .map(|r| r.record.id().to_string())
        .collect();
    let unique: BTreeSet<&String> = acts.iter().collect();
    assert_eq!(unique.len(), acts.len());
    assert_eq!(sorted(acts), sorted(m.audit_event_ids()));
    assert_eq!(h.live(&inst, Kind::Users), m.expected().users);
    let stats = stats(&h, &inst);
    assert!(stats.retries >= 6, "{stats:?}");
    let metrics = h.runtime.http().outbound().metrics.encode();
    let retries: f64 = metrics
        .lines()
        .find(|l| l.starts_with(r#"sluice_http_retries_total{instance="acme"}"#))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("{metrics}"));
    assert_eq!(retries, stats.retries as f64);
    assert!(metrics.contains(r#"sluice_http_requests_total{instance="acme",status="502"} 1"#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_body_stops_the_scan_clearly_and_the_next_scan_loses_nothing() {
    let m = mock(300).await;
    let h = Harness::with_http(fast_http()).await;
    let (inst, _) = h.connect_github(&m, "acme", TOKEN).await.unwrap();
    // Let a few pages commit, then break one body.
    let first = h.scan(&inst, &[Kind::Activities], 50).await;
    assert!(first[0].error.is_none());
    m.add_audit_events(120);
    m.inject_faults(Faults {
        truncated_body: 1,
        ..Default::default()
    });
    let broken = h.scan(&inst, &[Kind::Activities], 50).await;
    let err = broken[0].error.clone().expect("a broken body is an error");
    assert!(
        err.to_string().to_lowercase().contains("json")
            || err.to_string().to_lowercase().contains("parse"),
        "clear error: {err}"
    );
    let before = h.records(&inst, Kind::Activities, false).len();
    assert!(before >= 300, "committed records are kept: {before}");
    let again = h.scan(&inst, &[Kind::Activities], 50).await;
    assert!(again[0].error.is_none(), "{again:?}");
    let acts: Vec<String> = h
        .records(&inst, Kind::Activities, false)
        .into_iter()
        .map(|r| r.record.id().to_string())
        .collect();
    assert_eq!(sorted(acts), sorted(m.audit_event_ids()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_throttles_forever_ends_in_rate_limited_with_a_retry_scheduled() {
    let m = mock(100).await;
    let dir = tempfile::tempdir().unwrap();
    let d = TestDaemon::start_with(dir.path(), |cfg| {
        cfg.http = fast_http();
        cfg.scheduler.backoff_base = Duration::from_secs(2);
    })
    .await;
    d.connect_github(&m, "acme").await;
    d.wait_scanned("acme").await;
    m.inject_faults(Faults {
        throttle_forever: true,
        retry_after_secs: 1,
        ..Default::default()
    });
    m.clear_requests();
    let (status, body) = d
        .api(
            "POST",
            "/v1/instances/acme/scan",
            Some(serde_json::json!({"kinds": ["users"], "wait": true})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let error: ConnectorError =
        serde_json::from_value(body["reports"][0]["error"].clone()).unwrap();
    assert!(
        matches!(error, ConnectorError::RateLimited(Some(_))),
        "{error:?}"
    );
    let sent = m.requests().len();
    assert!(sent <= 4, "bounded attempts, no busy loop: {sent}");
    let resp = d
        .raw(d.client().get(d.url("/metrics")).bearer_auth(&d.token))
        .await;
    let metrics = String::from_utf8_lossy(&resp.bytes().await.unwrap()).into_owned();
    assert!(
        metrics.contains(&format!(
            r#"sluice_provider_throttles_total{{instance="acme"}} {sent}"#
        )),
        "{metrics}"
    );
    let detail = d
        .wait_until("acme", |v| v["instance"]["status"]["state"] == "error")
        .await;
    let status: InstanceStatus =
        serde_json::from_value(detail["instance"]["status"].clone()).unwrap();
    match status {
        InstanceStatus::Error {
            code, next_retry, ..
        } => {
            assert_eq!(code, "rate-limited");
            assert!(next_retry.is_some(), "a retry is scheduled");
        }
        other => panic!("{other:?}"),
    }
    let users = detail["kinds"][0]["schedule"].clone();
    assert!(users["attempts"].as_u64().unwrap() >= 1);
    assert!(users["next_run"].is_i64());
    // The provider recovers; the rescheduled scan succeeds on its own.
    m.inject_faults(Faults::default());
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (_, v) = d.api("GET", "/v1/instances/acme", None).await;
        if v["instance"]["status"]["state"] == "connected" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never recovered: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    d.daemon.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_are_shown_and_changed_through_the_api() {
    let m = mock(100).await;
    let dir = tempfile::tempdir().unwrap();
    let d = TestDaemon::start(dir.path()).await;
    d.connect_github(&m, "acme").await;
    d.wait_scanned("acme").await;
    let (status, v) = d.api("GET", "/v1/instances/acme/limits", None).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["rules"][0]["scope"], "*");
    assert_eq!(v["rules"][0]["source"], "connector");
    assert_eq!(v["rules"][0]["budget"]["requests"], 5000);
    assert!(v["state"]["stats"]["requests"].as_u64().unwrap() > 5);
    assert_eq!(
        v["state"]["provider"]["limit"], 5000,
        "learned from x-ratelimit-*"
    );

    let (status, v) = d
        .api(
            "PUT",
            "/v1/instances/acme/limits",
            Some(serde_json::json!({
                "budgets": {"*": {"requests": 100, "per_secs": 60, "burst": 5}},
                "shared": "acme-token"
            })),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["rules"][0]["source"], "operator");
    assert_eq!(v["rules"][0]["connector_default"]["requests"], 5000);
    let (status, v) = d
        .api(
            "PUT",
            "/v1/limits/scopes/acme-token",
            Some(serde_json::json!({"requests": 50, "per_secs": 60, "burst": 2})),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["scopes"][0]["members"][0], "acme");
    assert_eq!(v["scopes"][0]["configured"]["requests"], 50);
    for (method, path, body, code) in [
        (
            "PUT",
            "/v1/limits/scopes/acme-token",
            serde_json::json!({"requests": 0, "per_secs": 60}),
            400,
        ),
        (
            "PUT",
            "/v1/limits/hosts/api.example.com",
            serde_json::json!({"requests": 10, "per_secs": 1, "burst": 11}),
            400,
        ),
        (
            "PUT",
            "/v1/instances/acme/limits",
            serde_json::json!({"budget": {}}),
            400,
        ),
        (
            "DELETE",
            "/v1/limits/hosts/never-set.example.com",
            serde_json::Value::Null,
            404,
        ),
    ] {
        let body = (!body.is_null()).then_some(body);
        let (status, v) = d.api(method, path, body).await;
        assert_eq!(status, code, "{method} {path}: {v}");
    }
    d.daemon.shutdown().await.unwrap();
}
