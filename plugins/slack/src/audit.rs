//! `list-activities`: the Audit Logs API, read incrementally (Enterprise Grid).
//!
//! `GET {admin_api_url}/audit/v1/logs?oldest=S&limit=N[&cursor=C]` answers
//! `{"entries": […], "response_metadata": {"next_cursor": "…"}}`, newest entry first;
//! `oldest` is inclusive and in whole seconds; further pages of one search follow
//! `next_cursor` (empty on the last page) with the same `oldest`. So:
//!
//! - the cursor is the SDK's [`FeedCursor`]: while a search has pages left, `next` is
//!   the next page's URL (the search's own `oldest` plus Slack's cursor, so a resumed
//!   search keeps its window); `ts` is the newest `date_create` returned;
//! - when a search ends, the next run starts a new one at `oldest = ts` (the first
//!   run at the host's `since`); that repeats the newest second, whose entries the
//!   cursor remembers (`seen`) and drops, so every entry is returned once;
//! - `more` is true while the search has pages left.
//!
//! Entries are classed by `action` (Slack's action names,
//! docs.slack.dev/reference/audit-logs-api/methods-actions-reference): sign-ins and
//! sign-outs are `logon`; changes to members' status, roles and sessions, to
//! workspace and organisation settings and to apps are `admin`; everything else
//! (files, channels, messages…) is `user`. The actor is the acting user's email (or
//! name, or id), targets the entity's email, name or id; `context` gives the IP
//! address, user agent and session id. Slack logs actions that happened, so every
//! entry is a `success` except the `…_failed` actions.

use sluice_sdk::http;
use sluice_sdk::prelude::*;

use crate::api::{Api, json_accepting, next_cursor};

/// The largest `limit` the Audit Logs API accepts.
const MAX_LIMIT: u32 = 9999;

/// Action prefixes of administrative changes, then of sign-in and sign-out; every
/// other action is user activity. Admin rules come first so an admin resetting
/// someone's sessions is not taken for a sign-in.
const KINDS: &[(ActivityKind, &[&str])] = &[
    (ActivityKind::Admin, ADMIN_PREFIXES),
    (ActivityKind::Logon, &["user_login", "user_logout"]),
];

/// See [`KINDS`].
const ADMIN_PREFIXES: &[&str] = &[
    "user_created",
    "user_deactivated",
    "user_reactivated",
    "user_session_reset_by_admin",
    "user_session_invalidated",
    "role_change_",
    "guest_",
    "pref_",
    "app_",
    "bot_",
    "workspace_",
    "organization_",
    "enterprise_",
    "ekm_",
    "legal_hold_",
    "information_barrier_",
    "custom_tos_",
    "manual_export_",
    "scheduled_export_",
    "corporate_exports_",
];

/// One page of audit log entries.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<ActivityPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let feed = FeedCursor::resume(cursor, ctx.since)?;
    let url = match &feed.next {
        Some(url) => url.clone(),
        None => search_url(&api, feed.ts, api.limit(MAX_LIMIT)),
    };
    let body = api.call(json_accepting(http::get(&url)))?;
    let entries = body
        .get("entries")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let items = json::map_items(entries, "Audit Logs entries", activity);
    let next = next_cursor(&body).map(|token| with_cursor(&url, &token));
    let more = next.is_some();
    Ok(feed.page(items, next, more))
}

/// A search for entries from `since` (ms, floored to Slack's whole seconds) on;
/// every retained entry without one.
fn search_url(api: &Api, since: Option<i64>, limit: u32) -> String {
    let request = http::get(api.admin_url("/audit/v1/logs"));
    match since {
        Some(ms) => request.query("oldest", ms.div_euclid(1000)),
        None => request,
    }
    .query("limit", limit)
    .url()
    .to_owned()
}

/// The same search's page at Slack cursor `token`: `url` without its own `cursor`
/// (always the last parameter, as written here) plus the new one.
fn with_cursor(url: &str, token: &str) -> String {
    let search = url.split("&cursor=").next().unwrap_or(url);
    http::get(search).query("cursor", token).url().to_owned()
}

/// The activity record for one audit log entry; none without an `id` or
/// `date_create`.
pub fn activity(entry: &Value) -> Option<Activity> {
    let action = json::str_at(entry, "action").unwrap_or_default();
    let outcome = if action.ends_with("_failed") {
        Outcome::Failure
    } else {
        Outcome::Success
    };
    Some(Activity {
        actor: json::str_at(entry, "/actor/user/email")
            .or_else(|| json::str_at(entry, "/actor/user/name"))
            .or_else(|| json::str_at(entry, "/actor/user/id")),
        targets: target(entry).into_iter().collect(),
        ip: json::str_at(entry, "/context/ip_address"),
        user_agent: json::str_at(entry, "/context/ua"),
        session_id: json::str_at(entry, "/context/session_id"),
        outcome,
        ..Activity::new(
            json::str_at(entry, "id").filter(|id| !id.is_empty())?,
            json::i64_at(entry, "date_create")?.checked_mul(1000)?,
            kind_of(&action),
            action,
            json::raw(entry),
        )
    })
}

/// What an entry acted on: the object named by `entity.type` (`user`, `channel`,
/// `file`, `app`, `workspace`, …) by email, name or id.
fn target(entry: &Value) -> Option<String> {
    let kind = json::str_at(entry, "/entity/type")?;
    let object = entry.get("entity")?.get(kind.as_str())?;
    json::str_at(object, "email")
        .or_else(|| json::str_at(object, "name"))
        .or_else(|| json::str_at(object, "id"))
}

