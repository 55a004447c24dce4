//! `list-activities`: the team activity log, `POST team_log/get_events` then
//! `team_log/get_events/continue`, `cursor` / `has_more` paged (`limit` at most 1000),
//! oldest first.
//!
//! Each read is a search over `time: {start_time, end_time}` (whole seconds, start
//! inclusive, end exclusive): from the newest event time returned so far (the host's
//! `since` on the first run) to the run's clock (`ctx.now`, so a recorded scan replays
//! to the same requests), or to `context.until` for a time range of a partitioned
//! first scan. While a search has more, the next page is `get_events/continue` with
//! its cursor, kept in the activity cursor. The next search starts again at the
//! newest event's second, and the SDK's [`FeedCursor`] drops the events of that second
//! already returned. Dropbox's own cursor could poll past the end of a search too,
//! but it "may expire" (`reset` error), and a search by time cannot.
//!
//! Config `categories` picks event categories (`logins`, `members`, `sharing`,
//! `file_operations`, …, Dropbox's `EventCategory` tags), one filtered search each
//! behind one [`FeedSet`] cursor, since a request takes one `category`; without it one
//! search reads every category.
//!
//! Dropbox events carry no id; an event's id is its time and a hash of its JSON, so
//! reading it again (the boundary second, an overlap) stores it once.
//!
//! | Dropbox | Sluice activity |
//! |---|---|
//! | `event_category` `logins` | kind `logon` |
//! | actor `admin`, or an admin category (`members`, `groups`, `team_policies`, …) | kind `admin` |
//! | anything else (`file_operations`, `sharing`, `devices`, …) | kind `user` |
//! | `event_type` tag (`login_success`, `member_change_status`, …) | `action`; `*_fail` is a failure |
//! | `actor` (`user` / `admin` email, else display name, app or `dropbox`) | `actor` |
//! | `context` team member, `assets` (file ids, paths), `participants` | `targets` |
//! | `origin.geo_location` | `ip`, `location` |
//! | `origin.access_method` session id | `session-id` |

use serde_json::json;
use sluice_sdk::pagination::Source;
use sluice_sdk::prelude::*;

use crate::api::{self, Api, MAX_TEAM_LIMIT};

/// The source key of the unfiltered search.
pub const ALL: &str = "all";
/// How far back a search with neither cursor nor `since` starts (ms): 90 days.
const DEFAULT_LOOK_BACK_MS: i64 = 90 * 86_400_000;

/// Event categories whose events are administration.
const ADMIN_CATEGORIES: [&str; 12] = [
    "members",
    "groups",
    "team_policies",
    "team_profile",
    "team_folders",
    "domains",
    "sso",
    "legal_holds",
    "data_governance",
    "trusted_teams",
    "reports",
    "encryption",
];

/// One page of one category's search.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<ActivityPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let sources = sources()?;
    let end = ctx.until.unwrap_or(ctx.now);
    FeedSet::resume(cursor, ctx.since)?.step(&sources, |source| read(&api, end, source))
}

/// The searches to run: config `categories`, else one over every category.
pub fn sources() -> Result<Vec<String>, ConnectorError> {
    let Some(text) = config::get("categories") else {
        return Ok(vec![ALL.to_owned()]);
    };
    let mut keys: Vec<String> = Vec::new();
    for word in text.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        let valid = word.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        if !valid {
            return Err(ConnectorError::invalid_config(format!(
                "`categories` names `{word}`; give Dropbox event categories such as \
                 logins, members, sharing, file_operations"
            )));
        }
        if !keys.iter().any(|k| k == word) {
            keys.push(word.to_owned());
        }
    }
    if keys.is_empty() {
        keys.push(ALL.to_owned());
    }
    Ok(keys)
}

/// Dropbox's time format: RFC 3339 UTC in whole seconds.
pub fn dropbox_time(ms: i64) -> String {
    time::to_rfc3339(ms - ms.rem_euclid(1000)).unwrap_or_default()
}

/// The first page's arguments of a search of `key` over `[from, to)` (ms; Dropbox
/// takes whole seconds: `from` rounded down, `to` up).
pub fn search(key: &str, from: i64, to: i64, limit: u32) -> Value {
    let mut args = json!({
        "limit": limit,
        // The end rounded up to a whole second: an event in the run's own second is
        // read now, and the next search (from that second) drops it as seen.
        "time": {"start_time": dropbox_time(from), "end_time": dropbox_time(to.saturating_add(999))},
    });
    if key != ALL {
        args["category"] = json!({".tag": key});
    }
    args
}

