//! A loopback Webex organization for the `webex` connector, with the integration
//! token endpoint mounted beside it (the same server is `https://webexapis.com`).
//!
//! As Webex documents:
//! - `POST /v1/access_token` with `grant_type=refresh_token`, `client_id`,
//!   `client_secret` and `refresh_token` in the form ([`OAuthMock`], refresh grant);
//!   API calls carry `Authorization: Bearer <token>`, anything else is 401 "The
//!   request requires a valid access token set in the Authorization request header.";
//! - a token whose integration lacks the endpoint's scope (or whose authorizing user
//!   lacks the role) is 403 "The server understood the request, but refused to
//!   fulfill it because the access token is missing required scopes or the user is
//!   missing required roles or licenses.";
//! - errors are `{"message", "errors": [{"description"}], "trackingId"}`;
//! - lists page with `Link: <…>; rel="next"` and `max` (default 100, at most 1000):
//!   `GET /v1/people`, `GET /v1/adminAudit/events` (`orgId`, `from`, `to`
//!   required), `GET /v1/admin/securityAudit/events` (`orgId`, `startTime`,
//!   `endTime` required), `GET /v1/events` (`from`, `to` optional); audit and
//!   compliance events come newest first;
//! - `GET /v1/groups` pages SCIM-style: `startIndex` (1-based), `count`, and
//!   `totalResults`, `startIndex`, `itemsPerPage`, `groups` in the body;
//! - `PUT /v1/people/{personId}` replaces the person: `displayName` and `emails` must
//!   be present; a change of `loginEnabled` is logged in the admin audit events;
//! - past the request budget, or on an injected fault, 429 with `Retry-After`
//!   (seconds).
//!
//! | route | scope |
//! |---|---|
//! | `POST /v1/access_token` | the token endpoint |
//! | `GET /v1/people/me` | `spark:people_read` |
//! | `GET /v1/people`, `GET /v1/people/{id}` | `spark-admin:people_read` |
//! | `PUT /v1/people/{id}` | `spark-admin:people_write` |
//! | `GET /v1/roles` | `spark-admin:roles_read` |
//! | `GET /v1/groups` | `identity:groups_read` |
//! | `GET /v1/adminAudit/events`, `GET /v1/admin/securityAudit/events` | `audit:events_read` |
//! | `GET /v1/events` (`resource`, `type` filters) | `spark-compliance:events_read` |
//! | `GET`/`HEAD /v1/contents/{id}` (`Range` honoured) | `spark-compliance:messages_read` |
//! | `DELETE /v1/messages/{id}` | `spark-compliance:messages_write` |
//! | `GET /v1/memberships` (`roomId`, `personId`, `personEmail`) | `spark-compliance:memberships_read` |
//! | `DELETE /v1/memberships/{id}` | `spark-compliance:memberships_write` |
//!
//! People are in the shape of the published example (`shared/fixtures/webex/
//! people-list…`): person 0 is the authorizing Full Administrator, people
//! 1..`admins` hold Full Administrator too, the next `read_only_admins` the
//! Read-only Administrator role, the rest none; the last `login_disabled` have
//! `loginEnabled: false`, the `invite_pending` before them `invitePending: true`.
//! Group *g* holds every person *i* with `i % groups == g`. With
//! [`WebexMockConfig::fixtures_dir`] people, roles and groups serve the published
//! examples. `file_messages` messages carry one file each (`report-<i>.pdf`,
//! `file_size` bytes); a deleted message's content answers 410 Gone. File message
//! *i* is in space `room-files-{i % 2}`; both spaces hold people 0..3, and space 1 also
//! `external_members` people of another organization (`personOrgId`).
//!
//! Webhooks: [`WebexMock::register_webhook`] stands for the operator's
//! `POST /v1/webhooks` (`resource=messages`, `event=created`, `ownedBy=org`, a
//! `secret`); [`WebexMock::post_file_message`] then delivers, as Webex does, a `POST`
//! to the `targetUrl` with the notification envelope and `X-Spark-Signature`: the hex
//! HMAC-SHA1 of the body keyed with the secret.
//!
//! Assumed where Webex publishes no example or statement: the `max` bound of the
//! audit and compliance lists (1000, as security audit states), `count` at most 100 on
//! groups, the 429's body, the `cursor` parameter of `Link` URLs (opaque to clients),
//! `from` inclusive and `to` exclusive, newest-first order, and the compliance event
//! payloads (the shape of `GET /v1/events` in Webex's reference).

// Handlers answer `Result<Response, Response>` (Webex's error body is a response too).
#![allow(clippy::result_large_err)]

