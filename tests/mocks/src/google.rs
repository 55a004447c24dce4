//! A loopback Google Workspace for one customer: the Admin SDK Directory and Reports
//! APIs, the Drive API v3, and Google's OAuth token endpoint, on one server (it stands
//! for `https://admin.googleapis.com`, `https://www.googleapis.com` and
//! `https://oauth2.googleapis.com/token` at once).
//!
//! As Google documents:
//! - `POST /token` takes `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` and
//!   an RS256 `assertion` whose `iss` is the service account's email, `sub` the admin
//!   it acts as, `aud` the token URL itself and `scope` the space-separated scopes
//!   ([`OAuthMock`] with [`JwtAcceptance`]); refusals are RFC 6749 bodies
//!   (`invalid_grant`, or `unauthorized_client` when the domain-wide delegation does
//!   not allow a scope: [`GoogleMock::refuse_delegation`]);
//! - API calls carry `Authorization: Bearer <token>`; anything else is 401 with
//!   Google's error body (`reason: authError`); a token without the endpoint's scope is
//!   403 `insufficientPermissions` ("Request had insufficient authentication scopes.");
//! - lists page by `maxResults` (Drive: `pageSize`) and `nextPageToken` → `pageToken`;
//!   the last page has no `nextPageToken`; Directory lists need `customer` (400 without);
//! - `activities.list` answers newest first between `startTime` and `endTime`;
//! - Drive's change feed: `changes/startPageToken` is the next change number; `changes`
//!   from a page token lists the changes from that number on, with `nextPageToken`
//!   while more remain and `newStartPageToken` on the last page;
//! - `files/{id}?alt=media` honours `Range` (206 with `Content-Range`, 416 past the
//!   end); Google Docs have no media (403 `fileNotDownloadable`) and are exported with
//!   `files/{id}/export?mimeType=…`;
//! - throttling: 429 (or, with [`Faults::secondary_as_403`], 403) with Google's body,
//!   `reason: rateLimitExceeded`, `status: RESOURCE_EXHAUSTED`.
//!
//! | route | scope (or a broader one) |
//! |---|---|
//! | `GET /admin/directory/v1/users`, `GET users/{userKey}` | `admin.directory.user.readonly` |
//! | `PUT users/{userKey}` | `admin.directory.user` |
//! | `GET users/{userKey}/tokens`, `DELETE …/tokens/{clientId}`, `POST users/{userKey}/signOut` | `admin.directory.user.security` |
//! | `GET groups`, `GET groups/{groupKey}/members` | `admin.directory.group.readonly` |
//! | `GET customer/{customer}/roles`, `…/roleassignments` | `admin.directory.rolemanagement.readonly` |
//! | `GET /admin/reports/v1/activity/users/all/applications/{app}` | `admin.reports.audit.readonly` |
//! | `GET /drive/v3/files`, `files/{id}`, `…/permissions`, `…/export`, `changes…` | `drive.readonly` |
//! | `PATCH files/{id}`, `DELETE …/permissions/{id}`, `POST …/modifyLabels` | `drive` |
//!
//! Writes show in the next scans: `PUT users/{key}` with `suspended` logs
//! `SUSPEND_USER` / `UNSUSPEND_USER` in the `admin` report; Drive writes add a change.
//!
//! Assumed where Google publishes no example: page tokens are opaque offsets
//! (`u<n>`…), the Drive change numbers start at 1000, a `Retry-After` header on the
//! mock's 429s (Google documents only "exponential backoff"), and the report bodies
//! follow the shared fixtures (rendered from the discovery documents).

// Handlers answer `Result<Response, Response>` (Google's error body is a response too).
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::header::{HeaderName, HeaderValue};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use chrono::{DateTime, SecondsFormat, Utc};
use md5::{Digest, Md5};
use serde_json::{Value, json};

use crate::faults::{self, FaultPlan, Faults, RateBudget};
use crate::oauth::{JwtAcceptance, OAuthMock, OAuthMockConfig, TokenFailure};
use crate::server::{MockServer, RequestRecord, RequestUrl};

/// The scope URL prefix.
const ROOT: &str = "https://www.googleapis.com/auth/";

/// Every scope the connector asks for by default.
pub const GOOGLE_SCOPES: [&str; 6] = [
    "https://www.googleapis.com/auth/admin.directory.user",
    "https://www.googleapis.com/auth/admin.directory.group.readonly",
    "https://www.googleapis.com/auth/admin.directory.rolemanagement.readonly",
    "https://www.googleapis.com/auth/admin.directory.user.security",
    "https://www.googleapis.com/auth/admin.reports.audit.readonly",
    "https://www.googleapis.com/auth/drive",
];

/// The mock customer, its service account and its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleMockConfig {
    /// The service account's `client_email` (the assertion's `iss`).
    pub client_email: String,
    /// The admin the service account acts as (`sub`); user 0.
    pub admin_email: String,
    /// The customer's domain.
    pub domain: String,
    /// Users in all; user 0 is the super admin.
    pub users: usize,
    /// Users 1..=delegated_admins hold the custom role "Help desk admin".
    pub delegated_admins: usize,
    /// The last users are suspended, the ones before them archived.
    pub suspended_users: usize,
    pub archived_users: usize,
    /// Groups, each with `members_per_group` users; group 0 also has
    /// `external_members` people from `partner.example.net`.
    pub groups: usize,
    pub members_per_group: usize,
    pub external_members: usize,
    /// Events per Reports application at start (`login`, `admin`, `drive`, `token`).
    pub login_events: usize,
    pub admin_events: usize,
    pub drive_events: usize,
    pub token_events: usize,
    /// Time between two events of an application (ms); the newest are an hour old.
    pub event_interval_ms: i64,
    /// The first users each granted two third-party apps.
    pub grant_users: usize,
    /// Drive files in all: the first `public_files` shared with anyone with the link,
    /// the next `external_files` with a person outside, the next `domain_files` with
    /// the domain; the last `google_docs` are Google Docs (exported to read).
    pub files: usize,
    pub public_files: usize,
    pub external_files: usize,
    pub domain_files: usize,
    pub google_docs: usize,
    /// Bytes of each binary file.
    pub file_size: usize,
    /// Requests per second before 429s.
    pub rate_limit_per_second: u32,
    /// Serve the published examples from this folder (`shared/fixtures/google`).
    pub fixtures_dir: Option<PathBuf>,
}

