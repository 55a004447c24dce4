//! `list-activities`: two Zoom reports, read incrementally one after the other.
//!
//! | source | Zoom API | kind |
//! |---|---|---|
//! | `operationlogs` | `GET /v2/report/operationlogs` (the admin operation log) | admin |
//! | `activities` | `GET /v2/report/activities` (sign in / sign out activity) | logon |
//!
//! Both reports take a window of whole days, `from` and `to` as `YYYY-MM-DD` (UTC),
//! "only one month" apart, and page by `next_page_token`. Zoom's entries carry no id,
//! so an entry's id is its time and a hash of its JSON (see [`entry_id`]): the same
//! entry read again has the same id.
//!
//! Reading a source is a search over days: from the day of the newest entry already
//! returned (or of the host's `since` on the first run) to the day of `ctx.now` (the
//! scan run's clock, so a recorded scan replays to the same requests), in windows of
//! [`WINDOW_DAYS`] days. Each of the source's [`FeedCursor`]s (in one SDK [`FeedSet`])
//! keeps the lower bound fixed while the search runs: `ts`, the newest entry time
//! returned by earlier searches, and `seen`, the ids returned in `ts`'s second. Entries
//! before that second, or in it and seen, are dropped, so whole days read again never
//! store an entry twice. The search in progress (window, token, newest time so far)
//! is the feed's `next`, as JSON; when it ends the bound moves to the newest entry.
//!
//! Assumed (Zoom publishes no statement): entries within a window come in any order
//! (the connector does not rely on newest-first); two entries with identical JSON are
//! one event.

use serde::{Deserialize, Serialize};
use sluice_sdk::pagination::Source;
use sluice_sdk::prelude::*;

use crate::api::{self, Api, DAY_MS};

/// Days per report window: 28 keeps every window within "one month" however Zoom
/// counts a month (February included).
pub const WINDOW_DAYS: i64 = 28;

/// The operation log source key.
pub const OPERATION_LOGS: &str = "operationlogs";
/// The sign in / sign out report source key.
pub const SIGN_INS: &str = "activities";

/// A search in progress over one source, stored as the feed's `next`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Search {
    /// First day of the current window (days since the epoch).
    day: i64,
    /// The search's last day: the day of `ctx.now` when it started.
    end: i64,
    /// The current window's next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    token: Option<String>,
    /// Newest entry time returned by this search (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    newest: Option<i64>,
    /// Ids returned by this search in `newest`'s second.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    newest_ids: Vec<String>,
}

/// One page of one report.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<ActivityPage, ConnectorError> {
    let api = Api::new(ctx)?;
    FeedSet::resume(cursor, ctx.since)?.step(&[OPERATION_LOGS, SIGN_INS], |source| {
        read(&api, ctx.now, source)
    })
}

/// Reads one page of `source` at `now` (ms); says whether the source is done for
/// this run.
fn read(api: &Api, now: i64, source: Source<'_>) -> Result<(Vec<Activity>, bool), ConnectorError> {
    let feed = source.feed;
    let mut search = match &feed.next {
        Some(next) => Cursor::decode::<Search>(next)?,
        None => Search {
            day: api::day_of(feed.ts.unwrap_or(now - WINDOW_DAYS * DAY_MS)),
            end: api::day_of(now),
            ..Search::default()
        },
    };
    let to = (search.day + WINDOW_DAYS - 1).min(search.end);
    let (path, key, map): (_, _, fn(&Value) -> Option<Activity>) = match source.key {
        OPERATION_LOGS => ("/report/operationlogs", "operation_logs", operation),
        _ => ("/report/activities", "activity_logs", sign_in),
    };
    let request = api
        .page(path, search.token.as_deref())
        .query("from", api::date_of_day(search.day))
        .query("to", api::date_of_day(to));
    let (entries, token) = api::items_and_token(api.fetch(request)?, key);
    let mut items = json::map_items(&entries, "Zoom report entries", map);
    items.retain(|a| is_new(feed, a));
    for item in &items {
        note_newest(&mut search, item);
    }
    match token {
        Some(token) => search.token = Some(token),
        None if to < search.end => {
            search.day = to + 1;
            search.token = None;
        }
        None => {
            finish(feed, search);
            return Ok((items, true));
        }
    }
    feed.next = Some(Cursor::encode(&search));
    Ok((items, false))
}

