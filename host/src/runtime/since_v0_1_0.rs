//! Bindings for `sluice:connector@0.1.0` (`wit/since_v0.1.0`), released and frozen.
//!
//! This version has its own generated types and nothing else of its own: its imports
//! forward to the latest version's ([`latest`]), and what its exports return is
//! converted to the latest version's types with `From` and from there to the model
//! by the latest's conversions. Only the `From` impls below know 0.1.0's shapes; a
//! change to the latest version never changes what a 0.1.0 component sees.
//!
//! What 0.1.0 lacks reads as empty: no location or session on activities, no sharing
//! details, labels or hash on files, one auth option (`default`), no scan writes
//! declared (so, as before 0.2.0, writes during scans are not refused), and no
//! `read-file` (answered `unsupported`).

use wasmtime::Store;
use wasmtime::component::{Component, HasSelf, Linker};

use super::since_v0_2_0::{self as latest, wit as new};
use super::{ActionOutcome, ActionRequest, CallState, exports};
use crate::model::{self, ConnectorError, Kind, Page};

#[allow(unsafe_code)] // bindgen! emits unchecked typed-func calls
mod generated {
    wasmtime::component::bindgen!({
        world: "plugin",
        path: "../wit/since_v0.1.0",
        imports: {
            "sluice:connector/http.send": async | trappable,
            default: trappable,
        },
        exports: { default: async },
    });
}

use generated::sluice::connector::{config, http, log, types as old};

/// Link this version's imports.
pub(super) fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    generated::Plugin::add_to_linker::<CallState, HasSelf<CallState>>(linker, |s| s)
}

/// A component pre-instantiated against this version's linker.
pub(super) type Pre = exports::Bound<9>;

const EXPORTS: [&str; 9] = [
    "describe",
    "check",
    "list-users",
    "list-groups",
    "list-activities",
    "list-files",
    "list-app-permissions",
    "posture",
    "act",
];
const DESCRIBE: usize = 0;
const CHECK: usize = 1;
const USERS: usize = 2;
const GROUPS: usize = 3;
const ACTIVITIES: usize = 4;
const FILES: usize = 5;
const APP_PERMISSIONS: usize = 6;
const POSTURE: usize = 7;
const ACT: usize = 8;

pub(super) fn pre(linker: &Linker<CallState>, component: &Component) -> wasmtime::Result<Pre> {
    let checked = generated::PluginPre::new(linker.instantiate_pre(component)?)?;
    Pre::new(checked.instance_pre().clone(), component, EXPORTS)
}

/// Snapshot page items converted through the latest version's record type.
fn snapshot<O, N: From<O>>(
    items: Vec<O>,
    next_cursor: Option<String>,
    record: fn(N) -> model::Record,
) -> Page {
    Page {
        records: items.into_iter().map(|i| record(N::from(i))).collect(),
        next_cursor,
        more: false,
    }
}

impl Pre {
    pub(super) async fn describe(
        &self,
        store: &mut Store<CallState>,
    ) -> wasmtime::Result<model::ConnectorInfo> {
        let f = self.func::<(), (old::ConnectorInfo,)>(store, DESCRIBE);
        let (info,) = f.await?.call_async(&mut *store, ()).await?;
        Ok(new::ConnectorInfo::from(info).into())
    }

    pub(super) async fn check(
        &self,
        store: &mut Store<CallState>,
    ) -> wasmtime::Result<Result<model::Permissions, ConnectorError>> {
        let ctx = context(store.data());
        let f = self.func::<(&old::Context,), (Result<old::Permissions, old::ConnectorError>,)>(
            store, CHECK,
        );
        let (r,) = f.await?.call_async(&mut *store, (&ctx,)).await?;
        Ok(r.map(|p| new::Permissions::from(p).into()).map_err(error))
    }

