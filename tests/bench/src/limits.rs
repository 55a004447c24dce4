//! Rate limiter: what a permit costs per request, and how much of a budget a real scan
//! gets to use without ever exceeding it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use sluice::model::{Kind, RateLimit};
use sluice::ratelimit::{Budget, GlobalLimitConfig, InstanceLimitConfig, RateLimits};
use sluice_mocks::{GithubMock, GithubMockConfig};

use crate::Row;

const TOKEN: &str = "ghp_bench";

/// Nanoseconds per permit with `n` acquisitions.
async fn permits(limits: &RateLimits, id: &str, n: u32) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        let p = limits
            .acquire(id, "api.example.com", Duration::from_secs(1))
            .await
            .expect("a huge budget never waits");
        std::hint::black_box(&p);
    }
    start.elapsed().as_nanos() as f64 / f64::from(n)
}

/// Nanoseconds per loopback request straight through reqwest (the thing a permit
/// guards), for scale.
async fn loopback_request(mock: &GithubMock, n: u32) -> anyhow::Result<f64> {
    let client = reqwest::Client::builder().no_proxy().build()?;
    let url = format!("{}/orgs/acme/teams?per_page=1", mock.base_url());
    let start = Instant::now();
    for _ in 0..n {
        let r = client.get(&url).bearer_auth(TOKEN).send().await?;
        std::hint::black_box(r.bytes().await?);
    }
    Ok(start.elapsed().as_nanos() as f64 / f64::from(n))
}

pub async fn run(quick: bool) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let n = if quick { 20_000 } else { 500_000 };
    let huge = crate::UNLIMITED;
    let limits = RateLimits::default();
    let none = permits(&limits, "unregistered", n).await;
    let rule = RateLimit {
        scope: "*".into(),
        requests: huge.requests,
        per_seconds: huge.per_secs,
        burst: huge.burst,
        max_concurrency: 0,
    };
    limits.register(
        "one",
        "one",
        std::slice::from_ref(&rule),
        &BTreeMap::new(),
        &Default::default(),
    );
    let one = permits(&limits, "one", n).await;
    limits.configure(&GlobalLimitConfig {
        scopes: [("shared".to_string(), huge)].into(),
        hosts: [("api.example.com".to_string(), huge)].into(),
    });
    let shared = InstanceLimitConfig {
        shared: Some("shared".into()),
        ..Default::default()
    };
    limits.register("three", "three", &[rule], &BTreeMap::new(), &shared);
    let three = permits(&limits, "three", n).await;

    let mock = GithubMock::start(GithubMockConfig {
        token: TOKEN.into(),
        rate_limit_per_hour: u32::MAX,
        ..Default::default()
    })
    .await?;
    let request = loopback_request(&mock, if quick { 200 } else { 2000 }).await?;
    rows.push(
        Row::new("limiter", "permit, no budget applies", none, "ns")
            .note(format!("{n} acquisitions")),
    );
    rows.push(
        Row::new("limiter", "permit, instance budget", one, "ns")
            .against(request)
            .note("baseline: one loopback HTTP request through reqwest"),
    );
    rows.push(
        Row::new("limiter", "permit, instance + shared + host", three, "ns")
            .against(request)
            .note("baseline: one loopback HTTP request through reqwest"),
    );

    // A real scan under a tight operator budget: used share and the worst window.
    let budget = Budget {
        requests: 40,
        per_secs: 2,
        burst: 2,
        max_concurrency: 0,
    };
    let events = if quick { 600 } else { 3000 };
    let mock = crate::mock(events).await?;
    let (h, inst, _) = crate::connected(&mock, budget).await?;
    mock.clear_requests();
    let reports = h.scan(&inst, &[Kind::Activities], 10).await;
    if let Some(e) = reports.iter().find_map(|r| r.error.as_ref()) {
        anyhow::bail!("budget scan failed: {e}");
    }
    let mut times: Vec<_> = mock.requests().iter().map(|r| r.at).collect();
    times.sort();
    let per = chrono::Duration::seconds(i64::from(budget.per_secs));
    let (mut worst, mut lo) = (0usize, 0usize);
    for hi in 0..times.len() {
        while times[hi] - times[lo] >= per {
            lo += 1;
        }
        worst = worst.max(hi - lo + 1);
    }
    let elapsed = (times[times.len() - 1] - times[0]).as_seconds_f64();
    let allowed = f64::from(budget.requests) * elapsed / f64::from(budget.per_secs);
    rows.push(
        Row::new(
            "limiter",
            "budget used by a scan",
            times.len() as f64,
            "requests",
        )
        .against(allowed)
        .note(format!(
            "{}/{}s budget over {elapsed:.1}s against mock GitHub",
            budget.requests, budget.per_secs
        )),
    );
    rows.push(
        Row::new(
            "limiter",
            "most requests in any window",
            worst as f64,
            "requests",
        )
        .against(f64::from(budget.requests))
        .note("must stay ≤ 1.0"),
    );
    rows.extend(provider_window(quick).await?);
    Ok(rows)
}

/// A first scan under the connector's default budget (GitHub's 5,000/hour) against a
/// mock that keeps a real fixed hourly window and reports it (`x-ratelimit-*`), timed
/// against the same scan with no budget at all; and the most requests the window saw.
async fn provider_window(quick: bool) -> anyhow::Result<Vec<Row>> {
    let events = if quick { 5_000 } else { 20_000 };
    let scan = |default_budget: bool| async move {
        let mock = GithubMock::start(GithubMockConfig {
            token: TOKEN.into(),
            audit_events: events,
            rate_limit_per_hour: 5_000,
            ..Default::default()
        })
        .await?;
        let h = sluice_tests::Harness::new().await;
        let (inst, _) = h
            .connect_github(&mock, "acme", TOKEN)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if !default_budget {
            h.store.update_instance(&inst.id, |i| {
                i.limits.budgets.insert("*".into(), crate::UNLIMITED);
            })?;
        }
        let inst = h.store.instance(&inst.id)?;
        let start = Instant::now();
        let reports = h.scan(&inst, &[Kind::Activities], 100).await;
        let took = start.elapsed().as_secs_f64();
        if let Some(e) = reports.iter().find_map(|r| r.error.as_ref()) {
            anyhow::bail!("provider-window scan failed: {e}");
        }
        anyhow::Ok((took, mock.requests().len()))
    };
    let (paced, requests) = scan(true).await?;
    let (free, _) = scan(false).await?;
    Ok(vec![
        Row::new(
            "limiter",
            format!("first scan of {events} audit events, connector default 5,000/h"),
            paced,
            "s",
        )
        .against(free)
        .note("baseline: no budget at all; the provider reports 4,999 left"),
        Row::new(
            "limiter",
            "most requests in the provider's hourly window",
            requests as f64,
            "requests",
        )
        .against(5_000.0)
        .note("every request of connect and scan, all in one window; must stay ≤ 1.0"),
    ])
}
