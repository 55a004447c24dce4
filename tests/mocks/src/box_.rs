//! A loopback Box API for one enterprise, with Box's token endpoint and download host
//! mounted beside it (the same server is `https://api.box.com` and
//! `https://dl.boxcloud.com`).
//!
//! As Box documents:
//! - `POST /oauth2/token` with `grant_type=client_credentials`, the app's `client_id`
//!   and `client_secret` in the form, `box_subject_type=enterprise` and
//!   `box_subject_id=<enterprise id>` (Client Credentials Grant); a wrong subject is
//!   400 `{"error": "invalid_grant", …}`. API calls carry `Authorization: Bearer`;
//!   anything else is 401 with an empty body and `WWW-Authenticate`;
//! - errors are `{"type": "error", "status", "code", "message", "request_id"}`; an app
//!   without a scope gets 403 `access_denied_insufficient_permissions`;
//! - users (`GET /2.0/users`) page by marker (`usemarker=true`, `marker`,
//!   `next_marker`) or offset; groups and memberships by offset (`total_count`);
//!   folder items and collaborations by marker;
//! - `GET /2.0/events?stream_type=admin_logs` takes `created_after`, `created_before`
//!   (RFC 3339), `limit` (at most 500) and `stream_position`; entries oldest first,
//!   `next_stream_position` and `chunk_size`;
//! - content is read as a user (`As-User: <id>`, which needs the app scope "Make API
//!   calls using the as-user header"): a folder `0` is that user's root, holding what
//!   they own and what is collaborated with them; others' folders are 404;
//! - `GET /2.0/files/{id}/content` answers `302` to `{base}/d/1/{id}/download`, which
//!   honours `Range` (206 with `Content-Range`);
//! - throttling is 429 with the published body (`shared/fixtures/box/rate-limit-429.json`)
//!   and `retry-after` in seconds.
//!
//! | route | |
//! |---|---|
//! | `POST /oauth2/token` | the token endpoint |
//! | `GET /2.0/users/me`, `GET /2.0/users`, `GET`/`PUT /2.0/users/{id}` | users (`status`) |
//! | `GET /2.0/groups`, `GET /2.0/groups/{id}/memberships` | groups |
//! | `GET /2.0/events` | the admin logs |
//! | `GET /2.0/folders/{id}/items`, `GET /2.0/{folders,files}/{id}/collaborations` | the trees |
//! | `GET`/`PUT`/`DELETE /2.0/files/{id}`, `GET /2.0/files/{id}/content` | files |
//! | `DELETE /2.0/collaborations/{id}` | collaborations |
//! | `GET`/`POST`/`PUT /2.0/files/{id}/metadata/enterprise/securityClassification-6VMVochwUWo` | classification |
//! | `GET /2.0/metadata_templates/enterprise/securityClassification-6VMVochwUWo/schema` | the template |
//! | `GET /d/1/{id}/download` | the download host |
//!
//! The enterprise: user 0 is its admin (`role: admin`), the next `coadmins` co-admins,
//! the last `inactive_users` inactive. Each user owns a folder `Projects`, holding a
//! folder `Archive`, and `files_per_user` files spread over their root, `Projects` and
//! `Archive`. The first `public_links` files have an open shared link, the next
//! `company_links` a company one; the first `classified` are classified
//! `Confidential`. The `Projects` of the first `external_collaborations` users is
//! collaborated with an outside guest (`guestN@partner.example`, editor), and every
//! user's `Projects` with the next user (viewer), so it shows in that user's root too.
//! User 0 owns the quarantine folder (`QUARANTINE_FOLDER_ID`), which every user may
//! upload into.
//!
//! Assumed where Box publishes no statement: a page of admin logs shorter than `limit`
//! may be followed by more (the connector asks until a page is empty); marker values
//! are opaque (`m<offset>` here); the 429 budget is per minute.

// Handlers answer `Result<Response, Response>` (Box's error body is a response too).
#![allow(clippy::result_large_err)]

use std::collections::BTreeSet;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, Request, State};
use axum::http::header::{HeaderName, HeaderValue};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::faults::{self, FaultPlan, Faults, RateBudget};
use crate::oauth::{OAuthMock, OAuthMockConfig};
use crate::server::{MockServer, RequestRecord, RequestUrl};

/// The classification template's key.
pub const BOX_CLASSIFICATION_TEMPLATE: &str = "securityClassification-6VMVochwUWo";
/// The app scopes, in Box's words; [`BoxMockConfig::denied`] takes any of them away.
pub const BOX_SCOPES: [&str; 6] = [
    "Manage users",
    "Manage groups",
    "Manage enterprise properties",
    "Read all files and folders stored in Box",
    "Write all files and folders stored in Box",
    "Make API calls using the as-user header",
];
/// The id of the quarantine folder user 0 owns.
pub const QUARANTINE_FOLDER_ID: &str = "399999";
/// The service account's id (the token's subject).
const SERVICE_ACCOUNT: &str = "1999";
/// 2024-01-01T00:00:00Z, the anchor of creation dates.
const EPOCH_MS: i64 = 1_704_067_200_000;

/// The mock enterprise and its app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoxMockConfig {
    pub enterprise_id: String,
    pub client_id: String,
    pub client_secret: String,
    /// Scopes of [`BOX_SCOPES`] the app lacks.
    pub denied: Vec<String>,
    /// Users in all; user 0 is the admin.
    pub users: usize,
    pub coadmins: usize,
    pub inactive_users: usize,
    pub groups: usize,
    pub members_per_group: usize,
    /// Admin-log events at start, `event_interval_ms` apart, the newest an hour old.
    pub events: usize,
    pub event_interval_ms: i64,
    pub files_per_user: usize,
    pub public_links: usize,
    pub company_links: usize,
    pub classified: usize,
    pub external_collaborations: usize,
    /// Size of the first file's content; the others are small.
    pub large_file: usize,
    /// Whether the enterprise defines classifications (the template exists).
    pub classifications: bool,
    /// Requests per minute before 429s.
    pub rate_limit_per_minute: u32,
    /// Serve the published users and events examples from this folder.
    pub fixtures_dir: Option<PathBuf>,
}

