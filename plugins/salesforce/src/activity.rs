//! `list-activities`: three feeds behind one [`FeedSet`] cursor, read in turn.
//!
//! | key | object | kind | read by |
//! |---|---|---|---|
//! | `login` | `LoginHistory` (kept six months) | logon | `LoginTime` |
//! | `setup` | `SetupAuditTrail` (kept 180 days) | admin | `CreatedDate` |
//! | `events` | `EventLogFile` (Event Monitoring: Salesforce Shield or the add-on; the free log types for a day) | user (and logon for `Login`/`Logout` rows) | the file's `CreatedDate` |
//!
//! `login` and `setup` search `WHERE <time> >= <cursor time> ORDER BY <time>, Id` and
//! page by `nextRecordsUrl`. SOQL datetime literals are whole seconds, so each new
//! search returns the boundary second's records again; the SDK's [`FeedCursor`]
//! remembers which of them it returned and drops them. A `nextRecordsUrl` that
//! expired (`INVALID_QUERY_LOCATOR`, after 15 minutes unused) restarts the search at
//! the cursor time rather than failing the scan forever.
//!
//! `events` reads one log file a call: the oldest `EventLogFile` (daily interval)
//! created at or after the cursor that it has not read yet, then its CSV content
//! (`GET …/sobjects/EventLogFile/{id}/LogFile`), one activity per row. Its cursor is
//! the file's `CreatedDate` with the ids of the files read in that second. An org
//! without Event Monitoring, or a user without "View Event Log Files", answers
//! `INVALID_TYPE` or `INSUFFICIENT_ACCESS`: the feed is skipped with a warning (and
//! `check` reports user activity missing). Files over [`MAX_LOG_FILE_BYTES`] (the
//! host's response cap is 32 MiB) are skipped with a warning.

use std::collections::BTreeMap;

use sluice_sdk::pagination::Source;
use sluice_sdk::prelude::*;

use crate::api::{Api, datetime};

/// `LoginHistory` fields: those of Salesforce's field reference, plus the sign-in's
/// location through the `LoginGeo` relationship.
pub const LOGIN_FIELDS: &str = "Id, UserId, LoginTime, LoginType, LoginUrl, SourceIp, Status, \
     Browser, Platform, Application, ApiType, ApiVersion, ClientVersion, CountryIso, LoginGeoId, \
     LoginGeo.City, LoginGeo.Subdivision, LoginGeo.Latitude, LoginGeo.Longitude, \
     AuthenticationServiceId, CipherSuite, TlsProtocol";

/// `SetupAuditTrail` fields.
pub const SETUP_FIELDS: &str = "Id, Action, Section, CreatedDate, CreatedById, \
     CreatedBy.Username, Display, DelegateUser, ResponsibleNamespacePrefix, CreatedByContext, \
     CreatedByIssuer";

/// `EventLogFile` fields.
pub const EVENT_FILE_FIELDS: &str =
    "Id, EventType, LogFile, LogDate, LogFileLength, CreatedDate, Interval";

/// Log files larger than this are skipped: the host refuses answers over 32 MiB.
pub const MAX_LOG_FILE_BYTES: f64 = 30.0 * 1024.0 * 1024.0;

/// The feeds, in reading order.
const SOURCES: [&str; 3] = ["login", "setup", "events"];

/// One page of activities.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<ActivityPage, ConnectorError> {
    let api = Api::new(ctx)?;
    FeedSet::resume(cursor, ctx.since)?.step(&SOURCES, |source| match source.key {
        "login" => read_query(
            &api,
            source,
            "LoginHistory",
            LOGIN_FIELDS,
            "LoginTime",
            login,
        ),
        "setup" => read_query(
            &api,
            source,
            "SetupAuditTrail",
            SETUP_FIELDS,
            "CreatedDate",
            setup,
        ),
        _ => read_event_file(&api, source),
    })
}

