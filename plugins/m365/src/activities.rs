//! `list-activities`: the tenant's audit trails behind one cursor, the SDK's
//! [`FeedSet`], one source per trail:
//!
//! | source key | component | kind | API |
//! |---|---|---|---|
//! | `signins` | `sign-ins` | logon | `GET /auditLogs/signIns?$filter=createdDateTime ge T` |
//! | `audits` | `management-events` | admin | `GET /auditLogs/directoryAudits?$filter=activityDateTime ge T` |
//! | each content type (`Audit.Exchange`, …) | `activities` | user (logon for STS logons) | Management Activity API |
//!
//! Each call reads one page of one enabled source, in that order, so one incremental
//! run (`more` false at its end) reads each of them once. Graph sources page by
//! `@odata.nextLink` and resume at the newest event time seen (`ge`, whole seconds; the
//! SDK's [`FeedCursor`] drops the boundary second's events already returned).
//!
//! The Management Activity API needs a subscription per content type
//! (`POST subscriptions/start`, after `GET subscriptions/list`; done the first time a
//! content type is read, so one added to the config later is started too), then lists
//! content blobs per content type in windows of at most 24 hours no older than 7 days
//! (`GET subscriptions/content?contentType=&startTime=&endTime=`, paged by the
//! `NextPageUri` header) and each blob (`GET {contentUri}`) is a JSON array of events.
//! A content type's position is the end of the window being read (`ts`) and the
//! listing's next page (`next`): once a window's listing ends, the next call lists the
//! window after it, until one ends now.
//!
//! Cursors of the 0.1 connector resume Graph sources where they were; content types
//! start again at the `since` of their first run (at most 7 days back).

use sluice_sdk::pagination::Source;
use sluice_sdk::prelude::*;

use crate::api::{Api, Component};

/// signIns' and directoryAudits' largest page.
const MAX_AUDIT_TOP: u32 = 1_000;
const HOUR_MS: i64 = 3_600_000;
/// The Management API lists content at most 24 h at a time…
const WINDOW_MS: i64 = 24 * HOUR_MS;
/// Shortest window worth listing.
const MIN_WINDOW_MS: i64 = 60_000;
/// …and at most 7 days back (a minute's margin).
const RETENTION_MS: i64 = 7 * 24 * HOUR_MS - 60_000;

/// Source key of the sign-ins.
const SIGN_INS: &str = "signins";
/// Source key of the directory audits.
const DIRECTORY_AUDITS: &str = "audits";

/// One page of the feed, read at the host's clock (`ctx.now`: the scan run's start,
/// or the recorded one in a replay, so the windows asked for are the same).
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<ActivityPage, ConnectorError> {
    list_at(ctx, cursor, ctx.now)
}

/// One page of the feed, read at `now` (ms).
fn list_at(ctx: &Context, cursor: Option<&str>, now: i64) -> Result<ActivityPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let mut sources = Vec::new();
    if api.enabled(Component::SignIns) {
        sources.push(SIGN_INS.to_owned());
    }
    if api.enabled(Component::ManagementEvents) {
        sources.push(DIRECTORY_AUDITS.to_owned());
    }
    if api.enabled(Component::Activities) {
        sources.extend(api.content_types().iter().cloned());
    }
    if sources.is_empty() {
        return Err(ConnectorError::unsupported(
            "no activity component (sign-ins, management-events, activities) is enabled",
        ));
    }
    FeedSet::resume(cursor, ctx.since)?.step(&sources, |source| match source.key {
        SIGN_INS | DIRECTORY_AUDITS => graph_step(&api, source),
        _ => management_step(&api, source, now),
    })
}

