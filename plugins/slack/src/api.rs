//! Slack conventions shared by every export: the two API roots, how a Web API method
//! is called, how its answers fail, and cursor paging.
//!
//! - The Web API (`{api_url}/<method>`, by default `https://slack.com/api`) answers
//!   HTTP 200 even when a call fails, with `{"ok": false, "error": "<code>"}`; a
//!   `missing_scope` answer also names the scope `needed` and the scopes `provided`.
//!   [`slack_body`] turns those codes into the contract's typed errors, so a bad token
//!   is `unauthorized` whatever the status line said.
//! - The Audit Logs API and the SCIM API live on another host (`{admin_api_url}`, by
//!   default `https://api.slack.com`) and use HTTP statuses; the Audit Logs API also
//!   sends `{"ok": false, "error": …}` bodies, which are read the same way.
//! - Lists page with an opaque `cursor` (and `limit`); the next one is in the body at
//!   `response_metadata.next_cursor`, empty on the last page. Cursors here store that
//!   token, never a whole URL, so the request is rebuilt from config each time.
//! - Throttled calls get HTTP 429 with `Retry-After` (seconds); the host waits and
//!   retries before the connector sees them.

use serde_json::Value;
use sluice_sdk::http::{self, Request, Response};
use sluice_sdk::prelude::{ConnectorError, Context, config, pagination};

/// Where Slack's Web API lives.
pub const DEFAULT_API_URL: &str = "https://slack.com/api";
/// Where the Audit Logs and SCIM APIs live.
pub const DEFAULT_ADMIN_API_URL: &str = "https://api.slack.com";

/// One call's view of the configured workspace or organisation.
#[derive(Debug, Clone)]
pub struct Api {
    /// Web API root without a trailing slash, e.g. `https://slack.com/api`.
    web: String,
    /// Audit Logs / SCIM root without a trailing slash, e.g. `https://api.slack.com`.
    admin: String,
    /// The workspace an org-level (Grid) token lists, when configured.
    team_id: Option<String>,
    /// The host's preferred page size, before each method's own bounds.
    page_size: u32,
}

impl Api {
    /// Reads `api_url`, `admin_api_url` and `team_id` (a mock's
    /// `http://127.0.0.1:PORT/api` works the same way as Slack's).
    pub fn new(ctx: &Context) -> Result<Self, ConnectorError> {
        Ok(Self {
            web: config::url("api_url", DEFAULT_API_URL)?,
            admin: config::url("admin_api_url", DEFAULT_ADMIN_API_URL)?,
            team_id: config::get("team_id"),
            page_size: ctx.page_size,
        })
    }

    /// The host's page size clamped to a method's `limit` bounds.
    pub fn limit(&self, max: u32) -> u32 {
        self.page_size.clamp(1, max)
    }

    /// A GET of Web API method `name` (e.g. `users.list`).
    pub fn method(&self, name: &str) -> Request {
        json_accepting(http::get(format!("{}/{name}", self.web)))
    }

    /// A POST of Web API method `name` with a JSON body (Slack's write methods accept
    /// `application/json` with a bearer token).
    pub fn post_method(&self, name: &str, body: &Value) -> Request {
        json_accepting(http::post(format!("{}/{name}", self.web))).json_body(body)
    }

    /// A GET of Web API method `name` with `team_id` when one is configured, as
    /// Slack requires of org-level tokens on Enterprise Grid.
    pub fn team_method(&self, name: &str) -> Request {
        let request = self.method(name);
        match &self.team_id {
            Some(team) => request.query("team_id", team),
            None => request,
        }
    }

    /// `{admin_api_url}{path}`; `path` starts with `/` and has its variable parts
    /// encoded.
    pub fn admin_url(&self, path: &str) -> String {
        format!("{}{path}", self.admin)
    }

