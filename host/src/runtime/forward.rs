//! The host side of the connector world, shared by every WIT version whose types and
//! functions match the host's: [`forward_to_host!`] expands, inside a version's
//! bindings module, to the calls into its exports, its import implementations
//! (forwarding to the version-independent capability code) and the conversions between
//! its generated types and [`crate::model`].
//!
//! A version module brings its own `generated` bindings into scope as `generated`,
//! `wit` (types), `http`, `log`, and `config`, plus `CallState`, `model`, … (see
//! `v0_1.rs`), then invokes the macro. When a later version changes a type or a
//! function, its module stops using the macro for that part and writes the
//! conversion by hand; versions never share generated types, so a released version's
//! bindings are untouched by newer ones (the Zed extension-host layout).

/// Expands to everything a version module forwards to the host (see the module docs).
macro_rules! forward_to_host {
    () => {
        /// Link this version's imports.
        pub(super) fn add_to_linker(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
            generated::Plugin::add_to_linker::<CallState, HasSelf<CallState>>(linker, |s| s)
        }

        /// A component pre-instantiated against this version's linker.
        pub(super) struct Pre {
            /// The generated bindings' pre-instance: building it checked, once, that
            /// the component exports every function with its type.
            inner: generated::PluginPre<CallState>,
            exports: Exports,
        }

        /// The connector interface's functions, found once at load. A call looks up
        /// and typechecks only the function it calls: the generated `Plugin` looks up
        /// and typechecks all nine on every instantiation, about a tenth of its cost.
        struct Exports {
            describe: wasmtime::component::ComponentExportIndex,
            check: wasmtime::component::ComponentExportIndex,
            list_users: wasmtime::component::ComponentExportIndex,
            list_groups: wasmtime::component::ComponentExportIndex,
            list_activities: wasmtime::component::ComponentExportIndex,
            list_files: wasmtime::component::ComponentExportIndex,
            list_app_permissions: wasmtime::component::ComponentExportIndex,
            posture: wasmtime::component::ComponentExportIndex,
            act: wasmtime::component::ComponentExportIndex,
        }

        pub(super) fn pre(
            linker: &Linker<CallState>,
            component: &Component,
        ) -> wasmtime::Result<Pre> {
            let instance_pre = linker.instantiate_pre(component)?;
            let inner = generated::PluginPre::new(instance_pre)?;
            let engine = component.engine();
            let name = component
                .component_type()
                .exports(engine)
                .map(|(name, _)| name)
                .find(|name| name.starts_with("sluice:connector/connector@"))
                .ok_or_else(|| wasmtime::format_err!("no sluice:connector/connector export"))?
                .to_string();
            let iface = component
                .get_export_index(None, &name)
                .ok_or_else(|| wasmtime::format_err!("no export {name}"))?;
            let func = |f: &str| {
                component
                    .get_export_index(Some(&iface), f)
                    .ok_or_else(|| wasmtime::format_err!("{name} does not export `{f}`"))
            };
            let exports = Exports {
                describe: func("describe")?,
                check: func("check")?,
                list_users: func("list-users")?,
                list_groups: func("list-groups")?,
                list_activities: func("list-activities")?,
                list_files: func("list-files")?,
                list_app_permissions: func("list-app-permissions")?,
                posture: func("posture")?,
                act: func("act")?,
            };
            Ok(Pre { inner, exports })
        }

        fn wit_context(state: &CallState) -> wit::Context {
            wit::Context {
                instance_id: state.ctx.instance_id.clone(),
                instance_name: state.ctx.instance_name.clone(),
                since: state.ctx.since,
                page_size: state.ctx.page_size,
            }
        }

        impl Pre {
            pub(super) async fn instantiate(
                &self,
                store: &mut Store<CallState>,
            ) -> wasmtime::Result<wasmtime::component::Instance> {
                self.inner.instance_pre().instantiate_async(store).await
            }

            /// A fresh instance's export `f`, typechecked as `P -> R`.
            async fn func<P, R>(
                &self,
                store: &mut Store<CallState>,
                f: &wasmtime::component::ComponentExportIndex,
            ) -> wasmtime::Result<wasmtime::component::TypedFunc<P, R>>
            where
                P: wasmtime::component::ComponentNamedList + wasmtime::component::Lower,
                R: wasmtime::component::ComponentNamedList + wasmtime::component::Lift,
            {
                let instance = self.instantiate(store).await?;
                instance
                    .get_func(&mut *store, f)
                    .ok_or_else(|| wasmtime::format_err!("export missing from its instance"))?
                    .typed::<P, R>(&*store)
            }

            pub(super) async fn describe(
                &self,
                store: &mut Store<CallState>,
            ) -> wasmtime::Result<model::ConnectorInfo> {
                let f = self.func::<(), (wit::ConnectorInfo,)>(store, &self.exports.describe);
                let (info,) = f.await?.call_async(&mut *store, ()).await?;
                Ok(info.into())
            }

            pub(super) async fn check(
                &self,
                store: &mut Store<CallState>,
            ) -> wasmtime::Result<Result<model::Permissions, ConnectorError>> {
                let ctx = wit_context(store.data());
                let f = self.func::<(&wit::Context,), (Result<wit::Permissions, wit::ConnectorError>,)>(
                    store,
                    &self.exports.check,
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
                        let f = self.func::<(&wit::Context, Option<&str>), ($ret,)>(
                            store,
                            &self.exports.$export,
                        );
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
                    Kind::Users => call_list!(list_users, Result<wit::UserPage, wit::ConnectorError>)
                        .map(|p| snapshot(p.items, p.next_cursor, |u| model::Record::User(u.into()))),
                    Kind::Groups => call_list!(list_groups, Result<wit::GroupPage, wit::ConnectorError>)
                        .map(|p| snapshot(p.items, p.next_cursor, |g| model::Record::Group(g.into()))),
                    Kind::Files => call_list!(list_files, Result<wit::FilePage, wit::ConnectorError>)
                        .map(|p| snapshot(p.items, p.next_cursor, |f| model::Record::File(f.into()))),
                    Kind::AppPermissions => call_list!(
                        list_app_permissions,
                        Result<wit::AppPermissionPage, wit::ConnectorError>
                    )
                    .map(|p| {
                            snapshot(p.items, p.next_cursor, |a| {
                                model::Record::AppPermission(a.into())
                            })
                        }),
                    Kind::Activities => call_list!(
                        list_activities,
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
                    store,
                    &self.exports.posture,
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
                    &self.exports.act,
                );
                let (r,) = f.await?.call_async(&mut *store, (&ctx, &action)).await?;
                Ok(r.map(|o| ActionOutcome {
                    status: match o.status {
                        wit::ActionStatus::Done => "done",
                        wit::ActionStatus::Already => "already",
                        wit::ActionStatus::Planned => "planned",
                    }
                    .to_string(),
                    message: o.message,
                    requests: o.requests,
                    sent: Vec::new(),
                })
                .map_err(Into::into))
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
                    method: match req.method {
                        http::Method::Get => Method::Get,
                        http::Method::Head => Method::Head,
                        http::Method::Post => Method::Post,
                        http::Method::Put => Method::Put,
                        http::Method::Patch => Method::Patch,
                        http::Method::Delete => Method::Delete,
                    },
                    url: req.url,
                    headers: req.headers,
                    body: req.body,
                };
                let write = out.method.is_write();
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
                }
            }
        }

        impl From<wit::ConnectorInfo> for model::ConnectorInfo {
            fn from(i: wit::ConnectorInfo) -> Self {
                use wit::AuthScheme as W;
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
                    auth: match i.auth {
                        W::None => model::AuthScheme::None,
                        W::Bearer(b) => model::AuthScheme::Bearer {
                            token_field: b.token_field,
                        },
                        W::Basic(b) => model::AuthScheme::Basic {
                            username_field: b.username_field,
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
                    },
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
    };
}

pub(super) use forward_to_host;