/// One page of sign-ins or directory audits; true when the query is exhausted.
fn graph_step(api: &Api, source: Source<'_>) -> Result<(Vec<Activity>, bool), ConnectorError> {
    let sign_ins = source.key == SIGN_INS;
    let (path, time_field) = if sign_ins {
        ("/auditLogs/signIns", "createdDateTime")
    } else {
        ("/auditLogs/directoryAudits", "activityDateTime")
    };
    let feed = source.feed;
    let url = match feed.next.take() {
        Some(url) => url,
        None => {
            let request = http::get(api.graph(path)).query("$top", api.top().min(MAX_AUDIT_TOP));
            match feed.ts.and_then(time::to_rfc3339) {
                Some(t) => request.query("$filter", format_args!("{time_field} ge {t}")),
                None => request,
            }
            .url()
            .to_owned()
        }
    };
    let (events, next) = api.collection(&url)?;
    let mut items = if sign_ins {
        json::map_items(&events, "sign-ins", sign_in)
    } else {
        json::map_items(&events, "directory audits", directory_audit)
    };
    feed.advance(&mut items, next);
    Ok((items, feed.next.is_none()))
}

/// One listing page of content type `source.key` with its blobs; true when the
/// content type has been read up to now.
fn management_step(
    api: &Api,
    source: Source<'_>,
    now: i64,
) -> Result<(Vec<Activity>, bool), ConnectorError> {
    let content_type = source.key;
    if source.new {
        start_subscription(api, content_type)?;
    }
    let feed = source.feed;
    let url = match feed.next.take() {
        Some(url) => url,
        None => {
            let start = feed.ts.unwrap_or(now - WINDOW_MS).max(now - RETENTION_MS);
            let end = (start + WINDOW_MS).min(now);
            // Windows shorter than a minute would round to nothing (whole seconds) and
            // content is published minutes late anyway.
            if end - start < MIN_WINDOW_MS {
                return Ok((Vec::new(), true));
            }
            feed.ts = Some(end);
            http::get(api.feed("/subscriptions/content"))
                .query("contentType", content_type)
                .query("startTime", mgmt_time(start))
                .query("endTime", mgmt_time(end))
                .url()
                .to_owned()
        }
    };
    let listing = api.get(&url).send()?.error_for_status()?;
    let blobs: Vec<Value> = listing.json()?;
    let mut items = Vec::new();
    for blob in &blobs {
        let Some(uri) = json::str_at(blob, "contentUri") else {
            continue;
        };
        let events: Vec<Value> = api.get(uri).send()?.error_for_status()?.json()?;
        items.extend(json::map_items(&events, "Office 365 events", office_event));
    }
    feed.next = listing
        .header("nextpageuri")
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned);
    // A window that ends before now leaves more windows of this content type.
    let done = feed.next.is_none() && feed.ts.is_some_and(|end| end >= now);
    Ok((items, done))
}

/// The Management API's time format: `YYYY-MM-DDTHH:MM:SS`, UTC.
fn mgmt_time(ms: i64) -> String {
    time::to_rfc3339(ms)
        .unwrap_or_default()
        .trim_end_matches('Z')
        .to_owned()
}

/// Starts the subscription of `content_type` unless `subscriptions/list` shows it
/// enabled.
fn start_subscription(api: &Api, content_type: &str) -> Result<(), ConnectorError> {
    let list: Vec<Value> = api
        .get(api.feed("/subscriptions/list"))
        .send()?
        .error_for_status()?
        .json()?;
    let enabled = list.iter().any(|s| {
        json::str_at(s, "contentType").as_deref() == Some(content_type)
            && json::str_at(s, "status").is_some_and(|st| st.eq_ignore_ascii_case("enabled"))
    });
    if !enabled {
        http::post(api.feed("/subscriptions/start"))
            .query("contentType", content_type)
            .send()?
            .error_for_status()?;
    }
    Ok(())
}

