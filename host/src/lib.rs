//! Sluice hosts SaaS app connectors as sandboxed WebAssembly components.
//!
//! The pieces, each in its own module:
//! - [`runtime`]: the wasmtime sandbox (engine, per-call stores, limits, WIT versions).
//! - [`capabilities`]: what plugins may import (HTTP through an egress policy, log, config).
//! - [`auth`]: credential injection; plugins never hold secrets.
//! - [`grants`]: what a connector asks for (egress, actions) against what the operator granted.
//! - [`ratelimit`]: request budgets per instance, shared scope and host; retries.
//! - [`store`]: everything persistent, in sled.
//! - [`registry`]: finding, compiling and caching plugins.
//! - [`scan`]: running a connector's listings into the store, resumably.
//! - [`scheduler`]: which (instance, kind) scan runs when: intervals, jitter,
//!   concurrency cap, backoff, triggers.
//! - [`daemon`]: the long-running service: scheduler + admin API over one data dir.
//! - [`control`]: the operations the API and the CLI share.
//! - [`api`]: the admin HTTP API (axum).
//! - [`metrics`]: Prometheus counters.
//! - [`conformance`]: `test-connector` (the contract checked offline against recorded
//!   fixtures) and `scan --record`.
//! - [`scaffold`]: `new-connector`, a buildable connector crate to start from.
//! - [`cli`]: the `sluice` command line.

pub mod api;
pub mod auth;
pub mod capabilities;
pub mod cli;
pub mod conformance;
pub mod connect;
pub mod control;
pub mod daemon;
pub mod grants;
pub mod metrics;
pub mod model;
pub mod ratelimit;
pub mod registry;
pub mod runtime;
pub mod scaffold;
pub mod scan;
pub mod scheduler;
pub mod store;
