//! A loopback Salesforce org: the REST API's SOQL query resource, the Tooling API's,
//! a few sObject writes, Event Monitoring log files, and the OAuth 2.0 token endpoint
//! for the JWT bearer flow.
//!
//! As Salesforce documents:
//! - `POST /services/oauth2/token` with `grant_type=urn:ietf:params:oauth:grant-type:
//!   jwt-bearer`: an RS256 assertion with `iss` the connected app's consumer key, `sub`
//!   the username, `aud` the login URL (here the mock's own base URL), checked against
//!   the test key pair of [`crate::oauth`]; a bad one is 400 `invalid_grant`;
//! - API requests carry `Authorization: Bearer <token>` (a token from that endpoint,
//!   or the configured session id); anything else is 401
//!   `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`;
//! - `GET /services/data/v{version}/query?q=<SOQL>` (and `…/tooling/query`) answers
//!   `{"totalSize","done","nextRecordsUrl"?,"records"}`; the query really runs (see
//!   `soql`): `WHERE`, `ORDER BY` and `LIMIT` are honoured and unknown fields are
//!   `INVALID_FIELD`. Batches are `Sforce-Query-Options: batchSize=N` records (200 to
//!   2,000, default 2,000); `nextRecordsUrl` is
//!   `/services/data/v{version}/query/{locator}-{offset}` over a snapshot taken when
//!   the query ran;
//! - every answer carries `Sforce-Limit-Info: api-usage=USED/LIMIT` (the org's 24-hour
//!   allocation); once spent, 403 `REQUEST_LIMIT_EXCEEDED` "TotalRequests Limit
//!   exceeded.";
//! - errors are arrays of `{"message","errorCode"}`.
//!
//! | route | |
//! |---|---|
//! | `GET /services/data/{v}/query`, `…/query/{locator}-{offset}` | SOQL |
//! | `GET /services/data/{v}/tooling/query`, `…/tooling/query/{locator}-{offset}` | Tooling SOQL (Health Check) |
//! | `PATCH /services/data/{v}/sobjects/UserLogin/{id}` | `IsFrozen` |
//! | `PATCH /services/data/{v}/sobjects/User/{id}` | `IsActive` |
//! | `DELETE /services/data/{v}/sobjects/OauthToken/{id}` | revoke |
//! | `GET /services/data/{v}/sobjects/EventLogFile/{id}/LogFile` | the CSV |
//! | `GET /services/data/{v}/sobjects/ContentVersion/{id}/VersionData` | a file's content (`Range` honoured unless [`SalesforceMockConfig::version_ranges`] is off) |
//! | `DELETE /services/data/{v}/sobjects/ContentDocument/{id}` | to the Recycle Bin (`ENTITY_IS_DELETED` after) |
//! | `DELETE /services/data/{v}/sobjects/ContentDistribution/{id}` | a public link |
//!
//! Objects: `User`, `UserLogin`, `PermissionSetAssignment` (with the assigned
//! `PermissionSet`), `Group`, `GroupMember`, `LoginHistory`, `SetupAuditTrail`,
//! `EventLogFile`, `OauthToken`, `UserPermissionAccess`; Tooling `SecurityHealthCheck`,
//! `SecurityHealthCheckRisks`; Salesforce Files: `ContentDocument`, `ContentVersion`
//! (`Checksum` the MD5 of the content), `ContentDocumentLink`, `ContentDistribution`.
//! Without "Query All Files" a `ContentVersion` query answers only the integration
//! user's files and a `ContentDocumentLink` query needs a `ContentDocumentId`,
//! `LinkedEntityId` or `Id` filter, as Salesforce documents. User 0 is the integration user. With
//! [`SalesforceMockConfig::fixtures_dir`] the User, PermissionSetAssignment,
//! LoginHistory and SetupAuditTrail records are Salesforce's published examples
//! (`shared/fixtures/salesforce/query-*.json`) instead.
//!
//! Assumed where Salesforce publishes no example: a throttling 429 with `Retry-After`
//! (injected faults only: Salesforce's documented refusal is the 403 above), the
//! Setup Audit Trail `Action` of a freeze (`frozeuser`, `unfrozeuser`) and of a
//! deactivation (`deactivateduser`, `activateduser`), Event Monitoring CSV rows, and
//! `Range` answers (206 with `Content-Range`) of `VersionData`, which Salesforce's
//! blob resource does not document.

// Handlers answer `Result<Response, Response>` (Salesforce's error body is a response too).
#![allow(clippy::result_large_err)]

mod soql;

use std::collections::HashMap;
use std::io;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::header::{AUTHORIZATION, HeaderName, HeaderValue};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch};
use chrono::{DateTime, Utc};
use md5::{Digest, Md5};
use serde_json::{Value, json};

use crate::faults::{self, FaultPlan, Faults, RateBudget};
use crate::oauth::{JwtAcceptance, OAuthMock, OAuthMockConfig};
use crate::server::{MockServer, RequestRecord, RequestUrl};

/// Every system permission the mock's `UserPermissionAccess` knows.
pub const SALESFORCE_PERMISSIONS: [&str; 8] = [
    "PermissionsApiEnabled",
    "PermissionsViewSetup",
    "PermissionsManageUsers",
    "PermissionsViewEventLogFiles",
    "PermissionsFreezeUsers",
    "PermissionsModifyAllData",
    "PermissionsViewAllData",
    "PermissionsQueryAllFiles",
];

/// The mock org.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalesforceMockConfig {
    /// The connected app's consumer key (the JWT's `iss`).
    pub consumer_key: String,
    /// The integration user's username (the JWT's `sub`), user 0.
    pub username: String,
    /// A session id accepted as a bearer token (the `access-token` option).
    pub access_token: String,
    /// Users; user 0 is the integration user (System Administrator).
    pub users: usize,
    /// Users 1..=admins have the System Administrator profile.
    pub admins: usize,
    /// The next users are frozen (`UserLogin.IsFrozen`).
    pub frozen_users: usize,
    /// The next users hold the "Modify All Data (temporary)" permission set.
    pub permset_admins: usize,
    /// The last users are portal users (`UserType = PowerPartner`).
    pub external_users: usize,
    /// The users before those are deactivated (`IsActive = false`).
    pub inactive_users: usize,
    /// Public groups, members drawn in turn from the users (the second group also
    /// holds the first as a nested group); and role groups, which are not listed.
    pub groups: usize,
    pub members_per_group: usize,
    pub role_groups: usize,
    /// `LoginHistory` and `SetupAuditTrail` records at start, one a second each.
    pub login_history: usize,
    pub setup_audit: usize,
    /// The org has Event Monitoring; else `EventLogFile` is `INVALID_TYPE`.
    pub event_monitoring: bool,
    /// Daily log files and CSV rows in each.
    pub event_log_files: usize,
    pub rows_per_log_file: usize,
    /// OAuth tokens of connected apps.
    pub oauth_tokens: usize,
    /// The integration user's system permissions (`UserPermissionAccess`).
    pub permissions: Vec<String>,
    /// Salesforce Files (`ContentDocument`s, one version each at start), owners drawn
    /// in turn from the users; file `f` holds `file_size + f` bytes, file 0
    /// `large_file` bytes when that is not 0.
    pub files: usize,
    pub file_size: usize,
    pub large_file: usize,
    /// The first files have a public link (`ContentDistribution`).
    pub public_links: usize,
    /// `VersionData` answers a `Range` with 206; off, with the whole content (200).
    pub version_ranges: bool,
    /// Requests per 24 hours (`Sforce-Limit-Info`).
    pub daily_limit: u32,
    /// Serve Salesforce's example records from this folder (`shared/fixtures/salesforce`).
    pub fixtures_dir: Option<PathBuf>,
}