/// One batch of a feed searched by `time_field`: the cursor's next batch, else a new
/// search from the cursor time.
fn read_query(
    api: &Api,
    source: Source<'_>,
    object: &str,
    fields: &str,
    time_field: &str,
    map: fn(&Value) -> Option<Activity>,
) -> Result<(Vec<Activity>, bool), ConnectorError> {
    let search = |ts: Option<i64>| {
        let filter = ts.map_or(String::new(), |ts| {
            format!(" WHERE {time_field} >= {}", datetime(ts))
        });
        api.query_url(&format!(
            "SELECT {fields} FROM {object}{filter} ORDER BY {time_field}, Id"
        ))
    };
    let batch = match source.feed.next.take() {
        Some(next) => match api.batch_unless_expired(&next)? {
            Some(batch) => batch,
            None => {
                log::info(format_args!(
                    "the {object} query locator expired; searching again from the cursor time"
                ));
                api.batch(&search(source.feed.ts))?
            }
        },
        None => api.batch(&search(source.feed.ts))?,
    };
    let mut items = json::map_items(&batch.records, object, map);
    let done = batch.next.is_none();
    source.feed.advance(&mut items, batch.next);
    Ok((items, done))
}

/// The activity of a `LoginHistory` record; none without an id or time.
pub fn login(value: &Value) -> Option<Activity> {
    let status = json::str_at(value, "Status");
    let agent = match (
        json::str_at(value, "Browser"),
        json::str_at(value, "Platform"),
    ) {
        (Some(b), Some(p)) => Some(format!("{b} ({p})")),
        (b, p) => b.or(p),
    };
    let number = |path: &str| json::at(value, path).and_then(Value::as_f64);
    Some(Activity {
        actor: json::str_at(value, "UserId"),
        targets: json::str_at(value, "Application").into_iter().collect(),
        ip: json::str_at(value, "SourceIp"),
        user_agent: agent,
        location: Location::from_parts(
            json::str_at(value, "CountryIso"),
            json::str_at(value, "/LoginGeo/Subdivision"),
            json::str_at(value, "/LoginGeo/City"),
            number("/LoginGeo/Latitude"),
            number("/LoginGeo/Longitude"),
        ),
        outcome: match status.as_deref() {
            Some("Success") => Outcome::Success,
            Some(_) => Outcome::Failure,
            None => Outcome::Unknown,
        },
        ..Activity::new(
            json::str_at(value, "Id")?,
            json::timestamp_at(value, "LoginTime")?,
            ActivityKind::Logon,
            "login",
            json::raw(value),
        )
    })
}

/// The activity of a `SetupAuditTrail` record; none without an id or time.
pub fn setup(value: &Value) -> Option<Activity> {
    Some(Activity {
        actor: json::str_at(value, "/CreatedBy/Username")
            .or_else(|| json::str_at(value, "CreatedById")),
        targets: json::str_at(value, "Section").into_iter().collect(),
        outcome: Outcome::Success,
        ..Activity::new(
            json::str_at(value, "Id")?,
            json::timestamp_at(value, "CreatedDate")?,
            ActivityKind::Admin,
            json::str_at(value, "Action").unwrap_or_else(|| "setup".into()),
            json::raw(value),
        )
    })
}

