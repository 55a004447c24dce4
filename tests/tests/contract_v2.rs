//! Contract 0.2.0's host side, end to end, with the test-only Zendesk-shaped
//! `templated` guest (`plugins/testing/templated`) against `ZendeskMock`:
//! - templated config: `base_url` defaults to `http://{host}:{port}` and
//!   `config.get` returns it resolved; the basic user name is `{email}/token`; every
//!   template must resolve at connect, else `invalid-config` and nothing is saved;
//! - two auth options, the first the default, the chosen one stored on the instance;
//! - the first activity scan's look-back, set per instance up to the connector's
//!   maximum;
//! - writes during scans: only declared ones are sent;
//! - `read-file` in bounded chunks, only for connectors declaring `file-content`.

use std::time::Duration;

use sluice::control::{ConnectError, ConnectRequest, connect};
use sluice::model::grants::GrantRequest;
use sluice::model::{ConnectorError, Kind, Record};
use sluice::runtime::{CallContext, MAX_FILE_CHUNK};
use sluice::session::InstanceSession;
use sluice::store::{AuditFilter, Instance, Secret};
use sluice_mocks::{ZendeskMock, ZendeskMockConfig};
use sluice_tests::{Harness, load_test_plugin};

/// A harness with the `templated` guest loaded, and a Zendesk mock with `users` users.
async fn setup(users: usize) -> (Harness, ZendeskMock) {
    let mut h = Harness::new().await;
    load_test_plugin(&mut h.registry, &h.runtime, "templated.wasm").await;
    let mock = ZendeskMock::start(ZendeskMockConfig {
        users,
        ..Default::default()
    })
    .await
    .unwrap();
    (h, mock)
}

/// A connect request for the `templated` connector: `config` and `secrets` as given,
/// everything it asks for granted, loopback allowed.
fn request(
    name: &str,
    auth: Option<&str>,
    config: &[(&str, &str)],
    secrets: &[(&str, &str)],
) -> ConnectRequest {
    ConnectRequest {
        connector: "templated".into(),
        name: name.into(),
        config: (config.iter())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        secrets: (secrets.iter())
            .map(|(k, v)| (k.to_string(), Secret::new(*v)))
            .collect(),
        allow_private_network: true,
        auth: auth.map(str::to_owned),
        grants: GrantRequest::all(),
        ..Default::default()
    }
}

/// The mock's host and port, and the email its API token belongs to.
fn api_token_config(mock: &ZendeskMock) -> Vec<(&'static str, String)> {
    vec![
        ("host", mock.host()),
        ("port", mock.port().to_string()),
        ("email", mock.config().email.clone()),
    ]
}