/// Reads one page of `source` up to `end` (ms, exclusive); says whether it is done.
fn read(api: &Api, end: i64, source: Source<'_>) -> Result<(Vec<Activity>, bool), ConnectorError> {
    let feed = source.feed;
    let cursor = feed.next.take();
    let args = match &cursor {
        Some(_) => Value::Null,
        None => {
            let from = feed.ts.unwrap_or(end - DEFAULT_LOOK_BACK_MS);
            search(source.key, from, end, api.limit(MAX_TEAM_LIMIT))
        }
    };
    let (events, next) = api.page(
        "team_log/get_events",
        &args,
        cursor.as_deref(),
        "events",
        None,
    )?;
    let mut items = json::map_items(&events, "Dropbox events", activity);
    feed.advance(&mut items, next);
    Ok((items, feed.next.is_none()))
}

/// FNV-1a, 64 bits: a stable hash of an event's JSON for its id.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The kind of an event.
pub fn kind(event: &Value) -> ActivityKind {
    let category = api::tag(event, "/event_category").unwrap_or_default();
    if category == "logins" {
        ActivityKind::Logon
    } else if api::tag(event, "/actor").as_deref() == Some("admin")
        || ADMIN_CATEGORIES.contains(&category.as_str())
    {
        ActivityKind::Admin
    } else {
        ActivityKind::User
    }
}

/// Who acted: the user's or admin's email (else name), an app's name, or the tag.
fn actor(event: &Value) -> Option<String> {
    let tag = api::tag(event, "/actor")?;
    let person = format!("/actor/{tag}");
    json::str_at(event, &format!("{person}/email"))
        .or_else(|| json::str_at(event, &format!("{person}/display_name")))
        .or_else(|| json::str_at(event, "/actor/app/display_name"))
        .or(Some(tag))
}

/// What an event was about: the member it concerns, its assets and participants.
fn targets(event: &Value) -> Vec<String> {
    let mut targets: Vec<String> = Vec::new();
    let mut add = |t: Option<String>| {
        if let Some(t) = t.filter(|t| !t.is_empty())
            && !targets.contains(&t)
        {
            targets.push(t);
        }
    };
    add(json::str_at(event, "/context/team_member_id"));
    add(json::str_at(event, "/context/email"));
    for asset in json::at(event, "assets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        add(json::str_at(asset, "file_id"));
        add(json::str_at(asset, "/path/contextual"));
        add(json::str_at(asset, "display_name"));
    }
    for p in json::at(event, "participants")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        add(json::str_at(p, "/user/email"));
        add(json::str_at(p, "/group/display_name"));
    }
    targets
}

/// The session id of the access method, wherever the method's case keeps it.
fn session(event: &Value) -> Option<String> {
    let method = json::at(event, "/origin/access_method")?;
    let tag = api::tag(method, "")?;
    let inner = json::at(method, &tag)?;
    json::str_at(inner, "session_id").or_else(|| json::str_at(method, "session_id"))
}