use std::io;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::header::{HeaderName, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::faults::{self, FaultPlan, Faults, RateBudget};
use crate::oauth::{OAuthMock, OAuthMockConfig};
use crate::server::{MockServer, RequestRecord, RequestUrl};

/// Every scope the connector reads with, plus the actions' write scope.
pub const WEBEX_SCOPES: [&str; 11] = [
    "spark:people_read",
    "spark-admin:people_read",
    "spark-admin:people_write",
    "spark-admin:roles_read",
    "identity:groups_read",
    "audit:events_read",
    "spark-compliance:events_read",
    "spark-compliance:messages_read",
    "spark-compliance:messages_write",
    "spark-compliance:memberships_read",
    "spark-compliance:memberships_write",
];

/// Webex's 401 message.
pub const UNAUTHORIZED: &str =
    "The request requires a valid access token set in the Authorization request header.";
/// Webex's 403 message.
pub const REFUSED: &str = "The server understood the request, but refused to fulfill it because \
                           the access token is missing required scopes or the user is missing \
                           required roles or licenses.";

/// The mock organization and its integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebexMockConfig {
    /// The integration's client id and secret, and the refresh token it holds.
    pub client_id: String,
    pub client_secret: String,
    pub refresh_token: String,
    /// The organization's id (`orgId`).
    pub org_id: String,
    /// The scopes granted to the integration's tokens.
    pub scopes: Vec<String>,
    /// People in all; person 0 is the authorizing Full Administrator.
    pub people: usize,
    /// People 0..admins hold Full Administrator (at least person 0)…
    pub admins: usize,
    /// …the next ones Read-only Administrator.
    pub read_only_admins: usize,
    /// The last people have sign-in turned off (`loginEnabled: false`)…
    pub login_disabled: usize,
    /// …and the ones before them are invited, not signed up (`invitePending`).
    pub invite_pending: usize,
    /// Groups; person *i* is in group `i % groups`.
    pub groups: usize,
    /// Admin audit, security audit (sign-in/out) and compliance events at start.
    pub admin_events: usize,
    pub security_events: usize,
    pub compliance_events: usize,
    /// Messages with one file attached (each a `messages.created` compliance event,
    /// after the others)…
    pub file_messages: usize,
    /// …of which the last ones were deleted since (a `messages.deleted` event each).
    pub deleted_file_messages: usize,
    /// Bytes in each file.
    pub file_size: usize,
    /// Members of another organization in the second files space.
    pub external_members: usize,
    /// Time between two events of a trail (ms); the newest are an hour old.
    pub event_interval_ms: i64,
    /// Requests a minute before 429s.
    pub rate_limit_per_minute: u32,
    /// Serve the published people, roles and groups from this folder.
    pub fixtures_dir: Option<PathBuf>,
}

impl Default for WebexMockConfig {
    fn default() -> Self {
        WebexMockConfig {
            client_id: "mock-webex-client".into(),
            client_secret: "mock-webex-secret".into(),
            refresh_token: "mock-webex-refresh".into(),
            org_id: ORG_ID.into(),
            scopes: WEBEX_SCOPES.map(String::from).to_vec(),
            people: 7,
            admins: 1,
            read_only_admins: 0,
            login_disabled: 0,
            invite_pending: 0,
            groups: 2,
            admin_events: 3,
            security_events: 3,
            compliance_events: 3,
            file_messages: 0,
            deleted_file_messages: 0,
            file_size: 3_000,
            external_members: 0,
            event_interval_ms: 3_600_000,
            rate_limit_per_minute: 6_000,
            fixtures_dir: None,
        }
    }
}

/// What a complete scan of the mock must yield right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WebexExpected {
    pub users: usize,
    /// People holding any admin role.
    pub admins: usize,
    pub read_only_admins: usize,
    /// Sign-in off (Sluice: suspended) and invitations pending (disabled).
    pub login_disabled: usize,
    pub invite_pending: usize,
    pub groups: usize,
    /// Memberships over all groups.
    pub group_members: usize,
    /// Admin audit (admin), security audit (logon) and compliance (user) events.
    pub admin_activity: usize,
    pub logon: usize,
    pub user_activity: usize,
    /// Files of messages not deleted…
    pub files: usize,
    /// …of which in a space with members of another organization.
    pub files_shared_externally: usize,
}