impl Default for GoogleMockConfig {
    fn default() -> Self {
        GoogleMockConfig {
            client_email: "sluice@mock-project.iam.gserviceaccount.com".into(),
            admin_email: "admin@example.com".into(),
            domain: "example.com".into(),
            users: 7,
            delegated_admins: 1,
            suspended_users: 1,
            archived_users: 0,
            groups: 2,
            members_per_group: 3,
            external_members: 1,
            login_events: 3,
            admin_events: 3,
            drive_events: 3,
            token_events: 2,
            event_interval_ms: 6 * 3_600_000,
            grant_users: 2,
            files: 6,
            public_files: 1,
            external_files: 1,
            domain_files: 1,
            google_docs: 1,
            file_size: 3_000,
            rate_limit_per_second: 200,
            fixtures_dir: None,
        }
    }
}

/// What a complete scan of the mock must yield right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GoogleExpected {
    pub users: usize,
    /// Super or delegated admins.
    pub admins: usize,
    pub suspended: usize,
    pub archived: usize,
    pub groups: usize,
    /// Members of all groups together.
    pub group_members: usize,
    /// `login` events (logon), `admin` events (admin), `drive` and `token` events (user).
    pub logon: usize,
    pub admin_activity: usize,
    pub user_activity: usize,
    pub grants: usize,
    /// Files not in the trash, those reachable by anyone, and those shared outside.
    pub files: usize,
    pub public_files: usize,
    pub external_files: usize,
}

/// A running Google Workspace mock.
#[derive(Debug)]
pub struct GoogleMock {
    server: MockServer,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: GoogleMockConfig,
    oauth: OAuthMock,
    state: Mutex<Workspace>,
    budget: RateBudget,
    faults: FaultPlan,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, Workspace> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[derive(Debug, Clone)]
struct MockFile {
    /// The file's metadata as `files.get` answers it, without `permissions` and
    /// `trashed`, `parents`, `labelInfo` (kept apart below).
    meta: Value,
    permissions: Vec<Value>,
    trashed: bool,
    parents: Vec<String>,
    labels: Vec<String>,
    content: Vec<u8>,
}

impl MockFile {
    fn id(&self) -> String {
        self.meta["id"].as_str().unwrap_or_default().to_owned()
    }

    fn is_doc(&self) -> bool {
        (self.meta["mimeType"].as_str())
            .is_some_and(|m| m.starts_with("application/vnd.google-apps."))
    }

