//! The ground floor: the shared vocabulary every other layer speaks, with no I/O and
//! no imports from anything above it.
//!
//! This module holds what connectors return and declare. The records mirror the WIT
//! records but are plain serde types, so the store, the CLI and the admin API never
//! depend on generated bindings or on a particular WIT version: each bindings module
//! converts into these. Beside them:
//! - [`template`]: `{field}` templates over an instance's config, and destinations;
//! - [`grants`]: what a connector asks for against what the operator granted;
//! - [`http`]: requests, responses and failures of the HTTP capability;
//! - [`limits`]: request budgets as declared and configured;
//! - [`schedule`]: rescan intervals;
//! - [`secret`]: secrets as opaque values.

pub mod grants;
pub mod http;
pub mod limits;
pub mod schedule;
pub mod secret;
pub mod template;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch, UTC (the WIT `timestamp`).
pub type Millis = i64;

/// A record kind: what a listing returns and how the store groups records.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Users,
    Groups,
    Activities,
    Files,
    AppPermissions,
    /// Posture findings; `posture` is accepted as a synonym.
    #[serde(alias = "posture")]
    Findings,
}

impl Kind {
    /// Every kind, in the order a full scan collects them (users first, as design.md asks).
    pub const ALL: [Kind; 6] = [
        Kind::Users,
        Kind::Groups,
        Kind::Activities,
        Kind::Files,
        Kind::AppPermissions,
        Kind::Findings,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Users => "users",
            Kind::Groups => "groups",
            Kind::Activities => "activities",
            Kind::Files => "files",
            Kind::AppPermissions => "app-permissions",
            Kind::Findings => "findings",
        }
    }

    /// Snapshot kinds are re-read whole each scan; records missing from a completed
    /// scan are marked deleted. Activities are an append-only feed instead.
    pub fn is_snapshot(self) -> bool {
        !matches!(self, Kind::Activities)
    }

    /// The capability a connector must declare for this kind to be scanned.
    pub fn capability(self) -> Capability {
        match self {
            Kind::Users => Capability::Accounts,
            Kind::Groups => Capability::Groups,
            Kind::Activities => Capability::AdminActivity,
            Kind::Files => Capability::Files,
            Kind::AppPermissions => Capability::AppPermissions,
            Kind::Findings => Capability::Posture,
        }
    }

    /// Whether a connector with these capabilities supports this kind.
    pub fn supported_by(self, caps: &[Capability]) -> bool {
        match self {
            Kind::Activities => caps.iter().any(|c| {
                matches!(
                    c,
                    Capability::LogonActivity
                        | Capability::UserActivity
                        | Capability::AdminActivity
                )
            }),
            other => caps.contains(&other.capability()),
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Kind::ALL
            .into_iter()
            .find(|k| k.as_str() == s || (s == "posture" && *k == Kind::Findings))
            .ok_or_else(|| {
                format!(
                    "unknown kind `{s}` (expected one of: users, groups, activities, files, app-permissions, findings or posture)"
                )
            })
    }
}

/// What a connector can collect or do (WIT `capability`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    Accounts,
    Groups,
    Privileges,
    LogonActivity,
    UserActivity,
    AdminActivity,
    Files,
    AppPermissions,
    Posture,
    /// Since 0.2.0: the host may read file content (`read-file`).
    FileContent,
    /// Since 0.2.0: files carry sensitivity labels.
    SensitivityLabels,
}

impl Capability {
    pub const ALL: [Capability; 11] = [
        Capability::Accounts,
        Capability::Groups,
        Capability::Privileges,
        Capability::LogonActivity,
        Capability::UserActivity,
        Capability::AdminActivity,
        Capability::Files,
        Capability::AppPermissions,
        Capability::Posture,
        Capability::FileContent,
        Capability::SensitivityLabels,
    ];

    /// Column heading in the capability matrix, in the words of the provider docs' tables.
    pub fn heading(self) -> &'static str {
        match self {
            Capability::Accounts => "Accounts",
            Capability::Groups => "Groups",
            Capability::Privileges => "Privileges",
            Capability::LogonActivity => "Logon activity",
            Capability::UserActivity => "User activity",
            Capability::AdminActivity => "Admin activity",
            Capability::Files => "Files",
            Capability::AppPermissions => "App permissions",
            Capability::Posture => "Posture",
            Capability::FileContent => "File content",
            Capability::SensitivityLabels => "Sensitivity labels",
        }
    }
}

/// A governance action (WIT `action-kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ActionKind {
    SuspendUser,
    UnsuspendUser,
    RequireSignIn,
    RevokeAppPermission,
    QuarantineFile,
    RemoveExternalSharing,
    RemoveGroupMember,
    RemoveCollaborator,
    // Since 0.2.0.
    RevokeSessions,
    RequirePasswordReset,
    RemovePublicLink,
    RemoveFileCollaborator,
    TrashFile,
    ApplyLabel,
}

