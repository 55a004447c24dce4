//! Properties of what crosses into the host from plugins and providers, for any input
//! rather than the handful a unit test names: the records and raw JSON a plugin hands
//! over, the cursors it saves and clients pass back, the rate-limit headers a provider
//! answers with, and the log lines and URL templates a connector writes. A plugin or a
//! provider that is odd or hostile must not be able to panic the host, poison the
//! store, or stretch a wait without bound. (Redacting injected secrets from responses
//! is checked the same way next to the private code that does it, in
//! `capabilities::credentials`.)
//!
//! Bounded for CI: each property runs `PROPTEST_CASES` cases (proptest's default, 256,
//! when unset); `.ci/run` runs this file once more with more cases. Every run draws
//! fresh inputs (`PROPTEST_RNG_SEED` replays one). A failure prints the shrunk input
//! and nothing is written to the source tree: a case worth keeping becomes a plain
//! `#[test]` below, as the ones at the end did.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseResult, TestRunner};
use serde_json::Value;

use sluice::capabilities::log::{MAX_MESSAGE_BYTES, is_escaped, sanitize};
use sluice::model::http::{HttpFailure, InboundResponse};
use sluice::model::limits::InstanceLimitConfig;
use sluice::model::template::{Destination, Template, TemplateError};
use sluice::model::{
    Activity, ActivityKind, AppPermission, ContentHash, File, Finding, Group, Kind, LinkAudience,
    Location, MAX_RAW_DEPTH, Outcome, PrincipalKind, RateLimit, RawJson, Record, Severity,
    ShareLink, SharePrincipal, ShareRole, Sharing, User, UserStatus, raw_json,
};
use sluice::ratelimit::RateLimits;
use sluice::ratelimit::headers::{self, MAX_PROVIDER_WAIT};
use sluice::store::{RecordFilter, RecordQuery, ScanState, Store, StoreError};

/// Runs `test` on `PROPTEST_CASES` inputs from `strategy`; no failure files.
fn check<S: Strategy>(strategy: S, test: impl Fn(S::Value) -> TestCaseResult)
where
    S::Value: std::fmt::Debug,
{
    let config = Config {
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    if let Err(e) = runner.run(&strategy, test) {
        panic!("{e}");
    }
}

// ---- inputs -------------------------------------------------------------------------

/// Characters that have tripped up escaping, keys and terminals.
const TRICKY: &[char] = &[
    'a', 'b', '\0', '\n', '\r', '\t', '\u{1b}', '\u{7f}', '\u{85}', '"', '\\', '/', '{', '}', '[',
    ']', 'é', '\u{2028}', '\u{202e}', '\u{fffd}', '😀',
];

/// Any text a plugin can put in a WIT `string`.
fn text() -> BoxedStrategy<String> {
    prop_oneof![
        prop::collection::vec(any::<char>(), 0..16).prop_map(String::from_iter),
        prop::collection::vec(prop::sample::select(TRICKY), 0..8).prop_map(String::from_iter),
    ]
    .boxed()
}

fn texts() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(text(), 0..3)
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    prop::option::of(text())
}

/// Provider ids: mostly from a tiny alphabet, so a page repeats ids and they share
/// prefixes (`a`, `a\0`, the empty id) the key layout must keep apart.
fn id() -> BoxedStrategy<String> {
    prop_oneof![
        3 => prop::collection::vec(prop::sample::select(vec!['a', 'b', '\0']), 0..3)
            .prop_map(String::from_iter),
        1 => text(),
    ]
    .boxed()
}

