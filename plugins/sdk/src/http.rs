//! HTTP over the host's `http.send`, the connector's only door to the network.
//!
//! The host does the hard parts (egress allowlist, credentials, rate limits, retries of
//! 429/5xx, timeouts); this module makes the guest side short and uniform:
//!
//! - [`get`], [`delete`], … start a [`Request`]; `.query()`, `.header()` and
//!   `.json_body()` build it; `.send()` hands it to the host.
//! - [`Response::error_for_status`] turns provider failure statuses into typed
//!   [`ConnectorError`]s the same way for every connector, so the host can tell "fix
//!   the token" (401) from "back off" (429, throttling 403s) from "provider is down" (5xx).
//! - [`Response::json`] parses bodies and reports bad JSON as `upstream` with an excerpt.
//!
//! ```text
//! let members: Vec<Value> = http::get(format!("{base}/orgs/{org}/members"))
//!     .query("per_page", 100)
//!     .header("accept", "application/json")
//!     .send()?
//!     .error_for_status()?
//!     .json()?;
//! ```

use std::borrow::Cow;
use std::fmt::{self, Display, Write as _};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::bindings::sluice::connector::http as host;
use crate::bindings::sluice::connector::types::ConnectorError;

pub use crate::bindings::sluice::connector::http::Method;

/// How many characters of a body go into an error message: enough to recognise an HTML
/// error page or a truncated document, short enough for a status line.
const EXCERPT_CHARS: usize = 160;

/// Starts a request with `method` to the absolute `url` (which may already carry a query).
pub fn request(method: Method, url: impl Into<String>) -> Request {
    Request {
        method,
        url: url.into(),
        headers: Vec::new(),
        body: None,
        deferred_error: None,
    }
}

/// Starts a `GET` request.
pub fn get(url: impl Into<String>) -> Request {
    request(Method::Get, url)
}

/// Starts a `POST` request.
pub fn post(url: impl Into<String>) -> Request {
    request(Method::Post, url)
}

/// Starts a `PUT` request.
pub fn put(url: impl Into<String>) -> Request {
    request(Method::Put, url)
}

/// Starts a `PATCH` request.
pub fn patch(url: impl Into<String>) -> Request {
    request(Method::Patch, url)
}

/// Starts a `DELETE` request.
pub fn delete(url: impl Into<String>) -> Request {
    request(Method::Delete, url)
}

/// Percent-encodes `text` for use in a query component (see [`path_segment`] for paths).
///
/// Everything except RFC 3986 unreserved characters is encoded, so a value can never
/// add path segments or query parameters of its own.
pub fn encode_component(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(encoded, "%{byte:02X}");
        }
    }
    encoded
}

/// `text` percent-encoded as one URL path segment, or none if it cannot be one.
///
/// Empty, `.` and `..` are refused: URL parsers resolve dot segments (even
/// percent-encoded ones), so a target of `..` would turn
/// `DELETE /orgs/acme/outside_collaborators/..` into `DELETE /orgs/acme`. Use this for
/// every path segment that comes from config, an action target or provider data.
pub fn path_segment(text: &str) -> Option<String> {
    match text {
        "" | "." | ".." => None,
        _ => Some(encode_component(text)),
    }
}

/// A request being built; send it with [`Request::send`].
#[derive(Debug, Clone)]
#[must_use = "a request does nothing until `.send()`"]
pub struct Request {
    /// HTTP method.
    method: Method,
    /// Absolute URL including any query added so far.
    url: String,
    /// Header names as given; the host matches them case-insensitively.
    headers: Vec<(String, String)>,
    /// Body bytes, if any.
    body: Option<Vec<u8>>,
    /// A builder step that failed (e.g. unserialisable JSON body); reported by `send` so
    /// the builder chain stays free of `?`.
    deferred_error: Option<ConnectorError>,
}

impl Request {
    /// Appends `name=value` to the query string, percent-encoding both.
    pub fn query(mut self, name: &str, value: impl Display) -> Self {
        let separator = if self.url.contains('?') { '&' } else { '?' };
        self.url.push(separator);
        self.url.push_str(&encode_component(name));
        self.url.push('=');
        self.url.push_str(&encode_component(&value.to_string()));
        self
    }

