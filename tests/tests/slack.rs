//! The Slack connector end to end: mock Slack (Web API, Audit Logs API and SCIM on
//! one loopback port) → wasm component → sled.

use std::collections::HashSet;

use sluice::model::{
    ActionKind, ActivityKind, Capability, ConnectorError, Kind, Outcome, Record, UserStatus,
};
use sluice::store::{Instance, InstanceStatus};
use sluice_mocks::{Faults, SLACK_SCOPES, SlackMock, SlackMockConfig, SlackRole};
use sluice_tests::{
    Harness, action, assert_waited_out_the_first_429, shared_fixtures, test_plugin,
};

const TOKEN: &str = "xoxp-1111-2222-test";

fn config() -> SlackMockConfig {
    SlackMockConfig {
        token: TOKEN.into(),
        ..Default::default()
    }
}

async fn connect_with(
    h: &Harness,
    mock: &SlackMock,
    token: &str,
) -> Result<(Instance, sluice::model::Permissions), sluice::control::ConnectError> {
    h.connect_to(
        "slack",
        "acme",
        &[
            ("api_url", &mock.api_url()),
            ("admin_api_url", &mock.base_url()),
        ],
        &[("token", token)],
    )
    .await
}

async fn connect(h: &Harness, mock: &SlackMock) -> Instance {
    connect_with(h, mock, TOKEN).await.expect("connect").0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_scan_collects_every_kind_with_exact_counts_across_pages() {
    let mock = SlackMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let (inst, perms) = connect_with(&h, &mock, TOKEN).await.unwrap();
    assert_eq!(perms.principal.as_deref(), Some("member0 (Acme)"));
    assert_eq!(perms.granted, SLACK_SCOPES);
    assert!(perms.missing.is_empty(), "{:?}", perms.missing);

    // Page size 10 forces several pages of users and audit log entries.
    let reports = h.scan(&inst, &[], 10).await;
    for r in &reports {
        assert!(r.error.is_none(), "{:?} failed: {:?}", r.kind, r.error);
    }
    let exp = mock.expected();
    assert_eq!(exp.users, 23);
    assert_eq!(h.live(&inst, Kind::Users), exp.users);
    assert_eq!(h.live(&inst, Kind::Groups), exp.groups);
    assert_eq!(h.live(&inst, Kind::Activities), exp.activities);
    assert_eq!(h.live(&inst, Kind::AppPermissions), exp.app_permissions);
    assert_eq!(exp.app_permissions, 5);

    let users = h.users(&inst);
    let count = |f: &dyn Fn(&sluice::model::User) -> bool| users.iter().filter(|u| f(u)).count();
    assert_eq!(count(&|u| u.status == UserStatus::Active), exp.active);
    assert_eq!(count(&|u| u.status == UserStatus::Disabled), exp.disabled);
    assert_eq!(exp.disabled, 2, "deactivated members are listed too");
    assert_eq!(count(&|u| u.is_admin), exp.admins);
    assert_eq!(exp.admins, 4, "primary owner, owner and two admins");
    assert_eq!(count(&|u| u.is_external), exp.external);
    let owner = users.iter().find(|u| u.id == "W00000000").unwrap();
    assert_eq!(owner.roles, ["primary_owner", "owner", "admin"]);
    assert_eq!(owner.email.as_deref(), Some("member0@acme.example"));
    assert_eq!(owner.raw.value()["name"], "member0");
    let guests: Vec<_> = users.iter().filter(|u| u.is_external).collect();
    let guest_roles = |role: &str| guests.iter().filter(|u| u.roles == [role]).count();
    assert_eq!(guest_roles("multi_channel_guest"), 2);
    assert_eq!(guest_roles("single_channel_guest"), 1);
    assert!(guests.iter().all(|u| !u.is_admin));

    let memberships: usize = h
        .records(&inst, Kind::Groups, false)
        .iter()
        .map(|r| match &r.record {
            Record::Group(g) => g.members.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(memberships, exp.group_memberships);

    let acts = h.activities(&inst);
    let kind = |k| acts.iter().filter(|a| a.kind == k).count();
    assert_eq!(kind(ActivityKind::Logon), exp.logon);
    assert_eq!(kind(ActivityKind::User), exp.user_activity);
    assert_eq!(kind(ActivityKind::Admin), exp.admin_activity);
    assert!(exp.logon > 0 && exp.user_activity > 0 && exp.admin_activity > 0);
    let failed = acts.iter().find(|a| a.outcome == Outcome::Failure).unwrap();
    assert_eq!(failed.action, "user_login_failed");
    assert_eq!(failed.kind, ActivityKind::Logon);
    assert!(failed.actor.as_deref().unwrap().ends_with("@acme.example"));
    assert!(failed.ip.as_deref().unwrap().starts_with("198.51.100."));
    assert!(failed.user_agent.as_deref().unwrap().contains("SluiceMock"));
    assert!(failed.session_id.is_some());

    // Paging really happened, following Slack's cursors.
    let requests = mock.requests();
    let pages = |path: &str| requests.iter().filter(|r| r.path() == path).count();
    assert_eq!(pages("/api/users.list"), exp.users.div_ceil(10));
    assert!(
        requests
            .iter()
            .filter(|r| r.path() == "/api/users.list")
            .skip(1)
            .all(|r| r.query_param("cursor").is_some())
    );
    assert_eq!(pages("/audit/v1/logs"), exp.activities.div_ceil(10));
    assert_eq!(pages("/api/usergroups.list"), 1);
    assert_eq!(
        pages("/api/usergroups.users.list"),
        0,
        "members come with the list"
    );
    assert_eq!(pages("/api/admin.apps.approved.list"), 1);
    assert_eq!(pages("/api/admin.apps.restricted.list"), 1);

    let status = h.store.instance("acme").unwrap().status;
    assert!(
        matches!(status, InstanceStatus::Connected { .. }),
        "{status:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_activity_scan_fetches_only_new_entries_once() {
    let mock = SlackMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let inst = connect(&h, &mock).await;
    h.scan(&inst, &[Kind::Activities], 100).await;
    assert_eq!(h.live(&inst, Kind::Activities), 40);

    mock.add_audit_events(7);
    mock.clear_requests();
    let reports = h.scan(&inst, &[Kind::Activities], 100).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    assert_eq!(reports[0].records, 7, "only the new entries are read");
    assert_eq!(h.live(&inst, Kind::Activities), mock.expected().activities);
    let requests = mock.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].path(), "/audit/v1/logs");
    assert!(
        requests[0].query_param("oldest").is_some(),
        "searches from the newest entry seen"
    );

    // Caught up: Slack answers the newest second again (`oldest` is inclusive), and
    // none of it is returned twice.
    mock.clear_requests();
    let reports = h.scan(&inst, &[Kind::Activities], 100).await;
    assert_eq!(reports[0].records, 0);
    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    mock.add_audit_events(2);
    let reports = h.scan(&inst, &[Kind::Activities], 100).await;
    assert_eq!(reports[0].records, 2);
    assert_eq!(h.live(&inst, Kind::Activities), 49);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_honoured_and_records_are_stored_once() {
    let mock = SlackMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let inst = connect(&h, &mock).await;
    mock.clear_requests();
    mock.inject_faults(Faults {
        secondary_limit: 2,
        retry_after_secs: 1,
        ..Faults::default()
    });
    let reports = h.scan(&inst, &[Kind::Users], 10).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    let exp = mock.expected();
    assert_eq!(reports[0].records as usize, exp.users);
    assert_eq!(h.live(&inst, Kind::Users), exp.users);
    let requests = mock.requests();
    let throttled: Vec<_> = requests.iter().filter(|r| r.status == 429).collect();
    assert_eq!(throttled.len(), 2);
    // The retry waited for Slack's `Retry-After: 1` instead of hammering.
    assert_waited_out_the_first_429(&requests);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_token_is_unauthorized() {
    let mock = SlackMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let err = connect_with(&h, &mock, "xoxp-wrong").await.unwrap_err();
    assert!(
        matches!(
            err,
            sluice::control::ConnectError::Check(ConnectorError::Unauthorized(_))
        ),
        "{err}"
    );
    assert!(h.store.instances().unwrap().is_empty());

    let inst = connect(&h, &mock).await;
    mock.set_token("xoxp-rotated");
    let reports = h.scan(&inst, &[], 20).await;
    assert!(
        matches!(reports[0].error, Some(ConnectorError::Unauthorized(_))),
        "{:?}",
        reports[0].error
    );
    for kind in Kind::ALL {
        assert_eq!(h.live(&inst, kind), 0, "{kind} written");
    }
    match h.store.instance("acme").unwrap().status {
        InstanceStatus::Error { code, reason, .. } => {
            assert_eq!(code, "unauthorized");
            assert!(!reason.contains(TOKEN) && !reason.contains("xoxp-rotated"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_the_missing_scopes_and_those_scans_are_forbidden() {
    let mock = SlackMock::start(SlackMockConfig {
        scopes: vec!["users:read".into(), "usergroups:read".into()],
        ..config()
    })
    .await
    .unwrap();
    let h = Harness::new().await;
    let (inst, perms) = connect_with(&h, &mock, TOKEN).await.unwrap();
    assert_eq!(perms.granted, ["users:read", "usergroups:read"]);
    let missing: Vec<(Capability, &str)> = perms
        .missing
        .iter()
        .map(|(c, why)| (*c, why.as_str()))
        .collect();
    let capabilities: Vec<Capability> = missing.iter().map(|(c, _)| *c).collect();
    assert_eq!(
        capabilities,
        [
            Capability::Accounts,
            Capability::LogonActivity,
            Capability::UserActivity,
            Capability::AdminActivity,
            Capability::AppPermissions,
        ]
    );
    assert!(missing[0].1.contains("`users:read.email`"), "{missing:?}");
    assert!(
        missing[1..4]
            .iter()
            .all(|(_, why)| why.contains("`auditlogs:read`"))
    );
    assert!(missing[4].1.contains("`admin.apps:read`"));

    // Users still scan (without emails); the audit log is refused with Slack's words.
    let reports = h.scan(&inst, &[Kind::Users, Kind::Activities], 100).await;
    let by_kind = |k| reports.iter().find(|r| r.kind == k).unwrap();
    assert!(by_kind(Kind::Users).error.is_none());
    assert_eq!(h.live(&inst, Kind::Users), mock.expected().users);
    assert!(h.users(&inst).iter().all(|u| u.email.is_none()));
    match &by_kind(Kind::Activities).error {
        Some(ConnectorError::Forbidden(why)) => {
            assert!(why.contains("auditlogs:read"), "{why}")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_change_the_workspace_and_the_next_scan_shows_it() {
    let mock = SlackMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let inst = connect(&h, &mock).await;
    let target = mock.member_ids(SlackRole::Member).pop().unwrap();
    let scim = format!("{}/scim/v1/Users/{target}", mock.base_url());
    assert_eq!(
        h.scanned_status(&inst, &target, 100).await,
        Some(UserStatus::Active)
    );
    h.scan(&inst, &[Kind::Activities], 100).await;

    let done = h
        .act(&inst, action(ActionKind::SuspendUser, &target, false))
        .await
        .unwrap();
    assert_eq!(done.status, "done", "{done:?}");
    assert_eq!(done.requests, [format!("DELETE {scim}")]);
    assert_eq!(mock.is_deactivated(&target), Some(true));
    assert_eq!(
        h.scanned_status(&inst, &target, 100).await,
        Some(UserStatus::Disabled)
    );

    mock.clear_requests();
    let again = h
        .act(&inst, action(ActionKind::SuspendUser, &target, false))
        .await
        .unwrap();
    assert_eq!(again.status, "already");
    assert!(mock.requests().iter().all(|r| !r.is_write()));

    let done = h
        .act(&inst, action(ActionKind::UnsuspendUser, &target, false))
        .await
        .unwrap();
    assert_eq!(done.status, "done");
    assert_eq!(done.requests, [format!("PATCH {scim}")]);
    assert_eq!(mock.is_deactivated(&target), Some(false));
    assert_eq!(
        h.scanned_status(&inst, &target, 100).await,
        Some(UserStatus::Active)
    );

    assert_eq!(mock.sessions(&target), Some(0), "deactivation ended them");
    let other = mock.member_ids(SlackRole::Member)[0].clone();
    assert_eq!(mock.sessions(&other), Some(1));
    let done = h
        .act(&inst, action(ActionKind::RevokeSessions, &other, false))
        .await
        .unwrap();
    assert_eq!(done.status, "done");
    assert_eq!(
        done.requests,
        [format!("POST {}/admin.users.session.reset", mock.api_url())]
    );
    assert_eq!(mock.sessions(&other), Some(0));

    // The Audit Logs API records every change; the next incremental scan shows them.
    h.scan(&inst, &[Kind::Activities], 100).await;
    let acts = h.activities(&inst);
    assert_eq!(acts.len(), mock.expected().activities);
    for (event, who) in [
        ("user_deactivated", &target),
        ("user_reactivated", &target),
        ("user_session_reset_by_admin", &other),
    ] {
        let found = acts
            .iter()
            .find(|a| a.action == event)
            .unwrap_or_else(|| panic!("{event} not collected"));
        assert_eq!(found.kind, ActivityKind::Admin);
        let index: usize = who[1..].parse().unwrap();
        assert_eq!(found.targets, [format!("member{index}@acme.example")]);
    }

    let missing = h
        .act(&inst, action(ActionKind::SuspendUser, "W99999999", false))
        .await
        .unwrap_err();
    assert!(
        matches!(missing, ConnectorError::NotFound(_)),
        "{missing:?}"
    );
    let missing = h
        .act(
            &inst,
            action(ActionKind::RevokeSessions, "W99999999", false),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(missing, ConnectorError::NotFound(_)),
        "{missing:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_runs_send_no_write_request() {
    let mock = SlackMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let inst = connect(&h, &mock).await;
    let target = mock.member_ids(SlackRole::Member).pop().unwrap();
    mock.clear_requests();
    let scim = format!("{}/scim/v1/Users/{target}", mock.base_url());
    for (kind, line) in [
        (ActionKind::SuspendUser, format!("DELETE {scim}")),
        (ActionKind::UnsuspendUser, format!("PATCH {scim}")),
        (
            ActionKind::RevokeSessions,
            format!("POST {}/admin.users.session.reset", mock.api_url()),
        ),
    ] {
        let planned = h.act(&inst, action(kind, &target, true)).await.unwrap();
        assert_eq!(planned.status, "planned");
        assert_eq!(planned.requests, [line]);
    }
    assert!(mock.requests().is_empty(), "{:?}", mock.requests());
    assert_eq!(mock.is_deactivated(&target), Some(false));
    assert_eq!(mock.sessions(&target), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_slack_fixtures_parse_into_records() {
    let Some(fixtures) = shared_fixtures() else {
        eprintln!("../shared/fixtures not present; skipping the published-payload check");
        return;
    };
    let dir = fixtures.join("slack");
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(dir.join(name)).unwrap()).unwrap()
    };
    let ids = |body: serde_json::Value, list: &str| -> HashSet<String> {
        body[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let user_ids = ids(read("users.list.openapi-example.json"), "members");
    let group_ids = ids(read("usergroups.list.openapi-example.json"), "usergroups");
    let entry_ids = ids(read("audit-v1-logs-user_login.sdk-fixture.json"), "entries");
    let group_members: Vec<String> = read("usergroups.users.list.openapi-example.json")["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap().to_owned())
        .collect();
    assert!(
        [&user_ids, &group_ids, &entry_ids]
            .iter()
            .all(|s| !s.is_empty())
    );

    let mock = SlackMock::start(SlackMockConfig {
        fixtures_dir: Some(dir),
        ..config()
    })
    .await
    .unwrap();
    let h = Harness::new().await;
    let inst = connect(&h, &mock).await;
    let reports = h.scan(&inst, &[], 100).await;
    for r in &reports {
        assert!(r.error.is_none(), "{:?}: {:?}", r.kind, r.error);
    }
    let stored = |kind| -> HashSet<String> {
        h.records(&inst, kind, false)
            .into_iter()
            .map(|r| match r.record {
                Record::User(u) => u.id,
                Record::Group(g) => g.id,
                Record::Activity(a) => a.id,
                Record::AppPermission(p) => p.id,
                other => panic!("{other:?}"),
            })
            .collect()
    };
    assert_eq!(stored(Kind::Users), user_ids);
    assert_eq!(stored(Kind::Groups), group_ids);
    assert_eq!(stored(Kind::Activities), entry_ids);
    assert_eq!(
        stored(Kind::AppPermissions),
        HashSet::from(["approved:A0W7UKG8E".to_owned()])
    );

    let egon = h
        .users(&inst)
        .into_iter()
        .find(|u| u.id == "W012A3CDE")
        .unwrap();
    assert!(egon.is_admin);
    assert_eq!(egon.roles, ["admin"]);
    assert_eq!(
        egon.email.as_deref(),
        Some("spengler@ghostbusters.example.com")
    );
    for record in h.records(&inst, Kind::Groups, false) {
        let Record::Group(g) = record.record else {
            unreachable!()
        };
        assert_eq!(g.members, group_members, "{}", g.id);
    }
    let login = h
        .activities(&inst)
        .into_iter()
        .find(|a| a.id == "xxx-yyy-zzz-111")
        .unwrap();
    assert_eq!(login.kind, ActivityKind::Logon);
    assert_eq!(login.actor.as_deref(), Some("foo@example.com"));
    assert_eq!(login.ip.as_deref(), Some("1.2.3.4"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_scan_passes_test_connector_without_the_provider() {
    let mock = SlackMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let inst = connect(&h, &mock).await;
    sluice_tests::record_then_replay(
        &h,
        &inst,
        &test_plugin("slack"),
        sluice_tests::Recording {
            secrets: &[TOKEN],
            token_path: None,
        },
        || mock.requests(),
        || mock.clear_requests(),
    )
    .await;
}
