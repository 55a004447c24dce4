//! A loopback ServiceNow instance for the `servicenow` connector: the Table API over a
//! handful of tables, and the OAuth token endpoint.
//!
//! As ServiceNow documents (Table API, REST API rate limiting):
//! - basic auth with a user's name and password, or `Authorization: Bearer` with a
//!   token from `POST /oauth_token.do` (client credentials, [`crate::oauth`]); anything
//!   else is 401 `{"error":{"message":"User Not Authenticated","detail":"Required to
//!   provide Auth information"},"status":"failure"}`;
//! - `GET /api/now/table/{table}` answers `{"result":[…]}` with every value a string
//!   and reference fields `{"link","value"}`; it applies the **encoded query** it is
//!   sent (`sysparm_query`: `=`, `!=`, `IN`, `>`, `>=`, `<`, `<=`, `LIKE`,
//!   `STARTSWITH`, `^` and `^OR`, `ORDERBY`/`ORDERBYDESC`, and the values
//!   `javascript:gs.getUserID()` and `javascript:gs.dateGenerate('d','t')`), picks
//!   `sysparm_fields` (dot-walking through references, `role.name`), pages by
//!   `sysparm_limit`/`sysparm_offset` and answers `X-Total-Count` and a `Link` header
//!   with `first`, `prev`, `next` and `last` (no `next` on the last page);
//! - `GET`/`PATCH /api/now/table/{table}/{sys_id}`: one record, `{"result":{…}}`;
//!   404 `No Record found`. A PATCH is recorded in `sys_audit` (one row per changed
//!   field), as an audited table's change is;
//! - a table the caller's roles may not read ([`ServiceNowMockConfig::refused_tables`])
//!   is 403 `{"error":{"message":"User Not Authorized","detail":"Failed API level ACL
//!   Validation"},"status":"failure"}`, and writes need `admin` or `user_admin`;
//! - the Attachment API over `sys_attachment`: `GET /api/now/attachment` lists
//!   metadata rows exactly as the Table API lists a table (encoded query, offset
//!   paging, `Link`), `GET /api/now/attachment/{sys_id}` is one row, `GET
//!   /api/now/attachment/{sys_id}/file` the whole content with its `content_type` and
//!   an `X-Attachment-Metadata` header (always 200: ServiceNow documents no byte
//!   ranges, so `Range` is ignored), `DELETE /api/now/attachment/{sys_id}` is 204; an
//!   unknown sys_id is 404 `No Record found`. `hash` is the content's SHA-256 (hex);
//! - under a rate-limit rule every answer carries `X-RateLimit-Limit` (per hour),
//!   `X-RateLimit-Reset` (Unix time) and `X-RateLimit-Rule`; a denied request is 429
//!   with `Retry-After` and the published body (`shared/fixtures/servicenow/
//!   rate-limit-429.docs-example.json`'s shape).
//!
//! Data: user *i* (`sys_id` [`ServiceNowMock::user_id`]) — user 0 is the integration
//! user with [`ServiceNowMockConfig::owner_roles`], users 1..=`admins` hold `admin`
//! (and `itil`, inherited), the next `itil_users` hold `itil`; the last
//! `inactive_users` are inactive and the `locked_users` before them locked out. Groups
//! draw members in turn from users 1… . `sysevent` holds sign-in events (`login`,
//! `login.failed`, `logout`, a second apart) and, between them, other events the
//! connector must not read; `sys_audit` holds field changes of `sys_user`,
//! `sys_user_has_role`, `sys_properties` (admin) and `incident`, `change_request`
//! (user). `sys_attachment` holds [`ServiceNowMockConfig::attachments`] files attached
//! in turn to incidents, change requests and knowledge articles, created a minute
//! apart by users 1… . With [`ServiceNowMockConfig::fixtures_dir`], `sys_user` and
//! `sys_user_has_role` hold ServiceNow's published example rows instead.
//!
//! Assumed where ServiceNow publishes no example: the rows of `sys_user_group`,
//! `sys_user_grmember`, `sysevent`, `sys_audit` and `sys_properties` (their documented
//! columns), the 403 detail text, that encoded-query date-times are UTC, the
//! attachment rows beyond the published `GET /now/attachment/{sys_id}` example
//! (`hash`, `size_compressed`, `state`), and the Attachment API's 404 body.

// Handlers answer `Result<Response, Response>` (ServiceNow's error body is a response too).
#![allow(clippy::result_large_err)]

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::io;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::faults::{self, FaultPlan, Faults, RateBudget};
use crate::oauth::{OAuthMock, OAuthMockConfig};
use crate::server::{MockServer, RequestRecord, RequestUrl};

/// The instance, its credentials and its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceNowMockConfig {
    /// The integration user's name and password (basic auth).
    pub username: String,
    pub password: String,
    /// The OAuth client accepted at `/oauth_token.do`; its tokens act as user 0.
    pub client_id: String,
    pub client_secret: String,
    /// Users in `sys_user`; user 0 is the integration user.
    pub users: usize,
    /// Roles of user 0, the caller.
    pub owner_roles: Vec<String>,
    /// Users 1..=admins hold `admin` (and `itil`, inherited from it).
    pub admins: usize,
    /// The next users hold `itil`.
    pub itil_users: usize,
    /// The last users are inactive (`active=false`).
    pub inactive_users: usize,
    /// The users before the inactive ones are locked out.
    pub locked_users: usize,
    /// Groups, and members per group drawn in turn from users 1….
    pub groups: usize,
    pub members_per_group: usize,
    /// Sign-in events in `sysevent` at start, one a second from `activity_start`.
    pub sign_ins: usize,
    /// Field changes in `sys_audit` at start, one a second after the sign-ins.
    pub audits: usize,
    /// `sys_created_on` of the first event (ms); `None`: an hour and a second per row
    /// before now.
    pub activity_start: Option<i64>,
    /// `sys_properties` rows (name, value).
    pub properties: Vec<(String, String)>,
    /// Attachments in `sys_attachment` at start, and the size of each one's content.
    pub attachments: usize,
    pub attachment_size: usize,
    /// Tables whose reads the caller's ACLs refuse (403); `sys_attachment` refuses the
    /// Attachment API too.
    pub refused_tables: Vec<String>,
    /// The rate-limit rule's requests per hour.
    pub rate_limit_per_hour: u32,
    /// Serve ServiceNow's published `sys_user` and `sys_user_has_role` rows from this
    /// folder (`shared/fixtures/servicenow`).
    pub fixtures_dir: Option<PathBuf>,
}

