//! NetDocuments REST conventions shared by every export: which regional API to call,
//! the repository every call is about, how listings page, and the repository info
//! that several exports read.
//!
//! Paging (documented for groups, assumed for users and the log; see the crate docs):
//! the first page is asked for with `$top=N&paging=true`, each answer carries the
//! next page's token as `next`, sent back as `$skiptoken`. Listings keep the token in
//! the SDK's `ListCursor` (`At::token`), the log the next page's whole URL, so a scan
//! resumes exactly where it stopped.

use serde_json::Value;
use sluice_sdk::http::{self, Request, path_segment};
use sluice_sdk::prelude::{ConnectorError, Context, config, json, pagination};

/// One of NetDocuments' regional services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// The value of config `region`.
    pub code: &'static str,
    /// Where people sign in, e.g. `vault.netvoyage.com`.
    pub service_host: &'static str,
    /// Its REST API root.
    pub api_url: &'static str,
}

/// The regions NetDocuments documents, US first (the default).
pub const REGIONS: &[Region] = &[
    Region {
        code: "us",
        service_host: "vault.netvoyage.com",
        api_url: "https://api.vault.netvoyage.com",
    },
    Region {
        code: "eu",
        service_host: "eu.netdocuments.com",
        api_url: "https://api.eu.netdocuments.com",
    },
    Region {
        code: "au",
        service_host: "au.netdocuments.com",
        api_url: "https://api.au.netdocuments.com",
    },
    Region {
        code: "de",
        service_host: "de.netdocuments.com",
        api_url: "https://api.de.netdocuments.com",
    },
];

/// Largest `$top` NetDocuments allows on repository listings.
const MAX_TOP: u32 = 10_000;

/// One call's view of the configured repository.
#[derive(Debug, Clone)]
pub struct Api {
    /// API root without a trailing slash.
    base: String,
    /// The configured region.
    region: Region,
    /// The repository id as configured (used in messages).
    repository_id: String,
    /// The repository id encoded as a URL path segment.
    repository_segment: String,
    /// `$top` for listings: the host's preference within NetDocuments' bounds.
    top: u32,
}

impl Api {
    /// Reads `region`, `api_url` and `repository_id`; refuses an `api_url` that is
    /// another region's NetDocuments API (before any request, so no token is fetched
    /// from the wrong region either).
    pub fn new(ctx: &Context) -> Result<Self, ConnectorError> {
        let code = config::get("region").unwrap_or_else(|| REGIONS[0].code.to_owned());
        let region = *REGIONS
            .iter()
            .find(|r| r.code.eq_ignore_ascii_case(&code))
            .ok_or_else(|| {
                ConnectorError::invalid_config(format!(
                    "config field `region` must be one of us, eu, au, de, got `{code}`"
                ))
            })?;
        let base = config::url("api_url", region.api_url)?;
        if let Some(other) = REGIONS
            .iter()
            .find(|r| r.api_url.eq_ignore_ascii_case(&base) && *r != &region)
        {
            return Err(ConnectorError::invalid_config(format!(
                "region `{}` is served by {} but api_url is {}, the {} API: set \
                 api_url={}",
                region.code, region.api_url, base, other.code, region.api_url
            )));
        }
        let repository_id = config::required("repository_id")?;
        let repository_segment = path_segment(&repository_id).ok_or_else(|| {
            ConnectorError::invalid_config(format!(
                "config field `repository_id` is not a repository ID: `{repository_id}`"
            ))
        })?;
        Ok(Self {
            base,
            region,
            repository_id,
            repository_segment,
            top: ctx.page_size.clamp(1, MAX_TOP),
        })
    }

    /// The configured region.
    pub fn region(&self) -> Region {
        self.region
    }

    /// The repository id as configured.
    pub fn repository_id(&self) -> &str {
        &self.repository_id
    }

    /// `{base}{path}`; `path` starts with `/` and has its variable parts encoded.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `{base}/v1/Repository/{repository_id}{path}`.
    pub fn repository_url(&self, path: &str) -> String {
        self.url(&format!("/v1/Repository/{}{path}", self.repository_segment))
    }

    /// A GET asking for JSON (NetDocuments also speaks XML).
    pub fn get(&self, url: impl Into<String>) -> Request {
        http::get(url).header("accept", "application/json")
    }

    /// A GET of `url` answered with JSON, failure statuses as typed errors.
    pub fn get_json(&self, url: &str) -> Result<Value, ConnectorError> {
        self.get(url).send()?.error_for_status()?.json_value()
    }

    /// `GET /v1/Repository/{id}/info`, with a 404 explained in terms of the config.
    pub fn repository_info(&self) -> Result<Value, ConnectorError> {
        match self.get_json(&self.repository_url("/info")) {
            Err(ConnectorError::NotFound(_)) => Err(ConnectorError::not_found(format!(
                "repository `{}` not found or not visible to this service account",
                self.repository_id
            ))),
            other => other,
        }
    }

