//! `sluice test-connector` and `scan --record`: a recorded scan replays to the same
//! records and passes; each deliberately broken test connector fails the check that
//! names its violation.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{Value, json};
use sluice::conformance::{ConformanceInput, ConformanceReport, record_scan, run};
use sluice::model::Kind;
use sluice_mocks::{GithubMock, GithubMockConfig};
use sluice_tests::{Harness, test_plugin};

fn input(dir: &Path, config: &[(&str, &str)], max_pages: u64) -> ConformanceInput {
    ConformanceInput {
        fixtures: dir.to_path_buf(),
        config: config
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        max_pages,
        cache_dir: None,
    }
}

fn failed(report: &ConformanceReport) -> BTreeMap<String, String> {
    report
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| (c.check.clone(), c.detail.clone()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_scan_replays_to_the_same_records_and_passes() {
    let mock = GithubMock::start(GithubMockConfig::default())
        .await
        .unwrap();
    let h = Harness::new().await;
    let (inst, _) = h
        .connect_github(&mock, "acme", &mock.config().token)
        .await
        .unwrap();
    let github = test_plugin("github");
    let dir = tempfile::tempdir().unwrap();
    let (reports, exchanges) = record_scan(&h.store, &inst, &github, &[], dir.path(), None)
        .await
        .unwrap();
    for r in &reports {
        assert!(r.error.is_none(), "{:?}: {:?}", r.kind, r.error);
    }
    assert!(exchanges > 5, "{exchanges} exchanges");
    // The recording never holds the token, and the instance's store is untouched.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        assert!(!text.contains(&mock.config().token), "token recorded");
        assert!(!text.to_ascii_lowercase().contains("\"authorization\""));
    }
    assert_eq!(
        h.live(&inst, Kind::Users),
        0,
        "recording wrote to the instance"
    );

    // The recording ran `check` and a dry run of each granted action, and named the
    // dry runs in the manifest; none of them wrote to the provider.
    assert!(
        !mock.requests().iter().any(|r| r.is_write()),
        "a recording wrote to the provider"
    );
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("sluice-fixtures.json")).unwrap())
            .unwrap();
    let recorded_actions: Vec<&str> = manifest["actions"]
        .as_array()
        .expect("the manifest names the dry runs")
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        recorded_actions,
        ["remove-collaborator", "revoke-app-permission"],
        "{manifest:#}"
    );

    mock.clear_requests();
    let report = run(&github, &input(dir.path(), &[], 1000)).await.unwrap();
    assert!(report.passed(), "{:#?}", report.checks);
    assert!(mock.requests().is_empty(), "a replay reached the provider");
    let detail = |name: &str| {
        report
            .checks
            .iter()
            .find(|c| c.check == name)
            .unwrap_or_else(|| panic!("no `{name}` in {:#?}", report.checks))
            .detail
            .clone()
    };
    assert!(detail("check").contains("granted"), "{}", detail("check"));
    let planned = detail("act remove-collaborator (dry run)");
    assert!(
        planned.contains(&format!(
            "would send DELETE {}/orgs/acme/outside_collaborators/",
            mock.base_url()
        )),
        "{planned}"
    );

    // The replay collects what a live scan of the same org does.
    h.scan(&inst, &[], 100).await;
    for kind in [
        Kind::Users,
        Kind::Groups,
        Kind::AppPermissions,
        Kind::Activities,
    ] {
        let live: BTreeSet<String> = h
            .records(&inst, kind, false)
            .iter()
            .map(|r| r.record.id().to_string())
            .collect();
        let replayed: BTreeSet<String> = report.records[kind.as_str()].iter().cloned().collect();
        assert!(!live.is_empty(), "{kind}");
        assert_eq!(replayed, live, "{kind}");
    }
}

