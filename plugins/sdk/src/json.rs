//! Reading fields out of provider JSON without a struct per endpoint.
//!
//! Connectors keep the provider's whole JSON as `raw` and pick the normalised fields
//! out of it; these getters do that leniently (ids that are numbers become strings,
//! booleans may arrive as `"true"`), because a record with one odd field is worth more
//! than a failed page.
//!
//! `path` is a JSON pointer when it starts with `/` (`/actor/login`), otherwise one
//! top-level key taken literally (`@timestamp`, `login`).
//!
//! For the high-volume listings (audit logs) building a [`Value`] tree per event and
//! printing it again for `raw` is most of a connector's work. There, split the body
//! with [`crate::http::Response::json_items`] and deserialize a small struct of the
//! fields the record needs from each item's text, with [`Text`] and [`Time`] giving
//! the same leniency as the getters; the item's text is then `raw` as the provider
//! sent it.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
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
pub fn map_items<I, T>(items: &[I], what: &str, mut map: impl FnMut(&I) -> Option<T>) -> Vec<T> {
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

/// A field deserialized as [`str_at`] reads it: strings, and numbers as text; any
/// other value (null, bool, object, array) is `None` rather than an error.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Text(pub Option<String>);

/// A field deserialized as [`timestamp_at`] reads it: an RFC 3339 string or a number
/// of epoch milliseconds; anything else is `None` rather than an error.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Time(pub Option<i64>);

/// What both lenient fields see of a JSON value.
enum Scalar {
    Text(String),
    Int(i64),
    Float(f64),
    Other,
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar::Text(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
        Ok(Scalar::Text(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
        Ok(Scalar::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
        Ok(i64::try_from(v).map_or(Scalar::Float(v as f64), Scalar::Int))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
        Ok(Scalar::Float(v))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }
    fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Other)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Scalar, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Other)
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Text(match d.deserialize_any(ScalarVisitor)? {
            Scalar::Text(text) => Some(text),
            Scalar::Int(n) => Some(n.to_string()),
            Scalar::Float(n) => serde_json::Number::from_f64(n).map(|n| n.to_string()),
            Scalar::Other => None,
        }))
    }
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Time(match d.deserialize_any(ScalarVisitor)? {
            Scalar::Text(text) => time::parse(&text),
            Scalar::Int(ms) => Some(ms),
            // Truncation is intended: fractional milliseconds carry no meaning here.
            Scalar::Float(ms) => Some(ms as i64),
            Scalar::Other => None,
        }))
    }
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
    fn lenient_fields_read_like_the_getters() {
        #[derive(serde::Deserialize)]
        struct Event {
            #[serde(default)]
            id: Text,
            #[serde(default)]
            actor: Text,
            #[serde(default)]
            flag: Text,
            #[serde(default)]
            missing: Text,
            #[serde(default, rename = "@timestamp")]
            timestamp: Time,
            #[serde(default)]
            created_at: Time,
            #[serde(default)]
            float: Time,
            #[serde(default)]
            nested: Time,
        }
        let text = r#"{"id": 161195, "actor": {"login": ["x", {"y": 1}]}, "flag": true,
            "@timestamp": 1606929874512, "created_at": "2017-05-16T08:47:09.000-07:00",
            "float": 1.5e3, "nested": [1, 2], "other": {"deep": [null]}}"#;
        let e: Event = serde_json::from_str(text).unwrap();
        let v: Value = serde_json::from_str(text).unwrap();
        assert_eq!(e.id.0, str_at(&v, "id"));
        assert_eq!(e.id.0.as_deref(), Some("161195"));
        assert_eq!(e.actor.0, None);
        assert_eq!(e.flag.0, None);
        assert_eq!(e.missing.0, None);
        assert_eq!(e.timestamp.0, Some(1_606_929_874_512));
        assert_eq!(e.created_at.0, Some(1_494_949_629_000));
        assert_eq!(e.float.0, Some(1_500));
        assert_eq!(e.nested.0, None);
    }

    #[test]
    fn raw_is_compact_json() {
        assert_eq!(raw(&json!({"a": [1, "b"]})), r#"{"a":[1,"b"]}"#);
    }
}
