//! A loopback Microsoft 365 tenant: Microsoft Graph (with the Microsoft identity
//! platform's token endpoint) on one origin and the Office 365 Management Activity API
//! on another, so a connector must present the right resource's token to each.
//!
//! - Token: `POST /{tenant}/oauth2/v2.0/token` on the Graph origin ([`crate::oauth`]);
//!   Graph routes accept tokens issued for `{graph}/.default`, Management routes tokens
//!   for `{management}/.default`; anything else is 401 with Graph's error body.
//! - Graph paging: `$top` (default 100, at most 999; signIns and directoryAudits 1,000),
//!   `@odata.nextLink` = the request's URL with `$skiptoken=<offset>`.
//! - `$filter`: `createdDateTime ge T` (signIns), `activityDateTime ge T`
//!   (directoryAudits), `userType eq 'Guest'` (users); `$count=true` adds `@odata.count`.
//! - Management: `subscriptions/list`, `subscriptions/start`, `subscriptions/content`
//!   (needs a started subscription; windows over `contentCreated`, paged two blobs at a
//!   time with the `NextPageUri` header) and `/blobs/{contentType}/{n}`.
//! - Throttling: [`M365Mock::inject_faults`]; `secondary_limit` answers Graph's 429
//!   with `Retry-After`, `server_errors` a 5xx.
//! - Actions change state: `PATCH /users/{id}` (`accountEnabled`),
//!   `POST /users/{id}/revokeSignInSessions` (moves the user's
//!   `signInSessionsValidFromDateTime` to now), `DELETE /oauth2PermissionGrants/{id}`.
//!
//! Data is deterministic from [`M365MockConfig`]; [`M365Mock::expected`] says what a
//! complete scan finds. Activity times are relative to the mock's start (the last two
//! hours), since the Management API only serves the last seven days.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::faults::{Fault, FaultPlan, Faults, RateBudget};
use crate::oauth::{OAuthMock, OAuthMockConfig};
use crate::server::{MockServer, RequestRecord, RequestUrl};

/// The tenant's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct M365MockConfig {
    /// Tenant id in paths.
    pub tenant_id: String,
    /// Accepted client id.
    pub client_id: String,
    /// Accepted client secret.
    pub client_secret: String,
    /// Member users (the first `global_admins` are Global Administrators).
    pub users: usize,
    /// Guest users, after the members.
    pub guests: usize,
    /// Global Administrators among the users.
    pub global_admins: usize,
    /// Groups; group *g* holds `members_per_group` users starting at user *g*.
    pub groups: usize,
    /// Members per group.
    pub members_per_group: usize,
    /// Sign-in events at start.
    pub sign_ins: usize,
    /// Directory audit events at start.
    pub directory_audits: usize,
    /// Content blobs per content type.
    pub blobs_per_content_type: usize,
    /// Events per blob.
    pub events_per_blob: usize,
    /// Content types the API offers.
    pub content_types: Vec<String>,
    /// Delegated permission grants (clients cycle through three service principals).
    pub grants: usize,
    /// `identitySecurityDefaultsEnforcementPolicy.isEnabled`.
    pub security_defaults: bool,
}

impl Default for M365MockConfig {
    fn default() -> Self {
        M365MockConfig {
            tenant_id: "contoso".into(),
            client_id: "11111111-2222-3333-4444-555555555555".into(),
            client_secret: "mock-m365-secret".into(),
            users: 23,
            guests: 4,
            global_admins: 2,
            groups: 7,
            members_per_group: 3,
            sign_ins: 31,
            directory_audits: 12,
            blobs_per_content_type: 3,
            events_per_blob: 2,
            content_types: [
                "Audit.AzureActiveDirectory",
                "Audit.Exchange",
                "Audit.SharePoint",
                "Audit.General",
            ]
            .map(String::from)
            .to_vec(),
            grants: 5,
            security_defaults: false,
        }
    }
}

/// What a complete scan must yield now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct M365Expected {
    /// Users including guests.
    pub users: usize,
    /// Users holding a directory role.
    pub admins: usize,
    /// Guests.
    pub guests: usize,
    /// Users with `accountEnabled: false`.
    pub disabled: usize,
    /// Groups.
    pub groups: usize,
    /// Memberships summed over groups.
    pub group_memberships: usize,
    /// Sign-ins.
    pub sign_ins: usize,
    /// Directory audits.
    pub directory_audits: usize,
    /// Management Activity API events over all content types.
    pub office_events: usize,
    /// Permission grants not deleted.
    pub grants: usize,
    /// Posture findings (3) and how many fail.
    pub findings: usize,
    /// Failing findings.
    pub failed_findings: usize,
}

