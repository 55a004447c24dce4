//! Logging into the host's tracing, tagged there with the instance and plugin.
//!
//! WASI gives a connector no stdout or stderr worth having, so these functions are the
//! way to explain what a connector is doing. There is nothing secret to leak (the
//! connector never holds credentials), but keep provider payloads out of `info`.

use std::fmt::Display;

use crate::bindings::sluice::connector::log::Level;
use crate::imports::log;

/// Very detailed tracing.
pub fn trace(message: impl Display) {
    log(Level::Trace, &message.to_string());
}

/// Debugging detail.
pub fn debug(message: impl Display) {
    log(Level::Debug, &message.to_string());
}

/// Normal operation.
pub fn info(message: impl Display) {
    log(Level::Info, &message.to_string());
}

/// Something unexpected that the connector handled.
pub fn warn(message: impl Display) {
    log(Level::Warn, &message.to_string());
}

/// A failure.
pub fn error(message: impl Display) {
    log(Level::Error, &message.to_string());
}