/// Which audit trail an action belongs to.
pub fn kind_of(action: &str) -> ActivityKind {
    ActivityKind::by_prefix(action, KINDS, ActivityKind::User)
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sluice_sdk::testing::NEW_YEAR;

    use super::*;
    use crate::api::fake;

    #[test]
    fn the_published_sign_ins_map_to_logon_activity() {
        let Some(body) = fake::fixture("audit-v1-logs-user_login.sdk-fixture.json") else {
            return;
        };
        let entries = body["entries"].as_array().unwrap();
        let activities: Vec<Activity> = entries.iter().filter_map(activity).collect();
        assert_eq!(activities.len(), 2);
        let login = &activities[0];
        assert_eq!(login.id, "xxx-yyy-zzz-111");
        assert_eq!(login.time, 1_611_221_649_000);
        assert_eq!(login.kind, ActivityKind::Logon);
        assert_eq!(login.action, "user_login");
        assert_eq!(login.actor.as_deref(), Some("foo@example.com"));
        assert_eq!(login.targets, ["foo@example.com"]);
        assert_eq!(login.ip.as_deref(), Some("1.2.3.4"));
        assert_eq!(login.user_agent.as_deref(), Some("UA"));
        assert_eq!(login.session_id.as_deref(), Some("1656410836837"));
        assert_eq!(login.outcome, Outcome::Success);
        // Unknown attributes are kept in `raw`.
        let raw: Value = serde_json::from_str(&login.raw).unwrap();
        assert_eq!(raw, entries[0]);
        assert_eq!(activities[1].id, "32c68de4-cbfa-4fcb-9780-25fdd5aacf32");
    }

    #[test]
    fn the_published_schema_sample_parses() {
        // The Java SDK's union of every field: placeholder values, but the shape.
        let Some(body) = fake::fixture("_SHAPE-java-sdk-audit-v1-logs.json") else {
            return;
        };
        let mut entry = body["entries"][0].clone();
        // Placeholder ids are empty, and an entry without an id cannot be stored.
        assert!(activity(&entry).is_none());
        entry["id"] = json!("e1");
        let mapped = activity(&entry).unwrap();
        assert_eq!(mapped.time, 123_000);
        assert_eq!(serde_json::from_str::<Value>(&mapped.raw).unwrap(), entry);
    }

    #[test]
    fn classifies_actions() {
        let of = |actions: &[&str]| actions.iter().map(|a| kind_of(a)).collect::<Vec<_>>();
        assert_eq!(
            of(&["user_login", "user_logout", "user_login_failed"]),
            [ActivityKind::Logon; 3]
        );
        assert_eq!(
            of(&[
                "user_session_reset_by_admin",
                "user_deactivated",
                "user_reactivated",
                "role_change_to_admin",
                "app_approved",
                "pref_sso_setting_changed",
            ]),
            [ActivityKind::Admin; 6]
        );
        assert_eq!(
            of(&["file_downloaded", "user_channel_join"]),
            [ActivityKind::User; 2]
        );
        let failed =
            activity(&json!({"id": "e", "date_create": 1, "action": "user_login_failed"})).unwrap();
        assert_eq!(failed.outcome, Outcome::Failure);
    }

    #[test]
    fn searches_from_since_follow_cursors_then_restart_at_the_newest_second() {
        let oldest = NEW_YEAR / 1000;
        let admin = fake::ADMIN;
        let first = format!("{admin}/audit/v1/logs?oldest={oldest}&limit=2");
        let second = format!("{first}&cursor=c2");
        let again = format!("{admin}/audit/v1/logs?oldest={}&limit=2", oldest + 9);
        let entry = |id: &str, s: i64, action: &str| {
            json!({"id": id, "date_create": oldest + s, "action": action,
                   "actor": {"type": "user", "user": {"id": "W1", "email": "a@x.test"}},
                   "entity": {"type": "user", "user": {"id": "W2", "email": "b@x.test"}}})
        };
        let host = fake::slack(vec![
            (
                first.clone(),
                fake::json(
                    &json!({"entries": [entry("c", 9, "user_login"), entry("b", 5, "file_downloaded")],
                    "response_metadata": {"next_cursor": "c2"}}),
                ),
            ),
            (
                second.clone(),
                fake::json(&json!({"entries": [entry("a", 1, "user_deactivated")],
                    "response_metadata": {"next_cursor": ""}})),
            ),
            (
                again.clone(),
                fake::json(
                    &json!({"entries": [entry("d", 12, "user_logout"), entry("c", 9, "user_login")],
                    "response_metadata": {"next_cursor": ""}}),
                ),
            ),
        ]);
        let ctx = fake::ctx(2, Some(NEW_YEAR));
        let (pages, host) = host.run(|| sluice_sdk::testing::next_pages(3, |c| list(&ctx, c)));
        let urls: Vec<_> = host.requests().iter().map(|r| r.url.clone()).collect();
        assert_eq!(urls, [first, second.clone(), again]);
        assert!(pages[0].more && !pages[1].more && !pages[2].more);
        let ids = |p: &ActivityPage| p.items.iter().map(|a| a.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&pages[0]), ["c", "b"]);
        assert_eq!(ids(&pages[1]), ["a"]);
        // The restart repeats the newest second; `c` is not returned twice.
        assert_eq!(ids(&pages[2]), ["d"]);
        assert_eq!(
            pages[0].next_cursor.as_deref(),
            Some(
                Cursor::encode(&FeedCursor {
                    next: Some(second),
                    ts: Some((oldest + 9) * 1000),
                    seen: vec!["c".into()],
                })
                .as_str()
            )
        );
        let kinds: Vec<_> = pages
            .iter()
            .flat_map(|p| &p.items)
            .map(|a| a.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                ActivityKind::Logon,
                ActivityKind::User,
                ActivityKind::Admin,
                ActivityKind::Logon
            ]
        );
    }
}
