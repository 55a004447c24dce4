//! Bindings for `sluice:connector@0.1.0` (`wit/v0.1`), a released and frozen version.
//!
//! The generated code stays in the private `generated` module. This file links it and
//! implements `config`; calls into the exports, the other imports (forwarding to the
//! version-independent capability code) and the conversions to [`crate::model`] come
//! from [`super::forward`], which every version with the same types shares. A newer
//! version's module sits beside this one and both keep working (the Zed
//! extension-host pattern; `v0_2_test.rs` shows it with a test-only version).

use wasmtime::Store;
use wasmtime::component::{Component, HasSelf, Linker};

use super::{ActionOutcome, ActionRequest, CallState, SentWrite};
use crate::capabilities::http::{HttpFailure, Method, OutboundRequest};
use crate::model::{self, ConnectorError, Kind, Page, raw_json};

#[allow(unsafe_code)] // bindgen! emits unchecked typed-func calls
mod generated {
    wasmtime::component::bindgen!({
        world: "plugin",
        path: "../wit/v0.1",
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
        // Secrets are never in this map: the store keeps them apart and only the
        // http capability reads them.
        Ok(self.ctx.config.get(&name).cloned())
    }
}

super::forward::forward_to_host!();
