//! Stage 4 of the outbound pipeline, credentials: the plugin's own credential headers
//! are dropped and the instance's [`Credentials`](crate::auth::Credentials) injected, so a plugin never sees a
//! secret. For the OAuth schemes the bearer token comes from the per-instance
//! [`TokenCache`], fetched only from the token endpoint the operator granted; a 401
//! drops it and the request is sent once more with a fresh one.
//!
//! What comes back is cleaned before the plugin sees it: a provider that reflects
//! request headers (echo routes, "invalid token: …" errors) would otherwise hand the
//! plugin the very credentials it must never hold. Every secret text the host injected
//! is replaced by `[REDACTED]` in the response's headers and body, and so are the
//! operator's proxy credentials (a proxy that forwards `Proxy-Authorization` to an
//! echoing provider). Secrets shorter than [`MIN_REDACTED_LEN`] bytes are left alone:
//! they would match ordinary text.
//!
//! A plugin may not set `Host`: a request goes to its URL's host under that name, so
//! the instance's credentials never travel under another virtual host.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use url::Url;

use super::http::InstanceNet;
use super::transport::Transport;
use crate::auth::TokenCache;
use crate::auth::token::TokenError;
use crate::model::http::{HttpFailure, InboundResponse, OutboundRequest};
use crate::model::secret::Secret;

/// Shorter secrets are not redacted from responses (see the module docs).
pub const MIN_REDACTED_LEN: usize = 8;

/// What replaces a redacted secret.
const REDACTED: &[u8] = b"[REDACTED]";

/// One attempt with the instance's credentials. For OAuth schemes: take the token
/// from the cache (fetching it if needed); a 401 drops it and the request is sent
/// once more with a fresh one. A token endpoint's refusal is answered to the plugin
/// as a 401 whose `message` is the provider's (secrets redacted), which the SDK
/// turns into `unauthorized`.
pub(crate) async fn send_with_credentials(
    transport: &Transport,
    tokens: &TokenCache,
    instance_id: &str,
    net: &InstanceNet,
    url: &Url,
    req: &OutboundRequest,
) -> Result<InboundResponse, HttpFailure> {
    let proxy_secrets = transport.secrets();
    let Some(plan) = net.credentials.tokens() else {
        let mut response = send_once(transport, net, url, req, None).await?;
        redact(
            &mut response,
            net.credentials
                .injected()
                .iter()
                .chain(proxy_secrets)
                .map(String::as_str),
        );
        return Ok(response);
    };
    // The secrets go only where the operator granted (names are checked again
    // after resolution by the strict client).
    if let Err(why) = net.token_policy.check(plan.token_url()) {
        let url = plan.token_url();
        return Err(HttpFailure::Denied(
            if net.token_policy.destinations().is_empty() {
                format!(
                    "token endpoint {}://{}{} is not granted to this instance; it is granted like any egress destination (`sluice instances approve` grants what the connector asks for)",
                    url.scheme(),
                    url.host_str().unwrap_or_default(),
                    url.path()
                )
            } else {
                format!("token endpoint: {why}")
            },
        ));
    }
    let mut retried = false;
    loop {
        // Awaited only when a token must be fetched: the token endpoint's address is
        // checked like any destination's, and the instance's CA and the proxy apply.
        let client = async {
            transport
                .client_for(net, plan.token_url())
                .await
                .map_err(|failure| match failure {
                    HttpFailure::Denied(why) => TokenError::Denied(why),
                    other => TokenError::Unreachable(other.to_string()),
                })
        };
        let token = match tokens.token(instance_id, plan, url, client).await {
            Ok(token) => token,
            Err(TokenError::Rejected(message)) => return Ok(token_refused(&message)),
            Err(TokenError::Unreachable(message)) => {
                return Err(HttpFailure::Connection(message));
            }
            Err(TokenError::Denied(message)) => return Err(HttpFailure::Denied(message)),
        };
        let mut response = send_once(transport, net, url, req, Some(&token.value)).await?;
        if response.status == 401 && !retried {
            retried = true;
            tokens.invalidate(instance_id, &token).await;
            continue;
        }
        redact(
            &mut response,
            std::iter::once(token.value.expose()).chain(proxy_secrets.iter().map(String::as_str)),
        );
        return Ok(response);
    }
}

