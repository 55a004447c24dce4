//! GitHub REST conventions shared by every export: where the API is, which headers
//! every request carries, and how list endpoints page.
//!
//! GitHub asks clients to pin the API version and to send a user agent (requests
//! without one are refused), so no request may bypass [`Api::get`] / [`Api::delete`].

use serde_json::Value;
use sluice_sdk::http::{self, Request, path_segment};
use sluice_sdk::prelude::{ConnectorError, Context, config, pagination};

/// The public API; Enterprise Server uses `https://HOST/api/v3`.
pub const DEFAULT_BASE_URL: &str = "https://api.github.com";

/// GitHub's maximum `per_page`.
const MAX_PER_PAGE: u32 = 100;

/// One call's view of the configured organisation.
#[derive(Debug, Clone)]
pub struct Api {
    /// API root without a trailing slash.
    base: String,
    /// Organisation login, as configured (used in messages).
    org: String,
    /// The login encoded as a URL path segment.
    org_segment: String,
    /// `per_page` for list endpoints: the host's preference within GitHub's bounds.
    per_page: u32,
}

impl Api {
    /// Reads `base_url` and `org` from the instance config.
    pub fn new(ctx: &Context) -> Result<Self, ConnectorError> {
        let org = config::required("org")?;
        let org_segment = path_segment(&org).ok_or_else(|| {
            ConnectorError::invalid_config(format!("config field `org` is not a login: `{org}`"))
        })?;
        Ok(Self {
            base: config::base_url(DEFAULT_BASE_URL)?,
            org,
            org_segment,
            per_page: ctx.page_size.clamp(1, MAX_PER_PAGE),
        })
    }

    /// The organisation login.
    pub fn org(&self) -> &str {
        &self.org
    }

    /// Page size for list endpoints.
    pub fn per_page(&self) -> u32 {
        self.per_page
    }

    /// `{base}{path}`; `path` starts with `/` and has its variable parts encoded.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `{base}/orgs/{org}{path}`.
    pub fn org_url(&self, path: &str) -> String {
        self.url(&format!("/orgs/{}{path}", self.org_segment))
    }

    /// The first page of an organisation list endpoint: `{base}/orgs/{org}{path}` with
    /// `query` and the host's page size as `per_page`.
    pub fn first_page_url(&self, path: &str, query: &[(&str, &str)]) -> String {
        self.first_page_url_sized(path, query, self.per_page)
    }

    /// [`Api::first_page_url`] with an explicit `per_page` (at most GitHub's 100).
    pub fn first_page_url_sized(
        &self,
        path: &str,
        query: &[(&str, &str)],
        per_page: u32,
    ) -> String {
        query
            .iter()
            .fold(http::get(self.org_url(path)), |request, (name, value)| {
                request.query(name, value)
            })
            .query("per_page", per_page.clamp(1, MAX_PER_PAGE))
            .url()
            .to_owned()
    }

    /// A GET with GitHub's required headers.
    pub fn get(&self, url: impl Into<String>) -> Request {
        with_github_headers(http::get(url))
    }

    /// A DELETE with GitHub's required headers.
    pub fn delete(&self, url: impl Into<String>) -> Request {
        with_github_headers(http::delete(url))
    }

    /// `GET /orgs/{org}`, with a 404 explained in terms of the config.
    pub fn organization(&self) -> Result<Value, ConnectorError> {
        match self.get(self.org_url("")).send()?.error_for_status() {
            Ok(response) => response.json_value(),
            Err(ConnectorError::NotFound(_)) => Err(ConnectorError::not_found(format!(
                "organization `{}` not found or not visible",
                self.org
            ))),
            Err(error) => Err(error),
        }
    }

    /// One page of a list endpoint that answers a JSON array and pages with `Link`:
    /// the items and the `rel="next"` URL.
    pub fn get_array_page(
        &self,
        url: &str,
    ) -> Result<(Vec<Value>, Option<String>), ConnectorError> {
        let response = self.get(url).send()?.error_for_status()?;
        let items = response.json::<Vec<Value>>()?;
        Ok((items, pagination::next_link(&response)))
    }
}

/// Adds the headers GitHub wants on every request.
fn with_github_headers(request: Request) -> Request {
    request
        .header("accept", "application/vnd.github+json")
        .header("x-github-api-version", "2022-11-28")
        .header(
            "user-agent",
            concat!(
                "sluice-github/",
                env!("CARGO_PKG_VERSION_MAJOR"),
                ".",
                env!("CARGO_PKG_VERSION_MINOR")
            ),
        )
}

/// Test helpers: a GitHub double on the SDK's fake host, and the published fixtures.
#[cfg(test)]
pub mod fake {
    use std::collections::HashMap;

    use serde_json::Value;
    use sluice_sdk::http::Response;
    use sluice_sdk::prelude::Context;
    use sluice_sdk::testing::{FakeHost, SentRequest};

    /// A context as the host would pass it.
    pub fn ctx(page_size: u32, since: Option<i64>) -> Context {
        Context {
            auth: crate::AUTH_ID.into(),
            instance_id: "inst-1".into(),
            instance_name: "acme on GitHub".into(),
            since,
            page_size,
        }
    }

    /// Where the published GitHub example bodies are: `$SLUICE_FIXTURES_DIR/github`
    /// or `../shared/fixtures/github/` beside the repository (never copied into it).
    fn fixtures_dir() -> std::path::PathBuf {
        match std::env::var_os("SLUICE_FIXTURES_DIR") {
            Some(d) => std::path::PathBuf::from(d).join("github"),
            None => std::path::PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/fixtures/github"
            )),
        }
    }

    /// Whether the published examples are available. Tests built on them return
    /// early without them: the suite must pass on a checkout without `../shared`
    /// (the host's end-to-end tests cover paging with the mock's own data).
    pub fn fixtures_present() -> bool {
        let present = fixtures_dir().is_dir();
        if !present {
            eprintln!(
                "shared fixtures not found at {}; skipping",
                fixtures_dir().display()
            );
        }
        present
    }

    /// A published GitHub example body.
    pub fn fixture(name: &str) -> Value {
        let path = fixtures_dir().join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()));
        serde_json::from_str(&text).expect("fixture is JSON")
    }

    /// A 200 JSON response with optional `Link` header.
    pub fn json(body: &Value, next: Option<&str>) -> Response {
        let headers = next
            .map(|url| vec![("link".to_owned(), format!("<{url}>; rel=\"next\""))])
            .unwrap_or_default();
        Response::new(200, headers, body.to_string())
    }

    /// A 200 response carrying a published fixture, without `Link`.
    pub fn fixture_response(name: &str) -> Response {
        json(&fixture(name), None)
    }

    /// A response with `status` and a GitHub error body.
    pub fn status(status: u16, message: &str) -> Response {
        Response::new(
            status,
            vec![],
            serde_json::json!({ "message": message }).to_string(),
        )
    }

    /// A fake host configured for org `acme` at `https://gh.test`, answering each URL
    /// from `routes` (exact URL match) and 404 otherwise.
    pub fn github(routes: Vec<(String, Response)>) -> FakeHost {
        let routes: HashMap<String, Response> = routes.into_iter().collect();
        FakeHost::new()
            .config("org", "acme")
            .config("base_url", "https://gh.test/")
            .on_request(move |request: &SentRequest| {
                assert_eq!(request.header("x-github-api-version"), Some("2022-11-28"));
                assert_eq!(request.header("user-agent"), Some("sluice-github/0.1"));
                Ok(routes
                    .get(&request.url)
                    .cloned()
                    .unwrap_or_else(|| status(404, "Not Found")))
            })
    }
}