    /// The whole `files.get` answer.
    fn json(&self) -> Value {
        let mut value = self.meta.clone();
        value["permissions"] = Value::Array(self.permissions.clone());
        value["trashed"] = json!(self.trashed);
        value["parents"] = json!(self.parents);
        value["shared"] = json!(self.permissions.iter().any(|p| p["role"] != "owner"));
        if !self.labels.is_empty() {
            value["labelInfo"] = json!({"labels": self.labels.iter()
                .map(|id| json!({"id": id, "kind": "drive#label", "revisionId": "1"}))
                .collect::<Vec<_>>()});
        }
        value
    }
}

#[derive(Debug, Default)]
struct Workspace {
    users: Vec<Value>,
    roles: Vec<Value>,
    assignments: Vec<Value>,
    /// Each group and its members.
    groups: Vec<(Value, Vec<Value>)>,
    /// Grants by user id.
    tokens: BTreeMap<String, Vec<Value>>,
    /// Activities by application, oldest first.
    activities: BTreeMap<String, Vec<Value>>,
    files: Vec<MockFile>,
    /// Drive changes: (number, file id, time ms).
    changes: Vec<(u64, String, i64)>,
    /// The next change number.
    next_change: u64,
    /// Activities added so far (for unique qualifiers).
    events: u64,
}

/// 2024-01-01T00:00:00Z, the anchor of creation dates.
const EPOCH_MS: i64 = 1_704_067_200_000;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn iso(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The bytes of file `i`.
fn content_bytes(i: usize, size: usize) -> Vec<u8> {
    let line = format!("Google Drive mock file {i}: card 4111 1111 1111 1111, confidential.\n");
    line.bytes().cycle().take(size).collect()
}

fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Workspace {
    fn generate(c: &GoogleMockConfig) -> Workspace {
        let mut w = Workspace {
            next_change: 1000,
            ..Workspace::default()
        };
        let email = |i: usize| {
            if i == 0 {
                c.admin_email.clone()
            } else {
                format!("user{i}@{}", c.domain)
            }
        };
        for i in 0..c.users {
            let suspended = i > 0 && i + c.suspended_users >= c.users;
            let archived =
                !suspended && i > 0 && i + c.suspended_users + c.archived_users >= c.users;
            w.users.push(json!({
                "kind": "admin#directory#user",
                "id": user_id(i),
                "primaryEmail": email(i),
                "name": {"givenName": format!("User{i}"), "familyName": "Mock",
                    "fullName": format!("User{i} Mock")},
                "isAdmin": i == 0,
                "isDelegatedAdmin": i > 0 && i <= c.delegated_admins,
                "lastLoginTime": if i % 2 == 0 { iso(EPOCH_MS + 86_400_000) } else { "1970-01-01T00:00:00.000Z".into() },
                "creationTime": iso(EPOCH_MS + i as i64 * 3_600_000),
                "suspended": suspended,
                "archived": archived,
                "customerId": "C0mock01",
                "orgUnitPath": "/",
                "isEnrolledIn2Sv": i % 3 == 0,
            }));
        }
        w.roles = vec![
            json!({"kind": "admin#directory#role", "roleId": "91000000000000001",
                "roleName": "_SEED_ADMIN_ROLE", "isSystemRole": true, "isSuperAdminRole": true,
                "rolePrivileges": [{"privilegeName": "SUPER_ADMIN", "serviceId": "01ci93xb3tmzyin"}]}),
            json!({"kind": "admin#directory#role", "roleId": "91000000000000002",
                "roleName": "Help desk admin", "isSystemRole": false, "isSuperAdminRole": false,
                "rolePrivileges": [{"privilegeName": "USERS_RETRIEVE", "serviceId": "00haapch16h1ysv"}]}),
        ];
        let assign = |n: usize, who: String, role: &str, kind: &str| {
            json!({"kind": "admin#directory#roleAssignment",
                "roleAssignmentId": format!("92{n:015}"), "roleId": role,
                "assignedTo": who, "assigneeType": kind, "scopeType": "CUSTOMER"})
        };
        if c.users > 0 {
            w.assignments
                .push(assign(0, user_id(0), "91000000000000001", "user"));
        }
        for i in 1..=c.delegated_admins.min(c.users.saturating_sub(1)) {
            w.assignments
                .push(assign(i, user_id(i), "91000000000000002", "user"));
        }
        if c.groups > 0 {
            w.assignments
                .push(assign(999, group_id(0), "91000000000000002", "group"));
        }
        for g in 0..c.groups {
            let mut members: Vec<Value> = (0..c.members_per_group.min(c.users))
                .map(|k| {
                    let i = (g + k) % c.users;
                    json!({"kind": "admin#directory#member", "id": user_id(i),
                        "email": email(i), "role": "MEMBER", "type": "USER", "status": "ACTIVE"})
                })
                .collect();
            if g == 0 {
                members.extend((0..c.external_members).map(|k| {
                    json!({"kind": "admin#directory#member", "id": format!("3{k:020}"),
                        "email": format!("guest{k}@partner.example.net"), "role": "MEMBER",
                        "type": "USER"})
                }));
            }
            w.groups.push((
                json!({"kind": "admin#directory#group", "id": group_id(g),
                    "email": format!("group{g}@{}", c.domain), "name": format!("Group {g}"),
                    "description": format!("Mock group {g}"),
                    "directMembersCount": members.len().to_string(), "adminCreated": true}),
                members,
            ));
        }
        for i in 0..c.grant_users.min(c.users) {
            w.tokens.insert(
                user_id(i),
                ["crm", "mail"]
                    .iter()
                    .enumerate()
                    .map(|(k, app)| {
                        json!({"kind": "admin#directory#token",
                            "clientId": format!("{k}00000000{k}-{app}.apps.googleusercontent.com"),
                            "displayText": format!("Example {app}"), "anonymous": false,
                            "nativeApp": k == 1, "userKey": user_id(i),
                            "scopes": ["https://www.googleapis.com/auth/drive", "openid"]})
                    })
                    .collect(),
            );
        }
        let newest = now_ms() - now_ms().rem_euclid(1000) - 3_600_000;
        for (app, n) in [
            ("login", c.login_events),
            ("admin", c.admin_events),
            ("drive", c.drive_events),
            ("token", c.token_events),
        ] {
            w.activities.insert(app.into(), Vec::new());
            w.add_events(app, n, newest, c.event_interval_ms, c);
        }
        for f in 0..c.files {
            let doc = f + c.google_docs >= c.files;
            let file = w.make_file(f, doc, c);
            w.files.push(file);
        }
        let (public, external, domain) = (c.public_files, c.external_files, c.domain_files);
        for (f, file) in w.files.iter_mut().enumerate() {
            if f < public {
                file.permissions
                    .push(json!({"kind": "drive#permission", "id": "anyoneWithLink",
                    "type": "anyone", "role": "reader", "allowFileDiscovery": false}));
            } else if f < public + external {
                file.permissions.push(json!({"kind": "drive#permission",
                    "id": format!("4{f:019}"), "type": "user",
                    "emailAddress": format!("vendor{f}@partner.example.net"), "role": "writer"}));
            } else if f < public + external + domain {
                file.permissions.push(json!({"kind": "drive#permission",
                    "id": format!("5{f:019}k"), "type": "domain", "domain": c.domain,
                    "role": "reader", "allowFileDiscovery": true}));
            }
        }
        w
    }

    /// File `f`: owned by user `f % users`, in that user's root folder.
    fn make_file(&self, f: usize, doc: bool, c: &GoogleMockConfig) -> MockFile {
        let owner = if f.is_multiple_of(c.users.max(1)) {
            c.admin_email.clone()
        } else {
            format!("user{}@{}", f % c.users.max(1), c.domain)
        };
        let id = format!("1mOcKfIlE{f:06}");
        let content = content_bytes(f, c.file_size);
        let mut meta = json!({
            "kind": "drive#file",
            "id": id,
            "name": if doc { format!("Plan {f}") } else { format!("report-{f}.pdf") },
            "mimeType": if doc { "application/vnd.google-apps.document" } else { "application/pdf" },
            "owners": [{"kind": "drive#user", "displayName": owner.clone(), "emailAddress": owner.clone()}],
            "webViewLink": format!("https://drive.google.com/file/d/{id}/view?usp=drivesdk"),
            "createdTime": iso(EPOCH_MS + f as i64 * 60_000),
            "modifiedTime": iso(EPOCH_MS + f as i64 * 60_000 + 1_000),
        });
        if !doc {
            meta["size"] = json!(content.len().to_string());
            meta["md5Checksum"] = json!(md5_hex(&content));
        }
        MockFile {
            meta,
            permissions: vec![
                json!({"kind": "drive#permission", "id": format!("6{f:019}"),
                "type": "user", "emailAddress": owner, "role": "owner"}),
            ],
            trashed: false,
            parents: vec![format!("0ROOT{}", f % c.users.max(1))],
            labels: Vec::new(),
            content,
        }
    }

    /// `n` events of `app` ending at `newest`, `interval` apart, after the existing ones.
    fn add_events(
        &mut self,
        app: &str,
        n: usize,
        newest: i64,
        interval: i64,
        c: &GoogleMockConfig,
    ) {
        let last = (self.activities.get(app))
            .and_then(|l| l.last())
            .and_then(|a| a["id"]["time"].as_str())
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.timestamp_millis());
        let start = newest - interval * (n as i64 - 1).max(0);
        for k in 0..n as i64 {
            let t = last.map_or(start + k * interval, |l| {
                (start + k * interval).max(l + 1_000)
            });
            self.events += 1;
            let who = format!("user{}@{}", self.events % 5, c.domain);
            let (kind, name, parameters) = match app {
                "login" => (
                    "login",
                    if self.events.is_multiple_of(4) {
                        "login_failure"
                    } else {
                        "login_success"
                    },
                    json!([{"name": "login_type", "value": "google_password"}]),
                ),
                "admin" => (
                    "USER_SETTINGS",
                    "CHANGE_PASSWORD",
                    json!([{"name": "USER_EMAIL", "value": who}]),
                ),
                "drive" => (
                    "access",
                    "view",
                    json!([{"name": "doc_id", "value": format!("1mOcKfIlE{:06}", self.events % 7)},
                        {"name": "doc_title", "value": "report.pdf"}]),
                ),
                _ => (
                    "auth",
                    "authorize",
                    json!([{"name": "client_id", "value": "000000000-crm.apps.googleusercontent.com"},
                        {"name": "app_name", "value": "Example crm"}]),
                ),
            };
            let actor = c.admin_email.clone();
            self.push_event(app, t, kind, name, parameters, &actor);
        }
    }

    fn push_event(
        &mut self,
        app: &str,
        time: i64,
        kind: &str,
        name: &str,
        parameters: Value,
        actor: &str,
    ) {
        let qualifier = format!("-{}{:012}", app.len(), self.events);
        self.activities.entry(app.into()).or_default().push(json!({
            "kind": "admin#reports#activity",
            "id": {"time": iso(time), "uniqueQualifier": qualifier,
                "applicationName": app, "customerId": "C0mock01"},
            "actor": {"email": actor, "profileId": user_id(0)},
            "ownerDomain": "example.com",
            "ipAddress": format!("203.0.113.{}", self.events % 250),
            "events": [{"type": kind, "name": name, "parameters": parameters}],
        }));
    }

    /// Notes a Drive change of file `id` now.
    fn changed(&mut self, id: &str) {
        let n = self.next_change;
        self.next_change += 1;
        self.changes.push((n, id.to_owned(), now_ms()));
    }

    fn user_index(&self, key: &str) -> Option<usize> {
        self.users.iter().position(|u| {
            u["id"] == key
                || u["primaryEmail"]
                    .as_str()
                    .is_some_and(|e| e.eq_ignore_ascii_case(key))
        })
    }

    fn file_index(&self, id: &str) -> Option<usize> {
        self.files.iter().position(|f| f.meta["id"] == id)
    }
}

fn user_id(i: usize) -> String {
    format!("1{:020}", i + 1)
}

fn group_id(g: usize) -> String {
    format!("0g{g:013}")
}

impl GoogleMock {
    /// Binds `127.0.0.1:0` and serves on the current tokio runtime; the token endpoint
    /// accepts assertions for `{base_url}/token` (the audience). Fails if the listener
    /// cannot be bound or the fixtures cannot be read.
    pub async fn start(config: GoogleMockConfig) -> io::Result<GoogleMock> {
        let mut workspace = Workspace::generate(&config);
        if let Some(dir) = &config.fixtures_dir {
            load_fixtures(dir, &mut workspace)?;
        }
        let mut made = None;
        let server = MockServer::start(Duration::ZERO, |addr: SocketAddr| {
            let oauth = OAuthMock::new(OAuthMockConfig {
                jwt: Some(JwtAcceptance::test_key(
                    &config.client_email,
                    &config.admin_email,
                    &format!("http://{addr}/token"),
                )),
                ..OAuthMockConfig::default()
            });
            let shared = Arc::new(Shared {
                oauth,
                state: Mutex::new(workspace),
                budget: RateBudget::new(config.rate_limit_per_second, Duration::from_secs(1)),
                faults: FaultPlan::default(),
                config: config.clone(),
            });
            made = Some(shared.clone());
            router(shared)
        })
        .await?;
        let shared = made.ok_or_else(|| io::Error::other("the mock's router was not built"))?;
        Ok(GoogleMock { server, shared })
    }

