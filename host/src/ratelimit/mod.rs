//! Request budgets at several scopes, adapted to what providers say, with bounded
//! retries. Everything here runs inside the `http` capability's one choke point.
//!
//! Every outbound request takes a permit from every limiter that applies:
//! 1. the instance's budgets: the connector's defaults from `describe()` (scope `*` or
//!    one API host) with the operator's overrides ([`InstanceLimitConfig`]);
//! 2. the shared scope the instance names, if any: instances on one API token or one
//!    provider org draw from one budget ([`GlobalLimitConfig::scopes`]);
//! 3. the API host's process-wide budget, if the operator set one
//!    ([`GlobalLimitConfig::hosts`]).
//!
//! A [`Budget`] admits `burst` requests back to back and then a steady
//! `(requests − burst) / per` (GCRA, exact in integer nanoseconds), so no sliding window
//! of length `per` ever holds more than `requests`, and a long scan gets
//! `(requests − burst) / requests` of the budget. Reservations are taken in all
//! applicable limiters at once, at the latest of their earliest free times, under one
//! lock, so a request never holds a slot it cannot use yet.
//!
//! Providers' headers ([`headers`]) refine this. A provider quota is a fixed window
//! with a reset time, not a sliding one: while the provider reports more than a reserve
//! (a tenth of its limit) left before its reset, the connector's *default* budgets of
//! that instance (or its connector-sized shared scope) stand aside and requests go at
//! full speed, bounded by concurrency caps and by what is left, counted down per
//! request; operator budgets always hold exactly. Near the wall, `remaining` and
//! `reset` pace the last few requests across the time left and stop at zero until the
//! reset;
//! `Retry-After` (429, 503, GitHub's 403) pauses the instance's quota (or its shared
//! scope's). [`RateLimits::send`] retries throttling, 5xx, timeouts and connection
//! errors with exponential backoff and full jitter, bounded by attempts and by the
//! longest wait it will sit through; beyond that the plugin gets `rate-limited` with
//! the time to wait, and the scheduler resumes the scan from its cursor later.

mod adaptive;
mod gcra;
pub mod headers;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use rand::Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::model::RateLimit;
use crate::model::http::{HttpFailure, InboundResponse};
pub use crate::model::limits::{
    Budget, EffectiveRule, GlobalLimitConfig, InstanceLimitConfig, Source, effective_rules,
    validate_scope_name,
};
use adaptive::Adaptive;
pub use adaptive::ProviderQuota;
use gcra::Limiter;
use headers::Observation;

/// Bounded retries.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Tries per request, the first included.
    pub max_attempts: u32,
    /// Backoff before retry n is uniform in [0, min(cap, base·2^(n−1))] (full jitter).
    pub base: Duration,
    pub cap: Duration,
    /// The longest the host waits in all (permits, retry-afters, backoff) for one
    /// request; a longer wait is handed to the plugin as `rate-limited(seconds)`. Keep
    /// it well under the sandbox's wall-clock limit per call.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
            max_wait: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The upper bound of the backoff before retry `n` (1-based).
    pub fn backoff_bound(&self, n: u32) -> Duration {
        let f = 2u32.saturating_pow(n.saturating_sub(1).min(20));
        self.base.saturating_mul(f).min(self.cap)
    }
}

/// Counters per instance, for status, `sluice limits` and metrics.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LimitStats {
    /// Requests that got a permit.
    pub requests: u64,
    /// Of those, how many had to wait.
    pub delayed: u64,
    /// Total time spent waiting: limiter pacing, provider pauses and retry backoff.
    pub wait_secs: f64,
    /// Throttling answers from the provider (429, 503 with retry-after, 403 limits).
    pub throttled: u64,
    /// Requests sent again after a throttle, a 5xx, a timeout or a connection error.
    pub retries: u64,
}

#[derive(Debug)]
struct InstanceState {
    name: String,
    rules: Vec<(EffectiveRule, Limiter)>,
    shared: Option<String>,
    adaptive: Adaptive,
    stats: LimitStats,
}

#[derive(Debug)]
struct SharedState {
    limiter: Limiter,
    source: Source,
    adaptive: Adaptive,
}

#[derive(Debug, Default)]
struct State {
    instances: HashMap<String, InstanceState>,
    shared: HashMap<String, SharedState>,
    hosts: HashMap<String, Limiter>,
    global: GlobalLimitConfig,
}

impl State {
    /// The adaptive state that provider headers for this instance feed: its shared
    /// scope's when it has one (they share the provider's budget), else its own.
    fn adaptive_mut(&mut self, id: &str) -> Option<&mut Adaptive> {
        let shared = self.instances.get(id)?.shared.clone();
        match shared {
            Some(s) => self.shared.get_mut(&s).map(|s| &mut s.adaptive),
            None => self.instances.get_mut(id).map(|i| &mut i.adaptive),
        }
    }
}

