//! Rate budgets and injected faults, the two ways a mock refuses a request it would
//! otherwise answer.
//!
//! The host's limiter and retry logic are only proven by a provider that says no: a
//! budget that really runs out and bursts of secondary-limit and 5xx answers that end.
//! Both are provider-neutral here; each mock decides how a refusal looks on the wire
//! (GitHub's 403/429 bodies, Okta's `X-Rate-Limit-*`, Graph's `Retry-After`).

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Faults to inject into the next requests, replacing whatever was still pending.
///
/// Faults hit only requests that passed authentication, in this order: first
/// `secondary_limit` requests get the secondary-limit answer, then `server_errors`
/// requests get a 502, then requests are served normally again. Faulted requests do
/// not use up the primary budget.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// The next N requests are refused by the secondary rate limit (429 unless
    /// `secondary_as_403`), with `retry-after: retry_after_secs`.
    pub secondary_limit: usize,
    /// The `retry-after` value, in seconds, of secondary-limit answers; also how long an
    /// exhausted primary budget stays exhausted (at least one second).
    pub retry_after_secs: u64,
    /// The next N requests (after any secondary-limit ones) get `502 Bad Gateway`.
    pub server_errors: usize,
    /// Use up the primary budget now: every request is refused with `remaining: 0`
    /// until the window resets `retry_after_secs` (at least 1 s) from now.
    pub primary_exhausted: bool,
    /// Answer secondary-limit faults with 403 instead of 429; providers such as
    /// GitHub document both.
    pub secondary_as_403: bool,
}

/// The fault the next request gets, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Secondary rate limit: status 429 or 403 with `retry-after`.
    SecondaryLimit { retry_after_secs: u64, as_403: bool },
    /// An upstream failure (502).
    ServerError,
}

/// Pending one-shot faults, consumed one per request.
#[derive(Debug, Default)]
pub(crate) struct FaultPlan(Mutex<Faults>);

impl FaultPlan {
    /// Replaces the pending faults; `primary_exhausted` is applied to `budget` at once.
    pub(crate) fn inject(&self, faults: Faults, budget: &RateBudget) {
        if faults.primary_exhausted {
            budget.exhaust_for(Duration::from_secs(faults.retry_after_secs.max(1)));
        }
        *self.lock() = faults;
    }

    /// Takes the fault for the request being answered now, if one is pending.
    pub(crate) fn take(&self) -> Option<Fault> {
        let mut pending = self.lock();
        if pending.secondary_limit > 0 {
            pending.secondary_limit -= 1;
            return Some(Fault::SecondaryLimit {
                retry_after_secs: pending.retry_after_secs,
                as_403: pending.secondary_as_403,
            });
        }
        if pending.server_errors > 0 {
            pending.server_errors -= 1;
            return Some(Fault::ServerError);
        }
        None
    }

    fn lock(&self) -> MutexGuard<'_, Faults> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A fixed-window request budget, like GitHub's 5,000 requests per hour: the window
/// starts when the mock starts and a fresh one begins at the first request after it ends.
#[derive(Debug)]
pub(crate) struct RateBudget {
    /// Requests allowed per window.
    limit: u32,
    /// Length of a normal window.
    period: Duration,
    window: Mutex<Window>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    used: u32,
    ends: SystemTime,
}

/// The budget as reported in response headers after a request was counted (or refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BudgetSnapshot {
    pub(crate) limit: u32,
    pub(crate) used: u32,
    /// When the window ends, in whole seconds since the Unix epoch (rounded up, so a
    /// client waiting until then never retries early).
    pub(crate) reset_epoch_secs: u64,
    /// Whether this request fitted into the budget.
    pub(crate) allowed: bool,
}

impl BudgetSnapshot {
    pub(crate) fn remaining(&self) -> u32 {
        self.limit.saturating_sub(self.used)
    }
}

impl RateBudget {
    pub(crate) fn new(limit: u32, period: Duration) -> RateBudget {
        RateBudget {
            limit,
            period,
            window: Mutex::new(Window {
                used: 0,
                ends: SystemTime::now() + period,
            }),
        }
    }

    /// Counts one request if the budget allows it.
    pub(crate) fn consume(&self) -> BudgetSnapshot {
        self.observe(true)
    }

    /// The current state without counting (for endpoints that are free, such as
    /// GitHub's `/rate_limit`, and for faulted answers).
    pub(crate) fn peek(&self) -> BudgetSnapshot {
        self.observe(false)
    }

    /// Marks the budget used up until `duration` from now.
    pub(crate) fn exhaust_for(&self, duration: Duration) {
        let mut window = self.lock();
        *window = Window {
            used: self.limit,
            ends: SystemTime::now() + duration,
        };
    }

    fn observe(&self, count: bool) -> BudgetSnapshot {
        let now = SystemTime::now();
        let mut window = self.lock();
        if now >= window.ends {
            *window = Window {
                used: 0,
                ends: now + self.period,
            };
        }
        let allowed = window.used < self.limit;
        if count && allowed {
            window.used += 1;
        }
        BudgetSnapshot {
            limit: self.limit,
            used: window.used,
            reset_epoch_secs: epoch_secs_ceil(window.ends),
            allowed,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Window> {
        self.window
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn epoch_secs_ceil(at: SystemTime) -> u64 {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    since.as_secs() + u64::from(since.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_counts_down_and_refuses_when_used_up() {
        let budget = RateBudget::new(2, Duration::from_secs(3600));
        assert_eq!(budget.consume().remaining(), 1);
        assert_eq!(budget.consume().remaining(), 0);
        let refused = budget.consume();
        assert!(!refused.allowed);
        assert_eq!(refused.used, 2);
        assert!(budget.peek().reset_epoch_secs >= epoch_secs_ceil(SystemTime::now()));
    }

    #[test]
    fn faults_are_taken_in_order_then_stop() {
        let plan = FaultPlan::default();
        let budget = RateBudget::new(10, Duration::from_secs(3600));
        plan.inject(
            Faults {
                secondary_limit: 1,
                retry_after_secs: 7,
                server_errors: 1,
                ..Faults::default()
            },
            &budget,
        );
        assert_eq!(
            plan.take(),
            Some(Fault::SecondaryLimit {
                retry_after_secs: 7,
                as_403: false
            })
        );
        assert_eq!(plan.take(), Some(Fault::ServerError));
        assert_eq!(plan.take(), None);
        assert_eq!(budget.peek().used, 0);
    }

    #[test]
    fn primary_exhaustion_lasts_until_the_short_window_ends() {
        let plan = FaultPlan::default();
        let budget = RateBudget::new(10, Duration::from_secs(3600));
        plan.inject(
            Faults {
                primary_exhausted: true,
                retry_after_secs: 30,
                ..Faults::default()
            },
            &budget,
        );
        let snapshot = budget.consume();
        assert!(!snapshot.allowed);
        assert_eq!(snapshot.remaining(), 0);
        let now = epoch_secs_ceil(SystemTime::now());
        assert!(snapshot.reset_epoch_secs <= now + 31);
    }
}
