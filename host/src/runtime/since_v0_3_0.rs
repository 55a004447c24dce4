//! Bindings for `sluice:connector@0.3.0` (`wit/since_v0.3.0`), the latest version.
//!
//! Hand-written against this version's generated types: the calls into a component's
//! exports, the import implementations (forwarding to the version-independent
//! capability code) and the conversions to and from [`crate::model`]. Older versions
//! (`since_v0_2_0`, `since_v0_1_0`) have their own generated types and convert them
//! to this version's with `From` (0.1.0 through 0.2.0's), then reuse what is here, so
//! a change to this file never changes what an older version's component sees (the
//! Zed extension-host layout). When 0.4.0 comes, a new latest is written and this
//! file keeps only its `From` conversions to it.

use wasmtime::Store;
use wasmtime::component::{Component, HasSelf, Linker};

use super::{ActionOutcome, ActionRequest, CallState, SentWrite, exports};
use crate::capabilities::http::{HttpFailure, Method, OutboundRequest};
use crate::model::{self, ConnectorError, Kind, Page, raw_json};

#[allow(unsafe_code)] // bindgen! emits unchecked typed-func calls
mod generated {
    wasmtime::component::bindgen!({
        world: "plugin",
        path: "../wit/since_v0.3.0",
        imports: {
            "sluice:connector/http.send": async | trappable,
            default: trappable,
        },
        exports: { default: async },
    });
}

pub(super) use generated::sluice::connector::{config, http, log, types as wit};

impl config::Host for CallState {
    fn get(&mut self, name: String) -> wasmtime::Result<Option<String>> {
        // Secrets are never in this map: the store keeps them apart and only the
        // http capability reads them. Templated defaults were resolved at connect.
        Ok(self.ctx.config.get(&name).cloned())
    }
}

/// Link this version's imports.
pub(super) fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    generated::Plugin::add_to_linker::<CallState, HasSelf<CallState>>(linker, |s| s)
}

/// A component pre-instantiated against this version's linker.
pub(super) type Pre = exports::Bound<10>;