impl Default for BoxMockConfig {
    fn default() -> Self {
        BoxMockConfig {
            enterprise_id: "11446498".into(),
            client_id: "mock-box-client".into(),
            client_secret: "mock-box-secret".into(),
            denied: Vec::new(),
            users: 6,
            coadmins: 1,
            inactive_users: 1,
            groups: 2,
            members_per_group: 3,
            events: 12,
            event_interval_ms: 3_600_000,
            files_per_user: 4,
            public_links: 2,
            company_links: 1,
            classified: 2,
            external_collaborations: 1,
            large_file: 0,
            classifications: true,
            rate_limit_per_minute: 1000,
            fixtures_dir: None,
        }
    }
}

/// What a complete scan of the mock must yield right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BoxExpected {
    pub users: usize,
    pub admins: usize,
    pub suspended: usize,
    pub groups: usize,
    pub logon: usize,
    pub user_activity: usize,
    pub admin_activity: usize,
    pub activities: usize,
    pub files: usize,
    pub public_files: usize,
    pub shared_externally: usize,
    pub labeled_files: usize,
}

/// A running Box mock.
#[derive(Debug)]
pub struct BoxMock {
    server: MockServer,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: BoxMockConfig,
    oauth: OAuthMock,
    state: Mutex<Enterprise>,
    budget: RateBudget,
    faults: FaultPlan,
    fixture_events: Option<Value>,
    fixture_users: Option<Value>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, Enterprise> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn allows(&self, scope: &str) -> bool {
        !self.config.denied.iter().any(|d| d == scope)
    }
}

#[derive(Debug, Clone)]
struct MockUser {
    id: String,
    login: String,
    name: String,
    role: &'static str,
    status: &'static str,
    created_ms: i64,
}

#[derive(Debug, Clone)]
struct MockFolder {
    id: String,
    name: String,
    owner: String,
    /// `0` for a root folder.
    parent: String,
    /// Everyone may upload (the quarantine folder).
    open_upload: bool,
}

#[derive(Debug, Clone)]
struct MockFile {
    id: String,
    name: String,
    owner: String,
    parent: String,
    size: usize,
    link: Option<&'static str>,
    classification: Option<String>,
    trashed: bool,
    modified_ms: i64,
}

#[derive(Debug, Clone)]
struct Collaboration {
    id: String,
    /// `folder` or `file`.
    item_type: &'static str,
    item_id: String,
    /// A user id (enterprise users) or none for an outside guest.
    user_id: Option<String>,
    login: String,
    role: &'static str,
}

#[derive(Debug, Clone)]
struct Event {
    time_ms: i64,
    body: Value,
}

