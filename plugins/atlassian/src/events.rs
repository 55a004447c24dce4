//! `list-activities`: the organization's audit log, read incrementally from
//! `GET /admin/v1/orgs/{orgId}/events-stream`, the polling endpoint Atlassian
//! recommends over the filtered `/events` query (limited to 10 requests a minute per
//! user and per path since the end of May 2025).
//!
//! A search asks for the events from a time on, oldest first:
//! `from=<epoch ms>&sortOrder=asc&limit=N` (at most [`MAX_EVENTS_PAGE`]), then follows
//! `links.next` as `cursor`. The stream hands out a cursor on its last page too (for
//! polling), so a page is the last of a search when it is not full. The cursor is the
//! SDK's [`FeedCursor`]: the next page's URL while the search goes on, then the newest
//! event `time` seen, where the next run's search starts (`from` is inclusive), and the
//! ids of that instant's events, which are dropped when they come again.
//!
//! Which trail an event belongs to, by its `action` key (Atlassian publishes the
//! activities' labels, such as "Logged in to account", not their keys, so this reads
//! the key's words):
//!
//! | `action` contains | kind |
//! |---|---|
//! | `login`, `logged_in`, `logged_out`, `logout`, `sign_in`, `signed_in`, `sign_out` | logon |
//! | `page`, `blogpost`, `issue`, `work_item`, `attachment`, `comment`, `download`, `viewed`, `exported` | user |
//! | anything else (users, groups, roles, policies, domains, apps, API keys, settings) | admin |
//!
//! Outcome: `failure` when the key says `fail`, `denied`, `blocked` or `rejected`
//! ("Login failed"), else `success`: the audit log records what took effect.

use sluice_sdk::prelude::*;

use crate::api::Api;

/// Events asked for per page (the stream's default page size is 200).
pub const MAX_EVENTS_PAGE: u32 = 200;

/// One page of audit events.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<ActivityPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let feed = FeedCursor::resume(cursor, ctx.since)?;
    let limit = api.page_size(MAX_EVENTS_PAGE);
    let url = match &feed.next {
        Some(url) => url.clone(),
        None => search_url(&api, feed.ts, limit),
    };
    let (events, next) = api.list_page(&url)?;
    // The stream's last page carries a cursor as well: only a full page has more.
    let more = next.is_some() && events.len() >= limit as usize;
    let next = next.filter(|_| more).map(|token| with_cursor(&url, &token));
    let items = json::map_items(&events, "Atlassian audit events", activity);
    Ok(feed.page(items, next, more))
}

/// A search for the events from `since` (ms, inclusive) on, oldest first; the whole
/// stream when there is no `since` (the host always passes one on a first run).
fn search_url(api: &Api, since: Option<i64>, limit: u32) -> String {
    let mut request = api
        .get(api.v1("/events-stream"))
        .query("limit", limit)
        .query("sortOrder", "asc");
    if let Some(since) = since {
        request = request.query("from", since);
    }
    request.url().to_owned()
}

/// `url` with its `cursor` parameter replaced by `token`.
fn with_cursor(url: &str, token: &str) -> String {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.is_empty() && !pair.starts_with("cursor="))
        .collect();
    let base = if kept.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", kept.join("&"))
    };
    sluice_sdk::http::get(base)
        .query("cursor", token)
        .url()
        .to_owned()
}

/// Which audit trail an event with action key `action` belongs to (module docs).
pub fn kind_of(action: &str) -> ActivityKind {
    let key = action.to_ascii_lowercase().replace(['.', '-', ' '], "_");
    let has = |words: &[&str]| words.iter().any(|w| key.contains(w));
    if has(&[
        "login",
        "logged_in",
        "logged_out",
        "logout",
        "sign_in",
        "signin",
        "signed_in",
        "sign_out",
    ]) {
        ActivityKind::Logon
    } else if has(&[
        "page",
        "blogpost",
        "issue",
        "work_item",
        "attachment",
        "comment",
        "download",
        "viewed",
        "exported",
    ]) {
        ActivityKind::User
    } else {
        ActivityKind::Admin
    }
}

/// Whether the event with action key `action` records a failure.
pub fn outcome_of(action: &str) -> Outcome {
    let key = action.to_ascii_lowercase();
    if ["fail", "denied", "blocked", "rejected"]
        .iter()
        .any(|w| key.contains(w))
    {
        Outcome::Failure
    } else {
        Outcome::Success
    }
}

