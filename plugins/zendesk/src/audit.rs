//! `list-activities`: the account's audit log (`GET /api/v2/audit_logs`), read
//! incrementally. The Audit Logs endpoints are only available on Enterprise plans and
//! to admins; Zendesk keeps the log indefinitely.
//!
//! A search asks for entries created in a window, oldest first, with cursor
//! pagination: `filter[created_at][]=<start>&filter[created_at][]=<now>` (`<now>` is the
//! host's clock, `ctx.now`, so a recorded scan replays to the same URL; Zendesk
//! requires both ends), `sort=created_at`, `page[size]=N`. The cursor is the SDK's
//! [`FeedCursor`]: `links.next` while `meta.has_more` says there is more of this
//! search, then the newest `created_at` seen, where the next run's search starts.
//! Zendesk filters in whole seconds, so that search returns the boundary second's
//! entries again, and the cursor drops the ones it already returned.
//!
//! Which trail an entry belongs to, by its `action` (Zendesk's activity types):
//!
//! | `action` | kind | what Zendesk logs |
//! |---|---|---|
//! | `login` | logon | successful sign-ins of agents and admins ("Signed in") |
//! | `exported` | user | data exports by agents and admins |
//! | `create`, `update`, `destroy`, other | admin | changes to settings, users (roles, suspensions, groups), apps, business rules, ticket settings, organizations |
//!
//! The audit log records what took effect, so every entry's outcome is `success`;
//! failed sign-ins are not in it. End users' activity is not captured by Zendesk.

use sluice_sdk::prelude::*;

use crate::api::Api;

/// One page of the feed, read at the host's clock (`ctx.now`: the scan run's start,
/// or the recorded one in a replay, so the windows asked for are the same).
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<ActivityPage, ConnectorError> {
    list_at(ctx, cursor, ctx.now)
}

/// One page of audit log entries, read at `now` (ms).
fn list_at(ctx: &Context, cursor: Option<&str>, now: i64) -> Result<ActivityPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let feed = FeedCursor::resume(cursor, ctx.since)?;
    let url = match &feed.next {
        Some(url) => url.clone(),
        None => search_url(&api, feed.ts, now),
    };
    let (entries, next) = api.list_page(&url, "audit_logs")?;
    let items = json::map_items(&entries, "Zendesk audit log entries", activity);
    let more = next.is_some();
    Ok(feed.page(items, next, more))
}

/// A search for the entries created from `since` (ms) to `now`, oldest first; every
/// entry when there is no `since` (the host always passes one on a first run).
fn search_url(api: &Api, since: Option<i64>, now: i64) -> String {
    let mut request = api
        .first_page("/api/v2/audit_logs")
        .query("sort", "created_at");
    if let (Some(start), Some(end)) = (since.and_then(time::to_rfc3339), time::to_rfc3339(now)) {
        request = request
            .query("filter[created_at][]", start)
            .query("filter[created_at][]", end);
    }
    request.url().to_owned()
}

/// Which audit trail an entry with `action` belongs to (see the module docs).
pub fn kind_of(action: &str) -> ActivityKind {
    match action {
        "login" => ActivityKind::Logon,
        "exported" => ActivityKind::User,
        _ => ActivityKind::Admin,
    }
}