/// Event times: anywhere in `i64`, near zero and the ends, and within three recent
/// hours (a page then spans several one-hour blocks).
fn time() -> BoxedStrategy<i64> {
    prop_oneof![
        any::<i64>(),
        -3i64..3,
        1_700_000_000_000i64..1_700_010_800_000,
        (i64::MAX - 2)..=i64::MAX,
        i64::MIN..=(i64::MIN + 2),
    ]
    .boxed()
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| {
            serde_json::Number::from_f64(f).map(Value::Number)
        }),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((text(), inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// JSON nested around the raw-depth limit and serde_json's own (128).
fn nested() -> impl Strategy<Value = String> {
    (90usize..140, any::<bool>(), json()).prop_map(|(depth, objects, core)| {
        let (open, close) = if objects {
            (r#"{"k":"#, "}")
        } else {
            ("[", "]")
        };
        format!("{}{core}{}", open.repeat(depth), close.repeat(depth))
    })
}

/// JSON that a skim accepts and a full read may not: `\u` escapes (lone surrogates
/// among them) and numbers past `f64`.
fn edge_json() -> impl Strategy<Value = String> {
    let escape = prop_oneof![0xd800u32..0xe000, 0u32..0x10000].prop_map(|u| format!("\\u{u:04x}"));
    let plain = text().prop_map(|t| {
        let quoted = serde_json::to_string(&t).unwrap();
        quoted[1..quoted.len() - 1].to_string()
    });
    let string = prop::collection::vec(prop_oneof![escape, plain], 1..4)
        .prop_map(|parts| format!("\"{}\"", parts.concat()));
    let number = (
        "-?(0|[1-9][0-9]{0,20})(\\.[0-9]{1,5})?",
        prop::option::of(-400i32..400),
    )
        .prop_map(|(m, e)| e.map_or(m.clone(), |e| format!("{m}e{e}")));
    let long_integer = "[1-9][0-9]{300,330}";
    let scalar = prop_oneof![string, number, long_integer];
    (scalar, 0usize..3).prop_map(|(s, wrap)| match wrap {
        0 => s,
        1 => format!("[1,{s}]"),
        _ => format!(r#"{{"k":{s}}}"#),
    })
}

/// What a plugin may put in a record's `raw`.
fn raw_text() -> BoxedStrategy<String> {
    prop_oneof![
        text(),
        json().prop_map(|v| v.to_string()),
        json().prop_map(|v| serde_json::to_string_pretty(&v).unwrap()),
        nested(),
        edge_json(),
    ]
    .boxed()
}

fn user() -> impl Strategy<Value = Record> {
    let statuses = vec![
        UserStatus::Active,
        UserStatus::Suspended,
        UserStatus::Disabled,
        UserStatus::Deleted,
    ];
    (
        id(),
        (opt_text(), opt_text(), opt_text()),
        prop::sample::select(statuses),
        (any::<bool>(), any::<bool>()),
        (texts(), texts()),
        (
            prop::option::of(any::<i64>()),
            prop::option::of(any::<i64>()),
        ),
    )
        .prop_map(
            |(
                id,
                (login, email, display_name),
                status,
                (is_admin, is_external),
                (roles, group_ids),
                (last_sign_in, created),
            )| {
                Record::User(User {
                    id,
                    login,
                    email,
                    display_name,
                    status,
                    is_admin,
                    is_external,
                    roles,
                    group_ids,
                    last_sign_in,
                    created,
                    raw: placeholder(),
                })
            },
        )
}

fn group() -> impl Strategy<Value = Record> {
    (id(), text(), opt_text(), texts()).prop_map(|(id, name, description, members)| {
        Record::Group(Group {
            id,
            name,
            description,
            members,
            raw: placeholder(),
        })
    })
}

fn activity() -> impl Strategy<Value = Record> {
    let kinds = vec![ActivityKind::Logon, ActivityKind::User, ActivityKind::Admin];
    let outcomes = vec![Outcome::Success, Outcome::Failure, Outcome::Unknown];
    (
        id(),
        time(),
        prop::sample::select(kinds),
        (opt_text(), text(), texts()),
        (opt_text(), opt_text()),
        prop::sample::select(outcomes),
        (prop::option::of(location()), opt_text()),
    )
        .prop_map(
            |(
                id,
                time,
                kind,
                (actor, action, targets),
                (ip, user_agent),
                outcome,
                (location, session_id),
            )| {
                Record::Activity(Activity {
                    id,
                    time,
                    kind,
                    actor,
                    action,
                    targets,
                    ip,
                    user_agent,
                    location,
                    session_id,
                    outcome,
                    raw: placeholder(),
                })
            },
        )
}

/// Contract 0.2.0's activity location. Coordinates as the host keeps them: finite,
/// to 7 decimals (see `since_v0_2_0`), which JSON carries exactly.
fn location() -> impl Strategy<Value = Location> {
    let degrees = |max: i64| (-max * 10_000_000..=max * 10_000_000).prop_map(|v| v as f64 / 1e7);
    (
        (opt_text(), opt_text(), opt_text()),
        prop::option::of(degrees(90)),
        prop::option::of(degrees(180)),
    )
        .prop_map(
            |((country_code, region, city), latitude, longitude)| Location {
                country_code,
                region,
                city,
                latitude,
                longitude,
            },
        )
}

/// Contract 0.2.0's file sharing: links and named principals.
fn sharing() -> impl Strategy<Value = Sharing> {
    let roles = vec![
        ShareRole::Viewer,
        ShareRole::Commenter,
        ShareRole::Editor,
        ShareRole::Owner,
    ];
    let link = (
        prop::sample::select(vec![LinkAudience::Anyone, LinkAudience::Organization]),
        opt_text(),
        prop::sample::select(roles.clone()),
        prop::option::of(any::<i64>()),
    )
        .prop_map(|(audience, domain, role, expires)| ShareLink {
            audience,
            domain,
            role,
            expires,
        });
    let kinds = vec![
        PrincipalKind::User,
        PrincipalKind::Group,
        PrincipalKind::Domain,
    ];
    let principal = (
        text(),
        prop::sample::select(kinds),
        any::<bool>(),
        prop::sample::select(roles),
    )
        .prop_map(|(id, kind, external, role)| SharePrincipal {
            id,
            kind,
            external,
            role,
        });
    (
        prop::collection::vec(link, 0..3),
        prop::collection::vec(principal, 0..4),
    )
        .prop_map(|(links, principals)| Sharing { links, principals })
}

fn file() -> impl Strategy<Value = Record> {
    (
        id(),
        text(),
        (opt_text(), opt_text(), opt_text()),
        prop::option::of(any::<u64>()),
        prop::option::of(any::<i64>()),
        (any::<bool>(), any::<bool>()),
        (sharing(), texts(), prop::option::of((text(), text()))),
    )
        .prop_map(
            |(
                id,
                name,
                (path, owner, mime_type),
                size,
                modified,
                (shared_externally, public),
                (sharing, labels, hash),
            )| {
                Record::File(File {
                    id,
                    name,
                    path,
                    owner,
                    mime_type,
                    size,
                    modified,
                    shared_externally,
                    public,
                    sharing,
                    labels,
                    content_hash: hash.map(|(algorithm, value)| ContentHash { algorithm, value }),
                    raw: placeholder(),
                })
            },
        )
}

fn app_permission() -> impl Strategy<Value = Record> {
    (
        id(),
        text(),
        (opt_text(), opt_text()),
        texts(),
        prop::option::of(any::<i64>()),
    )
        .prop_map(|(id, app_id, (app_name, grantee), scopes, granted_at)| {
            Record::AppPermission(AppPermission {
                id,
                app_id,
                app_name,
                grantee,
                scopes,
                granted_at,
                raw: placeholder(),
            })
        })
}

fn finding() -> impl Strategy<Value = Record> {
    let severities = vec![
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];
    (
        id(),
        text(),
        prop::sample::select(severities),
        any::<bool>(),
        (text(), text()),
    )
        .prop_map(|(id, title, severity, passed, (detail, remediation))| {
            Record::Finding(Finding {
                id,
                title,
                severity,
                passed,
                detail,
                remediation,
                raw: placeholder(),
            })
        })
}

fn placeholder() -> RawJson {
    RawJson::from(Value::Null)
}

fn event(id: &str, time: i64) -> Record {
    Record::Activity(Activity {
        id: id.into(),
        time,
        kind: ActivityKind::Admin,
        actor: None,
        action: "a".into(),
        targets: vec![],
        ip: None,
        user_agent: None,
        location: None,
        session_id: None,
        outcome: Outcome::Unknown,
        raw: placeholder(),
    })
}

fn a_user(id: &str) -> Record {
    Record::User(User {
        id: id.into(),
        login: None,
        email: None,
        display_name: None,
        status: UserStatus::Active,
        is_admin: false,
        is_external: false,
        roles: vec![],
        group_ids: vec![],
        last_sign_in: None,
        created: None,
        raw: placeholder(),
    })
}

fn raw_mut(r: &mut Record) -> &mut RawJson {
    match r {
        Record::User(x) => &mut x.raw,
        Record::Group(x) => &mut x.raw,
        Record::Activity(x) => &mut x.raw,
        Record::File(x) => &mut x.raw,
        Record::AppPermission(x) => &mut x.raw,
        Record::Finding(x) => &mut x.raw,
    }
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// What a record's `raw` reads back as: the JSON value when the text is JSON nested at
/// most `MAX_RAW_DEPTH` deep, else the text itself as a JSON string.
fn kept_raw(text: &str) -> Value {
    match serde_json::from_str::<Value>(text) {
        Ok(v) if depth(&v) <= MAX_RAW_DEPTH => v,
        _ => Value::String(text.to_owned()),
    }
}

/// A record as a plugin hands it over (raw text converted the way the bindings do),
/// and as it must read back.
#[derive(Clone, Debug)]
struct HandedOver {
    record: Record,
    expected: Record,
}

fn handed_over(record: impl Strategy<Value = Record>) -> impl Strategy<Value = HandedOver> {
    (record, raw_text()).prop_map(|(mut record, text)| {
        let mut expected = record.clone();
        *raw_mut(&mut expected) = RawJson::from_value(&kept_raw(&text));
        *raw_mut(&mut record) = raw_json(text);
        HandedOver { record, expected }
    })
}

fn snapshot_records(kind: Kind) -> BoxedStrategy<Record> {
    match kind {
        Kind::Users => user().boxed(),
        Kind::Groups => group().boxed(),
        Kind::Files => file().boxed(),
        Kind::AppPermissions => app_permission().boxed(),
        Kind::Findings => finding().boxed(),
        Kind::Activities => unreachable!("activities are not a snapshot kind"),
    }
}

/// Cursors a plugin saves: any text, long ones included.
fn cursor() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        text(),
        prop::collection::vec(any::<char>(), 0..3000).prop_map(String::from_iter),
    ])
}

// ---- records, raw JSON and cursors through the store -------------------------------

/// A fresh instance id per case, so cases share one store and never each other's data.
fn next_instance() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("{:016x}", N.fetch_add(1, Ordering::Relaxed))
}

fn state(generation: u64, cursor: Option<String>) -> ScanState {
    ScanState {
        generation,
        cursor,
        in_progress: true,
        pages: 1,
        records: 0,
        started: Some(1),
        last_completed: None,
        partitions: Vec::new(),
        changes_since: None,
    }
}

/// Every record `store.query` returns for the filter, page after page of `limit`.
fn query_all(
    store: &Store,
    inst: &str,
    kind: Kind,
    filter: &RecordFilter,
    limit: usize,
) -> Result<Vec<Record>, TestCaseError> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store
            .query(inst, kind, filter, cursor.as_deref(), limit)
            .map_err(|e| TestCaseError::fail(format!("query after {cursor:?}: {e}")))?;
        out.extend(page.items.into_iter().map(|r| r.record));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(out),
        }
        prop_assert!(out.len() <= 10_000, "query pages do not end");
    }
}

