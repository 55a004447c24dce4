//! The outbound proxy (`sluice daemon --proxy`, env `SLUICE_PROXY`): when set, every
//! provider request and token request leaves through it, and nothing else does.
//!
//! The proxy is the operator's: its own address may be private or loopback. What it
//! is asked to reach still passes every stage of the pipeline first (the egress
//! allowlist, grants, limits), and because the proxy, not the host, resolves the
//! target's name, the transport resolves it too and refuses a private address before
//! handing the request over (see `transport`).
//!
//! The proxy's credentials (`http://user:password@proxy:3128`) are taken out of the URL
//! here: they are sent only as `Proxy-Authorization`, and this type's `Debug` and
//! `Display` never show them, so neither logs nor errors can.
//!
//! `HTTP_PROXY`/`HTTPS_PROXY`/`ALL_PROXY` are ignored on purpose: a stray environment
//! variable must not reroute requests that carry the instances' secrets.

use url::Url;

use crate::model::secret::Secret;

/// Why a `--proxy` value was refused. Never quotes the value (it may hold a password).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    #[error("not a URL; expected http://HOST:PORT (or http://USER:PASSWORD@HOST:PORT)")]
    NotAUrl,
    #[error("the proxy must be an http:// or https:// URL (e.g. http://proxy.corp:3128)")]
    Scheme,
    #[error("no host in it; expected http://HOST:PORT")]
    NoHost,
    #[error("it may only name the proxy (scheme, credentials, host, port), not a path or query")]
    HasPath,
}

/// Where outbound requests go when a proxy is configured. Cheap to clone.
#[derive(Clone)]
pub struct OutboundProxy {
    /// `http://host:port`, credentials removed.
    url: Url,
    /// Basic credentials for `Proxy-Authorization`, percent-decoded.
    credentials: Option<(String, Secret)>,
}

impl OutboundProxy {
    /// Parse an operator's `--proxy` value.
    pub fn parse(text: &str) -> Result<OutboundProxy, ProxyError> {
        let mut url = Url::parse(text.trim()).map_err(|_| ProxyError::NotAUrl)?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ProxyError::Scheme);
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(ProxyError::NoHost);
        }
        if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
            return Err(ProxyError::HasPath);
        }
        let credentials = (!url.username().is_empty() || url.password().is_some()).then(|| {
            (
                percent_decode(url.username()),
                Secret::new(percent_decode(url.password().unwrap_or_default())),
            )
        });
        // Infallible on http(s) URLs with a host.
        let _ = url.set_username("");
        let _ = url.set_password(None);
        url.set_path("");
        Ok(OutboundProxy { url, credentials })
    }

    /// The proxy's URL without credentials.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The user name and password for `Proxy-Authorization`, if any.
    pub(crate) fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials
            .as_ref()
            .map(|(user, password)| (user.as_str(), password.expose()))
    }
}

/// `%40` → `@`: user info in a URL is percent-encoded.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `http://proxy.corp:3128`, and `(with credentials)` when it has some.
impl std::fmt::Display for OutboundProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.url.as_str().trim_end_matches('/'))?;
        if self.credentials.is_some() {
            f.write_str(" (with credentials)")?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for OutboundProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OutboundProxy({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_leave_the_url_and_never_show() {
        let p =
            OutboundProxy::parse("http://svc%40corp:pa%3Ass+w0rd-long@proxy.corp:3128/").unwrap();
        assert_eq!(p.url().as_str(), "http://proxy.corp:3128/");
        assert_eq!(p.credentials(), Some(("svc@corp", "pa:ss+w0rd-long")));
        for shown in [p.to_string(), format!("{p:?}")] {
            assert!(!shown.contains("pa"), "{shown}");
            assert!(!shown.contains("svc"), "{shown}");
            assert!(
                shown.contains("http://proxy.corp:3128 (with credentials)"),
                "{shown}"
            );
        }
        let plain = OutboundProxy::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(plain.to_string(), "http://127.0.0.1:8080");
        assert_eq!(plain.credentials(), None);
    }

    #[test]
    fn only_an_http_proxy_address_is_accepted_and_errors_do_not_quote_it() {
        for (text, want) in [
            ("proxy.corp:3128", ProxyError::Scheme),
            ("u:secret-pass@proxy.corp:3128", ProxyError::Scheme),
            ("socks5://u:secret-pass@p:1080", ProxyError::Scheme),
            ("http://u:secret-pass@p:3128/path", ProxyError::HasPath),
            ("not a url secret-pass", ProxyError::NotAUrl),
        ] {
            let err = OutboundProxy::parse(text).unwrap_err();
            assert_eq!(err, want, "{text}");
            assert!(!err.to_string().contains("secret-pass"));
        }
    }
}
