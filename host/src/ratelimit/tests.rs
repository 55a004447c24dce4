//! Limiters and retries under paused time. Scans are simulated as request loops, and a
//! scripted transport stands in for the provider.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

fn budget(requests: u32, per_secs: u32, burst: u32) -> Budget {
    Budget {
        requests,
        per_secs,
        burst,
        max_concurrency: 0,
    }
}

fn rule(b: Budget) -> RateLimit {
    RateLimit {
        scope: "*".into(),
        requests: b.requests,
        per_seconds: b.per_secs,
        burst: b.burst,
        max_concurrency: b.max_concurrency,
    }
}

/// Most grants in any closed window of `per`.
fn max_in_window(times: &mut [Instant], per: Duration) -> usize {
    times.sort();
    let mut best = 0;
    let mut lo = 0;
    for hi in 0..times.len() {
        while times[hi] - times[lo] > per {
            lo += 1;
        }
        best = best.max(hi - lo + 1);
    }
    best
}

/// `workers` tasks per instance take permits as fast as they are given, for `run`.
async fn hammer(
    limits: Arc<RateLimits>,
    instances: &[&str],
    workers: usize,
    run: Duration,
) -> Vec<(String, Instant)> {
    let end = Instant::now() + run;
    let mut tasks = Vec::new();
    for id in instances {
        for _ in 0..workers {
            let limits = limits.clone();
            let id = id.to_string();
            tasks.push(tokio::spawn(async move {
                let mut grants = Vec::new();
                loop {
                    let p = limits
                        .acquire(&id, "api.example.com", Duration::from_secs(3600))
                        .await
                        .unwrap();
                    let at = Instant::now();
                    drop(p);
                    if at >= end {
                        return grants;
                    }
                    grants.push((id.clone(), at));
                }
            }));
        }
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all
}

#[tokio::test(start_paused = true)]
async fn a_budget_is_never_exceeded_in_any_sliding_window_and_is_used_to_95_percent() {
    let limits = Arc::new(RateLimits::default());
    let b = budget(600, 60, 12);
    limits.register("a", "a", &[rule(b)], &BTreeMap::new(), &Default::default());
    let run = Duration::from_secs(30 * 60);
    let grants = hammer(limits.clone(), &["a"], 4, run).await;
    let mut times: Vec<Instant> = grants.iter().map(|(_, t)| *t).collect();
    assert!(max_in_window(&mut times, Duration::from_secs(60)) <= 600);
    let used = times.len() as f64 / (600.0 * 30.0);
    assert!(used >= 0.95, "used {:.3} of the budget", used);
    assert!(used <= 1.0);
    let stats = limits.instance_state("a").unwrap().stats;
    assert_eq!(stats.requests as usize, times.len() + 4);
    assert!(
        stats.wait_secs > 1000.0,
        "waits are counted: {}",
        stats.wait_secs
    );
}

#[tokio::test(start_paused = true)]
async fn two_budgets_of_one_scope_both_hold_like_docusigns_hourly_and_burst_limits() {
    let limits = Arc::new(RateLimits::default());
    let hourly = budget(3000, 3600, 100);
    let burst = budget(500, 30, 25);
    limits.register(
        "a",
        "a",
        &[rule(hourly), rule(burst)],
        &BTreeMap::new(),
        &Default::default(),
    );
    let grants = hammer(limits, &["a"], 2, Duration::from_secs(2 * 3600)).await;
    let mut times: Vec<Instant> = grants.iter().map(|(_, t)| *t).collect();
    assert!(max_in_window(&mut times, Duration::from_secs(3600)) <= 3000);
    assert!(max_in_window(&mut times, Duration::from_secs(30)) <= 500);
    assert!(times.len() as f64 >= 0.95 * 6000.0, "{}", times.len());
}

#[tokio::test(start_paused = true)]
async fn instances_in_one_shared_scope_stay_within_its_budget_together() {
    let limits = Arc::new(RateLimits::default());
    limits.configure(&GlobalLimitConfig {
        scopes: [("acme-token".to_string(), budget(300, 60, 6))].into(),
        ..Default::default()
    });
    let own = budget(600, 60, 12);
    let shared = InstanceLimitConfig {
        shared: Some("acme-token".into()),
        ..Default::default()
    };
    for id in ["a", "b"] {
        limits.register(id, id, &[rule(own)], &BTreeMap::new(), &shared);
    }
    // A third instance outside the scope is not slowed by it.
    limits.register(
        "c",
        "c",
        &[rule(own)],
        &BTreeMap::new(),
        &Default::default(),
    );
    let grants = hammer(
        limits.clone(),
        &["a", "b", "c"],
        2,
        Duration::from_secs(20 * 60),
    )
    .await;
    let mut ab: Vec<Instant> = grants
        .iter()
        .filter(|(i, _)| i != "c")
        .map(|(_, t)| *t)
        .collect();
    assert!(max_in_window(&mut ab, Duration::from_secs(60)) <= 300);
    assert!(ab.len() as f64 >= 0.95 * 300.0 * 20.0, "{}", ab.len());
    let a = grants.iter().filter(|(i, _)| i == "a").count() as f64;
    assert!(a > 0.3 * ab.len() as f64, "both members get a share");
    let c = grants.iter().filter(|(i, _)| i == "c").count() as f64;
    assert!(c >= 0.95 * 600.0 * 20.0, "c has its own budget: {c}");
    let scopes = limits.shared_scopes();
    assert_eq!(scopes[0].name, "acme-token");
    assert_eq!(scopes[0].source, Source::Operator);
}

#[tokio::test(start_paused = true)]
async fn a_host_budget_covers_every_instance_calling_that_host() {
    let limits = Arc::new(RateLimits::default());
    limits.configure(&GlobalLimitConfig {
        hosts: [("api.example.com".to_string(), budget(120, 60, 2))].into(),
        ..Default::default()
    });
    for id in ["a", "b"] {
        limits.register(
            id,
            id,
            &[rule(budget(600, 60, 12))],
            &BTreeMap::new(),
            &Default::default(),
        );
    }
    let grants = hammer(limits, &["a", "b"], 1, Duration::from_secs(10 * 60)).await;
    let mut times: Vec<Instant> = grants.iter().map(|(_, t)| *t).collect();
    assert!(max_in_window(&mut times, Duration::from_secs(60)) <= 120);
    assert!(times.len() >= 1140, "{}", times.len());
}

#[tokio::test(start_paused = true)]
async fn max_concurrency_caps_requests_in_flight() {
    let limits = Arc::new(RateLimits::default());
    let b = Budget {
        max_concurrency: 2,
        ..budget(10_000, 1, 100)
    };
    limits.register("a", "a", &[rule(b)], &BTreeMap::new(), &Default::default());
    let in_flight = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (limits, in_flight, peak) = (limits.clone(), in_flight.clone(), peak.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..10 {
                let _p = limits
                    .acquire("a", "h", Duration::from_secs(60))
                    .await
                    .unwrap();
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(peak.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn a_wait_longer_than_allowed_is_refused_without_reserving() {
    let limits = RateLimits::default();
    limits.register(
        "a",
        "a",
        &[rule(budget(2, 3600, 2))],
        &BTreeMap::new(),
        &Default::default(),
    );
    for _ in 0..2 {
        limits.acquire("a", "h", Duration::ZERO).await.unwrap();
    }
    let wait = limits
        .acquire("a", "h", Duration::from_secs(60))
        .await
        .unwrap_err();
    assert!(wait > Duration::from_secs(3000), "{wait:?}");
    assert_eq!(limits.instance_state("a").unwrap().stats.requests, 2);
}

/// A provider that answers from a script, recording when each attempt arrived.
struct Script {
    answers: Mutex<VecDeque<Result<InboundResponse, HttpFailure>>>,
    arrivals: Mutex<Vec<Instant>>,
}

impl Script {
    fn new(answers: Vec<Result<InboundResponse, HttpFailure>>) -> Arc<Script> {
        Arc::new(Script {
            answers: Mutex::new(answers.into()),
            arrivals: Mutex::new(Vec::new()),
        })
    }

    async fn attempt(self: Arc<Self>) -> Result<InboundResponse, HttpFailure> {
        self.arrivals.lock().unwrap().push(Instant::now());
        self.answers
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| Ok(resp(200, &[])))
    }

    fn gaps(&self) -> Vec<Duration> {
        self.arrivals
            .lock()
            .unwrap()
            .windows(2)
            .map(|w| w[1] - w[0])
            .collect()
    }
}

fn resp(status: u16, headers: &[(&str, &str)]) -> InboundResponse {
    InboundResponse {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: b"{}".to_vec(),
    }
}

async fn send(
    limits: &RateLimits,
    script: &Arc<Script>,
    idempotent: bool,
) -> Result<InboundResponse, HttpFailure> {
    let s = script.clone();
    limits
        .send("a", "h", idempotent, move || s.clone().attempt())
        .await
        .0
}

fn limits() -> RateLimits {
    let l = RateLimits::new(RetryPolicy {
        max_attempts: 4,
        base: Duration::from_secs(1),
        cap: Duration::from_secs(8),
        max_wait: Duration::from_secs(60),
    });
    l.register(
        "a",
        "a",
        &[rule(budget(1000, 1, 1000))],
        &BTreeMap::new(),
        &Default::default(),
    );
    l
}

#[tokio::test(start_paused = true)]
async fn retry_after_in_seconds_is_honoured() {
    let l = limits();
    let script = Script::new(vec![Ok(resp(429, &[("retry-after", "7")]))]);
    let r = send(&l, &script, true).await.unwrap();
    assert_eq!(r.status, 200);
    let gaps = script.gaps();
    assert_eq!(gaps.len(), 1);
    assert!(gaps[0] >= Duration::from_secs(7) && gaps[0] < Duration::from_millis(7100));
    let stats = l.instance_state("a").unwrap().stats;
    assert_eq!((stats.throttled, stats.retries), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn retry_after_as_an_http_date_is_honoured() {
    let l = limits();
    let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(20));
    let script = Script::new(vec![Ok(resp(503, &[("retry-after", &date)]))]);
    let r = send(&l, &script, true).await.unwrap();
    assert_eq!(r.status, 200);
    let gap = script.gaps()[0];
    // HTTP dates have whole seconds.
    assert!(
        gap >= Duration::from_secs(18) && gap <= Duration::from_secs(21),
        "{gap:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_empty_budget_waits_for_the_reset_and_later_requests_wait_too() {
    let l = limits();
    let reset = (SystemTime::now() + Duration::from_secs(30))
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let script = Script::new(vec![Ok(resp(
        403,
        &[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", &reset),
        ],
    ))]);
    let start = Instant::now();
    let r = send(&l, &script, true).await.unwrap();
    assert_eq!(r.status, 200);
    assert!(Instant::now() - start >= Duration::from_secs(28));
}

#[tokio::test(start_paused = true)]
async fn requests_slow_down_before_the_providers_wall() {
    let l = limits();
    // 5 left of 1000 with 50 s to go: spread them, about 10 s apart.
    let reset = (SystemTime::now() + Duration::from_secs(50))
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let h = [
        ("x-ratelimit-limit", "1000"),
        ("x-ratelimit-remaining", "5"),
        ("x-ratelimit-reset", reset.as_str()),
    ];
    let script = Script::new(vec![Ok(resp(200, &h))]);
    send(&l, &script, true).await.unwrap();
    let t0 = Instant::now();
    let script2 = Script::new(vec![]);
    for _ in 0..3 {
        send(&l, &script2, true).await.unwrap();
    }
    let spent = Instant::now() - t0;
    assert!(spent >= Duration::from_secs(20), "paced: {spent:?}");
    assert!(
        spent <= Duration::from_secs(45),
        "but not stopped: {spent:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn server_errors_are_retried_with_bounded_full_jitter_backoff() {
    let l = limits();
    let script = Script::new(vec![
        Ok(resp(500, &[])),
        Ok(resp(502, &[])),
        Ok(resp(503, &[])),
        Ok(resp(504, &[])),
    ]);
    let r = send(&l, &script, true).await.unwrap();
    assert_eq!(
        r.status, 504,
        "after the last attempt the response goes to the plugin"
    );
    let gaps = script.gaps();
    assert_eq!(gaps.len(), 3, "four attempts in all");
    for (i, g) in gaps.iter().enumerate() {
        let bound = l.retry.backoff_bound(i as u32 + 1);
        assert!(
            *g <= bound + Duration::from_millis(1),
            "retry {}: {g:?} > {bound:?}",
            i + 1
        );
    }
    assert_eq!(l.retry.backoff_bound(10), Duration::from_secs(8));
}

#[tokio::test(start_paused = true)]
async fn timeouts_and_resets_are_retried_for_reads_but_writes_are_not_repeated() {
    let l = limits();
    let script = Script::new(vec![
        Err(HttpFailure::Timeout),
        Err(HttpFailure::Connection("connection reset".into())),
    ]);
    assert_eq!(send(&l, &script, true).await.unwrap().status, 200);
    assert_eq!(script.gaps().len(), 2);

    let post = Script::new(vec![Ok(resp(500, &[])), Err(HttpFailure::Timeout)]);
    assert_eq!(send(&l, &post, false).await.unwrap().status, 500);
    assert_eq!(post.arrivals.lock().unwrap().len(), 1);
    // A throttled write was not processed, so it is sent again.
    let throttled = Script::new(vec![Ok(resp(429, &[("retry-after", "1")]))]);
    assert_eq!(send(&l, &throttled, false).await.unwrap().status, 200);
}

#[tokio::test(start_paused = true)]
async fn throttling_forever_ends_as_rate_limited_without_a_busy_loop() {
    let l = limits();
    let script = Script::new(vec![Ok(resp(429, &[("retry-after", "2")])); 100]);
    let start = Instant::now();
    let err = send(&l, &script, true).await.unwrap_err();
    assert_eq!(err, HttpFailure::RateLimited(Some(2)));
    assert_eq!(script.arrivals.lock().unwrap().len(), 4, "bounded attempts");
    assert!(
        Instant::now() - start >= Duration::from_secs(6),
        "it waited between tries"
    );

    // A wait longer than the host will sit through is handed over at once.
    let long = Script::new(vec![Ok(resp(429, &[("retry-after", "3600")]))]);
    let err = send(&l, &long, true).await.unwrap_err();
    assert_eq!(err, HttpFailure::RateLimited(Some(3600)));
    assert_eq!(long.arrivals.lock().unwrap().len(), 1);
    // …and the quota stays paused for the others.
    let next = Script::new(vec![]);
    let err = send(&l, &next, true).await.unwrap_err();
    assert!(matches!(err, HttpFailure::RateLimited(Some(s)) if s > 3500));
    assert!(next.arrivals.lock().unwrap().is_empty());
}

/// GitHub-shaped quota headers: `remaining` of `limit`, resetting in `secs`.
fn window(limit: u64, remaining: u64, secs: u64) -> Vec<(String, String)> {
    let reset = (SystemTime::now() + Duration::from_secs(secs))
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    vec![
        ("x-ratelimit-limit".into(), limit.to_string()),
        ("x-ratelimit-remaining".into(), remaining.to_string()),
        ("x-ratelimit-reset".into(), reset.to_string()),
    ]
}

/// The connector's default 5,000/h (burst 10) on instance `a`, operator `overrides`.
fn github_like(overrides: &InstanceLimitConfig) -> Arc<RateLimits> {
    let limits = Arc::new(RateLimits::default());
    let b = budget(5000, 3600, 10);
    limits.register("a", "a", &[rule(b)], &BTreeMap::new(), overrides);
    limits
}

#[tokio::test(start_paused = true)]
async fn a_provider_window_with_room_is_spent_at_full_speed() {
    let limits = github_like(&Default::default());
    // Before the provider has said anything, the connector's default paces.
    let start = Instant::now();
    for _ in 0..20 {
        drop(
            limits
                .acquire("a", "h", Duration::from_secs(3600))
                .await
                .unwrap(),
        );
    }
    assert!(Instant::now() - start >= Duration::from_secs(5));
    // 4,999 of 5,000 left for the hour: 200 requests go at once.
    limits.observe("a", &window(5000, 4999, 3600));
    let start = Instant::now();
    for _ in 0..200 {
        drop(
            limits
                .acquire("a", "h", Duration::from_secs(3600))
                .await
                .unwrap(),
        );
    }
    let took = Instant::now() - start;
    assert!(took < Duration::from_secs(2), "took {took:?}");
    let left = limits.instance_state("a").unwrap().provider.remaining;
    assert_eq!(left, Some(4799), "each request is counted down");
}

#[tokio::test(start_paused = true)]
async fn a_fixed_window_is_never_exceeded_and_stale_answers_do_not_raise_it() {
    let limits = github_like(&Default::default());
    // (Reset headers are wall-clock seconds; the test's clock is tokio's paused one,
    // so the window is given twice the run.)
    limits.observe("a", &window(5000, 1000, 120));
    let grants = hammer(limits.clone(), &["a"], 4, Duration::from_secs(60)).await;
    assert!(grants.len() <= 1000, "{} over the window", grants.len());
    // Down to the reserve (500) at full speed, then the connector's pacing.
    assert!(grants.len() >= 500, "{}", grants.len());
    let left = limits
        .instance_state("a")
        .unwrap()
        .provider
        .remaining
        .unwrap();
    assert_eq!(left, 1000 - grants.len() as u64 - 4);
    // An answer to an earlier request reports more left in the same window: ignored.
    let reset_in = limits.instance_state("a").unwrap().provider.reset_in_secs;
    limits.observe("a", &window(5000, 990, reset_in.unwrap().round() as u64));
    let after = limits.instance_state("a").unwrap().provider.remaining;
    assert_eq!(after, Some(left));
}

#[tokio::test(start_paused = true)]
async fn operator_budgets_hold_exactly_even_when_the_provider_window_has_room() {
    let overrides = InstanceLimitConfig {
        budgets: [("*".to_string(), budget(100, 60, 10))].into(),
        shared: None,
    };
    let limits = github_like(&overrides);
    limits.observe("a", &window(5000, 4999, 3600));
    let grants = hammer(limits.clone(), &["a"], 4, Duration::from_secs(120)).await;
    let mut times: Vec<Instant> = grants.iter().map(|(_, t)| *t).collect();
    assert!(max_in_window(&mut times, Duration::from_secs(60)) <= 100);
}

#[test]
fn operator_budgets_replace_connector_defaults_and_hosts_come_from_templates() {
    let declared = vec![
        rule(budget(5000, 3600, 100)),
        RateLimit {
            scope: "https://{domain}.okta.com".into(),
            requests: 600,
            per_seconds: 60,
            burst: 10,
            max_concurrency: 0,
        },
    ];
    let config: BTreeMap<String, String> = [("domain".to_string(), "acme".to_string())].into();
    let overrides = InstanceLimitConfig {
        budgets: [("*".to_string(), budget(1000, 3600, 10))].into(),
        shared: None,
    };
    let rules = effective_rules(&declared, &config, &overrides);
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0].scope, "*");
    assert_eq!(rules[0].source, Source::Operator);
    assert_eq!(rules[0].budget.requests, 1000);
    assert_eq!(rules[0].connector_default.unwrap().requests, 5000);
    assert_eq!(rules[1].scope, "acme.okta.com");
    assert_eq!(rules[1].source, Source::Connector);
}

#[test]
fn budgets_parse_and_validate() {
    let b = Budget::parse("5000/1h").unwrap();
    assert_eq!((b.requests, b.per_secs, b.burst), (5000, 3600, 100));
    assert_eq!(Budget::parse("100/60").unwrap().per_secs, 60);
    assert!(
        Budget::parse("lots")
            .unwrap_err()
            .contains("REQUESTS/DURATION")
    );
    assert!(Budget::parse("0/1m").is_err());
    assert!(budget(10, 60, 11).validate().unwrap_err().contains("burst"));
    assert!(validate_scope_name("acme token").is_err());
    // The GCRA parameters keep burst + steady within the budget.
    let (interval, tolerance) = super::gcra::gcra(&budget(600, 60, 12));
    assert_eq!(tolerance, interval * 11);
    assert!(12 + (60_000_000_000u128 / interval.as_nanos()) <= 600);
}
