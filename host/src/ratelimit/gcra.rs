//! Budgets enforced exactly: GCRA in integer nanoseconds, so no window of a budget's
//! length ever holds more than its requests, plus an optional concurrency cap.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::Budget;

/// GCRA emission interval and tolerance: `burst` at once, then one per interval,
/// chosen so that `burst + ⌊per / interval⌋ ≤ requests`.
pub(super) fn gcra(budget: &Budget) -> (Duration, Duration) {
    let per = Duration::from_secs(u64::from(budget.per_secs));
    let burst = budget.burst.clamp(1, budget.requests.max(1));
    let steady = budget.requests.saturating_sub(burst);
    let interval = if steady == 0 {
        per + Duration::from_nanos(1)
    } else {
        let nanos = per.as_nanos().div_ceil(u128::from(steady));
        Duration::from_nanos(nanos as u64)
    };
    (interval, interval * (burst - 1))
}

/// GCRA state: the theoretical arrival time of the next request.
#[derive(Debug)]
pub(super) struct Gcra {
    pub(super) interval: Duration,
    pub(super) tolerance: Duration,
    pub(super) tat: Option<Instant>,
}

impl Gcra {
    pub(super) fn new(b: &Budget) -> Gcra {
        let (interval, tolerance) = gcra(b);
        Gcra {
            interval,
            tolerance,
            tat: None,
        }
    }

    pub(super) fn earliest(&self, now: Instant) -> Instant {
        match self.tat.and_then(|t| t.checked_sub(self.tolerance)) {
            Some(t) => t.max(now),
            None => now,
        }
    }

    pub(super) fn commit(&mut self, at: Instant) {
        let base = self.tat.map_or(at, |t| t.max(at));
        self.tat = Some(base + self.interval);
    }
}

#[derive(Debug)]
pub(super) struct Limiter {
    pub(super) budget: Budget,
    pub(super) gcra: Gcra,
    pub(super) concurrency: Option<Arc<Semaphore>>,
}

impl Limiter {
    pub(super) fn new(budget: Budget) -> Limiter {
        Limiter {
            budget,
            gcra: Gcra::new(&budget),
            concurrency: (budget.max_concurrency > 0)
                .then(|| Arc::new(Semaphore::new(budget.max_concurrency as usize))),
        }
    }

    /// Keep the state when the budget did not change.
    pub(super) fn reconfigure(&mut self, budget: Budget) {
        if self.budget != budget {
            *self = Limiter::new(budget);
        }
    }

    pub(super) fn in_flight(&self) -> u32 {
        self.concurrency.as_ref().map_or(0, |s| {
            self.budget
                .max_concurrency
                .saturating_sub(s.available_permits() as u32)
        })
    }
}
