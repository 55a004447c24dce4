//! A loopback Dropbox team for the `dropbox` connector: the RPC API
//! (`api.dropboxapi.com/2`), the content API (`content.dropboxapi.com/2`) and the
//! OAuth token endpoint (`/oauth2/token`) on one server.
//!
//! As Dropbox documents:
//! - `POST /oauth2/token` with `grant_type=refresh_token`, the app key and secret
//!   ([`OAuthMock`], refresh grant; Dropbox's refresh tokens do not rotate); API calls
//!   carry `Authorization: Bearer <token>`, anything else is 401
//!   `{"error_summary": "invalid_access_token/…", "error": {".tag": "invalid_access_token"}}`;
//! - a token without a route's scope is 401 `{"error": {".tag": "missing_scope",
//!   "required_scope": "<scope>"}}`;
//! - every route is `POST` with a JSON body (`null` for none); a route's own error is
//!   409 `{"error_summary": "<tags>/…", "error": <union>}`;
//! - lists page with `cursor` and `has_more`, continued at `<route>/continue` (members
//!   at `team/members/list/continue_v2`; `sharing/list_shared_links` takes its cursor
//!   in the same route); `limit` bounds are 1..=1000 (team lists), 1..=2000
//!   (`files/list_folder`), 1..=300 (sharing members);
//! - member routes (`files/*`, `sharing/*`) need `Dropbox-API-Select-User:
//!   <team_member_id>`: without it 400 with Dropbox's text, with an unknown member 401
//!   `invalid_select_user`;
//! - `files/download` takes its argument in `Dropbox-API-Arg`, answers the metadata in
//!   `Dropbox-API-Result`, and honours `Range` (206 with `Content-Range`);
//! - past the request budget, or on an injected fault, 429 with `Retry-After` and
//!   `{"error": {"reason": {".tag": "too_many_requests"}, "retry_after": n}}`.
//!
//! | route | scope |
//! |---|---|
//! | `team/get_info` | `team_info.read` |
//! | `team/members/list_v2`, `…/list/continue_v2` | `members.read` |
//! | `team/members/suspend`, `unsuspend` | `members.write` |
//! | `team/groups/list`, `team/groups/members/list` (+ `/continue`) | `groups.read` |
//! | `team_log/get_events` (+ `/continue`) | `events.read` |
//! | `files/list_folder` (+ `/continue`), `files/copy_reference/get` | `files.metadata.read` |
//! | `files/download` | `files.content.read` |
//! | `files/delete_v2`, `files/copy_reference/save` | `files.content.write` |
//! | `sharing/list_shared_links`, `list_folder_members`, `list_file_members` (+ `/continue`) | `sharing.read` |
//! | `sharing/revoke_shared_link`, `remove_file_member_2` | `sharing.write` |
//!
//! Member 0 is the team admin (role "Team admin"), members 1..`admins` hold "User
//! management admin", the last `suspended` are suspended and the `invited` before
//! them invited. Group *g* holds every member *i* with `i % groups == g`. Each active
//! or suspended member has `files_per_member` files in `/Documents`; member 0 owns
//! the shared folder `/Projects` with `shared_folder_files` files, shared with member 1
//! (editor) and `external_collaborators` people outside the team (viewers). The first
//! `public_links` files in `/Documents` (member order) have a public link; the next
//! `external_file_members` have an outside person as their own (explicit) member.
//! Team log events cycle through `logins` (`login_success`), `file_operations`
//! (`file_add`) and `members` (`member_change_status`, by the admin), oldest first,
//! the newest an hour old; a suspension, deletion or revoked link is logged.
//!
//! Assumed where Dropbox publishes no example: the 429 body's exact text, cursor
//! contents (opaque to clients), one page of groups and invitees per members page,
//! the page size of `sharing/list_shared_links` ([`LINKS_PER_PAGE`]), and the event
//! bodies beyond the published `team_log-get_events` example's shape.

// Handlers answer `Result<Response, Response>` (Dropbox's error body is a response too).
#![allow(clippy::result_large_err)]

use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::header::{HeaderName, HeaderValue};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::faults::{self, FaultPlan, Faults, RateBudget};
use crate::oauth::{OAuthMock, OAuthMockConfig};
use crate::server::{MockServer, RequestRecord};

/// Every scope the connector uses, the actions' included.
pub const DROPBOX_SCOPES: [&str; 11] = [
    "team_info.read",
    "members.read",
    "members.write",
    "groups.read",
    "events.read",
    "team_data.member",
    "files.metadata.read",
    "files.content.read",
    "files.content.write",
    "sharing.read",
    "sharing.write",
];

/// Links on one page of `sharing/list_shared_links`.
pub const LINKS_PER_PAGE: usize = 3;

/// The routes that change something; every other route only reads.
pub const WRITE_ROUTES: [&str; 6] = [
    "team/members/suspend",
    "team/members/unsuspend",
    "files/delete_v2",
    "files/copy_reference/save",
    "sharing/revoke_shared_link",
    "sharing/remove_file_member_2",
];

/// The shared folder's id.
const SHARED_FOLDER: &str = "84528192421";

/// The mock team and its app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropboxMockConfig {
    /// The app key and secret, and the refresh token it holds.
    pub client_id: String,
    pub client_secret: String,
    pub refresh_token: String,
    /// An access token accepted as it is (the `access-token` option).
    pub access_token: String,
    /// The scopes the app holds.
    pub scopes: Vec<String>,
    pub team_name: String,
    /// Members in all; member 0 is the team admin…
    pub members: usize,
    /// …members 0..admins hold admin roles…
    pub admins: usize,
    /// …the last ones are suspended, and the ones before them invited.
    pub suspended: usize,
    pub invited: usize,
    pub groups: usize,
    /// Team log events at start.
    pub events: usize,
    /// Time between two events (ms).
    pub event_interval_ms: i64,
    /// Files in each active or suspended member's `/Documents`.
    pub files_per_member: usize,
    /// Files in member 0's shared folder `/Projects`.
    pub shared_folder_files: usize,
    /// People outside the team the shared folder is shared with.
    pub external_collaborators: usize,
    /// `/Documents` files with a public link…
    pub public_links: usize,
    /// …and the next ones with an outside person as their own member.
    pub external_file_members: usize,
    /// Bytes in each file.
    pub file_size: usize,
    /// Requests a minute before 429s.
    pub rate_limit_per_minute: u32,
    /// Serve the published members and groups from this folder.
    pub fixtures_dir: Option<PathBuf>,
}

