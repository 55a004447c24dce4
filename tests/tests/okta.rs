//! The Okta connector end to end: mock Okta on loopback → wasm component → sled.

use std::collections::HashSet;

use sluice::model::{ActionKind, ActivityKind, ConnectorError, Kind, Outcome, Record, UserStatus};
use sluice::store::{Instance, InstanceStatus};
use sluice_mocks::{Faults, OktaMock, OktaMockConfig};
use sluice_tests::{Harness, action, assert_waited_out_the_first_429, shared_fixtures};

const TOKEN: &str = "00okta_test_token";

fn config() -> OktaMockConfig {
    OktaMockConfig {
        token: TOKEN.into(),
        active_users: 12,
        suspended_users: 2,
        staged_users: 1,
        deprovisioned_users: 2,
        admins: 3,
        groups: 4,
        members_per_group: 3,
        log_events: 57,
        apps: 3,
        grants_per_app: 2,
        ..Default::default()
    }
}

async fn connect(h: &Harness, mock: &OktaMock) -> Instance {
    let (inst, _) = h
        .connect_to(
            "okta",
            "acme",
            &[("domain", &mock.base_url())],
            &[("api_token", TOKEN)],
        )
        .await
        .expect("connect");
    inst
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_scan_collects_every_kind_with_exact_counts_across_pages() {
    let mock = OktaMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let (inst, perms) = h
        .connect_to(
            "okta",
            "acme",
            &[("domain", &mock.base_url())],
            &[("api_token", TOKEN)],
        )
        .await
        .unwrap();
    assert_eq!(perms.principal.as_deref(), Some("admin-1@acme.example"));
    assert_eq!(perms.granted, ["SUPER_ADMIN"]);
    assert!(perms.missing.is_empty());

    // Page size 5 forces several pages of every listing.
    let reports = h.scan(&inst, &[], 5).await;
    for r in &reports {
        assert!(r.error.is_none(), "{:?} failed: {:?}", r.kind, r.error);
    }
    let exp = mock.expected();
    assert_eq!(exp.users, 17);
    assert_eq!(h.live(&inst, Kind::Users), exp.users);
    assert_eq!(h.live(&inst, Kind::Groups), exp.groups);
    assert_eq!(h.live(&inst, Kind::Activities), exp.activities);
    assert_eq!(h.live(&inst, Kind::AppPermissions), exp.app_permissions);
    assert_eq!(exp.app_permissions, 6);

    let users = h.users(&inst);
    let count = |status| users.iter().filter(|u| u.status == status).count();
    assert_eq!(count(UserStatus::Active), exp.active);
    assert_eq!(count(UserStatus::Suspended), exp.suspended);
    assert_eq!(count(UserStatus::Disabled), exp.disabled);
    assert_eq!(count(UserStatus::Deleted), exp.deleted);
    assert_eq!(exp.deleted, 2, "deprovisioned users are listed too");
    let admins: Vec<_> = users.iter().filter(|u| u.is_admin).collect();
    assert_eq!(admins.len(), exp.admins);
    assert!(admins.iter().all(|u| !u.roles.is_empty()));
    assert!(
        users
            .iter()
            .filter(|u| !u.is_admin)
            .all(|u| u.roles.is_empty())
    );
    let owner = users
        .iter()
        .find(|u| u.login.as_deref() == Some("admin-1@acme.example"))
        .unwrap();
    assert_eq!(owner.roles, ["SUPER_ADMIN"]);
    assert_eq!(
        owner.raw.value()["profile"]["login"],
        "admin-1@acme.example"
    );

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
    assert_eq!(failed.action, "user.session.start");
    assert!(failed.actor.as_deref().unwrap().ends_with("@acme.example"));
    assert!(failed.ip.as_deref().unwrap().starts_with("198.51.100."));
    assert!(failed.user_agent.as_deref().unwrap().contains("SluiceMock"));

    // Paging really happened, following Okta's `after` links.
    let requests = mock.requests();
    let pages = |path: &str| requests.iter().filter(|r| r.path() == path).count();
    // 15 listed users in pages of 5 (+ the deprovisioned phase).
    assert_eq!(pages("/api/v1/users"), 3 + 1);
    assert_eq!(pages("/api/v1/groups"), 1);
    assert_eq!(pages("/api/v1/apps"), 1);
    // 57 events in pages of 5: 12 pages, the last one short. The first scan reads the
    // look-back as four time ranges; the log lies in the newest, so the three older
    // ranges are one empty bounded query each (none for a connector built for an
    // older contract, SLUICE_TEST_CONNECTORS, which reads one feed).
    let older_ranges = if h.plugin("okta").info.activity_partitions {
        3
    } else {
        0
    };
    assert_eq!(
        pages("/api/v1/logs"),
        exp.activities.div_ceil(5) + older_ranges
    );
    let bounded = requests.iter().filter(|r| r.query_param("until").is_some());
    assert_eq!(bounded.count(), older_ranges);
    assert!(
        requests
            .iter()
            .filter(|r| r.path() == "/api/v1/users")
            .skip(1)
            .take(2)
            .all(|r| r.query_param("after").is_some())
    );
    // Roles were asked for the admins only, not for every user.
    let role_lookups = requests
        .iter()
        .filter(|r| r.path().ends_with("/roles"))
        .count();
    assert_eq!(role_lookups, exp.admins + 1, "admins, plus the check's own");

    let status = h.store.instance("acme").unwrap().status;
    assert!(
        matches!(status, InstanceStatus::Connected { .. }),
        "{status:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_activity_scan_fetches_only_new_events() {
    let mock = OktaMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let inst = connect(&h, &mock).await;
    h.scan(&inst, &[Kind::Activities], 20).await;
    assert_eq!(h.live(&inst, Kind::Activities), 57);

    mock.add_log_events(7);
    mock.clear_requests();
    let reports = h.scan(&inst, &[Kind::Activities], 20).await;
    let acts = &reports[0];
    assert!(acts.error.is_none(), "{:?}", acts.error);
    assert_eq!(acts.records, 7, "only the new events are read");
    assert_eq!(h.live(&inst, Kind::Activities), mock.expected().activities);
    let requests = mock.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].path(), "/api/v1/logs");
    assert!(
        requests[0].query_param("after").is_some(),
        "resumes from Okta's next link"
    );

    // Caught up: a third scan reads nothing and keeps its place.
    mock.clear_requests();
    let reports = h.scan(&inst, &[Kind::Activities], 20).await;
    assert_eq!(reports[0].records, 0);
    mock.add_log_events(2);
    let reports = h.scan(&inst, &[Kind::Activities], 20).await;
    assert_eq!(reports[0].records, 2);
    assert_eq!(h.live(&inst, Kind::Activities), 66);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_honoured_and_records_are_stored_once() {
    let mock = OktaMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let inst = connect(&h, &mock).await;
    mock.clear_requests();
    mock.inject_faults(Faults {
        secondary_limit: 2,
        retry_after_secs: 1,
        ..Faults::default()
    });
    let reports = h.scan(&inst, &[Kind::Users], 5).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    let exp = mock.expected();
    assert_eq!(reports[0].records as usize, exp.users);
    assert_eq!(h.live(&inst, Kind::Users), exp.users);
    let requests = mock.requests();
    let throttled: Vec<_> = requests.iter().filter(|r| r.status == 429).collect();
    assert_eq!(throttled.len(), 2);
    // The retry waited for Okta's `X-Rate-Limit-Reset` instead of hammering.
    assert_waited_out_the_first_429(&requests);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_token_is_unauthorized() {
    let mock = OktaMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let err = h
        .connect_to(
            "okta",
            "acme",
            &[("domain", &mock.base_url())],
            &[("api_token", "00wrong")],
        )
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

    let inst = connect(&h, &mock).await;
    mock.set_token("00rotated");
    let reports = h.scan(&inst, &[], 20).await;
    assert!(matches!(
        reports[0].error,
        Some(ConnectorError::Unauthorized(_))
    ));
    for kind in Kind::ALL {
        assert_eq!(h.live(&inst, kind), 0, "{kind} written");
    }
    match h.store.instance("acme").unwrap().status {
        InstanceStatus::Error { code, reason, .. } => {
            assert_eq!(code, "unauthorized");
            assert!(!reason.contains(TOKEN) && !reason.contains("00rotated"));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn actions_change_the_org_and_the_next_scan_shows_it() {
    let mock = OktaMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let inst = connect(&h, &mock).await;
    let target = mock.user_ids_with_status("ACTIVE").pop().unwrap();
    assert_eq!(
        h.scanned_status(&inst, &target, 50).await,
        Some(UserStatus::Active)
    );

    let done = h
        .act(&inst, action(ActionKind::SuspendUser, &target, false))
        .await
        .unwrap();
    assert_eq!(done.status, "done", "{done:?}");
    assert_eq!(
        done.requests,
        [format!(
            "POST {}/api/v1/users/{target}/lifecycle/suspend",
            mock.base_url()
        )]
    );
    assert_eq!(mock.user_status(&target).as_deref(), Some("SUSPENDED"));
    assert_eq!(
        h.scanned_status(&inst, &target, 50).await,
        Some(UserStatus::Suspended)
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
    assert_eq!(mock.user_status(&target).as_deref(), Some("ACTIVE"));
    assert_eq!(
        h.scanned_status(&inst, &target, 50).await,
        Some(UserStatus::Active)
    );
    let again = h
        .act(&inst, action(ActionKind::UnsuspendUser, &target, false))
        .await
        .unwrap();
    assert_eq!(again.status, "already");

    assert_eq!(mock.sessions(&target), Some(1));
    h.scan(&inst, &[Kind::Activities], 100).await;
    let done = h
        .act(&inst, action(ActionKind::RequireSignIn, &target, false))
        .await
        .unwrap();
    assert_eq!(done.status, "done");
    assert_eq!(mock.sessions(&target), Some(0));
    // The System Log records every change; the next incremental scan shows them.
    h.scan(&inst, &[Kind::Activities], 100).await;
    let acts = h.activities(&inst);
    assert_eq!(acts.len(), mock.expected().activities);
    for event in [
        "user.lifecycle.suspend",
        "user.lifecycle.unsuspend",
        "user.session.clear",
    ] {
        let found = acts
            .iter()
            .find(|a| a.action == event)
            .unwrap_or_else(|| panic!("{event} not collected"));
        assert_eq!(found.kind, ActivityKind::Admin);
        assert!(found.targets.iter().any(|t| t.contains("@acme.example")));
    }

    let missing = h
        .act(&inst, action(ActionKind::SuspendUser, "00unobody", false))
        .await
        .unwrap_err();
    assert!(
        matches!(missing, ConnectorError::NotFound(_)),
        "{missing:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_runs_send_no_write_request() {
    let mock = OktaMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let inst = connect(&h, &mock).await;
    let target = mock.user_ids_with_status("ACTIVE").pop().unwrap();
    mock.clear_requests();
    for (kind, line) in [
        (
            ActionKind::SuspendUser,
            format!(
                "POST {}/api/v1/users/{target}/lifecycle/suspend",
                mock.base_url()
            ),
        ),
        (
            ActionKind::UnsuspendUser,
            format!(
                "POST {}/api/v1/users/{target}/lifecycle/unsuspend",
                mock.base_url()
            ),
        ),
        (
            ActionKind::RequireSignIn,
            format!(
                "DELETE {}/api/v1/users/{target}/sessions?oauthTokens=true",
                mock.base_url()
            ),
        ),
    ] {
        let planned = h.act(&inst, action(kind, &target, true)).await.unwrap();
        assert_eq!(planned.status, "planned");
        assert_eq!(planned.requests, [line]);
    }
    assert!(
        mock.requests().iter().all(|r| !r.is_write()),
        "{:?}",
        mock.requests()
    );
    assert_eq!(mock.user_status(&target).as_deref(), Some("ACTIVE"));
    assert_eq!(mock.sessions(&target), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_okta_fixtures_parse_into_records() {
    let Some(fixtures) = shared_fixtures() else {
        eprintln!("../shared/fixtures not present; skipping the published-payload check");
        return;
    };
    let dir = fixtures.join("okta");
    // Every list response among the published examples, by what it lists.
    let mut ids: [HashSet<String>; 3] = Default::default();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let value: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join(&name)).unwrap()).unwrap();
        let Some(items) = value.as_array() else {
            continue;
        };
        let (slot, field) = match name.split("__").next() {
            Some("list-users") => (0, "id"),
            Some("list-groups") => (1, "id"),
            Some("list-logs") => (2, "uuid"),
            _ => continue,
        };
        ids[slot].extend(items.iter().map(|i| i[field].as_str().unwrap().to_owned()));
    }
    assert!(ids.iter().all(|set| !set.is_empty()));

    let mock = OktaMock::start(OktaMockConfig {
        fixtures_dir: Some(dir),
        ..config()
    })
    .await
    .unwrap();
    let h = Harness::new().await;
    let inst = connect(&h, &mock).await;
    let reports = h
        .scan(&inst, &[Kind::Users, Kind::Groups, Kind::Activities], 100)
        .await;
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
                other => panic!("{other:?}"),
            })
            .collect()
    };
    assert_eq!(stored(Kind::Users), ids[0]);
    assert_eq!(stored(Kind::Groups), ids[1]);
    assert_eq!(stored(Kind::Activities), ids[2]);
    assert_eq!(mock.expected().users, ids[0].len());

    let users = h.users(&inst);
    let locked = users
        .iter()
        .find(|u| u.id == "00u3m5wrdPjJYUFb81d6")
        .expect("the LOCKED_OUT example");
    assert_eq!(locked.status, UserStatus::Suspended);
    let login = h
        .activities(&inst)
        .into_iter()
        .find(|a| a.id == "dc9fd3c0-598c-11ef-8478-2b7584bf8d5a")
        .unwrap();
    assert_eq!(login.kind, ActivityKind::Logon);
    assert_eq!(login.actor.as_deref(), Some("john.doe@example.com"));
}