impl Default for SalesforceMockConfig {
    fn default() -> Self {
        SalesforceMockConfig {
            consumer_key: "3MVG9mock.consumer.key".into(),
            username: "integration@acme.example".into(),
            access_token: "00Dmock!session.id".into(),
            users: 12,
            admins: 1,
            frozen_users: 1,
            permset_admins: 1,
            external_users: 1,
            inactive_users: 1,
            groups: 2,
            members_per_group: 3,
            role_groups: 1,
            login_history: 5,
            setup_audit: 4,
            event_monitoring: true,
            event_log_files: 2,
            rows_per_log_file: 3,
            oauth_tokens: 3,
            files: 6,
            file_size: 1_500,
            large_file: 0,
            public_links: 2,
            version_ranges: true,
            permissions: SALESFORCE_PERMISSIONS.map(str::to_owned).to_vec(),
            daily_limit: 100_000,
            fixtures_dir: None,
        }
    }
}

/// What a complete scan of the mock must yield right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SalesforceExpected {
    pub users: usize,
    pub admins: usize,
    pub suspended: usize,
    pub disabled: usize,
    pub external: usize,
    pub groups: usize,
    pub group_memberships: usize,
    pub activities: usize,
    pub logon: usize,
    pub admin_activity: usize,
    pub user_activity: usize,
    pub app_permissions: usize,
    pub findings: usize,
    pub failing_findings: usize,
    /// Files in the listing (Recycle Bin aside), those with a live public link, and
    /// those shared with an external user or publicly.
    pub files: usize,
    pub public_files: usize,
    pub externally_shared_files: usize,
}

/// A running Salesforce mock.
#[derive(Debug)]
pub struct SalesforceMock {
    server: MockServer,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: SalesforceMockConfig,
    oauth: OnceLock<OAuthMock>,
    org: Mutex<Org>,
    budget: RateBudget,
    faults: FaultPlan,
    /// Query snapshots by locator: (records, batch size, tooling).
    locators: Mutex<HashMap<String, Vec<Value>>>,
}

