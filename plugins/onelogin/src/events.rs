//! `list-activities`: the account's event log (`GET /api/1/events`), read
//! incrementally, and what each event type means (`GET /api/1/events/types`).
//!
//! A search asks for the events created in a window, oldest first:
//! `since=<start>&until=<now>&sort=+id&limit=N` (`<now>` is the host's clock,
//! `ctx.now`, so a recorded scan replays to the same URL; "up to 50 events per page").
//! Answers are `{status, pagination{before_cursor, after_cursor, previous_link,
//! next_link}, data[]}`; `pagination.next_link` is followed until it is null. The
//! cursor is the SDK's [`FeedCursor`] (the next link while there is one, then the
//! newest `created_at` seen, where the next run's search starts; the boundary second
//! comes again and its events already returned are dropped) plus the event types'
//! names while a search is being followed.
//!
//! Event types are resolved through OneLogin's documented list,
//! `GET /api/1/events/types` (`data[{id, name, description}]`), read when a search
//! starts and carried in the cursor until it ends, not from a table in this connector:
//! OneLogin adds types over time. Which trail an event belongs to:
//!
//! | event | kind |
//! |---|---|
//! | type name with `LOGGED_IN`, `LOGGED_OUT`, `LOGIN`, `LOGOUT` or `AUTHENTICAT` (`USER_LOGGED_INTO_ONELOGIN`, `USER_FAILED_AUTHENTICATION`, …) | logon |
//! | acted by someone else than its user (`actor_user_id` ≠ `user_id`) or by a system (`actor_system`) | admin |
//! | otherwise (a user acting on their own account) | user |
//!
//! The outcome is `failure` for type names with `FAIL`, `DENIED` or `REJECT`, else
//! `success`. `action` is the type's name (`event_type_<id>` for a type the list did
//! not name).

use std::collections::BTreeMap;

use sluice_sdk::prelude::*;

use crate::api::{self, Api};

/// At most this many pages of event types are read.
const MAX_TYPE_PAGES: usize = 20;

/// The feed's position, and the event type names while a search is followed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Position {
    #[serde(flatten)]
    feed: FeedCursor,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    types: BTreeMap<i64, String>,
}

/// One page of the feed, read at the host's clock (`ctx.now`).
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<ActivityPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let mut position: Position = match cursor {
        Some(cursor) => Cursor::decode(cursor)?,
        None => Position {
            feed: FeedCursor::resume(None, ctx.since)?,
            types: BTreeMap::new(),
        },
    };
    let url = match &position.feed.next {
        Some(url) => url.clone(),
        None => search_url(&api, position.feed.ts, ctx.until.unwrap_or(ctx.now)),
    };
    if position.feed.next.is_none() || position.types.is_empty() {
        position.types = event_types(&api)?;
    }
    let body = api::checked(api.get(&url).send()?)?.json_value()?;
    let next = json::str_at(&body, "/pagination/next_link").filter(|l| !l.is_empty());
    let events = json::at(&body, "data")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut items = json::map_items(&events, "OneLogin events", |e| activity(e, &position.types));
    let more = next.is_some();
    position.feed.advance(&mut items, next);
    if position.feed.next.is_none() {
        // The search is done: the next one reads the types afresh.
        position.types.clear();
    }
    let cursor = (position != Position::default()).then(|| Cursor::encode(&position));
    Ok(ActivityPage::new(items, cursor, more))
}

/// A search for the events created from `since` (ms) to `now`, oldest first.
fn search_url(api: &Api, since: Option<i64>, now: i64) -> String {
    let mut request = api
        .get(api.url("/api/1/events"))
        .query("limit", api.page_size())
        .query("sort", "+id");
    if let Some(start) = since.and_then(time::to_rfc3339) {
        request = request.query("since", start);
    }
    if let Some(end) = time::to_rfc3339(now) {
        request = request.query("until", end);
    }
    request.url().to_owned()
}

/// `GET /api/1/events/types`: every type's name by id, following `next_link`.
fn event_types(api: &Api) -> Result<BTreeMap<i64, String>, ConnectorError> {
    let (types, cut) =
        pagination::collect_all(api.url("/api/1/events/types"), MAX_TYPE_PAGES, |url| {
            let body = api::checked(api.get(url).send()?)?.json_value()?;
            let next = json::str_at(&body, "/pagination/next_link").filter(|l| !l.is_empty());
            let data = json::at(&body, "data")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            Ok((data, next))
        })?;
    if cut {
        log::warn("OneLogin event types: stopped after 20 pages; later types show by id");
    }
    Ok(types
        .iter()
        .filter_map(|t| Some((json::i64_at(t, "id")?, json::str_at(t, "name")?)))
        .collect())
}

