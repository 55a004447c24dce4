//! The Dropbox connector end to end: mock Dropbox team (RPC and content APIs and the
//! app's token endpoint) on loopback → wasm component → sled.

use std::collections::HashSet;

use sluice::control::ConnectError;
use sluice::model::{
    ActionKind, ActivityKind, Capability, ConnectorError, Kind, Record, UserStatus,
};
use sluice::store::{Instance, InstanceStatus};
use sluice_mocks::{DROPBOX_SCOPES, DropboxMock, DropboxMockConfig, Faults};
use sluice_tests::{Harness, action, assert_waited_out_the_first_429, shared_fixtures};

const APP_KEY: &str = "dropbox-app-k3y";
const APP_SECRET: &str = "dropbox-app-s3cret";
const REFRESH: &str = "dropbox-refresh-0ff1ine";

fn config() -> DropboxMockConfig {
    DropboxMockConfig {
        client_id: APP_KEY.into(),
        client_secret: APP_SECRET.into(),
        refresh_token: REFRESH.into(),
        members: 13,
        admins: 3,
        suspended: 2,
        invited: 1,
        groups: 3,
        events: 20,
        ..Default::default()
    }
}

/// A team with files: the 12 members who are not invited (suspended members keep
/// theirs), a shared folder with outsiders, public links and outside members.
fn files_config() -> DropboxMockConfig {
    DropboxMockConfig {
        files_per_member: 2,
        shared_folder_files: 3,
        external_collaborators: 2,
        public_links: 3,
        external_file_members: 2,
        ..config()
    }
}

async fn connect_with(
    h: &Harness,
    mock: &DropboxMock,
    extra: &[(&str, &str)],
    secret: &str,
    refresh: &str,
) -> Result<(Instance, sluice::model::Permissions), ConnectError> {
    let base = mock.base_url();
    let mut config = vec![
        ("client_id", APP_KEY),
        ("api_url", base.as_str()),
        ("content_url", base.as_str()),
    ];
    config.extend_from_slice(extra);
    h.connect_to(
        "dropbox",
        "acme",
        &config,
        &[("client_secret", secret), ("refresh_token", refresh)],
    )
    .await
}

async fn connect(h: &Harness, mock: &DropboxMock) -> (Instance, sluice::model::Permissions) {
    connect_with(h, mock, &[], APP_SECRET, REFRESH)
        .await
        .unwrap()
}

fn files(h: &Harness, inst: &Instance) -> Vec<sluice::model::File> {
    (h.records(inst, Kind::Files, false).into_iter())
        .filter_map(|r| match r.record {
            Record::File(f) => Some(f),
            _ => None,
        })
        .collect()
}