    pub(super) async fn list(
        &self,
        store: &mut Store<CallState>,
        kind: Kind,
        cursor: Option<String>,
    ) -> wasmtime::Result<Result<Page, ConnectorError>> {
        if kind == Kind::Findings {
            return Ok(self.posture(store).await?.map(super::findings_page));
        }
        let ctx = context(store.data());
        let cursor = cursor.as_deref();
        macro_rules! call_list {
            ($export:ident, $page:ty) => {{
                let f = self
                    .func::<(&old::Context, Option<&str>), (Result<$page, old::ConnectorError>,)>(
                        store, $export,
                    );
                f.await?.call_async(&mut *store, (&ctx, cursor)).await?.0
            }};
        }
        use model::Record as R;
        Ok(match kind {
            Kind::Users => call_list!(USERS, old::UserPage)
                .map(|p| snapshot(p.items, p.next_cursor, |u: new::User| R::User(u.into()))),
            Kind::Groups => call_list!(GROUPS, old::GroupPage)
                .map(|p| snapshot(p.items, p.next_cursor, |g: new::Group| R::Group(g.into()))),
            Kind::Files => call_list!(FILES, old::FilePage)
                .map(|p| snapshot(p.items, p.next_cursor, |f: new::File| R::File(f.into()))),
            Kind::AppPermissions => call_list!(APP_PERMISSIONS, old::AppPermissionPage).map(|p| {
                snapshot(p.items, p.next_cursor, |a: new::AppPermission| {
                    R::AppPermission(a.into())
                })
            }),
            Kind::Activities => call_list!(ACTIVITIES, old::ActivityPage).map(|p| Page {
                more: p.more,
                ..snapshot(p.items, p.next_cursor, |a: new::Activity| {
                    R::Activity(a.into())
                })
            }),
            Kind::Findings => unreachable!("answered by posture() above"),
        }
        .map_err(error))
    }

    pub(super) async fn posture(
        &self,
        store: &mut Store<CallState>,
    ) -> wasmtime::Result<Result<Vec<model::Finding>, ConnectorError>> {
        let ctx = context(store.data());
        let f = self.func::<(&old::Context,), (Result<Vec<old::Finding>, old::ConnectorError>,)>(
            store, POSTURE,
        );
        let (r,) = f.await?.call_async(&mut *store, (&ctx,)).await?;
        Ok(r.map(|v| {
            v.into_iter()
                .map(|f| new::Finding::from(f).into())
                .collect()
        })
        .map_err(error))
    }

    pub(super) async fn act(
        &self,
        store: &mut Store<CallState>,
        action: ActionRequest,
    ) -> wasmtime::Result<Result<ActionOutcome, ConnectorError>> {
        let Some(kind) = action_kind(action.kind) else {
            return Ok(Err(ConnectorError::Unsupported(format!(
                "`{}` is not an action of connector contract 0.1.0",
                action.kind
            ))));
        };
        let ctx = context(store.data());
        let action = old::Action {
            kind,
            target: action.target,
            params: action.params,
            reason: action.reason,
            dry_run: action.dry_run,
        };
        let f = self.func::<(&old::Context, &old::Action), (
            Result<old::ActionOutcome, old::ConnectorError>,
        )>(store, ACT);
        let (r,) = f.await?.call_async(&mut *store, (&ctx, &action)).await?;
        Ok(r.map(|o| new::ActionOutcome::from(o).into()).map_err(error))
    }

    /// 0.1.0 has no `read-file`.
    pub(super) async fn read_file(
        &self,
        _store: &mut Store<CallState>,
        _id: &str,
        _offset: u64,
        _length: u32,
    ) -> wasmtime::Result<Result<model::FileChunk, ConnectorError>> {
        Ok(Err(ConnectorError::Unsupported(
            "connectors built against contract 0.1.0 cannot hand over file content".into(),
        )))
    }
}

fn context(state: &CallState) -> old::Context {
    let c = latest::wit_context(state);
    old::Context {
        instance_id: c.instance_id,
        instance_name: c.instance_name,
        since: c.since,
        page_size: c.page_size,
    }
}

