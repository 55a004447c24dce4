//! What providers say about their own budgets (`remaining`, `reset`, `Retry-After`),
//! kept per instance or shared scope and used to pace requests before the wall.

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::headers::Observation;

/// The reserve of a provider window whose limit is not reported.
const UNKNOWN_LIMIT_RESERVE: u64 = 10;

/// Reset times this close are one window (reset headers have one-second resolution).
const SAME_WINDOW: std::time::Duration = std::time::Duration::from_secs(2);

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

    /// Whether the provider reports a fixed window (what is left, and when it resets)
    /// with more than [`Adaptive::reserve`] left. While it does, the connector's
    /// default budget stands aside: a provider that resets its quota at a known time
    /// gets it spent at full speed (concurrency caps still hold), down to the reserve.
    pub(super) fn window_open(&self, now: Instant) -> bool {
        match (self.remaining, self.reset_at) {
            (Some(rem), Some(reset)) if reset > now => rem > self.reserve(),
            _ => false,
        }
    }

    /// What full-speed spending leaves of a provider window for actions and other
    /// instances on the same token: a tenth of the window's limit (at least 1), or
    /// [`UNKNOWN_LIMIT_RESERVE`] when the provider does not say its limit.
    pub(super) fn reserve(&self) -> u64 {
        self.limit
            .map_or(UNKNOWN_LIMIT_RESERVE, |l| (l / 10).max(1))
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
            let reset_at = o.reset.map(|r| now + r);
            // Within one window, answers to requests sent earlier report more than is
            // left now (we count each grant down): keep the lower count. A new window
            // (a later reset) starts from what the provider says.
            let same_window = match (self.reset_at, reset_at) {
                (Some(a), Some(b)) => a.max(b) - a.min(b) < SAME_WINDOW,
                _ => false,
            };
            self.remaining = match (self.remaining, o.remaining) {
                (Some(ours), Some(theirs)) if same_window => Some(ours.min(theirs)),
                (_, theirs) => theirs,
            };
            self.reset_at = reset_at;
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