impl Default for DropboxMockConfig {
    fn default() -> Self {
        DropboxMockConfig {
            client_id: "mock-dropbox-app-key".into(),
            client_secret: "mock-dropbox-app-secret".into(),
            refresh_token: "mock-dropbox-refresh".into(),
            access_token: "mock-dropbox-access".into(),
            scopes: DROPBOX_SCOPES.map(String::from).to_vec(),
            team_name: "Acme Mock".into(),
            members: 7,
            admins: 1,
            suspended: 0,
            invited: 0,
            groups: 2,
            events: 9,
            event_interval_ms: 3_600_000,
            files_per_member: 0,
            shared_folder_files: 0,
            external_collaborators: 0,
            public_links: 0,
            external_file_members: 0,
            file_size: 2_000,
            rate_limit_per_minute: 6_000,
            fixtures_dir: None,
        }
    }
}

/// What a complete scan must yield now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DropboxExpected {
    pub users: usize,
    /// Members holding an admin role.
    pub admins: usize,
    pub suspended: usize,
    pub invited: usize,
    pub groups: usize,
    /// Memberships over all groups.
    pub group_members: usize,
    /// Events of the `logins`, `members` (admin) and other (user) categories.
    pub logon: usize,
    pub admin_activity: usize,
    pub user_activity: usize,
    /// Files, each listed once.
    pub files: usize,
    /// Files with a public link.
    pub public_files: usize,
    /// Files shared outside the team (a public link, or an outside member).
    pub files_shared_externally: usize,
}

/// A running Dropbox mock.
#[derive(Debug)]
pub struct DropboxMock {
    server: MockServer,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: DropboxMockConfig,
    oauth: OAuthMock,
    state: Mutex<Team>,
    published: Option<(Vec<Value>, Vec<Value>)>,
    budget: RateBudget,
    faults: FaultPlan,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, Team> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Debug, Clone)]
struct Member {
    id: String,
    email: String,
    name: String,
    status: &'static str,
    roles: Vec<&'static str>,
}

/// Someone a file or folder is shared with.
#[derive(Debug, Clone)]
struct Person {
    email: String,
    /// The team member, for people of the team.
    member: Option<usize>,
    access: &'static str,
}

#[derive(Debug, Clone)]
struct FileEntry {
    id: String,
    /// The member whose Dropbox holds it; none for the shared folder's files.
    home: Option<usize>,
    path: String,
    content: Vec<u8>,
    links: Vec<String>,
    members: Vec<Person>,
    deleted: bool,
}

#[derive(Debug)]
struct Team {
    members: Vec<Member>,
    files: Vec<FileEntry>,
    /// Members of the shared folder; the first is its owner.
    folder: Vec<Person>,
    /// Oldest first: (time, body).
    events: Vec<(i64, Value)>,
    /// Copy references handed out: (reference, file index).
    references: Vec<(String, usize)>,
    made: usize,
}

/// 2024-01-01T00:00:00Z.
const EPOCH_MS: i64 = 1_704_067_200_000;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Dropbox's time format: RFC 3339 UTC in seconds.
fn iso(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn parse_time(text: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_millis())
}

impl Team {
    fn generate(c: &DropboxMockConfig) -> Team {
        let members: Vec<Member> = (0..c.members)
            .map(|i| Member {
                id: format!("dbmid:AAmock{i:04}Member"),
                email: format!("member{i}@acme.example"),
                name: format!("Member {i}"),
                status: if i > 0 && i + c.suspended >= c.members {
                    "suspended"
                } else if i > 0 && i + c.suspended + c.invited >= c.members {
                    "invited"
                } else {
                    "active"
                },
                roles: if i == 0 {
                    vec!["Team admin"]
                } else if i < c.admins {
                    vec!["User management admin"]
                } else {
                    Vec::new()
                },
            })
            .collect();
        let mut team = Team {
            members,
            files: Vec::new(),
            folder: Vec::new(),
            events: Vec::new(),
            references: Vec::new(),
            made: 0,
        };
        for m in 0..team.members.len() {
            if team.members[m].status == "invited" {
                continue;
            }
            for k in 0..c.files_per_member {
                team.add_file(c, Some(m), &format!("/Documents/report-{m}-{k}.txt"));
            }
        }
        let homes = team.files.len();
        for (n, f) in team.files.iter_mut().enumerate().take(homes) {
            if n < c.public_links {
                f.links
                    .push(format!("https://www.dropbox.com/s/mock{n}/link"));
            } else if n < c.public_links + c.external_file_members {
                f.members.push(Person {
                    email: format!("outsider{n}@elsewhere.example"),
                    member: None,
                    access: "viewer",
                });
            }
        }
        if c.shared_folder_files > 0 && !team.members.is_empty() {
            team.folder.push(Person {
                email: team.members[0].email.clone(),
                member: Some(0),
                access: "owner",
            });
            if team.members.len() > 1 {
                team.folder.push(Person {
                    email: team.members[1].email.clone(),
                    member: Some(1),
                    access: "editor",
                });
            }
            for j in 0..c.external_collaborators {
                team.folder.push(Person {
                    email: format!("partner{j}@partner.example"),
                    member: None,
                    access: "viewer",
                });
            }
            for k in 0..c.shared_folder_files {
                team.add_file(c, None, &format!("/Projects/plan-{k}.txt"));
            }
        }
        let newest = now_ms() - now_ms().rem_euclid(1000) - 3_600_000;
        for i in 0..c.events {
            let time = newest - (c.events - 1 - i) as i64 * c.event_interval_ms;
            let body = team.event_body(i % 3, time, None);
            team.events.push((time, body));
        }
        team
    }

