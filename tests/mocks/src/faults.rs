//! Rate budgets and injected faults: the ways a mock refuses, breaks or delays a request
//! it would otherwise answer.
//!
//! The host's limiter and retry logic are only proven by a provider that says no: a
//! budget that really runs out, bursts of secondary-limit and 5xx answers that end, and
//! transfers that break off half-way or take too long. All of it is provider-neutral
//! here; each mock decides how a refusal looks on the wire (GitHub's 403/429 bodies,
//! Okta's `X-Rate-Limit-*`, Graph's `Retry-After`), while a cut-off or truncated body
//! looks the same everywhere, so [`reset_mid_body`] and [`truncate_body`] live here.

use std::io;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes, HttpBody};
use axum::http::HeaderValue;
use axum::http::header::CONTENT_LENGTH;
use axum::response::Response;
use http_body::{Frame, SizeHint};

/// Faults to inject into the next requests, replacing whatever was still pending.
///
/// Faults hit only requests that passed authentication. While `throttle_forever` is set
/// every such request gets the secondary-limit answer and nothing else happens. Otherwise
/// the one-shot faults are used up one per request, in this order:
///
/// 1. `secondary_limit` requests get the secondary-limit answer (429, or 403);
/// 2. `server_errors` requests get a 5xx (cycling through `server_error_statuses`);
/// 3. `reset_mid_body` requests get a 200 whose body stops half-way, connection dropped;
/// 4. `truncated_body` requests get a complete 200 whose JSON is cut in half;
/// 5. `slow_responses` requests are answered normally, `slow_delay` late;
///
/// then requests are served normally again. Faulted requests do not use up the primary
/// budget, except slow ones: those are real answers, only late.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// The next N requests are refused by the secondary rate limit (429 unless
    /// `secondary_as_403`), with `retry-after: retry_after_secs`.
    pub secondary_limit: usize,
    /// The `retry-after` value, in seconds, of secondary-limit answers; also how long an
    /// exhausted primary budget stays exhausted (at least one second).
    pub retry_after_secs: u64,
    /// The next N requests (after any secondary-limit ones) get a server error: `502 Bad
    /// Gateway` unless `server_error_statuses` says otherwise.
    pub server_errors: usize,
    /// The statuses the `server_errors` answers cycle through, in order: the *i*-th
    /// server error gets entry *i* modulo the length, so `[500, 502, 503]` with
    /// `server_errors: 4` answers 500, 502, 503, 500. Empty (the default) means `[502]`.
    /// None of them carries `retry-after`, not even a 503. A value that is no valid
    /// status code answers 502.
    pub server_error_statuses: Vec<u16>,
    /// The next N requests (after any server errors) are answered by the endpoint as
    /// usual, then the body is cut off: the headers declare the whole body's length,
    /// half of it is sent, and the connection is dropped, so the client reads an
    /// incomplete body and gets an error. An answer without a body (a `DELETE`'s 204)
    /// has nothing to cut and arrives whole; the request still takes effect either way.
    pub reset_mid_body: usize,
    /// The next N requests (after any reset ones) are answered by the endpoint as usual,
    /// but only the first half of the body is sent, with a `content-length` matching
    /// that half: the transfer succeeds and the JSON is invalid.
    pub truncated_body: usize,
    /// The next N requests (after any truncated ones) are answered as usual, but only
    /// after `slow_delay` more (on top of the mock's configured latency), so a client
    /// with a shorter timeout gives up. They count against the primary budget.
    pub slow_responses: usize,
    /// How late `slow_responses` answers are.
    pub slow_delay: Duration,
    /// Use up the primary budget now: every request is refused with `remaining: 0`
    /// until the window resets `retry_after_secs` (at least 1 s) from now.
    pub primary_exhausted: bool,
    /// Answer secondary-limit faults with 403 instead of 429; providers such as
    /// GitHub document both.
    pub secondary_as_403: bool,
    /// Refuse every request with the secondary-limit answer (with `retry-after:
    /// retry_after_secs`, 403 if `secondary_as_403`) until the next `inject_faults`
    /// replaces these faults. The one-shot faults above stay pending meanwhile, so in
    /// effect they never fire.
    pub throttle_forever: bool,
}

/// The fault the next request gets, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Secondary rate limit: status 429 or 403 with `retry-after`.
    SecondaryLimit { retry_after_secs: u64, as_403: bool },
    /// An upstream failure with this (5xx) status.
    ServerError { status: u16 },
    /// The real answer, its body cut off half-way and the connection dropped
    /// (see [`reset_mid_body`]).
    ResetMidBody,
    /// The real answer with only the first half of its body (see [`truncate_body`]).
    TruncatedBody,
    /// The real answer, `delay` late.
    Slow { delay: Duration },
}

