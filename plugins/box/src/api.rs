//! Box API conventions shared by every export: where the API is, Box's two paging
//! styles, its error bodies, and acting as a managed user (`As-User`).
//!
//! Box pages lists in two ways, both bounded by `limit`:
//!
//! - **marker**: `usemarker=true`, then `marker=<next_marker>` until the answer's
//!   `next_marker` is empty or absent (users, folder items, collaborations);
//! - **offset**: `offset` and `total_count` (groups, group memberships), the next page
//!   at `offset + entries`, done when that reaches `total_count` or a page is empty.
//!
//! Errors are `{"type": "error", "status": 403, "code": "access_denied_insufficient_permissions",
//! "message": "Access denied - insufficient permission"}`; the SDK's status mapping
//! reads the `message`, and [`error_code`] the `code` where a connector must tell
//! errors apart (a 409 `item_name_in_use`, a 404 `not_found`).
//!
//! An enterprise's service account (the client-credentials token's subject) sees only
//! its own content; other users' files are read and changed **as** their owner with
//! the `As-User: <user id>` header, which the app needs "Make API calls using the
//! as-user header" for (Box's "Advanced features").

use serde_json::Value;
use sluice_sdk::http::{self, Request};
use sluice_sdk::prelude::{ConnectorError, Context, Response, config, json};

/// The largest `limit` Box accepts on users, groups, memberships and folder items.
pub const MAX_LIMIT: u32 = 1000;

/// One call's view of the configured enterprise.
#[derive(Debug, Clone)]
pub struct Api {
    /// API root without a trailing slash: `https://api.box.com`, or a mock's URL.
    base: String,
    /// The host's preferred page size, before Box's bound.
    page_size: u32,
}

impl Api {
    /// Reads `base_url` (default `https://api.box.com`).
    pub fn new(ctx: &Context) -> Result<Self, ConnectorError> {
        Ok(Self {
            base: config::required_url("base_url")?,
            page_size: ctx.page_size,
        })
    }

    /// The host's page size clamped to `1..=max`.
    pub fn limit(&self, max: u32) -> u32 {
        self.page_size.clamp(1, max)
    }

    /// `{base}/2.0{path}`; `path` starts with `/` and has its variable parts encoded.
    pub fn url(&self, path: &str) -> String {
        format!("{}/2.0{path}", self.base)
    }

    /// A GET of `path` asking for JSON.
    pub fn get(&self, path: &str) -> Request {
        http::get(self.url(path)).header("accept", "application/json")
    }

    /// Sends `request` and reads the JSON answer, Box's errors mapped by the SDK.
    pub fn fetch(&self, request: Request) -> Result<Value, ConnectorError> {
        request.send()?.error_for_status()?.json_value()
    }
}

/// `request` sent as managed user `user` (none: as the service account itself).
pub fn as_user(request: Request, user: Option<&str>) -> Request {
    match user {
        Some(user) => request.header("as-user", user),
        None => request,
    }
}

/// The `entries` of a list answer and its `next_marker` (none when empty or absent).
pub fn entries_and_marker(mut body: Value) -> (Vec<Value>, Option<String>) {
    let marker = json::str_at(&body, "next_marker").filter(|m| !m.is_empty());
    (take_entries(&mut body), marker)
}

/// The `entries` of an offset-paged answer and the next offset, none on the last page.
pub fn entries_and_offset(mut body: Value, offset: u64) -> (Vec<Value>, Option<u64>) {
    let total = json::i64_at(&body, "total_count").and_then(|t| u64::try_from(t).ok());
    let entries = take_entries(&mut body);
    let next = offset + entries.len() as u64;
    let more = !entries.is_empty() && total.is_some_and(|total| next < total);
    (entries, more.then_some(next))
}

fn take_entries(body: &mut Value) -> Vec<Value> {
    match body.get_mut("entries").map(Value::take) {
        Some(Value::Array(entries)) => entries,
        _ => Vec::new(),
    }
}

/// Box's `code` of an error answer (`not_found`, `item_name_in_use`, …), if any.
pub fn error_code(response: &Response) -> Option<String> {
    let body: Value = response.json_value().ok()?;
    json::str_at(&body, "code")
}

/// What went wrong, in Box's words: `code: message`.
pub fn message(response: &Response) -> String {
    match error_code(response) {
        Some(code) => format!("{code}: {}", response.provider_message()),
        None => response.provider_message(),
    }
}

/// Test helpers: a Box double on the SDK's fake host, and the published fixtures.
#[cfg(test)]
pub mod fake {
    use serde_json::{Value, json};
    use sluice_sdk::http::Response;
    use sluice_sdk::testing::{FakeHost, Fixtures};

    pub use sluice_sdk::testing::context as ctx;

    /// The API root the fake host answers.
    pub const BASE: &str = "https://api.box.test/2.0";

    /// The published example `name` (e.g. `users.list.sdk-fixture`), parsed; none
    /// (with a note) without the shared fixtures.
    pub fn fixture(name: &str) -> Option<Value> {
        Fixtures::open("box").map(|f| f.json(&format!("{name}.json")))
    }

    /// A 200 JSON response.
    pub fn json(body: &Value) -> Response {
        Response::new(200, vec![], body.to_string())
    }

    /// A response with `status` and Box's error body.
    pub fn error(status: u16, code: &str, message: &str) -> Response {
        Response::new(
            status,
            vec![],
            json!({"type": "error", "status": status, "code": code, "message": message})
                .to_string(),
        )
    }

    /// A fake host for the API at `https://api.box.test`, answering each URL from
    /// `routes` (exact match, method ignored) and 404 otherwise.
    pub fn boxed(routes: Vec<(String, Response)>) -> FakeHost {
        FakeHost::new()
            .config("base_url", "https://api.box.test/")
            .config("enterprise_id", "777")
            .routes(routes, error(404, "not_found", "Not Found"))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn markers_and_offsets_end_lists() {
        let (entries, marker) = entries_and_marker(json!({"entries": [1, 2], "next_marker": "m2"}));
        assert_eq!((entries.len(), marker.as_deref()), (2, Some("m2")));
        assert_eq!(
            entries_and_marker(json!({"entries": [], "next_marker": ""})).1,
            None
        );
        assert_eq!(entries_and_marker(json!({"entries": [1]})).1, None);
        let page = |offset, n: usize| {
            let entries: Vec<u32> = (0..n as u32).collect();
            entries_and_offset(json!({"total_count": 5, "entries": entries}), offset)
        };
        assert_eq!(page(0, 2).1, Some(2));
        assert_eq!(page(4, 1).1, None);
        assert_eq!(page(2, 0).1, None, "an empty page ends the list");
    }

    #[test]
    fn box_errors_are_named_by_code() {
        let denied = fake::error(
            403,
            "access_denied_insufficient_permissions",
            "Access denied - insufficient permission",
        );
        assert_eq!(
            message(&denied),
            "access_denied_insufficient_permissions: Access denied - insufficient permission"
        );
        assert!(matches!(
            denied.error_for_status(),
            Err(ConnectorError::Forbidden(m)) if m.contains("insufficient permission")
        ));
    }

    #[test]
    fn the_published_429_is_rate_limited_with_its_retry_after() {
        let Some(body) = fake::fixture("rate-limit-429") else {
            return;
        };
        let response = Response::new(
            429,
            vec![("retry-after".into(), "100".into())],
            body.to_string(),
        );
        assert_eq!(
            error_code(&response).as_deref(),
            Some("rate_limit_exceeded")
        );
        assert_eq!(
            response.error_for_status(),
            Err(ConnectorError::RateLimited(Some(100)))
        );
    }
}
