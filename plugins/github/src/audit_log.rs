//! `list-activities`: the organisation audit log, read incrementally.
//!
//! `GET /orgs/{org}/audit-log?include=all&order=asc&per_page=N&phrase=created:>=T`
//! returns events oldest first and pages with `Link: rel="next"` (GitHub puts its own
//! `after` cursor in that URL). The cursor is compact JSON:
//!
//! - `{"next":"<url>","ts":<ms>}` while pages remain (`more` is true);
//! - `{"ts":<ms>}` once caught up: the next incremental run restarts the search at
//!   `created:>=<ts>` (whole seconds). Re-reading the events of that second is
//!   harmless, as the host keys activities by `_document_id`.
//!
//! `ts` is the newest event time seen so far (starting from the host's `since`), so a
//! caught-up cursor never moves backwards, even after an empty page.
//!
//! Audit logs are the one listing that runs to millions of records, so events are not
//! parsed into `Value` trees: each item's text is split off the page, the few fields
//! a record needs are deserialized from it, and the text itself is `raw`.
//!
//! Events are classed by action: Git, pull request, issue and content events are
//! `user` activity, `org.sso_response` is `logon`, everything else is `admin`.

use serde::{Deserialize, Serialize};
use sluice_sdk::prelude::*;

use crate::api::Api;

/// Where the next `list-activities` call continues.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct AuditCursor {
    /// The next page of the current search, while there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next: Option<String>,
    /// Newest event time seen (ms), where a new search starts once caught up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ts: Option<i64>,
}

/// Action prefixes that record what users did to data rather than administration.
const USER_ACTION_PREFIXES: &[&str] = &[
    "git.",
    "repo.download_zip",
    "pull_request",
    "issue",
    "repository_content",
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
    // What the event acted on, reported in this order.
    user: json::Text,
    team: json::Text,
    repo: json::Text,
    org: json::Text,
}

/// One page of audit events.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<ActivityPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let previous = match cursor {
        Some(cursor) => Cursor::decode::<AuditCursor>(cursor)?,
        None => AuditCursor {
            next: None,
            ts: ctx.since,
        },
    };
    let url = match previous.next {
        Some(url) => url,
        None => search_url(&api, previous.ts),
    };
    let response = api.get(&url).send()?.error_for_status()?;
    let events = response.json_items()?;
    let next = pagination::next_link(&response);
    let items = json::map_items(&events, "audit-log events", |event| activity(event.get()));
    let newest = items.iter().map(|a| a.time).chain(previous.ts).max();
    let more = next.is_some();
    let position = AuditCursor { next, ts: newest };
    Ok(ActivityPage {
        items,
        next_cursor: (position != AuditCursor::default()).then(|| Cursor::encode(&position)),
        more,
    })
}

/// The first page of a search for events from `since` (ms) on, or of all events.
fn search_url(api: &Api, since: Option<i64>) -> String {
    let request = api
        .get(api.org_url("/audit-log"))
        .query("include", "all")
        .query("order", "asc")
        .query("per_page", api.per_page());
    match since.and_then(time::to_rfc3339) {
        Some(since) => request.query("phrase", format_args!("created:>={since}")),
        None => request,
    }
    .url()
    .to_owned()
}

/// The activity record for one audit-log event (its JSON text); none without an id
/// or a time, or when it is not a JSON object.
fn activity(event: &str) -> Option<Activity> {
    let fields: AuditEvent = serde_json::from_str(event).ok()?;
    let action = fields.action.0.unwrap_or_default();
    Some(Activity {
        location: None,
        session_id: None,
        id: fields.id.0?,
        time: fields.timestamp.0.or(fields.created_at.0)?,
        kind: kind_of(&action),
        actor: fields.actor.0,
        targets: [fields.user, fields.team, fields.repo, fields.org]
            .into_iter()
            .filter_map(|target| target.0)
            .collect(),
        ip: fields.actor_ip.0,
        user_agent: fields.user_agent.0,
        outcome: Outcome::Unknown,
        action,
        raw: event.to_owned(),
    })
}

/// Which audit trail an action belongs to.
fn kind_of(action: &str) -> ActivityKind {
    if action == "org.sso_response" {
        ActivityKind::Logon
    } else if USER_ACTION_PREFIXES
        .iter()
        .any(|prefix| action.starts_with(prefix))
    {
        ActivityKind::User
    } else {
        ActivityKind::Admin
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake;

    /// 2024-01-01T00:00:00Z.
    const NEW_YEAR: i64 = 1_704_067_200_000;

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
    fn classifies_actions() {
        assert_eq!(kind_of("git.clone"), ActivityKind::User);
        assert_eq!(kind_of("repo.download_zip"), ActivityKind::User);
        assert_eq!(kind_of("pull_request.merge"), ActivityKind::User);
        assert_eq!(kind_of("issue_comment.update"), ActivityKind::User);
        assert_eq!(kind_of("repository_content.delete"), ActivityKind::User);
        assert_eq!(kind_of("org.sso_response"), ActivityKind::Logon);
        assert_eq!(
            kind_of("personal_access_token.request_created"),
            ActivityKind::Admin
        );
        assert_eq!(kind_of("repo.destroy"), ActivityKind::Admin);
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
            (resume.into(), fake::json(&json!([]), None)),
        ]);
        let ctx = fake::ctx(2, Some(NEW_YEAR));
        let (pages, host) = host.run(|| {
            let one = list(&ctx, None).unwrap();
            let two = list(&ctx, one.next_cursor.as_deref()).unwrap();
            let three = list(&ctx, two.next_cursor.as_deref()).unwrap();
            [one, two, three]
        });
        assert_eq!(host.requests().len(), 3);
        assert!(pages[0].more);
        assert_eq!(
            pages[0].next_cursor.as_deref(),
            Some(format!(r#"{{"next":"{second}","ts":{}}}"#, NEW_YEAR + 2_000).as_str())
        );
        assert!(!pages[1].more);
        let caught_up = format!(r#"{{"ts":{}}}"#, NEW_YEAR + 5_999);
        assert_eq!(pages[1].next_cursor.as_deref(), Some(caught_up.as_str()));
        // An empty page keeps the position instead of losing it.
        assert!(pages[2].items.is_empty() && !pages[2].more);
        assert_eq!(pages[2].next_cursor.as_deref(), Some(caught_up.as_str()));
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
        assert_eq!(page.next_cursor.as_deref(), Some(r#"{"ts":1606929874512}"#));
        assert!(!page.more);
    }
}
