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

/// The probe; stateless.
struct OAuthProbe;

impl Connector for OAuthProbe {
    fn describe() -> ConnectorInfo {
        let scheme = if cfg!(feature = "refresh-token") {
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
                client_auth: ClientAuth::RequestBody,
                grant_type: None,
                params: Vec::new(),
            })
        };
        let secret = |name: &str| ConfigField::new(name, name).secret();
        ConnectorInfo {
            capabilities: vec![Capability::Accounts],
            actions: vec![ActionKind::SuspendUser],
            config: vec![
                ConfigField::new("token_url", "token_url"),
                ConfigField::new("api_url", "api_url"),
                ConfigField::new("client_id", "client_id"),
                ConfigField::new("scope", "scope"),
                ConfigField::new("urls", "urls"),
                secret("client_secret"),
                secret("refresh_token"),
            ],
            auth: vec![AuthOption::new("oauth", "OAuth", scheme)],
            egress: vec!["{api_url}".into()],
            ..ConnectorInfo::new(
                "oauth-probe",
                "OAuth probe",
                env!("CARGO_PKG_VERSION"),
                "Sluice tests",
                "Test-only: calls a protected resource with host-managed tokens.",
            )
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
        Ok(Permissions::granted(principal, granted))
    }

    fn list_users(_: Context, _: Option<String>) -> Result<UserPage, ConnectorError> {
        let url = format!("{}/users", config::required("api_url")?);
        let body = http::get(url).send()?.error_for_status()?.json_value()?;
        let id = body["subject"].as_str().unwrap_or_default().to_owned();
        Ok(UserPage {
            items: vec![User {
                login: Some(id.clone()),
                ..User::new(id, body.to_string())
            }],
            next_cursor: None,
        })
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
/// What the exports the probe does not implement answer.
fn unsupported() -> ConnectorError {
    ConnectorError::unsupported("the OAuth probe only checks, lists users and suspends")
}
