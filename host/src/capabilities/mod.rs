//! Host capabilities: what a plugin may import, each in its own module.
//!
//! - [`http`]: the outbound pipeline every plugin request passes, stage by stage:
//!   [`egress`] (the allowlist), [`intercept`] (record/replay), the limiter
//!   (`crate::ratelimit`), [`credentials`] and [`transport`];
//! - [`tape`]: recording and replaying exchanges (`scan --record`,
//!   `test-connector --fixtures`), an interceptor;
//! - `log` and `config` are small enough to live in the bindings glue (`runtime`):
//!   log forwards to `tracing` with instance and plugin fields; config returns
//!   non-secret fields only.

pub mod credentials;
pub mod egress;
pub mod http;
pub mod intercept;
pub mod tape;
pub mod transport;