fn read_all(store: &Store, inst: &str, kind: Kind) -> Result<Vec<Record>, TestCaseError> {
    let stored = store
        .records(inst, kind, &RecordQuery::default())
        .map_err(|e| TestCaseError::fail(format!("reading {kind} back: {e}")))?;
    Ok(stored.into_iter().map(|r| r.record).collect())
}

/// Whatever snapshot records a plugin hands over commit, and read back as handed over
/// (raw JSON as its value, or as text when it is not JSON a read can take): by
/// `records`, by id, counted, and through paginated queries. The page's cursor reads
/// back too. Guards against a record that commits and then fails every later read of
/// its kind (deep raw JSON once did), and against ids that collide in the key layout.
#[test]
fn any_snapshot_page_commits_and_reads_back_as_handed_over() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let kinds = vec![
        Kind::Users,
        Kind::Groups,
        Kind::Files,
        Kind::AppPermissions,
        Kind::Findings,
    ];
    let page = prop::sample::select(kinds).prop_flat_map(|kind| {
        (
            Just(kind),
            prop::collection::vec(handed_over(snapshot_records(kind)), 0..8),
            cursor(),
            any::<bool>(),
            1usize..5,
        )
    });
    check(page, |(kind, page, cursor, sweep, limit)| {
        let inst = next_instance();
        let records: Vec<Record> = page.iter().map(|h| h.record.clone()).collect();
        // Keyed by provider id: a later copy in the page wins.
        let expected: BTreeMap<Vec<u8>, Record> = page
            .iter()
            .map(|h| (h.record.id().as_bytes().to_vec(), h.expected.clone()))
            .collect();
        let st = state(1, cursor);
        let deleted = store
            .commit_page(&inst, kind, &records, &st, sweep)
            .map_err(|e| TestCaseError::fail(format!("commit: {e}")))?;
        prop_assert_eq!(deleted, 0);

        let want: Vec<Record> = expected.values().cloned().collect();
        prop_assert_eq!(&read_all(&store, &inst, kind)?, &want);
        for r in &want {
            let one = store.record(&inst, kind, r.id()).ok().flatten();
            prop_assert_eq!(one.map(|s| s.record), Some(r.clone()));
        }
        prop_assert_eq!(store.count(&inst, kind).ok(), Some((want.len() as u64, 0)));
        let queried = query_all(&store, &inst, kind, &RecordFilter::default(), limit)?;
        prop_assert_eq!(&queried, &want);
        prop_assert_eq!(store.scan_state(&inst, kind).ok(), Some(st));
        Ok(())
    });
}

