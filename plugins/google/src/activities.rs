//! `list-activities`: the Reports API's audit trails, read incrementally one after
//! the other.
//!
//! `GET /admin/reports/v1/activity/users/all/applications/{applicationName}` with
//! `startTime` / `endTime` (RFC 3339), `maxResults` (up to 1,000) and `pageToken`.
//! Google answers newest first. The applications read are the config field
//! `applications` (default `login,admin,drive,token`):
//!
//! | application | Sluice kind | what |
//! |---|---|---|
//! | `login`, `saml` | logon | sign-ins, failures, sign-outs |
//! | `admin` | admin | Admin console changes |
//! | `drive`, `token`, and any other | user | Drive file events, OAuth grants and revocations |
//!
//! Each application is one source of the SDK's [`FeedSet`]. A source's search runs from
//! the newest event time it returned before (`ts`; the host's `since` on the first run)
//! to the run's clock (`ctx.now`, so a recorded scan replays to the same requests); the
//! search's bounds and page token are kept as the feed's `next` while it pages, and
//! the events of the boundary second already returned are dropped
//! ([`FeedCursor::advance`]). Google's activity has an `id` of `time`,
//! `uniqueQualifier` and `applicationName`, and one or more `events`: each event is one
//! Sluice activity, keyed `{application}-{time ms}-{uniqueQualifier}` (with `-{n}` for
//! the n-th event of an activity with several).
//!
//! Google documents that events reach the Reports API late (minutes for `login` and
//! `admin`, hours for `drive` and `token` in its "data retention and lag times" page).
//! A search starts at the newest event already read, so an event that arrives later
//! with an older time than that is not read; see the guide.

use serde::{Deserialize, Serialize};
use sluice_sdk::pagination::Source;
use sluice_sdk::prelude::*;

use crate::api::{self, Api, MAX_ACTIVITIES};

/// The applications read when the config names none.
pub const DEFAULT_APPLICATIONS: &str = "login,admin,drive,token";

/// Parameters whose values are what an event acted on.
const TARGET_PARAMETERS: [&str; 12] = [
    "USER_EMAIL",
    "GROUP_EMAIL",
    "ROLE_NAME",
    "APPLICATION_NAME",
    "SETTING_NAME",
    "doc_id",
    "doc_title",
    "target_user",
    "app_name",
    "client_id",
    "affected_email_address",
    "DOMAIN_NAME",
];

/// A search in progress over one application, kept as the feed's `next`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Search {
    /// `startTime` (ms).
    start: i64,
    /// `endTime` (ms).
    end: i64,
    /// The next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}

/// The applications this instance reads, in order.
pub fn applications() -> Vec<String> {
    config::get("applications")
        .filter(|a| !a.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_APPLICATIONS.into())
        .split([',', ' '])
        .map(|a| a.trim().to_owned())
        .filter(|a| !a.is_empty())
        .collect()
}

/// One page of one application's activity.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<ActivityPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let end = ctx.until.unwrap_or(ctx.now);
    FeedSet::resume(cursor, ctx.since)?.step(&applications(), |source| read(&api, end, source))
}

/// Reads one page of `source`, searching up to `end` (ms); says whether the source is
/// done for this run.
fn read(api: &Api, end: i64, source: Source<'_>) -> Result<(Vec<Activity>, bool), ConnectorError> {
    let feed = source.feed;
    let search = match &feed.next {
        Some(next) => Cursor::decode::<Search>(next)?,
        None => Search {
            start: feed.ts.unwrap_or(end - 86_400_000),
            end,
            token: None,
        },
    };
    let app = http::encode_component(source.key);
    let rfc = |ms: i64| time::to_rfc3339(ms).unwrap_or_default();
    let request = api
        .page(
            api.reports(&format!("/activity/users/all/applications/{app}")),
            "maxResults",
            api.page_size(MAX_ACTIVITIES),
            search.token.as_deref(),
        )
        .query("startTime", rfc(search.start))
        // Whole seconds, rounded up: an event in the run's own second is included.
        .query("endTime", rfc(search.end + 999));
    let (entries, token) = api::items_and_token(api.fetch(request)?, "items");
    let mut items: Vec<Activity> = entries.iter().flat_map(activities).collect();
    let next = token.map(|token| {
        Cursor::encode(&Search {
            token: Some(token),
            ..search
        })
    });
    let done = next.is_none();
    feed.advance(&mut items, next);
    Ok((items, done))
}

/// The Sluice kind of an application's events.
pub fn kind_of(application: &str) -> ActivityKind {
    match application {
        "login" | "saml" => ActivityKind::Logon,
        "admin" => ActivityKind::Admin,
        _ => ActivityKind::User,
    }
}