fn error(e: old::ConnectorError) -> ConnectorError {
    new::ConnectorError::from(e).into()
}

/// The 0.1.0 spelling of `kind`; none for kinds added later.
fn action_kind(kind: model::ActionKind) -> Option<old::ActionKind> {
    use model::ActionKind as M;
    use old::ActionKind as O;
    Some(match kind {
        M::SuspendUser => O::SuspendUser,
        M::UnsuspendUser => O::UnsuspendUser,
        M::RequireSignIn => O::RequireSignIn,
        M::RevokeAppPermission => O::RevokeAppPermission,
        M::QuarantineFile => O::QuarantineFile,
        M::RemoveExternalSharing => O::RemoveExternalSharing,
        M::RemoveGroupMember => O::RemoveGroupMember,
        M::RemoveCollaborator => O::RemoveCollaborator,
        M::RevokeSessions
        | M::RequirePasswordReset
        | M::RemovePublicLink
        | M::RemoveFileCollaborator
        | M::TrashFile
        | M::ApplyLabel => return None,
    })
}

// ---- imports: forwarded to the latest version -----------------------------------------

impl old::Host for CallState {}

impl config::Host for CallState {
    fn get(&mut self, name: String) -> wasmtime::Result<Option<String>> {
        latest::config::Host::get(self, name)
    }
}

impl http::Host for CallState {
    async fn send(
        &mut self,
        req: http::Request,
    ) -> wasmtime::Result<Result<http::Response, http::HttpError>> {
        use latest::http as n;
        let req = n::Request {
            method: match req.method {
                http::Method::Get => n::Method::Get,
                http::Method::Head => n::Method::Head,
                http::Method::Post => n::Method::Post,
                http::Method::Put => n::Method::Put,
                http::Method::Patch => n::Method::Patch,
                http::Method::Delete => n::Method::Delete,
            },
            url: req.url,
            headers: req.headers,
            body: req.body,
        };
        let r = n::Host::send(self, req).await?;
        Ok(r.map(|r| http::Response {
            status: r.status,
            headers: r.headers,
            body: r.body,
        })
        .map_err(|e| match e {
            n::HttpError::Denied(m) => http::HttpError::Denied(m),
            n::HttpError::InvalidRequest(m) => http::HttpError::InvalidRequest(m),
            n::HttpError::Timeout => http::HttpError::Timeout,
            n::HttpError::Connection(m) => http::HttpError::Connection(m),
            n::HttpError::RateLimited(s) => http::HttpError::RateLimited(s),
            n::HttpError::TooLarge(n) => http::HttpError::TooLarge(n),
        }))
    }
}

impl log::Host for CallState {
    fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        use latest::log::Level as N;
        let level = match level {
            log::Level::Trace => N::Trace,
            log::Level::Debug => N::Debug,
            log::Level::Info => N::Info,
            log::Level::Warn => N::Warn,
            log::Level::Error => N::Error,
        };
        latest::log::Host::log(self, level, message)
    }
}

// ---- what 0.1.0 returns, as the latest version's types --------------------------------

impl From<old::ConnectorError> for new::ConnectorError {
    fn from(e: old::ConnectorError) -> Self {
        use new::ConnectorError as N;
        use old::ConnectorError as O;
        match e {
            O::Unauthorized(m) => N::Unauthorized(m),
            O::Forbidden(m) => N::Forbidden(m),
            O::NotFound(m) => N::NotFound(m),
            O::RateLimited(s) => N::RateLimited(s),
            O::Upstream(m) => N::Upstream(m),
            O::InvalidConfig(m) => N::InvalidConfig(m),
            O::Unsupported(m) => N::Unsupported(m),
            O::Other(m) => N::Other(m),
        }
    }
}