/// The store's unique key for an event: its time (times before the epoch counted as
/// the epoch) and its id.
fn event_pos(r: &Record) -> (i64, Vec<u8>) {
    (r.time().unwrap_or(0).max(0), r.id().as_bytes().to_vec())
}

/// Whatever events a plugin hands over, in two pages and then the first one again (a
/// page retried after a crash): every event reads back once, newest first, as handed
/// over, by `records`, counted and through paginated and time-filtered queries. A
/// later copy of an event in one page wins; a page never replaces events already
/// stored. The cursor saved with the pages reads back.
#[test]
fn any_activity_pages_commit_and_read_back_once_each_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let pages = (
        prop::collection::vec(handed_over(activity()), 0..8),
        prop::collection::vec(handed_over(activity()), 0..8),
        cursor(),
        (prop::option::of(time()), prop::option::of(time())),
        1usize..5,
    );
    check(pages, |(first, second, cursor, (since, until), limit)| {
        let inst = next_instance();
        let mut expected: BTreeMap<(i64, Vec<u8>), Record> = BTreeMap::new();
        let mut last_state = ScanState::default();
        for (n, page) in [&first, &second, &first].into_iter().enumerate() {
            let records: Vec<Record> = page.iter().map(|h| h.record.clone()).collect();
            let mut this_page = BTreeMap::new();
            for h in page {
                this_page.insert(event_pos(&h.record), h.expected.clone());
            }
            for (pos, r) in this_page {
                expected.entry(pos).or_insert(r);
            }
            last_state = state(0, cursor.clone().map(|c| format!("{c}{n}")));
            store
                .commit_page(&inst, Kind::Activities, &records, &last_state, false)
                .map_err(|e| TestCaseError::fail(format!("commit page {n}: {e}")))?;
        }

        let newest_first: Vec<Record> = expected.values().rev().cloned().collect();
        prop_assert_eq!(&read_all(&store, &inst, Kind::Activities)?, &newest_first);
        prop_assert_eq!(
            store.count(&inst, Kind::Activities).ok(),
            Some((newest_first.len() as u64, 0))
        );
        let all = query_all(
            &store,
            &inst,
            Kind::Activities,
            &RecordFilter::default(),
            limit,
        )?;
        prop_assert_eq!(&all, &newest_first);
        if since.zip(until).is_none_or(|(s, u)| s <= u) {
            let filter = RecordFilter {
                since,
                until,
                ..Default::default()
            };
            let within: Vec<Record> = newest_first
                .iter()
                .filter(|r| {
                    let t = r.time().unwrap();
                    since.is_none_or(|s| s <= t) && until.is_none_or(|u| t <= u)
                })
                .cloned()
                .collect();
            let got = query_all(&store, &inst, Kind::Activities, &filter, limit)?;
            prop_assert_eq!(got, within, "since {:?} until {:?}", since, until);
        }
        prop_assert_eq!(
            store.scan_state(&inst, Kind::Activities).ok(),
            Some(last_state)
        );
        Ok(())
    });
}