impl Default for ServiceNowMockConfig {
    fn default() -> Self {
        ServiceNowMockConfig {
            username: "sluice.integration".into(),
            password: "sn-password".into(),
            client_id: "sn-client-id".into(),
            client_secret: "sn-client-secret".into(),
            users: 9,
            owner_roles: vec!["admin".into()],
            admins: 1,
            itil_users: 2,
            inactive_users: 1,
            locked_users: 1,
            groups: 2,
            members_per_group: 2,
            sign_ins: 8,
            audits: 6,
            activity_start: None,
            properties: [
                ("glide.authenticate.multifactor", "true"),
                ("glide.authenticate.multifactor.setup.bypass.count", "3"),
                ("glide.enable.password_policy", "true"),
                ("glide.ui.session_timeout", "240"),
                ("glide.security.use_csrf_token", "true"),
                ("glide.ui.escape_text", "true"),
            ]
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .into(),
            attachments: 3,
            attachment_size: 2_000,
            refused_tables: Vec::new(),
            rate_limit_per_hour: 10_000,
            fixtures_dir: None,
        }
    }
}

/// What a complete scan of the mock must yield right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServiceNowExpected {
    pub users: usize,
    /// Users holding `admin`, directly or inherited.
    pub admins: usize,
    pub active: usize,
    /// `active=false`.
    pub disabled: usize,
    /// Active but `locked_out=true`.
    pub suspended: usize,
    /// CSM customer contacts.
    pub external: usize,
    pub groups: usize,
    /// Group memberships summed over groups.
    pub group_memberships: usize,
    /// Sign-in events plus audit rows, and how many of each kind.
    pub activities: usize,
    pub logon: usize,
    pub failed_logon: usize,
    pub user_activity: usize,
    pub admin_activity: usize,
    /// Attachments (files).
    pub files: usize,
    /// Security properties judged by the connector's posture: ServiceNow's hardening
    /// settings it reads (fixed, whatever `sys_properties` holds).
    pub findings: usize,
}

/// The hardening settings the connector judges.
const HARDENING_SETTINGS: usize = 6;
/// Sign-in event names, in the order generated events cycle through them.
const SIGN_IN_CYCLE: &[&str] = &["login", "login", "login.failed", "logout"];
/// Events that are not sign-ins, one generated after every second sign-in.
const OTHER_EVENTS: &[&str] = &["incident.inserted", "sys_user.update"];
/// (table, field, admin?) the generated audit rows cycle through.
const AUDIT_CYCLE: &[(&str, &str, bool)] = &[
    ("sys_user", "active", true),
    ("incident", "state", false),
    ("sys_user_has_role", "role", true),
    ("incident", "assigned_to", false),
    ("sys_properties", "value", true),
    ("change_request", "approval", false),
];
/// Roles in `sys_user_role`.
const ROLES: &[&str] = &[
    "admin",
    "itil",
    "user_admin",
    "security_admin",
    "snc_internal",
];
/// The tables the mock serves.
const TABLES: &[&str] = &[
    "sys_user",
    "sys_user_role",
    "sys_user_has_role",
    "sys_user_group",
    "sys_user_grmember",
    "sysevent",
    "sys_audit",
    "sys_properties",
    "sys_attachment",
];
/// Tables attachments are attached to, in turn.
const ATTACHED_TO: &[&str] = &["incident", "change_request", "kb_knowledge"];

