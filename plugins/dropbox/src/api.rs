//! Dropbox API v2 conventions shared by every export: the two API hosts, RPC calls,
//! acting as a team member, `cursor` / `has_more` paging, and Dropbox's errors.
//!
//! Every call is a `POST` with a JSON body (the arguments) to
//! `https://api.dropboxapi.com/2/<route>` ("RPC" endpoints), except content
//! downloads, which go to `https://content.dropboxapi.com/2/<route>` with the
//! arguments as JSON in the `Dropbox-API-Arg` header and no body. Both roots are
//! config (`api_url`, `content_url`) so tests point them at a mock.
//!
//! A team app's token speaks for the team. Routes of the `team` and `team_log`
//! namespaces take it as it is; routes of one member's Dropbox (`files/*`,
//! `sharing/*`) need to be told whose: `Dropbox-API-Select-User: <team_member_id>`
//! acts as that member, `Dropbox-API-Select-Admin: <team_member_id>` as an admin who
//! only reaches team-owned content and their own files. The connector always acts
//! as the member whose file it is ([`Api::as_member`]), because only that reaches
//! members' private folders; see the guide's "Which member the connector acts as".
//!
//! Lists page with `cursor` and `has_more` in the body: the first page from
//! `<route>`, the next ones from `<route>/continue` with `{"cursor": …}`.
//!
//! Errors, as Dropbox documents them:
//!
//! | status | body | error |
//! |---|---|---|
//! | 400 | plain text: a malformed call | `other` |
//! | 401 | `{"error": {".tag": "invalid_access_token" \| "expired_access_token" \| …}}` | `unauthorized` |
//! | 401 | `{"error": {".tag": "missing_scope", "required_scope": "…"}}` | `forbidden`, naming the scope |
//! | 403 | `{"error": {".tag": "no_permission" …}}` (`AccessError`) | `forbidden` |
//! | 409 | `{"error_summary": "…", "error": <the route's error union>}` | the route's own (see [`RouteError`]) |
//! | 429 | `{"error": {"reason": {".tag": "too_many_requests"}, "retry_after": n}}`, `Retry-After: n` | `rate-limited` |
//! | 5xx | | `upstream` |

use serde_json::{Value, json};
use sluice_sdk::http::{self, Request};
use sluice_sdk::prelude::{ConnectorError, Context, Response, config, json};

/// The largest `limit` the team lists take (`team/members/list_v2`,
/// `team/groups/list`, `team_log/get_events`: 1..=1000).
pub const MAX_TEAM_LIMIT: u32 = 1_000;
/// The largest `limit` of `files/list_folder` (1..=2000).
pub const MAX_LIST_FOLDER_LIMIT: u32 = 2_000;
/// The largest `limit` of `sharing/list_file_members` and `list_folder_members`
/// (1..=300).
pub const MAX_MEMBERS_LIMIT: u32 = 300;

/// One call's view of the team's API.
#[derive(Debug, Clone)]
pub struct Api {
    /// RPC root without a trailing slash: `https://api.dropboxapi.com`, or a mock's.
    api: String,
    /// Content root: `https://content.dropboxapi.com`, or a mock's.
    content: String,
    /// The host's preferred page size.
    page_size: u32,
}

impl Api {
    /// Reads `api_url` and `content_url`.
    pub fn new(ctx: &Context) -> Result<Self, ConnectorError> {
        Ok(Self {
            api: config::url("api_url", "https://api.dropboxapi.com")?,
            content: config::url("content_url", "https://content.dropboxapi.com")?,
            page_size: ctx.page_size,
        })
    }

    /// The host's page size clamped to `1..=max`.
    pub fn limit(&self, max: u32) -> u32 {
        self.page_size.clamp(1, max)
    }

    /// `{api}/2/{route}`.
    pub fn url(&self, route: &str) -> String {
        format!("{}/2/{route}", self.api)
    }

    /// `{content}/2/{route}`.
    pub fn content_url(&self, route: &str) -> String {
        format!("{}/2/{route}", self.content)
    }

    /// An RPC call of `route` with `args` as its JSON body.
    pub fn rpc(&self, route: &str, args: &Value) -> Request {
        http::post(self.url(route))
            .header("accept", "application/json")
            .json_body(args)
    }

    /// Sends `request` and reads the JSON answer, Dropbox's errors mapped (a 409 as
    /// [`RouteError`]'s `other`).
    pub fn call(&self, request: Request) -> Result<Value, ConnectorError> {
        check_status(request.send()?)?.json_value()
    }

    /// Sends `request`, and answers a 409 with the route's error union instead of
    /// failing, for the callers that tell its cases apart.
    pub fn call_or_route_error(
        &self,
        request: Request,
    ) -> Result<Result<Value, RouteError>, ConnectorError> {
        let response = request.send()?;
        if response.status() == 409 {
            return Ok(Err(RouteError::of(&response)));
        }
        Ok(Ok(check_status(response)?.json_value()?))
    }