/// A running Webex mock.
#[derive(Debug)]
pub struct WebexMock {
    server: MockServer,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: WebexMockConfig,
    oauth: OAuthMock,
    state: Mutex<Org>,
    fixtures: Option<Published>,
    budget: RateBudget,
    faults: FaultPlan,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, Org> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The published examples served instead of generated people, roles and groups.
#[derive(Debug, Clone)]
struct Published {
    people: Vec<Value>,
    roles: Vec<Value>,
    groups: Vec<Value>,
}

#[derive(Debug, Clone)]
struct Person {
    id: String,
    email: String,
    first_name: String,
    roles: Vec<&'static str>,
    login_enabled: bool,
    invite_pending: bool,
    created_ms: i64,
}

#[derive(Debug, Clone)]
struct Event {
    time_ms: i64,
    body: Value,
}

/// A message with one file.
#[derive(Debug, Clone)]
struct Message {
    id: String,
    content_id: String,
    name: String,
    room: String,
    deleted: bool,
}

/// A person's membership of a space.
#[derive(Debug, Clone)]
struct Membership {
    id: String,
    room: String,
    person_id: String,
    email: String,
    org_id: String,
    moderator: bool,
}

/// A webhook the operator registered.
#[derive(Debug, Clone)]
struct Webhook {
    id: String,
    target_url: String,
    secret: String,
}

#[derive(Debug)]
struct Org {
    people: Vec<Person>,
    /// Each trail oldest first.
    admin_events: Vec<Event>,
    security_events: Vec<Event>,
    compliance_events: Vec<Event>,
    /// Messages with files, in order.
    messages: Vec<Message>,
    /// Memberships of the files spaces.
    memberships: Vec<Membership>,
    webhooks: Vec<Webhook>,
    /// Events made so far, for unique ids.
    next_event: usize,
}

/// The default organization id, in Webex's form.
const ORG_ID: &str = "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi9tb2NrLW9yZw";
/// The organization of the external members.
const GUEST_ORG_ID: &str = "Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi9ndWVzdC1vcmc";
/// (id, name) of the organization's roles.
const ROLES: [(&str, &str); 4] = [
    (
        "Y2lzY29zcGFyazovL3VzL1JPTEUvZnVsbC1hZG1pbg",
        "Full Administrator",
    ),
    (
        "Y2lzY29zcGFyazovL3VzL1JPTEUvcmVhZC1vbmx5",
        "Read-only Administrator",
    ),
    (
        "Y2lzY29zcGFyazovL3VzL1JPTEUvY29tcGxpYW5jZQ",
        "Compliance Officer",
    ),
    (
        "Y2lzY29zcGFyazovL3VzL1JPTEUvc3VwcG9ydA",
        "Support Administrator",
    ),
];
/// The id of files space `n`.
fn files_room(n: usize) -> String {
    webex_id("ROOM", &format!("room-files-{n}"))
}

/// 2024-01-01T00:00:00Z, the anchor of people's creation dates.
const EPOCH_MS: i64 = 1_704_067_200_000;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Webex's time format: RFC 3339 UTC with milliseconds.
fn iso(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_time(text: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// A Webex-style id: base64url of `ciscospark://us/<KIND>/<name>`.
fn webex_id(kind: &str, name: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("ciscospark://us/{kind}/{name}"))
}

impl Org {
    fn generate(c: &WebexMockConfig) -> Org {
        let people = (0..c.people)
            .map(|i| Person {
                id: webex_id("PEOPLE", &format!("mock-person-{i:04}")),
                email: format!("person{i}@example.com"),
                first_name: format!("Person{i}"),
                roles: if i == 0 || i < c.admins {
                    vec![ROLES[0].0]
                } else if i < c.admins.max(1) + c.read_only_admins {
                    vec![ROLES[1].0]
                } else {
                    Vec::new()
                },
                login_enabled: !(i > 0 && i + c.login_disabled >= c.people),
                invite_pending: i > 0
                    && i + c.login_disabled < c.people
                    && i + c.login_disabled + c.invite_pending >= c.people,
                created_ms: EPOCH_MS + i as i64 * 3_600_000,
            })
            .collect();
        let mut org = Org {
            people,
            admin_events: Vec::new(),
            security_events: Vec::new(),
            compliance_events: Vec::new(),
            messages: Vec::new(),
            memberships: Vec::new(),
            webhooks: Vec::new(),
            next_event: 0,
        };
        org.add_memberships(c);
        let newest = now_ms() - now_ms().rem_euclid(1000) - 3_600_000;
        org.add_events(
            c,
            [c.admin_events, c.security_events, c.compliance_events],
            newest,
            c.event_interval_ms,
        );
        org.add_file_messages(c, newest);
        org
    }

    /// The messages with files: created a second apart after the compliance events,
    /// the last `deleted_file_messages` deleted a second after the last one.
    fn add_file_messages(&mut self, c: &WebexMockConfig, newest: i64) {
        let mut time_ms = (self.compliance_events.last()).map_or(newest, |e| e.time_ms) + 1_000;
        for _ in 0..c.file_messages {
            self.add_file_message(c, time_ms);
            time_ms += 1_000;
        }
        let first_deleted = c.file_messages.saturating_sub(c.deleted_file_messages);
        for i in first_deleted..c.file_messages {
            self.delete_message(c, i, time_ms);
            time_ms += 1_000;
        }
    }

    /// Appends the next message with a file, created at `time_ms`; its event body.
    fn add_file_message(&mut self, c: &WebexMockConfig, time_ms: i64) -> Value {
        let i = self.messages.len();
        let message = Message {
            id: webex_id("MESSAGE", &format!("file-message-{i}")),
            content_id: webex_id("CONTENT", &format!("content-{i}")),
            name: format!("report-{i}.pdf"),
            room: files_room(i % 2),
            deleted: false,
        };
        let body = self.message_event(c, &message, "created", time_ms);
        self.compliance_events.push(Event {
            time_ms,
            body: body.clone(),
        });
        self.messages.push(message);
        body
    }

    /// People 0..3 in both files spaces, moderated by person 0; the guests in space 1.
    fn add_memberships(&mut self, c: &WebexMockConfig) {
        for room in 0..2 {
            for (i, p) in self.people.iter().take(3).enumerate() {
                self.memberships.push(Membership {
                    id: webex_id("MEMBERSHIP", &format!("{room}-{i}")),
                    room: files_room(room),
                    person_id: p.id.clone(),
                    email: p.email.clone(),
                    org_id: c.org_id.clone(),
                    moderator: i == 0,
                });
            }
        }
        for g in 0..c.external_members {
            self.memberships.push(Membership {
                id: webex_id("MEMBERSHIP", &format!("guest-{g}")),
                room: files_room(1),
                person_id: webex_id("PEOPLE", &format!("guest-{g}")),
                email: format!("guest{g}@partner.example"),
                org_id: GUEST_ORG_ID.into(),
                moderator: false,
            });
        }
    }

    /// Marks message `i` deleted and logs its `messages.deleted` event at `time_ms`.
    fn delete_message(&mut self, c: &WebexMockConfig, i: usize, time_ms: i64) {
        self.messages[i].deleted = true;
        let message = self.messages[i].clone();
        let body = self.message_event(c, &message, "deleted", time_ms);
        self.compliance_events.push(Event { time_ms, body });
    }

    /// A compliance event for `message` (its file in `files` when created).
    fn message_event(
        &mut self,
        c: &WebexMockConfig,
        message: &Message,
        kind: &str,
        time_ms: i64,
    ) -> Value {
        let n = self.next_event;
        self.next_event += 1;
        let sender = &self.people[n % self.people.len().max(1)];
        let mut data = json!({
            "id": message.id,
            "roomId": message.room,
            "roomType": "group",
            "personId": sender.id,
            "personEmail": sender.email,
            "created": iso(time_ms),
        });
        if kind == "created" {
            data["text"] = json!(format!("see {}", message.name));
            data["files"] = json!([format!(
                "https://webexapis.com/v1/contents/{}",
                message.content_id
            )]);
        }
        json!({
            "id": webex_id("EVENT", &format!("compliance-{n}")),
            "resource": "messages",
            "type": kind,
            "appId": webex_id("APPLICATION", "mock"),
            "actorId": sender.id,
            "orgId": c.org_id,
            "created": iso(time_ms),
            "data": data,
        })
    }

    /// Adds `counts` events to the three trails, the newest at `newest`, `interval`
    /// apart, each after the trail's existing ones.
    fn add_events(&mut self, c: &WebexMockConfig, counts: [usize; 3], newest: i64, interval: i64) {
        for (trail, n) in counts.into_iter().enumerate() {
            let start = newest - interval * (n as i64 - 1).max(0);
            for k in 0..n as i64 {
                let existing = match trail {
                    0 => &self.admin_events,
                    1 => &self.security_events,
                    _ => &self.compliance_events,
                };
                let time_ms = existing.last().map_or(start + k * interval, |e| {
                    (start + k * interval).max(e.time_ms + 1_000)
                });
                let body = self.event_body(c, trail, time_ms);
                match trail {
                    0 => self.admin_events.push(Event { time_ms, body }),
                    1 => self.security_events.push(Event { time_ms, body }),
                    _ => self.compliance_events.push(Event { time_ms, body }),
                }
            }
        }
    }

    fn event_body(&mut self, c: &WebexMockConfig, trail: usize, time_ms: i64) -> Value {
        let n = self.next_event;
        self.next_event += 1;
        let actor = &self.people[n % self.people.len().max(1)];
        let (actor_id, actor_email) = (actor.id.clone(), actor.email.clone());
        let admin = &self.people[0];
        match trail {
            0 => json!({
                "id": webex_id("AUDIT", &format!("admin-{n}")),
                "created": iso(time_ms),
                "actorOrgId": c.org_id,
                "actorId": admin.id,
                "data": {
                    "actorOrgName": "Acme Inc.",
                    "targetName": actor_email,
                    "eventDescription": if n.is_multiple_of(2) { "User updated" } else { "User created" },
                    "actorName": "Person0 Mock",
                    "actorEmail": admin.email,
                    "adminRoles": ["Full_Admin"],
                    "trackingId": format!("ATLAS_mock_{n}"),
                    "targetType": "TargetResourceType.USER",
                    "targetId": actor_id,
                    "eventCategory": "EventCategory.USERS",
                    "actorUserAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_14_0)",
                    "actorIp": format!("198.51.100.{}", n % 250),
                    "targetOrgId": c.org_id,
                    "actionText": format!("Person0 Mock updated {actor_email}"),
                    "targetOrgName": "Acme Inc.",
                },
            }),
            1 => json!({
                "id": webex_id("AUDIT", &format!("security-{n}")),
                "created": iso(time_ms),
                "actorOrgId": c.org_id,
                "actorId": actor_id,
                "data": {
                    "actorOrgName": "Acme Inc.",
                    "eventDescription": if n.is_multiple_of(2) { "A user logged in" } else { "A user logged out" },
                    "actorName": format!("{} Mock", actor.first_name),
                    "actorEmail": actor_email,
                    "actorUserAgent": "Webex/43.10 (Windows)",
                    "trackingId": format!("ATLAS_mock_{n}"),
                    "eventCategory": "LOGINS",
                    "actorIp": format!("203.0.113.{}", n % 250),
                    "actionText": format!("{actor_email} logged into organization Acme Inc."),
                },
            }),
            _ => {
                let room = webex_id("ROOM", &format!("room-{}", n % 3));
                let message = webex_id("MESSAGE", &format!("message-{n}"));
                json!({
                    "id": webex_id("EVENT", &format!("compliance-{n}")),
                    "resource": "messages",
                    "type": "created",
                    "appId": webex_id("APPLICATION", "mock"),
                    "actorId": actor_id,
                    "orgId": c.org_id,
                    "created": iso(time_ms),
                    "data": {
                        "id": message,
                        "roomId": room,
                        "roomType": "group",
                        "text": format!("status update {n}"),
                        "personId": actor_id,
                        "personEmail": actor_email,
                        "created": iso(time_ms),
                    },
                })
            }
        }
    }
}

impl Org {
    /// Whether space `room` has a member of another organization.
    fn room_has_guests(&self, room: &str, c: &WebexMockConfig) -> bool {
        (self.memberships.iter()).any(|m| m.room == room && m.org_id != c.org_id)
    }
}

impl WebexMock {
    /// Binds `127.0.0.1:0` and serves on the current tokio runtime. Fails if the
    /// listener cannot be bound or a fixture cannot be read or parsed.
    pub async fn start(config: WebexMockConfig) -> io::Result<WebexMock> {
        let fixtures = config
            .fixtures_dir
            .as_deref()
            .map(load_fixtures)
            .transpose()?;
        let oauth = OAuthMock::new(OAuthMockConfig {
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone(),
            refresh_token: Some(config.refresh_token.clone()),
            // About 14 days, as Webex's access tokens.
            token_lifetime: Duration::from_secs(1_209_599),
            ..OAuthMockConfig::default()
        });
        let shared = Arc::new(Shared {
            oauth,
            state: Mutex::new(Org::generate(&config)),
            fixtures,
            budget: RateBudget::new(config.rate_limit_per_minute, Duration::from_secs(60)),
            faults: FaultPlan::default(),
            config,
        });
        let router = router(shared.clone());
        let server = MockServer::start(Duration::ZERO, |_| router).await?;
        Ok(WebexMock { server, shared })
    }

    /// `http://127.0.0.1:PORT`: the API and the token endpoint.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    pub fn config(&self) -> &WebexMockConfig {
        &self.shared.config
    }

    /// The token endpoint, for what the host sent it.
    pub fn oauth(&self) -> &OAuthMock {
        &self.shared.oauth
    }

    /// Appends `n` events to each trail, a second apart, the newest now.
    pub fn add_activity(&self, n: usize) {
        let mut state = self.shared.state();
        let now = now_ms() - now_ms().rem_euclid(1000);
        state.add_events(&self.shared.config, [n, n, n], now, 1_000);
    }

    /// Whether person `id` may sign in; none for an unknown person.
    pub fn login_enabled(&self, id: &str) -> Option<bool> {
        let state = self.shared.state();
        (state.people.iter().find(|p| p.id == id)).map(|p| p.login_enabled)
    }

    /// The file ids (`{messageId}.{contentId}`) of messages not deleted, in order.
    pub fn file_ids(&self) -> Vec<String> {
        let state = self.shared.state();
        (state.messages.iter())
            .filter(|m| !m.deleted)
            .map(|m| format!("{}.{}", m.id, m.content_id))
            .collect()
    }

    /// The bytes of content `content_id`.
    pub fn file_content(&self, content_id: &str) -> Option<Vec<u8>> {
        let state = self.shared.state();
        let at = state
            .messages
            .iter()
            .position(|m| m.content_id == content_id)?;
        Some(content_bytes(at, self.shared.config.file_size))
    }

    /// Registers an org-wide webhook on `messages` `created`, as the operator does
    /// with `POST /v1/webhooks` (`ownedBy=org`); deliveries go to `target_url`,
    /// signed with `secret`.
    pub fn register_webhook(&self, target_url: &str, secret: &str) {
        let mut state = self.shared.state();
        let id = webex_id("WEBHOOK", &format!("hook-{}", state.webhooks.len()));
        state.webhooks.push(Webhook {
            id,
            target_url: target_url.to_owned(),
            secret: secret.to_owned(),
        });
    }

    /// Posts a message with a file now and delivers the `messages` `created`
    /// notification to every registered webhook; the new file's id and each
    /// delivery's HTTP status.
    pub async fn post_file_message(&self) -> (String, Vec<u16>) {
        let (id, deliveries) = {
            let mut state = self.shared.state();
            let c = &self.shared.config;
            let time_ms = (state.compliance_events.last())
                .map_or(0, |e| e.time_ms + 1_000)
                .max(now_ms() - now_ms().rem_euclid(1000));
            let event = state.add_file_message(c, time_ms);
            let message = state.messages.last().cloned().expect("just added");
            let deliveries: Vec<(String, String, Vec<u8>)> = (state.webhooks.iter())
                .map(|hook| {
                    let body = json!({
                        "id": hook.id,
                        "name": "Sluice files",
                        "targetUrl": hook.target_url,
                        "resource": "messages",
                        "event": "created",
                        "orgId": c.org_id,
                        "createdBy": state.people.first().map(|p| p.id.clone()),
                        "appId": webex_id("APPLICATION", "mock"),
                        "ownedBy": "org",
                        "status": "active",
                        "created": iso(time_ms),
                        "actorId": event["actorId"],
                        // Webex sends the message's ids, not its text or files.
                        "data": {
                            "id": message.id,
                            "roomId": message.room,
                            "roomType": "group",
                            "personId": event["data"]["personId"],
                            "personEmail": event["data"]["personEmail"],
                            "created": iso(time_ms),
                        },
                    });
                    let body = serde_json::to_vec(&body).unwrap_or_default();
                    (
                        hook.target_url.clone(),
                        spark_signature(&hook.secret, &body),
                        body,
                    )
                })
                .collect();
            (format!("{}.{}", message.id, message.content_id), deliveries)
        };
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("a client");
        let mut statuses = Vec::new();
        for (url, signature, body) in deliveries {
            let status = client
                .post(url)
                .header("content-type", "application/json")
                .header("x-spark-signature", signature)
                .body(body)
                .send()
                .await
                .map_or(0, |r| r.status().as_u16());
            statuses.push(status);
        }
        (id, statuses)
    }

    /// Whether `email` is a member of the space of file `file_id`'s message.
    pub fn is_member_of_file_space(&self, file_id: &str, email: &str) -> bool {
        let state = self.shared.state();
        let Some(message) = (state.messages.iter()).find(|m| file_id.starts_with(&m.id)) else {
            return false;
        };
        (state.memberships.iter()).any(|m| m.room == message.room && m.email == email)
    }

    /// Ids of the people without a role who may sign in, in order.
    pub fn ordinary_people(&self) -> Vec<String> {
        let state = self.shared.state();
        (state.people.iter())
            .filter(|p| p.roles.is_empty() && p.login_enabled && !p.invite_pending)
            .map(|p| p.id.clone())
            .collect()
    }

    /// Replaces the pending faults (see [`Faults`]); throttling faults are 429 with
    /// `Retry-After: retry_after_secs`.
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
        requests.retain(|r| r.path() != "/v1/access_token");
        requests
    }