    /// `{admin_api_url}/scim/v1/Users/{id}`, with `id` encoded as one path segment;
    /// `..` and friends are refused so a target can never aim at a parent resource.
    pub fn scim_user_url(&self, id: &str) -> Result<String, ConnectorError> {
        let segment = http::path_segment(id.trim())
            .ok_or_else(|| ConnectorError::other(format!("`{id}` is not a valid Slack user id")))?;
        Ok(self.admin_url(&format!("/scim/v1/Users/{segment}")))
    }

    /// Sends `request` and reads a successful Slack answer (see [`slack_body`]).
    pub fn call(&self, request: Request) -> Result<Value, ConnectorError> {
        slack_body(&request.send()?)
    }
}

/// Slack answers JSON either way; asking keeps error pages JSON too.
pub fn json_accepting(request: Request) -> Request {
    request.header("accept", "application/json")
}

/// The next page's cursor: `response_metadata.next_cursor`, none when empty.
pub fn next_cursor(body: &Value) -> Option<String> {
    pagination::next_url_in_body(body, "/response_metadata/next_cursor")
}

/// The body of a successful Slack answer, or the typed error it carries.
///
/// An `{"ok": false, "error": "<code>"}` body decides, whatever the status (the Web
/// API sends it with 200); otherwise failure statuses map as for every connector; a
/// body that is not JSON is `upstream`.
pub fn slack_body(response: &Response) -> Result<Value, ConnectorError> {
    let parsed = response.json_value();
    if let Ok(body) = &parsed
        && body.get("ok").and_then(Value::as_bool) == Some(false)
    {
        let code = body
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("unknown_error");
        return Err(error_of(code, body, response));
    }
    if !response.is_success() {
        return Err(response
            .clone()
            .error_for_status()
            .err()
            .unwrap_or_else(|| {
                ConnectorError::upstream(format!("Slack answered HTTP {}", response.status()))
            }));
    }
    parsed
}

/// The contract's error for Slack error `code` (docs.slack.dev's per-method error
/// tables; the common ones are listed on every method).
pub fn error_of(code: &str, body: &Value, response: &Response) -> ConnectorError {
    let message = format!("Slack error `{code}`");
    match code {
        "invalid_auth" | "not_authed" | "token_revoked" | "token_expired" | "account_inactive"
        | "no_auth" => ConnectorError::unauthorized(message),
        "missing_scope" => {
            let field = |name| body.get(name).and_then(Value::as_str).unwrap_or("?");
            ConnectorError::forbidden(format!(
                "{message}: the method needs scope `{}`; the token has `{}`",
                field("needed"),
                field("provided")
            ))
        }
        "ratelimited" | "rate_limited" => ConnectorError::RateLimited(response.retry_after()),
        "not_allowed_token_type"
        | "no_permission"
        | "access_denied"
        | "not_authorized"
        | "feature_not_enabled"
        | "paid_only"
        | "team_access_not_granted"
        | "ekm_access_denied"
        | "not_an_enterprise"
        | "not_an_admin"
        | "restricted_action"
        | "two_factor_setup_required"
        | "org_login_required" => ConnectorError::forbidden(message),
        "user_not_found" | "users_not_found" | "no_such_subteam" | "team_not_found"
        | "app_not_found" => ConnectorError::not_found(message),
        "fatal_error" | "internal_error" | "service_unavailable" | "request_timeout" => {
            ConnectorError::upstream(message)
        }
        _ => ConnectorError::other(message),
    }
}

/// Test helpers: a Slack double on the SDK's fake host, and the published fixtures.
#[cfg(test)]
pub mod fake {
    use serde_json::{Value, json};
    use sluice_sdk::http::Response;
    use sluice_sdk::testing::{FakeHost, Fixtures};

    pub use sluice_sdk::testing::context as ctx;

    /// The Web API root the fake host configures.
    pub const WEB: &str = "https://slack.test/api";
    /// The Audit Logs / SCIM root the fake host configures.
    pub const ADMIN: &str = "https://admin.slack.test";

    /// Slack's published example `name` (`shared/fixtures/slack/<name>`), or none
    /// (with a note) without the shared fixtures.
    pub fn fixture(name: &str) -> Option<Value> {
        Fixtures::open("slack").map(|f| f.json(name))
    }

