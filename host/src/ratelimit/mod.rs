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
//! Providers' headers ([`headers`]) refine this: `remaining` and `reset` pace the last
//! few requests of a window across the time left and stop at zero until the reset;
//! `Retry-After` (429, 503, GitHub's 403) pauses the instance's quota (or its shared
//! scope's). [`RateLimits::send`] retries throttling, 5xx, timeouts and connection
//! errors with exponential backoff and full jitter, bounded by attempts and by the
//! longest wait it will sit through; beyond that the plugin gets `rate-limited` with
//! the time to wait, and the scheduler resumes the scan from its cursor later.

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

use crate::capabilities::http::{HttpFailure, InboundResponse};
use crate::model::RateLimit;
use headers::Observation;

/// A request budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Requests allowed in any window of `per_secs`.
    pub requests: u32,
    pub per_secs: u32,
    /// Requests allowed back to back before the steady rate applies (at least 1).
    #[serde(default = "one")]
    pub burst: u32,
    /// Requests in flight at once; 0 means no limit.
    #[serde(default)]
    pub max_concurrency: u32,
}

fn one() -> u32 {
    1
}

impl Budget {
    pub fn validate(&self) -> Result<(), String> {
        if self.requests == 0 || self.per_secs == 0 {
            return Err("a budget needs at least 1 request per at least 1 second".into());
        }
        if self.burst == 0 || self.burst > self.requests {
            return Err(format!(
                "burst must be between 1 and the budget's {} requests",
                self.requests
            ));
        }
        Ok(())
    }

    /// Parse `REQUESTS/DURATION` such as `5000/1h`, `100/1m` or `3000/3600s`. Burst
    /// defaults to 2% of the budget, concurrency to unlimited.
    pub fn parse(text: &str) -> Result<Budget, String> {
        let err =
            || format!("invalid rate `{text}`: expected REQUESTS/DURATION, e.g. 5000/1h or 100/1m");
        let (n, per) = text.split_once('/').ok_or_else(err)?;
        let requests: u32 = n.trim().parse().map_err(|_| err())?;
        let per = per.trim();
        let per = if per.chars().all(|c| c.is_ascii_digit()) {
            Duration::from_secs(per.parse().map_err(|_| err())?)
        } else {
            humantime::parse_duration(per).map_err(|_| err())?
        };
        let b = Budget {
            requests,
            per_secs: per.as_secs().try_into().map_err(|_| err())?,
            burst: (requests / 50).max(1),
            max_concurrency: 0,
        };
        b.validate()?;
        Ok(b)
    }

    /// From a connector's declaration, repaired so it is always usable.
    pub fn from_declared(r: &RateLimit) -> Budget {
        let requests = r.requests.max(1);
        Budget {
            requests,
            per_secs: r.per_seconds.max(1),
            burst: r.burst.clamp(1, requests),
            max_concurrency: r.max_concurrency,
        }
    }

    /// GCRA emission interval and tolerance: `burst` at once, then one per interval,
    /// chosen so that `burst + ⌊per / interval⌋ ≤ requests`.
    fn gcra(&self) -> (Duration, Duration) {
        let per = Duration::from_secs(u64::from(self.per_secs));
        let burst = self.burst.clamp(1, self.requests.max(1));
        let steady = self.requests.saturating_sub(burst);
        let interval = if steady == 0 {
            per + Duration::from_nanos(1)
        } else {
            let nanos = per.as_nanos().div_ceil(u128::from(steady));
            Duration::from_nanos(nanos as u64)
        };
        (interval, interval * (burst - 1))
    }

    /// `5000/1h, burst 100, 4 at once`.
    pub fn describe(&self) -> String {
        let per = humantime::format_duration(Duration::from_secs(u64::from(self.per_secs)));
        let mut s = format!("{}/{per}, burst {}", self.requests, self.burst);
        if self.max_concurrency > 0 {
            s.push_str(&format!(", {} at once", self.max_concurrency));
        }
        s
    }
}

/// Who set a budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    Connector,
    Operator,
}

/// The operator's limit settings for one instance (stored with the instance).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceLimitConfig {
    /// Budgets by scope (`*` or an API host): each replaces the connector's budget of
    /// the same scope, or adds one.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub budgets: BTreeMap<String, Budget>,
    /// A shared scope this instance draws from together with every instance naming it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared: Option<String>,
}