    pub fn clear_requests(&self) {
        self.server.log().clear();
    }

    /// Exact counts a complete scan must yield now.
    pub fn expected(&self) -> WebexExpected {
        let state = self.shared.state();
        if let Some(published) = &self.shared.fixtures {
            return WebexExpected {
                users: published.people.len(),
                admins: (published.people.iter())
                    .filter(|p| p["roles"].as_array().is_some_and(|r| !r.is_empty()))
                    .count(),
                groups: published.groups.len(),
                group_members: (published.groups.iter())
                    .map(|g| g["members"].as_array().map_or(0, Vec::len))
                    .sum(),
                ..WebexExpected::default()
            };
        }
        let count = |f: &dyn Fn(&Person) -> bool| state.people.iter().filter(|p| f(p)).count();
        let groups = self.shared.config.groups;
        WebexExpected {
            users: state.people.len(),
            admins: count(&|p| !p.roles.is_empty()),
            read_only_admins: count(&|p| p.roles.contains(&ROLES[1].0)),
            login_disabled: count(&|p| !p.login_enabled),
            invite_pending: count(&|p| p.invite_pending),
            groups,
            group_members: if groups == 0 { 0 } else { state.people.len() },
            admin_activity: state.admin_events.len(),
            logon: state.security_events.len(),
            user_activity: state.compliance_events.len(),
            files: state.messages.iter().filter(|m| !m.deleted).count(),
            files_shared_externally: (state.messages.iter())
                .filter(|m| !m.deleted && state.room_has_guests(&m.room, &self.shared.config))
                .count(),
        }
    }
}

