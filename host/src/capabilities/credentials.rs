//! Stage 2 of the outbound pipeline, credentials: the plugin's own credential headers
//! are dropped and the instance's [`Credentials`](crate::auth::Credentials) injected, so a plugin never sees a
//! secret. For the OAuth schemes the bearer token comes from the per-instance
//! [`TokenCache`], fetched only from the token endpoint the operator granted; a 401
//! drops it and the request is sent once more with a fresh one.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use url::Url;

use super::http::InstanceNet;
use super::transport::Transport;
use crate::auth::TokenCache;
use crate::auth::token::TokenError;
use crate::model::http::{HttpFailure, InboundResponse, OutboundRequest};
use crate::model::secret::Secret;

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
    let Some(plan) = net.credentials.tokens() else {
        return send_once(transport, net, url, req, None).await;
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
    let client = transport.client(net.policy.allow_private);
    let mut retried = false;
    loop {
        let token = match tokens.token(instance_id, plan, url, client).await {
            Ok(token) => token,
            Err(TokenError::Rejected(message)) => return Ok(token_refused(&message)),
            Err(TokenError::Unreachable(message)) => {
                return Err(HttpFailure::Connection(message));
            }
        };
        let response = send_once(transport, net, url, req, Some(&token.value)).await?;
        if response.status == 401 && !retried {
            retried = true;
            tokens.invalidate(instance_id, &token).await;
            continue;
        }
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
        .send(
            net.policy.allow_private,
            req.method,
            url,
            headers,
            req.body.as_deref(),
        )
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
