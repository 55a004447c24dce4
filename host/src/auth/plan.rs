//! What to ask a token endpoint for: a [`TokenPlan`] built from the connector's
//! declared OAuth scheme and an instance's config and secrets (templates expanded,
//! private key parsed), with the form each grant sends and the secrets to redact
//! from anything the endpoint answers.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use sha2::{Digest, Sha256};
use url::Url;

use super::token::TokenError;
use super::{AuthError, secret};
use crate::model::secret::{Secret, Secrets};
use crate::model::template::TemplateError;
use crate::model::{AuthScheme, ClientAuth};

/// Lifetime of a JWT bearer assertion (`exp` = `iat` + this).
const ASSERTION_LIFETIME: u64 = 3600;

/// The RFC 7523 grant type.
const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// How the token endpoint is asked.
pub(super) enum Grant {
    ClientCredentials {
        client_id: String,
        client_secret: Secret,
        /// Send the id and secret as HTTP Basic (`client_secret_basic`), not in the form.
        basic: bool,
        /// The `grant_type`: `client_credentials`, or e.g. Zoom's `account_credentials`.
        grant_type: String,
        /// More form parameters, expanded over config.
        params: Vec<(String, String)>,
    },
    RefreshToken {
        client_id: String,
        client_secret: Option<Secret>,
        /// The secret field holding the refresh token (where a rotation is written).
        field: String,
        refresh_token: Secret,
    },
    Jwt {
        issuer: String,
        subject: String,
        audience: String,
        key: EncodingKey,
    },
}

impl Grant {
    pub(super) fn name(&self) -> &'static str {
        match self {
            Grant::ClientCredentials { .. } => "client_credentials",
            Grant::RefreshToken { .. } => "refresh_token",
            Grant::Jwt { .. } => "jwt_bearer",
        }
    }
}

/// One token the instance needs: the `scope` requested for it and, for
/// resource-qualified scopes, the origin of the resource it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Target {
    pub(super) scope: Option<String>,
    pub(super) origin: Option<url::Origin>,
}

/// What to ask the token endpoint for, with the secrets it takes. `Debug` shows no secret.
pub struct TokenPlan {
    pub(super) token_url: Url,
    pub(super) grant: Grant,
    /// Scopes, expanded.
    pub(super) scopes: Vec<String>,
    /// One entry per token: several for resource-qualified scopes, else one.
    pub(super) targets: Vec<Target>,
    /// Every secret value of the plan, for redacting provider messages.
    pub(super) redact: Vec<String>,
    /// Identifies the plan's inputs (secrets hashed, the refresh token left out, since
    /// rotation changes it): a changed config or secret drops cached tokens.
    pub(super) fingerprint: [u8; 32],
    /// Hash of the refresh token the plan was built with.
    pub(super) refresh_seed: Option<[u8; 32]>,
}

impl fmt::Debug for TokenPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenPlan")
            .field("token_url", &self.token_url.as_str())
            .field("grant", &self.grant.name())
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

pub(super) fn config_value(
    config: &BTreeMap<String, String>,
    field: &str,
) -> Result<String, AuthError> {
    config
        .get(field)
        .filter(|v| !v.is_empty())
        .cloned()
        .ok_or_else(|| AuthError::MissingConfig(field.to_owned()))
}

/// `template` with `{name}` replaced by config `name`.
pub(super) fn expand(
    template: &str,
    config: &BTreeMap<String, String>,
) -> Result<String, AuthError> {
    crate::model::template::expand(template, config).map_err(|e| match e {
        TemplateError::MissingField { field, .. } => AuthError::MissingConfig(field),
        other => AuthError::BadTemplate(other.to_string()),
    })
}

/// `base64(id:secret)` with both form-urlencoded first, as RFC 6749 section 2.3.1
/// asks (a no-op for the letters, digits, `-`, `.`, `_` and `~` ids and secrets are
/// made of in practice).
fn basic_credentials(client_id: &str, client_secret: &str) -> String {
    use base64::Engine;
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        encode(client_id),
        encode(client_secret)
    ))
}

pub(super) fn hash(parts: &[&str]) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in parts {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().into()
}

/// A scope that names a resource: an absolute http(s) URL ending in `/.default`.
pub(super) fn resource_origin(scope: &str) -> Option<url::Origin> {
    scope.strip_suffix("/.default")?;
    let url = Url::parse(scope).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.origin())
}

