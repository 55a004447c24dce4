//! Salesforce REST API conventions shared by every export: where the org is, how a
//! SOQL query is sent and paged, and what Salesforce's error bodies mean.
//!
//! Every listing is a SOQL query, `GET {instance}/services/data/v{version}/query?q=…`
//! (the Tooling API's objects at `…/tooling/query`). An answer is
//! `{"totalSize", "done", "nextRecordsUrl"?, "records": […]}`: while `done` is false,
//! `nextRecordsUrl` (a path such as `/services/data/v62.0/query/01gRO…-2000`) names the
//! next batch, which is fetched from the same instance. The batch size is asked for
//! with `Sforce-Query-Options: batchSize=N` (200 to 2,000; Salesforce treats it as a
//! hint and may answer fewer).
//!
//! Failures are a JSON array, `[{"message": "…", "errorCode": "…"}]`; the code decides
//! the error: `INVALID_SESSION_ID` (401) is `unauthorized`, `REQUEST_LIMIT_EXCEEDED`
//! (403, the org's rolling 24-hour allocation is used up) is `rate-limited`,
//! `INSUFFICIENT_ACCESS…` and `INVALID_TYPE` (an object this user may not see or the
//! org is not licensed for) are `forbidden`, `NOT_FOUND` is `not-found`.

use serde_json::Value;
use sluice_sdk::http::{self, Request, path_segment};
use sluice_sdk::prelude::{ConnectorError, Context, Response, config, json, pagination};

/// The REST API version used when the config names none (Winter '25): old enough
/// for every org, new enough for every object this connector reads.
pub const DEFAULT_API_VERSION: &str = "62.0";

/// Salesforce's smallest and largest `batchSize`.
pub const BATCH_SIZE: (u32, u32) = (200, 2000);

/// One call's view of the configured org.
#[derive(Debug, Clone)]
pub struct Api {
    /// The org's My Domain URL without a trailing slash, e.g.
    /// `https://acme.my.salesforce.com`.
    instance: String,
    /// `62.0`: the version in every path.
    version: String,
    /// The batch size asked for.
    batch: u32,
}

/// One batch of a query's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// The records, each with its `attributes`.
    pub records: Vec<Value>,
    /// The next batch's absolute URL while `done` is false.
    pub next: Option<String>,
}

impl Api {
    /// Reads `instance_url` and `api_version` from the config.
    pub fn new(ctx: &Context) -> Result<Self, ConnectorError> {
        let version = config::get("api_version")
            .unwrap_or_else(|| DEFAULT_API_VERSION.to_owned())
            .trim_start_matches(['v', 'V'])
            .to_owned();
        if version.is_empty() || !version.chars().all(|c| c.is_ascii_digit() || c == '.') {
            return Err(ConnectorError::invalid_config(format!(
                "config field `api_version` must look like `62.0`, got `{version}`"
            )));
        }
        Ok(Self {
            instance: config::required_url("instance_url")?,
            version,
            batch: ctx.page_size.clamp(BATCH_SIZE.0, BATCH_SIZE.1),
        })
    }

    /// `{instance}/services/data/v{version}{path}`.
    pub fn data_url(&self, path: &str) -> String {
        format!("{}/services/data/v{}{path}", self.instance, self.version)
    }

    /// The URL of the SOQL query `soql`.
    pub fn query_url(&self, soql: &str) -> String {
        http::get(self.data_url("/query"))
            .query("q", soql)
            .url()
            .to_owned()
    }

    /// The URL of the Tooling API query `soql`.
    pub fn tooling_query_url(&self, soql: &str) -> String {
        http::get(self.data_url("/tooling/query"))
            .query("q", soql)
            .url()
            .to_owned()
    }

    /// `{instance}/services/data/v{version}/sobjects/{object}/{id}`, `id` one path segment.
    pub fn sobject_url(&self, object: &str, id: &str) -> Result<String, ConnectorError> {
        let segment = path_segment(id.trim())
            .ok_or_else(|| ConnectorError::other(format!("`{id}` is not a valid record id")))?;
        Ok(self.data_url(&format!("/sobjects/{object}/{segment}")))
    }