/// Hand-written fixtures for the misbehave connector: 25 users pages (so endless
/// paging is bounded by --max-pages, not by missing fixtures) and two event pages.
fn misbehave_fixtures(dir: &Path) {
    let write = |name: &str, v: Value| {
        std::fs::write(dir.join(name), serde_json::to_vec_pretty(&v).unwrap()).unwrap()
    };
    write(
        "sluice-fixtures.json",
        json!({ "connector": "misbehave", "config": { "base_url": "http://fixtures.test" } }),
    );
    let exchange = |url: String, body: Value| {
        json!({
            "request": { "method": "GET", "url": url, "headers": [] },
            "response": { "status": 200, "headers": [["content-type", "application/json"]], "body": body }
        })
    };
    for page in 1..=25u64 {
        let next = if page == 2 {
            Value::Null
        } else {
            json!(page + 1)
        };
        write(
            &format!("{page:04}.json"),
            exchange(
                format!("http://fixtures.test/users?page={page}"),
                json!({ "users": [{ "id": format!("u{page}a") }, { "id": format!("u{page}b") }], "next": next }),
            ),
        );
    }
    let event = |id: &str, time: i64| json!({ "id": id, "time": time });
    write(
        "0101.json",
        exchange(
            "http://fixtures.test/events?after=0".into(),
            json!({ "events": [event("e1", 1_000), event("e2", 2_000)], "position": 2, "more": true }),
        ),
    );
    write(
        "0102.json",
        exchange(
            "http://fixtures.test/events?after=2".into(),
            json!({ "events": [event("e3", 3_000)], "position": 3, "more": false }),
        ),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_contract_violation_fails_the_check_that_names_it() {
    let dir = tempfile::tempdir().unwrap();
    misbehave_fixtures(dir.path());
    let wasm = test_plugin("misbehave");

    let good = run(&wasm, &input(dir.path(), &[("mode", "good")], 20))
        .await
        .unwrap();
    assert!(good.passed(), "{:#?}", good.checks);
    let checks: Vec<&str> = good.checks.iter().map(|c| c.check.as_str()).collect();
    assert!(checks.contains(&"check"), "{checks:?}");
    let act = &good
        .checks
        .iter()
        .find(|c| c.check == "act suspend-user (dry run)")
        .expect("the declared action is dry-run")
        .detail;
    assert!(
        act.contains("on `u1a`: would send POST http://fixtures.test/users/u1a/suspend"),
        "{act}"
    );
    assert_eq!(good.records["users"], ["u1a", "u1b", "u2a", "u2b"]);
    assert_eq!(good.records["activities"], ["e1", "e2", "e3"]);
    let detail = &good
        .checks
        .iter()
        .find(|c| c.check == "list activities")
        .unwrap()
        .detail;
    assert!(detail.contains("resumable"), "{detail}");

    // (mode, the one failing check, words its detail must contain)
    let cases = [
        ("endless", "list users", "no last page after 20 pages"),
        ("stuck-cursor", "list users", "came back"),
        ("bad-raw", "list users", "not the provider's JSON"),
        (
            "untyped-errors",
            "HTTP 401 is `unauthorized`",
            "gave `other`",
        ),
        ("egress-escape", "egress", "exfiltrate.example"),
        ("stuck-activities", "list activities", "did not advance"),
        (
            "failing-check",
            "check",
            "no fixture for GET http://fixtures.test/me",
        ),
        (
            "dry-run-done",
            "act suspend-user (dry run)",
            "answered `done`",
        ),
        (
            "dry-run-egress",
            "act suspend-user (dry run)",
            "outside the declared egress",
        ),
        ("dry-run-writes", "act suspend-user (dry run)", "on `u1a`"),
        (
            "dry-run-silent",
            "act suspend-user (dry run)",
            "lists no request",
        ),
    ];
    for (mode, check, words) in cases {
        let report = run(&wasm, &input(dir.path(), &[("mode", mode)], 20))
            .await
            .unwrap();
        let failures = failed(&report);
        assert!(!report.passed(), "{mode} passed");
        let detail = failures
            .get(check)
            .unwrap_or_else(|| panic!("{mode}: `{check}` did not fail: {failures:#?}"));
        assert!(detail.contains(words), "{mode}: {detail}");
        if mode != "untyped-errors" {
            assert_eq!(failures.len(), 1, "{mode}: {failures:#?}");
        }
    }

    let bad = run(
        &test_plugin("misbehave_describe"),
        &input(dir.path(), &[], 20),
    )
    .await
    .unwrap();
    let failures = failed(&bad);
    let detail = failures.get("describe").expect("describe failed");
    assert!(
        detail.contains("listed twice") && detail.contains("Base URL!"),
        "{detail}"
    );
}