impl ActionKind {
    pub const ALL: [ActionKind; 14] = [
        ActionKind::SuspendUser,
        ActionKind::UnsuspendUser,
        ActionKind::RequireSignIn,
        ActionKind::RevokeAppPermission,
        ActionKind::QuarantineFile,
        ActionKind::RemoveExternalSharing,
        ActionKind::RemoveGroupMember,
        ActionKind::RemoveCollaborator,
        ActionKind::RevokeSessions,
        ActionKind::RequirePasswordReset,
        ActionKind::RemovePublicLink,
        ActionKind::RemoveFileCollaborator,
        ActionKind::TrashFile,
        ActionKind::ApplyLabel,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::SuspendUser => "suspend-user",
            ActionKind::UnsuspendUser => "unsuspend-user",
            ActionKind::RequireSignIn => "require-sign-in",
            ActionKind::RevokeAppPermission => "revoke-app-permission",
            ActionKind::QuarantineFile => "quarantine-file",
            ActionKind::RemoveExternalSharing => "remove-external-sharing",
            ActionKind::RemoveGroupMember => "remove-group-member",
            ActionKind::RemoveCollaborator => "remove-collaborator",
            ActionKind::RevokeSessions => "revoke-sessions",
            ActionKind::RequirePasswordReset => "require-password-reset",
            ActionKind::RemovePublicLink => "remove-public-link",
            ActionKind::RemoveFileCollaborator => "remove-file-collaborator",
            ActionKind::TrashFile => "trash-file",
            ActionKind::ApplyLabel => "apply-label",
        }
    }

    /// The kind of record the action's target is: what must exist in the store before
    /// the action runs, and what is rescanned after it.
    pub fn target_kind(self) -> Kind {
        match self {
            ActionKind::SuspendUser
            | ActionKind::UnsuspendUser
            | ActionKind::RequireSignIn
            | ActionKind::RemoveCollaborator
            | ActionKind::RevokeSessions
            | ActionKind::RequirePasswordReset => Kind::Users,
            ActionKind::RevokeAppPermission => Kind::AppPermissions,
            ActionKind::QuarantineFile
            | ActionKind::RemoveExternalSharing
            | ActionKind::RemovePublicLink
            | ActionKind::RemoveFileCollaborator
            | ActionKind::TrashFile
            | ActionKind::ApplyLabel => Kind::Files,
            ActionKind::RemoveGroupMember => Kind::Groups,
        }
    }
}

/// Actions built-in connectors perform beyond what the provider docs' app connector
/// table lists for that app; the matrix marks them.
const BEYOND_PROVIDER_DOCS: &[(&str, ActionKind)] = &[
    ("github", ActionKind::RemoveCollaborator),
    ("github", ActionKind::RevokeAppPermission),
    ("zendesk", ActionKind::SuspendUser),
    ("zendesk", ActionKind::UnsuspendUser),
    // The table's Slack row has no user governance.
    ("slack", ActionKind::SuspendUser),
    ("slack", ActionKind::UnsuspendUser),
    ("slack", ActionKind::RevokeSessions),
    // The table's Atlassian row has no user governance.
    ("atlassian", ActionKind::SuspendUser),
    ("atlassian", ActionKind::UnsuspendUser),
    // The table's ServiceNow row has no user governance.
    ("servicenow", ActionKind::SuspendUser),
    ("servicenow", ActionKind::UnsuspendUser),
    ("servicenow", ActionKind::RequirePasswordReset),
    // The table's Zoom row marks only SSPM: deactivate / activate go beyond it.
    ("zoom", ActionKind::SuspendUser),
    ("zoom", ActionKind::UnsuspendUser),
    // The table's Webex row leaves user governance blank: turning sign-in off / on
    // (`loginEnabled`) goes beyond it.
    ("webex", ActionKind::SuspendUser),
    ("webex", ActionKind::UnsuspendUser),
    // The table's Salesforce row leaves sharing control blank: deleting a file's
    // public links (ContentDistribution) goes beyond it.
    ("salesforce", ActionKind::RemovePublicLink),
    // The table's Google Workspace row has user governance; a password change at the
    // next sign-in (`changePasswordAtNextLogin`) goes beyond what it lists.
    ("google", ActionKind::RequirePasswordReset),
    // The table's Dropbox row leaves user governance blank: suspending members goes
    // beyond it.
    ("dropbox", ActionKind::SuspendUser),
    ("dropbox", ActionKind::UnsuspendUser),
];

/// Whether connector `id`'s `action` goes beyond the provider docs' table.
pub fn beyond_provider_docs(id: &str, action: ActionKind) -> bool {
    BEYOND_PROVIDER_DOCS.contains(&(id, action))
}

impl fmt::Display for ActionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ActionKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ActionKind::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = ActionKind::ALL.iter().map(|a| a.as_str()).collect();
                format!(
                    "unknown action `{s}` (expected one of: {})",
                    names.join(", ")
                )
            })
    }
}

/// One config field a connector needs (WIT `config-field`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ConfigField {
    pub name: String,
    pub label: String,
    pub required: bool,
    pub secret: bool,
    pub default: Option<String>,
    pub example: Option<String>,
    pub description: Option<String>,
}