    /// A 200 JSON answer.
    pub fn json(body: &Value) -> Response {
        Response::new(200, vec![], body.to_string())
    }

    /// A Web API failure: HTTP 200 `{"ok": false, "error": code}`.
    pub fn error(code: &str) -> Response {
        json(&json!({"ok": false, "error": code}))
    }

    /// A fake host for `https://slack.test/api` and `https://admin.slack.test`,
    /// answering each URL from `routes` (exact match, method ignored) and
    /// `unknown_method` otherwise.
    pub fn slack(routes: Vec<(String, Response)>) -> FakeHost {
        FakeHost::new()
            .config("api_url", &format!("{WEB}/"))
            .config("admin_api_url", ADMIN)
            .expect_header("accept", "application/json")
            .routes(routes, error("unknown_method"))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sluice_sdk::http::Response;

    use super::*;

    #[test]
    fn ok_false_answers_become_typed_errors_whatever_the_status() {
        let answer = |status: u16, body: Value| Response::new(status, vec![], body.to_string());
        for code in ["invalid_auth", "not_authed", "token_revoked"] {
            let error = slack_body(&answer(200, json!({"ok": false, "error": code}))).unwrap_err();
            assert_eq!(
                error,
                ConnectorError::Unauthorized(format!("Slack error `{code}`"))
            );
        }
        let missing = json!({"ok": false, "error": "missing_scope",
                             "needed": "usergroups:read", "provided": "users:read,users:read.email"});
        assert_eq!(
            slack_body(&answer(200, missing)).unwrap_err(),
            ConnectorError::Forbidden(
                "Slack error `missing_scope`: the method needs scope `usergroups:read`; \
                 the token has `users:read,users:read.email`"
                    .into()
            )
        );
        let throttled = Response::new(
            429,
            vec![("retry-after".into(), "30".into())],
            json!({"ok": false, "error": "ratelimited"}).to_string(),
        );
        assert_eq!(
            slack_body(&throttled),
            Err(ConnectorError::RateLimited(Some(30)))
        );
        // The Audit Logs API's statuses, with and without a Slack body.
        assert!(matches!(
            slack_body(&answer(
                403,
                json!({"ok": false, "error": "feature_not_enabled"})
            )),
            Err(ConnectorError::Forbidden(_))
        ));
        assert!(matches!(
            slack_body(&Response::new(503, vec![], "<html>down</html>")),
            Err(ConnectorError::Upstream(_))
        ));
        assert!(matches!(
            slack_body(&Response::new(200, vec![], "not json")),
            Err(ConnectorError::Upstream(_))
        ));
        assert_eq!(
            slack_body(&answer(200, json!({"ok": true, "x": 1}))).unwrap()["x"],
            1
        );
    }

    #[test]
    fn published_error_examples_map_to_typed_errors() {
        for (name, expected) in [
            ("users.list-error.openapi-example.json", "invalid_cursor"),
            ("team.accessLogs-error.openapi-example.json", "paid_only"),
        ] {
            let Some(body) = fake::fixture(name) else {
                return;
            };
            let error = slack_body(&fake::json(&body)).unwrap_err();
            let text = format!("{error:?}");
            assert!(text.contains(expected), "{name}: {text}");
            match expected {
                "paid_only" => assert!(matches!(error, ConnectorError::Forbidden(_))),
                _ => assert!(matches!(error, ConnectorError::Other(_))),
            }
        }
    }

    #[test]
    fn cursors_come_from_response_metadata() {
        assert_eq!(
            next_cursor(&json!({"response_metadata": {"next_cursor": "dXNlcjpVMEc5V0ZYTlo="}}))
                .as_deref(),
            Some("dXNlcjpVMEc5V0ZYTlo=")
        );
        assert_eq!(
            next_cursor(&json!({"response_metadata": {"next_cursor": ""}})),
            None
        );
        assert_eq!(next_cursor(&json!({"ok": true})), None);
    }
}
