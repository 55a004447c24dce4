//! The ServiceNow connector end to end: mock ServiceNow (Table API and
//! `/oauth_token.do`) on loopback → wasm component → sled.

use std::collections::HashSet;

use sluice::control::{ConnectError, ConnectRequest, connect};
use sluice::model::grants::GrantRequest;
use sluice::model::{
    ActionKind, ActivityKind, Capability, ConnectorError, Kind, Outcome, Record, UserStatus,
};
use sluice::store::{Instance, InstanceStatus, Secret};
use sluice_mocks::{Faults, ServiceNowMock, ServiceNowMockConfig, TokenFailure};
use sluice_tests::{
    Harness, action, assert_waited_out_the_first_429, shared_fixtures, test_plugin,
};

const PASSWORD: &str = "sn-test-password";
const USER: &str = "sluice.integration";

fn config() -> ServiceNowMockConfig {
    ServiceNowMockConfig {
        username: USER.into(),
        password: PASSWORD.into(),
        users: 23,
        admins: 3,
        itil_users: 6,
        inactive_users: 2,
        locked_users: 1,
        groups: 4,
        members_per_group: 3,
        sign_ins: 17,
        audits: 13,
        ..Default::default()
    }
}

async fn connect_basic(
    h: &Harness,
    mock: &ServiceNowMock,
    password: &str,
) -> Result<(Instance, sluice::model::Permissions), ConnectError> {
    h.connect_to(
        "servicenow",
        "acme",
        &[
            ("instance", "acme"),
            ("base_url", &mock.base_url()),
            ("username", USER),
        ],
        &[("password", password)],
    )
    .await
}