/// The second (in ms, floored to whole seconds) a time falls in.
fn second_of(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

/// Whether `item` is after what earlier searches returned.
fn is_new(feed: &FeedCursor, item: &Activity) -> bool {
    match feed.ts {
        None => true,
        Some(ts) => {
            second_of(item.time) > second_of(ts)
                || (second_of(item.time) == second_of(ts) && !feed.seen.contains(&item.id))
        }
    }
}

/// Tracks the newest entry of the search and the ids in its second.
fn note_newest(search: &mut Search, item: &Activity) {
    match search.newest.map(second_of) {
        Some(s) if s > second_of(item.time) => {}
        Some(s) if s == second_of(item.time) => {
            if !search.newest_ids.contains(&item.id) {
                search.newest_ids.push(item.id.clone());
            }
        }
        _ => {
            search.newest = Some(item.time);
            search.newest_ids = vec![item.id.clone()];
        }
    }
}

/// Moves the feed's lower bound past a finished search.
fn finish(feed: &mut FeedCursor, search: Search) {
    feed.next = None;
    let Some(newest) = search.newest else {
        return;
    };
    if feed.ts.map(second_of) == Some(second_of(newest)) {
        for id in search.newest_ids {
            if !feed.seen.contains(&id) {
                feed.seen.push(id);
            }
        }
    } else {
        feed.ts = Some(newest);
        feed.seen = search.newest_ids;
    }
}

/// An entry's id: `<epoch seconds>-<FNV-1a 64 of its JSON>`. serde_json writes object
/// keys sorted, so the same entry hashes the same whatever order Zoom sent.
pub fn entry_id(time: i64, entry: &Value) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in entry.to_string().bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{}-{hash:016x}", second_of(time))
}

/// `User.Update` → `user.update`: Zoom's category and action, lowercased.
fn dotted(parts: &[Option<String>]) -> String {
    parts
        .iter()
        .flatten()
        .map(|p| p.trim().to_lowercase().replace(' ', "_"))
        .collect::<Vec<_>>()
        .join(".")
}

/// An operation log entry (`{action, category_type, operation_detail, operator,
/// time}`) as an admin activity; none without a time.
pub fn operation(entry: &Value) -> Option<Activity> {
    let time = api::time_at(entry, "time")?;
    let action = dotted(&[
        json::str_at(entry, "category_type"),
        json::str_at(entry, "action"),
    ]);
    Some(Activity {
        actor: json::str_at(entry, "operator"),
        targets: json::str_at(entry, "operation_detail")
            .map(|d| d.trim().to_owned())
            .filter(|d| !d.is_empty())
            .into_iter()
            .collect(),
        outcome: Outcome::Success,
        ..Activity::new(
            entry_id(time, entry),
            time,
            ActivityKind::Admin,
            action,
            json::raw(entry),
        )
    })
}

