//! Pagination: where the next page is, and how a connector remembers its place.
//!
//! Providers announce the next page in one of three ways, and each has one helper:
//!
//! - an RFC 8288 `Link` header (`rel="next"`), as GitHub, Okta and Box do:
//!   [`next_link`] (or [`links`] for every relation);
//! - a URL inside the body, like Microsoft Graph's `@odata.nextLink` or Salesforce's
//!   `nextRecordsUrl`: [`next_url_in_body`];
//! - a page number, offset or token the connector tracks itself: keep it in a
//!   `#[derive(Serialize, Deserialize)]` struct and turn that into the WIT `cursor`
//!   string with [`Cursor::encode`] / [`Cursor::decode`].
//!
//! Connectors are stateless; the host stores whatever cursor string a page returns and
//! passes it back, so everything needed to resume must be inside it.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::bindings::sluice::connector::types::ConnectorError;
use crate::http::Response;

/// Every `(rel, url)` pair in the response's `Link` headers, in order.
///
/// A link with several relation types (`rel="next last"`) yields one pair per type;
/// relation types are lowercased. URLs are returned as sent (providers send absolute
/// URLs).
pub fn links(response: &Response) -> Vec<(String, String)> {
    response
        .header_values("link")
        .flat_map(parse_link_header)
        .collect()
}

/// The URL of the `rel="next"` link, if the response has one.
pub fn next_link(response: &Response) -> Option<String> {
    links(response)
        .into_iter()
        .find(|(rel, _)| rel == "next")
        .map(|(_, url)| url)
}

/// Parses one `Link` header value (RFC 8288) into `(rel, url)` pairs.
///
/// Tolerates what real providers send: extra whitespace, unquoted `rel` values, other
/// parameters, and commas or semicolons inside quoted strings.
pub fn parse_link_header(value: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
        let Some(after_open) = rest.strip_prefix('<') else {
            break;
        };
        let Some(close) = after_open.find('>') else {
            break;
        };
        let url = after_open[..close].trim();
        rest = &after_open[close + 1..];

        // Parameters until the next link-value (a `,` outside quotes) or the end.
        let mut rels = Vec::new();
        loop {
            rest = rest.trim_start();
            let Some(after_semicolon) = rest.strip_prefix(';') else {
                break;
            };
            rest = after_semicolon.trim_start();
            let name_end = rest.find(['=', ';', ',']).unwrap_or(rest.len());
            let name = rest[..name_end].trim().to_ascii_lowercase();
            rest = &rest[name_end..];
            let Some(after_equals) = rest.strip_prefix('=') else {
                continue;
            };
            let (param_value, remainder) = parse_param_value(after_equals.trim_start());
            rest = remainder;
            if name == "rel" {
                rels.extend(param_value.split_whitespace().map(str::to_ascii_lowercase));
            }
        }
        pairs.extend(rels.into_iter().map(|rel| (rel, url.to_owned())));

        // Skip anything unparseable up to the next link-value.
        match rest.find(',') {
            Some(comma) if !rest.trim_start().starts_with('<') => rest = &rest[comma..],
            _ => {}
        }
    }
    pairs
}

/// A quoted-string (with `\` escapes) or token at the start of `input`, and what follows.
fn parse_param_value(input: &str) -> (String, &str) {
    if let Some(quoted) = input.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        while let Some((index, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(escaped);
                    }
                }
                '"' => return (value, &quoted[index + 1..]),
                _ => value.push(c),
            }
        }
        (value, "")
    } else {
        let end = input.find([';', ',']).unwrap_or(input.len());
        (input[..end].trim().to_owned(), &input[end..])
    }
}

/// The next-page URL stored in the body at JSON `pointer` (e.g. `/@odata.nextLink`);
/// none when absent, null or empty.
pub fn next_url_in_body(body: &Value, pointer: &str) -> Option<String> {
    body.pointer(pointer)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(str::to_owned)
}

/// Encodes and decodes a connector's own paging state as the opaque WIT `cursor`.
///
/// The encoding is compact JSON: readable in the host's state when debugging, and
/// stable as long as the connector's cursor struct only gains optional fields.
#[derive(Debug, Clone, Copy)]
pub struct Cursor;