/// The connector interface's functions; the constants below index it.
const EXPORTS: [&str; 10] = [
    "describe",
    "check",
    "list-users",
    "list-groups",
    "list-activities",
    "list-files",
    "list-app-permissions",
    "posture",
    "act",
    "read-file",
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
const READ_FILE: usize = 9;

pub(super) fn pre(linker: &Linker<CallState>, component: &Component) -> wasmtime::Result<Pre> {
    let checked = generated::PluginPre::new(linker.instantiate_pre(component)?)?;
    Pre::new(checked.instance_pre().clone(), component, EXPORTS)
}

/// The call's context in this version's terms (older versions convert it).
pub(super) fn wit_context(state: &CallState) -> wit::Context {
    wit::Context {
        instance_id: state.ctx.instance_id.clone(),
        instance_name: state.ctx.instance_name.clone(),
        since: state.ctx.since,
        until: state.ctx.until,
        now: state.ctx.now.unwrap_or_else(model::now_millis),
        page_size: state.ctx.page_size,
        auth: state.ctx.auth.clone(),
    }
}

impl Pre {
    pub(super) async fn describe(
        &self,
        store: &mut Store<CallState>,
    ) -> wasmtime::Result<model::ConnectorInfo> {
        let f = self.func::<(), (wit::ConnectorInfo,)>(store, DESCRIBE);
        let (info,) = f.await?.call_async(&mut *store, ()).await?;
        Ok(info.into())
    }

    pub(super) async fn check(
        &self,
        store: &mut Store<CallState>,
    ) -> wasmtime::Result<Result<model::Permissions, ConnectorError>> {
        let ctx = wit_context(store.data());
        let f = self.func::<(&wit::Context,), (Result<wit::Permissions, wit::ConnectorError>,)>(
            store, CHECK,
        );
        let (r,) = f.await?.call_async(&mut *store, (&ctx,)).await?;
        Ok(r.map(Into::into).map_err(Into::into))
    }

    pub(super) async fn list(
        &self,
        store: &mut Store<CallState>,
        kind: Kind,
        cursor: Option<String>,
    ) -> wasmtime::Result<Result<Page, ConnectorError>> {
        // Findings are the posture export's one page.
        if kind == Kind::Findings {
            return Ok(self.posture(store).await?.map(super::findings_page));
        }
        let ctx = wit_context(store.data());
        let cursor = cursor.as_deref();
        // One listing export, typechecked as `(context, option<string>) -> R`.
        macro_rules! call_list {
            ($export:ident, $ret:ty) => {{
                let f = self.func::<(&wit::Context, Option<&str>), ($ret,)>(store, $export);
                f.await?.call_async(&mut *store, (&ctx, cursor)).await?.0
            }};
        }
        fn snapshot<T>(items: Vec<T>, next: Option<String>, f: fn(T) -> model::Record) -> Page {
            Page {
                records: items.into_iter().map(f).collect(),
                next_cursor: next,
                more: false,
            }
        }
        Ok(match kind {
            Kind::Users => call_list!(USERS, Result<wit::UserPage, wit::ConnectorError>)
                .map(|p| snapshot(p.items, p.next_cursor, |u| model::Record::User(u.into()))),
            Kind::Groups => call_list!(GROUPS, Result<wit::GroupPage, wit::ConnectorError>)
                .map(|p| snapshot(p.items, p.next_cursor, |g| model::Record::Group(g.into()))),
            Kind::Files => call_list!(FILES, Result<wit::FilePage, wit::ConnectorError>)
                .map(|p| snapshot(p.items, p.next_cursor, |f| model::Record::File(f.into()))),
            Kind::AppPermissions => call_list!(
                APP_PERMISSIONS,
                Result<wit::AppPermissionPage, wit::ConnectorError>
            )
            .map(|p| {
                snapshot(p.items, p.next_cursor, |a| {
                    model::Record::AppPermission(a.into())
                })
            }),
            Kind::Activities => call_list!(
                ACTIVITIES,
                Result<wit::ActivityPage, wit::ConnectorError>
            )
            .map(|p| Page {
                records: p
                    .items
                    .into_iter()
                    .map(|a| model::Record::Activity(a.into()))
                    .collect(),
                next_cursor: p.next_cursor,
                more: p.more,
            }),
            Kind::Findings => unreachable!("answered by posture() above"),
        }
        .map_err(Into::into))
    }

    pub(super) async fn posture(
        &self,
        store: &mut Store<CallState>,
    ) -> wasmtime::Result<Result<Vec<model::Finding>, ConnectorError>> {
        let ctx = wit_context(store.data());
        let f = self.func::<(&wit::Context,), (Result<Vec<wit::Finding>, wit::ConnectorError>,)>(
            store, POSTURE,
        );
        let (r,) = f.await?.call_async(&mut *store, (&ctx,)).await?;
        Ok(r.map(|v| v.into_iter().map(Into::into).collect())
            .map_err(Into::into))
    }

    pub(super) async fn act(
        &self,
        store: &mut Store<CallState>,
        action: ActionRequest,
    ) -> wasmtime::Result<Result<ActionOutcome, ConnectorError>> {
        let ctx = wit_context(store.data());
        let action = wit::Action {
            kind: action.kind.into(),
            target: action.target,
            params: action.params,
            reason: action.reason,
            dry_run: action.dry_run,
        };
        let f = self.func::<(&wit::Context, &wit::Action), (Result<wit::ActionOutcome, wit::ConnectorError>,)>(
            store,
            ACT,
        );
        let (r,) = f.await?.call_async(&mut *store, (&ctx, &action)).await?;
        Ok(r.map(Into::into).map_err(Into::into))
    }

    pub(super) async fn read_file(
        &self,
        store: &mut Store<CallState>,
        id: &str,
        offset: u64,
        length: u32,
    ) -> wasmtime::Result<Result<model::FileChunk, ConnectorError>> {
        let ctx = wit_context(store.data());
        let f = self.func::<(&wit::Context, &str, u64, u32), (Result<wit::FileChunk, wit::ConnectorError>,)>(
            store,
            READ_FILE,
        );
        let (r,) = f
            .await?
            .call_async(&mut *store, (&ctx, id, offset, length))
            .await?;
        Ok(r.map(|c| model::FileChunk {
            data: c.data,
            eof: c.eof,
            size: c.size,
        })
        .map_err(Into::into))
    }
}

impl From<wit::ActionOutcome> for ActionOutcome {
    fn from(o: wit::ActionOutcome) -> Self {
        ActionOutcome {
            status: match o.status {
                wit::ActionStatus::Done => "done",
                wit::ActionStatus::Already => "already",
                wit::ActionStatus::Planned => "planned",
            }
            .to_string(),
            message: o.message,
            requests: o.requests,
            sent: Vec::new(),
        }
    }
}

// ---- imports -------------------------------------------------------------------------

impl wit::Host for CallState {}

impl http::Host for CallState {
    async fn send(
        &mut self,
        req: http::Request,
    ) -> wasmtime::Result<Result<http::Response, http::HttpError>> {
        let out = OutboundRequest {
            method: method(req.method),
            url: req.url,
            headers: req.headers,
            body: req.body,
        };
        let write = out.method.is_write();
        if write && let Err(why) = self.scan_write_allowed(out.method, &out.url) {
            return Ok(Err(http::HttpError::Denied(why)));
        }
        if write && self.read_only {
            return Ok(Err(http::HttpError::Denied(format!(
                "dry run: {} {} not sent (a dry run sends no write request)",
                out.method.as_str(),
                out.url
            ))));
        }
        let line = write.then(|| format!("{} {}", out.method.as_str(), out.url));
        self.clock.http_started();
        let result = self
            .http
            .send(
                &self.ctx.instance_id,
                &self.ctx.instance_name,
                &self.ctx.net,
                out,
            )
            .await;
        self.clock.http_finished();
        if let Some(request) = line {
            let status = result.as_ref().ok().map(|r| r.status);
            self.writes.push(SentWrite { request, status });
        }
        Ok(result
            .map(|r| http::Response {
                status: r.status,
                headers: r.headers,
                body: r.body,
            })
            .map_err(|e| match e {
                HttpFailure::Denied(m) => http::HttpError::Denied(m),
                HttpFailure::InvalidRequest(m) => http::HttpError::InvalidRequest(m),
                HttpFailure::Timeout => http::HttpError::Timeout,
                HttpFailure::Connection(m) => http::HttpError::Connection(m),
                HttpFailure::RateLimited(s) => http::HttpError::RateLimited(s),
                HttpFailure::TooLarge(n) => http::HttpError::TooLarge(n),
            }))
    }
}

impl log::Host for CallState {
    fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        // A chatty or hostile plugin must not flood the host's logs.
        if self.logs_left == 0 {
            return Ok(());
        }
        self.logs_left -= 1;
        let message = crate::capabilities::log::sanitize(&message);
        let (plugin, instance) = (&*self.plugin_id, self.ctx.instance_name.as_str());
        match level {
            log::Level::Trace => tracing::trace!(target: "plugin", plugin, instance, "{message}"),
            log::Level::Debug => tracing::debug!(target: "plugin", plugin, instance, "{message}"),
            log::Level::Info => tracing::info!(target: "plugin", plugin, instance, "{message}"),
            log::Level::Warn => tracing::warn!(target: "plugin", plugin, instance, "{message}"),
            log::Level::Error => tracing::error!(target: "plugin", plugin, instance, "{message}"),
        }
        Ok(())
    }
}

