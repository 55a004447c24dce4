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
//! The cursor is compact JSON: `{"log":"admin"|"consolidated","start":<ms>,
//! "next":"<token>","admin":<ms>,"user":<ms>}`, where `start`/`next` belong to the
//! search being paged and `admin`/`user` are the newest event times seen per log, where
//! the next search starts. Re-reading the events of that second is harmless: ids are
//! stable, so the host stores each event once.
//!
//! Entries carry no documented id; when NetDocuments sends none, the id is a hash of
//! the log, time, user, action and object (FNV-1a, stable across builds).

use serde::{Deserialize, Serialize};
use sluice_sdk::prelude::*;

use crate::api::{self, Api};

/// The two logs, in the order a run reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Log {
    /// Administrative changes (`Logtype=admin`).
    #[default]
    Admin,
    /// Everything users did to documents and containers (`Logtype=consolidated`).
    Consolidated,
}

impl Log {
    fn logtype(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Consolidated => "consolidated",
        }
    }

    fn kind(self) -> ActivityKind {
        match self {
            Self::Admin => ActivityKind::Admin,
            Self::Consolidated => ActivityKind::User,
        }
    }
}

/// Where the next `list-activities` call continues.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct LogCursor {
    /// The log being read.
    log: Log,
    /// `start` of the search being paged (ms), kept so every page asks the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    start: Option<i64>,
    /// `$skiptoken` of the search's next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    next: Option<String>,
    /// Newest admin-log event seen (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    admin: Option<i64>,
    /// Newest consolidated-log event seen (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user: Option<i64>,
}

impl LogCursor {
    fn newest(&mut self, log: Log) -> &mut Option<i64> {
        match log {
            Log::Admin => &mut self.admin,
            Log::Consolidated => &mut self.user,
        }
    }
}

/// One page of log entries.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<ActivityPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let mut position = match cursor {
        Some(cursor) => Cursor::decode::<LogCursor>(cursor)?,
        None => LogCursor {
            admin: ctx.since,
            user: ctx.since,
            ..LogCursor::default()
        },
    };
    let log = position.log;
    let start = match position.next {
        Some(_) => position.start,
        None => *position.newest(log),
    };
    let since = start.and_then(time::to_rfc3339);
    let mut query = vec![("format", "json"), ("Logtype", log.logtype())];
    if let Some(since) = &since {
        query.push(("start", since));
    }
    let url = api.paged_url(
        &api.repository_path("log"),
        &query,
        position.next.as_deref(),
    );
    let (entries, next) = api.page(&url)?;
    let items = json::map_items(&entries, "repository log entries", |e| activity(e, log));
    let newest = items
        .iter()
        .map(|a| a.time)
        .chain(*position.newest(log))
        .max();
    *position.newest(log) = newest;
    let more = match (next, log) {
        (Some(next), _) => {
            position.start = start;
            position.next = Some(next);
            true
        }
        (None, Log::Admin) => {
            position.log = Log::Consolidated;
            position.start = None;
            position.next = None;
            true
        }
        (None, Log::Consolidated) => {
            position.log = Log::Admin;
            position.start = None;
            position.next = None;
            false
        }
    };
    Ok(ActivityPage {
        items,
        next_cursor: Some(Cursor::encode(&position)),
        more,
    })
}

/// The activity record for one log entry; none without a time.
fn activity(entry: &Value, log: Log) -> Option<Activity> {
    let time = api::time_at(entry, "date")?;
    let action = json::str_at(entry, "action").unwrap_or_default();
    let actor = json::str_at(entry, "userId").or_else(|| json::str_at(entry, "user"));
    let object = json::str_at(entry, "objectId");
    let id = json::str_at(entry, "id").unwrap_or_else(|| {
        derived_id(&[
            log.logtype(),
            &time.to_string(),
            actor.as_deref().unwrap_or_default(),
            &action,
            object.as_deref().unwrap_or_default(),
        ])
    });
    Some(Activity {
        location: None,
        session_id: None,
        id,
        time,
        kind: log.kind(),
        actor,
        targets: object
            .into_iter()
            .chain(json::str_at(entry, "objectName"))
            .collect(),
        ip: json::str_at(entry, "ip"),
        user_agent: None,
        outcome: Outcome::Unknown,
        action,
        raw: json::raw(entry),
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

    use super::*;
    use crate::api::fake;

    /// 2024-01-01T00:00:00Z.
    const NEW_YEAR: i64 = 1_704_067_200_000;

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
        let (pages, host) = host.run(|| {
            let mut pages: Vec<ActivityPage> = Vec::new();
            for _ in 0..4 {
                let cursor = pages.last().and_then(|p| p.next_cursor.clone());
                pages.push(list(&ctx, cursor.as_deref()).unwrap());
            }
            pages
        });
        assert_eq!(host.requests().len(), 4);
        let more: Vec<_> = pages.iter().map(|p| p.more).collect();
        assert_eq!(more, [true, true, false, true]);
        assert_eq!(pages[0].items[0].kind, ActivityKind::Admin);
        assert_eq!(
            pages[0].items[0].targets,
            ["4821-1234-5678", "Engagement letter"]
        );
        assert_eq!(pages[0].items[0].actor.as_deref(), Some("U-1"));
        assert_eq!(pages[2].items[0].kind, ActivityKind::User);
        assert_eq!(
            pages[2].next_cursor.as_deref(),
            Some(
                format!(
                    r#"{{"log":"admin","admin":{},"user":{}}}"#,
                    NEW_YEAR + 3_000,
                    NEW_YEAR + 5_000
                )
                .as_str()
            )
        );
        // The empty admin page keeps both positions.
        assert!(pages[3].items.is_empty());
        assert!(
            pages[3]
                .next_cursor
                .as_deref()
                .unwrap()
                .contains(&(NEW_YEAR + 5_000).to_string())
        );
    }

    #[test]
    fn ids_are_sent_ids_or_stable_hashes() {
        let with_id = json!({"id": "LOG-9", "date": "2024-01-01T00:00:00Z", "action": "Viewed"});
        assert_eq!(activity(&with_id, Log::Consolidated).unwrap().id, "LOG-9");
        let a = activity(&entry(1, "Viewed"), Log::Consolidated).unwrap();
        let b = activity(&entry(1, "Viewed"), Log::Consolidated).unwrap();
        let c = activity(&entry(1, "Viewed"), Log::Admin).unwrap();
        let d = activity(&entry(1, "Edited"), Log::Consolidated).unwrap();
        assert_eq!(a.id, b.id);
        assert_ne!(a.id, c.id);
        assert_ne!(a.id, d.id);
        assert_eq!(derived_id(&["a", "bc"]), derived_id(&["a", "bc"]));
        assert_ne!(derived_id(&["ab", "c"]), derived_id(&["a", "bc"]));
        assert!(activity(&json!({"action": "no time"}), Log::Admin).is_none());
    }
}
