//! The NetDocuments connector end to end: mock NetDocuments on loopback (OAuth client
//! credentials, `$skiptoken` paging, repository logs, 429 + Retry-After) → wasm
//! component → sled.

use sluice::control::ConnectError;
use sluice::model::{ActivityKind, Capability, ConnectorError, Kind, Record};
use sluice::store::Instance;
use sluice_mocks::{Faults, NetDocumentsMock, NetDocumentsMockConfig};
use sluice_tests::Harness;

const SECRET: &str = "nd-test-secret-7f3a";

fn config() -> NetDocumentsMockConfig {
    NetDocumentsMockConfig {
        client_secret: SECRET.into(),
        ..NetDocumentsMockConfig::default()
    }
}

/// Connects repository `mock` with client secret `secret`.
async fn connect(
    h: &Harness,
    mock: &NetDocumentsMock,
    secret: &str,
) -> Result<Instance, ConnectError> {
    let c = mock.config();
    let api_url = mock.base_url();
    h.connect_to(
        "netdocuments",
        "firm",
        &[
            ("api_url", api_url.as_str()),
            ("repository_id", c.repository_id.as_str()),
            ("client_id", c.client_id.as_str()),
        ],
        &[("client_secret", secret)],
    )
    .await
    .map(|(inst, _)| inst)
}

fn activity_kinds(h: &Harness, inst: &Instance) -> Vec<ActivityKind> {
    h.records(inst, Kind::Activities, false)
        .into_iter()
        .filter_map(|r| match r.record {
            Record::Activity(a) => Some(a.kind),
            _ => None,
        })
        .collect()
}

