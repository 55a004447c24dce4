//! The one place the SDK calls the host's imports.
//!
//! In a component these are the WIT imports; compiled natively (only tests do that)
//! they go to the thread's `testing::FakeHost`, so connector logic
//! can be tested with `cargo test` and no wasm runtime.

use crate::bindings::sluice::connector::http::{self as host_http, HttpError};
use crate::bindings::sluice::connector::log::Level;
use crate::http::Response;

/// `http.send`.
pub(crate) fn send(request: host_http::Request) -> Result<Response, HttpError> {
    #[cfg(target_arch = "wasm32")]
    {
        host_http::send(&request).map(Response::from)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        crate::testing::send(crate::testing::SentRequest {
            method: request.method,
            url: request.url,
            headers: request.headers,
            body: request.body,
        })
    }
}

/// `config.get`.
pub(crate) fn config_get(name: &str) -> Option<String> {
    #[cfg(target_arch = "wasm32")]
    {
        crate::bindings::sluice::connector::config::get(name)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        crate::testing::config_get(name)
    }
}

/// `log.log`.
pub(crate) fn log(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    {
        crate::bindings::sluice::connector::log::log(level, message);
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        crate::testing::log(level, message);
    }
}
