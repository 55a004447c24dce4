//! ServiceNow Table API conventions shared by every export: where the instance is, how
//! a table is listed and paged, and how its string-typed values read.
//!
//! `GET /api/now/table/{table}` answers `{"result": [...]}`. Paging is by
//! `sysparm_limit` and `sysparm_offset`; every answer carries a `Link` header with
//! `rel="first"`, `"prev"`, `"next"` and `"last"` URLs and an `X-Total-Count` header.
//! ServiceNow applies `sysparm_limit` *before* its row-level ACLs, so a page may hold
//! fewer rows than asked for (even none) while more remain: only the absence of
//! `rel="next"` ends a list. `sysparm_query` is an encoded query (`a=b^cINx,y^ORDERBYc`)
//! and `sysparm_fields` picks columns, dot-walking allowed (`role.name`).
//!
//! Every value is a string (`"true"`, `"2024-01-01 00:00:00"`); reference fields are
//! `{"link": ".../api/now/table/<table>/<sys_id>", "value": "<sys_id>"}`, or
//! `{"link", "display_value"}` with `sysparm_display_value=true`. Date-times are
//! `YYYY-MM-DD HH:MM:SS` in UTC (the database value; display values would be in the
//! user's time zone, which is why the connector never asks for them).
//!
//! Errors are `{"error": {"message", "detail"}, "status": "failure"}`: 401 `User Not
//! Authenticated`, 403 `User Not Authorized` when an ACL refuses a table, 404 `No
//! Record found`, 429 `Rate limit exceeded` with `Retry-After`.

use serde_json::Value;
use sluice_sdk::http::{self, Request, path_segment};
use sluice_sdk::prelude::{ConnectorError, Context, Response, config, json, pagination, time};

/// The largest `sysparm_limit` the connector asks for: ServiceNow's default is
/// 10,000, but it warns that large limits hurt the instance's performance.
pub const MAX_PAGE_SIZE: u32 = 1000;

/// Pages read of a related table (roles, members) for one page of users or groups:
/// bounds one call's requests.
pub const MAX_RELATED_PAGES: usize = 50;

/// One call's view of the configured instance.
#[derive(Debug, Clone)]
pub struct Api {
    /// Instance URL without a trailing slash, e.g. `https://acme.service-now.com`.
    base: String,
    /// The host's preferred page size, before the connector's bound.
    page_size: u32,
}

impl Api {
    /// Reads `base_url` (its default is `https://{instance}.service-now.com`, resolved
    /// by the host; a mock's `http://127.0.0.1:PORT` works the same way).
    pub fn new(ctx: &Context) -> Result<Self, ConnectorError> {
        Ok(Self {
            base: config::required_url("base_url")?,
            page_size: ctx.page_size,
        })
    }

    /// The host's page size within `1..=MAX_PAGE_SIZE`.
    pub fn page_size(&self) -> u32 {
        self.page_size.clamp(1, MAX_PAGE_SIZE)
    }

    /// `{base}{path}`; `path` starts with `/`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `{base}/api/now/table/{table}`.
    pub fn table_url(&self, table: &str) -> String {
        self.url(&format!("/api/now/table/{table}"))
    }

    /// `{base}/api/now/table/{table}/{sys_id}`, `sys_id` encoded as one path segment
    /// (`..` and friends refused, so a target never aims at the table itself).
    pub fn record_url(&self, table: &str, sys_id: &str) -> Result<String, ConnectorError> {
        let segment = path_segment(sys_id.trim()).ok_or_else(|| {
            ConnectorError::other(format!("`{sys_id}` is not a valid ServiceNow sys_id"))
        })?;
        Ok(self.url(&format!("/api/now/table/{table}/{segment}")))
    }

    /// The first page of `table`: `fields` (comma-separated, none for every column)
    /// of the rows matching the encoded `query` (none for all), `limit` rows.
    pub fn list(
        &self,
        table: &str,
        fields: Option<&str>,
        query: Option<&str>,
        limit: u32,
    ) -> Request {
        let mut request = self.get(self.table_url(table));
        if let Some(query) = query.filter(|q| !q.is_empty()) {
            request = request.query("sysparm_query", query);
        }
        if let Some(fields) = fields {
            request = request.query("sysparm_fields", fields);
        }
        request
            .query("sysparm_limit", limit)
            .query("sysparm_offset", 0)
    }

    /// The first page of the Attachment API's metadata list, `GET /api/now/attachment`:
    /// the `sys_attachment` rows matching the encoded `query`, `limit` rows. It pages
    /// like the Table API (`sysparm_limit`/`sysparm_offset`, `Link` header) but
    /// documents no `sysparm_fields`, so every column comes back.
    pub fn attachments(&self, query: &str, limit: u32) -> Request {
        let mut request = self.get(self.url("/api/now/attachment"));
        if !query.is_empty() {
            request = request.query("sysparm_query", query);
        }
        request
            .query("sysparm_limit", limit)
            .query("sysparm_offset", 0)
    }

