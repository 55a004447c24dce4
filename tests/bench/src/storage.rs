//! Storage: the page-commit path (a page of activities as one compressed block, then
//! its cursor) vs a bare sled batch writing each record under a key of its own, and
//! bytes on disk (the data dir, and the live keys and values in it).

use std::path::Path;
use std::time::{Duration, Instant};

use sluice::model::{Activity, ActivityKind, Kind, Outcome, Record};
use sluice::store::{ScanState, Store};

use crate::Row;

const PAGE: usize = 100;

/// Activities shaped like GitHub audit events (raw JSON of similar size).
fn activities(n: usize) -> Vec<Record> {
    let base = 1_780_000_000_000i64;
    (0..n)
        .map(|i| {
            let raw = serde_json::json!({
                "@timestamp": base + i as i64 * 1000,
                "_document_id": format!("doc-{i:010}"),
                "action": "org.update_member",
                "actor": format!("member-{}", i % 300),
                "actor_location": {"country_code": "US"},
                "org": "acme",
                "user": format!("member-{}", (i * 7) % 300),
                "created_at": base + i as i64 * 1000,
                "operation_type": "modify",
                "actor_ip": "203.0.113.7",
                "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
            });
            Record::Activity(Activity {
                id: format!("doc-{i:010}"),
                time: base + i as i64 * 1000,
                kind: ActivityKind::Admin,
                actor: Some(format!("member-{}", i % 300)),
                action: "org.update_member".into(),
                targets: vec![format!("member-{}", (i * 7) % 300), "acme".into()],
                ip: Some("203.0.113.7".into()),
                user_agent: Some("Mozilla/5.0 (X11; Linux x86_64)".into()),
                location: None,
                session_id: None,
                outcome: Outcome::Success,
                raw: raw.into(),
            })
        })
        .collect()
}

fn dir_bytes(p: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    rd.filter_map(Result::ok)
        .map(|e| {
            let path = e.path();
            if path.is_dir() {
                dir_bytes(&path)
            } else {
                e.metadata().map(|m| m.len()).unwrap_or(0)
            }
        })
        .sum()
}

/// Bytes of every key and value in the sled database at `db`, all trees: what the
/// store keeps, without sled's log layout and the slack of segments not yet
/// garbage-collected (which makes the data dir's size vary from run to run).
fn live_bytes(db: &Path) -> anyhow::Result<u64> {
    // The store just closed: sled's flusher lets go of the lock within 500 ms.
    let deadline = Instant::now() + Duration::from_secs(2);
    let db = loop {
        match sled::open(db) {
            Ok(db) => break db,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(e.into()),
        }
    };
    let mut total = 0u64;
    for name in db.tree_names() {
        for entry in db.open_tree(name)?.iter() {
            let (k, v) = entry?;
            total += (k.len() + v.len()) as u64;
        }
    }
    Ok(total)
}

pub fn run(quick: bool) -> anyhow::Result<Vec<Row>> {
    let n = if quick { 50_000 } else { 1_000_000 };
    let records = activities(n);

    let dir = tempfile::tempdir()?;
    let store = Store::open(dir.path())?;
    let start = Instant::now();
    let mut state = ScanState::default();
    for (i, page) in records.chunks(PAGE).enumerate() {
        state.cursor = Some(format!("{{\"ts\":{i}}}"));
        state.pages += 1;
        state.records += page.len() as u64;
        store.commit_page("inst0001", Kind::Activities, page, &state, false)?;
    }
    store.flush()?;
    let commit = n as f64 / start.elapsed().as_secs_f64();
    drop(store);
    let on_disk = dir_bytes(dir.path());
    let live = live_bytes(&dir.path().join("db"))?;

    let bare_dir = tempfile::tempdir()?;
    let db = sled::open(bare_dir.path().join("db"))?;
    let tree = db.open_tree("records")?;
    let start = Instant::now();
    for page in records.chunks(PAGE) {
        let mut batch = sled::Batch::default();
        for r in page {
            let mut key = b"inst0001\0activities\0".to_vec();
            key.extend_from_slice(r.id().as_bytes());
            batch.insert(key, serde_json::to_vec(r)?);
        }
        tree.apply_batch(batch)?;
    }
    db.flush()?;
    let bare = n as f64 / start.elapsed().as_secs_f64();

    Ok(vec![
        Row::new(
            "storage",
            "page commit (activity block + cursor)",
            commit,
            "records/s",
        )
        .against(bare)
        .note(format!(
            "baseline: bare sled batch, one key per record; {n} activities, pages of {PAGE}"
        )),
        Row::new(
            "storage",
            "bytes on disk per 1M activities",
            on_disk as f64 * 1e6 / n as f64 / 1e6,
            "MB",
        )
        .note(format!(
            "{:.0} bytes per activity, sled data dir after flush (varies with sled's segment GC)",
            on_disk as f64 / n as f64
        )),
        Row::new(
            "storage",
            "live keys and values per 1M activities",
            live as f64 * 1e6 / n as f64 / 1e6,
            "MB",
        )
        .note(format!(
            "{:.0} bytes per activity: compressed blocks, keys and cursor, as sled holds them",
            live as f64 / n as f64
        )),
    ])
}