// ---- conversions -----------------------------------------------------------------------

impl From<wit::ConnectorError> for ConnectorError {
    fn from(e: wit::ConnectorError) -> Self {
        use wit::ConnectorError as W;
        match e {
            W::Unauthorized(m) => ConnectorError::Unauthorized(m),
            W::Forbidden(m) => ConnectorError::Forbidden(m),
            W::NotFound(m) => ConnectorError::NotFound(m),
            W::RateLimited(s) => ConnectorError::RateLimited(s),
            W::Upstream(m) => ConnectorError::Upstream(m),
            W::InvalidConfig(m) => ConnectorError::InvalidConfig(m),
            W::Unsupported(m) => ConnectorError::Unsupported(m),
            W::Other(m) => ConnectorError::Other(m),
        }
    }
}

impl From<wit::Capability> for model::Capability {
    fn from(c: wit::Capability) -> Self {
        use model::Capability as M;
        use wit::Capability as W;
        match c {
            W::FileContent => M::FileContent,
            W::SensitivityLabels => M::SensitivityLabels,
            W::Accounts => M::Accounts,
            W::Groups => M::Groups,
            W::Privileges => M::Privileges,
            W::LogonActivity => M::LogonActivity,
            W::UserActivity => M::UserActivity,
            W::AdminActivity => M::AdminActivity,
            W::Files => M::Files,
            W::AppPermissions => M::AppPermissions,
            W::Posture => M::Posture,
        }
    }
}