/// How a client authenticates at a token endpoint (WIT `client-auth`, RFC 6749
/// section 2.3.1).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum ClientAuth {
    /// `client_id` and `client_secret` in the form body (`client_secret_post`).
    #[default]
    RequestBody,
    /// `Authorization: Basic` over the id and secret (`client_secret_basic`).
    Basic,
}

/// How the host authenticates a connector's requests (WIT `auth-scheme`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", tag = "scheme")]
pub enum AuthScheme {
    None,
    Bearer {
        token_field: String,
    },
    Basic {
        /// A template over non-secret config, e.g. `{email}/token` (0.1.0's
        /// `username-field` F reads as `{F}`).
        username: String,
        password_field: String,
    },
    ApiKey {
        header: String,
        prefix: String,
        key_field: String,
    },
    Oauth2ClientCredentials {
        token_url: String,
        client_id_field: String,
        client_secret_field: String,
        scopes: Vec<String>,
        /// Since 0.3.0: how the client id and secret reach the token endpoint.
        #[serde(default)]
        client_auth: ClientAuth,
        /// Since 0.3.0: the `grant_type`, `client_credentials` when none (Zoom's
        /// server-to-server OAuth: `account_credentials`).
        #[serde(default)]
        grant_type: Option<String>,
        /// Since 0.3.0: more form parameters, values templates over config.
        #[serde(default)]
        params: Vec<(String, String)>,
    },
    Oauth2RefreshToken {
        token_url: String,
        client_id_field: String,
        client_secret_field: Option<String>,
        refresh_token_field: String,
        scopes: Vec<String>,
    },
    JwtBearer {
        token_url: String,
        issuer_field: String,
        subject_field: String,
        audience: String,
        private_key_field: String,
        scopes: Vec<String>,
    },
}

impl AuthScheme {
    pub fn name(&self) -> &'static str {
        match self {
            AuthScheme::None => "none",
            AuthScheme::Bearer { .. } => "bearer",
            AuthScheme::Basic { .. } => "basic",
            AuthScheme::ApiKey { .. } => "api-key",
            AuthScheme::Oauth2ClientCredentials { .. } => "oauth2-client-credentials",
            AuthScheme::Oauth2RefreshToken { .. } => "oauth2-refresh-token",
            AuthScheme::JwtBearer { .. } => "jwt-bearer",
        }
    }

    /// The config fields this scheme reads as secrets.
    pub fn secret_fields(&self) -> impl Iterator<Item = &str> {
        let fields: Vec<&str> = match self {
            AuthScheme::None => vec![],
            AuthScheme::Bearer { token_field } => vec![token_field],
            AuthScheme::Basic { password_field, .. } => vec![password_field],
            AuthScheme::ApiKey { key_field, .. } => vec![key_field],
            AuthScheme::Oauth2ClientCredentials {
                client_secret_field,
                ..
            } => vec![client_secret_field],
            AuthScheme::Oauth2RefreshToken {
                client_secret_field,
                refresh_token_field,
                ..
            } => {
                let mut v = vec![refresh_token_field.as_str()];
                v.extend(client_secret_field.as_deref());
                v
            }
            AuthScheme::JwtBearer {
                private_key_field, ..
            } => vec![private_key_field],
        };
        fields.into_iter()
    }

    /// Every template over config the scheme holds (token endpoint, audience, user
    /// name), which must resolve for an instance to connect.
    pub fn templates(&self) -> Vec<&str> {
        match self {
            AuthScheme::Basic { username, .. } => vec![username],
            AuthScheme::JwtBearer {
                token_url,
                audience,
                ..
            } => vec![token_url, audience],
            AuthScheme::Oauth2ClientCredentials {
                token_url, params, ..
            } => (std::iter::once(token_url))
                .chain(params.iter().map(|(_, value)| value))
                .map(String::as_str)
                .collect(),
            other => other.token_url().into_iter().collect(),
        }
    }

    /// The token endpoint template of the OAuth schemes: where the host sends the
    /// instance's client secret, refresh token or signed assertion. It is an egress
    /// destination like any other, asked for by the connector and granted by the
    /// operator, so a connector (or a newer version of it) cannot name a place the
    /// secrets go that the operator did not approve.
    pub fn token_url(&self) -> Option<&str> {
        match self {
            AuthScheme::Oauth2ClientCredentials { token_url, .. }
            | AuthScheme::Oauth2RefreshToken { token_url, .. }
            | AuthScheme::JwtBearer { token_url, .. } => Some(token_url),
            _ => None,
        }
    }
}

/// One way to authenticate an operator may choose (WIT `auth-option`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuthOption {
    pub id: String,
    pub label: String,
    pub scheme: AuthScheme,
}

/// A write a connector sends while scanning (WIT `scan-write`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ScanWrite {
    /// `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: String,
    /// URL template over config.
    pub url: String,
    pub reason: String,
}

/// A request budget (WIT `rate-limit`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RateLimit {
    pub scope: String,
    pub requests: u32,
    pub per_seconds: u32,
    pub burst: u32,
    pub max_concurrency: u32,
}