    /// `{base}/api/now/attachment/{sys_id}{rest}`, `sys_id` encoded as one path
    /// segment (`..` and friends refused).
    pub fn attachment_url(&self, sys_id: &str, rest: &str) -> Result<String, ConnectorError> {
        let segment = path_segment(sys_id.trim()).ok_or_else(|| {
            ConnectorError::not_found(format!("`{sys_id}` is not a ServiceNow attachment sys_id"))
        })?;
        Ok(self.url(&format!("/api/now/attachment/{segment}{rest}")))
    }

    /// A GET asking for JSON (ServiceNow answers 400 to requests without `Accept`).
    pub fn get(&self, url: impl Into<String>) -> Request {
        http::get(url).header("accept", "application/json")
    }

    /// A PATCH asking for JSON.
    pub fn patch(&self, url: impl Into<String>) -> Request {
        http::patch(url).header("accept", "application/json")
    }

    /// One page at `url`: its rows and the `rel="next"` URL, if any.
    pub fn page(&self, url: &str) -> Result<(Vec<Value>, Option<String>), ConnectorError> {
        let response = self.get(url).send()?.error_for_status()?;
        page_of(&response)
    }

    /// Every row from `first` on, for at most `max_pages` pages; the flag says whether
    /// pages were left unread.
    pub fn all(
        &self,
        first: String,
        max_pages: usize,
    ) -> Result<(Vec<Value>, bool), ConnectorError> {
        pagination::collect_all(first, max_pages, |url| self.page(url))
    }
}

/// The rows of a Table API answer and its `rel="next"` link.
pub fn page_of(response: &Response) -> Result<(Vec<Value>, Option<String>), ConnectorError> {
    let mut body = response.json_value()?;
    let rows = match body.get_mut("result").map(Value::take) {
        Some(Value::Array(rows)) => rows,
        _ => Vec::new(),
    };
    Ok((rows, pagination::next_link(response)))
}

/// ServiceNow's explanation of a refusal: `error.message` and `error.detail`.
pub fn error_text(response: &Response) -> String {
    let body: Value = response.json_value().unwrap_or(Value::Null);
    match (
        json::str_at(&body, "/error/message"),
        json::str_at(&body, "/error/detail").filter(|d| !d.is_empty()),
    ) {
        (Some(message), Some(detail)) => format!("{message} ({detail})"),
        (Some(message), None) => message,
        _ => response.provider_message(),
    }
}

/// The text of field `name`: a plain string, or a reference field's `value` (its
/// sys_id), else the sys_id at the end of its `link`, else its `display_value`. Empty
/// strings (ServiceNow's "not set") are none.
pub fn text(row: &Value, name: &str) -> Option<String> {
    let value = row.get(name)?;
    let found = match value {
        Value::Object(_) => json::str_at(value, "value")
            .or_else(|| {
                json::str_at(value, "link")
                    .and_then(|link| link.rsplit('/').next().map(str::to_owned))
            })
            .or_else(|| json::str_at(value, "display_value")),
        _ => json::str_at(row, name),
    };
    found.filter(|t| !t.is_empty())
}

/// Field `name` as a boolean (`"true"` / `"false"`).
pub fn flag(row: &Value, name: &str) -> Option<bool> {
    text(row, name).and_then(|t| t.trim().parse().ok())
}

/// Field `name` as a time: ServiceNow's `YYYY-MM-DD HH:MM:SS` (UTC), in ms.
pub fn time_of(row: &Value, name: &str) -> Option<i64> {
    text(row, name).and_then(|t| parse_time(&t))
}

/// `YYYY-MM-DD HH:MM:SS` (UTC) in ms since the epoch.
pub fn parse_time(text: &str) -> Option<i64> {
    time::parse(&text.trim().replacen(' ', "T", 1))
}

/// `ms` as ServiceNow's `YYYY-MM-DD HH:MM:SS` (UTC, whole seconds), for encoded queries.
pub fn format_time(ms: i64) -> Option<String> {
    let rfc = time::to_rfc3339(ms)?;
    Some(rfc.trim_end_matches('Z').replacen('T', " ", 1))
}

/// Test helpers: a ServiceNow double on the SDK's fake host, and the published fixtures.
#[cfg(test)]
pub mod fake {
    use serde_json::{Value, json};
    use sluice_sdk::http::Response;
    use sluice_sdk::testing::{FakeHost, Fixtures};

