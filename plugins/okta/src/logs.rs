//! `list-activities`: the System Log, read incrementally.
//!
//! The first run asks `GET /api/v1/logs?since=T&sortOrder=ASCENDING&limit=N` (oldest
//! first). Okta treats a request without `until` as a *polling* query: its
//! `Link: rel="next"` (with an opaque `after`) is always present, even when there is
//! nothing more yet, and following it later returns only events published since. So:
//!
//! - the cursor is the SDK's [`FeedCursor`]: the next link, which resumes after the
//!   newest event returned, and that event's time as a fallback;
//! - `more` is true only for a full page (a short page means Okta is caught up, which
//!   is how Okta's polling guide says to tell);
//! - without a next link (never seen when polling, but possible), the next call starts
//!   a new search at `since=<ts>`, and the cursor drops that second's events it
//!   already returned.
//!
//! In a partitioned first scan the host asks for a time range (`until` set): the request
//! is then a *bounded* query (`since` and `until`, events published before `until`),
//! whose next link Okta sends only while results remain, so the range ends with it.
//!
//! `client.geographicalContext` becomes the location (Okta names the country, not its
//! ISO code, so only a two-letter value is kept as `country-code`), and
//! `authenticationContext.externalSessionId` the session id.
//!
//! Events are classed by `eventType`: sign-in and session events are `logon`,
//! administrative changes `admin`, everything else `user`.

use sluice_sdk::prelude::*;

use crate::api::Api;

/// Okta's maximum `limit` for `GET /api/v1/logs`.
const MAX_LIMIT: u32 = 1000;

/// Event types of administrative changes (lifecycle, privileges, groups, apps,
/// policies and org settings), then of sign-in and sign-out; everything else is user
/// activity. `user.session.clear` is an admin ending someone's sessions, not a
/// sign-in, so it is listed before the logon prefixes are tried.
const KINDS: &[(ActivityKind, &[&str])] = &[
    (ActivityKind::Admin, ADMIN_PREFIXES),
    (
        ActivityKind::Logon,
        &["user.session.", "user.authentication."],
    ),
];

/// See [`KINDS`].
const ADMIN_PREFIXES: &[&str] = &[
    "user.session.clear",
    "user.lifecycle.",
    "user.account.privilege.",
    "group.",
    "application.",
    "app.",
    "policy.lifecycle.",
    "policy.rule.",
    "system.",
    "iam.",
    "zone.",
    "network_zone.",
    "org.",
    "security.",
    "event_hook.",
    "inline_hook.",
];

/// One page of System Log events.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<ActivityPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let feed = FeedCursor::resume(cursor, ctx.since)?;
    let limit = api.limit(MAX_LIMIT);
    let url = match &feed.next {
        Some(url) => url.clone(),
        None => search_url(&api, (feed.ts, ctx.until), limit),
    };
    let (events, next) = api.list_page(&url)?;
    let items = json::map_items(&events, "System Log events", activity);
    // A full page may have more behind it; Okta says nothing else about it.
    let more = next.is_some() && events.len() >= limit as usize;
    Ok(feed.page(items, next, more))
}

/// A polling query for events from `since` (ms) on (Okta's default without one: the
/// last 7 days); with `until`, a bounded query for those published before it.
fn search_url(api: &Api, (since, until): (Option<i64>, Option<i64>), limit: u32) -> String {
    let mut request = api.get(api.url("/api/v1/logs"));
    if let Some(since) = since.and_then(time::to_rfc3339) {
        request = request.query("since", since);
    }
    if let Some(until) = until.and_then(time::to_rfc3339) {
        request = request.query("until", until);
    }
    request
        .query("sortOrder", "ASCENDING")
        .query("limit", limit)
        .url()
        .to_owned()
}