/// Everything `describe` says about a connector.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ConnectorInfo {
    pub id: String,
    pub name: String,
    pub version: String,
    pub provider: String,
    pub description: String,
    pub capabilities: Vec<Capability>,
    pub actions: Vec<ActionKind>,
    pub config: Vec<ConfigField>,
    /// The ways to authenticate, the default first (never empty).
    pub auth: Vec<AuthOption>,
    pub egress: Vec<String>,
    pub rate_limits: Vec<RateLimit>,
    /// Writes sent during scans; any other write during a scan is refused.
    #[serde(default)]
    pub scan_writes: Vec<ScanWrite>,
    /// How many days back the provider keeps the activity feed, if limited.
    #[serde(default)]
    pub max_look_back_days: Option<u32>,
    /// Since 0.3.0: `list-activities` honours `until` as well as `since`, so a long
    /// first scan may be fetched as time partitions side by side.
    #[serde(default)]
    pub activity_partitions: bool,
}

/// The first activity scan's look-back when the operator sets none (capped at the
/// connector's `max_look_back_days`).
pub const DEFAULT_LOOK_BACK_DAYS: u32 = 90;

impl ConnectorInfo {
    /// The auth option `id`, or the default (first) one for `None`.
    pub fn auth_option(&self, id: Option<&str>) -> Result<&AuthOption, String> {
        match id {
            None => self
                .auth
                .first()
                .ok_or_else(|| format!("connector `{}` declares no auth option", self.id)),
            Some(id) => self.auth.iter().find(|o| o.id == id).ok_or_else(|| {
                let ids: Vec<&str> = self.auth.iter().map(|o| o.id.as_str()).collect();
                format!(
                    "connector `{}` has no auth option `{id}` (choose one of: {})",
                    self.id,
                    ids.join(", ")
                )
            }),
        }
    }

    /// The look-back an instance gets: the operator's `days`, else the default, never
    /// beyond what the provider keeps. More than the provider keeps is an error.
    pub fn look_back_days(&self, days: Option<u32>) -> Result<u32, String> {
        let max = self.max_look_back_days;
        match (days, max) {
            (Some(0), _) => Err("the look-back must be at least one day".into()),
            (Some(d), Some(m)) if d > m => Err(format!(
                "a look-back of {d} days is more than {} keeps ({m} days)",
                self.name
            )),
            (Some(d), _) => Ok(d),
            (None, Some(m)) => Ok(DEFAULT_LOOK_BACK_DAYS.min(m)),
            (None, None) => Ok(DEFAULT_LOOK_BACK_DAYS),
        }
    }

    /// The look-back a stored instance gets: as [`Self::look_back_days`], except that
    /// a choice beyond what this version keeps (a newer version keeping less) is cut
    /// to its maximum instead of refused.
    pub fn effective_look_back_days(&self, days: Option<u32>) -> u32 {
        self.look_back_days(days)
            .unwrap_or_else(|_| self.max_look_back_days.unwrap_or(DEFAULT_LOOK_BACK_DAYS))
    }
}

/// Why a connector call failed (WIT `connector-error`), plus host-side failures of a call.
#[derive(
    Clone, Debug, PartialEq, Serialize, Deserialize, thiserror::Error, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case", tag = "error", content = "detail")]
pub enum ConnectorError {
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("rate limited{}", .0.map(|s| format!(" (retry after {s}s)")).unwrap_or_default())]
    RateLimited(Option<u32>),
    #[error("upstream error: {0}")]
    Upstream(String),
    #[error("invalid config: {0}")]
    InvalidConfig(String),
    #[error("unsupported: {0}")]
    Unsupported(String),
    #[error("{0}")]
    Other(String),
    /// The plugin trapped (panic, deadline, memory cap); only this call failed.
    #[error("plugin trapped: {0}")]
    Trap(String),
    /// No loaded plugin serves the instance (its file was removed, or the version it
    /// is pinned to is gone). Host-side; restoring the file resumes the instance.
    #[error("{0}")]
    NotLoaded(String),
    /// The operator did not grant what the call needs (an action, or a connector
    /// version asking for more than the instance's grants). Host-side; refused before
    /// the plugin runs.
    #[error("not granted: {0}")]
    NotGranted(String),
    /// What the connector handed over is beyond an operator-set cap (records or
    /// bytes per page, per scan, per instance), or its paging would loop. Host-side;
    /// nothing of the refused page was stored.
    #[error("over a cap: {0}")]
    OverCap(String),
}