/// The activity record for one event; none without an `id`, `time` or `action`.
pub fn activity(event: &Value) -> Option<Activity> {
    let attributes = json::at(event, "attributes")?;
    let action = json::str_at(attributes, "action")?;
    let actor = json::at(attributes, "actor");
    let location = json::at(attributes, "location");
    let text = |value: Option<&Value>, name: &str| {
        value
            .and_then(|v| json::str_at(v, name))
            .filter(|t| !t.trim().is_empty())
    };
    let targets = json::at(attributes, "context")
        .and_then(Value::as_array)
        .map(|context| {
            context
                .iter()
                .filter_map(|c| json::str_at(c, "id"))
                .collect()
        })
        .unwrap_or_default();
    Some(Activity {
        actor: text(actor, "email")
            .or_else(|| text(actor, "id"))
            .or_else(|| text(actor, "name")),
        targets,
        ip: text(location, "ip"),
        location: Location::from_parts(
            None,
            text(location, "regionName"),
            text(location, "city"),
            None,
            None,
        ),
        outcome: outcome_of(&action),
        ..Activity::new(
            json::str_at(event, "id")?,
            json::timestamp_at(attributes, "time")?,
            kind_of(&action),
            action,
            json::raw(event),
        )
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sluice_sdk::testing::NEW_YEAR;

    use super::*;
    use crate::api::fake;

    fn event(id: &str, ms: i64, action: &str) -> Value {
        json!({
            "id": id, "type": "events",
            "attributes": {
                "time": time::to_rfc3339(ms).unwrap(), "action": action,
                "actor": {"id": "5b10ac8d82e05b22cc7d4ef5", "name": "Ann", "email": "ann@acme.test"},
                "context": [{"id": "5b10a2844c20165700ede21g", "type": "users"}],
                "location": {"ip": "203.0.113.9", "countryName": "Germany", "regionName": "Bavaria", "city": "Munich"},
            },
            "links": {"self": "x"},
            "message": {"content": "did a thing", "format": "simple"},
        })
    }

    #[test]
    fn the_published_event_shape_maps_to_an_activity() {
        let Some(page) = fake::fixture("_SHAPE-org-events-list.docs-example") else {
            return;
        };
        // Placeholder values (`"<string>"`): the time does not parse, so the published
        // shape yields no record; the same shape with a real time does.
        assert!(activity(&page["data"][0]).is_none());
        let mut real = page["data"][0].clone();
        real["attributes"]["time"] = json!("2025-02-27T18:50:12.281Z");
        let a = activity(&real).expect("the shape with a time");
        assert_eq!(a.id, "<string>");
        assert_eq!(a.time, 1_740_682_212_281);
        assert_eq!(a.actor.as_deref(), Some("<string>"));
        assert_eq!(a.targets, ["<string>"]);
        assert_eq!(a.ip.as_deref(), Some("<string>"));
        assert_eq!(a.kind, ActivityKind::Admin);
    }

    #[test]
    fn events_map_to_the_documented_kinds_and_outcomes() {
        let a = activity(&event("e1", NEW_YEAR, "user_logged_in")).unwrap();
        assert_eq!((a.kind, a.outcome), (ActivityKind::Logon, Outcome::Success));
        assert_eq!(a.actor.as_deref(), Some("ann@acme.test"));
        assert_eq!(a.targets, ["5b10a2844c20165700ede21g"]);
        assert_eq!(a.ip.as_deref(), Some("203.0.113.9"));
        let location = a.location.unwrap();
        assert_eq!(location.city.as_deref(), Some("Munich"));
        assert_eq!(location.country_code, None, "countryName is not a code");
        assert_eq!(kind_of("user_login_failed"), ActivityKind::Logon);
        assert_eq!(outcome_of("user_login_failed"), Outcome::Failure);
        assert_eq!(kind_of("page_viewed"), ActivityKind::User);
        assert_eq!(kind_of("attachment_downloaded"), ActivityKind::User);
        for admin in ["user_access_suspended", "group_created", "policy_updated"] {
            assert_eq!(kind_of(admin), ActivityKind::Admin, "{admin}");
        }
    }

    #[test]
    fn searches_from_since_follows_full_pages_then_resumes_at_the_newest_time() {
        let events = "https://api.atlassian.test/admin/v1/orgs/org-1/events-stream";
        let first = format!("{events}?limit=2&sortOrder=asc&from={NEW_YEAR}");
        let second = format!("{first}&cursor=c2");
        let resumed = format!("{events}?limit=2&sortOrder=asc&from={}", NEW_YEAR + 5_000);
        let host = fake::atlassian(vec![
            (
                first.clone(),
                fake::page(
                    json!([
                        event("e1", NEW_YEAR + 1_000, "user_logged_in"),
                        event("e2", NEW_YEAR + 2_000, "group_created")
                    ]),
                    Some("c2"),
                ),
            ),
            (
                second.clone(),
                // Not full: the last page, although the stream gives a cursor.
                fake::page(
                    json!([event("e3", NEW_YEAR + 5_000, "page_viewed")]),
                    Some("c3"),
                ),
            ),
            (
                resumed.clone(),
                fake::page(
                    json!([
                        event("e3", NEW_YEAR + 5_000, "page_viewed"),
                        event("e4", NEW_YEAR + 6_000, "user_access_suspended")
                    ]),
                    Some("c5"),
                ),
            ),
        ]);
        let ctx = fake::ctx(2, Some(NEW_YEAR));
        let (pages, host) = host.run(|| sluice_sdk::testing::next_pages(3, |c| list(&ctx, c)));
        let urls: Vec<_> = host.requests().iter().map(|r| r.url.clone()).collect();
        assert_eq!(urls, [first, second, resumed]);
        assert!(pages[0].more && !pages[1].more);
        let third: Vec<_> = pages[2].items.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(third, ["e4"], "the boundary event is returned once");
    }
}
