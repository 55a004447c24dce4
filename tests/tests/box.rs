//! The Box connector end to end: mock Box (API, token endpoint, download host) on
//! loopback → wasm component → sled.

use std::collections::HashSet;

use sluice::control::ConnectError;
use sluice::model::{
    ActionKind, ActivityKind, Capability, ConnectorError, Kind, LinkAudience, Record, UserStatus,
};
use sluice::scan::{ScanOptions, scan_instance};
use sluice::store::Instance;
use sluice_mocks::{BoxMock, BoxMockConfig, Faults, QUARANTINE_FOLDER_ID};
use sluice_tests::{Harness, action, assert_waited_out_the_first_429, shared_fixtures};

const CLIENT: &str = "box-client-4fa1";
const SECRET: &str = "box-secret-9e3c7d";

fn config() -> BoxMockConfig {
    BoxMockConfig {
        client_id: CLIENT.into(),
        client_secret: SECRET.into(),
        users: 12,
        coadmins: 2,
        inactive_users: 2,
        groups: 3,
        members_per_group: 4,
        events: 23,
        files_per_user: 4,
        public_links: 3,
        company_links: 2,
        classified: 3,
        external_collaborations: 2,
        ..Default::default()
    }
}

async fn connect_with(
    h: &Harness,
    mock: &BoxMock,
    enterprise: &str,
    secret: &str,
    extra: &[(&str, &str)],
) -> Result<(Instance, sluice::model::Permissions), ConnectError> {
    let base = mock.base_url();
    let mut config = vec![
        ("enterprise_id", enterprise),
        ("client_id", CLIENT),
        ("base_url", base.as_str()),
        ("download_url", base.as_str()),
    ];
    config.extend_from_slice(extra);
    h.connect_to("box", "acme", &config, &[("client_secret", secret)])
        .await
}

async fn connect(h: &Harness, mock: &BoxMock) -> (Instance, sluice::model::Permissions) {
    let enterprise = mock.config().enterprise_id.clone();
    connect_with(
        h,
        mock,
        &enterprise,
        SECRET,
        &[("quarantine_folder_id", QUARANTINE_FOLDER_ID)],
    )
    .await
    .unwrap()
}