impl ConnectorError {
    /// Short machine name of the case, as shown in status.
    pub fn code(&self) -> &'static str {
        match self {
            ConnectorError::Unauthorized(_) => "unauthorized",
            ConnectorError::Forbidden(_) => "forbidden",
            ConnectorError::NotFound(_) => "not-found",
            ConnectorError::RateLimited(_) => "rate-limited",
            ConnectorError::Upstream(_) => "upstream",
            ConnectorError::InvalidConfig(_) => "invalid-config",
            ConnectorError::Unsupported(_) => "unsupported",
            ConnectorError::Other(_) => "other",
            ConnectorError::Trap(_) => "trap",
            ConnectorError::NotLoaded(_) => "connector-not-loaded",
            ConnectorError::NotGranted(_) => "not-granted",
            ConnectorError::OverCap(_) => "over-cap",
        }
    }

    /// Whether trying again later may succeed without operator action.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ConnectorError::RateLimited(_) | ConnectorError::Upstream(_) | ConnectorError::Trap(_)
        )
    }
}

/// What `check` found (WIT `permissions`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Permissions {
    pub principal: Option<String>,
    pub granted: Vec<String>,
    pub missing: Vec<(Capability, String)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum UserStatus {
    Active,
    Suspended,
    Disabled,
    Deleted,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct User {
    pub id: String,
    pub login: Option<String>,
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub status: UserStatus,
    pub is_admin: bool,
    pub is_external: bool,
    pub roles: Vec<String>,
    pub group_ids: Vec<String>,
    pub last_sign_in: Option<Millis>,
    pub created: Option<Millis>,
    pub raw: RawJson,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    pub members: Vec<String>,
    pub raw: RawJson,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ActivityKind {
    Logon,
    User,
    Admin,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Success,
    Failure,
    Unknown,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Activity {
    pub id: String,
    pub time: Millis,
    pub kind: ActivityKind,
    pub actor: Option<String>,
    pub action: String,
    pub targets: Vec<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Since 0.2.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// Since 0.2.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    pub outcome: Outcome,
    pub raw: RawJson,
}

/// Where an activity came from (WIT `location`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Location {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latitude: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longitude: Option<f64>,
}

/// Who a sharing link reaches (WIT `link-audience`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LinkAudience {
    Anyone,
    Organization,
}

/// What a share allows (WIT `share-role`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ShareRole {
    Viewer,
    Commenter,
    Editor,
    Owner,
}

/// A sharing link (WIT `share-link`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ShareLink {
    pub audience: LinkAudience,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    pub role: ShareRole,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<Millis>,
}

/// What a named principal is (WIT `principal-kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PrincipalKind {
    User,
    Group,
    Domain,
}

/// Access given to a named principal (WIT `share-principal`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SharePrincipal {
    pub id: String,
    pub kind: PrincipalKind,
    pub external: bool,
    pub role: ShareRole,
}

/// A file's sharing (WIT `sharing`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Sharing {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<ShareLink>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub principals: Vec<SharePrincipal>,
}

impl Sharing {
    pub fn is_empty(&self) -> bool {
        self.links.is_empty() && self.principals.is_empty()
    }
}

/// A provider's hash of a file's content (WIT `content-hash`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ContentHash {
    pub algorithm: String,
    pub value: String,
}

/// A chunk of file content (WIT `file-chunk`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileChunk {
    pub data: Vec<u8>,
    pub eof: bool,
    pub size: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct File {
    pub id: String,
    pub name: String,
    pub path: Option<String>,
    pub owner: Option<String>,
    pub mime_type: Option<String>,
    pub size: Option<u64>,
    pub modified: Option<Millis>,
    pub shared_externally: bool,
    pub public: bool,
    /// Since 0.2.0.
    #[serde(default, skip_serializing_if = "Sharing::is_empty")]
    pub sharing: Sharing,
    /// Since 0.2.0.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// Since 0.2.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<ContentHash>,
    pub raw: RawJson,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AppPermission {
    pub id: String,
    pub app_id: String,
    pub app_name: Option<String>,
    pub grantee: Option<String>,
    pub scopes: Vec<String>,
    pub granted_at: Option<Millis>,
    pub raw: RawJson,
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Finding {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub passed: bool,
    pub detail: String,
    pub remediation: String,
    pub raw: RawJson,
}

/// Any record a connector returns, tagged with its kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case", tag = "type")]
pub enum Record {
    User(User),
    Group(Group),
    Activity(Activity),
    File(File),
    AppPermission(AppPermission),
    Finding(Finding),
}

impl Record {
    /// What a connector may need to act on this record besides its id: a user's
    /// `login` and `email` (GitHub removes by login).
    pub fn action_params(&self) -> Vec<(String, String)> {
        match self {
            Record::User(u) => [("login", &u.login), ("email", &u.email)]
                .into_iter()
                .filter_map(|(k, v)| v.as_ref().map(|v| (k.to_string(), v.clone())))
                .collect(),
            _ => Vec::new(),
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Record::User(_) => Kind::Users,
            Record::Group(_) => Kind::Groups,
            Record::Activity(_) => Kind::Activities,
            Record::File(_) => Kind::Files,
            Record::AppPermission(_) => Kind::AppPermissions,
            Record::Finding(_) => Kind::Findings,
        }
    }

    /// The provider id: with the instance and kind, the record's key.
    pub fn id(&self) -> &str {
        match self {
            Record::User(r) => &r.id,
            Record::Group(r) => &r.id,
            Record::Activity(r) => &r.id,
            Record::File(r) => &r.id,
            Record::AppPermission(r) => &r.id,
            Record::Finding(r) => &r.id,
        }
    }

    /// The event time, for kinds that are indexed by time.
    pub fn time(&self) -> Option<Millis> {
        match self {
            Record::Activity(a) => Some(a.time),
            _ => None,
        }
    }
}

/// One page from a listing call: records plus where to continue.
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    pub records: Vec<Record>,
    /// Snapshot kinds: next page's cursor, none at the end. Activities: the position to
    /// save (none keeps the previous one).
    pub next_cursor: Option<String>,
    /// Activities only: more events are available right now.
    pub more: bool,
}

/// How deep a record's raw JSON may nest and still be stored as JSON. A stored record
/// wraps its raw JSON a few levels deeper, and reading it back goes through
/// serde_json, which refuses anything nested past 128: deeper raw JSON would be
/// accepted at ingest and make every later read of that kind fail. It is kept as a
/// JSON string instead.
pub const MAX_RAW_DEPTH: usize = 100;

/// The deepest nesting of arrays and objects in JSON `text` (strings skipped; for
/// invalid JSON a number that is at least as large as any real nesting).
#[cfg(test)]
fn nesting_depth(text: &[u8]) -> usize {
    skim(text).depth
}

/// What one pass over JSON text finds without parsing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Skim {
    /// The deepest nesting of arrays and objects (for invalid JSON, at least as large
    /// as any real nesting).
    depth: usize,
    /// Whether reading it back could fail where a syntax check passes: a `\u` escape
    /// (a lone surrogate) or a number with an exponent or hundreds of digits (past
    /// `f64`). Only then does [`RawJson::from_text`] walk it as a read would.
    risky: bool,
}

