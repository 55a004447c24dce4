//! Webex REST API conventions shared by every export: where the API is, `Link` paging,
//! Webex's error bodies, and which organization the audit trails are read for.
//!
//! Lists page with the RFC 8288 `Link` header (`rel="next"`, an absolute URL that
//! repeats the query with Webex's own `cursor`); `max` sets the page size (at most
//! [`MAX_PAGE_SIZE`]). The groups list is the exception: SCIM-style `startIndex` and
//! `count` with `totalResults` in the body (see `groups`).
//!
//! Errors are `{"message": <text>, "errors": [{"description": <text>}], "trackingId":
//! <id>}`: 401 for a missing or expired token, 403 when "the access token is missing
//! required scopes or the user is missing required roles or licenses", 429 (and 423
//! Locked) with `Retry-After` in seconds. [`check_status`] maps them, 423 as throttling.

use serde_json::Value;
use sluice_sdk::http::{self, Request};
use sluice_sdk::prelude::{ConnectorError, Context, Response, config, json};

/// The largest `max` the lists read here accept (assumed for the audit trails, whose
/// documentation states 1000 for security audit events).
pub const MAX_PAGE_SIZE: u32 = 1_000;

/// One call's view of the configured organization.
#[derive(Debug, Clone)]
pub struct Api {
    /// API root without a trailing slash: `https://webexapis.com`, or a mock's URL.
    base: String,
    /// The host's preferred page size, before Webex's bound.
    page_size: u32,
}

impl Api {
    /// Reads `base_url` (default `https://webexapis.com`).
    pub fn new(ctx: &Context) -> Result<Self, ConnectorError> {
        Ok(Self {
            base: config::required_url("base_url")?,
            page_size: ctx.page_size,
        })
    }

    /// The host's page size clamped to Webex's `max` bounds.
    pub fn page_size(&self) -> u32 {
        self.page_size.clamp(1, MAX_PAGE_SIZE)
    }

    /// `{base}/v1{path}`; `path` starts with `/` and has its variable parts encoded.
    pub fn url(&self, path: &str) -> String {
        format!("{}/v1{path}", self.base)
    }

    /// A GET of `path` asking for JSON.
    pub fn get(&self, path: &str) -> Request {
        self.get_url(&self.url(path))
    }

    /// A GET of an absolute URL (a `Link` next page) asking for JSON.
    pub fn get_url(&self, url: &str) -> Request {
        http::get(url).header("accept", "application/json")
    }

    /// Sends `request` and reads the JSON answer, Webex's errors mapped.
    pub fn fetch(&self, request: Request) -> Result<Value, ConnectorError> {
        check_status(request.send()?)?.json_value()
    }

    /// Sends `request` for one page of a `Link`-paged list: the `items` array and the
    /// `rel="next"` URL.
    pub fn page(&self, request: Request) -> Result<(Vec<Value>, Option<String>), ConnectorError> {
        let response = check_status(request.send()?)?;
        let next = sluice_sdk::pagination::next_link(&response);
        Ok((items_of(response.json_value()?, "items"), next))
    }

    /// The organization id: config `org_id`, else the token owner's (`GET
    /// /v1/people/me`, field `orgId`). The audit trails require it.
    pub fn org_id(&self) -> Result<String, ConnectorError> {
        if let Some(org) = config::get("org_id").filter(|o| !o.trim().is_empty()) {
            return Ok(org.trim().to_owned());
        }
        let me = self.fetch(self.get("/people/me"))?;
        json::str_at(&me, "orgId")
            .ok_or_else(|| ConnectorError::upstream("GET /v1/people/me answered no `orgId`"))
    }
}

/// The SDK's status mapping, except that 423 Locked (which Webex answers with
/// `Retry-After` while a resource is busy) is throttling, and Webex's first
/// `errors[].description` joins its `message` when it says more.
pub fn check_status(response: Response) -> Result<Response, ConnectorError> {
    if response.status() == 423 {
        return Err(ConnectorError::RateLimited(response.retry_after()));
    }
    if response.status() == 403 {
        return Err(ConnectorError::Forbidden(format!(
            "HTTP 403: {}",
            message(&response)
        )));
    }
    response.error_for_status()
}