/// A sign in / sign out entry (`{email, time, type, ip_address, client_type,
/// version}`) as a logon activity; none without a time.
pub fn sign_in(entry: &Value) -> Option<Activity> {
    let time = api::time_at(entry, "time")?;
    let action = dotted(&[json::str_at(entry, "type")]);
    let client = [
        json::str_at(entry, "client_type"),
        json::str_at(entry, "version"),
    ]
    .into_iter()
    .flatten()
    .filter(|p| !p.is_empty())
    .collect::<Vec<_>>();
    Some(Activity {
        actor: json::str_at(entry, "email"),
        ip: json::str_at(entry, "ip_address").filter(|ip| !ip.is_empty()),
        user_agent: (!client.is_empty()).then(|| client.join(" ")),
        outcome: Outcome::Success,
        ..Activity::new(
            entry_id(time, entry),
            time,
            ActivityKind::Logon,
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

    #[test]
    fn the_published_reports_map_to_admin_and_logon_activities() {
        let Some(logs) = fake::fixture("report-operationlogs.third-party-mirror") else {
            return;
        };
        let (entries, token) = api::items_and_token(logs, "operation_logs");
        assert_eq!(token.as_deref(), Some("czxcxdvxvddc"));
        let ops: Vec<Activity> = entries.iter().filter_map(operation).collect();
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[0].kind, ActivityKind::Admin);
        assert_eq!(ops[0].action, "user.update");
        assert_eq!(ops[0].actor.as_deref(), Some("someuser@sfksfhksdfsf.com"));
        assert_eq!(ops[0].targets, ["Activate User sjkfhdsf@jdfgkhgd.com"]);
        assert_eq!(ops[0].time, 1_566_328_141_000);
        assert_ne!(ops[0].id, ops[1].id);

        let sign_ins = fake::fixture("report-activities.third-party-mirror").unwrap();
        let (entries, _) = api::items_and_token(sign_ins, "activity_logs");
        let a = sign_in(&entries[0]).unwrap();
        assert_eq!(
            (a.kind, a.action.as_str()),
            (ActivityKind::Logon, "sign_out")
        );
        assert_eq!(a.ip.as_deref(), Some("192.0.2.1"));
        assert_eq!(a.user_agent.as_deref(), Some("Browser 5.9.1.2581"));
        assert_eq!(a.id, entry_id(a.time, &entries[0]));
    }

    fn op(ms: i64, detail: &str) -> Value {
        json!({"action": "Update", "category_type": "User", "operation_detail": detail,
               "operator": "admin@acme.test", "time": time::to_rfc3339(ms).unwrap()})
    }

    #[test]
    fn windows_of_28_days_then_the_second_report_then_resumes_without_duplicates() {
        let base = "https://api.zoom.test/v2/report";
        let now = NEW_YEAR + 40 * DAY_MS + 3_600_000; // 2024-02-10T01:00Z
        let since = NEW_YEAR + 3_600_000;
        let w1 = format!("{base}/operationlogs?page_size=2&from=2024-01-01&to=2024-01-28");
        let w1p2 = format!(
            "{base}/operationlogs?page_size=2&next_page_token=p2&from=2024-01-01&to=2024-01-28"
        );
        let w2 = format!("{base}/operationlogs?page_size=2&from=2024-01-29&to=2024-02-10");
        let s1 = format!("{base}/activities?page_size=2&from=2024-01-01&to=2024-01-28");
        let s2 = format!("{base}/activities?page_size=2&from=2024-01-29&to=2024-02-10");
        // The second run starts again on the newest entry's day.
        let again = format!("{base}/operationlogs?page_size=2&from=2024-02-09&to=2024-02-10");
        let newest = NEW_YEAR + 39 * DAY_MS + 5_000;
        let host = fake::zoom(vec![
            (
                w1.clone(),
                fake::json(
                    &json!({"operation_logs": [op(NEW_YEAR + 7_200_000, "b"), op(NEW_YEAR, "too old")],
                    "next_page_token": "p2"}),
                ),
            ),
            (
                w1p2.clone(),
                fake::json(&json!({"operation_logs": [op(NEW_YEAR + 7_000_000, "a")],
                    "next_page_token": ""})),
            ),
            (
                w2.clone(),
                fake::json(&json!({"operation_logs": [op(newest, "c")], "next_page_token": ""})),
            ),
            (
                s1.clone(),
                fake::json(&json!({"activity_logs": [], "next_page_token": ""})),
            ),
            (
                s2.clone(),
                fake::json(
                    &json!({"activity_logs": [{"email": "u@acme.test", "type": "Sign in",
                    "time": time::to_rfc3339(now - 1_000).unwrap(), "ip_address": "192.0.2.9"}]}),
                ),
            ),
            (
                again.clone(),
                fake::json(&json!({"operation_logs": [op(newest + 60_000, "d"), op(newest, "c")]})),
            ),
        ]);
        let mut ctx = fake::ctx(2, Some(since));
        ctx.now = now;
        let (pages, host) = host.run(|| sluice_sdk::testing::next_pages(6, |c| list(&ctx, c)));
        let urls: Vec<_> = host.requests().iter().map(|r| r.url.clone()).collect();
        assert_eq!(
            urls,
            [w1, w1p2, w2, s1, s2.clone(), again],
            "the last is the next run"
        );
        let targets = |i: usize| -> Vec<String> {
            pages[i]
                .items
                .iter()
                .flat_map(|a| a.targets.clone())
                .collect()
        };
        assert_eq!(targets(0), ["b"], "before `since` is dropped");
        assert_eq!(targets(1), ["a"]);
        assert_eq!(targets(2), ["c"]);
        assert_eq!(pages[4].items[0].kind, ActivityKind::Logon);
        assert!(pages[..4].iter().all(|p| p.more) && !pages[4].more);
        assert_eq!(targets(5), ["d"], "the boundary entry is returned once");
    }

    #[test]
    fn a_missing_report_scope_is_forbidden() {
        let host = fake::zoom(vec![]).on_request(|_| {
            Ok(fake::error(
                400,
                4711,
                "Invalid access token, does not contain scopes:[report:read:admin].",
            ))
        });
        let (result, _) = host.run(|| list(&fake::ctx(2, Some(NEW_YEAR)), None));
        assert!(
            matches!(result, Err(ConnectorError::Forbidden(_))),
            "{result:?}"
        );
    }
}