/// The record for a Graph `signIn`.
pub fn sign_in(e: &Value) -> Option<Activity> {
    let coordinate = |name: &str| {
        e.pointer(&format!("/location/geoCoordinates/{name}"))
            .and_then(Value::as_f64)
    };
    let action = if json::bool_at(e, "isInteractive") == Some(false) {
        "nonInteractiveSignIn"
    } else {
        "signIn"
    };
    Some(Activity {
        location: Location::from_parts(
            json::str_at(e, "/location/countryOrRegion"),
            json::str_at(e, "/location/state"),
            json::str_at(e, "/location/city"),
            coordinate("latitude"),
            coordinate("longitude"),
        ),
        // `sessionId` where Graph sends it, else the correlation id that links the
        // sign-in to the requests made with its token.
        session_id: json::str_at(e, "sessionId").or_else(|| json::str_at(e, "correlationId")),
        actor: json::str_at(e, "userPrincipalName").or_else(|| json::str_at(e, "userId")),
        targets: ["appDisplayName", "resourceDisplayName"]
            .iter()
            .filter_map(|f| json::str_at(e, f))
            .collect(),
        ip: json::str_at(e, "ipAddress"),
        user_agent: json::str_at(e, "/deviceDetail/browser"),
        outcome: match json::i64_at(e, "/status/errorCode") {
            Some(0) => Outcome::Success,
            Some(_) => Outcome::Failure,
            None => Outcome::Unknown,
        },
        ..Activity::new(
            json::str_at(e, "id")?,
            json::timestamp_at(e, "createdDateTime")?,
            ActivityKind::Logon,
            action,
            json::raw(e),
        )
    })
}

/// The record for a Graph `directoryAudit`.
pub fn directory_audit(e: &Value) -> Option<Activity> {
    let targets = json::at(e, "targetResources")
        .and_then(Value::as_array)
        .map(|targets| {
            targets
                .iter()
                .filter_map(|t| {
                    json::str_at(t, "userPrincipalName")
                        .or_else(|| json::str_at(t, "displayName"))
                        .or_else(|| json::str_at(t, "id"))
                })
                .collect()
        })
        .unwrap_or_default();
    Some(Activity {
        actor: json::str_at(e, "/initiatedBy/user/userPrincipalName")
            .or_else(|| json::str_at(e, "/initiatedBy/user/id"))
            .or_else(|| json::str_at(e, "/initiatedBy/app/displayName")),
        targets,
        ip: json::str_at(e, "/initiatedBy/user/ipAddress"),
        outcome: Outcome::from_word(
            json::str_at(e, "result").as_deref(),
            &["success"],
            &["failure", "timeout"],
        ),
        ..Activity::new(
            json::str_at(e, "id")?,
            json::timestamp_at(e, "activityDateTime")?,
            ActivityKind::Admin,
            json::str_at(e, "activityDisplayName").unwrap_or_default(),
            json::raw(e),
        )
    })
}

