//! The Zoom connector end to end: mock Zoom (API and Server-to-Server OAuth token
//! endpoint) on loopback → wasm component → sled.

use std::collections::HashSet;

use sluice::control::ConnectError;
use sluice::model::{
    ActionKind, ActivityKind, Capability, ConnectorError, Kind, Record, UserStatus,
};
use sluice::store::{Instance, InstanceStatus};
use sluice_mocks::{Faults, ZoomMock, ZoomMockConfig};
use sluice_tests::{Harness, action, assert_waited_out_the_first_429, shared_fixtures};

const ACCOUNT: &str = "zoom-acct-7Qm2";
const CLIENT: &str = "zoom-client-1";
const SECRET: &str = "zoom-secret-5e1f";

fn config() -> ZoomMockConfig {
    ZoomMockConfig {
        account_id: ACCOUNT.into(),
        client_id: CLIENT.into(),
        client_secret: SECRET.into(),
        users: 23,
        admins: 2,
        custom_role_users: 3,
        inactive_users: 2,
        pending_users: 1,
        // 40 entries a day apart: two 28-day report windows each.
        operation_logs: 40,
        sign_ins: 33,
        log_interval_ms: 86_400_000,
        ..Default::default()
    }
}

async fn connect(
    h: &Harness,
    mock: &ZoomMock,
    account: &str,
    secret: &str,
) -> Result<(Instance, sluice::model::Permissions), ConnectError> {
    let base = mock.base_url();
    h.connect_to(
        "zoom",
        "acme",
        &[
            ("account_id", account),
            ("client_id", CLIENT),
            ("base_url", &base),
            ("oauth_url", &base),
        ],
        &[("client_secret", secret)],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_scan_collects_every_kind_with_exact_counts_across_token_pages() {
    let mock = ZoomMock::start(ZoomMockConfig {
        secure_settings: false,
        ..config()
    })
    .await
    .unwrap();
    let h = Harness::new().await;
    let (inst, perms) = connect(&h, &mock, ACCOUNT, SECRET).await.unwrap();
    assert_eq!(perms.principal.as_deref(), Some("account zoom-acct-7Qm2"));
    assert_eq!(
        perms.granted,
        [
            "user:read:admin",
            "role:read:admin",
            "report:read:admin",
            "account:read:admin"
        ]
    );
    assert!(perms.missing.is_empty(), "{:?}", perms.missing);
    // Zoom's Server-to-Server OAuth: account_credentials, the account id in the form,
    // the client as HTTP Basic.
    let token = &mock.oauth().requests()[0];
    assert!(token.basic, "client id and secret as HTTP Basic");
    assert_eq!(token.field("grant_type"), Some("account_credentials"));
    assert_eq!(token.field("account_id"), Some(ACCOUNT));
    assert_eq!(token.field("client_secret"), None);

    mock.clear_requests();
    let reports = h.scan(&inst, &[], 5).await;
    for r in &reports {
        assert!(r.error.is_none(), "{:?} failed: {:?}", r.kind, r.error);
    }
    let exp = mock.expected();
    assert_eq!((exp.users, exp.admin_activity, exp.logon), (23, 40, 33));
    assert_eq!(h.live(&inst, Kind::Users), exp.users);
    assert_eq!(
        h.live(&inst, Kind::Activities),
        exp.admin_activity + exp.logon
    );
    let users = h.users(&inst);
    let count = |f: &dyn Fn(&sluice::model::User) -> bool| users.iter().filter(|u| f(u)).count();
    assert_eq!(count(&|u| u.is_admin), exp.admins);
    assert_eq!(exp.admins, 3, "the Owner and two Admins");
    assert_eq!(count(&|u| u.roles == ["Help desk"]), exp.custom_role);
    assert_eq!(count(&|u| u.status == UserStatus::Suspended), exp.inactive);
    assert_eq!(count(&|u| u.status == UserStatus::Disabled), exp.pending);
    assert_eq!((exp.inactive, exp.pending), (2, 1));
    assert_eq!(count(&|u| u.roles == ["Owner"]), 1);

    let acts = h.activities(&inst);
    let kind = |k| acts.iter().filter(|a| a.kind == k).count();
    assert_eq!(kind(ActivityKind::Admin), exp.admin_activity);
    assert_eq!(kind(ActivityKind::Logon), exp.logon);
    let sign_in = acts.iter().find(|a| a.kind == ActivityKind::Logon).unwrap();
    assert!(sign_in.ip.as_deref().unwrap().starts_with("203.0.113."));

    let failing = (h.records(&inst, Kind::Findings, false).iter())
        .filter(|r| matches!(&r.record, Record::Finding(f) if !f.passed))
        .count();
    assert_eq!(failing, exp.failed_findings);
    assert_eq!(h.live(&inst, Kind::Findings), 5);

    // Token paging on users (three status lists), 28-day windows on the reports.
    let requests = mock.api_requests();
    let users_pages = requests.iter().filter(|r| r.path() == "/v2/users").count();
    assert_eq!(users_pages, 20_usize.div_ceil(5) + 1 + 1);
    let windows: HashSet<(String, String)> = (requests.iter())
        .filter(|r| r.path() == "/v2/report/operationlogs")
        .map(|r| (r.query_param("from").unwrap(), r.query_param("to").unwrap()))
        .collect();
    assert!(windows.len() >= 2, "{windows:?}");
    assert!(
        (requests.iter())
            .filter(|r| r.path() == "/v2/users")
            .skip(1)
            .any(|r| r.query_param("next_page_token").is_some())
    );
    let status = h.store.instance("acme").unwrap().status;
    assert!(
        matches!(status, InstanceStatus::Connected { .. }),
        "{status:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activity_rescans_read_only_new_entries_and_store_each_once() {
    let mock = ZoomMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect(&h, &mock, ACCOUNT, SECRET).await.unwrap();
    let reports = h.scan(&inst, &[Kind::Activities], 10).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    assert_eq!(reports[0].records, 73);

    mock.add_activity(4);
    mock.clear_requests();
    let reports = h.scan(&inst, &[Kind::Activities], 10).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    assert_eq!(reports[0].records, 8, "only the new entries are stored");
    assert_eq!(h.live(&inst, Kind::Activities), 81);
    // Each report is read again from the newest entry's day only.
    let requests = mock.api_requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    for r in &requests {
        let from =
            chrono::NaiveDate::parse_from_str(&r.query_param("from").unwrap(), "%Y-%m-%d").unwrap();
        let to =
            chrono::NaiveDate::parse_from_str(&r.query_param("to").unwrap(), "%Y-%m-%d").unwrap();
        assert!((to - from).num_days() <= 1, "{r:?}");
    }

    // Caught up: nothing new, nothing stored twice.
    let reports = h.scan(&inst, &[Kind::Activities], 10).await;
    assert_eq!(reports[0].records, 0);
    mock.add_activity(1);
    let reports = h.scan(&inst, &[Kind::Activities], 10).await;
    assert_eq!(reports[0].records, 2);
    let exp = mock.expected();
    assert_eq!(
        h.live(&inst, Kind::Activities),
        exp.admin_activity + exp.logon
    );
    let ids: HashSet<String> = h.activities(&inst).into_iter().map(|a| a.id).collect();
    assert_eq!(ids.len(), 83);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_s_retry_after_is_honoured_and_records_are_stored_once() {
    let mock = ZoomMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect(&h, &mock, ACCOUNT, SECRET).await.unwrap();
    mock.clear_requests();
    mock.inject_faults(Faults {
        secondary_limit: 2,
        retry_after_secs: 1,
        ..Faults::default()
    });
    let reports = h.scan(&inst, &[Kind::Users], 5).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    assert_eq!(reports[0].records as usize, 23);
    assert_eq!(h.live(&inst, Kind::Users), 23);
    let requests = mock.api_requests();
    let throttled: Vec<_> = requests.iter().filter(|r| r.status == 429).collect();
    assert_eq!(throttled.len(), 2);
    assert_waited_out_the_first_429(&requests);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_or_account_is_unauthorized_at_connect_and_no_secret_leaks() {
    let mock = ZoomMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    for (account, secret) in [(ACCOUNT, "zoom-wrong-secret"), ("zoom-other-acct", SECRET)] {
        let err = connect(&h, &mock, account, secret).await.unwrap_err();
        let ConnectError::Check(ConnectorError::Unauthorized(message)) = &err else {
            panic!("expected unauthorized, got {err}");
        };
        let shown = format!("{message} {err} {err:?}");
        assert!(
            !shown.contains(SECRET) && !shown.contains("zoom-wrong-secret"),
            "{shown}"
        );
    }
    assert!(h.store.instances().unwrap().is_empty());
    assert_eq!(mock.oauth().issued(), 0);
    assert!(
        mock.api_requests().is_empty(),
        "no API call without a token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_missing_scopes_and_plans_in_zoom_s_words() {
    // An app without report:read:admin: both activity trails are missing.
    let mock = ZoomMock::start(ZoomMockConfig {
        scopes: vec![
            "user:read:admin".into(),
            "role:read:list_roles:admin".into(),
            "account:read:admin".into(),
        ],
        ..config()
    })
    .await
    .unwrap();
    let h = Harness::new().await;
    let (inst, perms) = connect(&h, &mock, ACCOUNT, SECRET).await.unwrap();
    let missing: Vec<Capability> = perms.missing.iter().map(|(c, _)| *c).collect();
    assert_eq!(
        missing,
        [Capability::AdminActivity, Capability::LogonActivity]
    );
    assert!(perms.missing[0].1.contains("`report:read:admin`"));
    assert!(
        perms.missing[0]
            .1
            .contains("does not contain scopes:[report:read:operation_logs:admin]"),
        "{}",
        perms.missing[0].1
    );
    let reports = h.scan(&inst, &[Kind::Activities], 10).await;
    assert!(
        matches!(reports[0].error, Some(ConnectorError::Forbidden(_))),
        "{reports:?}"
    );

    // A plan without reports: Zoom's "No permission." is in the reason.
    let mock = ZoomMock::start(ZoomMockConfig {
        reports_available: false,
        ..config()
    })
    .await
    .unwrap();
    let h = Harness::new().await;
    let (_, perms) = connect(&h, &mock, ACCOUNT, SECRET).await.unwrap();
    assert_eq!(perms.missing.len(), 2, "{:?}", perms.missing);
    assert!(perms.missing[1].1.contains("No permission."));
    assert!(perms.missing[1].1.contains("Pro or higher plan"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivate_and_activate_show_in_the_next_scans() {
    let mock = ZoomMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect(&h, &mock, ACCOUNT, SECRET).await.unwrap();
    let target = mock.active_member_ids().pop().unwrap();
    assert_eq!(
        h.scanned_status(&inst, &target, 50).await,
        Some(UserStatus::Active)
    );
    h.scan(&inst, &[Kind::Activities], 100).await;
    let status_url = format!("{}/v2/users/{target}/status", mock.base_url());

    mock.clear_requests();
    let planned = h
        .act(&inst, action(ActionKind::SuspendUser, &target, true))
        .await
        .unwrap();
    assert_eq!(planned.status, "planned");
    assert_eq!(planned.requests, [format!("PUT {status_url}")]);
    assert!(mock.requests().iter().all(|r| !r.is_write()));

    let done = h
        .act(&inst, action(ActionKind::SuspendUser, &target, false))
        .await
        .unwrap();
    assert_eq!(done.status, "done", "{done:?}");
    assert_eq!(mock.status_of(&target).as_deref(), Some("inactive"));
    assert_eq!(
        h.scanned_status(&inst, &target, 50).await,
        Some(UserStatus::Suspended)
    );
    // Zoom logs it in the operation log; the next incremental scan shows it.
    let reports = h.scan(&inst, &[Kind::Activities], 100).await;
    assert_eq!(reports[0].records, 1);
    let logged = h
        .activities(&inst)
        .into_iter()
        .find(|a| a.targets.iter().any(|t| t.starts_with("Deactivate User")))
        .expect("the deactivation in the operation log");
    assert_eq!(
        (logged.kind, logged.action.as_str()),
        (ActivityKind::Admin, "user.update")
    );

    sluice_tests::assert_suspend_is_idempotent_and_reversible(
        &h,
        &inst,
        (&target, "nobody"),
        50,
        || mock.requests(),
        || mock.clear_requests(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_zoom_fixtures_parse_into_records() {
    let Some(fixtures) = shared_fixtures() else {
        eprintln!("../shared/fixtures not present; skipping the published-payload check");
        return;
    };
    let dir = fixtures.join("zoom");
    let published: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("list-users.third-party-mirror.json")).unwrap(),
    )
    .unwrap();
    let mock = ZoomMock::start(ZoomMockConfig {
        fixtures_dir: Some(dir),
        ..config()
    })
    .await
    .unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect(&h, &mock, ACCOUNT, SECRET).await.unwrap();
    let reports = h.scan(&inst, &[Kind::Users], 10).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    let users = h.users(&inst);
    assert_eq!(users.len(), mock.expected().users);
    assert_eq!(users.len(), 1);
    let jill = &users[0];
    assert_eq!(jill.id, "KDcuGIm1QgePTO8WbOqwIQ");
    assert_eq!(jill.email.as_deref(), Some("jchill@example.com"));
    assert_eq!(jill.roles, ["Owner"], "role_id 0, named by GET /v2/roles");
    assert_eq!(jill.raw.value(), published["users"][0]);
}

/// `sluice scan --record` against the mock, then `sluice test-connector` on what it
/// wrote, with the mock no longer asked: the recording replays to a passing report
/// (the report windows end at `context.now`, so the replay asks for the same dates),
/// and holds neither the client secret nor the access token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_scan_passes_test_connector_without_the_provider() {
    let mock = ZoomMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect(&h, &mock, ACCOUNT, SECRET).await.unwrap();
    let zoom = sluice_tests::connector_under_test("zoom");
    sluice_tests::record_then_replay(
        &h,
        &inst,
        &zoom,
        sluice_tests::Recording {
            secrets: &[SECRET],
            token_path: Some("/oauth/token"),
        },
        || mock.requests(),
        || mock.clear_requests(),
    )
    .await;
}