#[derive(Debug)]
struct Enterprise {
    users: Vec<MockUser>,
    groups: Vec<(String, String, Vec<String>)>,
    folders: Vec<MockFolder>,
    files: Vec<MockFile>,
    collaborations: Vec<Collaboration>,
    /// Oldest first.
    events: Vec<Event>,
    next_id: u64,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// RFC 3339 with a numeric offset, as Box writes times.
fn iso(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// Event types the mock logs, with the kind Box's docs put them under.
const EVENT_TYPES: [(&str, &str); 8] = [
    ("LOGIN", "logon"),
    ("UPLOAD", "user"),
    ("FAILED_LOGIN", "logon"),
    ("DOWNLOAD", "user"),
    ("NEW_USER", "admin"),
    ("PREVIEW", "user"),
    ("GROUP_ADD_USER", "admin"),
    ("SHARE", "user"),
];

/// The content of file `id`, `size` bytes.
fn content_of(id: &str, size: usize) -> Vec<u8> {
    let line = format!("Box mock file {id}: quarterly numbers, card 4111 1111 1111 1111.\n");
    line.bytes().cycle().take(size).collect()
}

impl Enterprise {
    fn generate(c: &BoxMockConfig) -> Enterprise {
        let users: Vec<MockUser> = (0..c.users)
            .map(|i| MockUser {
                id: format!("{}", 2000 + i),
                login: format!("user{i}@acme.example"),
                name: format!("User {i}"),
                role: match i {
                    0 => "admin",
                    i if i <= c.coadmins => "coadmin",
                    _ => "user",
                },
                status: if i > 0 && i + c.inactive_users >= c.users {
                    "inactive"
                } else {
                    "active"
                },
                created_ms: EPOCH_MS + i as i64 * 3_600_000,
            })
            .collect();
        let groups = (0..c.groups)
            .map(|g| {
                let members = (0..c.members_per_group.min(users.len()))
                    .map(|k| users[(g + k) % users.len()].id.clone())
                    .collect();
                (format!("{}", 6000 + g), format!("Group {g}"), members)
            })
            .collect();
        let mut e = Enterprise {
            users,
            groups,
            folders: Vec::new(),
            files: Vec::new(),
            collaborations: Vec::new(),
            events: Vec::new(),
            next_id: 0,
        };
        let owners: Vec<String> = e.users.iter().map(|u| u.id.clone()).collect();
        for (u, owner) in owners.iter().enumerate() {
            let projects = e.folder("Projects", owner, "0");
            let archive = e.folder("Archive", owner, &projects);
            for k in 0..c.files_per_user {
                let parent = match k % 3 {
                    0 => "0".to_owned(),
                    1 => projects.clone(),
                    _ => archive.clone(),
                };
                let n = e.files.len();
                let size = if n == 0 && c.large_file > 0 {
                    c.large_file
                } else {
                    200 + n * 7
                };
                let id = e.id(400_000);
                e.files.push(MockFile {
                    name: format!("report-{u}-{k}.txt"),
                    owner: owner.clone(),
                    parent,
                    size,
                    link: if n < c.public_links {
                        Some("open")
                    } else if n < c.public_links + c.company_links {
                        Some("company")
                    } else {
                        None
                    },
                    classification: (n < c.classified).then(|| "Confidential".to_owned()),
                    trashed: false,
                    modified_ms: EPOCH_MS + n as i64 * 60_000,
                    id,
                });
            }
            if u < c.external_collaborations {
                e.collaborate(
                    "folder",
                    &projects,
                    None,
                    &format!("guest{u}@partner.example"),
                    "editor",
                );
            }
            if owners.len() > 1 {
                let next = &owners[(u + 1) % owners.len()];
                let login = format!("user{}@acme.example", (u + 1) % owners.len());
                e.collaborate("folder", &projects, Some(next.clone()), &login, "viewer");
            }
        }
        if let Some(admin) = owners.first() {
            e.folders.push(MockFolder {
                id: QUARANTINE_FOLDER_ID.into(),
                name: "Quarantine".into(),
                owner: admin.clone(),
                parent: "0".into(),
                open_upload: true,
            });
        }
        let newest = now_ms() - now_ms().rem_euclid(1000) - 3_600_000;
        let start = newest - c.event_interval_ms * (c.events as i64 - 1).max(0);
        for k in 0..c.events {
            e.log(
                EVENT_TYPES[k % EVENT_TYPES.len()].0,
                start + k as i64 * c.event_interval_ms,
            );
        }
        e
    }

    fn id(&mut self, base: u64) -> String {
        self.next_id += 1;
        format!("{}", base + self.next_id)
    }

    fn folder(&mut self, name: &str, owner: &str, parent: &str) -> String {
        let id = self.id(300_000);
        self.folders.push(MockFolder {
            id: id.clone(),
            name: name.into(),
            owner: owner.into(),
            parent: parent.into(),
            open_upload: false,
        });
        id
    }

    fn collaborate(
        &mut self,
        item_type: &'static str,
        item_id: &str,
        user_id: Option<String>,
        login: &str,
        role: &'static str,
    ) {
        let id = self.id(500_000);
        self.collaborations.push(Collaboration {
            id,
            item_type,
            item_id: item_id.into(),
            user_id,
            login: login.into(),
            role,
        });
    }

    /// Logs an event of `event_type` at `time_ms` (not before the newest; several may
    /// share a second, as Box's whole-second times do).
    fn log(&mut self, event_type: &str, time_ms: i64) {
        let time_ms = self
            .events
            .last()
            .map_or(time_ms, |e| time_ms.max(e.time_ms));
        let n = self.events.len();
        let actor = &self.users[n % self.users.len().max(1)];
        let body = json!({
            "type": "event",
            "event_id": format!("{:08x}-b1ff-4cc3-89a8-{:012x}", n, time_ms),
            "event_type": event_type,
            "created_at": iso(time_ms),
            "created_by": {"type": "user", "id": actor.id, "name": actor.name, "login": actor.login},
            "source": {"type": "user", "id": actor.id, "name": actor.name, "login": actor.login},
            "ip_address": format!("203.0.113.{}", n % 250),
            "session_id": null,
            "additional_details": null,
        });
        self.events.push(Event { time_ms, body });
    }

    fn log_now(&mut self, event_type: &str) {
        let now = now_ms() - now_ms().rem_euclid(1000);
        self.log(event_type, now);
    }

    fn user_json(&self, u: &MockUser, enterprise: &str) -> Value {
        json!({
            "type": "user", "id": u.id, "name": u.name, "login": u.login,
            "created_at": iso(u.created_ms), "modified_at": iso(u.created_ms),
            "language": "en", "timezone": "America/Los_Angeles",
            "space_amount": 10_737_418_240_i64, "space_used": 0,
            "max_upload_size": 16_106_127_360_i64, "status": u.status, "job_title": "",
            "phone": "", "address": "",
            "avatar_url": format!("https://acme.app.box.com/api/avatar/large/{}", u.id),
            "role": u.role,
            "enterprise": {"type": "enterprise", "id": enterprise, "name": "Acme Inc."},
        })
    }

    fn mini_user(&self, id: &str) -> Value {
        match self.users.iter().find(|u| u.id == id) {
            Some(u) => json!({"type": "user", "id": u.id, "name": u.name, "login": u.login}),
            None => json!({"type": "user", "id": id}),
        }
    }

    fn folder_of(&self, id: &str) -> Option<&MockFolder> {
        self.folders.iter().find(|f| f.id == id)
    }

    /// The folders from the root down to `parent` (excluded the root `0`).
    fn ancestors(&self, parent: &str) -> Vec<&MockFolder> {
        let mut chain = Vec::new();
        let mut at = parent.to_owned();
        while let Some(folder) = self.folder_of(&at) {
            chain.push(folder);
            at = folder.parent.clone();
        }
        chain.reverse();
        chain
    }

    fn collaborated(&self, item_type: &str, id: &str) -> bool {
        (self.collaborations.iter()).any(|c| c.item_type == item_type && c.item_id == id)
    }

    /// Whether `user` reaches an item owned by `owner` under `parent` (and, for a
    /// folder or file, the item itself as `item`).
    fn reaches(&self, user: &str, owner: &str, parent: &str, item: (&str, &str)) -> bool {
        if user == owner {
            return true;
        }
        let on = |kind: &str, id: &str| {
            (self.collaborations.iter()).any(|c| {
                c.item_type == kind && c.item_id == id && c.user_id.as_deref() == Some(user)
            })
        };
        on(item.0, item.1) || self.ancestors(parent).iter().any(|f| on("folder", &f.id))
    }

    fn file_json(&self, f: &MockFile, fields: &str, enterprise: &str) -> Value {
        let path: Vec<Value> =
            std::iter::once(json!({"type": "folder", "id": "0", "name": "All Files"}))
                .chain(
                    self.ancestors(&f.parent)
                        .iter()
                        .map(|a| json!({"type": "folder", "id": a.id, "name": a.name})),
                )
                .collect();
        let parent = match self.folder_of(&f.parent) {
            Some(p) => json!({"type": "folder", "id": p.id, "name": p.name}),
            None => json!({"type": "folder", "id": "0", "name": "All Files"}),
        };
        let link = f.link.map(|access| {
            json!({
                "url": format!("https://acme.app.box.com/s/mock{}", f.id),
                "download_url": null, "vanity_url": null, "vanity_name": null,
                "access": access, "effective_access": access,
                "effective_permission": "can_download", "unshared_at": null,
                "is_password_enabled": false,
                "permissions": {"can_download": true, "can_preview": true, "can_edit": false},
                "download_count": 0, "preview_count": 0,
            })
        });
        let sha1 = format!(
            "{:040x}",
            f.id.parse::<u64>().unwrap_or(0) * 7919 + f.size as u64
        );
        let mut body = json!({
            "type": "file", "id": f.id, "etag": "1", "sequence_id": "1", "name": f.name,
            "sha1": sha1, "size": f.size, "extension": "txt",
            "file_version": {"type": "file_version", "id": format!("9{}", f.id), "sha1": sha1},
            "created_at": iso(f.modified_ms), "modified_at": iso(f.modified_ms),
            "content_created_at": iso(f.modified_ms), "content_modified_at": iso(f.modified_ms),
            "owned_by": self.mini_user(&f.owner),
            "created_by": self.mini_user(&f.owner),
            "shared_link": link,
            "parent": parent,
            "path_collection": {"total_count": path.len(), "entries": path},
            "item_status": "active",
            "has_collaborations": self.collaborated("file", &f.id),
            "classification": f.classification.as_ref().map(|name| json!({
                "name": name, "definition": "Not to be shared outside the company.",
                "color": "#FF0000"})),
        });
        if fields.contains(&format!(
            "metadata.enterprise_{enterprise}.{BOX_CLASSIFICATION_TEMPLATE}"
        )) {
            let instance = f.classification.as_ref().map(|name| {
                json!({
                    "Box__Security__Classification__Key": name,
                    "$parent": format!("file_{}", f.id),
                    "$template": BOX_CLASSIFICATION_TEMPLATE,
                    "$scope": format!("enterprise_{enterprise}"),
                })
            });
            body["metadata"] = json!({format!("enterprise_{enterprise}"): {
                BOX_CLASSIFICATION_TEMPLATE: instance}});
            // Box leaves out what a file does not have.
            if f.classification.is_none() {
                body["metadata"] = json!({});
            }
            body["classification"] = Value::Null;
        }
        body
    }

    fn folder_json(&self, f: &MockFolder) -> Value {
        json!({
            "type": "folder", "id": f.id, "etag": "0", "sequence_id": "0", "name": f.name,
            "owned_by": self.mini_user(&f.owner),
            "shared_link": null,
            "has_collaborations": self.collaborated("folder", &f.id),
            "item_status": "active",
        })
    }

    fn collaboration_json(&self, c: &Collaboration) -> Value {
        let accessible_by = match &c.user_id {
            Some(id) => self.mini_user(id),
            None => {
                json!({"type": "user", "id": format!("88{}", c.id), "name": c.login, "login": c.login})
            }
        };
        json!({
            "type": "collaboration", "id": c.id, "status": "accepted", "role": c.role,
            "accessible_by": accessible_by,
            "item": {"type": c.item_type, "id": c.item_id},
            "created_at": iso(EPOCH_MS), "modified_at": iso(EPOCH_MS), "expires_at": null,
        })
    }
}

impl BoxMock {
    /// Binds `127.0.0.1:0` and serves on the current tokio runtime.
    pub async fn start(config: BoxMockConfig) -> io::Result<BoxMock> {
        let read = |name: &str| -> io::Result<Option<Value>> {
            let Some(dir) = &config.fixtures_dir else {
                return Ok(None);
            };
            let path = dir.join(name);
            let value = serde_json::from_slice(&std::fs::read(&path)?).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            })?;
            Ok(Some(value))
        };
        let fixture_events = read("events-admin_logs.sdk-fixture-4.16.3.json")?;
        let fixture_users = read("users.list-marker.sdk-fixture.json")?;
        let oauth = OAuthMock::new(OAuthMockConfig {
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone(),
            ..OAuthMockConfig::default()
        });
        let shared = Arc::new(Shared {
            oauth,
            state: Mutex::new(Enterprise::generate(&config)),
            budget: RateBudget::new(config.rate_limit_per_minute, Duration::from_secs(60)),
            faults: FaultPlan::default(),
            fixture_events,
            fixture_users,
            config,
        });
        let router = router(shared.clone());
        let server = MockServer::start(Duration::ZERO, |_| router).await?;
        Ok(BoxMock { server, shared })
    }