impl Shared {
    fn org(&self) -> MutexGuard<'_, Org> {
        self.org.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Records by object name.
#[derive(Debug, Default)]
struct Org {
    objects: HashMap<&'static str, Vec<Value>>,
    /// CSV content by EventLogFile id.
    log_files: HashMap<String, String>,
    /// Content by ContentVersion id.
    contents: HashMap<String, Vec<u8>>,
    /// Deleted ContentDocument ids (the Recycle Bin).
    recycled: Vec<String>,
    /// Numbers the next file and version.
    next_file: usize,
    next_version: usize,
    /// Numbers the next generated LoginHistory and SetupAuditTrail records.
    next_login: usize,
    next_setup: usize,
}

/// Top-level fields (relationships included) of each object, for `INVALID_FIELD`.
const SCHEMA: &[(&str, &[&str])] = &[
    (
        "User",
        &[
            "Id",
            "Username",
            "Name",
            "Email",
            "IsActive",
            "UserType",
            "ProfileId",
            "Profile",
            "UserRoleId",
            "UserRole",
            "LastLoginDate",
            "CreatedDate",
        ],
    ),
    (
        "UserLogin",
        &["Id", "UserId", "IsFrozen", "IsPasswordLocked"],
    ),
    (
        "PermissionSetAssignment",
        &[
            "Id",
            "AssigneeId",
            "PermissionSetId",
            "PermissionSetGroupId",
            "PermissionSet",
            "IsActive",
            "ExpirationDate",
            "SystemModstamp",
        ],
    ),
    (
        "Group",
        &[
            "Id",
            "Name",
            "DeveloperName",
            "Type",
            "Email",
            "DoesIncludeBosses",
            "CreatedDate",
        ],
    ),
    ("GroupMember", &["Id", "GroupId", "UserOrGroupId"]),
    (
        "LoginHistory",
        &[
            "Id",
            "UserId",
            "LoginTime",
            "LoginType",
            "LoginUrl",
            "SourceIp",
            "Status",
            "Browser",
            "Platform",
            "Application",
            "ApiType",
            "ApiVersion",
            "ClientVersion",
            "CountryIso",
            "LoginGeoId",
            "LoginGeo",
            "AuthenticationServiceId",
            "CipherSuite",
            "TlsProtocol",
        ],
    ),
    (
        "SetupAuditTrail",
        &[
            "Id",
            "Action",
            "Section",
            "CreatedDate",
            "CreatedById",
            "CreatedBy",
            "Display",
            "DelegateUser",
            "ResponsibleNamespacePrefix",
            "CreatedByContext",
            "CreatedByIssuer",
        ],
    ),
    (
        "EventLogFile",
        &[
            "Id",
            "EventType",
            "LogFile",
            "LogDate",
            "LogFileLength",
            "CreatedDate",
            "Interval",
            "Sequence",
        ],
    ),
    (
        "OauthToken",
        &[
            "Id",
            "AppName",
            "AppMenuItemId",
            "UserId",
            "CreatedDate",
            "LastUsedDate",
            "UseCount",
        ],
    ),
    ("UserPermissionAccess", &SALESFORCE_PERMISSIONS),
    (
        "ContentVersion",
        &[
            "Id",
            "ContentDocumentId",
            "Title",
            "PathOnClient",
            "FileExtension",
            "FileType",
            "ContentSize",
            "Checksum",
            "OwnerId",
            "VersionNumber",
            "IsLatest",
            "CreatedDate",
            "LastModifiedDate",
            "SystemModstamp",
        ],
    ),
    (
        "ContentDocument",
        &[
            "Id",
            "Title",
            "FileExtension",
            "FileType",
            "ContentSize",
            "OwnerId",
            "LatestPublishedVersionId",
            "CreatedDate",
            "LastModifiedDate",
            "SystemModstamp",
        ],
    ),
    (
        "ContentDocumentLink",
        &[
            "Id",
            "ContentDocumentId",
            "LinkedEntityId",
            "ShareType",
            "Visibility",
            "SystemModstamp",
        ],
    ),
    (
        "ContentDistribution",
        &[
            "Id",
            "ContentDocumentId",
            "ContentVersionId",
            "Name",
            "DistributionPublicUrl",
            "PreferencesAllowViewInBrowser",
            "PreferencesAllowOriginalDownload",
            "PreferencesExpires",
            "ExpiryDate",
            "CreatedDate",
        ],
    ),
    (
        "SecurityHealthCheck",
        &[
            "Id",
            "DurableId",
            "Score",
            "CustomBaselineId",
            "CreatedDate",
        ],
    ),
    (
        "SecurityHealthCheckRisks",
        &[
            "DurableId",
            "Setting",
            "SettingGroup",
            "SettingRiskCategory",
            "RiskType",
            "OrgValue",
            "OrgValueRaw",
            "StandardValue",
            "StandardValueRaw",
            "SecurityHealthCheckId",
        ],
    ),
];

/// The Tooling API's objects; the others are the REST API's.
const TOOLING: [&str; 2] = ["SecurityHealthCheck", "SecurityHealthCheckRisks"];

/// (Setting, group, category, org value, standard value, meets the standard).
const HEALTH_CHECK: &[(&str, &str, &str, &str, &str, bool)] = &[
    (
        "Minimum password length",
        "Password Policies",
        "HIGH_RISK",
        "8 characters",
        "8 characters",
        true,
    ),
    (
        "User passwords expire in",
        "Password Policies",
        "MEDIUM_RISK",
        "Never expires",
        "90 days",
        false,
    ),
    (
        "Maximum invalid login attempts",
        "Password Policies",
        "HIGH_RISK",
        "No limit",
        "5",
        false,
    ),
    (
        "Timeout value",
        "Session Settings",
        "MEDIUM_RISK",
        "2 hours",
        "2 hours",
        true,
    ),
    (
        "Enable clickjack protection for customer Visualforce pages",
        "Session Settings",
        "LOW_RISK",
        "Enabled",
        "Enabled",
        true,
    ),
    (
        "Require HttpOnly attribute",
        "Session Settings",
        "INFORMATIONAL",
        "Disabled",
        "Enabled",
        false,
    ),
];

/// The Health Check score the mock reports.
const HEALTH_SCORE: &str = "62";

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Salesforce's datetime: `2024-07-01T08:12:44.000+0000`.
fn sf_time(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.3f+0000")
        .to_string()
}

/// An 18-character id: a key prefix, then `n`.
fn sf_id(prefix: &str, n: usize) -> String {
    format!("{prefix}{n:012}AAA")
}

fn attributes(object: &str, id: &str) -> Value {
    json!({"type": object, "url": format!("/services/data/v62.0/sobjects/{object}/{id}")})
}

/// A permission set's name, label, whether a profile owns it, Modify All Data, Manage Users.
type PermSet = (usize, &'static str, &'static str, bool, bool, bool);
const SYSADMIN_SET: PermSet = (1, "X00e000000000001", "00e000000000001", true, true, true);
const STANDARD_SET: PermSet = (2, "X00e000000000002", "00e000000000002", true, false, false);
const PARTNER_SET: PermSet = (3, "X00e000000000003", "00e000000000003", true, false, false);
const MAD_SET: PermSet = (
    4,
    "Modify_All_Data_Temp",
    "Modify All Data (temporary)",
    false,
    true,
    false,
);
const SALES_OPS_SET: PermSet = (5, "Sales_Ops", "Sales Operations", false, false, false);

impl Org {
    fn generate(c: &SalesforceMockConfig, start: i64) -> Org {
        let mut org = Org::default();
        let external_from = c.users.saturating_sub(c.external_users);
        let inactive_from = external_from.saturating_sub(c.inactive_users);
        let frozen = (c.admins + 1)..(c.admins + 1 + c.frozen_users);
        let mad = frozen.end..(frozen.end + c.permset_admins);
        let mut users = Vec::new();
        let mut logins = Vec::new();
        let mut assignments = Vec::new();
        let mut assign = |user: &str, set: PermSet, n: usize| {
            let (n_set, name, label, profile, mad, manage) = set;
            let set_id = sf_id("0PS", n_set);
            assignments.push(json!({
                "attributes": attributes("PermissionSetAssignment", &sf_id("0Pa", n)),
                "Id": sf_id("0Pa", n), "AssigneeId": user, "PermissionSetId": set_id,
                "PermissionSetGroupId": null, "IsActive": true, "ExpirationDate": null,
                "SystemModstamp": sf_time(start),
                "PermissionSet": {
                    "attributes": attributes("PermissionSet", &set_id),
                    "Name": name, "Label": label, "IsOwnedByProfile": profile,
                    "ProfileId": if profile { json!(format!("00e{}", &name[4..])) } else { Value::Null },
                    "PermissionsModifyAllData": mad, "PermissionsManageUsers": manage,
                },
            }));
        };
        let mut n_assign = 0;
        for i in 0..c.users {
            let id = sf_id("005", i);
            let external = i >= external_from;
            let admin = i <= c.admins;
            let (profile, set) = if admin {
                ("System Administrator", SYSADMIN_SET)
            } else if external {
                ("Partner Community User", PARTNER_SET)
            } else {
                ("Standard User", STANDARD_SET)
            };
            let username = if i == 0 {
                c.username.clone()
            } else {
                format!("user{i}@acme.example")
            };
            users.push(json!({
                "attributes": attributes("User", &id),
                "Id": id, "Username": username, "Name": if i == 0 { "Integration User".to_owned() } else { format!("User {i}") },
                "Email": if i == 0 { c.username.clone() } else { format!("user{i}@acme.example") },
                "IsActive": !(inactive_from..external_from).contains(&i),
                "UserType": if external { "PowerPartner" } else { "Standard" },
                "ProfileId": format!("00e{}", &set.1[4..]),
                "Profile": {"attributes": attributes("Profile", &format!("00e{}", &set.1[4..])), "Name": profile},
                "UserRoleId": null, "UserRole": null,
                "LastLoginDate": i.is_multiple_of(2).then(|| sf_time(start - 86_400_000)),
                "CreatedDate": sf_time(start - (c.users - i) as i64 * 86_400_000),
            }));
            logins.push(json!({
                "attributes": attributes("UserLogin", &sf_id("060", i)),
                "Id": sf_id("060", i), "UserId": id, "IsFrozen": frozen.contains(&i), "IsPasswordLocked": false,
            }));
            assign(&id, set, n_assign);
            n_assign += 1;
            if mad.contains(&i) {
                assign(&id, MAD_SET, n_assign);
                n_assign += 1;
            }
            if !admin && !external && i.is_multiple_of(3) {
                assign(&id, SALES_OPS_SET, n_assign);
                n_assign += 1;
            }
        }
        let mut groups = Vec::new();
        let mut members = Vec::new();
        // Role groups interleave with public ones, so an id range holds both.
        let mut kinds = Vec::new();
        let (mut regular, mut roles) = (c.groups, c.role_groups);
        while regular + roles > 0 {
            if regular > 0 {
                kinds.push(true);
                regular -= 1;
            }
            if roles > 0 {
                kinds.push(false);
                roles -= 1;
            }
        }
        for (g, regular) in kinds.into_iter().enumerate() {
            let id = sf_id("00G", g);
            groups.push(json!({
                "attributes": attributes("Group", &id),
                "Id": id, "Name": format!("Group {g}"), "DeveloperName": format!("Group_{g}"),
                "Type": if regular { "Regular" } else { "Role" }, "Email": null,
                "DoesIncludeBosses": true, "CreatedDate": sf_time(start),
            }));
            for m in 0..c.members_per_group.min(c.users) {
                let n = members.len();
                members.push(json!({
                    "attributes": attributes("GroupMember", &sf_id("011", n)),
                    "Id": sf_id("011", n), "GroupId": id,
                    "UserOrGroupId": sf_id("005", (g * c.members_per_group + m) % c.users),
                }));
            }
        }
        let first_regular = groups
            .iter()
            .find(|g| g["Type"] == "Regular")
            .map(|g| g["Id"].clone());
        let second_regular = groups
            .iter()
            .filter(|g| g["Type"] == "Regular")
            .nth(1)
            .map(|g| g["Id"].clone());
        if let (Some(first), Some(second)) = (first_regular, second_regular) {
            let n = members.len();
            members.push(json!({
                "attributes": attributes("GroupMember", &sf_id("011", n)),
                "Id": sf_id("011", n), "GroupId": second, "UserOrGroupId": first,
            }));
        }
        let tokens = (0..c.oauth_tokens)
            .map(|t| {
                let apps = [("Salesforce CLI", "0DS000000000001AAA"), ("Data Loader", "0DS000000000002AAA"), ("Workbench", "")];
                let (app, menu) = apps[t % apps.len()];
                json!({
                    "attributes": attributes("OauthToken", &sf_id("0CR", t)),
                    "Id": sf_id("0CR", t), "AppName": app,
                    "AppMenuItemId": if menu.is_empty() { Value::Null } else { json!(menu) },
                    "UserId": sf_id("005", t % c.users.max(1)), "CreatedDate": sf_time(start - 3_600_000),
                    "LastUsedDate": sf_time(start), "UseCount": t * 3 + 1,
                })
            })
            .collect();
        let day = start - start.rem_euclid(86_400_000) - 86_400_000;
        let mut files = Vec::new();
        for f in 0..c.event_log_files {
            let id = sf_id("0AT", f);
            let event_type = if f.is_multiple_of(2) { "API" } else { "Login" };
            let mut csv = String::from(
                "\"EVENT_TYPE\",\"TIMESTAMP\",\"REQUEST_ID\",\"ORGANIZATION_ID\",\"USER_ID\",\"URI\",\"CLIENT_IP\",\"SESSION_KEY\",\"LOGIN_STATUS\",\"TIMESTAMP_DERIVED\",\"USER_ID_DERIVED\"\n",
            );
            for r in 0..c.rows_per_log_file {
                let t = day - 86_400_000 * (c.event_log_files - f) as i64 + r as i64 * 60_000;
                let stamp = DateTime::<Utc>::from_timestamp_millis(t).unwrap_or_default();
                let user = sf_id("005", r % c.users.max(1));
                let status = if event_type == "Login" {
                    if r.is_multiple_of(2) {
                        "LOGIN_NO_ERROR"
                    } else {
                        "LOGIN_ERROR_INVALID_PASSWORD"
                    }
                } else {
                    ""
                };
                csv.push_str(&format!(
                    "\"{event_type}\",\"{}\",\"4exLFFQZ{f:03}{r:04}\",\"00D000000000001\",\"{}\",\"/services/data/v62.0/query\",\"203.0.113.{}\",\"sk{r}\",\"{status}\",\"{}\",\"{user}\"\n",
                    stamp.format("%Y%m%d%H%M%S%.3f"),
                    &user[..15],
                    r % 250 + 1,
                    stamp.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                ));
            }
            let log_date = day - 86_400_000 * (c.event_log_files - f) as i64;
            files.push(json!({
                "attributes": attributes("EventLogFile", &id),
                "Id": id, "EventType": event_type,
                "LogFile": format!("/services/data/v62.0/sobjects/EventLogFile/{id}/LogFile"),
                "LogDate": sf_time(log_date - log_date.rem_euclid(86_400_000)),
                "LogFileLength": csv.len() as f64,
                "CreatedDate": sf_time(start - 600_000 + f as i64 * 1_000),
                "Interval": "Daily", "Sequence": 0,
            }));
            org.log_files.insert(id, csv);
        }
        let access: serde_json::Map<String, Value> = SALESFORCE_PERMISSIONS
            .iter()
            .map(|p| ((*p).to_owned(), json!(c.permissions.iter().any(|g| g == p))))
            .collect();
        let mut access = Value::Object(access);
        access["attributes"] = json!({"type": "UserPermissionAccess", "url": "/services/data/v62.0/sobjects/UserPermissionAccess/000000000000000AAA"});
        access["Id"] = json!("000000000000000AAA");
        let risks = HEALTH_CHECK
            .iter()
            .map(|(setting, group, category, org_value, standard, ok)| {
                json!({
                    "attributes": {"type": "SecurityHealthCheckRisks"},
                    "DurableId": format!("{}.{}", group.replace(' ', ""), setting.replace(' ', "")),
                    "Setting": setting, "SettingGroup": group, "SettingRiskCategory": category,
                    "RiskType": match (ok, *category) {
                        (true, _) => "MEETS_STANDARD",
                        (false, "HIGH_RISK") => "HIGH_RISK",
                        (false, _) => "MEDIUM_RISK",
                    },
                    "OrgValue": org_value, "OrgValueRaw": org_value, "StandardValue": standard,
                    "StandardValueRaw": standard, "SecurityHealthCheckId": "0Hc000000000001AAA",
                })
            })
            .collect();
        org.objects.insert("User", users);
        org.objects.insert("UserLogin", logins);
        org.objects.insert("PermissionSetAssignment", assignments);
        org.objects.insert("Group", groups);
        org.objects.insert("GroupMember", members);
        org.objects.insert("OauthToken", tokens);
        org.objects.insert("EventLogFile", files);
        org.objects.insert("UserPermissionAccess", vec![access]);
        org.objects.insert(
            "SecurityHealthCheck",
            vec![
                json!({"attributes": {"type": "SecurityHealthCheck"}, "Id": "0Hc000000000001AAA",
                        "DurableId": "0Hc000000000001AAA", "Score": HEALTH_SCORE,
                        "CustomBaselineId": null, "CreatedDate": sf_time(start)}),
            ],
        );
        org.objects.insert("SecurityHealthCheckRisks", risks);
        org.objects.insert("LoginHistory", Vec::new());
        org.objects.insert("SetupAuditTrail", Vec::new());
        org.add_logins(c, c.login_history, start);
        org.add_setup(c.setup_audit, start, None);
        for f in 0..c.files {
            let owner = sf_id("005", f % c.users.max(1));
            org.add_file(c, &owner, start - (c.files - f) as i64 * 60_000);
        }
        org
    }