/// Reads the next unread log file, if any; done when none is left.
fn read_event_file(api: &Api, source: Source<'_>) -> Result<(Vec<Activity>, bool), ConnectorError> {
    let feed = source.feed;
    let filter = feed.ts.map_or(String::new(), |ts| {
        format!(" AND CreatedDate >= {}", datetime(ts))
    });
    // The files of the boundary second already read come first again: ask for one more.
    let soql = format!(
        "SELECT {EVENT_FILE_FIELDS} FROM EventLogFile WHERE Interval = 'Daily'{filter} \
         ORDER BY CreatedDate, Id LIMIT {}",
        feed.seen.len() + 1
    );
    let batch = match api.batch(&api.query_url(&soql)) {
        Err(ConnectorError::Forbidden(why)) => {
            log::warn(format_args!(
                "skipping Event Monitoring (user activity): {why}; it needs Salesforce Shield or the Event Monitoring add-on and the \"View Event Log Files\" permission"
            ));
            return Ok((Vec::new(), true));
        }
        other => other?,
    };
    let Some(file) = batch
        .records
        .iter()
        .find(|f| json::str_at(f, "Id").is_some_and(|id| !feed.seen.contains(&id)))
    else {
        return Ok((Vec::new(), true));
    };
    let (Some(id), Some(created)) = (
        json::str_at(file, "Id"),
        json::timestamp_at(file, "CreatedDate"),
    ) else {
        return Err(ConnectorError::upstream(
            "an EventLogFile record came without Id or CreatedDate",
        ));
    };
    let size = json::at(file, "LogFileLength")
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    let items = if size > MAX_LOG_FILE_BYTES {
        log::warn(format_args!(
            "skipped event log file {id} ({size} bytes): larger than the host's response cap"
        ));
        Vec::new()
    } else {
        let path = json::str_at(file, "LogFile")
            .unwrap_or_else(|| format!("/services/data/vX/sobjects/EventLogFile/{id}/LogFile"));
        let response = crate::api::checked(
            sluice_sdk::http::get(api.absolute(&path))
                .header("accept", "text/csv")
                .send()?,
        )?;
        let fallback = json::str_at(file, "EventType").unwrap_or_default();
        event_rows(&id, &fallback, &response.text())
    };
    if feed.ts.map(|t| t.div_euclid(1000)) != Some(created.div_euclid(1000)) {
        feed.seen.clear();
    }
    feed.ts = Some(created);
    feed.seen.push(id);
    Ok((items, false))
}

/// The activities of one log file's CSV (`id`: the file's id, `event_type`: its
/// `EventType`, for rows without an `EVENT_TYPE` column).
pub fn event_rows(id: &str, event_type: &str, csv: &str) -> Vec<Activity> {
    let mut rows = parse_csv(csv).into_iter();
    let Some(header) = rows.next() else {
        return Vec::new();
    };
    let mut skipped = 0;
    let items: Vec<Activity> = rows
        .enumerate()
        .filter(|(_, row)| !(row.len() == 1 && row[0].is_empty()))
        .filter_map(|(n, row)| {
            let fields: BTreeMap<&str, &str> = header
                .iter()
                .map(String::as_str)
                .zip(row.iter().map(String::as_str))
                .collect();
            let activity = event_row(&format!("{id}:{}", n + 1), event_type, &fields);
            skipped += usize::from(activity.is_none());
            activity
        })
        .collect();
    if skipped > 0 {
        log::warn(format_args!(
            "skipped {skipped} rows of event log file {id} without a timestamp"
        ));
    }
    items
}

/// One CSV row as an activity; none without a time.
fn event_row(id: &str, file_type: &str, f: &BTreeMap<&str, &str>) -> Option<Activity> {
    let get = |name: &str| f.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
    let time = get("TIMESTAMP_DERIVED")
        .and_then(time::parse)
        .or_else(|| get("TIMESTAMP").and_then(compact_timestamp))?;
    let event_type = get("EVENT_TYPE").unwrap_or(file_type).to_owned();
    let kind = match event_type.as_str() {
        "Login" | "Logout" | "LoginAs" => ActivityKind::Logon,
        _ => ActivityKind::User,
    };
    // Login rows: anything but "no error" is a failed sign-in.
    let outcome = if let Some(status) = get("LOGIN_STATUS") {
        if status == "LOGIN_NO_ERROR" {
            Outcome::Success
        } else {
            Outcome::Failure
        }
    } else if let Some(code) = get("STATUS_CODE").and_then(|c| c.parse::<u16>().ok()) {
        if code < 400 {
            Outcome::Success
        } else {
            Outcome::Failure
        }
    } else {
        Outcome::Unknown
    };
    let raw: serde_json::Map<String, Value> = f
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
        .collect();
    Some(Activity {
        actor: get("USER_ID_DERIVED").or(get("USER_ID")).map(str::to_owned),
        targets: get("URI")
            .or(get("ENTITY_NAME"))
            .or(get("REPORT_ID_DERIVED"))
            .map(str::to_owned)
            .into_iter()
            .collect(),
        ip: get("CLIENT_IP").or(get("SOURCE_IP")).map(str::to_owned),
        user_agent: get("USER_AGENT").or(get("BROWSER_TYPE")).map(str::to_owned),
        session_id: get("SESSION_KEY").map(str::to_owned),
        outcome,
        ..Activity::new(id, time, kind, event_type, Value::Object(raw).to_string())
    })
}

