//! Timestamps: the WIT `timestamp` is milliseconds since the Unix epoch, UTC.
//!
//! Providers write times in several dialects (RFC 3339 with `Z` or an offset, with or
//! without fractions, Salesforce's `+0000`); parsing them all here keeps every
//! connector's records on one clock. Formatting is for query filters, which providers
//! accept as RFC 3339 UTC with whole seconds.

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};

/// Parses a provider time into milliseconds since the epoch.
///
/// Accepts RFC 3339 (`2024-01-01T00:00:00Z`, `2017-05-16T08:47:09.000-07:00`, a space
/// instead of `T`), offsets without a colon (`2013-05-14T19:35:01.000+0000`), and, read
/// as UTC, times with no offset at all. Returns none for anything else.
pub fn parse(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.timestamp_millis());
    }
    if let Ok(time) = DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z") {
        return Some(time.timestamp_millis());
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|time| time.and_utc().timestamp_millis())
}

/// Formats milliseconds since the epoch as RFC 3339 UTC, whole seconds (truncated), e.g.
/// `2024-01-01T00:00:00Z`; none if out of chrono's range.
pub fn to_rfc3339(millis: i64) -> Option<String> {
    DateTime::<Utc>::from_timestamp_millis(millis)
        .map(|time| time.to_rfc3339_opts(SecondsFormat::Secs, true))
}

/// Parses the Microsoft JSON date form `/Date(1582261200000-0500)/` (milliseconds since
/// the epoch, then an optional offset that only says which zone it was shown in) that
/// .NET-based APIs such as NetDocuments write; none for anything else.
pub fn parse_ms_json_date(text: &str) -> Option<i64> {
    let inner = text.trim().strip_prefix("/Date(")?.strip_suffix(")/")?;
    // The offset does not move the instant: the milliseconds are already UTC.
    let end = inner
        .get(1..)
        .and_then(|rest| rest.find(['+', '-']))
        .map_or(inner.len(), |at| at + 1);
    inner[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_provider_dialects() {
        assert_eq!(parse("1970-01-01T00:00:01Z"), Some(1_000));
        assert_eq!(parse("2011-01-26T19:06:43Z"), Some(1_296_068_803_000));
        // GitHub installations: fraction and a negative offset.
        assert_eq!(
            parse("2017-05-16T08:47:09.000-07:00"),
            Some(1_494_949_629_000)
        );
        assert_eq!(parse("2017-05-16 15:47:09.5Z"), Some(1_494_949_629_500));
        // Salesforce: offset without a colon.
        assert_eq!(
            parse("2013-05-14T19:35:01.000+0000"),
            Some(1_368_560_101_000)
        );
        assert_eq!(parse("2013-05-14T19:35:01"), Some(1_368_560_101_000));
        assert_eq!(parse("yesterday"), None);
        assert_eq!(parse(""), None);
    }

    #[test]
    fn parses_microsoft_json_dates() {
        assert_eq!(
            parse_ms_json_date("/Date(1582261200000-0500)/"),
            Some(1_582_261_200_000)
        );
        assert_eq!(
            parse_ms_json_date("/Date(1582261200000)/"),
            Some(1_582_261_200_000)
        );
        assert_eq!(parse_ms_json_date("/Date(-1000+0100)/"), Some(-1_000));
        assert_eq!(parse_ms_json_date("2020-02-21T05:00:00Z"), None);
        assert_eq!(parse_ms_json_date("/Date()/"), None);
    }

    #[test]
    fn formats_utc_whole_seconds() {
        assert_eq!(
            to_rfc3339(1_704_067_200_000).as_deref(),
            Some("2024-01-01T00:00:00Z")
        );
        assert_eq!(
            to_rfc3339(1_606_929_874_512).as_deref(),
            Some("2020-12-02T17:24:34Z")
        );
        assert_eq!(to_rfc3339(i64::MAX), None);
    }
}