    /// Sets a header, replacing any earlier value of the same (case-insensitive) name.
    ///
    /// An `authorization` header is pointless: the host replaces it with the
    /// instance's credentials.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// Sets a JSON body and `content-type: application/json`.
    pub fn json_body<T: Serialize + ?Sized>(mut self, body: &T) -> Self {
        match serde_json::to_vec(body) {
            Ok(bytes) => {
                self.body = Some(bytes);
                self.header("content-type", "application/json")
            }
            Err(error) => {
                self.deferred_error = Some(ConnectorError::Other(format!(
                    "could not serialise the request body: {error}"
                )));
                self
            }
        }
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The URL, query included.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `METHOD URL`, the form `action-outcome.requests` lists write requests in.
    pub fn line(&self) -> String {
        format!("{} {}", method_name(self.method), self.url)
    }

    /// Sends the request through the host and waits for the whole response.
    ///
    /// Only "no response" fails here (denied egress, timeout, …, see
    /// [`ConnectorError::from`]); a 404 or 500 is an `Ok` response, so call
    /// [`Response::error_for_status`] unless the connector handles the status itself.
    pub fn send(self) -> Result<Response, ConnectorError> {
        if let Some(error) = self.deferred_error {
            return Err(error);
        }
        let request = host::Request {
            method: self.method,
            url: self.url,
            headers: self.headers,
            body: self.body,
        };
        crate::imports::send(request).map_err(ConnectorError::from)
    }
}

/// The upper-case name of `method`, as it appears on a request line.
pub fn method_name(method: Method) -> &'static str {
    match method {
        Method::Get => "GET",
        Method::Head => "HEAD",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Patch => "PATCH",
        Method::Delete => "DELETE",
    }
}

/// A complete response; 4xx and 5xx are responses too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status code.
    status: u16,
    /// Headers in arrival order, names lowercase so lookups need no case folding.
    headers: Vec<(String, String)>,
    /// The whole body.
    body: Vec<u8>,
}

impl From<host::Response> for Response {
    fn from(response: host::Response) -> Self {
        Self::new(response.status, response.headers, response.body)
    }
}

impl Response {
    /// A response from its parts; header names are lowercased. Handy for tests.
    pub fn new(status: u16, headers: Vec<(String, String)>, body: impl Into<Vec<u8>>) -> Self {
        let headers = headers
            .into_iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value))
            .collect();
        Self {
            status,
            headers,
            body: body.into(),
        }
    }

    /// HTTP status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// All headers, names lowercase.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Every value of header `name` (any case), for headers that may repeat like `link`.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The raw body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as text, invalid UTF-8 replaced.
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }

    /// Parses the JSON body into `T`; bad JSON or the wrong shape is an `upstream` error
    /// quoting the start of the body.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ConnectorError> {
        serde_json::from_slice(&self.body).map_err(|error| {
            ConnectorError::Upstream(format!(
                "unexpected JSON in HTTP {} response ({error}): {}",
                self.status,
                self.excerpt()
            ))
        })
    }

    /// Splits a JSON array body into its items' text without parsing the items: the
    /// cheap way to list many records, each deserialized into a small struct of the
    /// fields it needs and kept verbatim as `raw` (see [`crate::json`]).
    pub fn json_items(&self) -> Result<Vec<&RawValue>, ConnectorError> {
        serde_json::from_slice(&self.body).map_err(|error| {
            ConnectorError::Upstream(format!(
                "expected a JSON array in HTTP {} response ({error}): {}",
                self.status,
                self.excerpt()
            ))
        })
    }

    /// Parses the JSON body as an untyped [`Value`].
    pub fn json_value(&self) -> Result<Value, ConnectorError> {
        self.json()
    }

    /// Keeps 1xx–3xx responses and turns failure statuses into typed errors:
    ///
    /// | status | error |
    /// |---|---|
    /// | 401 | `unauthorized` with the provider's message |
    /// | 403 throttled (`retry-after`, `x-ratelimit-remaining: 0`, or a "rate limit" message) | `rate-limited` |
    /// | other 403 | `forbidden` |
    /// | 404 | `not-found` |
    /// | 429 | `rate-limited` with `Retry-After` seconds |
    /// | 5xx | `upstream` |
    /// | other 4xx | `other` |
    ///
    /// GitHub signals both its primary and secondary rate limits with 403 as well as
    /// 429, which is why a 403 is inspected before it is called `forbidden`.
    pub fn error_for_status(self) -> Result<Self, ConnectorError> {
        if self.status < 400 {
            return Ok(self);
        }
        let status = self.status;
        let message = format!("HTTP {status}: {}", self.provider_message());
        Err(match status {
            401 => ConnectorError::Unauthorized(message),
            403 if self.is_throttled() => ConnectorError::RateLimited(self.retry_after()),
            403 => ConnectorError::Forbidden(message),
            404 => ConnectorError::NotFound(message),
            429 => ConnectorError::RateLimited(self.retry_after()),
            500..=599 => ConnectorError::Upstream(message),
            _ => ConnectorError::Other(message),
        })
    }

    /// `Retry-After` in whole seconds, fractions rounded up (Microsoft Graph sends
    /// `Retry-After: 2.128`); the HTTP-date form is ignored (the host's own limiter
    /// handles waiting, this is only a hint).
    pub fn retry_after(&self) -> Option<u32> {
        let seconds: f64 = self.header("retry-after")?.trim().parse().ok()?;
        (seconds.is_finite() && seconds >= 0.0)
            .then(|| seconds.ceil().min(f64::from(u32::MAX)) as u32)
    }

    /// Whether a 403 is the provider throttling rather than refusing.
    fn is_throttled(&self) -> bool {
        let exhausted = ["x-ratelimit-remaining", "x-rate-limit-remaining"]
            .iter()
            .any(|name| self.header(name).is_some_and(|v| v.trim() == "0"));
        exhausted
            || self.header("retry-after").is_some()
            || self
                .provider_message()
                .to_ascii_lowercase()
                .contains("rate limit")
    }

    /// The provider's own explanation of a failure: the usual JSON error fields
    /// (`message`, `errorSummary`, `error` as text or `{message}`, `error_description`),
    /// else a body excerpt, else the status's reason phrase.
    pub fn provider_message(&self) -> String {
        if let Ok(body) = serde_json::from_slice::<Value>(&self.body) {
            let candidates = [
                body.get("errorSummary"),
                body.get("message"),
                body.pointer("/error/message"),
                body.get("error"),
                body.get("error_description"),
            ];
            if let Some(text) = candidates
                .into_iter()
                .flatten()
                .find_map(|v| v.as_str().filter(|s| !s.trim().is_empty()))
            {
                return truncate(text.trim(), EXCERPT_CHARS);
            }
        }
        let excerpt = self.excerpt();
        if excerpt.is_empty() {
            reason_phrase(self.status).to_owned()
        } else {
            excerpt
        }
    }

    /// The start of the body on one line, for error messages.
    fn excerpt(&self) -> String {
        let text = self.text();
        let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
        truncate(&one_line, EXCERPT_CHARS)
    }
}

