//! A test-only connector whose `describe` declares the OAuth 2.0 client credentials
//! scheme over plain config fields, so the host's auth tests can drive the host's token
//! handling through a real guest.
//!
//! `check` GETs each URL of config `urls` (space-separated; default `{api_url}/me`)
//! with no credentials of its own, through the SDK like a real connector, and reports
//! what the protected resource said: principal = the last answer's `subject`, granted =
//! one `scope` per answer. Errors come from the SDK's status mapping, so a token
//! endpoint refusal surfaces as `unauthorized(<provider message>)` exactly as it would
//! for a production connector. The tests can also hand it call contexts carrying the
//! other token schemes (refresh token, JWT bearer): the guest cannot tell the difference,
//! which is the point.
//!
//! It also lists one user (`GET {api_url}/users`: the principal the resource reports)
//! and runs `suspend-user` as `GET {api_url}/act/{target}`, so actions can be watched
//! fetching tokens too. Built with feature `refresh-token` (crate
//! `testing/oauth-probe-refresh`) it declares the OAuth 2.0 refresh-token scheme
//! instead, with the refresh token in secret config field `refresh_token`.

use sluice_sdk::prelude::*;

/// The one auth option, and what `context.auth` reports.
const AUTH_ID: &str = "oauth";
/// How operators see [`AUTH_ID`].
const AUTH_LABEL: &str = "OAuth";

/// The probe; stateless.
struct OAuthProbe;

impl Guest for OAuthProbe {
    fn describe() -> ConnectorInfo {
        ConnectorInfo {
            scan_writes: Vec::new(),
            max_look_back_days: None,
            id: "oauth-probe".into(),
            name: "OAuth probe".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            provider: "Sluice tests".into(),
            description: "Test-only: calls a protected resource with host-managed tokens.".into(),
            capabilities: vec![Capability::Accounts],
            actions: vec![ActionKind::SuspendUser],
            config: vec![
                field("token_url", false),
                field("api_url", false),
                field("client_id", false),
                field("scope", false),
                field("urls", false),
                field("client_secret", true),
                field("refresh_token", true),
            ],
            auth: vec![AuthOption {
                id: AUTH_ID.into(),
                label: AUTH_LABEL.into(),
                scheme: if cfg!(feature = "refresh-token") {
                    AuthScheme::Oauth2RefreshToken(Oauth2RefreshToken {
                        token_url: "{token_url}".into(),
                        client_id_field: "client_id".into(),
                        client_secret_field: Some("client_secret".into()),
                        refresh_token_field: "refresh_token".into(),
                        scopes: vec!["{scope}".into()],
                    })
                } else {
                    AuthScheme::Oauth2ClientCredentials(Oauth2ClientCredentials {
                        token_url: "{token_url}".into(),
                        client_id_field: "client_id".into(),
                        client_secret_field: "client_secret".into(),
                        scopes: vec!["{scope}".into()],
                    })
                },
            }],
            egress: vec!["{api_url}".into()],
            rate_limits: Vec::new(),
        }
    }

    fn check(_ctx: Context) -> Result<Permissions, ConnectorError> {
        let urls = match config::get("urls").filter(|u| !u.is_empty()) {
            Some(urls) => urls,
            None => format!("{}/me", config::required("api_url")?),
        };
        let mut principal = None;
        let mut granted = Vec::new();
        for url in urls.split(' ').filter(|u| !u.is_empty()) {
            let body = http::get(url).send()?.error_for_status()?.json_value()?;
            principal = body["subject"].as_str().map(str::to_owned);
            granted.push(body["scope"].as_str().unwrap_or_default().to_owned());
        }
        Ok(Permissions {
            principal,
            granted,
            missing: Vec::new(),
        })
    }

    fn list_users(_: Context, _: Option<String>) -> Result<UserPage, ConnectorError> {
        let url = format!("{}/users", config::required("api_url")?);
        let body = http::get(url).send()?.error_for_status()?.json_value()?;
        let id = body["subject"].as_str().unwrap_or_default().to_owned();
        Ok(UserPage {
            items: vec![User {
                id: id.clone(),
                login: Some(id),
                email: None,
                display_name: None,
                status: UserStatus::Active,
                is_admin: false,
                is_external: false,
                roles: Vec::new(),
                group_ids: Vec::new(),
                last_sign_in: None,
                created: None,
                raw: body.to_string(),
            }],
            next_cursor: None,
        })
    }

    fn list_groups(_: Context, _: Option<String>) -> Result<GroupPage, ConnectorError> {
        Err(unsupported())
    }

    fn list_activities(_: Context, _: Option<String>) -> Result<ActivityPage, ConnectorError> {
        Err(unsupported())
    }

    fn list_files(_: Context, _: Option<String>) -> Result<FilePage, ConnectorError> {
        Err(unsupported())
    }

    fn read_file(_: Context, _: String, _: u64, _: u32) -> Result<FileChunk, ConnectorError> {
        Err(ConnectorError::unsupported("no file content"))
    }

    fn list_app_permissions(
        _: Context,
        _: Option<String>,
    ) -> Result<AppPermissionPage, ConnectorError> {
        Err(unsupported())
    }

    fn posture(_: Context) -> Result<Vec<Finding>, ConnectorError> {
        Err(unsupported())
    }

    fn act(_: Context, action: Action) -> Result<ActionOutcome, ConnectorError> {
        if action.kind != ActionKind::SuspendUser {
            return Err(unsupported());
        }
        let url = format!("{}/act/{}", config::required("api_url")?, action.target);
        let request = http::get(url);
        let line = request.line();
        request.send()?.error_for_status()?;
        Ok(ActionOutcome {
            status: ActionStatus::Done,
            message: format!("suspended {}", action.target),
            requests: vec![line],
        })
    }
}

sluice_sdk::export_connector!(OAuthProbe);

/// An optional config field, secret or not.
fn field(name: &str, secret: bool) -> ConfigField {
    ConfigField {
        name: name.into(),
        label: name.into(),
        required: false,
        secret,
        default: None,
        example: None,
        description: None,
    }
}

/// What the exports the probe does not implement answer.
fn unsupported() -> ConnectorError {
    ConnectorError::unsupported("the OAuth probe only checks, lists users and suspends")
}