    /// One page of a `cursor` / `has_more` list: `route` with `args` on the first
    /// page, `route/continue` with the cursor after; the items at `key` and the next
    /// cursor while `has_more`. `member` acts as that team member.
    pub fn page(
        &self,
        route: &str,
        args: &Value,
        cursor: Option<&str>,
        key: &str,
        member: Option<&str>,
    ) -> Result<(Vec<Value>, Option<String>), ConnectorError> {
        let request = match cursor {
            Some(cursor) => self.rpc(&format!("{route}/continue"), &json!({"cursor": cursor})),
            None => self.rpc(route, args),
        };
        let request = match member {
            Some(member) => as_member(request, member),
            None => request,
        };
        let body = self.call(request)?;
        Ok(items_and_cursor(body, key))
    }
}

/// `request` made as team member `member` (`Dropbox-API-Select-User`).
pub fn as_member(request: Request, member: &str) -> Request {
    request.header("dropbox-api-select-user", member)
}

/// The items at `key` and, while `has_more`, the `cursor` to continue with.
pub fn items_and_cursor(mut body: Value, key: &str) -> (Vec<Value>, Option<String>) {
    let more = json::bool_at(&body, "has_more").unwrap_or(false);
    let cursor = json::str_at(&body, "cursor").filter(|c| more && !c.is_empty());
    let items = match body.get_mut(key).map(Value::take) {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    };
    (items, cursor)
}

/// The `.tag` of a union value at `path` (`/status` → `active`).
pub fn tag(value: &Value, path: &str) -> Option<String> {
    let at = if path.is_empty() {
        Some(value)
    } else {
        json::at(value, path)
    };
    match at? {
        Value::String(text) => Some(text.clone()),
        other => json::str_at(other, ".tag"),
    }
}

/// A route's error (HTTP 409): the union's tag (`path`, `user_not_found`, …), the
/// nested tag when the case carries one (`path` → `not_found`), and the summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteError {
    /// The error union's tag.
    pub tag: String,
    /// The tag of the case's value, e.g. `not_found` of `path/not_found/`.
    pub detail: Option<String>,
    /// `error_summary`, for messages.
    pub summary: String,
    /// The error union itself (a case's struct fields sit beside its `.tag`).
    pub error: Value,
}

impl RouteError {
    /// Reads a 409 answer.
    pub fn of(response: &Response) -> Self {
        let body = response.json_value().unwrap_or(Value::Null);
        let error = json::at(&body, "error").cloned().unwrap_or(Value::Null);
        let tag = tag(&error, "").unwrap_or_else(|| "other".into());
        let detail = json::at(&error, &tag).and_then(|inner| self::tag(inner, ""));
        let summary = json::str_at(&body, "error_summary").unwrap_or_else(|| tag.clone());
        RouteError {
            tag,
            detail,
            summary,
            error,
        }
    }

    /// Whether the error is `tag` (and, when given, its case is `detail`).
    pub fn is(&self, tag: &str, detail: Option<&str>) -> bool {
        self.tag == tag && detail.is_none_or(|d| self.detail.as_deref() == Some(d))
    }

    /// As a connector error: a lookup that found nothing is `not-found`, anything
    /// else `other`, both with Dropbox's summary.
    pub fn into_error(self, what: &str) -> ConnectorError {
        let message = format!("{what}: Dropbox answered {}", self.summary);
        if self.detail.as_deref() == Some("not_found")
            || self.tag.ends_with("not_found")
            || self.tag == "user_not_in_team"
        {
            ConnectorError::NotFound(message)
        } else {
            ConnectorError::Other(message)
        }
    }
}

/// The SDK's status mapping with Dropbox's twists: a 401 `missing_scope` is a
/// permission the app lacks (`forbidden`, naming the scope), not bad credentials;
/// a 409 is the route's error, reported with its summary; a 429's `retry_after` in
/// the body counts when the header is missing.
pub fn check_status(response: Response) -> Result<Response, ConnectorError> {
    match response.status() {
        401 => {
            let body = response.json_value().unwrap_or(Value::Null);
            if let Some(scope) = missing_scope(&body) {
                return Err(ConnectorError::Forbidden(format!(
                    "the app lacks the `{scope}` scope (Dropbox answered 401 missing_scope)"
                )));
            }
            Err(ConnectorError::Unauthorized(format!(
                "HTTP 401: {}",
                summary(&response)
            )))
        }
        403 => Err(ConnectorError::Forbidden(format!(
            "HTTP 403: {}",
            summary(&response)
        ))),
        409 => Err(RouteError::of(&response).into_error("the call failed")),
        429 => {
            let body = response.json_value().unwrap_or(Value::Null);
            let seconds = response.retry_after().or_else(|| {
                json::i64_at(&body, "/error/retry_after").and_then(|s| u32::try_from(s).ok())
            });
            Err(ConnectorError::RateLimited(seconds))
        }
        _ => response.error_for_status(),
    }
}

