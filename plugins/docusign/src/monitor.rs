//! `list-activities`: the DocuSign Monitor stream, read incrementally.
//!
//! `GET /api/v2.0/datasets/monitor/stream?cursor=C&limit=N` answers
//! `{"endCursor": "...", "data": [event, ...]}` in event-time order. `cursor` is either
//! an ISO time or the previous answer's `endCursor`; without one Monitor starts seven
//! days back. The first run starts at the host's `since`; afterwards the cursor the
//! host saved is Monitor's own `endCursor`, passed back verbatim. When caught up
//! Monitor answers the same `endCursor` with no (or fewer than `limit`) events: that
//! cursor is kept, so the next incremental run asks only for newer events.
//!
//! Monitor reports both account-level events (eSignature: envelopes, templates,
//! account settings, sign-ins to an account) and organization-level events (the
//! organization admin console: users, domains, identity providers). They map to:
//! - `logon`: `action` `Login`/`Logout` (or an object of `Login`/`Session`);
//! - `user`: account-level events on content (envelopes, documents, templates,
//!   recipients, bulk sends, PowerForms);
//! - `admin`: everything else, which includes every organization-level event (no
//!   `accountId`): those are administrative by nature.

use sluice_sdk::prelude::*;

use crate::api::Api;

/// Objects whose events are what users did to data.
const CONTENT_OBJECTS: &[&str] = &[
    "envelope",
    "document",
    "template",
    "recipient",
    "bulksend",
    "powerform",
    "folder",
];

/// One page of Monitor events.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<ActivityPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let feed = match cursor {
        Some(end_cursor) if !end_cursor.starts_with('{') => FeedCursor {
            next: Some(end_cursor.to_owned()),
            ..FeedCursor::default()
        },
        _ => FeedCursor::resume(cursor, ctx.since)?,
    };
    let start = feed.next.clone();
    let limit = api.monitor_limit();
    let from = start.clone().or_else(|| feed.ts.and_then(time::to_rfc3339));
    let body = api
        .monitor_stream(from.as_deref(), limit)
        .send()?
        .error_for_status()?
        .json_value()?;
    let (events, end) = pagination::items_and_next(body, "/data", "/endCursor");
    let items = json::map_items(&events, "Monitor events", activity);
    // A full page whose cursor moved may have more behind it; the same cursor back means
    // Monitor has nothing newer yet.
    let moved = end.is_some() && end != start;
    let more = moved && events.len() >= limit as usize;
    Ok(feed.page(items, end.or(start), more))
}

/// The activity record for one Monitor event; none without `eventId` or `timestamp`.
pub fn activity(event: &Value) -> Option<Activity> {
    let action = json::str_at(event, "action").unwrap_or_default();
    let object = json::str_at(event, "object");
    let kind = kind_of(
        &action,
        object.as_deref(),
        json::str_at(event, "accountId").is_some(),
    );
    // The located address's parts, nested in `ipAddressLocation` or beside it.
    let place = |field: &str| {
        json::at(event, &format!("/ipAddressLocation/{field}")).or_else(|| json::at(event, field))
    };
    let text = |field: &str| place(field).and_then(Value::as_str).map(str::to_owned);
    let degrees = |field: &str| place(field).and_then(Value::as_f64);
    Some(Activity {
        actor: json::str_at(event, "userEmail")
            .or_else(|| json::str_at(event, "userName"))
            .or_else(|| json::str_at(event, "userId")),
        targets: ["object", "property", "field", "affectedUserId"]
            .iter()
            .filter_map(|field| json::str_at(event, field))
            .collect(),
        ip: json::str_at(event, "ipAddress"),
        user_agent: json::str_at(event, "userAgent"),
        location: Location::from_parts(
            text("country"),
            text("state"),
            text("city"),
            degrees("latitude"),
            degrees("longitude"),
        ),
        outcome: Outcome::from_word(
            json::str_at(event, "result").as_deref(),
            &["success"],
            &["failure", "failed"],
        ),
        ..Activity::new(
            json::str_at(event, "eventId")?,
            json::timestamp_at(event, "timestamp")?,
            kind,
            action,
            json::raw(event),
        )
    })
}

