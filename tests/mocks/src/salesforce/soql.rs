//! A small SOQL engine: enough of `SELECT … FROM … [WHERE …] [ORDER BY …] [LIMIT n]`
//! for the mock to answer the queries a connector sends the way an org would, filters
//! included (an incremental scan is only proven by a provider that really filters).
//!
//! Supported: field lists with relationship paths (`Profile.Name`); conditions joined
//! by `AND` (`=`, `!=`, `<`, `<=`, `>`, `>=`, `IN (…)`) on strings, booleans, `null`,
//! numbers and datetime literals (`2024-01-01T00:00:00Z`); `ORDER BY` several fields,
//! `ASC`/`DESC`; `LIMIT`. Anything else is `MALFORMED_QUERY`, a field the object does
//! not have `INVALID_FIELD`, as Salesforce answers.

use std::cmp::Ordering;

use chrono::DateTime;
use serde_json::{Map, Value, json};

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Query {
    pub(crate) fields: Vec<String>,
    pub(crate) object: String,
    conditions: Vec<Condition>,
    order: Vec<(String, bool)>,
    limit: Option<usize>,
}

#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Text(String),
    Bool(bool),
    Null,
    Number(f64),
    DateTime(i64),
}

#[derive(Debug, Clone, PartialEq)]
struct Condition {
    field: String,
    op: String,
    values: Vec<Literal>,
}

/// Salesforce's error for a query it cannot run: `(errorCode, message)`.
pub(crate) type SoqlError = (&'static str, String);

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Text(String),
    Symbol(String),
}

fn tokens(soql: &str) -> Result<Vec<Token>, SoqlError> {
    let mut out = Vec::new();
    let mut chars = soql.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '\'' {
            chars.next();
            let mut text = String::new();
            loop {
                match chars.next() {
                    Some('\\') => match chars.next() {
                        Some('n') => text.push('\n'),
                        Some('r') => text.push('\r'),
                        Some(other) => text.push(other),
                        None => break,
                    },
                    Some('\'') => break,
                    Some(other) => text.push(other),
                    None => return Err(malformed("unterminated string literal")),
                }
            }
            out.push(Token::Text(text));
        } else if "(),".contains(c) {
            chars.next();
            out.push(Token::Symbol(c.to_string()));
        } else if "=!<>".contains(c) {
            chars.next();
            let mut op = c.to_string();
            if chars.peek() == Some(&'=') {
                chars.next();
                op.push('=');
            }
            out.push(Token::Symbol(op));
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || "(),=!<>'".contains(c) {
                    break;
                }
                word.push(c);
                chars.next();
            }
            out.push(Token::Word(word));
        }
    }
    Ok(out)
}

fn malformed(why: &str) -> SoqlError {
    ("MALFORMED_QUERY", format!("unexpected token: {why}"))
}

fn is_keyword(token: Option<&Token>, keyword: &str) -> bool {
    matches!(token, Some(Token::Word(w)) if w.eq_ignore_ascii_case(keyword))
}

fn literal(token: Option<Token>) -> Result<Literal, SoqlError> {
    match token {
        Some(Token::Text(t)) => Ok(Literal::Text(t)),
        Some(Token::Word(w)) => {
            if w.eq_ignore_ascii_case("true") || w.eq_ignore_ascii_case("false") {
                Ok(Literal::Bool(w.eq_ignore_ascii_case("true")))
            } else if w.eq_ignore_ascii_case("null") {
                Ok(Literal::Null)
            } else if let Ok(t) = DateTime::parse_from_rfc3339(&w) {
                Ok(Literal::DateTime(t.timestamp_millis()))
            } else if let Ok(n) = w.parse::<f64>() {
                Ok(Literal::Number(n))
            } else {
                Err(malformed(&w))
            }
        }
        other => Err(malformed(&format!("{other:?}"))),
    }
}

