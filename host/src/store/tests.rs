//! Store behaviour the scan engine relies on.

use std::collections::BTreeMap;

use super::*;
use crate::model::{Activity, ActivityKind, Outcome, User, UserStatus};

pub(crate) fn user(id: &str) -> Record {
    Record::User(User {
        id: id.into(),
        login: Some(format!("login-{id}")),
        email: None,
        display_name: None,
        status: UserStatus::Active,
        is_admin: false,
        is_external: false,
        roles: vec![],
        group_ids: vec![],
        last_sign_in: None,
        created: None,
        raw: serde_json::json!({ "id": id }).into(),
    })
}

pub(crate) fn activity(id: &str, time: i64) -> Record {
    Record::Activity(Activity {
        id: id.into(),
        time,
        kind: ActivityKind::Admin,
        actor: None,
        action: "org.add_member".into(),
        targets: vec![],
        ip: None,
        user_agent: None,
        location: None,
        session_id: None,
        outcome: Outcome::Unknown,
        raw: serde_json::json!({ "_document_id": id }).into(),
    })
}

pub(crate) fn instance(name: &str) -> Instance {
    Instance::new(name, "github", "0.1.0", BTreeMap::new())
}

pub(crate) fn ids(store: &Store, inst: &str, kind: Kind, deleted: bool) -> Vec<String> {
    store
        .records(
            inst,
            kind,
            &RecordQuery {
                limit: None,
                include_deleted: true,
            },
        )
        .unwrap()
        .into_iter()
        .filter(|r| r.deleted == deleted)
        .map(|r| r.record.id().to_string())
        .collect()
}

#[test]
fn a_completed_snapshot_marks_missing_records_deleted_and_keeps_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let i = "inst1";
    let gen1 = ScanState {
        generation: 1,
        ..Default::default()
    };
    store
        .commit_page(i, Kind::Users, &[user("a"), user("b")], &gen1, false)
        .unwrap();
    store
        .commit_page(i, Kind::Users, &[user("c")], &gen1, true)
        .unwrap();
    assert_eq!(ids(&store, i, Kind::Users, false), ["a", "b", "c"]);

    // Generation 2 sees a and c (b left the org) over two pages.
    let gen2 = ScanState {
        generation: 2,
        ..Default::default()
    };
    store
        .commit_page(i, Kind::Users, &[user("a")], &gen2, false)
        .unwrap();
    // Mid-scan nothing is deleted yet: b might still come on a later page.
    assert!(ids(&store, i, Kind::Users, true).is_empty());
    let deleted = store
        .commit_page(i, Kind::Users, &[user("c")], &gen2, true)
        .unwrap();
    assert_eq!(deleted, 1);
    assert_eq!(ids(&store, i, Kind::Users, true), ["b"]);
    assert_eq!(ids(&store, i, Kind::Users, false), ["a", "c"]);
    assert_eq!(store.count(i, Kind::Users).unwrap(), (2, 1));

    // b comes back: live again, first_seen kept.
    let first_seen_b = store
        .records(
            i,
            Kind::Users,
            &RecordQuery {
                limit: None,
                include_deleted: true,
            },
        )
        .unwrap()
        .into_iter()
        .find(|r| r.record.id() == "b")
        .unwrap()
        .first_seen;
    let gen3 = ScanState {
        generation: 3,
        ..Default::default()
    };
    store
        .commit_page(
            i,
            Kind::Users,
            &[user("a"), user("b"), user("c")],
            &gen3,
            true,
        )
        .unwrap();
    let b = store
        .records(i, Kind::Users, &RecordQuery::default())
        .unwrap()
        .into_iter()
        .find(|r| r.record.id() == "b")
        .unwrap();
    assert!(!b.deleted);
    assert_eq!(b.first_seen, first_seen_b);
}