    fn add_file(&mut self, c: &DropboxMockConfig, home: Option<usize>, path: &str) -> usize {
        let n = self.made;
        self.made += 1;
        let line = format!("Dropbox mock file {n}: customer list, confidential.\n");
        self.files.push(FileEntry {
            id: format!("id:mock{n:06}AAAAAAAAAAw"),
            home,
            path: path.to_owned(),
            content: line.bytes().cycle().take(c.file_size).collect(),
            links: Vec::new(),
            members: Vec::new(),
            deleted: false,
        });
        self.files.len() - 1
    }

    fn user_info(&self, m: usize) -> Value {
        let member = &self.members[m];
        json!({".tag": "team_member", "account_id": format!("dbid:AAmock{m:04}"),
            "display_name": member.name, "email": member.email,
            "team_member_id": member.id})
    }

    /// An event of kind `which` (0 sign-in, 1 file added, 2 member changed by the
    /// admin) at `time`, about member `about` (else one by the event's number).
    fn event_body(&self, which: usize, time: i64, about: Option<usize>) -> Value {
        let n = self.events.len();
        let m = about.unwrap_or(n % self.members.len().max(1));
        let (category, event_type, description) = match which {
            0 => ("logins", "login_success", "Signed in"),
            1 => ("file_operations", "file_add", "Added files and/or folders"),
            _ => ("members", "member_change_status", "Changed member status"),
        };
        let actor = if which == 2 {
            json!({".tag": "admin", "admin": self.user_info(0)})
        } else {
            json!({".tag": "user", "user": self.user_info(m)})
        };
        json!({
            "timestamp": iso(time),
            "event_category": {".tag": category},
            "event_type": {".tag": event_type, "description": description},
            "details": {".tag": format!("{event_type}_details"), "seq": n},
            "actor": actor,
            "origin": {
                "geo_location": {"ip_address": format!("198.51.100.{}", n % 250 + 1),
                    "city": "Berlin", "region": "Berlin", "country": "DE"},
                "access_method": {".tag": "end_user",
                    "end_user": {".tag": "web", "session_id": format!("dbwsid:mock{n}")}},
            },
            "involve_non_team_member": false,
            "context": {".tag": "team_member", "account_id": format!("dbid:AAmock{m:04}"),
                "display_name": self.members.get(m).map(|x| x.name.clone()),
                "email": self.members.get(m).map(|x| x.email.clone()),
                "team_member_id": self.members.get(m).map(|x| x.id.clone())},
            "participants": [],
            "assets": [],
        })
    }

    /// Logs an event now (after the newest).
    fn log(&mut self, which: usize, about: Option<usize>, details: Value) {
        let time = (self.events.last().map_or(0, |e| e.0 + 1000))
            .max(now_ms() - now_ms().rem_euclid(1000));
        let mut body = self.event_body(which, time, about);
        body["details"] = details;
        self.events.push((time, body));
    }

    fn visible(&self, f: &FileEntry, m: usize) -> bool {
        !f.deleted
            && match f.home {
                Some(home) => home == m,
                None => self.folder.iter().any(|p| p.member == Some(m)),
            }
    }

    fn file_json(&self, f: &FileEntry, explicit: bool) -> Value {
        let name = f.path.rsplit('/').next().unwrap_or_default();
        let mut entry = json!({
            ".tag": "file", "name": name, "id": f.id,
            "client_modified": iso(EPOCH_MS), "server_modified": iso(EPOCH_MS),
            "rev": "a1c10ce0dd78", "size": f.content.len(),
            "path_lower": f.path.to_lowercase(), "path_display": f.path,
            "is_downloadable": true,
            "content_hash": format!("{:064x}", f.content.len()),
        });
        if f.home.is_none() {
            entry["sharing_info"] = json!({"read_only": false,
                "parent_shared_folder_id": SHARED_FOLDER,
                "modified_by": "dbid:AAmock0000"});
        }
        if explicit {
            entry["has_explicit_shared_members"] = json!(!f.members.is_empty());
        }
        entry
    }

    fn find(&self, m: usize, path: &str) -> Option<usize> {
        (self.files.iter())
            .position(|f| self.visible(f, m) && (f.id == path || f.path.eq_ignore_ascii_case(path)))
    }
}

impl DropboxMock {
    /// Binds `127.0.0.1:0` and serves on the current tokio runtime.
    pub async fn start(config: DropboxMockConfig) -> io::Result<DropboxMock> {
        let published = match &config.fixtures_dir {
            Some(dir) => {
                let read = |name: &str, key: &str| -> io::Result<Vec<Value>> {
                    let path = dir.join(format!("{name}.rendered-from-stone.json"));
                    let value: Value = serde_json::from_slice(&std::fs::read(&path)?)
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                    Ok(value[key].as_array().cloned().unwrap_or_default())
                };
                Some((
                    read("team-members-list_v2", "members")?,
                    read("team-groups-list", "groups")?,
                ))
            }
            None => None,
        };
        let oauth = OAuthMock::new(OAuthMockConfig {
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone(),
            refresh_token: Some(config.refresh_token.clone()),
            // Four hours, as Dropbox's short-lived access tokens.
            token_lifetime: Duration::from_secs(14_400),
            ..OAuthMockConfig::default()
        });
        let shared = Arc::new(Shared {
            oauth,
            state: Mutex::new(Team::generate(&config)),
            published,
            budget: RateBudget::new(config.rate_limit_per_minute, Duration::from_secs(60)),
            faults: FaultPlan::default(),
            config,
        });
        let router = router(shared.clone());
        let server = MockServer::start(Duration::ZERO, |_| router).await?;
        Ok(DropboxMock { server, shared })
    }