    /// `http://127.0.0.1:PORT`: the API, the token endpoint and the download host.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    pub fn config(&self) -> &BoxMockConfig {
        &self.shared.config
    }

    /// The token endpoint, for what the host sent it.
    pub fn oauth(&self) -> &OAuthMock {
        &self.shared.oauth
    }

    /// Replaces the pending faults; throttling faults are 429 with `retry-after`.
    pub fn inject_faults(&self, faults: Faults) {
        self.shared.faults.inject(faults, &self.shared.budget);
    }

    pub fn requests(&self) -> Vec<RequestRecord> {
        self.server.log().snapshot()
    }

    pub fn clear_requests(&self) {
        self.server.log().clear();
    }

    /// Logs `n` more events, a second apart, the last now.
    pub fn add_events(&self, n: usize) {
        let mut state = self.shared.state();
        let now = now_ms() - now_ms().rem_euclid(1000);
        for k in 0..n {
            let event_type = EVENT_TYPES[state.events.len() % EVENT_TYPES.len()].0;
            state.log(event_type, now - (n - 1 - k) as i64 * 1000);
        }
    }

    /// Adds a file to user `user`'s root; its record id.
    pub fn add_file(&self, user: usize) -> String {
        let mut state = self.shared.state();
        let owner = state.users[user].id.clone();
        let id = state.id(400_000);
        let n = state.files.len();
        state.files.push(MockFile {
            id: id.clone(),
            name: format!("new-{n}.txt"),
            owner: owner.clone(),
            parent: "0".into(),
            size: 120,
            link: None,
            classification: None,
            trashed: false,
            modified_ms: now_ms(),
        });
        state.log_now("UPLOAD");
        format!("{id}@{owner}")
    }

    /// User `i`'s id.
    pub fn user_id(&self, i: usize) -> String {
        self.shared.state().users[i].id.clone()
    }

    /// User `id`'s status, none for an unknown user.
    pub fn status_of(&self, id: &str) -> Option<String> {
        let state = self.shared.state();
        (state.users.iter().find(|u| u.id == id)).map(|u| u.status.to_owned())
    }

    /// The record ids (`{file}@{owner}`) of the files not trashed, sorted.
    pub fn file_ids(&self) -> Vec<String> {
        let state = self.shared.state();
        let mut ids: Vec<String> = (state.files.iter())
            .filter(|f| !f.trashed)
            .map(|f| format!("{}@{}", f.id, f.owner))
            .collect();
        ids.sort();
        ids
    }

    /// The record id of the `n`th file generated (creation order).
    pub fn nth_file(&self, n: usize) -> String {
        let state = self.shared.state();
        let f = &state.files[n];
        format!("{}@{}", f.id, f.owner)
    }

    /// File `id`'s (Box id) content, none for an unknown file.
    pub fn file_content(&self, id: &str) -> Option<Vec<u8>> {
        let state = self.shared.state();
        (state.files.iter().find(|f| f.id == id)).map(|f| content_of(&f.id, f.size))
    }

    /// File `id`'s (Box id) shared link access, its parent folder, its owner, whether trashed.
    pub fn file_state(&self, id: &str) -> Option<(Option<String>, String, String, bool)> {
        let state = self.shared.state();
        (state.files.iter().find(|f| f.id == id)).map(|f| {
            (
                f.link.map(str::to_owned),
                f.parent.clone(),
                f.owner.clone(),
                f.trashed,
            )
        })
    }

    /// The logins collaborating on folder or file `id`.
    pub fn collaborators_of(&self, id: &str) -> Vec<String> {
        let state = self.shared.state();
        (state.collaborations.iter())
            .filter(|c| c.item_id == id)
            .map(|c| c.login.clone())
            .collect()
    }

    /// The classification of file `id` (Box id).
    pub fn classification_of(&self, id: &str) -> Option<String> {
        let state = self.shared.state();
        state
            .files
            .iter()
            .find(|f| f.id == id)?
            .classification
            .clone()
    }

    /// Exact counts a complete scan must yield now.
    pub fn expected(&self) -> BoxExpected {
        let state = self.shared.state();
        if self.shared.fixture_users.is_some() {
            return BoxExpected {
                users: 2,
                activities: 1,
                logon: 1,
                ..BoxExpected::default()
            };
        }
        let kind = |k: &str| {
            (state.events.iter())
                .filter(|e| {
                    let t = e.body["event_type"].as_str().unwrap_or_default();
                    EVENT_TYPES
                        .iter()
                        .any(|(name, kind)| *name == t && *kind == k)
                        || (k == "admin" && t == "EDIT_USER")
                        || (k == "user" && matches!(t, "DELETE" | "MOVE" | "UNSHARE"))
                })
                .count()
        };
        let files: Vec<&MockFile> = state.files.iter().filter(|f| !f.trashed).collect();
        let external_folders: BTreeSet<&str> = (state.collaborations.iter())
            .filter(|c| c.user_id.is_none())
            .map(|c| c.item_id.as_str())
            .collect();
        let shared_externally = (files.iter())
            .filter(|f| {
                f.link == Some("open")
                    || state
                        .ancestors(&f.parent)
                        .iter()
                        .any(|a| external_folders.contains(a.id.as_str()))
            })
            .count();
        BoxExpected {
            users: state.users.len(),
            admins: (state.users.iter()).filter(|u| u.role != "user").count(),
            suspended: (state.users.iter())
                .filter(|u| u.status == "inactive")
                .count(),
            groups: state.groups.len(),
            logon: kind("logon"),
            user_activity: kind("user"),
            admin_activity: kind("admin"),
            activities: state.events.len(),
            files: files.len(),
            public_files: files.iter().filter(|f| f.link == Some("open")).count(),
            shared_externally,
            labeled_files: files.iter().filter(|f| f.classification.is_some()).count(),
        }
    }
}

