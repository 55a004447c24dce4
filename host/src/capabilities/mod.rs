//! Host capabilities: what a plugin may import, each in its own module.
//!
//! - [`http`]: outbound requests through the egress policy and credential injection.
//! - [`egress`]: the allowlist the `http` capability enforces.
//! - [`tape`]: recording and replaying its exchanges (`scan --record`,
//!   `test-connector --fixtures`).
//! - `log` and `config` are small enough to live in the bindings glue
//!   ([`crate::runtime`]): log forwards to `tracing` with instance and plugin fields;
//!   config returns non-secret fields only.

pub mod egress;
pub mod http;
pub mod tape;