impl From<wit::ActionKind> for model::ActionKind {
    fn from(a: wit::ActionKind) -> Self {
        use model::ActionKind as M;
        use wit::ActionKind as W;
        match a {
            W::SuspendUser => M::SuspendUser,
            W::UnsuspendUser => M::UnsuspendUser,
            W::RequireSignIn => M::RequireSignIn,
            W::RevokeAppPermission => M::RevokeAppPermission,
            W::QuarantineFile => M::QuarantineFile,
            W::RemoveExternalSharing => M::RemoveExternalSharing,
            W::RemoveGroupMember => M::RemoveGroupMember,
            W::RemoveCollaborator => M::RemoveCollaborator,
            W::RevokeSessions => M::RevokeSessions,
            W::RequirePasswordReset => M::RequirePasswordReset,
            W::RemovePublicLink => M::RemovePublicLink,
            W::RemoveFileCollaborator => M::RemoveFileCollaborator,
            W::TrashFile => M::TrashFile,
            W::ApplyLabel => M::ApplyLabel,
        }
    }
}

impl From<model::ActionKind> for wit::ActionKind {
    fn from(a: model::ActionKind) -> Self {
        use model::ActionKind as M;
        use wit::ActionKind as W;
        match a {
            M::SuspendUser => W::SuspendUser,
            M::UnsuspendUser => W::UnsuspendUser,
            M::RequireSignIn => W::RequireSignIn,
            M::RevokeAppPermission => W::RevokeAppPermission,
            M::QuarantineFile => W::QuarantineFile,
            M::RemoveExternalSharing => W::RemoveExternalSharing,
            M::RemoveGroupMember => W::RemoveGroupMember,
            M::RemoveCollaborator => W::RemoveCollaborator,
            M::RevokeSessions => W::RevokeSessions,
            M::RequirePasswordReset => W::RequirePasswordReset,
            M::RemovePublicLink => W::RemovePublicLink,
            M::RemoveFileCollaborator => W::RemoveFileCollaborator,
            M::TrashFile => W::TrashFile,
            M::ApplyLabel => W::ApplyLabel,
        }
    }
}

impl From<wit::ConnectorInfo> for model::ConnectorInfo {
    fn from(i: wit::ConnectorInfo) -> Self {
        model::ConnectorInfo {
            id: i.id,
            name: i.name,
            version: i.version,
            provider: i.provider,
            description: i.description,
            capabilities: i.capabilities.into_iter().map(Into::into).collect(),
            actions: i.actions.into_iter().map(Into::into).collect(),
            config: i
                .config
                .into_iter()
                .map(|f| model::ConfigField {
                    name: f.name,
                    label: f.label,
                    required: f.required,
                    secret: f.secret,
                    default: f.default,
                    example: f.example,
                    description: f.description,
                })
                .collect(),
            auth: i
                .auth
                .into_iter()
                .map(|o| model::AuthOption {
                    id: o.id,
                    label: o.label,
                    scheme: o.scheme.into(),
                })
                .collect(),
            egress: i.egress,
            rate_limits: i
                .rate_limits
                .into_iter()
                .map(|r| model::RateLimit {
                    scope: r.scope,
                    requests: r.requests,
                    per_seconds: r.per_seconds,
                    burst: r.burst,
                    max_concurrency: r.max_concurrency,
                })
                .collect(),
            scan_writes: i
                .scan_writes
                .into_iter()
                .map(|w| model::ScanWrite {
                    method: method(w.method).as_str().to_string(),
                    url: w.url,
                    reason: w.reason,
                })
                .collect(),
            max_look_back_days: i.max_look_back_days,
            activity_partitions: i.activity_partitions,
        }
    }
}

