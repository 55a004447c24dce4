//! Zoom API conventions shared by every export: where the account's API is, token
//! pagination, Zoom's error bodies, and the report date windows.
//!
//! Lists page by **token**: `page_size` (at most 300 on the lists read here) and the
//! answer's `next_page_token`, which is an empty string (or absent) on the last page;
//! the next request repeats the query with `next_page_token=<token>`.
//!
//! Errors are `{"code": <number>, "message": <text>}`. A token lacking a scope is
//! answered **400** with code 4711 (`Invalid access token, does not contain
//! scopes:[user:read:list_users:admin].`), not 403: [`check_status`] maps it to
//! `forbidden`, so a missing scope is not mistaken for a bad request.

use serde_json::Value;
use sluice_sdk::http::{self, Request};
use sluice_sdk::prelude::{ConnectorError, Context, Response, config, json};

/// The largest `page_size` Zoom accepts on the lists read here.
pub const MAX_PAGE_SIZE: u32 = 300;
/// Zoom's error code for a token without the endpoint's scope (HTTP 400).
pub const MISSING_SCOPE: i64 = 4711;
/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// One call's view of the configured account.
#[derive(Debug, Clone)]
pub struct Api {
    /// API root without a trailing slash: `https://api.zoom.us`, or a mock's URL.
    base: String,
    /// The host's preferred page size, before Zoom's bound.
    page_size: u32,
}

impl Api {
    /// Reads `base_url` (default `https://api.zoom.us`).
    pub fn new(ctx: &Context) -> Result<Self, ConnectorError> {
        Ok(Self {
            base: config::required_url("base_url")?,
            page_size: ctx.page_size,
        })
    }

    /// The host's page size clamped to Zoom's `page_size` bounds.
    pub fn page_size(&self) -> u32 {
        self.page_size.clamp(1, MAX_PAGE_SIZE)
    }

    /// `{base}/v2{path}`; `path` starts with `/` and has its variable parts encoded.
    pub fn url(&self, path: &str) -> String {
        format!("{}/v2{path}", self.base)
    }

    /// A GET asking for JSON.
    pub fn get(&self, path: &str) -> Request {
        http::get(self.url(path)).header("accept", "application/json")
    }

    /// A GET of one page of a token-paged list: `page_size`, and the token after the
    /// first page.
    pub fn page(&self, path: &str, token: Option<&str>) -> Request {
        let request = self.get(path).query("page_size", self.page_size());
        match token {
            Some(token) => request.query("next_page_token", token),
            None => request,
        }
    }

    /// Sends `request` and reads the JSON answer, Zoom's errors mapped by [`check_status`].
    pub fn fetch(&self, request: Request) -> Result<Value, ConnectorError> {
        check_status(request.send()?)?.json_value()
    }
}

/// The array at `key` and the next page's token (none when empty or absent).
pub fn items_and_token(mut body: Value, key: &str) -> (Vec<Value>, Option<String>) {
    let token = json::str_at(&body, "next_page_token").filter(|t| !t.is_empty());
    let items = match body.get_mut(key).map(Value::take) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    };
    (items, token)
}

/// Zoom's `code` of an error answer, if its body has one.
pub fn error_code(response: &Response) -> Option<i64> {
    let body: Value = response.json_value().ok()?;
    json::i64_at(&body, "code")
}

/// The SDK's status mapping, except that Zoom's 400 with code 4711 (a scope the app
/// lacks) is `forbidden`.
pub fn check_status(response: Response) -> Result<Response, ConnectorError> {
    if response.status() == 400 && error_code(&response) == Some(MISSING_SCOPE) {
        return Err(ConnectorError::Forbidden(format!(
            "HTTP 400: {}",
            response.provider_message()
        )));
    }
    response.error_for_status()
}

/// `YYYY-MM-DD` (UTC) of day number `day` (days since the epoch).
pub fn date_of_day(day: i64) -> String {
    let text = sluice_sdk::time::to_rfc3339(day * DAY_MS).unwrap_or_default();
    text.get(..10).unwrap_or_default().to_owned()
}

/// The day number (days since the epoch, UTC) of a time in ms.
pub fn day_of(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

/// Zoom's report times: RFC 3339 (`2019-08-20T19:09:01Z`), or `2022-12-16 18:21:29`
/// read as UTC, as some operation-log exports write them.
pub fn time_at(value: &Value, key: &str) -> Option<i64> {
    let text = json::str_at(value, key)?;
    sluice_sdk::time::parse(&text).or_else(|| sluice_sdk::time::parse(&text.replacen(' ', "T", 1)))
}

/// Test helpers: a Zoom double on the SDK's fake host, and the published fixtures.
#[cfg(test)]
pub mod fake {
    use serde_json::{Value, json};
    use sluice_sdk::http::Response;
    use sluice_sdk::testing::{FakeHost, Fixtures};

    pub use sluice_sdk::testing::context as ctx;

    /// The published example `name` (e.g. `list-users.third-party-mirror`), parsed;
    /// none (with a note) without the shared fixtures.
    pub fn fixture(name: &str) -> Option<Value> {
        Fixtures::open("zoom").map(|f| f.json(&format!("{name}.json")))
    }

    /// A 200 JSON response.
    pub fn json(body: &Value) -> Response {
        Response::new(200, vec![], body.to_string())
    }

    /// A response with `status` and Zoom's error body.
    pub fn error(status: u16, code: i64, message: &str) -> Response {
        Response::new(
            status,
            vec![],
            json!({"code": code, "message": message}).to_string(),
        )
    }

    /// A fake host for the API at `https://api.zoom.test`, answering each URL from
    /// `routes` (exact match, method ignored) and 404 otherwise.
    pub fn zoom(routes: Vec<(String, Response)>) -> FakeHost {
        FakeHost::new()
            .config("base_url", "https://api.zoom.test/")
            .expect_header("accept", "application/json")
            .routes(routes, error(404, 404, "Not found"))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_empty_token_ends_the_list() {
        let body = |token: &str| json!({"users": [1, 2], "next_page_token": token});
        assert_eq!(
            items_and_token(body("abc"), "users"),
            (vec![json!(1), json!(2)], Some("abc".into()))
        );
        assert_eq!(items_and_token(body(""), "users").1, None);
        assert_eq!(items_and_token(json!({"users": []}), "users").1, None);
    }

    #[test]
    fn a_missing_scope_is_forbidden_and_a_bad_token_unauthorized() {
        let scope = fake::error(
            400,
            4711,
            "Invalid access token, does not contain scopes:[user:read:list_users:admin].",
        );
        assert!(
            matches!(check_status(scope), Err(ConnectorError::Forbidden(m))
            if m.contains("user:read:list_users:admin"))
        );
        let token = fake::error(401, 124, "Invalid access token.");
        assert_eq!(
            check_status(token).unwrap_err(),
            ConnectorError::Unauthorized("HTTP 401: Invalid access token.".into())
        );
        let other = fake::error(400, 300, "Validation Failed.");
        assert!(matches!(check_status(other), Err(ConnectorError::Other(_))));
    }

    #[test]
    fn dates_and_times_as_zoom_writes_them() {
        assert_eq!(date_of_day(day_of(1_704_067_200_000)), "2024-01-01");
        assert_eq!(date_of_day(day_of(1_704_067_200_000 - 1)), "2023-12-31");
        let entry = json!({"a": "2019-08-20T19:09:01Z", "b": "2022-12-16 18:21:29"});
        assert_eq!(time_at(&entry, "a"), Some(1_566_328_141_000));
        assert_eq!(time_at(&entry, "b"), Some(1_671_214_889_000));
    }
}