/// A query cursor from a client (any text, or any bytes in the cursor encoding) is
/// answered with a page or refused as a bad cursor; never a panic or another error.
#[test]
fn any_query_cursor_gets_a_page_or_a_bad_cursor_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let inst = "0123456789abcdef";
    let events = [event("", 0), event("a", 1), event("a\0", 1), event("b", -1)];
    store
        .commit_page(inst, Kind::Activities, &events, &state(0, None), false)
        .unwrap();
    let users = [a_user(""), a_user("a"), a_user("a\0"), a_user("b")];
    store
        .commit_page(inst, Kind::Users, &users, &state(1, None), false)
        .unwrap();
    let cursors = prop_oneof![
        text(),
        prop::collection::vec(any::<u8>(), 0..24)
            .prop_map(|b| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)),
    ];
    check(
        (
            cursors,
            prop::sample::select(vec![Kind::Activities, Kind::Users]),
        ),
        |(cursor, kind)| match store.query(inst, kind, &RecordFilter::default(), Some(&cursor), 3) {
            Ok(_) | Err(StoreError::BadCursor(_)) => Ok(()),
            Err(e) => Err(TestCaseError::fail(format!("{e}"))),
        },
    );
}

// ---- provider headers ----------------------------------------------------------------

const HEADER_NAMES: &[&str] = &[
    "retry-after",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-rate-limit-limit",
    "x-rate-limit-remaining",
    "x-rate-limit-reset",
    "x-burstlimit-limit",
    "x-burstlimit-remaining",
    "sforce-limit-info",
];

