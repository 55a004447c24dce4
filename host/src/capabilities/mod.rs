//! Host capabilities: what a plugin may import, each in its own module.
//!
//! - [`http`]: the outbound pipeline every plugin request passes, stage by stage:
//!   [`egress`] (the allowlist), [`intercept`] (record/replay), the limiter
//!   (`crate::ratelimit`), [`credentials`] and [`transport`] (with the operator's
//!   [`proxy`] and extra CA certificates, [`tls`]);
//! - [`tape`]: recording and replaying exchanges (`scan --record`,
//!   `test-connector --fixtures`), an interceptor;
//! - [`log`]: plugin log lines into `tracing`, bounded and with control characters
//!   escaped; the bindings glue (`runtime`) forwards to it;
//! - `config` is small enough to live in the bindings glue: it returns non-secret
//!   fields only.

pub(crate) mod credentials;
pub mod egress;
pub mod http;
pub(crate) mod intercept;
pub mod log;
pub mod proxy;
pub(crate) mod tape;
pub mod tls;
pub mod transport;