/// Which trail an event of type `name` belongs to (see the module docs).
pub fn kind_of(name: &str, event: &Value) -> ActivityKind {
    let upper = name.to_ascii_uppercase();
    if ["LOGGED_IN", "LOGGED_OUT", "LOGIN", "LOGOUT", "AUTHENTICAT"]
        .iter()
        .any(|w| upper.contains(w))
    {
        return ActivityKind::Logon;
    }
    let actor = json::str_at(event, "actor_user_id");
    let by_system = json::str_at(event, "actor_system").is_some_and(|s| !s.is_empty());
    if by_system || (actor.is_some() && actor != json::str_at(event, "user_id")) {
        ActivityKind::Admin
    } else {
        ActivityKind::User
    }
}

/// `failure` for a type name that says so, else `success`.
pub fn outcome_of(name: &str) -> Outcome {
    let upper = name.to_ascii_uppercase();
    if ["FAIL", "DENIED", "REJECT"]
        .iter()
        .any(|w| upper.contains(w))
    {
        Outcome::Failure
    } else {
        Outcome::Success
    }
}

/// The activity record for one event; none without `id` or `created_at`.
fn activity(event: &Value, types: &BTreeMap<i64, String>) -> Option<Activity> {
    let type_id = json::i64_at(event, "event_type_id");
    let name = type_id
        .and_then(|t| types.get(&t).cloned())
        .unwrap_or_else(|| format!("event_type_{}", type_id.unwrap_or_default()));
    let actor = json::str_at(event, "actor_user_name")
        .filter(|n| !n.is_empty())
        .or_else(|| json::str_at(event, "actor_user_id"))
        .or_else(|| json::str_at(event, "actor_system").filter(|s| !s.is_empty()));
    let targets = [
        json::str_at(event, "user_name").or_else(|| json::str_at(event, "user_id")),
        json::str_at(event, "role_name"),
        json::str_at(event, "app_name"),
        json::str_at(event, "group_name"),
    ]
    .into_iter()
    .flatten()
    .filter(|t| !t.is_empty())
    .collect();
    Some(Activity {
        actor,
        targets,
        ip: json::str_at(event, "ipaddr").filter(|ip| !ip.is_empty()),
        outcome: outcome_of(&name),
        ..Activity::new(
            json::str_at(event, "id")?,
            json::timestamp_at(event, "created_at")?,
            kind_of(&name, event),
            name,
            json::raw(event),
        )
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sluice_sdk::http::Response;
    use sluice_sdk::testing::NEW_YEAR;

    use super::*;
    use crate::api::fake;

    const TYPES: &str = "https://acme.onelogin.test/api/1/events/types";

    fn types() -> Response {
        fake::json(&json!({
            "status": {"error": false, "code": 200, "type": "success", "message": "Success"},
            "data": [
                {"id": 5, "name": "USER_LOGGED_INTO_ONELOGIN", "description": "User logged into OneLogin"},
                {"id": 6, "name": "USER_FAILED_AUTHENTICATION", "description": "User failed authentication"},
                {"id": 13, "name": "USER_CREATED", "description": "User created"},
                {"id": 14, "name": "USER_UPDATED", "description": "User updated"},
            ],
        }))
    }

    fn event(id: u64, ms: i64, type_id: i64, actor: u64, user: u64) -> Value {
        json!({
            "id": id, "created_at": time::to_rfc3339(ms).unwrap(), "account_id": 1,
            "user_id": user, "user_name": format!("User {user}"), "event_type_id": type_id,
            "ipaddr": "203.0.113.7", "actor_user_id": actor,
            "actor_user_name": format!("User {actor}"), "actor_system": "",
        })
    }

    fn page(events: Value, next: Option<&str>) -> Response {
        fake::json(&json!({
            "status": {"error": false, "code": 200, "type": "success", "message": "Success"},
            "pagination": {"before_cursor": null, "after_cursor": next.map(|_| "a"),
                           "previous_link": null, "next_link": next},
            "data": events,
        }))
    }

    #[test]
    fn the_rendered_events_map_to_the_documented_kinds() {
        let Some(body) = fake::fixture("events-v1-list") else {
            return;
        };
        let types = BTreeMap::from([
            (6, "USER_FAILED_AUTHENTICATION".to_owned()),
            (14, "USER_UPDATED".to_owned()),
        ]);
        let data = body["data"].as_array().unwrap();
        let acts: Vec<Activity> = data.iter().filter_map(|e| activity(e, &types)).collect();
        assert_eq!(acts.len(), 2);
        assert_eq!(acts[0].id, "987654322");
        assert_eq!(acts[0].kind, ActivityKind::Admin, "Alice acted on Bob");
        assert_eq!(acts[0].actor.as_deref(), Some("Alice Admin"));
        assert_eq!(acts[0].targets, ["Bob Contractor"]);
        assert_eq!(acts[1].kind, ActivityKind::Logon);
        assert_eq!(acts[1].outcome, Outcome::Failure);
        assert_eq!(acts[1].ip.as_deref(), Some("203.0.113.57"));
        assert_eq!(
            serde_json::from_str::<Value>(&acts[1].raw).unwrap(),
            data[1]
        );
    }

    #[test]
    fn kinds_follow_the_type_name_and_who_acted() {
        let own = event(1, NEW_YEAR, 0, 7, 7);
        let other = event(1, NEW_YEAR, 0, 8, 7);
        assert_eq!(
            kind_of("USER_LOGGED_INTO_ONELOGIN", &other),
            ActivityKind::Logon
        );
        assert_eq!(kind_of("USER_CHANGED_PASSWORD", &own), ActivityKind::User);
        assert_eq!(kind_of("USER_UPDATED", &other), ActivityKind::Admin);
        let mut system = own.clone();
        system["actor_system"] = json!("Directory sync");
        assert_eq!(kind_of("USER_UPDATED", &system), ActivityKind::Admin);
        assert_eq!(outcome_of("USER_FAILED_AUTHENTICATION"), Outcome::Failure);
        assert_eq!(outcome_of("USER_CREATED"), Outcome::Success);
    }

    #[test]
    fn searches_a_window_follows_next_link_then_resumes_at_the_newest() {
        let first = "https://acme.onelogin.test/api/1/events?limit=2&sort=%2Bid&since=2024-01-01T00%3A00%3A00Z&until=2024-01-01T01%3A00%3A00Z";
        let second = "https://acme.onelogin.test/api/1/events?after_cursor=a2";
        let resumed = "https://acme.onelogin.test/api/1/events?limit=2&sort=%2Bid&since=2024-01-01T00%3A00%3A05Z&until=2024-01-01T01%3A00%3A00Z";
        let host = fake::onelogin(vec![
            (TYPES.into(), types()),
            (
                first.into(),
                page(
                    json!([
                        event(1, NEW_YEAR + 1_000, 5, 7, 7),
                        event(2, NEW_YEAR + 2_000, 14, 8, 7)
                    ]),
                    Some(second),
                ),
            ),
            (
                second.into(),
                page(json!([event(3, NEW_YEAR + 5_000, 6, 7, 7)]), None),
            ),
            (
                resumed.into(),
                page(
                    json!([
                        event(3, NEW_YEAR + 5_000, 6, 7, 7),
                        event(4, NEW_YEAR + 6_000, 13, 8, 9)
                    ]),
                    None,
                ),
            ),
        ]);
        let mut ctx = fake::ctx(2, Some(NEW_YEAR));
        ctx.now = NEW_YEAR + 3_600_000;
        let (pages, host) = host.run(|| sluice_sdk::testing::next_pages(3, |c| list(&ctx, c)));
        let urls: Vec<_> = host.requests().iter().map(|r| r.url.as_str()).collect();
        assert_eq!(urls, [TYPES, first, second, TYPES, resumed]);
        assert!(pages[0].more && !pages[1].more && !pages[2].more);
        let kinds: Vec<_> = pages[0].items.iter().map(|a| a.kind).collect();
        assert_eq!(kinds, [ActivityKind::Logon, ActivityKind::Admin]);
        assert_eq!(pages[0].items[1].action, "USER_UPDATED");
        assert_eq!(pages[1].items[0].outcome, Outcome::Failure);
        let third: Vec<_> = pages[2].items.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(third, ["4"], "the boundary event is returned once");
    }
}
