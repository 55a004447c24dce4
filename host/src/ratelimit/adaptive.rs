//! What providers say about their own budgets (`remaining`, `reset`, `Retry-After`),
//! kept per instance or shared scope and used to pace requests before the wall.

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::headers::Observation;

/// What the provider told us about its own budget.
#[derive(Debug, Default)]
pub(super) struct Adaptive {
    pub(super) limit: Option<u64>,
    pub(super) remaining: Option<u64>,
    pub(super) reset_at: Option<Instant>,
    pub(super) blocked_until: Option<Instant>,
    pub(super) last_grant: Option<Instant>,
}

impl Adaptive {
    pub(super) fn earliest(&self, now: Instant) -> Instant {
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

    pub(super) fn granted(&mut self, at: Instant) {
        self.last_grant = Some(at);
        if let Some(r) = &mut self.remaining {
            *r = r.saturating_sub(1);
        }
    }

    pub(super) fn observe(&mut self, o: &Observation, now: Instant) {
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

    pub(super) fn block(&mut self, until: Instant) {
        self.blocked_until = Some(self.blocked_until.map_or(until, |b| b.max(until)));
    }
}

/// Provider-reported state of one quota, for views.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProviderQuota {
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    /// Seconds until the provider's window resets.
    pub reset_in_secs: Option<f64>,
    /// Seconds until requests may go again after a retry-after or an empty budget.
    pub paused_for_secs: Option<f64>,
}

impl Adaptive {
    pub(super) fn view(&self, now: Instant) -> ProviderQuota {
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
