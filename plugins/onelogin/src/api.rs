//! OneLogin API conventions shared by every export: where the account is, the
//! headers every request carries, v2's header-cursor paging and the two error bodies.
//!
//! API v2 lists answer a bare JSON array and announce the next page in the
//! `After-Cursor` response header; the next page is the same list with
//! `cursor=<After-Cursor>` ("Set to the value extracted from Before-Cursor or
//! After-Cursor headers to return the previous or next page"). No header, or an empty
//! one, ends the list. v1 (the Events API) wraps its answers in
//! `{status, pagination{…, next_link}, data}`.
//!
//! Errors come in two shapes: v1's `{"status":{"error":true,"code":401,
//! "type":"Unauthorized","message":"Authentication Failure"}}` and v2's
//! `{"statusCode":401,"name":"Unauthorized","message":"…"}`; [`checked`] reads both.

use serde_json::Value;
use sluice_sdk::http::{self, Request};
use sluice_sdk::prelude::{ConnectorError, Context, Response, config, json};

/// Users and events are documented as "up to 50 … per page".
pub const MAX_PAGE_SIZE: u32 = 50;

/// One call's view of the configured account.
#[derive(Debug, Clone)]
pub struct Api {
    /// Account URL without a trailing slash, e.g. `https://acme.onelogin.com`.
    base: String,
    /// The host's preferred page size, before OneLogin's bound.
    page_size: u32,
}

impl Api {
    /// Reads `base_url` (default `https://{subdomain}.onelogin.com`, resolved by the host).
    pub fn new(ctx: &Context) -> Result<Self, ConnectorError> {
        Ok(Self {
            base: config::required_url("base_url")?,
            page_size: ctx.page_size,
        })
    }

    /// The host's page size clamped to OneLogin's `limit` bounds.
    pub fn page_size(&self) -> u32 {
        self.page_size.clamp(1, MAX_PAGE_SIZE)
    }

    /// `{base}{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A GET asking for JSON.
    pub fn get(&self, url: impl Into<String>) -> Request {
        http::get(url).header("accept", "application/json")
    }

    /// One page of the v2 list at `path`: the first (`limit`) or the one at `cursor`.
    /// Returns the items and the next page's cursor (`After-Cursor`), if any.
    pub fn v2_page(
        &self,
        path: &str,
        cursor: Option<&str>,
    ) -> Result<(Vec<Value>, Option<String>), ConnectorError> {
        let request = match cursor {
            Some(cursor) => self.get(self.url(path)).query("cursor", cursor),
            None => self.get(self.url(path)).query("limit", self.page_size()),
        };
        let response = checked(request.send()?)?;
        let next = response
            .header("after-cursor")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        Ok((response.json::<Vec<Value>>()?, next))
    }
}

/// OneLogin's explanation of a failure: v1's `status.message`, v2's `message`, else
/// the SDK's reading of the body.
pub fn message(response: &Response) -> String {
    let body: Value = response.json_value().unwrap_or(Value::Null);
    json::str_at(&body, "/status/message")
        .or_else(|| json::str_at(&body, "message"))
        .unwrap_or_else(|| response.provider_message())
}

/// The response when it succeeded, else the error for its status with OneLogin's own
/// message (401 `unauthorized`, 403 `forbidden`, 429 `rate-limited`, …).
pub fn checked(response: Response) -> Result<Response, ConnectorError> {
    let status = response.status();
    if status < 400 {
        return Ok(response);
    }
    let text = format!("HTTP {status}: {}", message(&response));
    Err(match status {
        401 => ConnectorError::Unauthorized(text),
        403 => ConnectorError::Forbidden(text),
        404 => ConnectorError::NotFound(text),
        _ => return response.error_for_status(),
    })
}

/// Test helpers: a OneLogin double on the SDK's fake host, and the published fixtures.
#[cfg(test)]
pub mod fake {
    use serde_json::{Value, json};
    use sluice_sdk::http::Response;
    use sluice_sdk::testing::{FakeHost, Fixtures};

    pub use sluice_sdk::testing::context as ctx;

    /// The rendered example `name` (e.g. `users-v2-list`), parsed; none (with a note)
    /// without the shared fixtures.
    pub fn fixture(name: &str) -> Option<Value> {
        Fixtures::open("onelogin").map(|f| f.json(&format!("{name}.rendered-from-sdk-model.json")))
    }

    /// A 200 JSON response.
    pub fn json(body: &Value) -> Response {
        Response::new(200, vec![], body.to_string())
    }

    /// A v2 list page: a bare array, `After-Cursor` when there is a next page.
    pub fn v2_page(items: Value, after: Option<&str>) -> Response {
        let headers = after
            .map(|c| vec![("After-Cursor".to_owned(), c.to_owned())])
            .unwrap_or_default();
        Response::new(200, headers, items.to_string())
    }

    /// v1's error body with `status`.
    pub fn v1_error(status: u16, kind: &str, message: &str) -> Response {
        let body =
            json!({"status": {"error": true, "code": status, "type": kind, "message": message}});
        Response::new(status, vec![], body.to_string())
    }

    /// v2's error body with `status`.
    pub fn v2_error(status: u16, name: &str, message: &str) -> Response {
        let body = json!({"statusCode": status, "name": name, "message": message});
        Response::new(status, vec![], body.to_string())
    }

    /// A fake host for the account at `https://acme.onelogin.test`, answering each URL
    /// from `routes` (exact match, method ignored) and 404 otherwise.
    pub fn onelogin(routes: Vec<(String, Response)>) -> FakeHost {
        FakeHost::new()
            .config("base_url", "https://acme.onelogin.test/")
            .expect_header("accept", "application/json")
            .routes(routes, v2_error(404, "Not Found", "Not Found"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_error_shapes_give_onelogin_s_message() {
        let v1 = fake::v1_error(401, "Unauthorized", "Authentication Failure");
        assert_eq!(
            checked(v1).unwrap_err(),
            ConnectorError::Unauthorized("HTTP 401: Authentication Failure".into())
        );
        let v2 = fake::v2_error(403, "Forbidden", "Insufficient scope");
        assert_eq!(
            checked(v2).unwrap_err(),
            ConnectorError::Forbidden("HTTP 403: Insufficient scope".into())
        );
        let throttled = Response::new(429, vec![("Retry-After".into(), "3".into())], "{}");
        assert_eq!(
            checked(throttled).unwrap_err(),
            ConnectorError::RateLimited(Some(3))
        );
    }
}