/// Header values a provider might send for a number, a date or a usage string, and
/// anything else.
fn header_value() -> BoxedStrategy<String> {
    prop_oneof![
        any::<f64>().prop_map(|f| f.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        "[0-9]{1,3}(\\.[0-9]{1,3})?[eE][+-]?[0-9]{1,3}",
        (0u64..253_402_300_799)
            .prop_map(|s| httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(s))),
        "api-usage=[0-9eE.+-]{1,12}/[0-9eE.+-]{1,12}",
        prop::sample::select(vec!["inf", "NaN", "-0", "", " 1 ", "1e309", "-1"])
            .prop_map(String::from),
        text(),
    ]
    .boxed()
}

fn provider_headers() -> impl Strategy<Value = Vec<(String, String)>> {
    let name = prop_oneof![
        4 => (prop::sample::select(HEADER_NAMES), any::<u64>()).prop_map(|(n, case)| {
            n.chars()
                .enumerate()
                .map(|(i, c)| if (case >> (i % 64)) & 1 == 1 { c.to_ascii_uppercase() } else { c })
                .collect()
        }),
        1 => text(),
    ];
    prop::collection::vec((name, header_value()), 0..8)
}

/// Any headers, read at any time: no panic, and no wait longer than
/// `MAX_PROVIDER_WAIT` (a reset in the year 9999 or `1e300` seconds from now would
/// otherwise overflow `Duration` and `Instant` arithmetic, or park an instance for
/// centuries).
#[test]
fn provider_headers_never_panic_and_waits_are_capped() {
    check(
        (provider_headers(), 0u64..4_000_000_000),
        |(headers, now)| {
            let now = UNIX_EPOCH + Duration::from_secs(now);
            let o = headers::observe(&headers, now);
            prop_assert!(
                o.retry_after.is_none_or(|d| d <= MAX_PROVIDER_WAIT),
                "{o:?}"
            );
            prop_assert!(o.reset.is_none_or(|d| d <= MAX_PROVIDER_WAIT), "{o:?}");
            for (_, v) in &headers {
                let d = headers::retry_after(v, now);
                prop_assert!(d.is_none_or(|d| d <= MAX_PROVIDER_WAIT), "{v:?}: {d:?}");
            }
            Ok(())
        },
    );
}

/// A provider answering every try with any status and headers: `send` returns
/// without panicking, having waited (paused clock) at most the retry policy's
/// `max_wait` in all, and a `rate-limited` answer asks the plugin to come back within
/// `MAX_PROVIDER_WAIT`.
#[test]
fn sending_through_any_provider_answer_waits_at_most_max_wait() {
    let statuses = vec![200u16, 403, 429, 500, 502, 503];
    check(
        (prop::sample::select(statuses), provider_headers()),
        |(status, headers)| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .start_paused(true)
                .build()
                .unwrap();
            rt.block_on(async {
                let limits = RateLimits::default();
                let declared = [RateLimit {
                    scope: "*".into(),
                    requests: 100,
                    per_seconds: 1,
                    burst: 100,
                    max_concurrency: 0,
                }];
                let no_overrides = InstanceLimitConfig::default();
                limits.register("i", "i", &declared, &BTreeMap::new(), &no_overrides);
                let start = tokio::time::Instant::now();
                let (result, _) = limits
                    .send("i", "api.example.com", true, || {
                        let response = InboundResponse {
                            status,
                            headers: headers.clone(),
                            body: Vec::new(),
                        };
                        async move { Ok(response) }
                    })
                    .await;
                prop_assert!(start.elapsed() <= limits.retry.max_wait);
                if let Err(HttpFailure::RateLimited(Some(secs))) = result {
                    prop_assert!(u64::from(secs) <= MAX_PROVIDER_WAIT.as_secs(), "{secs}");
                }
                Ok(())
            })
        },
    );
}