impl Cursor {
    /// Turns paging state into a cursor string.
    ///
    /// # Panics
    ///
    /// If `state`'s `Serialize` impl fails, which derived impls of structs and enums
    /// never do (only maps with non-string keys or hand-written impls can): that is a
    /// bug in the connector, not a provider failure.
    pub fn encode<T: Serialize + ?Sized>(state: &T) -> String {
        serde_json::to_string(state).expect("cursor state serialises to JSON")
    }

    /// Reads paging state back from a cursor this connector produced.
    ///
    /// A cursor that does not decode (e.g. saved by an incompatible older version of the
    /// connector) is an `other` error telling the operator to restart that scan.
    pub fn decode<T: DeserializeOwned>(cursor: &str) -> Result<T, ConnectorError> {
        serde_json::from_str(cursor).map_err(|error| {
            ConnectorError::Other(format!(
                "cursor `{cursor}` is not one this connector wrote ({error}); restart the scan"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(rel, url)| ((*rel).to_owned(), (*url).to_owned()))
            .collect()
    }

    #[test]
    fn github_link_header() {
        // The example from GitHub's published `components.headers.link`.
        let value = r#"<https://api.github.com/resource?page=2>; rel="next", <https://api.github.com/resource?page=5>; rel="last""#;
        assert_eq!(
            parse_link_header(value),
            pairs(&[
                ("next", "https://api.github.com/resource?page=2"),
                ("last", "https://api.github.com/resource?page=5"),
            ])
        );
        let response = Response::new(200, vec![("Link".into(), value.into())], "[]");
        assert_eq!(
            next_link(&response).as_deref(),
            Some("https://api.github.com/resource?page=2")
        );
    }

    #[test]
    fn link_header_variants() {
        // Okta sends one `link` header per relation; cursors contain commas when encoded oddly.
        let response = Response::new(
            200,
            vec![
                (
                    "link".into(),
                    r#"<https://acme.okta.com/api/v1/users?limit=200>; rel="self""#.into(),
                ),
                (
                    "link".into(),
                    r#"<https://acme.okta.com/api/v1/users?after=a,b&limit=200>; rel="next""#
                        .into(),
                ),
            ],
            "[]",
        );
        assert_eq!(
            next_link(&response).as_deref(),
            Some("https://acme.okta.com/api/v1/users?after=a,b&limit=200")
        );
        // Several relation types, unquoted rel, extra and quoted parameters.
        assert_eq!(
            parse_link_header(
                r#"<https://x.test/2>; title="a, b; c"; rel="next last", <https://x.test/1>;rel=prev ; type=text/html"#
            ),
            pairs(&[
                ("next", "https://x.test/2"),
                ("last", "https://x.test/2"),
                ("prev", "https://x.test/1"),
            ])
        );
        assert_eq!(parse_link_header(""), vec![]);
        assert_eq!(parse_link_header("garbage"), vec![]);
        assert_eq!(next_link(&Response::new(200, vec![], "")), None);
    }

    #[test]
    fn next_url_from_body() {
        let body = serde_json::json!({
            "@odata.nextLink": "https://graph.microsoft.com/v1.0/users?$skiptoken=X",
            "value": [],
            "empty": "",
        });
        assert_eq!(
            next_url_in_body(&body, "/@odata.nextLink").as_deref(),
            Some("https://graph.microsoft.com/v1.0/users?$skiptoken=X")
        );
        assert_eq!(next_url_in_body(&body, "/empty"), None);
        assert_eq!(next_url_in_body(&body, "/missing"), None);
    }

    #[test]
    fn cursors_round_trip_and_reject_foreign_text() {
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        struct State {
            page: u32,
            url: Option<String>,
        }
        let state = State {
            page: 3,
            url: Some("https://x.test/?a=1".into()),
        };
        let cursor = Cursor::encode(&state);
        assert_eq!(Cursor::decode::<State>(&cursor), Ok(state));
        assert!(matches!(
            Cursor::decode::<State>("page=3"),
            Err(ConnectorError::Other(m)) if m.contains("restart the scan")
        ));
    }
}