    pub use sluice_sdk::testing::context as ctx;

    /// The published example `name`, parsed; none (with a note) without the shared
    /// fixtures.
    pub fn fixture(name: &str) -> Option<Value> {
        Fixtures::open("servicenow").map(|f| f.json(&format!("{name}.docs-example.json")))
    }

    /// A page of `rows`, with a `rel="next"` link when `next` is given.
    pub fn page(rows: Value, next: Option<&str>) -> Response {
        let mut headers = vec![("X-Total-Count".to_owned(), "99".to_owned())];
        if let Some(next) = next {
            headers.push(("Link".to_owned(), format!("<{next}>;rel=\"next\"")));
        }
        Response::new(200, headers, json!({ "result": rows }).to_string())
    }

    /// A response with `status` and ServiceNow's error body.
    pub fn error(status: u16, message: &str, detail: &str) -> Response {
        let body = json!({"error": {"message": message, "detail": detail}, "status": "failure"});
        Response::new(status, vec![], body.to_string())
    }

    /// A fake host for the instance at `https://acme.service-now.test`, answering each
    /// URL from `routes` (exact match, method ignored) and 404 otherwise.
    pub fn instance(routes: Vec<(String, Response)>) -> FakeHost {
        FakeHost::new()
            .config("base_url", "https://acme.service-now.test/")
            .expect_header("accept", "application/json")
            .routes(
                routes,
                error(
                    404,
                    "No Record found",
                    "Record doesn't exist or ACL restricts the record retrieval",
                ),
            )
    }

    /// `https://acme.service-now.test/api/now/table/{rest}`.
    pub fn table(rest: &str) -> String {
        format!("https://acme.service-now.test/api/now/table/{rest}")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn values_read_as_strings_references_and_times() {
        let Some(problem) = fake::fixture("table-get-problem-limit1") else {
            return;
        };
        let row = &problem["result"][0];
        assert_eq!(text(row, "opened_by").as_deref(), Some("glide.maint"));
        assert_eq!(
            text(row, "cmdb_ci").as_deref(),
            Some("55b35562c0a8010e01cff22378e0aea9")
        );
        assert_eq!(text(row, "parent"), None, "an empty string is unset");
        assert_eq!(flag(row, "active"), Some(false));
        assert_eq!(flag(row, "made_sla"), Some(true));
        assert_eq!(time_of(row, "sys_created_on"), Some(1_453_179_079_000));
        // A display-value reference: the sys_id is the link's last segment.
        let shown = json!({"user": {"display_value": "Fred Johnson",
            "link": "https://x.service-now.com/api/now/table/sys_user/f5a3716d0f6002003a2d47bce1050ed4"}});
        assert_eq!(
            text(&shown, "user").as_deref(),
            Some("f5a3716d0f6002003a2d47bce1050ed4")
        );
        assert_eq!(
            format_time(1_453_179_079_000).as_deref(),
            Some("2016-01-19 04:51:19")
        );
        assert_eq!(parse_time("2016-01-19 04:51:19"), Some(1_453_179_079_000));
    }

    #[test]
    fn pages_end_only_without_a_next_link_and_errors_read_in_servicenow_s_words() {
        let last = Response::new(
            200,
            vec![(
                "Link".into(),
                "<https://x.test/a?sysparm_offset=0>;rel=\"first\",<https://x.test/a?sysparm_offset=0>;rel=\"prev\",<https://x.test/a?sysparm_offset=10>;rel=\"last\"".into(),
            )],
            r#"{"result":[]}"#,
        );
        assert_eq!(page_of(&last).unwrap(), (vec![], None));
        // An empty page (ACLs filtered every row) that still has a next link goes on.
        let filtered = fake::page(json!([]), Some("https://x.test/a?sysparm_offset=20"));
        assert_eq!(
            page_of(&filtered).unwrap().1.as_deref(),
            Some("https://x.test/a?sysparm_offset=20")
        );
        let refused = fake::error(
            403,
            "User Not Authorized",
            "Failed API level ACL Validation",
        );
        assert_eq!(
            error_text(&refused),
            "User Not Authorized (Failed API level ACL Validation)"
        );
    }

    #[test]
    fn the_published_429_is_rate_limited() {
        let Some(body) = fake::fixture("rate-limit-429") else {
            return;
        };
        let response = Response::new(
            429,
            vec![("Retry-After".into(), "12".into())],
            body.to_string(),
        );
        assert_eq!(
            error_text(&response),
            "Rate limit exceeded (Rate limit of 100 requests per hour for Table API exceeded)"
        );
        assert_eq!(
            response.error_for_status(),
            Err(ConnectorError::RateLimited(Some(12)))
        );
    }
}
