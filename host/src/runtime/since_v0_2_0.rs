//! Bindings for `sluice:connector@0.2.0` (`wit/since_v0.2.0`), released and frozen.
//!
//! This version has its own generated types and nothing else of its own: its imports
//! forward to the latest version's ([`latest`]), and what its exports return is
//! converted to the latest version's types with the `Up` conversions below and from
//! there to the model by the latest's conversions. 0.1.0 converts to this version's
//! types first, then comes through here. A change to the latest version never changes
//! what a 0.2.0 component sees.
//!
//! What 0.2.0 lacks reads as its 0.2.0 meaning: client credentials go in the form body
//! with `grant_type=client_credentials` and no other parameter, and activities are
//! never fetched as partitions (`context.until` is never set for it).

use wasmtime::Store;
use wasmtime::component::{Component, HasSelf, Linker};

use super::since_v0_3_0::{self as latest, wit as new};
use super::{ActionOutcome, ActionRequest, CallState, exports};
use crate::model::{self, ConnectorError, Kind, Page};

#[allow(unsafe_code)] // bindgen! emits unchecked typed-func calls
mod generated {
    wasmtime::component::bindgen!({
        world: "plugin",
        path: "../wit/since_v0.2.0",
        imports: {
            "sluice:connector/http.send": async | trappable,
            default: trappable,
        },
        exports: { default: async },
    });
}

pub(super) use generated::sluice::connector::{config, http, log, types as wit};
use wit as old;

/// Link this version's imports.
pub(super) fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    generated::Plugin::add_to_linker::<CallState, HasSelf<CallState>>(linker, |s| s)
}

/// A component pre-instantiated against this version's linker (a type of its own:
/// 0.3.0's `Bound<10>` has the same export count).
pub(super) struct Pre(exports::Bound<10>);

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
    exports::Bound::new(checked.instance_pre().clone(), component, EXPORTS).map(Pre)
}

/// The call's context in this version's terms (0.1.0 converts it further).
pub(super) fn wit_context(state: &CallState) -> old::Context {
    let c = latest::wit_context(state);
    old::Context {
        instance_id: c.instance_id,
        instance_name: c.instance_name,
        since: c.since,
        page_size: c.page_size,
        auth: c.auth,
    }
}

/// Snapshot page items converted through the latest version's record type.
fn snapshot<O: Up<N>, N>(
    items: Vec<O>,
    next_cursor: Option<String>,
    record: fn(N) -> model::Record,
) -> Page {
    Page {
        records: items.into_iter().map(|i| record(i.up())).collect(),
        next_cursor,
        more: false,
    }
}

impl Pre {
    pub(super) async fn instantiate(
        &self,
        store: &mut Store<CallState>,
    ) -> wasmtime::Result<wasmtime::component::Instance> {
        self.0.instantiate(store).await
    }

    pub(super) async fn describe(
        &self,
        store: &mut Store<CallState>,
    ) -> wasmtime::Result<model::ConnectorInfo> {
        let f = self.0.func::<(), (old::ConnectorInfo,)>(store, DESCRIBE);
        let (info,) = f.await?.call_async(&mut *store, ()).await?;
        Ok(info.into())
    }