/// Webex's `X-Spark-Signature`: hex HMAC-SHA1 of the body keyed with the webhook's
/// secret.
pub fn spark_signature(secret: &str, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn load_fixtures(dir: &FsPath) -> io::Result<Published> {
    let read = |name: &str, key: &str| -> io::Result<Vec<Value>> {
        let path = dir.join(format!("{name}.third-party-mirror-of-openapi.json"));
        let value: Value = serde_json::from_slice(&std::fs::read(&path)?).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        })?;
        Ok(value[key].as_array().cloned().unwrap_or_default())
    };
    Ok(Published {
        people: read("people-list", "items")?,
        roles: read("roles-list", "items")?,
        groups: read("groups-list", "groups")?,
    })
}

// ---- wire behaviour -------------------------------------------------------------

type Answer = Result<Response, Response>;

fn router(shared: Arc<Shared>) -> Router {
    let api = Router::new()
        .route("/v1/people/me", get(me))
        .route("/v1/people", get(list_people))
        .route("/v1/people/{id}", get(show_person).put(update_person))
        .route("/v1/roles", get(list_roles))
        .route("/v1/groups", get(list_groups))
        .route("/v1/adminAudit/events", get(admin_events))
        .route("/v1/admin/securityAudit/events", get(security_events))
        .route("/v1/events", get(compliance_events))
        .route("/v1/contents/{id}", get(content))
        .route(
            "/v1/messages/{id}",
            get(show_message).delete(delete_message),
        )
        .route("/v1/memberships", get(list_memberships))
        .route(
            "/v1/memberships/{id}",
            axum::routing::delete(delete_membership),
        )
        .fallback(|| async {
            error(
                StatusCode::NOT_FOUND,
                "The requested resource could not be found.",
            )
        })
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .layer(middleware::from_fn_with_state(shared.clone(), authenticate))
        .with_state(shared.clone());
    shared.oauth.router("/v1/access_token").merge(api)
}

