//! `list-activities`: the repository's admin log and consolidated (user) log, read
//! incrementally.
//!
//! `GET /v1/Repository/{id}/log?format=json&Logtype=admin|consolidated&start=T`
//! (`start` in whole seconds, `yyyy-MM-ddThh:mm:ssZ`, as NetDocuments documents; it
//! defaults to 30 days back), paged with `$top`/`paging`/`$skiptoken`. A run reads
//! the admin log, then the consolidated log, each from the newest event it has seen;
//! entries of the `admin` log are `admin` activity, the consolidated log's are `user`
//! activity. Neither log records sign-ins, hence no `logon` events.
//!
//! The cursor is the SDK's [`FeedSet`] with one source per log (`admin`, then
//! `consolidated`): each log's [`FeedCursor`] holds the newest event time seen, where
//! its next search starts, and while a search pages, the URL of its next page (the
//! search's `start` with the `$skiptoken` NetDocuments handed out). Re-reading the
//! events of the boundary second is harmless and the feed cursor drops those it
//! already returned. Cursors of the 0.1 connector are not read: such an instance's
//! next run starts each log at NetDocuments' default, 30 days back, once.
//!
//! Entries carry no documented id; when NetDocuments sends none, the id is a hash of
//! the log, time, user, action and object (FNV-1a, stable across builds).

use sluice_sdk::prelude::*;

use crate::api::{self, Api};

/// The two logs, in the order a run reads them: their `Logtype` and the kind of
/// their entries.
const LOGS: [(&str, ActivityKind); 2] = [
    ("admin", ActivityKind::Admin),
    ("consolidated", ActivityKind::User),
];

/// One page of log entries.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<ActivityPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let logs = LOGS.map(|(logtype, _)| logtype);
    FeedSet::resume(cursor, ctx.since)?.step(&logs, |source| {
        let (logtype, kind) = LOGS
            .into_iter()
            .find(|(logtype, _)| *logtype == source.key)
            .unwrap_or(LOGS[0]);
        let feed = source.feed;
        let url = match feed.next.take() {
            Some(url) => url,
            None => search_url(&api, logtype, feed.ts),
        };
        let (entries, token) = api.page(&url)?;
        let mut items = json::map_items(&entries, "repository log entries", |e| {
            activity(e, logtype, kind)
        });
        feed.advance(&mut items, token.map(|token| page_at(&url, &token)));
        Ok((items, feed.next.is_none()))
    })
}

/// The first page of a search of log `logtype` for entries from `start` (ms) on.
fn search_url(api: &Api, logtype: &str, start: Option<i64>) -> String {
    let since = start.and_then(time::to_rfc3339);
    let mut query = vec![("format", "json"), ("Logtype", logtype)];
    if let Some(since) = &since {
        query.push(("start", since));
    }
    api.paged_url(&api.repository_path("log"), &query, None)
}

/// The page `token` names of the search `url` is a page of: the same query, the new
/// `$skiptoken` (which `Api::paged_url` always puts last).
fn page_at(url: &str, token: &str) -> String {
    let search = url.split("&%24skiptoken=").next().unwrap_or(url);
    http::get(search)
        .query("$skiptoken", token)
        .url()
        .to_owned()
}

/// The activity record for one entry of log `logtype`, of `kind`; none without a time.
fn activity(entry: &Value, logtype: &str, kind: ActivityKind) -> Option<Activity> {
    let time = api::time_at(entry, "date")?;
    let action = json::str_at(entry, "action").unwrap_or_default();
    let actor = json::str_at(entry, "userId").or_else(|| json::str_at(entry, "user"));
    let object = json::str_at(entry, "objectId");
    let id = json::str_at(entry, "id").unwrap_or_else(|| {
        derived_id(&[
            logtype,
            &time.to_string(),
            actor.as_deref().unwrap_or_default(),
            &action,
            object.as_deref().unwrap_or_default(),
        ])
    });
    Some(Activity {
        actor,
        targets: object
            .into_iter()
            .chain(json::str_at(entry, "objectName"))
            .collect(),
        ip: json::str_at(entry, "ip"),
        ..Activity::new(id, time, kind, action, json::raw(entry))
    })
}