/// The scope a 401 `missing_scope` body names.
pub fn missing_scope(body: &Value) -> Option<String> {
    (tag(body, "/error").as_deref() == Some("missing_scope"))
        .then(|| json::str_at(body, "/error/required_scope"))
        .flatten()
}

/// Dropbox's explanation of a failure: `error_summary`, else the body's start (400s
/// are plain text).
pub fn summary(response: &Response) -> String {
    response
        .json_value()
        .ok()
        .and_then(|body| json::str_at(&body, "error_summary"))
        .unwrap_or_else(|| response.provider_message())
}

/// Test helpers: a Dropbox double on the SDK's fake host.
#[cfg(test)]
pub mod fake {
    use serde_json::{Value, json};
    use sluice_sdk::http::Response;
    use sluice_sdk::testing::{FakeHost, Fixtures, SentRequest};

    pub use sluice_sdk::testing::context as ctx;

    /// The RPC root the fake host answers.
    pub const API: &str = "https://api.dropbox.test/2";
    /// The content root.
    pub const CONTENT: &str = "https://content.dropbox.test/2";

    /// The published example `name` (e.g. `team-members-list_v2`, rendered from stone
    /// unless the name says otherwise); none without the shared fixtures.
    pub fn fixture(name: &str) -> Option<Value> {
        let file = if name.contains('.') {
            format!("{name}.json")
        } else {
            format!("{name}.rendered-from-stone.json")
        };
        Fixtures::open("dropbox").map(|f| f.json(&file))
    }

    /// A 200 JSON response.
    pub fn json(body: &Value) -> Response {
        Response::new(200, vec![], body.to_string())
    }

    /// A 409 with Dropbox's route error envelope around `error`.
    pub fn route_error(summary: &str, error: &Value) -> Response {
        Response::new(
            409,
            vec![],
            json!({"error_summary": summary, "error": error}).to_string(),
        )
    }

    /// The request's JSON body.
    pub fn body(request: &SentRequest) -> Value {
        request
            .body
            .as_deref()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or(Value::Null)
    }

    /// A fake host with the two roots configured, answering with `handler`.
    pub fn dropbox(handler: impl FnMut(&SentRequest) -> Response + 'static) -> FakeHost {
        let mut handler = handler;
        FakeHost::new()
            .config("api_url", "https://api.dropbox.test/")
            .config("content_url", "https://content.dropbox.test")
            .on_request(move |r| Ok(handler(r)))
    }

    /// The route of a request to either root (`files/list_folder`).
    pub fn route(request: &SentRequest) -> &str {
        request
            .url
            .strip_prefix(API)
            .or_else(|| request.url.strip_prefix(CONTENT))
            .unwrap_or(&request.url)
            .trim_start_matches('/')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_typed_errors_in_dropbox_s_words() {
        let scope = Response::new(
            401,
            vec![],
            json!({"error_summary": "missing_scope/..", "error": {".tag": "missing_scope",
                "required_scope": "members.read"}})
            .to_string(),
        );
        assert!(matches!(check_status(scope),
            Err(ConnectorError::Forbidden(m)) if m.contains("`members.read`")));
        let token = Response::new(
            401,
            vec![],
            json!({"error_summary": "invalid_access_token/..",
                "error": {".tag": "invalid_access_token"}})
            .to_string(),
        );
        assert!(matches!(check_status(token),
            Err(ConnectorError::Unauthorized(m)) if m.contains("invalid_access_token")));
        let busy = Response::new(
            429,
            vec![],
            json!({"error_summary": "too_many_requests/..",
                "error": {"reason": {".tag": "too_many_requests"}, "retry_after": 4}})
            .to_string(),
        );
        assert_eq!(
            check_status(busy).unwrap_err(),
            ConnectorError::RateLimited(Some(4))
        );
        let header = Response::new(429, vec![("retry-after".into(), "2".into())], "{}");
        assert_eq!(
            check_status(header).unwrap_err(),
            ConnectorError::RateLimited(Some(2))
        );
        let gone = Response::new(
            409,
            vec![],
            json!({"error_summary": "path_lookup/not_found/..",
                "error": {".tag": "path_lookup", "path_lookup": {".tag": "not_found"}}})
            .to_string(),
        );
        let error = RouteError::of(&gone);
        assert!(error.is("path_lookup", Some("not_found")));
        assert!(matches!(
            check_status(gone),
            Err(ConnectorError::NotFound(_))
        ));
    }

    #[test]
    fn pages_continue_only_while_has_more() {
        let (items, next) = items_and_cursor(
            json!({"members": [1, 2], "cursor": "c", "has_more": true}),
            "members",
        );
        assert_eq!((items.len(), next.as_deref()), (2, Some("c")));
        let (_, next) = items_and_cursor(
            json!({"members": [], "cursor": "c", "has_more": false}),
            "members",
        );
        assert_eq!(next, None);
        assert_eq!(
            tag(&json!({"status": {".tag": "active"}}), "/status").as_deref(),
            Some("active")
        );
    }
}
