//! Okta Management API conventions shared by every export: where the org is, the
//! headers every request carries, `after`-cursor paging with `Link` headers, and the
//! user-scoped URLs the actions and role lookups need.
//!
//! Okta pages every list with an opaque `after` cursor that it only ever hands out
//! inside the `Link: <…>; rel="next"` header, so a page's next URL is taken verbatim
//! from that header (never rebuilt), and cursors store whole URLs.

use serde_json::Value;
use sluice_sdk::http::{self, Request, path_segment};
use sluice_sdk::prelude::{ConnectorError, Context, config, pagination};

/// One call's view of the configured org.
#[derive(Debug, Clone)]
pub struct Api {
    /// Org URL without a trailing slash, e.g. `https://acme.okta.com`.
    base: String,
    /// The host's preferred page size, before each endpoint's own bounds.
    page_size: u32,
}

impl Api {
    /// Reads the `domain` config field (an org URL; a mock's `http://127.0.0.1:PORT`
    /// works the same way).
    pub fn new(ctx: &Context) -> Result<Self, ConnectorError> {
        Ok(Self {
            base: config::required_url("domain")?,
            page_size: ctx.page_size,
        })
    }

    /// The host's page size clamped to an endpoint's documented maximum `limit`.
    pub fn limit(&self, max: u32) -> u32 {
        self.page_size.clamp(1, max)
    }

    /// `{base}{path}`; `path` starts with `/` and has its variable parts encoded.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `{base}/api/v1/users/{id}{suffix}`, with `id` encoded as one path segment;
    /// `..` and friends are refused so a target can never aim at a parent resource.
    pub fn user_url(&self, id: &str, suffix: &str) -> Result<String, ConnectorError> {
        let segment = path_segment(id.trim())
            .ok_or_else(|| ConnectorError::other(format!("`{id}` is not a valid Okta user id")))?;
        Ok(self.url(&format!("/api/v1/users/{segment}{suffix}")))
    }

    /// A GET asking for JSON.
    pub fn get(&self, url: impl Into<String>) -> Request {
        json_accepting(http::get(url))
    }

    /// A POST asking for JSON.
    pub fn post(&self, url: impl Into<String>) -> Request {
        json_accepting(http::post(url))
    }

    /// A DELETE asking for JSON.
    pub fn delete(&self, url: impl Into<String>) -> Request {
        json_accepting(http::delete(url))
    }

    /// One page of a `Link`-paged list endpoint: the items and the next URL.
    pub fn list_page(&self, url: &str) -> Result<(Vec<Value>, Option<String>), ConnectorError> {
        pagination::array_and_next_link(&self.get(url).send()?.error_for_status()?)
    }

    /// Every item of a list endpoint from `first`, for at most `max_pages` pages; the
    /// flag says whether pages were left unread.
    pub fn list_all(
        &self,
        first: String,
        max_pages: usize,
    ) -> Result<(Vec<Value>, bool), ConnectorError> {
        pagination::collect_all(first, max_pages, |url| self.list_page(url))
    }
}

/// Okta answers JSON either way; asking keeps error pages JSON too.
fn json_accepting(request: Request) -> Request {
    request.header("accept", "application/json")
}

/// Test helpers: an Okta double on the SDK's fake host, and the published fixtures.
#[cfg(test)]
pub mod fake {
    use serde_json::Value;
    use sluice_sdk::http::Response;
    use sluice_sdk::testing::{FakeHost, Fixtures};

    pub use sluice_sdk::testing::context as ctx;

    /// The published examples whose file name starts with `prefix`, parsed, in name
    /// order; empty (with a note) without the shared fixtures.
    pub fn fixtures(prefix: &str) -> Vec<(String, Value)> {
        Fixtures::open("okta")
            .map(|f| f.matching(prefix))
            .unwrap_or_default()
    }

    /// A 200 JSON response with Okta's `self` link and, optionally, a `next` link.
    pub fn json(body: &Value, next: Option<&str>) -> Response {
        let link = |url: &str, rel: &str| ("link".to_owned(), format!("<{url}>; rel=\"{rel}\""));
        let mut headers = vec![link("https://okta.test/api/v1/self", "self")];
        headers.extend(next.map(|url| link(url, "next")));
        Response::new(200, headers, body.to_string())
    }

    /// A response with `status` and an Okta error body.
    pub fn error(status: u16, code: &str, summary: &str) -> Response {
        let body = serde_json::json!({
            "errorCode": code, "errorSummary": summary, "errorLink": code,
            "errorId": "oaeTest", "errorCauses": []
        });
        Response::new(status, vec![], body.to_string())
    }

    /// A fake host for the org at `https://okta.test`, answering each URL from
    /// `routes` (exact match, method ignored) and 404 E0000007 otherwise.
    pub fn okta(routes: Vec<(String, Response)>) -> FakeHost {
        FakeHost::new()
            .config("domain", "https://okta.test/")
            .expect_header("accept", "application/json")
            .routes(
                routes,
                error(404, "E0000007", "Not found: Resource not found"),
            )
    }
}