    /// A new file owned by `owner`, created at `time` with one version; shared with a
    /// Chatter group (even files), a portal user (every third), and by a public link
    /// (the first `public_links`). Returns its ContentDocument id.
    fn add_file(&mut self, c: &SalesforceMockConfig, owner: &str, time: i64) -> String {
        let f = self.next_file;
        self.next_file += 1;
        let document = sf_id("069", f);
        let (ext, kind) = [("pdf", "PDF"), ("docx", "WORD_X"), ("csv", "CSV")][f % 3];
        let title = format!("Document {f}");
        self.list("ContentDocument").push(json!({
            "attributes": attributes("ContentDocument", &document),
            "Id": document, "Title": title, "FileExtension": ext, "FileType": kind,
            "OwnerId": owner, "CreatedDate": sf_time(time),
        }));
        let size = if f == 0 && c.large_file > 0 {
            c.large_file
        } else {
            c.file_size + f
        };
        self.add_version(&document, size, time);
        let mut link = |entity: String, share: &str, visibility: &str| {
            let n = self.objects.get("ContentDocumentLink").map_or(0, Vec::len);
            let id = sf_id("06A", n);
            self.list("ContentDocumentLink").push(json!({
                "attributes": attributes("ContentDocumentLink", &id),
                "Id": id, "ContentDocumentId": document, "LinkedEntityId": entity,
                "ShareType": share, "Visibility": visibility, "SystemModstamp": sf_time(time),
            }));
        };
        link(owner.to_owned(), "I", "AllUsers");
        if f.is_multiple_of(2) {
            link(sf_id("0F9", 1), "C", "InternalUsers");
        }
        if f % 3 == 1 && c.external_users > 0 && c.users > 0 {
            link(sf_id("005", c.users - 1), "V", "AllUsers");
        }
        if f < c.public_links {
            let id = sf_id("04I", f);
            let version = self.latest(&document).map(|v| v["Id"].clone());
            self.list("ContentDistribution").push(json!({
                "attributes": attributes("ContentDistribution", &id),
                "Id": id, "ContentDocumentId": document, "ContentVersionId": version,
                "Name": format!("Document {f}"),
                "DistributionPublicUrl": format!("https://acme.my.salesforce-sites.com/sfc/p/{id}"),
                "PreferencesAllowViewInBrowser": true, "PreferencesAllowOriginalDownload": true,
                "PreferencesExpires": false, "ExpiryDate": null, "CreatedDate": sf_time(time),
            }));
        }
        document
    }

    /// The latest version of `document`.
    fn latest(&self, document: &str) -> Option<&Value> {
        self.objects
            .get("ContentVersion")?
            .iter()
            .find(|v| v["ContentDocumentId"] == document && v["IsLatest"] == true)
    }

