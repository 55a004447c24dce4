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

use sluice_sdk::prelude::*;

/// The probe; stateless.
struct OAuthProbe;

impl Guest for OAuthProbe {
    fn describe() -> ConnectorInfo {
        ConnectorInfo {
            id: "oauth-probe".into(),
            name: "OAuth probe".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            provider: "Sluice tests".into(),
            description: "Test-only: calls a protected resource with host-managed tokens.".into(),
            capabilities: Vec::new(),
            actions: Vec::new(),
            config: vec![
                field("token_url", false),
                field("api_url", false),
                field("client_id", false),
                field("scope", false),
                field("urls", false),
                field("client_secret", true),
            ],
            auth: AuthScheme::Oauth2ClientCredentials(Oauth2ClientCredentials {
                token_url: "{token_url}".into(),
                client_id_field: "client_id".into(),
                client_secret_field: "client_secret".into(),
                scopes: vec!["{scope}".into()],
            }),
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
        Err(unsupported())
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

    fn list_app_permissions(
        _: Context,
        _: Option<String>,
    ) -> Result<AppPermissionPage, ConnectorError> {
        Err(unsupported())
    }

    fn posture(_: Context) -> Result<Vec<Finding>, ConnectorError> {
        Err(unsupported())
    }

    fn act(_: Context, _: Action) -> Result<ActionOutcome, ConnectorError> {
        Err(unsupported())
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

/// What every export but `describe` and `check` answers.
fn unsupported() -> ConnectorError {
    ConnectorError::unsupported("the OAuth probe only implements describe and check")
}
