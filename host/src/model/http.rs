//! The HTTP capability's vocabulary: a request as a plugin makes it, the response it
//! gets, and why a request got none. The outbound pipeline (`crate::capabilities`)
//! and the rate limiter below it both speak these.

/// HTTP methods a plugin may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    /// `GET`, `POST`, … (as [`Method::as_str`] writes them).
    pub fn parse(s: &str) -> Option<Method> {
        [
            Method::Get,
            Method::Head,
            Method::Post,
            Method::Put,
            Method::Patch,
            Method::Delete,
        ]
        .into_iter()
        .find(|m| m.as_str().eq_ignore_ascii_case(s))
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    /// Whether the method changes state at the provider (everything but GET and HEAD).
    pub fn is_write(self) -> bool {
        !matches!(self, Method::Get | Method::Head)
    }
}

/// A request as the plugin made it.
#[derive(Clone, Debug)]
pub struct OutboundRequest {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

/// A whole response, headers lowercased.
#[derive(Clone, Debug)]
pub struct InboundResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Why a request got no response (the WIT `http-error`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HttpFailure {
    #[error("denied: {0}")]
    Denied(String),
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    #[error("timed out")]
    Timeout,
    #[error("connection failed: {0}")]
    Connection(String),
    #[error("rate limited")]
    RateLimited(Option<u32>),
    #[error("response larger than {0} bytes")]
    TooLarge(u64),
}