    /// `http://127.0.0.1:PORT`: the Admin SDK and Drive base URL.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// `{base_url}/token`: the token URL and the assertions' audience.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.base_url())
    }

    pub fn config(&self) -> &GoogleMockConfig {
        &self.shared.config
    }

    /// The token endpoint, for what the host sent it.
    pub fn oauth(&self) -> &OAuthMock {
        &self.shared.oauth
    }

    /// Refuse every token as Google does when the client id's domain-wide delegation
    /// lacks a scope asked for (`401 unauthorized_client`); `false` accepts again.
    pub fn refuse_delegation(&self, refuse: bool) {
        self.shared.oauth.set_failure(refuse.then(|| {
            TokenFailure::new(
                401,
                "unauthorized_client",
                "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.",
            )
        }));
    }

    /// Appends `n` events to each of the four applications, a second apart, now.
    pub fn add_activity(&self, n: usize) {
        let mut state = self.shared.state();
        let now = now_ms() - now_ms().rem_euclid(1000);
        for app in ["login", "admin", "drive", "token"] {
            state.add_events(app, n, now, 1_000, &self.shared.config);
        }
    }

    /// Adds a binary file owned by the admin, shared with a person outside when
    /// `external`, as a Drive change; its id.
    pub fn add_file(&self, external: bool) -> String {
        let mut state = self.shared.state();
        let f = state.files.len() + 100;
        let mut file = state.make_file(f, false, &self.shared.config);
        if external {
            file.permissions.push(
                json!({"kind": "drive#permission", "id": format!("4{f:019}"),
                "type": "user", "emailAddress": format!("vendor{f}@partner.example.net"),
                "role": "reader"}),
            );
        }
        let id = file.id();
        state.files.push(file);
        state.changed(&id);
        id
    }

    /// Renames file `id` (a change in the feed).
    pub fn rename_file(&self, id: &str, name: &str) {
        let mut state = self.shared.state();
        if let Some(at) = state.file_index(id) {
            state.files[at].meta["name"] = json!(name);
            state.changed(id);
        }
    }

    /// Ids of the files not in the trash, in order.
    pub fn file_ids(&self) -> Vec<String> {
        let state = self.shared.state();
        (state.files.iter().filter(|f| !f.trashed))
            .map(MockFile::id)
            .collect()
    }

    /// File `id`'s bytes (a Google Doc's export), and its MD5 (none for a Doc).
    pub fn file_content(&self, id: &str) -> Option<(Vec<u8>, Option<String>)> {
        let state = self.shared.state();
        let file = &state.files[state.file_index(id)?];
        Some((
            file.content.clone(),
            file.meta["md5Checksum"].as_str().map(str::to_owned),
        ))
    }

    /// File `id`'s permissions (the owner's included).
    pub fn permissions_of(&self, id: &str) -> Vec<Value> {
        let state = self.shared.state();
        state
            .file_index(id)
            .map(|at| state.files[at].permissions.clone())
            .unwrap_or_default()
    }

    /// File `id`'s parents and whether it is in the trash.
    pub fn placement_of(&self, id: &str) -> Option<(Vec<String>, bool)> {
        let state = self.shared.state();
        let file = &state.files[state.file_index(id)?];
        Some((file.parents.clone(), file.trashed))
    }

    /// File `id`'s Drive labels.
    pub fn labels_of(&self, id: &str) -> Vec<String> {
        let state = self.shared.state();
        state
            .file_index(id)
            .map(|at| state.files[at].labels.clone())
            .unwrap_or_default()
    }

    /// User `key`'s (id or email) `suspended`, none for an unknown user.
    pub fn is_suspended(&self, key: &str) -> Option<bool> {
        let state = self.shared.state();
        let at = state.user_index(key)?;
        state.users[at]["suspended"].as_bool()
    }

