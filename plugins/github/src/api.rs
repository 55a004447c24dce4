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

    /// One page of a `Link`-paged list endpoint: the items and the next URL.
    pub fn list_page(&self, url: &str) -> Result<(Vec<Value>, Option<String>), ConnectorError> {
        pagination::array_and_next_link(&self.get(url).send()?.error_for_status()?)
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
    use serde_json::Value;
    use sluice_sdk::http::Response;
    use sluice_sdk::testing::{self, FakeHost, Fixtures};

    pub use sluice_sdk::testing::{context as ctx, link_response as json};

    /// Whether the published examples are available; tests on them return early
    /// without, so the suite passes on a checkout without the shared folder.
    pub fn fixtures_present() -> bool {
        Fixtures::open("github").is_some()
    }

    /// A published GitHub example body.
    pub fn fixture(name: &str) -> Value {
        Fixtures::open("github")
            .expect("fixtures present")
            .json(name)
    }

    /// A 200 response carrying a published fixture, without `Link`.
    pub fn fixture_response(name: &str) -> Response {
        testing::json_response(&fixture(name))
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
    /// from `routes` (exact URL match) and 404 otherwise; every request must carry
    /// GitHub's required headers.
    pub fn github(routes: Vec<(String, Response)>) -> FakeHost {
        FakeHost::new()
            .config("org", "acme")
            .config("base_url", "https://gh.test/")
            .expect_header("x-github-api-version", "2022-11-28")
            .expect_header("user-agent", "sluice-github/0.1")
            .routes(routes, status(404, "Not Found"))
    }
}