    /// A new latest version of `document` with `size` bytes, at `time`.
    fn add_version(&mut self, document: &str, size: usize, time: i64) {
        let n = self.next_version;
        let content: Vec<u8> = (0..size).map(|i| ((i * 31 + n * 7) % 251) as u8).collect();
        self.add_version_of(document, content, time);
    }

    /// A new latest version of `document` holding `content`, at `time`.
    fn add_version_of(&mut self, document: &str, content: Vec<u8>, time: i64) {
        let n = self.next_version;
        self.next_version += 1;
        let id = sf_id("068", n);
        let size = content.len();
        let checksum: String = Md5::digest(&content)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let Some(doc) = self
            .list("ContentDocument")
            .iter()
            .find(|d| d["Id"] == document)
            .cloned()
        else {
            return;
        };
        let mut number = 1;
        for v in self.list("ContentVersion") {
            if v["ContentDocumentId"] == document {
                v["IsLatest"] = json!(false);
                number += 1;
            }
        }
        let ext = doc["FileExtension"].as_str().unwrap_or_default().to_owned();
        self.list("ContentVersion").push(json!({
            "attributes": attributes("ContentVersion", &id),
            "Id": id, "ContentDocumentId": document, "Title": doc["Title"],
            "PathOnClient": format!("{}.{ext}", doc["Title"].as_str().unwrap_or_default()),
            "FileExtension": ext, "FileType": doc["FileType"], "ContentSize": size,
            "Checksum": checksum, "OwnerId": doc["OwnerId"], "VersionNumber": number.to_string(),
            "IsLatest": true, "CreatedDate": sf_time(time), "LastModifiedDate": sf_time(time),
            "SystemModstamp": sf_time(time),
        }));
        if let Some(d) = self
            .list("ContentDocument")
            .iter_mut()
            .find(|d| d["Id"] == document)
        {
            d["LatestPublishedVersionId"] = json!(id);
            d["ContentSize"] = json!(size);
            d["LastModifiedDate"] = json!(sf_time(time));
            d["SystemModstamp"] = json!(sf_time(time));
        }
        self.contents.insert(id, content);
    }

    fn list(&mut self, object: &'static str) -> &mut Vec<Value> {
        self.objects.entry(object).or_default()
    }

    /// The newest time of `object`'s `field`, or `start` one second back.
    fn next_time(&mut self, object: &'static str, field: &str, start: i64) -> i64 {
        let newest = self
            .list(object)
            .iter()
            .filter_map(|r| soql_millis(&r[field]))
            .max();
        newest.map_or(start, |t| (t + 1_000).max(start))
    }

    fn add_logins(&mut self, c: &SalesforceMockConfig, n: usize, start: i64) {
        let users = c.users.max(1);
        for _ in 0..n {
            let i = self.next_login;
            self.next_login += 1;
            let time = self.next_time("LoginHistory", "LoginTime", start);
            let id = sf_id("0Ya", i);
            let ok = i % 4 != 3;
            self.list("LoginHistory").push(json!({
                "attributes": attributes("LoginHistory", &id),
                "Id": id, "UserId": sf_id("005", i % users), "LoginTime": sf_time(time),
                "LoginType": if i.is_multiple_of(2) { "Application" } else { "Remote Access 2.0" },
                "LoginUrl": "acme.my.salesforce.com", "SourceIp": format!("198.51.100.{}", i % 250 + 1),
                "Status": if ok { "Success" } else { "Invalid Password" },
                "Browser": "Chrome 126", "Platform": "Mac OSX", "Application": "Browser",
                "ApiType": null, "ApiVersion": "N/A", "ClientVersion": "N/A", "CountryIso": "NL",
                "LoginGeoId": sf_id("04F", i),
                "LoginGeo": {"attributes": attributes("LoginGeo", &sf_id("04F", i)),
                             "City": "Amsterdam", "Subdivision": "North Holland",
                             "Latitude": 52.3676, "Longitude": 4.9041},
                "AuthenticationServiceId": null, "CipherSuite": "ECDHE-RSA-AES256-GCM-SHA384",
                "TlsProtocol": "TLS 1.3",
            }));
        }
    }

    /// `n` setup changes, or one `(action, display)` change when given.
    fn add_setup(&mut self, n: usize, start: i64, change: Option<(&str, String)>) {
        const TABLE: [(&str, &str, &str); 3] = [
            (
                "PermSetAssign",
                "Manage Users",
                "Permission set Sales_Ops: assigned to user user3@acme.example",
            ),
            (
                "changedpasswordpolicy",
                "Security Controls",
                "Changed password policy",
            ),
            (
                "PermSetCreate",
                "Manage Users",
                "Created permission set MAD: with user license Salesforce",
            ),
        ];
        let count = if change.is_some() { 1 } else { n };
        for _ in 0..count {
            let i = self.next_setup;
            self.next_setup += 1;
            let (action, section, display) = match &change {
                Some((action, display)) => (*action, "Manage Users", display.clone()),
                None => {
                    let (a, s, d) = TABLE[i % TABLE.len()];
                    (a, s, d.to_owned())
                }
            };
            let time = self.next_time("SetupAuditTrail", "CreatedDate", start);
            let id = sf_id("0Ym", i);
            self.list("SetupAuditTrail").push(json!({
                "attributes": attributes("SetupAuditTrail", &id),
                "Id": id, "Action": action, "Section": section, "CreatedDate": sf_time(time),
                "CreatedById": sf_id("005", 0),
                "CreatedBy": {"attributes": attributes("User", &sf_id("005", 0)), "Username": "integration@acme.example"},
                "Display": display, "DelegateUser": null, "ResponsibleNamespacePrefix": null,
                "CreatedByContext": null, "CreatedByIssuer": null,
            }));
        }
    }
}

fn soql_millis(value: &Value) -> Option<i64> {
    DateTime::parse_from_str(value.as_str()?, "%Y-%m-%dT%H:%M:%S%.f%z")
        .ok()
        .map(|t| t.timestamp_millis())
}

/// The published example records of `object`, from `query-<name>.rendered-from-object-reference.json`.
fn load_fixtures(dir: &FsPath, org: &mut Org) -> io::Result<()> {
    for (object, name) in [
        ("User", "user"),
        ("PermissionSetAssignment", "permissionsetassignment"),
        ("LoginHistory", "loginhistory"),
        ("SetupAuditTrail", "setupaudittrail"),
    ] {
        let path = dir.join(format!("query-{name}.rendered-from-object-reference.json"));
        let value: Value = serde_json::from_slice(&std::fs::read(&path)?).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        })?;
        let records = value["records"].as_array().cloned().unwrap_or_default();
        if object == "User" {
            let logins = records
                .iter()
                .enumerate()
                .map(|(i, u)| json!({"Id": sf_id("060", i), "UserId": u["Id"], "IsFrozen": false}))
                .collect();
            org.objects.insert("UserLogin", logins);
        }
        org.objects.insert(object, records);
    }
    for object in ["Group", "GroupMember", "OauthToken", "EventLogFile"] {
        org.objects.insert(object, Vec::new());
    }
    org.log_files.clear();
    Ok(())
}