    pub(super) async fn check(
        &self,
        store: &mut Store<CallState>,
    ) -> wasmtime::Result<Result<model::Permissions, ConnectorError>> {
        let ctx = wit_context(store.data());
        let f = self
            .0
            .func::<(&old::Context,), (Result<old::Permissions, old::ConnectorError>,)>(
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
        if kind == Kind::Findings {
            return Ok(self.posture(store).await?.map(super::findings_page));
        }
        let ctx = wit_context(store.data());
        let cursor = cursor.as_deref();
        macro_rules! call_list {
            ($export:ident, $page:ty) => {{
                let f = self
                    .0
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
        .map_err(Into::into))
    }

    pub(super) async fn posture(
        &self,
        store: &mut Store<CallState>,
    ) -> wasmtime::Result<Result<Vec<model::Finding>, ConnectorError>> {
        let ctx = wit_context(store.data());
        let f = self
            .0
            .func::<(&old::Context,), (Result<Vec<old::Finding>, old::ConnectorError>,)>(
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
        let action = old::Action {
            kind: action_kind(action.kind),
            target: action.target,
            params: action.params,
            reason: action.reason,
            dry_run: action.dry_run,
        };
        let f = self.0.func::<(&old::Context, &old::Action), (
            Result<old::ActionOutcome, old::ConnectorError>,
        )>(store, ACT);
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
        let f = self.0.func::<(&old::Context, &str, u64, u32), (Result<old::FileChunk, old::ConnectorError>,)>(
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

/// The 0.2.0 spelling of `kind` (0.3.0 added no action kinds).
fn action_kind(kind: model::ActionKind) -> old::ActionKind {
    use model::ActionKind as M;
    use old::ActionKind as O;
    match kind {
        M::SuspendUser => O::SuspendUser,
        M::UnsuspendUser => O::UnsuspendUser,
        M::RequireSignIn => O::RequireSignIn,
        M::RevokeAppPermission => O::RevokeAppPermission,
        M::QuarantineFile => O::QuarantineFile,
        M::RemoveExternalSharing => O::RemoveExternalSharing,
        M::RemoveGroupMember => O::RemoveGroupMember,
        M::RemoveCollaborator => O::RemoveCollaborator,
        M::RevokeSessions => O::RevokeSessions,
        M::RequirePasswordReset => O::RequirePasswordReset,
        M::RemovePublicLink => O::RemovePublicLink,
        M::RemoveFileCollaborator => O::RemoveFileCollaborator,
        M::TrashFile => O::TrashFile,
        M::ApplyLabel => O::ApplyLabel,
    }
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
            method: req.method.up(),
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
        latest::log::Host::log(self, level.up(), message)
    }
}

// ---- what 0.2.0 returns, as the latest version's types --------------------------------

/// A 0.2.0 value as the latest version's: `From` between generated types, plus the
/// shapes around them (options, lists, pairs) and plain values as they are, so each
/// record below is one line naming its fields.
trait Up<T> {
    fn up(self) -> T;
}

macro_rules! unchanged {
    ($($t:ty),*) => {$(
        impl Up<$t> for $t {
            fn up(self) -> $t {
                self
            }
        }
    )*};
}
unchanged!(String, bool, u8, u32, u64, i64, f64);

impl<A: Up<B>, B> Up<Option<B>> for Option<A> {
    fn up(self) -> Option<B> {
        self.map(Up::up)
    }
}

impl<A: Up<B>, B> Up<Vec<B>> for Vec<A> {
    fn up(self) -> Vec<B> {
        self.into_iter().map(Up::up).collect()
    }
}

impl<A: Up<C>, B: Up<D>, C, D> Up<(C, D)> for (A, B) {
    fn up(self) -> (C, D) {
        (self.0.up(), self.1.up())
    }
}

/// Records with the same fields in both versions; `{ ..., field = expr }` fills a
/// field the latest version added.
macro_rules! same_record {
    ($($t:ident { $($f:ident),* $(; $($added:ident = $value:expr),*)? })*) => {$(
        impl Up<new::$t> for old::$t {
            fn up(self) -> new::$t {
                new::$t { $($f: self.$f.up(),)* $($($added: $value,)*)? }
            }
        }
    )*};
}

/// Enums with the same cases in both versions.
macro_rules! same_enum {
    ($($from:ident::$t:ident => $to:ident { $($case:ident),* })*) => {$(
        impl Up<$to::$t> for $from::$t {
            fn up(self) -> $to::$t {
                match self {
                    $($from::$t::$case => $to::$t::$case,)*
                }
            }
        }
    )*};
}

same_enum! {
    old::Capability => new { Accounts, Groups, Privileges, LogonActivity, UserActivity,
        AdminActivity, Files, AppPermissions, Posture, FileContent, SensitivityLabels }
    old::ActionKind => new { SuspendUser, UnsuspendUser, RequireSignIn, RevokeAppPermission,
        QuarantineFile, RemoveExternalSharing, RemoveGroupMember, RemoveCollaborator,
        RevokeSessions, RequirePasswordReset, RemovePublicLink, RemoveFileCollaborator,
        TrashFile, ApplyLabel }
    old::UserStatus => new { Active, Suspended, Disabled, Deleted }
    old::ActivityKind => new { Logon, User, Admin }
    old::Outcome => new { Success, Failure, Unknown }
    old::LinkAudience => new { Anyone, Organization }
    old::ShareRole => new { Viewer, Commenter, Editor, Owner }
    old::PrincipalKind => new { User, Group, Domain }
    old::Severity => new { Info, Low, Medium, High, Critical }
    old::ActionStatus => new { Done, Already, Planned }
    http::Method => n { Get, Head, Post, Put, Patch, Delete }
    log::Level => nl { Trace, Debug, Info, Warn, Error }
}
use latest::{http as n, log as nl};

same_record! {
    ConfigField { name, label, required, secret, default, example, description }
    BearerAuth { token_field }
    BasicAuth { username, password_field }
    ApiKeyHeader { header, prefix, key_field }
    // 0.2.0 sent the client's id and secret in the form body, with no other parameter.
    Oauth2ClientCredentials { token_url, client_id_field, client_secret_field, scopes;
        client_auth = new::ClientAuth::RequestBody, grant_type = None, params = Vec::new() }
    Oauth2RefreshToken { token_url, client_id_field, client_secret_field, refresh_token_field,
        scopes }
    JwtBearer { token_url, issuer_field, subject_field, audience, private_key_field, scopes }
    AuthOption { id, label, scheme }
    ScanWrite { method, url, reason }
    RateLimit { scope, requests, per_seconds, burst, max_concurrency }
    ConnectorInfo { id, name, version, provider, description, capabilities, actions, config,
        auth, egress, rate_limits, scan_writes, max_look_back_days;
        activity_partitions = false }
    Permissions { principal, granted, missing }
    User { id, login, email, display_name, status, is_admin, is_external, roles, group_ids,
        last_sign_in, created, raw }
    Group { id, name, description, members, raw }
    Location { country_code, region, city, latitude, longitude }
    Activity { id, time, kind, actor, action, targets, ip, user_agent, location, session_id,
        outcome, raw }
    ShareLink { audience, domain, role, expires }
    SharePrincipal { id, kind, external, role }
    Sharing { links, principals }
    ContentHash { algorithm, value }
    File { id, name, path, owner, mime_type, size, modified, shared_externally, public,
        sharing, labels, content_hash, raw }
    AppPermission { id, app_id, app_name, grantee, scopes, granted_at, raw }
    Finding { id, title, severity, passed, detail, remediation, raw }
    ActionOutcome { status, message, requests }
}

impl Up<new::AuthScheme> for old::AuthScheme {
    fn up(self) -> new::AuthScheme {
        use new::AuthScheme as N;
        use old::AuthScheme as O;
        match self {
            O::None => N::None,
            O::Bearer(b) => N::Bearer(b.up()),
            O::Basic(b) => N::Basic(b.up()),
            O::ApiKey(k) => N::ApiKey(k.up()),
            O::Oauth2ClientCredentials(o) => N::Oauth2ClientCredentials(o.up()),
            O::Oauth2RefreshToken(o) => N::Oauth2RefreshToken(o.up()),
            O::JwtBearer(j) => N::JwtBearer(j.up()),
        }
    }
}

impl Up<new::ConnectorError> for old::ConnectorError {
    fn up(self) -> new::ConnectorError {
        use new::ConnectorError as N;
        use old::ConnectorError as O;
        match self {
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

/// A 0.2.0 value straight into the model (or the runtime's outcome), through the
/// latest version's type: what this module's calls and 0.1.0's use.
macro_rules! into_model {
    ($($t:ident => $m:ty),*) => {$(
        impl From<old::$t> for $m {
            fn from(v: old::$t) -> Self {
                Up::<new::$t>::up(v).into()
            }
        }
    )*};
}
into_model!(
    ConnectorInfo => model::ConnectorInfo,
    ConnectorError => ConnectorError,
    Permissions => model::Permissions,
    User => model::User,
    Group => model::Group,
    Activity => model::Activity,
    File => model::File,
    AppPermission => model::AppPermission,
    Finding => model::Finding,
    ActionOutcome => ActionOutcome
);