/// A running ServiceNow mock.
#[derive(Debug)]
pub struct ServiceNowMock {
    server: MockServer,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: ServiceNowMockConfig,
    /// The accepted password (changeable).
    password: Mutex<String>,
    oauth: OAuthMock,
    state: Mutex<Instance>,
    budget: RateBudget,
    faults: FaultPlan,
    /// `basic <user>` or `bearer` per authenticated request, `refused` else.
    credentials: Mutex<Vec<String>>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, Instance> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Every table's rows, in insertion order.
#[derive(Debug, Default)]
struct Instance {
    tables: BTreeMap<&'static str, Vec<Value>>,
    /// Rows added to sysevent and sys_audit so far (for their sys_ids).
    events: usize,
    audits: usize,
    /// `sys_created_on` of the newest activity row, ms.
    newest: i64,
    /// Attachment content by sys_id, and attachments added so far (for sys_ids).
    contents: BTreeMap<String, Vec<u8>>,
    attachments: usize,
    /// `http://127.0.0.1:PORT`, for links.
    base: String,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// ServiceNow's `YYYY-MM-DD HH:MM:SS` (UTC).
fn glide(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// 2024-01-01T00:00:00Z, the anchor of generated dates.
const EPOCH_MS: i64 = 1_704_067_200_000;

/// A 32-hex-digit sys_id: `kind` tells the tables apart, `n` the rows.
fn sys_id(kind: u32, n: usize) -> String {
    format!("{kind:08x}c0a8016401c5a33b{n:08x}")
}

/// Attachment `a`'s content: `size` bytes of numbered text lines.
fn attachment_content(a: usize, size: usize) -> Vec<u8> {
    let mut text = Vec::with_capacity(size + 64);
    let mut line = 0;
    while text.len() < size {
        text.extend_from_slice(format!("attachment {a} line {line}\n").as_bytes());
        line += 1;
    }
    text.truncate(size);
    text
}

impl Instance {
    fn rows(&mut self, table: &'static str) -> &mut Vec<Value> {
        self.tables.entry(table).or_default()
    }

    fn find(&self, table: &str, id: &str) -> Option<&Value> {
        self.tables
            .get(table)?
            .iter()
            .find(|r| r["sys_id"].as_str() == Some(id))
    }

    fn generate(c: &ServiceNowMockConfig, base: &str, start: i64) -> Instance {
        let mut inst = Instance {
            base: base.to_owned(),
            ..Instance::default()
        };
        let reference = |table: &str, id: &str| json!({"link": format!("{base}/api/now/table/{table}/{id}"), "value": id});
        for (r, role) in ROLES.iter().enumerate() {
            inst.rows("sys_user_role").push(json!({
                "sys_id": sys_id(0x2, r), "name": role, "description": format!("{role} role"),
                "elevated_privilege": (*role == "security_admin").to_string(),
            }));
        }
        let role_ref = |name: &str| {
            let r = ROLES.iter().position(|x| *x == name).unwrap_or(0);
            reference("sys_user_role", &sys_id(0x2, r))
        };
        let mut grants = Vec::new();
        for i in 0..c.users {
            let id = sys_id(0x1, i);
            let inactive = i > 0 && i + c.inactive_users >= c.users;
            let locked = !inactive && i > 0 && i + c.inactive_users + c.locked_users >= c.users;
            let (user_name, name) = if i == 0 {
                (c.username.clone(), "Sluice Integration".to_owned())
            } else {
                (format!("user{i}"), format!("User {i}"))
            };
            let created = EPOCH_MS + i as i64 * 3_600_000;
            inst.rows("sys_user").push(json!({
                "sys_id": id, "user_name": user_name, "name": name,
                "first_name": if i == 0 { "Sluice".to_owned() } else { "User".to_owned() },
                "last_name": if i == 0 { "Integration".to_owned() } else { i.to_string() },
                "email": format!("{user_name}@acme.example"), "title": "",
                "active": (!inactive).to_string(), "locked_out": locked.to_string(),
                "password_needs_reset": "false",
                "last_login_time": if i == 0 { String::new() } else { glide(created + 86_400_000) },
                "failed_attempts": if locked { "5" } else { "" },
                "web_service_access_only": (i == 0).to_string(),
                "internal_integration_user": "false", "source": "",
                "sys_class_name": "sys_user", "sys_domain": reference("sys_user_group", "global"),
                "sys_created_on": glide(created), "sys_updated_on": glide(created),
                "sys_created_by": "admin", "sys_updated_by": "admin",
            }));
            let roles: Vec<(&str, bool)> = if i == 0 {
                c.owner_roles.iter().map(|r| (r.as_str(), false)).collect()
            } else if i <= c.admins {
                vec![("admin", false), ("itil", true)]
            } else if i <= c.admins + c.itil_users {
                vec![("itil", false)]
            } else {
                Vec::new()
            };
            for (role, inherited) in roles {
                grants.push((id.clone(), role.to_owned(), inherited));
            }
        }
        for (n, (user, role, inherited)) in grants.into_iter().enumerate() {
            let role = role_ref(&role);
            inst.rows("sys_user_has_role").push(json!({
                "sys_id": sys_id(0x3, n), "user": reference("sys_user", &user), "role": role,
                "inherited": inherited.to_string(), "state": "active", "granted_by": "",
            }));
        }
        let staff: Vec<String> = (1..c.users).map(|i| sys_id(0x1, i)).collect();
        let mut membership = 0;
        for g in 0..c.groups {
            let id = sys_id(0x4, g);
            inst.rows("sys_user_group").push(json!({
                "sys_id": id, "name": format!("Group {}", g + 1),
                "description": if g == 0 { "Service desk agents" } else { "" },
                "active": "true", "email": "", "manager": "", "type": "", "roles": "",
                "sys_created_on": glide(EPOCH_MS), "sys_updated_on": glide(EPOCH_MS),
            }));
            for m in 0..c.members_per_group.min(staff.len()) {
                let user = &staff[(g * c.members_per_group + m) % staff.len()];
                inst.rows("sys_user_grmember").push(json!({
                    "sys_id": sys_id(0x5, membership), "group": reference("sys_user_group", &id),
                    "user": reference("sys_user", user),
                }));
                membership += 1;
            }
        }
        for (n, (name, value)) in c.properties.iter().enumerate() {
            inst.rows("sys_properties").push(json!({
                "sys_id": sys_id(0x8, n), "name": name, "value": value, "type": "string",
                "sys_updated_on": glide(EPOCH_MS), "sys_updated_by": "admin",
            }));
        }
        for a in 0..c.attachments {
            let table = ATTACHED_TO[a % ATTACHED_TO.len()];
            let owner = format!("user{}", 1 + a % c.users.saturating_sub(1).max(1));
            let name = format!("evidence-{a}.txt");
            let content = attachment_content(a, c.attachment_size);
            let time = EPOCH_MS + a as i64 * 60_000;
            inst.add_attachment(table, &name, "text/plain", &owner, content, time);
        }
        inst.newest = start - 1_000;
        inst.add_sign_ins(c.sign_ins, start, c.users);
        inst.add_audits(c.audits, start);
        inst
    }

    /// The next activity time: a second after the newest, and not before `at`.
    fn next_time(&mut self, at: i64) -> i64 {
        self.newest = (self.newest + 1_000).max(at);
        self.newest
    }

    /// Attaches `content` to a record of `table` as `owner` at `time`; its sys_id.
    fn add_attachment(
        &mut self,
        table: &str,
        name: &str,
        content_type: &str,
        owner: &str,
        content: Vec<u8>,
        time: i64,
    ) -> String {
        use sha2::Digest;
        let id = sys_id(0xb, self.attachments);
        let record = sys_id(0xc, self.attachments);
        self.attachments += 1;
        let hash: String = sha2::Sha256::digest(&content)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let link = format!("{}/api/now/attachment/{id}/file", self.base);
        self.rows("sys_attachment").push(json!({
            "sys_id": id, "file_name": name, "content_type": content_type,
            "size_bytes": content.len().to_string(),
            "size_compressed": (content.len() / 2).to_string(), "compressed": "true",
            "hash": hash, "table_name": table, "table_sys_id": record,
            "download_link": link,
            "image_height": "", "image_width": "", "average_image_color": "",
            "chunk_size_bytes": "700000", "state": "available", "sys_tags": "",
            "sys_mod_count": "0",
            "sys_created_by": owner, "sys_created_on": glide(time),
            "sys_updated_by": owner, "sys_updated_on": glide(time),
        }));
        self.contents.insert(id.clone(), content);
        id
    }

    fn add_sign_ins(&mut self, n: usize, at: i64, users: usize) {
        for s in 0..n {
            let user = 1 + (s % users.saturating_sub(1).max(1));
            let name = SIGN_IN_CYCLE[s % SIGN_IN_CYCLE.len()];
            let time = self.next_time(at);
            self.push_event(
                name,
                &format!("user{user}"),
                &format!("198.51.100.{}", s % 250 + 1),
                time,
            );
            if s % 2 == 1 {
                let other = OTHER_EVENTS[(s / 2) % OTHER_EVENTS.len()];
                self.push_event(other, "", "", time);
            }
        }
    }

    fn push_event(&mut self, name: &str, parm1: &str, parm2: &str, time: i64) {
        let id = sys_id(0x6, self.events);
        self.events += 1;
        self.rows("sysevent").push(json!({
            "sys_id": id, "name": name, "parm1": parm1, "parm2": parm2, "instance": "",
            "table": "", "uri": "", "queue": "", "state": "processed", "claimed_by": "",
            "user_id": "", "user_name": parm1, "processed": glide(time),
            "sys_created_on": glide(time), "sys_created_by": "system",
        }));
    }

    fn add_audits(&mut self, n: usize, at: i64) {
        for _ in 0..n {
            let (table, field, _) = AUDIT_CYCLE[self.audits % AUDIT_CYCLE.len()];
            let time = self.next_time(at);
            let document = sys_id(0x9, self.audits);
            self.push_audit(table, field, &document, "old", "new", "admin", time);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn push_audit(
        &mut self,
        table: &str,
        field: &str,
        document: &str,
        old: &str,
        new: &str,
        user: &str,
        time: i64,
    ) {
        let id = sys_id(0x7, self.audits);
        self.audits += 1;
        let row = json!({
            "sys_id": id, "tablename": table, "fieldname": field, "documentkey": document,
            "oldvalue": old, "newvalue": new, "user": user, "reason": "",
            "record_checkpoint": "1", "internal_checkpoint": format!("{:x}", self.audits),
            "sys_created_on": glide(time), "sys_created_by": user,
        });
        self.rows("sys_audit").push(row);
    }
}

/// Fixtures mode: ServiceNow's published `sys_user` and `sys_user_has_role` rows.
fn load_fixtures(dir: &FsPath) -> io::Result<(Vec<Value>, Vec<Value>)> {
    let read = |name: &str| -> io::Result<Vec<Value>> {
        let path = dir.join(format!("{name}.docs-example.json"));
        let value: Value = serde_json::from_slice(&std::fs::read(&path)?).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        })?;
        Ok(value["result"].as_array().cloned().unwrap_or_default())
    };
    Ok((
        read("contact-get-now-contact-sys_user-fields")?,
        read("table-get-sys_user_has_role-dotwalk-display_value")?,
    ))
}

impl ServiceNowMock {
    /// Binds `127.0.0.1:0` and serves on the current tokio runtime. Fails if the
    /// listener cannot be bound or a fixture cannot be read or parsed.
    pub async fn start(config: ServiceNowMockConfig) -> io::Result<ServiceNowMock> {
        let oauth = OAuthMock::new(OAuthMockConfig {
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone(),
            ..OAuthMockConfig::default()
        });
        let start = config.activity_start.unwrap_or_else(|| {
            let now = now_ms();
            let rows = (config.sign_ins + config.audits) as i64;
            now - now.rem_euclid(1_000) - 1_000 * rows - 3_600_000
        });
        let fixtures = config
            .fixtures_dir
            .as_deref()
            .map(load_fixtures)
            .transpose()?;
        let slot: Arc<Mutex<Option<Arc<Shared>>>> = Arc::default();
        let built = slot.clone();
        let server = MockServer::start(Duration::ZERO, move |addr| {
            let base = format!("http://{addr}");
            let mut instance = Instance::generate(&config, &base, start);
            if let Some((users, grants)) = fixtures {
                *instance.rows("sys_user") = users;
                *instance.rows("sys_user_has_role") = grants;
            }
            let shared = Arc::new(Shared {
                password: Mutex::new(config.password.clone()),
                oauth: oauth.clone(),
                state: Mutex::new(instance),
                budget: RateBudget::new(config.rate_limit_per_hour, Duration::from_secs(3600)),
                faults: FaultPlan::default(),
                credentials: Mutex::default(),
                config,
            });
            *built.lock().unwrap() = Some(shared.clone());
            oauth.router("/oauth_token.do").merge(router(shared))
        })
        .await?;
        let shared = slot.lock().unwrap().take().expect("the router was built");
        Ok(ServiceNowMock { server, shared })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    pub fn config(&self) -> &ServiceNowMockConfig {
        &self.shared.config
    }

    /// The token endpoint (`/oauth_token.do`).
    pub fn oauth(&self) -> &OAuthMock {
        &self.shared.oauth
    }

    /// The sys_id of user `i` (user 0 is the integration user).
    pub fn user_id(i: usize) -> String {
        sys_id(0x1, i)
    }

    /// From now on only `password` is accepted, as after a password change.
    pub fn set_password(&self, password: &str) {
        *self
            .shared
            .password
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = password.to_owned();
    }

    /// Field `field` of user `id` now (`"true"`, …); none for an unknown user.
    pub fn user_field(&self, id: &str, field: &str) -> Option<String> {
        let state = self.shared.state();
        let row = state.find("sys_user", id)?;
        row[field].as_str().map(str::to_owned)
    }

    /// Appends `n` sign-in events, one a second after the newest activity row.
    pub fn add_sign_ins(&self, n: usize) {
        let users = self.shared.config.users;
        self.shared.state().add_sign_ins(n, now_ms(), users);
    }

    /// Appends `n` audit rows, one a second after the newest activity row.
    pub fn add_audits(&self, n: usize) {
        self.shared.state().add_audits(n, now_ms());
    }

    /// Attaches `content` (`text/plain`) to a new record of `table` now, as user 1;
    /// its sys_id.
    pub fn add_attachment(&self, table: &str, name: &str, content: &[u8]) -> String {
        self.shared.state().add_attachment(
            table,
            name,
            "text/plain",
            "user1",
            content.to_vec(),
            now_ms(),
        )
    }

    /// The sys_ids of the attachments now, oldest first.
    pub fn attachment_ids(&self) -> Vec<String> {
        let state = self.shared.state();
        (state.tables.get("sys_attachment").into_iter().flatten())
            .filter_map(|r| r["sys_id"].as_str().map(str::to_owned))
            .collect()
    }

    /// Attachment `id`'s content; none once deleted.
    pub fn attachment_content(&self, id: &str) -> Option<Vec<u8>> {
        self.shared.state().contents.get(id).cloned()
    }

    /// Replaces the pending faults (see [`Faults`]); throttling faults are 429 with
    /// `Retry-After: retry_after_secs`.
    pub fn inject_faults(&self, faults: Faults) {
        self.shared.faults.inject(faults, &self.shared.budget);
    }

    /// Every request answered so far (the token endpoint's included).
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.server.log().snapshot()
    }

    pub fn clear_requests(&self) {
        self.server.log().clear();
        self.shared.credentials.lock().unwrap().clear();
    }

    /// The credential of every API request so far, in order: `basic <user name>` or
    /// `bearer` when accepted, `refused` when not.
    pub fn credentials_seen(&self) -> Vec<String> {
        self.shared.credentials.lock().unwrap().clone()
    }

    /// Exact counts a complete scan must yield now.
    pub fn expected(&self) -> ServiceNowExpected {
        let state = self.shared.state();
        let rows = |t: &str| state.tables.get(t).cloned().unwrap_or_default();
        let users = rows("sys_user");
        let text = |row: &Value, f: &str| reference_value(&row[f]).unwrap_or_default();
        let admin_role = sys_id(0x2, 0);
        let admins: std::collections::BTreeSet<String> = rows("sys_user_has_role")
            .iter()
            .filter(|g| text(g, "role") == admin_role)
            .map(|g| text(g, "user"))
            .collect();
        let count = |f: &dyn Fn(&Value) -> bool| users.iter().filter(|u| f(u)).count();
        let events = rows("sysevent");
        let is_sign_in =
            |e: &&Value| SIGN_IN_CYCLE.contains(&e["name"].as_str().unwrap_or_default());
        let logon = events.iter().filter(is_sign_in).count();
        let failed_logon = events
            .iter()
            .filter(|e| e["name"] == "login.failed")
            .count();
        let audits = rows("sys_audit");
        let admin_activity = audits
            .iter()
            .filter(|a| {
                AUDIT_CYCLE
                    .iter()
                    .any(|(t, _, admin)| *admin && a["tablename"] == *t)
            })
            .count();
        ServiceNowExpected {
            users: users.len(),
            admins: users
                .iter()
                .filter(|u| admins.contains(&text(u, "sys_id")))
                .count(),
            active: count(&|u| u["active"] == "true" && u["locked_out"] != "true"),
            disabled: count(&|u| u["active"] == "false"),
            suspended: count(&|u| u["active"] == "true" && u["locked_out"] == "true"),
            external: count(&|u| u["sys_class_name"] == "customer_contact"),
            groups: rows("sys_user_group").len(),
            group_memberships: rows("sys_user_grmember").len(),
            activities: logon + audits.len(),
            logon,
            failed_logon,
            user_activity: audits.len() - admin_activity,
            admin_activity,
            files: rows("sys_attachment").len(),
            findings: HARDENING_SETTINGS,
        }
    }
}

// ---- wire behaviour -------------------------------------------------------------

type Answer = Result<Response, Response>;

/// The authenticated caller: user 0, for basic auth and OAuth tokens alike (a
/// client-credentials token acts as its OAuth application's user).
#[derive(Debug, Clone)]
struct Caller {
    sys_id: String,
    user_name: String,
    roles: Vec<String>,
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/now/table/{table}", get(list_table))
        .route(
            "/api/now/table/{table}/{sys_id}",
            get(get_record).patch(patch_record),
        )
        .route("/api/now/attachment", get(list_attachments))
        .route(
            "/api/now/attachment/{sys_id}",
            get(get_attachment).delete(delete_attachment),
        )
        .route("/api/now/attachment/{sys_id}/file", get(attachment_file))
        .fallback(|| async {
            error(
                StatusCode::BAD_REQUEST,
                "Requested URI does not represent any resource",
                "",
            )
        })
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .layer(middleware::from_fn_with_state(shared.clone(), authenticate))
        .with_state(shared)
}

/// ServiceNow's error body.
fn error(status: StatusCode, message: &str, detail: &str) -> Response {
    (
        status,
        Json(json!({"error": {"message": message, "detail": detail}, "status": "failure"})),
    )
        .into_response()
}

fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "No Record found",
        "Record doesn't exist or ACL restricts the record retrieval",
    )
}

fn refused() -> Response {
    error(
        StatusCode::FORBIDDEN,
        "User Not Authorized",
        "Failed API level ACL Validation",
    )
}

/// Basic `username:password` or a bearer token from `/oauth_token.do`; 401 with
/// ServiceNow's body otherwise.
async fn authenticate(
    State(shared): State<Arc<Shared>>,
    mut request: Request,
    next: Next,
) -> Response {
    let config = &shared.config;
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let password = shared
        .password
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let seen = if let Some(encoded) = header.strip_prefix("Basic ") {
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|pair| {
                let (user, given) = pair.split_once(':')?;
                (user == config.username && given == password).then(|| format!("basic {user}"))
            })
    } else {
        shared
            .oauth
            .validate(request.headers())
            .map(|_| "bearer".to_owned())
    };
    shared
        .credentials
        .lock()
        .unwrap()
        .push(seen.clone().unwrap_or_else(|| "refused".into()));
    if seen.is_none() {
        return error(
            StatusCode::UNAUTHORIZED,
            "User Not Authenticated",
            "Required to provide Auth information",
        );
    }
    request.extensions_mut().insert(Caller {
        sys_id: sys_id(0x1, 0),
        user_name: config.username.clone(),
        roles: config.owner_roles.clone(),
    });
    next.run(request).await
}