/// Webex's explanation of a failure: `message`, and the first `errors[].description`
/// when it differs.
pub fn message(response: &Response) -> String {
    let text = response.provider_message();
    let detail = response
        .json_value()
        .ok()
        .and_then(|body| json::str_at(&body, "/errors/0/description"))
        .filter(|d| !d.is_empty() && *d != text);
    match detail {
        Some(detail) => format!("{text} ({detail})"),
        None => text,
    }
}

/// The array at `key` of a list's body; empty when absent.
pub fn items_of(mut body: Value, key: &str) -> Vec<Value> {
    match body.get_mut(key).map(Value::take) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    }
}

/// Webex ids (`roles`, `licenses`) as a list. Lists are arrays of ids, but the
/// published example puts several ids in one comma-separated string, so each entry
/// is split on commas too.
pub fn ids_at(value: &Value, key: &str) -> Vec<String> {
    json::strings_at(value, key)
        .iter()
        .flat_map(|entry| entry.split(','))
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Test helpers: a Webex double on the SDK's fake host, and the published fixtures.
#[cfg(test)]
pub mod fake {
    use serde_json::{Value, json};
    use sluice_sdk::http::Response;
    use sluice_sdk::testing::{FakeHost, Fixtures};

    pub use sluice_sdk::testing::context as ctx;
    pub use sluice_sdk::testing::link_response as linked;

    /// The API root the fake host answers.
    pub const BASE: &str = "https://webex.test/v1";

    /// The published example `name` (e.g. `people-list`), parsed; none (with a note)
    /// without the shared fixtures.
    pub fn fixture(name: &str) -> Option<Value> {
        Fixtures::open("webex")
            .map(|f| f.json(&format!("{name}.third-party-mirror-of-openapi.json")))
    }

    /// A 200 JSON response.
    pub fn json(body: &Value) -> Response {
        Response::new(200, vec![], body.to_string())
    }

    /// A response with `status` and Webex's error body.
    pub fn error(status: u16, message: &str) -> Response {
        Response::new(
            status,
            vec![],
            json!({"message": message, "errors": [{"description": message}],
                "trackingId": "ROUTER_TEST"})
            .to_string(),
        )
    }

    /// A fake host for the API at `https://webex.test`, answering each URL from
    /// `routes` (exact match, method ignored) and 404 otherwise.
    pub fn webex(routes: Vec<(String, Response)>) -> FakeHost {
        webex_any_type(routes).expect_header("accept", "application/json")
    }

    /// [`webex`] for requests of files' content, which accept any type.
    pub fn webex_any_type(routes: Vec<(String, Response)>) -> FakeHost {
        FakeHost::new()
            .config("base_url", "https://webex.test/")
            .config("org_id", "org-1")
            .routes(
                routes,
                error(404, "The requested resource could not be found."),
            )
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake;

    #[test]
    fn ids_come_as_arrays_or_comma_separated() {
        let person = json!({"roles": ["r1,r2", " r3 "], "licenses": []});
        assert_eq!(ids_at(&person, "roles"), ["r1", "r2", "r3"]);
        assert!(ids_at(&person, "licenses").is_empty());
        assert!(ids_at(&person, "missing").is_empty());
    }

    #[test]
    fn statuses_map_to_typed_errors_in_webex_s_words() {
        let scope = "The server understood the request, but refused to fulfill it because the \
                     access token is missing required scopes or the user is missing required \
                     roles or licenses.";
        assert!(matches!(check_status(fake::error(403, scope)),
            Err(ConnectorError::Forbidden(m)) if m.contains("missing required scopes")));
        assert!(matches!(
            check_status(fake::error(
                401,
                "The request requires a valid access token set in the Authorization request header."
            )),
            Err(ConnectorError::Unauthorized(_))
        ));
        let locked = Response::new(423, vec![("retry-after".into(), "7".into())], "{}");
        assert_eq!(
            check_status(locked).unwrap_err(),
            ConnectorError::RateLimited(Some(7))
        );
        let busy = Response::new(429, vec![("retry-after".into(), "3".into())], "{}");
        assert_eq!(
            check_status(busy).unwrap_err(),
            ConnectorError::RateLimited(Some(3))
        );
    }
}