/// Parses `soql`.
pub(crate) fn parse(soql: &str) -> Result<Query, SoqlError> {
    let mut tokens = tokens(soql)?.into_iter().peekable();
    if !is_keyword(tokens.next().as_ref(), "SELECT") {
        return Err(malformed("expected SELECT"));
    }
    let mut fields = Vec::new();
    loop {
        match tokens.next() {
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("FROM") => break,
            Some(Token::Word(w)) => fields.push(w),
            Some(Token::Symbol(s)) if s == "," => {}
            other => return Err(malformed(&format!("{other:?}"))),
        }
    }
    let object = match tokens.next() {
        Some(Token::Word(w)) => w,
        other => return Err(malformed(&format!("{other:?}"))),
    };
    let mut query = Query {
        fields,
        object,
        conditions: Vec::new(),
        order: Vec::new(),
        limit: None,
    };
    while let Some(token) = tokens.next() {
        match token {
            Token::Word(w) if w.eq_ignore_ascii_case("WHERE") || w.eq_ignore_ascii_case("AND") => {
                let field = match tokens.next() {
                    Some(Token::Word(f)) => f,
                    other => return Err(malformed(&format!("{other:?}"))),
                };
                let op = match tokens.next() {
                    Some(Token::Symbol(op)) if op != "(" && op != ")" && op != "," => op,
                    Some(Token::Word(w)) if w.eq_ignore_ascii_case("IN") => "IN".into(),
                    other => return Err(malformed(&format!("{other:?}"))),
                };
                let values = if op == "IN" {
                    if tokens.next() != Some(Token::Symbol("(".into())) {
                        return Err(malformed("IN without ("));
                    }
                    let mut values = Vec::new();
                    loop {
                        match tokens.next() {
                            Some(Token::Symbol(s)) if s == ")" => break,
                            Some(Token::Symbol(s)) if s == "," => {}
                            other => values.push(literal(other)?),
                        }
                    }
                    values
                } else {
                    vec![literal(tokens.next())?]
                };
                query.conditions.push(Condition { field, op, values });
            }
            Token::Word(w) if w.eq_ignore_ascii_case("ORDER") => {
                if !is_keyword(tokens.next().as_ref(), "BY") {
                    return Err(malformed("ORDER without BY"));
                }
                loop {
                    let Some(Token::Word(field)) = tokens.next() else {
                        return Err(malformed("ORDER BY without a field"));
                    };
                    let mut ascending = true;
                    if is_keyword(tokens.peek(), "ASC") || is_keyword(tokens.peek(), "DESC") {
                        ascending = is_keyword(tokens.next().as_ref(), "ASC");
                    }
                    query.order.push((field, ascending));
                    if tokens.peek() == Some(&Token::Symbol(",".into())) {
                        tokens.next();
                    } else {
                        break;
                    }
                }
            }
            Token::Word(w) if w.eq_ignore_ascii_case("LIMIT") => match tokens.next() {
                Some(Token::Word(n)) => {
                    query.limit = Some(n.parse().map_err(|_| malformed(&n))?);
                }
                other => return Err(malformed(&format!("{other:?}"))),
            },
            other => return Err(malformed(&format!("{other:?}"))),
        }
    }
    Ok(query)
}

/// The value at dotted `path` in `record`; null when absent.
fn value_at<'a>(record: &'a Value, path: &str) -> &'a Value {
    let mut at = record;
    for part in path.split('.') {
        at = at.get(part).unwrap_or(&Value::Null);
    }
    at
}

fn millis(value: &Value) -> Option<i64> {
    let text = value.as_str()?;
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|t| t.timestamp_millis())
}

fn compare(value: &Value, literal: &Literal) -> Option<Ordering> {
    match literal {
        Literal::Null => value.is_null().then_some(Ordering::Equal),
        Literal::Text(t) => value.as_str().map(|v| v.cmp(t.as_str())),
        Literal::Bool(b) => value.as_bool().map(|v| v.cmp(b)),
        Literal::Number(n) => value.as_f64().and_then(|v| v.partial_cmp(n)),
        Literal::DateTime(ms) => millis(value).map(|v| v.cmp(ms)),
    }
}

fn matches(record: &Value, c: &Condition) -> bool {
    let value = value_at(record, &c.field);
    if c.op == "IN" {
        return c
            .values
            .iter()
            .any(|l| compare(value, l) == Some(Ordering::Equal));
    }
    let literal = &c.values[0];
    if *literal == Literal::Null {
        let null = value.is_null();
        return if c.op == "=" {
            null
        } else {
            c.op == "!=" && !null
        };
    }
    let Some(ordering) = compare(value, literal) else {
        return c.op == "!=";
    };
    match c.op.as_str() {
        "=" => ordering == Ordering::Equal,
        "!=" => ordering != Ordering::Equal,
        "<" => ordering == Ordering::Less,
        "<=" => ordering != Ordering::Greater,
        ">" => ordering == Ordering::Greater,
        ">=" => ordering != Ordering::Less,
        _ => false,
    }
}

fn order(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        _ => match (millis(a), millis(b)) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => match (a.as_f64(), b.as_f64()) {
                (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
                _ => a.to_string().cmp(&b.to_string()),
            },
        },
    }
}

impl Query {
    /// Runs the query over `records` of an object whose fields are `schema` (top-level
    /// names; relationship names included), `version` the API version of `attributes.url`.
    /// Whether a condition filters on `field`.
    pub(crate) fn filters_on(&self, field: &str) -> bool {
        self.conditions
            .iter()
            .any(|c| c.field.eq_ignore_ascii_case(field))
    }