#[test]
fn a_page_and_its_cursor_are_saved_together() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let state = ScanState {
        cursor: Some("after=xyz".into()),
        pages: 1,
        records: 2,
        ..Default::default()
    };
    store
        .commit_page(
            "i",
            Kind::Activities,
            &[activity("e1", 10), activity("e2", 20)],
            &state,
            false,
        )
        .unwrap();
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.scan_state("i", Kind::Activities).unwrap(), state);
    assert_eq!(store.count("i", Kind::Activities).unwrap(), (2, 0));
}

#[test]
fn activities_list_newest_first_and_overlaps_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let st = ScanState::default();
    store
        .commit_page(
            "i",
            Kind::Activities,
            &[activity("old", 1), activity("mid", 5)],
            &st,
            false,
        )
        .unwrap();
    // The next run re-reads an overlap window.
    store
        .commit_page(
            "i",
            Kind::Activities,
            &[activity("mid", 5), activity("new", 9)],
            &st,
            false,
        )
        .unwrap();
    // Another instance's events never mix in.
    store
        .commit_page("j", Kind::Activities, &[activity("other", 7)], &st, false)
        .unwrap();
    let got: Vec<_> = store
        .records("i", Kind::Activities, &RecordQuery::default())
        .unwrap()
        .into_iter()
        .map(|r| r.record.id().to_string())
        .collect();
    assert_eq!(got, ["new", "mid", "old"]);
    let limited = store
        .records(
            "i",
            Kind::Activities,
            &RecordQuery {
                limit: Some(1),
                include_deleted: false,
            },
        )
        .unwrap();
    assert_eq!(limited.len(), 1);
}

/// Pages of events whose time ranges interleave and repeat each other, as a provider's
/// overlap windows and retried pages produce them: `(page, (time, id) per event)`.
fn interleaved_pages() -> Vec<Vec<(i64, String)>> {
    let mut seed = 7u64;
    let mut next = move |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    (0..40)
        .map(|page| {
            let base = (page * 37 % 50) as i64 * 10;
            (0..1 + next(12))
                .map(|_| {
                    let t = base + next(60) as i64;
                    // Ids repeat across pages, so some events are re-reads of stored ones.
                    (t, format!("e{}", t * 3 % 7))
                })
                .collect()
        })
        .collect()
}

/// `record` as an older version stored it, first and last seen at time 1.
fn stored_at_1(record: Record) -> StoredRecord {
    StoredRecord {
        generation: 0,
        deleted: false,
        deleted_at: None,
        first_seen: 1,
        last_seen: 1,
        record,
        inspection: None,
    }
}

/// Commit `(time, id)` events of instance `i` as one page.
fn commit_events(store: &Store, page: &[(i64, String)]) {
    let records: Vec<Record> = page.iter().map(|(t, id)| activity(id, *t)).collect();
    commit_activities(store, &records);
}

/// Commit activities of instance `i` as one page.
fn commit_activities(store: &Store, records: &[Record]) {
    store
        .commit_page("i", Kind::Activities, records, &ScanState::default(), false)
        .unwrap();
}

fn activity_ids(records: &[StoredRecord]) -> Vec<(i64, String)> {
    records
        .iter()
        .map(|r| (r.record.time().unwrap(), r.record.id().to_string()))
        .collect()
}