fn pairs<'a>(config: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    config.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Connect with the API token (the default auth option).
async fn connect_api_token(
    h: &Harness,
    mock: &ZendeskMock,
    name: &str,
    extra: &[(&'static str, String)],
    look_back_days: Option<u32>,
) -> Result<Instance, ConnectError> {
    let mut config = api_token_config(mock);
    config.extend_from_slice(extra);
    let req = ConnectRequest {
        look_back_days,
        ..request(
            name,
            None,
            &pairs(&config),
            &[("api_token", &mock.config().api_token)],
        )
    };
    connect(&h.store, &h.registry, req).await.map(|(i, _)| i)
}

fn user_ids(h: &Harness, inst: &Instance) -> Vec<String> {
    let mut ids: Vec<String> = (h.records(inst, Kind::Users, false).into_iter())
        .filter_map(|r| match r.record {
            Record::User(u) => Some(u.id),
            _ => None,
        })
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_token_and_oauth_instances_connect_and_scan_users_across_pages() {
    let (h, mock) = setup(7).await;
    let expected: Vec<String> = (0..7).map(|i| (20_000_000 + i).to_string()).collect();

    // The default option: basic auth, user name from `{email}/token`.
    let config = api_token_config(&mock);
    let (inst, permissions) = connect(
        &h.store,
        &h.registry,
        request(
            "zd-token",
            None,
            &pairs(&config),
            &[("api_token", &mock.config().api_token)],
        ),
    )
    .await
    .unwrap();
    // `config.get("base_url")` answered the default resolved over host and port.
    assert_eq!(permissions.principal, Some(mock.base_url()));
    assert_eq!(permissions.granted, ["auth:api-token"]);
    let stored = h.store.instance("zd-token").unwrap();
    assert_eq!(stored.config["base_url"], mock.base_url());
    assert_eq!(stored.config["port"], mock.port().to_string());
    assert_eq!(stored.auth, None, "the default option");
    let reports = h.scan(&inst, &[Kind::Users], 3).await;
    assert_eq!(reports[0].error, None, "{reports:?}");
    assert_eq!(reports[0].pages, 3, "7 users, 3 a page: {reports:?}");
    assert_eq!(user_ids(&h, &inst), expected);
    let pages: Vec<Option<String>> = (mock.requests().iter())
        .filter(|r| r.path() == "/api/v2/users.json")
        .map(|r| r.query_param("page"))
        .collect();
    assert_eq!(pages, [None, Some("2".into()), Some("3".into())]);
    let basic = format!("basic {}/token", mock.config().email);
    assert!(
        mock.credentials_seen().iter().all(|c| *c == basic),
        "{:?}",
        mock.credentials_seen()
    );

    // The other option, with only its own secret and without `email`.
    mock.clear_requests();
    let (oauth, permissions) = connect(
        &h.store,
        &h.registry,
        request(
            "zd-oauth",
            Some("oauth"),
            &[("host", &mock.host()), ("port", &mock.port().to_string())],
            &[("oauth_token", &mock.config().oauth_token)],
        ),
    )
    .await
    .unwrap();
    assert_eq!(permissions.granted, ["auth:oauth"]);
    assert_eq!(
        h.store.instance("zd-oauth").unwrap().auth.as_deref(),
        Some("oauth")
    );
    let reports = h.scan(&oauth, &[Kind::Users], 5).await;
    assert_eq!(reports[0].error, None, "{reports:?}");
    assert_eq!(user_ids(&h, &oauth), expected);
    let seen = mock.credentials_seen();
    assert!(
        !seen.is_empty() && seen.iter().all(|c| c == "bearer"),
        "{seen:?}"
    );

    // An operator's own base_url wins over the templated default.
    let (_, permissions) = connect(
        &h.store,
        &h.registry,
        request(
            "zd-explicit",
            Some("oauth"),
            &[("host", "unused.invalid"), ("base_url", &mock.base_url())],
            &[("oauth_token", &mock.config().oauth_token)],
        ),
    )
    .await
    .unwrap();
    assert_eq!(permissions.principal, Some(mock.base_url()));
}

/// Secrets the store holds, read from its database once the harness is gone.
async fn stored_secrets(h: Harness) -> usize {
    let Harness {
        dir,
        store,
        runtime,
        registry,
    } = h;
    drop((store, registry, runtime));
    for _ in 0..100 {
        if let Ok(db) = sled::open(dir.path().join("db")) {
            return db.open_tree("secrets").unwrap().len();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the database is still locked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incomplete_config_or_unknown_auth_option_is_refused_and_nothing_is_saved() {
    let (h, mock) = setup(3).await;
    let token = mock.config().api_token.clone();
    let port = mock.port().to_string();
    let refused = async |req: ConnectRequest| match connect(&h.store, &h.registry, req).await {
        Err(ConnectError::InvalidConfig(m)) => m,
        other => panic!("expected invalid-config, got {other:?}"),
    };

    // No `host`: the templated `base_url` (and so the egress) cannot resolve.
    let m = refused(request(
        "no-host",
        None,
        &[("port", &port), ("email", "admin@example.com")],
        &[("api_token", &token)],
    ))
    .await;
    assert!(m.contains("`host`"), "{m}");

    // The API token without `email`: the basic user name `{email}/token` cannot resolve.
    let m = refused(request(
        "no-email",
        Some("api-token"),
        &[("host", &mock.host()), ("port", &port)],
        &[("api_token", &token)],
    ))
    .await;
    assert!(m.contains("`email`") && m.contains("{email}/token"), "{m}");

    // A placeholder left in what a template resolves to.
    let m = refused(request(
        "placeholder",
        None,
        &[
            ("host", &mock.host()),
            ("base_url", "http://{subdomain}.example.test"),
            ("email", "admin@example.com"),
        ],
        &[("api_token", &token)],
    ))
    .await;
    assert!(m.contains("placeholder"), "{m}");

    // An auth option the connector does not have: the error lists those it has.
    let m = refused(request(
        "saml",
        Some("saml"),
        &[("host", &mock.host()), ("port", &port)],
        &[("api_token", &token)],
    ))
    .await;
    assert!(
        m.contains("`saml`") && m.contains("api-token, oauth"),
        "{m}"
    );

    // OAuth chosen, only the API token given: its own secret is missing.
    let m = refused(request(
        "no-oauth-token",
        Some("oauth"),
        &[("host", &mock.host()), ("port", &port)],
        &[("api_token", &token)],
    ))
    .await;
    assert!(m.contains("oauth_token"), "{m}");

    // Nothing was sent, nothing was saved.
    assert_eq!(mock.requests(), [], "refused before any request");
    assert_eq!(h.store.instances().unwrap(), []);
    assert_eq!(stored_secrets(h).await, 0);
}

/// The start of the audit-log window the guest asked the mock for (its `since`), in ms.
fn audit_log_start(mock: &ZendeskMock) -> i64 {
    let requests = mock.requests();
    let request = (requests.iter())
        .rfind(|r| r.path() == "/api/v2/audit_logs.json")
        .expect("the audit log was read");
    let start = request
        .query_param("filter[created_at][]")
        .unwrap_or_else(|| panic!("no start in {}", request.path_and_query));
    chrono::DateTime::parse_from_rfc3339(&start)
        .unwrap()
        .timestamp_millis()
}

fn assert_days_back(start: i64, days: i64) {
    let want = chrono::Utc::now().timestamp_millis() - days * 86_400_000;
    assert!(
        (start - want).abs() < 10 * 60_000,
        "since is {}, not about {days} days ago",
        chrono::DateTime::from_timestamp_millis(start).unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_activity_scan_looks_back_as_far_as_the_operator_and_provider_allow() {
    let (h, mock) = setup(1).await;

    // No choice: the default 90 days, capped at the 30 the provider keeps.
    let inst = connect_api_token(&h, &mock, "default", &[], None)
        .await
        .unwrap();
    let reports = h.scan(&inst, &[Kind::Activities], 100).await;
    assert_eq!(reports[0].error, None, "{reports:?}");
    assert_eq!(reports[0].records, 3, "{reports:?}");
    assert_days_back(audit_log_start(&mock), 30);

    // The operator's 7 days reach the guest as `since`.
    let inst = connect_api_token(&h, &mock, "week", &[], Some(7))
        .await
        .unwrap();
    assert_eq!(h.store.instance("week").unwrap().look_back_days, Some(7));
    h.scan(&inst, &[Kind::Activities], 100).await;
    assert_days_back(audit_log_start(&mock), 7);

    // More than the provider keeps is refused at connect.
    mock.clear_requests();
    let err = connect_api_token(&h, &mock, "too-far", &[], Some(31))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConnectError::InvalidConfig(m) if m.contains("31") && m.contains("30 days")),
        "{err}"
    );
    assert!(h.store.instance("too-far").is_err());
    assert_eq!(mock.requests(), []);
}

/// The guest's report of its scan write: the display name of user `scan-write`.
fn scan_write_outcome(h: &Harness, inst: &Instance) -> String {
    (h.records(inst, Kind::Users, false).into_iter())
        .find_map(|r| match r.record {
            Record::User(u) if u.id == "scan-write" => u.display_name,
            _ => None,
        })
        .expect("the guest reported its scan write")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_writes_declared_in_describe_are_sent_during_a_scan() {
    let (h, mock) = setup(2).await;
    let writes = |mock: &ZendeskMock| -> Vec<String> {
        (mock.requests().into_iter())
            .filter(|r| r.is_write())
            .map(|r| format!("{} {}", r.method, r.path()))
            .collect()
    };

    // `POST {base_url}/api/v2/declared` is declared: sent.
    let declared = format!("{}/api/v2/declared", mock.base_url());
    let inst = connect_api_token(
        &h,
        &mock,
        "declared",
        &[("scan_write_url", declared.clone())],
        None,
    )
    .await
    .unwrap();
    let reports = h.scan(&inst, &[Kind::Users], 100).await;
    assert_eq!(reports[0].error, None, "{reports:?}");
    assert_eq!(scan_write_outcome(&h, &inst), "sent 201");
    assert_eq!(writes(&mock), ["POST /api/v2/declared"]);
    // …and in the audit log, as a write nobody asked for in the moment.
    let audited = |name: &str| -> Vec<(String, String, String)> {
        let filter = AuditFilter {
            instance: Some(name.into()),
            ..Default::default()
        };
        (h.store.audit(&filter).unwrap().into_iter())
            .map(|e| (e.action.to_string(), e.target, e.outcome))
            .collect()
    };
    assert_eq!(
        audited("declared"),
        [(
            "scan-write".to_string(),
            format!("POST {declared}"),
            "done".to_string()
        )]
    );

    // Another path, or one that merely starts with the declared one, is refused: the
    // guest gets `denied` and the provider sees nothing.
    for (name, path) in [
        ("undeclared", "/api/v2/undeclared"),
        ("lookalike", "/api/v2/declared-too"),
    ] {
        mock.clear_requests();
        let url = format!("{}{path}", mock.base_url());
        let inst = connect_api_token(&h, &mock, name, &[("scan_write_url", url)], None)
            .await
            .unwrap();
        let reports = h.scan(&inst, &[Kind::Users], 100).await;
        assert_eq!(reports[0].error, None, "{reports:?}");
        let outcome = scan_write_outcome(&h, &inst);
        assert!(
            outcome.starts_with("refused: ")
                && outcome.contains("not a scan write the connector declared"),
            "{outcome}"
        );
        assert_eq!(writes(&mock), Vec::<String>::new(), "{path}");
        assert_eq!(user_ids(&h, &inst).len(), 3, "the scan went on");
        assert_eq!(audited(name), [], "nothing was sent, so nothing audited");
    }
}

/// A scan write is granted with its destination, kept in the grants as `METHOD URL`;
/// one the grants lack (a newer version's, or grants saved before scan writes were
/// granted) is refused and waits for approval, and older grants are migrated to the
/// writes of the version they were connected with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_writes_are_granted_and_a_write_the_grants_lack_waits_for_approval() {
    let (h, mock) = setup(2).await;
    let declared = format!("{}/api/v2/declared", mock.base_url());
    let inst = connect_api_token(
        &h,
        &mock,
        "acme",
        &[("scan_write_url", declared.clone())],
        None,
    )
    .await
    .unwrap();
    let spelled = format!("POST {declared}");
    assert_eq!(
        inst.grants.as_ref().unwrap().scan_writes,
        std::slice::from_ref(&spelled)
    );

    // The grants lose the write (as a version declaring it newly would find them).
    let inst = h
        .store
        .update_instance(&inst.id, |i| {
            i.grants.as_mut().unwrap().scan_writes.clear();
        })
        .unwrap();
    let plugin = h.registry.get("templated").unwrap().plugin.clone();
    let missing = sluice::session::unapproved(&plugin.info, &inst)
        .unwrap()
        .expect("the write asks for approval");
    assert_eq!(missing.scan_writes, std::slice::from_ref(&spelled));
    assert!(missing.egress.is_empty() && missing.actions.is_empty());
    // Until approved, the write is refused like an undeclared one.
    let reports = h.scan(&inst, &[Kind::Users], 100).await;
    assert_eq!(reports[0].error, None, "{reports:?}");
    let outcome = scan_write_outcome(&h, &inst);
    assert!(outcome.contains("was granted"), "{outcome}");
    assert!(!mock.requests().iter().any(|r| r.is_write()));

    // Approval grants it.
    let dir = h.dir.path().join("plugins");
    let control = sluice_tests::control(&h.store, &h.runtime, h.registry.clone(), &dir);
    let approved = control.approve("acme").await.unwrap();
    assert_eq!(
        approved.grants.unwrap().scan_writes,
        std::slice::from_ref(&spelled)
    );

    // Grants saved before scan writes were granted (schema 1) are migrated to the
    // connected version's writes when a control opens the store.
    h.store
        .update_instance(&inst.id, |i| {
            let g = i.grants.as_mut().unwrap();
            g.scan_writes.clear();
            g.schema = 1;
        })
        .unwrap();
    drop(control);
    let _control = sluice_tests::control(&h.store, &h.runtime, h.registry.clone(), &dir);
    let migrated = h.store.instance("acme").unwrap().grants.unwrap();
    assert_eq!(migrated.scan_writes, [spelled]);
    assert_eq!(migrated.schema, sluice::model::grants::GRANTS_SCHEMA);
}

/// Byte `i` of the guest's files.
fn content(range: std::ops::Range<u64>) -> Vec<u8> {
    range.map(|i| (i % 251) as u8).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_file_returns_bounded_chunks_and_only_for_file_content_connectors() {
    let (h, mock) = setup(1).await;
    let inst = connect_api_token(&h, &mock, "files", &[], None)
        .await
        .unwrap();
    let plugin = h.plugin("templated");
    let session = InstanceSession::open(&plugin, &h.store, &inst).unwrap();
    let size = 3 * u64::from(MAX_FILE_CHUNK);
    let file = format!("file-{size}");

    let chunk = (plugin.read_file(session.context(), &file, 1000, 4096))
        .await
        .unwrap();
    assert_eq!(chunk.data, content(1000..5096));
    assert!(!chunk.eof);
    assert_eq!(chunk.size, Some(size));

    // Asking for more than a chunk gets a chunk.
    let chunk = (plugin.read_file(session.context(), &file, 7, u32::MAX))
        .await
        .unwrap();
    assert_eq!(chunk.data.len(), MAX_FILE_CHUNK as usize);
    assert_eq!(chunk.data, content(7..7 + u64::from(MAX_FILE_CHUNK)));

    // The end.
    let chunk = (plugin.read_file(session.context(), &file, size - 10, 4096))
        .await
        .unwrap();
    assert_eq!(chunk.data, content(size - 10..size));
    assert!(chunk.eof);

    // GitHub declares no file content: refused before the guest runs.
    let err = (h.github().read_file(CallContext::default(), "x", 0, 10))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Unsupported(m) if m.contains("file-content")),
        "{err:?}"
    );
}