/// Injected faults, then the rate-limit rule's hourly budget; every answer carries
/// `X-RateLimit-Limit`, `X-RateLimit-Reset` and `X-RateLimit-Rule`.
async fn gate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let limit = shared.config.rate_limit_per_hour;
    let throttled = |retry_after: u64| {
        let mut response = error(
            StatusCode::TOO_MANY_REQUESTS,
            "Rate limit exceeded",
            &format!("Rate limit of {limit} requests per hour for Table API exceeded"),
        );
        set(&mut response, "retry-after", retry_after.to_string());
        response
    };
    let (mut response, budget) = match shared.faults.take() {
        Some(faults::Fault::SecondaryLimit {
            retry_after_secs, ..
        }) => (throttled(retry_after_secs), shared.budget.peek()),
        Some(faults::Fault::ServerError { status }) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            (
                error(status, "Internal Server Error", "Transaction cancelled"),
                shared.budget.peek(),
            )
        }
        Some(faults::Fault::ResetMidBody) => (
            faults::reset_mid_body(next.run(request).await).await,
            shared.budget.peek(),
        ),
        Some(faults::Fault::TruncatedBody) => (
            faults::truncate_body(next.run(request).await).await,
            shared.budget.peek(),
        ),
        fault => {
            let budget = shared.budget.consume();
            let response = if budget.allowed {
                let response = next.run(request).await;
                if let Some(faults::Fault::Slow { delay }) = fault {
                    tokio::time::sleep(delay).await;
                }
                response
            } else {
                let wait = budget
                    .reset_epoch_secs
                    .saturating_sub(now_ms() as u64 / 1000)
                    .max(1);
                throttled(wait)
            };
            (response, budget)
        }
    };
    set(&mut response, "x-ratelimit-limit", budget.limit.to_string());
    set(
        &mut response,
        "x-ratelimit-reset",
        budget.reset_epoch_secs.to_string(),
    );
    set(&mut response, "x-ratelimit-rule", sys_id(0xa, 0));
    response
}

