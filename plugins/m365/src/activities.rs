//! `list-activities`: three audit trails behind one opaque cursor.
//!
//! | source | component | kind | API |
//! |---|---|---|---|
//! | sign-ins | `sign-ins` | logon | `GET /auditLogs/signIns?$filter=createdDateTime ge T` |
//! | directory audits | `management-events` | admin | `GET /auditLogs/directoryAudits?$filter=activityDateTime ge T` |
//! | Office 365 activity | `activities` | user (logon for STS logons) | Management Activity API |
//!
//! Each call does one step of one enabled source; sources are visited in that order, so
//! one incremental run (`more` false at its end) reads each of them once. Graph sources
//! page by `@odata.nextLink` and resume at the newest event time seen (`ge`, whole
//! seconds: the boundary second is re-read, which is idempotent since activities are
//! keyed by id).
//!
//! The Management Activity API needs a subscription per content type
//! (`POST subscriptions/start`, once, after `GET subscriptions/list`), then lists content
//! blobs per content type in windows of at most 24 hours no older than 7 days
//! (`GET subscriptions/content?contentType=&startTime=&endTime=`, paged by the
//! `NextPageUri` header) and each blob (`GET {contentUri}`) is a JSON array of events. The
//! position per content type is the end of the last completed window.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
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

/// The audit trails, in visiting order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    SignIns,
    DirectoryAudits,
    Management,
}

impl Source {
    const ALL: [Source; 3] = [Self::SignIns, Self::DirectoryAudits, Self::Management];

    fn key(self) -> &'static str {
        match self {
            Self::SignIns => "signins",
            Self::DirectoryAudits => "audits",
            Self::Management => "management",
        }
    }

    fn component(self) -> Component {
        match self {
            Self::SignIns => Component::SignIns,
            Self::DirectoryAudits => Component::ManagementEvents,
            Self::Management => Component::Activities,
        }
    }
}

/// One source's position.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Position {
    /// The next page of the current query or listing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next: Option<String>,
    /// Graph: newest event time seen (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ts: Option<i64>,
    /// Management: subscriptions are started.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    started: bool,
    /// Management: index of the content type being read.
    #[serde(default, skip_serializing_if = "is_zero")]
    ct: usize,
    /// Management: end of the window being listed (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    end: Option<i64>,
    /// Management: end of the last completed window per content type (ms).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    from: BTreeMap<String, i64>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The whole feed's position.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct FeedCursor {
    /// Index into the enabled sources of the one to step next.
    #[serde(default, skip_serializing_if = "is_zero")]
    phase: usize,
    /// Per source key.
    #[serde(default)]
    sources: BTreeMap<String, Position>,
    /// The host's `since` on the first run, where sources without a position start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    since: Option<i64>,
}

/// Now, in ms since the epoch (WASI's wall clock).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// One step of the feed.
pub fn list(ctx: &Context, cursor: Option<&str>, now: i64) -> Result<ActivityPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let sources: Vec<Source> = Source::ALL
        .into_iter()
        .filter(|s| api.enabled(s.component()))
        .collect();
    if sources.is_empty() {
        return Err(ConnectorError::unsupported(
            "no activity component (sign-ins, management-events, activities) is enabled",
        ));
    }
    let mut feed = match cursor {
        Some(cursor) => Cursor::decode::<FeedCursor>(cursor)?,
        None => FeedCursor {
            since: ctx.since,
            ..FeedCursor::default()
        },
    };
    if feed.phase >= sources.len() {
        feed.phase = 0;
    }
    let source = sources[feed.phase];
    let mut position = feed.sources.remove(source.key()).unwrap_or_default();
    let (items, source_done) = match source {
        Source::SignIns | Source::DirectoryAudits => {
            graph_step(&api, source, &mut position, feed.since)?
        }
        Source::Management => management_step(&api, &mut position, feed.since, now)?,
    };
    feed.sources.insert(source.key().to_owned(), position);
    let mut more = true;
    if source_done {
        feed.phase += 1;
        if feed.phase >= sources.len() {
            feed.phase = 0;
            more = false;
        }
    }
    Ok(ActivityPage {
        items,
        next_cursor: Some(Cursor::encode(&feed)),
        more,
    })
}