/// The tokens a scope list needs (contract point 4): one per resource-qualified scope
/// when there are several, else one for all scopes together.
pub(super) fn targets(scopes: &[String]) -> Vec<Target> {
    let resources: Vec<Target> = scopes
        .iter()
        .filter_map(|s| {
            resource_origin(s).map(|origin| Target {
                scope: Some(s.clone()),
                origin: Some(origin),
            })
        })
        .collect();
    if resources.len() >= 2 {
        return resources;
    }
    vec![Target {
        scope: (!scopes.is_empty()).then(|| scopes.join(" ")),
        origin: None,
    }]
}

impl TokenPlan {
    /// The plan for an OAuth `scheme`; `Unsupported` for the static schemes.
    pub fn prepare(
        scheme: &AuthScheme,
        config: &BTreeMap<String, String>,
        secrets: &Secrets,
    ) -> Result<TokenPlan, AuthError> {
        let (token_url, scopes) = match scheme {
            AuthScheme::Oauth2ClientCredentials {
                token_url, scopes, ..
            }
            | AuthScheme::Oauth2RefreshToken {
                token_url, scopes, ..
            }
            | AuthScheme::JwtBearer {
                token_url, scopes, ..
            } => (token_url, scopes),
            other => return Err(AuthError::Unsupported(other.name())),
        };
        let url_text = expand(token_url, config)?;
        let token_url = Url::parse(&url_text)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .ok_or(AuthError::BadTokenUrl(url_text))?;
        let scopes = scopes
            .iter()
            .map(|s| expand(s, config))
            .collect::<Result<Vec<_>, _>>()?;
        let mut redact = Vec::new();
        let mut parts: Vec<String> = vec![token_url.to_string(), scopes.join(" ")];
        let mut refresh_seed = None;
        let grant = match scheme {
            AuthScheme::Oauth2ClientCredentials {
                client_id_field,
                client_secret_field,
                client_auth,
                grant_type,
                params,
                ..
            } => {
                let client_id = client_id_of(config, secrets, client_id_field)?;
                let client_secret = secret(secrets, client_secret_field)?.to_owned();
                let grant_type = grant_type.as_deref().unwrap_or("client_credentials");
                let params = (params.iter())
                    .map(|(name, value)| Ok((name.clone(), expand(value, config)?)))
                    .collect::<Result<Vec<_>, AuthError>>()?;
                let basic = *client_auth == ClientAuth::Basic;
                parts.extend([client_id.clone(), hex::encode(hash(&[&client_secret]))]);
                parts.extend([grant_type.to_owned(), basic.to_string()]);
                parts.extend(params.iter().flat_map(|(n, v)| [n.clone(), v.clone()]));
                redact.push(client_secret.clone());
                if basic {
                    redact.push(basic_credentials(&client_id, &client_secret));
                }
                Grant::ClientCredentials {
                    client_id,
                    client_secret: Secret::new(client_secret),
                    basic,
                    grant_type: grant_type.to_owned(),
                    params,
                }
            }
            AuthScheme::Oauth2RefreshToken {
                client_id_field,
                client_secret_field,
                refresh_token_field,
                ..
            } => {
                let client_id = client_id_of(config, secrets, client_id_field)?;
                let client_secret = match client_secret_field {
                    Some(field) => Some(secret(secrets, field)?.to_owned()),
                    None => None,
                };
                let refresh_token = secret(secrets, refresh_token_field)?.to_owned();
                parts.extend([
                    client_id.clone(),
                    hex::encode(hash(&[client_secret.as_deref().unwrap_or_default()])),
                    refresh_token_field.clone(),
                ]);
                refresh_seed = Some(hash(&[&refresh_token]));
                redact.extend(client_secret.clone());
                redact.push(refresh_token.clone());
                Grant::RefreshToken {
                    client_id,
                    client_secret: client_secret.map(Secret::new),
                    field: refresh_token_field.clone(),
                    refresh_token: Secret::new(refresh_token),
                }
            }
            AuthScheme::JwtBearer {
                issuer_field,
                subject_field,
                audience,
                private_key_field,
                ..
            } => {
                let issuer = config_value(config, issuer_field)?;
                let subject = config_value(config, subject_field)?;
                let audience = expand(audience, config)?;
                let pem = secret(secrets, private_key_field)?;
                let key = EncodingKey::from_rsa_pem(pem.as_bytes())
                    .map_err(|_| AuthError::BadPrivateKey(private_key_field.clone()))?;
                parts.extend([
                    issuer.clone(),
                    subject.clone(),
                    audience.clone(),
                    hex::encode(hash(&[pem])),
                ]);
                redact.push(pem.to_owned());
                Grant::Jwt {
                    issuer,
                    subject,
                    audience,
                    key,
                }
            }
            _ => unreachable!("static schemes returned above"),
        };
        parts.push(grant.name().to_owned());
        let fingerprint = hash(&parts.iter().map(String::as_str).collect::<Vec<_>>());
        Ok(TokenPlan {
            targets: targets(&scopes),
            token_url,
            grant,
            scopes,
            redact,
            fingerprint,
            refresh_seed,
        })
    }