/// Connects with the OAuth client-credentials option.
async fn connect_oauth(
    h: &Harness,
    mock: &ServiceNowMock,
    secret: &str,
) -> Result<(Instance, sluice::model::Permissions), ConnectError> {
    connect(
        &h.store,
        &h.registry,
        ConnectRequest {
            connector: "servicenow".into(),
            name: "oauth".into(),
            config: [
                ("instance", "acme".to_owned()),
                ("base_url", mock.base_url()),
                ("client_id", mock.config().client_id.clone()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
            secrets: [("client_secret".to_owned(), Secret::new(secret))]
                .into_iter()
                .collect(),
            allow_private_network: true,
            auth: Some("oauth".into()),
            grants: GrantRequest::all(),
            ..Default::default()
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_scan_collects_every_kind_with_exact_counts_across_offset_pages() {
    let mock = ServiceNowMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let (inst, perms) = connect_basic(&h, &mock, PASSWORD).await.unwrap();
    assert_eq!(perms.principal.as_deref(), Some(USER));
    assert!(
        perms.granted.contains(&"role:admin".to_owned()),
        "{:?}",
        perms.granted
    );
    assert!(perms.granted.contains(&"read:sys_audit".to_owned()));
    assert!(perms.missing.is_empty(), "{:?}", perms.missing);
    let seen = mock.credentials_seen();
    assert!(
        !seen.is_empty() && seen.iter().all(|c| *c == format!("basic {USER}")),
        "{seen:?}"
    );

    mock.clear_requests();
    let reports = h.scan(&inst, &[], 5).await;
    for r in &reports {
        assert!(r.error.is_none(), "{:?} failed: {:?}", r.kind, r.error);
    }
    let exp = mock.expected();
    assert_eq!((exp.users, exp.groups, exp.activities), (23, 4, 30));
    assert_eq!(h.live(&inst, Kind::Users), exp.users);
    assert_eq!(h.live(&inst, Kind::Groups), exp.groups);
    assert_eq!(h.live(&inst, Kind::Activities), exp.activities);
    assert_eq!(h.live(&inst, Kind::Findings), exp.findings);
    assert_eq!(h.live(&inst, Kind::Files), exp.files);
    assert_eq!(exp.files, 3);

    let users = h.users(&inst);
    let count = |f: &dyn Fn(&sluice::model::User) -> bool| users.iter().filter(|u| f(u)).count();
    // The integration user and the three admins.
    assert_eq!(exp.admins, 4);
    assert_eq!(count(&|u| u.is_admin), exp.admins);
    assert_eq!(count(&|u| u.status == UserStatus::Disabled), exp.disabled);
    assert_eq!(count(&|u| u.status == UserStatus::Suspended), exp.suspended);
    assert_eq!(count(&|u| u.status == UserStatus::Active), exp.active);
    assert_eq!((exp.disabled, exp.suspended), (2, 1));
    // Admins hold `itil` too, inherited from `admin`; roles come from sys_user_has_role.
    let admin = users
        .iter()
        .find(|u| u.login.as_deref() == Some("user1"))
        .unwrap();
    assert_eq!(admin.roles, ["admin", "itil"]);
    assert_eq!(count(&|u| u.roles == ["itil"]), 6);
    let me = users
        .iter()
        .find(|u| u.login.as_deref() == Some(USER))
        .unwrap();
    assert_eq!(me.id, ServiceNowMock::user_id(0));
    assert_eq!(me.raw.value()["web_service_access_only"], "true");

    let memberships: usize = (h.records(&inst, Kind::Groups, false).iter())
        .map(|r| match &r.record {
            Record::Group(g) => g.members.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(memberships, exp.group_memberships);
    assert_eq!(memberships, 12);

    let acts = h.activities(&inst);
    let kind = |k| acts.iter().filter(|a| a.kind == k).count();
    assert_eq!(kind(ActivityKind::Logon), exp.logon);
    assert_eq!(kind(ActivityKind::User), exp.user_activity);
    assert_eq!(kind(ActivityKind::Admin), exp.admin_activity);
    assert!(exp.logon > 0 && exp.user_activity > 0 && exp.admin_activity > 0);
    let failed: Vec<_> = acts
        .iter()
        .filter(|a| a.outcome == Outcome::Failure)
        .collect();
    assert_eq!(failed.len(), exp.failed_logon);
    assert!(
        failed
            .iter()
            .all(|a| a.action == "login.failed" && a.ip.is_some())
    );
    // Other events in the event queue (`incident.inserted`, …) are not sign-ins.
    let names = ["login", "login.failed", "logout"];
    assert!(
        (acts.iter())
            .filter(|a| a.kind == ActivityKind::Logon)
            .all(|a| names.contains(&a.action.as_str()))
    );

    // Offset paging through `Link: rel="next"`, not one request further.
    let requests = mock.requests();
    let pages = |path: &str| requests.iter().filter(|r| r.path() == path).count();
    assert_eq!(pages("/api/now/table/sys_user"), exp.users.div_ceil(5));
    // One roles query per page of users, one members query per page of groups.
    assert_eq!(
        pages("/api/now/table/sys_user_has_role"),
        exp.users.div_ceil(5)
    );
    assert_eq!(pages("/api/now/table/sys_user_grmember"), 1);
    assert_eq!(
        pages("/api/now/table/sysevent"),
        exp.logon.div_ceil(5),
        "the nameIN filter is applied by the instance"
    );
    assert_eq!(
        pages("/api/now/table/sys_audit"),
        (exp.activities - exp.logon).div_ceil(5)
    );
    let offsets: Vec<_> = (requests.iter())
        .filter(|r| r.path() == "/api/now/table/sys_user")
        .map(|r| r.query_param("sysparm_offset").unwrap())
        .collect();
    assert_eq!(offsets, ["0", "5", "10", "15", "20"]);
    let status = h.store.instance("acme").unwrap().status;
    assert!(
        matches!(status, InstanceStatus::Connected { .. }),
        "{status:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activity_rescans_query_from_the_newest_row_and_store_each_once() {
    let mock = ServiceNowMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect_basic(&h, &mock, PASSWORD).await.unwrap();
    let reports = h.scan(&inst, &[Kind::Activities], 10).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    assert_eq!(reports[0].records, 30);
    let newest = |logon: bool| {
        (h.activities(&inst).into_iter())
            .filter(|a| (a.kind == ActivityKind::Logon) == logon)
            .map(|a| a.time)
            .max()
            .unwrap()
    };
    let (newest_logon, newest_audit) = (newest(true), newest(false));

    mock.add_sign_ins(3);
    mock.add_audits(2);
    mock.clear_requests();
    let reports = h.scan(&inst, &[Kind::Activities], 10).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    assert_eq!(reports[0].records, 5, "only the new rows are stored");
    assert_eq!(h.live(&inst, Kind::Activities), 35);
    // Each feed asks the instance for rows from its newest second on, oldest first
    // (the boundary second comes again and is dropped).
    let requests = mock.requests();
    assert_eq!(requests.len(), 2, "{requests:?}");
    let query = |path: &str| {
        (requests.iter().find(|r| r.path() == path))
            .and_then(|r| r.query_param("sysparm_query"))
            .unwrap()
    };
    assert!(
        query("/api/now/table/sysevent").contains(&format!(
            "^sys_created_on>={}^ORDERBYsys_created_on",
            glide(newest_logon)
        )),
        "{}",
        query("/api/now/table/sysevent")
    );
    assert!(
        query("/api/now/table/sys_audit")
            .starts_with(&format!("sys_created_on>={}^", glide(newest_audit)))
    );

    // Caught up: nothing new, nothing stored twice.
    let reports = h.scan(&inst, &[Kind::Activities], 10).await;
    assert_eq!(reports[0].records, 0);
    mock.add_audits(1);
    let reports = h.scan(&inst, &[Kind::Activities], 10).await;
    assert_eq!(reports[0].records, 1);
    assert_eq!(h.live(&inst, Kind::Activities), mock.expected().activities);
    let ids: HashSet<String> = h.activities(&inst).into_iter().map(|a| a.id).collect();
    assert_eq!(ids.len(), 36);
}

/// ServiceNow's `YYYY-MM-DD HH:MM:SS` of `ms`.
fn glide(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_s_retry_after_is_honoured_and_records_are_stored_once() {
    let mock = ServiceNowMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect_basic(&h, &mock, PASSWORD).await.unwrap();
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
    let requests = mock.requests();
    assert_eq!(requests.iter().filter(|r| r.status == 429).count(), 2);
    // The retry waited out ServiceNow's `Retry-After: 1` instead of hammering.
    assert_waited_out_the_first_429(&requests);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_are_unauthorized_and_no_secret_leaks() {
    let mock = ServiceNowMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let err = connect_basic(&h, &mock, "wrong-password")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConnectError::Check(ConnectorError::Unauthorized(m)) if m.contains("User Not Authenticated")),
        "{err}"
    );
    assert!(h.store.instances().unwrap().is_empty());
    let seen = mock.credentials_seen();
    assert!(
        !seen.is_empty() && seen.iter().all(|c| c == "refused"),
        "{seen:?}"
    );

    let (inst, _) = connect_basic(&h, &mock, PASSWORD).await.unwrap();
    mock.set_password("changed-password");
    let reports = h.scan(&inst, &[], 20).await;
    assert!(
        matches!(reports[0].error, Some(ConnectorError::Unauthorized(_))),
        "{reports:?}"
    );
    for kind in Kind::ALL {
        assert_eq!(h.live(&inst, kind), 0, "{kind} written");
    }
    match h.store.instance("acme").unwrap().status {
        InstanceStatus::Error { code, reason, .. } => {
            assert_eq!(code, "unauthorized");
            assert!(!reason.contains(PASSWORD) && !reason.contains("changed-password"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_client_credentials_come_from_the_instance_token_endpoint_and_a_refusal_is_unauthorized()
 {
    let mock = ServiceNowMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let secret = mock.config().client_secret.clone();
    let (inst, perms) = connect_oauth(&h, &mock, &secret).await.unwrap();
    assert_eq!(perms.principal.as_deref(), Some(USER));
    assert!(mock.credentials_seen().iter().all(|c| c == "bearer"));
    let reports = h.scan(&inst, &[Kind::Users], 100).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    assert_eq!(h.live(&inst, Kind::Users), 23);
    assert_eq!(mock.oauth().issued(), 1, "one token, cached across calls");
    let token_requests = mock.oauth().requests();
    assert_eq!(
        token_requests[0].field("grant_type"),
        Some("client_credentials")
    );
    assert!(
        mock.requests()
            .iter()
            .any(|r| r.path() == "/oauth_token.do")
    );

    // ServiceNow refuses a bad client secret at the token endpoint.
    mock.oauth().set_failure(Some(TokenFailure::new(
        401,
        "server_error",
        "access_denied",
    )));
    let h = Harness::new().await;
    let err = connect_oauth(&h, &mock, "wrong-secret").await.unwrap_err();
    assert!(
        matches!(&err, ConnectError::Check(ConnectorError::Unauthorized(_))),
        "{err}"
    );
    assert!(!err.to_string().contains("wrong-secret"));
}

/// The status and raw `field` of user `id` after a fresh users scan.
async fn scanned(h: &Harness, inst: &Instance, id: &str, field: &str) -> (UserStatus, String) {
    let reports = h.scan(inst, &[Kind::Users], 50).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    let user = h.users(inst).into_iter().find(|u| u.id == id).unwrap();
    let value = user.raw.value()[field]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (user.status, value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_action_shows_in_the_next_users_and_activity_scans() {
    let mock = ServiceNowMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect_basic(&h, &mock, PASSWORD).await.unwrap();
    let target = ServiceNowMock::user_id(7);
    let url = format!("{}/api/now/table/sys_user/{target}", mock.base_url());
    assert_eq!(
        scanned(&h, &inst, &target, "active").await.0,
        UserStatus::Active
    );
    h.scan(&inst, &[Kind::Activities], 100).await;

    // A dry run sends no write.
    mock.clear_requests();
    let planned = h
        .act(&inst, action(ActionKind::SuspendUser, &target, true))
        .await
        .unwrap();
    assert_eq!(planned.status, "planned");
    assert_eq!(planned.requests, [format!("PATCH {url}")]);
    assert!(mock.requests().iter().all(|r| !r.is_write()));

    // Lock out (the default method).
    let done = h
        .act(&inst, action(ActionKind::SuspendUser, &target, false))
        .await
        .unwrap();
    assert_eq!(done.status, "done", "{done:?}");
    assert_eq!(
        mock.user_field(&target, "locked_out").as_deref(),
        Some("true")
    );
    assert_eq!(
        scanned(&h, &inst, &target, "locked_out").await,
        (UserStatus::Suspended, "true".into())
    );
    let again = h
        .act(&inst, action(ActionKind::SuspendUser, &target, false))
        .await
        .unwrap();
    assert_eq!(again.status, "already");
    let done = h
        .act(&inst, action(ActionKind::UnsuspendUser, &target, false))
        .await
        .unwrap();
    assert_eq!(done.status, "done");
    assert_eq!(
        scanned(&h, &inst, &target, "locked_out").await.0,
        UserStatus::Active
    );

    // Deactivate and reactivate.
    let mut deactivate = action(ActionKind::SuspendUser, &target, false);
    deactivate.params = vec![("method".into(), "deactivate".into())];
    assert_eq!(
        h.act(&inst, deactivate.clone()).await.unwrap().status,
        "done"
    );
    assert_eq!(
        scanned(&h, &inst, &target, "active").await,
        (UserStatus::Disabled, "false".into())
    );
    let mut reactivate = deactivate;
    reactivate.kind = ActionKind::UnsuspendUser;
    assert_eq!(h.act(&inst, reactivate).await.unwrap().status, "done");
    assert_eq!(
        scanned(&h, &inst, &target, "active").await.0,
        UserStatus::Active
    );

    // Require a password reset.
    let done = h
        .act(
            &inst,
            action(ActionKind::RequirePasswordReset, &target, false),
        )
        .await
        .unwrap();
    assert_eq!(done.status, "done");
    assert_eq!(
        scanned(&h, &inst, &target, "password_needs_reset").await.1,
        "true"
    );

    // ServiceNow's audit history has each change; the next activity scan shows them
    // as admin activity on sys_user.
    let reports = h.scan(&inst, &[Kind::Activities], 100).await;
    assert_eq!(reports[0].records, 5);
    let mut changes: Vec<(i64, String)> = (h.activities(&inst).into_iter())
        .filter(|a| a.targets == [target.clone()])
        .map(|a| {
            assert_eq!(a.kind, ActivityKind::Admin);
            assert_eq!(a.actor.as_deref(), Some(USER));
            let change = format!(
                "{} {}",
                a.action,
                a.raw.value()["newvalue"].as_str().unwrap()
            );
            (a.time, change)
        })
        .collect();
    changes.sort();
    let changes: Vec<String> = changes.into_iter().map(|(_, c)| c).collect();
    assert_eq!(
        changes,
        [
            "sys_user.locked_out true",
            "sys_user.locked_out false",
            "sys_user.active false",
            "sys_user.active true",
            "sys_user.password_needs_reset true"
        ]
    );

    let missing = h
        .act(
            &inst,
            action(
                ActionKind::SuspendUser,
                &ServiceNowMock::user_id(999),
                false,
            ),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(missing, ConnectorError::NotFound(_)),
        "{missing:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_each_refused_table_and_its_role_in_servicenow_s_words() {
    let mock = ServiceNowMock::start(ServiceNowMockConfig {
        owner_roles: vec!["user_admin".into()],
        refused_tables: vec![
            "sysevent".into(),
            "sys_audit".into(),
            "sys_properties".into(),
            "sys_attachment".into(),
        ],
        ..config()
    })
    .await
    .unwrap();
    let h = Harness::new().await;
    let (inst, perms) = connect_basic(&h, &mock, PASSWORD).await.unwrap();
    assert_eq!(
        perms.granted,
        [
            "read:sys_user",
            "role:user_admin",
            "read:sys_user_has_role",
            "read:sys_user_group",
            "read:sys_user_grmember"
        ]
    );
    let missing: Vec<Capability> = perms.missing.iter().map(|(c, _)| *c).collect();
    assert_eq!(
        missing,
        [
            Capability::LogonActivity,
            Capability::UserActivity,
            Capability::AdminActivity,
            Capability::Posture,
            Capability::Files,
            Capability::FileContent
        ]
    );
    let why = |c: Capability| &perms.missing.iter().find(|(m, _)| *m == c).unwrap().1;
    for capability in missing.clone() {
        assert!(
            why(capability).contains("User Not Authorized"),
            "{}",
            why(capability)
        );
        assert!(why(capability).contains("`admin`"), "{}", why(capability));
    }
    assert!(why(Capability::LogonActivity).contains("[sysevent]"));
    assert!(why(Capability::AdminActivity).contains("[sys_audit]"));
    assert!(why(Capability::Posture).contains("security_admin"));
    assert!(why(Capability::Files).contains("[sys_attachment]"));
    assert!(why(Capability::FileContent).contains("Attachment API"));
    // Users still scan; activity is refused in ServiceNow's words; posture fails each
    // finding with the reason rather than guessing.
    let reports = h
        .scan(&inst, &[Kind::Users, Kind::Activities, Kind::Findings], 50)
        .await;
    let report = |k| reports.iter().find(|r| r.kind == k).unwrap();
    assert!(report(Kind::Users).error.is_none());
    assert!(
        matches!(&report(Kind::Activities).error, Some(ConnectorError::Forbidden(m)) if m.contains("User Not Authorized")),
        "{reports:?}"
    );
    let findings = h.records(&inst, Kind::Findings, false);
    assert_eq!(findings.len(), mock.expected().findings);
    assert!(
        findings
            .iter()
            .all(|r| matches!(&r.record, Record::Finding(f) if !f.passed))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posture_judges_the_instance_security_properties() {
    let mock = ServiceNowMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect_basic(&h, &mock, PASSWORD).await.unwrap();
    let reports = h.scan(&inst, &[Kind::Findings], 50).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    let mut results: Vec<(String, bool)> = (h.records(&inst, Kind::Findings, false).into_iter())
        .filter_map(|r| match r.record {
            Record::Finding(f) => Some((f.id, f.passed)),
            _ => None,
        })
        .collect();
    results.sort();
    // The mock's defaults: MFA on, bypasses allowed (3), password policy on, a 240
    // minute session timeout, CSRF token on, basic-auth restriction unset.
    assert_eq!(
        results,
        [
            ("basic-auth-restricted".to_owned(), false),
            ("csrf-token".to_owned(), true),
            ("mfa-enforced".to_owned(), true),
            ("mfa-setup-bypass".to_owned(), false),
            ("password-policy".to_owned(), true),
            ("session-timeout".to_owned(), false),
        ]
    );
    let sent = mock.requests();
    let query = (sent.iter())
        .filter(|r| r.path() == "/api/now/table/sys_properties")
        .find_map(|r| r.query_param("sysparm_query"))
        .unwrap();
    assert!(
        query.starts_with("nameINglide.authenticate.multifactor,"),
        "{query}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_servicenow_fixtures_parse_into_records() {
    let Some(fixtures) = shared_fixtures() else {
        eprintln!("../shared/fixtures not present; skipping the published-payload check");
        return;
    };
    let dir = fixtures.join("servicenow");
    let published: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("contact-get-now-contact-sys_user-fields.docs-example.json"))
            .unwrap(),
    )
    .unwrap();
    let ids: HashSet<String> = (published["result"].as_array().unwrap().iter())
        .map(|u| u["sys_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 2);

    let mock = ServiceNowMock::start(ServiceNowMockConfig {
        fixtures_dir: Some(dir),
        ..config()
    })
    .await
    .unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect_basic(&h, &mock, PASSWORD).await.unwrap();
    // Pages of one: the two published users over two offset pages.
    let reports = h.scan(&inst, &[Kind::Users], 1).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    let users = h.users(&inst);
    assert_eq!(
        users.iter().map(|u| u.id.clone()).collect::<HashSet<_>>(),
        ids
    );
    let exp = mock.expected();
    assert_eq!(users.iter().filter(|u| u.is_external).count(), exp.external);
    assert_eq!(exp.external, 2, "both are CSM customer contacts");
    let george = users
        .iter()
        .find(|u| u.login.as_deref() == Some("george.warren"))
        .unwrap();
    assert_eq!(george.display_name.as_deref(), Some("George Warren"));
    assert_eq!(george.status, UserStatus::Active);
    assert_eq!(george.last_sign_in, Some(1_520_718_491_000));
    assert_eq!(george.raw.value()["title"], "Network Administrator");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_scan_passes_test_connector_without_the_provider() {
    let mock = ServiceNowMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect_basic(&h, &mock, PASSWORD).await.unwrap();
    mock.clear_requests();
    let listed_files = std::cell::Cell::new(false);
    sluice_tests::record_then_replay(
        &h,
        &inst,
        &test_plugin("servicenow"),
        sluice_tests::Recording {
            secrets: &[PASSWORD],
            token_path: None,
        },
        || {
            let requests = mock.requests();
            if requests.iter().any(|r| r.path() == "/api/now/attachment") {
                listed_files.set(true);
            }
            requests
        },
        || mock.clear_requests(),
    )
    .await;
    assert!(
        listed_files.get(),
        "the recorded scan lists attachments too"
    );
}

/// The files a files scan stored.
fn files(h: &Harness, inst: &Instance) -> Vec<sluice::model::File> {
    (h.records(inst, Kind::Files, false).into_iter())
        .filter_map(|r| match r.record {
            Record::File(f) => Some(f),
            _ => None,
        })
        .collect()
}

/// SHA-256 of `bytes`, hex.
fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachments_are_listed_exactly_read_in_chunks_and_a_deletion_shows_in_the_next_scan() {
    use sluice::runtime::MAX_FILE_CHUNK;
    use sluice::session::InstanceSession;

    let mock = ServiceNowMock::start(ServiceNowMockConfig {
        attachments: 7,
        ..config()
    })
    .await
    .unwrap();
    let big_content: Vec<u8> = (0..MAX_FILE_CHUNK as usize + 1_000)
        .map(|i| b"0123456789abcdef\n"[i % 17])
        .collect();
    let big = mock.add_attachment("incident", "export.csv", &big_content);
    let h = Harness::new().await;
    let (inst, perms) = connect_basic(&h, &mock, PASSWORD).await.unwrap();
    assert!(perms.granted.contains(&"read:sys_attachment".to_owned()));
    mock.clear_requests();
    let reports = h.scan(&inst, &[Kind::Files], 3).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    let exp = mock.expected();
    assert_eq!(exp.files, 8);
    assert_eq!(h.live(&inst, Kind::Files), exp.files);
    let stored = files(&h, &inst);
    let mut ids: Vec<String> = stored.iter().map(|f| f.id.clone()).collect();
    ids.sort();
    let mut expected = mock.attachment_ids();
    expected.sort();
    assert_eq!(ids, expected);
    // Offset pages of three, oldest first, through `Link: rel="next"`.
    let requests = mock.requests();
    let pages: Vec<_> = (requests.iter())
        .filter(|r| r.path() == "/api/now/attachment")
        .map(|r| r.query_param("sysparm_offset").unwrap())
        .collect();
    assert_eq!(pages, ["0", "3", "6"]);
    assert!(
        (requests.iter())
            .filter(|r| r.path() == "/api/now/attachment")
            .all(|r| r
                .query_param("sysparm_query")
                .unwrap()
                .ends_with("ORDERBYsys_created_on^ORDERBYsys_id"))
    );

    let first = stored
        .iter()
        .find(|f| f.id == mock.attachment_ids()[0])
        .unwrap();
    let content = mock.attachment_content(&first.id).unwrap();
    assert_eq!(first.name, "evidence-0.txt");
    assert_eq!(first.size, Some(content.len() as u64));
    assert_eq!(first.mime_type.as_deref(), Some("text/plain"));
    assert_eq!(first.owner.as_deref(), Some("user1"));
    assert!(
        first
            .path
            .as_deref()
            .is_some_and(|p| p.starts_with("incident/")),
        "{:?}",
        first.path
    );
    let hash = first.content_hash.as_ref().unwrap();
    assert_eq!(
        (hash.algorithm.as_str(), hash.value.as_str()),
        ("sha256", sha256(&content).as_str())
    );
    assert!(stored.iter().all(|f| !f.public && !f.shared_externally));

    // The host reads content in chunks; ServiceNow answers each with the whole file,
    // which the connector cuts to the chunk.
    let plugin = h.plugin("servicenow");
    let session = InstanceSession::open(&plugin, &h.store, &inst).unwrap();
    mock.clear_requests();
    let chunk = (plugin.read_file(session.context(), &big, 0, u32::MAX))
        .await
        .unwrap();
    assert_eq!(chunk.data.len(), MAX_FILE_CHUNK as usize);
    assert_eq!(chunk.data, big_content[..MAX_FILE_CHUNK as usize]);
    assert!(!chunk.eof);
    assert_eq!(chunk.size, Some(big_content.len() as u64));
    let rest = (plugin.read_file(session.context(), &big, u64::from(MAX_FILE_CHUNK), 4096))
        .await
        .unwrap();
    assert_eq!(rest.data, big_content[MAX_FILE_CHUNK as usize..]);
    assert!(rest.eof);
    let downloads: Vec<_> = mock
        .requests()
        .into_iter()
        .map(|r| r.path().to_owned())
        .collect();
    assert_eq!(
        downloads,
        [
            format!("/api/now/attachment/{big}/file"),
            format!("/api/now/attachment/{big}/file")
        ]
    );
    let small = (plugin.read_file(session.context(), &first.id, 0, u32::MAX))
        .await
        .unwrap();
    assert_eq!((small.data, small.eof), (content, true));

    // An attachment deleted in ServiceNow (deletion is permanent) is gone from the
    // next scan, and reading it is not-found.
    let response = reqwest::Client::new()
        .delete(format!("{}/api/now/attachment/{big}", mock.base_url()))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);
    let reports = h.scan(&inst, &[Kind::Files], 3).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    assert_eq!(h.live(&inst, Kind::Files), 7);
    assert!(files(&h, &inst).iter().all(|f| f.id != big));
    let gone = plugin.read_file(session.context(), &big, 0, 1024).await;
    assert!(matches!(gone, Err(ConnectorError::NotFound(_))), "{gone:?}");
}

/// A business rule on sys_attachment posting to `/hooks/{instance}?kind=files` with
/// the hook secret: the daemon scans files at once, and the new attachment is listed
/// long before the twelve-hourly files schedule would have found it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_business_rule_s_hook_call_scans_files_at_once() {
    use sluice_tests::daemon::TestDaemon;

    let mock = ServiceNowMock::start(config()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = TestDaemon::start(dir.path()).await;
    let connected = d
        .connect(
            "servicenow",
            "acme",
            serde_json::json!({ "instance": "acme", "base_url": mock.base_url(), "username": USER }),
            serde_json::json!({ "password": PASSWORD }),
        )
        .await;
    d.wait_scanned("acme").await;
    assert_eq!(
        d.all_ids("acme", "files", 100).await.len(),
        mock.expected().files
    );
    let secret = d.hook_secret(&connected);

    let added = mock.add_attachment("incident", "customer-list.csv", b"name,card\n");
    // What the business rule sends: `Authorization: Bearer <hook secret>`.
    let hook = |bearer: String| {
        d.client()
            .post(d.url("/hooks/acme?kind=files"))
            .header("authorization", format!("Bearer {bearer}"))
            .header("content-type", "application/json")
            .body(format!(r#"{{"table":"incident","sys_id":"{added}"}}"#))
    };
    let wrong = d.raw(hook("not-the-secret".into())).await;
    assert_eq!(wrong.status().as_u16(), 401);
    let ok = d.raw(hook(secret.expose().to_owned())).await;
    assert_eq!(ok.status().as_u16(), 202);
    let triggered: serde_json::Value = serde_json::from_slice(&ok.bytes().await.unwrap()).unwrap();
    assert_eq!(triggered["triggered"], serde_json::json!(["files"]));
    let ids = d.wait_for_record("acme", "files", &added).await;
    assert_eq!(ids.len(), mock.expected().files);
    // A changes scan: only what changed since the first listing was asked for, and
    // the files it did not list are still there.
    let listings: Vec<String> = (mock.requests().into_iter())
        .filter(|r| r.path_and_query.starts_with("/api/now/attachment?"))
        .map(|r| r.path_and_query)
        .collect();
    assert!(
        listings
            .last()
            .is_some_and(|l| l.contains("sys_updated_on")),
        "{listings:?}"
    );
    assert!(
        !listings[0].contains("sys_updated_on"),
        "the first scan lists all"
    );
    d.daemon.shutdown().await.unwrap();
}