// ---- plugin log lines ----------------------------------------------------------------

/// Any log message comes out on one line with no control character, line separator
/// or bidirectional control (no forged log lines, no terminal escapes, no reordering),
/// bounded in length, and a message that needed no escaping or cutting comes out
/// unchanged.
#[test]
fn sanitized_log_lines_hold_no_control_characters() {
    let message = prop_oneof![
        text(),
        prop::collection::vec(prop::sample::select(TRICKY), 0..6000).prop_map(String::from_iter),
        prop::collection::vec(any::<char>(), 0..5000).prop_map(String::from_iter),
    ];
    check(message, |message| {
        let out = sanitize(&message);
        prop_assert!(!out.chars().any(is_escaped), "{out:?}");
        // `\u{9f}` (6 bytes) for a 2-byte control is the widest escape.
        prop_assert!(out.len() <= 6 * MAX_MESSAGE_BYTES + '…'.len_utf8());
        if message.len() <= MAX_MESSAGE_BYTES && !message.chars().any(is_escaped) {
            prop_assert_eq!(out, message);
        }
        Ok(())
    });
}

// ---- URL templates and destinations ----------------------------------------------------

/// Template text from a connector: any text, or text made mostly of braces.
fn template_text() -> impl Strategy<Value = String> {
    prop_oneof![
        text(),
        prop::collection::vec(
            prop::sample::select(vec!['{', '}', 'a', '/', '.', 'é']),
            0..16
        )
        .prop_map(String::from_iter),
    ]
}

/// Any template text parses or is refused, never panics; what parses names non-empty
/// fields without braces, and expands over any values without panicking.
#[test]
fn any_template_text_parses_or_is_refused() {
    check((template_text(), text()), |(t, value)| {
        if let Ok(parsed) = Template::parse(&t) {
            let fields: Vec<&str> = parsed.fields().collect();
            for f in &fields {
                prop_assert!(!f.is_empty() && !f.contains(['{', '}']), "{f:?}");
            }
            let config: BTreeMap<String, String> = fields
                .iter()
                .map(|f| (f.to_string(), value.clone()))
                .collect();
            prop_assert!(parsed.expand(&config).is_ok());
        }
        Ok(())
    });
}

/// A template built from text and `{field}`s parses to those fields in order, and
/// expands to the text with each field's value (its trailing `/`s dropped) in place;
/// without a value for a field, expanding names the first field missing.
#[test]
fn templates_expand_to_their_text_with_values_in_place() {
    let no_braces = || text().prop_map(|t| t.replace(['{', '}'], ""));
    let piece = prop_oneof![
        no_braces().prop_map(|t| (false, t)),
        no_braces()
            .prop_filter("a field has a name", |n| !n.is_empty())
            .prop_map(|n| (true, n)),
    ];
    check(
        (
            prop::collection::vec(piece, 0..6),
            prop::collection::vec(text(), 6),
        ),
        |(pieces, values)| {
            let template: String = pieces
                .iter()
                .map(|(field, t)| {
                    if *field {
                        format!("{{{t}}}")
                    } else {
                        t.clone()
                    }
                })
                .collect();
            let parsed = Template::parse(&template);
            prop_assert!(parsed.is_ok(), "{parsed:?}");
            let parsed = parsed.unwrap();
            let names: Vec<&str> = pieces
                .iter()
                .filter(|(field, _)| *field)
                .map(|(_, n)| n.as_str())
                .collect();
            prop_assert_eq!(parsed.fields().collect::<Vec<_>>(), names.clone());
            let config: BTreeMap<String, String> = names
                .iter()
                .zip(values.iter().cycle())
                .map(|(n, v)| (n.to_string(), v.clone()))
                .collect();
            let want: String = pieces
                .iter()
                .map(|(field, t)| {
                    if *field {
                        config[t].trim_end_matches('/').to_string()
                    } else {
                        t.clone()
                    }
                })
                .collect();
            prop_assert_eq!(parsed.expand(&config), Ok(want));
            if let Some(first) = names.first() {
                let mut missing = config.clone();
                missing.remove(*first);
                let err = parsed.expand(&missing);
                let names_it = matches!(
                    &err,
                    Err(TemplateError::MissingField { field, .. }) if field == first
                );
                prop_assert!(names_it, "{err:?}");
            }
            Ok(())
        },
    );
}

