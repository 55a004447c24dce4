//! Sluice hosts SaaS app connectors as sandboxed WebAssembly components.
//!
//! # Layout
//!
//! Eight layers, bottom up. A module imports only from its own layer or the ones below
//! it, never from above (`host/tests/layers.rs` checks the imports against this table,
//! so the table stays true):
//!
//! | layer | modules | what they own |
//! |---|---|---|
//! | 1 | [`model`] | the shared vocabulary: records, connector info, templates, grants, limits and schedule configs, secrets as opaque values; no I/O |
//! | 2 | [`store`] | everything persistent, in sled: records, cursors, status, encrypted secrets, the audit log, key files |
//! | 3 | [`ratelimit`], [`auth`], [`metrics`] | request budgets and retries; token acquisition and caching; Prometheus counters |
//! | 4 | [`capabilities`] | the outbound pipeline: egress policy, credentials, limiter, transport, record/replay |
//! | 5 | [`runtime`] | the wasmtime sandbox: engine, per-version bindings, per-call stores and limits |
//! | 6 | [`session`] | an instance ready for calls: context, grants, limits and token hooks in one place |
//! | 7 | [`scan`], [`inspection`], [`scheduler`], [`registry`], [`conformance`] | pages into the store; file content inspection after a files scan; when scans run; plugin discovery and hot loading; `test-connector` |
//! | 8 | [`control`], [`daemon`], [`api`] | the operations (one typed spelling each), the long-running service and its HTTP surface |
//!
//! Where an operation lives: [`control`] has one method per operation (connect, scan,
//! act, approve, …) and, beside it, one [`control::Operation`] type that names its
//! route, input and output and documents it. The admin API ([`api`]) serves, and
//! describes in OpenAPI, every operation [`control::for_each_op`] lists through one
//! generic handler; the command line (crate `sluice-cli` in `host/cli`, which also holds
//! the demo and the connector scaffold) runs any operation in process or sends it to
//! the daemon through one generic client. So adding an operation touches three files:
//! `control` (the method, the operation, its line in the list), the CLI's commands
//! (`host/cli/src/cli/mod.rs`) and its printing (`output.rs`).

pub mod api;
pub mod auth;
pub mod capabilities;
pub mod conformance;
pub mod control;
pub mod daemon;
pub mod inspection;
pub(crate) mod metrics;
pub mod model;
pub mod ratelimit;
pub mod registry;
pub mod runtime;
pub mod scan;
pub mod scheduler;
pub mod session;
pub mod store;