    /// Id of user `i` as generated.
    pub fn user_id(&self, i: usize) -> String {
        user_id(i)
    }

    /// The grant ids (`{user id}:{clientId}`) users hold now.
    pub fn grant_ids(&self) -> Vec<String> {
        let state = self.shared.state();
        (state.tokens.iter())
            .flat_map(|(user, tokens)| {
                tokens
                    .iter()
                    .map(move |t| format!("{user}:{}", t["clientId"].as_str().unwrap_or_default()))
            })
            .collect()
    }

    /// Replaces the pending faults (see [`Faults`]): throttling is 429 (403 with
    /// `secondary_as_403`) with Google's `rateLimitExceeded` body and, when
    /// `retry_after_secs` is set, `Retry-After`.
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
        requests.retain(|r| r.path() != "/token");
        requests
    }

    pub fn clear_requests(&self) {
        self.server.log().clear();
    }

    /// Exact counts a complete scan must yield now.
    pub fn expected(&self) -> GoogleExpected {
        let state = self.shared.state();
        let domain = &self.shared.config.domain;
        let flag = |u: &Value, k: &str| u[k].as_bool() == Some(true);
        let count = |f: &dyn Fn(&Value) -> bool| state.users.iter().filter(|u| f(u)).count();
        let events = |app: &str| {
            (state.activities.get(app)).map_or(0, |l| {
                l.iter()
                    .map(|a| a["events"].as_array().map_or(0, Vec::len))
                    .sum()
            })
        };
        let live: Vec<&MockFile> = state.files.iter().filter(|f| !f.trashed).collect();
        let outside = |p: &Value| {
            p["role"] != "owner"
                && (p["type"] == "anyone"
                    || p["emailAddress"]
                        .as_str()
                        .is_some_and(|e| !e.ends_with(&format!("@{domain}")))
                    || p["domain"].as_str().is_some_and(|d| d != domain))
        };
        GoogleExpected {
            users: state.users.len(),
            admins: count(&|u| flag(u, "isAdmin") || flag(u, "isDelegatedAdmin")),
            suspended: count(&|u| flag(u, "suspended")),
            archived: count(&|u| flag(u, "archived") && !flag(u, "suspended")),
            groups: state.groups.len(),
            group_members: state.groups.iter().map(|(_, m)| m.len()).sum(),
            logon: events("login"),
            admin_activity: events("admin"),
            user_activity: events("drive") + events("token"),
            grants: state.tokens.values().map(Vec::len).sum(),
            files: live.len(),
            public_files: live
                .iter()
                .filter(|f| f.permissions.iter().any(|p| p["type"] == "anyone"))
                .count(),
            external_files: live
                .iter()
                .filter(|f| f.permissions.iter().any(outside))
                .count(),
        }
    }
}

/// Serves the published examples in place of the generated users, roles, groups,
/// grants, activities and files (activity times moved to the last hours).
fn load_fixtures(dir: &FsPath, w: &mut Workspace) -> io::Result<()> {
    let read = |name: &str| -> io::Result<Value> {
        let path = dir.join(format!("{name}.rendered-from-discovery.json"));
        serde_json::from_slice(&std::fs::read(&path)?).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        })
    };
    let list = |v: &Value, key: &str| v[key].as_array().cloned().unwrap_or_default();
    w.users = list(&read("directory-users.list")?, "users");
    w.roles = list(&read("directory-roles.list")?, "items");
    w.assignments = list(&read("directory-roleAssignments.list")?, "items");
    let members = list(&read("directory-members.list")?, "members");
    w.groups = list(&read("directory-groups.list")?, "groups")
        .into_iter()
        .enumerate()
        .map(|(g, group)| (group, if g == 0 { members.clone() } else { Vec::new() }))
        .collect();
    let tokens = list(&read("directory-tokens.list")?, "items");
    w.tokens.clear();
    for token in tokens {
        let user = token["userKey"].as_str().unwrap_or_default().to_owned();
        w.tokens.entry(user).or_default().push(token);
    }
    // The published events are from 2024; they are moved to the last hours (order
    // kept, a minute apart) so a first scan's look-back reaches them.
    let newest = now_ms() - now_ms().rem_euclid(1000) - 3_600_000;
    for app in ["login", "admin", "drive", "token"] {
        let mut items = list(&read(&format!("reports-activities.list-{app}"))?, "items");
        for (k, item) in items.iter_mut().enumerate() {
            item["id"]["time"] = json!(iso(newest - k as i64 * 60_000));
        }
        items.reverse();
        w.activities.insert(app.into(), items);
    }
    w.files = list(&read("drive-files.list-with-permissions")?, "files")
        .into_iter()
        .enumerate()
        .map(|(f, mut meta)| {
            let permissions = list(&meta, "permissions");
            let parents: Vec<String> = (list(&meta, "parents").iter())
                .filter_map(|p| p.as_str().map(str::to_owned))
                .collect();
            if let Some(object) = meta.as_object_mut() {
                for key in ["permissions", "trashed", "parents", "shared"] {
                    object.remove(key);
                }
            }
            MockFile {
                meta,
                permissions,
                trashed: false,
                parents,
                labels: Vec::new(),
                content: content_bytes(f, 100),
            }
        })
        .collect();
    Ok(())
}

// ---- wire behaviour -------------------------------------------------------------

type Answer = Result<Response, Response>;

fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/admin/directory/v1/users", get(list_users))
        .route(
            "/admin/directory/v1/users/{key}",
            get(show_user).put(update_user),
        )
        .route("/admin/directory/v1/users/{key}/signOut", post(sign_out))
        .route("/admin/directory/v1/users/{key}/tokens", get(list_tokens))
        .route(
            "/admin/directory/v1/users/{key}/tokens/{client}",
            delete(delete_token),
        )
        .route("/admin/directory/v1/groups", get(list_groups))
        .route(
            "/admin/directory/v1/groups/{key}/members",
            get(list_members),
        )
        .route(
            "/admin/directory/v1/customer/{customer}/roles",
            get(list_roles),
        )
        .route(
            "/admin/directory/v1/customer/{customer}/roleassignments",
            get(list_assignments),
        )
        .route(
            "/admin/reports/v1/activity/users/all/applications/{app}",
            get(list_activities),
        )
        .route("/drive/v3/files", get(list_files))
        .route("/drive/v3/files/{id}", get(get_file).patch(update_file))
        .route("/drive/v3/files/{id}/export", get(export_file))
        .route("/drive/v3/files/{id}/permissions", get(list_permissions))
        .route(
            "/drive/v3/files/{id}/permissions/{pid}",
            delete(delete_permission),
        )
        .route("/drive/v3/files/{id}/modifyLabels", post(modify_labels))
        .route("/drive/v3/changes/startPageToken", get(start_page_token))
        .route("/drive/v3/changes", get(list_changes))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "notFound", "Not Found", "NOT_FOUND") })
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .layer(middleware::from_fn_with_state(shared.clone(), authenticate))
        .with_state(shared.clone());
    shared.oauth.router("/token").merge(api)
}

