//! What providers say about their limits in response headers.
//!
//! Header names arrive lowercased. Families understood:
//! - `x-ratelimit-{limit,remaining,reset}` (GitHub, DocuSign: `X-RateLimit-*`),
//!   `x-rate-limit-{limit,remaining,reset}` (Okta), `x-rate-limit` and
//!   `ratelimit-{limit,remaining,reset}` (Zendesk: `X-Rate-Limit: 700`, and on its
//!   ticketing endpoints the IETF draft's `ratelimit-reset` in seconds): reset is
//!   either epoch seconds or seconds from now (values under 10^9 are read as a delta),
//!   or an ISO 8601 time (Atlassian's admin APIs: "Next period reset time (ISO 8601 -
//!   Date and time in UTC)");
//! - `x-burstlimit-{limit,remaining}` (DocuSign's burst window, documented as 30 s);
//! - `sforce-limit-info: api-usage=USED/LIMIT` (Salesforce, a rolling 24 h window);
//! - `retry-after` in seconds (fractions allowed, as Microsoft Graph sends), as an
//!   HTTP date, or as an RFC 3339 time (Zoom's daily limit: `Retry-After:
//!   2020-05-31T00:00:00Z`, next to `X-RateLimit-Type: Daily-limit`; Zoom's
//!   `X-RateLimit-Limit` / `-Remaining` are the `x-ratelimit-*` family above).
//!
//! Every wait read is capped at [`MAX_PROVIDER_WAIT`], whatever the spelling.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// DocuSign documents its burst limit as per 30 seconds and sends no reset for it.
pub const BURST_WINDOW: Duration = Duration::from_secs(30);
/// Salesforce's `api-usage` counts a rolling 24 hours.
pub const SFORCE_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// The longest wait a provider's headers can ask for: a week. Longer is a mistake or
/// hostility (a reset in the year 9999, `1e300` seconds), and a `Duration` that large
/// panics on conversion or overflows the limiter's `Instant` arithmetic.
pub const MAX_PROVIDER_WAIT: Duration = Duration::from_secs(7 * 24 * 3600);

/// `secs` (finite) as a wait, at most [`MAX_PROVIDER_WAIT`].
fn capped(secs: f64) -> Duration {
    Duration::from_secs_f64(secs.clamp(0.0, MAX_PROVIDER_WAIT.as_secs_f64()))
}

/// One response's rate-limit information.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Observation {
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    /// Time until the window resets.
    pub reset: Option<Duration>,
    /// The provider asked us to wait this long.
    pub retry_after: Option<Duration>,
}

impl Observation {
    pub fn is_empty(&self) -> bool {
        *self == Observation::default()
    }
}

fn header<'a>(headers: &'a [(String, String)], names: &[&str]) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| names.iter().any(|n| k.eq_ignore_ascii_case(n)))
        .map(|(_, v)| v.trim())
}

fn number(v: &str) -> Option<f64> {
    v.parse::<f64>().ok().filter(|n| n.is_finite() && *n >= 0.0)
}

/// Seconds from now of a reset header: epoch seconds, a delta, or an ISO 8601 time.
fn reset_in(v: &str, now: SystemTime) -> Option<Duration> {
    let Some(n) = number(v) else {
        let at = chrono::DateTime::parse_from_rfc3339(v).ok()?;
        let at = UNIX_EPOCH + Duration::from_millis(u64::try_from(at.timestamp_millis()).ok()?);
        return Some(
            at.duration_since(now)
                .unwrap_or(Duration::ZERO)
                .min(MAX_PROVIDER_WAIT),
        );
    };
    if n >= 1e9 {
        let now_secs = now.duration_since(UNIX_EPOCH).ok()?.as_secs_f64();
        Some(capped(n - now_secs))
    } else {
        Some(capped(n))
    }
}

