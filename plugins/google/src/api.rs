//! Google API conventions shared by every export: the two API roots, the customer,
//! token paging, Google's error bodies, and which domains are the organisation's.
//!
//! Every list read here pages the same way: `maxResults` (Drive: `pageSize`) and the
//! answer's `nextPageToken`, passed back as `pageToken` with the same query; the last
//! page has none.
//!
//! Errors are Google's JSON error body:
//!
//! ```text
//! {"error": {"code": 403, "message": "Rate Limit Exceeded", "status": "PERMISSION_DENIED",
//!   "errors": [{"message": "Rate Limit Exceeded", "domain": "usageLimits",
//!               "reason": "rateLimitExceeded"}]}}
//! ```
//!
//! A 403 whose `reason` is `rateLimitExceeded`, `userRateLimitExceeded`,
//! `quotaExceeded`-like or whose message speaks of a rate limit is throttling
//! (`rate-limited`), any other 403 a missing permission or scope (`forbidden`): see
//! [`checked`].

use serde_json::Value;
use sluice_sdk::http::{self, Request};
use sluice_sdk::prelude::{ConnectorError, Context, Response, config, json};

/// The largest `maxResults` of `users.list`.
pub const MAX_USERS: u32 = 500;
/// The largest `maxResults` of `groups.list` and `members.list`.
pub const MAX_GROUPS: u32 = 200;
/// The largest `maxResults` of `activities.list`.
pub const MAX_ACTIVITIES: u32 = 1000;
/// The largest `pageSize` of Drive's `files.list` and `changes.list`.
pub const MAX_FILES: u32 = 1000;

/// Google's `reason`s of a 403 or 429 that mean "slow down", not "not allowed".
pub const THROTTLE_REASONS: [&str; 4] = [
    "rateLimitExceeded",
    "userRateLimitExceeded",
    "quotaExceeded",
    "dailyLimitExceeded",
];

/// One call's view of the configured Workspace.
#[derive(Debug, Clone)]
pub struct Api {
    /// Admin SDK root (Directory and Reports), without a trailing slash.
    admin: String,
    /// Drive API root, without a trailing slash.
    drive: String,
    /// The `customer` of Directory calls: `my_customer` (the admin's own account) or
    /// an id like `C01abc2de`.
    pub customer: String,
    /// The host's preferred page size.
    page_size: u32,
}

impl Api {
    /// Reads `admin_url`, `drive_url` and `customer` (all with defaults).
    pub fn new(ctx: &Context) -> Result<Self, ConnectorError> {
        Ok(Self {
            admin: config::required_url("admin_url")?,
            drive: config::required_url("drive_url")?,
            customer: config::get("customer")
                .filter(|c| !c.trim().is_empty())
                .unwrap_or_else(|| "my_customer".into()),
            page_size: ctx.page_size,
        })
    }

    /// The host's page size clamped to `1..=max`.
    pub fn page_size(&self, max: u32) -> u32 {
        self.page_size.clamp(1, max)
    }

    /// `{admin}/admin/directory/v1{path}`.
    pub fn directory(&self, path: &str) -> String {
        format!("{}/admin/directory/v1{path}", self.admin)
    }

    /// `{admin}/admin/reports/v1{path}`.
    pub fn reports(&self, path: &str) -> String {
        format!("{}/admin/reports/v1{path}", self.admin)
    }

    /// `{drive}/drive/v3{path}`.
    pub fn drive(&self, path: &str) -> String {
        format!("{}/drive/v3{path}", self.drive)
    }

    /// A GET asking for JSON.
    pub fn get(&self, url: String) -> Request {
        http::get(url).header("accept", "application/json")
    }

    /// A GET of one token-paged page: `size_param` (`maxResults` or `pageSize`) and
    /// `pageToken` after the first page.
    pub fn page(&self, url: String, size_param: &str, size: u32, token: Option<&str>) -> Request {
        let request = self.get(url).query(size_param, size);
        match token {
            Some(token) => request.query("pageToken", token),
            None => request,
        }
    }

    /// Sends `request` and reads the JSON answer, Google's errors mapped by [`checked`].
    pub fn fetch(&self, request: Request) -> Result<Value, ConnectorError> {
        checked(request.send()?)?.json_value()
    }
}

/// The array at `key` and the `nextPageToken` (none when empty or absent).
pub fn items_and_token(mut body: Value, key: &str) -> (Vec<Value>, Option<String>) {
    let token = json::str_at(&body, "nextPageToken").filter(|t| !t.is_empty());
    let items = match body.get_mut(key).map(Value::take) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    };
    (items, token)
}

/// The first `reason` of Google's error body, if any.
pub fn error_reason(response: &Response) -> Option<String> {
    let body: Value = response.json_value().ok()?;
    json::str_at(&body, "/error/errors/0/reason")
        .or_else(|| json::str_at(&body, "/error/details/0/reason"))
}