/// Webex's error body.
fn error(status: StatusCode, message: &str) -> Response {
    let body = json!({
        "message": message,
        "errors": [{"description": message}],
        "trackingId": format!("ROUTER_MOCK_{}", now_ms()),
    });
    let mut response = (status, Json(body)).into_response();
    set(
        &mut response,
        "trackingid",
        format!("ROUTER_MOCK_{}", now_ms()),
    );
    response
}

fn bad_request(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, message)
}

/// The scope a request needs.
fn scope_of(method: &Method, path: &str) -> &'static str {
    match (method.as_str(), path) {
        ("PUT", _) => "spark-admin:people_write",
        ("DELETE", p) if p.starts_with("/v1/memberships/") => "spark-compliance:memberships_write",
        ("DELETE", _) => "spark-compliance:messages_write",
        (_, "/v1/memberships") => "spark-compliance:memberships_read",
        (_, p) if p.starts_with("/v1/messages/") => "spark-compliance:messages_read",
        (_, p) if p.starts_with("/v1/contents/") => "spark-compliance:messages_read",
        (_, "/v1/people/me") => "spark:people_read",
        (_, p) if p.starts_with("/v1/people") => "spark-admin:people_read",
        (_, "/v1/roles") => "spark-admin:roles_read",
        (_, "/v1/groups") => "identity:groups_read",
        (_, "/v1/events") => "spark-compliance:events_read",
        _ => "audit:events_read",
    }
}

/// A bearer token the endpoint issued, and the endpoint's scope; 401 or 403 with
/// Webex's bodies otherwise.
async fn authenticate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    if shared.oauth.validate(request.headers()).is_none() {
        return error(StatusCode::UNAUTHORIZED, UNAUTHORIZED);
    }
    let scope = scope_of(request.method(), request.uri().path());
    if !shared.config.scopes.iter().any(|s| s == scope) {
        return error(StatusCode::FORBIDDEN, REFUSED);
    }
    next.run(request).await
}

/// Injected faults, then the request budget.
async fn gate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let throttled = |retry_after: u64| {
        let mut response = error(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests have been sent in a given amount of time and the request has \
             been rate limited.",
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
            error(status, "Something went wrong on the server.")
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

fn set(response: &mut Response, name: &'static str, value: String) {
    if let Ok(value) = HeaderValue::from_str(&value) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(name), value);
    }
}

/// One `Link`-paged page of `items`: `max` (default 100, 1..=1000) and the mock's
/// `cursor` (an offset), `rel="next"` repeating the query.
fn linked_page(url: &RequestUrl, items: Vec<Value>) -> Answer {
    let max = match url.param("max").map(str::parse::<usize>) {
        None => 100,
        Some(Ok(n)) if (1..=1000).contains(&n) => n,
        _ => return Err(bad_request("max must be between 1 and 1000.")),
    };
    let offset = match url.param("cursor") {
        None => 0,
        Some(cursor) => base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(cursor)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|t| t.strip_prefix("offset:").and_then(|n| n.parse().ok()))
            .ok_or_else(|| bad_request("Invalid cursor."))?,
    };
    let total = items.len();
    let end = (offset + max).min(total);
    let page: Vec<Value> = items
        .get(offset.min(total)..end)
        .unwrap_or_default()
        .to_vec();
    let mut response = Json(json!({"items": page})).into_response();
    if end < total {
        let cursor =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("offset:{end}"));
        let next = url.with_params(&["cursor"], &[("cursor", &cursor)]);
        set(&mut response, "link", format!("<{next}>; rel=\"next\""));
    }
    Ok(response)
}

fn person_json(p: &Person, org_id: &str) -> Value {
    json!({
        "id": p.id,
        "emails": [p.email],
        "phoneNumbers": [],
        "displayName": format!("{} Mock", p.first_name),
        "nickName": p.first_name,
        "firstName": p.first_name,
        "lastName": "Mock",
        "orgId": org_id,
        "roles": p.roles,
        "licenses": [webex_id("LICENSE", "messaging")],
        "department": "Sales",
        "created": iso(p.created_ms),
        "lastModified": iso(p.created_ms),
        "timezone": "America/Denver",
        "lastActivity": iso(p.created_ms + 86_400_000),
        "status": if p.login_enabled { "active" } else { "inactive" },
        "invitePending": p.invite_pending,
        "loginEnabled": p.login_enabled,
        "type": "person",
    })
}