fn set(response: &mut Response, name: &'static str, value: String) {
    if let Ok(value) = HeaderValue::from_str(&value) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(name), value);
    }
}

/// A table the mock serves, unless the caller's ACLs refuse it.
fn table_of(shared: &Shared, table: &str) -> Result<&'static str, Response> {
    let known = TABLES.iter().find(|t| **t == table).ok_or_else(|| {
        error(
            StatusCode::BAD_REQUEST,
            &format!("Invalid table {table}"),
            "",
        )
    })?;
    if shared.config.refused_tables.iter().any(|t| t == table) {
        return Err(refused());
    }
    Ok(known)
}

/// A reference field's `value` (or the sys_id at the end of its `link`), or a plain
/// string field.
fn reference_value(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o
            .get("value")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| {
                o.get("link")
                    .and_then(Value::as_str)
                    .and_then(|l| l.rsplit('/').next())
                    .map(str::to_owned)
            }),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Field `path` of `row`, dot-walking through references (`role.name`): the JSON
/// value as stored, none for an unknown field.
fn field<'a>(row: &'a Value, path: &str, state: &'a Instance) -> Option<&'a Value> {
    if let Some(value) = row.get(path) {
        return Some(value);
    }
    let (first, rest) = path.split_once('.')?;
    let link = row.get(first)?.get("link")?.as_str()?;
    let mut parts = link.rsplit('/');
    let id = parts.next()?;
    let table = parts.next()?;
    field(state.find(table, id)?, rest, state)
}

