//! `list-activities`: the organisation audit log, read incrementally.
//!
//! `GET /orgs/{org}/audit-log?include=all&order=asc&per_page=N&phrase=created:>=T`
//! returns events oldest first and pages with `Link: rel="next"` (GitHub puts its own
//! `after` cursor in that URL). The cursor is the SDK's [`FeedCursor`]: it follows the
//! next link while pages remain (`more` is true), and once caught up the next run
//! restarts the search at `created:>=<ts>` (whole seconds), dropping the events of that
//! second it already returned.
//!
//! In a partitioned first scan the host asks for a time range (`until` set): the search
//! is then `created:<since>..<until - 1 s>` (both ends inclusive, whole seconds), and the
//! range ends when its search does.
//!
//! Audit logs are the one listing that runs to millions of records, so events are not
//! parsed into `Value` trees: each item's text is split off the page, the few fields
//! a record needs are deserialized from it, and the text itself is `raw`.
//!
//! Events are classed by action: Git, pull request, issue and content events are
//! `user` activity, `org.sso_response` is `logon`, everything else is `admin`.

use serde::Deserialize;
use sluice_sdk::prelude::*;

use crate::api::Api;

/// Action prefixes of sign-ins, and of what users did to data rather than
/// administration; every other action is administration.
const KINDS: &[(ActivityKind, &[&str])] = &[
    (ActivityKind::Logon, &["org.sso_response"]),
    (
        ActivityKind::User,
        &[
            "git.",
            "repo.download_zip",
            "pull_request",
            "issue",
            "repository_content",
        ],
    ),
];

/// The fields of an audit event a record needs, read as leniently as `json::str_at`.
#[derive(Default, Deserialize)]
#[serde(default)]
struct AuditEvent {
    #[serde(rename = "_document_id")]
    id: json::Text,
    #[serde(rename = "@timestamp")]
    timestamp: json::Time,
    created_at: json::Time,
    action: json::Text,
    actor: json::Text,
    actor_ip: json::Text,
    user_agent: json::Text,
    actor_location: ActorLocation,
    // What the event acted on, reported in this order.
    user: json::Text,
    team: json::Text,
    repo: json::Text,
    org: json::Text,
}

/// Where GitHub located the actor (by IP).
#[derive(Default, Deserialize)]
#[serde(default)]
struct ActorLocation {
    country_code: json::Text,
}

/// One page of audit events.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<ActivityPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let feed = FeedCursor::resume(cursor, ctx.since)?;
    let url = match &feed.next {
        Some(url) => url.clone(),
        None => search_url(&api, feed.ts, ctx.until),
    };
    let response = api.get(&url).send()?.error_for_status()?;
    let events = response.json_items()?;
    let next = pagination::next_link(&response);
    let items = json::map_items(&events, "audit-log events", |event| activity(event.get()));
    let more = next.is_some();
    Ok(feed.page(items, next, more))
}

/// The first page of a search for events from `since` (ms) on, or of all events;
/// with `until`, only those before it.
fn search_url(api: &Api, since: Option<i64>, until: Option<i64>) -> String {
    let request = api
        .get(api.org_url("/audit-log"))
        .query("include", "all")
        .query("order", "asc")
        .query("per_page", api.per_page());
    // GitHub's ranges include both ends, in whole seconds: the last second before `until`.
    let last = until.and_then(|until| time::to_rfc3339((until - 1).div_euclid(1000) * 1000));
    match (since.and_then(time::to_rfc3339), last) {
        (Some(since), Some(last)) => {
            request.query("phrase", format_args!("created:{since}..{last}"))
        }
        (Some(since), None) => request.query("phrase", format_args!("created:>={since}")),
        (None, Some(last)) => request.query("phrase", format_args!("created:<={last}")),
        (None, None) => request,
    }
    .url()
    .to_owned()
}

/// The activity record for one audit-log event (its JSON text); none without an id
/// or a time, or when it is not a JSON object.
fn activity(event: &str) -> Option<Activity> {
    let fields: AuditEvent = serde_json::from_str(event).ok()?;
    let action = fields.action.0.unwrap_or_default();
    let time = fields.timestamp.0.or(fields.created_at.0)?;
    Some(Activity {
        actor: fields.actor.0,
        targets: [fields.user, fields.team, fields.repo, fields.org]
            .into_iter()
            .filter_map(|target| target.0)
            .collect(),
        ip: fields.actor_ip.0,
        user_agent: fields.user_agent.0,
        location: Location::from_parts(
            fields.actor_location.country_code.0,
            None,
            None,
            None,
            None,
        ),
        ..Activity::new(fields.id.0?, time, kind_of(&action), action, event)
    })
}