// ---- wire behaviour -------------------------------------------------------------

type Answer = Result<Response, Response>;

fn router(shared: Arc<Shared>) -> Router {
    let classification =
        format!("/2.0/files/{{id}}/metadata/enterprise/{BOX_CLASSIFICATION_TEMPLATE}");
    let template =
        format!("/2.0/metadata_templates/enterprise/{BOX_CLASSIFICATION_TEMPLATE}/schema");
    let api = Router::new()
        .route("/2.0/users/me", get(me))
        .route("/2.0/users", get(list_users))
        .route("/2.0/users/{id}", get(show_user).put(update_user))
        .route("/2.0/groups", get(list_groups))
        .route("/2.0/groups/{id}/memberships", get(memberships))
        .route("/2.0/events", get(events))
        .route("/2.0/folders/{id}/items", get(folder_items))
        .route(
            "/2.0/folders/{id}/collaborations",
            get(folder_collaborations),
        )
        .route("/2.0/files/{id}/collaborations", get(file_collaborations))
        .route(
            "/2.0/files/{id}",
            get(show_file).put(update_file).delete(trash_file),
        )
        .route("/2.0/files/{id}/content", get(content))
        .route("/2.0/collaborations/{id}", delete(remove_collaboration))
        .route(
            &classification,
            get(show_classification)
                .post(add_classification)
                .put(update_classification),
        )
        .route(&template, get(show_template))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not_found", "Not Found") })
        .layer(middleware::from_fn_with_state(shared.clone(), authenticate))
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .with_state(shared.clone());
    let download = Router::new()
        .route("/d/1/{id}/download", get(download))
        .with_state(shared.clone());
    let token = shared
        .oauth
        .router("/oauth2/token")
        .layer(middleware::from_fn_with_state(shared.clone(), box_subject));
    token.merge(api).merge(download)
}