#[derive(Debug)]
struct State {
    disabled: BTreeSet<usize>,
    revoked_sessions: BTreeMap<String, usize>,
    /// `signInSessionsValidFromDateTime` per user index once sessions were revoked (ms).
    sessions_valid_from: BTreeMap<usize, i64>,
    deleted_grants: BTreeSet<usize>,
    sign_ins: usize,
    subscriptions: BTreeSet<String>,
}

#[derive(Debug)]
struct Shared {
    config: M365MockConfig,
    oauth: OAuthMock,
    graph_base: String,
    management_base: String,
    /// Time of activity event 0 (ms).
    start_ms: i64,
    state: Mutex<State>,
    faults: FaultPlan,
    budget: RateBudget,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running mock tenant; both servers stop when dropped.
#[derive(Debug)]
pub struct M365Mock {
    graph: MockServer,
    management: MockServer,
    shared: Arc<Shared>,
}

fn user_id(i: usize) -> String {
    format!("00000000-0000-0000-0000-{i:012}")
}

fn rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn parse_time(text: &str) -> Option<i64> {
    let text = text.trim().trim_matches('\'');
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
                .ok()
                .map(|t| t.and_utc().timestamp_millis())
        })
}

fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        [("content-type", "application/json")],
        json!({"error": {"code": code, "message": message}}).to_string(),
    )
        .into_response()
}

fn ok_json(body: Value) -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

impl M365Mock {
    /// Starts both origins on loopback.
    pub async fn start(config: M365MockConfig) -> std::io::Result<M365Mock> {
        let oauth = OAuthMock::new(OAuthMockConfig {
            client_id: config.client_id.clone(),
            client_secret: config.client_secret.clone(),
            ..OAuthMockConfig::default()
        });
        let now = Utc::now().timestamp_millis();
        let start_ms = now - now.rem_euclid(1000) - 2 * 3_600_000;
        let slot: Arc<Mutex<Option<Arc<Shared>>>> = Arc::default();
        let token_path = format!("/{}/oauth2/v2.0/token", config.tenant_id);
        let (graph_slot, token_oauth) = (slot.clone(), oauth.clone());
        let graph = MockServer::start(Duration::ZERO, move |_| {
            token_oauth.router(&token_path).fallback(
                move |method: Method,
                      uri: Uri,
                      url: RequestUrl,
                      headers: HeaderMap,
                      body: Bytes| {
                    let shared = graph_slot.lock().unwrap().clone();
                    async move {
                        graph_route(
                            &shared.expect("mock started"),
                            method,
                            uri.path(),
                            url,
                            headers,
                            body,
                        )
                    }
                },
            )
        })
        .await?;
        let management_slot = slot.clone();
        let management = MockServer::start(Duration::ZERO, move |_| {
            Router::new().fallback(
                move |method: Method, uri: Uri, url: RequestUrl, headers: HeaderMap| {
                    let shared = management_slot.lock().unwrap().clone();
                    async move {
                        management_route(
                            &shared.expect("mock started"),
                            method,
                            uri.path(),
                            url,
                            headers,
                        )
                    }
                },
            )
        })
        .await?;
        let shared = Arc::new(Shared {
            graph_base: graph.base_url(),
            management_base: management.base_url(),
            start_ms,
            state: Mutex::new(State {
                disabled: BTreeSet::new(),
                revoked_sessions: BTreeMap::new(),
                sessions_valid_from: BTreeMap::new(),
                deleted_grants: BTreeSet::new(),
                sign_ins: config.sign_ins,
                subscriptions: BTreeSet::new(),
            }),
            faults: FaultPlan::default(),
            budget: RateBudget::new(u32::MAX, Duration::from_secs(3600)),
            oauth,
            config,
        });
        *slot.lock().unwrap() = Some(shared.clone());
        Ok(M365Mock {
            graph,
            management,
            shared,
        })
    }

    /// `http://127.0.0.1:PORT` of Graph and the token endpoint (`graph_resource`, `login_url`).
    pub fn graph_url(&self) -> String {
        self.graph.base_url()
    }

    /// `http://127.0.0.1:PORT` of the Management Activity API (`management_resource`).
    pub fn management_url(&self) -> String {
        self.management.base_url()
    }

