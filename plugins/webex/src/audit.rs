//! `list-activities`: three Webex trails behind one cursor, the SDK's [`FeedSet`],
//! read one after the other.
//!
//! | source key | Webex API | kind | scope | provider docs' table |
//! |---|---|---|---|---|
//! | `admin-audit` | `GET /v1/adminAudit/events?orgId&from&to&max` | admin | `audit:events_read` (full admin) | "Not supported by provider": beyond the table |
//! | `security-audit` | `GET /v1/admin/securityAudit/events?orgId&startTime&endTime&max` (sign-in / sign-out) | logon | `audit:events_read` | blank: beyond the table |
//! | `compliance-events` | `GET /v1/events?from&to&max` (messages, memberships, files, meetings… created / updated / deleted) | user | `spark-compliance:events_read` (compliance officer) | user activity: yes |
//!
//! Config `trails` picks the sources (all three by default); an integration not
//! authorized by a compliance officer leaves out `compliance-events`.
//!
//! Each source is a search over `[ts, ctx.now)`: the newest event time returned so far
//! (or the host's `since` on the first run) to the scan run's clock (`ctx.now`, so a
//! recorded scan replays to the same requests), following `Link: rel="next"` while
//! pages remain. The search's URL holds its bounds, so a resumed page reads the same
//! window. Times are sent as RFC 3339 UTC with milliseconds, the start in whole
//! seconds: the next search starts at the newest event's second again and the SDK's [`FeedCursor`] drops the events
//! of that second already returned, so a rescan stores each event once whatever
//! order Webex lists them in.
//!
//! In a partitioned first scan (`activity-partitions`) the host asks for time ranges
//! side by side: `context.since` to `context.until`, which ends each search instead of
//! `ctx.now` (Webex's `from`/`to` are bounds already), so a range ends with its last
//! page.
//!
//! The audit trails require `orgId`: config `org_id`, else the token owner's
//! organization (`GET /v1/people/me`), read only when a search starts. Webex returns
//! at most a year of audit events per request, so the first scan's look-back is
//! capped at 365 days.

use sluice_sdk::pagination::Source;
use sluice_sdk::prelude::*;

use crate::api::Api;

/// Source key of the admin audit events.
pub const ADMIN_AUDIT: &str = "admin-audit";
/// Source key of the security audit events (sign-in / sign-out).
pub const SECURITY_AUDIT: &str = "security-audit";
/// Source key of the compliance officer's events.
pub const COMPLIANCE_EVENTS: &str = "compliance-events";
/// Every source, in reading order.
pub const TRAILS: [&str; 3] = [ADMIN_AUDIT, SECURITY_AUDIT, COMPLIANCE_EVENTS];
/// How far back a search with neither cursor nor `since` starts (ms): the host's
/// default look-back, 90 days.
const DEFAULT_LOOK_BACK_MS: i64 = 90 * 86_400_000;

/// One page of one trail.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<ActivityPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let trails = trails()?;
    // A time range of a partitioned first scan ends at `until`; otherwise at the run's
    // clock.
    let end = ctx.until.unwrap_or(ctx.now);
    FeedSet::resume(cursor, ctx.since)?.step(&trails, |source| read(&api, end, source))
}

/// The enabled trails, from config `trails` (comma-separated keys, in reading order).
pub fn trails() -> Result<Vec<&'static str>, ConnectorError> {
    let Some(text) = config::get("trails") else {
        return Ok(TRAILS.to_vec());
    };
    let mut keys = Vec::new();
    for word in text.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        let key = TRAILS.iter().find(|k| **k == word).ok_or_else(|| {
            ConnectorError::invalid_config(format!(
                "`trails` names `{word}`; the trails are {}",
                TRAILS.join(", ")
            ))
        })?;
        if !keys.contains(key) {
            keys.push(*key);
        }
    }
    Ok(TRAILS
        .iter()
        .copied()
        .filter(|k| keys.contains(k))
        .collect())
}