impl From<wit::Permissions> for model::Permissions {
    fn from(p: wit::Permissions) -> Self {
        model::Permissions {
            principal: p.principal,
            granted: p.granted,
            missing: p
                .missing
                .into_iter()
                .map(|(c, why)| (c.into(), why))
                .collect(),
        }
    }
}

impl From<wit::User> for model::User {
    fn from(u: wit::User) -> Self {
        model::User {
            id: u.id,
            login: u.login,
            email: u.email,
            display_name: u.display_name,
            status: match u.status {
                wit::UserStatus::Active => model::UserStatus::Active,
                wit::UserStatus::Suspended => model::UserStatus::Suspended,
                wit::UserStatus::Disabled => model::UserStatus::Disabled,
                wit::UserStatus::Deleted => model::UserStatus::Deleted,
            },
            is_admin: u.is_admin,
            is_external: u.is_external,
            roles: u.roles,
            group_ids: u.group_ids,
            last_sign_in: u.last_sign_in,
            created: u.created,
            raw: raw_json(u.raw),
        }
    }
}

impl From<wit::Group> for model::Group {
    fn from(g: wit::Group) -> Self {
        model::Group {
            id: g.id,
            name: g.name,
            description: g.description,
            members: g.members,
            raw: raw_json(g.raw),
        }
    }
}

impl From<wit::Activity> for model::Activity {
    fn from(a: wit::Activity) -> Self {
        model::Activity {
            id: a.id,
            time: a.time,
            kind: match a.kind {
                wit::ActivityKind::Logon => model::ActivityKind::Logon,
                wit::ActivityKind::User => model::ActivityKind::User,
                wit::ActivityKind::Admin => model::ActivityKind::Admin,
            },
            actor: a.actor,
            action: a.action,
            targets: a.targets,
            ip: a.ip,
            user_agent: a.user_agent,
            location: a.location.map(|l| model::Location {
                country_code: l.country_code,
                region: l.region,
                city: l.city,
                latitude: degrees(l.latitude),
                longitude: degrees(l.longitude),
            }),
            session_id: a.session_id,
            outcome: match a.outcome {
                wit::Outcome::Success => model::Outcome::Success,
                wit::Outcome::Failure => model::Outcome::Failure,
                wit::Outcome::Unknown => model::Outcome::Unknown,
            },
            raw: raw_json(a.raw),
        }
    }
}

impl From<wit::File> for model::File {
    fn from(f: wit::File) -> Self {
        model::File {
            id: f.id,
            name: f.name,
            path: f.path,
            owner: f.owner,
            mime_type: f.mime_type,
            size: f.size,
            modified: f.modified,
            shared_externally: f.shared_externally,
            public: f.public,
            sharing: model::Sharing {
                links: (f.sharing.links.into_iter())
                    .map(|l| model::ShareLink {
                        audience: match l.audience {
                            wit::LinkAudience::Anyone => model::LinkAudience::Anyone,
                            wit::LinkAudience::Organization => model::LinkAudience::Organization,
                        },
                        domain: l.domain,
                        role: role(l.role),
                        expires: l.expires,
                    })
                    .collect(),
                principals: (f.sharing.principals.into_iter())
                    .map(|p| model::SharePrincipal {
                        id: p.id,
                        kind: match p.kind {
                            wit::PrincipalKind::User => model::PrincipalKind::User,
                            wit::PrincipalKind::Group => model::PrincipalKind::Group,
                            wit::PrincipalKind::Domain => model::PrincipalKind::Domain,
                        },
                        external: p.external,
                        role: role(p.role),
                    })
                    .collect(),
            },
            labels: f.labels,
            content_hash: f.content_hash.map(|h| model::ContentHash {
                algorithm: h.algorithm,
                value: h.value,
            }),
            raw: raw_json(f.raw),
        }
    }
}