/// `text` cut to at most `max` characters, marked with `…` when cut.
fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// Reason phrases for the statuses `error_for_status` names, used when the body is empty.
fn reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "no body",
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(method_name(*self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        let headers = headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        Response::new(status, headers, body)
    }

    #[test]
    fn query_values_are_percent_encoded_and_appended() {
        let request = get("https://api.example.com/orgs/acme/audit-log?include=all")
            .query("phrase", "created:>=2024-01-01T00:00:00Z")
            .query("per_page", 100);
        assert_eq!(
            request.url(),
            "https://api.example.com/orgs/acme/audit-log?include=all\
             &phrase=created%3A%3E%3D2024-01-01T00%3A00%3A00Z&per_page=100"
        );
        assert_eq!(
            get("https://x.test/a").query("q", "a b").url(),
            "https://x.test/a?q=a%20b"
        );
    }

    #[test]
    fn path_segments_cannot_escape() {
        assert_eq!(encode_component("../admin?x=1"), "..%2Fadmin%3Fx%3D1");
        assert_eq!(encode_component("octo-cat_1.x~"), "octo-cat_1.x~");
        assert_eq!(path_segment("a/b").as_deref(), Some("a%2Fb"));
        assert_eq!(path_segment(".."), None);
        assert_eq!(path_segment("."), None);
        assert_eq!(path_segment(""), None);
    }

    #[test]
    fn headers_replace_case_insensitively_and_json_body_sets_content_type() {
        let request = post("https://x.test/")
            .header("Accept", "text/plain")
            .header("accept", "application/json")
            .json_body(&serde_json::json!({"a": 1}));
        assert_eq!(
            request.headers,
            vec![
                ("accept".to_owned(), "application/json".to_owned()),
                ("content-type".to_owned(), "application/json".to_owned()),
            ]
        );
        assert_eq!(request.body.as_deref(), Some(&br#"{"a":1}"#[..]));
        assert_eq!(request.line(), "POST https://x.test/");
    }

    #[test]
    fn headers_are_looked_up_in_any_case() {
        let response = response(200, &[("X-OAuth-Scopes", "repo, read:org")], "");
        assert_eq!(response.header("x-oauth-scopes"), Some("repo, read:org"));
        assert_eq!(response.headers()[0].0, "x-oauth-scopes");
    }

    #[test]
    fn statuses_map_to_typed_errors_with_the_provider_message() {
        let bad_token = response(401, &[], r#"{"message":"Bad credentials"}"#);
        assert_eq!(
            bad_token.error_for_status(),
            Err(ConnectorError::Unauthorized(
                "HTTP 401: Bad credentials".into()
            ))
        );
        let okta = response(
            401,
            &[],
            r#"{"errorCode":"E0000011","errorSummary":"Invalid token provided"}"#,
        );
        assert_eq!(
            okta.error_for_status(),
            Err(ConnectorError::Unauthorized(
                "HTTP 401: Invalid token provided".into()
            ))
        );
        let graph = response(
            403,
            &[],
            r#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges"}}"#,
        );
        assert_eq!(
            graph.error_for_status(),
            Err(ConnectorError::Forbidden(
                "HTTP 403: Insufficient privileges".into()
            ))
        );
        assert!(matches!(
            response(404, &[], "").error_for_status(),
            Err(ConnectorError::NotFound(m)) if m == "HTTP 404: Not Found"
        ));
        assert!(matches!(
            response(502, &[], "<html><body>Bad gateway</body></html>").error_for_status(),
            Err(ConnectorError::Upstream(m)) if m.contains("Bad gateway")
        ));
        assert!(matches!(
            response(422, &[], r#"{"message":"Validation Failed"}"#).error_for_status(),
            Err(ConnectorError::Other(m)) if m == "HTTP 422: Validation Failed"
        ));
        assert!(response(204, &[], "").error_for_status().is_ok());
    }

    #[test]
    fn throttling_is_rate_limited_with_retry_after() {
        assert_eq!(
            response(429, &[("Retry-After", "30")], "").error_for_status(),
            Err(ConnectorError::RateLimited(Some(30)))
        );
        // Fractions (Microsoft Graph's throttling sample) round up to a whole second.
        assert_eq!(
            response(429, &[("Retry-After", "2.128")], "").error_for_status(),
            Err(ConnectorError::RateLimited(Some(3)))
        );
        assert_eq!(
            response(429, &[("Retry-After", "-1")], "").error_for_status(),
            Err(ConnectorError::RateLimited(None))
        );
        assert_eq!(
            response(429, &[("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT")], "")
                .error_for_status(),
            Err(ConnectorError::RateLimited(None))
        );
        // GitHub's primary limit: 403 with the remaining budget at zero.
        assert_eq!(
            response(
                403,
                &[("x-ratelimit-remaining", "0")],
                r#"{"message":"API rate limit exceeded"}"#
            )
            .error_for_status(),
            Err(ConnectorError::RateLimited(None))
        );
        assert_eq!(
            response(403, &[("x-rate-limit-remaining", "0")], "").error_for_status(),
            Err(ConnectorError::RateLimited(None))
        );
        // GitHub's secondary limit: 403 with retry-after, or only the message.
        assert_eq!(
            response(403, &[("retry-after", "60")], "").error_for_status(),
            Err(ConnectorError::RateLimited(Some(60)))
        );
        assert_eq!(
            response(
                403,
                &[],
                r#"{"message":"You have exceeded a secondary rate limit."}"#
            )
            .error_for_status(),
            Err(ConnectorError::RateLimited(None))
        );
        assert!(matches!(
            response(403, &[("x-ratelimit-remaining", "4999")], "{}").error_for_status(),
            Err(ConnectorError::Forbidden(_))
        ));
    }

    #[test]
    fn bad_json_is_upstream_with_an_excerpt() {
        let error = response(200, &[], "<!DOCTYPE html>\n<html>maintenance</html>")
            .json_value()
            .unwrap_err();
        let ConnectorError::Upstream(message) = error else {
            panic!("expected upstream, got {error:?}")
        };
        assert!(
            message.contains("<!DOCTYPE html> <html>maintenance</html>"),
            "{message}"
        );
        let long = "x".repeat(1000);
        let ConnectorError::Upstream(message) = response(200, &[], &long).json_value().unwrap_err()
        else {
            panic!()
        };
        assert!(message.len() < 400, "{message}");
    }
}