#[test]
fn activity_blocks_list_every_event_once_newest_first_however_pages_interleave() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut model = std::collections::BTreeSet::new();
    for page in interleaved_pages() {
        commit_events(&store, &page);
        model.extend(page);
    }
    // Stored in blocks, several pages' ranges overlapping: the layout under test.
    let blocks = store
        .t()
        .unwrap()
        .records
        .scan_prefix(prefix(&[b"i", b"activities"]))
        .count();
    assert!(
        blocks < model.len() / 2,
        "{blocks} blocks for {} events",
        model.len()
    );
    let newest_first: Vec<(i64, String)> = model.iter().rev().cloned().collect();

    let all = store
        .records("i", Kind::Activities, &RecordQuery::default())
        .unwrap();
    assert_eq!(activity_ids(&all), newest_first);
    assert_eq!(
        store.count("i", Kind::Activities).unwrap(),
        (model.len() as u64, 0)
    );

    // Paged queries, with and without a time window, see the same order, each event
    // once, across every page boundary.
    for (since, until) in [(None, None), (Some(95), Some(301)), (Some(200), None)] {
        let want: Vec<_> = newest_first
            .iter()
            .filter(|(t, _)| since.is_none_or(|s| *t >= s) && until.is_none_or(|u| *t <= u))
            .cloned()
            .collect();
        for limit in [1, 3, 7, 1000] {
            let filter = RecordFilter {
                since,
                until,
                ..Default::default()
            };
            let (mut got, mut cursor) = (Vec::new(), None);
            for _ in 0..=want.len() {
                let page = store
                    .query("i", Kind::Activities, &filter, cursor.as_deref(), limit)
                    .unwrap();
                got.extend(activity_ids(&page.items));
                cursor = page.next_cursor;
                if cursor.is_none() {
                    break;
                }
            }
            assert_eq!(got, want, "since {since:?} until {until:?} limit {limit}");
        }
    }

    // Re-committing every page stores nothing new.
    for page in interleaved_pages() {
        commit_events(&store, &page);
    }
    assert_eq!(
        store.count("i", Kind::Activities).unwrap(),
        (model.len() as u64, 0)
    );
    assert_eq!(
        store
            .t()
            .unwrap()
            .records
            .scan_prefix(prefix(&[b"i", b"activities"]))
            .count(),
        blocks
    );
}

#[test]
fn a_page_of_sparse_events_becomes_blocks_of_at_most_an_hour() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    const HOUR: i64 = 3_600_000;
    // Three days of events, one every 20 minutes, in one page.
    let page: Vec<Record> = (0..216)
        .map(|i| activity(&format!("e{i}"), 1_000_000 + i * HOUR / 3))
        .collect();
    store
        .commit_page("i", Kind::Activities, &page, &ScanState::default(), false)
        .unwrap();
    let blocks = store
        .t()
        .unwrap()
        .records
        .scan_prefix(prefix(&[b"i", b"activities"]))
        .count();
    assert_eq!(
        blocks,
        216 / 4,
        "four events (0, 20, 40, 60 min) per hour-wide block"
    );
    assert_eq!(store.activity_span("i").unwrap(), HOUR);
    // The span stays bounded, so re-reading the page still finds every event.
    store
        .commit_page("i", Kind::Activities, &page, &ScanState::default(), false)
        .unwrap();
    assert_eq!(store.count("i", Kind::Activities).unwrap(), (216, 0));
    let all = store
        .records("i", Kind::Activities, &RecordQuery::default())
        .unwrap();
    assert_eq!(all.len(), 216);
    assert_eq!(all[0].record.id(), "e215");
}

#[test]
fn events_stored_one_per_key_by_older_versions_read_and_dedupe_alongside_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    // The layout before blocks: one key per event, `i \0 activities \0 time \0 id`.
    for (t, id) in [(10i64, "old-a"), (30, "old-b")] {
        let stored = stored_at_1(activity(id, t));
        store
            .t()
            .unwrap()
            .records
            .insert(
                key(&[b"i", b"activities", &t.to_be_bytes(), id.as_bytes()]),
                to_json(&stored).unwrap(),
            )
            .unwrap();
    }
    // A page that re-reads one of them and brings events on both sides.
    let page = [
        activity("new-a", 5),
        activity("old-b", 30),
        activity("new-b", 40),
    ];
    store
        .commit_page("i", Kind::Activities, &page, &ScanState::default(), false)
        .unwrap();
    let all = store
        .records("i", Kind::Activities, &RecordQuery::default())
        .unwrap();
    assert_eq!(
        activity_ids(&all),
        [(40, "new-b"), (30, "old-b"), (10, "old-a"), (5, "new-a")]
            .map(|(t, id)| (t, id.to_string()))
    );
    // The re-read event kept its original record.
    assert_eq!(all[1].first_seen, 1);
    assert_eq!(store.count("i", Kind::Activities).unwrap(), (4, 0));
}