async fn me(State(shared): State<Arc<Shared>>) -> Answer {
    if let Some(published) = &shared.fixtures {
        return Ok(Json(published.people.first().cloned().unwrap_or_default()).into_response());
    }
    let state = shared.state();
    let person = state
        .people
        .first()
        .ok_or_else(|| bad_request("No people."))?;
    Ok(Json(person_json(person, &shared.config.org_id)).into_response())
}

async fn list_people(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Answer {
    if let Some(published) = &shared.fixtures {
        return linked_page(&url, published.people.clone());
    }
    let people = (shared.state().people.iter())
        .map(|p| person_json(p, &shared.config.org_id))
        .collect();
    linked_page(&url, people)
}

fn no_person() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "The requested resource could not be found.",
    )
}

async fn show_person(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Answer {
    let state = shared.state();
    let person = (state.people.iter().find(|p| p.id == id)).ok_or_else(no_person)?;
    Ok(Json(person_json(person, &shared.config.org_id)).into_response())
}

async fn update_person(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Answer {
    if body["displayName"].as_str().is_none() || body["emails"].as_array().is_none() {
        return Err(bad_request(
            "displayName and emails are required: include all details for the person.",
        ));
    }
    let enabled = match &body["loginEnabled"] {
        Value::Bool(b) => *b,
        Value::Null => true,
        _ => return Err(bad_request("loginEnabled must be a boolean.")),
    };
    let mut state = shared.state();
    let at = (state.people.iter().position(|p| p.id == id)).ok_or_else(no_person)?;
    if state.people[at].login_enabled != enabled {
        state.people[at].login_enabled = enabled;
        let time_ms = (state.admin_events.last())
            .map_or(0, |e| e.time_ms + 1_000)
            .max(now_ms() - now_ms().rem_euclid(1000));
        let mut event = state.event_body(&shared.config, 0, time_ms);
        let email = state.people[at].email.clone();
        event["data"]["targetName"] = json!(email);
        event["data"]["targetId"] = json!(id);
        event["data"]["eventDescription"] = json!("User updated");
        event["data"]["actionText"] = json!(format!(
            "Person0 Mock {} sign-in for {email}",
            if enabled { "enabled" } else { "disabled" }
        ));
        state.admin_events.push(Event {
            time_ms,
            body: event,
        });
    }
    let person = person_json(&state.people[at], &shared.config.org_id);
    Ok(Json(person).into_response())
}

async fn list_roles(State(shared): State<Arc<Shared>>) -> Answer {
    if let Some(published) = &shared.fixtures {
        return Ok(Json(json!({"items": published.roles})).into_response());
    }
    let roles: Vec<Value> = ROLES
        .iter()
        .map(|(id, name)| json!({"id": id, "name": name}))
        .collect();
    Ok(Json(json!({"items": roles})).into_response())
}

async fn list_groups(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Answer {
    let number = |name: &str, default: usize| match url.param(name) {
        None => Ok(default),
        Some(text) => text
            .parse::<usize>()
            .map_err(|_| bad_request(&format!("{name} must be a number."))),
    };
    let start = number("startIndex", 1)?.max(1);
    let count = number("count", 100)?;
    if !(1..=100).contains(&count) {
        return Err(bad_request("count must be between 1 and 100."));
    }
    let members = url.param("includeMembers") == Some("true");
    let groups: Vec<Value> = match &shared.fixtures {
        Some(published) => published.groups.clone(),
        None => {
            let state = shared.state();
            let n = shared.config.groups;
            (0..n)
                .map(|g| {
                    let list: Vec<Value> = (state.people.iter().enumerate())
                        .filter(|(i, _)| i % n == g)
                        .map(|(_, p)| {
                            json!({"id": p.id, "type": "user",
                            "displayName": format!("{} Mock", p.first_name)})
                        })
                        .collect();
                    json!({
                        "id": webex_id("SCIM_GROUP", &format!("group-{g}")),
                        "displayName": format!("Group {g}"),
                        "orgId": shared.config.org_id,
                        "created": iso(EPOCH_MS),
                        "lastModified": iso(EPOCH_MS),
                        "memberSize": list.len(),
                        "members": list,
                    })
                })
                .collect()
        }
    };
    let total = groups.len();
    let page: Vec<Value> = (groups.into_iter().skip(start - 1).take(count))
        .map(|mut g| {
            if !members && let Some(fields) = g.as_object_mut() {
                fields.remove("members");
            }
            g
        })
        .collect();
    Ok(Json(json!({
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": page.len(),
        "groups": page,
    }))
    .into_response())
}

/// The events of `trail` in `[from, to)` from the query parameters `from_name` and
/// `to_name` (both required when `required`), newest first.
fn window(
    url: &RequestUrl,
    events: &[Event],
    (from_name, to_name): (&str, &str),
    required: bool,
) -> Result<Vec<Value>, Response> {
    let bound = |name: &str, default: i64| match url.param(name) {
        None if required => Err(bad_request(&format!(
            "Required request parameter '{name}' is not present"
        ))),
        None => Ok(default),
        Some(text) => parse_time(text).ok_or_else(|| bad_request(&format!("Invalid {name}."))),
    };
    let (from, to) = (bound(from_name, i64::MIN)?, bound(to_name, i64::MAX)?);
    Ok((events.iter().rev())
        .filter(|e| (from..to).contains(&e.time_ms))
        .map(|e| e.body.clone())
        .collect())
}

/// The organization in `orgId`: required, and this one.
fn check_org(shared: &Shared, url: &RequestUrl) -> Result<(), Response> {
    match url.param("orgId") {
        None => Err(bad_request(
            "Required request parameter 'orgId' for method parameter type String is not present",
        )),
        Some(org) if org == shared.config.org_id => Ok(()),
        Some(_) => Err(error(StatusCode::FORBIDDEN, REFUSED)),
    }
}

async fn admin_events(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Answer {
    check_org(&shared, &url)?;
    let events = window(&url, &shared.state().admin_events, ("from", "to"), true)?;
    linked_page(&url, events)
}

async fn security_events(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Answer {
    check_org(&shared, &url)?;
    let events = window(
        &url,
        &shared.state().security_events,
        ("startTime", "endTime"),
        true,
    )?;
    linked_page(&url, events)
}

async fn compliance_events(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Answer {
    let mut events = window(
        &url,
        &shared.state().compliance_events,
        ("from", "to"),
        false,
    )?;
    for field in ["resource", "type"] {
        if let Some(wanted) = url.param(field) {
            events.retain(|e| e[field] == wanted);
        }
    }
    linked_page(&url, events)
}

/// File `i`'s content: `size` bytes of a repeated line naming it.
fn content_bytes(i: usize, size: usize) -> Vec<u8> {
    let line = format!("Webex mock file {i}: quarterly numbers, confidential.\n");
    line.bytes().cycle().take(size).collect()
}

/// `GET` (and `HEAD`, which axum answers from it without the body) of a file's
/// content: its name in `Content-Disposition`, `Content-Type`, `Content-Length`;
/// a `Range: bytes=a-b` is answered 206 with `Content-Range`. A deleted message's
/// file is 410 Gone.
async fn content(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: axum::http::HeaderMap,
) -> Answer {
    let state = shared.state();
    let at = (state.messages.iter().position(|m| m.content_id == id)).ok_or_else(no_person)?;
    if state.messages[at].deleted {
        return Err(error(
            StatusCode::GONE,
            "The requested resource is no longer available.",
        ));
    }
    let bytes = content_bytes(at, shared.config.file_size);
    let total = bytes.len();
    let range = (headers.get("range").and_then(|v| v.to_str().ok()))
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.split_once('-'))
        .and_then(|(a, b)| Some((a.parse::<usize>().ok()?, b.parse::<usize>().ok()?)));
    let (status, body, content_range) = match range {
        Some((start, _)) if start >= total => {
            let mut response = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            set(&mut response, "content-range", format!("bytes */{total}"));
            return Err(response);
        }
        Some((start, end)) => {
            let end = end.min(total - 1);
            (
                StatusCode::PARTIAL_CONTENT,
                bytes[start..=end].to_vec(),
                Some(format!("bytes {start}-{end}/{total}")),
            )
        }
        None => (StatusCode::OK, bytes, None),
    };
    let mut response = (status, body).into_response();
    let name = state.messages[at].name.clone();
    set(
        &mut response,
        "content-disposition",
        format!("attachment; filename=\"{name}\""),
    );
    set(&mut response, "content-type", "application/pdf".into());
    if let Some(range) = content_range {
        set(&mut response, "content-range", range);
    }
    Ok(response)
}

/// The compliance officer's `DELETE /v1/messages/{id}`: 204, logged as a
/// `messages.deleted` compliance event; 404 for an unknown or deleted message.
async fn delete_message(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Answer {
    let mut state = shared.state();
    let at =
        (state.messages.iter().position(|m| m.id == id && !m.deleted)).ok_or_else(no_person)?;
    let time_ms = (state.compliance_events.last())
        .map_or(0, |e| e.time_ms + 1_000)
        .max(now_ms() - now_ms().rem_euclid(1000));
    state.delete_message(&shared.config, at, time_ms);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /v1/messages/{id}`: the message (its space), for a compliance officer; 404
/// for an unknown or deleted one.
async fn show_message(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Answer {
    let state = shared.state();
    let message =
        (state.messages.iter().find(|m| m.id == id && !m.deleted)).ok_or_else(no_person)?;
    Ok(Json(json!({
        "id": message.id,
        "roomId": message.room,
        "roomType": "group",
        "text": format!("see {}", message.name),
        "files": [format!("https://webexapis.com/v1/contents/{}", message.content_id)],
    }))
    .into_response())
}

fn membership_json(m: &Membership) -> Value {
    json!({
        "id": m.id,
        "roomId": m.room,
        "personId": m.person_id,
        "personEmail": m.email,
        "personDisplayName": m.email,
        "personOrgId": m.org_id,
        "isModerator": m.moderator,
        "isMonitor": false,
        "isRoomHidden": false,
        "roomType": "group",
        "created": iso(EPOCH_MS),
    })
}

/// `GET /v1/memberships`: a compliance officer lists any space's members with
/// `roomId` (optionally one person by `personId` or `personEmail`), `Link`-paged.
/// Without `roomId` the list is the caller's own memberships: none here.
async fn list_memberships(State(shared): State<Arc<Shared>>, url: RequestUrl) -> Answer {
    let state = shared.state();
    let Some(room) = url.param("roomId") else {
        return linked_page(&url, Vec::new());
    };
    let items = (state.memberships.iter())
        .filter(|m| m.room == room)
        .filter(|m| url.param("personId").is_none_or(|p| p == m.person_id))
        .filter(|m| url.param("personEmail").is_none_or(|e| e == m.email))
        .map(membership_json)
        .collect();
    linked_page(&url, items)
}

/// `DELETE /v1/memberships/{id}`: 204; 404 for an unknown membership.
async fn delete_membership(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Answer {
    let mut state = shared.state();
    let at = (state.memberships.iter().position(|m| m.id == id)).ok_or_else(no_person)?;
    state.memberships.remove(at);
    Ok(StatusCode::NO_CONTENT.into_response())
}