    /// `http://127.0.0.1:PORT`: both API roots and the token endpoint.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    pub fn config(&self) -> &DropboxMockConfig {
        &self.shared.config
    }

    /// The token endpoint, for what the host sent it.
    pub fn oauth(&self) -> &OAuthMock {
        &self.shared.oauth
    }

    /// Appends `n` events, a second apart, the newest a second ago.
    pub fn add_activity(&self, n: usize) {
        let mut state = self.shared.state();
        let newest = now_ms() - now_ms().rem_euclid(1000) - 1000;
        let newest = newest.max(state.events.last().map_or(0, |e| e.0 + n as i64 * 1000));
        for i in 0..n {
            let time = newest - (n - 1 - i) as i64 * 1000;
            let which = state.events.len() % 3;
            let body = state.event_body(which, time, None);
            state.events.push((time, body));
        }
    }

    /// Member `i`'s team member id.
    pub fn member_id(&self, i: usize) -> String {
        self.shared.state().members[i].id.clone()
    }

    /// Member `id`'s status tag.
    pub fn member_status(&self, id: &str) -> Option<&'static str> {
        let state = self.shared.state();
        state.members.iter().find(|m| m.id == id).map(|m| m.status)
    }

    /// The record ids (`{team_member_id}/{file id}`) of the files a scan lists.
    pub fn file_ids(&self) -> Vec<String> {
        let state = self.shared.state();
        (state.files.iter())
            .filter(|f| !f.deleted)
            .map(|f| format!("{}/{}", state.members[f.home.unwrap_or(0)].id, f.id))
            .collect()
    }

    /// The content of file `id` (a Dropbox id or a record id).
    pub fn file_content(&self, id: &str) -> Option<Vec<u8>> {
        let id = id.rsplit('/').next().unwrap_or(id);
        let state = self.shared.state();
        (state.files.iter().find(|f| f.id == id)).map(|f| f.content.clone())
    }

    /// Paths of the files in member `i`'s Dropbox, not deleted.
    pub fn paths_of(&self, i: usize) -> Vec<String> {
        let state = self.shared.state();
        (state.files.iter())
            .filter(|f| f.home == Some(i) && !f.deleted)
            .map(|f| f.path.clone())
            .collect()
    }

    /// Adds a file to member `i`'s `/Documents` now; its record id.
    pub fn add_file(&self, i: usize, name: &str) -> String {
        let mut state = self.shared.state();
        let at = state.add_file(&self.shared.config, Some(i), &format!("/Documents/{name}"));
        let id = state.files[at].id.clone();
        state.log(1, Some(i), json!({".tag": "file_add_details"}));
        format!("{}/{id}", state.members[i].id)
    }

    /// Replaces the pending faults (see [`Faults`]).
    pub fn inject_faults(&self, faults: Faults) {
        self.shared.faults.inject(faults, &self.shared.budget);
    }

    /// Every request answered so far, the token endpoint's included.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.server.log().snapshot()
    }

    /// The API requests answered so far (not the token endpoint's).
    pub fn api_requests(&self) -> Vec<RequestRecord> {
        let mut requests = self.requests();
        requests.retain(|r| r.path() != "/oauth2/token");
        requests
    }

    /// [`requests`](Self::requests) with the routes that only read shown as `GET`:
    /// every Dropbox call is a `POST`, so "nothing was written" checks (which count
    /// anything but `GET` as a write) see the writes only.
    pub fn requests_reads_as_get(&self) -> Vec<RequestRecord> {
        let mut requests = self.requests();
        for r in &mut requests {
            let route = r.path().trim_start_matches("/2/").to_owned();
            if r.path().starts_with("/2/") && !WRITE_ROUTES.contains(&route.as_str()) {
                r.method = "GET".into();
            }
        }
        requests
    }

    pub fn clear_requests(&self) {
        self.server.log().clear();
    }

    /// Exact counts a complete scan must yield now.
    pub fn expected(&self) -> DropboxExpected {
        let state = self.shared.state();
        if let Some((members, groups)) = &self.shared.published {
            return DropboxExpected {
                users: members.len(),
                admins: members.len(),
                groups: groups.len(),
                ..DropboxExpected::default()
            };
        }
        let count = |f: &dyn Fn(&Member) -> bool| state.members.iter().filter(|m| f(m)).count();
        let live: Vec<&FileEntry> = state.files.iter().filter(|f| !f.deleted).collect();
        let external_folder = state.folder.iter().any(|p| p.member.is_none());
        let events = |category: &str| {
            (state.events.iter())
                .filter(|(_, e)| e["event_category"][".tag"] == category)
                .count()
        };
        let logon = events("logins");
        let admin = events("members");
        let groups = self.shared.config.groups;
        DropboxExpected {
            users: state.members.len(),
            admins: count(&|m| !m.roles.is_empty()),
            suspended: count(&|m| m.status == "suspended"),
            invited: count(&|m| m.status == "invited"),
            groups,
            group_members: if groups == 0 { 0 } else { state.members.len() },
            logon,
            admin_activity: admin,
            user_activity: state.events.len() - logon - admin,
            files: live.len(),
            public_files: live.iter().filter(|f| !f.links.is_empty()).count(),
            files_shared_externally: (live.iter())
                .filter(|f| {
                    !f.links.is_empty()
                        || f.members.iter().any(|p| p.member.is_none())
                        || (f.home.is_none() && external_folder)
                })
                .count(),
        }
    }
}

// ---- wire behaviour -------------------------------------------------------------

type Answer = Result<Response, Response>;

fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .fallback(rpc)
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .layer(middleware::from_fn_with_state(shared.clone(), authenticate))
        .with_state(shared.clone());
    shared.oauth.router("/oauth2/token").merge(api)
}

fn set(response: &mut Response, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(name), value);
    }
}

fn json_answer(body: Value) -> Response {
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// A 409 route error: `summary` like `path/not_found/..`, and the union.
fn route_error(summary: &str, error: Value) -> Response {
    (
        StatusCode::CONFLICT,
        axum::Json(json!({"error_summary": summary, "error": error})),
    )
        .into_response()
}

fn bad_request(text: &str) -> Response {
    (StatusCode::BAD_REQUEST, text.to_owned()).into_response()
}

fn auth_error(tag: &str, extra: Value) -> Response {
    let mut error = json!({".tag": tag});
    if let (Some(e), Some(more)) = (error.as_object_mut(), extra.as_object()) {
        e.extend(more.clone());
    }
    (
        StatusCode::UNAUTHORIZED,
        axum::Json(json!({"error_summary": format!("{tag}/.."), "error": error})),
    )
        .into_response()
}

/// The scope a route needs.
fn scope_of(route: &str) -> &'static str {
    match route {
        "team/get_info" => "team_info.read",
        "team/members/suspend" | "team/members/unsuspend" => "members.write",
        r if r.starts_with("team/members/") => "members.read",
        r if r.starts_with("team/groups/") => "groups.read",
        r if r.starts_with("team_log/") => "events.read",
        "files/download" => "files.content.read",
        "files/delete_v2" | "files/copy_reference/save" => "files.content.write",
        r if r.starts_with("files/") => "files.metadata.read",
        "sharing/revoke_shared_link" | "sharing/remove_file_member_2" => "sharing.write",
        r if r.starts_with("sharing/") => "sharing.read",
        _ => "team_info.read",
    }
}