/// An encoded query's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    In,
    Gt,
    Ge,
    Lt,
    Le,
    Like,
    StartsWith,
}

/// One `<field><op><value>` term.
#[derive(Debug, Clone)]
struct Condition {
    field: String,
    op: Op,
    value: String,
}

/// `sysparm_query`: AND of OR-groups (`a^ORb^c` is `(a OR b) AND c`), then the order.
#[derive(Debug, Default)]
struct EncodedQuery {
    groups: Vec<Vec<Condition>>,
    order: Vec<(String, bool)>,
}

impl EncodedQuery {
    fn parse(text: &str, caller: &Caller) -> EncodedQuery {
        let mut query = EncodedQuery::default();
        for part in text.split('^').filter(|p| !p.is_empty()) {
            if let Some(f) = part.strip_prefix("ORDERBYDESC") {
                query.order.push((f.to_owned(), true));
                continue;
            }
            if let Some(f) = part.strip_prefix("ORDERBY") {
                query.order.push((f.to_owned(), false));
                continue;
            }
            let (or, term) = match part.strip_prefix("OR") {
                Some(rest) if rest.starts_with(|c: char| c.is_ascii_lowercase()) => (true, rest),
                _ => (false, part),
            };
            let end = term
                .find(|c: char| {
                    !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
                })
                .unwrap_or(term.len());
            let (name, rest) = term.split_at(end);
            const OPS: &[(&str, Op)] = &[
                ("!=", Op::Ne),
                (">=", Op::Ge),
                ("<=", Op::Le),
                ("=", Op::Eq),
                (">", Op::Gt),
                ("<", Op::Lt),
                ("IN", Op::In),
                ("LIKE", Op::Like),
                ("STARTSWITH", Op::StartsWith),
            ];
            // An invalid part is ignored, as ServiceNow does by default.
            let Some((token, op)) = OPS.iter().find(|(t, _)| rest.starts_with(t)) else {
                continue;
            };
            if name.is_empty() {
                continue;
            }
            let condition = Condition {
                field: name.to_owned(),
                op: *op,
                value: resolve(&rest[token.len()..], caller),
            };
            match query.groups.last_mut() {
                Some(group) if or => group.push(condition),
                _ => query.groups.push(vec![condition]),
            }
        }
        query
    }