    /// An absolute URL for a path Salesforce answered (`nextRecordsUrl`, `LogFile`).
    pub fn absolute(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_owned()
        } else {
            format!("{}{path}", self.instance)
        }
    }

    /// A GET asking for JSON, with the batch size.
    pub fn get(&self, url: impl Into<String>) -> Request {
        http::get(url)
            .header("accept", "application/json")
            .header("sforce-query-options", format!("batchSize={}", self.batch))
    }

    /// A PATCH of record fields.
    pub fn patch(&self, url: impl Into<String>, body: &Value) -> Request {
        http::patch(url)
            .header("accept", "application/json")
            .json_body(body)
    }

    /// A DELETE of a record.
    pub fn delete(&self, url: impl Into<String>) -> Request {
        http::delete(url).header("accept", "application/json")
    }

    /// One batch of a query: the first (`url` from [`Api::query_url`]) or a next one.
    pub fn batch(&self, url: &str) -> Result<Batch, ConnectorError> {
        let body = checked(self.get(url).send()?)?.json_value()?;
        Ok(self.batch_of(body))
    }

    /// Every record of the SOQL query `soql`, for at most `max_batches` batches.
    pub fn query_all(
        &self,
        soql: &str,
        max_batches: usize,
    ) -> Result<(Vec<Value>, bool), ConnectorError> {
        self.all(self.query_url(soql), max_batches)
    }

    /// A next batch, or none when its query locator expired (`INVALID_QUERY_LOCATOR`:
    /// Salesforce drops a cursor unused for 15 minutes), so the caller searches again.
    pub fn batch_unless_expired(&self, url: &str) -> Result<Option<Batch>, ConnectorError> {
        let response = self.get(url).send()?;
        if response.status() == 400
            && error_code(&response).as_deref() == Some("INVALID_QUERY_LOCATOR")
        {
            return Ok(None);
        }
        Ok(Some(self.batch_of(checked(response)?.json_value()?)))
    }

    /// The records and next URL of a query answer.
    pub fn batch_of(&self, body: Value) -> Batch {
        let done = json::bool_at(&body, "done").unwrap_or(true);
        let (records, next) = pagination::items_and_next(body, "/records", "/nextRecordsUrl");
        Batch {
            records,
            next: next.filter(|_| !done).map(|path| self.absolute(&path)),
        }
    }

    /// Every record of query `url`, for at most `max_batches` batches; the flag says
    /// whether batches were left unread.
    pub fn all(
        &self,
        url: String,
        max_batches: usize,
    ) -> Result<(Vec<Value>, bool), ConnectorError> {
        pagination::collect_all(url, max_batches, |url| {
            let batch = self.batch(url)?;
            Ok((batch.records, batch.next))
        })
    }
}

/// `response` if it succeeded, else the error its Salesforce error body names.
pub fn checked(response: Response) -> Result<Response, ConnectorError> {
    if response.status() < 400 {
        return Ok(response);
    }
    Err(error_of(&response))
}

/// The first `errorCode` of a Salesforce error body, if any.
pub fn error_code(response: &Response) -> Option<String> {
    let body: Value = response.json_value().ok()?;
    let first = body.as_array().and_then(|a| a.first()).unwrap_or(&body);
    json::str_at(first, "errorCode").or_else(|| json::str_at(first, "error"))
}

/// Salesforce's own words for a failure: `ERROR_CODE: message` for each entry of the
/// error array, else the OAuth error fields, else a body excerpt.
pub fn message_of(response: &Response) -> String {
    let body: Value = response.json_value().unwrap_or(Value::Null);
    let entries = match &body {
        Value::Array(items) => items.clone(),
        Value::Object(_) => vec![body.clone()],
        _ => Vec::new(),
    };
    let words: Vec<String> = entries
        .iter()
        .filter_map(|e| {
            let code = json::str_at(e, "errorCode").or_else(|| json::str_at(e, "error"));
            let text = json::str_at(e, "message").or_else(|| json::str_at(e, "error_description"));
            match (code, text) {
                (Some(code), Some(text)) => Some(format!("{code}: {text}")),
                (code, text) => code.or(text),
            }
        })
        .collect();
    if words.is_empty() {
        response.provider_message()
    } else {
        words.join("; ")
    }
}

/// The typed error of a failed Salesforce answer (see the module docs).
pub fn error_of(response: &Response) -> ConnectorError {
    let status = response.status();
    let code = error_code(response).unwrap_or_default();
    let message = format!("HTTP {status}: {}", message_of(response));
    match (status, code.as_str()) {
        (_, "REQUEST_LIMIT_EXCEEDED") => ConnectorError::RateLimited(response.retry_after()),
        (429, _) => ConnectorError::RateLimited(response.retry_after()),
        (401, _) | (_, "INVALID_SESSION_ID") => ConnectorError::Unauthorized(message),
        (_, "INVALID_TYPE" | "INSUFFICIENT_ACCESS" | "INSUFFICIENT_ACCESS_OR_READONLY") => {
            ConnectorError::Forbidden(message)
        }
        (403, _) => ConnectorError::Forbidden(message),
        (404, _) | (_, "NOT_FOUND" | "ENTITY_IS_DELETED") => ConnectorError::NotFound(message),
        (500..=599, _) => ConnectorError::Upstream(message),
        _ => ConnectorError::Other(message),
    }
}

/// `'text'` as a SOQL string literal: backslashes and quotes escaped.
pub fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            _ => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A Salesforce record id (15 or 18 letters and digits), or `other` naming `what`.
pub fn record_id<'a>(text: &'a str, what: &str) -> Result<&'a str, ConnectorError> {
    let id = text.trim();
    let valid = matches!(id.len(), 15 | 18) && id.chars().all(|c| c.is_ascii_alphanumeric());
    if valid {
        Ok(id)
    } else {
        Err(ConnectorError::other(format!(
            "`{text}` is not a Salesforce {what} id (15 or 18 letters and digits)"
        )))
    }
}

/// A SOQL datetime literal (`2024-01-01T00:00:00Z`) for `ms`.
pub fn datetime(ms: i64) -> String {
    sluice_sdk::time::to_rfc3339(ms).unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
}

