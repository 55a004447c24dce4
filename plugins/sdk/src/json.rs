//! Reading fields out of provider JSON without a struct per endpoint.
//!
//! Connectors keep the provider's whole JSON as `raw` and pick the normalised fields
//! out of it; these getters do that leniently (ids that are numbers become strings,
//! booleans may arrive as `"true"`), because a record with one odd field is worth more
//! than a failed page.
//!
//! `path` is a JSON pointer when it starts with `/` (`/actor/login`), otherwise one
//! top-level key taken literally (`@timestamp`, `login`).

use serde_json::Value;

use crate::time;

/// The value at `path`, if present and not null.
pub fn at<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    let found = if path.starts_with('/') {
        value.pointer(path)
    } else {
        value.get(path)
    };
    found.filter(|v| !v.is_null())
}

/// A string at `path`; numbers are stringified (ids often are numbers).
pub fn str_at(value: &Value, path: &str) -> Option<String> {
    match at(value, path)? {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// A boolean at `path`; the strings `"true"` and `"false"` count.
pub fn bool_at(value: &Value, path: &str) -> Option<bool> {
    match at(value, path)? {
        Value::Bool(flag) => Some(*flag),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// An integer at `path`; integral strings count.
pub fn i64_at(value: &Value, path: &str) -> Option<i64> {
    match at(value, path)? {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// A time at `path` as milliseconds since the epoch: an RFC 3339 string (any offset,
/// see [`time::parse`]) or a number of epoch milliseconds.
pub fn timestamp_at(value: &Value, path: &str) -> Option<i64> {
    match at(value, path)? {
        Value::Number(number) => number
            .as_i64()
            // Truncation is intended: fractional milliseconds carry no meaning here.
            .or_else(|| number.as_f64().map(|ms| ms as i64)),
        Value::String(text) => time::parse(text),
        _ => None,
    }
}

/// The strings (or stringified numbers) in the array at `path`; empty when absent.
pub fn strings_at(value: &Value, path: &str) -> Vec<String> {
    at(value, path)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|item| match item {
                    Value::String(text) => Some(text.clone()),
                    Value::Number(number) => Some(number.to_string()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Maps provider items to records, skipping (with a warning in the host's log) items
/// `map` rejects, typically for lacking an id: one malformed item should not fail a
/// page, and a record without an id could not be stored anyway.
pub fn map_items<T>(
    items: &[Value],
    what: &str,
    mut map: impl FnMut(&Value) -> Option<T>,
) -> Vec<T> {
    let mut skipped = 0_usize;
    let records = items
        .iter()
        .filter_map(|item| {
            let record = map(item);
            skipped += usize::from(record.is_none());
            record
        })
        .collect();
    if skipped > 0 {
        crate::log::warn(format_args!(
            "skipped {skipped} of {} {what} without the fields a record needs",
            items.len()
        ));
    }
    records
}

/// The provider's JSON as compact text, for a record's `raw` field.
pub fn raw(value: &Value) -> String {
    value.to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn lenient_getters() {
        let v = json!({
            "id": 161195, "login": "octocat", "nothing": null,
            "actor": {"login": "hubot"},
            "flag": true, "text_flag": "false", "count": "42",
            "scopes": ["repo", 7, null],
        });
        assert_eq!(str_at(&v, "id").as_deref(), Some("161195"));
        assert_eq!(str_at(&v, "/actor/login").as_deref(), Some("hubot"));
        assert_eq!(str_at(&v, "nothing"), None);
        assert_eq!(str_at(&v, "actor"), None);
        assert_eq!(bool_at(&v, "flag"), Some(true));
        assert_eq!(bool_at(&v, "text_flag"), Some(false));
        assert_eq!(i64_at(&v, "count"), Some(42));
        assert_eq!(i64_at(&v, "login"), None);
        assert_eq!(strings_at(&v, "scopes"), vec!["repo", "7"]);
        assert!(strings_at(&v, "missing").is_empty());
    }

    #[test]
    fn timestamps_from_strings_and_epoch_millis() {
        let v = json!({
            "@timestamp": 1_606_929_874_512_i64,
            "created_at": "2017-05-16T08:47:09.000-07:00",
            "float": 1.5e3,
        });
        assert_eq!(timestamp_at(&v, "@timestamp"), Some(1_606_929_874_512));
        assert_eq!(timestamp_at(&v, "created_at"), Some(1_494_949_629_000));
        assert_eq!(timestamp_at(&v, "float"), Some(1_500));
        assert_eq!(timestamp_at(&v, "missing"), None);
    }

    #[test]
    fn raw_is_compact_json() {
        assert_eq!(raw(&json!({"a": [1, "b"]})), r#"{"a":[1,"b"]}"#);
    }
}