impl SalesforceMock {
    /// Binds `127.0.0.1:0` and serves on the current tokio runtime. Fails if the
    /// listener cannot be bound or a fixture cannot be read.
    pub async fn start(config: SalesforceMockConfig) -> io::Result<SalesforceMock> {
        let now = now_ms();
        let start = now
            - now.rem_euclid(1_000)
            - 1_000 * (config.login_history.max(config.setup_audit) as i64)
            - 3_600_000;
        let mut org = Org::generate(&config, start);
        if let Some(dir) = &config.fixtures_dir {
            load_fixtures(dir, &mut org)?;
        }
        let shared = Arc::new(Shared {
            budget: RateBudget::new(config.daily_limit, Duration::from_secs(24 * 3600)),
            faults: FaultPlan::default(),
            oauth: OnceLock::new(),
            org: Mutex::new(org),
            locators: Mutex::default(),
            config,
        });
        let routes = shared.clone();
        let server = MockServer::start(Duration::ZERO, move |addr| {
            // The JWT's audience is the login URL, which is this server.
            let oauth = OAuthMock::new(OAuthMockConfig {
                jwt: Some(JwtAcceptance::test_key(
                    &routes.config.consumer_key,
                    &routes.config.username,
                    &format!("http://{addr}"),
                )),
                ..OAuthMockConfig::default()
            });
            let _ = routes.oauth.set(oauth.clone());
            router(routes).merge(oauth.router("/services/oauth2/token"))
        })
        .await?;
        Ok(SalesforceMock { server, shared })
    }

    /// `http://127.0.0.1:PORT`: the My Domain URL and the login URL.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    pub fn config(&self) -> &SalesforceMockConfig {
        &self.shared.config
    }

    /// The token endpoint, to inspect the JWT grants.
    pub fn oauth(&self) -> &OAuthMock {
        self.shared
            .oauth
            .get()
            .expect("the token endpoint starts with the server")
    }

    /// Appends `n` LoginHistory records, one second apart after the newest.
    pub fn add_logins(&self, n: usize) {
        self.shared
            .org()
            .add_logins(&self.shared.config, n, now_ms());
    }

    /// Appends `n` SetupAuditTrail records.
    pub fn add_setup_changes(&self, n: usize) {
        self.shared.org().add_setup(n, now_ms(), None);
    }

    /// Ids of active, unfrozen internal users that are not admins, in id order.
    pub fn plain_user_ids(&self) -> Vec<String> {
        let org = self.shared.org();
        let frozen: Vec<Value> = org.objects["UserLogin"]
            .iter()
            .filter(|l| l["IsFrozen"] == true)
            .map(|l| l["UserId"].clone())
            .collect();
        org.objects["User"]
            .iter()
            .filter(|u| u["IsActive"] == true && u["UserType"] == "Standard")
            .filter(|u| u["Profile"]["Name"] == "Standard User" && !frozen.contains(&u["Id"]))
            .filter_map(|u| u["Id"].as_str().map(str::to_owned))
            .collect()
    }

    /// Whether user `id` is frozen / active now (none for an unknown user).
    pub fn is_frozen(&self, id: &str) -> Option<bool> {
        let org = self.shared.org();
        org.objects["UserLogin"]
            .iter()
            .find(|l| l["UserId"] == id)
            .and_then(|l| l["IsFrozen"].as_bool())
    }

    pub fn is_active(&self, id: &str) -> Option<bool> {
        let org = self.shared.org();
        org.objects["User"]
            .iter()
            .find(|u| u["Id"] == id)
            .and_then(|u| u["IsActive"].as_bool())
    }

    /// Ids of the OAuth tokens now.
    pub fn token_ids(&self) -> Vec<String> {
        let org = self.shared.org();
        org.objects["OauthToken"]
            .iter()
            .filter_map(|t| t["Id"].as_str().map(str::to_owned))
            .collect()
    }

    /// Replaces the pending faults (see [`Faults`]); throttling faults are 429 with
    /// `Retry-After: retry_after_secs`.
    /// A new file owned by user `owner` (an index), created now; its ContentDocument id.
    pub fn add_file(&self, owner: usize) -> String {
        let c = &self.shared.config;
        let mut org = self.shared.org();
        let time = org.next_time("ContentVersion", "SystemModstamp", now_ms() - 1_000);
        org.add_file(c, &sf_id("005", owner % c.users.max(1)), time)
    }

    /// A new version of `document` (other content, one byte longer), uploaded now.
    pub fn add_version(&self, document: &str) {
        let mut org = self.shared.org();
        let size = org
            .latest(document)
            .and_then(|v| v["ContentSize"].as_u64())
            .unwrap_or(0) as usize;
        let time = org.next_time("ContentVersion", "SystemModstamp", now_ms() - 1_000);
        org.add_version(document, size + 1, time);
    }

    /// A new version of `document` holding `content` (a user uploads an edit), now.
    pub fn upload_version(&self, document: &str, content: &[u8]) {
        let mut org = self.shared.org();
        let time = org.next_time("ContentVersion", "SystemModstamp", now_ms() - 1_000);
        org.add_version_of(document, content.to_vec(), time);
    }

    /// Ids of the files in the listing (not in the Recycle Bin), in id order.
    pub fn file_ids(&self) -> Vec<String> {
        let org = self.shared.org();
        let mut ids: Vec<String> = (org.objects.get("ContentDocument").into_iter().flatten())
            .filter_map(|d| d["Id"].as_str().map(str::to_owned))
            .collect();
        ids.sort();
        ids
    }

    /// Whether `document` is in the Recycle Bin.
    pub fn is_recycled(&self, document: &str) -> bool {
        self.shared.org().recycled.iter().any(|d| d == document)
    }

    /// The content of `document`'s latest version, and its `Checksum`.
    pub fn file_content(&self, document: &str) -> Option<(Vec<u8>, String)> {
        let org = self.shared.org();
        let version = org.latest(document)?;
        let id = version["Id"].as_str()?;
        let checksum = version["Checksum"].as_str()?.to_owned();
        Some((org.contents.get(id)?.clone(), checksum))
    }

    /// The ids of the public links (`ContentDistribution`) of `document`.
    pub fn public_links(&self, document: &str) -> Vec<String> {
        (self
            .shared
            .org()
            .objects
            .get("ContentDistribution")
            .into_iter()
            .flatten())
        .filter(|d| d["ContentDocumentId"] == document)
        .filter_map(|d| d["Id"].as_str().map(str::to_owned))
        .collect()
    }

    pub fn inject_faults(&self, faults: Faults) {
        self.shared.faults.inject(faults, &self.shared.budget);
    }

    /// Every request answered so far (the token endpoint's included).
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.server.log().snapshot()
    }

    pub fn clear_requests(&self) {
        self.server.log().clear();
    }

    /// Exact counts a complete scan must yield now.
    pub fn expected(&self) -> SalesforceExpected {
        let org = self.shared.org();
        let c = &self.shared.config;
        let objects = &org.objects;
        let users = &objects["User"];
        let frozen: Vec<&Value> = objects["UserLogin"]
            .iter()
            .filter(|l| l["IsFrozen"] == true)
            .map(|l| &l["UserId"])
            .collect();
        let admin_ids: Vec<&Value> = objects["PermissionSetAssignment"]
            .iter()
            .filter(|a| {
                a["PermissionSet"]["PermissionsModifyAllData"] == true
                    || a["PermissionSet"]["PermissionsManageUsers"] == true
            })
            .map(|a| &a["AssigneeId"])
            .collect();
        let regular: Vec<&Value> = objects["Group"]
            .iter()
            .filter(|g| g["Type"] == "Regular")
            .map(|g| &g["Id"])
            .collect();
        let logon = objects["LoginHistory"].len();
        let admin_activity = objects["SetupAuditTrail"].len();
        let user_activity = if c.event_monitoring
            && c.permissions
                .iter()
                .any(|p| p == "PermissionsViewEventLogFiles")
        {
            org.log_files
                .values()
                .map(|csv| csv.lines().count().saturating_sub(1))
                .sum()
        } else {
            0
        };
        let failing = HEALTH_CHECK.iter().filter(|h| !h.5).count()
            + usize::from(HEALTH_SCORE.parse::<i64>().unwrap_or(0) < 70);
        let none = Vec::new();
        let documents = objects.get("ContentDocument").unwrap_or(&none);
        let of = |object: &str, d: &Value| {
            (objects.get(object).unwrap_or(&none).iter())
                .filter(|r| r["ContentDocumentId"] == d["Id"])
                .cloned()
                .collect::<Vec<Value>>()
        };
        let external_ids: Vec<&Value> = users
            .iter()
            .filter(|u| u["UserType"] != "Standard")
            .map(|u| &u["Id"])
            .collect();
        let public = |d: &Value| !of("ContentDistribution", d).is_empty();
        let external = |d: &Value| {
            of("ContentDocumentLink", d).iter().any(|l| {
                external_ids.contains(&&l["LinkedEntityId"]) && l["LinkedEntityId"] != d["OwnerId"]
            })
        };
        SalesforceExpected {
            users: users.len(),
            admins: users
                .iter()
                .filter(|u| admin_ids.contains(&&u["Id"]))
                .count(),
            suspended: users
                .iter()
                .filter(|u| u["IsActive"] == true && frozen.contains(&&u["Id"]))
                .count(),
            disabled: users.iter().filter(|u| u["IsActive"] == false).count(),
            external: users.iter().filter(|u| u["UserType"] != "Standard").count(),
            groups: regular.len(),
            group_memberships: objects["GroupMember"]
                .iter()
                .filter(|m| regular.contains(&&m["GroupId"]))
                .count(),
            activities: logon + admin_activity + user_activity,
            logon,
            admin_activity,
            user_activity,
            app_permissions: objects["OauthToken"].len(),
            findings: HEALTH_CHECK.len() + 1,
            failing_findings: failing,
            files: documents.len(),
            public_files: documents.iter().filter(|d| public(d)).count(),
            externally_shared_files: documents
                .iter()
                .filter(|d| public(d) || external(d))
                .count(),
        }
    }
}