/// The files in the store (not deleted).
fn files(h: &Harness, inst: &Instance) -> Vec<sluice::model::File> {
    (h.records(inst, Kind::Files, false).into_iter())
        .filter_map(|r| match r.record {
            Record::File(f) => Some(f),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_scan_collects_every_kind_with_exact_counts_across_pages() {
    let mock = BoxMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let (inst, perms) = connect(&h, &mock).await;
    assert_eq!(
        perms.principal.as_deref(),
        Some("AutomationUser_1999_mock@boxdevedition.com")
    );
    assert_eq!(
        perms.granted,
        [
            "Manage users",
            "Manage groups",
            "Manage enterprise properties",
            "Read all files and folders stored in Box",
            "Make API calls using the as-user header",
            "classifications"
        ]
    );
    assert!(perms.missing.is_empty(), "{:?}", perms.missing);
    // The Client Credentials Grant with the enterprise as subject, secret in the form.
    let token = &mock.oauth().requests()[0];
    assert_eq!(token.field("grant_type"), Some("client_credentials"));
    assert_eq!(token.field("box_subject_type"), Some("enterprise"));
    assert_eq!(token.field("box_subject_id"), Some("11446498"));
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
            exp.admins,
            exp.suspended,
            exp.groups,
            exp.activities
        ),
        (12, 3, 2, 3, 23)
    );
    assert_eq!(h.live(&inst, Kind::Users), exp.users);
    assert_eq!(h.live(&inst, Kind::Groups), exp.groups);
    assert_eq!(h.live(&inst, Kind::Activities), exp.activities);
    let users = h.users(&inst);
    assert_eq!(users.iter().filter(|u| u.is_admin).count(), exp.admins);
    assert_eq!(
        (users.iter())
            .filter(|u| u.status == UserStatus::Suspended)
            .count(),
        exp.suspended
    );
    let admin = users.iter().find(|u| u.roles == ["admin"]).unwrap();
    assert_eq!(admin.login.as_deref(), Some("user0@acme.example"));
    let members: usize = (h.records(&inst, Kind::Groups, false).iter())
        .map(|r| match &r.record {
            Record::Group(g) => g.members.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(members, 3 * 4);
    let acts = h.activities(&inst);
    let kind = |k| acts.iter().filter(|a| a.kind == k).count();
    assert_eq!(kind(ActivityKind::Logon), exp.logon);
    assert_eq!(kind(ActivityKind::User), exp.user_activity);
    assert_eq!(kind(ActivityKind::Admin), exp.admin_activity);
    assert!(exp.logon > 0 && exp.user_activity > 0 && exp.admin_activity > 0);
    let failed = acts.iter().find(|a| a.action == "FAILED_LOGIN").unwrap();
    assert_eq!(failed.outcome, sluice::model::Outcome::Failure);

    // Files: every user's, each once, with links, outside collaborators and labels.
    let stored = files(&h, &inst);
    let mut ids: Vec<String> = stored.iter().map(|f| f.id.clone()).collect();
    ids.sort();
    assert_eq!(ids, mock.file_ids());
    assert_eq!(stored.len(), exp.files);
    assert_eq!(exp.files, 12 * 4);
    assert_eq!(stored.iter().filter(|f| f.public).count(), exp.public_files);
    assert_eq!(
        stored.iter().filter(|f| f.shared_externally).count(),
        exp.shared_externally
    );
    assert_eq!(
        stored.iter().filter(|f| !f.labels.is_empty()).count(),
        exp.labeled_files
    );
    let company = (stored.iter())
        .filter(|f| (f.sharing.links.iter()).any(|l| l.audience == LinkAudience::Organization))
        .count();
    assert_eq!(company, 2);

    // Marker pages of 5 users (and the files walk's two passes of 1000), offset pages
    // of groups, one As-User listing per folder page.
    let requests = mock.requests();
    let users_pages = (requests.iter())
        .filter(|r| r.path() == "/2.0/users" && r.query_param("limit").as_deref() == Some("5"))
        .count();
    assert_eq!(users_pages, 12_usize.div_ceil(5));
    assert!(
        (requests.iter())
            .filter(|r| r.path() == "/2.0/users")
            .all(|r| r.query_param("usemarker").as_deref() == Some("true"))
    );
    assert!(
        (requests.iter())
            .filter(|r| r.path() == "/2.0/events")
            .all(|r| r.query_param("stream_type").as_deref() == Some("admin_logs"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activity_rescans_read_only_new_events_and_store_each_once() {
    let mock = BoxMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect(&h, &mock).await;
    let reports = h.scan(&inst, &[Kind::Activities], 10).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    assert_eq!(reports[0].records, 23);

    mock.add_events(4);
    mock.clear_requests();
    let reports = h.scan(&inst, &[Kind::Activities], 10).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    assert_eq!(reports[0].records, 4, "only the new events are stored");
    // The search starts at the newest event's second, not at the look-back.
    let requests = mock.requests();
    let first = requests.iter().find(|r| r.path() == "/2.0/events").unwrap();
    let after = first.query_param("created_after").unwrap();
    let after = chrono::DateTime::parse_from_rfc3339(&after).unwrap();
    assert!(chrono::Utc::now().signed_duration_since(after) < chrono::Duration::hours(2));

    let reports = h.scan(&inst, &[Kind::Activities], 10).await;
    assert_eq!(reports[0].records, 0, "caught up: nothing stored twice");
    mock.add_events(1);
    let reports = h.scan(&inst, &[Kind::Activities], 10).await;
    assert_eq!(reports[0].records, 1);
    assert_eq!(h.live(&inst, Kind::Activities), mock.expected().activities);
    let ids: HashSet<String> = h.activities(&inst).into_iter().map(|a| a.id).collect();
    assert_eq!(ids.len(), 28);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_s_retry_after_is_honoured_and_records_are_stored_once() {
    let mock = BoxMock::start(config()).await.unwrap();
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
    assert_eq!(reports[0].records, 12);
    assert_eq!(h.live(&inst, Kind::Users), 12);
    let requests = mock.requests();
    assert_eq!(requests.iter().filter(|r| r.status == 429).count(), 2);
    assert_waited_out_the_first_429(&requests);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_or_enterprise_is_unauthorized_at_connect_and_no_secret_leaks() {
    let mock = BoxMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let err = connect_with(&h, &mock, "11446498", "wrong-secret-value", &[])
        .await
        .unwrap_err();
    let ConnectError::Check(ConnectorError::Unauthorized(message)) = &err else {
        panic!("{err}")
    };
    assert!(
        message.contains("Client authentication failed"),
        "{message}"
    );
    assert!(!format!("{err} {err:?}").contains("wrong-secret-value"));
    // The right app, another enterprise: Box refuses the grant's subject.
    let err = connect_with(&h, &mock, "99999", SECRET, &[])
        .await
        .unwrap_err();
    let ConnectError::Check(ConnectorError::Unauthorized(message)) = &err else {
        panic!("{err}")
    };
    assert!(
        message.contains("Grant credentials are invalid"),
        "{message}"
    );
    assert!(!format!("{err} {err:?}").contains(SECRET));
    assert!(h.store.instances().unwrap().is_empty());
    assert!(
        mock.requests().iter().all(|r| r.path() == "/oauth2/token"),
        "nothing but the token endpoint was reached"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_missing_scopes_in_box_s_words() {
    let mock = BoxMock::start(BoxMockConfig {
        denied: vec![
            "Manage enterprise properties".into(),
            "Make API calls using the as-user header".into(),
        ],
        classifications: false,
        ..config()
    })
    .await
    .unwrap();
    let h = Harness::new().await;
    let (_, perms) = connect(&h, &mock).await;
    let missing: Vec<Capability> = perms.missing.iter().map(|(c, _)| *c).collect();
    assert_eq!(
        missing,
        [
            Capability::LogonActivity,
            Capability::UserActivity,
            Capability::AdminActivity,
            Capability::Files,
            Capability::FileContent,
            Capability::SensitivityLabels,
        ]
    );
    let why = |c| &perms.missing.iter().find(|(m, _)| *m == c).unwrap().1;
    assert!(why(Capability::AdminActivity).contains("\"Manage enterprise properties\""));
    assert!(why(Capability::AdminActivity).contains("access_denied_insufficient_permissions"));
    assert!(why(Capability::Files).contains("Make API calls using the as-user header"));
    assert!(why(Capability::SensitivityLabels).contains("securityClassification-6VMVochwUWo"));
    assert_eq!(perms.granted, ["Manage users", "Manage groups"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deactivating_and_reactivating_show_in_the_next_scans() {
    let mock = BoxMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect(&h, &mock).await;
    let target = mock.user_id(4);
    assert_eq!(
        h.scanned_status(&inst, &target, 100).await,
        Some(UserStatus::Active)
    );
    h.scan(&inst, &[Kind::Activities], 100).await;
    mock.clear_requests();
    let planned = h
        .act(&inst, action(ActionKind::SuspendUser, &target, true))
        .await
        .unwrap();
    assert_eq!(planned.status, "planned");
    assert_eq!(
        planned.requests,
        [format!("PUT {}/2.0/users/{target}", mock.base_url())]
    );
    assert!(mock.requests().iter().all(|r| !r.is_write()));
    let done = h
        .act(&inst, action(ActionKind::SuspendUser, &target, false))
        .await
        .unwrap();
    assert_eq!(done.status, "done", "{done:?}");
    assert_eq!(mock.status_of(&target).as_deref(), Some("inactive"));
    assert_eq!(
        h.scanned_status(&inst, &target, 100).await,
        Some(UserStatus::Suspended)
    );
    // Box logs the change in the admin logs; the next activity scan shows it.
    let reports = h.scan(&inst, &[Kind::Activities], 100).await;
    assert_eq!(reports[0].records, 1);
    assert!(
        (h.activities(&inst).iter())
            .any(|a| a.action == "EDIT_USER" && a.kind == ActivityKind::Admin)
    );
    sluice_tests::assert_suspend_is_idempotent_and_reversible(
        &h,
        &inst,
        (&target, "2999999"),
        100,
        || mock.requests(),
        || mock.clear_requests(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_read_in_chunks_through_box_s_download_redirect() {
    use sluice::runtime::MAX_FILE_CHUNK;
    use sluice::session::InstanceSession;

    let large = MAX_FILE_CHUNK as usize + 1_000;
    let mock = BoxMock::start(BoxMockConfig {
        users: 2,
        large_file: large,
        ..config()
    })
    .await
    .unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect(&h, &mock).await;
    let reports = h.scan(&inst, &[Kind::Files], 100).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    let first = mock.nth_file(0);
    let stored = files(&h, &inst);
    let record = stored.iter().find(|f| f.id == first).unwrap();
    assert_eq!(record.size, Some(large as u64));
    assert_eq!(record.path.as_deref(), Some("/"));
    assert_eq!(record.labels, ["Confidential"]);
    assert_eq!(record.content_hash.as_ref().unwrap().algorithm, "sha1");

    let plugin = h.plugin("box");
    let session = InstanceSession::open(&plugin, &h.store, &inst).unwrap();
    let (file_id, owner) = first.split_once('@').unwrap();
    let whole = mock.file_content(file_id).unwrap();
    mock.clear_requests();
    let chunk = (plugin.read_file(session.context(), &first, 0, u32::MAX))
        .await
        .unwrap();
    assert_eq!(chunk.data.len(), MAX_FILE_CHUNK as usize);
    assert_eq!(chunk.data, whole[..MAX_FILE_CHUNK as usize]);
    assert!(!chunk.eof);
    assert_eq!(chunk.size, Some(whole.len() as u64));
    let rest = (plugin.read_file(session.context(), &first, u64::from(MAX_FILE_CHUNK), 4096))
        .await
        .unwrap();
    assert_eq!(rest.data, whole[MAX_FILE_CHUNK as usize..]);
    assert!(rest.eof);
    // Each chunk: the content URL (as the owner) answers 302, the download host 206.
    let statuses: Vec<(String, u16)> = (mock.requests().into_iter())
        .map(|r| (r.path().to_owned(), r.status))
        .collect();
    let content = format!("/2.0/files/{file_id}/content");
    let download = format!("/d/1/{file_id}/download");
    assert_eq!(
        statuses,
        [
            (content.clone(), 302),
            (download.clone(), 206),
            (content, 302),
            (download, 206)
        ]
    );
    let _ = owner;
    let missing = plugin
        .read_file(session.context(), "499999@2000", 0, 10)
        .await
        .unwrap_err();
    assert!(
        matches!(missing, ConnectorError::NotFound(_)),
        "{missing:?}"
    );
}

/// Sharing control, file governance and labels: each action shows in the next files
/// scan, and doing it again is `already`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_actions_show_in_the_next_files_scan() {
    let mock = BoxMock::start(BoxMockConfig {
        users: 3,
        ..config()
    })
    .await
    .unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect(&h, &mock).await;
    let scan = || async {
        let reports = h.scan(&inst, &[Kind::Files], 100).await;
        assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
        files(&h, &inst)
    };
    let find = |all: &[sluice::model::File], id: &str| all.iter().find(|f| f.id == id).cloned();
    let before = scan().await;
    let base = mock.base_url();

    // remove-public-link on the first (open link) file.
    let public = mock.nth_file(0);
    assert!(find(&before, &public).unwrap().public);
    let (public_id, _) = public.split_once('@').unwrap();
    let planned = h
        .act(&inst, action(ActionKind::RemovePublicLink, &public, true))
        .await
        .unwrap();
    assert_eq!(
        planned.requests,
        [format!(
            "PUT {base}/2.0/files/{public_id}?fields=shared_link"
        )]
    );
    assert!(mock.file_state(public_id).unwrap().0.is_some(), "dry run");
    let done = h
        .act(&inst, action(ActionKind::RemovePublicLink, &public, false))
        .await
        .unwrap();
    assert_eq!(done.status, "done", "{done:?}");
    let after = scan().await;
    let file = find(&after, &public).unwrap();
    assert!(!file.public && file.sharing.links.is_empty());
    let again = h
        .act(&inst, action(ActionKind::RemovePublicLink, &public, false))
        .await
        .unwrap();
    assert_eq!(again.status, "already");

    // remove-file-collaborator: an outside guest reaches file 6 (user 1's, in Archive)
    // through user 1's Projects folder; removing them there unshares both folders.
    let inside = mock.nth_file(6);
    let file = find(&after, &inside).unwrap();
    assert!(file.shared_externally);
    let guest = (file.sharing.principals.iter())
        .find(|p| p.external)
        .unwrap()
        .id
        .clone();
    assert_eq!(guest, "guest1@partner.example");
    let mut remove = action(ActionKind::RemoveFileCollaborator, &inside, false);
    remove.params = vec![("principal".into(), guest.clone())];
    let done = h.act(&inst, remove.clone()).await.unwrap();
    assert_eq!(done.status, "done", "{done:?}");
    assert!(done.message.contains("folder"), "{}", done.message);
    let after = scan().await;
    assert!(!find(&after, &inside).unwrap().shared_externally);
    let again = h.act(&inst, remove).await.unwrap();
    assert_eq!(again.status, "already");

    // apply-label: classify an unclassified file.
    let plain = mock.nth_file(5);
    assert!(find(&after, &plain).unwrap().labels.is_empty());
    let mut label = action(ActionKind::ApplyLabel, &plain, false);
    label.params = vec![("label".into(), "Internal".into())];
    let done = h.act(&inst, label.clone()).await.unwrap();
    assert_eq!(done.status, "done", "{done:?}");
    let after = scan().await;
    assert_eq!(find(&after, &plain).unwrap().labels, ["Internal"]);
    assert_eq!(h.act(&inst, label).await.unwrap().status, "already");

    // quarantine-file: moved into the admin's quarantine folder, which now owns it.
    let target = mock.nth_file(7);
    let (target_id, _) = target.split_once('@').unwrap();
    let done = h
        .act(&inst, action(ActionKind::QuarantineFile, &target, false))
        .await
        .unwrap();
    assert_eq!(done.status, "done", "{done:?}");
    let (_, parent, owner, _) = mock.file_state(target_id).unwrap();
    assert_eq!(parent, QUARANTINE_FOLDER_ID);
    assert_eq!(owner, mock.user_id(0));
    let reports = h.scan(&inst, &[Kind::Files], 100).await;
    assert_eq!(reports[0].deleted, 1, "the record under its former owner");
    let moved = format!("{target_id}@{owner}");
    let after = files(&h, &inst);
    assert_eq!(
        find(&after, &moved).unwrap().path.as_deref(),
        Some("/Quarantine")
    );
    let again = h
        .act(&inst, action(ActionKind::QuarantineFile, &moved, false))
        .await
        .unwrap();
    assert_eq!(again.status, "already");

    // trash-file: gone from the next scan; trashing it again is `already`.
    let trashed = mock.nth_file(8);
    let done = h
        .act(&inst, action(ActionKind::TrashFile, &trashed, false))
        .await
        .unwrap();
    assert_eq!(done.status, "done", "{done:?}");
    let reports = h.scan(&inst, &[Kind::Files], 100).await;
    assert_eq!(reports[0].deleted, 1);
    assert!(find(&files(&h, &inst), &trashed).is_none());
    assert_eq!(h.live(&inst, Kind::Files), mock.expected().files);
    let again = h
        .act(&inst, action(ActionKind::TrashFile, &trashed, false))
        .await
        .unwrap();
    assert_eq!(again.status, "already");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_box_fixtures_parse_into_records() {
    let Some(fixtures) = shared_fixtures() else {
        eprintln!("../shared/fixtures not present; skipping the published-payload check");
        return;
    };
    let mock = BoxMock::start(BoxMockConfig {
        fixtures_dir: Some(fixtures.join("box")),
        ..config()
    })
    .await
    .unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect(&h, &mock).await;
    let inst = h.store.instance(&inst.id).unwrap();
    // The published events are from 2015: read from then on.
    let opts = ScanOptions {
        page_size: 100,
        activity_since: Some(1_420_070_400_000),
        ..Default::default()
    };
    let reports = scan_instance(
        &h.store,
        &h.plugin("box"),
        &inst,
        &[Kind::Users, Kind::Activities],
        &opts,
    )
    .await
    .unwrap();
    for r in &reports {
        assert!(r.error.is_none(), "{:?}: {:?}", r.kind, r.error);
    }
    let users = h.users(&inst);
    let logins: HashSet<String> = users.iter().filter_map(|u| u.login.clone()).collect();
    assert_eq!(
        logins,
        HashSet::from(["test@user.com".to_owned(), "example@user.com".to_owned()])
    );
    // Both published entries are the same event: stored once.
    let acts = h.activities(&inst);
    assert_eq!(acts.len(), mock.expected().activities);
    assert_eq!(acts[0].id, "1a4ade16-b1ff-4cc3-89a8-955e1522557c");
    assert_eq!(acts[0].kind, ActivityKind::Logon);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_scan_passes_test_connector_without_the_provider() {
    let mock = BoxMock::start(BoxMockConfig {
        users: 3,
        events: 6,
        ..config()
    })
    .await
    .unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect(&h, &mock).await;
    let component = sluice_tests::connector_under_test("box");
    sluice_tests::record_then_replay(
        &h,
        &inst,
        &component,
        sluice_tests::Recording {
            secrets: &[SECRET],
            token_path: Some("/oauth2/token"),
        },
        || mock.requests(),
        || mock.clear_requests(),
    )
    .await;
}

/// DLP near-real-time: a relay of Box's webhook (`FILE.UPLOADED` on the enterprise's
/// folders) POSTs to the daemon's hook with the instance's secret; the hook starts a
/// files scan at once, which lists the new file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_files_hook_posted_with_the_secret_lists_a_new_file_at_once() {
    use sluice_tests::daemon::TestDaemon;

    let mock = BoxMock::start(BoxMockConfig {
        users: 2,
        events: 3,
        ..config()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = TestDaemon::start(dir.path()).await;
    let base = mock.base_url();
    let connected = d
        .connect(
            "box",
            "acme",
            serde_json::json!({
                "enterprise_id": mock.config().enterprise_id, "client_id": CLIENT,
                "base_url": base, "download_url": base,
            }),
            serde_json::json!({ "client_secret": SECRET }),
        )
        .await;
    d.wait_scanned("acme").await;
    assert_eq!(d.all_ids("acme", "files", 100).await.len(), 8);
    let secret = d.hook_secret(&connected);

    let added = mock.add_file(1);
    let hook = |token: &str| {
        d.client()
            .post(d.url("/hooks/acme?kind=files"))
            .bearer_auth(token)
            .body(r#"{"type":"webhook_event","trigger":"FILE.UPLOADED"}"#)
    };
    assert_eq!(d.raw(hook("wrong")).await.status().as_u16(), 401);
    let ok = d.raw(hook(secret.expose())).await;
    assert_eq!(ok.status().as_u16(), 202);
    assert_eq!(d.wait_for_record("acme", "files", &added).await.len(), 9);
    d.daemon.shutdown().await.unwrap();
}