/// Box's error body.
fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({
        "type": "error", "status": status.as_u16(), "code": code,
        "help_url": "http://developers.box.com/docs/#errors",
        "message": message, "request_id": format!("mock{}", now_ms()),
    });
    (status, Json(body)).into_response()
}

fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not_found", "Not Found")
}

fn set(response: &mut Response, name: &'static str, value: String) {
    if let Ok(value) = HeaderValue::from_str(&value) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(name), value);
    }
}

/// The token request must name the enterprise as its subject.
async fn box_subject(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(bytes) = to_bytes(body, 1 << 20).await else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&bytes).into_owned().collect();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if field("grant_type") == Some("client_credentials")
        && (field("box_subject_type") != Some("enterprise")
            || field("box_subject_id") != Some(shared.config.enterprise_id.as_str()))
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant", "error_description": "Grant credentials are invalid"})),
        )
            .into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// The scope a request needs.
fn scope_of(method: &str, path: &str) -> &'static str {
    match (method, path) {
        (_, p) if p.starts_with("/2.0/groups") => "Manage groups",
        (_, "/2.0/events") => "Manage enterprise properties",
        ("GET", p) if p.starts_with("/2.0/users") => "Manage users",
        (_, p) if p.starts_with("/2.0/users") => "Manage users",
        ("GET", _) => "Read all files and folders stored in Box",
        _ => "Write all files and folders stored in Box",
    }
}

/// A bearer token the endpoint issued, the scope, and `As-User` allowed; 401 (empty
/// body, `WWW-Authenticate`) or 403 as Box answers.
async fn authenticate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    if shared.oauth.validate(request.headers()).is_none() {
        let mut response = StatusCode::UNAUTHORIZED.into_response();
        set(
            &mut response,
            "www-authenticate",
            r#"Bearer realm="Service", error="invalid_token", error_description="The access token provided is invalid.""#
                .into(),
        );
        return response;
    }
    let scope = scope_of(request.method().as_str(), request.uri().path());
    let as_user = request.headers().contains_key("as-user");
    if !shared.allows(scope)
        || (as_user && !shared.allows("Make API calls using the as-user header"))
    {
        return error(
            StatusCode::FORBIDDEN,
            "access_denied_insufficient_permissions",
            "Access denied - insufficient permission",
        );
    }
    next.run(request).await
}

/// Injected faults, then the per-minute budget; 429 with the published body.
async fn gate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let throttled = |retry_after: u64| {
        let mut response = error(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_exceeded",
            "Request rate limit exceeded, please try again later",
        );
        set(&mut response, "retry-after", retry_after.to_string());
        response
    };
    match shared.faults.take() {
        Some(faults::Fault::SecondaryLimit {
            retry_after_secs, ..
        }) => throttled(retry_after_secs),
        Some(faults::Fault::ServerError { status }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            error(status, "internal_server_error", "Internal Server Error")
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

/// The acting user: `As-User`, else the service account.
fn acting(headers: &HeaderMap) -> String {
    headers
        .get("as-user")
        .and_then(|v| v.to_str().ok())
        .map_or_else(|| SERVICE_ACCOUNT.to_owned(), str::to_owned)
}

/// `limit` within `1..=max` (default `default`); 400 beyond.
fn limit(url: &RequestUrl, default: usize, max: usize) -> Result<usize, Response> {
    match url.param("limit").map(str::parse::<usize>) {
        None => Ok(default),
        Some(Ok(n)) if (1..=max).contains(&n) => Ok(n),
        _ => Err(error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "Invalid value for 'limit'",
        )),
    }
}

/// A marker page (`marker` = `m<offset>`) of `items`.
fn marker_page(url: &RequestUrl, items: Vec<Value>, default: usize, max: usize) -> Answer {
    let size = limit(url, default, max)?;
    let offset = match url.param("marker") {
        None => 0,
        Some(m) => m
            .strip_prefix('m')
            .and_then(|n| n.parse::<usize>().ok())
            .ok_or_else(|| {
                error(
                    StatusCode::BAD_REQUEST,
                    "invalid_parameter",
                    "Invalid marker",
                )
            })?,
    };
    let end = (offset + size).min(items.len());
    let next = (end < items.len()).then(|| format!("m{end}"));
    Ok(Json(json!({
        "entries": items.get(offset.min(items.len())..end).unwrap_or_default(),
        "limit": size,
        "next_marker": next,
    }))
    .into_response())
}

/// An offset page of `items`.
fn offset_page(url: &RequestUrl, items: Vec<Value>, default: usize, max: usize) -> Answer {
    let size = limit(url, default, max)?;
    let offset = url
        .param("offset")
        .map_or(Ok(0), str::parse::<usize>)
        .map_err(|_| {
            error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "Invalid value for 'offset'",
            )
        })?;
    let end = (offset + size).min(items.len());
    Ok(Json(json!({
        "total_count": items.len(),
        "entries": items.get(offset.min(items.len())..end).unwrap_or_default(),
        "offset": offset,
        "limit": size,
    }))
    .into_response())
}

async fn me(State(shared): State<Arc<Shared>>) -> Answer {
    Ok(Json(json!({
        "type": "user", "id": SERVICE_ACCOUNT, "name": "Sluice service account",
        "login": format!("AutomationUser_{}_mock@boxdevedition.com", SERVICE_ACCOUNT),
        "status": "active", "role": "user",
        "enterprise": {"type": "enterprise", "id": shared.config.enterprise_id},
    }))
    .into_response())
}

