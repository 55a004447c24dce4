//! The Google Workspace connector end to end: mock Workspace (Directory, Reports,
//! Drive and the OAuth token endpoint) on loopback → wasm component → sled.

use std::collections::HashSet;

use sluice::control::ConnectError;
use sluice::model::{
    ActionKind, ActivityKind, Capability, ConnectorError, Kind, Record, UserStatus,
};
use sluice::store::{Instance, InstanceStatus};
use sluice_mocks::oauth::{OTHER_RSA_PRIVATE_KEY_PKCS8_PEM, TEST_RSA_PRIVATE_KEY_PKCS8_PEM};
use sluice_mocks::{Faults, GoogleMock, GoogleMockConfig};
use sluice_tests::{Harness, action, assert_waited_out_the_first_429, shared_fixtures};

const CLIENT_EMAIL: &str = "sluice@acme-sec.iam.gserviceaccount.com";
const ADMIN: &str = "secadmin@example.com";

fn config() -> GoogleMockConfig {
    GoogleMockConfig {
        client_email: CLIENT_EMAIL.into(),
        admin_email: ADMIN.into(),
        users: 23,
        delegated_admins: 2,
        suspended_users: 2,
        archived_users: 1,
        groups: 5,
        members_per_group: 4,
        external_members: 2,
        login_events: 12,
        admin_events: 9,
        drive_events: 7,
        token_events: 4,
        event_interval_ms: 3_600_000,
        grant_users: 3,
        files: 9,
        public_files: 2,
        external_files: 2,
        domain_files: 2,
        google_docs: 1,
        ..GoogleMockConfig::default()
    }
}

