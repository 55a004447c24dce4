//! A test-only connector shaped like Zendesk, for the host's contract 0.2.0 tests
//! (`tests/tests/contract_v2.rs`, against `sluice_mocks::ZendeskMock`).
//!
//! It uses what 0.2.0 added and Zendesk needs:
//! - a templated default: `base_url` defaults to `http://{host}:{port}` (a real
//!   Zendesk would be `https://{subdomain}.zendesk.com`; the mock is plain HTTP on
//!   loopback), and egress is `{base_url}`;
//! - two auth options: `api-token` (the default), basic auth with the user name
//!   template `{email}/token` and password `api_token`, and `oauth`, a bearer
//!   `oauth_token`;
//! - one declared scan write, `POST {base_url}/api/v2/declared`;
//! - the provider's look-back limit (`max-look-back-days` 30);
//! - `read-file` over a deterministic byte sequence (capability `file-content`).
//!
//! What a test cannot see from outside, the guest reports back:
//! - `check`'s principal is `config.get("base_url")` (the resolved default) and its
//!   one granted entry is `auth:<context.auth>`;
//! - `list-activities` sends the context's `since` to the mock as the audit log's
//!   `filter[created_at][]` start (RFC 3339), which the mock records;
//! - with config `scan_write_url` set, the first `list-users` page POSTs there and
//!   adds a user with id `scan-write` whose display name is the outcome: `sent <status>`
//!   or `refused: <the error the host gave>`.
//!
//! `read-file` serves file `file-<size>`: `size` bytes where byte `i` is `i % 251`.

use sluice_sdk::pagination::items_and_next;
use sluice_sdk::prelude::*;

/// The connector; stateless.
pub struct Templated;

sluice_sdk::connector!(Templated {
    describe: describe,
    check: check,
    list_users: list_users,
    list_activities: list_activities,
    read_file: read_file,
});

/// The declared scan write's path under `base_url`.
pub const DECLARED_WRITE: &str = "/api/v2/declared";

fn describe() -> ConnectorInfo {
    ConnectorInfo {
        capabilities: vec![
            Capability::Accounts,
            Capability::AdminActivity,
            Capability::FileContent,
        ],
        config: vec![
            ConfigField::new("host", "Mock host")
                .required()
                .example("127.0.0.1"),
            ConfigField::new("port", "Mock port").default("443"),
            ConfigField::new("base_url", "API base URL").default("http://{host}:{port}"),
            ConfigField::new("email", "Agent email (API token auth)").example("admin@example.com"),
            ConfigField::new("api_token", "API token").secret(),
            ConfigField::new("oauth_token", "OAuth access token").secret(),
            ConfigField::new("scan_write_url", "A URL list-users POSTs to (tests)"),
        ],
        auth: vec![
            AuthOption::new(
                "api-token",
                "API token",
                AuthScheme::Basic(BasicAuth {
                    username: "{email}/token".into(),
                    password_field: "api_token".into(),
                }),
            ),
            AuthOption::new(
                "oauth",
                "OAuth access token",
                AuthScheme::Bearer(BearerAuth {
                    token_field: "oauth_token".into(),
                }),
            ),
        ],
        egress: vec!["{base_url}".into()],
        scan_writes: vec![ScanWrite {
            method: Method::Post,
            url: format!("{{base_url}}{DECLARED_WRITE}"),
            reason: "Test: the one write this connector sends while scanning.".into(),
        }],
        max_look_back_days: Some(30),
        ..ConnectorInfo::new(
            "templated",
            "Templated (Zendesk-shaped)",
            env!("CARGO_PKG_VERSION"),
            "Sluice tests",
            "Test-only: templated config, two auth options, a scan write, read-file.",
        )
    }
}

fn base() -> Result<String, ConnectorError> {
    config::required_url("base_url")
}

fn check(ctx: &Context) -> Result<Permissions, ConnectorError> {
    http::get(format!("{}/api/v2/users/me.json", base()?))
        .send()?
        .error_for_status()?;
    Ok(Permissions::granted(
        config::get("base_url"),
        vec![format!("auth:{}", ctx.auth)],
    ))
}

fn list_users(ctx: &Context, cursor: Option<&str>) -> Result<UserPage, ConnectorError> {
    let base = base()?;
    let mut items = Vec::new();
    if cursor.is_none()
        && let Some(url) = config::get("scan_write_url")
    {
        let outcome = match http::post(url).json_body(&serde_json::json!({})).send() {
            Ok(response) => format!("sent {}", response.status()),
            Err(e) => format!("refused: {e:?}"),
        };
        items.push(User {
            display_name: Some(outcome),
            ..User::new("scan-write", "{}")
        });
    }
    let at: ListCursor = ListCursor::resume(cursor)?;
    let url = at.url_or(|()| format!("{base}/api/v2/users.json?per_page={}", ctx.page_size));
    let body = http::get(url).send()?.error_for_status()?.json_value()?;
    let (users, next) = items_and_next(body, "/users", "/next_page");
    items.extend(json::map_items(&users, "user", |u| {
        Some(User {
            login: json::str_at(u, "email"),
            email: json::str_at(u, "email"),
            display_name: json::str_at(u, "name"),
            is_admin: json::str_at(u, "role").as_deref() == Some("admin"),
            ..User::new(json::str_at(u, "id")?, json::raw(u))
        })
    }));
    Ok(UserPage {
        items,
        next_cursor: at.next_cursor(next.map(At::url)),
    })
}

fn list_activities(ctx: &Context, cursor: Option<&str>) -> Result<ActivityPage, ConnectorError> {
    let feed = FeedCursor::resume(cursor, ctx.since)?;
    let url = match &feed.next {
        Some(next) => next.clone(),
        None => {
            let mut request = format!("{}/api/v2/audit_logs.json?sort=created_at", base()?);
            if let Some(start) = feed.ts.and_then(time::to_rfc3339) {
                request.push_str("&filter%5Bcreated_at%5D%5B%5D=");
                request.push_str(&http::encode_component(&start));
            }
            request
        }
    };
    let body = http::get(url).send()?.error_for_status()?.json_value()?;
    let (logs, next) = items_and_next(body, "/audit_logs", "/next_page");
    let items = json::map_items(&logs, "audit log", |l| {
        Some(Activity::new(
            json::str_at(l, "id")?,
            json::timestamp_at(l, "created_at")?,
            ActivityKind::Admin,
            json::str_at(l, "action").unwrap_or_default(),
            json::raw(l),
        ))
    });
    let more = next.is_some();
    Ok(feed.page(items, next, more))
}

/// The deterministic content of file `file-<size>`.
fn read_file(
    _ctx: &Context,
    id: &str,
    offset: u64,
    length: u32,
) -> Result<FileChunk, ConnectorError> {
    let size: u64 = id
        .strip_prefix("file-")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ConnectorError::not_found(format!("no file `{id}`")))?;
    let start = offset.min(size);
    let end = offset.saturating_add(u64::from(length)).min(size);
    Ok(FileChunk {
        data: (start..end).map(|i| (i % 251) as u8).collect(),
        eof: end >= size,
        size: Some(size),
    })
}