/// Which audit trail an action belongs to.
fn kind_of(action: &str) -> ActivityKind {
    ActivityKind::by_prefix(action, KINDS, ActivityKind::Admin)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use sluice_sdk::testing::NEW_YEAR;

    use super::*;
    use crate::api::fake;

    #[test]
    fn maps_the_published_audit_log_example() {
        if !fake::fixtures_present() {
            return;
        }
        let events = fake::fixture("org-audit-log.json");
        let activities: Vec<_> = events
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|event| activity(&event.to_string()))
            .collect();
        assert_eq!(activities.len(), 3);
        let first = &activities[0];
        assert_eq!(first.id, "xJJFlFOhQ6b-5vaAFy9Rjw");
        assert_eq!(first.time, 1_606_929_874_512);
        assert_eq!(first.action, "team.add_member");
        assert_eq!(first.actor.as_deref(), Some("octocat"));
        assert_eq!(
            first.targets,
            ["monalisa", "octo-corp/example-team", "octo-corp"]
        );
        assert_eq!(first.kind, ActivityKind::Admin);
        assert_eq!(first.outcome, Outcome::Unknown);
        assert_eq!(
            activities[2].targets,
            ["mona-org/mona-test-repo", "mona-org"]
        );
    }

    #[test]
    fn the_actor_location_becomes_the_location() {
        let event = r#"{"_document_id":"x","@timestamp":1,"action":"git.clone","actor_location":{"country_code":"de"}}"#;
        let location = activity(event).unwrap().location.unwrap();
        assert_eq!(location.country_code.as_deref(), Some("DE"));
        assert_eq!(
            activity(r#"{"_document_id":"x","@timestamp":1}"#)
                .unwrap()
                .location,
            None
        );
    }

    #[test]
    fn classifies_actions() {
        let user = [
            "git.clone",
            "repo.download_zip",
            "pull_request.merge",
            "issue_comment.update",
            "repository_content.delete",
        ];
        let admin = ["personal_access_token.request_created", "repo.destroy"];
        assert!(user.iter().all(|a| kind_of(a) == ActivityKind::User));
        assert!(admin.iter().all(|a| kind_of(a) == ActivityKind::Admin));
        assert_eq!(kind_of("org.sso_response"), ActivityKind::Logon);
    }

    #[test]
    fn pages_then_resumes_from_the_newest_event() {
        let first = "https://gh.test/orgs/acme/audit-log?include=all&order=asc&per_page=2\
                     &phrase=created%3A%3E%3D2024-01-01T00%3A00%3A00Z";
        let second =
            "https://gh.test/orgs/acme/audit-log?include=all&order=asc&per_page=2&after=MS4x";
        // 1_704_067_205_999 ms is 2024-01-01T00:00:05.999Z: the restart uses whole seconds.
        let resume = "https://gh.test/orgs/acme/audit-log?include=all&order=asc&per_page=2\
                      &phrase=created%3A%3E%3D2024-01-01T00%3A00%3A05Z";
        let event = |id: &str, ts: i64| json!({"_document_id": id, "@timestamp": ts, "action": "org.update_member", "actor": "octocat"});
        let host = fake::github(vec![
            (
                first.into(),
                fake::json(
                    &json!([event("a", NEW_YEAR + 1_000), event("b", NEW_YEAR + 2_000)]),
                    Some(second),
                ),
            ),
            (
                second.into(),
                fake::json(&json!([event("c", NEW_YEAR + 5_999)]), None),
            ),
            // The restart sees `c` again (same second) and a newer `d`.
            (
                resume.into(),
                fake::json(
                    &json!([event("c", NEW_YEAR + 5_999), event("d", NEW_YEAR + 7_000)]),
                    None,
                ),
            ),
        ]);
        let ctx = fake::ctx(2, Some(NEW_YEAR));
        let (pages, host) = host.run(|| sluice_sdk::testing::next_pages(3, |c| list(&ctx, c)));
        assert_eq!(host.requests().len(), 3);
        assert!(pages[0].more);
        assert_eq!(
            pages[0].next_cursor.as_deref(),
            Some(
                format!(
                    r#"{{"next":"{second}","ts":{},"seen":["b"]}}"#,
                    NEW_YEAR + 2_000
                )
                .as_str()
            )
        );
        assert!(!pages[1].more);
        let caught_up = format!(r#"{{"ts":{},"seen":["c"]}}"#, NEW_YEAR + 5_999);
        assert_eq!(pages[1].next_cursor.as_deref(), Some(caught_up.as_str()));
        // The resumed search returns only what is new: `c` was already returned.
        let ids: Vec<_> = pages[2].items.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["d"]);
        assert!(!pages[2].more);
    }

    #[test]
    fn a_time_range_searches_from_since_to_the_second_before_until_and_ends_with_it() {
        let first = "https://gh.test/orgs/acme/audit-log?include=all&order=asc&per_page=2\
                     &phrase=created%3A2024-01-01T00%3A00%3A00Z..2024-01-01T00%3A59%3A59Z";
        let second =
            "https://gh.test/orgs/acme/audit-log?include=all&order=asc&per_page=2&after=MS4y";
        let event = |id: &str, ts: i64| json!({"_document_id": id, "@timestamp": ts, "action": "org.update_member", "actor": "octocat"});
        let host = fake::github(vec![
            (
                first.into(),
                fake::json(
                    &json!([event("a", NEW_YEAR + 1_000), event("b", NEW_YEAR + 2_000)]),
                    Some(second),
                ),
            ),
            (
                second.into(),
                fake::json(&json!([event("c", NEW_YEAR + 3_599_000)]), None),
            ),
        ]);
        let mut ctx = fake::ctx(2, Some(NEW_YEAR));
        ctx.until = Some(NEW_YEAR + 3_600_000);
        let (run, host) = host
            .run(|| sluice_sdk::testing::run_pages(None, 5, |c| list(&ctx, c.as_deref())).unwrap());
        assert_eq!(host.requests().len(), 2, "the range ends with its search");
        let ids: Vec<_> = run.items.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
    }

    #[test]
    fn without_since_or_cursor_reads_everything() {
        if !fake::fixtures_present() {
            return;
        }
        let all = "https://gh.test/orgs/acme/audit-log?include=all&order=asc&per_page=100";
        let host = fake::github(vec![(
            all.into(),
            fake::fixture_response("org-audit-log.json"),
        )]);
        let (page, _) = host.run(|| list(&fake::ctx(500, None), None));
        let page = page.unwrap();
        assert_eq!(page.items.len(), 3);
        assert_eq!(
            page.next_cursor.as_deref(),
            Some(r#"{"ts":1606929874512,"seen":["xJJFlFOhQ6b-5vaAFy9Rjw"]}"#)
        );
        assert!(!page.more);
    }
}
