//! Microsoft Graph and Management Activity API conventions shared by every export:
//! where the APIs are, which components the instance reads, and how Graph collections
//! page (`@odata.nextLink`, followed verbatim until absent).

use serde_json::Value;
use sluice_sdk::http::{self, Request, path_segment};
use sluice_sdk::prelude::{ConnectorError, Context, config, pagination};

/// The public cloud's authority.
pub const DEFAULT_LOGIN_URL: &str = "https://login.microsoftonline.com";
/// The public cloud's Graph.
pub const DEFAULT_GRAPH: &str = "https://graph.microsoft.com";
/// The public cloud's Management Activity API (Enterprise plan).
pub const DEFAULT_MANAGEMENT: &str = "https://manage.office.com";
/// Every component, the default of `components`.
pub const ALL_COMPONENTS: &str = "users-groups,sign-ins,management-events,apps,activities";
/// Default `content_types`.
pub const DEFAULT_CONTENT_TYPES: &str =
    "Audit.AzureActiveDirectory,Audit.Exchange,Audit.SharePoint,Audit.General";

/// Graph's largest `$top` for directory objects.
const MAX_TOP: u32 = 999;

/// A part of the tenant an instance may read, selected by config `components`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    /// Users, directory roles and groups.
    UsersGroups,
    /// `/auditLogs/signIns` (logon activity).
    SignIns,
    /// `/auditLogs/directoryAudits` (admin activity).
    ManagementEvents,
    /// Permission grants and service principals.
    Apps,
    /// Office 365 user activity from the Management Activity API.
    Activities,
}

impl Component {
    fn name(self) -> &'static str {
        match self {
            Self::UsersGroups => "users-groups",
            Self::SignIns => "sign-ins",
            Self::ManagementEvents => "management-events",
            Self::Apps => "apps",
            Self::Activities => "activities",
        }
    }
}

/// One call's view of the configured tenant.
#[derive(Debug, Clone)]
pub struct Api {
    /// `{graph_resource}/v1.0`.
    graph: String,
    /// `{management_resource}/api/v1.0/{tenant_id}/activity/feed`.
    feed: String,
    /// Enabled component names.
    components: Vec<String>,
    /// Management API content types.
    content_types: Vec<String>,
    /// `$top` for list endpoints.
    top: u32,
}

/// A config URL without trailing slashes, or `default`.
fn url_field(name: &str, default: &str) -> Result<String, ConnectorError> {
    let url = config::get(name).unwrap_or_else(|| default.to_owned());
    let url = url.trim_end_matches('/').to_owned();
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(url)
    } else {
        Err(ConnectorError::invalid_config(format!(
            "config field `{name}` must be an http:// or https:// URL, got `{url}`"
        )))
    }
}