/// The record for a Management Activity API event (common schema). Record type 15
/// (`AzureActiveDirectoryStsLogon`) is a sign-in; the rest is user activity.
pub fn office_event(e: &Value) -> Option<Activity> {
    let kind = if json::i64_at(e, "RecordType") == Some(15) {
        ActivityKind::Logon
    } else {
        ActivityKind::User
    };
    Some(Activity {
        actor: json::str_at(e, "UserId"),
        targets: json::str_at(e, "ObjectId").into_iter().collect(),
        ip: json::str_at(e, "ClientIP"),
        user_agent: json::str_at(e, "UserAgent"),
        outcome: Outcome::from_word(
            json::str_at(e, "ResultStatus").as_deref(),
            &["Succeeded", "Success", "PartiallySucceeded", "True"],
            &["Failed", "Failure", "False"],
        ),
        ..Activity::new(
            json::str_at(e, "Id")?,
            json::timestamp_at(e, "CreationTime")?,
            kind,
            json::str_at(e, "Operation").unwrap_or_default(),
            json::raw(e),
        )
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sluice_sdk::http::Response;

    use sluice_sdk::testing::{NEW_YEAR, run_pages};

    use super::*;
    use crate::api::fake;

    #[test]
    fn published_sign_in_and_audit_examples_parse_into_records() {
        let Some(fixtures) = fake::fixtures() else {
            return;
        };
        let fixture = |name: &str| fixtures.json(name);
        for name in ["list-signins.json", "list-signins-filtered-top10.json"] {
            let (items, next) = crate::api::collection_parts(fixture(name));
            let acts: Vec<_> = items.iter().filter_map(sign_in).collect();
            assert_eq!(acts.len(), items.len(), "{name}");
            assert!(next.is_some() && !acts.is_empty());
            assert_eq!(acts[0].kind, ActivityKind::Logon);
            assert_eq!(acts[0].outcome, Outcome::Success);
            assert_eq!(acts[0].actor.as_deref(), Some("testaccount1@contoso.com"));
            assert!(acts[0].session_id.is_some(), "{name}: correlationId");
        }
        let (items, _) = crate::api::collection_parts(fixture("list-signins-filtered-top10.json"));
        let location = sign_in(&items[0]).unwrap().location.unwrap();
        assert_eq!(location.country_code.as_deref(), Some("US"));
        assert_eq!(location.city.as_deref(), Some("Redmond"));
        for name in [
            "list-directory-audits.json",
            "list-directory-audits-filter-initiatedby.json",
        ] {
            let (items, _) = crate::api::collection_parts(fixture(name));
            let acts: Vec<_> = items.iter().filter_map(directory_audit).collect();
            assert_eq!(acts.len(), items.len(), "{name}");
            assert!(!acts.is_empty());
            assert_eq!(acts[0].kind, ActivityKind::Admin);
        }
        let (items, _) = crate::api::collection_parts(fixture("list-directory-audits.json"));
        let audit = directory_audit(&items[0]).unwrap();
        assert_eq!(audit.action, "Add member to group");
        assert_eq!(audit.actor.as_deref(), Some("bob@wingtiptoysonline.com"));
    }

    #[test]
    fn sources_are_visited_in_turn_and_resume_after_the_newest_event() {
        let signins = "https://graph.test/v1.0/auditLogs/signIns?%24top=5\
                       &%24filter=createdDateTime%20ge%202024-01-01T00%3A00%3A00Z";
        let audits = "https://graph.test/v1.0/auditLogs/directoryAudits?%24top=5\
                      &%24filter=activityDateTime%20ge%202024-01-01T00%3A00%3A00Z";
        let resume = "https://graph.test/v1.0/auditLogs/signIns?%24top=5\
                      &%24filter=createdDateTime%20ge%202024-01-01T00%3A00%3A09Z";
        let ev = |id: &str, s: i64| json!({"id": id, "createdDateTime": time::to_rfc3339(NEW_YEAR + s * 1000), "status": {"errorCode": 1}});
        let host = fake::tenant(
            Some("sign-ins,management-events"),
            vec![
                (
                    signins.into(),
                    fake::json(&json!({"value": [ev("a", 9), ev("b", 3)]})),
                ),
                (
                    audits.into(),
                    fake::json(
                        &json!({"value": [{"id": "x", "activityDateTime": "2024-01-01T00:00:05Z", "result": "success"}]}),
                    ),
                ),
                (resume.into(), fake::json(&json!({"value": []}))),
            ],
        );
        let ctx = fake::ctx(5, Some(NEW_YEAR));
        let (pages, host) = host.run(|| {
            let one = list_at(&ctx, None, NEW_YEAR).unwrap();
            let two = list_at(&ctx, one.next_cursor.as_deref(), NEW_YEAR).unwrap();
            let three = list_at(&ctx, two.next_cursor.as_deref(), NEW_YEAR).unwrap();
            [one, two, three]
        });
        assert_eq!(host.requests().len(), 3, "{:?}", host.requests());
        assert!(pages[0].more && !pages[1].more);
        assert_eq!(pages[0].items[0].outcome, Outcome::Failure);
        assert_eq!(pages[1].items[0].kind, ActivityKind::Admin);
        assert!(pages[2].items.is_empty() && pages[2].more);
    }

    #[test]
    fn management_content_starts_subscriptions_and_reads_blobs() {
        let now = NEW_YEAR + HOUR_MS;
        let list_url = "https://manage.test/api/v1.0/contoso/activity/feed/subscriptions/list";
        let start = "https://manage.test/api/v1.0/contoso/activity/feed/subscriptions/start?contentType=Audit.Exchange";
        let content = "https://manage.test/api/v1.0/contoso/activity/feed/subscriptions/content?contentType=Audit.Exchange\
                       &startTime=2024-01-01T00%3A00%3A00&endTime=2024-01-01T01%3A00%3A00";
        let blob = "https://manage.test/blob/1";
        let host = fake::tenant(Some("activities"), vec![
            (list_url.into(), fake::json(&json!([]))),
            (start.into(), fake::json(&json!({"contentType": "Audit.Exchange", "status": "enabled"}))),
            (content.into(), fake::json(&json!([{"contentUri": blob, "contentId": "1"}]))),
            (blob.into(), Response::new(200, vec![], json!([
                {"Id": "e1", "CreationTime": "2024-01-01T00:10:00", "Operation": "MailItemsAccessed", "UserId": "a@contoso.com", "ResultStatus": "Succeeded", "RecordType": 2},
                {"Id": "e2", "CreationTime": "2024-01-01T00:11:00", "Operation": "UserLoggedIn", "RecordType": 15, "ResultStatus": "Failed"}
            ]).to_string())),
        ])
        .config("content_types", "Audit.Exchange");
        let ctx = fake::ctx(5, Some(NEW_YEAR));
        let (page, host) = host.run(|| list_at(&ctx, None, now).unwrap());
        assert_eq!(host.requests().len(), 4, "{:?}", host.requests());
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.items[0].kind, ActivityKind::User);
        assert_eq!(page.items[1].kind, ActivityKind::Logon);
        assert_eq!(page.items[1].outcome, Outcome::Failure);
        assert!(!page.more);
    }

    /// Content older than a day is listed window by window, and the next run lists
    /// only what came after the last window, without starting the subscription again.
    #[test]
    fn management_content_is_read_in_day_windows_and_never_twice() {
        let now = NEW_YEAR + 30 * HOUR_MS;
        let feed = "https://manage.test/api/v1.0/contoso/activity/feed";
        let window = |start: &str, end: &str| {
            format!(
                "{feed}/subscriptions/content?contentType=Audit.General\
                 &startTime=2024-01-{start}&endTime=2024-01-{end}"
            )
        };
        let first = window("01T00%3A00%3A00", "02T00%3A00%3A00");
        let second = window("02T00%3A00%3A00", "02T06%3A00%3A00");
        let blob = "https://manage.test/blob/2";
        let event = json!([{"Id": "e1", "CreationTime": "2024-01-01T10:00:00", "Operation": "FileAccessed", "RecordType": 6}]);
        let routes = vec![
            (
                format!("{feed}/subscriptions/list"),
                fake::json(&json!([{"contentType": "Audit.General", "status": "enabled"}])),
            ),
            (first.clone(), fake::json(&json!([]))),
            (second.clone(), fake::json(&json!([{"contentUri": blob}]))),
            (blob.into(), fake::json(&event)),
        ];
        let host =
            fake::tenant(Some("activities"), routes).config("content_types", "Audit.General");
        let ctx = fake::ctx(5, Some(NEW_YEAR));
        let (runs, host) = host.run(|| {
            let one = run_pages(None, 10, |c| list_at(&ctx, c.as_deref(), now)).unwrap();
            let again = run_pages(one.cursor.clone(), 10, |c| {
                list_at(&ctx, c.as_deref(), now + 30_000)
            })
            .unwrap();
            (one, again)
        });
        let urls: Vec<_> = host.requests().iter().map(|r| r.url.as_str()).collect();
        // The subscription was already enabled: listed, not started.
        assert_eq!(
            urls,
            [&format!("{feed}/subscriptions/list"), &first, &second, blob]
        );
        assert_eq!((runs.0.calls, runs.0.items.len()), (2, 1));
        assert_eq!((runs.1.calls, runs.1.items.len()), (1, 0));
    }
}