// ---- wire behaviour -------------------------------------------------------------

type Answer = Result<Response, Response>;

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/services/data/{version}/query", get(query))
        .route("/services/data/{version}/query/{locator}", get(more))
        .route("/services/data/{version}/tooling/query", get(query))
        .route(
            "/services/data/{version}/tooling/query/{locator}",
            get(more),
        )
        .route(
            "/services/data/{version}/sobjects/{object}/{id}",
            patch(update).delete(remove),
        )
        .route(
            "/services/data/{version}/sobjects/EventLogFile/{id}/LogFile",
            get(log_file),
        )
        .route(
            "/services/data/{version}/sobjects/ContentVersion/{id}/VersionData",
            get(version_data),
        )
        .fallback(|| async {
            error(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "The requested resource does not exist",
            )
        })
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .with_state(shared)
}

/// Salesforce's error body: `[{"message", "errorCode"}]`.
fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!([{"message": message, "errorCode": code}])),
    )
        .into_response()
}

fn set(response: &mut Response, name: &'static str, value: String) {
    if let Ok(value) = HeaderValue::from_str(&value) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(name), value);
    }
}

/// The bearer token check, injected faults, the daily allocation, and the
/// `Sforce-Limit-Info` header on every answer.
async fn gate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let bearer = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    let valid = bearer == shared.config.access_token
        || shared
            .oauth
            .get()
            .is_some_and(|o| o.validate(request.headers()).is_some());
    if !valid {
        let mut response = error(
            StatusCode::UNAUTHORIZED,
            "INVALID_SESSION_ID",
            "Session expired or invalid",
        );
        set(&mut response, "www-authenticate", "Token".into());
        return response;
    }
    let (mut response, budget) = match shared.faults.take() {
        Some(faults::Fault::SecondaryLimit {
            retry_after_secs, ..
        }) => {
            let mut r = error(
                StatusCode::TOO_MANY_REQUESTS,
                "REQUEST_LIMIT_EXCEEDED",
                "Too many requests; try again later.",
            );
            set(&mut r, "retry-after", retry_after_secs.to_string());
            (r, shared.budget.peek())
        }
        Some(faults::Fault::ServerError { status }) => (
            error(
                StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
                "SERVER_UNAVAILABLE",
                "Server temporarily unavailable",
            ),
            shared.budget.peek(),
        ),
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
                error(
                    StatusCode::FORBIDDEN,
                    "REQUEST_LIMIT_EXCEEDED",
                    "TotalRequests Limit exceeded.",
                )
            };
            (response, budget)
        }
    };
    set(
        &mut response,
        "sforce-limit-info",
        format!(
            "api-usage={}/{}",
            budget.used.min(budget.limit),
            budget.limit
        ),
    );
    response
}

fn is_tooling(url: &RequestUrl) -> bool {
    url.with_params(&[], &[]).contains("/tooling/")
}

/// `batchSize` of `Sforce-Query-Options`, clamped as Salesforce does.
fn batch_size(headers: &HeaderMap) -> usize {
    headers
        .get("sforce-query-options")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.split(',')
                .find_map(|p| p.trim().strip_prefix("batchSize="))
        })
        .and_then(|n| n.trim().parse().ok())
        .map_or(2000, |n: usize| n.clamp(200, 2000))
}

async fn query(
    State(shared): State<Arc<Shared>>,
    Path(version): Path<String>,
    headers: HeaderMap,
    url: RequestUrl,
) -> Answer {
    let soql = url.param("q").ok_or_else(|| {
        error(
            StatusCode::BAD_REQUEST,
            "MALFORMED_QUERY",
            "A query string has to be specified",
        )
    })?;
    let parsed = soql::parse(soql).map_err(|(code, m)| error(StatusCode::BAD_REQUEST, code, &m))?;
    let object = parsed.object.as_str();
    let tooling = is_tooling(&url);
    let known = SCHEMA.iter().find(|(o, _)| o.eq_ignore_ascii_case(object));
    let unsupported = || {
        error(
            StatusCode::BAD_REQUEST,
            "INVALID_TYPE",
            &format!(
                "sObject type '{object}' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names."
            ),
        )
    };
    let Some((name, schema)) = known else {
        return Err(unsupported());
    };
    if TOOLING.contains(name) != tooling {
        return Err(unsupported());
    }
    let config = &shared.config;
    let has = |p: &str| config.permissions.iter().any(|g| g == p);
    if *name == "EventLogFile" && !(config.event_monitoring && has("PermissionsViewEventLogFiles"))
    {
        return Err(unsupported());
    }
    if *name == "ContentDocumentLink"
        && !has("PermissionsQueryAllFiles")
        && !["ContentDocumentId", "LinkedEntityId", "Id"]
            .iter()
            .any(|f| parsed.filters_on(f))
    {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "MALFORMED_QUERY",
            "Implementation restriction: ContentDocumentLink requires a filter by a single Id on ContentDocumentId or LinkedEntityId using the equals operator or multiple Id's using the IN operator.",
        ));
    }
    let version = version.trim_start_matches('v').to_owned();
    let rows = {
        let org = shared.org();
        let mut records = org.objects.get(name).cloned().unwrap_or_default();
        if *name == "ContentVersion" && !has("PermissionsQueryAllFiles") {
            // Without "Query All Files" a user sees its own files (the mock's rule).
            let me = sf_id("005", 0);
            records.retain(|v| v["OwnerId"] == me.as_str());
        }
        parsed
            .run(&records, schema, &version)
            .map_err(|(code, m)| error(StatusCode::BAD_REQUEST, code, &m))?
    };
    Ok(answer(
        &shared,
        rows,
        0,
        batch_size(&headers),
        &version,
        tooling,
    ))
}