/// Test helpers: a Salesforce double on the SDK's fake host, and the published fixtures.
#[cfg(test)]
pub mod fake {
    use serde_json::{Value, json};
    use sluice_sdk::http::Response;
    use sluice_sdk::testing::{FakeHost, Fixtures};

    pub use sluice_sdk::testing::context as ctx;

    /// The org the fakes answer for.
    pub const INSTANCE: &str = "https://acme.my.salesforce.test";

    /// The published example `name` (file name without `.json`), parsed; none (with
    /// a note) without the shared fixtures.
    pub fn fixture(name: &str) -> Option<Value> {
        Fixtures::open("salesforce").map(|f| f.json(&format!("{name}.json")))
    }

    /// A 200 JSON response.
    pub fn json(body: &Value) -> Response {
        Response::new(200, vec![], body.to_string())
    }

    /// A query answer with `records`, and `next` (a path) while not done.
    pub fn batch(records: Value, next: Option<&str>) -> Response {
        let size = records.as_array().map_or(0, Vec::len);
        let mut body = json!({"totalSize": size, "done": next.is_none(), "records": records});
        if let Some(next) = next {
            body["nextRecordsUrl"] = json!(next);
        }
        json(&body)
    }

    /// Salesforce's error array.
    pub fn error(status: u16, code: &str, message: &str) -> Response {
        Response::new(
            status,
            vec![],
            json!([{"message": message, "errorCode": code}]).to_string(),
        )
    }

    /// `{INSTANCE}/services/data/v62.0/query?q=<soql encoded>`.
    pub fn query(soql: &str) -> String {
        sluice_sdk::http::get(format!("{INSTANCE}/services/data/v62.0/query"))
            .query("q", soql)
            .url()
            .to_owned()
    }

    /// A fake host for the org at [`INSTANCE`], answering each URL from `routes`
    /// (exact match, method ignored) and 404 `NOT_FOUND` otherwise.
    pub fn org(routes: Vec<(String, Response)>) -> FakeHost {
        org_any_accept(routes).expect_header("accept", "application/json")
    }

    /// [`org`] for requests of content (`VersionData`), which ask for any type.
    pub fn org_any_accept(routes: Vec<(String, Response)>) -> FakeHost {
        FakeHost::new()
            .config("instance_url", &format!("{INSTANCE}/"))
            .routes(
                routes,
                error(404, "NOT_FOUND", "The requested resource does not exist"),
            )
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn errors_map_by_salesforce_s_error_code() {
        let e = |status, code: &str, msg: &str| error_of(&fake::error(status, code, msg));
        assert_eq!(
            e(401, "INVALID_SESSION_ID", "Session expired or invalid"),
            ConnectorError::Unauthorized(
                "HTTP 401: INVALID_SESSION_ID: Session expired or invalid".into()
            )
        );
        assert_eq!(
            e(
                403,
                "REQUEST_LIMIT_EXCEEDED",
                "TotalRequests Limit exceeded."
            ),
            ConnectorError::RateLimited(None)
        );
        assert!(matches!(
            e(400, "INVALID_TYPE", "sObject type 'EventLogFile' is not supported."),
            ConnectorError::Forbidden(m) if m.contains("EventLogFile")
        ));
        assert!(matches!(
            e(404, "NOT_FOUND", "gone"),
            ConnectorError::NotFound(_)
        ));
        assert!(matches!(
            e(400, "MALFORMED_QUERY", "bad"),
            ConnectorError::Other(_)
        ));
        assert!(matches!(
            e(503, "SERVER_UNAVAILABLE", "x"),
            ConnectorError::Upstream(_)
        ));
    }

    #[test]
    fn the_published_query_example_pages_by_next_records_url() {
        let Some(body) = fake::fixture("query-soql-paginated") else {
            return;
        };
        let (host, _) = fake::org(vec![]).run(|| {
            let ctx = fake::ctx(100, None);
            Api::new(&ctx).map(|api| api.batch_of(body))
        });
        let batch = host.unwrap();
        assert_eq!(batch.records.len(), 1);
        assert_eq!(batch.records[0]["Name"], "John Smith");
        assert_eq!(
            batch.next.as_deref(),
            Some(
                "https://acme.my.salesforce.test/services/data/v66.0/query/01gRO0000016PIAYA2-500"
            )
        );
        let done = json!({"totalSize": 1, "done": true, "records": [{}], "nextRecordsUrl": "/x"});
        let (batch, _) =
            fake::org(vec![]).run(|| Api::new(&fake::ctx(1, None)).unwrap().batch_of(done));
        assert_eq!(batch.next, None, "done wins over a stray nextRecordsUrl");
    }

    #[test]
    fn literals_and_ids_cannot_escape_the_query() {
        assert_eq!(literal("o'brien\\x"), r"'o\'brien\\x'");
        assert_eq!(
            record_id(" 005RO000001aBcDYAU ", "user"),
            Ok("005RO000001aBcDYAU")
        );
        assert!(record_id("005' OR Id != '", "user").is_err());
        assert!(record_id("005RO", "user").is_err());
    }
}
