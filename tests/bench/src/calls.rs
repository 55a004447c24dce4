//! Per call: instantiation with the pooling vs on-demand allocator, a `describe()`
//! call, and an `http.send` round trip through the capability vs reqwest directly.
//! (Plugin loading is the `plugins` group.)

use std::time::Instant;

use sluice::capabilities::http::{HttpClient, HttpLimits, Method, Outbound, OutboundRequest};
use sluice::registry::BUILTIN;
use sluice::runtime::{LoadedPlugin, Runtime, RuntimeConfig};

use crate::{Row, TOKEN};

pub fn runtime(cache: Option<std::path::PathBuf>, pooling: bool) -> anyhow::Result<Runtime> {
    Runtime::new(
        RuntimeConfig {
            cache_dir: cache,
            pooling_slots: pooling.then_some(64),
            ..Default::default()
        },
        HttpClient::new(HttpLimits::default(), Outbound::new(&Default::default()))?,
    )
}

/// Microseconds per call of `f`, after a warm-up.
async fn per_call<F, Fut>(n: u32, mut f: F) -> anyhow::Result<f64>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    for _ in 0..n.min(100) {
        f().await?;
    }
    let start = Instant::now();
    for _ in 0..n {
        f().await?;
    }
    Ok(start.elapsed().as_secs_f64() * 1e6 / f64::from(n))
}

async fn instantiate(p: &LoadedPlugin, n: u32) -> anyhow::Result<f64> {
    per_call(n, || async {
        p.instantiate().await.map_err(anyhow::Error::msg)
    })
    .await
}

async fn describe(p: &LoadedPlugin, n: u32) -> anyhow::Result<f64> {
    per_call(n, || async {
        p.describe().await.map(|_| ()).map_err(anyhow::Error::msg)
    })
    .await
}

/// Median µs per call of `a` and of `b`, measured in `ROUNDS` alternating rounds of
/// `n / ROUNDS` calls each, so neither side gets the quieter or the warmer half of
/// the run (measured back to back, whichever ran second looked up to 40% slower).
async fn alternating(
    n: u32,
    a: &LoadedPlugin,
    b: &LoadedPlugin,
    f: impl AsyncFn(&LoadedPlugin, u32) -> anyhow::Result<f64>,
) -> anyhow::Result<(f64, f64)> {
    const ROUNDS: u32 = 9;
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        xs.push(f(a, n / ROUNDS).await?);
        ys.push(f(b, n / ROUNDS).await?);
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    Ok((median(xs), median(ys)))
}

pub async fn run(quick: bool) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let n = if quick { 2_000 } else { 20_000 };
    let github = BUILTIN
        .iter()
        .find(|(name, _)| *name == "github")
        .map(|(_, b)| *b)
        .ok_or_else(|| anyhow::anyhow!("no built-in github plugin"))?;

    let cache = tempfile::tempdir()?;
    let on_demand = runtime(Some(cache.path().to_path_buf()), false)?;
    let pooling = runtime(Some(cache.path().to_path_buf()), true)?;
    let p_demand = on_demand.load(github).await?;
    let p_pool = pooling.load(github).await?;
    let (pool, demand) = alternating(n, &p_pool, &p_demand, instantiate).await?;
    rows.push(
        Row::new("per call", "instantiate, pooling allocator", pool, "µs")
            .against(demand)
            .note("baseline: on-demand allocator; fresh store + WASI context each time; median of 9 alternating rounds"),
    );
    let (d_pool, d_demand) = alternating(n / 2, &p_pool, &p_demand, describe).await?;
    rows.push(
        Row::new("per call", "describe() call, pooling", d_pool, "µs")
            .against(d_demand)
            .note("baseline: on-demand; instantiate + call + lift the result; median of 9 alternating rounds"),
    );

    // http.send through the capability (egress check, credentials, limiter) vs reqwest.
    let mock = crate::mock(250).await?;
    let (h, inst, ctx) = crate::connected(&mock, crate::UNLIMITED).await?;
    let url = format!("{}/orgs/acme/teams?per_page=1", mock.base_url());
    let http = h.runtime.http().clone();
    let reqs = if quick { 300 } else { 3_000 };
    let through = per_call(reqs, || async {
        let r = http
            .send(
                &inst.id,
                &inst.name,
                &ctx.net,
                OutboundRequest {
                    method: Method::Get,
                    url: url.clone(),
                    headers: vec![],
                    body: None,
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        anyhow::ensure!(r.status == 200, "status {}", r.status);
        Ok(())
    })
    .await?;
    let client = reqwest::Client::builder().no_proxy().build()?;
    let direct = per_call(reqs, || async {
        let r = client.get(&url).bearer_auth(TOKEN).send().await?;
        anyhow::ensure!(r.status() == 200, "status {}", r.status());
        std::hint::black_box(r.bytes().await?);
        Ok(())
    })
    .await?;
    rows.push(
        Row::new(
            "per call",
            "http.send round trip via the capability",
            through,
            "µs",
        )
        .against(direct)
        .note("baseline: reqwest directly, same loopback request"),
    );

    Ok(rows)
}