/// One batch of `rows` from `offset`, registering a locator for the rest.
fn answer(
    shared: &Shared,
    rows: Vec<Value>,
    offset: usize,
    batch: usize,
    version: &str,
    tooling: bool,
) -> Response {
    let total = rows.len();
    let end = (offset + batch).min(total);
    let records = rows[offset.min(total)..end].to_vec();
    let mut body = json!({"totalSize": total, "done": end >= total, "records": records});
    if end < total {
        let mut locators = shared.locators.lock().unwrap_or_else(|p| p.into_inner());
        let locator = format!("01gMOCK{:08}", locators.len());
        locators.insert(locator.clone(), rows);
        let root = if tooling { "tooling/query" } else { "query" };
        body["nextRecordsUrl"] = json!(format!("/services/data/v{version}/{root}/{locator}-{end}"));
    }
    Json(body).into_response()
}

async fn more(
    State(shared): State<Arc<Shared>>,
    Path((version, locator)): Path<(String, String)>,
    headers: HeaderMap,
    url: RequestUrl,
) -> Answer {
    let invalid = || {
        error(
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY_LOCATOR",
            "invalid query locator",
        )
    };
    let (id, offset) = locator.rsplit_once('-').ok_or_else(invalid)?;
    let offset: usize = offset.parse().map_err(|_| invalid())?;
    let rows = {
        let locators = shared.locators.lock().unwrap_or_else(|p| p.into_inner());
        locators.get(id).cloned().ok_or_else(invalid)?
    };
    let version = version.trim_start_matches('v').to_owned();
    Ok(answer(
        &shared,
        rows,
        offset,
        batch_size(&headers),
        &version,
        is_tooling(&url),
    ))
}

fn insufficient() -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "INSUFFICIENT_ACCESS_OR_READONLY",
        "insufficient access rights on object id",
    )
}

/// `PATCH` of `UserLogin.IsFrozen` or `User.IsActive`; logged in the Setup Audit Trail.
async fn update(
    State(shared): State<Arc<Shared>>,
    Path((_, object, id)): Path<(String, String, String)>,
    Json(body): Json<Value>,
) -> Answer {
    let config = &shared.config;
    let has = |p: &str| config.permissions.iter().any(|g| g == p);
    let not_found = || {
        error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
        )
    };
    let mut org = shared.org();
    let (field, object_name) = match object.as_str() {
        "UserLogin" if has("PermissionsManageUsers") || has("PermissionsFreezeUsers") => {
            ("IsFrozen", "UserLogin")
        }
        "User" if has("PermissionsManageUsers") => ("IsActive", "User"),
        "UserLogin" | "User" => return Err(insufficient()),
        _ => return Err(not_found()),
    };
    let value = body.get(field).and_then(Value::as_bool).ok_or_else(|| {
        error(
            StatusCode::BAD_REQUEST,
            "JSON_PARSER_ERROR",
            &format!("expected {field}"),
        )
    })?;
    let record = org
        .list(object_name)
        .iter_mut()
        .find(|r| r["Id"] == id.as_str())
        .ok_or_else(not_found)?;
    let changed = record[field] != value;
    record[field] = json!(value);
    let user = if object_name == "UserLogin" {
        record["UserId"].clone()
    } else {
        record["Id"].clone()
    };
    if changed {
        let username = org.objects["User"]
            .iter()
            .find(|u| u["Id"] == user)
            .map(|u| u["Username"].clone());
        let name = username
            .and_then(|u| u.as_str().map(str::to_owned))
            .unwrap_or_default();
        let change = match (field, value) {
            ("IsFrozen", true) => ("frozeuser", format!("Froze user {name}")),
            ("IsFrozen", false) => ("unfrozeuser", format!("Unfroze user {name}")),
            (_, false) => ("deactivateduser", format!("Deactivated user {name}")),
            _ => ("activateduser", format!("Activated user {name}")),
        };
        org.add_setup(1, now_ms(), Some(change));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE` of an `OauthToken` (revokes it), a `ContentDocument` (to the Recycle Bin,
/// with its versions, links and public links) or a `ContentDistribution`.
async fn remove(
    State(shared): State<Arc<Shared>>,
    Path((_, object, id)): Path<(String, String, String)>,
) -> Answer {
    let gone = || {
        error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
        )
    };
    let has = |p: &str| shared.config.permissions.iter().any(|g| g == p);
    if object == "ContentDocument" {
        let mut org = shared.org();
        if org.recycled.contains(&id) {
            return Err(error(
                StatusCode::NOT_FOUND,
                "ENTITY_IS_DELETED",
                "entity is deleted",
            ));
        }
        let owner = (org.list("ContentDocument").iter())
            .find(|d| d["Id"] == id.as_str())
            .map(|d| d["OwnerId"].clone())
            .ok_or_else(gone)?;
        if owner != sf_id("005", 0).as_str() && !has("PermissionsModifyAllData") {
            return Err(insufficient());
        }
        for object in [
            "ContentDocument",
            "ContentVersion",
            "ContentDocumentLink",
            "ContentDistribution",
        ] {
            let key = if object == "ContentDocument" {
                "Id"
            } else {
                "ContentDocumentId"
            };
            org.list(object).retain(|r| r[key] != id.as_str());
        }
        org.recycled.push(id);
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    if object == "ContentDistribution" {
        let mut org = shared.org();
        let links = org.list("ContentDistribution");
        let before = links.len();
        links.retain(|d| d["Id"] != id.as_str());
        if links.len() == before {
            return Err(gone());
        }
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    if object != "OauthToken" {
        return Err(error(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "HTTP Method 'DELETE' not allowed",
        ));
    }
    if !shared
        .config
        .permissions
        .iter()
        .any(|p| p == "PermissionsManageUsers")
    {
        return Err(insufficient());
    }
    let mut org = shared.org();
    let tokens = org.list("OauthToken");
    let before = tokens.len();
    tokens.retain(|t| t["Id"] != id.as_str());
    if tokens.len() == before {
        return Err(error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
        ));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn log_file(
    State(shared): State<Arc<Shared>>,
    Path((_, id)): Path<(String, String)>,
) -> Answer {
    let org = shared.org();
    let csv = org.log_files.get(&id).cloned().ok_or_else(|| {
        error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
        )
    })?;
    Ok(([("content-type", "text/csv")], csv).into_response())
}

/// A file version's content: the `Range` asked for (206, `Content-Range`) when
/// ranges are on and the range is satisfiable, 416 past the end, else the whole.
async fn version_data(
    State(shared): State<Arc<Shared>>,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Answer {
    let content = shared.org().contents.get(&id).cloned().ok_or_else(|| {
        error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
        )
    })?;
    let binary = [("content-type", "application/octet-stream")];
    let range = headers
        .get("range")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes="))
        .and_then(|v| v.split_once('-'))
        .and_then(|(a, b)| Some((a.parse::<usize>().ok()?, b.parse::<usize>().ok()?)))
        .filter(|(a, b)| a <= b);
    match range {
        Some((first, last)) if shared.config.version_ranges => {
            let total = content.len();
            if first >= total {
                let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
                set(&mut r, "content-range", format!("bytes */{total}"));
                return Ok(r);
            }
            let last = last.min(total - 1);
            let mut r = (
                StatusCode::PARTIAL_CONTENT,
                binary,
                content[first..=last].to_vec(),
            )
                .into_response();
            set(
                &mut r,
                "content-range",
                format!("bytes {first}-{last}/{total}"),
            );
            Ok(r)
        }
        _ => Ok((binary, content).into_response()),
    }
}