/// Longer runs of digits may not fit an `f64` (its largest is 309 digits long).
const SAFE_DIGITS: usize = 300;

fn skim(text: &[u8]) -> Skim {
    let (mut depth, mut deepest, mut i) = (0usize, 0usize, 0usize);
    let (mut risky, mut digits) = (false, 0usize);
    while i < text.len() {
        let byte = text[i];
        match byte {
            b'"' => {
                i += 1;
                loop {
                    match quote_or_backslash(text, i) {
                        Some(at) if text[at] == b'\\' => {
                            risky |= text.get(at + 1) == Some(&b'u');
                            i = at + 2;
                        }
                        Some(at) => {
                            i = at + 1;
                            break;
                        }
                        None => {
                            return Skim {
                                depth: deepest,
                                risky: true,
                            };
                        }
                    }
                }
                digits = 0;
                continue;
            }
            b'[' | b'{' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b'0'..=b'9' => {
                let run = text[i..].iter().take_while(|b| b.is_ascii_digit()).count();
                digits += run;
                risky |= digits > SAFE_DIGITS;
                i += run;
                continue;
            }
            // An exponent follows a digit; the `e` of `true` and `false` does not.
            b'e' | b'E' if i > 0 && text[i - 1].is_ascii_digit() => risky = true,
            b'.' if digits > 0 => {
                i += 1;
                continue;
            }
            _ => {}
        }
        digits = 0;
        i += 1;
    }
    Skim {
        depth: deepest,
        risky,
    }
}

/// The first `"` or `\\` in `text` from `from` on, eight bytes at a time. Provider
/// strings are short, and a `memchr` call per string cost as much as serde_json's
/// whole syntax check of the text.
fn quote_or_backslash(text: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH: u64 = ONES << 7;
    let mut i = from;
    while let Some(chunk) = text.get(i..i + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let (quote, backslash) = (
            word ^ (ONES * u64::from(b'"')),
            word ^ (ONES * u64::from(b'\\')),
        );
        // A zero byte in either marks a hit; the lowest flagged byte is always a true one.
        let hits = ((quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash))
            & HIGH;
        if hits != 0 {
            return Some(i + hits.trailing_zeros() as usize / 8);
        }
        i += 8;
    }
    text.get(i..)?
        .iter()
        .position(|&b| b == b'"' || b == b'\\')
        .map(|at| i + at)
}

/// A connector's `raw` text: JSON when it is JSON, else kept as a JSON string.
pub fn raw_json(text: String) -> RawJson {
    RawJson::from_text(text)
}

/// The provider's own JSON for a record.
///
/// Raw JSON is most of every record's bytes and nothing on the ingest path reads inside
/// it, so it is validated once and stored as the provider sent it: no `Value` tree is
/// built, dropped and re-serialised per record (with glibc malloc that was the largest
/// host cost of an ingest). Reading a record back goes through a `Value` (records are
/// an internally tagged enum, which buffers its fields), so queries see the same JSON
/// value with its object keys sorted, as before.
#[derive(Clone, Debug)]
pub struct RawJson(Box<serde_json::value::RawValue>);

