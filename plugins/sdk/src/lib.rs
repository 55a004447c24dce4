//! Guest SDK for Sluice connectors.
//!
//! A connector is a wasm32-wasip2 component implementing the `sluice:connector@0.3.0`
//! world `plugin` (see `wit/since_v0.3.0/`). This crate owns the generated bindings for that
//! world and the few helpers every connector needs, so that each connector is mostly
//! "map the provider's JSON to records" and does every mechanical thing the same way:
//!
//! - [`http`]: a request builder over the host's `http.send`, and a [`http::Response`]
//!   that maps HTTP statuses to typed [`ConnectorError`]s;
//! - [`Connector`]: the exports, each but `describe` and `check` defaulting to
//!   `unsupported`, and [`connector!`] to name the function serving each export;
//! - [`pagination`]: `Link` headers, next-URL-in-body, tokens and offsets, and the
//!   cursors ([`pagination::ListCursor`], [`pagination::FeedCursor`],
//!   [`pagination::FeedSet`]) connectors resume by;
//! - [`action`]: the planned / already / done answers of a response action;
//! - `records`: `new` constructors for the WIT records (`User::new(id, raw)`, …) and
//!   classifiers (`ActivityKind::by_prefix`, `Outcome::from_word`);
//! - [`json`] and [`time`]: reading fields out of provider JSON, timestamps included;
//! - [`config`] and [`log`]: the instance's non-secret config, and the host's log;
//! - `testing` (native builds only): a fake host so `cargo test` can run a connector's
//!   paging logic against recorded responses.
//!
//! # Writing a connector
//!
//! 1. Make a `cdylib` crate depending on `sluice-sdk`; build it with
//!    `cargo build --release --target wasm32-wasip2` to get a component directly.
//! 2. Write `describe`, `check` and one function per export the connector supports,
//!    using `use sluice_sdk::prelude::*;`, usually one module each.
//! 3. Name them, once, at the crate root; the others answer `unsupported`:
//!
//! ```text
//! use sluice_sdk::prelude::*;
//!
//! pub struct Example;
//!
//! fn describe() -> ConnectorInfo { ConnectorInfo::new("example", /* … */) }
//! fn check(ctx: &Context) -> Result<Permissions, ConnectorError> { /* … */ }
//! fn users(ctx: &Context, cursor: Option<&str>) -> Result<UserPage, ConnectorError> {
//!     /* a ListCursor over the provider's pages, User::new(..) per item */
//! }
//!
//! sluice_sdk::connector!(Example {
//!     describe: describe,
//!     check: check,
//!     list_users: users,
//! });
//! ```
//!
//! Connectors never hold secrets: the host injects credentials into requests, so
//! [`config::get`] only ever sees non-secret fields.

pub mod action;
pub mod config;
mod connector;
pub mod error;
pub mod files;
pub mod http;
mod imports;
pub mod json;
pub mod log;
pub mod pagination;
mod records;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
pub mod time;

/// Generated bindings for world `plugin` of `sluice:connector@0.3.0`.
///
/// Generated once here so every connector shares one copy of the types; connectors
/// normally reach them through [`prelude`] and export through [`export_connector!`].
#[allow(unsafe_code, missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit/since_v0.3.0",
        world: "plugin",
        pub_export_macro: true,
        export_macro_name: "export_connector",
        default_bindings_module: "sluice_sdk::bindings",
        additional_derives: [PartialEq],
    });
}

/// Exports a type implementing [`Connector`] (through the generated [`Guest`]) as the component's `connector` interface.
///
/// [`connector!`] does this itself; a hand-written `impl Connector` needs it once, at the
/// crate root: `sluice_sdk::export_connector!(MyConnector);`.
/// The connector crate must depend on this crate under the name `sluice_sdk`.
pub use bindings::export_connector;

pub use bindings::exports::sluice::connector::connector::Guest;
pub use bindings::sluice::connector::types::ConnectorError;
pub use connector::Connector;

/// Everything a connector usually needs: the WIT record types, [`Connector`], and the
/// helper modules.
///
/// The WIT `cursor` alias (a plain `String`) is deliberately replaced here by
/// [`pagination::Cursor`], the helper that encodes and decodes cursors.
pub mod prelude {
    pub use crate::action::{self, Write};
    pub use crate::bindings::sluice::connector::types::*;
    pub use crate::files;
    pub use crate::http::{self, Response};
    pub use crate::pagination::{self, At, Cursor, FeedCursor, FeedSet, ListCursor, Phase};
    pub use crate::{Connector, config, json, log, time};
    pub use serde::{Deserialize, Serialize};
    pub use serde_json::Value;
}