/// `Retry-After`: seconds, an HTTP date, or an RFC 3339 time (Zoom).
pub fn retry_after(v: &str, now: SystemTime) -> Option<Duration> {
    if let Some(n) = number(v) {
        return Some(capped(n));
    }
    let at = httpdate::parse_http_date(v).ok().or_else(|| {
        let at = chrono::DateTime::parse_from_rfc3339(v).ok()?;
        let ms = u64::try_from(at.timestamp_millis()).ok()?;
        Some(UNIX_EPOCH + Duration::from_millis(ms))
    })?;
    Some(
        at.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(MAX_PROVIDER_WAIT),
    )
}

/// Read every rate-limit header family from a response.
pub fn observe(headers: &[(String, String)], now: SystemTime) -> Observation {
    let mut o = Observation {
        retry_after: header(headers, &["retry-after"]).and_then(|v| retry_after(v, now)),
        ..Default::default()
    };
    let whole = |v: Option<&str>| v.and_then(number).map(|n| n as u64);
    o.limit = whole(header(
        headers,
        &[
            "x-ratelimit-limit",
            "x-rate-limit-limit",
            "x-rate-limit",
            "ratelimit-limit",
        ],
    ));
    o.remaining = whole(header(
        headers,
        &[
            "x-ratelimit-remaining",
            "x-rate-limit-remaining",
            "ratelimit-remaining",
        ],
    ));
    o.reset = header(
        headers,
        &["x-ratelimit-reset", "x-rate-limit-reset", "ratelimit-reset"],
    )
    .and_then(|v| reset_in(v, now));

    // A burst window that is nearly used up is the tighter constraint right now.
    let burst_limit = whole(header(headers, &["x-burstlimit-limit"]));
    let burst_remaining = whole(header(headers, &["x-burstlimit-remaining"]));
    if let (Some(br), Some(bl)) = (burst_remaining, burst_limit)
        && o.remaining.is_none_or(|r| br < r)
    {
        o.limit = Some(bl);
        o.remaining = Some(br);
        o.reset = Some(BURST_WINDOW);
    }

    if o.remaining.is_none()
        && let Some(info) = header(headers, &["sforce-limit-info"])
        && let Some(usage) = info
            .split(',')
            .find_map(|p| p.trim().strip_prefix("api-usage="))
        && let Some((used, limit)) = usage.split_once('/')
        && let (Some(used), Some(limit)) = (number(used), number(limit))
    {
        o.limit = Some(limit as u64);
        o.remaining = Some((limit - used).max(0.0) as u64);
        o.reset = Some(SFORCE_WINDOW);
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const NOW: u64 = 1_800_000_000;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW)
    }

    #[test]
    fn github_and_docusign_x_ratelimit_with_epoch_reset() {
        let o = observe(
            &h(&[
                ("x-ratelimit-limit", "5000"),
                ("x-ratelimit-remaining", "4990"),
                ("x-ratelimit-reset", &(NOW + 120).to_string()),
            ]),
            now(),
        );
        assert_eq!(o.limit, Some(5000));
        assert_eq!(o.remaining, Some(4990));
        assert_eq!(o.reset, Some(Duration::from_secs(120)));
        assert_eq!(o.retry_after, None);
    }

    #[test]
    fn atlassian_x_ratelimit_with_an_iso_8601_reset() {
        let at = |secs: u64| {
            chrono::DateTime::from_timestamp(secs as i64, 0)
                .unwrap()
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        };
        let o = observe(
            &h(&[
                ("X-RateLimit-Limit", "100"),
                ("X-RateLimit-Remaining", "7"),
                ("X-RateLimit-Reset", &at(NOW + 30)),
            ]),
            now(),
        );
        assert_eq!((o.limit, o.remaining), (Some(100), Some(7)));
        assert_eq!(o.reset, Some(Duration::from_secs(30)));
        // A reset already past waits for nothing; a year away is capped.
        let past = observe(&h(&[("x-ratelimit-reset", &at(NOW - 5))]), now());
        assert_eq!(past.reset, Some(Duration::ZERO));
        let far = observe(&h(&[("x-ratelimit-reset", &at(NOW + 365 * 86_400))]), now());
        assert_eq!(far.reset, Some(MAX_PROVIDER_WAIT));
        assert_eq!(
            observe(&h(&[("x-ratelimit-reset", "soon")]), now()).reset,
            None
        );
    }

    #[test]
    fn okta_x_rate_limit_and_delta_resets() {
        let o = observe(
            &h(&[
                ("X-Rate-Limit-Limit", "1200"),
                ("X-Rate-Limit-Remaining", "0"),
                ("X-Rate-Limit-Reset", "42"),
            ]),
            now(),
        );
        assert_eq!((o.limit, o.remaining), (Some(1200), Some(0)));
        assert_eq!(o.reset, Some(Duration::from_secs(42)));
    }

    #[test]
    fn zendesk_x_rate_limit_and_ratelimit_reset() {
        // Zendesk's documented headers: every answer, then its ticketing endpoints'.
        let o = observe(
            &h(&[("X-Rate-Limit", "700"), ("X-Rate-Limit-Remaining", "699")]),
            now(),
        );
        assert_eq!(
            (o.limit, o.remaining, o.reset),
            (Some(700), Some(699), None)
        );
        let o = observe(
            &h(&[
                ("x-rate-limit", "700"),
                ("ratelimit-limit", "700"),
                ("x-rate-limit-remaining", "699"),
                ("ratelimit-remaining", "699"),
                ("ratelimit-reset", "41"),
            ]),
            now(),
        );
        assert_eq!((o.limit, o.remaining), (Some(700), Some(699)));
        assert_eq!(o.reset, Some(Duration::from_secs(41)));
    }

    #[test]
    fn docusign_burst_limit_wins_when_tighter() {
        let o = observe(
            &h(&[
                ("x-ratelimit-limit", "3000"),
                ("x-ratelimit-remaining", "2500"),
                ("x-burstlimit-limit", "500"),
                ("x-burstlimit-remaining", "3"),
            ]),
            now(),
        );
        assert_eq!((o.limit, o.remaining), (Some(500), Some(3)));
        assert_eq!(o.reset, Some(BURST_WINDOW));
    }

    #[test]
    fn salesforce_limit_info() {
        let o = observe(
            &h(&[(
                "sforce-limit-info",
                "api-usage=10018/100000, api-bursts=1/750",
            )]),
            now(),
        );
        assert_eq!((o.limit, o.remaining), (Some(100000), Some(89982)));
        assert_eq!(o.reset, Some(SFORCE_WINDOW));
    }

    #[test]
    fn retry_after_in_seconds_fractions_and_http_dates() {
        assert_eq!(retry_after("10", now()), Some(Duration::from_secs(10)));
        assert_eq!(
            retry_after("2.128", now()),
            Some(Duration::from_millis(2128))
        );
        let date = httpdate::fmt_http_date(now() + Duration::from_secs(90));
        assert_eq!(retry_after(&date, now()), Some(Duration::from_secs(90)));
        let past = httpdate::fmt_http_date(now() - Duration::from_secs(90));
        assert_eq!(retry_after(&past, now()), Some(Duration::ZERO));
        assert_eq!(retry_after("soon", now()), None);
        // Zoom's daily limit names the time it resets, in RFC 3339.
        let zoom = chrono::DateTime::from_timestamp(NOW as i64 + 3600, 0)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        assert_eq!(retry_after(&zoom, now()), Some(Duration::from_secs(3600)));
        assert_eq!(
            retry_after("1999-01-01T00:00:00Z", now()),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("-3", now()), None);
    }

    #[test]
    fn nothing_to_observe() {
        assert!(observe(&h(&[("content-type", "application/json")]), now()).is_empty());
    }
}