/// One attempt: the plugin's headers without its credential headers, the
/// instance's credentials, then the transport.
async fn send_once(
    transport: &Transport,
    net: &InstanceNet,
    url: &Url,
    req: &OutboundRequest,
    bearer: Option<&Secret>,
) -> Result<InboundResponse, HttpFailure> {
    let mut headers = HeaderMap::new();
    for (name, value) in &req.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| HttpFailure::InvalidRequest(format!("bad header name `{name}`")))?;
        if name == reqwest::header::HOST {
            return Err(HttpFailure::InvalidRequest(
                "a plugin may not set `Host`: requests go to their URL's host".into(),
            ));
        }
        let value = HeaderValue::from_str(value)
            .map_err(|_| HttpFailure::InvalidRequest(format!("bad value for header `{name}`")))?;
        headers.append(name, value);
    }
    for name in net.credentials.header_names() {
        headers.remove(name);
    }
    net.credentials.apply(&mut headers);
    if let Some(token) = bearer {
        let mut value =
            HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
                HttpFailure::InvalidRequest(
                    "the token endpoint issued a token not allowed in a header".into(),
                )
            })?;
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }

    transport
        .send(net, req.method, url, headers, req.body.as_deref())
        .await
}

/// The answer a plugin gets when no token could be had: a 401 like the provider's own,
/// with the token endpoint's message, so the SDK reports `unauthorized(<message>)`.
fn token_refused(message: &str) -> InboundResponse {
    let body = serde_json::json!({"error": "token_request_failed", "message": message});
    InboundResponse {
        status: 401,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("x-sluice-auth".into(), "token-endpoint".into()),
        ],
        body: body.to_string().into_bytes(),
    }
}

/// Replace every occurrence of each of `secrets` in `response`'s headers and body.
fn redact<'a>(response: &mut InboundResponse, secrets: impl IntoIterator<Item = &'a str>) {
    for secret in secrets {
        if secret.len() < MIN_REDACTED_LEN {
            continue;
        }
        for (_, value) in &mut response.headers {
            if let Some(clean) = redacted(value.as_bytes(), secret) {
                // UTF-8 still: a UTF-8 secret only ever matches whole characters.
                *value = String::from_utf8_lossy(&clean).into_owned();
            }
        }
        if let Some(clean) = redacted(&response.body, secret) {
            response.body = clean;
        }
    }
}

/// `text` with every occurrence of `secret` replaced, or `None` when it has none.
///
/// The marker is [`REDACTED`], unless the secret shares characters with it so that an
/// occurrence forms again across a marker's edge (`TED]TED]TED]` with secret
/// `TED]TED]` left `[REDACTED]TED]`). Then one character the secret does not contain
/// marks each occurrence instead: no occurrence can span it.
fn redacted(text: &[u8], secret: &str) -> Option<Vec<u8>> {
    let finder = memchr::memmem::Finder::new(secret.as_bytes());
    finder.find(text)?;
    let out = replace_all(text, &finder, REDACTED);
    if finder.find(&out).is_none() {
        return Some(out);
    }
    let mark = ('*'..=char::MAX)
        .find(|c| !secret.contains(*c))
        .unwrap_or('*');
    Some(replace_all(
        text,
        &finder,
        mark.encode_utf8(&mut [0; 4]).as_bytes(),
    ))
}

