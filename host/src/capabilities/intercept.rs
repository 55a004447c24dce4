//! Interceptors: a stage every request passes after the egress check, in the style of
//! Spin's `OutboundHttpInterceptor`. Record and replay (`scan --record`,
//! `test-connector --fixtures`) are one, so the pipeline itself has no branch for them.

use crate::model::http::{HttpFailure, InboundResponse, OutboundRequest};

/// What an interceptor decided about a request.
#[derive(Debug)]
pub enum Intercepted {
    /// Send it on: credentials, limiter, transport.
    Continue,
    /// Answer it here; nothing is sent, no credentials or limits apply.
    Answer(Result<InboundResponse, HttpFailure>),
}

/// A stage around the network part of the pipeline.
pub trait OutboundInterceptor: Send + Sync {
    /// A request the egress policy allowed, before anything is sent.
    fn intercept(&self, _req: &OutboundRequest) -> Intercepted {
        Intercepted::Continue
    }

    /// A request the egress policy refused.
    fn denied(&self, _req: &OutboundRequest) {}

    /// A response the provider sent (after retries).
    fn completed(&self, _req: &OutboundRequest, _resp: &InboundResponse) {}
}