/// Google's error body.
fn error(status: StatusCode, reason: &str, message: &str, code: &str) -> Response {
    (
        status,
        Json(
            json!({"error": {"code": status.as_u16(), "message": message,
            "errors": [{"message": message, "domain": "global", "reason": reason}],
            "status": code}}),
        ),
    )
        .into_response()
}

fn bad_request(message: &str) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "invalid",
        message,
        "INVALID_ARGUMENT",
    )
}

fn not_found(what: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "notFound",
        &format!("{what} not found"),
        "NOT_FOUND",
    )
}

/// The read-only scope an endpoint needs and the broader one that also serves, by
/// method and path.
fn requirement(method: &Method, path: &str) -> (&'static str, &'static str) {
    let write = *method != Method::GET;
    if path.starts_with("/drive/") {
        return if write {
            ("drive", "drive")
        } else {
            ("drive.readonly", "drive")
        };
    }
    if path.starts_with("/admin/reports/") {
        return (
            "admin.reports.audit.readonly",
            "admin.reports.audit.readonly",
        );
    }
    if path.contains("/tokens") || path.ends_with("/signOut") {
        return (
            "admin.directory.user.security",
            "admin.directory.user.security",
        );
    }
    if path.contains("/groups") {
        return ("admin.directory.group.readonly", "admin.directory.group");
    }
    if path.contains("/customer/") {
        return (
            "admin.directory.rolemanagement.readonly",
            "admin.directory.rolemanagement",
        );
    }
    if write {
        ("admin.directory.user", "admin.directory.user")
    } else {
        ("admin.directory.user.readonly", "admin.directory.user")
    }
}

/// A bearer token the endpoint issued, carrying the endpoint's scope; 401 / 403 with
/// Google's bodies otherwise.
async fn authenticate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let Some(token) = shared.oauth.validate(request.headers()) else {
        return error(
            StatusCode::UNAUTHORIZED,
            "authError",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
            "UNAUTHENTICATED",
        );
    };
    let (scope, broader) = requirement(request.method(), request.uri().path());
    if !token.has_scope(&format!("{ROOT}{scope}")) && !token.has_scope(&format!("{ROOT}{broader}"))
    {
        return error(
            StatusCode::FORBIDDEN,
            "insufficientPermissions",
            "Request had insufficient authentication scopes.",
            "PERMISSION_DENIED",
        );
    }
    next.run(request).await
}

/// Injected faults, then the per-second budget.
async fn gate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let throttled = |retry_after: Option<u64>, as_403: bool| {
        let status = if as_403 {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        let mut response = error(
            status,
            "rateLimitExceeded",
            "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service 'admin.googleapis.com'.",
            "RESOURCE_EXHAUSTED",
        );
        if let Some(secs) = retry_after {
            set(&mut response, "retry-after", secs.to_string());
        }
        response
    };
    match shared.faults.take() {
        Some(faults::Fault::SecondaryLimit {
            retry_after_secs,
            as_403,
        }) => throttled((retry_after_secs > 0).then_some(retry_after_secs), as_403),
        Some(faults::Fault::ServerError { status }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            error(status, "backendError", "Backend Error", "INTERNAL")
        }
        Some(faults::Fault::ResetMidBody) => faults::reset_mid_body(next.run(request).await).await,
        Some(faults::Fault::TruncatedBody) => faults::truncate_body(next.run(request).await).await,
        fault => {
            let budget = shared.budget.consume();
            if !budget.allowed {
                let wait = budget
                    .reset_epoch_secs
                    .saturating_sub(now_ms() as u64 / 1000)
                    .max(1);
                return throttled(Some(wait), false);
            }
            let response = next.run(request).await;
            if let Some(faults::Fault::Slow { delay }) = fault {
                tokio::time::sleep(delay).await;
            }
            response
        }
    }
}

fn set(response: &mut Response, name: &'static str, value: String) {
    if let Ok(value) = HeaderValue::from_str(&value) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(name), value);
    }
}

/// One page of `items` under `key`: `size_param` (at most `max`, default `default`),
/// `pageToken` `{prefix}<offset>`, `nextPageToken` while more remain.
fn page(
    url: &RequestUrl,
    key: &str,
    items: &[Value],
    (size_param, default, max): (&str, usize, usize),
    prefix: &str,
    kind: &str,
) -> Answer {
    let size = match url.param(size_param).map(str::parse::<usize>) {
        None => default,
        Some(Ok(n)) if (1..=max).contains(&n) => n,
        _ => return Err(bad_request(&format!("Invalid value for {size_param}"))),
    };
    let offset = match url.param("pageToken") {
        None => 0,
        Some(token) => token
            .strip_prefix(prefix)
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| bad_request("Invalid page token"))?,
    };
    let end = (offset + size).min(items.len());
    let mut body = json!({"kind": kind, key: items.get(offset.min(end)..end).unwrap_or_default()});
    if end < items.len() {
        body["nextPageToken"] = json!(format!("{prefix}{end}"));
    }
    Ok(Json(body).into_response())
}

fn needs_customer(url: &RequestUrl) -> Result<(), Response> {
    match url.param("customer").or_else(|| url.param("domain")) {
        Some(_) => Ok(()),
        None => Err(bad_request("Bad Request")),
    }
}