/// RFC 3339 UTC with milliseconds, as Webex writes times (`2019-01-02T16:58:36.845Z`).
pub fn webex_time(ms: i64) -> String {
    let millis = ms.rem_euclid(1000);
    time::to_rfc3339(ms - millis)
        .map(|t| t.replacen('Z', &format!(".{millis:03}Z"), 1))
        .unwrap_or_default()
}

/// The first page of a search of `key` over `[from, to)` (ms).
fn search_url(api: &Api, key: &str, from: i64, to: i64) -> Result<String, ConnectorError> {
    let (from, to) = (webex_time(from), webex_time(to));
    let request = match key {
        ADMIN_AUDIT => api
            .get("/adminAudit/events")
            .query("orgId", api.org_id()?)
            .query("from", from)
            .query("to", to),
        SECURITY_AUDIT => api
            .get("/admin/securityAudit/events")
            .query("orgId", api.org_id()?)
            .query("startTime", from)
            .query("endTime", to),
        _ => api.get("/events").query("from", from).query("to", to),
    };
    Ok(request.query("max", api.page_size()).url().to_owned())
}

/// Reads one page of `source` up to `now` (ms, exclusive); says whether the source is
/// done for this run.
fn read(api: &Api, now: i64, source: Source<'_>) -> Result<(Vec<Activity>, bool), ConnectorError> {
    let feed = source.feed;
    let url = match feed.next.take() {
        Some(url) => url,
        None => {
            let from = feed.ts.unwrap_or(now - DEFAULT_LOOK_BACK_MS);
            // Whole seconds: the boundary second is read again and de-duplicated.
            let from = from - from.rem_euclid(1000);
            search_url(api, source.key, from, now)?
        }
    };
    let (events, next) = api.page(api.get_url(&url))?;
    let map: fn(&Value) -> Option<Activity> = match source.key {
        ADMIN_AUDIT => admin_event,
        SECURITY_AUDIT => security_event,
        _ => compliance_event,
    };
    let mut items = json::map_items(&events, "Webex events", map);
    feed.advance(&mut items, next);
    Ok((items, feed.next.is_none()))
}

/// `EventCategory.LOGINS` → `LOGINS`.
fn category(value: &Value) -> Option<String> {
    json::str_at(value, "/data/eventCategory")
        .map(|c| c.strip_prefix("EventCategory.").unwrap_or(&c).to_owned())
}

/// What the audit events share: id, time, actor, client.
fn audit_activity(value: &Value, kind: ActivityKind) -> Option<Activity> {
    let description = json::str_at(value, "/data/eventDescription");
    let action = description.or_else(|| category(value))?;
    Some(Activity {
        actor: json::str_at(value, "/data/actorEmail").or_else(|| json::str_at(value, "actorId")),
        ip: json::str_at(value, "/data/actorIp").or_else(|| json::str_at(value, "/data/clientIP")),
        user_agent: json::str_at(value, "/data/actorUserAgent"),
        ..Activity::new(
            json::str_at(value, "id")?,
            json::timestamp_at(value, "created")?,
            kind,
            action,
            json::raw(value),
        )
    })
}

/// An admin audit event as an admin activity: the action is Webex's
/// `eventDescription` (e.g. `An Admin logged in`), the targets its `targetName` and
/// `targetId`; none without an id or a time.
pub fn admin_event(value: &Value) -> Option<Activity> {
    let targets = ["/data/targetName", "/data/targetId"]
        .iter()
        .filter_map(|p| json::str_at(value, p).filter(|t| !t.is_empty()))
        .collect();
    Some(Activity {
        targets,
        outcome: Outcome::Success,
        ..audit_activity(value, ActivityKind::Admin)?
    })
}

/// A security audit event (sign-in or sign-out) as a logon activity; a description
/// that says it failed is a failure.
pub fn security_event(value: &Value) -> Option<Activity> {
    let activity = audit_activity(value, ActivityKind::Logon)?;
    let failed = activity.action.to_ascii_lowercase().contains("fail");
    Some(Activity {
        outcome: if failed {
            Outcome::Failure
        } else {
            Outcome::Success
        },
        ..activity
    })
}