/// A comma list from config, or `default`.
fn list_field(name: &str, default: &str) -> Vec<String> {
    config::get(name)
        .unwrap_or_else(|| default.to_owned())
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

impl Api {
    /// Reads the tenant and endpoints from the instance config.
    pub fn new(ctx: &Context) -> Result<Self, ConnectorError> {
        let tenant = config::required("tenant_id")?;
        let tenant = path_segment(&tenant).ok_or_else(|| {
            ConnectorError::invalid_config(format!("`{tenant}` is not a tenant id"))
        })?;
        let components = list_field("components", ALL_COMPONENTS);
        for c in &components {
            if !ALL_COMPONENTS.split(',').any(|known| known == c) {
                return Err(ConnectorError::invalid_config(format!(
                    "unknown component `{c}` (known: {ALL_COMPONENTS})"
                )));
            }
        }
        Ok(Self {
            graph: format!("{}/v1.0", url_field("graph_resource", DEFAULT_GRAPH)?),
            feed: format!(
                "{}/api/v1.0/{tenant}/activity/feed",
                url_field("management_resource", DEFAULT_MANAGEMENT)?
            ),
            components,
            content_types: list_field("content_types", DEFAULT_CONTENT_TYPES),
            top: ctx.page_size.clamp(1, MAX_TOP),
        })
    }

    /// Whether `component` is enabled.
    pub fn enabled(&self, component: Component) -> bool {
        self.components.iter().any(|c| c == component.name())
    }

    /// `unsupported` unless `component` is enabled.
    pub fn require(&self, component: Component) -> Result<(), ConnectorError> {
        if self.enabled(component) {
            Ok(())
        } else {
            Err(ConnectorError::unsupported(format!(
                "component `{}` is not enabled for this instance",
                component.name()
            )))
        }
    }

    /// `$top` for list endpoints.
    pub fn top(&self) -> u32 {
        self.top
    }

    /// Management content types to read.
    pub fn content_types(&self) -> &[String] {
        &self.content_types
    }

    /// `{graph}{path}`.
    pub fn graph(&self, path: &str) -> String {
        format!("{}{path}", self.graph)
    }

    /// `{feed}{path}`.
    pub fn feed(&self, path: &str) -> String {
        format!("{}{path}", self.feed)
    }

    /// `GET` with JSON accepted.
    pub fn get(&self, url: impl Into<String>) -> Request {
        http::get(url).header("accept", "application/json")
    }

    /// One page of a Graph collection: `value` and `@odata.nextLink`.
    pub fn collection(&self, url: &str) -> Result<(Vec<Value>, Option<String>), ConnectorError> {
        let body = self.get(url).send()?.error_for_status()?.json_value()?;
        Ok(collection_parts(&body))
    }

    /// Every item of a collection, following `@odata.nextLink` (at most `max_pages`).
    pub fn collection_all(
        &self,
        url: &str,
        max_pages: usize,
    ) -> Result<Vec<Value>, ConnectorError> {
        let mut items = Vec::new();
        let mut next = Some(url.to_owned());
        for _ in 0..max_pages {
            let Some(url) = next.take() else { break };
            let (page, link) = self.collection(&url)?;
            items.extend(page);
            next = link;
        }
        Ok(items)
    }
}

/// `value` and `@odata.nextLink` of a Graph collection body.
pub fn collection_parts(body: &Value) -> (Vec<Value>, Option<String>) {
    let items = body
        .get("value")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    (
        items,
        pagination::next_url_in_body(body, "/@odata.nextLink"),
    )
}

#[cfg(test)]
mod tests {
    use sluice_sdk::http::Response;
    use sluice_sdk::prelude::ConnectorError;

    use super::fake;

    /// Graph's published throttling answer (429, `Retry-After: 2.128` in the current
    /// docs) is `rate-limited` with the wait rounded up, and its message is read.
    #[test]
    fn published_throttling_answer_is_rate_limited() {
        if !fake::fixtures_present() {
            return;
        }
        let body = fake::fixture("throttled-429.json").to_string();
        for (retry_after, expected) in [("2.128", Some(3)), ("10", Some(10))] {
            let response = Response::new(
                429,
                vec![("Retry-After".into(), retry_after.into())],
                body.clone(),
            );
            assert_eq!(response.provider_message(), "Please retry again later.");
            assert_eq!(
                response.error_for_status().unwrap_err(),
                ConnectorError::RateLimited(expected)
            );
        }
    }
}

/// Test helpers: a Graph double on the SDK's fake host, and the published fixtures.
#[cfg(test)]
pub mod fake {
    use std::collections::HashMap;

    use serde_json::Value;
    use sluice_sdk::http::Response;
    use sluice_sdk::prelude::Context;
    use sluice_sdk::testing::{FakeHost, SentRequest};

    /// A context as the host would pass it.
    pub fn ctx(page_size: u32, since: Option<i64>) -> Context {
        Context {
            auth: crate::AUTH_ID.into(),
            instance_id: "inst-1".into(),
            instance_name: "contoso".into(),
            since,
            page_size,
        }
    }

    fn fixtures_dir() -> std::path::PathBuf {
        match std::env::var_os("SLUICE_FIXTURES_DIR") {
            Some(d) => std::path::PathBuf::from(d).join("msgraph"),
            None => std::path::PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/fixtures/msgraph"
            )),
        }
    }

    /// Whether the published examples are available (tests on them return early without).
    #[allow(
        clippy::print_stderr,
        reason = "tells the test runner why a test did nothing"
    )]
    pub fn fixtures_present() -> bool {
        let present = fixtures_dir().is_dir();
        if !present {
            eprintln!(
                "shared fixtures not found at {}; skipping",
                fixtures_dir().display()
            );
        }
        present
    }

    /// A published Graph example body.
    pub fn fixture(name: &str) -> Value {
        let path = fixtures_dir().join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()));
        serde_json::from_str(&text).expect("fixture is JSON")
    }

    /// A 200 JSON response.
    pub fn json(body: &Value) -> Response {
        Response::new(200, vec![], body.to_string())
    }

    /// A fake host for tenant `contoso` with Graph at `https://graph.test` and the
    /// Management API at `https://manage.test`, answering exact URLs from `routes`.
    pub fn tenant(components: Option<&str>, routes: Vec<(String, Response)>) -> FakeHost {
        let routes: HashMap<String, Response> = routes.into_iter().collect();
        let mut host = FakeHost::new()
            .config("tenant_id", "contoso")
            .config("graph_resource", "https://graph.test")
            .config("management_resource", "https://manage.test/");
        if let Some(c) = components {
            host = host.config("components", c);
        }
        host.on_request(move |request: &SentRequest| {
            Ok(routes.get(&request.url).cloned().unwrap_or_else(|| {
                Response::new(
                    404,
                    vec![],
                    r#"{"error":{"code":"NotFound","message":"no route"}}"#,
                )
            }))
        })
    }
}