impl RawJson {
    /// `text` itself when it is valid JSON nested at most [`MAX_RAW_DEPTH`] deep, else
    /// `text` as a JSON string (nothing the provider said is lost either way).
    pub fn from_text(text: String) -> RawJson {
        // Most provider JSON has no escapes or exponents: one skim and the syntax check
        // `RawValue` does anyway. Only risky text is walked as a read would.
        let skim = skim(text.as_bytes());
        if skim.depth > MAX_RAW_DEPTH
            || (skim.risky && serde_json::from_str::<ReadableJson>(&text).is_err())
        {
            return RawJson::from_value(&serde_json::Value::String(text));
        }
        match serde_json::from_str::<Box<serde_json::value::RawValue>>(&text) {
            Ok(raw) => RawJson(raw),
            Err(_) => RawJson::from_value(&serde_json::Value::String(text)),
        }
    }

    pub fn from_value(value: &serde_json::Value) -> RawJson {
        RawJson(
            serde_json::value::to_raw_value(value).expect("a serde_json::Value always serialises"),
        )
    }

    /// The JSON text, exactly as the provider sent it.
    pub fn get(&self) -> &str {
        self.0.get()
    }

    /// The JSON as a tree, for callers that look inside.
    pub fn value(&self) -> serde_json::Value {
        serde_json::from_str(self.get()).unwrap_or(serde_json::Value::Null)
    }
}

/// JSON that reads back: walked the way reading a stored record parses it, with
/// strings unescaped and numbers converted, and nothing built. `RawValue` only skims
/// both, so `"\ud800"` (a lone surrogate) or `1e400` (past `f64`) were stored as JSON
/// and then failed every later read of their kind.
struct ReadableJson;

impl<'de> Deserialize<'de> for ReadableJson {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<ReadableJson, D::Error> {
        d.deserialize_any(ReadableJson)
    }
}

impl<'de> serde::de::Visitor<'de> for ReadableJson {
    type Value = ReadableJson;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<ReadableJson, E> {
        Ok(self)
    }
    fn visit_bool<E>(self, _: bool) -> Result<ReadableJson, E> {
        Ok(self)
    }
    fn visit_i64<E>(self, _: i64) -> Result<ReadableJson, E> {
        Ok(self)
    }
    fn visit_u64<E>(self, _: u64) -> Result<ReadableJson, E> {
        Ok(self)
    }
    fn visit_f64<E>(self, _: f64) -> Result<ReadableJson, E> {
        Ok(self)
    }
    fn visit_str<E>(self, _: &str) -> Result<ReadableJson, E> {
        Ok(self)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<ReadableJson, A::Error> {
        while seq.next_element::<ReadableJson>()?.is_some() {}
        Ok(self)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<ReadableJson, A::Error> {
        while map.next_entry::<ReadableJson, ReadableJson>()?.is_some() {}
        Ok(self)
    }
}

impl PartialEq for RawJson {
    fn eq(&self, other: &RawJson) -> bool {
        self.get() == other.get()
    }
}

impl From<serde_json::Value> for RawJson {
    fn from(value: serde_json::Value) -> RawJson {
        RawJson::from_value(&value)
    }
}

/// Any JSON: the provider's own record.
impl schemars::JsonSchema for RawJson {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RawJson".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "description": "The provider's record as it sent it." })
    }
}

impl Serialize for RawJson {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for RawJson {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<RawJson, D::Error> {
        serde_json::Value::deserialize(d).map(|v| RawJson::from_value(&v))
    }
}

/// Current time in milliseconds.
pub fn now_millis() -> Millis {
    chrono::Utc::now().timestamp_millis()
}

/// Render a timestamp for people.
pub fn format_millis(ms: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// Parse a point in time given by a person or a client: RFC 3339
/// (`2026-11-22T10:00:00Z`), a date (`2026-11-22`, midnight UTC), milliseconds since
/// the epoch, or a duration meaning "that long ago" (`90m`, `24h`, `7d`).
pub fn parse_time(text: &str) -> Result<Millis, String> {
    let t = text.trim();
    if let Ok(ms) = t.parse::<i64>() {
        return Ok(ms);
    }
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(t) {
        return Ok(dt.timestamp_millis());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(d
            .and_time(chrono::NaiveTime::MIN)
            .and_utc()
            .timestamp_millis());
    }
    if let Ok(ago) = humantime::parse_duration(t) {
        return Ok(now_millis() - ago.as_millis() as Millis);
    }
    Err(format!(
        "invalid time `{text}` (expected RFC 3339 like 2026-11-22T10:00:00Z, a date like 2026-11-22, epoch milliseconds, or a duration ago like 24h)"
    ))
}

/// A write request (anything but GET and HEAD) a call sent, as the host saw it: the
/// plugin cannot misreport what it did.
#[derive(
    Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct SentWrite {
    /// `DELETE https://…` (query included; credentials travel in headers, never here).
    pub request: String,
    /// The provider's HTTP status, or none when no response came.
    pub status: Option<u16>,
}

/// What one kind's scan did.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct KindReport {
    pub kind: Kind,
    pub pages: u64,
    pub records: u64,
    pub deleted: u64,
    /// None: completed (or skipped as unsupported, see `skipped`, or stopped).
    pub error: Option<ConnectorError>,
    pub skipped: bool,
    /// Stopped at a page boundary by a `crate::scan::StopSignal`; resumes from its cursor.
    #[serde(default)]
    pub stopped: bool,
    /// Files only: the content inspection that followed the scan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inspection: Option<InspectReport>,
}

/// What one content-inspection run over an instance's files did
/// (see `crate::inspection`).
#[derive(
    Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct InspectReport {
    /// Files whose content was read and inspected this run.
    pub inspected: u64,
    /// Of those, files in which a classifier matched.
    pub with_hits: u64,
    /// Files recorded as not inspected (their type, a limit, a time limit).
    pub not_inspected: u64,
    /// Files skipped because this version was inspected before.
    pub unchanged: u64,
    /// Content bytes read.
    pub bytes: u64,
    /// Files left for the next run: the run's byte or time budget was spent, or
    /// reading failed.
    pub pending: u64,
    /// The first read error, when one stopped files from being inspected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ConnectorError>,
}

impl KindReport {
    /// A report for a scan that failed before its first page.
    pub fn failed(kind: Kind, error: ConnectorError) -> KindReport {
        KindReport {
            kind,
            pages: 0,
            records: 0,
            deleted: 0,
            error: Some(error),
            skipped: false,
            stopped: false,
            inspection: None,
        }
    }
}

#[cfg(test)]
mod raw_tests {
    use super::*;