/// The config of an instance on `mock`, with `extra` pairs added.
fn instance_config(mock: &GoogleMock, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let base = mock.base_url();
    let mut pairs: Vec<(String, String)> = [
        ("client_email", CLIENT_EMAIL),
        ("admin_email", ADMIN),
        ("admin_url", base.as_str()),
        ("drive_url", base.as_str()),
        ("token_url", mock.token_url().as_str()),
        ("drive_label_ids", "LbL-confidential"),
        ("quarantine_folder_id", "0QUARANTINE"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        pairs.retain(|(key, _)| key != k);
        pairs.push((k.to_string(), v.to_string()));
    }
    pairs
}

async fn connect_with(
    h: &Harness,
    mock: &GoogleMock,
    key: &str,
    extra: &[(&str, &str)],
) -> Result<(Instance, sluice::model::Permissions), ConnectError> {
    let pairs = instance_config(mock, extra);
    let config: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    h.connect_to("google", "acme", &config, &[("private_key", key)])
        .await
}

async fn connect(h: &Harness, mock: &GoogleMock) -> Instance {
    connect_with(h, mock, TEST_RSA_PRIVATE_KEY_PKCS8_PEM, &[])
        .await
        .unwrap()
        .0
}

fn files(h: &Harness, inst: &Instance) -> Vec<sluice::model::File> {
    (h.records(inst, Kind::Files, false).into_iter())
        .filter_map(|r| match r.record {
            Record::File(f) => Some(f),
            _ => None,
        })
        .collect()
}

fn grants(h: &Harness, inst: &Instance) -> Vec<sluice::model::AppPermission> {
    (h.records(inst, Kind::AppPermissions, false).into_iter())
        .filter_map(|r| match r.record {
            Record::AppPermission(g) => Some(g),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_scan_collects_every_kind_with_exact_counts_across_token_pages() {
    let mock = GoogleMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let (inst, perms) = connect_with(&h, &mock, TEST_RSA_PRIVATE_KEY_PKCS8_PEM, &[])
        .await
        .unwrap();
    assert_eq!(
        perms.principal.as_deref(),
        Some("secadmin@example.com (through sluice@acme-sec.iam.gserviceaccount.com)")
    );
    assert_eq!(perms.granted, sluice_mocks::GOOGLE_SCOPES);
    assert!(perms.missing.is_empty(), "{:?}", perms.missing);
    // Google's service-account flow: the RFC 7523 grant, and an assertion from the
    // service account, for the admin, to the token URL, with the scopes as one claim.
    let token = &mock.oauth().requests()[0];
    assert_eq!(
        token.field("grant_type"),
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    );
    assert!(token.field("assertion").is_some());
    let claims = &mock.oauth().assertions()[0];
    assert_eq!(claims["iss"], CLIENT_EMAIL);
    assert_eq!(claims["sub"], ADMIN);
    assert_eq!(claims["aud"], mock.token_url().as_str());
    assert_eq!(
        claims["scope"],
        sluice_mocks::GOOGLE_SCOPES.join(" ").as_str()
    );
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert!(lifetime <= 3600, "Google takes at most an hour");

    mock.clear_requests();
    let reports = h.scan(&inst, &[], 4).await;
    for r in &reports {
        assert!(r.error.is_none(), "{:?} failed: {:?}", r.kind, r.error);
    }
    let exp = mock.expected();
    assert_eq!(
        (exp.users, exp.admins, exp.suspended, exp.archived),
        (23, 3, 2, 1)
    );
    assert_eq!(h.live(&inst, Kind::Users), exp.users);
    let users = h.users(&inst);
    let count = |f: &dyn Fn(&sluice::model::User) -> bool| users.iter().filter(|u| f(u)).count();
    assert_eq!(count(&|u| u.is_admin), exp.admins);
    assert_eq!(count(&|u| u.status == UserStatus::Suspended), exp.suspended);
    assert_eq!(count(&|u| u.status == UserStatus::Disabled), exp.archived);
    assert_eq!(count(&|u| u.roles == ["_SEED_ADMIN_ROLE"]), 1);
    assert_eq!(count(&|u| u.roles == ["Help desk admin"]), 2);

    assert_eq!(h.live(&inst, Kind::Groups), exp.groups);
    let members: usize = (h.records(&inst, Kind::Groups, false).iter())
        .map(|r| match &r.record {
            Record::Group(g) => g.members.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(members, exp.group_members);

    let acts = h.activities(&inst);
    let kind = |k| acts.iter().filter(|a| a.kind == k).count();
    assert_eq!(
        (exp.logon, exp.admin_activity, exp.user_activity),
        (12, 9, 11)
    );
    assert_eq!(kind(ActivityKind::Logon), exp.logon);
    assert_eq!(kind(ActivityKind::Admin), exp.admin_activity);
    assert_eq!(kind(ActivityKind::User), exp.user_activity);
    let failed = acts.iter().filter(|a| a.action == "login_failure").count();
    assert!(failed > 0);

    assert_eq!(h.live(&inst, Kind::AppPermissions), exp.grants);
    assert_eq!(exp.grants, 6);

    assert_eq!(h.live(&inst, Kind::Files), exp.files);
    let listed = files(&h, &inst);
    assert_eq!(listed.iter().filter(|f| f.public).count(), exp.public_files);
    assert_eq!(
        listed.iter().filter(|f| f.shared_externally).count(),
        exp.external_files
    );
    assert_eq!((exp.files, exp.public_files, exp.external_files), (9, 2, 4));

    // Token paging everywhere: later pages asked with pageToken.
    let requests = mock.api_requests();
    for path in [
        "/admin/directory/v1/users",
        "/admin/directory/v1/groups",
        "/drive/v3/files",
        "/admin/reports/v1/activity/users/all/applications/login",
    ] {
        assert!(
            (requests.iter())
                .filter(|r| r.path() == path)
                .any(|r| r.query_param("pageToken").is_some()),
            "{path} was not paged"
        );
    }
    let status = h.store.instance("acme").unwrap().status;
    assert!(
        matches!(status, InstanceStatus::Connected { .. }),
        "{status:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activity_rescans_read_only_new_events_and_store_each_once() {
    let mock = GoogleMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let inst = connect(&h, &mock).await;
    let reports = h.scan(&inst, &[Kind::Activities], 5).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    assert_eq!(reports[0].records, 32);

    mock.add_activity(3);
    mock.clear_requests();
    let reports = h.scan(&inst, &[Kind::Activities], 5).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    assert_eq!(reports[0].records, 12, "only the new events are stored");
    // Each application is searched from its newest event on: one page each.
    let requests = mock.api_requests();
    assert_eq!(requests.len(), 4, "{requests:?}");

    let reports = h.scan(&inst, &[Kind::Activities], 5).await;
    assert_eq!(reports[0].records, 0, "caught up");
    let exp = mock.expected();
    let all = exp.logon + exp.admin_activity + exp.user_activity;
    assert_eq!(h.live(&inst, Kind::Activities), all);
    let ids: HashSet<String> = h.activities(&inst).into_iter().map(|a| a.id).collect();
    assert_eq!(ids.len(), all);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_waited_out_and_a_403_rate_limit_is_rate_limited() {
    let mock = GoogleMock::start(config()).await.unwrap();
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
    assert_eq!(h.live(&inst, Kind::Users), 23);
    let requests = mock.api_requests();
    assert_eq!(requests.iter().filter(|r| r.status == 429).count(), 2);
    assert_waited_out_the_first_429(&requests);

    // Google's other throttling answer, 403 `rateLimitExceeded` without Retry-After:
    // the connector reports it as rate-limited, not as a missing permission.
    mock.inject_faults(Faults {
        secondary_limit: 1,
        secondary_as_403: true,
        ..Faults::default()
    });
    let reports = h.scan(&inst, &[Kind::Groups], 5).await;
    assert!(
        matches!(reports[0].error, Some(ConnectorError::RateLimited(_))),
        "{reports:?}"
    );
    let reports = h.scan(&inst, &[Kind::Groups], 5).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    assert_eq!(h.live(&inst, Kind::Groups), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_or_a_refused_delegation_is_unauthorized_and_no_secret_leaks() {
    let mock = GoogleMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let err = connect_with(&h, &mock, OTHER_RSA_PRIVATE_KEY_PKCS8_PEM, &[])
        .await
        .unwrap_err();
    let ConnectError::Check(ConnectorError::Unauthorized(message)) = &err else {
        panic!("expected unauthorized, got {err}");
    };
    let shown = format!("{message} {err} {err:?}");
    assert!(!shown.contains("PRIVATE KEY"), "{shown}");

    // The client id's domain-wide delegation lacks a scope: Google refuses the token.
    mock.refuse_delegation(true);
    let err = connect_with(&h, &mock, TEST_RSA_PRIVATE_KEY_PKCS8_PEM, &[])
        .await
        .unwrap_err();
    let ConnectError::Check(ConnectorError::Unauthorized(message)) = &err else {
        panic!("expected unauthorized, got {err}");
    };
    assert!(
        message.contains("not authorized for any of the scopes requested"),
        "{message}"
    );
    assert!(h.store.instances().unwrap().is_empty());
    assert!(
        mock.api_requests().is_empty(),
        "no API call without a token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_scopes_not_asked_for_in_google_s_words() {
    let mock = GoogleMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let scopes = "https://www.googleapis.com/auth/admin.directory.user.readonly \
                  https://www.googleapis.com/auth/admin.reports.audit.readonly";
    let (inst, perms) = connect_with(
        &h,
        &mock,
        TEST_RSA_PRIVATE_KEY_PKCS8_PEM,
        &[("scopes", scopes)],
    )
    .await
    .unwrap();
    assert_eq!(
        mock.oauth().assertions()[0]["scope"],
        scopes,
        "the assertion asks for the instance's scopes only"
    );
    let missing: Vec<Capability> = perms.missing.iter().map(|(c, _)| *c).collect();
    assert_eq!(
        missing,
        [
            Capability::Groups,
            Capability::Privileges,
            Capability::AppPermissions,
            Capability::Files,
            Capability::FileContent
        ]
    );
    assert!(
        perms.missing[0]
            .1
            .contains("https://www.googleapis.com/auth/admin.directory.group.readonly"),
        "{}",
        perms.missing[0].1
    );
    // Without the scope Google refuses the listing: forbidden, in its words.
    let reports = h.scan(&inst, &[Kind::Groups], 10).await;
    let Some(ConnectorError::Forbidden(why)) = &reports[0].error else {
        panic!("{reports:?}");
    };
    assert!(why.contains("insufficient authentication scopes"), "{why}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspend_and_unsuspend_show_in_the_next_scans_and_in_the_admin_log() {
    let mock = GoogleMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let inst = connect(&h, &mock).await;
    let target = mock.user_id(5);
    assert_eq!(
        h.scanned_status(&inst, &target, 50).await,
        Some(UserStatus::Active)
    );
    h.scan(&inst, &[Kind::Activities], 100).await;
    let url = format!("{}/admin/directory/v1/users/{target}", mock.base_url());

    mock.clear_requests();
    let planned = h
        .act(&inst, action(ActionKind::SuspendUser, &target, true))
        .await
        .unwrap();
    assert_eq!(planned.status, "planned");
    assert_eq!(planned.requests, [format!("PUT {url}")]);
    assert!(mock.requests().iter().all(|r| !r.is_write()));

    let done = h
        .act(&inst, action(ActionKind::SuspendUser, &target, false))
        .await
        .unwrap();
    assert_eq!(done.status, "done", "{done:?}");
    assert_eq!(mock.is_suspended(&target), Some(true));
    assert_eq!(
        h.scanned_status(&inst, &target, 50).await,
        Some(UserStatus::Suspended)
    );
    let reports = h.scan(&inst, &[Kind::Activities], 100).await;
    assert_eq!(reports[0].records, 1);
    let logged = (h.activities(&inst).into_iter())
        .find(|a| a.action == "SUSPEND_USER")
        .expect("the suspension in the admin report");
    assert_eq!(logged.kind, ActivityKind::Admin);
    assert_eq!(logged.targets, ["user5@example.com"]);

    sluice_tests::assert_suspend_is_idempotent_and_reversible(
        &h,
        &inst,
        (&target, "nobody@example.com"),
        50,
        || mock.requests(),
        || mock.clear_requests(),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_grant_is_gone_from_the_next_scan() {
    let mock = GoogleMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let inst = connect(&h, &mock).await;
    h.scan(&inst, &[Kind::AppPermissions], 10).await;
    let before = grants(&h, &inst);
    assert_eq!(before.len(), 6);
    let target = before[0].id.clone();
    assert!(mock.grant_ids().contains(&target));
    let done = h
        .act(
            &inst,
            action(ActionKind::RevokeAppPermission, &target, false),
        )
        .await
        .unwrap();
    assert_eq!(done.status, "done", "{done:?}");
    assert!(!mock.grant_ids().contains(&target));
    h.scan(&inst, &[Kind::AppPermissions], 10).await;
    assert_eq!(h.live(&inst, Kind::AppPermissions), 5);
    let again = h
        .act(
            &inst,
            action(ActionKind::RevokeAppPermission, &target, false),
        )
        .await
        .unwrap();
    assert_eq!(again.status, "already");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_listed_with_sharing_and_read_in_chunks_or_exported() {
    use sluice::runtime::MAX_FILE_CHUNK;
    use sluice::session::InstanceSession;

    let mock = GoogleMock::start(GoogleMockConfig {
        file_size: MAX_FILE_CHUNK as usize + 1_000,
        ..config()
    })
    .await
    .unwrap();
    let h = Harness::new().await;
    let inst = connect(&h, &mock).await;
    let reports = h.scan(&inst, &[Kind::Files], 4).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    let exp = mock.expected();
    let listed = files(&h, &inst);
    let mut ids: Vec<String> = listed.iter().map(|f| f.id.clone()).collect();
    ids.sort();
    let mut expected = mock.file_ids();
    expected.sort();
    assert_eq!(ids, expected);
    assert_eq!(listed.len(), exp.files);
    let public = listed.iter().find(|f| f.public).unwrap();
    assert_eq!(
        public.sharing.links[0].audience,
        sluice::model::LinkAudience::Anyone
    );
    let vendor = (listed.iter())
        .flat_map(|f| &f.sharing.principals)
        .find(|p| p.external)
        .unwrap();
    assert!(vendor.id.ends_with("@partner.example.net"));
    let domain = (listed.iter())
        .find(|f| {
            (f.sharing.links.iter())
                .any(|l| l.audience == sluice::model::LinkAudience::Organization)
        })
        .unwrap();
    assert!(!domain.shared_externally, "shared with our own domain");

    let plugin = h.plugin("google");
    let session = InstanceSession::open(&plugin, &h.store, &inst).unwrap();
    let binary = listed.iter().find(|f| f.size.is_some()).unwrap();
    let (whole, md5) = mock.file_content(&binary.id).unwrap();
    assert_eq!(binary.content_hash.as_ref().unwrap().value, md5.unwrap());
    assert_eq!(binary.size, Some(whole.len() as u64));
    let chunk = (plugin.read_file(session.context(), &binary.id, 0, u32::MAX))
        .await
        .unwrap();
    assert_eq!(chunk.data, whole[..MAX_FILE_CHUNK as usize]);
    assert!(!chunk.eof);
    assert_eq!(chunk.size, Some(whole.len() as u64));
    let rest = (plugin.read_file(
        session.context(),
        &binary.id,
        u64::from(MAX_FILE_CHUNK),
        4096,
    ))
    .await
    .unwrap();
    assert_eq!(rest.data, whole[MAX_FILE_CHUNK as usize..]);
    assert!(rest.eof);
    let media = mock.api_requests();
    assert!(
        (media.iter()).any(|r| r.status == 206 && r.query_param("alt").as_deref() == Some("media"))
    );

    let doc = (listed.iter())
        .find(|f| f.mime_type.as_deref() == Some("application/vnd.google-apps.document"))
        .unwrap();
    let (exported, _) = mock.file_content(&doc.id).unwrap();
    let first = (plugin.read_file(session.context(), &doc.id, 0, 1_000))
        .await
        .unwrap();
    assert_eq!(first.data, exported[..1_000]);
    assert!(
        (mock.api_requests().iter()).any(|r| r.path().ends_with("/export")
            && r.query_param("mimeType").as_deref()
                == Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document")),
        "a Google Doc is exported as .docx"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_actions_show_in_the_next_files_scan() {
    let mock = GoogleMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let inst = connect(&h, &mock).await;
    h.scan(&inst, &[Kind::Files], 100).await;
    let listed = files(&h, &inst);
    let find =
        |f: &dyn Fn(&sluice::model::File) -> bool| listed.iter().find(|x| f(x)).unwrap().id.clone();
    let public = find(&|f| f.public);
    let external = find(&|f| f.shared_externally && !f.public);
    let private = find(&|f| !f.shared_externally && f.sharing.links.is_empty() && f.size.is_some());
    let file = |h: &Harness, id: &str| files(h, &inst).into_iter().find(|f| f.id == id).unwrap();

    // remove-public-link: planned without a write, then done; the next scan shows it.
    mock.clear_requests();
    let planned = h
        .act(&inst, action(ActionKind::RemovePublicLink, &public, true))
        .await
        .unwrap();
    assert_eq!(planned.status, "planned");
    assert_eq!(
        planned.requests,
        [format!(
            "DELETE {}/drive/v3/files/{public}/permissions/anyoneWithLink?supportsAllDrives=true",
            mock.base_url()
        )]
    );
    assert!(mock.requests().iter().all(|r| !r.is_write()));
    let done = h
        .act(&inst, action(ActionKind::RemovePublicLink, &public, false))
        .await
        .unwrap();
    assert_eq!(done.status, "done", "{done:?}");
    let again = h
        .act(&inst, action(ActionKind::RemovePublicLink, &public, false))
        .await
        .unwrap();
    assert_eq!(again.status, "already");

    // remove-file-collaborator on the external person, by email.
    let person = (file(&h, &external).sharing.principals.iter())
        .find(|p| p.external)
        .unwrap()
        .id
        .clone();
    let mut remove = action(ActionKind::RemoveFileCollaborator, &external, false);
    remove.params = vec![("principal".into(), person.clone())];
    assert_eq!(h.act(&inst, remove.clone()).await.unwrap().status, "done");
    assert_eq!(h.act(&inst, remove).await.unwrap().status, "already");

    // apply-label, trash and quarantine.
    let mut label = action(ActionKind::ApplyLabel, &private, false);
    label.params = vec![("label".into(), "LbL-confidential".into())];
    assert_eq!(h.act(&inst, label.clone()).await.unwrap().status, "done");
    assert_eq!(mock.labels_of(&private), ["LbL-confidential"]);
    assert_eq!(h.act(&inst, label).await.unwrap().status, "already");
    let quarantined = find(&|f| f.sharing.links.iter().any(|l| l.domain.is_none()) && !f.public);
    let done = h
        .act(
            &inst,
            action(ActionKind::QuarantineFile, &quarantined, false),
        )
        .await
        .unwrap();
    assert_eq!(done.status, "done", "{done:?}");
    assert_eq!(done.requests.len(), 2, "move, and the domain link deleted");
    assert_eq!(mock.placement_of(&quarantined).unwrap().0, ["0QUARANTINE"]);
    let again = h
        .act(
            &inst,
            action(ActionKind::QuarantineFile, &quarantined, false),
        )
        .await
        .unwrap();
    assert_eq!(again.status, "already");
    let trashed = find(&|f| {
        f.sharing.links.is_empty()
            && f.sharing.principals.is_empty()
            && f.size.is_some()
            && f.id != private
    });
    assert_eq!(
        h.act(&inst, action(ActionKind::TrashFile, &trashed, false))
            .await
            .unwrap()
            .status,
        "done"
    );

    let reports = h.scan(&inst, &[Kind::Files], 100).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    assert_eq!(reports[0].deleted, 1, "the trashed file");
    assert_eq!(h.live(&inst, Kind::Files), mock.expected().files);
    assert!(!file(&h, &public).public);
    assert!(!file(&h, &external).shared_externally);
    assert_eq!(file(&h, &private).labels, ["LbL-confidential"]);
    assert!(file(&h, &quarantined).sharing.links.is_empty());
    assert_eq!(mock.expected().public_files, 1);
}

/// Drive's change feed: a cursor in the feed (what a host that keeps the files
/// position between scans would pass) lists only what changed since; a full rescan
/// lists the new file too and stores every file once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_change_feed_lists_only_changed_files_and_a_rescan_stores_each_once() {
    use sluice::session::InstanceSession;

    let mock = GoogleMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let inst = connect(&h, &mock).await;
    h.scan(&inst, &[Kind::Files], 100).await;
    let plugin = h.plugin("google");
    let session = InstanceSession::open(&plugin, &h.store, &inst).unwrap();
    let start = {
        let page = (plugin.list(session.context(), Kind::Files, None))
            .await
            .unwrap();
        // The listing's cursor names the feed's start token.
        let cursor: serde_json::Value =
            serde_json::from_str(page.next_cursor.as_deref().unwrap()).unwrap();
        // One page of files: the cursor is already the feed's, at the start token.
        (cursor["start"].as_str())
            .or(cursor["token"].as_str())
            .unwrap()
            .to_owned()
    };
    let added = mock.add_file(true);
    let renamed = mock.file_ids()[3].clone();
    mock.rename_file(&renamed, "renamed.pdf");
    mock.clear_requests();
    let feed = format!(r#"{{"changes":true,"token":"{start}"}}"#);
    let page = (plugin.list(session.context(), Kind::Files, Some(feed)))
        .await
        .unwrap();
    let ids: HashSet<String> = (page.records.iter())
        .filter_map(|r| match r {
            Record::File(f) => Some(f.id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(ids, HashSet::from([added.clone(), renamed.clone()]));
    assert_eq!(page.next_cursor, None, "the feed's last page");
    let requests = mock.api_requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].path(), "/drive/v3/changes");

    let reports = h.scan(&inst, &[Kind::Files], 100).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    assert_eq!(reports[0].deleted, 0);
    assert_eq!(h.live(&inst, Kind::Files), 10);
    assert_eq!(
        h.records(&inst, Kind::Files, true).len(),
        10,
        "no duplicates"
    );
    let listed = files(&h, &inst);
    assert!(listed.iter().any(|f| f.id == added && f.shared_externally));
    assert!(
        listed
            .iter()
            .any(|f| f.id == renamed && f.name == "renamed.pdf")
    );
}

/// DLP near-real-time: Drive's push notifications (`changes.watch`) reach a relay
/// that POSTs the daemon's hook with the instance's secret as a bearer token; the
/// hook starts a files scan at once, which lists the new file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_files_hook_posted_with_the_secret_lists_a_new_file_at_once() {
    use sluice_tests::daemon::TestDaemon;

    let mock = GoogleMock::start(GoogleMockConfig {
        users: 5,
        files: 3,
        ..config()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = TestDaemon::start(dir.path()).await;
    let config: serde_json::Map<String, serde_json::Value> = (instance_config(&mock, &[])
        .into_iter())
    .map(|(k, v)| (k, serde_json::Value::String(v)))
    .collect();
    let connected = d
        .connect(
            "google",
            "acme",
            serde_json::Value::Object(config),
            serde_json::json!({ "private_key": TEST_RSA_PRIVATE_KEY_PKCS8_PEM }),
        )
        .await;
    d.wait_scanned("acme").await;
    assert_eq!(d.all_ids("acme", "files", 100).await.len(), 3);
    let secret = d.hook_secret(&connected);

    let added = mock.add_file(false);
    let hook = |token: &str| {
        d.client()
            .post(d.url("/hooks/acme?kind=files"))
            .bearer_auth(token)
            .header("x-goog-resource-state", "change")
            .body("")
    };
    assert_eq!(d.raw(hook("wrong")).await.status().as_u16(), 401);
    let ok = d.raw(hook(secret.expose())).await;
    assert_eq!(ok.status().as_u16(), 202);
    assert_eq!(d.wait_for_record("acme", "files", &added).await.len(), 4);
    d.daemon.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_google_fixtures_parse_into_records() {
    let Some(fixtures) = shared_fixtures() else {
        eprintln!("../shared/fixtures not present; skipping the published-payload check");
        return;
    };
    let dir = fixtures.join("google");
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_slice(
            &std::fs::read(dir.join(format!("{name}.rendered-from-discovery.json"))).unwrap(),
        )
        .unwrap()
    };
    let mock = GoogleMock::start(GoogleMockConfig {
        fixtures_dir: Some(dir.clone()),
        // The published users: the admin impersonated is the fixture's Alice.
        admin_email: "alice.admin@example.com".into(),
        ..config()
    })
    .await
    .unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect_with(
        &h,
        &mock,
        TEST_RSA_PRIVATE_KEY_PKCS8_PEM,
        &[("admin_email", "alice.admin@example.com")],
    )
    .await
    .unwrap();
    let reports = h.scan(&inst, &[], 10).await;
    for r in &reports {
        assert!(r.error.is_none(), "{:?}: {:?}", r.kind, r.error);
    }
    let users = h.users(&inst);
    assert_eq!(users.len(), 2);
    let alice = users
        .iter()
        .find(|u| u.id == "104857291836450193827")
        .unwrap();
    assert_eq!(alice.roles, ["_SEED_ADMIN_ROLE"]);
    assert!(alice.is_admin);
    assert_eq!(alice.raw.value(), read("directory-users.list")["users"][0]);
    assert_eq!(h.live(&inst, Kind::Groups), 2);
    let activities = h.activities(&inst);
    let published: usize = ["login", "admin", "drive", "token"]
        .iter()
        .map(|app| {
            (read(&format!("reports-activities.list-{app}"))["items"]
                .as_array()
                .unwrap()
                .iter())
            .map(|a| a["events"].as_array().unwrap().len())
            .sum::<usize>()
        })
        .sum();
    assert_eq!(activities.len(), published);
    assert_eq!(h.live(&inst, Kind::AppPermissions), 2);
    let listed = files(&h, &inst);
    assert_eq!(listed.len(), 3);
    assert_eq!(listed.iter().filter(|f| f.shared_externally).count(), 2);
    assert_eq!(listed.iter().filter(|f| f.public).count(), 1);
}

/// `sluice scan --record` against the mock, then `sluice test-connector` on what it
/// wrote, with the mock no longer asked: the recording replays to a passing report
/// (the activity searches end at `context.now`, so the replay asks for the same
/// windows), files and their change feed included, and holds neither the private key
/// nor the access token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_scan_passes_test_connector_without_the_provider() {
    use sluice::model::grants::{GrantRequest, GrantSet};

    let mock = GoogleMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    // Every action but remove-file-collaborator, whose dry run needs a `principal`
    // that test-connector's default fixtures do not name.
    let info = h.plugin("google").info.clone();
    let actions: Vec<ActionKind> = (info.actions.iter().copied())
        .filter(|a| *a != ActionKind::RemoveFileCollaborator)
        .collect();
    let pairs = instance_config(&mock, &[]);
    let config: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let (inst, _) = h
        .connect_granting(
            "google",
            "acme",
            &config,
            &[("private_key", TEST_RSA_PRIVATE_KEY_PKCS8_PEM)],
            GrantRequest {
                egress: Some(GrantSet::All),
                actions: Some(GrantSet::Only(actions)),
            },
        )
        .await
        .unwrap();
    let google = sluice_tests::connector_under_test("google");
    // A line of the private key's body stands for the key.
    let key_line = TEST_RSA_PRIVATE_KEY_PKCS8_PEM.lines().nth(1).unwrap();
    sluice_tests::record_then_replay(
        &h,
        &inst,
        &google,
        sluice_tests::Recording {
            secrets: &[key_line, "PRIVATE KEY"],
            token_path: Some("/token"),
        },
        || mock.requests(),
        || mock.clear_requests(),
    )
    .await;
}