    /// The config the mock was started with.
    pub fn config(&self) -> &M365MockConfig {
        &self.shared.config
    }

    /// The token endpoint (issued tokens, requests).
    pub fn oauth(&self) -> &OAuthMock {
        &self.shared.oauth
    }

    /// Requests to Graph and the token endpoint, in order.
    pub fn graph_requests(&self) -> Vec<RequestRecord> {
        self.graph.log().snapshot()
    }

    /// Requests to the Management API, in order.
    pub fn management_requests(&self) -> Vec<RequestRecord> {
        self.management.log().snapshot()
    }

    /// Forgets the request logs.
    pub fn clear_requests(&self) {
        self.graph.log().clear();
        self.management.log().clear();
    }

    /// Replaces pending faults (Graph and Management alike).
    pub fn inject_faults(&self, faults: Faults) {
        self.shared.faults.inject(faults, &self.shared.budget);
    }

    /// Adds `n` sign-ins, ten seconds apart after the last.
    pub fn add_sign_ins(&self, n: usize) {
        self.shared.state().sign_ins += n;
    }

    /// The id of user *i* (0-based).
    pub fn user_id(&self, i: usize) -> String {
        user_id(i)
    }

    /// The id of grant *i*.
    pub fn grant_id(&self, i: usize) -> String {
        format!("grant-{i}")
    }

    /// Whether user `id` is enabled now.
    pub fn account_enabled(&self, id: &str) -> bool {
        (0..self.total_users())
            .find(|i| user_id(*i) == id)
            .is_some_and(|i| !self.shared.state().disabled.contains(&i))
    }

    /// How many times `id`'s sessions were revoked.
    pub fn revoked_sessions(&self, id: &str) -> usize {
        self.shared
            .state()
            .revoked_sessions
            .get(id)
            .copied()
            .unwrap_or(0)
    }

    fn total_users(&self) -> usize {
        self.shared.config.users + self.shared.config.guests
    }

    /// What a complete scan must find now.
    pub fn expected(&self) -> M365Expected {
        let c = &self.shared.config;
        let state = self.shared.state();
        let users = c.users + c.guests;
        let admins = c.global_admins.min(c.users);
        let failed = usize::from(!c.security_defaults)
            + usize::from(!(2..=4).contains(&admins))
            + usize::from(c.guests * 100 > users * 10);
        M365Expected {
            users,
            admins,
            guests: c.guests,
            disabled: state.disabled.len(),
            groups: c.groups,
            group_memberships: c.groups * c.members_per_group.min(users),
            sign_ins: state.sign_ins,
            directory_audits: c.directory_audits,
            office_events: c.content_types.len() * c.blobs_per_content_type * c.events_per_blob,
            grants: c.grants - state.deleted_grants.len(),
            findings: 3,
            failed_findings: failed,
        }
    }
}

/// The injected fault for this request, as Graph would answer it.
fn fault(shared: &Shared) -> Option<Response> {
    match shared.faults.take()? {
        Fault::SecondaryLimit { retry_after_secs, .. } => Some(
            (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", retry_after_secs.to_string()), ("content-type", "application/json".into())],
                json!({"error": {"code": "TooManyRequests", "message": "Please retry again later.",
                    "innerError": {"code": "429", "message": "Please retry after", "status": "429"}}})
                .to_string(),
            )
                .into_response(),
        ),
        Fault::ServerError { status } => Some(graph_error(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
            "ServiceUnavailable",
            "The service is temporarily unavailable.",
        )),
        _ => None,
    }
}

/// Whether the bearer token was issued for `resource`'s `.default` scope.
fn authorised(shared: &Shared, headers: &HeaderMap, resource: &str) -> bool {
    shared
        .oauth
        .validate(headers)
        .is_some_and(|t| t.has_scope(&format!("{resource}/.default")))
}

/// One page of `items` by `$top` / `$skiptoken`, with `@odata.nextLink`.
fn page(url: &RequestUrl, items: Vec<Value>, max_top: usize, count: bool) -> Response {
    let top = url
        .param("$top")
        .and_then(|t| t.parse().ok())
        .unwrap_or(100)
        .clamp(1, max_top);
    let skip: usize = url
        .param("$skiptoken")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let total = items.len();
    let value: Vec<Value> = items.into_iter().skip(skip).take(top).collect();
    let mut body =
        json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata", "value": value});
    if count && skip == 0 {
        body["@odata.count"] = json!(total);
    }
    if skip + top < total {
        let next = (skip + top).to_string();
        body["@odata.nextLink"] =
            json!(url.with_params(&["$skiptoken", "%24skiptoken"], &[("$skiptoken", &next)]));
    }
    ok_json(body)
}