/// A permit to send one request; holds the concurrency slots until dropped.
#[derive(Debug)]
pub struct Permit {
    _slots: Vec<OwnedSemaphorePermit>,
    /// How long the request waited for it.
    pub waited: Duration,
}

/// What sending one request took besides the request itself.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SendReport {
    /// Time waiting for permits, provider pauses and backoff.
    pub waited: Duration,
    pub retries: u32,
    /// Throttling answers (429, 503 with retry-after, 403 limits).
    pub throttled: u32,
}

/// The live state of one instance's limiters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InstanceLimitState {
    /// Per rule scope: requests in flight.
    pub in_flight: BTreeMap<String, u32>,
    /// What the provider reported (shared scope's when the instance has one).
    pub provider: ProviderQuota,
    pub stats: LimitStats,
}

/// A shared scope's live state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SharedScopeState {
    pub name: String,
    pub budget: Budget,
    pub source: Source,
    pub provider: ProviderQuota,
    pub in_flight: u32,
}

/// Every limiter of the process.
#[derive(Debug)]
pub struct RateLimits {
    state: Mutex<State>,
    pub retry: RetryPolicy,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits::new(RetryPolicy::default())
    }
}

fn ceil_secs(d: Duration) -> u32 {
    d.as_secs_f64().ceil().clamp(1.0, f64::from(u32::MAX)) as u32
}