impl From<wit::AppPermission> for model::AppPermission {
    fn from(a: wit::AppPermission) -> Self {
        model::AppPermission {
            id: a.id,
            app_id: a.app_id,
            app_name: a.app_name,
            grantee: a.grantee,
            scopes: a.scopes,
            granted_at: a.granted_at,
            raw: raw_json(a.raw),
        }
    }
}

impl From<wit::Finding> for model::Finding {
    fn from(f: wit::Finding) -> Self {
        model::Finding {
            id: f.id,
            title: f.title,
            severity: match f.severity {
                wit::Severity::Info => model::Severity::Info,
                wit::Severity::Low => model::Severity::Low,
                wit::Severity::Medium => model::Severity::Medium,
                wit::Severity::High => model::Severity::High,
                wit::Severity::Critical => model::Severity::Critical,
            },
            passed: f.passed,
            detail: f.detail,
            remediation: f.remediation,
            raw: raw_json(f.raw),
        }
    }
}

impl From<wit::AuthScheme> for model::AuthScheme {
    fn from(a: wit::AuthScheme) -> Self {
        use wit::AuthScheme as W;
        match a {
            W::None => model::AuthScheme::None,
            W::Bearer(b) => model::AuthScheme::Bearer {
                token_field: b.token_field,
            },
            W::Basic(b) => model::AuthScheme::Basic {
                username: b.username,
                password_field: b.password_field,
            },
            W::ApiKey(k) => model::AuthScheme::ApiKey {
                header: k.header,
                prefix: k.prefix,
                key_field: k.key_field,
            },
            W::Oauth2ClientCredentials(o) => model::AuthScheme::Oauth2ClientCredentials {
                token_url: o.token_url,
                client_id_field: o.client_id_field,
                client_secret_field: o.client_secret_field,
                scopes: o.scopes,
                client_auth: match o.client_auth {
                    wit::ClientAuth::RequestBody => model::ClientAuth::RequestBody,
                    wit::ClientAuth::Basic => model::ClientAuth::Basic,
                },
                grant_type: o.grant_type,
                params: o.params,
            },
            W::Oauth2RefreshToken(o) => model::AuthScheme::Oauth2RefreshToken {
                token_url: o.token_url,
                client_id_field: o.client_id_field,
                client_secret_field: o.client_secret_field,
                refresh_token_field: o.refresh_token_field,
                scopes: o.scopes,
            },
            W::JwtBearer(j) => model::AuthScheme::JwtBearer {
                token_url: j.token_url,
                issuer_field: j.issuer_field,
                subject_field: j.subject_field,
                audience: j.audience,
                private_key_field: j.private_key_field,
                scopes: j.scopes,
            },
        }
    }
}

fn method(m: http::Method) -> Method {
    match m {
        http::Method::Get => Method::Get,
        http::Method::Head => Method::Head,
        http::Method::Post => Method::Post,
        http::Method::Put => Method::Put,
        http::Method::Patch => Method::Patch,
        http::Method::Delete => Method::Delete,
    }
}

/// A coordinate as stored: finite (JSON has no NaN or infinity, which would read back
/// as null) and to 7 decimals, about a centimetre. Stored JSON then reads back the
/// exact value: a float with more digits could come back one unit in the last place
/// off, which the boundary property tests caught.
fn degrees(v: Option<f64>) -> Option<f64> {
    v.filter(|v| v.is_finite()).map(|v| (v * 1e7).round() / 1e7)
}

fn role(r: wit::ShareRole) -> model::ShareRole {
    match r {
        wit::ShareRole::Viewer => model::ShareRole::Viewer,
        wit::ShareRole::Commenter => model::ShareRole::Commenter,
        wit::ShareRole::Editor => model::ShareRole::Editor,
        wit::ShareRole::Owner => model::ShareRole::Owner,
    }
}