    /// One page of a paged listing at `{base}{path}` with `query`: the first page when
    /// `skiptoken` is none, else the page that token names.
    pub fn paged_url(&self, path: &str, query: &[(&str, &str)], skiptoken: Option<&str>) -> String {
        let request = query
            .iter()
            .fold(self.get(self.url(path)), |request, (name, value)| {
                request.query(name, value)
            })
            .query("$top", self.top)
            .query("paging", "true");
        match skiptoken {
            Some(token) => request.query("$skiptoken", token),
            None => request,
        }
        .url()
        .to_owned()
    }

    /// Fetches one page: its items and the next page's token, if any. A page is
    /// `{"results": [...], "next": "…"}`, or a bare array (an unpaged answer), which
    /// has no next page.
    pub fn page(&self, url: &str) -> Result<(Vec<Value>, Option<String>), ConnectorError> {
        let body = self.get_json(url)?;
        Ok(pagination::items_and_next(body, "/results", "/next"))
    }

    /// The path of this repository's listing `name` (`users`, `groups`, `log`).
    pub fn repository_path(&self, name: &str) -> String {
        format!("/v1/Repository/{}/{name}", self.repository_segment)
    }
}

/// A time field as epoch milliseconds: RFC 3339 or NetDocuments' `/Date(ms)/`.
pub fn time_at(value: &Value, field: &str) -> Option<i64> {
    json::timestamp_at(value, field).or_else(|| {
        json::str_at(value, field).and_then(|text| sluice_sdk::time::parse_ms_json_date(&text))
    })
}

/// Ids in the list at `field`: ids or `{id}` objects; empty when absent.
pub fn ids_at(value: &Value, field: &str) -> Vec<String> {
    json::at(value, field).map(ids_in).unwrap_or_default()
}

/// Ids in a JSON array of ids or of `{id}` objects.
pub fn ids_in(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| match item {
                    Value::String(id) => Some(id.clone()),
                    other => json::str_at(other, "id"),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Test helpers: a NetDocuments double on the SDK's fake host.
#[cfg(test)]
pub mod fake {
    use sluice_sdk::http::Response;
    use sluice_sdk::testing::FakeHost;

    pub use sluice_sdk::testing::{context as ctx, json_response as json};

    /// A response with `status` and a NetDocuments-style error body.
    pub fn status(status: u16, message: &str) -> Response {
        let body = serde_json::json!({ "error": message });
        Response::new(status, vec![], body.to_string())
    }

    /// A fake host for repository `CA-TEST` at `https://nd.test`, answering each URL
    /// from `routes` (exact match) and 404 otherwise; every request must ask for JSON.
    pub fn netdocuments(routes: Vec<(String, Response)>) -> FakeHost {
        FakeHost::new()
            .config("repository_id", "CA-TEST")
            .config("api_url", "https://nd.test/")
            .expect_header("accept", "application/json")
            .routes(routes, status(404, "Not Found"))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sluice_sdk::testing::FakeHost;

    use super::*;

    #[test]
    fn another_regions_api_is_refused_before_any_request() {
        let host = FakeHost::new()
            .config("region", "eu")
            .config("api_url", "https://api.vault.netvoyage.com")
            .config("repository_id", "CA-1");
        let (result, host) = host.run(|| Api::new(&fake::ctx(100, None)).map(|a| a.base));
        assert!(
            matches!(&result, Err(ConnectorError::InvalidConfig(m))
                if m.contains("set api_url=https://api.eu.netdocuments.com")),
            "{result:?}"
        );
        assert!(host.requests().is_empty());
        // Without api_url at all, the region's own API is used.
        let host = FakeHost::new()
            .config("region", "au")
            .config("repository_id", "CA-1");
        let (result, _) = host.run(|| Api::new(&fake::ctx(100, None)).map(|a| a.base));
        assert_eq!(result.as_deref(), Ok("https://api.au.netdocuments.com"));
        let host = FakeHost::new()
            .config("region", "de")
            .config("api_url", "https://api.de.netdocuments.com/")
            .config("repository_id", "CA-1");
        let (result, _) = host.run(|| Api::new(&fake::ctx(100, None)).map(|a| a.base));
        assert_eq!(result.as_deref(), Ok("https://api.de.netdocuments.com"));
        let host = FakeHost::new()
            .config("region", "mars")
            .config("repository_id", "CA-1");
        let (result, _) = host.run(|| Api::new(&fake::ctx(100, None)).map(|a| a.base));
        assert!(matches!(result, Err(ConnectorError::InvalidConfig(_))));
    }

    #[test]
    fn times_and_ids_in_both_shapes() {
        let v = json!({
            "a": "2024-01-01T00:00:00Z", "b": "/Date(1704067200000-0500)/",
            "ids": ["U-1", {"id": "U-2"}, 3],
        });
        assert_eq!(time_at(&v, "a"), Some(1_704_067_200_000));
        assert_eq!(time_at(&v, "b"), Some(1_704_067_200_000));
        assert_eq!(ids_at(&v, "ids"), ["U-1", "U-2"]);
    }
}