/// `since` from a `$filter` of the form `<field> ge <time>`.
fn filter_since(url: &RequestUrl, field: &str) -> Option<i64> {
    let filter = url.param("$filter")?;
    let (_, t) = filter.split_once(&format!("{field} ge "))?;
    parse_time(t)
}

fn graph_route(
    shared: &Shared,
    method: Method,
    path: &str,
    url: RequestUrl,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !authorised(shared, &headers, &shared.graph_base) {
        return graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token validation failure.",
        );
    }
    if let Some(response) = fault(shared) {
        return response;
    }
    let c = &shared.config;
    let path = path.trim_start_matches("/v1.0").to_owned();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let total = c.users + c.guests;
    // `signInSessionsValidFromDateTime` is returned only when `$select`ed, as in Graph.
    let sessions_selected = url
        .param("$select")
        .is_some_and(|s| s.split(',').any(|f| f == "signInSessionsValidFromDateTime"));
    let user = |i: usize, state: &State| {
        let guest = i >= c.users;
        let created = shared.start_ms - 86_400_000;
        let mut user = json!({"id": user_id(i), "displayName": format!("User {i}"),
            "userPrincipalName": if guest { format!("guest{i}_fabrikam.test#EXT#@contoso.test") } else { format!("user{i}@contoso.test") },
            "mail": format!("user{i}@contoso.test"), "userType": if guest { "Guest" } else { "Member" },
            "accountEnabled": !state.disabled.contains(&i), "createdDateTime": rfc3339(created)});
        if sessions_selected {
            let valid_from = state
                .sessions_valid_from
                .get(&i)
                .copied()
                .unwrap_or(created);
            user["signInSessionsValidFromDateTime"] = json!(rfc3339(valid_from));
        }
        user
    };
    let index_of = |id: &str| (0..total).find(|i| user_id(*i) == id);
    let mut state = shared.state();
    match (method, segments.as_slice()) {
        (Method::GET, ["organization"]) => ok_json(json!({"value": [{"id": c.tenant_id, "displayName": "Contoso Mock"}]})),
        (Method::GET, ["users"]) => {
            let guests_only = url.param("$filter").is_some_and(|f| f.contains("userType eq 'Guest'"));
            let items = (0..total).filter(|i| !guests_only || *i >= c.users).map(|i| user(i, &state)).collect();
            page(&url, items, 999, url.param("$count") == Some("true"))
        }
        (Method::GET, ["users", id]) => match index_of(id) {
            Some(i) => ok_json(user(i, &state)),
            None => graph_error(StatusCode::NOT_FOUND, "Request_ResourceNotFound", "Resource does not exist."),
        },
        (Method::PATCH, ["users", id]) => match (index_of(id), serde_json::from_slice::<Value>(&body).ok()) {
            (Some(i), Some(patch)) => {
                match patch.get("accountEnabled").and_then(Value::as_bool) {
                    Some(false) => state.disabled.insert(i),
                    Some(true) => state.disabled.remove(&i),
                    None => false,
                };
                StatusCode::NO_CONTENT.into_response()
            }
            (None, _) => graph_error(StatusCode::NOT_FOUND, "Request_ResourceNotFound", "Resource does not exist."),
            _ => graph_error(StatusCode::BAD_REQUEST, "BadRequest", "Invalid request body."),
        },
        (Method::POST, ["users", id, "revokeSignInSessions"]) if index_of(id).is_some() => {
            *state.revoked_sessions.entry((*id).to_owned()).or_default() += 1;
            if let Some(i) = index_of(id) {
                state.sessions_valid_from.insert(i, Utc::now().timestamp_millis());
            }
            ok_json(json!({"value": true}))
        }
        (Method::GET, ["directoryRoles"]) => page(&url, vec![
            json!({"id": "role-ga", "displayName": "Global Administrator", "roleTemplateId": "62e90394-69f5-4237-9190-012177145e10"}),
            json!({"id": "role-ua", "displayName": "User Administrator"}),
        ], 999, false),
        (Method::GET, ["directoryRoles", "role-ga", "members"]) => {
            page(&url, (0..c.global_admins.min(c.users)).map(|i| json!({"id": user_id(i)})).collect(), 999, false)
        }
        (Method::GET, ["directoryRoles", "role-ua", "members"]) => page(&url, vec![], 999, false),
        (Method::GET, ["groups"]) => page(&url, (0..c.groups).map(|g| json!({"id": format!("group-{g}"), "displayName": format!("Group {g}"), "description": null, "securityEnabled": true})).collect(), 999, false),
        (Method::GET, ["groups", id, "members"]) => match id.strip_prefix("group-").and_then(|g| g.parse::<usize>().ok()).filter(|g| *g < c.groups) {
            Some(g) => page(&url, (0..c.members_per_group.min(total)).map(|k| json!({"@odata.type": "#microsoft.graph.user", "id": user_id((g + k) % total)})).collect(), 999, false),
            None => graph_error(StatusCode::NOT_FOUND, "Request_ResourceNotFound", "Resource does not exist."),
        },
        (Method::GET, ["auditLogs", "signIns"]) => {
            let since = filter_since(&url, "createdDateTime").unwrap_or(i64::MIN);
            // Newest first, as Graph orders sign-ins.
            let items = (0..state.sign_ins).rev().map(|i| (i, shared.start_ms + i as i64 * 10_000)).filter(|(_, t)| *t >= since)
                .map(|(i, t)| json!({"id": format!("signin-{i}"), "createdDateTime": rfc3339(t), "userPrincipalName": format!("user{}@contoso.test", i % total.max(1)),
                    "appDisplayName": "Office 365", "ipAddress": "203.0.113.7", "isInteractive": true, "status": {"errorCode": if i % 5 == 0 { 50126 } else { 0 }}}))
                .collect();
            page(&url, items, 1000, false)
        }
        (Method::GET, ["auditLogs", "directoryAudits"]) => {
            let since = filter_since(&url, "activityDateTime").unwrap_or(i64::MIN);
            let items = (0..c.directory_audits).rev().map(|i| (i, shared.start_ms + i as i64 * 60_000)).filter(|(_, t)| *t >= since)
                .map(|(i, t)| json!({"id": format!("audit-{i}"), "activityDateTime": rfc3339(t), "activityDisplayName": "Update user", "category": "UserManagement", "result": "success",
                    "initiatedBy": {"user": {"id": user_id(0), "userPrincipalName": "user0@contoso.test", "ipAddress": "198.51.100.1"}},
                    "targetResources": [{"id": user_id(i % total.max(1)), "type": "User", "userPrincipalName": format!("user{}@contoso.test", i % total.max(1))}]}))
                .collect();
            page(&url, items, 1000, false)
        }
        (Method::GET, ["oauth2PermissionGrants"]) => page(&url, (0..c.grants).filter(|g| !state.deleted_grants.contains(g))
            .map(|g| json!({"id": format!("grant-{g}"), "clientId": format!("sp-{}", g % 3), "consentType": if g % 2 == 0 { "AllPrincipals" } else { "Principal" },
                "principalId": if g % 2 == 0 { Value::Null } else { json!(user_id(g % total.max(1))) }, "resourceId": "sp-graph", "scope": "User.Read Mail.Read"}))
            .collect(), 999, false),
        (Method::DELETE, ["oauth2PermissionGrants", id]) => match id.strip_prefix("grant-").and_then(|g| g.parse::<usize>().ok()).filter(|g| *g < c.grants && !state.deleted_grants.contains(g)) {
            Some(g) => {
                state.deleted_grants.insert(g);
                StatusCode::NO_CONTENT.into_response()
            }
            None => graph_error(StatusCode::NOT_FOUND, "Request_ResourceNotFound", "Resource does not exist."),
        },
        (Method::GET, ["servicePrincipals", id]) if id.starts_with("sp-") => {
            ok_json(json!({"id": id, "appId": format!("app-{id}"), "displayName": format!("App {id}")}))
        }
        (Method::GET, ["policies", "identitySecurityDefaultsEnforcementPolicy"]) => {
            ok_json(json!({"id": "00000000-0000-0000-0000-000000000005", "displayName": "Security Defaults", "isEnabled": c.security_defaults}))
        }
        _ => graph_error(StatusCode::NOT_FOUND, "Request_ResourceNotFound", "Resource not found for the segment."),
    }
}