impl RateLimits {
    pub fn new(retry: RetryPolicy) -> RateLimits {
        RateLimits {
            state: Mutex::new(State::default()),
            retry,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Set the operator's shared-scope and host budgets (state kept where unchanged).
    pub fn configure(&self, global: &GlobalLimitConfig) {
        let mut st = self.lock();
        st.hosts.retain(|h, _| global.hosts.contains_key(h));
        for (h, b) in &global.hosts {
            st.hosts
                .entry(h.to_ascii_lowercase())
                .and_modify(|l| l.reconfigure(*b))
                .or_insert_with(|| Limiter::new(*b));
        }
        for (name, b) in &global.scopes {
            match st.shared.get_mut(name) {
                Some(s) => {
                    s.limiter.reconfigure(*b);
                    s.source = Source::Operator;
                }
                None => {
                    st.shared.insert(
                        name.clone(),
                        SharedState {
                            limiter: Limiter::new(*b),
                            source: Source::Operator,
                            adaptive: Adaptive::default(),
                        },
                    );
                }
            }
        }
        // Scopes the operator dropped fall back to a connector default on next use.
        let dropped: Vec<String> = st
            .shared
            .iter()
            .filter(|(n, s)| s.source == Source::Operator && !global.scopes.contains_key(*n))
            .map(|(n, _)| n.clone())
            .collect();
        for n in dropped {
            st.shared.remove(&n);
        }
        st.global = global.clone();
    }

    /// Make the instance's limiters match its connector defaults and operator
    /// settings. Cheap when nothing changed; called before each plugin call.
    pub fn register(
        &self,
        id: &str,
        name: &str,
        declared: &[RateLimit],
        config: &BTreeMap<String, String>,
        overrides: &InstanceLimitConfig,
    ) {
        let rules = effective_rules(declared, config, overrides);
        let mut st = self.lock();
        if let Some(shared) = &overrides.shared
            && !st.shared.contains_key(shared)
        {
            // A scope the operator named but did not size: the connector's `*` default.
            let budget = st
                .global
                .scopes
                .get(shared)
                .copied()
                .map(|b| (b, Source::Operator))
                .or_else(|| {
                    // The connector's budget for every request, else its first one.
                    declared
                        .iter()
                        .find(|r| r.scope == "*")
                        .or_else(|| declared.first())
                        .map(|r| (Budget::from_declared(r), Source::Connector))
                });
            if let Some((b, source)) = budget {
                st.shared.insert(
                    shared.clone(),
                    SharedState {
                        limiter: Limiter::new(b),
                        source,
                        adaptive: Adaptive::default(),
                    },
                );
            }
        }
        let inst = st
            .instances
            .entry(id.to_string())
            .or_insert_with(|| InstanceState {
                name: name.to_string(),
                rules: Vec::new(),
                shared: None,
                adaptive: Adaptive::default(),
                stats: LimitStats::default(),
            });
        inst.name = name.to_string();
        inst.shared = overrides.shared.clone();
        let same = inst.rules.len() == rules.len()
            && inst.rules.iter().zip(&rules).all(|((a, _), b)| a == b);
        if !same {
            inst.rules = rules
                .into_iter()
                .map(|r| {
                    let l = Limiter::new(r.budget);
                    (r, l)
                })
                .collect();
        }
    }

    /// Drop an instance's limiters (removed instance).
    pub fn forget(&self, id: &str) {
        self.lock().instances.remove(id);
    }

    /// Wait for a permit to send a request from instance `id` to `host`. Fails with the
    /// wait that would be needed when it exceeds `max_wait` (nothing is reserved then).
    pub async fn acquire(
        &self,
        id: &str,
        host: &str,
        max_wait: Duration,
    ) -> Result<Permit, Duration> {
        let host = host.to_ascii_lowercase();
        let semaphores: Vec<Arc<Semaphore>> = {
            let st = self.lock();
            let mut v = Vec::new();
            if let Some(inst) = st.instances.get(id) {
                for (rule, l) in &inst.rules {
                    if rule.scope == "*" || rule.scope == host {
                        v.extend(l.concurrency.clone());
                    }
                }
                if let Some(s) = inst.shared.as_ref().and_then(|s| st.shared.get(s)) {
                    v.extend(s.limiter.concurrency.clone());
                }
            }
            if let Some(h) = st.hosts.get(&host) {
                v.extend(h.concurrency.clone());
            }
            v
        };
        let mut slots = Vec::with_capacity(semaphores.len());
        for s in semaphores {
            // Semaphores are never closed.
            if let Ok(p) = s.acquire_owned().await {
                slots.push(p);
            }
        }
        let now = Instant::now();
        let at = {
            let mut guard = self.lock();
            let st = &mut *guard;
            let mut at = now;
            let shared_name = st.instances.get(id).and_then(|i| i.shared.clone());
            // The provider's fixed window has room: connector defaults stand aside.
            let window_open = match shared_name.as_ref().and_then(|s| st.shared.get(s)) {
                Some(s) => s.adaptive.window_open(now),
                None => st
                    .instances
                    .get(id)
                    .is_some_and(|i| i.adaptive.window_open(now)),
            };
            let paced = |source: Source| !(window_open && source == Source::Connector);
            if let Some(inst) = st.instances.get(id) {
                for (rule, l) in &inst.rules {
                    if (rule.scope == "*" || rule.scope == host) && paced(rule.source) {
                        at = at.max(l.gcra.earliest(now));
                    }
                }
                if shared_name.is_none() {
                    at = at.max(inst.adaptive.earliest(now));
                }
            }
            if let Some(s) = shared_name.as_ref().and_then(|s| st.shared.get(s)) {
                if paced(s.source) {
                    at = at.max(s.limiter.gcra.earliest(now));
                }
                at = at.max(s.adaptive.earliest(now));
            }
            if let Some(h) = st.hosts.get(&host) {
                at = at.max(h.gcra.earliest(now));
            }
            if at - now > max_wait {
                return Err(at - now);
            }
            if let Some(inst) = st.instances.get_mut(id) {
                for (rule, l) in &mut inst.rules {
                    if (rule.scope == "*" || rule.scope == host) && paced(rule.source) {
                        l.gcra.commit(at);
                    }
                }
                if shared_name.is_none() {
                    inst.adaptive.granted(at);
                }
                inst.stats.requests += 1;
                if at > now {
                    inst.stats.delayed += 1;
                    inst.stats.wait_secs += (at - now).as_secs_f64();
                }
            }
            if let Some(s) = shared_name.as_ref().and_then(|s| st.shared.get_mut(s)) {
                if paced(s.source) {
                    s.limiter.gcra.commit(at);
                }
                s.adaptive.granted(at);
            }
            if let Some(h) = st.hosts.get_mut(&host) {
                h.gcra.commit(at);
            }
            at
        };
        if at > now {
            tokio::time::sleep_until(at).await;
        }
        Ok(Permit {
            _slots: slots,
            waited: at - now,
        })
    }

    /// Learn from a response's headers; returns what was read.
    pub fn observe(&self, id: &str, headers: &[(String, String)]) -> Observation {
        let o = headers::observe(headers, SystemTime::now());
        if !o.is_empty() {
            let now = Instant::now();
            if let Some(a) = self.lock().adaptive_mut(id) {
                a.observe(&o, now);
            }
        }
        o
    }

    /// Pause the instance's quota (a throttle without a usable header).
    fn pause(&self, id: &str, d: Duration) {
        let until = Instant::now() + d;
        if let Some(a) = self.lock().adaptive_mut(id) {
            a.block(until);
        }
    }

    fn count(&self, id: &str, f: impl FnOnce(&mut LimitStats)) {
        if let Some(i) = self.lock().instances.get_mut(id) {
            f(&mut i.stats);
        }
    }

    /// Send one request with permits and bounded retries. `attempt` makes one try;
    /// `idempotent` requests are also retried after 5xx, timeouts and connection
    /// errors (a non-idempotent one only after a throttle, which the provider did not
    /// process). Returns the outcome and the time spent waiting.
    pub async fn send<F, Fut>(
        &self,
        id: &str,
        host: &str,
        idempotent: bool,
        mut attempt: F,
    ) -> (Result<InboundResponse, HttpFailure>, SendReport)
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<InboundResponse, HttpFailure>>,
    {
        let p = &self.retry;
        let mut waited = Duration::ZERO;
        let (mut retries, mut throttles) = (0u32, 0u32);
        let report = |waited, retries, throttled| SendReport {
            waited,
            retries,
            throttled,
        };
        let mut n = 0;
        loop {
            n += 1;
            let last = n >= p.max_attempts.max(1);
            let budget_left = p.max_wait.saturating_sub(waited);
            let permit = match self.acquire(id, host, budget_left).await {
                Ok(permit) => permit,
                Err(wait) => {
                    return (
                        Err(HttpFailure::RateLimited(Some(ceil_secs(wait)))),
                        report(waited, retries, throttles),
                    );
                }
            };
            waited += permit.waited;
            let result = attempt().await;
            drop(permit);
            let retry_in = match &result {
                Ok(resp) => {
                    let o = self.observe(id, &resp.headers);
                    let throttled = resp.status == 429
                        || (resp.status == 503 && o.retry_after.is_some())
                        || (resp.status == 403
                            && (o.retry_after.is_some() || o.remaining == Some(0)));
                    if throttled {
                        self.count(id, |s| s.throttled += 1);
                        throttles += 1;
                        let told = o
                            .retry_after
                            .or_else(|| o.reset.filter(|_| o.remaining == Some(0)));
                        let wait = match told {
                            Some(w) => w,
                            None => {
                                let w = self.jitter(n);
                                self.pause(id, w);
                                w
                            }
                        };
                        if last || waited + wait > p.max_wait {
                            return (
                                Err(HttpFailure::RateLimited(Some(ceil_secs(wait)))),
                                report(waited, retries, throttles),
                            );
                        }
                        // The paused quota makes the next acquire wait.
                        Some(Duration::ZERO)
                    } else if idempotent && matches!(resp.status, 500 | 502 | 503 | 504) && !last {
                        Some(self.jitter(n))
                    } else {
                        None
                    }
                }
                Err(HttpFailure::Timeout | HttpFailure::Connection(_)) if idempotent && !last => {
                    Some(self.jitter(n))
                }
                Err(_) => None,
            };
            match retry_in {
                None => return (result, report(waited, retries, throttles)),
                // Out of patience: the plugin gets this answer and may come back later.
                Some(d) if waited + d > p.max_wait => {
                    return (result, report(waited, retries, throttles));
                }
                Some(d) => {
                    self.count(id, |s| s.retries += 1);
                    retries += 1;
                    if !d.is_zero() {
                        self.count(id, |s| s.wait_secs += d.as_secs_f64());
                        tokio::time::sleep(d).await;
                        waited += d;
                    }
                }
            }
        }
    }

    fn jitter(&self, n: u32) -> Duration {
        let bound = self.retry.backoff_bound(n);
        bound.mul_f64(rand::thread_rng().gen_range(0.0..=1.0))
    }

    /// The live state of an instance's limiters, if it made requests in this process.
    pub fn instance_state(&self, id: &str) -> Option<InstanceLimitState> {
        let st = self.lock();
        let inst = st.instances.get(id)?;
        let now = Instant::now();
        let provider = match inst.shared.as_ref().and_then(|s| st.shared.get(s)) {
            Some(s) => s.adaptive.view(now),
            None => inst.adaptive.view(now),
        };
        Some(InstanceLimitState {
            in_flight: inst
                .rules
                .iter()
                .map(|(r, l)| (r.scope.clone(), l.in_flight()))
                .collect(),
            provider,
            stats: inst.stats.clone(),
        })
    }

    /// Shared scopes in use or configured.
    pub fn shared_scopes(&self) -> Vec<SharedScopeState> {
        let st = self.lock();
        let now = Instant::now();
        let mut v: Vec<SharedScopeState> = st
            .shared
            .iter()
            .map(|(name, s)| SharedScopeState {
                name: name.clone(),
                budget: s.limiter.budget,
                source: s.source,
                provider: s.adaptive.view(now),
                in_flight: s.limiter.in_flight(),
            })
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// Cumulative wait per instance name, for metrics.
    pub fn waits(&self) -> Vec<(String, f64)> {
        self.lock()
            .instances
            .values()
            .map(|i| (i.name.clone(), i.stats.wait_secs))
            .collect()
    }
}
