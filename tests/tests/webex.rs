//! The Webex connector end to end: mock Webex (API and the integration's token
//! endpoint) on loopback → wasm component → sled.

use std::collections::HashSet;

use sluice::control::ConnectError;
use sluice::model::{
    ActionKind, ActivityKind, Capability, ConnectorError, Kind, Record, UserStatus,
};
use sluice::store::{Instance, InstanceStatus};
use sluice_mocks::{Faults, WEBEX_SCOPES, WebexMock, WebexMockConfig};
use sluice_tests::{Harness, action, assert_waited_out_the_first_429, shared_fixtures};

const CLIENT: &str = "webex-client-C0ffee";
const SECRET: &str = "webex-secret-7d1a";
const REFRESH: &str = "webex-refresh-9b2c";

fn config() -> WebexMockConfig {
    WebexMockConfig {
        client_id: CLIENT.into(),
        client_secret: SECRET.into(),
        refresh_token: REFRESH.into(),
        people: 23,
        admins: 2,
        read_only_admins: 3,
        login_disabled: 2,
        invite_pending: 1,
        groups: 3,
        admin_events: 12,
        security_events: 9,
        compliance_events: 14,
        ..Default::default()
    }
}

async fn connect_with(
    h: &Harness,
    mock: &WebexMock,
    extra: &[(&str, &str)],
    secret: &str,
    refresh: &str,
) -> Result<(Instance, sluice::model::Permissions), ConnectError> {
    let base = mock.base_url();
    let mut config = vec![("client_id", CLIENT), ("base_url", base.as_str())];
    config.extend_from_slice(extra);
    h.connect_to(
        "webex",
        "acme",
        &config,
        &[("client_secret", secret), ("refresh_token", refresh)],
    )
    .await
}