/// A bearer token the endpoint issued (or the configured access token), and the
/// route's scope.
async fn authenticate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let fixed = format!("Bearer {}", shared.config.access_token);
    let fixed_ok = request
        .headers()
        .get("authorization")
        .is_some_and(|v| v.as_bytes() == fixed.as_bytes());
    if !fixed_ok && shared.oauth.validate(request.headers()).is_none() {
        return auth_error("invalid_access_token", json!({}));
    }
    let route = request.uri().path().trim_start_matches("/2/").to_owned();
    let scope = scope_of(&route);
    let member_route = route.starts_with("files/") || route.starts_with("sharing/");
    for needed in [Some(scope), member_route.then_some("team_data.member")]
        .into_iter()
        .flatten()
    {
        if !shared.config.scopes.iter().any(|s| s == needed) {
            return auth_error("missing_scope", json!({"required_scope": needed}));
        }
    }
    next.run(request).await
}

/// Injected faults, then the request budget.
async fn gate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let throttled = |retry_after: u64| {
        let mut response = (
            StatusCode::TOO_MANY_REQUESTS,
            axum::Json(json!({"error_summary": "too_many_requests/...",
                "error": {"reason": {".tag": "too_many_requests"}, "retry_after": retry_after}})),
        )
            .into_response();
        set(&mut response, "retry-after", &retry_after.to_string());
        response
    };
    match shared.faults.take() {
        Some(faults::Fault::SecondaryLimit {
            retry_after_secs, ..
        }) => throttled(retry_after_secs),
        Some(faults::Fault::ServerError { status }) => StatusCode::from_u16(status)
            .unwrap_or(StatusCode::BAD_GATEWAY)
            .into_response(),
        Some(faults::Fault::ResetMidBody) => faults::reset_mid_body(next.run(request).await).await,
        Some(faults::Fault::TruncatedBody) => faults::truncate_body(next.run(request).await).await,
        fault => {
            let budget = shared.budget.consume();
            if !budget.allowed {
                let wait = budget
                    .reset_epoch_secs
                    .saturating_sub(now_ms() as u64 / 1000)
                    .max(1);
                return throttled(wait);
            }
            let response = next.run(request).await;
            if let Some(faults::Fault::Slow { delay }) = fault {
                tokio::time::sleep(delay).await;
            }
            response
        }
    }
}

/// An opaque cursor: base64url of its JSON state.
fn cursor(state: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(state.to_string())
}

fn uncursor(body: &Value) -> Result<Value, Response> {
    let text = body["cursor"]
        .as_str()
        .ok_or_else(|| bad_request("cursor is required"))?;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| route_error("bad_cursor/..", json!({".tag": "bad_cursor"})))
}

fn limit_of(body: &Value, default: usize, max: usize) -> Result<usize, Response> {
    match &body["limit"] {
        Value::Null => Ok(default),
        v => v
            .as_u64()
            .map(|n| n as usize)
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                bad_request(&format!("Error in call: limit must be between 1 and {max}"))
            }),
    }
}

/// One page of `items` from `state.offset`, with a continue cursor carrying `state`.
fn paged(items: Vec<Value>, key: &str, mut state: Value) -> Value {
    let offset = state["offset"].as_u64().unwrap_or(0) as usize;
    let limit = state["limit"].as_u64().unwrap_or(100) as usize;
    let end = (offset + limit).min(items.len());
    let page: Vec<Value> = items.get(offset.min(end)..end).unwrap_or_default().to_vec();
    state["offset"] = json!(end);
    json!({key: page, "cursor": cursor(&state), "has_more": end < items.len()})
}

/// The team member a member route acts as.
fn selected(state: &Team, headers: &HeaderMap, route: &str) -> Result<usize, Response> {
    let Some(id) = headers
        .get("dropbox-api-select-user")
        .and_then(|v| v.to_str().ok())
    else {
        return Err(bad_request(&format!(
            "Error in call to API function \"{route}\": This API function operates on a single \
             Dropbox account, but the OAuth 2 access token you provided is for an entire \
             Dropbox Business team. Since your API app key has team member file access \
             permissions, you can operate on a team member's Dropbox by providing the \
             \"Dropbox-API-Select-User\" HTTP header or \"select_user\" URL parameter to \
             specify the exact user <https://www.dropbox.com/developers/documentation/http/teams>."
        )));
    };
    (state
        .members
        .iter()
        .position(|m| m.id == id && m.status != "invited"))
    .ok_or_else(|| auth_error("invalid_select_user", json!({})))
}

fn member_json(state: &Team, m: usize, groups: usize) -> Value {
    let member = &state.members[m];
    let roles: Vec<Value> = (member.roles.iter())
        .map(|r| {
            json!({"role_id": format!("pid_dbtmr:{}", r.len()), "name": r,
            "description": "Mock admin role"})
        })
        .collect();
    let group_ids: Vec<String> = if groups == 0 {
        Vec::new()
    } else {
        vec![group_id(m % groups)]
    };
    json!({
        "profile": {
            "team_member_id": member.id, "email": member.email, "email_verified": true,
            "status": {".tag": member.status},
            "name": {"given_name": "Member", "surname": m.to_string(),
                "familiar_name": "Member", "display_name": member.name,
                "abbreviated_name": "M"},
            "membership_type": {".tag": "full"}, "groups": group_ids,
            "member_folder_id": format!("{}", 1000 + m),
            "account_id": format!("dbid:AAmock{m:04}"),
            "joined_on": iso(EPOCH_MS + m as i64 * 3_600_000),
        },
        "roles": roles,
    })
}

fn group_id(g: usize) -> String {
    format!("g:mock{g:032x}")
}

