//! The Salesforce connector end to end: mock org (REST and Tooling SOQL, sObject
//! writes, Event Monitoring files, the JWT bearer token endpoint) on loopback → wasm
//! component → sled.

use std::collections::HashSet;

use sluice::control::ConnectError;
use sluice::model::{
    ActionKind, ActivityKind, Capability, ConnectorError, Kind, Outcome, Record, UserStatus,
};
use sluice::scan::{ScanOptions, scan_instance};
use sluice::store::{Instance, InstanceStatus, RecordFilter};
use sluice_mocks::oauth::{OTHER_RSA_PRIVATE_KEY_PKCS8_PEM, TEST_RSA_PRIVATE_KEY_PKCS8_PEM};
use sluice_mocks::{Faults, SalesforceMock, SalesforceMockConfig};
use sluice_tests::{
    Harness, action, assert_waited_out_the_first_429, shared_fixtures, test_plugin,
};

fn config() -> SalesforceMockConfig {
    SalesforceMockConfig {
        users: 450,
        admins: 3,
        frozen_users: 4,
        permset_admins: 2,
        external_users: 6,
        inactive_users: 5,
        groups: 3,
        members_per_group: 4,
        role_groups: 2,
        login_history: 430,
        setup_audit: 17,
        event_log_files: 2,
        rows_per_log_file: 7,
        oauth_tokens: 5,
        files: 250,
        public_links: 3,
        ..Default::default()
    }
}

async fn connect_with(
    h: &Harness,
    mock: &SalesforceMock,
    key: &str,
) -> Result<(Instance, sluice::model::Permissions), ConnectError> {
    let base = mock.base_url();
    h.connect_to(
        "salesforce",
        "acme",
        &[
            ("instance_url", &base),
            ("login_url", &base),
            ("consumer_key", &mock.config().consumer_key),
            ("username", &mock.config().username),
        ],
        &[("private_key", key)],
    )
    .await
}