/// The activity record for one LogEvent; none without a `uuid` or `published`.
pub fn activity(event: &Value) -> Option<Activity> {
    let action = json::str_at(event, "eventType").unwrap_or_default();
    let geo = json::at(event, "/client/geographicalContext");
    let geo_str = |pointer: &str| geo.and_then(|g| json::str_at(g, pointer));
    let geo_f64 = |pointer: &str| geo.and_then(|g| g.pointer(pointer)).and_then(Value::as_f64);
    Some(Activity {
        actor: json::str_at(event, "/actor/alternateId")
            .or_else(|| json::str_at(event, "/actor/id")),
        targets: json::at(event, "target")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|target| {
                json::str_at(target, "alternateId")
                    .filter(|alternate| alternate != "unknown")
                    .or_else(|| json::str_at(target, "displayName"))
                    .or_else(|| json::str_at(target, "id"))
            })
            .collect(),
        ip: json::str_at(event, "/client/ipAddress"),
        user_agent: json::str_at(event, "/client/userAgent/rawUserAgent"),
        location: Location::from_parts(
            geo_str("country"),
            geo_str("state"),
            geo_str("city"),
            geo_f64("/geolocation/lat"),
            geo_f64("/geolocation/lon"),
        ),
        session_id: json::str_at(event, "/authenticationContext/externalSessionId")
            .filter(|id| id != "unknown"),
        outcome: Outcome::from_word(
            json::str_at(event, "/outcome/result").as_deref(),
            &["SUCCESS", "ALLOW"],
            &["FAILURE", "DENY"],
        ),
        ..Activity::new(
            json::str_at(event, "uuid")?,
            json::timestamp_at(event, "published")?,
            kind_of(&action),
            action,
            json::raw(event),
        )
    })
}

