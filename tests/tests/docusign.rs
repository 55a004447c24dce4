//! The DocuSign connector end to end: mock DocuSign (JWT grant, Monitor, Admin and
//! eSignature APIs) on loopback → wasm component → sled.

use std::time::Duration;

use sluice::control::ConnectError;
use sluice::model::{ActivityKind, ConnectorError, Kind, Record, UserStatus};
use sluice::store::InstanceStatus;
use sluice_mocks::oauth::{OTHER_RSA_PRIVATE_KEY_PKCS8_PEM, TEST_RSA_PRIVATE_KEY_PKCS8_PEM};
use sluice_mocks::{
    DOCUSIGN_ACCOUNT_ID, DOCUSIGN_ORG_ID, DocusignMock, DocusignMockConfig, Faults,
};
use sluice_tests::{Harness, shared_fixtures};

/// Connects the mock's organization with `private_key` signing the JWT grant.
async fn connect(
    h: &Harness,
    mock: &DocusignMock,
    private_key: &str,
) -> Result<(sluice::store::Instance, sluice::model::Permissions), ConnectError> {
    let base = mock.base_url();
    let admin = mock.admin_url();
    let c = mock.config();
    h.connect_to(
        "docusign",
        "acme",
        &[
            ("user_id", c.user_id.as_str()),
            ("integration_key", c.integration_key.as_str()),
            ("account_base_uri", base.as_str()),
            ("account_id", DOCUSIGN_ACCOUNT_ID),
            ("organization_id", DOCUSIGN_ORG_ID),
            ("auth_url", base.as_str()),
            ("auth_audience", c.audience.as_str()),
            ("monitor_url", base.as_str()),
            ("admin_url", admin.as_str()),
        ],
        &[("private_key", private_key)],
    )
    .await
}