    pub(crate) fn run(
        &self,
        records: &[Value],
        schema: &[&str],
        version: &str,
    ) -> Result<Vec<Value>, SoqlError> {
        let known = |path: &str| {
            let top = path.split('.').next().unwrap_or_default();
            schema.iter().any(|f| f.eq_ignore_ascii_case(top))
        };
        let paths = self
            .fields
            .iter()
            .chain(self.conditions.iter().map(|c| &c.field))
            .chain(self.order.iter().map(|(f, _)| f));
        for path in paths {
            if !known(path) {
                return Err((
                    "INVALID_FIELD",
                    format!(
                        "No such column '{path}' on entity '{}'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.",
                        self.object
                    ),
                ));
            }
        }
        let mut rows: Vec<&Value> = records
            .iter()
            .filter(|r| self.conditions.iter().all(|c| matches(r, c)))
            .collect();
        rows.sort_by(|a, b| {
            self.order
                .iter()
                .map(|(f, asc)| {
                    let o = order(value_at(a, f), value_at(b, f));
                    if *asc { o } else { o.reverse() }
                })
                .find(|o| *o != Ordering::Equal)
                .unwrap_or(Ordering::Equal)
        });
        if let Some(limit) = self.limit {
            rows.truncate(limit);
        }
        Ok(rows.into_iter().map(|r| self.project(r, version)).collect())
    }

    /// The selected fields of `record`, with `attributes` as Salesforce writes them.
    fn project(&self, record: &Value, version: &str) -> Value {
        let mut out = Map::new();
        let id = record["Id"].as_str().unwrap_or_default();
        out.insert(
            "attributes".into(),
            json!({"type": self.object, "url": format!("/services/data/v{version}/sobjects/{}/{id}", self.object)}),
        );
        for path in &self.fields {
            let parts: Vec<&str> = path.split('.').collect();
            if parts.len() == 1 {
                out.insert(
                    path.clone(),
                    record.get(path).cloned().unwrap_or(Value::Null),
                );
                continue;
            }
            let related = &record[parts[0]];
            if related.is_null() {
                out.entry(parts[0].to_owned()).or_insert(Value::Null);
                continue;
            }
            let entry = out
                .entry(parts[0].to_owned())
                .or_insert_with(|| json!({"attributes": related["attributes"].clone()}));
            if let Some(object) = entry.as_object_mut() {
                object.insert(
                    parts[1..].join("."),
                    value_at(related, &parts[1..].join(".")).clone(),
                );
            }
        }
        Value::Object(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_orders_limits_and_projects() {
        let records = vec![
            json!({"Id": "b", "T": "2024-01-01T00:00:05.000+0000", "Ok": true, "P": {"attributes": {"type": "P"}, "Name": "x"}}),
            json!({"Id": "a", "T": "2024-01-01T00:00:01.000+0000", "Ok": false, "P": null}),
            json!({"Id": "c", "T": "2024-01-01T00:00:09.000+0000", "Ok": true, "P": null}),
        ];
        let q = parse("SELECT Id, P.Name FROM X WHERE T >= 2024-01-01T00:00:05Z AND Ok = true ORDER BY T DESC, Id LIMIT 5").unwrap();
        let rows = q.run(&records, &["Id", "T", "Ok", "P"], "62.0").unwrap();
        let ids: Vec<_> = rows.iter().map(|r| r["Id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["c", "b"]);
        assert_eq!(rows[1]["P"]["Name"], "x");
        assert_eq!(rows[0]["P"], Value::Null);
        assert_eq!(
            rows[0]["attributes"]["url"],
            "/services/data/v62.0/sobjects/X/c"
        );
        let q =
            parse("SELECT Id FROM X WHERE Id >= 'a' AND Id <= 'b' AND Id IN ('b', 'z')").unwrap();
        assert_eq!(q.run(&records, &["Id"], "62.0").unwrap().len(), 1);
        let bad = parse("SELECT Nope FROM X")
            .unwrap()
            .run(&records, &["Id"], "62.0");
        assert_eq!(bad.unwrap_err().0, "INVALID_FIELD");
        assert_eq!(
            parse("SELECT Id FROM X WHERE").unwrap_err().0,
            "MALFORMED_QUERY"
        );
        assert_eq!(
            parse(r"SELECT Id FROM X WHERE Name = 'o\'b'")
                .unwrap()
                .conditions[0]
                .values,
            [Literal::Text("o'b".into())]
        );
    }
}