    fn matches(&self, row: &Value, state: &Instance) -> bool {
        self.groups
            .iter()
            .all(|group| group.iter().any(|c| c.holds(row, state)))
    }

    fn sort(&self, rows: &mut [&Value], state: &Instance) {
        rows.sort_by(|a, b| {
            self.order
                .iter()
                .map(|(name, desc)| {
                    let key = |r: &Value| field(r, name, state).and_then(reference_value);
                    let ordering = key(a).cmp(&key(b));
                    if *desc { ordering.reverse() } else { ordering }
                })
                .find(|o| *o != Ordering::Equal)
                .unwrap_or(Ordering::Equal)
        });
    }
}

/// The value of a term: `javascript:gs.getUserID()` is the caller's sys_id,
/// `javascript:gs.dateGenerate('2024-01-01','00:00:00')` the date-time it names.
fn resolve(value: &str, caller: &Caller) -> String {
    if value == "javascript:gs.getUserID()" {
        return caller.sys_id.clone();
    }
    if let Some(args) = value
        .strip_prefix("javascript:gs.dateGenerate(")
        .and_then(|a| a.strip_suffix(')'))
    {
        return args
            .split(',')
            .map(|a| a.trim().trim_matches('\''))
            .collect::<Vec<_>>()
            .join(" ");
    }
    value.to_owned()
}

impl Condition {
    fn holds(&self, row: &Value, state: &Instance) -> bool {
        let Some(actual) = field(row, &self.field, state).and_then(reference_value) else {
            return self.op == Op::Ne;
        };
        let wanted = self.value.as_str();
        match self.op {
            Op::Eq => actual == wanted,
            Op::Ne => actual != wanted,
            Op::In => wanted.split(',').any(|v| v == actual),
            Op::Gt => actual.as_str() > wanted,
            Op::Ge => actual.as_str() >= wanted,
            Op::Lt => actual.as_str() < wanted,
            Op::Le => actual.as_str() <= wanted,
            Op::Like => actual.contains(wanted),
            Op::StartsWith => actual.starts_with(wanted),
        }
    }
}

/// `row` with only `sysparm_fields` (all without), dot-walked fields as their values;
/// unknown fields are left out, as ServiceNow ignores them.
fn project(row: &Value, fields: Option<&str>, state: &Instance) -> Value {
    let Some(fields) = fields else {
        return row.clone();
    };
    let mut out = Map::new();
    for name in fields.split(',').map(str::trim).filter(|f| !f.is_empty()) {
        if let Some(value) = field(row, name, state) {
            out.insert(name.to_owned(), value.clone());
        }
    }
    Value::Object(out)
}

async fn list_table(
    State(shared): State<Arc<Shared>>,
    Path(table): Path<String>,
    axum::Extension(caller): axum::Extension<Caller>,
    url: RequestUrl,
) -> Answer {
    list_rows(&shared, &table, &caller, &url)
}

/// `GET /api/now/attachment`: `sys_attachment` rows, queried and paged as a table.
async fn list_attachments(
    State(shared): State<Arc<Shared>>,
    axum::Extension(caller): axum::Extension<Caller>,
    url: RequestUrl,
) -> Answer {
    list_rows(&shared, "sys_attachment", &caller, &url)
}