impl From<old::Capability> for new::Capability {
    fn from(c: old::Capability) -> Self {
        use new::Capability as N;
        use old::Capability as O;
        match c {
            O::Accounts => N::Accounts,
            O::Groups => N::Groups,
            O::Privileges => N::Privileges,
            O::LogonActivity => N::LogonActivity,
            O::UserActivity => N::UserActivity,
            O::AdminActivity => N::AdminActivity,
            O::Files => N::Files,
            O::AppPermissions => N::AppPermissions,
            O::Posture => N::Posture,
        }
    }
}

impl From<old::ActionKind> for new::ActionKind {
    fn from(a: old::ActionKind) -> Self {
        use new::ActionKind as N;
        use old::ActionKind as O;
        match a {
            O::SuspendUser => N::SuspendUser,
            O::UnsuspendUser => N::UnsuspendUser,
            O::RequireSignIn => N::RequireSignIn,
            O::RevokeAppPermission => N::RevokeAppPermission,
            O::QuarantineFile => N::QuarantineFile,
            O::RemoveExternalSharing => N::RemoveExternalSharing,
            O::RemoveGroupMember => N::RemoveGroupMember,
            O::RemoveCollaborator => N::RemoveCollaborator,
        }
    }
}

impl From<old::AuthScheme> for new::AuthScheme {
    fn from(a: old::AuthScheme) -> Self {
        use new::AuthScheme as N;
        use old::AuthScheme as O;
        match a {
            O::None => N::None,
            O::Bearer(b) => N::Bearer(new::BearerAuth {
                token_field: b.token_field,
            }),
            // 0.1.0 named a field; 0.2.0 takes a template over config.
            O::Basic(b) => N::Basic(new::BasicAuth {
                username: format!("{{{}}}", b.username_field),
                password_field: b.password_field,
            }),
            O::ApiKey(k) => N::ApiKey(new::ApiKeyHeader {
                header: k.header,
                prefix: k.prefix,
                key_field: k.key_field,
            }),
            O::Oauth2ClientCredentials(o) => {
                N::Oauth2ClientCredentials(new::Oauth2ClientCredentials {
                    token_url: o.token_url,
                    client_id_field: o.client_id_field,
                    client_secret_field: o.client_secret_field,
                    scopes: o.scopes,
                })
            }
            O::Oauth2RefreshToken(o) => N::Oauth2RefreshToken(new::Oauth2RefreshToken {
                token_url: o.token_url,
                client_id_field: o.client_id_field,
                client_secret_field: o.client_secret_field,
                refresh_token_field: o.refresh_token_field,
                scopes: o.scopes,
            }),
            O::JwtBearer(j) => N::JwtBearer(new::JwtBearer {
                token_url: j.token_url,
                issuer_field: j.issuer_field,
                subject_field: j.subject_field,
                audience: j.audience,
                private_key_field: j.private_key_field,
                scopes: j.scopes,
            }),
        }
    }
}

impl From<old::ConnectorInfo> for new::ConnectorInfo {
    fn from(i: old::ConnectorInfo) -> Self {
        new::ConnectorInfo {
            id: i.id,
            name: i.name,
            version: i.version,
            provider: i.provider,
            description: i.description,
            capabilities: i.capabilities.into_iter().map(Into::into).collect(),
            actions: i.actions.into_iter().map(Into::into).collect(),
            config: (i.config.into_iter())
                .map(|f| new::ConfigField {
                    name: f.name,
                    label: f.label,
                    required: f.required,
                    secret: f.secret,
                    default: f.default,
                    example: f.example,
                    description: f.description,
                })
                .collect(),
            // One scheme, the default.
            auth: vec![new::AuthOption {
                id: "default".into(),
                label: "Default".into(),
                scheme: i.auth.into(),
            }],
            egress: i.egress,
            rate_limits: (i.rate_limits.into_iter())
                .map(|r| new::RateLimit {
                    scope: r.scope,
                    requests: r.requests,
                    per_seconds: r.per_seconds,
                    burst: r.burst,
                    max_concurrency: r.max_concurrency,
                })
                .collect(),
            scan_writes: Vec::new(),
            max_look_back_days: None,
        }
    }
}