/// One event as an activity; none without a time or an event type.
pub fn activity(event: &Value) -> Option<Activity> {
    let time = json::timestamp_at(event, "timestamp")?;
    let action = api::tag(event, "/event_type")?;
    let raw = json::raw(event);
    let id = format!("{time}-{:016x}", fnv1a(raw.as_bytes()));
    let geo = json::at(event, "/origin/geo_location");
    let failed = action.ends_with("_fail") || action.ends_with("_failed");
    Some(Activity {
        actor: actor(event),
        targets: targets(event),
        ip: geo.and_then(|g| json::str_at(g, "ip_address")),
        location: geo.and_then(|g| {
            Location::from_parts(
                json::str_at(g, "country"),
                json::str_at(g, "region"),
                json::str_at(g, "city"),
                None,
                None,
            )
        }),
        session_id: session(event),
        outcome: if failed {
            Outcome::Failure
        } else {
            Outcome::Success
        },
        ..Activity::new(id, time, kind(event), action, raw)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::fake;

    fn event(second: i64, category: &str, event_type: &str) -> Value {
        json!({"timestamp": dropbox_time(sluice_sdk::testing::NEW_YEAR - 3_600_000 + second * 1000),
            "event_category": {".tag": category},
            "event_type": {".tag": event_type, "description": "x"},
            "actor": {".tag": "user", "user": {".tag": "team_member", "email": "a@x.test"}},
            "details": {".tag": "x"}})
    }

    #[test]
    fn the_published_event_parses_with_actor_place_and_session() {
        let Some(published) = fake::fixture("team_log-get_events") else {
            return;
        };
        let a = activity(&published["events"][0]).unwrap();
        assert_eq!(a.action, "shared_content_download");
        assert_eq!(a.kind, ActivityKind::User);
        assert_eq!(a.actor.as_deref(), Some("john_smith@acmecorp.com"));
        assert_eq!(a.ip.as_deref(), Some("45.56.78.100"));
        assert_eq!(
            a.location.as_ref().unwrap().country_code.as_deref(),
            Some("US")
        );
        assert_eq!(
            a.session_id.as_deref(),
            Some("dbwsid:123456789012345678901234567890123456789")
        );
        assert!(a.targets.contains(&"id:jQKLsZFQImAAAAAAEZAAQt".to_owned()));
        assert!(
            a.targets
                .contains(&"dbmid:AAFoi-tmvRuQR0jU-3fN4B-9nZo6nHcDO9Q".to_owned())
        );
        assert_eq!(
            a.id,
            activity(&published["events"][0]).unwrap().id,
            "stable"
        );
    }

    #[test]
    fn kinds_follow_category_and_actor() {
        assert_eq!(
            kind(&event(0, "logins", "login_success")),
            ActivityKind::Logon
        );
        assert_eq!(
            kind(&event(0, "members", "member_change_status")),
            ActivityKind::Admin
        );
        assert_eq!(
            kind(&event(0, "sharing", "shared_link_create")),
            ActivityKind::User
        );
        let mut by_admin = event(0, "sharing", "shared_link_remove");
        by_admin["actor"] = json!({".tag": "admin", "admin": {"email": "root@x.test"}});
        assert_eq!(kind(&by_admin), ActivityKind::Admin);
        assert_eq!(actor(&by_admin).as_deref(), Some("root@x.test"));
        assert_eq!(
            activity(&event(0, "logins", "login_fail")).unwrap().outcome,
            Outcome::Failure
        );
    }

    #[test]
    fn a_search_continues_then_restarts_at_the_newest_second_without_repeats() {
        let now = sluice_sdk::testing::NEW_YEAR;
        let host = fake::dropbox(move |r| match fake::route(r) {
            "team_log/get_events" => {
                let body = fake::body(r);
                let start = body["time"]["start_time"].as_str().unwrap().to_owned();
                assert_eq!(body["time"]["end_time"], json!("2024-01-01T00:00:00Z"));
                assert!(body.get("category").is_none());
                if start == "2023-10-03T00:00:00Z" {
                    fake::json(&json!({"events": [event(1, "logins", "login_success"),
                        event(2, "members", "member_change_status")],
                        "cursor": "e1", "has_more": true}))
                } else {
                    // The restart at the newest event's second returns it again.
                    assert_eq!(start, "2023-12-31T23:00:03Z");
                    fake::json(
                        &json!({"events": [event(3, "sharing", "shared_link_create")],
                        "cursor": "e3", "has_more": false}),
                    )
                }
            }
            "team_log/get_events/continue" => {
                assert_eq!(fake::body(r)["cursor"], json!("e1"));
                fake::json(
                    &json!({"events": [event(3, "sharing", "shared_link_create")],
                    "cursor": "e2", "has_more": false}),
                )
            }
            other => panic!("{other}"),
        });
        let ctx = fake::ctx(50, None);
        let (result, host) = host.run(|| {
            let first = list(&ctx, None)?;
            let second = list(&ctx, first.next_cursor.as_deref())?;
            let third = list(&ctx, second.next_cursor.as_deref())?;
            Ok::<_, ConnectorError>((first, second, third))
        });
        let (first, second, third) = result.unwrap();
        assert_eq!((first.items.len(), first.more), (2, true));
        assert_eq!((second.items.len(), second.more), (1, false));
        assert!(
            third.items.is_empty(),
            "the boundary event is not returned twice"
        );
        assert_eq!(host.requests().len(), 3);
        let _ = now;
    }

    #[test]
    fn categories_are_one_filtered_search_each() {
        let args = search("logins", 0, 1000, 10);
        assert_eq!(args["category"], json!({".tag": "logins"}));
        assert_eq!(args["time"]["start_time"], json!("1970-01-01T00:00:00Z"));
        let args = search(ALL, 1_500, 2_500, 10);
        assert_eq!(args["time"]["start_time"], json!("1970-01-01T00:00:01Z"));
        assert_eq!(
            args["time"]["end_time"],
            json!("1970-01-01T00:00:03Z"),
            "rounded up"
        );
        assert!(args.get("category").is_none());
        let host = fake::dropbox(|_| unreachable!()).config("categories", "logins, members,logins");
        let (keys, _) = host.run(sources);
        assert_eq!(keys.unwrap(), ["logins", "members"]);
        let host = fake::dropbox(|_| unreachable!()).config("categories", "Logins!");
        let (keys, _) = host.run(sources);
        assert!(matches!(keys, Err(ConnectorError::InvalidConfig(_))));
    }
}