/// Pending faults, consumed one per request.
#[derive(Debug, Default)]
pub(crate) struct FaultPlan(Mutex<Pending>);

#[derive(Debug, Default)]
struct Pending {
    faults: Faults,
    /// Server errors answered since the faults were injected: the position in
    /// `server_error_statuses`.
    server_errors_sent: usize,
}

impl FaultPlan {
    /// Replaces the pending faults; `primary_exhausted` is applied to `budget` at once.
    pub(crate) fn inject(&self, faults: Faults, budget: &RateBudget) {
        if faults.primary_exhausted {
            budget.exhaust_for(Duration::from_secs(faults.retry_after_secs.max(1)));
        }
        *self.lock() = Pending {
            faults,
            server_errors_sent: 0,
        };
    }

    /// Takes the fault for the request being answered now, if one is pending. This is
    /// the one place that decides which fault a request gets (see [`Faults`]).
    pub(crate) fn take(&self) -> Option<Fault> {
        let mut guard = self.lock();
        let Pending {
            faults: pending,
            server_errors_sent,
        } = &mut *guard;
        let secondary = Fault::SecondaryLimit {
            retry_after_secs: pending.retry_after_secs,
            as_403: pending.secondary_as_403,
        };
        if pending.throttle_forever {
            return Some(secondary);
        }
        if pending.secondary_limit > 0 {
            pending.secondary_limit -= 1;
            return Some(secondary);
        }
        if pending.server_errors > 0 {
            pending.server_errors -= 1;
            let statuses = &pending.server_error_statuses;
            let status = if statuses.is_empty() {
                502
            } else {
                statuses[*server_errors_sent % statuses.len()]
            };
            *server_errors_sent += 1;
            return Some(Fault::ServerError { status });
        }
        if pending.reset_mid_body > 0 {
            pending.reset_mid_body -= 1;
            return Some(Fault::ResetMidBody);
        }
        if pending.truncated_body > 0 {
            pending.truncated_body -= 1;
            return Some(Fault::TruncatedBody);
        }
        if pending.slow_responses > 0 {
            pending.slow_responses -= 1;
            return Some(Fault::Slow {
                delay: pending.slow_delay,
            });
        }
        None
    }

    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// `response` with only the first half of its body, and a `content-length` saying so:
/// a transfer that succeeds with a body that is not valid JSON (any more).
pub(crate) async fn truncate_body(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(mut bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        // The endpoint's own body failed; nothing is left to truncate.
        return Response::from_parts(parts, Body::empty());
    };
    bytes.truncate(bytes.len() / 2);
    parts
        .headers
        .insert(CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    Response::from_parts(parts, Body::from(bytes))
}

/// `response` with a body that declares its full length, sends the first half, then
/// fails, which makes hyper drop the connection: the client gets the status and headers
/// and then an incomplete-body error. A response without a body is returned unchanged.
pub(crate) async fn reset_mid_body(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, Body::empty());
    };
    if bytes.is_empty() {
        return Response::from_parts(parts, Body::empty());
    }
    parts
        .headers
        .insert(CONTENT_LENGTH, HeaderValue::from(bytes.len()));
    let declared = bytes.len() as u64;
    let first_half = bytes.slice(..bytes.len() / 2);
    Response::from_parts(parts, Body::new(CutOffBody::new(first_half, declared)))
}

/// How long [`CutOffBody`] waits between its first half and its failure, so hyper
/// flushes that half to the socket before it drops the connection (it would discard
/// still-buffered bytes otherwise).
const CUT_OFF_PAUSE: Duration = Duration::from_millis(20);