fn person_json(state: &Team, p: &Person) -> Value {
    json!({
        "access_type": {".tag": p.access},
        "user": {
            "account_id": p.member.map_or_else(|| format!("dbid:ext-{}", p.email), |m| format!("dbid:AAmock{m:04}")),
            "email": p.email,
            "display_name": p.email,
            "same_team": p.member.is_some(),
            "team_member_id": p.member.map(|m| state.members[m].id.clone()),
        },
        "permissions": [],
        "is_inherited": false,
    })
}

fn link_json(state: &Team, f: &FileEntry, url: &str) -> Value {
    let name = f.path.rsplit('/').next().unwrap_or_default();
    json!({
        ".tag": "file", "url": url, "name": name, "id": f.id,
        "path_lower": f.path.to_lowercase(),
        "link_permissions": {"can_revoke": true, "resolved_visibility": {".tag": "public"},
            "allow_download": true, "link_access_level": {".tag": "viewer"}},
        "client_modified": iso(EPOCH_MS), "server_modified": iso(EPOCH_MS),
        "rev": "a1c10ce0dd78", "size": f.content.len(),
        "team_member_info": {"team_info": {"id": "dbtid:mock", "name": state.members.len()},
            "display_name": f.home.map(|m| state.members[m].name.clone()),
            "member_id": f.home.map(|m| state.members[m].id.clone())},
    })
}

fn not_found(tag: &str) -> Response {
    route_error(
        &format!("{tag}/not_found/.."),
        json!({".tag": tag, tag: {".tag": "not_found"}}),
    )
}

