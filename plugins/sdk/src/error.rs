//! Constructors for [`ConnectorError`] and the mapping from the host's [`HttpError`].
//!
//! Ordinary provider failures are values, never panics or traps: a trap fails the
//! call with no reason the operator can act on, while a typed error tells the host
//! whether to back off, re-authenticate or ask for a config change. Keeping the
//! mapping here means every connector classifies failures the same way.

use crate::bindings::sluice::connector::http::HttpError;
use crate::bindings::sluice::connector::types::ConnectorError;

impl ConnectorError {
    /// The credentials were rejected.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::Unauthorized(message.into())
    }

    /// The credentials lack a permission or scope.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden(message.into())
    }

    /// The organisation, tenant or object does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound(message.into())
    }

    /// The provider failed or answered something unparseable.
    pub fn upstream(message: impl Into<String>) -> Self {
        Self::Upstream(message.into())
    }

    /// The instance config is wrong.
    pub fn invalid_config(message: impl Into<String>) -> Self {
        Self::InvalidConfig(message.into())
    }

    /// The connector does not support this call or action.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::Unsupported(message.into())
    }

    /// Anything else.
    pub fn other(message: impl Into<String>) -> Self {
        Self::Other(message.into())
    }

    /// Whether retrying later may succeed without anyone changing anything.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::RateLimited(_) | Self::Upstream(_))
    }
}

/// How a request that got no response fails the connector call.
///
/// A denied destination or a malformed request can only come from the instance's
/// config (base URL, domain) or the operator's egress grant, so both become
/// `invalid-config`; the rest are transient.
impl From<HttpError> for ConnectorError {
    fn from(error: HttpError) -> Self {
        match error {
            HttpError::Denied(reason) => Self::InvalidConfig(format!("egress denied: {reason}")),
            HttpError::InvalidRequest(reason) => {
                Self::InvalidConfig(format!("invalid request: {reason}"))
            }
            HttpError::Timeout => Self::Upstream("request timed out".into()),
            HttpError::Connection(reason) => Self::Upstream(format!("connection failed: {reason}")),
            HttpError::RateLimited(retry_after) => Self::RateLimited(retry_after),
            HttpError::TooLarge(cap) => Self::Upstream(format!(
                "response larger than the host's cap of {cap} bytes"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denied_egress_is_a_config_problem_with_the_reason() {
        let error = ConnectorError::from(HttpError::Denied("host not allowed".into()));
        assert_eq!(
            error,
            ConnectorError::InvalidConfig("egress denied: host not allowed".into())
        );
    }

    #[test]
    fn transport_failures_are_retryable_upstream_errors() {
        for error in [
            HttpError::Timeout,
            HttpError::Connection("reset".into()),
            HttpError::TooLarge(10),
        ] {
            let mapped = ConnectorError::from(error);
            assert!(matches!(mapped, ConnectorError::Upstream(_)), "{mapped:?}");
            assert!(mapped.is_retryable());
        }
        assert_eq!(
            ConnectorError::from(HttpError::RateLimited(Some(30))),
            ConnectorError::RateLimited(Some(30))
        );
    }
}
