//! `list-activities`: the enterprise event stream (`stream_type=admin_logs`), read
//! incrementally by time.
//!
//! `GET /2.0/events?stream_type=admin_logs&limit=500&created_after=…&created_before=…`
//! returns the enterprise's events oldest first, `limit` at most 500, and a
//! `next_stream_position`; the next page of the same search repeats the query with
//! `stream_position=<that>`. A page without entries ends the search (Box does not
//! say that a short page is the last, so the connector asks once more).
//!
//! Each run is one such search, from the newest event time already returned (or the
//! host's `since` on the first run) to the run's clock `ctx.now` (or the partition's
//! `ctx.until`: the connector declares activity partitions, since a search pages in
//! time order). The SDK's [`FeedCursor`] keeps that time and the ids of the events in
//! its second already returned, so a new search, which starts in that second, never
//! stores an event twice; the search in progress (window and stream position) is its
//! `next`. Box notes that enterprise events may repeat: they are deduplicated by
//! `event_id` within a page as well.
//!
//! | kind | Box `event_type` |
//! |---|---|
//! | logon | `LOGIN`, `FAILED_LOGIN` (outcome failure), `ADD_LOGIN_ACTIVITY_DEVICE`, `REMOVE_LOGIN_ACTIVITY_DEVICE` |
//! | admin | user, group, role, app, policy and enterprise settings changes (see [`ADMIN`]) |
//! | user | everything else: uploads, downloads, previews, shares, collaborations, … |
//!
//! Needs the app scope "Manage enterprise properties", and the service account (or
//! the user the token acts for) an admin, or a co-admin with "Run new reports and
//! access existing reports".

use serde::{Deserialize, Serialize};
use sluice_sdk::prelude::*;

use crate::api::Api;

/// The largest `limit` of the admin logs.
pub const MAX_EVENTS: u32 = 500;

/// Sign-in event types.
pub const LOGON: &[&str] = &[
    "LOGIN",
    "FAILED_LOGIN",
    "ADD_LOGIN_ACTIVITY_DEVICE",
    "REMOVE_LOGIN_ACTIVITY_DEVICE",
];

/// Administrative event types: exact names, and prefixes ending in `_`.
pub const ADMIN: &[&str] = &[
    "ADMIN_",
    "NEW_USER",
    "DELETE_USER",
    "EDIT_USER",
    "CHANGE_ADMIN_ROLE",
    "GROUP_",
    "ENTERPRISE_APP_",
    "APPLICATION_",
    "ACCESS_GRANTED",
    "ACCESS_REVOKED",
    "MASTER_INVITE_",
    "LEGAL_HOLD_",
    "RETENTION_",
    "TERMS_OF_SERVICE_",
    "DEVICE_TRUST_",
    "SHIELD_",
    "CHANGE_FOLDER_PERMISSION",
    "USER_AUTHENTICATE_OAUTH2_",
    "CONTENT_WORKFLOW_",
    "METADATA_TEMPLATE_",
];

/// A search in progress, stored as the feed's `next`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Search {
    /// `created_after` (ms), fixed for the search.
    after: i64,
    /// `created_before` (ms), fixed for the search.
    before: i64,
    /// The next page's `stream_position`, after the first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    position: Option<String>,
}

/// One page of the enterprise events.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<ActivityPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let feed = FeedCursor::resume(cursor, ctx.since)?;
    let search = match &feed.next {
        Some(next) => Cursor::decode::<Search>(next)?,
        None => Search {
            after: feed.ts.unwrap_or(ctx.now).div_euclid(1000) * 1000,
            // Box's times are whole seconds: round up, so events of the run's own
            // second are in this search rather than the next run's.
            before: (ctx.until.unwrap_or(ctx.now) + 999).div_euclid(1000) * 1000,
            position: None,
        },
    };
    let mut request = api
        .get("/events")
        .query("stream_type", "admin_logs")
        .query("limit", api.limit(MAX_EVENTS))
        .query("created_after", box_time(search.after))
        .query("created_before", box_time(search.before));
    if let Some(position) = &search.position {
        request = request.query("stream_position", position);
    }
    let body = api.fetch(request)?;
    let entries = json::at(&body, "entries")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut items = json::map_items(&entries, "Box events", event);
    let mut ids = std::collections::BTreeSet::new();
    items.retain(|a| ids.insert(a.id.clone()));
    let position = json::str_at(&body, "next_stream_position");
    let next = match position {
        Some(position) if !entries.is_empty() => Some(Cursor::encode(&Search {
            position: Some(position),
            ..search
        })),
        _ => None,
    };
    let more = next.is_some();
    Ok(feed.page(items, next, more))
}