/// `GET /api/now/attachment/{sys_id}`: one attachment's metadata.
async fn get_attachment(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Answer {
    let table = table_of(&shared, "sys_attachment")?;
    let state = shared.state();
    let row = state.find(table, &id).ok_or_else(not_found)?;
    Ok(Json(json!({ "result": row })).into_response())
}

/// `GET /api/now/attachment/{sys_id}/file`: the whole content, whatever `Range` asks.
async fn attachment_file(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Answer {
    let table = table_of(&shared, "sys_attachment")?;
    let state = shared.state();
    let row = state.find(table, &id).ok_or_else(not_found)?;
    let content = state.contents.get(&id).cloned().unwrap_or_default();
    let metadata = json!({"sys_id": id, "file_name": row["file_name"],
        "size_bytes": row["size_bytes"], "content_type": row["content_type"]});
    let mut response = content.into_response();
    if let Ok(mime) = HeaderValue::from_str(row["content_type"].as_str().unwrap_or_default()) {
        response
            .headers_mut()
            .insert(axum::http::header::CONTENT_TYPE, mime);
    }
    set(&mut response, "x-attachment-metadata", metadata.to_string());
    Ok(response)
}

/// `DELETE /api/now/attachment/{sys_id}`: 204; permanent, as ServiceNow's is.
async fn delete_attachment(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    axum::Extension(caller): axum::Extension<Caller>,
) -> Answer {
    let table = table_of(&shared, "sys_attachment")?;
    if !caller.roles.iter().any(|r| r == "admin") {
        return Err(refused());
    }
    let mut state = shared.state();
    let rows = state.rows(table);
    let before = rows.len();
    rows.retain(|r| r["sys_id"].as_str() != Some(id.as_str()));
    if rows.len() == before {
        return Err(not_found());
    }
    state.contents.remove(&id);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The rows of `table` the encoded query selects, one offset page with its links.
fn list_rows(shared: &Shared, table: &str, caller: &Caller, url: &RequestUrl) -> Answer {
    let table = table_of(shared, table)?;
    let state = shared.state();
    let query = EncodedQuery::parse(url.param("sysparm_query").unwrap_or_default(), caller);
    let mut rows: Vec<&Value> = state
        .tables
        .get(table)
        .into_iter()
        .flatten()
        .filter(|row| query.matches(row, &state))
        .collect();
    query.sort(&mut rows, &state);
    let total = rows.len();
    let number = |name: &str, default: usize| {
        url.param(name)
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(default)
    };
    let limit = number("sysparm_limit", 10_000).max(1);
    let offset = number("sysparm_offset", 0);
    let fields = url.param("sysparm_fields");
    let page: Vec<Value> = rows
        .iter()
        .skip(offset)
        .take(limit)
        .map(|row| project(row, fields, &state))
        .collect();
    let link = |rel: &str, at: usize| {
        let at = at.to_string();
        let limit = limit.to_string();
        let url = url.with_params(
            &["sysparm_offset", "sysparm_limit"],
            &[("sysparm_limit", &limit), ("sysparm_offset", &at)],
        );
        format!("<{url}>;rel=\"{rel}\"")
    };
    let last = total.saturating_sub(1) / limit * limit;
    let mut links = vec![link("first", 0)];
    if offset > 0 {
        links.push(link("prev", offset.saturating_sub(limit)));
    }
    if offset + limit < total {
        links.push(link("next", offset + limit));
    }
    links.push(link("last", last));
    let mut response = Json(json!({ "result": page })).into_response();
    set(&mut response, "x-total-count", total.to_string());
    set(&mut response, "link", links.join(","));
    Ok(response)
}

async fn get_record(
    State(shared): State<Arc<Shared>>,
    Path((table, id)): Path<(String, String)>,
    url: RequestUrl,
) -> Answer {
    let table = table_of(&shared, &table)?;
    let state = shared.state();
    let row = state.find(table, &id).ok_or_else(not_found)?;
    let result = project(row, url.param("sysparm_fields"), &state);
    Ok(Json(json!({ "result": result })).into_response())
}

/// `PATCH /api/now/table/{table}/{sys_id}`: sets the body's fields (as strings), each
/// change recorded in `sys_audit`; needs `admin` or `user_admin`.
async fn patch_record(
    State(shared): State<Arc<Shared>>,
    Path((table, id)): Path<(String, String)>,
    axum::Extension(caller): axum::Extension<Caller>,
    Json(body): Json<Value>,
) -> Answer {
    let table = table_of(&shared, &table)?;
    if !caller
        .roles
        .iter()
        .any(|r| r == "admin" || r == "user_admin")
    {
        return Err(error(
            StatusCode::FORBIDDEN,
            "Operation Failed",
            "ACL Exception Update Failed due to security constraints",
        ));
    }
    let Some(fields) = body.as_object() else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "Exception while reading request",
            "The payload is not valid JSON.",
        ));
    };
    let mut state = shared.state();
    let row = (state.tables.get_mut(table).into_iter().flatten())
        .find(|r| r["sys_id"].as_str() == Some(id.as_str()))
        .ok_or_else(not_found)?;
    let mut changes = Vec::new();
    for (name, value) in fields {
        let Some(new) = reference_value(value) else {
            continue;
        };
        let old = row.get(name).and_then(reference_value).unwrap_or_default();
        if old != new {
            row[name.as_str()] = Value::String(new.clone());
            changes.push((name.clone(), old, new));
        }
    }
    let answer = json!({ "result": row.clone() });
    for (name, old, new) in changes {
        let time = state.next_time(now_ms());
        state.push_audit(table, &name, &id, &old, &new, &caller.user_name, time);
    }
    Ok(Json(answer).into_response())
}