/// URLs as a connector's expanded egress template might read.
fn url_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "(https?|HTTPS|ftp)://[a-zA-Z0-9.:@%\\[\\]-]{0,20}(:[0-9]{1,6})?(/[a-zA-Z0-9/.%?#@:-]{0,20})?",
        text(),
    ]
}

/// A destination prints in the form operators grant and grants compare: that text
/// reads back as the same destination, and the destination contains the URL it came
/// from. Otherwise a granted destination would never match its own requests.
#[test]
fn destinations_read_back_from_their_printed_form() {
    check(url_text(), |text| {
        if let Ok(d) = Destination::from_url(&text) {
            let printed = d.to_string();
            prop_assert_eq!(
                Destination::from_operator(&printed),
                Ok(d.clone()),
                "{}",
                printed
            );
            let url = url::Url::parse(&text).unwrap();
            prop_assert!(d.contains(&url), "{printed} does not contain {url}");
        }
        Ok(())
    });
}

// ---- cases the properties found ------------------------------------------------------

/// Lone surrogates and numbers past `f64` in raw JSON: serde_json's raw-value skim
/// accepted them, so they were stored as JSON and then failed every read of the kind.
#[test]
fn raw_json_a_read_cannot_parse_is_kept_as_text() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    for (n, raw) in [r#""\ud800""#, "1e400", r#"{"k":[1,"\udc00x"]}"#]
        .into_iter()
        .enumerate()
    {
        let inst = format!("{n:016x}");
        let mut u = a_user("u");
        *raw_mut(&mut u) = raw_json(raw.to_owned());
        store
            .commit_page(&inst, Kind::Users, &[u], &state(1, None), false)
            .unwrap();
        let back = store.records(&inst, Kind::Users, &RecordQuery::default());
        let back = back.unwrap_or_else(|e| panic!("{raw}: {e}"));
        let Record::User(u) = &back[0].record else {
            unreachable!()
        };
        assert_eq!(u.raw.value(), Value::String(raw.into()));
    }
}

/// `x-ratelimit-reset: 1e20` panicked converting to a `Duration`; a reset or an HTTP
/// date centuries away is capped like a long numeric `Retry-After`.
#[test]
fn provider_waits_past_a_week_are_capped() {
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let h = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
    for (k, v) in [
        ("x-ratelimit-reset", "1e20"),
        ("x-ratelimit-reset", "1e300"),
        ("retry-after", "Fri, 31 Dec 9999 23:59:59 GMT"),
    ] {
        let o = headers::observe(&h(k, v), now);
        let wait = o.reset.or(o.retry_after);
        assert_eq!(wait, Some(MAX_PROVIDER_WAIT), "{k}: {v}");
    }
}

/// An event with an empty id, last on a query page: its cursor was refused as bad.
/// Events before the epoch sorted as the newest and fell outside every time range, so
/// a later page could overwrite the block holding them.
#[test]
fn empty_ids_and_times_before_the_epoch_page_and_stay_stored() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let inst = "0000000000000001";
    let st = state(0, None);
    store
        .commit_page(
            inst,
            Kind::Activities,
            &[event("", 9), event("x", 5)],
            &st,
            false,
        )
        .unwrap();
    let first = store
        .query(inst, Kind::Activities, &RecordFilter::default(), None, 1)
        .unwrap();
    assert_eq!(first.items[0].record.id(), "");
    let second = store.query(
        inst,
        Kind::Activities,
        &RecordFilter::default(),
        first.next_cursor.as_deref(),
        1,
    );
    assert_eq!(second.unwrap().items[0].record.id(), "x");

    let inst = "0000000000000002";
    store
        .commit_page(
            inst,
            Kind::Activities,
            &[event("a", -10), event("b", -5)],
            &st,
            false,
        )
        .unwrap();
    store
        .commit_page(inst, Kind::Activities, &[event("b", -5)], &st, false)
        .unwrap();
    let ids: Vec<String> = store
        .records(inst, Kind::Activities, &RecordQuery::default())
        .unwrap()
        .into_iter()
        .map(|r| r.record.id().to_string())
        .collect();
    assert_eq!(ids, ["b", "a"]);
}
