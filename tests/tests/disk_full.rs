//! A full disk must not need a restart (issue 20, item 8). sled stops writing for good
//! after a write error; the daemon's store watch must show the error in every
//! instance's status and reopen the database once the disk has room, keeping what was
//! committed before.
//!
//! The disk is "filled" by capping how large a file this test process may write
//! (RLIMIT_FSIZE: writes past it fail with EFBIG, as a full disk fails them with
//! ENOSPC; sled treats both alike) and "freed" by lifting the cap, so the test needs
//! no root and no mount. It is its own test binary because the cap is per process.

use std::path::Path;
use std::time::{Duration, Instant};

use rustix::process::{Resource, Rlimit, setrlimit};
use sluice::daemon::watch_store;
use sluice::model::{Kind, RawJson, Record, User, UserStatus};
use sluice::store::{Instance, InstanceStatus, RecordQuery, ScanState, Store};
use sluice_tests::new_instance;

fn user(id: &str, pad: usize) -> Record {
    Record::User(User {
        id: id.into(),
        login: Some(id.into()),
        email: None,
        display_name: None,
        status: UserStatus::Active,
        is_admin: false,
        is_external: false,
        roles: Vec::new(),
        group_ids: Vec::new(),
        last_sign_in: None,
        created: None,
        raw: RawJson::from_text(format!("{{\"pad\":\"{}\"}}", "x".repeat(pad))),
    })
}

fn instance() -> Instance {
    Instance {
        status: InstanceStatus::Connected { last_success: 0 },
        ..new_instance("acme", "github", &[])
    }
}

/// Commit one users page with `cursor` as the next page, and make it durable.
fn commit(store: &Store, inst: &str, records: &[Record], cursor: &str) -> Result<(), String> {
    let state = ScanState {
        generation: 1,
        cursor: Some(cursor.into()),
        in_progress: true,
        ..Default::default()
    };
    store
        .commit_page(inst, Kind::Users, records, &state, false)
        .and_then(|_| store.flush())
        .map_err(|e| e.to_string())
}

fn largest_file(dir: &Path) -> u64 {
    let mut largest = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        largest = largest.max(if meta.is_dir() {
            largest_file(&entry.path())
        } else {
            meta.len()
        });
    }
    largest
}

fn cap_file_size(bytes: Option<u64>) {
    setrlimit(
        Resource::Fsize,
        Rlimit {
            current: bytes,
            maximum: None,
        },
    )
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_full_disk_the_store_reopens_by_itself_and_keeps_what_was_committed() {
    // A write past the cap raises SIGXFSZ, which kills by default; a handler makes
    // the write fail with EFBIG instead.
    let _xfsz = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(25))
        .expect("handling SIGXFSZ");
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let inst = instance();
    store.create_instance(&inst, &Default::default()).unwrap();
    commit(&store, &inst.id, &[user("u1", 10), user("u2", 10)], "p2").unwrap();

    // The disk fills: no file may grow past the largest there is now.
    cap_file_size(Some(largest_file(dir.path())));
    let mut refused = None;
    for page in 0..200 {
        let records: Vec<Record> = (0..40)
            .map(|i| user(&format!("big-{page}-{i}"), 16 << 10))
            .collect();
        if let Err(e) = commit(&store, &inst.id, &records, &format!("big-{page}")) {
            refused = Some(e);
            break;
        }
    }
    let refused = refused.expect("the capped disk refused a write within 200 pages");
    assert!(store.healthy().is_err(), "{refused}");
    let shown = store.shown(store.instance(&inst.id).unwrap());
    assert!(
        matches!(&shown.status, InstanceStatus::Error { code, reason, .. }
            if code == "store-unwritable" && reason.contains("free disk space")),
        "{:?}",
        shown.status
    );

    // Space is freed. sled alone still refuses every write: that is the bug a
    // restart used to be needed for.
    cap_file_size(None);
    assert!(commit(&store, &inst.id, &[user("u3", 10)], "p3").is_err());

    // The daemon's watch reopens the database, without a restart.
    let watch = watch_store(store.clone(), Duration::from_millis(100));
    let deadline = Instant::now() + Duration::from_secs(20);
    while store.healthy().is_err() {
        assert!(
            Instant::now() < deadline,
            "the store did not recover within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    watch.abort();
    let shown = store.shown(store.instance(&inst.id).unwrap());
    assert!(
        matches!(shown.status, InstanceStatus::Connected { .. }),
        "{:?}",
        shown.status
    );
    commit(&store, &inst.id, &[user("u3", 10)], "p3").unwrap();

    // What was committed before the disk filled is there, and the new write too.
    let ids: Vec<String> = store
        .records(
            &inst.id,
            Kind::Users,
            &RecordQuery {
                limit: None,
                include_deleted: true,
            },
        )
        .unwrap()
        .into_iter()
        .map(|r| r.record.id().to_string())
        .collect();
    for id in ["u1", "u2", "u3"] {
        assert!(ids.iter().any(|i| i == id), "{id} missing from {ids:?}");
    }
    let state = store.scan_state(&inst.id, Kind::Users).unwrap();
    assert_eq!(state.cursor.as_deref(), Some("p3"));
}
