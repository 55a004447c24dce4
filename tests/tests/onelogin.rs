//! The OneLogin connector end to end: mock OneLogin (API, token endpoint) on loopback
//! → wasm component → sled.

use std::collections::HashSet;

use sluice::control::ConnectError;
use sluice::model::{ActivityKind, Capability, ConnectorError, Kind, Outcome, Record, UserStatus};
use sluice::store::{Instance, InstanceStatus};
use sluice_mocks::{Faults, OneLoginMock, OneLoginMockConfig};
use sluice_tests::{Harness, assert_waited_out_the_first_429, shared_fixtures};

const SECRET: &str = "ol_test_client_secret";
const CLIENT: &str = "ol_test_client_id";

fn config() -> OneLoginMockConfig {
    OneLoginMockConfig {
        client_id: CLIENT.into(),
        client_secret: SECRET.into(),
        users: 23,
        roles: 4,
        suspended_users: 2,
        events: 31,
        ..Default::default()
    }
}

async fn connect(
    h: &Harness,
    mock: &OneLoginMock,
    secret: &str,
) -> Result<(Instance, sluice::model::Permissions), ConnectError> {
    let base = mock.base_url();
    let config = [
        ("subdomain", "acme"),
        ("base_url", base.as_str()),
        ("client_id", CLIENT),
    ];
    h.connect_to("onelogin", "acme", &config, &[("client_secret", secret)])
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_scan_collects_users_roles_and_events_with_exact_counts() {
    let mock = OneLoginMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let (inst, perms) = connect(&h, &mock, SECRET).await.unwrap();
    assert_eq!(
        perms.principal.as_deref(),
        Some(format!("API client {CLIENT}").as_str())
    );
    assert_eq!(
        perms.granted,
        [
            "users (Read users)",
            "roles (Read All)",
            "events (Read All)"
        ]
    );
    assert!(perms.missing.is_empty(), "{:?}", perms.missing);
    // The host fetched the token with the client id and secret as HTTP Basic only.
    let tokens = mock.oauth().requests();
    assert!(!tokens.is_empty());
    assert!(
        tokens
            .iter()
            .all(|t| t.basic && t.status == 200 && t.field("client_secret").is_none()),
        "{tokens:?}"
    );

    mock.clear_requests();
    let reports = h.scan(&inst, &[], 5).await;
    for r in &reports {
        assert!(r.error.is_none(), "{:?} failed: {:?}", r.kind, r.error);
    }
    let exp = mock.expected();
    assert_eq!((exp.users, exp.activities), (23, 31));
    assert_eq!(h.live(&inst, Kind::Users), exp.users);
    assert_eq!(h.live(&inst, Kind::Activities), exp.activities);

    let users = h.users(&inst);
    let count = |f: &dyn Fn(&sluice::model::User) -> bool| users.iter().filter(|u| f(u)).count();
    assert_eq!(count(&|u| u.is_admin), exp.admins);
    assert_eq!(exp.admins, 1);
    assert_eq!(count(&|u| u.status == UserStatus::Suspended), exp.suspended);
    assert_eq!(exp.suspended, 2);
    assert_eq!(
        users.iter().map(|u| u.roles.len()).sum::<usize>(),
        exp.role_assignments
    );
    // Role names come from `GET /api/2/roles`, never `role <id>`.
    assert!(
        users
            .iter()
            .flat_map(|u| &u.roles)
            .all(|r| !r.starts_with("role "))
    );
    let alice = users
        .iter()
        .find(|u| u.login.as_deref() == Some("alice.admin"))
        .unwrap();
    assert_eq!(alice.roles, ["Administrators"]);
    assert!(alice.is_admin);
    assert_eq!(alice.display_name.as_deref(), Some("Alice Admin"));

    let acts = h.activities(&inst);
    let kind = |k| acts.iter().filter(|a| a.kind == k).count();
    assert_eq!(kind(ActivityKind::Logon), exp.logon);
    assert_eq!(kind(ActivityKind::User), exp.user_activity);
    assert_eq!(kind(ActivityKind::Admin), exp.admin_activity);
    assert!(exp.logon > 0 && exp.user_activity > 0 && exp.admin_activity > 0);
    let failed = acts
        .iter()
        .filter(|a| a.outcome == Outcome::Failure)
        .count();
    assert_eq!(failed, exp.failures);
    assert!(failed > 0);
    let login = acts
        .iter()
        .find(|a| a.action == "USER_LOGGED_INTO_ONELOGIN")
        .unwrap();
    assert_eq!(login.kind, ActivityKind::Logon);
    assert_eq!(login.ip.as_deref(), Some("203.0.113.57"));

    // `After-Cursor` paging and `next_link` paging, not one request further.
    let requests = mock.requests();
    let pages = |path: &str| requests.iter().filter(|r| r.path() == path).count();
    assert_eq!(pages("/api/2/users"), exp.users.div_ceil(5));
    assert_eq!(pages("/api/1/events"), exp.activities.div_ceil(5));
    let listed: Vec<_> = requests
        .iter()
        .filter(|r| r.path() == "/api/2/users")
        .collect();
    assert_eq!(listed[0].query_param("limit").as_deref(), Some("5"));
    assert!(
        listed[1..]
            .iter()
            .all(|r| r.query_param("cursor").is_some())
    );
    let status = h.store.instance("acme").unwrap().status;
    assert!(
        matches!(status, InstanceStatus::Connected { .. }),
        "{status:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_rescans_read_only_new_events_and_store_each_once() {
    let mock = OneLoginMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect(&h, &mock, SECRET).await.unwrap();
    let reports = h.scan(&inst, &[Kind::Activities], 10).await;
    assert_eq!(reports[0].records, 31);
    let newest = h.activities(&inst).iter().map(|a| a.time).max().unwrap();

    mock.add_events(4);
    mock.clear_requests();
    let reports = h.scan(&inst, &[Kind::Activities], 10).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    assert_eq!(reports[0].records, 4, "only the new events are stored");
    assert_eq!(h.live(&inst, Kind::Activities), 35);
    let searches: Vec<_> = (mock.requests().into_iter())
        .filter(|r| r.path() == "/api/1/events")
        .collect();
    assert_eq!(searches.len(), 1, "{searches:?}");
    // The search starts at the newest event seen (its second comes again and is
    // dropped), oldest first.
    assert_eq!(searches[0].query_param("since"), Some(rfc3339(newest)));
    assert_eq!(searches[0].query_param("sort").as_deref(), Some("+id"));
    assert!(searches[0].query_param("until").is_some());

    let reports = h.scan(&inst, &[Kind::Activities], 10).await;
    assert_eq!(reports[0].records, 0);
    mock.add_events(2);
    let reports = h.scan(&inst, &[Kind::Activities], 10).await;
    assert_eq!(reports[0].records, 2);
    assert_eq!(h.live(&inst, Kind::Activities), mock.expected().activities);
    let ids: HashSet<String> = h.activities(&inst).into_iter().map(|a| a.id).collect();
    assert_eq!(ids.len(), 37);
}

/// RFC 3339 of `ms`, whole seconds, as the connector sends it.
fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_with_x_ratelimit_reset_is_waited_out_and_records_are_stored_once() {
    let mock = OneLoginMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect(&h, &mock, SECRET).await.unwrap();
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
    // OneLogin's 429 says when to come back only in `X-RateLimit-Reset: 1`.
    assert_waited_out_the_first_429(&requests);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_client_secret_is_unauthorized_without_the_secret() {
    let mock = OneLoginMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let err = connect(&h, &mock, "ol_wrong_secret").await.unwrap_err();
    assert!(
        matches!(err, ConnectError::Check(ConnectorError::Unauthorized(_))),
        "{err}"
    );
    assert!(!err.to_string().contains("ol_wrong_secret"), "{err}");
    assert!(h.store.instances().unwrap().is_empty());
    let tokens = mock.oauth().requests();
    assert!(!tokens.is_empty() && tokens.iter().all(|t| t.status == 401));
    assert!(
        !mock
            .requests()
            .iter()
            .any(|r| r.path().starts_with("/api/")),
        "no API call without a token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_what_a_read_users_pair_misses_in_onelogin_s_words() {
    let mock = OneLoginMock::start(OneLoginMockConfig {
        scope: "Read users".into(),
        ..config()
    })
    .await
    .unwrap();
    let h = Harness::new().await;
    let (inst, perms) = connect(&h, &mock, SECRET).await.unwrap();
    assert_eq!(perms.granted, ["users (Read users)"]);
    let missing: Vec<Capability> = perms.missing.iter().map(|(c, _)| *c).collect();
    assert_eq!(
        missing,
        [
            Capability::Privileges,
            Capability::LogonActivity,
            Capability::UserActivity,
            Capability::AdminActivity
        ]
    );
    for (_, why) in &perms.missing {
        assert!(why.contains("`Read All` or `Manage All`"), "{why}");
        assert!(why.contains("scope does not allow"), "{why}");
    }
    drop(inst);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_onelogin_fixtures_parse_into_records() {
    let Some(fixtures) = shared_fixtures() else {
        eprintln!("../shared/fixtures not present; skipping the published-payload check");
        return;
    };
    let dir = fixtures.join("onelogin");
    let read = |name: &str| -> serde_json::Value {
        let path = dir.join(format!("{name}.rendered-from-sdk-model.json"));
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    };
    let ids = |list: &serde_json::Value| -> HashSet<String> {
        (list.as_array().unwrap().iter())
            .map(|i| i["id"].as_u64().unwrap().to_string())
            .collect()
    };
    let user_ids = ids(&read("users-v2-list"));
    let event_ids = ids(&read("events-v1-list")["data"]);
    assert_eq!((user_ids.len(), event_ids.len()), (2, 2));

    let mock = OneLoginMock::start(OneLoginMockConfig {
        fixtures_dir: Some(dir),
        ..config()
    })
    .await
    .unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect(&h, &mock, SECRET).await.unwrap();
    // Pages of 1: each rendered user and event on its own page.
    let reports = h.scan(&inst, &[Kind::Users, Kind::Activities], 1).await;
    for r in &reports {
        assert!(r.error.is_none(), "{:?}: {:?}", r.kind, r.error);
    }
    let stored = |kind| -> HashSet<String> {
        (h.records(&inst, kind, false).into_iter())
            .map(|r| match r.record {
                Record::User(u) => u.id,
                Record::Activity(a) => a.id,
                other => panic!("{other:?}"),
            })
            .collect()
    };
    assert_eq!(stored(Kind::Users), user_ids);
    assert_eq!(stored(Kind::Activities), event_ids);
    let exp = mock.expected();
    let users = h.users(&inst);
    assert_eq!(users.iter().filter(|u| u.is_admin).count(), exp.admins);
    let alice = users.iter().find(|u| u.id == "201234567").unwrap();
    assert_eq!(alice.roles, ["Administrators", "Engineering"]);
    let bob = users.iter().find(|u| u.id == "201234568").unwrap();
    assert_eq!(bob.status, UserStatus::Suspended);
    // The mock's types name 6 a failed authentication and 14 a user update.
    let acts = h.activities(&inst);
    let failed = acts.iter().find(|a| a.id == "987654321").unwrap();
    assert_eq!(
        (failed.kind, failed.outcome),
        (ActivityKind::Logon, Outcome::Failure)
    );
    let update = acts.iter().find(|a| a.id == "987654322").unwrap();
    assert_eq!(update.kind, ActivityKind::Admin);
}

/// `sluice scan --record` against the mock, then `sluice test-connector` on what it
/// wrote, with the mock no longer asked: the recording replays to a passing report,
/// and holds neither the client secret nor an access token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_scan_passes_test_connector_without_the_provider() {
    let mock = OneLoginMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect(&h, &mock, SECRET).await.unwrap();
    sluice_tests::record_then_replay(
        &h,
        &inst,
        &sluice_tests::test_plugin("onelogin"),
        sluice_tests::Recording {
            secrets: &[SECRET],
            token_path: Some("/auth/oauth2/v2/token"),
        },
        || mock.requests(),
        || mock.clear_requests(),
    )
    .await;
}