async fn list_users(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Answer {
    if let Some(users) = &shared.fixture_users {
        let entries = users["entries"].as_array().cloned().unwrap_or_default();
        return marker_page(&url, entries, 100, 1000);
    }
    let state = shared.state();
    let users: Vec<Value> = (state.users.iter())
        .map(|u| state.user_json(u, &shared.config.enterprise_id))
        .collect();
    if url.param("usemarker") == Some("true") {
        marker_page(&url, users, 100, 1000)
    } else {
        offset_page(&url, users, 100, 1000)
    }
}

async fn show_user(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Answer {
    let state = shared.state();
    let user = state
        .users
        .iter()
        .find(|u| u.id == id)
        .ok_or_else(not_found)?;
    Ok(Json(state.user_json(user, &shared.config.enterprise_id)).into_response())
}

async fn update_user(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Answer {
    let mut state = shared.state();
    let status = match body["status"].as_str() {
        Some("active") => "active",
        Some("inactive") => "inactive",
        _ => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "Invalid status",
            ));
        }
    };
    let at = state
        .users
        .iter()
        .position(|u| u.id == id)
        .ok_or_else(not_found)?;
    if state.users[at].status != status {
        state.users[at].status = status;
        state.log_now("EDIT_USER");
    }
    let user = state.users[at].clone();
    Ok(Json(state.user_json(&user, &shared.config.enterprise_id)).into_response())
}

async fn list_groups(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Answer {
    let state = shared.state();
    let groups = (state.groups.iter())
        .map(|(id, name, _)| {
            json!({"type": "group", "id": id, "name": name,
            "group_type": "managed_group", "description": format!("{name} of Acme")})
        })
        .collect();
    offset_page(&url, groups, 100, 1000)
}

async fn memberships(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    url: RequestUrl,
) -> Answer {
    let state = shared.state();
    let (_, name, members) = state
        .groups
        .iter()
        .find(|g| g.0 == id)
        .ok_or_else(not_found)?;
    let entries = (members.iter().enumerate())
        .map(|(k, m)| {
            json!({"type": "group_membership", "id": format!("7{id}{k}"),
            "user": state.mini_user(m), "role": "member",
            "group": {"type": "group", "id": id, "name": name, "group_type": "managed_group"}})
        })
        .collect();
    offset_page(&url, entries, 100, 1000)
}

async fn events(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Answer {
    if url.param("stream_type") != Some("admin_logs") {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "Invalid stream_type",
        ));
    }
    let size = limit(&url, 100, 500)?;
    let bound = |name: &str| -> Result<Option<i64>, Response> {
        url.param(name)
            .map(|t| {
                DateTime::parse_from_rfc3339(t)
                    .map(|t| t.timestamp_millis())
                    .map_err(|_| {
                        error(
                            StatusCode::BAD_REQUEST,
                            "bad_request",
                            &format!("Invalid {name}"),
                        )
                    })
            })
            .transpose()
    };
    let (after, before) = (bound("created_after")?, bound("created_before")?);
    let position = url
        .param("stream_position")
        .map_or(Ok(0), str::parse::<usize>)
        .map_err(|_| {
            error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "Invalid stream_position",
            )
        })?;
    let entries: Vec<Value> = match &shared.fixture_events {
        Some(fixture) => fixture["entries"].as_array().cloned().unwrap_or_default(),
        None => (shared.state().events.iter())
            .filter(|e| {
                after.is_none_or(|a| e.time_ms >= a) && before.is_none_or(|b| e.time_ms < b)
            })
            .map(|e| e.body.clone())
            .collect(),
    };
    let start = position.min(entries.len());
    let end = (start + size).min(entries.len());
    let page = &entries[start..end];
    Ok(Json(json!({
        "chunk_size": page.len(),
        "next_stream_position": end.to_string(),
        "entries": page,
    }))
    .into_response())
}

async fn folder_items(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    url: RequestUrl,
) -> Answer {
    let user = acting(&headers);
    let state = shared.state();
    let fields = url.param("fields").unwrap_or_default().to_owned();
    let enterprise = &shared.config.enterprise_id;
    let mut items = Vec::new();
    if id == "0" {
        let collaborated = |kind: &str, item: &str| {
            (state.collaborations.iter()).any(|c| {
                c.item_type == kind
                    && c.item_id == item
                    && c.user_id.as_deref() == Some(user.as_str())
            })
        };
        for f in &state.folders {
            if (f.owner == user && f.parent == "0") || collaborated("folder", &f.id) {
                items.push(state.folder_json(f));
            }
        }
        for f in state.files.iter().filter(|f| !f.trashed) {
            if (f.owner == user && f.parent == "0") || collaborated("file", &f.id) {
                items.push(state.file_json(f, &fields, enterprise));
            }
        }
    } else {
        let folder = state.folder_of(&id).ok_or_else(not_found)?;
        if !state.reaches(&user, &folder.owner, &folder.parent, ("folder", &folder.id)) {
            return Err(not_found());
        }
        for f in state.folders.iter().filter(|f| f.parent == id) {
            items.push(state.folder_json(f));
        }
        for f in state.files.iter().filter(|f| f.parent == id && !f.trashed) {
            items.push(state.file_json(f, &fields, enterprise));
        }
    }
    if url.param("usemarker") == Some("true") {
        marker_page(&url, items, 100, 1000)
    } else {
        offset_page(&url, items, 100, 1000)
    }
}

/// The collaborations on `kind` item `id`, if `user` reaches it.
fn collaborations_of(
    shared: &Shared,
    kind: &str,
    id: &str,
    user: &str,
    url: &RequestUrl,
) -> Answer {
    let state = shared.state();
    let reachable = match kind {
        "folder" => (state.folder_of(id))
            .is_some_and(|f| state.reaches(user, &f.owner, &f.parent, ("folder", id))),
        _ => (state.files.iter().find(|f| f.id == id && !f.trashed))
            .is_some_and(|f| state.reaches(user, &f.owner, &f.parent, ("file", id))),
    };
    if !reachable {
        return Err(not_found());
    }
    let entries = (state.collaborations.iter())
        .filter(|c| c.item_type == kind && c.item_id == id)
        .map(|c| state.collaboration_json(c))
        .collect();
    marker_page(url, entries, 100, 1000)
}

