//! Bindings for `sluice:connector@0.2.0` as defined by the TEST-ONLY folder
//! `tests/wit/v0.2-test` (compiled in with the `test-wit` feature only). It is not a
//! released version; it proves that a second WIT version loads beside `0.1.0`.
//!
//! The layout is the one a real next version follows: its own `generated` bindings,
//! the shared forwarding to the host for everything unchanged ([`super::forward`]),
//! and hand-written code for what changed, here the added `config.names` import.

use wasmtime::Store;
use wasmtime::component::{Component, HasSelf, Linker};

use super::{ActionOutcome, ActionRequest, CallState, SentWrite};
use crate::capabilities::http::{HttpFailure, Method, OutboundRequest};
use crate::model::{self, ConnectorError, Kind, Page, raw_json};

#[allow(unsafe_code)] // bindgen! emits unchecked typed-func calls
mod generated {
    wasmtime::component::bindgen!({
        world: "plugin",
        path: "../tests/wit/v0.2-test",
        imports: {
            "sluice:connector/http.send": async | trappable,
            default: trappable,
        },
        exports: { default: async },
    });
}

use generated::sluice::connector::{config, http, log, types as wit};

impl config::Host for CallState {
    fn get(&mut self, name: String) -> wasmtime::Result<Option<String>> {
        // Secrets are never in this map (see v0_1).
        Ok(self.ctx.config.get(&name).cloned())
    }

    /// New in this version: the same non-secret map, keys only (already sorted).
    fn names(&mut self) -> wasmtime::Result<Vec<String>> {
        Ok(self.ctx.config.keys().cloned().collect())
    }
}

super::forward::forward_to_host!();
