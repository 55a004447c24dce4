//! Bounds on what a connector may hand over and the store keep (issue 20, item 6):
//! records per page, bytes per page, records per scan, bytes per instance, and paging
//! that loops. Driven by the `misbehave` test connector against [`PagesMock`].

use sluice::model::{ConnectorError, Kind, KindReport};
use sluice::runtime::LoadedPlugin;
use sluice::scan::{ScanCaps, ScanOptions, scan_instance};
use sluice::store::{CommitCaps, Instance, InstanceStatus};
use sluice_mocks::PagesMock;
use sluice_tests::{Harness, new_instance, test_plugin};

/// A stored misbehave instance in `mode` against `base_url`, and its plugin.
async fn misbehave(h: &Harness, mode: &str, base_url: &str) -> (Instance, LoadedPlugin) {
    let plugin = h.runtime.load(&test_plugin("misbehave")).await.unwrap();
    let inst = new_instance(
        &format!("misbehave-{mode}"),
        "misbehave",
        &[("base_url", base_url), ("mode", mode)],
    );
    h.store.create_instance(&inst, &Default::default()).unwrap();
    (inst, plugin)
}

/// Scan users with these caps (and a page bound far below the default million).
async fn scan_users(
    h: &Harness,
    inst: &Instance,
    plugin: &LoadedPlugin,
    caps: ScanCaps,
) -> KindReport {
    let opts = ScanOptions {
        max_pages: 40,
        caps,
        ..Default::default()
    };
    let inst = h.store.instance(&inst.id).unwrap();
    let mut reports = scan_instance(&h.store, plugin, &inst, &[Kind::Users], &opts)
        .await
        .unwrap();
    reports.remove(0)
}

fn over_cap(report: &KindReport) -> &str {
    match &report.error {
        Some(ConnectorError::OverCap(m)) => m,
        other => panic!("expected an over-cap error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_cursor_handed_out_twice_stops_the_scan_at_once() {
    let mock = PagesMock::start(30, 2).await.unwrap();
    let h = Harness::new().await;
    let (inst, plugin) = misbehave(&h, "stuck-cursor", &mock.base_url()).await;
    let report = scan_users(&h, &inst, &plugin, ScanCaps::default()).await;
    assert!(over_cap(&report).contains("paging loops"), "{report:?}");
    assert_eq!(mock.requests().len(), 2, "stopped at the first repeat");
    assert_eq!(report.pages, 1, "the page before the loop is kept");
    let status = h.store.instance(&inst.id).unwrap().status;
    assert!(
        matches!(&status, InstanceStatus::Error { code, .. } if code == "over-cap"),
        "{status:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_over_the_record_or_byte_cap_is_refused_whole() {
    let mock = PagesMock::start(1, 2_000).await.unwrap();
    let h = Harness::new().await;
    let (inst, plugin) = misbehave(&h, "good", &mock.base_url()).await;

    let caps = ScanCaps {
        page_records: 1_000,
        ..Default::default()
    };
    let report = scan_users(&h, &inst, &plugin, caps).await;
    assert!(over_cap(&report).contains("2000 records"), "{report:?}");
    assert_eq!(
        h.live(&inst, Kind::Users),
        0,
        "nothing of the page was stored"
    );

    let caps = ScanCaps {
        commit: CommitCaps {
            page_bytes: 64 << 10,
            ..CommitCaps::NONE
        },
        ..Default::default()
    };
    let report = scan_users(&h, &inst, &plugin, caps).await;
    assert!(over_cap(&report).contains("per page"), "{report:?}");
    assert_eq!(
        h.live(&inst, Kind::Users),
        0,
        "nothing of the page was stored"
    );
    assert_eq!(h.store.usage(&inst.id).unwrap(), 0);

    // Within the caps the same page is stored.
    let report = scan_users(&h, &inst, &plugin, ScanCaps::default()).await;
    assert_eq!((report.error, report.records), (None, 2_000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_stops_growing_at_its_byte_cap() {
    let mock = PagesMock::start(20, 50).await.unwrap();
    let h = Harness::new().await;
    let (inst, plugin) = misbehave(&h, "good", &mock.base_url()).await;
    let cap = 48 << 10;
    let caps = ScanCaps {
        commit: CommitCaps {
            instance_bytes: cap,
            ..CommitCaps::NONE
        },
        ..Default::default()
    };
    let report = scan_users(&h, &inst, &plugin, caps).await;
    assert!(over_cap(&report).contains("cap of"), "{report:?}");
    let usage = h.store.usage(&inst.id).unwrap();
    assert!(usage <= cap && usage > cap / 2, "usage {usage} of {cap}");
    assert!(report.pages > 0 && report.pages < 20, "{report:?}");
    assert_eq!(h.live(&inst, Kind::Users) as u64, report.records);

    // The count is what the records take, not a guess: recomputed from scratch it
    // agrees with the running count.
    let stored: u64 = h
        .records(&inst, Kind::Users, false)
        .iter()
        .map(|r| serde_json::to_vec(r).unwrap().len() as u64)
        .sum();
    assert!(usage >= stored, "usage {usage} < records {stored}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_stops_at_its_record_cap_and_resumes_from_its_cursor() {
    let mock = PagesMock::start(4, 100).await.unwrap();
    let h = Harness::new().await;
    let (inst, plugin) = misbehave(&h, "good", &mock.base_url()).await;
    let caps = ScanCaps {
        scan_records: 150,
        ..Default::default()
    };
    let first = scan_users(&h, &inst, &plugin, caps).await;
    assert!(over_cap(&first).contains("resumes"), "{first:?}");
    assert_eq!((first.pages, first.records), (2, 200));
    let second = scan_users(&h, &inst, &plugin, caps).await;
    assert_eq!((second.error, second.pages, second.records), (None, 2, 200));
    assert_eq!(h.live(&inst, Kind::Users), 400);
    assert_eq!(mock.requests().len(), 4, "no page fetched twice");
}
