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

    /// One page of a list endpoint that answers a JSON array: the items and the
    /// `rel="next"` URL.
    pub fn get_array_page(
        &self,
        url: &str,
    ) -> Result<(Vec<Value>, Option<String>), ConnectorError> {
        let response = self.get(url).send()?.error_for_status()?;
        let items = response.json::<Vec<Value>>()?;
        Ok((items, pagination::next_link(&response)))
    }

    /// Every item of a list endpoint, following `rel="next"` for at most `max_pages`
    /// pages; the flag says whether pages were left unread.
    pub fn get_all(
        &self,
        first: String,
        max_pages: usize,
    ) -> Result<(Vec<Value>, bool), ConnectorError> {
        let mut url = Some(first);
        let mut all = Vec::new();
        for _ in 0..max_pages {
            let Some(page) = url.take() else {
                return Ok((all, false));
            };
            let (items, next) = self.get_array_page(&page)?;
            all.extend(items);
            url = next;
        }
        Ok((all, url.is_some()))
    }
}

/// Okta answers JSON either way; asking keeps error pages JSON too.
fn json_accepting(request: Request) -> Request {
    request.header("accept", "application/json")
}

/// Test helpers: an Okta double on the SDK's fake host, and the published fixtures.
#[cfg(test)]
pub mod fake {
    use std::collections::HashMap;
    use std::path::PathBuf;

    use serde_json::Value;
    use sluice_sdk::http::Response;
    use sluice_sdk::prelude::Context;
    use sluice_sdk::testing::{FakeHost, SentRequest};

    /// A context as the host would pass it.
    pub fn ctx(page_size: u32, since: Option<i64>) -> Context {
        Context {
            auth: crate::AUTH_ID.into(),
            instance_id: "inst-1".into(),
            instance_name: "acme on Okta".into(),
            since,
            page_size,
        }
    }

    /// Where the published Okta example bodies are: `$SLUICE_FIXTURES_DIR/okta` or
    /// `../shared/fixtures/okta/` beside the repository (never copied into it).
    pub fn fixtures_dir() -> PathBuf {
        match std::env::var_os("SLUICE_FIXTURES_DIR") {
            Some(d) => PathBuf::from(d).join("okta"),
            None => PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/fixtures/okta"
            )),
        }
    }

    /// The published examples whose file name starts with `prefix`, parsed, in name
    /// order; empty (with a note) when the folder is absent, so the suite passes on a
    /// checkout without `../shared`.
    #[allow(clippy::print_stderr)] // a test's note on why it checked less
    pub fn fixtures(prefix: &str) -> Vec<(String, Value)> {
        let dir = fixtures_dir();
        let Ok(entries) = std::fs::read_dir(&dir) else {
            eprintln!("shared fixtures not found at {}; skipping", dir.display());
            return Vec::new();
        };
        let mut files: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with(prefix) && name.ends_with(".json"))
            .collect();
        files.sort();
        files
            .into_iter()
            .map(|name| {
                let text = std::fs::read_to_string(dir.join(&name)).expect("fixture readable");
                let value = serde_json::from_str(&text).expect("fixture is JSON");
                (name, value)
            })
            .collect()
    }

    /// A 200 JSON response with Okta's `self` link and, optionally, a `next` link.
    pub fn json(body: &Value, next: Option<&str>) -> Response {
        let mut headers = vec![(
            "link".to_owned(),
            "<https://okta.test/api/v1/self>; rel=\"self\"".to_owned(),
        )];
        if let Some(url) = next {
            headers.push(("link".to_owned(), format!("<{url}>; rel=\"next\"")));
        }
        Response::new(200, headers, body.to_string())
    }

    /// A response with `status` and an Okta error body.
    pub fn error(status: u16, code: &str, summary: &str) -> Response {
        Response::new(
            status,
            vec![],
            serde_json::json!({
                "errorCode": code, "errorSummary": summary, "errorLink": code,
                "errorId": "oaeTest", "errorCauses": []
            })
            .to_string(),
        )
    }

    /// A fake host for the org at `https://okta.test`, answering each URL from
    /// `routes` (exact match, method ignored) and 404 E0000007 otherwise.
    pub fn okta(routes: Vec<(String, Response)>) -> FakeHost {
        let routes: HashMap<String, Response> = routes.into_iter().collect();
        FakeHost::new()
            .config("domain", "https://okta.test/")
            .on_request(move |request: &SentRequest| {
                assert_eq!(request.header("accept"), Some("application/json"));
                Ok(routes
                    .get(&request.url)
                    .cloned()
                    .unwrap_or_else(|| error(404, "E0000007", "Not found: Resource not found")))
            })
    }
}
