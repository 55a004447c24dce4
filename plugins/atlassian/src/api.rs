//! Atlassian Organizations REST API conventions shared by every export: where the
//! organization is, the headers every request carries, and cursor paging.
//!
//! Every list answers `{"data": […], "links": {"self", "prev", "next"}}`. `links.next`
//! is an opaque token (the published examples show tokens such as
//! `kloHX1ZQVasDAkx_P48NYQ`; older pages show it as a URL) that the next request passes
//! as the `cursor` query parameter; it is absent or null after the last page. This
//! connector accepts both spellings: a URL's own `cursor` parameter is taken out of it,
//! so requests never leave the configured `base_url`.

use serde_json::Value;
use sluice_sdk::http::{self, Request, path_segment};
use sluice_sdk::prelude::{ConnectorError, Context, config, json};

/// The largest `limit` the directory lists (users, groups) accept.
pub const MAX_PAGE_SIZE: u32 = 100;

/// One call's view of the configured organization.
#[derive(Debug, Clone)]
pub struct Api {
    /// API root without a trailing slash, `https://api.atlassian.com` by default.
    base: String,
    /// The organization id, encoded as one path segment.
    org: String,
    /// The directory id, encoded as one path segment; `-` for every directory.
    directory: String,
    /// The host's preferred page size, before Atlassian's bound.
    page_size: u32,
}

impl Api {
    /// Reads `base_url`, `org_id` and `directory_id` (default `-`, every directory).
    pub fn new(ctx: &Context) -> Result<Self, ConnectorError> {
        let segment = |name: &str, value: String| {
            path_segment(&value).ok_or_else(|| {
                ConnectorError::invalid_config(format!("`{value}` is not a valid Atlassian {name}"))
            })
        };
        Ok(Self {
            base: config::base_url("https://api.atlassian.com")?,
            org: segment("organization ID", config::required("org_id")?)?,
            directory: segment(
                "directory ID",
                config::get("directory_id").unwrap_or_else(|| "-".into()),
            )?,
            page_size: ctx.page_size,
        })
    }

    /// The host's page size clamped to `1..=max`.
    pub fn page_size(&self, max: u32) -> u32 {
        self.page_size.clamp(1, max)
    }

    /// `{base}/admin/v1/orgs/{orgId}{suffix}`.
    pub fn v1(&self, suffix: &str) -> String {
        format!("{}/admin/v1/orgs/{}{suffix}", self.base, self.org)
    }

    /// `{base}/admin/v2/orgs/{orgId}/directories/{directoryId}{suffix}`.
    pub fn directory(&self, suffix: &str) -> String {
        format!(
            "{}/admin/v2/orgs/{}/directories/{}{suffix}",
            self.base, self.org, self.directory
        )
    }

    /// A GET asking for JSON.
    pub fn get(&self, url: impl Into<String>) -> Request {
        http::get(url).header("accept", "application/json")
    }

    /// A POST asking for JSON.
    pub fn post(&self, url: impl Into<String>) -> Request {
        http::post(url).header("accept", "application/json")
    }

    /// One page of a list at `url`: its `data` items and the `cursor` of the next page.
    pub fn list_page(&self, url: &str) -> Result<(Vec<Value>, Option<String>), ConnectorError> {
        let body = self.get(url).send()?.error_for_status()?.json_value()?;
        Ok(page_of(body))
    }
}

/// The items and the next page's cursor of one Organizations API list answer.
pub fn page_of(mut body: Value) -> (Vec<Value>, Option<String>) {
    let next = json::str_at(&body, "/links/next").and_then(|next| cursor_of(&next));
    let items = match body.get_mut("data").map(Value::take) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    };
    (items, next)
}

/// The `cursor` value a `links.next` names: the token itself, or a URL's `cursor`
/// parameter (still percent-encoded, as it will be sent again); none when empty.
pub fn cursor_of(next: &str) -> Option<String> {
    let next = next.trim();
    if next.is_empty() {
        return None;
    }
    if !next.starts_with("http://") && !next.starts_with("https://") {
        return Some(next.to_owned());
    }
    let query = next.split_once('?')?.1;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("cursor="))
        .filter(|token| !token.is_empty())
        .map(http_decode)
}

/// Undoes percent-encoding (the request builder encodes the token again).
fn http_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Atlassian's explanation of a refusal: `message` (the gateway's
/// `{"status":403,"error":"Forbidden","message":…}`), a JSON:API `errors[0]` `detail`
/// or `title`, else the SDK's reading of the body.
pub fn atlassian_message(response: &http::Response) -> String {
    let body: Value = response.json_value().unwrap_or(Value::Null);
    json::str_at(&body, "message")
        .or_else(|| json::str_at(&body, "/errors/0/detail"))
        .or_else(|| json::str_at(&body, "/errors/0/title"))
        .unwrap_or_else(|| response.provider_message())
}

/// Test helpers: an Atlassian double on the SDK's fake host, and the published fixtures.
#[cfg(test)]
pub mod fake {
    use serde_json::{Value, json};
    use sluice_sdk::http::Response;
    use sluice_sdk::testing::{FakeHost, Fixtures};

    pub use sluice_sdk::testing::context as ctx;

    /// The organization the fake host serves.
    pub const ORG: &str = "https://api.atlassian.test/admin/v1/orgs/org-1";
    /// Its directory API root, every directory.
    pub const DIR: &str = "https://api.atlassian.test/admin/v2/orgs/org-1/directories/-";

    /// The published example `name` (without `.json`), parsed; none without the
    /// shared fixtures.
    pub fn fixture(name: &str) -> Option<Value> {
        Fixtures::open("atlassian").map(|f| f.json(&format!("{name}.json")))
    }

    /// A 200 JSON response.
    pub fn json(body: &Value) -> Response {
        Response::new(200, vec![], body.to_string())
    }

    /// A list answer: `items` as `data`, `links.next` the token when there is one.
    pub fn page(items: Value, next: Option<&str>) -> Response {
        json(&json!({"data": items, "links": {"self": "s", "prev": null, "next": next}}))
    }

    /// A refusal in the shape Atlassian's gateway answers.
    pub fn error(status: u16, message: &str) -> Response {
        Response::new(
            status,
            vec![],
            json!({"status": status, "error": "Forbidden", "message": message}).to_string(),
        )
    }

    /// A fake host for organization `org-1` at `https://api.atlassian.test`, answering
    /// each URL from `routes` (exact match, method ignored) and 404 otherwise.
    pub fn atlassian(routes: Vec<(String, Response)>) -> FakeHost {
        FakeHost::new()
            .config("base_url", "https://api.atlassian.test/")
            .config("org_id", "org-1")
            .expect_header("accept", "application/json")
            .routes(routes, error(404, "Not Found"))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn links_next_is_a_token_or_a_url_whose_cursor_is_taken() {
        let body = |next: Value| json!({"data": [1, 2], "links": {"self": "x", "next": next}});
        assert_eq!(
            page_of(body(json!("kloHX1ZQVasDAkx_P48NYQ"))),
            (
                vec![json!(1), json!(2)],
                Some("kloHX1ZQVasDAkx_P48NYQ".into())
            )
        );
        assert_eq!(
            page_of(body(json!(
                "https://api.atlassian.com/admin/v1/orgs/o/users?cursor=a%2Bb%3D&limit=5"
            )))
            .1
            .as_deref(),
            Some("a+b=")
        );
        assert_eq!(page_of(body(Value::Null)).1, None);
        assert_eq!(page_of(body(json!(""))).1, None);
        assert_eq!(page_of(json!({"data": []})), (vec![], None));
    }
}