async fn list_users(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Answer {
    needs_customer(&url)?;
    let mut users = shared.state().users.clone();
    if url.param("orderBy") == Some("email") {
        users.sort_by(|a, b| a["primaryEmail"].as_str().cmp(&b["primaryEmail"].as_str()));
    }
    page(
        &url,
        "users",
        &users,
        ("maxResults", 100, 500),
        "u",
        "admin#directory#users",
    )
}

async fn show_user(State(shared): State<Arc<Shared>>, Path(key): Path<String>) -> Answer {
    let state = shared.state();
    let at = state
        .user_index(&key)
        .ok_or_else(|| not_found("Resource"))?;
    Ok(Json(state.users[at].clone()).into_response())
}

async fn update_user(
    State(shared): State<Arc<Shared>>,
    Path(key): Path<String>,
    body: Bytes,
) -> Answer {
    let change: Value =
        serde_json::from_slice(&body).map_err(|_| bad_request("Invalid JSON payload"))?;
    let mut state = shared.state();
    let at = state
        .user_index(&key)
        .ok_or_else(|| not_found("Resource"))?;
    let before = state.users[at]["suspended"].as_bool();
    for field in ["suspended", "changePasswordAtNextLogin", "archived"] {
        if let Some(value) = change.get(field) {
            state.users[at][field] = value.clone();
        }
    }
    let after = state.users[at]["suspended"].as_bool();
    let user = state.users[at].clone();
    if before != after {
        let name = if after == Some(true) {
            "SUSPEND_USER"
        } else {
            "UNSUSPEND_USER"
        };
        let email = user["primaryEmail"].as_str().unwrap_or_default().to_owned();
        state.events += 1;
        let time = now_ms().max(
            (state.activities.get("admin").and_then(|l| l.last()))
                .and_then(|a| a["id"]["time"].as_str())
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .map_or(0, |t| t.timestamp_millis() + 1_000),
        );
        let admin = shared.config.admin_email.clone();
        state.push_event(
            "admin",
            time,
            "USER_SETTINGS",
            name,
            json!([{"name": "USER_EMAIL", "value": email}]),
            &admin,
        );
    }
    Ok(Json(user).into_response())
}

async fn sign_out(State(shared): State<Arc<Shared>>, Path(key): Path<String>) -> Answer {
    let state = shared.state();
    state
        .user_index(&key)
        .ok_or_else(|| not_found("Resource"))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_tokens(State(shared): State<Arc<Shared>>, Path(key): Path<String>) -> Answer {
    let state = shared.state();
    let at = state
        .user_index(&key)
        .ok_or_else(|| not_found("Resource"))?;
    let id = state.users[at]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let items = state.tokens.get(&id).cloned().unwrap_or_default();
    Ok(Json(json!({"kind": "admin#directory#tokenList", "items": items})).into_response())
}

async fn delete_token(
    State(shared): State<Arc<Shared>>,
    Path((key, client)): Path<(String, String)>,
) -> Answer {
    let mut state = shared.state();
    let at = state
        .user_index(&key)
        .ok_or_else(|| not_found("Resource"))?;
    let id = state.users[at]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let tokens = state.tokens.entry(id).or_default();
    let before = tokens.len();
    tokens.retain(|t| t["clientId"] != client.as_str());
    if tokens.len() == before {
        return Err(not_found("Resource"));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_groups(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Answer {
    needs_customer(&url)?;
    let groups: Vec<Value> = shared
        .state()
        .groups
        .iter()
        .map(|(g, _)| g.clone())
        .collect();
    page(
        &url,
        "groups",
        &groups,
        ("maxResults", 200, 200),
        "g",
        "admin#directory#groups",
    )
}

async fn list_members(
    State(shared): State<Arc<Shared>>,
    Path(key): Path<String>,
    url: RequestUrl,
) -> Answer {
    let state = shared.state();
    let (_, members) = (state.groups.iter())
        .find(|(g, _)| g["id"] == key.as_str() || g["email"] == key.as_str())
        .ok_or_else(|| not_found("Resource"))?;
    page(
        &url,
        "members",
        members,
        ("maxResults", 200, 200),
        "m",
        "admin#directory#members",
    )
}

async fn list_roles(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Answer {
    let roles = shared.state().roles.clone();
    page(
        &url,
        "items",
        &roles,
        ("maxResults", 100, 100),
        "r",
        "admin#directory#roles",
    )
}

async fn list_assignments(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Answer {
    let items = shared.state().assignments.clone();
    page(
        &url,
        "items",
        &items,
        ("maxResults", 100, 200),
        "a",
        "admin#directory#roleAssignments",
    )
}

/// An RFC 3339 query time in ms; 400 as Google answers a malformed one.
fn time_param(url: &RequestUrl, name: &str) -> Result<Option<i64>, Response> {
    url.param(name)
        .map(|t| {
            DateTime::parse_from_rfc3339(t)
                .map(|t| t.timestamp_millis())
                .map_err(|_| bad_request(&format!("Invalid value '{t}'. Values must match the following regular expression: '(\\d\\d\\d\\d)-(\\d\\d)-(\\d\\d)T(\\d\\d):(\\d\\d):(\\d\\d)(?:\\.(\\d+))?(?:(Z)|([-+])(\\d\\d):(\\d\\d))'")))
        })
        .transpose()
}

async fn list_activities(
    State(shared): State<Arc<Shared>>,
    Path(app): Path<String>,
    url: RequestUrl,
) -> Answer {
    let start = time_param(&url, "startTime")?.unwrap_or(i64::MIN);
    let end = time_param(&url, "endTime")?.unwrap_or(i64::MAX);
    if start > end {
        return Err(bad_request(
            "Start time must be less than or equal to the end time",
        ));
    }
    let state = shared.state();
    let all = state
        .activities
        .get(&app)
        .ok_or_else(|| bad_request("Invalid applicationName"))?;
    let items: Vec<Value> = (all.iter().rev())
        .filter(|a| {
            (a["id"]["time"].as_str())
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                .is_some_and(|t| (start..=end).contains(&t.timestamp_millis()))
        })
        .cloned()
        .collect();
    page(
        &url,
        "items",
        &items,
        ("maxResults", 1000, 1000),
        "p",
        "admin#reports#activities",
    )
}

async fn list_files(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Answer {
    if url.param("corpora").is_none() {
        return Err(bad_request("corpora is required by this mock"));
    }
    let hide_trashed = url
        .param("q")
        .is_some_and(|q| q.replace(' ', "") == "trashed=false");
    let files: Vec<Value> = (shared.state().files.iter())
        .filter(|f| !hide_trashed || !f.trashed)
        .map(MockFile::json)
        .collect();
    page(
        &url,
        "files",
        &files,
        ("pageSize", 100, 1000),
        "f",
        "drive#fileList",
    )
}

/// `files.get` (metadata), or with `alt=media` the content: `Range` honoured; a
/// Google Doc has no media.
async fn get_file(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    url: RequestUrl,
    headers: HeaderMap,
) -> Answer {
    let state = shared.state();
    let file = &state.files[state
        .file_index(&id)
        .ok_or_else(|| not_found(&format!("File: {id}")))?];
    if url.param("alt") != Some("media") {
        return Ok(Json(file.json()).into_response());
    }
    if file.is_doc() {
        return Err(error(
            StatusCode::FORBIDDEN,
            "fileNotDownloadable",
            "Only files with binary content can be downloaded. Use Export with Docs Editors files.",
            "PERMISSION_DENIED",
        ));
    }
    let bytes = &file.content;
    let total = bytes.len();
    let range = (headers.get("range").and_then(|v| v.to_str().ok()))
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.split_once('-'))
        .and_then(|(a, b)| Some((a.parse::<usize>().ok()?, b.parse::<usize>().ok()?)));
    match range {
        Some((start, _)) if start >= total => {
            let mut response = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            set(&mut response, "content-range", format!("bytes */{total}"));
            Err(response)
        }
        Some((start, end)) => {
            let end = end.min(total - 1);
            let mut response =
                (StatusCode::PARTIAL_CONTENT, bytes[start..=end].to_vec()).into_response();
            set(
                &mut response,
                "content-range",
                format!("bytes {start}-{end}/{total}"),
            );
            Ok(response)
        }
        None => Ok((StatusCode::OK, bytes.clone()).into_response()),
    }
}

async fn export_file(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    url: RequestUrl,
) -> Answer {
    let state = shared.state();
    let file = &state.files[state
        .file_index(&id)
        .ok_or_else(|| not_found(&format!("File: {id}")))?];
    if !file.is_doc() {
        return Err(error(
            StatusCode::FORBIDDEN,
            "fileNotExportable",
            "Export only supports Docs Editors files.",
            "PERMISSION_DENIED",
        ));
    }
    if url.param("mimeType").is_none() {
        return Err(bad_request("Required parameter: mimeType"));
    }
    Ok((StatusCode::OK, file.content.clone()).into_response())
}

/// `files.update`: `trashed`, `name`, and `addParents` / `removeParents`.
async fn update_file(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    url: RequestUrl,
    body: Bytes,
) -> Answer {
    let change: Value = if body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&body).map_err(|_| bad_request("Invalid JSON payload"))?
    };
    let mut state = shared.state();
    let at = state
        .file_index(&id)
        .ok_or_else(|| not_found(&format!("File: {id}")))?;
    let file = &mut state.files[at];
    if let Some(trashed) = change.get("trashed").and_then(Value::as_bool) {
        file.trashed = trashed;
    }
    if let Some(name) = change.get("name") {
        file.meta["name"] = name.clone();
    }
    if let Some(remove) = url.param("removeParents") {
        let remove: Vec<&str> = remove.split(',').collect();
        file.parents.retain(|p| !remove.contains(&p.as_str()));
    }
    if let Some(add) = url.param("addParents") {
        for parent in add.split(',') {
            if !file.parents.iter().any(|p| p == parent) {
                file.parents.push(parent.to_owned());
            }
        }
    }
    let answer = file.json();
    state.changed(&id);
    Ok(Json(answer).into_response())
}

async fn list_permissions(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    url: RequestUrl,
) -> Answer {
    let state = shared.state();
    let file = &state.files[state
        .file_index(&id)
        .ok_or_else(|| not_found(&format!("File: {id}")))?];
    page(
        &url,
        "permissions",
        &file.permissions,
        ("pageSize", 100, 100),
        "q",
        "drive#permissionList",
    )
}

async fn delete_permission(
    State(shared): State<Arc<Shared>>,
    Path((id, pid)): Path<(String, String)>,
) -> Answer {
    let mut state = shared.state();
    let at = state
        .file_index(&id)
        .ok_or_else(|| not_found(&format!("File: {id}")))?;
    let file = &mut state.files[at];
    let found = (file
        .permissions
        .iter()
        .position(|p| p["id"] == pid.as_str()))
    .ok_or_else(|| not_found(&format!("Permission: {pid}")))?;
    if file.permissions[found]["role"] == "owner" {
        return Err(error(
            StatusCode::FORBIDDEN,
            "cannotRemoveOwner",
            "The owner of a file cannot be removed.",
            "PERMISSION_DENIED",
        ));
    }
    file.permissions.remove(found);
    state.changed(&id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn modify_labels(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let request: Value =
        serde_json::from_slice(&body).map_err(|_| bad_request("Invalid JSON payload"))?;
    let mut state = shared.state();
    let at = state
        .file_index(&id)
        .ok_or_else(|| not_found(&format!("File: {id}")))?;
    let mut modified = Vec::new();
    for m in request["labelModifications"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let Some(label) = m["labelId"].as_str() else {
            return Err(bad_request("labelId is required"));
        };
        let file = &mut state.files[at];
        if !file.labels.iter().any(|l| l == label) {
            file.labels.push(label.to_owned());
        }
        modified.push(json!({"id": label, "kind": "drive#label"}));
    }
    state.changed(&id);
    Ok(
        Json(json!({"kind": "drive#modifyLabelsResponse", "modifiedLabels": modified}))
            .into_response(),
    )
}

async fn start_page_token(State(shared): State<Arc<Shared>>) -> Answer {
    let next = shared.state().next_change;
    Ok(
        Json(json!({"kind": "drive#startPageToken", "startPageToken": next.to_string()}))
            .into_response(),
    )
}

/// `changes.list`: every change from the token's number on (a file changed twice is
/// listed at its last change), `pageSize` a page.
async fn list_changes(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Answer {
    let from: u64 = (url.param("pageToken").and_then(|t| t.parse().ok()))
        .ok_or_else(|| bad_request("Required parameter: pageToken"))?;
    let size = match url.param("pageSize").map(str::parse::<usize>) {
        None => 100,
        Some(Ok(n)) if (1..=1000).contains(&n) => n,
        _ => return Err(bad_request("Invalid value for pageSize")),
    };
    let state = shared.state();
    let pending: Vec<&(u64, String, i64)> = (state.changes.iter())
        .filter(|(n, id, _)| {
            *n >= from
                && !state
                    .changes
                    .iter()
                    .any(|(m, other, _)| other == id && *m > *n)
        })
        .collect();
    let mut changes = Vec::new();
    for (_, id, time) in pending.iter().take(size) {
        let file = state.file_index(id).map(|at| state.files[at].json());
        changes.push(
            json!({"kind": "drive#change", "changeType": "file", "time": iso(*time),
            "removed": file.is_none(), "fileId": id, "file": file}),
        );
    }
    let mut body = json!({"kind": "drive#changeList", "changes": changes});
    match pending.get(size) {
        Some((n, _, _)) => body["nextPageToken"] = json!(n.to_string()),
        None => body["newStartPageToken"] = json!(state.next_change.to_string()),
    }
    Ok(Json(body).into_response())
}