#[test]
fn instances_have_unique_names_and_removal_takes_everything() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let a = instance("acme");
    let mut secrets = Secrets::new();
    secrets.insert("token".into(), Secret::new("s3cret-value"));
    store.create_instance(&a, &secrets).unwrap();
    let dup = instance("acme");
    assert!(matches!(
        store.create_instance(&dup, &Secrets::new()),
        Err(StoreError::DuplicateName(_))
    ));
    assert_eq!(store.instance("acme").unwrap().id, a.id);
    assert_eq!(store.secrets(&a.id).unwrap(), secrets);
    store
        .commit_page(
            &a.id,
            Kind::Users,
            &[user("u")],
            &ScanState::default(),
            false,
        )
        .unwrap();
    store.remove_instance("acme").unwrap();
    assert!(matches!(
        store.instance("acme"),
        Err(StoreError::UnknownInstance(_))
    ));
    assert_eq!(store.count(&a.id, Kind::Users).unwrap(), (0, 0));
    assert!(store.secrets(&a.id).unwrap().is_empty());
    // The secret never hits the disk in the clear.
    drop(store);
    for entry in std::fs::read_dir(dir.path().join("db")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes.windows(12).any(|w| w == b"s3cret-value"),
                "{}",
                path.display()
            );
        }
    }
}

#[test]
fn a_second_process_gets_a_clear_locked_error() {
    let dir = tempfile::tempdir().unwrap();
    let _store = Store::open(dir.path()).unwrap();
    // sled locks per process; a second open in the same process shares it, so
    // this checks the error mapping through a child would be heavier. The message
    // itself is what operators see:
    let e = StoreError::Locked {
        path: dir.path().to_path_buf(),
    };
    assert!(e.to_string().contains("daemon"));
}

#[test]
fn stores_with_a_separate_activity_index_are_migrated_at_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        // The layout before activities were keyed by time: a record under its id, and
        // its time in an index tree of its own.
        // No background flusher: it would hold the lock for a moment after drop.
        let db = sled::Config::new()
            .path(dir.path().join("db"))
            .flush_every_ms(None)
            .open()
            .unwrap();
        let records = db.open_tree("records").unwrap();
        let index = db.open_tree("activity_time").unwrap();
        let stored = stored_at_1(activity("ev1", 42));
        records
            .insert(
                key(&[b"i", b"activities", b"ev1"]),
                to_json(&stored).unwrap(),
            )
            .unwrap();
        index
            .insert(key(&[b"i", &42i64.to_be_bytes(), b"ev1"]), &[])
            .unwrap();
        db.flush().unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    let got = store
        .records("i", Kind::Activities, &RecordQuery::default())
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].record.id(), "ev1");
    assert_eq!(store.count("i", Kind::Activities).unwrap(), (1, 0));
    // Re-reading the event lands on the same (new) key: still one record.
    let st = ScanState::default();
    store
        .commit_page("i", Kind::Activities, &[activity("ev1", 42)], &st, false)
        .unwrap();
    assert_eq!(store.count("i", Kind::Activities).unwrap(), (1, 0));
}

