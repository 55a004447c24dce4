//! The Atlassian connector end to end: mock Atlassian organization on loopback → wasm
//! component → sled.

use std::collections::HashSet;

use sluice::control::ConnectError;
use sluice::model::{
    ActionKind, ActivityKind, Capability, ConnectorError, Kind, Outcome, Record, UserStatus,
};
use sluice::store::{Instance, InstanceStatus};
use sluice_mocks::{AtlassianMock, AtlassianMockConfig, Faults};
use sluice_tests::{
    Harness, action, assert_waited_out_the_first_429, shared_fixtures, test_plugin,
};

const KEY: &str = "atl_test_org_api_key";

fn config() -> AtlassianMockConfig {
    AtlassianMockConfig {
        api_key: KEY.into(),
        users: 23,
        org_admins: 2,
        unmanaged_users: 3,
        suspended_users: 2,
        groups: 3,
        members_per_group: 4,
        events: 31,
        ..Default::default()
    }
}

async fn connect_key(
    h: &Harness,
    mock: &AtlassianMock,
    key: &str,
) -> Result<(Instance, sluice::model::Permissions), ConnectError> {
    let (org, base) = (mock.config().org_id.clone(), mock.base_url());
    h.connect_to(
        "atlassian",
        "acme",
        &[("org_id", org.as_str()), ("base_url", base.as_str())],
        &[("api_key", key)],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_scan_collects_every_kind_with_exact_counts_across_cursor_pages() {
    let mock = AtlassianMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let (inst, perms) = connect_key(&h, &mock, KEY).await.unwrap();
    assert_eq!(perms.principal.as_deref(), Some("Acme"));
    assert_eq!(
        perms.granted,
        [
            "API key for organization Acme",
            "Users API",
            "Groups API",
            "Events API (events-stream)"
        ]
    );
    assert!(perms.missing.is_empty(), "{:?}", perms.missing);
    let seen = mock.credentials_seen();
    assert!(
        !seen.is_empty() && seen.iter().all(|c| c == "bearer"),
        "{seen:?}"
    );

    mock.clear_requests();
    let reports = h.scan(&inst, &[], 5).await;
    for r in &reports {
        assert!(r.error.is_none(), "{:?} failed: {:?}", r.kind, r.error);
    }
    let exp = mock.expected();
    assert_eq!((exp.users, exp.groups, exp.activities), (23, 3, 31));
    assert_eq!(h.live(&inst, Kind::Users), exp.users);
    assert_eq!(h.live(&inst, Kind::Groups), exp.groups);
    assert_eq!(h.live(&inst, Kind::Activities), exp.activities);

    let users = h.users(&inst);
    let count = |f: &dyn Fn(&sluice::model::User) -> bool| users.iter().filter(|u| f(u)).count();
    assert_eq!(count(&|u| u.is_admin), exp.admins);
    assert_eq!(exp.admins, 2);
    assert_eq!(
        count(&|u| u.roles.iter().any(|r| r == "atlassian/org-admin")),
        2
    );
    assert_eq!(count(&|u| u.is_external), exp.external);
    assert_eq!(count(&|u| u.status == UserStatus::Suspended), exp.suspended);
    assert_eq!(exp.suspended, 2);
    assert!(
        users
            .iter()
            .all(|u| u.created.is_some() && u.email.is_some())
    );

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
    let failed = acts
        .iter()
        .find(|a| a.action == "user_login_failed")
        .unwrap();
    assert_eq!(
        (failed.kind, failed.outcome),
        (ActivityKind::Logon, Outcome::Failure)
    );
    assert_eq!(failed.ip.as_deref(), Some("203.0.113.9"));

    // Cursor paging: `limit` on every page, `cursor` from `links.next` after the first,
    // and no request past the last page.
    let requests = mock.requests();
    let org = &mock.config().org_id;
    let users_path = format!("/admin/v2/orgs/{org}/directories/-/users");
    let listed: Vec<_> = (requests.iter())
        .filter(|r| r.path() == users_path && r.query_param("groupIds").is_none())
        .collect();
    assert_eq!(listed.len(), exp.users.div_ceil(5));
    assert!(
        listed
            .iter()
            .all(|r| r.query_param("limit").as_deref() == Some("5"))
    );
    assert!(
        listed
            .iter()
            .skip(1)
            .all(|r| r.query_param("cursor").is_some())
    );
    // One member listing per group (four members fit a page of 100).
    let member_lists = (requests.iter())
        .filter(|r| r.path() == users_path && r.query_param("groupIds").is_some())
        .count();
    assert_eq!(member_lists, exp.groups);
    let events_path = format!("/admin/v1/orgs/{org}/events-stream");
    let streamed = requests.iter().filter(|r| r.path() == events_path).count();
    // 31 events in pages of 5: six full pages and a last one of one.
    assert_eq!(streamed, exp.activities.div_ceil(5));
    let status = h.store.instance("acme").unwrap().status;
    assert!(
        matches!(status, InstanceStatus::Connected { .. }),
        "{status:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activity_rescans_read_only_new_events_and_store_each_once() {
    let mock = AtlassianMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect_key(&h, &mock, KEY).await.unwrap();
    let reports = h.scan(&inst, &[Kind::Activities], 10).await;
    assert_eq!(reports[0].records, 31);
    let newest = h.activities(&inst).iter().map(|a| a.time).max().unwrap();

    mock.add_events(4);
    mock.clear_requests();
    let reports = h.scan(&inst, &[Kind::Activities], 10).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    assert_eq!(reports[0].records, 4, "only the new events are stored");
    assert_eq!(h.live(&inst, Kind::Activities), 35);
    let requests = mock.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    // The search starts at the newest event seen (inclusive: it comes again and is
    // dropped), oldest first.
    let search = &requests[0];
    assert_eq!(search.query_param("from"), Some(newest.to_string()));
    assert_eq!(search.query_param("sortOrder").as_deref(), Some("asc"));
    assert_eq!(search.query_param("cursor"), None);

    // Caught up: nothing new, nothing stored twice.
    let reports = h.scan(&inst, &[Kind::Activities], 10).await;
    assert_eq!(reports[0].records, 0);
    mock.add_events(2);
    let reports = h.scan(&inst, &[Kind::Activities], 10).await;
    assert_eq!(reports[0].records, 2);
    assert_eq!(h.live(&inst, Kind::Activities), mock.expected().activities);
    let ids: HashSet<String> = h.activities(&inst).into_iter().map(|a| a.id).collect();
    assert_eq!(ids.len(), 37);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_s_retry_after_is_honoured_and_records_are_stored_once() {
    let mock = AtlassianMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect_key(&h, &mock, KEY).await.unwrap();
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
    let throttled: Vec<_> = requests.iter().filter(|r| r.status == 429).collect();
    assert_eq!(throttled.len(), 2);
    // The retry waited out Atlassian's `Retry-After: 1` instead of hammering.
    assert_waited_out_the_first_429(&requests);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_are_unauthorized_and_no_secret_leaks() {
    let mock = AtlassianMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let err = connect_key(&h, &mock, "atl_wrong").await.unwrap_err();
    assert!(
        matches!(err, ConnectError::Check(ConnectorError::Unauthorized(_))),
        "{err}"
    );
    assert!(h.store.instances().unwrap().is_empty());
    let seen = mock.credentials_seen();
    assert!(
        !seen.is_empty() && seen.iter().all(|c| c == "refused"),
        "{seen:?}"
    );

    let (inst, _) = connect_key(&h, &mock, KEY).await.unwrap();
    mock.set_api_key("atl_rotated");
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
            assert!(reason.contains("Unauthorized"), "{reason}");
            assert!(!reason.contains(KEY) && !reason.contains("atl_rotated"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspend_and_restore_access_show_in_the_next_scans() {
    let mock = AtlassianMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect_key(&h, &mock, KEY).await.unwrap();
    let target = mock.active_user_ids().pop().unwrap();
    assert_eq!(
        h.scanned_status(&inst, &target, 50).await,
        Some(UserStatus::Active)
    );
    h.scan(&inst, &[Kind::Activities], 100).await;
    let org = &mock.config().org_id;
    let user_url = format!(
        "{}/admin/v1/orgs/{org}/directory/users/{target}",
        mock.base_url()
    );

    // A dry run sends no write.
    mock.clear_requests();
    let planned = h
        .act(&inst, action(ActionKind::SuspendUser, &target, true))
        .await
        .unwrap();
    assert_eq!(planned.status, "planned");
    assert_eq!(
        planned.requests,
        [format!("POST {user_url}/suspend-access")]
    );
    assert!(mock.requests().iter().all(|r| !r.is_write()));
    assert_eq!(mock.is_suspended(&target), Some(false));

    let done = h
        .act(&inst, action(ActionKind::SuspendUser, &target, false))
        .await
        .unwrap();
    assert_eq!(done.status, "done", "{done:?}");
    assert_eq!(done.requests, [format!("POST {user_url}/suspend-access")]);
    assert_eq!(mock.is_suspended(&target), Some(true));
    assert_eq!(
        h.scanned_status(&inst, &target, 50).await,
        Some(UserStatus::Suspended)
    );
    // Atlassian logs the suspension; the next incremental scan shows it.
    let reports = h.scan(&inst, &[Kind::Activities], 100).await;
    assert_eq!(reports[0].records, 1);
    let logged = h
        .activities(&inst)
        .into_iter()
        .find(|a| a.action == "user_access_suspended")
        .expect("the suspension in the audit log");
    assert_eq!(logged.kind, ActivityKind::Admin);
    assert_eq!(logged.targets, std::slice::from_ref(&target));

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
    assert_eq!(done.requests, [format!("POST {user_url}/restore-access")]);
    assert_eq!(
        h.scanned_status(&inst, &target, 50).await,
        Some(UserStatus::Active)
    );

    let missing = h
        .act(
            &inst,
            action(ActionKind::SuspendUser, "5b10a2844c2016ffffffffff", false),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(missing, ConnectorError::NotFound(_)),
        "{missing:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_what_is_missing_per_capability_in_atlassian_s_words() {
    // A scoped key that reaches the directory but not the audit log.
    let mock = AtlassianMock::start(AtlassianMockConfig {
        events_readable: false,
        ..config()
    })
    .await
    .unwrap();
    let h = Harness::new().await;
    let (inst, perms) = connect_key(&h, &mock, KEY).await.unwrap();
    let missing: Vec<Capability> = perms.missing.iter().map(|(c, _)| *c).collect();
    assert_eq!(
        missing,
        [
            Capability::LogonActivity,
            Capability::UserActivity,
            Capability::AdminActivity
        ]
    );
    for (_, why) in &perms.missing {
        assert!(
            why.contains("User has no permission to access resource.")
                && why.contains("without scopes")
                && why.contains("/events-stream"),
            "{why}"
        );
    }
    assert_eq!(perms.granted.len(), 3, "{:?}", perms.granted);
    let reports = h.scan(&inst, &[Kind::Activities], 10).await;
    assert!(
        matches!(reports[0].error, Some(ConnectorError::Forbidden(_))),
        "{reports:?}"
    );

    // A key that reaches the audit log only.
    let mock = AtlassianMock::start(AtlassianMockConfig {
        directory_readable: false,
        ..config()
    })
    .await
    .unwrap();
    let h = Harness::new().await;
    let (_, perms) = connect_key(&h, &mock, KEY).await.unwrap();
    let missing: Vec<Capability> = perms.missing.iter().map(|(c, _)| *c).collect();
    assert_eq!(
        missing,
        [
            Capability::Accounts,
            Capability::Privileges,
            Capability::Groups
        ]
    );
    assert!(
        perms.missing[2].1.contains("Groups API"),
        "{:?}",
        perms.missing
    );

    // An organization the key does not reach.
    let (base, h) = (mock.base_url(), Harness::new().await);
    let err = h
        .connect_to(
            "atlassian",
            "other",
            &[("org_id", "not-my-org"), ("base_url", base.as_str())],
            &[("api_key", KEY)],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectError::Check(ConnectorError::NotFound(_))),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_atlassian_fixtures_parse_into_records() {
    let Some(fixtures) = shared_fixtures() else {
        eprintln!("../shared/fixtures not present; skipping the published-payload check");
        return;
    };
    let dir = fixtures.join("atlassian");
    let mock = AtlassianMock::start(AtlassianMockConfig {
        fixtures_dir: Some(dir),
        ..config()
    })
    .await
    .unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect_key(&h, &mock, KEY).await.unwrap();
    let reports = h
        .scan(&inst, &[Kind::Users, Kind::Groups, Kind::Activities], 10)
        .await;
    for r in &reports {
        assert!(r.error.is_none(), "{:?}: {:?}", r.kind, r.error);
    }
    let exp = mock.expected();
    assert_eq!((exp.users, exp.groups, exp.activities), (2, 2, 1));
    // The v1 list's placeholder user and the search example's user.
    let ids: HashSet<String> = h.users(&inst).into_iter().map(|u| u.id).collect();
    assert_eq!(
        ids,
        HashSet::from([
            "<string>".to_owned(),
            "123e4567-e89b-12d3-a456-426614174000".to_owned()
        ])
    );
    assert!(
        h.users(&inst)
            .iter()
            .all(|u| u.status == UserStatus::Active)
    );
    // The Jira group example (`name`, `groupId`).
    let groups: HashSet<(String, String)> = (h.records(&inst, Kind::Groups, false).into_iter())
        .filter_map(|r| match r.record {
            Record::Group(g) => Some((g.id, g.name)),
            _ => None,
        })
        .collect();
    assert!(groups.contains(&(
        "276f955c-63d7-42c8-9520-92d01dca0625".to_owned(),
        "jdog-developers".to_owned()
    )));
    // The `EventPage` shape, with a real time as the newer page revision shows.
    let acts = h.activities(&inst);
    assert_eq!(acts.len(), exp.activities);
    assert_eq!(acts[0].id, "<string>");
    assert_eq!(
        acts[0].raw.value()["attributes"]["actor"]["auth"]["authType"],
        "container-token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_scan_passes_test_connector_without_the_provider() {
    let mock = AtlassianMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect_key(&h, &mock, KEY).await.unwrap();
    sluice_tests::record_then_replay(
        &h,
        &inst,
        &test_plugin("atlassian"),
        sluice_tests::Recording {
            secrets: &[KEY],
            token_path: None,
        },
        || mock.requests(),
        || mock.clear_requests(),
    )
    .await;
}