/// A stable id from an entry's identifying fields: FNV-1a over them, `\0`-separated.
fn derived_id(parts: &[&str]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for (i, part) in parts.iter().enumerate() {
        let separator = (i > 0).then_some(0_u8);
        for byte in separator.into_iter().chain(part.bytes()) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("nd-{hash:016x}")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use sluice_sdk::testing::{NEW_YEAR, run_pages};

    use super::*;
    use crate::api::fake;

    fn log_url(logtype: &str, start: &str, skiptoken: Option<&str>) -> String {
        let mut url = format!(
            "https://nd.test/v1/Repository/CA-TEST/log?format=json&Logtype={logtype}\
             &start={start}&%24top=2&paging=true"
        );
        if let Some(token) = skiptoken {
            url.push_str(&format!("&%24skiptoken={token}"));
        }
        url
    }

    fn entry(second: i64, action: &str) -> Value {
        json!({
            "date": time::to_rfc3339(NEW_YEAR + second * 1_000).unwrap(),
            "userId": "U-1", "user": "Ada", "action": action,
            "objectId": "4821-1234-5678", "objectName": "Engagement letter", "ip": "192.0.2.7",
        })
    }

    #[test]
    fn reads_the_admin_log_then_the_consolidated_log_then_resumes_from_the_newest() {
        let start = "2024-01-01T00%3A00%3A00Z";
        let host = fake::netdocuments(vec![
            (
                log_url("admin", start, None),
                fake::json(
                    &json!({"results": [entry(1, "Group member added"), entry(2, "User added")], "next": "A2"}),
                ),
            ),
            (
                log_url("admin", start, Some("A2")),
                fake::json(&json!({"results": [entry(3, "Cabinet created")]})),
            ),
            (
                log_url("consolidated", start, None),
                fake::json(&json!({"results": [entry(5, "Viewed")]})),
            ),
            (
                log_url("admin", "2024-01-01T00%3A00%3A03Z", None),
                fake::json(&json!({"results": []})),
            ),
        ]);
        let ctx = fake::ctx(2, Some(NEW_YEAR));
        let (runs, host) = host.run(|| {
            let first = run_pages(None, 10, |c| list(&ctx, c.as_deref())).unwrap();
            let next = list(&ctx, first.cursor.as_deref()).unwrap();
            (first, next)
        });
        let (first, next) = runs;
        assert_eq!(host.requests().len(), 4);
        // Admin log (two pages), then the consolidated log ends the run.
        assert_eq!(first.calls, 3);
        let kinds: Vec<_> = first.items.iter().map(|a| a.kind).collect();
        assert_eq!(
            kinds,
            [
                ActivityKind::Admin,
                ActivityKind::Admin,
                ActivityKind::Admin,
                ActivityKind::User
            ]
        );
        assert_eq!(
            first.items[0].targets,
            ["4821-1234-5678", "Engagement letter"]
        );
        assert_eq!(first.items[0].actor.as_deref(), Some("U-1"));
        let saved: FeedSet = Cursor::decode(first.cursor.as_deref().unwrap()).unwrap();
        let newest = |log: &str| saved.sources[log].ts;
        assert_eq!(newest("admin"), Some(NEW_YEAR + 3_000));
        assert_eq!(newest("consolidated"), Some(NEW_YEAR + 5_000));
        // The next run searches the admin log from its newest event; nothing new there.
        assert!(next.items.is_empty() && next.more);
        let after: FeedSet = Cursor::decode(next.next_cursor.as_deref().unwrap()).unwrap();
        assert_eq!(after.sources["consolidated"].ts, Some(NEW_YEAR + 5_000));
    }

    #[test]
    fn a_rescan_returns_the_boundary_second_once() {
        let at_three = "2024-01-01T00%3A00%3A03Z";
        let host = fake::netdocuments(vec![(
            log_url("admin", at_three, None),
            fake::json(&json!({"results": [entry(3, "Cabinet created"), entry(4, "User added")]})),
        )]);
        let mut known = FeedSet::default();
        known.sources.insert(
            "admin".into(),
            FeedCursor {
                ts: Some(NEW_YEAR + 3_000),
                seen: vec![
                    activity(&entry(3, "Cabinet created"), "admin", ActivityKind::Admin)
                        .unwrap()
                        .id,
                ],
                ..FeedCursor::default()
            },
        );
        let cursor = Cursor::encode(&known);
        let (page, _) = host.run(|| list(&fake::ctx(2, None), Some(&cursor)));
        let actions: Vec<_> = page.unwrap().items.into_iter().map(|a| a.action).collect();
        assert_eq!(actions, ["User added"]);
    }

    #[test]
    fn a_next_page_keeps_its_search_and_swaps_the_token() {
        let first = log_url("admin", "2024-01-01T00%3A00%3A00Z", None);
        let second = log_url("admin", "2024-01-01T00%3A00%3A00Z", Some("A2"));
        assert_eq!(page_at(&first, "A2"), second);
        assert_eq!(
            page_at(&second, "A3"),
            log_url("admin", "2024-01-01T00%3A00%3A00Z", Some("A3"))
        );
    }

    #[test]
    fn ids_are_sent_ids_or_stable_hashes() {
        let with_id = json!({"id": "LOG-9", "date": "2024-01-01T00:00:00Z", "action": "Viewed"});
        let user = |e: &Value| activity(e, "consolidated", ActivityKind::User);
        assert_eq!(user(&with_id).unwrap().id, "LOG-9");
        let a = user(&entry(1, "Viewed")).unwrap();
        let b = user(&entry(1, "Viewed")).unwrap();
        let c = activity(&entry(1, "Viewed"), "admin", ActivityKind::Admin).unwrap();
        let d = user(&entry(1, "Edited")).unwrap();
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
        assert_ne!(a.id, d.id);
        assert_eq!(derived_id(&["a", "bc"]), derived_id(&["a", "bc"]));
        assert_ne!(derived_id(&["ab", "c"]), derived_id(&["a", "bc"]));
        assert!(activity(&json!({"action": "no time"}), "admin", ActivityKind::Admin).is_none());
    }
}
