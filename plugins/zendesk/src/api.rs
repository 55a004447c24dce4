//! Zendesk Support API conventions shared by every export: where the account is, the
//! headers every request carries, cursor pagination, and user-scoped URLs.
//!
//! Zendesk offers two paging schemes on most lists. This connector asks for **cursor
//! pagination** (`page[size]=N`, at most 100), whose answers carry
//! `meta.has_more`, `meta.after_cursor` and `links.next`. Zendesk's pagination guide
//! says to follow `links.next` *until `meta.has_more` is false*: the last page still
//! carries a `links.next`, so it is never taken on its own. Lists that only page by
//! offset (`next_page` URL, `count`) are read with the same helper, since then
//! `next_page` is null on the last page.

use serde_json::Value;
use sluice_sdk::http::{self, Request, path_segment};
use sluice_sdk::prelude::{ConnectorError, Context, config, json, pagination};

/// Zendesk's maximum `page[size]` for cursor-paged lists.
pub const MAX_PAGE_SIZE: u32 = 100;

/// One call's view of the configured account.
#[derive(Debug, Clone)]
pub struct Api {
    /// Account URL without a trailing slash, e.g. `https://acme.zendesk.com`.
    base: String,
    /// The host's preferred page size, before Zendesk's bound.
    page_size: u32,
}

impl Api {
    /// Reads `base_url` (its default is `https://{subdomain}.zendesk.com`, resolved by
    /// the host; a mock's `http://127.0.0.1:PORT` works the same way).
    pub fn new(ctx: &Context) -> Result<Self, ConnectorError> {
        Ok(Self {
            base: config::required_url("base_url")?,
            page_size: ctx.page_size,
        })
    }

    /// The host's page size clamped to Zendesk's `page[size]` bounds.
    pub fn page_size(&self) -> u32 {
        self.page_size.clamp(1, MAX_PAGE_SIZE)
    }

    /// `{base}{path}`; `path` starts with `/` and has its variable parts encoded.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The first page of a cursor-paged list at `path`.
    pub fn first_page(&self, path: &str) -> Request {
        self.get(self.url(path))
            .query("page[size]", self.page_size())
    }

    /// `{base}/api/v2/users/{id}{suffix}`, `id` encoded as one path segment (`..` and
    /// friends refused, so a target never aims at a parent resource).
    pub fn user_url(&self, id: &str, suffix: &str) -> Result<String, ConnectorError> {
        let segment = path_segment(id.trim()).ok_or_else(|| {
            ConnectorError::other(format!("`{id}` is not a valid Zendesk user id"))
        })?;
        Ok(self.url(&format!("/api/v2/users/{segment}{suffix}")))
    }

    /// A GET asking for JSON.
    pub fn get(&self, url: impl Into<String>) -> Request {
        http::get(url).header("accept", "application/json")
    }

    /// A PUT asking for JSON.
    pub fn put(&self, url: impl Into<String>) -> Request {
        http::put(url).header("accept", "application/json")
    }

    /// One page of a list: the array at `key` and the next page's URL, if any.
    pub fn list_page(
        &self,
        url: &str,
        key: &str,
    ) -> Result<(Vec<Value>, Option<String>), ConnectorError> {
        let body = self.get(url).send()?.error_for_status()?.json_value()?;
        Ok(page_of(body, key))
    }

    /// Every item of a list from `first`, for at most `max_pages` pages; the flag says
    /// whether pages were left unread.
    pub fn list_all(
        &self,
        first: String,
        key: &str,
        max_pages: usize,
    ) -> Result<(Vec<Value>, bool), ConnectorError> {
        pagination::collect_all(first, max_pages, |url| self.list_page(url, key))
    }
}

/// The items at `key` and the next page of one Zendesk list answer: `links.next`
/// while `meta.has_more` is true (cursor pagination), else `next_page` (offset
/// pagination, null on the last page).
pub fn page_of(body: Value, key: &str) -> (Vec<Value>, Option<String>) {
    let cursor_paged = body.get("meta").is_some_and(Value::is_object);
    let has_more = json::bool_at(&body, "/meta/has_more").unwrap_or(false);
    let next = if cursor_paged {
        "/links/next"
    } else {
        "/next_page"
    };
    let (items, next) = pagination::items_and_next(body, &format!("/{key}"), next);
    (items, next.filter(|_| has_more || !cursor_paged))
}

/// Test helpers: a Zendesk double on the SDK's fake host, and the published fixtures.
#[cfg(test)]
pub mod fake {
    use serde_json::{Value, json};
    use sluice_sdk::http::Response;
    use sluice_sdk::testing::{FakeHost, Fixtures};

    pub use sluice_sdk::testing::context as ctx;

    /// The published example `name` (e.g. `users.list`), parsed; none (with a note)
    /// without the shared fixtures.
    pub fn fixture(name: &str) -> Option<Value> {
        Fixtures::open("zendesk").map(|f| f.json(&format!("{name}.sdk-vcr-cassette.json")))
    }

    /// A 200 JSON response.
    pub fn json(body: &Value) -> Response {
        Response::new(200, vec![], body.to_string())
    }

    /// A cursor-paged answer: `items` under `key`, `links.next` always present (as
    /// Zendesk sends it) and `meta.has_more` saying whether to follow it.
    pub fn cursor_page(key: &str, items: Value, next: &str, has_more: bool) -> Response {
        json(&json!({
            key: items,
            "meta": {"has_more": has_more, "after_cursor": "a", "before_cursor": "b"},
            "links": {"next": next, "prev": null},
        }))
    }

    /// A response with `status` and Zendesk's error body.
    pub fn error(status: u16, error: &str, description: Option<&str>) -> Response {
        let body = match description {
            Some(d) => json!({"error": error, "description": d}),
            None => json!({"error": error}),
        };
        Response::new(status, vec![], body.to_string())
    }

    /// A fake host for the account at `https://acme.zendesk.test`, answering each URL
    /// from `routes` (exact match, method ignored) and 404 otherwise.
    pub fn zendesk(routes: Vec<(String, Response)>) -> FakeHost {
        FakeHost::new()
            .config("base_url", "https://acme.zendesk.test/")
            .expect_header("accept", "application/json")
            .routes(routes, error(404, "RecordNotFound", Some("Not found")))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_cursor_page_is_followed_only_while_has_more() {
        let body = |has_more| {
            json!({"users": [1, 2], "meta": {"has_more": has_more, "after_cursor": "x"},
                   "links": {"next": "https://z.test/2", "prev": null}})
        };
        assert_eq!(
            page_of(body(true), "users"),
            (vec![json!(1), json!(2)], Some("https://z.test/2".into()))
        );
        // The last page still carries `links.next`; Zendesk says to stop anyway.
        assert_eq!(page_of(body(false), "users").1, None);
        // Offset pages: `next_page` until it is null.
        let offset =
            json!({"groups": [1], "next_page": "https://z.test/groups?page=2", "count": 3});
        assert_eq!(
            page_of(offset, "groups").1.as_deref(),
            Some("https://z.test/groups?page=2")
        );
        let last = json!({"groups": [1], "next_page": null, "previous_page": null, "count": 1});
        assert_eq!(page_of(last, "groups"), (vec![json!(1)], None));
    }
}