/// Blobs per listing page.
const BLOBS_PER_PAGE: usize = 2;

fn management_route(
    shared: &Shared,
    method: Method,
    path: &str,
    url: RequestUrl,
    headers: HeaderMap,
) -> Response {
    let error = |status: StatusCode, code: &str, message: &str| {
        (
            status,
            [("content-type", "application/json")],
            json!({"error": {"code": code, "message": message}}).to_string(),
        )
            .into_response()
    };
    if !authorised(shared, &headers, &shared.management_base) {
        return error(
            StatusCode::UNAUTHORIZED,
            "AF10001",
            "Authorization has been denied for this request.",
        );
    }
    if let Some(response) = fault(shared) {
        return response;
    }
    let c = &shared.config;
    let prefix = format!("/api/v1.0/{}/activity/feed", c.tenant_id);
    let path = path.to_owned();
    let known = |ct: &str| c.content_types.iter().any(|t| t == ct);
    let blob_time = |n: usize| shared.start_ms + n as i64 * 600_000;
    let mut state = shared.state();
    if let Some(rest) = path.strip_prefix("/blobs/") {
        let Some((ct, n)) = rest
            .split_once('/')
            .and_then(|(ct, n)| Some((ct.to_owned(), n.parse::<usize>().ok()?)))
        else {
            return error(StatusCode::NOT_FOUND, "AF20051", "Content not found.");
        };
        let events: Vec<Value> = (0..c.events_per_blob)
            .map(|e| json!({"Id": format!("{ct}-{n}-{e}"), "CreationTime": rfc3339(blob_time(n) + e as i64 * 1000).trim_end_matches('Z'),
                "Operation": if ct == "Audit.AzureActiveDirectory" { "UserLoggedIn" } else { "FileAccessed" },
                "RecordType": if ct == "Audit.AzureActiveDirectory" { 15 } else { 6 }, "UserId": "user1@contoso.test",
                "ClientIP": "203.0.113.9", "ResultStatus": "Succeeded", "Workload": ct.trim_start_matches("Audit."), "ObjectId": format!("https://contoso.sharepoint.test/doc-{n}")}))
            .collect();
        return ok_json(Value::Array(events));
    }
    match (method, path.strip_prefix(&prefix).unwrap_or_default()) {
        (Method::GET, "/subscriptions/list") => ok_json(Value::Array(
            state
                .subscriptions
                .iter()
                .map(|ct| json!({"contentType": ct, "status": "enabled", "webhook": null}))
                .collect(),
        )),
        (Method::POST, "/subscriptions/start") => match url.param("contentType") {
            Some(ct) if known(ct) => {
                state.subscriptions.insert(ct.to_owned());
                ok_json(json!({"contentType": ct, "status": "enabled", "webhook": null}))
            }
            _ => error(
                StatusCode::BAD_REQUEST,
                "AF20023",
                "The subscription was disabled by the tenant administrator.",
            ),
        },
        (Method::GET, "/subscriptions/content") => {
            let Some(ct) = url
                .param("contentType")
                .filter(|ct| state.subscriptions.contains(*ct))
            else {
                return error(
                    StatusCode::BAD_REQUEST,
                    "AF20022",
                    "No subscription found for the specified content type",
                );
            };
            let (start, end) = match (
                url.param("startTime").and_then(parse_time),
                url.param("endTime").and_then(parse_time),
            ) {
                (Some(s), Some(e)) if e > s && e - s <= 86_400_000 => (s, e),
                (None, None) => (
                    Utc::now().timestamp_millis() - 86_400_000,
                    Utc::now().timestamp_millis(),
                ),
                _ => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "AF20055",
                        "Start time and end time must both be specified (or both omitted) and must be less than or equal to 24 hours apart.",
                    );
                }
            };
            let offset: usize = url
                .param("nextPage")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            let all: Vec<usize> = (0..c.blobs_per_content_type)
                .filter(|n| (start..end).contains(&blob_time(*n)))
                .collect();
            let blobs: Vec<Value> = all.iter().skip(offset).take(BLOBS_PER_PAGE)
                .map(|n| json!({"contentType": ct, "contentId": format!("{ct}-{n}"), "contentUri": format!("{}/blobs/{ct}/{n}", url.base()), "contentCreated": rfc3339(blob_time(*n))}))
                .collect();
            let mut response = ok_json(Value::Array(blobs));
            if offset + BLOBS_PER_PAGE < all.len() {
                let next = url.with_params(
                    &["nextPage"],
                    &[("nextPage", &(offset + BLOBS_PER_PAGE).to_string())],
                );
                response
                    .headers_mut()
                    .insert("nextpageuri", next.parse().expect("URL is a header value"));
            }
            response
        }
        _ => error(StatusCode::NOT_FOUND, "AF20051", "Not found."),
    }
}
