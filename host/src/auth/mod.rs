//! Credential injection: turning an instance's auth scheme and secrets into request
//! headers, on the host side of the sandbox.
//!
//! The connector names *which* config fields hold secrets (in `describe`); the host
//! alone reads them and adds them to outgoing requests, so a plugin never holds a
//! token it could leak. Header values are marked sensitive so they are never printed.
//!
//! Static schemes (bearer, basic, api-key) become fixed headers here. The OAuth schemes
//! (client credentials, refresh token, JWT bearer) become a [`TokenPlan`]: what to ask
//! the token endpoint for, with the secrets it needs; the tokens themselves are fetched
//! lazily and cached per instance by the HTTP client's [`TokenCache`] (see [`token`]).
//! A plugin sees neither the secrets nor the tokens.

mod plan;
pub(crate) mod token;

pub use plan::TokenPlan;
pub use token::{PersistSecret, TokenCache};

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};

use crate::model::AuthScheme;
use crate::model::secret::Secrets;

/// Why credentials could not be prepared. Never contains a secret value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AuthError {
    #[error("missing secret `{0}`")]
    MissingSecret(String),
    #[error("missing config field `{0}`")]
    MissingConfig(String),
    #[error("secret `{0}` contains characters not allowed in an HTTP header")]
    InvalidSecret(String),
    #[error("invalid header name `{0}` in the connector's auth scheme")]
    InvalidHeader(String),
    #[error("auth scheme `{0}` is not supported by this sluice version yet")]
    Unsupported(&'static str),
    #[error("the connector's token endpoint `{0}` is not a valid http(s) URL")]
    BadTokenUrl(String),
    #[error("secret `{0}` is not a PEM RSA private key (PKCS#1 or PKCS#8)")]
    BadPrivateKey(String),
    #[error("the connector's auth scheme: {0}")]
    BadTemplate(String),
}

/// Headers the host adds to every request of one instance.
#[derive(Clone, Default)]
pub struct Credentials {
    headers: HeaderMap,
    /// For the OAuth schemes: how to get the bearer token (fetched per request).
    tokens: Option<Arc<TokenPlan>>,
    /// Every secret text these headers carry (the raw secrets and the header values
    /// built from them), so the host can take them out of whatever a provider reflects
    /// back before the plugin sees it.
    injected: Vec<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("tokens", &self.tokens)
            .finish()
    }
}

pub(crate) fn secret<'a>(secrets: &'a Secrets, field: &str) -> Result<&'a str, AuthError> {
    secrets
        .get(field)
        .map(|s| s.expose())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| AuthError::MissingSecret(field.to_string()))
}

pub(crate) fn sensitive(value: String, field: &str) -> Result<HeaderValue, AuthError> {
    let mut v =
        HeaderValue::from_str(&value).map_err(|_| AuthError::InvalidSecret(field.to_string()))?;
    v.set_sensitive(true);
    Ok(v)
}

impl Credentials {
    /// Prepare the headers for `scheme` from the instance's config and secrets.
    pub fn prepare(
        scheme: &AuthScheme,
        config: &BTreeMap<String, String>,
        secrets: &Secrets,
    ) -> Result<Credentials, AuthError> {
        let mut headers = HeaderMap::new();
        match scheme {
            AuthScheme::None => {}
            AuthScheme::Bearer { token_field } => {
                let token = secret(secrets, token_field)?;
                headers.insert(
                    AUTHORIZATION,
                    sensitive(format!("Bearer {token}"), token_field)?,
                );
            }
            AuthScheme::Basic {
                username,
                password_field,
            } => {
                let user =
                    crate::model::template::expand(username, config).map_err(|e| match e {
                        crate::model::template::TemplateError::MissingField { field, .. } => {
                            AuthError::MissingConfig(field)
                        }
                        other => AuthError::MissingConfig(other.to_string()),
                    })?;
                let pass = secret(secrets, password_field)?;
                let encoded =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
                headers.insert(
                    AUTHORIZATION,
                    sensitive(format!("Basic {encoded}"), password_field)?,
                );
            }
            AuthScheme::ApiKey {
                header,
                prefix,
                key_field,
            } => {
                let name = HeaderName::from_bytes(header.as_bytes())
                    .map_err(|_| AuthError::InvalidHeader(header.clone()))?;
                let key = secret(secrets, key_field)?;
                headers.insert(name, sensitive(format!("{prefix}{key}"), key_field)?);
            }
            AuthScheme::Oauth2ClientCredentials { .. }
            | AuthScheme::Oauth2RefreshToken { .. }
            | AuthScheme::JwtBearer { .. } => {
                return Ok(Credentials {
                    headers,
                    tokens: Some(Arc::new(TokenPlan::prepare(scheme, config, secrets)?)),
                    injected: Vec::new(),
                });
            }
        }
        let mut injected: Vec<String> = scheme
            .secret_fields()
            .filter_map(|f| secrets.get(f))
            .map(|s| s.expose().to_owned())
            .collect();
        for value in headers.values() {
            let text = String::from_utf8_lossy(value.as_bytes());
            // `Basic <base64>`, `SSWS <key>`: the encoded part as sent, too.
            injected.push(text.rsplit(' ').next().unwrap_or(&text).to_owned());
        }
        injected.sort();
        injected.dedup();
        Ok(Credentials {
            headers,
            tokens: None,
            injected,
        })
    }