/// One page of sign-ins or directory audits; true when the query is exhausted.
fn graph_step(
    api: &Api,
    source: Source,
    position: &mut Position,
    since: Option<i64>,
) -> Result<(Vec<Activity>, bool), ConnectorError> {
    let (path, time_field) = match source {
        Source::SignIns => ("/auditLogs/signIns", "createdDateTime"),
        _ => ("/auditLogs/directoryAudits", "activityDateTime"),
    };
    let url = match position.next.take() {
        Some(url) => url,
        None => {
            let request = http::get(api.graph(path)).query("$top", api.top().min(MAX_AUDIT_TOP));
            match position.ts.or(since).and_then(time::to_rfc3339) {
                Some(t) => request.query("$filter", format_args!("{time_field} ge {t}")),
                None => request,
            }
            .url()
            .to_owned()
        }
    };
    let (events, next) = api.collection(&url)?;
    let items = match source {
        Source::SignIns => json::map_items(&events, "sign-ins", sign_in),
        _ => json::map_items(&events, "directory audits", directory_audit),
    };
    position.ts = items.iter().map(|a| a.time).chain(position.ts).max();
    let done = next.is_none();
    position.next = next;
    Ok((items, done))
}

/// One listing page of the Management Activity API with its blobs; true when every
/// content type has been read up to now.
fn management_step(
    api: &Api,
    position: &mut Position,
    since: Option<i64>,
    now: i64,
) -> Result<(Vec<Activity>, bool), ConnectorError> {
    let types = api.content_types();
    if !position.started {
        start_subscriptions(api, types)?;
        position.started = true;
    }
    let Some(content_type) = types.get(position.ct).cloned() else {
        position.ct = 0;
        return Ok((Vec::new(), true));
    };
    let url = match position.next.take() {
        Some(url) => url,
        None => {
            let start = position
                .from
                .get(&content_type)
                .copied()
                .or(since)
                .unwrap_or(now - WINDOW_MS)
                .max(now - RETENTION_MS);
            let end = (start + WINDOW_MS).min(now);
            // Windows shorter than a minute would round to nothing (whole seconds) and
            // content is published minutes late anyway.
            if end - start < MIN_WINDOW_MS {
                return Ok((Vec::new(), advance_content_type(position, types.len())));
            }
            position.end = Some(end);
            http::get(api.feed("/subscriptions/content"))
                .query("contentType", &content_type)
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
    position.next = listing
        .header("nextpageuri")
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned);
    if position.next.is_some() {
        return Ok((items, false));
    }
    let end = position.end.take().unwrap_or(now);
    position.from.insert(content_type, end);
    // A window that ends before now leaves more windows of this content type.
    if end < now {
        return Ok((items, false));
    }
    Ok((items, advance_content_type(position, types.len())))
}

/// Moves to the next content type; true (and back to the first) after the last.
fn advance_content_type(position: &mut Position, count: usize) -> bool {
    position.ct += 1;
    if position.ct >= count {
        position.ct = 0;
        true
    } else {
        false
    }
}

/// The Management API's time format: `YYYY-MM-DDTHH:MM:SS`, UTC.
fn mgmt_time(ms: i64) -> String {
    time::to_rfc3339(ms)
        .unwrap_or_default()
        .trim_end_matches('Z')
        .to_owned()
}

/// Starts the subscriptions `types` that `subscriptions/list` does not show enabled.
fn start_subscriptions(api: &Api, types: &[String]) -> Result<(), ConnectorError> {
    let list: Vec<Value> = api
        .get(api.feed("/subscriptions/list"))
        .send()?
        .error_for_status()?
        .json()?;
    for content_type in types {
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
    }
    Ok(())
}

/// The record for a Graph `signIn`.
pub fn sign_in(e: &Value) -> Option<Activity> {
    let coordinate = |name: &str| {
        e.pointer(&format!("/location/geoCoordinates/{name}"))
            .and_then(Value::as_f64)
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
        id: json::str_at(e, "id")?,
        time: json::timestamp_at(e, "createdDateTime")?,
        kind: ActivityKind::Logon,
        actor: json::str_at(e, "userPrincipalName").or_else(|| json::str_at(e, "userId")),
        action: if json::bool_at(e, "isInteractive") == Some(false) {
            "nonInteractiveSignIn".into()
        } else {
            "signIn".into()
        },
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
        raw: json::raw(e),
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
        location: None,
        session_id: None,
        id: json::str_at(e, "id")?,
        time: json::timestamp_at(e, "activityDateTime")?,
        kind: ActivityKind::Admin,
        actor: json::str_at(e, "/initiatedBy/user/userPrincipalName")
            .or_else(|| json::str_at(e, "/initiatedBy/user/id"))
            .or_else(|| json::str_at(e, "/initiatedBy/app/displayName")),
        action: json::str_at(e, "activityDisplayName").unwrap_or_default(),
        targets,
        ip: json::str_at(e, "/initiatedBy/user/ipAddress"),
        user_agent: None,
        outcome: match json::str_at(e, "result").as_deref() {
            Some("success") => Outcome::Success,
            Some("failure" | "timeout") => Outcome::Failure,
            _ => Outcome::Unknown,
        },
        raw: json::raw(e),
    })
}