/// How many requests went to `route`.
fn calls(mock: &DropboxMock, route: &str) -> usize {
    let path = format!("/2/{route}");
    (mock.api_requests().iter())
        .filter(|r| r.path() == path)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_scan_collects_every_kind_with_exact_counts_across_cursor_pages() {
    let mock = DropboxMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let (inst, perms) = connect(&h, &mock).await;
    assert_eq!(perms.principal.as_deref(), Some("Acme Mock"));
    assert_eq!(
        perms.granted,
        [
            "team_info.read",
            "members.read",
            "groups.read",
            "events.read",
            "team_data.member",
            "files.metadata.read",
            "sharing.read",
            "files.content.read"
        ]
    );
    assert!(perms.missing.is_empty(), "{:?}", perms.missing);
    // The app's refresh token, exchanged at /oauth2/token with the app key and secret.
    let token = &mock.oauth().requests()[0];
    assert_eq!(token.field("grant_type"), Some("refresh_token"));
    assert_eq!(token.field("refresh_token"), Some(REFRESH));
    assert_eq!(token.field("client_id"), Some(APP_KEY));

    mock.clear_requests();
    let reports = h.scan(&inst, &[], 4).await;
    for r in &reports {
        assert!(r.error.is_none(), "{:?} failed: {:?}", r.kind, r.error);
    }
    let exp = mock.expected();
    assert_eq!(
        (
            exp.users,
            exp.admins,
            exp.suspended,
            exp.invited,
            exp.groups
        ),
        (13, 3, 2, 1, 3)
    );
    assert_eq!(h.live(&inst, Kind::Users), exp.users);
    assert_eq!(h.live(&inst, Kind::Groups), exp.groups);
    let users = h.users(&inst);
    let count = |f: &dyn Fn(&sluice::model::User) -> bool| users.iter().filter(|u| f(u)).count();
    assert_eq!(count(&|u| u.is_admin), exp.admins);
    assert_eq!(count(&|u| u.roles == ["Team admin"]), 1);
    assert_eq!(count(&|u| u.status == UserStatus::Suspended), exp.suspended);
    assert_eq!(count(&|u| u.status == UserStatus::Disabled), exp.invited);
    assert!(users.iter().all(|u| u.group_ids.len() == 1));
    let members: usize = (h.records(&inst, Kind::Groups, false).iter())
        .map(|r| match &r.record {
            Record::Group(g) => g.members.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(members, exp.group_members);

    let acts = h.activities(&inst);
    assert_eq!(
        acts.len(),
        exp.logon + exp.admin_activity + exp.user_activity
    );
    let kind = |k| acts.iter().filter(|a| a.kind == k).count();
    assert_eq!(
        (
            kind(ActivityKind::Logon),
            kind(ActivityKind::Admin),
            kind(ActivityKind::User)
        ),
        (exp.logon, exp.admin_activity, exp.user_activity)
    );
    assert_eq!(
        (exp.logon, exp.admin_activity, exp.user_activity),
        (7, 6, 7)
    );
    let sign_in = acts.iter().find(|a| a.kind == ActivityKind::Logon).unwrap();
    assert_eq!(sign_in.action, "login_success");
    assert!(sign_in.ip.as_deref().unwrap().starts_with("198.51.100."));
    assert_eq!(
        sign_in.location.as_ref().unwrap().country_code.as_deref(),
        Some("DE")
    );
    assert!(
        sign_in
            .session_id
            .as_deref()
            .unwrap()
            .starts_with("dbwsid:")
    );

    // Cursor paging with limit 4: members and groups continue while has_more. The
    // files scan walks the members too, 50 at a time: one more first page.
    assert_eq!(calls(&mock, "team/members/list_v2"), 2);
    assert_eq!(
        calls(&mock, "team/members/list/continue_v2"),
        13_usize.div_ceil(4) - 1
    );
    assert_eq!(calls(&mock, "team/groups/list"), 1);
    assert_eq!(calls(&mock, "team/groups/list/continue"), 0);
    assert_eq!(calls(&mock, "team/groups/members/list"), 3);
    // The events are all in the newest range of the partitioned first scan, whose
    // search continues for the rest.
    assert!(calls(&mock, "team_log/get_events/continue") >= 20_usize.div_ceil(4) - 1);
    let status = h.store.instance("acme").unwrap().status;
    assert!(
        matches!(status, InstanceStatus::Connected { .. }),
        "{status:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activity_rescans_read_only_new_events_and_store_each_once() {
    let mock = DropboxMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect(&h, &mock).await;
    let reports = h.scan(&inst, &[Kind::Activities], 10).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    assert_eq!(reports[0].records, 20);

    mock.add_activity(5);
    mock.clear_requests();
    let reports = h.scan(&inst, &[Kind::Activities], 10).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    assert_eq!(reports[0].records, 5, "only the new events are stored");
    // One search, from the newest event's second on.
    assert_eq!(calls(&mock, "team_log/get_events"), 1);
    assert_eq!(calls(&mock, "team_log/get_events/continue"), 0);

    let reports = h.scan(&inst, &[Kind::Activities], 10).await;
    assert_eq!(reports[0].records, 0, "caught up: nothing stored twice");
    mock.add_activity(1);
    let reports = h.scan(&inst, &[Kind::Activities], 10).await;
    assert_eq!(reports[0].records, 1);
    let ids: HashSet<String> = h.activities(&inst).into_iter().map(|a| a.id).collect();
    assert_eq!(ids.len(), 26);
    assert_eq!(h.live(&inst, Kind::Activities), 26);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_s_retry_after_is_honoured_and_records_are_stored_once() {
    let mock = DropboxMock::start(config()).await.unwrap();
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
    assert_eq!(reports[0].records, 13);
    assert_eq!(h.live(&inst, Kind::Users), 13);
    let requests = mock.api_requests();
    assert_eq!(requests.iter().filter(|r| r.status == 429).count(), 2);
    assert_waited_out_the_first_429(&requests);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_refresh_token_or_secret_is_unauthorized_at_connect_and_no_secret_leaks() {
    let mock = DropboxMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    for (secret, refresh) in [
        (APP_SECRET, "dropbox-refresh-revoked"),
        ("dropbox-wrong-secret", REFRESH),
    ] {
        let err = connect_with(&h, &mock, &[], secret, refresh)
            .await
            .unwrap_err();
        let ConnectError::Check(ConnectorError::Unauthorized(message)) = &err else {
            panic!("expected unauthorized, got {err}");
        };
        let shown = format!("{message} {err} {err:?}");
        for leaked in [
            APP_SECRET,
            "dropbox-wrong-secret",
            REFRESH,
            "dropbox-refresh-revoked",
        ] {
            assert!(!shown.contains(leaked), "{shown}");
        }
    }
    assert!(h.store.instances().unwrap().is_empty());
    assert_eq!(mock.oauth().issued(), 0);
    assert!(
        mock.api_requests().is_empty(),
        "no API call without a token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_missing_scopes_in_dropbox_s_words() {
    let scopes: Vec<String> = (DROPBOX_SCOPES.iter())
        .filter(|s| !matches!(**s, "events.read" | "sharing.read"))
        .map(|s| s.to_string())
        .collect();
    let mock = DropboxMock::start(DropboxMockConfig { scopes, ..config() })
        .await
        .unwrap();
    let h = Harness::new().await;
    let (inst, perms) = connect(&h, &mock).await;
    let missing: Vec<Capability> = perms.missing.iter().map(|(c, _)| *c).collect();
    assert_eq!(
        missing,
        [
            Capability::LogonActivity,
            Capability::UserActivity,
            Capability::AdminActivity,
            Capability::Files
        ]
    );
    assert!(
        perms.missing[0].1.contains("`events.read`"),
        "{:?}",
        perms.missing
    );
    assert!(
        perms.missing[0].1.contains("missing_scope"),
        "{:?}",
        perms.missing
    );
    assert!(
        perms.missing[3].1.contains("`sharing.read`"),
        "{:?}",
        perms.missing
    );
    let reports = h.scan(&inst, &[Kind::Activities], 10).await;
    assert!(
        matches!(&reports[0].error, Some(ConnectorError::Forbidden(m)) if m.contains("events.read")),
        "{reports:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspending_and_unsuspending_show_in_the_next_scans_and_errors_map() {
    let mock = DropboxMock::start(config()).await.unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect(&h, &mock).await;
    let target = mock.member_id(5);
    assert_eq!(
        h.scanned_status(&inst, &target, 50).await,
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
        [format!("POST {}/2/team/members/suspend", mock.base_url())]
    );
    assert!(mock.requests_reads_as_get().iter().all(|r| !r.is_write()));

    let done = h
        .act(&inst, action(ActionKind::SuspendUser, &target, false))
        .await
        .unwrap();
    assert_eq!(done.status, "done", "{done:?}");
    assert_eq!(mock.member_status(&target), Some("suspended"));
    assert_eq!(
        h.scanned_status(&inst, &target, 50).await,
        Some(UserStatus::Suspended)
    );
    // Dropbox logs it in the team activity log; the next incremental scan shows it.
    let reports = h.scan(&inst, &[Kind::Activities], 100).await;
    assert_eq!(reports[0].records, 1);
    let logged = (h.activities(&inst).into_iter())
        .find(|a| a.targets.contains(&target) && a.raw.value()["details"]["new_value"].is_object())
        .expect("the change in the activity log");
    assert_eq!(
        (logged.kind, logged.action.as_str()),
        (ActivityKind::Admin, "member_change_status")
    );

    // suspend_inactive_user: already; unsuspend; user_not_found; suspend_last_admin.
    let again = h
        .act(&inst, action(ActionKind::SuspendUser, &target, false))
        .await
        .unwrap();
    assert_eq!(again.status, "already", "{again:?}");
    let back = h
        .act(&inst, action(ActionKind::UnsuspendUser, &target, false))
        .await
        .unwrap();
    assert_eq!(back.status, "done");
    assert_eq!(
        h.scanned_status(&inst, &target, 50).await,
        Some(UserStatus::Active)
    );
    let twice = h
        .act(&inst, action(ActionKind::UnsuspendUser, &target, false))
        .await
        .unwrap();
    assert_eq!(twice.status, "already");
    let missing = h
        .act(
            &inst,
            action(ActionKind::SuspendUser, "dbmid:nobody", false),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(missing, ConnectorError::NotFound(_)),
        "{missing:?}"
    );
    let admin = mock.member_id(0);
    let refused = h
        .act(&inst, action(ActionKind::SuspendUser, &admin, false))
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, ConnectorError::Other(m) if m.contains("last admin")),
        "{refused:?}"
    );
    assert_eq!(mock.member_status(&admin), Some("active"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_dropbox_fixtures_parse_into_records() {
    let Some(fixtures) = shared_fixtures() else {
        eprintln!("../shared/fixtures not present; skipping the published-payload check");
        return;
    };
    let dir = fixtures.join("dropbox");
    let published: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("team-members-list_v2.rendered-from-stone.json")).unwrap(),
    )
    .unwrap();
    let mock = DropboxMock::start(DropboxMockConfig {
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
    let tami = &users[0];
    assert_eq!(tami.id, "dbmid:FDFSVF-DFSDF");
    assert_eq!(tami.email.as_deref(), Some("tami@seagull.com"));
    assert!(tami.is_admin);
    assert_eq!(tami.roles, ["User management admin"]);
    assert_eq!(tami.raw.value(), published["members"][0]);
    assert_eq!(h.live(&inst, Kind::Groups), exp.groups);
    let groups = h.records(&inst, Kind::Groups, false);
    let Record::Group(group) = &groups[0].record else {
        panic!("{:?}", groups[0].record);
    };
    assert_eq!(group.name, "Test group");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_listed_once_with_their_sharing_and_read_in_chunks() {
    use sluice::runtime::MAX_FILE_CHUNK;
    use sluice::session::InstanceSession;

    let mock = DropboxMock::start(DropboxMockConfig {
        members: 4,
        admins: 1,
        suspended: 1,
        invited: 0,
        files_per_member: 2,
        shared_folder_files: 3,
        external_collaborators: 2,
        public_links: 1,
        external_file_members: 1,
        file_size: MAX_FILE_CHUNK as usize + 700,
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
    // 4 members (one suspended keeps files) × 2, plus 3 in the shared folder once.
    assert_eq!(
        (exp.files, exp.public_files, exp.files_shared_externally),
        (11, 1, 5)
    );
    assert_eq!(h.live(&inst, Kind::Files), exp.files);
    let listed = files(&h, &inst);
    let mut ids: Vec<String> = listed.iter().map(|f| f.id.clone()).collect();
    ids.sort();
    let mut expected = mock.file_ids();
    expected.sort();
    assert_eq!(ids, expected);
    assert_eq!(listed.iter().filter(|f| f.public).count(), exp.public_files);
    assert_eq!(
        listed.iter().filter(|f| f.shared_externally).count(),
        exp.files_shared_externally
    );
    let plan = listed.iter().find(|f| f.name == "plan-0.txt").unwrap();
    assert_eq!(plan.path.as_deref(), Some("/Projects/plan-0.txt"));
    assert_eq!(plan.owner.as_deref(), Some("member0@acme.example"));
    let mut outside: Vec<&str> = (plan.sharing.principals.iter())
        .filter(|p| p.external)
        .map(|p| p.id.as_str())
        .collect();
    outside.sort();
    assert_eq!(
        outside,
        ["partner0@partner.example", "partner1@partner.example"]
    );
    assert!(
        plan.sharing
            .principals
            .iter()
            .any(|p| p.id == "member1@acme.example" && !p.external)
    );
    assert_eq!(plan.content_hash.as_ref().unwrap().algorithm, "dropbox");
    // The folder's members are read once per page that holds its files: pages of 3
    // entries put them on two pages of each of its two members' listings.
    assert_eq!(calls(&mock, "sharing/list_folder_members"), 4);

    // The host reads content in chunks; the connector asks Dropbox for ranges.
    let plugin = h.plugin("dropbox");
    let session = InstanceSession::open(&plugin, &h.store, &inst).unwrap();
    let whole = mock.file_content(&plan.id).unwrap();
    let chunk = (plugin.read_file(session.context(), &plan.id, 0, u32::MAX))
        .await
        .unwrap();
    assert_eq!(chunk.data.len(), MAX_FILE_CHUNK as usize);
    assert_eq!(chunk.data, whole[..MAX_FILE_CHUNK as usize]);
    assert!(!chunk.eof);
    assert_eq!(chunk.size, Some(whole.len() as u64));
    let rest = (plugin.read_file(session.context(), &plan.id, u64::from(MAX_FILE_CHUNK), 4096))
        .await
        .unwrap();
    assert_eq!(rest.data, whole[MAX_FILE_CHUNK as usize..]);
    assert!(rest.eof);
    let downloads: Vec<_> = (mock.api_requests().into_iter())
        .filter(|r| r.path() == "/2/files/download")
        .collect();
    assert!(downloads.iter().all(|r| r.status == 206), "{downloads:?}");
}

/// The file actions, each visible in the next files scan, and each `already` when
/// repeated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_actions_show_in_the_next_files_scan() {
    let mock = DropboxMock::start(files_config()).await.unwrap();
    let h = Harness::new().await;
    let admin = mock.member_id(0);
    let (inst, _) = connect_with(
        &h,
        &mock,
        &[
            ("quarantine_member", &admin),
            ("quarantine_folder", "/Quarantine"),
        ],
        APP_SECRET,
        REFRESH,
    )
    .await
    .unwrap();
    h.scan(&inst, &[Kind::Files], 100).await;
    let exp = mock.expected();
    assert_eq!(h.live(&inst, Kind::Files), exp.files);
    let find = |h: &Harness, id: &str| files(h, &inst).into_iter().find(|f| f.id == id);

    // remove-public-link: the public files lose their link.
    let public = files(&h, &inst).into_iter().find(|f| f.public).unwrap();
    let done = h
        .act(
            &inst,
            action(ActionKind::RemovePublicLink, &public.id, false),
        )
        .await
        .unwrap();
    assert_eq!(done.status, "done", "{done:?}");
    h.scan(&inst, &[Kind::Files], 100).await;
    assert!(!find(&h, &public.id).unwrap().public);
    let again = h
        .act(
            &inst,
            action(ActionKind::RemovePublicLink, &public.id, false),
        )
        .await
        .unwrap();
    assert_eq!(again.status, "already");

    // remove-file-collaborator: an outside member of a file of their own.
    let shared = (files(&h, &inst).into_iter())
        .find(|f| {
            f.path
                .as_deref()
                .is_some_and(|p| p.starts_with("/Documents"))
                && f.sharing.principals.iter().any(|p| p.external)
        })
        .unwrap();
    let outsider = shared
        .sharing
        .principals
        .iter()
        .find(|p| p.external)
        .unwrap()
        .id
        .clone();
    let mut remove = action(ActionKind::RemoveFileCollaborator, &shared.id, false);
    remove.params = vec![("principal".into(), outsider.clone())];
    let done = h.act(&inst, remove.clone()).await.unwrap();
    assert_eq!(done.status, "done", "{done:?}");
    h.scan(&inst, &[Kind::Files], 100).await;
    assert!(!find(&h, &shared.id).unwrap().shared_externally);
    assert_eq!(h.act(&inst, remove).await.unwrap().status, "already");
    // An outsider of the shared folder reaches its files through the folder: refused.
    let plan = files(&h, &inst)
        .into_iter()
        .find(|f| f.name == "plan-0.txt")
        .unwrap();
    let mut folder_guest = action(ActionKind::RemoveFileCollaborator, &plan.id, false);
    folder_guest.params = vec![("principal".into(), "partner0@partner.example".into())];
    let refused = h.act(&inst, folder_guest).await.unwrap_err();
    assert!(
        matches!(&refused, ConnectorError::Other(m) if m.contains("shared folder")),
        "{refused:?}"
    );

    // trash-file: gone from the next scan (marked deleted by the host).
    let victim = mock.file_ids()[5].clone();
    let done = h
        .act(&inst, action(ActionKind::TrashFile, &victim, false))
        .await
        .unwrap();
    assert_eq!(done.status, "done", "{done:?}");
    h.scan(&inst, &[Kind::Files], 100).await;
    assert!(find(&h, &victim).is_none());
    assert_eq!(h.live(&inst, Kind::Files), exp.files - 1);
    let again = h
        .act(&inst, action(ActionKind::TrashFile, &victim, false))
        .await
        .unwrap();
    assert_eq!(again.status, "already");

    // quarantine-file: the member's file is gone, a copy is in the admin's folder.
    let member = mock.member_id(3);
    let target = (mock.file_ids().into_iter())
        .find(|id| id.starts_with(&member))
        .unwrap();
    let planned = h
        .act(&inst, action(ActionKind::QuarantineFile, &target, true))
        .await
        .unwrap();
    assert_eq!(planned.requests.len(), 3, "{planned:?}");
    assert!(
        mock.paths_of(0)
            .iter()
            .all(|p| !p.starts_with("/Quarantine"))
    );
    let done = h
        .act(&inst, action(ActionKind::QuarantineFile, &target, false))
        .await
        .unwrap();
    assert_eq!(done.status, "done", "{done:?}");
    h.scan(&inst, &[Kind::Files], 100).await;
    assert!(find(&h, &target).is_none());
    let held = (files(&h, &inst).into_iter())
        .find(|f| {
            f.path
                .as_deref()
                .is_some_and(|p| p.starts_with("/Quarantine/"))
        })
        .expect("the copy in the quarantine folder");
    assert!(held.id.starts_with(&admin), "{}", held.id);
    assert_eq!(
        mock.file_content(&held.id),
        mock.file_content(target.rsplit('/').next().unwrap())
    );
    let again = h
        .act(&inst, action(ActionKind::QuarantineFile, &target, false))
        .await
        .unwrap();
    assert_eq!(again.status, "already");
}

/// Files are a snapshot kind: the host starts every files scan without a cursor and
/// marks what it did not see as deleted (trash in `file_actions_show_in_the_next_files_scan`).
/// A rescan shows the new file, and stores every file once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_files_rescan_shows_a_new_file_and_stores_each_once() {
    let mock = DropboxMock::start(files_config()).await.unwrap();
    let h = Harness::new().await;
    let (inst, _) = connect(&h, &mock).await;
    h.scan(&inst, &[Kind::Files], 100).await;
    let before = h.live(&inst, Kind::Files);
    let added = mock.add_file(2, "new-contract.docx");
    let reports = h.scan(&inst, &[Kind::Files], 100).await;
    assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
    assert_eq!(h.live(&inst, Kind::Files), before + 1);
    let new = files(&h, &inst)
        .into_iter()
        .find(|f| f.id == added)
        .unwrap();
    assert_eq!(
        new.mime_type.as_deref(),
        Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    );
    let ids: HashSet<String> = files(&h, &inst).into_iter().map(|f| f.id).collect();
    assert_eq!(ids.len(), before + 1);
}

/// `sluice scan --record` against the mock, then `sluice test-connector` on what it
/// wrote, with the mock no longer asked. Dropbox reads are POSTs: the "no write"
/// check sees the read routes as reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_scan_passes_test_connector_without_the_provider() {
    let mock = DropboxMock::start(DropboxMockConfig {
        members: 4,
        invited: 0,
        suspended: 0,
        files_per_member: 1,
        shared_folder_files: 1,
        external_collaborators: 1,
        public_links: 1,
        ..config()
    })
    .await
    .unwrap();
    let h = Harness::new().await;
    let admin = mock.member_id(0);
    let (inst, _) = connect_with(
        &h,
        &mock,
        &[("quarantine_member", &admin)],
        APP_SECRET,
        REFRESH,
    )
    .await
    .unwrap();
    let dropbox = sluice_tests::connector_under_test("dropbox");
    sluice_tests::record_then_replay(
        &h,
        &inst,
        &dropbox,
        sluice_tests::Recording {
            secrets: &[APP_SECRET, REFRESH],
            token_path: Some("/oauth2/token"),
        },
        || mock.requests_reads_as_get(),
        || mock.clear_requests(),
    )
    .await;
}

/// DLP near-real-time: a relay that receives Dropbox's webhook (or long-polls
/// `files/list_folder/longpoll`) posts to `/hooks/{instance}?kind=files` with the
/// instance's hook secret; the daemon scans files at once and the new file is listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hook_lists_a_new_file_at_once() {
    use sluice_tests::daemon::TestDaemon;

    let mock = DropboxMock::start(DropboxMockConfig {
        members: 3,
        invited: 0,
        suspended: 0,
        files_per_member: 1,
        ..config()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = TestDaemon::start(dir.path()).await;
    let base = mock.base_url();
    let connected = d
        .connect(
            "dropbox",
            "acme",
            serde_json::json!({ "client_id": APP_KEY, "api_url": base, "content_url": base }),
            serde_json::json!({ "client_secret": APP_SECRET, "refresh_token": REFRESH }),
        )
        .await;
    d.wait_scanned("acme").await;
    let secret = d.hook_secret(&connected);
    assert_eq!(d.all_ids("acme", "files", 1000).await.len(), 3);

    let file = mock.add_file(1, "leak.csv");
    // Dropbox's own notification body: the accounts whose files changed.
    let body = serde_json::json!({"list_folder": {"accounts": ["dbid:AAmock0001"]},
        "delta": {"users": [1001]}});
    let wrong = d
        .raw(
            d.client()
                .post(d.url("/hooks/acme?kind=files"))
                .bearer_auth("not-the-hook-secret")
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await;
    assert_eq!(wrong.status(), 401);
    let right = d
        .raw(
            d.client()
                .post(d.url("/hooks/acme?kind=files"))
                .bearer_auth(secret.expose())
                .header("content-type", "application/json")
                .body(body.to_string()),
        )
        .await;
    assert_eq!(right.status(), 202);
    assert_eq!(d.wait_for_record("acme", "files", &file).await.len(), 4);
    d.daemon.shutdown().await.unwrap();
}