/// The activity record for one audit log entry; none without an `id` or `created_at`.
///
/// `action` becomes `<source_type>.<action>` (`user.update`, `rule.create`,
/// `user.login`) so that the trail's filters can tell what kind of item changed.
pub fn activity(entry: &Value) -> Option<Activity> {
    let verb = json::str_at(entry, "action").unwrap_or_default();
    let action = match json::str_at(entry, "source_type") {
        Some(source) => format!("{source}.{verb}"),
        None => verb.clone(),
    };
    Some(Activity {
        actor: json::str_at(entry, "actor_id").or_else(|| json::str_at(entry, "actor_name")),
        targets: json::str_at(entry, "source_label")
            .filter(|label| !label.is_empty())
            .or_else(|| json::str_at(entry, "source_id"))
            .into_iter()
            .collect(),
        ip: json::str_at(entry, "ip_address").filter(|ip| !ip.is_empty()),
        outcome: Outcome::Success,
        ..Activity::new(
            json::str_at(entry, "id")?,
            json::timestamp_at(entry, "created_at")?,
            kind_of(&verb),
            action,
            json::raw(entry),
        )
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use sluice_sdk::testing::NEW_YEAR;

    use super::*;
    use crate::api::fake;

    fn entry(id: u64, ms: i64, action: &str, source_type: &str) -> Value {
        json!({
            "url": format!("https://acme.zendesk.test/api/v2/audit_logs/{id}.json"),
            "id": id, "action_label": "Updated", "actor_id": 900, "actor_name": "Admin",
            "source_id": 77, "source_type": source_type, "source_label": "Jane Agent",
            "action": action, "change_description": "Role changed from End user to Agent",
            "ip_address": "203.0.113.7", "created_at": time::to_rfc3339(ms).unwrap(),
        })
    }

    #[test]
    fn entries_map_to_activities_of_the_documented_kinds() {
        let a = activity(&entry(1, NEW_YEAR, "update", "user")).unwrap();
        assert_eq!(a.id, "1");
        assert_eq!(a.time, NEW_YEAR);
        assert_eq!(
            (a.kind, a.action.as_str()),
            (ActivityKind::Admin, "user.update")
        );
        assert_eq!(a.actor.as_deref(), Some("900"));
        assert_eq!(a.targets, ["Jane Agent"]);
        assert_eq!(a.ip.as_deref(), Some("203.0.113.7"));
        assert_eq!(a.outcome, Outcome::Success);
        assert_eq!(kind_of("login"), ActivityKind::Logon);
        assert_eq!(kind_of("exported"), ActivityKind::User);
        for admin in ["create", "update", "destroy", "something-new"] {
            assert_eq!(kind_of(admin), ActivityKind::Admin, "{admin}");
        }
        assert!(activity(&json!({"id": 2})).is_none(), "no created_at");
    }

    #[test]
    fn searches_a_window_then_follows_links_while_has_more_then_resumes_at_the_newest() {
        let now = NEW_YEAR + 3_600_000;
        let first = "https://acme.zendesk.test/api/v2/audit_logs?page%5Bsize%5D=2&sort=created_at&filter%5Bcreated_at%5D%5B%5D=2024-01-01T00%3A00%3A00Z&filter%5Bcreated_at%5D%5B%5D=2024-01-01T01%3A00%3A00Z";
        let second =
            "https://acme.zendesk.test/api/v2/audit_logs?page%5Bsize%5D=2&page%5Bafter%5D=c2";
        let resumed = "https://acme.zendesk.test/api/v2/audit_logs?page%5Bsize%5D=2&sort=created_at&filter%5Bcreated_at%5D%5B%5D=2024-01-01T00%3A00%3A05Z&filter%5Bcreated_at%5D%5B%5D=2024-01-01T01%3A00%3A00Z";
        let host = fake::zendesk(vec![
            (
                first.into(),
                fake::cursor_page(
                    "audit_logs",
                    json!([
                        entry(1, NEW_YEAR + 1_000, "login", "user"),
                        entry(2, NEW_YEAR + 2_000, "update", "rule")
                    ]),
                    second,
                    true,
                ),
            ),
            (
                second.into(),
                fake::cursor_page(
                    "audit_logs",
                    json!([entry(3, NEW_YEAR + 5_000, "exported", "ticket")]),
                    "https://acme.zendesk.test/never",
                    false,
                ),
            ),
            (
                resumed.into(),
                // The boundary second again, and one new entry.
                fake::cursor_page(
                    "audit_logs",
                    json!([
                        entry(3, NEW_YEAR + 5_000, "exported", "ticket"),
                        entry(4, NEW_YEAR + 6_000, "update", "user")
                    ]),
                    "https://acme.zendesk.test/never",
                    false,
                ),
            ),
        ]);
        let ctx = fake::ctx(2, Some(NEW_YEAR));
        let (pages, host) =
            host.run(|| sluice_sdk::testing::next_pages(3, |c| list_at(&ctx, c, now)));
        let urls: Vec<_> = host.requests().iter().map(|r| r.url.as_str()).collect();
        assert_eq!(urls, [first, second, resumed]);
        assert!(pages[0].more && !pages[1].more && !pages[2].more);
        let kinds: Vec<_> = pages[0].items.iter().map(|a| a.kind).collect();
        assert_eq!(kinds, [ActivityKind::Logon, ActivityKind::Admin]);
        assert_eq!(pages[1].items[0].kind, ActivityKind::User);
        let third: Vec<_> = pages[2].items.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(third, ["4"], "the boundary entry is returned once");
    }

    #[test]
    fn an_account_without_audit_logs_is_forbidden_in_zendesk_s_words() {
        let host = fake::zendesk(vec![]).on_request(|_| {
            Ok(fake::error(403, "Forbidden", Some("You do not have access to this page. Please contact the account owner of this help desk for further help.")))
        });
        let (result, _) = host.run(|| list_at(&fake::ctx(2, Some(NEW_YEAR)), None, NEW_YEAR));
        assert!(
            matches!(result, Err(ConnectorError::Forbidden(_))),
            "{result:?}"
        );
    }
}
