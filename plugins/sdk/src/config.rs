//! The instance's non-secret configuration, read through the host's `config.get`.
//!
//! Secrets never come through here (the host injects them into requests itself), so
//! these helpers only deal with the fields an operator typed in: organisation names,
//! domains, base URLs. Missing or malformed values become `invalid-config` errors that
//! name the field, which is what the operator has to fix.

use crate::bindings::sluice::connector::types::ConnectorError;

/// The value of config field `name`, trimmed; none when unset or blank.
pub fn get(name: &str) -> Option<String> {
    crate::imports::config_get(name)
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// The value of config field `name`, or `invalid-config` "missing config field `name`".
pub fn required(name: &str) -> Result<String, ConnectorError> {
    get(name).ok_or_else(|| ConnectorError::InvalidConfig(format!("missing config field `{name}`")))
}

/// The `base_url` config field, or `default`, without trailing slashes so paths can be
/// appended with `format!("{base}/path")`.
///
/// Fails with `invalid-config` unless it is an `http://` or `https://` URL.
pub fn base_url(default: &str) -> Result<String, ConnectorError> {
    url("base_url", default)
}

/// URL config field `name`, or `default`, without trailing slashes: for connectors
/// that talk to several API roots (DocuSign's Monitor, Admin and eSignature hosts).
///
/// Fails with `invalid-config` naming the field unless it is an `http://` or
/// `https://` URL.
pub fn url(name: &str, default: &str) -> Result<String, ConnectorError> {
    normalise_url(name, get(name).as_deref().unwrap_or(default))
}

/// The required URL config field `name` (e.g. Okta's org URL `domain`), without
/// trailing slashes; `invalid-config` when missing or not an `http://`/`https://` URL.
pub fn required_url(name: &str) -> Result<String, ConnectorError> {
    normalise_url(name, &required(name)?)
}

/// Checks the scheme of field `name`'s value and trims trailing slashes.
fn normalise_url(name: &str, url: &str) -> Result<String, ConnectorError> {
    let trimmed = url.trim().trim_end_matches('/');
    let lower = trimmed.to_ascii_lowercase();
    let host = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    match host {
        Some(rest) if !rest.is_empty() => Ok(trimmed.to_owned()),
        _ => Err(ConnectorError::InvalidConfig(format!(
            "config field `{name}` must be an http:// or https:// URL, got `{url}`"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_lose_trailing_slashes_and_need_a_scheme() {
        assert_eq!(
            normalise_url("base_url", "https://ghe.example.com/api/v3/").as_deref(),
            Ok("https://ghe.example.com/api/v3")
        );
        assert_eq!(
            normalise_url("base_url", "http://127.0.0.1:8080").as_deref(),
            Ok("http://127.0.0.1:8080")
        );
        assert!(matches!(
            normalise_url("base_url", "api.github.com"),
            Err(ConnectorError::InvalidConfig(m)) if m.contains("base_url")
        ));
        assert!(normalise_url("base_url", "https://").is_err());
    }
}