    /// The token endpoint (after template expansion).
    pub fn token_url(&self) -> &Url {
        &self.token_url
    }

    /// Index into `targets` of the token a request to `url` carries: the resource
    /// scope with the same origin, else the first.
    pub(super) fn target_for(&self, url: &Url) -> usize {
        let origin = url.origin();
        self.targets
            .iter()
            .position(|t| t.origin.as_ref() == Some(&origin))
            .unwrap_or(0)
    }

    /// The scope requested for the token a request to `url` carries.
    pub fn scope_for(&self, url: &Url) -> Option<&str> {
        self.targets[self.target_for(url)].scope.as_deref()
    }

    /// `text` with every secret of the plan replaced by `[redacted]`.
    pub(super) fn redacted(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for value in self.redact.iter().filter(|v| v.len() >= 4) {
            out = out.replace(value.as_str(), "[redacted]");
        }
        out
    }

    /// The token request's form body; `refresh_token` is the one to use now.
    pub(super) fn form(
        &self,
        target: &Target,
        refresh_token: Option<&Secret>,
    ) -> Result<String, TokenError> {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        match &self.grant {
            Grant::ClientCredentials {
                client_id,
                client_secret,
                basic,
                grant_type,
                params,
            } => {
                form.append_pair("grant_type", grant_type);
                if !basic {
                    form.append_pair("client_id", client_id)
                        .append_pair("client_secret", client_secret.expose());
                }
                for (name, value) in params {
                    form.append_pair(name, value);
                }
            }
            Grant::RefreshToken {
                client_id,
                client_secret,
                refresh_token: planned,
                ..
            } => {
                form.append_pair("grant_type", "refresh_token")
                    .append_pair("refresh_token", refresh_token.unwrap_or(planned).expose())
                    .append_pair("client_id", client_id);
                if let Some(secret) = client_secret {
                    form.append_pair("client_secret", secret.expose());
                }
            }
            Grant::Jwt { .. } => {
                let assertion = self.assertion(target)?;
                form.append_pair("grant_type", JWT_BEARER_GRANT)
                    .append_pair("assertion", assertion.expose());
                return Ok(form.finish());
            }
        }
        if let Some(scope) = &target.scope {
            form.append_pair("scope", scope);
        }
        Ok(form.finish())
    }

    /// The token request's `Authorization` header value, when the client
    /// authenticates with HTTP Basic.
    pub(super) fn authorization(&self) -> Option<Secret> {
        match &self.grant {
            Grant::ClientCredentials {
                client_id,
                client_secret,
                basic: true,
                ..
            } => Some(Secret::new(format!(
                "Basic {}",
                basic_credentials(client_id, client_secret.expose())
            ))),
            _ => None,
        }
    }

    /// An RS256 assertion: `iss`, `sub`, `aud`, `iat`, `exp` = `iat` + 3600, `scope`.
    pub(super) fn assertion(&self, target: &Target) -> Result<Secret, TokenError> {
        let Grant::Jwt {
            issuer,
            subject,
            audience,
            key,
        } = &self.grant
        else {
            unreachable!("only the JWT grant signs assertions")
        };
        let iat = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let mut claims = serde_json::json!({
            "iss": issuer,
            "sub": subject,
            "aud": audience,
            "iat": iat,
            "exp": iat + ASSERTION_LIFETIME,
        });
        if let Some(scope) = &target.scope {
            claims["scope"] = serde_json::Value::String(scope.clone());
        }
        jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, key)
            .map(Secret::new)
            .map_err(|e| TokenError::Rejected(format!("signing the JWT assertion failed: {e}")))
    }
}

/// The client id: a config field, or a secret field if the connector declared it so.
pub(super) fn client_id_of(
    config: &BTreeMap<String, String>,
    secrets: &Secrets,
    field: &str,
) -> Result<String, AuthError> {
    config_value(config, field).or_else(|_| {
        secrets
            .get(field)
            .map(|s| s.expose().to_owned())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| AuthError::MissingConfig(field.to_owned()))
    })
}