/// Which audit trail an event belongs to (see the module docs).
fn kind_of(action: &str, object: Option<&str>, account_level: bool) -> ActivityKind {
    let action = action.to_ascii_lowercase();
    let object = object.unwrap_or_default().to_ascii_lowercase();
    if matches!(action.as_str(), "login" | "logout")
        || matches!(object.as_str(), "login" | "session")
    {
        ActivityKind::Logon
    } else if account_level && CONTENT_OBJECTS.contains(&object.as_str()) {
        ActivityKind::User
    } else {
        ActivityKind::Admin
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use sluice_sdk::testing::{NEW_YEAR, run_pages};

    use super::*;
    use crate::api::fake;

    fn event(id: &str, action: &str, object: &str, account: bool) -> Value {
        let mut e = json!({
            "eventId": id, "timestamp": "2024-01-01T00:00:01Z", "action": action,
            "object": object, "userEmail": "ann@acme.test", "userId": "u-1",
            "ipAddress": "203.0.113.9", "userAgent": "Mozilla/5.0", "result": "Success",
            "organizationId": fake::ORG,
        });
        if account {
            e["accountId"] = json!(fake::ACCOUNT);
        }
        e
    }

    #[test]
    fn classifies_account_and_organization_events() {
        assert_eq!(kind_of("Login", Some("User"), true), ActivityKind::Logon);
        assert_eq!(kind_of("Sent", Some("Envelope"), true), ActivityKind::User);
        assert_eq!(
            kind_of("Update", Some("AccountSettings"), true),
            ActivityKind::Admin
        );
        // Organization-level events are administrative even on content objects.
        assert_eq!(
            kind_of("Delete", Some("Envelope"), false),
            ActivityKind::Admin
        );
        let a = activity(&event("e1", "Sent", "Envelope", true)).unwrap();
        assert_eq!(a.time, NEW_YEAR + 1_000);
        assert_eq!(a.actor.as_deref(), Some("ann@acme.test"));
        assert_eq!(a.ip.as_deref(), Some("203.0.113.9"));
        assert_eq!(a.outcome, Outcome::Success);
        assert_eq!(a.targets, ["Envelope"]);
        assert!(activity(&json!({"timestamp": "2024-01-01T00:00:01Z"})).is_none());
    }

    #[test]
    fn starts_at_since_then_follows_end_cursor_and_keeps_it_when_caught_up() {
        let first = "https://lens.ds.test/api/v2.0/datasets/monitor/stream\
                     ?cursor=2024-01-01T00%3A00%3A00Z&limit=2";
        let second = "https://lens.ds.test/api/v2.0/datasets/monitor/stream?cursor=c2&limit=2";
        let third = "https://lens.ds.test/api/v2.0/datasets/monitor/stream?cursor=c3&limit=2";
        let host = fake::docusign(vec![
            (
                first.into(),
                fake::json(&json!({"endCursor": "c2", "data": [
                    event("a", "Login", "User", true), event("b", "Sent", "Envelope", true)]})),
            ),
            (
                second.into(),
                fake::json(
                    &json!({"endCursor": "c3", "data": [event("c", "Create", "User", false)]}),
                ),
            ),
            (
                third.into(),
                fake::json(&json!({"endCursor": "c3", "data": []})),
            ),
        ]);
        let ctx = fake::ctx(2, Some(NEW_YEAR));
        let (runs, host) = host.run(|| {
            let run = run_pages(None, 5, |cursor| list(&ctx, cursor.as_deref())).unwrap();
            let caught_up = list(&ctx, run.cursor.as_deref()).unwrap();
            (run, caught_up)
        });
        let (run, caught_up) = runs;
        let urls: Vec<_> = host.requests().iter().map(|r| r.url.as_str()).collect();
        assert_eq!(urls, [first, second, third]);
        // A full page whose cursor moved goes on; the short second page ends the run.
        assert_eq!(run.calls, 2);
        let kinds: Vec<_> = run.items.iter().map(|a| a.kind).collect();
        assert_eq!(
            kinds,
            [ActivityKind::Logon, ActivityKind::User, ActivityKind::Admin]
        );
        let saved: FeedCursor = Cursor::decode(run.cursor.as_deref().unwrap()).unwrap();
        assert_eq!(saved.next.as_deref(), Some("c3"));
        // Caught up: the same endCursor, nothing new, and the position is kept.
        assert!(caught_up.items.is_empty() && !caught_up.more);
        assert_eq!(caught_up.next_cursor, run.cursor);
    }

    #[test]
    fn a_cursor_the_0_1_connector_saved_resumes_from_that_end_cursor() {
        let url = "https://lens.ds.test/api/v2.0/datasets/monitor/stream?cursor=mc1.23&limit=100";
        let host = fake::docusign(vec![(
            url.into(),
            fake::json(
                &json!({"endCursor": "mc1.24", "data": [event("n", "Sent", "Envelope", true)]}),
            ),
        )]);
        let (page, host) = host.run(|| list(&fake::ctx(100, Some(NEW_YEAR)), Some("mc1.23")));
        assert_eq!(host.requests()[0].url, url);
        let page = page.unwrap();
        assert_eq!(page.items.len(), 1);
        let saved: FeedCursor = Cursor::decode(page.next_cursor.as_deref().unwrap()).unwrap();
        assert_eq!(saved.next.as_deref(), Some("mc1.24"));
    }

    #[test]
    fn the_located_address_becomes_the_location() {
        let mut e = event("e1", "Login", "User", true);
        e["ipAddressLocation"] = json!({"latitude": 52.52, "longitude": 13.4, "city": "Berlin",
            "state": "Berlin", "country": "DE"});
        let location = activity(&e).unwrap().location.unwrap();
        assert_eq!(location.country_code.as_deref(), Some("DE"));
        assert_eq!(location.city.as_deref(), Some("Berlin"));
        assert_eq!(
            (location.latitude, location.longitude),
            (Some(52.52), Some(13.4))
        );
        assert_eq!(
            activity(&event("e2", "Login", "User", true))
                .unwrap()
                .location,
            None
        );
    }

    /// Every property the mapping reads from a stream answer is in the published schema.
    #[test]
    fn reads_only_properties_of_the_published_stream_schema() {
        let Some(schema) = fake::schema("_SCHEMA-monitor-stream.json") else {
            return;
        };
        let props = &schema["definitions.CursoredResult"]["properties"];
        for read in ["endCursor", "data"] {
            assert!(props.get(read).is_some(), "`{read}` not in the schema");
        }
        assert_eq!(props["data"]["type"], "array");
        let params = crate::api::fake::documented_parameters(&schema);
        for sent in ["cursor", "limit"] {
            assert!(
                params.contains(&sent),
                "`{sent}` is no documented parameter"
            );
        }
    }
}