impl From<old::Permissions> for new::Permissions {
    fn from(p: old::Permissions) -> Self {
        new::Permissions {
            principal: p.principal,
            granted: p.granted,
            missing: (p.missing.into_iter())
                .map(|(c, why)| (c.into(), why))
                .collect(),
        }
    }
}

impl From<old::User> for new::User {
    fn from(u: old::User) -> Self {
        new::User {
            id: u.id,
            login: u.login,
            email: u.email,
            display_name: u.display_name,
            status: match u.status {
                old::UserStatus::Active => new::UserStatus::Active,
                old::UserStatus::Suspended => new::UserStatus::Suspended,
                old::UserStatus::Disabled => new::UserStatus::Disabled,
                old::UserStatus::Deleted => new::UserStatus::Deleted,
            },
            is_admin: u.is_admin,
            is_external: u.is_external,
            roles: u.roles,
            group_ids: u.group_ids,
            last_sign_in: u.last_sign_in,
            created: u.created,
            raw: u.raw,
        }
    }
}

impl From<old::Group> for new::Group {
    fn from(g: old::Group) -> Self {
        new::Group {
            id: g.id,
            name: g.name,
            description: g.description,
            members: g.members,
            raw: g.raw,
        }
    }
}

impl From<old::Activity> for new::Activity {
    fn from(a: old::Activity) -> Self {
        new::Activity {
            id: a.id,
            time: a.time,
            kind: match a.kind {
                old::ActivityKind::Logon => new::ActivityKind::Logon,
                old::ActivityKind::User => new::ActivityKind::User,
                old::ActivityKind::Admin => new::ActivityKind::Admin,
            },
            actor: a.actor,
            action: a.action,
            targets: a.targets,
            ip: a.ip,
            user_agent: a.user_agent,
            location: None,
            session_id: None,
            outcome: match a.outcome {
                old::Outcome::Success => new::Outcome::Success,
                old::Outcome::Failure => new::Outcome::Failure,
                old::Outcome::Unknown => new::Outcome::Unknown,
            },
            raw: a.raw,
        }
    }
}

impl From<old::File> for new::File {
    fn from(f: old::File) -> Self {
        new::File {
            id: f.id,
            name: f.name,
            path: f.path,
            owner: f.owner,
            mime_type: f.mime_type,
            size: f.size,
            modified: f.modified,
            shared_externally: f.shared_externally,
            public: f.public,
            sharing: new::Sharing {
                links: Vec::new(),
                principals: Vec::new(),
            },
            labels: Vec::new(),
            content_hash: None,
            raw: f.raw,
        }
    }
}

impl From<old::AppPermission> for new::AppPermission {
    fn from(a: old::AppPermission) -> Self {
        new::AppPermission {
            id: a.id,
            app_id: a.app_id,
            app_name: a.app_name,
            grantee: a.grantee,
            scopes: a.scopes,
            granted_at: a.granted_at,
            raw: a.raw,
        }
    }
}

impl From<old::Finding> for new::Finding {
    fn from(f: old::Finding) -> Self {
        new::Finding {
            id: f.id,
            title: f.title,
            severity: match f.severity {
                old::Severity::Info => new::Severity::Info,
                old::Severity::Low => new::Severity::Low,
                old::Severity::Medium => new::Severity::Medium,
                old::Severity::High => new::Severity::High,
                old::Severity::Critical => new::Severity::Critical,
            },
            passed: f.passed,
            detail: f.detail,
            remediation: f.remediation,
            raw: f.raw,
        }
    }
}

impl From<old::ActionOutcome> for new::ActionOutcome {
    fn from(o: old::ActionOutcome) -> Self {
        new::ActionOutcome {
            status: match o.status {
                old::ActionStatus::Done => new::ActionStatus::Done,
                old::ActionStatus::Already => new::ActionStatus::Already,
                old::ActionStatus::Planned => new::ActionStatus::Planned,
            },
            message: o.message,
            requests: o.requests,
        }
    }
}
