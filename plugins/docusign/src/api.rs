//! Where DocuSign's APIs are and what every request needs.
//!
//! One DocuSign connection spans three API roots, each its own config field so demo
//! (`-d`) environments, data-residency sites and mocks all work:
//!
//! | field | default | used for |
//! |---|---|---|
//! | `monitor_url` | `https://lens.docusign.net` | Monitor activity stream |
//! | `admin_url` | `https://api.docusign.net/management` | Admin API organization users |
//! | `account_base_uri` | (required, e.g. `https://demo.docusign.net`) | eSignature account (check) |
//!
//! Tokens come from the host's JWT bearer grant (see `describe`), never from here.

use sluice_sdk::http::{self, Request, path_segment};
use sluice_sdk::prelude::{ConnectorError, Context, config};

/// Monitor's production host.
pub const DEFAULT_MONITOR_URL: &str = "https://lens.docusign.net";
/// The Admin API's production root.
pub const DEFAULT_ADMIN_URL: &str = "https://api.docusign.net/management";
/// DocuSign's production authentication server.
pub const DEFAULT_AUTH_URL: &str = "https://account.docusign.com";
/// The JWT `aud` DocuSign expects: the authentication server's host name.
pub const DEFAULT_AUTH_AUDIENCE: &str = "account.docusign.com";

/// Monitor's documented default and maximum `limit`.
const MAX_MONITOR_LIMIT: u32 = 1000;
/// A generous bound on the Admin API's `take`; DocuSign documents only the default (20).
const MAX_ADMIN_TAKE: u32 = 250;

/// One call's view of the configured organization and account.
#[derive(Debug, Clone)]
pub struct Api {
    /// Monitor root, no trailing slash.
    monitor: String,
    /// Admin API root, no trailing slash.
    admin: String,
    /// eSignature root for the account, no trailing slash.
    account_base: String,
    /// Organization id, encoded as a path segment.
    organization: String,
    /// eSignature account id (the Admin API needs one to list users).
    account_id: String,
    /// The host's preferred page size.
    page_size: u32,
}

impl Api {
    /// Reads the API roots and ids from the instance config.
    pub fn new(ctx: &Context) -> Result<Self, ConnectorError> {
        Ok(Self {
            monitor: config::url("monitor_url", DEFAULT_MONITOR_URL)?,
            admin: config::url("admin_url", DEFAULT_ADMIN_URL)?,
            account_base: config::url("account_base_uri", "")?,
            organization: segment("organization_id")?,
            account_id: segment("account_id")?,
            page_size: ctx.page_size.max(1),
        })
    }

    /// Monitor `limit`: the host's page size within Monitor's bound.
    pub fn monitor_limit(&self) -> u32 {
        self.page_size.min(MAX_MONITOR_LIMIT)
    }

    /// Admin API `take`.
    pub fn admin_take(&self) -> u32 {
        self.page_size.min(MAX_ADMIN_TAKE)
    }

    /// `GET {monitor}/api/v2.0/datasets/monitor/stream?cursor=..&limit=..`; without a
    /// cursor Monitor starts seven days back.
    pub fn monitor_stream(&self, cursor: Option<&str>, limit: u32) -> Request {
        let request = get(format!("{}/api/v2.0/datasets/monitor/stream", self.monitor));
        match cursor {
            Some(cursor) => request.query("cursor", cursor),
            None => request,
        }
        .query("limit", limit)
    }

    /// The first page of `GET {admin}/v2/organizations/{org}/users` for the account,
    /// with groups (for admin flags) and `take` users.
    pub fn users_first_page(&self, take: u32) -> String {
        get(format!(
            "{}/v2/organizations/{}/users",
            self.admin, self.organization
        ))
        .query("account_id", &self.account_id)
        .query("include_ds_groups", "true")
        .query("start", 0)
        .query("take", take)
        .url()
        .to_owned()
    }

    /// `GET {account_base_uri}/restapi/v2.1/accounts/{account_id}`.
    pub fn account(&self) -> Request {
        get(format!(
            "{}/restapi/v2.1/accounts/{}",
            self.account_base, self.account_id
        ))
    }
}

/// A GET asking for JSON.
pub fn get(url: impl Into<String>) -> Request {
    http::get(url).header("accept", "application/json")
}

/// A required id field, usable as one URL path segment.
fn segment(name: &str) -> Result<String, ConnectorError> {
    let value = config::required(name)?;
    path_segment(&value).ok_or_else(|| {
        ConnectorError::invalid_config(format!("config field `{name}` is not an id: `{value}`"))
    })
}

/// Test helpers: a DocuSign double on the SDK's fake host, and the published schemas.
#[cfg(test)]
pub mod fake {
    use serde_json::Value;
    use sluice_sdk::http::Response;
    use sluice_sdk::testing::{FakeHost, Fixtures};

    pub use sluice_sdk::testing::{context as ctx, json_response as json};

    /// Organization id in the fake config.
    pub const ORG: &str = "8c7f1b2e-0000-4000-8000-000000000001";
    /// Account id in the fake config.
    pub const ACCOUNT: &str = "5d1e0a9c-0000-4000-8000-000000000002";

    /// A published DocuSign schema file, or none (with a note) without the shared
    /// fixtures.
    pub fn schema(name: &str) -> Option<Value> {
        Fixtures::open("docusign").map(|fixtures| fixtures.json(name))
    }

    /// The names of the query and path parameters a published operation documents.
    pub fn documented_parameters(schema: &Value) -> Vec<&str> {
        schema["operation"]["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["name"].as_str())
            .collect()
    }

    /// A fake host configured for one organization on `https://*.ds.test`, answering
    /// each URL from `routes` (exact match) and 404 otherwise.
    pub fn docusign(routes: Vec<(String, Response)>) -> FakeHost {
        FakeHost::new()
            .config("organization_id", ORG)
            .config("account_id", ACCOUNT)
            .config("account_base_uri", "https://demo.ds.test")
            .config("monitor_url", "https://lens.ds.test/")
            .config("admin_url", "https://admin.ds.test/management")
            .routes(
                routes,
                Response::new(404, vec![], r#"{"error":"not_found"}"#),
            )
    }
}
