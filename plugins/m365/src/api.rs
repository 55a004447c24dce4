//! Microsoft Graph and Management Activity API conventions shared by every export:
//! where the APIs are, which components the instance reads, and how Graph collections
//! page (`value` and `@odata.nextLink`, followed verbatim until absent, read with the
//! SDK's [`pagination::items_and_next`]).

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
            graph: format!("{}/v1.0", config::url("graph_resource", DEFAULT_GRAPH)?),
            feed: format!(
                "{}/api/v1.0/{tenant}/activity/feed",
                config::url("management_resource", DEFAULT_MANAGEMENT)?
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
        Ok(collection_parts(body))
    }

    /// Every item of a collection, following `@odata.nextLink` (at most `max_pages`).
    pub fn collection_all(
        &self,
        url: &str,
        max_pages: usize,
    ) -> Result<Vec<Value>, ConnectorError> {
        pagination::collect_all(url.to_owned(), max_pages, |url| self.collection(url))
            .map(|(items, _)| items)
    }
}

/// `value` and `@odata.nextLink` of a Graph collection body.
pub fn collection_parts(body: Value) -> (Vec<Value>, Option<String>) {
    pagination::items_and_next(body, "/value", "/@odata.nextLink")
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
        let Some(fixtures) = fake::fixtures() else {
            return;
        };
        let body = fixtures.json("throttled-429.json").to_string();
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
    use sluice_sdk::http::Response;
    use sluice_sdk::testing::{FakeHost, Fixtures};

    pub use sluice_sdk::testing::{context as ctx, json_response as json};

    /// Microsoft Graph's published examples, or none (with a note) without them.
    pub fn fixtures() -> Option<Fixtures> {
        Fixtures::open("msgraph")
    }

    /// A fake host for tenant `contoso` with Graph at `https://graph.test` and the
    /// Management API at `https://manage.test`, answering exact URLs from `routes`
    /// and Graph's 404 otherwise.
    pub fn tenant(components: Option<&str>, routes: Vec<(String, Response)>) -> FakeHost {
        let mut host = FakeHost::new()
            .config("tenant_id", "contoso")
            .config("graph_resource", "https://graph.test")
            .config("management_resource", "https://manage.test/");
        if let Some(c) = components {
            host = host.config("components", c);
        }
        let not_found = r#"{"error":{"code":"NotFound","message":"no route"}}"#;
        host.routes(routes, Response::new(404, vec![], not_found))
    }
}