#[test]
fn raw_provider_json_is_written_verbatim_and_reads_back_as_the_same_value() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    // Key order and number spelling as a provider might send them.
    let text = r#"{"z":1,"a":{"n":1.50,"list":[3,2,1]},"_document_id":"d1"}"#;
    let Record::Activity(mut a) = activity("d1", 1) else {
        unreachable!()
    };
    a.raw = crate::model::raw_json(text.to_owned());
    let mut not_json = a.clone();
    not_json.id = "d2".into();
    not_json.time = 2;
    not_json.raw = crate::model::raw_json("plain <text>".to_owned());
    commit_activities(&store, &[Record::Activity(a), Record::Activity(not_json)]);

    // Each stored event's JSON, out of its (compressed) block.
    let stored: Vec<Vec<u8>> = store
        .t()
        .unwrap()
        .records
        .scan_prefix(prefix(&[b"i", b"activities"]))
        .flat_map(|kv| {
            let (k, v) = kv.unwrap();
            activities::stored_json(&k[prefix(&[b"i", b"activities"]).len()..], v)
        })
        .collect();
    assert_eq!(stored.len(), 2);
    let on_disk = |needle: &str| {
        stored
            .iter()
            .any(|v| String::from_utf8_lossy(v).contains(needle))
    };
    assert!(on_disk(text), "the provider's text is stored as it came");
    assert!(
        on_disk(r#""plain <text>""#),
        "non-JSON raw is kept as a string"
    );

    let back = store
        .records("i", Kind::Activities, &Default::default())
        .unwrap();
    let raws: Vec<serde_json::Value> = back
        .iter()
        .map(|r| match &r.record {
            Record::Activity(a) => a.raw.value(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        raws,
        vec![
            serde_json::json!("plain <text>"),
            serde_json::from_str::<serde_json::Value>(text).unwrap(),
        ]
    );
}

fn audit_entry(target: &str) -> AuditEntry {
    AuditEntry {
        seq: 0,
        at: 1,
        who: "alice".into(),
        instance: "acme".into(),
        instance_id: "i1".into(),
        connector: "github".into(),
        connector_version: "0.1.0".into(),
        action: crate::store::audit::AuditAction::Action(
            crate::model::ActionKind::RemoveCollaborator,
        ),
        target: target.into(),
        params: vec![],
        reason: Some("offboarding".into()),
        dry_run: false,
        outcome: "done".into(),
        message: "did it".into(),
        requests: vec![],
        sent: vec![],
        provider_status: Some(204),
        prev: String::new(),
        hash: String::new(),
    }
}

/// A store with three audit entries, and the raw `audit` tree to tamper with.
fn audited() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    for t in ["a", "b", "c"] {
        store.append_audit(audit_entry(t)).unwrap();
    }
    (dir, store)
}

fn entry_key(seq: u64) -> Vec<u8> {
    let mut k = vec![b'e'];
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

#[test]
fn the_audit_log_chains_entries_and_lists_them_newest_first() {
    let (_dir, store) = audited();
    let all = store.audit(&AuditFilter::default()).unwrap();
    let seqs: Vec<u64> = all.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, [3, 2, 1]);
    assert_eq!(all[2].prev, audit::GENESIS);
    assert_eq!(all[1].prev, all[2].hash);
    assert_eq!(all[0].prev, all[1].hash);
    let v = store.verify_audit().unwrap();
    assert!(v.ok, "{v:?}");
    assert_eq!(
        (v.entries, v.head.as_deref()),
        (3, Some(all[0].hash.as_str()))
    );
    let only = AuditFilter {
        instance: Some("other".into()),
        limit: None,
    };
    assert!(store.audit(&only).unwrap().is_empty());
}

#[test]
fn editing_deleting_or_cutting_off_audit_entries_fails_verification() {
    // An edited middle entry: the next entry's prev no longer matches.
    let (_dir, store) = audited();
    let body = store.t().unwrap().audit.get(entry_key(2)).unwrap().unwrap();
    let edited = String::from_utf8(body.to_vec())
        .unwrap()
        .replace("\"b\"", "\"x\"");
    store
        .t()
        .unwrap()
        .audit
        .insert(entry_key(2), edited.as_bytes())
        .unwrap();
    let v = store.verify_audit().unwrap();
    assert!(
        !v.ok
            && v.problem
                .as_deref()
                .unwrap()
                .contains("entry 2 was changed"),
        "{v:?}"
    );

    // An edited last entry: the head no longer matches.
    let (_dir, store) = audited();
    let body = store.t().unwrap().audit.get(entry_key(3)).unwrap().unwrap();
    let edited = String::from_utf8(body.to_vec())
        .unwrap()
        .replace("alice", "mallo");
    store
        .t()
        .unwrap()
        .audit
        .insert(entry_key(3), edited.as_bytes())
        .unwrap();
    let v = store.verify_audit().unwrap();
    assert!(
        !v.ok && v.problem.as_deref().unwrap().contains("entry 3"),
        "{v:?}"
    );

    // A deleted middle entry leaves a gap.
    let (_dir, store) = audited();
    store.t().unwrap().audit.remove(entry_key(2)).unwrap();
    let v = store.verify_audit().unwrap();
    assert!(
        !v.ok && v.problem.as_deref().unwrap().contains("entry 2 is missing"),
        "{v:?}"
    );

    // A cut-off tail no longer reaches the head.
    let (_dir, store) = audited();
    store.t().unwrap().audit.remove(entry_key(3)).unwrap();
    let v = store.verify_audit().unwrap();
    assert!(
        !v.ok && v.problem.as_deref().unwrap().contains("removed"),
        "{v:?}"
    );

    // Appending after tampering does not hide it.
    let (_dir, store) = audited();
    store.t().unwrap().audit.remove(entry_key(2)).unwrap();
    store.append_audit(audit_entry("d")).unwrap();
    assert!(!store.verify_audit().unwrap().ok);
}

#[test]
fn a_deleted_secret_key_is_refused_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let a = instance("acme");
    {
        let store = Store::open(dir.path()).unwrap();
        let mut secrets = Secrets::new();
        secrets.insert("token".into(), Secret::new("s3cret-value"));
        store.create_instance(&a, &secrets).unwrap();
        store.flush().unwrap();
    }
    let key = dir.path().join("secret.key");
    let saved = std::fs::read(&key).unwrap();
    std::fs::remove_file(&key).unwrap();
    let err = Store::open(dir.path()).map(|_| ()).unwrap_err().to_string();
    assert!(
        err.contains("secret.key") && err.contains("missing"),
        "{err}"
    );
    assert!(!key.exists(), "no new key was written over the lost one");
    // Restored, everything decrypts again.
    std::fs::write(&key, saved).unwrap();
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(
        store.secrets(&a.id).unwrap()["token"].expose(),
        "s3cret-value"
    );
}