impl InstanceLimitConfig {
    pub fn validate(&self) -> Result<(), String> {
        for (scope, b) in &self.budgets {
            b.validate()
                .map_err(|e| format!("budget for scope `{scope}`: {e}"))?;
        }
        if let Some(s) = &self.shared {
            validate_scope_name(s)?;
        }
        Ok(())
    }
}

/// Shared-scope and host budgets, set by the operator for the whole daemon.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalLimitConfig {
    #[serde(default)]
    pub scopes: BTreeMap<String, Budget>,
    #[serde(default)]
    pub hosts: BTreeMap<String, Budget>,
}

pub fn validate_scope_name(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid scope name `{s}`: use letters, digits, `-`, `_` or `.`, at most 64"
        ))
    }
}

/// One budget in force for an instance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EffectiveRule {
    /// `*` or the API host it covers.
    pub scope: String,
    pub budget: Budget,
    pub source: Source,
    /// The connector's default for this scope, when the operator replaced it.
    pub connector_default: Option<Budget>,
}

/// The host a connector's scope template names, expanded over the instance config.
fn template_host(template: &str, config: &BTreeMap<String, String>) -> Option<String> {
    let mut s = template.to_string();
    for (k, v) in config {
        s = s.replace(&format!("{{{k}}}"), v);
    }
    if s.contains('{') {
        return None;
    }
    let url = if s.contains("://") {
        s
    } else {
        format!("https://{s}")
    };
    url::Url::parse(&url)
        .ok()?
        .host_str()
        .map(|h| h.to_ascii_lowercase())
}

/// The budgets in force for an instance: connector defaults, replaced or extended by
/// the operator's.
pub fn effective_rules(
    declared: &[RateLimit],
    config: &BTreeMap<String, String>,
    overrides: &InstanceLimitConfig,
) -> Vec<EffectiveRule> {
    let mut rules: Vec<EffectiveRule> = Vec::new();
    for r in declared {
        let scope = if r.scope == "*" || r.scope.is_empty() {
            "*".to_string()
        } else {
            match template_host(&r.scope, config) {
                Some(h) => h,
                None => continue,
            }
        };
        rules.push(EffectiveRule {
            scope,
            budget: Budget::from_declared(r),
            source: Source::Connector,
            connector_default: None,
        });
    }
    for (scope, b) in &overrides.budgets {
        let scope = scope.to_ascii_lowercase();
        let mut replaced = false;
        for rule in rules.iter_mut().filter(|r| r.scope == scope) {
            // One operator budget replaces every connector budget of the scope.
            if !replaced {
                rule.connector_default = Some(rule.budget);
                rule.budget = *b;
                rule.source = Source::Operator;
                replaced = true;
            } else {
                rule.scope = String::new();
            }
        }
        rules.retain(|r| !r.scope.is_empty());
        if !replaced {
            rules.push(EffectiveRule {
                scope,
                budget: *b,
                source: Source::Operator,
                connector_default: None,
            });
        }
    }
    rules
}

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

/// GCRA state: the theoretical arrival time of the next request.
#[derive(Debug)]
struct Gcra {
    interval: Duration,
    tolerance: Duration,
    tat: Option<Instant>,
}

impl Gcra {
    fn new(b: &Budget) -> Gcra {
        let (interval, tolerance) = b.gcra();
        Gcra {
            interval,
            tolerance,
            tat: None,
        }
    }

    fn earliest(&self, now: Instant) -> Instant {
        match self.tat.and_then(|t| t.checked_sub(self.tolerance)) {
            Some(t) => t.max(now),
            None => now,
        }
    }

    fn commit(&mut self, at: Instant) {
        let base = self.tat.map_or(at, |t| t.max(at));
        self.tat = Some(base + self.interval);
    }
}

#[derive(Debug)]
struct Limiter {
    budget: Budget,
    gcra: Gcra,
    concurrency: Option<Arc<Semaphore>>,
}

impl Limiter {
    fn new(budget: Budget) -> Limiter {
        Limiter {
            budget,
            gcra: Gcra::new(&budget),
            concurrency: (budget.max_concurrency > 0)
                .then(|| Arc::new(Semaphore::new(budget.max_concurrency as usize))),
        }
    }