/// The SDK's status mapping, with Google's throttling reasons read from the body: a
/// 403 `rateLimitExceeded` / `userRateLimitExceeded` is `rate-limited`, not
/// `forbidden`.
pub fn checked(response: Response) -> Result<Response, ConnectorError> {
    if matches!(response.status(), 403 | 429)
        && error_reason(&response).is_some_and(|r| THROTTLE_REASONS.contains(&r.as_str()))
    {
        return Err(ConnectorError::RateLimited(response.retry_after()));
    }
    response.error_for_status()
}

/// The organisation's own domains, lower case: `internal_domains` (comma or space
/// separated) when set, else the domain of `admin_email`.
pub fn internal_domains() -> Vec<String> {
    let listed: Vec<String> = config::get("internal_domains")
        .unwrap_or_default()
        .split([',', ' '])
        .map(|d| d.trim().trim_start_matches('@').to_ascii_lowercase())
        .filter(|d| !d.is_empty())
        .collect();
    if !listed.is_empty() {
        return listed;
    }
    config::get("admin_email")
        .and_then(|email| email.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()))
        .into_iter()
        .collect()
}

/// Whether `email_or_domain` belongs to one of `domains` (subdomains included).
pub fn is_internal(email_or_domain: &str, domains: &[String]) -> bool {
    let domain = email_or_domain
        .rsplit_once('@')
        .map_or(email_or_domain, |(_, d)| d)
        .to_ascii_lowercase();
    domains
        .iter()
        .any(|d| domain == *d || domain.ends_with(&format!(".{d}")))
}

/// Test helpers: a Google double on the SDK's fake host, and the published fixtures.
#[cfg(test)]
pub mod fake {
    use serde_json::{Value, json};
    use sluice_sdk::http::Response;
    use sluice_sdk::testing::{FakeHost, Fixtures};

    pub use sluice_sdk::testing::context as ctx;

    /// The admin root of the fake host.
    pub const ADMIN: &str = "https://admin.google.test";
    /// The Drive root of the fake host.
    pub const DRIVE: &str = "https://drive.google.test";

    /// The fixture `name` (without `.rendered-from-discovery.json`), parsed; none
    /// without the shared fixtures.
    pub fn fixture(name: &str) -> Option<Value> {
        Fixtures::open("google").map(|f| f.json(&format!("{name}.rendered-from-discovery.json")))
    }

    /// A 200 JSON response.
    pub fn json(body: &Value) -> Response {
        Response::new(200, vec![], body.to_string())
    }

    /// A response with `status` and Google's error body.
    pub fn error(status: u16, reason: &str, message: &str) -> Response {
        Response::new(
            status,
            vec![],
            json!({"error": {"code": status, "message": message,
                "errors": [{"message": message, "domain": "global", "reason": reason}]}})
            .to_string(),
        )
    }

    /// A fake host for the Workspace `example.com`, answering each URL from `routes`
    /// (exact match, method ignored) and 404 otherwise.
    pub fn google(routes: Vec<(String, Response)>) -> FakeHost {
        FakeHost::new()
            .config("admin_url", ADMIN)
            .config("drive_url", DRIVE)
            .config("customer", "my_customer")
            .config("admin_email", "admin@example.com")
            .routes(routes, error(404, "notFound", "Resource Not Found"))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_missing_token_ends_the_list() {
        let body = |token: &str| json!({"users": [1, 2], "nextPageToken": token});
        assert_eq!(
            items_and_token(body("abc"), "users"),
            (vec![json!(1), json!(2)], Some("abc".into()))
        );
        assert_eq!(items_and_token(body(""), "users").1, None);
        assert_eq!(items_and_token(json!({}), "users"), (vec![], None));
    }

    #[test]
    fn throttling_403s_are_rate_limited_and_other_403s_forbidden() {
        for reason in ["rateLimitExceeded", "userRateLimitExceeded"] {
            let response = fake::error(403, reason, "Quota exceeded for quota metric");
            assert_eq!(checked(response), Err(ConnectorError::RateLimited(None)));
        }
        let scope = fake::error(
            403,
            "insufficientPermissions",
            "Request had insufficient authentication scopes.",
        );
        assert!(matches!(checked(scope), Err(ConnectorError::Forbidden(m))
            if m.contains("insufficient authentication scopes")));
        let gone = fake::error(404, "notFound", "File not found: x.");
        assert!(matches!(checked(gone), Err(ConnectorError::NotFound(_))));
    }

    #[test]
    fn the_organisation_s_domains_and_their_subdomains_are_internal() {
        let domains = vec!["example.com".to_owned()];
        assert!(is_internal("alice@example.com", &domains));
        assert!(is_internal("bob@eu.example.com", &domains));
        assert!(is_internal("EXAMPLE.COM", &domains));
        assert!(!is_internal("vendor@partner.example.net", &domains));
        assert!(!is_internal("eve@notexample.com", &domains));
    }
}