/// The activities of one Reports API activity: one per event.
pub fn activities(value: &Value) -> Vec<Activity> {
    let (Some(time), Some(qualifier)) = (
        json::timestamp_at(value, "/id/time"),
        json::str_at(value, "/id/uniqueQualifier"),
    ) else {
        log::warn("a Reports API activity without id.time or id.uniqueQualifier was skipped");
        return Vec::new();
    };
    let app = json::str_at(value, "/id/applicationName").unwrap_or_default();
    let events = value
        .get("events")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let several = events.len() > 1;
    let actor =
        json::str_at(value, "/actor/email").or_else(|| json::str_at(value, "/actor/profileId"));
    let location = json::str_at(value, "/networkInfo/regionCode").map(|country| Location {
        country_code: Some(country.to_ascii_uppercase()),
        region: json::str_at(value, "/networkInfo/subdivisionCode"),
        city: None,
        latitude: None,
        longitude: None,
    });
    let raw = json::raw(value);
    events
        .iter()
        .enumerate()
        .map(|(n, event)| {
            let name = json::str_at(event, "name").unwrap_or_else(|| "unknown".into());
            let mut id = format!("{app}-{time}-{qualifier}");
            if several {
                id.push_str(&format!("-{n}"));
            }
            let outcome = if name.contains("failure") {
                Outcome::Failure
            } else {
                Outcome::Success
            };
            Activity {
                actor: actor.clone(),
                targets: targets(event),
                ip: json::str_at(value, "ipAddress"),
                location: location.clone(),
                outcome,
                ..Activity::new(id, time, kind_of(&app), name, raw.clone())
            }
        })
        .collect()
}

/// The values of the event's parameters that name what it acted on.
fn targets(event: &Value) -> Vec<String> {
    let Some(parameters) = event.get("parameters").and_then(Value::as_array) else {
        return Vec::new();
    };
    parameters
        .iter()
        .filter(|p| {
            json::str_at(p, "name").is_some_and(|n| TARGET_PARAMETERS.contains(&n.as_str()))
        })
        .filter_map(|p| json::str_at(p, "value"))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake;

    #[test]
    fn the_published_activities_map_to_kinds_outcomes_and_targets() {
        for (app, kind, count) in [
            ("login", ActivityKind::Logon, 2),
            ("admin", ActivityKind::Admin, 3),
            ("drive", ActivityKind::User, 0),
            ("token", ActivityKind::User, 0),
        ] {
            let Some(body) = fake::fixture(&format!("reports-activities.list-{app}")) else {
                return;
            };
            let items: Vec<Activity> = body["items"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(activities)
                .collect();
            assert!(!items.is_empty(), "{app}");
            assert!(items.iter().all(|a| a.kind == kind), "{app}");
            if count > 0 {
                assert_eq!(items.len(), count, "{app}");
            }
        }
        let login = fake::fixture("reports-activities.list-login").unwrap();
        let failed = &activities(&login["items"][0])[0];
        assert_eq!(failed.id, "login-1719825302331--4382093842391887213");
        assert_eq!(failed.action, "login_failure");
        assert_eq!(failed.outcome, Outcome::Failure);
        assert_eq!(failed.actor.as_deref(), Some("bob.contractor@example.com"));
        assert_eq!(failed.ip.as_deref(), Some("203.0.113.57"));
        let admin = fake::fixture("reports-activities.list-admin").unwrap();
        let suspend = &activities(&admin["items"][0])[0];
        assert_eq!(suspend.action, "SUSPEND_USER");
        assert_eq!(suspend.targets, ["bob.contractor@example.com"]);
        assert_eq!(suspend.outcome, Outcome::Success);
    }

    #[test]
    fn each_application_is_searched_to_now_and_resumes_after_its_newest_event() {
        let base = format!(
            "{}/admin/reports/v1/activity/users/all/applications",
            fake::ADMIN
        );
        let event = |t: &str, q: &str| {
            json!({"id": {"time": t, "uniqueQualifier": q, "applicationName": "login"},
                "events": [{"name": "login_success"}]})
        };
        let login = format!(
            "{base}/login?maxResults=2&startTime=2024-07-01T00%3A00%3A00Z&endTime=2024-07-02T00%3A00%3A00Z"
        );
        let login2 = format!(
            "{base}/login?maxResults=2&pageToken=p2&startTime=2024-07-01T00%3A00%3A00Z&endTime=2024-07-02T00%3A00%3A00Z"
        );
        let admin = format!(
            "{base}/admin?maxResults=2&startTime=2024-07-01T00%3A00%3A00Z&endTime=2024-07-02T00%3A00%3A00Z"
        );
        let host = fake::google(vec![
            (
                login.clone(),
                fake::json(&json!({"items": [event("2024-07-01T10:00:00.500Z", "b"),
                    event("2024-07-01T09:00:00Z", "a")], "nextPageToken": "p2"})),
            ),
            (
                login2.clone(),
                fake::json(&json!({"items": [event("2024-07-01T08:00:00Z", "z")]})),
            ),
            (
                admin.clone(),
                fake::json(&json!({"kind": "admin#reports#activities"})),
            ),
        ])
        .config("applications", "login, admin");
        let mut ctx = fake::ctx(2, time::parse("2024-07-01T00:00:00Z"));
        ctx.now = time::parse("2024-07-02T00:00:00Z").unwrap();
        let (run, host) = host.run(|| {
            sluice_sdk::testing::run_pages(None, 10, |c| list(&ctx, c.as_deref())).unwrap()
        });
        let urls: Vec<_> = host.requests().iter().map(|r| r.url.clone()).collect();
        assert_eq!(urls, [login, login2, admin]);
        assert_eq!(run.items.len(), 3);
        let cursor = run.cursor.unwrap();
        assert!(
            cursor.contains(r#""login":{"ts":1719828000500,"seen":["login-1719828000500-b"]}"#),
            "{cursor}"
        );
    }
}