    #[test]
    fn nesting_depth_skips_strings_and_escapes() {
        assert_eq!(nesting_depth(br#"{"a": [1, {"b": "[[[{{"}]}"#), 3);
        assert_eq!(nesting_depth(br#"["\"[", "\\", [[]]]"#), 3);
        assert_eq!(nesting_depth(b"42"), 0);
        let deep = format!(
            "{}{}",
            "[".repeat(MAX_RAW_DEPTH + 1),
            "]".repeat(MAX_RAW_DEPTH + 1)
        );
        assert_eq!(nesting_depth(deep.as_bytes()), MAX_RAW_DEPTH + 1);
        assert!(RawJson::from_text(deep.clone()).get().starts_with('"'));
        let ok = format!("{}{}", "[".repeat(MAX_RAW_DEPTH), "]".repeat(MAX_RAW_DEPTH));
        assert_eq!(RawJson::from_text(ok.clone()).get(), ok);
    }

    /// The skim sends to the full walk exactly the text a syntax check can pass and a
    /// read can still fail: `\u` escapes and numbers with exponents or past `f64`'s
    /// digits. Text without them stays JSON after one skim.
    #[test]
    fn only_escapes_and_big_numbers_are_walked_in_full() {
        let risky = |t: &str| skim(t.as_bytes()).risky;
        assert!(!risky(
            r#"{"a": [true, false, null, -12.5, "e1", "x\n\"y"]}"#
        ));
        assert!(risky(r#"{"a": "\ud800"}"#));
        assert!(risky(r#"{"a": 1e400}"#));
        assert!(risky(r#"[2.5E-3]"#));
        let long = format!("[1{}]", "0".repeat(SAFE_DIGITS));
        assert!(risky(&long));
        assert!(!risky(&format!("[1{}]", "0".repeat(SAFE_DIGITS - 1))));
        // What the walk catches is still caught.
        for unreadable in [
            r#"{"a": "\ud800"}"#.to_string(),
            r#"{"a": 1e400}"#.to_string(),
            format!("[1{}]", "0".repeat(400)),
        ] {
            assert!(
                RawJson::from_text(unreadable.clone())
                    .get()
                    .starts_with('"'),
                "{unreadable}"
            );
        }
        let fine = r#"{"a": "\u00e9", "b": 1e3, "c": [true]}"#;
        assert_eq!(RawJson::from_text(fine.to_string()).get(), fine);
    }

    /// The eight-bytes-at-a-time search finds the first `"` or `\\` wherever it sits
    /// in a word, after any bytes (high ones included), as a byte loop does.
    #[test]
    fn quote_or_backslash_finds_the_first_in_any_position() {
        let fillers: [u8; 6] = [b'a', b' ', 0x00, 0x80, 0xff, b'"' ^ 0x80];
        for len in 0..40usize {
            for at in 0..=len {
                for &filler in &fillers {
                    for found in [b'"', b'\\'] {
                        let mut text = vec![filler; len];
                        if at < len {
                            text[at] = found;
                            // A second hit later must not win.
                            if at + 1 < len {
                                text[len - 1] = b'"';
                            }
                        }
                        for from in 0..=len.min(at) {
                            let naive = text[from..]
                                .iter()
                                .position(|&b| b == b'"' || b == b'\\')
                                .map(|i| from + i);
                            assert_eq!(
                                quote_or_backslash(&text, from),
                                naive,
                                "{text:?} from {from}"
                            );
                        }
                    }
                }
            }
        }
        assert_eq!(quote_or_backslash(b"ab", 5), None);
    }
}