    /// Keep the state when the budget did not change.
    fn reconfigure(&mut self, budget: Budget) {
        if self.budget != budget {
            *self = Limiter::new(budget);
        }
    }

    fn in_flight(&self) -> u32 {
        self.concurrency.as_ref().map_or(0, |s| {
            self.budget
                .max_concurrency
                .saturating_sub(s.available_permits() as u32)
        })
    }
}

/// What the provider told us about its own budget.
#[derive(Debug, Default)]
struct Adaptive {
    limit: Option<u64>,
    remaining: Option<u64>,
    reset_at: Option<Instant>,
    blocked_until: Option<Instant>,
    last_grant: Option<Instant>,
}

impl Adaptive {
    fn earliest(&self, now: Instant) -> Instant {
        let mut t = now;
        if let Some(b) = self.blocked_until {
            t = t.max(b);
        }
        if let (Some(rem), Some(reset)) = (self.remaining, self.reset_at)
            && reset > now
        {
            let headroom = self.limit.map_or(1, |l| (l / 20).max(1));
            if rem == 0 {
                t = t.max(reset);
            } else if rem <= headroom {
                // Slow down before the wall: spread what is left over the time left.
                let spacing = (reset - now) / (rem as u32).max(1);
                if let Some(last) = self.last_grant {
                    t = t.max(last + spacing);
                }
            }
        }
        t
    }

    fn granted(&mut self, at: Instant) {
        self.last_grant = Some(at);
        if let Some(r) = &mut self.remaining {
            *r = r.saturating_sub(1);
        }
    }

    fn observe(&mut self, o: &Observation, now: Instant) {
        if let Some(w) = o.retry_after {
            self.block(now + w);
        }
        if o.remaining.is_some() {
            self.limit = o.limit.or(self.limit);
            self.remaining = o.remaining;
            self.reset_at = o.reset.map(|r| now + r);
            if o.remaining == Some(0)
                && let Some(r) = o.reset
            {
                self.block(now + r);
            }
        }
        if self.reset_at.is_some_and(|r| r <= now) {
            self.remaining = None;
            self.reset_at = None;
        }
    }

    fn block(&mut self, until: Instant) {
        self.blocked_until = Some(self.blocked_until.map_or(until, |b| b.max(until)));
    }
}

/// Counters per instance, for status, `sluice limits` and metrics.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
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

/// Provider-reported state of one quota, for views.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProviderQuota {
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    /// Seconds until the provider's window resets.
    pub reset_in_secs: Option<f64>,
    /// Seconds until requests may go again after a retry-after or an empty budget.
    pub paused_for_secs: Option<f64>,
}

impl Adaptive {
    fn view(&self, now: Instant) -> ProviderQuota {
        ProviderQuota {
            limit: self.limit,
            remaining: self.remaining,
            reset_in_secs: self
                .reset_at
                .filter(|r| *r > now)
                .map(|r| (r - now).as_secs_f64()),
            paused_for_secs: self
                .blocked_until
                .filter(|b| *b > now)
                .map(|b| (b - now).as_secs_f64()),
        }
    }
}

/// The live state of one instance's limiters.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InstanceLimitState {
    /// Per rule scope: requests in flight.
    pub in_flight: BTreeMap<String, u32>,
    /// What the provider reported (shared scope's when the instance has one).
    pub provider: ProviderQuota,
    pub stats: LimitStats,
}

/// A shared scope's live state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
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
            if let Some(inst) = st.instances.get(id) {
                for (rule, l) in &inst.rules {
                    if rule.scope == "*" || rule.scope == host {
                        at = at.max(l.gcra.earliest(now));
                    }
                }
                if shared_name.is_none() {
                    at = at.max(inst.adaptive.earliest(now));
                }
            }
            if let Some(s) = shared_name.as_ref().and_then(|s| st.shared.get(s)) {
                at = at
                    .max(s.limiter.gcra.earliest(now))
                    .max(s.adaptive.earliest(now));
            }
            if let Some(h) = st.hosts.get(&host) {
                at = at.max(h.gcra.earliest(now));
            }
            if at - now > max_wait {
                return Err(at - now);
            }
            if let Some(inst) = st.instances.get_mut(id) {
                for (rule, l) in &mut inst.rules {
                    if rule.scope == "*" || rule.scope == host {
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
                s.limiter.gcra.commit(at);
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
