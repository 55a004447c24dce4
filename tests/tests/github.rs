//! The GitHub connector end to end: mock GitHub on loopback → wasm component → sled.

use sluice::model::{ConnectorError, Kind, Record, UserStatus};
use sluice::store::InstanceStatus;
use sluice_mocks::{GithubMock, GithubMockConfig};
use sluice_tests::{Harness, shared_fixtures};

const TOKEN: &str = "ghp_test_token";

fn config() -> GithubMockConfig {
    GithubMockConfig {
        org: "acme".into(),
        token: TOKEN.into(),
        admins: 3,
        members: 12,
        outside_collaborators: 2,
        teams: 4,
        members_per_team: 3,
        audit_events: 57,
        credential_authorizations: 3,
        installations: 2,
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_scan_collects_every_kind_with_exact_counts_across_pages() {
    let mock = GithubMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let (inst, perms) = h.connect_github(&mock, "acme", TOKEN).await.unwrap();
    assert_eq!(perms.principal.as_deref(), Some("sluice-bot"));
    assert!(
        perms.granted.iter().any(|s| s == "read:audit_log"),
        "{perms:?}"
    );

    // Page size 5 forces several pages of every listing.
    let reports = h.scan(&inst, &[], 5).await;
    for r in &reports {
        assert!(r.error.is_none(), "{:?} failed: {:?}", r.kind, r.error);
    }
    let exp = mock.expected();
    assert_eq!(h.live(&inst, Kind::Users), exp.users);
    assert_eq!(exp.users, 17);
    assert_eq!(h.live(&inst, Kind::Groups), exp.groups);
    assert_eq!(h.live(&inst, Kind::Activities), exp.audit_events);
    assert_eq!(h.live(&inst, Kind::AppPermissions), exp.app_permissions);
    assert_eq!(h.live(&inst, Kind::Findings), exp.findings);

    let users = h.records(&inst, Kind::Users, false);
    let admins = users
        .iter()
        .filter(|r| matches!(&r.record, Record::User(u) if u.is_admin))
        .count();
    let outside = users
        .iter()
        .filter(|r| matches!(&r.record, Record::User(u) if u.is_external))
        .count();
    assert_eq!(admins, exp.admins);
    assert_eq!(outside, exp.outside);
    // Raw provider JSON is kept next to the normalised fields.
    let Record::User(u) = &users[0].record else {
        panic!()
    };
    assert_eq!(u.status, UserStatus::Active);
    assert_eq!(u.raw.value()["login"].as_str(), u.login.as_deref());

    let memberships: usize = h
        .records(&inst, Kind::Groups, false)
        .iter()
        .map(|r| match &r.record {
            Record::Group(g) => g.members.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(memberships, exp.group_memberships);

    // Pagination really happened: the members listing was read page by page.
    let member_pages = mock
        .requests()
        .iter()
        .filter(|r| r.path().ends_with("/members") && r.path().starts_with("/orgs/acme/members"))
        .count();
    assert!(
        member_pages >= 3,
        "expected several member pages, got {member_pages}"
    );
    let audit_pages = mock
        .requests()
        .iter()
        .filter(|r| r.path().ends_with("/audit-log"))
        .count();
    // A first scan reads the 90-day look-back as four time ranges side by side; the
    // mock's log lies in its last hours, so the three older ranges are one empty page
    // each. A connector built for an older contract (SLUICE_TEST_CONNECTORS) reads
    // one feed.
    let older_ranges = if h.plugin("github").info.activity_partitions {
        3
    } else {
        0
    };
    assert_eq!(audit_pages, exp.audit_events.div_ceil(5) + older_ranges);

    let status = h.store.instance("acme").unwrap().status;
    assert!(
        matches!(status, InstanceStatus::Connected { .. }),
        "{status:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rescans_fetch_only_new_events_and_mark_removed_members_deleted() {
    let mock = GithubMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let (inst, _) = h.connect_github(&mock, "acme", TOKEN).await.unwrap();
    h.scan(&inst, &[Kind::Users, Kind::Activities], 20).await;
    assert_eq!(h.live(&inst, Kind::Activities), 57);

    mock.add_audit_events(7);
    let gone = mock
        .member_logins()
        .into_iter()
        .find(|l| l.starts_with("member"))
        .unwrap();
    assert!(mock.remove_member(&gone));
    mock.clear_requests();

    let reports = h.scan(&inst, &[Kind::Users, Kind::Activities], 20).await;
    let acts = reports.iter().find(|r| r.kind == Kind::Activities).unwrap();
    assert!(acts.error.is_none(), "{:?}", acts.error);
    assert_eq!(h.live(&inst, Kind::Activities), 64);
    // Only the new events (plus at most the boundary event) were fetched again.
    assert!(
        acts.records <= 8,
        "second scan re-read {} events",
        acts.records
    );
    let audit_requests = mock
        .requests()
        .iter()
        .filter(|r| r.path().ends_with("/audit-log"))
        .count();
    assert_eq!(audit_requests, 1);

    let deleted: Vec<_> = h
        .records(&inst, Kind::Users, true)
        .into_iter()
        .filter(|r| r.deleted)
        .collect();
    assert_eq!(deleted.len(), 1);
    let Record::User(u) = &deleted[0].record else {
        panic!()
    };
    assert_eq!(u.login.as_deref(), Some(gone.as_str()));
    assert_eq!(h.live(&inst, Kind::Users), 16);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_token_is_unauthorized_and_writes_nothing() {
    let mock = GithubMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let err = h
        .connect_github(&mock, "acme", "ghp_wrong")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            sluice::control::ConnectError::Check(ConnectorError::Unauthorized(_))
        ),
        "{err}"
    );
    assert!(h.store.instances().unwrap().is_empty());

    // An instance whose token is revoked later: the scan shows unauthorized and
    // stores nothing.
    let (inst, _) = h.connect_github(&mock, "acme", TOKEN).await.unwrap();
    mock.set_token("ghp_rotated");
    let reports = h.scan(&inst, &[], 20).await;
    assert!(matches!(
        reports[0].error,
        Some(ConnectorError::Unauthorized(_))
    ));
    assert_eq!(
        reports.len(),
        1,
        "a bad credential stops the scan at the first kind"
    );
    for kind in Kind::ALL {
        assert_eq!(h.live(&inst, kind), 0, "{kind} written");
    }
    match h.store.instance("acme").unwrap().status {
        InstanceStatus::Error { code, reason, .. } => {
            assert_eq!(code, "unauthorized");
            assert!(!reason.contains(TOKEN) && !reason.contains("ghp_rotated"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posture_reports_two_factor_and_sso() {
    let mock = GithubMock::start(GithubMockConfig {
        two_factor_required: false,
        saml_sso: true,
        ..config()
    })
    .await
    .unwrap();
    let h = Harness::new().await;
    let (inst, _) = h.connect_github(&mock, "acme", TOKEN).await.unwrap();
    h.scan(&inst, &[Kind::Findings], 20).await;
    let findings: Vec<_> = h
        .records(&inst, Kind::Findings, false)
        .into_iter()
        .filter_map(|r| match r.record {
            Record::Finding(f) => Some(f),
            _ => None,
        })
        .collect();
    let tfa = findings
        .iter()
        .find(|f| f.id == "two-factor-required")
        .unwrap();
    assert!(!tfa.passed);
    let sso = findings.iter().find(|f| f.id == "sso-enforced").unwrap();
    assert!(sso.passed);
    assert_eq!(
        findings.iter().filter(|f| !f.passed).count(),
        mock.expected().failed_findings
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_github_fixtures_parse_into_records() {
    let Some(fixtures) = shared_fixtures() else {
        eprintln!("../shared/fixtures not present; skipping the published-payload check");
        return;
    };
    let dir = fixtures.join("github");
    let count = |file: &str| -> usize {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join(file)).unwrap()).unwrap();
        v.as_array()
            .map(Vec::len)
            .or_else(|| v["installations"].as_array().map(Vec::len))
            .unwrap()
    };
    let mock = GithubMock::start(GithubMockConfig {
        fixtures_dir: Some(dir.clone()),
        ..config()
    })
    .await
    .unwrap();
    let h = Harness::new().await;
    let (inst, _) = h.connect_github(&mock, "acme", TOKEN).await.unwrap();
    let reports = h.scan(&inst, &[], 100).await;
    for r in &reports {
        assert!(r.error.is_none(), "{:?}: {:?}", r.kind, r.error);
    }
    // Members and outside collaborators are the same published sample, so the
    // same ids: one record each, the outside-collaborator phase last.
    assert_eq!(h.live(&inst, Kind::Users), count("org-members.json"));
    assert_eq!(h.live(&inst, Kind::Groups), count("org-teams.json"));
    assert_eq!(h.live(&inst, Kind::Activities), count("org-audit-log.json"));
    assert_eq!(
        h.live(&inst, Kind::AppPermissions),
        count("org-credential-authorizations.json") + count("org-installations.json")
    );
    let acts = h.records(&inst, Kind::Activities, false);
    let team_add = acts
        .iter()
        .find_map(|r| match &r.record {
            Record::Activity(a) if a.action == "team.add_member" => Some(a.clone()),
            _ => None,
        })
        .expect("team.add_member event");
    assert_eq!(team_add.id, "xJJFlFOhQ6b-5vaAFy9Rjw");
    assert_eq!(team_add.time, 1606929874512);
    assert_eq!(team_add.actor.as_deref(), Some("octocat"));
    assert!(team_add.targets.iter().any(|t| t == "monalisa"));
    let apps = h.records(&inst, Kind::AppPermissions, false);
    assert!(
        apps.iter()
            .any(|r| matches!(&r.record, Record::AppPermission(a)
        if a.app_id == "github-actions" && a.scopes.iter().any(|s| s == "deployments:write")))
    );
}