#[cfg(unix)]
#[test]
fn the_data_dir_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("data");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let _store = Store::open(&dir).unwrap();
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "mode {mode:o}");
}

#[test]
fn deeply_nested_raw_json_is_stored_readably() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let a = instance("acme");
    store.create_instance(&a, &Secrets::new()).unwrap();
    // 126 levels: valid JSON that serde_json accepts alone, but not inside a record.
    let deep = format!("{}1{}", "[".repeat(126), "]".repeat(126));
    let Record::User(mut u) = user("deep") else {
        unreachable!()
    };
    u.raw = crate::model::raw_json(deep.clone());
    let gen1 = ScanState {
        generation: 1,
        ..Default::default()
    };
    store
        .commit_page(
            &a.id,
            Kind::Users,
            &[Record::User(u), user("plain")],
            &gen1,
            false,
        )
        .unwrap();
    let back = store
        .records(&a.id, Kind::Users, &RecordQuery::default())
        .unwrap();
    assert_eq!(back.len(), 2, "both records read back");
    let raw = back
        .iter()
        .find_map(|r| match &r.record {
            Record::User(u) if u.id == "deep" => Some(u.raw.value()),
            _ => None,
        })
        .unwrap();
    assert_eq!(raw, serde_json::Value::String(deep), "kept, as text");
}