/// Every route: `POST /2/<route>` with the JSON arguments (or `Dropbox-API-Arg`).
async fn rpc(State(shared): State<Arc<Shared>>, headers: HeaderMap, request: Request) -> Answer {
    let route = request.uri().path().trim_start_matches("/2/").to_owned();
    if request.method() != axum::http::Method::POST {
        return Err(bad_request("Only POST is allowed."));
    }
    let bytes: Bytes = axum::body::to_bytes(request.into_body(), 1 << 20)
        .await
        .map_err(|_| bad_request("body too large"))?;
    let body: Value = if route == "files/download" {
        let arg = headers
            .get("dropbox-api-arg")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| bad_request("Error in call to API function \"files/download\": Must provide HTTP header \"Dropbox-API-Arg\" or URL parameter \"arg\"."))?;
        serde_json::from_str(arg)
            .map_err(|_| bad_request("Dropbox-API-Arg: could not decode input as JSON"))?
    } else if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).map_err(|_| {
            bad_request(&format!("Error in call to API function \"{route}\": request body: could not decode input as JSON"))
        })?
    };
    let c = &shared.config;
    let mut state = shared.state();
    let published = shared.published.as_ref();
    match route.as_str() {
        "team/get_info" => Ok(json_answer(json!({
            "name": c.team_name, "team_id": "dbtid:AAmockTeam",
            "num_licensed_users": state.members.len(),
            "num_provisioned_users": state.members.len(), "num_used_licenses": state.members.len(),
            "policies": {},
        }))),
        "team/members/list_v2" | "team/members/list/continue_v2" => {
            let page_state = if route.ends_with("continue_v2") {
                uncursor(&body)?
            } else {
                json!({"offset": 0, "limit": limit_of(&body, 1000, 1000)?})
            };
            let members: Vec<Value> = match published {
                Some((members, _)) => members.clone(),
                None => (0..state.members.len())
                    .map(|m| member_json(&state, m, c.groups))
                    .collect(),
            };
            Ok(json_answer(paged(members, "members", page_state)))
        }
        "team/members/suspend" | "team/members/unsuspend" => {
            let id = body["user"]["team_member_id"].as_str().unwrap_or_default();
            let Some(m) = state.members.iter().position(|x| x.id == id) else {
                return Err(route_error(
                    "user_not_found/..",
                    json!({".tag": "user_not_found"}),
                ));
            };
            if route.ends_with("/suspend") {
                if state.members[m].status != "active" {
                    return Err(route_error(
                        "suspend_inactive_user/..",
                        json!({".tag": "suspend_inactive_user"}),
                    ));
                }
                let admins = (state.members.iter())
                    .filter(|x| x.status == "active" && x.roles.contains(&"Team admin"))
                    .count();
                if state.members[m].roles.contains(&"Team admin") && admins == 1 {
                    return Err(route_error(
                        "suspend_last_admin/..",
                        json!({".tag": "suspend_last_admin"}),
                    ));
                }
                state.members[m].status = "suspended";
            } else {
                if state.members[m].status != "suspended" {
                    return Err(route_error(
                        "unsuspend_non_suspended_member/..",
                        json!({".tag": "unsuspend_non_suspended_member"}),
                    ));
                }
                state.members[m].status = "active";
            }
            let status = state.members[m].status;
            state.log(
                2,
                Some(m),
                json!({".tag": "member_change_status_details",
                "new_value": {".tag": status}}),
            );
            Ok(json_answer(Value::Null))
        }
        "team/groups/list" | "team/groups/list/continue" => {
            let page_state = if route.ends_with("continue") {
                uncursor(&body)?
            } else {
                json!({"offset": 0, "limit": limit_of(&body, 1000, 1000)?})
            };
            let groups: Vec<Value> = match published {
                Some((_, groups)) => groups.clone(),
                None => (0..c.groups)
                    .map(|g| json!({"group_name": format!("Group {g}"), "group_id": group_id(g),
                        "group_management_type": {".tag": "company_managed"},
                        "member_count": (0..state.members.len()).filter(|m| m % c.groups == g).count()}))
                    .collect(),
            };
            Ok(json_answer(paged(groups, "groups", page_state)))
        }
        "team/groups/members/list" | "team/groups/members/list/continue" => {
            let page_state = if route.ends_with("continue") {
                uncursor(&body)?
            } else {
                let id = body["group"]["group_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                json!({"offset": 0, "limit": limit_of(&body, 1000, 1000)?, "group": id})
            };
            let id = page_state["group"].as_str().unwrap_or_default().to_owned();
            let members: Vec<Value> = if published.is_some() {
                Vec::new()
            } else {
                let Some(g) = (0..c.groups).find(|g| group_id(*g) == id) else {
                    return Err(route_error(
                        "group_not_found/..",
                        json!({".tag": "group_not_found"}),
                    ));
                };
                (0..state.members.len())
                    .filter(|m| m % c.groups == g)
                    .map(|m| {
                        let mut v = member_json(&state, m, c.groups);
                        v["access_type"] = json!({".tag": "member"});
                        v.as_object_mut().map(|o| o.remove("roles"));
                        v
                    })
                    .collect()
            };
            Ok(json_answer(paged(members, "members", page_state)))
        }
        "team_log/get_events" | "team_log/get_events/continue" => {
            let page_state = if route.ends_with("continue") {
                uncursor(&body)?
            } else {
                let bound = |name: &str| -> Result<Value, Response> {
                    match &body["time"][name] {
                        Value::Null => Ok(Value::Null),
                        v => v
                            .as_str()
                            .and_then(parse_time)
                            .map(|t| json!(t))
                            .ok_or_else(|| {
                                route_error(
                                    "invalid_time_range/..",
                                    json!({".tag": "invalid_time_range"}),
                                )
                            }),
                    }
                };
                json!({"offset": 0, "limit": limit_of(&body, 1000, 1000)?,
                    "start": bound("start_time")?, "end": bound("end_time")?,
                    "category": body["category"][".tag"]})
            };
            let (start, end) = (
                page_state["start"].as_i64().unwrap_or(i64::MIN),
                page_state["end"].as_i64().unwrap_or(i64::MAX),
            );
            let category = page_state["category"].as_str().map(str::to_owned);
            let events: Vec<Value> = (state.events.iter())
                .filter(|(t, _)| (start..end).contains(t))
                .filter(|(_, e)| {
                    category
                        .as_deref()
                        .is_none_or(|c| e["event_category"][".tag"] == c)
                })
                .map(|(_, e)| e.clone())
                .collect();
            Ok(json_answer(paged(events, "events", page_state)))
        }
        "files/list_folder" | "files/list_folder/continue" => {
            let m = selected(&state, &headers, &route)?;
            let page_state = if route.ends_with("continue") {
                uncursor(&body)?
            } else {
                if body["path"].as_str() != Some("") {
                    return Err(not_found("path"));
                }
                json!({"offset": 0, "limit": limit_of(&body, 2000, 2000)?, "member": m,
                    "explicit": body["include_has_explicit_shared_members"] == true})
            };
            if page_state["member"] != json!(m) {
                return Err(route_error("reset/..", json!({".tag": "reset"})));
            }
            let explicit = page_state["explicit"] == true;
            let mut entries = vec![json!({".tag": "folder", "name": "Documents",
                "id": format!("id:docs{m}"), "path_lower": "/documents", "path_display": "/Documents"})];
            if state.folder.iter().any(|p| p.member == Some(m)) {
                entries.push(
                    json!({".tag": "folder", "name": "Projects", "id": "id:projects",
                    "path_lower": "/projects", "path_display": "/Projects",
                    "sharing_info": {"read_only": false, "shared_folder_id": SHARED_FOLDER,
                        "traverse_only": false, "no_access": false}}),
                );
            }
            entries.extend(
                (state.files.iter())
                    .filter(|f| state.visible(f, m))
                    .map(|f| state.file_json(f, explicit)),
            );
            Ok(json_answer(paged(entries, "entries", page_state)))
        }
        "files/download" => {
            let m = selected(&state, &headers, &route)?;
            let path = body["path"].as_str().unwrap_or_default();
            if path == "/" || path.is_empty() {
                return Err(route_error(
                    "path/not_file/..",
                    json!({".tag": "path", "path": {".tag": "not_file"}}),
                ));
            }
            let at = state.find(m, path).ok_or_else(|| not_found("path"))?;
            let f = &state.files[at];
            let total = f.content.len();
            let range = (headers.get("range").and_then(|v| v.to_str().ok()))
                .and_then(|r| r.strip_prefix("bytes="))
                .and_then(|r| r.split_once('-'))
                .and_then(|(a, b)| Some((a.parse::<usize>().ok()?, b.parse::<usize>().ok()?)));
            let (status, bytes, content_range) = match range {
                Some((start, _)) if start >= total => {
                    let mut response = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
                    set(&mut response, "content-range", &format!("bytes */{total}"));
                    return Err(response);
                }
                Some((start, end)) => {
                    let end = end.min(total - 1);
                    (
                        StatusCode::PARTIAL_CONTENT,
                        f.content[start..=end].to_vec(),
                        Some(format!("bytes {start}-{end}/{total}")),
                    )
                }
                None => (StatusCode::OK, f.content.clone(), None),
            };
            let mut response = (status, bytes).into_response();
            set(&mut response, "content-type", "application/octet-stream");
            set(
                &mut response,
                "dropbox-api-result",
                &state.file_json(f, false).to_string(),
            );
            if let Some(range) = content_range {
                set(&mut response, "content-range", &range);
            }
            Ok(response)
        }
        "files/delete_v2" => {
            let m = selected(&state, &headers, &route)?;
            let path = body["path"].as_str().unwrap_or_default();
            let at = state
                .find(m, path)
                .ok_or_else(|| not_found("path_lookup"))?;
            state.files[at].deleted = true;
            let entry = state.file_json(&state.files[at], false);
            state.log(1, Some(m), json!({".tag": "file_delete_details"}));
            Ok(json_answer(json!({"metadata": entry})))
        }
        "files/copy_reference/get" => {
            let m = selected(&state, &headers, &route)?;
            let path = body["path"].as_str().unwrap_or_default();
            let at = state.find(m, path).ok_or_else(|| not_found("path"))?;
            let reference = format!("AAmockref{}", state.references.len());
            state.references.push((reference.clone(), at));
            let entry = state.file_json(&state.files[at], false);
            Ok(json_answer(
                json!({"metadata": entry, "copy_reference": reference,
                "expires": iso(now_ms() + 30 * 86_400_000)}),
            ))
        }
        "files/copy_reference/save" => {
            let m = selected(&state, &headers, &route)?;
            let reference = body["copy_reference"].as_str().unwrap_or_default();
            let path = body["path"].as_str().unwrap_or_default().to_owned();
            let Some(&(_, source)) = state.references.iter().find(|(r, _)| r == reference) else {
                return Err(route_error(
                    "invalid_copy_reference/..",
                    json!({".tag": "invalid_copy_reference"}),
                ));
            };
            if state.find(m, &path).is_some() {
                return Err(route_error(
                    "path/conflict/file/..",
                    json!({".tag": "path", "path": {".tag": "conflict", "conflict": {".tag": "file"}}}),
                ));
            }
            let content = state.files[source].content.clone();
            let at = state.add_file(c, Some(m), &path);
            state.files[at].content = content;
            let entry = state.file_json(&state.files[at], false);
            Ok(json_answer(json!({"metadata": entry})))
        }
        "sharing/list_shared_links" => {
            let m = selected(&state, &headers, &route)?;
            let page_state = if body["cursor"].is_string() {
                uncursor(&body)?
            } else {
                let only = match body["path"].as_str() {
                    Some(path) => Some(state.find(m, path).ok_or_else(|| not_found("path"))?),
                    None => None,
                };
                json!({"offset": 0, "limit": LINKS_PER_PAGE, "file": only})
            };
            let only = page_state["file"].as_u64().map(|n| n as usize);
            let links: Vec<Value> = (state.files.iter().enumerate())
                .filter(|(i, f)| match only {
                    Some(o) => *i == o,
                    None => f.home == Some(m) && !f.deleted,
                })
                .flat_map(|(_, f)| f.links.iter().map(|url| link_json(&state, f, url)))
                .collect();
            Ok(json_answer(paged(links, "links", page_state)))
        }
        "sharing/revoke_shared_link" => {
            let m = selected(&state, &headers, &route)?;
            let url = body["url"].as_str().unwrap_or_default();
            let Some(at) = (state.files.iter())
                .position(|f| state.visible(f, m) && f.links.iter().any(|l| l == url))
            else {
                return Err(route_error(
                    "shared_link_not_found/..",
                    json!({".tag": "shared_link_not_found"}),
                ));
            };
            state.files[at].links.retain(|l| l != url);
            state.log(1, Some(m), json!({".tag": "shared_link_remove_details"}));
            Ok(json_answer(Value::Null))
        }
        "sharing/list_folder_members" | "sharing/list_folder_members/continue" => {
            let m = selected(&state, &headers, &route)?;
            let page_state = if route.ends_with("continue") {
                uncursor(&body)?
            } else {
                json!({"offset": 0, "limit": limit_of(&body, 1000, 1000)?,
                    "folder": body["shared_folder_id"]})
            };
            if page_state["folder"] != SHARED_FOLDER
                || !state.folder.iter().any(|p| p.member == Some(m))
            {
                return Err(route_error(
                    "access_error/invalid_id/..",
                    json!({".tag": "access_error", "access_error": {".tag": "invalid_id"}}),
                ));
            }
            let users: Vec<Value> = state
                .folder
                .iter()
                .map(|p| person_json(&state, p))
                .collect();
            Ok(json_answer(members_page(users, page_state)))
        }
        "sharing/list_file_members" | "sharing/list_file_members/continue" => {
            let m = selected(&state, &headers, &route)?;
            let page_state = if route.ends_with("continue") {
                uncursor(&body)?
            } else {
                let file = body["file"].as_str().unwrap_or_default();
                let at = state.find(m, file).ok_or_else(|| {
                    route_error(
                        "user_error/..",
                        json!({".tag": "user_error", "user_error": {".tag": "email_unverified"}}),
                    )
                })?;
                json!({"offset": 0, "limit": limit_of(&body, 100, 300)?, "file": at,
                    "inherited": body["include_inherited"] != false})
            };
            let f = &state.files[page_state["file"].as_u64().unwrap_or(0) as usize];
            let mut users: Vec<Value> = Vec::new();
            if let Some(home) = f.home {
                users.push(person_json(
                    &state,
                    &Person {
                        email: state.members[home].email.clone(),
                        member: Some(home),
                        access: "owner",
                    },
                ));
            } else if page_state["inherited"] == true {
                users.extend(state.folder.iter().map(|p| person_json(&state, p)));
            }
            users.extend(f.members.iter().map(|p| person_json(&state, p)));
            Ok(json_answer(members_page(users, page_state)))
        }
        "sharing/remove_file_member_2" => {
            let m = selected(&state, &headers, &route)?;
            let file = body["file"].as_str().unwrap_or_default();
            let at = state
                .find(m, file)
                .ok_or_else(|| not_found("access_error"))?;
            let who = body["member"]["email"]
                .as_str()
                .or_else(|| body["member"]["dropbox_id"].as_str())
                .unwrap_or_default()
                .to_owned();
            let is = |p: &Person| p.email == who || format!("dbid:ext-{}", p.email) == who;
            if let Some(i) = state.files[at].members.iter().position(is) {
                state.files[at].members.remove(i);
                state.log(
                    1,
                    Some(m),
                    json!({".tag": "shared_content_remove_member_details"}),
                );
                return Ok(json_answer(json!({".tag": "success"})));
            }
            let inherited = state.files[at].home.is_none() && state.folder.iter().any(is);
            let mut error = json!({".tag": "no_explicit_access"});
            if inherited {
                error["access_level"] = json!({".tag": "viewer"});
            }
            Err(route_error("no_explicit_access/..", error))
        }
        _ => Err((
            StatusCode::NOT_FOUND,
            format!("Unknown API function: \"{route}\""),
        )
            .into_response()),
    }
}

/// Users paged by `limit` (groups and invitees none); `cursor` only while more.
fn members_page(users: Vec<Value>, mut page_state: Value) -> Value {
    let offset = page_state["offset"].as_u64().unwrap_or(0) as usize;
    let limit = page_state["limit"].as_u64().unwrap_or(100) as usize;
    let end = (offset + limit).min(users.len());
    let page: Vec<Value> = users.get(offset.min(end)..end).unwrap_or_default().to_vec();
    page_state["offset"] = json!(end);
    let mut body = json!({"users": page, "groups": [], "invitees": []});
    if end < users.len() {
        body["cursor"] = json!(cursor(&page_state));
    }
    body
}