fn count_requests(mock: &NetDocumentsMock, path_end: &str) -> usize {
    mock.requests()
        .iter()
        .filter(|r| r.path().ends_with(path_end))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_scan_collects_every_kind_with_exact_counts_across_pages() {
    let mock = NetDocumentsMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let (inst, perms) = h
        .connect_to(
            "netdocuments",
            "firm",
            &[
                ("api_url", mock.base_url().as_str()),
                ("repository_id", mock.config().repository_id.as_str()),
                ("client_id", mock.config().client_id.as_str()),
            ],
            &[("client_secret", SECRET)],
        )
        .await
        .unwrap();
    assert_eq!(perms.principal.as_deref(), Some("user-1@firm.test"));
    assert!(perms.missing.is_empty(), "{perms:?}");

    // Page size 5 forces several pages of every listing.
    let reports = h.scan(&inst, &[], 5).await;
    for r in &reports {
        assert!(r.error.is_none(), "{:?} failed: {:?}", r.kind, r.error);
    }
    let exp = mock.expected();
    assert_eq!(h.live(&inst, Kind::Users), exp.users);
    assert_eq!(exp.users, 23);
    assert_eq!(h.live(&inst, Kind::Groups), exp.groups);
    assert_eq!(
        h.live(&inst, Kind::Activities),
        exp.admin_events + exp.user_events
    );
    assert_eq!(h.live(&inst, Kind::Findings), exp.findings);

    let users: Vec<_> = h
        .records(&inst, Kind::Users, false)
        .into_iter()
        .filter_map(|r| match r.record {
            Record::User(u) => Some(u),
            _ => None,
        })
        .collect();
    assert_eq!(
        users.iter().filter(|u| u.is_admin).count(),
        exp.administrators
    );
    assert_eq!(users.iter().filter(|u| u.is_external).count(), exp.external);
    assert!(users.iter().all(|u| u.last_sign_in.is_some()));
    let memberships: usize = h
        .records(&inst, Kind::Groups, false)
        .iter()
        .map(|r| match &r.record {
            Record::Group(g) => g.members.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(memberships, exp.group_memberships);

    let kinds = activity_kinds(&h, &inst);
    let of = |kind| kinds.iter().filter(|k| **k == kind).count();
    assert_eq!(of(ActivityKind::Admin), exp.admin_events);
    assert_eq!(of(ActivityKind::User), exp.user_events);
    assert_eq!(of(ActivityKind::Logon), 0);

    let findings: Vec<_> = h
        .records(&inst, Kind::Findings, false)
        .into_iter()
        .filter_map(|r| match r.record {
            Record::Finding(f) => Some(f),
            _ => None,
        })
        .collect();
    let sso = findings.iter().find(|f| f.id == "adopt-sso").unwrap();
    assert!(!sso.passed, "the mock repository has no federated identity");
    assert_eq!(
        findings.iter().filter(|f| !f.passed).count(),
        exp.failed_findings
    );

    // Paging really happened, through `$skiptoken`.
    assert_eq!(count_requests(&mock, "/users"), exp.users.div_ceil(5));
    assert_eq!(count_requests(&mock, "/groups"), exp.groups.div_ceil(5));
    let log_pages = exp.admin_events.div_ceil(5) + exp.user_events.div_ceil(5);
    assert_eq!(count_requests(&mock, "/log"), log_pages);
    assert!(
        mock.requests()
            .iter()
            .any(|r| r.query_param("$skiptoken").is_some())
    );
    // One token served the whole scan: the host caches it.
    assert_eq!(mock.oauth().issued(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rescans_fetch_only_new_log_events() {
    let mock = NetDocumentsMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let inst = connect(&h, &mock, SECRET).await.unwrap();
    h.scan(&inst, &[Kind::Activities], 20).await;
    let exp = mock.expected();
    assert_eq!(
        h.live(&inst, Kind::Activities),
        exp.admin_events + exp.user_events
    );

    mock.add_events(3, 5);
    mock.clear_requests();
    let reports = h.scan(&inst, &[Kind::Activities], 20).await;
    let acts = &reports[0];
    assert!(acts.error.is_none(), "{:?}", acts.error);
    let exp = mock.expected();
    assert_eq!(
        h.live(&inst, Kind::Activities),
        exp.admin_events + exp.user_events
    );
    // Only the new events, plus at most the boundary event of each log, were re-read.
    assert!(
        acts.records <= 3 + 5 + 2,
        "second scan re-read {} events",
        acts.records
    );
    // Every search started at the newest event seen, not 30 days back.
    let starts: Vec<_> = mock
        .requests()
        .iter()
        .filter(|r| r.path().ends_with("/log"))
        .map(|r| r.query_param("start"))
        .collect();
    assert_eq!(starts.len(), 2, "one page per log: {starts:?}");
    assert!(starts.iter().all(Option::is_some), "{starts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_honoured_and_every_record_arrives_once() {
    let mock = NetDocumentsMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let inst = connect(&h, &mock, SECRET).await.unwrap();
    mock.clear_requests();
    mock.inject_faults(Faults {
        secondary_limit: 2,
        retry_after_secs: 1,
        ..Faults::default()
    });
    let reports = h.scan(&inst, &[Kind::Users], 10).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    assert_eq!(h.live(&inst, Kind::Users), mock.expected().users);

    let requests = mock.requests();
    let throttled: Vec<_> = requests
        .iter()
        .enumerate()
        .filter(|(_, r)| r.status == 429)
        .collect();
    assert_eq!(throttled.len(), 2, "{requests:#?}");
    // The retry after each 429 waited for Retry-After (1 s).
    for (i, refused) in throttled {
        let retry = &requests[i + 1];
        let waited = retry.at - refused.at;
        assert!(
            waited >= chrono::Duration::milliseconds(950),
            "retried after {waited} instead of 1 s"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_secret_is_unauthorized_and_the_error_holds_no_secret() {
    let mock = NetDocumentsMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let wrong = "nd-wrong-secret-91c2";
    let err = connect(&h, &mock, wrong).await.unwrap_err();
    let ConnectError::Check(ConnectorError::Unauthorized(message)) = &err else {
        panic!("expected unauthorized, got {err}");
    };
    let shown = format!("{message} {err} {err:?}");
    assert!(!shown.contains(wrong) && !shown.contains(SECRET), "{shown}");
    assert!(h.store.instances().unwrap().is_empty());
    assert_eq!(mock.oauth().issued(), 0);
    assert_eq!(
        count_requests(&mock, "/info"),
        0,
        "no API call without a token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_shows_netdocuments_without_logon_activity() {
    let h = Harness::new().await;
    let info = &h.plugin("netdocuments").info;
    assert_eq!(info.name, "NetDocuments");
    for capability in [
        Capability::Accounts,
        Capability::Groups,
        Capability::Privileges,
        Capability::UserActivity,
        Capability::AdminActivity,
        Capability::Posture,
    ] {
        assert!(info.capabilities.contains(&capability), "{capability:?}");
    }
    assert!(!info.capabilities.contains(&Capability::LogonActivity));
    assert_eq!(
        (
            info.rate_limits[0].requests,
            info.rate_limits[0].per_seconds
        ),
        (100_000, 60)
    );
    let region = info.config.iter().find(|f| f.name == "region").unwrap();
    assert_eq!(region.default.as_deref(), Some("us"));
}