    /// The token plan of an OAuth scheme; `None` for static schemes.
    pub fn tokens(&self) -> Option<&Arc<TokenPlan>> {
        self.tokens.as_ref()
    }

    /// Replace whatever the plugin put in the credential headers with the real ones.
    pub fn apply(&self, headers: &mut HeaderMap) {
        headers.remove(AUTHORIZATION);
        for (name, value) in &self.headers {
            headers.insert(name.clone(), value.clone());
        }
    }

    /// The secret texts these credentials put on the wire (not the OAuth access
    /// token, which the credentials stage knows per request).
    pub fn injected(&self) -> &[String] {
        &self.injected
    }

    /// Header names this instance's credentials occupy (stripped from plugin requests).
    /// `Authorization` is always stripped by [`apply`](Self::apply) as well.
    pub fn header_names(&self) -> impl Iterator<Item = &HeaderName> {
        self.headers.keys()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::secret::Secret;

    fn secrets(pairs: &[(&str, &str)]) -> Secrets {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Secret::new(*v)))
            .collect()
    }

    #[test]
    fn bearer_replaces_plugin_authorization_and_is_sensitive() {
        let creds = Credentials::prepare(
            &AuthScheme::Bearer {
                token_field: "token".into(),
            },
            &BTreeMap::new(),
            &secrets(&[("token", "t0k")]),
        )
        .unwrap();
        let mut h = HeaderMap::new();
        h.insert(
            AUTHORIZATION,
            HeaderValue::from_static("Bearer plugin-made-this-up"),
        );
        creds.apply(&mut h);
        assert_eq!(h[AUTHORIZATION], "Bearer t0k");
        assert!(h[AUTHORIZATION].is_sensitive());
        assert!(!format!("{creds:?}").contains("t0k"));
    }

    #[test]
    fn basic_and_api_key_headers() {
        let mut config = BTreeMap::new();
        config.insert("user".to_string(), "alice".to_string());
        let basic = Credentials::prepare(
            &AuthScheme::Basic {
                username: "{user}".into(),
                password_field: "pw".into(),
            },
            &config,
            &secrets(&[("pw", "open sesame")]),
        )
        .unwrap();
        let mut h = HeaderMap::new();
        basic.apply(&mut h);
        assert_eq!(h[AUTHORIZATION], "Basic YWxpY2U6b3BlbiBzZXNhbWU=");
        // 0.2.0: the user name is a template over config (Zendesk's `{email}/token`).
        let templated = Credentials::prepare(
            &AuthScheme::Basic {
                username: "{user}/token".into(),
                password_field: "pw".into(),
            },
            &config,
            &secrets(&[("pw", "open sesame")]),
        )
        .unwrap();
        let mut h = HeaderMap::new();
        templated.apply(&mut h);
        assert_eq!(h[AUTHORIZATION], "Basic YWxpY2UvdG9rZW46b3BlbiBzZXNhbWU=");

        let okta = Credentials::prepare(
            &AuthScheme::ApiKey {
                header: "authorization".into(),
                prefix: "SSWS ".into(),
                key_field: "api_token".into(),
            },
            &config,
            &secrets(&[("api_token", "00abc")]),
        )
        .unwrap();
        let mut h = HeaderMap::new();
        okta.apply(&mut h);
        assert_eq!(h[AUTHORIZATION], "SSWS 00abc");
    }

    #[test]
    fn missing_secret_is_named_not_shown() {
        let err = Credentials::prepare(
            &AuthScheme::Bearer {
                token_field: "token".into(),
            },
            &BTreeMap::new(),
            &Secrets::new(),
        )
        .unwrap_err();
        assert_eq!(err, AuthError::MissingSecret("token".into()));
    }
}