/// A compliance event as user activity: the action is `<resource>.<type>`
/// (`messages.created`, `memberships.deleted`, `files.created` for a download…), the
/// targets the space (`roomId`) and any files' content URLs; none without an id, a
/// time or a resource.
pub fn compliance_event(value: &Value) -> Option<Activity> {
    let resource = json::str_at(value, "resource")?;
    let action = match json::str_at(value, "type") {
        Some(kind) => format!("{resource}.{kind}"),
        None => resource,
    };
    let mut targets: Vec<String> = json::str_at(value, "/data/roomId").into_iter().collect();
    targets.extend(json::strings_at(value, "/data/files"));
    Some(Activity {
        actor: json::str_at(value, "/data/personEmail").or_else(|| json::str_at(value, "actorId")),
        targets,
        outcome: Outcome::Success,
        ..Activity::new(
            json::str_at(value, "id")?,
            json::timestamp_at(value, "created")?,
            ActivityKind::User,
            action,
            json::raw(value),
        )
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sluice_sdk::testing::NEW_YEAR;

    use super::*;
    use crate::api::fake::{self, BASE};

    #[test]
    fn the_published_audit_events_map_to_admin_and_logon_activities() {
        let (Some(admin), Some(security)) = (
            fake::fixture("adminAudit-events-list"),
            fake::fixture("securityAudit-events-list"),
        ) else {
            return;
        };
        let a = admin_event(&admin["items"][0]).unwrap();
        assert_eq!(a.id, "MjQ0ODhiZTYtY2FiMS00ZGRkLTk0NWQtZDFlYjkzOGQ4NGUy");
        assert_eq!(a.kind, ActivityKind::Admin);
        assert_eq!(a.action, "An Admin logged in");
        assert_eq!(a.actor.as_deref(), Some("joe@example.com"));
        assert_eq!(a.ip.as_deref(), Some("128.107.241.191"));
        assert_eq!(a.time, time::parse("2019-01-02T16:58:36.845Z").unwrap());
        assert_eq!(
            a.targets,
            [
                "Acme Inc.",
                "NWIzZTBiZDgtZjg4Ni00MjViLWIzMTgtYWNlYjliN2EwZGFj"
            ]
        );
        assert!(a.user_agent.as_deref().unwrap().starts_with("Mozilla/5.0"));
        assert_eq!(
            serde_json::from_str::<Value>(&a.raw).unwrap(),
            admin["items"][0]
        );

        let s = security_event(&security["items"][0]).unwrap();
        assert_eq!(s.kind, ActivityKind::Logon);
        assert_eq!(s.outcome, Outcome::Success);
        assert_eq!(s.actor.as_deref(), Some("joe@example.com"));
        assert_eq!(s.ip.as_deref(), Some("128.107.241.191"));
    }

    #[test]
    fn compliance_events_are_user_activity_named_resource_dot_type() {
        let event = json!({"id": "e1", "resource": "messages", "type": "created",
            "actorId": "p1", "created": "2024-01-01T00:00:00.000Z",
            "data": {"roomId": "r1", "personEmail": "a@x.test",
                "files": ["https://webexapis.com/v1/contents/c1"]}});
        let a = compliance_event(&event).unwrap();
        assert_eq!(
            (a.kind, a.action.as_str()),
            (ActivityKind::User, "messages.created")
        );
        assert_eq!(a.actor.as_deref(), Some("a@x.test"));
        assert_eq!(a.targets, ["r1", "https://webexapis.com/v1/contents/c1"]);
    }

    #[test]
    fn reads_each_trail_over_since_to_now_then_resumes_at_the_newest_second() {
        let since = NEW_YEAR - 3_600_000;
        let enc = http::encode_component;
        let (from, to) = (
            enc("2023-12-31T23:00:00.000Z"),
            enc("2024-01-01T00:00:00.000Z"),
        );
        let admin = format!("{BASE}/adminAudit/events?orgId=org-1&from={from}&to={to}&max=50");
        let admin2 = format!("{admin}&cursor=n2");
        let security = format!(
            "{BASE}/admin/securityAudit/events?orgId=org-1&startTime={from}&endTime={to}&max=50"
        );
        let events = format!("{BASE}/events?from={from}&to={to}&max=50");
        let ev = |id: &str, at: &str| {
            json!({"id": id, "created": at,
            "data": {"eventDescription": "User updated", "actorEmail": "admin@x.test"}})
        };
        let host = fake::webex(vec![
            (
                admin.clone(),
                fake::linked(
                    &json!({"items": [ev("a2", "2023-12-31T23:30:00.500Z")]}),
                    Some(&admin2),
                ),
            ),
            (
                admin2.clone(),
                fake::json(&json!({"items": [ev("a1", "2023-12-31T23:10:00.000Z")]})),
            ),
            (
                security.clone(),
                fake::json(&json!({"items": [ev("s1", "2023-12-31T23:20:00.000Z")]})),
            ),
            (
                events.clone(),
                fake::json(&json!({"items": [{"id": "c1", "resource": "memberships",
                    "type": "created", "created": "2023-12-31T23:40:00.000Z"}]})),
            ),
        ]);
        let ctx = fake::ctx(50, Some(since));
        let (run, host) = host.run(|| {
            sluice_sdk::testing::run_pages(None, 10, |c| list(&ctx, c.as_deref())).unwrap()
        });
        let urls: Vec<_> = host.requests().iter().map(|r| r.url.clone()).collect();
        assert_eq!(urls, [admin, admin2, security, events]);
        let ids: Vec<_> = run.items.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["a2", "a1", "s1", "c1"]);

        // The next run starts each trail at its newest event's second and drops what
        // it already returned there.
        let again = format!(
            "{BASE}/adminAudit/events?orgId=org-1&from={}&to={to}&max=50",
            enc("2023-12-31T23:30:00.000Z")
        );
        let host = fake::webex(vec![(
            again.clone(),
            fake::json(&json!({"items": [ev("a2", "2023-12-31T23:30:00.500Z"),
                ev("a3", "2023-12-31T23:50:00.000Z")]})),
        )]);
        let cursor = run.cursor.clone();
        let (page, host) = host.run(|| list(&ctx, cursor.as_deref()).unwrap());
        assert_eq!(host.requests()[0].url, again);
        let ids: Vec<_> = page.items.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["a3"], "a2 was returned by the first run");
    }

    #[test]
    fn a_time_range_ends_each_search_at_until() {
        let enc = http::encode_component;
        let (from, until) = (
            enc("2023-12-31T20:00:00.000Z"),
            enc("2023-12-31T21:00:00.000Z"),
        );
        let admin = format!("{BASE}/adminAudit/events?orgId=org-1&from={from}&to={until}&max=50");
        let host = fake::webex(vec![])
            .config("trails", "admin-audit")
            .on_request(|_| Ok(fake::json(&json!({"items": []}))));
        let ctx = Context {
            since: Some(NEW_YEAR - 4 * 3_600_000),
            until: Some(NEW_YEAR - 3 * 3_600_000),
            ..fake::ctx(50, None)
        };
        let (page, host) = host.run(|| list(&ctx, None).unwrap());
        assert_eq!(host.requests()[0].url, admin);
        assert!(!page.more, "the range's one trail is done");
    }

    #[test]
    fn times_are_written_with_milliseconds() {
        assert_eq!(webex_time(NEW_YEAR + 845), "2024-01-01T00:00:00.845Z");
        assert_eq!(webex_time(NEW_YEAR), "2024-01-01T00:00:00.000Z");
    }

    #[test]
    fn trails_come_from_config_in_reading_order() {
        let host =
            sluice_sdk::testing::FakeHost::new().config("trails", "compliance-events, admin-audit");
        let (keys, _) = host.run(trails);
        assert_eq!(keys.unwrap(), [ADMIN_AUDIT, COMPLIANCE_EVENTS]);
        let host = sluice_sdk::testing::FakeHost::new().config("trails", "chat");
        let (keys, _) = host.run(trails);
        assert!(matches!(keys, Err(ConnectorError::InvalidConfig(_))));
    }
}