/// RFC 3339 with a numeric offset, as Box's date-time parameters are documented
/// (`2012-12-12T10:53:43-08:00`).
pub fn box_time(ms: i64) -> String {
    let text = sluice_sdk::time::to_rfc3339(ms).unwrap_or_default();
    match text.strip_suffix('Z') {
        Some(utc) => format!("{utc}+00:00"),
        None => text,
    }
}

/// The audit trail an event type belongs to.
pub fn kind_of(event_type: &str) -> ActivityKind {
    let is = |list: &[&str]| {
        list.iter().any(|name| match name.strip_suffix('_') {
            Some(_) => event_type.starts_with(name),
            None => event_type == *name,
        })
    };
    if is(LOGON) {
        ActivityKind::Logon
    } else if is(ADMIN) {
        ActivityKind::Admin
    } else {
        ActivityKind::User
    }
}

/// The activity record for one Box event; none without an id, a type or a time.
pub fn event(value: &Value) -> Option<Activity> {
    let action = json::str_at(value, "event_type")?;
    let ip = json::str_at(value, "ip_address")
        .filter(|ip| !ip.is_empty() && !ip.eq_ignore_ascii_case("Unknown IP"));
    let actor = ["/created_by/login", "/action_by/login", "/created_by/id"]
        .iter()
        .find_map(|p| json::str_at(value, p).filter(|s| !s.is_empty()));
    let target = [
        "/source/login",
        "/source/item_name",
        "/source/name",
        "/source/item_id",
        "/source/id",
    ]
    .iter()
    .find_map(|p| json::str_at(value, p).filter(|s| !s.is_empty()));
    let outcome = if action.starts_with("FAILED_") {
        Outcome::Failure
    } else {
        Outcome::Success
    };
    Some(Activity {
        actor,
        targets: target.into_iter().collect(),
        ip,
        session_id: json::str_at(value, "session_id").filter(|s| !s.is_empty()),
        outcome,
        ..Activity::new(
            json::str_at(value, "event_id")?,
            json::timestamp_at(value, "created_at")?,
            kind_of(&action),
            action,
            json::raw(value),
        )
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake::{self, BASE};

    /// 2024-01-01T00:00:00Z.
    const T0: i64 = 1_704_067_200_000;

    fn entry(id: &str, kind: &str, seconds: i64) -> Value {
        json!({"type": "event", "event_id": id, "event_type": kind,
            "created_at": box_time(T0 + seconds * 1000),
            "created_by": {"type": "user", "id": "9", "login": "admin@x.test"},
            "source": {"type": "user", "id": "5", "login": "u5@x.test"},
            "ip_address": "203.0.113.7", "session_id": null})
    }

    fn url(after: i64, before: i64, position: Option<&str>) -> String {
        let enc = http::encode_component;
        let mut url = format!(
            "{BASE}/events?stream_type=admin_logs&limit=2&created_after={}&created_before={}",
            enc(&box_time(after)),
            enc(&box_time(before))
        );
        if let Some(p) = position {
            url.push_str(&format!("&stream_position={p}"));
        }
        url
    }

    #[test]
    fn kinds_and_outcomes_from_event_types() {
        assert_eq!(kind_of("LOGIN"), ActivityKind::Logon);
        assert_eq!(kind_of("FAILED_LOGIN"), ActivityKind::Logon);
        assert_eq!(kind_of("CHANGE_ADMIN_ROLE"), ActivityKind::Admin);
        assert_eq!(kind_of("GROUP_ADD_USER"), ActivityKind::Admin);
        assert_eq!(kind_of("EDIT_USER"), ActivityKind::Admin);
        assert_eq!(kind_of("EDIT"), ActivityKind::User);
        assert_eq!(kind_of("DOWNLOAD"), ActivityKind::User);
        assert_eq!(kind_of("LOGINX"), ActivityKind::User);
        let failed = event(&entry("e1", "FAILED_LOGIN", 0)).unwrap();
        assert_eq!(failed.outcome, Outcome::Failure);
        assert_eq!(failed.actor.as_deref(), Some("admin@x.test"));
        assert_eq!(failed.targets, ["u5@x.test"]);
        assert_eq!(failed.ip.as_deref(), Some("203.0.113.7"));
        assert_eq!(box_time(T0), "2024-01-01T00:00:00+00:00");
    }

    #[test]
    fn the_published_event_stream_parses_and_repeats_are_stored_once() {
        for name in [
            "events-admin_logs.sdk-fixture",
            "events-admin_logs.sdk-fixture-4.16.3",
            "events.rendered-from-openapi",
        ] {
            let Some(body) = fake::fixture(name) else {
                return;
            };
            let host = fake::boxed(vec![]).on_request(move |_| Ok(fake::json(&body)));
            let (page, _) = host.run(|| list(&fake::ctx(2, Some(T0)), None).unwrap());
            assert_eq!(
                page.items.len(),
                1,
                "{name}: the published entries are one event"
            );
            assert!(page.more, "{name}");
        }
        let Some(body) = fake::fixture("events-admin_logs.sdk-fixture") else {
            return;
        };
        let e = event(&body["entries"][0]).unwrap();
        assert_eq!(e.id, "1a4ade16-b1ff-4cc3-89a8-955e1522557c");
        assert_eq!(e.kind, ActivityKind::Logon, "ADD_LOGIN_ACTIVITY_DEVICE");
        assert_eq!(e.ip, None, "Unknown IP is no address");
        assert_eq!(e.actor.as_deref(), Some("example@user.com"));
        assert_eq!(e.targets, ["test@user.com"]);
    }

    #[test]
    fn a_run_pages_by_stream_position_and_the_next_starts_at_its_newest_second() {
        let now = T0 + 3_600_000 - 400;
        let since = T0 - 1_000;
        let host = fake::boxed(vec![
            (
                url(since, T0 + 3_600_000, None),
                fake::json(&json!({"chunk_size": 2, "next_stream_position": "p1",
                    "entries": [entry("a", "LOGIN", 1), entry("b", "EDIT", 5)]})),
            ),
            (
                url(since, T0 + 3_600_000, Some("p1")),
                fake::json(&json!({"chunk_size": 1, "next_stream_position": "p2",
                    "entries": [entry("c", "NEW_USER", 9)]})),
            ),
            (
                url(since, T0 + 3_600_000, Some("p2")),
                fake::json(&json!({"chunk_size": 0, "next_stream_position": "p2", "entries": []})),
            ),
        ]);
        let mut ctx = fake::ctx(2, Some(since));
        ctx.now = now;
        let (pages, _) = host.run(|| {
            let mut cursor = None;
            let mut pages = Vec::new();
            loop {
                let page = list(&ctx, cursor.as_deref()).unwrap();
                cursor = page.next_cursor.clone();
                let more = page.more;
                pages.push(page);
                if !more {
                    return pages;
                }
            }
        });
        let ids: Vec<&str> = pages
            .iter()
            .flat_map(|p| &p.items)
            .map(|a| a.id.as_str())
            .collect();
        assert_eq!(ids, ["a", "b", "c"]);
        let cursor = pages.last().unwrap().next_cursor.clone().unwrap();
        assert_eq!(cursor, format!(r#"{{"ts":{},"seen":["c"]}}"#, T0 + 9_000));

        // The next run searches from c's second and drops c.
        let later = T0 + 3_660_000;
        let host = fake::boxed(vec![
            (
                url(T0 + 9_000, later, None),
                fake::json(&json!({"chunk_size": 2, "next_stream_position": "q1",
                    "entries": [entry("c", "NEW_USER", 9), entry("d", "LOGIN", 70)]})),
            ),
            (
                url(T0 + 9_000, later, Some("q1")),
                fake::json(&json!({"chunk_size": 0, "next_stream_position": "q1", "entries": []})),
            ),
        ]);
        ctx.now = later;
        let (first, _) = host.run(|| list(&ctx, Some(&cursor)).unwrap());
        let ids: Vec<&str> = first.items.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["d"]);
    }

    #[test]
    fn a_partition_searches_up_to_its_until() {
        let mut ctx = fake::ctx(2, Some(T0));
        ctx.until = Some(T0 + 3_600_000);
        ctx.now = T0 + 7_200_000;
        let expected = url(T0, T0 + 3_600_000, None);
        let host = fake::boxed(vec![(
            expected.clone(),
            fake::json(&json!({"chunk_size": 0, "next_stream_position": "0", "entries": []})),
        )]);
        let (page, host) = host.run(|| list(&ctx, None).unwrap());
        assert_eq!(host.requests()[0].url, expected);
        assert!(!page.more);
    }
}