/// Event Monitoring's `TIMESTAMP` column, `yyyyMMddHHmmss.SSS` in UTC.
pub fn compact_timestamp(text: &str) -> Option<i64> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, "0"));
    if whole.len() != 14 || !whole.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let iso = format!(
        "{}-{}-{}T{}:{}:{}.{}Z",
        &whole[0..4],
        &whole[4..6],
        &whole[6..8],
        &whole[8..10],
        &whole[10..12],
        &whole[12..14],
        fraction
    );
    time::parse(&iso)
}

/// Rows of RFC 4180 CSV, as Event Monitoring writes it: fields optionally in double
/// quotes, `""` for a quote inside, line breaks inside quotes kept.
pub fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut field)),
            (false, '\r') => {}
            (false, '\n') => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            (false, c) => field.push(c),
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sluice_sdk::testing::NEW_YEAR;

    use super::*;
    use crate::api::fake;

    #[test]
    fn the_published_login_history_and_setup_audit_trail_map_to_activities() {
        let (Some(logins), Some(setups)) = (
            fake::fixture("query-loginhistory.rendered-from-object-reference"),
            fake::fixture("query-setupaudittrail.rendered-from-object-reference"),
        ) else {
            return;
        };
        let logins: Vec<Activity> = logins["records"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(login)
            .collect();
        assert_eq!(logins.len(), 2);
        assert_eq!(logins[0].kind, ActivityKind::Logon);
        assert_eq!(logins[0].outcome, Outcome::Success);
        assert_eq!(logins[0].ip.as_deref(), Some("198.51.100.23"));
        assert_eq!(logins[0].actor.as_deref(), Some("005RO000001aBcDYAU"));
        assert_eq!(
            logins[0].location.as_ref().unwrap().country_code.as_deref(),
            Some("US")
        );
        assert_eq!(logins[1].outcome, Outcome::Failure, "Invalid Password");
        assert_eq!(logins[1].targets, ["Example Connected App"]);
        let setups: Vec<Activity> = setups["records"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(setup)
            .collect();
        assert_eq!(setups.len(), 2);
        assert_eq!(setups[0].kind, ActivityKind::Admin);
        assert_eq!(setups[0].action, "PermSetCreate");
        assert_eq!(setups[1].actor.as_deref(), Some("alice.admin@example.com"));
        assert_eq!(setups[1].targets, ["Manage Users"]);
    }

    #[test]
    fn log_file_rows_become_activities() {
        let csv = "\"EVENT_TYPE\",\"TIMESTAMP\",\"REQUEST_ID\",\"USER_ID\",\"URI\",\"CLIENT_IP\",\"TIMESTAMP_DERIVED\",\"USER_ID_DERIVED\"\r\n\
                   \"API\",\"20240101000005.123\",\"4exLFFQZ1234\",\"005000000000001\",\"/services/data/v62.0/query\",\"203.0.113.9\",\"\",\"005000000000001AAA\"\r\n\
                   \"Login\",\"20240101000006.000\",\"4exLFFQZ1235\",\"005000000000002\",\"\",\"\",\"2024-01-01T00:00:06.000Z\",\"\"\r\n";
        let rows = event_rows("0AT1", "API", csv);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].id, "0AT1:1");
        assert_eq!(rows[0].time, NEW_YEAR + 5_123);
        assert_eq!(
            (rows[0].kind, rows[0].action.as_str()),
            (ActivityKind::User, "API")
        );
        assert_eq!(rows[0].actor.as_deref(), Some("005000000000001AAA"));
        assert_eq!(rows[0].targets, ["/services/data/v62.0/query"]);
        assert_eq!(rows[1].kind, ActivityKind::Logon);
        assert_eq!(rows[1].time, NEW_YEAR + 6_000);
        let raw: Value = serde_json::from_str(&rows[0].raw).unwrap();
        assert_eq!(raw["REQUEST_ID"], "4exLFFQZ1234");
        assert_eq!(
            parse_csv("a,\"b \"\"q\"\"\nc\"\n"),
            vec![vec!["a".to_owned(), "b \"q\"\nc".to_owned()]]
        );
    }

    #[test]
    fn searches_from_the_cursor_time_and_drops_the_boundary_second_it_returned() {
        let since = NEW_YEAR;
        let first = fake::query(&format!(
            "SELECT {LOGIN_FIELDS} FROM LoginHistory WHERE LoginTime >= 2024-01-01T00:00:00Z ORDER BY LoginTime, Id"
        ));
        let next = "/services/data/v62.0/query/01gLH-200";
        let resumed = fake::query(&format!(
            "SELECT {LOGIN_FIELDS} FROM LoginHistory WHERE LoginTime >= 2024-01-01T00:00:09Z ORDER BY LoginTime, Id"
        ));
        let entry = |id: &str, s: i64| json!({"Id": id, "UserId": "005A", "LoginTime": time::to_rfc3339(NEW_YEAR + s * 1000), "Status": "Success"});
        let host = fake::org(vec![
            (first, fake::batch(json!([entry("L1", 1)]), Some(next))),
            (
                format!("{}{next}", fake::INSTANCE),
                fake::batch(json!([entry("L2", 9)]), None),
            ),
            (
                resumed,
                fake::batch(json!([entry("L2", 9), entry("L3", 10)]), None),
            ),
        ]);
        let ctx = fake::ctx(200, Some(since));
        let (pages, host) = host.run(|| {
            let one = list(&ctx, None).unwrap();
            let two = list(&ctx, one.next_cursor.as_deref()).unwrap();
            // Back to the first feed on the next run, after setup and events were read.
            let mut cursor: FeedSet = Cursor::decode(two.next_cursor.as_deref().unwrap()).unwrap();
            cursor.source = None;
            let three = list(&ctx, Some(&Cursor::encode(&cursor))).unwrap();
            vec![one, two, three]
        });
        assert_eq!(host.requests().len(), 3);
        assert!(pages[0].more);
        let ids: Vec<Vec<&str>> = pages
            .iter()
            .map(|p| p.items.iter().map(|a| a.id.as_str()).collect())
            .collect();
        assert_eq!(ids, [vec!["L1"], vec!["L2"], vec!["L3"]]);
    }

    #[test]
    fn an_org_without_event_monitoring_skips_the_feed() {
        let host = fake::org(vec![]).on_request(|r| {
            Ok(if r.url.contains("EventLogFile") {
                fake::error(
                    400,
                    "INVALID_TYPE",
                    "sObject type 'EventLogFile' is not supported.",
                )
            } else {
                fake::batch(json!([]), None)
            })
        });
        let ctx = fake::ctx(200, Some(NEW_YEAR));
        let (run, _) =
            host.run(|| sluice_sdk::testing::run_pages(None, 10, |c| list(&ctx, c.as_deref())));
        let run = run.unwrap();
        assert_eq!(
            run.calls, 3,
            "login, setup, then events, which ends the run"
        );
        assert!(run.items.is_empty());
    }
}