fn requests_to(mock: &DocusignMock, path_end: &str) -> usize {
    mock.requests()
        .iter()
        .filter(|r| r.path().ends_with(path_end))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_scan_collects_active_users_events_and_findings_with_exact_counts() {
    let mock = DocusignMock::start(DocusignMockConfig::default())
        .await
        .unwrap();
    let h = Harness::new().await;
    let (inst, perms) = connect(&h, &mock, TEST_RSA_PRIVATE_KEY_PKCS8_PEM)
        .await
        .unwrap();
    assert_eq!(perms.principal.as_deref(), Some("Acme Corp"));
    for scope in ["signature", "user_read", "impersonation"] {
        assert!(perms.granted.iter().any(|s| s == scope), "{perms:?}");
    }
    // The grant the host made is DocuSign's: iss, sub, aud and the scopes.
    let claims = mock.oauth().assertions();
    let c = mock.config();
    assert_eq!(claims[0]["iss"], c.integration_key.as_str());
    assert_eq!(claims[0]["sub"], c.user_id.as_str());
    assert_eq!(claims[0]["aud"], c.audience.as_str());
    assert!(
        claims[0]["scope"]
            .as_str()
            .unwrap()
            .contains("impersonation")
    );

    // Page size 4: several Admin pages (12 users) and Monitor pages (23 events).
    let reports = h.scan(&inst, &[], 4).await;
    for r in &reports {
        assert!(r.error.is_none(), "{:?} failed: {:?}", r.kind, r.error);
    }
    let exp = mock.expected();
    assert_eq!(exp.users, 9);
    assert_eq!(h.live(&inst, Kind::Users), exp.users);
    assert_eq!(h.live(&inst, Kind::Activities), exp.events);
    assert_eq!(h.live(&inst, Kind::Findings), exp.findings);
    let users = h.records(&inst, Kind::Users, false);
    let admins = users
        .iter()
        .filter(|r| matches!(&r.record, Record::User(u) if u.is_admin))
        .count();
    assert_eq!(admins, exp.admins);
    assert!(
        users
            .iter()
            .all(|r| matches!(&r.record, Record::User(u) if u.status == UserStatus::Active))
    );
    let failing = h
        .records(&inst, Kind::Findings, false)
        .iter()
        .filter(|r| matches!(&r.record, Record::Finding(f) if !f.passed))
        .count();
    assert_eq!(failing, exp.failing_findings);

    // Paging really happened, by `paging.next` and by `endCursor`.
    let total_users = c.active_users + c.closed_users + c.pending_users;
    let scan_requests: Vec<_> = mock.requests();
    let user_pages = scan_requests
        .iter()
        .filter(|r| r.path().ends_with("/users") && r.query_param("take").as_deref() == Some("4"))
        .count();
    // Once for list-users and once more for posture.
    assert_eq!(user_pages, 2 * total_users.div_ceil(4));
    let activity_pages = scan_requests
        .iter()
        .filter(|r| r.path().ends_with("/stream") && r.query_param("limit").as_deref() == Some("4"))
        .count();
    assert!(activity_pages >= exp.events.div_ceil(4), "{activity_pages}");
    // One token for the whole connect + scan: the host caches it.
    assert_eq!(mock.oauth().issued(), 1);
    let kinds: Vec<_> = h
        .records(&inst, Kind::Activities, false)
        .iter()
        .filter_map(|r| match &r.record {
            Record::Activity(a) => Some(a.kind),
            _ => None,
        })
        .collect();
    let count = |kind: ActivityKind| kinds.iter().filter(|k| **k == kind).count();
    assert_eq!(count(ActivityKind::Logon), exp.logon_events);
    assert_eq!(count(ActivityKind::User), exp.user_events);
    assert_eq!(count(ActivityKind::Admin), exp.admin_events);
    assert_eq!(
        exp.logon_events + exp.user_events + exp.admin_events,
        exp.events
    );
    let status = h.store.instance("acme").unwrap().status;
    assert!(
        matches!(status, InstanceStatus::Connected { .. }),
        "{status:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rescans_read_only_new_events_and_closed_users_become_deleted() {
    let mock = DocusignMock::start(DocusignMockConfig::default())
        .await
        .unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect(&h, &mock, TEST_RSA_PRIVATE_KEY_PKCS8_PEM)
        .await
        .unwrap();
    h.scan(&inst, &[Kind::Users, Kind::Activities], 10).await;
    assert_eq!(h.live(&inst, Kind::Activities), 23);
    assert_eq!(h.live(&inst, Kind::Users), 9);

    mock.add_events(5);
    let closed = mock.close_user().unwrap();
    mock.clear_requests();
    let reports = h.scan(&inst, &[Kind::Users, Kind::Activities], 10).await;
    for r in &reports {
        assert!(r.error.is_none(), "{:?}: {:?}", r.kind, r.error);
    }
    let acts = reports.iter().find(|r| r.kind == Kind::Activities).unwrap();
    assert_eq!(acts.records, 5, "the second scan re-read old events");
    assert_eq!(h.live(&inst, Kind::Activities), mock.expected().events);
    // The stream was resumed from the saved endCursor, not from a time.
    let streams: Vec<_> = mock
        .requests()
        .into_iter()
        .filter(|r| r.path().ends_with("/stream"))
        .collect();
    assert_eq!(streams.len(), 1);
    assert_eq!(streams[0].query_param("cursor").as_deref(), Some("mc1.23"));

    assert_eq!(h.live(&inst, Kind::Users), mock.expected().users);
    let deleted: Vec<_> = h
        .records(&inst, Kind::Users, true)
        .into_iter()
        .filter(|r| r.deleted)
        .collect();
    assert_eq!(deleted.len(), 1);
    let Record::User(u) = &deleted[0].record else {
        panic!()
    };
    assert_eq!(u.id, closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_answers_are_waited_out_and_the_scan_completes() {
    let mock = DocusignMock::start(DocusignMockConfig::default())
        .await
        .unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect(&h, &mock, TEST_RSA_PRIVATE_KEY_PKCS8_PEM)
        .await
        .unwrap();
    mock.clear_requests();
    mock.inject_faults(Faults {
        secondary_limit: 2,
        retry_after_secs: 1,
        ..Default::default()
    });
    let started = std::time::Instant::now();
    let reports = h.scan(&inst, &[Kind::Activities], 10).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    assert_eq!(h.live(&inst, Kind::Activities), mock.expected().events);
    let throttled = mock.requests().iter().filter(|r| r.status == 429).count();
    assert_eq!(throttled, 2);
    // Retry-After was honoured, not hammered through.
    assert!(started.elapsed() >= Duration::from_secs(1));
    // Each refused request was retried once, nothing more: 23 events in pages of 10
    // are 3 answered requests, plus the 2 refused ones.
    assert_eq!(requests_to(&mock, "/stream"), 2 + 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_docusign_does_not_know_is_unauthorized_without_leaking_it() {
    let mock = DocusignMock::start(DocusignMockConfig::default())
        .await
        .unwrap();
    let h = Harness::new().await;
    let err = connect(&h, &mock, OTHER_RSA_PRIVATE_KEY_PKCS8_PEM)
        .await
        .unwrap_err();
    let ConnectError::Check(ConnectorError::Unauthorized(message)) = &err else {
        panic!("{err}")
    };
    // The provider's own explanation (RFC 6749 error_description) reaches the operator…
    assert!(message.contains("The assertion is invalid"), "{message}");
    // …and no part of the key does.
    let text = format!("{err} {err:?}");
    for line in OTHER_RSA_PRIVATE_KEY_PKCS8_PEM
        .lines()
        .filter(|l| l.len() > 20)
    {
        assert!(!text.contains(line), "key material in the error");
    }
    assert!(!text.contains("PRIVATE KEY"));
    assert!(h.store.instances().unwrap().is_empty());
    // Nothing but the token endpoint was reached.
    assert!(mock.requests().iter().all(|r| r.path() == "/oauth/token"));
}

/// The mock's users conform to the published Admin API schema, so the connector is
/// tested against DocuSign's shapes: every property of every stored raw user (and of
/// its groups) is in the schema.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mock_bodies_conform_to_the_published_schemas() {
    let Some(fixtures) = shared_fixtures() else {
        eprintln!("../shared/fixtures not present; skipping the schema check");
        return;
    };
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(fixtures.join("docusign").join(name)).unwrap())
            .unwrap()
    };
    let users_schema = read("_SCHEMA-admin-list-users.json");
    let stream_schema = read("_SCHEMA-monitor-stream.json");
    let props = |def: &str| users_schema["definitions"][def]["properties"].clone();
    let user_props = props("OrganizationUserResponse");
    let group_props = props("DSGroupResponse");
    for field in ["users", "paging"] {
        assert!(props("OrganizationUsersResponse").get(field).is_some());
    }
    for field in ["next", "total_set_size", "result_set_size"] {
        assert!(props("PagingResponseProperties").get(field).is_some());
    }
    for field in ["endCursor", "data"] {
        assert!(
            stream_schema["definitions.CursoredResult"]["properties"]
                .get(field)
                .is_some()
        );
    }

    let mock = DocusignMock::start(DocusignMockConfig::default())
        .await
        .unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect(&h, &mock, TEST_RSA_PRIVATE_KEY_PKCS8_PEM)
        .await
        .unwrap();
    h.scan(&inst, &[Kind::Users], 50).await;
    let users = h.records(&inst, Kind::Users, false);
    assert_eq!(users.len(), mock.expected().users);
    for r in &users {
        let Record::User(u) = &r.record else { panic!() };
        for key in u.raw.value().as_object().unwrap().keys() {
            assert!(
                user_props.get(key).is_some(),
                "`{key}` not in OrganizationUserResponse"
            );
        }
        for group in u.raw.value()["ds_groups"].as_array().unwrap() {
            for key in group.as_object().unwrap().keys() {
                assert!(
                    group_props.get(key).is_some(),
                    "`{key}` not in DSGroupResponse"
                );
            }
        }
    }
}