/// A body that claims `declared` bytes, yields `first` and then an I/O error.
struct CutOffBody {
    declared: u64,
    first: Option<Bytes>,
    /// Armed after `first` is yielded; the error follows once it fires.
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl CutOffBody {
    fn new(first: Bytes, declared: u64) -> CutOffBody {
        CutOffBody {
            declared,
            first: Some(first),
            pause: None,
        }
    }
}

impl HttpBody for CutOffBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if let Some(first) = self.first.take() {
            self.pause = Some(Box::pin(tokio::time::sleep(CUT_OFF_PAUSE)));
            return Poll::Ready(Some(Ok(Frame::data(first))));
        }
        if let Some(pause) = self.pause.as_mut()
            && pause.as_mut().poll(cx).is_pending()
        {
            return Poll::Pending;
        }
        Poll::Ready(Some(Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "injected fault: connection reset mid-body",
        ))))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.declared)
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
        assert_eq!(plan.take(), Some(Fault::ServerError { status: 502 }));
        assert_eq!(plan.take(), None);
        assert_eq!(budget.peek().used, 0);
    }

    #[test]
    fn every_one_shot_fault_is_taken_in_the_documented_order() {
        let plan = FaultPlan::default();
        let budget = RateBudget::new(10, Duration::from_secs(3600));
        plan.inject(
            Faults {
                secondary_limit: 1,
                retry_after_secs: 3,
                server_errors: 4,
                server_error_statuses: vec![500, 502, 503],
                reset_mid_body: 1,
                truncated_body: 2,
                slow_responses: 1,
                slow_delay: Duration::from_millis(250),
                secondary_as_403: true,
                ..Faults::default()
            },
            &budget,
        );
        let taken: Vec<_> = std::iter::from_fn(|| plan.take()).take(20).collect();
        assert_eq!(
            taken,
            [
                Fault::SecondaryLimit {
                    retry_after_secs: 3,
                    as_403: true
                },
                Fault::ServerError { status: 500 },
                Fault::ServerError { status: 502 },
                Fault::ServerError { status: 503 },
                Fault::ServerError { status: 500 },
                Fault::ResetMidBody,
                Fault::TruncatedBody,
                Fault::TruncatedBody,
                Fault::Slow {
                    delay: Duration::from_millis(250)
                },
            ]
        );
        assert_eq!(plan.take(), None);
        assert_eq!(
            budget.peek().used,
            0,
            "taking faults never touches the budget"
        );
    }

    #[test]
    fn reinjecting_restarts_the_status_cycle() {
        let plan = FaultPlan::default();
        let budget = RateBudget::new(10, Duration::from_secs(3600));
        let burst = Faults {
            server_errors: 2,
            server_error_statuses: vec![503, 500],
            ..Faults::default()
        };
        plan.inject(burst.clone(), &budget);
        assert_eq!(plan.take(), Some(Fault::ServerError { status: 503 }));
        plan.inject(burst, &budget);
        assert_eq!(plan.take(), Some(Fault::ServerError { status: 503 }));
        assert_eq!(plan.take(), Some(Fault::ServerError { status: 500 }));
        assert_eq!(plan.take(), None);
    }

    #[test]
    fn throttle_forever_refuses_until_replaced_and_holds_back_one_shot_faults() {
        let plan = FaultPlan::default();
        let budget = RateBudget::new(10, Duration::from_secs(3600));
        plan.inject(
            Faults {
                throttle_forever: true,
                retry_after_secs: 9,
                server_errors: 1,
                truncated_body: 1,
                ..Faults::default()
            },
            &budget,
        );
        for _ in 0..50 {
            assert_eq!(
                plan.take(),
                Some(Fault::SecondaryLimit {
                    retry_after_secs: 9,
                    as_403: false
                })
            );
        }
        plan.inject(Faults::default(), &budget);
        assert_eq!(plan.take(), None);
    }

    fn json_response(body: &'static str) -> Response {
        Response::builder()
            .header(CONTENT_LENGTH, body.len())
            .body(Body::from(body))
            .unwrap()
    }

    #[tokio::test]
    async fn truncated_body_is_the_first_half_with_a_matching_length() {
        let response = truncate_body(json_response(r#"{"login":"admin-1"}"#)).await;
        assert_eq!(response.headers()[CONTENT_LENGTH], "9");
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(&body[..], br#"{"login":"#);
        assert!(serde_json::from_slice::<serde_json::Value>(&body).is_err());
    }

    #[tokio::test]
    async fn reset_body_declares_everything_sends_half_then_fails() {
        let response = reset_mid_body(json_response(r#"{"login":"admin-1"}"#)).await;
        assert_eq!(response.headers()[CONTENT_LENGTH], "19");
        let mut body = response.into_body();
        assert_eq!(body.size_hint().exact(), Some(19));
        let first = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first.into_data().unwrap(), &br#"{"login":"#[..]);
        let failure = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx))
            .await
            .unwrap();
        assert!(failure.is_err());

        let empty = reset_mid_body(Response::new(Body::empty())).await;
        assert_eq!(empty.into_body().size_hint().exact(), Some(0));
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