async fn connect(h: &Harness, mock: &WebexMock) -> (Instance, sluice::model::Permissions) {
    connect_with(h, mock, &[], SECRET, REFRESH).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_scan_collects_every_kind_with_exact_counts_across_link_pages() {
    let mock = WebexMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let (inst, perms) = connect(&h, &mock).await;
    assert_eq!(perms.principal.as_deref(), Some("person0@example.com"));
    assert_eq!(
        perms.granted,
        [
            "spark-admin:people_read",
            "spark-admin:roles_read",
            "identity:groups_read",
            "audit:events_read",
            "spark-compliance:events_read"
        ]
    );
    assert!(perms.missing.is_empty(), "{:?}", perms.missing);
    // The integration's refresh token, exchanged at /v1/access_token with the client
    // id and secret in the form.
    let token = &mock.oauth().requests()[0];
    assert_eq!(token.field("grant_type"), Some("refresh_token"));
    assert_eq!(token.field("refresh_token"), Some(REFRESH));
    assert_eq!(token.field("client_id"), Some(CLIENT));
    assert_eq!(token.field("client_secret"), Some(SECRET));
    assert!(!token.basic);

    mock.clear_requests();
    let reports = h.scan(&inst, &[], 5).await;
    for r in &reports {
        assert!(r.error.is_none(), "{:?} failed: {:?}", r.kind, r.error);
    }
    let exp = mock.expected();
    assert_eq!(
        (
            exp.users,
            exp.groups,
            exp.admin_activity,
            exp.logon,
            exp.user_activity
        ),
        (23, 3, 12, 9, 14)
    );
    assert_eq!(h.live(&inst, Kind::Users), exp.users);
    assert_eq!(h.live(&inst, Kind::Groups), exp.groups);
    assert_eq!(
        h.live(&inst, Kind::Activities),
        exp.admin_activity + exp.logon + exp.user_activity
    );
    let users = h.users(&inst);
    let count = |f: &dyn Fn(&sluice::model::User) -> bool| users.iter().filter(|u| f(u)).count();
    assert_eq!(count(&|u| u.is_admin), exp.admins);
    assert_eq!(exp.admins, 5, "two Full and three Read-only Administrators");
    assert_eq!(
        count(&|u| u.roles == ["Read-only Administrator"]),
        exp.read_only_admins
    );
    assert_eq!(count(&|u| u.roles == ["Full Administrator"]), 2);
    assert_eq!(
        count(&|u| u.status == UserStatus::Suspended),
        exp.login_disabled
    );
    assert_eq!(
        count(&|u| u.status == UserStatus::Disabled),
        exp.invite_pending
    );
    assert_eq!((exp.login_disabled, exp.invite_pending), (2, 1));

    let members: usize = (h.records(&inst, Kind::Groups, false).iter())
        .map(|r| match &r.record {
            Record::Group(g) => g.members.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(members, exp.group_members);

    let acts = h.activities(&inst);
    let kind = |k| acts.iter().filter(|a| a.kind == k).count();
    assert_eq!(kind(ActivityKind::Admin), exp.admin_activity);
    assert_eq!(kind(ActivityKind::Logon), exp.logon);
    assert_eq!(kind(ActivityKind::User), exp.user_activity);
    let sign_in = acts.iter().find(|a| a.kind == ActivityKind::Logon).unwrap();
    assert!(sign_in.ip.as_deref().unwrap().starts_with("203.0.113."));
    let message = acts.iter().find(|a| a.kind == ActivityKind::User).unwrap();
    assert_eq!(message.action, "messages.created");

    // Link paging with max=5 on people and every trail; startIndex on groups. The
    // first activity scan runs as time ranges side by side (activity-partitions), so
    // the trails' first pages are one a range; the events are all in the newest
    // range, whose search follows `rel="next"` for the rest.
    let requests = mock.api_requests();
    let pages = |path: &str| requests.iter().filter(|r| r.path() == path).count();
    assert_eq!(pages("/v1/people"), 23_usize.div_ceil(5));
    let trail = |r: &&sluice_mocks::RequestRecord| {
        r.path() != "/v1/events" || r.query_param("resource").is_none()
    };
    let followed = |path: &str| {
        (requests.iter())
            .filter(|r| r.path() == path && trail(r) && r.query_param("cursor").is_some())
            .count()
    };
    assert_eq!(followed("/v1/adminAudit/events"), 12_usize.div_ceil(5) - 1);
    assert_eq!(
        followed("/v1/admin/securityAudit/events"),
        9_usize.div_ceil(5) - 1
    );
    assert_eq!(followed("/v1/events"), 14_usize.div_ceil(5) - 1);
    // Files: the deleted messages (none), then the created ones, none with a file.
    let file_pages = (requests.iter())
        .filter(|r| r.path() == "/v1/events" && r.query_param("resource").is_some())
        .count();
    assert_eq!(file_pages, 1 + 14_usize.div_ceil(5));
    assert_eq!(h.live(&inst, Kind::Files), exp.files);
    assert_eq!(pages("/v1/groups"), 1, "three groups on one page of five");
    assert!(
        (requests.iter())
            .filter(|r| r.path() == "/v1/people")
            .skip(1)
            .all(|r| r.query_param("cursor").is_some())
    );
    let status = h.store.instance("acme").unwrap().status;
    assert!(
        matches!(status, InstanceStatus::Connected { .. }),
        "{status:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activity_rescans_read_only_new_events_and_store_each_once() {
    let mock = WebexMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect(&h, &mock).await;
    let reports = h.scan(&inst, &[Kind::Activities], 10).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    assert_eq!(reports[0].records, 35);

    mock.add_activity(4);
    mock.clear_requests();
    let reports = h.scan(&inst, &[Kind::Activities], 10).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    assert_eq!(reports[0].records, 12, "only the new events are stored");
    assert_eq!(h.live(&inst, Kind::Activities), 47);
    // Each trail is searched again from its newest event's second only (the audit
    // trails' searches first read the organization id from /v1/people/me).
    let mut requests = mock.api_requests();
    let me = requests
        .iter()
        .filter(|r| r.path() == "/v1/people/me")
        .count();
    assert_eq!(me, 2, "{requests:?}");
    requests.retain(|r| r.path() != "/v1/people/me");
    assert_eq!(requests.len(), 3, "{requests:?}");
    for r in &requests {
        let from = r
            .query_param("from")
            .or_else(|| r.query_param("startTime"))
            .unwrap();
        let from = chrono::DateTime::parse_from_rfc3339(&from).unwrap();
        assert!(
            chrono::Utc::now().signed_duration_since(from) < chrono::Duration::hours(2),
            "{r:?}"
        );
    }

    // Caught up: nothing new, nothing stored twice.
    let reports = h.scan(&inst, &[Kind::Activities], 10).await;
    assert_eq!(reports[0].records, 0);
    mock.add_activity(1);
    let reports = h.scan(&inst, &[Kind::Activities], 10).await;
    assert_eq!(reports[0].records, 3);
    let exp = mock.expected();
    assert_eq!(
        h.live(&inst, Kind::Activities),
        exp.admin_activity + exp.logon + exp.user_activity
    );
    let ids: HashSet<String> = h.activities(&inst).into_iter().map(|a| a.id).collect();
    assert_eq!(ids.len(), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_s_retry_after_is_honoured_and_records_are_stored_once() {
    let mock = WebexMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect(&h, &mock).await;
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
async fn a_refused_refresh_token_or_secret_is_unauthorized_at_connect_and_no_secret_leaks() {
    let mock = WebexMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    for (secret, refresh) in [
        (SECRET, "webex-refresh-expired"),
        ("webex-wrong-secret", REFRESH),
    ] {
        let err = connect_with(&h, &mock, &[], secret, refresh)
            .await
            .unwrap_err();
        let ConnectError::Check(ConnectorError::Unauthorized(message)) = &err else {
            panic!("expected unauthorized, got {err}");
        };
        let shown = format!("{message} {err} {err:?}");
        for leaked in [
            SECRET,
            "webex-wrong-secret",
            REFRESH,
            "webex-refresh-expired",
        ] {
            assert!(!shown.contains(leaked), "{shown}");
        }
    }
    let refused: Vec<u16> = mock.oauth().requests().iter().map(|r| r.status).collect();
    assert!(refused.len() >= 2, "{refused:?}");
    assert!(refused.iter().all(|status| *status >= 400), "{refused:?}");
    assert!(h.store.instances().unwrap().is_empty());
    assert_eq!(mock.oauth().issued(), 0);
    assert!(
        mock.api_requests().is_empty(),
        "no API call without a token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_access_token_is_renewed_with_the_refresh_token() {
    let mock = WebexMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect(&h, &mock).await;
    assert_eq!(mock.oauth().issued(), 1);
    // Webex's access tokens end after about 14 days; the API then answers 401.
    mock.oauth().expire_all();
    let reports = h.scan(&inst, &[Kind::Users], 50).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    assert_eq!(h.live(&inst, Kind::Users), 23);
    let grants: Vec<Option<String>> = (mock.oauth().requests().iter())
        .map(|r| r.field("grant_type").map(str::to_owned))
        .collect();
    assert_eq!(
        grants,
        [Some("refresh_token".into()), Some("refresh_token".into())]
    );
    assert_eq!(mock.oauth().issued(), 2);
    assert!(mock.api_requests().iter().any(|r| r.status == 401));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_missing_scopes_in_webex_s_words_and_trails_can_be_left_out() {
    // An integration without the compliance officer's and the groups scopes.
    let scopes: Vec<String> = (WEBEX_SCOPES.iter())
        .filter(|s| !matches!(**s, "spark-compliance:events_read" | "identity:groups_read"))
        .map(|s| s.to_string())
        .collect();
    let mock = WebexMock::start(WebexMockConfig { scopes, ..config() })
        .await
        .unwrap();
    let h = Harness::new().await;
    let (inst, perms) = connect(&h, &mock).await;
    let missing: Vec<Capability> = perms.missing.iter().map(|(c, _)| *c).collect();
    assert_eq!(
        missing,
        [
            Capability::Groups,
            Capability::UserActivity,
            Capability::Files
        ]
    );
    let why = &perms.missing[1].1;
    assert!(why.contains("`spark-compliance:events_read`"), "{why}");
    assert!(why.contains("compliance officer"), "{why}");
    assert!(why.contains("missing required scopes"), "{why}");
    assert!(perms.missing[0].1.contains("`identity:groups_read`"));
    let reports = h.scan(&inst, &[Kind::Activities], 10).await;
    assert!(
        matches!(reports[0].error, Some(ConnectorError::Forbidden(_))),
        "{reports:?}"
    );

    // Without the compliance trail, the audit trails are read.
    let h = Harness::new().await;
    let (inst, _) = connect_with(
        &h,
        &mock,
        &[("trails", "admin-audit,security-audit")],
        SECRET,
        REFRESH,
    )
    .await
    .unwrap();
    let reports = h.scan(&inst, &[Kind::Activities], 10).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    let exp = mock.expected();
    assert_eq!(reports[0].records as usize, exp.admin_activity + exp.logon);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_and_enabling_sign_in_show_in_the_next_scans() {
    let mock = WebexMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect(&h, &mock).await;
    let target = mock.ordinary_people().pop().unwrap();
    assert_eq!(
        h.scanned_status(&inst, &target, 50).await,
        Some(UserStatus::Active)
    );
    h.scan(&inst, &[Kind::Activities], 100).await;
    let person_url = format!("{}/v1/people/{target}", mock.base_url());

    mock.clear_requests();
    let planned = h
        .act(&inst, action(ActionKind::SuspendUser, &target, true))
        .await
        .unwrap();
    assert_eq!(planned.status, "planned");
    assert_eq!(planned.requests, [format!("PUT {person_url}")]);
    assert!(mock.requests().iter().all(|r| !r.is_write()));

    let done = h
        .act(&inst, action(ActionKind::SuspendUser, &target, false))
        .await
        .unwrap();
    assert_eq!(done.status, "done", "{done:?}");
    assert_eq!(mock.login_enabled(&target), Some(false));
    assert_eq!(
        h.scanned_status(&inst, &target, 50).await,
        Some(UserStatus::Suspended)
    );
    // Webex logs it in the admin audit events; the next incremental scan shows it.
    let reports = h.scan(&inst, &[Kind::Activities], 100).await;
    assert_eq!(reports[0].records, 1);
    let logged = h
        .activities(&inst)
        .into_iter()
        .find(|a| a.targets.contains(&target))
        .expect("the change in the admin audit events");
    assert_eq!(
        (logged.kind, logged.action.as_str()),
        (ActivityKind::Admin, "User updated")
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
async fn shared_webex_fixtures_parse_into_records() {
    let Some(fixtures) = shared_fixtures() else {
        eprintln!("../shared/fixtures not present; skipping the published-payload check");
        return;
    };
    let dir = fixtures.join("webex");
    let published: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("people-list.third-party-mirror-of-openapi.json")).unwrap(),
    )
    .unwrap();
    let mock = WebexMock::start(WebexMockConfig {
        fixtures_dir: Some(dir),
        ..config()
    })
    .await
    .unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect(&h, &mock).await;
    let reports = h.scan(&inst, &[Kind::Users, Kind::Groups], 10).await;
    for r in &reports {
        assert!(r.error.is_none(), "{:?}: {:?}", r.kind, r.error);
    }
    let exp = mock.expected();
    let users = h.users(&inst);
    assert_eq!((users.len(), exp.users), (1, 1));
    let john = &users[0];
    assert_eq!(john.email.as_deref(), Some("john.andersen@example.com"));
    assert!(john.is_admin);
    assert_eq!(john.roles.len(), 2, "one string holding two role ids");
    assert_eq!(
        john.roles[0], "Full Administrator",
        "named by GET /v1/roles"
    );
    assert_eq!(john.raw.value(), published["items"][0]);
    assert_eq!(h.live(&inst, Kind::Groups), exp.groups);
    let group = h.records(&inst, Kind::Groups, false);
    let Record::Group(group) = &group[0].record else {
        panic!("{:?}", group[0].record);
    };
    assert_eq!(group.name, "Sales Group");
    assert_eq!(group.members.len(), exp.group_members);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_of_messages_are_listed_read_in_chunks_and_quarantine_deletes_their_message() {
    use sluice::runtime::MAX_FILE_CHUNK;
    use sluice::session::InstanceSession;

    let mock = WebexMock::start(WebexMockConfig {
        file_messages: 7,
        deleted_file_messages: 2,
        file_size: MAX_FILE_CHUNK as usize + 1_000,
        ..config()
    })
    .await
    .unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect(&h, &mock).await;
    mock.clear_requests();
    let reports = h.scan(&inst, &[Kind::Files], 3).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    let exp = mock.expected();
    assert_eq!(
        exp.files, 5,
        "seven messages with a file, two deleted since"
    );
    assert_eq!(h.live(&inst, Kind::Files), exp.files);
    let files: Vec<sluice::model::File> = (h.records(&inst, Kind::Files, false).into_iter())
        .filter_map(|r| match r.record {
            Record::File(f) => Some(f),
            _ => None,
        })
        .collect();
    let mut ids: Vec<String> = files.iter().map(|f| f.id.clone()).collect();
    ids.sort();
    let mut expected_ids = mock.file_ids();
    expected_ids.sort();
    assert_eq!(ids, expected_ids);
    let first = files.iter().find(|f| f.id == mock.file_ids()[0]).unwrap();
    assert_eq!(first.name, "report-0.pdf", "from Content-Disposition");
    assert_eq!(first.size, Some(u64::from(MAX_FILE_CHUNK) + 1_000));
    assert_eq!(first.mime_type.as_deref(), Some("application/pdf"));
    // Deleted messages' files are not even asked about.
    let heads = (mock.api_requests().iter())
        .filter(|r| r.method == "HEAD")
        .count();
    assert_eq!(heads, exp.files);

    // The host reads the content in chunks; the connector asks Webex for ranges.
    let plugin = h.plugin("webex");
    let session = InstanceSession::open(&plugin, &h.store, &inst).unwrap();
    let content_id = first.id.split_once('.').unwrap().1.to_owned();
    let whole = mock.file_content(&content_id).unwrap();
    let chunk = (plugin.read_file(session.context(), &first.id, 0, u32::MAX))
        .await
        .unwrap();
    assert_eq!(chunk.data.len(), MAX_FILE_CHUNK as usize);
    assert_eq!(chunk.data, whole[..MAX_FILE_CHUNK as usize]);
    assert!(!chunk.eof);
    assert_eq!(chunk.size, Some(whole.len() as u64));
    let rest = (plugin.read_file(
        session.context(),
        &first.id,
        u64::from(MAX_FILE_CHUNK),
        4096,
    ))
    .await
    .unwrap();
    assert_eq!(rest.data, whole[MAX_FILE_CHUNK as usize..]);
    assert!(rest.eof);

    // Quarantine: the compliance officer deletes the message; the next scans show
    // the file gone and the deletion in the compliance events.
    h.scan(&inst, &[Kind::Activities], 100).await;
    let target = first.id.clone();
    let message = target.split_once('.').unwrap().0.to_owned();
    let planned = h
        .act(&inst, action(ActionKind::QuarantineFile, &target, true))
        .await
        .unwrap();
    assert_eq!(
        planned.requests,
        [format!("DELETE {}/v1/messages/{message}", mock.base_url())]
    );
    assert_eq!(mock.file_ids().len(), 5, "a dry run deletes nothing");
    let done = h
        .act(&inst, action(ActionKind::QuarantineFile, &target, false))
        .await
        .unwrap();
    assert_eq!(done.status, "done", "{done:?}");
    assert_eq!(mock.file_ids().len(), 4);
    let reports = h.scan(&inst, &[Kind::Files], 3).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    assert_eq!(h.live(&inst, Kind::Files), 4);
    let reports = h.scan(&inst, &[Kind::Activities], 100).await;
    assert_eq!(reports[0].records, 1);
    let deleted = h
        .activities(&inst)
        .into_iter()
        .find(|a| a.action == "messages.deleted" && a.raw.value()["data"]["id"] == message.as_str())
        .expect("the deletion in the compliance events");
    assert_eq!(deleted.kind, ActivityKind::User);
    let again = h
        .act(&inst, action(ActionKind::QuarantineFile, &target, false))
        .await
        .unwrap();
    assert_eq!(again.status, "already");
}

/// `sluice scan --record` against the mock, then `sluice test-connector` on what it
/// wrote, with the mock no longer asked: the recording replays to a passing report
/// (the activity searches end at `context.now`, so the replay asks for the same
/// windows), and holds neither the client secret, the refresh token nor the access
/// token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_scan_passes_test_connector_without_the_provider() {
    let mock = WebexMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect(&h, &mock).await;
    let webex = sluice_tests::connector_under_test("webex");
    sluice_tests::record_then_replay(
        &h,
        &inst,
        &webex,
        sluice_tests::Recording {
            secrets: &[SECRET, REFRESH],
            token_path: Some("/v1/access_token"),
        },
        || mock.requests(),
        || mock.clear_requests(),
    )
    .await;
}

/// Sharing control: a file is shared with its space's members, so a member from
/// another organization makes it `shared-externally`; `remove-file-collaborator` takes
/// that member out of the space, and the next files scan no longer counts them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guests_in_a_files_space_share_its_files_outside_until_removed() {
    let mock = WebexMock::start(WebexMockConfig {
        file_messages: 4,
        external_members: 2,
        ..config()
    })
    .await
    .unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect(&h, &mock).await;
    let files = |h: &Harness| -> Vec<sluice::model::File> {
        (h.records(&inst, Kind::Files, false).into_iter())
            .filter_map(|r| match r.record {
                Record::File(f) => Some(f),
                _ => None,
            })
            .collect()
    };
    let shared = |h: &Harness| files(h).into_iter().filter(|f| f.shared_externally).count();
    h.scan(&inst, &[Kind::Files], 100).await;
    let exp = mock.expected();
    assert_eq!((exp.files, exp.files_shared_externally), (4, 2));
    assert_eq!(shared(&h), exp.files_shared_externally);
    let outside = files(&h).into_iter().find(|f| f.shared_externally).unwrap();
    let mut guests: Vec<&str> = (outside.sharing.principals.iter())
        .filter(|p| p.external)
        .map(|p| p.id.as_str())
        .collect();
    guests.sort();
    assert_eq!(guests, ["guest0@partner.example", "guest1@partner.example"]);

    for (n, guest) in guests.iter().enumerate() {
        let mut remove = action(ActionKind::RemoveFileCollaborator, &outside.id, false);
        remove.params = vec![("principal".into(), (*guest).into())];
        let done = h.act(&inst, remove.clone()).await.unwrap();
        assert_eq!(done.status, "done", "{done:?}");
        assert!(!mock.is_member_of_file_space(&outside.id, guest));
        let again = h.act(&inst, remove).await.unwrap();
        assert_eq!(again.status, "already", "not a member any more");
        h.scan(&inst, &[Kind::Files], 100).await;
        let left = if n == 0 {
            exp.files_shared_externally
        } else {
            0
        };
        assert_eq!(shared(&h), left, "after removing {guest}");
    }
}

/// DLP near-real-time: an org-wide Webex webhook on new messages, created with the
/// instance's hook secret, makes Webex post each new message to `/hooks/{instance}`
/// signed with `X-Spark-Signature` (HMAC-SHA1); the daemon checks the signature and
/// scans files at once, so the new file is listed without waiting for the schedule.
/// A delivery signed with another secret is refused and scans nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_webex_webhook_lists_a_new_file_at_once() {
    use sluice_tests::daemon::TestDaemon;

    let mock = WebexMock::start(WebexMockConfig {
        file_messages: 2,
        ..config()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = TestDaemon::start(dir.path()).await;
    let connected = d
        .connect(
            "webex",
            "acme",
            serde_json::json!({ "client_id": CLIENT, "base_url": mock.base_url() }),
            serde_json::json!({ "client_secret": SECRET, "refresh_token": REFRESH }),
        )
        .await;
    d.wait_scanned("acme").await;
    let secret = d.hook_secret(&connected);
    assert_eq!(d.all_ids("acme", "files", 1000).await.len(), 2);

    mock.register_webhook(&d.url("/hooks/acme?kind=files"), secret.expose());
    mock.register_webhook(&d.url("/hooks/acme?kind=files"), "not-the-hook-secret");
    let (file, statuses) = mock.post_file_message().await;
    assert_eq!(statuses, [202, 401], "the right secret, then the wrong one");
    assert_eq!(d.wait_for_record("acme", "files", &file).await.len(), 3);
    d.daemon.shutdown().await.unwrap();
}