/// The record for a Management Activity API event (common schema). Record type 15
/// (`AzureActiveDirectoryStsLogon`) is a sign-in; the rest is user activity.
pub fn office_event(e: &Value) -> Option<Activity> {
    Some(Activity {
        location: None,
        session_id: None,
        id: json::str_at(e, "Id")?,
        time: json::timestamp_at(e, "CreationTime")?,
        kind: if json::i64_at(e, "RecordType") == Some(15) {
            ActivityKind::Logon
        } else {
            ActivityKind::User
        },
        actor: json::str_at(e, "UserId"),
        action: json::str_at(e, "Operation").unwrap_or_default(),
        targets: json::str_at(e, "ObjectId").into_iter().collect(),
        ip: json::str_at(e, "ClientIP"),
        user_agent: json::str_at(e, "UserAgent"),
        outcome: match json::str_at(e, "ResultStatus").as_deref() {
            Some("Succeeded" | "Success" | "PartiallySucceeded" | "True") => Outcome::Success,
            Some("Failed" | "Failure" | "False") => Outcome::Failure,
            _ => Outcome::Unknown,
        },
        raw: json::raw(e),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sluice_sdk::http::Response;

    use super::*;
    use crate::api::fake;

    /// 2024-01-01T00:00:00Z.
    const NEW_YEAR: i64 = 1_704_067_200_000;

    #[test]
    fn published_sign_in_and_audit_examples_parse_into_records() {
        if !fake::fixtures_present() {
            return;
        }
        for name in ["list-signins.json", "list-signins-filtered-top10.json"] {
            let (items, next) = crate::api::collection_parts(&fake::fixture(name));
            let acts: Vec<_> = items.iter().filter_map(sign_in).collect();
            assert_eq!(acts.len(), items.len(), "{name}");
            assert!(next.is_some() && !acts.is_empty());
            assert_eq!(acts[0].kind, ActivityKind::Logon);
            assert_eq!(acts[0].outcome, Outcome::Success);
            assert_eq!(acts[0].actor.as_deref(), Some("testaccount1@contoso.com"));
            assert!(acts[0].session_id.is_some(), "{name}: correlationId");
        }
        let (items, _) =
            crate::api::collection_parts(&fake::fixture("list-signins-filtered-top10.json"));
        let location = sign_in(&items[0]).unwrap().location.unwrap();
        assert_eq!(location.country_code.as_deref(), Some("US"));
        assert_eq!(location.city.as_deref(), Some("Redmond"));
        for name in [
            "list-directory-audits.json",
            "list-directory-audits-filter-initiatedby.json",
        ] {
            let (items, _) = crate::api::collection_parts(&fake::fixture(name));
            let acts: Vec<_> = items.iter().filter_map(directory_audit).collect();
            assert_eq!(acts.len(), items.len(), "{name}");
            assert!(!acts.is_empty());
            assert_eq!(acts[0].kind, ActivityKind::Admin);
        }
        let (items, _) = crate::api::collection_parts(&fake::fixture("list-directory-audits.json"));
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
            let one = list(&ctx, None, NEW_YEAR).unwrap();
            let two = list(&ctx, one.next_cursor.as_deref(), NEW_YEAR).unwrap();
            let three = list(&ctx, two.next_cursor.as_deref(), NEW_YEAR).unwrap();
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
        let (page, host) = host.run(|| list(&ctx, None, now).unwrap());
        assert_eq!(host.requests().len(), 4, "{:?}", host.requests());
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.items[0].kind, ActivityKind::User);
        assert_eq!(page.items[1].kind, ActivityKind::Logon);
        assert_eq!(page.items[1].outcome, Outcome::Failure);
        assert!(!page.more);
    }
}