async fn connect(h: &Harness, mock: &SalesforceMock) -> Instance {
    connect_with(h, mock, TEST_RSA_PRIVATE_KEY_PKCS8_PEM)
        .await
        .expect("connect")
        .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_scan_collects_every_kind_with_exact_counts_across_batches() {
    let mock = SalesforceMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let (inst, perms) = connect_with(&h, &mock, TEST_RSA_PRIVATE_KEY_PKCS8_PEM)
        .await
        .unwrap();
    assert_eq!(perms.principal.as_deref(), Some("integration@acme.example"));
    assert!(perms.granted.contains(&"PermissionsManageUsers".to_owned()));
    assert!(perms.granted.contains(&"EventLogFile".to_owned()));
    assert!(perms.missing.is_empty(), "{:?}", perms.missing);
    // The host's JWT: the consumer key, the username, the login URL as audience.
    let claims = mock.oauth().assertions();
    assert!(!claims.is_empty());
    assert_eq!(claims[0]["iss"], mock.config().consumer_key.as_str());
    assert_eq!(claims[0]["sub"], "integration@acme.example");
    assert_eq!(claims[0]["aud"], mock.base_url());

    mock.clear_requests();
    // 200 a batch, Salesforce's smallest: several batches of users and sign-ins.
    let reports = h.scan(&inst, &[], 200).await;
    for r in &reports {
        assert!(r.error.is_none(), "{:?} failed: {:?}", r.kind, r.error);
    }
    let exp = mock.expected();
    assert_eq!(
        (
            exp.users,
            exp.groups,
            exp.logon,
            exp.admin_activity,
            exp.user_activity
        ),
        (450, 3, 430, 17, 14)
    );
    assert_eq!(h.live(&inst, Kind::Users), exp.users);
    assert_eq!(h.live(&inst, Kind::Groups), exp.groups);
    assert_eq!(h.live(&inst, Kind::Activities), exp.activities);
    assert_eq!(h.live(&inst, Kind::AppPermissions), exp.app_permissions);
    assert_eq!(h.live(&inst, Kind::Findings), exp.findings);
    // Files: two batches of latest versions, each completed with its sharing.
    assert_eq!((exp.files, exp.public_files), (250, 3));
    assert_eq!(h.live(&inst, Kind::Files), exp.files);
    let files = files(&h, &inst);
    let count = |f: &dyn Fn(&sluice::model::File) -> bool| files.iter().filter(|x| f(x)).count();
    assert_eq!(count(&|f| f.public), exp.public_files);
    assert_eq!(count(&|f| f.shared_externally), exp.externally_shared_files);
    assert!(exp.externally_shared_files > exp.public_files);
    assert_eq!(count(&|f| f.content_hash.is_some()), exp.files);

    let users = h.users(&inst);
    let count = |f: &dyn Fn(&sluice::model::User) -> bool| users.iter().filter(|u| f(u)).count();
    assert_eq!(count(&|u| u.is_admin), exp.admins);
    assert_eq!(
        exp.admins,
        1 + 3 + 2,
        "integration user, admins, Modify All Data holders"
    );
    assert_eq!(count(&|u| u.status == UserStatus::Suspended), exp.suspended);
    assert_eq!(count(&|u| u.status == UserStatus::Disabled), exp.disabled);
    assert_eq!(count(&|u| u.is_external), exp.external);
    assert_eq!((exp.suspended, exp.disabled, exp.external), (4, 5, 6));
    assert_eq!(
        count(&|u| u.roles.iter().any(|r| r == "Modify All Data (temporary)")),
        2
    );
    let owner = users
        .iter()
        .find(|u| u.login.as_deref() == Some("integration@acme.example"))
        .unwrap();
    assert_eq!(owner.roles, ["System Administrator"]);
    assert_eq!(owner.raw.value()["Profile"]["Name"], "System Administrator");

    let memberships: usize = (h.records(&inst, Kind::Groups, false).iter())
        .map(|r| match &r.record {
            Record::Group(g) => g.members.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(memberships, exp.group_memberships);
    assert_eq!(memberships, 3 * 4 + 1, "members plus one nested group");

    let acts = h.activities(&inst);
    let kind = |k| acts.iter().filter(|a| a.kind == k).count();
    // Event Monitoring's Login rows are sign-ins too.
    let login_rows = acts
        .iter()
        .filter(|a| a.kind == ActivityKind::Logon && a.action == "Login")
        .count();
    assert_eq!(kind(ActivityKind::Logon), exp.logon + login_rows);
    assert_eq!(kind(ActivityKind::Admin), exp.admin_activity);
    assert_eq!(kind(ActivityKind::User) + login_rows, exp.user_activity);
    let failed = acts
        .iter()
        .filter(|a| a.action == "login" && a.outcome == Outcome::Failure)
        .count();
    assert!(failed > 0);
    let login = acts.iter().find(|a| a.action == "login").unwrap();
    assert_eq!(
        login.location.as_ref().and_then(|l| l.city.as_deref()),
        Some("Amsterdam")
    );

    // Batches of 200 followed by nextRecordsUrl until done.
    let requests = mock.requests();
    let batches = requests
        .iter()
        .filter(|r| r.path().starts_with("/services/data/v62.0/query/01g"))
        .count();
    assert!(batches >= 2 + 2, "{batches} next batches");
    let status = h.store.instance("acme").unwrap().status;
    assert!(
        matches!(status, InstanceStatus::Connected { .. }),
        "{status:?}"
    );
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
async fn files_are_listed_with_their_sharing_and_read_in_chunks_through_the_host() {
    use sluice::runtime::MAX_FILE_CHUNK;
    use sluice::session::InstanceSession;

    let large = MAX_FILE_CHUNK as usize + 1_000;
    let mock = SalesforceMock::start(SalesforceMockConfig {
        files: 7,
        large_file: large,
        public_links: 1,
        ..config()
    })
    .await
    .unwrap();
    let h = Harness::new().await;
    let inst = connect(&h, &mock).await;
    mock.clear_requests();
    let reports = h.scan(&inst, &[Kind::Files], 200).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    let stored = files(&h, &inst);
    let mut ids: Vec<String> = stored.iter().map(|f| f.id.clone()).collect();
    ids.sort();
    assert_eq!(ids, mock.file_ids());
    // Sharing is read with ContentDocumentId IN (…), never unfiltered.
    let queries: Vec<String> = (mock.requests().iter())
        .filter_map(|r| r.query_param("q"))
        .collect();
    let links: Vec<&String> = (queries.iter())
        .filter(|q| q.contains("FROM ContentDocumentLink"))
        .collect();
    assert_eq!(links.len(), 1, "{queries:?}");
    assert!(links[0].contains("WHERE ContentDocumentId IN ("));

    let first = stored.iter().find(|f| f.id == mock.file_ids()[0]).unwrap();
    assert_eq!(first.name, "Document 0.pdf");
    assert_eq!(first.mime_type.as_deref(), Some("application/pdf"));
    assert_eq!(first.size, Some(large as u64));
    assert_eq!(first.owner.as_deref(), Some("005000000000000AAA"));
    assert!(first.public, "file 0 has a public link");
    assert_eq!(first.sharing.links.len(), 1);
    let group = (first.sharing.principals.iter())
        .find(|p| p.id.starts_with("0F9"))
        .expect("the Chatter group link");
    assert_eq!(group.role, sluice::model::ShareRole::Editor);
    let second = stored.iter().find(|f| f.id == mock.file_ids()[1]).unwrap();
    assert!(second.sharing.principals.iter().any(|p| p.external));
    assert!(second.shared_externally && !second.public);

    // The host reads the content in chunks; the connector asks for ranges of the
    // latest version's VersionData, and the bytes are Salesforce's MD5 of them.
    let plugin = h.plugin("salesforce");
    let session = InstanceSession::open(&plugin, &h.store, &inst).unwrap();
    let (whole, checksum) = mock.file_content(&first.id).unwrap();
    assert_eq!(first.content_hash.as_ref().unwrap().value, checksum);
    mock.clear_requests();
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
    let ranged: Vec<_> = (mock.requests().into_iter())
        .filter(|r| r.path().ends_with("/VersionData"))
        .map(|r| r.status)
        .collect();
    assert_eq!(ranged, [206, 206]);

    // An org that ignores Range answers the whole content, cut to the window.
    let whole_only = SalesforceMock::start(SalesforceMockConfig {
        files: 2,
        version_ranges: false,
        ..config()
    })
    .await
    .unwrap();
    let h2 = Harness::new().await;
    let inst2 = connect(&h2, &whole_only).await;
    let id = whole_only.file_ids()[1].clone();
    let (content, _) = whole_only.file_content(&id).unwrap();
    let plugin = h2.plugin("salesforce");
    let session = InstanceSession::open(&plugin, &h2.store, &inst2).unwrap();
    let chunk = (plugin.read_file(session.context(), &id, 100, 50))
        .await
        .unwrap();
    assert_eq!(chunk.data, content[100..150]);
    assert_eq!((chunk.eof, chunk.size), (false, Some(content.len() as u64)));
    let missing = plugin
        .read_file(session.context(), "069999999999999AAA", 0, 10)
        .await
        .unwrap_err();
    assert!(
        matches!(missing, ConnectorError::NotFound(_)),
        "{missing:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trashing_a_file_and_removing_its_public_link_show_in_the_next_scans() {
    let mock = SalesforceMock::start(SalesforceMockConfig {
        files: 5,
        public_links: 2,
        ..config()
    })
    .await
    .unwrap();
    let h = Harness::new().await;
    let inst = connect(&h, &mock).await;
    h.scan(&inst, &[Kind::Files], 200).await;
    assert_eq!(h.live(&inst, Kind::Files), 5);
    let ids = mock.file_ids();
    let base = format!("{}/services/data/v62.0/sobjects", mock.base_url());

    // trash-file: the document goes to the Recycle Bin.
    let target = ids[4].clone();
    let planned = h
        .act(&inst, action(ActionKind::TrashFile, &target, true))
        .await
        .unwrap();
    assert_eq!(
        planned.requests,
        [format!("DELETE {base}/ContentDocument/{target}")]
    );
    assert_eq!(mock.file_ids().len(), 5, "a dry run deletes nothing");
    let done = h
        .act(&inst, action(ActionKind::TrashFile, &target, false))
        .await
        .unwrap();
    assert_eq!(done.status, "done", "{done:?}");
    assert!(mock.is_recycled(&target));
    let reports = h.scan(&inst, &[Kind::Files], 200).await;
    assert_eq!(reports[0].deleted, 1);
    assert_eq!(h.live(&inst, Kind::Files), 4);
    assert!(!files(&h, &inst).iter().any(|f| f.id == target));
    let again = h
        .act(&inst, action(ActionKind::TrashFile, &target, false))
        .await
        .unwrap();
    assert_eq!(again.status, "already", "ENTITY_IS_DELETED is gone already");

    // remove-public-link: the file's ContentDistribution is deleted.
    let public = ids[0].clone();
    let link = mock.public_links(&public)[0].clone();
    let planned = h
        .act(&inst, action(ActionKind::RemovePublicLink, &public, true))
        .await
        .unwrap();
    assert_eq!(
        planned.requests,
        [format!("DELETE {base}/ContentDistribution/{link}")]
    );
    assert_eq!(mock.public_links(&public).len(), 1);
    let done = h
        .act(&inst, action(ActionKind::RemovePublicLink, &public, false))
        .await
        .unwrap();
    assert_eq!(done.status, "done", "{done:?}");
    assert!(mock.public_links(&public).is_empty());
    h.scan(&inst, &[Kind::Files], 200).await;
    let file = files(&h, &inst)
        .into_iter()
        .find(|f| f.id == public)
        .unwrap();
    assert!(!file.public && file.sharing.links.is_empty());
    assert_eq!(
        files(&h, &inst).iter().filter(|f| f.public).count(),
        mock.expected().public_files
    );
    let again = h
        .act(&inst, action(ActionKind::RemovePublicLink, &public, false))
        .await
        .unwrap();
    assert_eq!(again.status, "already");
}

/// Issue 25's loop on one provider: a files scan inspects content in the host, the
/// query finds the public file holding card numbers, the action takes its link away,
/// and the rescan shows it no longer shared, without reading any content again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_file_holding_card_numbers_is_found_made_private_and_not_read_again() {
    let mock = SalesforceMock::start(SalesforceMockConfig {
        files: 6,
        public_links: 3,
        ..config()
    })
    .await
    .unwrap();
    let h = Harness::new().await;
    let inst = connect(&h, &mock).await;
    // Documents 2 and 5 are CSV (the mock cycles pdf, docx, csv): 2 has a public link,
    // 5 is shared inside the org only.
    let ids = mock.file_ids();
    let cards = "name,card\nana,4111 1111 1111 1111\nbob,5500-0000-0000-0004\n";
    mock.upload_version(&ids[2], cards.as_bytes());
    mock.upload_version(&ids[5], cards.as_bytes());

    let reports = h.scan(&inst, &[Kind::Files], 200).await;
    let inspection = reports[0].inspection.clone().expect("files are inspected");
    assert_eq!(inspection.with_hits, 2, "{inspection:?}");
    assert_eq!(inspection.inspected + inspection.not_inspected, 6);
    let query = |shared: &str| {
        let filter = RecordFilter {
            shared: Some(shared.into()),
            classifier: Some("card".into()),
            ..RecordFilter::default()
        };
        let page = h
            .store
            .query(&inst.id, Kind::Files, &filter, None, 100)
            .unwrap();
        page.items
    };
    let public = query("public");
    assert_eq!(
        public.iter().map(|r| r.record.id()).collect::<Vec<_>>(),
        [ids[2].as_str()]
    );
    let found = public[0].inspection.as_ref().unwrap();
    let sluice_inspect::Outcome::Inspected { hits, .. } = &found.outcome else {
        panic!("{found:?}")
    };
    assert_eq!((hits[0].classifier.as_str(), hits[0].count), ("card", 2));
    let snippets = hits[0].snippets.join(" ");
    assert!(!snippets.contains("4111 1111 1111 1111"), "{snippets}");
    assert!(snippets.contains("[card …1111]"), "{snippets}");
    let internal = query("internal");
    assert_eq!(
        internal.iter().map(|r| r.record.id()).collect::<Vec<_>>(),
        [ids[5].as_str()]
    );

    let done = h
        .act(&inst, action(ActionKind::RemovePublicLink, &ids[2], false))
        .await
        .unwrap();
    assert_eq!(done.status, "done", "{done:?}");
    mock.clear_requests();
    let reports = h.scan(&inst, &[Kind::Files], 200).await;
    assert!(query("public").is_empty(), "the link is gone");
    assert_eq!(query("internal").len(), 2);
    let again = reports[0].inspection.clone().unwrap();
    assert_eq!((again.unchanged, again.bytes), (6, 0), "{again:?}");
    assert!(
        !mock
            .requests()
            .iter()
            .any(|r| r.path_and_query.contains("/VersionData")),
        "an unchanged file's content is not read again"
    );
}

/// Files are a snapshot kind: the host starts every files scan without a cursor and
/// marks what it did not see as deleted, so a rescan lists every file. What a rescan
/// must show is exactly the change: a new file, a new version's content hash, and
/// nothing stored twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_files_rescan_shows_new_files_and_versions_and_stores_each_file_once() {
    let mock = SalesforceMock::start(SalesforceMockConfig {
        files: 4,
        ..config()
    })
    .await
    .unwrap();
    let h = Harness::new().await;
    let inst = connect(&h, &mock).await;
    h.scan(&inst, &[Kind::Files], 200).await;
    let before = files(&h, &inst);
    let changed = mock.file_ids()[2].clone();
    let old_hash = (before.iter().find(|f| f.id == changed).unwrap())
        .content_hash
        .clone()
        .unwrap();
    let added = mock.add_file(0);
    mock.add_version(&changed);
    let reports = h.scan(&inst, &[Kind::Files], 200).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    assert_eq!(reports[0].deleted, 0);
    let after = files(&h, &inst);
    assert_eq!(after.len(), 5);
    assert_eq!(
        h.records(&inst, Kind::Files, true).len(),
        5,
        "no duplicates"
    );
    assert!(after.iter().any(|f| f.id == added));
    let now = after.iter().find(|f| f.id == changed).unwrap();
    let (_, checksum) = mock.file_content(&changed).unwrap();
    assert_eq!(now.content_hash.as_ref().unwrap().value, checksum);
    assert_ne!(now.content_hash.as_ref().unwrap(), &old_hash);
    assert_eq!(now.raw.value()["version"]["VersionNumber"], "2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activity_rescans_read_only_new_records_and_store_each_once() {
    let mock = SalesforceMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let inst = connect(&h, &mock).await;
    let reports = h.scan(&inst, &[Kind::Activities], 200).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    let first = mock.expected().activities;
    assert_eq!(reports[0].records as usize, first);

    mock.add_logins(3);
    mock.add_setup_changes(2);
    mock.clear_requests();
    let reports = h.scan(&inst, &[Kind::Activities], 200).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    assert_eq!(reports[0].records, 5, "only the new records are stored");
    // The searches start at the newest time seen, by the SOQL WHERE clause.
    let queries: Vec<String> = mock
        .requests()
        .iter()
        .filter_map(|r| r.query_param("q"))
        .collect();
    let login = queries
        .iter()
        .find(|q| q.contains("FROM LoginHistory"))
        .unwrap();
    assert!(login.contains("WHERE LoginTime >= 20"), "{login}");
    let setup = queries
        .iter()
        .find(|q| q.contains("FROM SetupAuditTrail"))
        .unwrap();
    assert!(setup.contains("WHERE CreatedDate >= 20"), "{setup}");

    let reports = h.scan(&inst, &[Kind::Activities], 200).await;
    assert_eq!(reports[0].records, 0, "caught up: nothing stored twice");
    mock.add_logins(2);
    let reports = h.scan(&inst, &[Kind::Activities], 200).await;
    assert_eq!(reports[0].records, 2);
    assert_eq!(h.live(&inst, Kind::Activities), mock.expected().activities);
    let ids: HashSet<String> = h.activities(&inst).into_iter().map(|a| a.id).collect();
    assert_eq!(ids.len(), first + 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_s_retry_after_is_honoured_and_records_are_stored_once() {
    let mock = SalesforceMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let inst = connect(&h, &mock).await;
    mock.clear_requests();
    mock.inject_faults(Faults {
        secondary_limit: 2,
        retry_after_secs: 1,
        ..Faults::default()
    });
    let reports = h.scan(&inst, &[Kind::Users], 200).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    assert_eq!(reports[0].records as usize, 450);
    assert_eq!(h.live(&inst, Kind::Users), 450);
    let requests = mock.requests();
    assert_eq!(requests.iter().filter(|r| r.status == 429).count(), 2);
    assert_waited_out_the_first_429(&requests);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_daily_allocation_is_rate_limited() {
    let mock = SalesforceMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let inst = connect(&h, &mock).await;
    mock.clear_requests();
    // The org's 24-hour allocation runs out: 403 REQUEST_LIMIT_EXCEEDED.
    mock.inject_faults(Faults {
        primary_exhausted: true,
        retry_after_secs: 3600,
        ..Faults::default()
    });
    let reports = h.scan(&inst, &[Kind::Users], 200).await;
    assert!(
        matches!(reports[0].error, Some(ConnectorError::RateLimited(_))),
        "{reports:?}"
    );
    let requests = mock.requests();
    assert_eq!(
        requests.first().map(|r| r.status),
        Some(403),
        "{requests:?}"
    );
    assert_eq!(h.live(&inst, Kind::Users), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_salesforce_does_not_know_is_unauthorized_without_leaking_it() {
    let mock = SalesforceMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let err = connect_with(&h, &mock, OTHER_RSA_PRIVATE_KEY_PKCS8_PEM)
        .await
        .unwrap_err();
    let ConnectError::Check(ConnectorError::Unauthorized(message)) = &err else {
        panic!("{err}")
    };
    assert!(
        message.contains("invalid_grant") || message.contains("assertion"),
        "{message}"
    );
    let text = format!("{err} {err:?}");
    assert!(!text.contains("PRIVATE KEY"));
    assert!(h.store.instances().unwrap().is_empty());
    assert!(
        mock.requests()
            .iter()
            .all(|r| r.path() == "/services/oauth2/token"),
        "nothing but the token endpoint was reached"
    );
    let refused = mock.oauth().requests();
    assert!(!refused.is_empty() && refused.iter().all(|r| r.status == 400));

    // A session id that is not (or no longer) valid: INVALID_SESSION_ID.
    let err = sluice::control::connect(
        &h.store,
        &h.registry,
        sluice::control::ConnectRequest {
            connector: "salesforce".into(),
            name: "pasted".into(),
            config: [("instance_url".to_owned(), mock.base_url())].into(),
            secrets: [(
                "access_token".to_owned(),
                sluice::store::Secret::new("00Dwrong!session"),
            )]
            .into(),
            allow_private_network: true,
            auth: Some("access-token".into()),
            grants: sluice::model::grants::GrantRequest::all(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    let ConnectError::Check(ConnectorError::Unauthorized(message)) = &err else {
        panic!("{err}")
    };
    assert!(message.contains("INVALID_SESSION_ID"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn freeze_deactivate_and_revoke_show_in_the_next_scans() {
    let mock = SalesforceMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let inst = connect(&h, &mock).await;
    let target = mock.plain_user_ids().pop().unwrap();
    assert_eq!(
        h.scanned_status(&inst, &target, 200).await,
        Some(UserStatus::Active)
    );
    h.scan(&inst, &[Kind::Activities], 200).await;

    // A dry run reads, and writes nothing.
    mock.clear_requests();
    let planned = h
        .act(&inst, action(ActionKind::SuspendUser, &target, true))
        .await
        .unwrap();
    assert_eq!(planned.status, "planned");
    assert!(planned.requests[0].starts_with("PATCH "), "{planned:?}");
    assert!(planned.requests[0].contains("/sobjects/UserLogin/060"));
    assert!(mock.requests().iter().all(|r| !r.is_write()));
    assert_eq!(mock.is_frozen(&target), Some(false));

    let done = h
        .act(&inst, action(ActionKind::SuspendUser, &target, false))
        .await
        .unwrap();
    assert_eq!(done.status, "done", "{done:?}");
    assert_eq!(mock.is_frozen(&target), Some(true));
    assert_eq!(
        h.scanned_status(&inst, &target, 200).await,
        Some(UserStatus::Suspended)
    );
    // Salesforce logs the freeze in the Setup Audit Trail; the next scan shows it.
    let reports = h.scan(&inst, &[Kind::Activities], 200).await;
    assert_eq!(reports[0].records, 1);
    assert!(
        h.activities(&inst)
            .iter()
            .any(|a| a.action == "frozeuser" && a.kind == ActivityKind::Admin)
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
        h.scanned_status(&inst, &target, 200).await,
        Some(UserStatus::Active)
    );

    // Deactivation, with `mode=deactivate`.
    let mut deactivate = action(ActionKind::SuspendUser, &target, false);
    deactivate.params = vec![("mode".into(), "deactivate".into())];
    let done = h.act(&inst, deactivate).await.unwrap();
    assert_eq!(done.status, "done", "{done:?}");
    assert_eq!(mock.is_active(&target), Some(false));
    assert_eq!(
        h.scanned_status(&inst, &target, 200).await,
        Some(UserStatus::Disabled)
    );

    // Revoking an OAuth token: gone from the next app-permissions scan.
    h.scan(&inst, &[Kind::AppPermissions], 200).await;
    let token = mock.token_ids()[0].clone();
    let done = h
        .act(
            &inst,
            action(ActionKind::RevokeAppPermission, &token, false),
        )
        .await
        .unwrap();
    assert_eq!(done.status, "done");
    assert!(!mock.token_ids().contains(&token));
    h.scan(&inst, &[Kind::AppPermissions], 200).await;
    let live: Vec<String> = (h.records(&inst, Kind::AppPermissions, false).into_iter())
        .map(|r| match r.record {
            Record::AppPermission(p) => p.id,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(live.len(), mock.expected().app_permissions);
    assert!(!live.contains(&token));
    let again = h
        .act(
            &inst,
            action(ActionKind::RevokeAppPermission, &token, false),
        )
        .await
        .unwrap();
    assert_eq!(again.status, "already");

    let missing = h
        .act(
            &inst,
            action(ActionKind::SuspendUser, "005999999999999AAA", false),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(missing, ConnectorError::NotFound(_)),
        "{missing:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_missing_permissions_and_event_monitoring_in_salesforce_s_words() {
    let mock = SalesforceMock::start(SalesforceMockConfig {
        event_monitoring: false,
        permissions: vec![
            "PermissionsApiEnabled".into(),
            "PermissionsViewSetup".into(),
        ],
        ..config()
    })
    .await
    .unwrap();
    let h = Harness::new().await;
    let (inst, perms) = connect_with(&h, &mock, TEST_RSA_PRIVATE_KEY_PKCS8_PEM)
        .await
        .unwrap();
    let missing: Vec<Capability> = perms.missing.iter().map(|(c, _)| *c).collect();
    assert_eq!(
        missing,
        [
            Capability::LogonActivity,
            Capability::UserActivity,
            Capability::Files,
            Capability::AppPermissions,
            Capability::FileContent,
        ]
    );
    let why = |c| &perms.missing.iter().find(|(m, _)| *m == c).unwrap().1;
    assert!(why(Capability::LogonActivity).contains("\"Manage Users\""));
    for c in [Capability::Files, Capability::FileContent] {
        assert!(why(c).contains("\"View All Data\""), "{}", why(c));
        assert!(why(c).contains("\"Query All Files\""), "{}", why(c));
    }
    assert!(
        why(Capability::UserActivity)
            .contains("INVALID_TYPE: sObject type 'EventLogFile' is not supported"),
        "{}",
        why(Capability::UserActivity)
    );
    // Without Event Monitoring the activity scan still reads sign-ins and setup
    // changes, and skips the log files cleanly.
    let reports = h.scan(&inst, &[Kind::Activities], 200).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    let exp = mock.expected();
    assert_eq!(exp.user_activity, 0);
    assert_eq!(
        h.live(&inst, Kind::Activities),
        exp.logon + exp.admin_activity
    );
    // Without "Query All Files" Salesforce answers only the user's own files (here
    // file 0), which is why `check` names it; the sharing queries still work, since
    // they filter on ContentDocumentId.
    let reports = h.scan(&inst, &[Kind::Files], 200).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    assert_eq!(h.live(&inst, Kind::Files), 1);
    assert!(exp.files > 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_check_settings_become_findings() {
    let mock = SalesforceMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let inst = connect(&h, &mock).await;
    let reports = h.scan(&inst, &[Kind::Findings], 200).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    let exp = mock.expected();
    let findings: Vec<sluice::model::Finding> =
        (h.records(&inst, Kind::Findings, false).into_iter())
            .filter_map(|r| match r.record {
                Record::Finding(f) => Some(f),
                _ => None,
            })
            .collect();
    assert_eq!(findings.len(), exp.findings);
    assert_eq!(
        findings.iter().filter(|f| !f.passed).count(),
        exp.failing_findings
    );
    assert!(
        findings
            .iter()
            .any(|f| f.id == "health-check-score" && !f.passed)
    );
    assert!(
        mock.requests()
            .iter()
            .any(|r| r.path() == "/services/data/v62.0/tooling/query")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_salesforce_fixtures_parse_into_records() {
    let Some(fixtures) = shared_fixtures() else {
        eprintln!("../shared/fixtures not present; skipping the published-payload check");
        return;
    };
    let dir = fixtures.join("salesforce");
    let ids = |name: &str| -> HashSet<String> {
        let path = dir.join(format!("query-{name}.rendered-from-object-reference.json"));
        let value: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        (value["records"].as_array().unwrap().iter())
            .map(|i| i["Id"].as_str().unwrap().to_owned())
            .collect()
    };
    let mock = SalesforceMock::start(SalesforceMockConfig {
        fixtures_dir: Some(dir.clone()),
        ..config()
    })
    .await
    .unwrap();
    let h = Harness::new().await;
    let inst = connect(&h, &mock).await;
    let inst = h.store.instance(&inst.id).unwrap();
    // The published sign-ins and setup changes are from 2024: read from then on.
    let opts = ScanOptions {
        page_size: 200,
        activity_since: Some(1_704_067_200_000),
        ..Default::default()
    };
    let reports = scan_instance(
        &h.store,
        &h.plugin("salesforce"),
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
    let stored: HashSet<String> = users.iter().map(|u| u.id.clone()).collect();
    assert_eq!(stored, ids("user"));
    let alice = users
        .iter()
        .find(|u| u.login.as_deref() == Some("alice.admin@example.com"))
        .unwrap();
    // The published assignments carry no system permission flags: no admin is inferred.
    assert!(!alice.is_admin);
    assert_eq!(
        alice.roles,
        ["System Administrator", "Modify All Data (temporary)"]
    );
    let bob = users.iter().find(|u| u.id == "005RO000001aBcEYAU").unwrap();
    assert_eq!(bob.status, UserStatus::Disabled);
    let acts: HashSet<String> = h.activities(&inst).into_iter().map(|a| a.id).collect();
    let expected: HashSet<String> = ids("loginhistory")
        .into_iter()
        .chain(ids("setupaudittrail"))
        .collect();
    assert_eq!(acts, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_scan_passes_test_connector_without_the_provider() {
    let mock = SalesforceMock::start(SalesforceMockConfig {
        users: 30,
        login_history: 12,
        files: 12,
        ..config()
    })
    .await
    .unwrap();
    let h = Harness::new().await;
    let inst = connect(&h, &mock).await;
    sluice_tests::record_then_replay(
        &h,
        &inst,
        &test_plugin("salesforce"),
        sluice_tests::Recording {
            secrets: &["PRIVATE KEY"],
            token_path: Some("/services/oauth2/token"),
        },
        || mock.requests(),
        || mock.clear_requests(),
    )
    .await;
}

/// DLP near-real-time: a Salesforce flow (or Apex trigger) on ContentVersion POSTs to
/// the daemon's hook with the instance's secret as a bearer token; the hook starts a
/// files scan at once, which lists the new file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_files_hook_posted_with_the_secret_lists_a_new_file_at_once() {
    use sluice_tests::daemon::TestDaemon;

    let mock = SalesforceMock::start(SalesforceMockConfig {
        users: 20,
        login_history: 5,
        files: 3,
        ..config()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = TestDaemon::start(dir.path()).await;
    let base = mock.base_url();
    let connected = d
        .connect(
            "salesforce",
            "acme",
            serde_json::json!({
                "instance_url": base, "login_url": base,
                "consumer_key": mock.config().consumer_key,
                "username": mock.config().username,
            }),
            serde_json::json!({ "private_key": TEST_RSA_PRIVATE_KEY_PKCS8_PEM }),
        )
        .await;
    d.wait_scanned("acme").await;
    assert_eq!(d.all_ids("acme", "files", 100).await.len(), 3);
    let secret = d.hook_secret(&connected);

    let added = mock.add_file(0);
    let hook = |token: &str| {
        d.client()
            .post(d.url("/hooks/acme?kind=files"))
            .bearer_auth(token)
            .body(format!(r#"{{"ContentDocumentId":"{added}"}}"#))
    };
    assert_eq!(d.raw(hook("wrong")).await.status().as_u16(), 401);
    let ok = d.raw(hook(secret.expose())).await;
    assert_eq!(ok.status().as_u16(), 202);
    assert_eq!(d.wait_for_record("acme", "files", &added).await.len(), 4);
    d.daemon.shutdown().await.unwrap();
}