fn replace_all(text: &[u8], finder: &memchr::memmem::Finder<'_>, with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = finder.find(rest) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(with);
        rest = &rest[at + finder.needle().len()..];
    }
    out.extend_from_slice(rest);
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn every_occurrence_of_a_long_enough_secret_is_redacted() {
        let mut response = InboundResponse {
            status: 200,
            headers: vec![("x-echo".into(), "Bearer s3cr3t-t0ken".into())],
            body: b"a s3cr3t-t0ken b s3cr3t-t0ken".to_vec(),
        };
        redact(&mut response, ["s3cr3t-t0ken", "short"]);
        assert_eq!(response.headers[0].1, "Bearer [REDACTED]");
        assert_eq!(response.body, b"a [REDACTED] b [REDACTED]");
        let mut untouched = InboundResponse {
            status: 200,
            headers: vec![],
            body: b"a short text".to_vec(),
        };
        redact(&mut untouched, ["short"]);
        assert_eq!(untouched.body, b"a short text");
    }

    #[test]
    fn a_secret_that_forms_again_around_the_marker_is_marked_another_way() {
        // The provider reflected a prefix of the secret right before it: `[REDACTED]`
        // would have completed the secret again.
        let mut response = InboundResponse {
            status: 200,
            headers: vec![("x-echo".into(), "R[[[[[[R[[[[[[[".into())],
            body: b"R[[[[[[R[[[[[[[".to_vec(),
        };
        redact(&mut response, ["R[[[[[[["]);
        assert_eq!(response.body, b"R[[[[[[*");
        assert_eq!(response.headers[0].1, "R[[[[[[*");
    }

    /// Secrets: token-like, made of the marker's own characters (so an occurrence can
    /// straddle a `[REDACTED]`), or any text; all at least `MIN_REDACTED_LEN` bytes.
    fn secret() -> impl Strategy<Value = String> {
        prop_oneof![
            "[A-Za-z0-9._~+/=-]{8,40}",
            prop::collection::vec(prop::sample::select(b"[REDACT]".to_vec()), 8..12)
                .prop_map(|b| String::from_utf8(b).unwrap()),
            prop::collection::vec(any::<char>(), 8..16).prop_map(String::from_iter),
        ]
    }

    /// A response body around `secret`: the secret, pieces of it, the marker and other
    /// bytes, in any order and number.
    fn around(secret: &str) -> impl Strategy<Value = Vec<u8>> + use<> {
        let s = secret.as_bytes().to_vec();
        let n = s.len();
        let piece = prop_oneof![
            3 => Just(s.clone()),
            1 => (0..n).prop_map({
                let s = s.clone();
                move |k| s[..k].to_vec()
            }),
            1 => (0..n).prop_map({
                let s = s.clone();
                move |k| s[k..].to_vec()
            }),
            1 => Just(REDACTED.to_vec()),
            1 => prop::collection::vec(any::<u8>(), 0..6),
        ];
        prop::collection::vec(piece, 0..8).prop_map(|pieces| pieces.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// Whatever a provider reflects, however often, next to whatever: the secret
        /// the host injected is in neither the body nor a header the plugin gets, and
        /// a response without it is left as it was.
        #[test]
        fn a_reflected_secret_never_reaches_the_plugin(
            (secret, body, header) in secret().prop_flat_map(|s| {
                let (body, header) = (around(&s), around(&s));
                (Just(s), body, header)
            })
        ) {
            let header = String::from_utf8_lossy(&header).into_owned();
            let mut response = InboundResponse {
                status: 200,
                headers: vec![("x-echo".into(), header.clone())],
                body: body.clone(),
            };
            redact(&mut response, [secret.as_str()]);
            let finder = memchr::memmem::Finder::new(secret.as_bytes());
            prop_assert!(finder.find(&response.body).is_none(), "{:?}", String::from_utf8_lossy(&response.body));
            prop_assert!(!response.headers[0].1.contains(&secret), "{:?}", response.headers[0].1);
            if finder.find(&body).is_none() {
                prop_assert_eq!(&response.body, &body);
            }
            if !header.contains(&secret) {
                prop_assert_eq!(&response.headers[0].1, &header);
            }
        }
    }
}