/// Which audit trail an event type belongs to.
pub fn kind_of(event_type: &str) -> ActivityKind {
    ActivityKind::by_prefix(event_type, KINDS, ActivityKind::User)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use sluice_sdk::testing::NEW_YEAR;

    use super::*;
    use crate::api::fake;

    #[test]
    fn geographical_context_and_session_become_location_and_session_id() {
        let event = serde_json::json!({
            "uuid": "u1", "published": "2024-01-01T00:00:00Z", "eventType": "user.session.start",
            "client": {"geographicalContext": {"country": "United States", "state": "California",
                "city": "San Francisco", "geolocation": {"lat": 37.77, "lon": -122.41}}},
            "authenticationContext": {"externalSessionId": "102abc"},
        });
        let a = activity(&event).unwrap();
        let l = a.location.unwrap();
        // Okta names the country; the contract wants its ISO code, which Okta lacks.
        assert_eq!(l.country_code, None);
        assert_eq!(
            (l.region.as_deref(), l.city.as_deref()),
            (Some("California"), Some("San Francisco"))
        );
        assert_eq!((l.latitude, l.longitude), (Some(37.77), Some(-122.41)));
        assert_eq!(a.session_id.as_deref(), Some("102abc"));
    }

    #[test]
    fn maps_the_published_log_events() {
        let fixtures = fake::fixtures("list-logs__");
        // One published example is a `changeDetails` fragment (a log target's `from` and
        // `to`): it is read inside the published event it belongs to.
        let fragment = fixtures
            .iter()
            .find(|(_, body)| body.get("from").is_some() && body.get("to").is_some())
            .map(|(_, body)| body.clone());
        for (name, body) in &fixtures {
            let mut events = match body {
                Value::Array(list) => list.clone(),
                object if object.get("uuid").is_some() => vec![object.clone()],
                _ => continue,
            };
            if let Some(change) = &fragment {
                events[0]["target"][0]["changeDetails"] = change.clone();
            }
            let activities: Vec<_> = events.iter().filter_map(activity).collect();
            assert_eq!(activities.len(), events.len(), "{name}");
            let login = &activities[0];
            assert_eq!(login.id, "dc9fd3c0-598c-11ef-8478-2b7584bf8d5a");
            assert_eq!(login.time, 1_723_564_700_353);
            assert_eq!(login.kind, ActivityKind::Logon);
            assert_eq!(login.action, "user.session.start");
            assert_eq!(login.outcome, Outcome::Success);
            assert_eq!(login.actor.as_deref(), Some("john.doe@example.com"));
            assert_eq!(login.ip.as_deref(), Some("10.0.0.1"));
            assert!(
                login
                    .user_agent
                    .as_deref()
                    .unwrap()
                    .starts_with("Mozilla/5.0")
            );
            assert_eq!(login.targets, ["Okta Verify", "Okta Admin Console"]);
            if let Some(change) = &fragment {
                let raw: Value = serde_json::from_str(&login.raw).unwrap();
                assert_eq!(raw.pointer("/target/0/changeDetails"), Some(change));
            }
        }
        if !fixtures.is_empty() {
            assert!(fragment.is_some(), "the changeDetails example is exercised");
        }
    }

    #[test]
    fn classifies_event_types() {
        let of = |types: &[&str]| types.iter().map(|t| kind_of(t)).collect::<Vec<_>>();
        assert_eq!(
            of(&["user.session.start", "user.authentication.sso"]),
            [ActivityKind::Logon; 2]
        );
        // An admin ending sessions is not a sign-in.
        let admin = of(&[
            "user.session.clear",
            "user.lifecycle.suspend",
            "user.account.privilege.grant",
            "group.user_membership.add",
            "application.user_membership.add",
            "app.oauth2.as.token.grant",
        ]);
        assert_eq!(admin, [ActivityKind::Admin; 6]);
        assert_eq!(kind_of("user.account.update_password"), ActivityKind::User);
    }

    #[test]
    fn a_time_range_is_a_bounded_query_that_ends_with_its_last_next_link() {
        let first = "https://okta.test/api/v1/logs?since=2024-01-01T00%3A00%3A00Z&until=2024-01-01T01%3A00%3A00Z&sortOrder=ASCENDING&limit=2";
        let second = "https://okta.test/api/v1/logs?since=2024-01-01T00%3A00%3A00Z&until=2024-01-01T01%3A00%3A00Z&sortOrder=ASCENDING&limit=2&after=2";
        let event = |id: &str, ms: i64| json!({"uuid": id, "published": time::to_rfc3339(ms).unwrap(), "eventType": "user.session.start"});
        let host = fake::okta(vec![
            (
                first.into(),
                fake::json(
                    &json!([event("a", NEW_YEAR + 1_000), event("b", NEW_YEAR + 2_000)]),
                    Some(second),
                ),
            ),
            (
                second.into(),
                fake::json(&json!([event("c", NEW_YEAR + 3_000)]), None),
            ),
        ]);
        let mut ctx = fake::ctx(2, Some(NEW_YEAR));
        ctx.until = Some(NEW_YEAR + 3_600_000);
        let (run, host) = host
            .run(|| sluice_sdk::testing::run_pages(None, 5, |c| list(&ctx, c.as_deref())).unwrap());
        assert_eq!(
            host.requests().len(),
            2,
            "the range ends with its last page"
        );
        let ids: Vec<_> = run.items.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
    }

    #[test]
    fn polls_with_since_then_follows_the_next_link_even_when_caught_up() {
        let first = "https://okta.test/api/v1/logs?since=2024-01-01T00%3A00%3A00Z&sortOrder=ASCENDING&limit=2";
        let second = "https://okta.test/api/v1/logs?since=2024-01-01T00%3A00%3A00Z&sortOrder=ASCENDING&limit=2&after=2";
        let third = "https://okta.test/api/v1/logs?since=2024-01-01T00%3A00%3A00Z&sortOrder=ASCENDING&limit=2&after=3";
        let event = |id: &str, ms: i64, kind: &str, result: &str| {
            json!({"uuid": id, "published": time::to_rfc3339(ms).unwrap(), "eventType": kind,
                   "outcome": {"result": result}, "actor": {"alternateId": "a@x.test"}})
        };
        let host = fake::okta(vec![
            (
                first.into(),
                fake::json(
                    &json!([
                        event("a", NEW_YEAR + 1_000, "user.session.start", "FAILURE"),
                        event(
                            "b",
                            NEW_YEAR + 2_000,
                            "group.user_membership.add",
                            "SUCCESS"
                        )
                    ]),
                    Some(second),
                ),
            ),
            (
                second.into(),
                fake::json(
                    &json!([event(
                        "c",
                        NEW_YEAR + 5_000,
                        "user.account.update_password",
                        "SUCCESS"
                    )]),
                    Some(third),
                ),
            ),
            (third.into(), fake::json(&json!([]), Some(third))),
        ]);
        let ctx = fake::ctx(2, Some(NEW_YEAR));
        let (pages, host) = host.run(|| sluice_sdk::testing::next_pages(3, |c| list(&ctx, c)));
        let urls: Vec<_> = host.requests().iter().map(|r| r.url.as_str()).collect();
        assert_eq!(urls, [first, second, third]);
        assert!(pages[0].more && !pages[1].more && !pages[2].more);
        assert_eq!(pages[0].items[0].outcome, Outcome::Failure);
        assert_eq!(pages[0].items[1].kind, ActivityKind::Admin);
        assert_eq!(pages[1].items[0].kind, ActivityKind::User);
        let caught_up = Cursor::encode(&FeedCursor {
            next: Some(third.into()),
            ts: Some(NEW_YEAR + 5_000),
            seen: vec![pages[1].items[0].id.clone()],
        });
        assert_eq!(pages[1].next_cursor.as_deref(), Some(caught_up.as_str()));
        // An empty page keeps the position after the newest event.
        assert!(pages[2].items.is_empty());
        assert_eq!(pages[2].next_cursor.as_deref(), Some(caught_up.as_str()));
    }
}