async fn folder_collaborations(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    url: RequestUrl,
) -> Answer {
    collaborations_of(&shared, "folder", &id, &acting(&headers), &url)
}

async fn file_collaborations(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    url: RequestUrl,
) -> Answer {
    collaborations_of(&shared, "file", &id, &acting(&headers), &url)
}

/// The index of file `id` if `user` reaches it (and it is not trashed).
fn file_at(state: &Enterprise, id: &str, user: &str) -> Result<usize, Response> {
    let at = (state.files.iter().position(|f| f.id == id && !f.trashed)).ok_or_else(not_found)?;
    let f = &state.files[at];
    if state.reaches(user, &f.owner, &f.parent, ("file", id)) {
        Ok(at)
    } else {
        Err(not_found())
    }
}

async fn show_file(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    url: RequestUrl,
) -> Answer {
    let state = shared.state();
    let at = file_at(&state, &id, &acting(&headers))?;
    let fields = url.param("fields").unwrap_or_default().to_owned();
    Ok(
        Json(state.file_json(&state.files[at], &fields, &shared.config.enterprise_id))
            .into_response(),
    )
}

/// `PUT /2.0/files/{id}`: `shared_link` (null removes it) and `parent` (a move, which
/// hands the file to the target folder's owner).
async fn update_file(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Answer {
    let user = acting(&headers);
    let mut state = shared.state();
    let at = file_at(&state, &id, &user)?;
    if let Some(target) = body.pointer("/parent/id").and_then(Value::as_str) {
        let folder = state.folder_of(target).cloned().ok_or_else(not_found)?;
        if !(folder.open_upload
            || state.reaches(&user, &folder.owner, &folder.parent, ("folder", target)))
        {
            return Err(error(
                StatusCode::FORBIDDEN,
                "access_denied_insufficient_permissions",
                "Access denied - insufficient permission",
            ));
        }
        state.files[at].parent = folder.id.clone();
        state.files[at].owner = folder.owner.clone();
        state.log_now("MOVE");
    }
    if body.get("shared_link").is_some_and(Value::is_null) && state.files[at].link.is_some() {
        state.files[at].link = None;
        state.log_now("UNSHARE");
    }
    let file = state.files[at].clone();
    Ok(Json(state.file_json(&file, "", &shared.config.enterprise_id)).into_response())
}

async fn trash_file(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Answer {
    let mut state = shared.state();
    let at = file_at(&state, &id, &acting(&headers))?;
    state.files[at].trashed = true;
    state.log_now("DELETE");
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn remove_collaboration(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Answer {
    let mut state = shared.state();
    let at = (state.collaborations.iter().position(|c| c.id == id)).ok_or_else(not_found)?;
    state.collaborations.remove(at);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /2.0/files/{id}/content`: 302 to the download host.
async fn content(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    url: RequestUrl,
) -> Answer {
    let state = shared.state();
    file_at(&state, &id, &acting(&headers))?;
    let mut response = StatusCode::FOUND.into_response();
    set(
        &mut response,
        "location",
        format!("{}/d/1/{id}/download", url.base()),
    );
    Ok(response)
}

/// The download host: the content, `Range` honoured.
async fn download(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Answer {
    let bytes = {
        let state = shared.state();
        let f = (state.files.iter().find(|f| f.id == id && !f.trashed)).ok_or_else(not_found)?;
        content_of(&f.id, f.size)
    };
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
        None => Ok((StatusCode::OK, bytes).into_response()),
    }
}

async fn show_classification(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Answer {
    let state = shared.state();
    let at = file_at(&state, &id, &acting(&headers))?;
    match &state.files[at].classification {
        Some(name) => Ok(Json(json!({"Box__Security__Classification__Key": name,
            "$template": BOX_CLASSIFICATION_TEMPLATE}))
        .into_response()),
        None => Err(error(
            StatusCode::NOT_FOUND,
            "instance_not_found",
            "Instance not found",
        )),
    }
}

async fn add_classification(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Answer {
    let mut state = shared.state();
    let at = file_at(&state, &id, &acting(&headers))?;
    if state.files[at].classification.is_some() {
        return Err(error(
            StatusCode::CONFLICT,
            "tuple_already_exists",
            "A metadata instance already exists",
        ));
    }
    let name = body["Box__Security__Classification__Key"]
        .as_str()
        .unwrap_or_default();
    state.files[at].classification = Some(name.to_owned());
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

async fn update_classification(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Answer {
    let mut state = shared.state();
    let at = file_at(&state, &id, &acting(&headers))?;
    let value = (body.as_array().into_iter().flatten())
        .find(|op| op["path"] == "/Box__Security__Classification__Key")
        .and_then(|op| op["value"].as_str())
        .ok_or_else(|| error(StatusCode::BAD_REQUEST, "bad_request", "Invalid JSON patch"))?;
    state.files[at].classification = Some(value.to_owned());
    Ok(Json(json!({"Box__Security__Classification__Key": value})).into_response())
}

async fn show_template(State(shared): State<Arc<Shared>>) -> Answer {
    if !shared.config.classifications {
        return Err(error(
            StatusCode::NOT_FOUND,
            "instance_not_found",
            "Template not found",
        ));
    }
    Ok(Json(json!({
        "type": "metadata_template", "templateKey": BOX_CLASSIFICATION_TEMPLATE,
        "scope": format!("enterprise_{}", shared.config.enterprise_id),
        "displayName": "Classification",
        "fields": [{"type": "enum", "key": "Box__Security__Classification__Key",
            "displayName": "Classification",
            "options": [{"key": "Confidential"}, {"key": "Internal"}, {"key": "Public"}]}],
    }))
    .into_response())
}
