//! A fake host for testing connectors natively with `cargo test`.
//!
//! Inside a component, [`http`](crate::http), [`config`](crate::config) and
//! [`log`](crate::log) call the host's imports. Compiled for any other target (only
//! tests do that) they call the [`FakeHost`] installed on the current thread instead,
//! so a connector's whole paging logic can run against recorded provider responses:
//!
//! ```text
//! use sluice_sdk::testing::FakeHost;
//!
//! let (page, host) = FakeHost::new()
//!     .config("org", "acme")
//!     .on_request(|request| Ok(Response::new(200, vec![], "[]")))
//!     .run(|| MyConnector::list_users(ctx, None));
//! assert_eq!(host.requests()[0].url, "https://api.example.com/orgs/acme/members");
//! ```
//!
//! Tests run the connector's code, not the host's: egress checks, credentials and
//! limits are the host's own tests' business.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::bindings::sluice::connector::http::{HttpError, Method};
use crate::bindings::sluice::connector::log::Level;
use crate::http::Response;

/// A request the connector sent through the fake host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentRequest {
    /// Method.
    pub method: Method,
    /// URL including the query.
    pub url: String,
    /// Headers as the connector set them.
    pub headers: Vec<(String, String)>,
    /// Body, if any.
    pub body: Option<Vec<u8>>,
}

impl SentRequest {
    /// `METHOD URL`, as in `action-outcome.requests`.
    pub fn line(&self) -> String {
        format!("{} {}", crate::http::method_name(self.method), self.url)
    }

    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Answers a request, as the provider (or the host's egress policy) would.
type Handler = Box<dyn FnMut(&SentRequest) -> Result<Response, HttpError>>;

/// Config, HTTP answers and a record of what the connector did, for one test.
#[derive(Default)]
pub struct FakeHost {
    /// What `config.get` answers; secrets should simply not be here, as on the real host.
    config: HashMap<String, String>,
    /// Answers requests; without one every request is `denied`.
    handler: Option<Handler>,
    /// Requests in the order they were sent.
    requests: Vec<SentRequest>,
    /// Log lines in the order they were written.
    logs: Vec<(Level, String)>,
}

thread_local! {
    /// The host of the test running on this thread; tests run one per thread.
    static CURRENT: RefCell<Option<FakeHost>> = const { RefCell::new(None) };
}

impl FakeHost {
    /// A host with no config that denies every request.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets config field `name`.
    pub fn config(mut self, name: &str, value: &str) -> Self {
        self.config.insert(name.to_owned(), value.to_owned());
        self
    }

    /// Answers every request with `handler`.
    pub fn on_request(
        mut self,
        handler: impl FnMut(&SentRequest) -> Result<Response, HttpError> + 'static,
    ) -> Self {
        self.handler = Some(Box::new(handler));
        self
    }

    /// Runs `call` with this host installed on the current thread, and returns its
    /// result together with the host, which now holds the requests and log lines.
    pub fn run<T>(self, call: impl FnOnce() -> T) -> (T, FakeHost) {
        CURRENT.with(|current| *current.borrow_mut() = Some(self));
        let result = call();
        let host = CURRENT
            .with(|current| current.borrow_mut().take())
            .expect("the fake host is still installed");
        (result, host)
    }

    /// Requests sent, in order.
    pub fn requests(&self) -> &[SentRequest] {
        &self.requests
    }

    /// Log lines written, in order.
    pub fn logs(&self) -> &[(Level, String)] {
        &self.logs
    }
}

impl std::fmt::Debug for FakeHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeHost")
            .field("config", &self.config)
            .field("requests", &self.requests)
            .field("logs", &self.logs)
            .finish_non_exhaustive()
    }
}

/// Runs `f` on the installed host.
fn with_host<T>(f: impl FnOnce(&mut FakeHost) -> T) -> T {
    CURRENT.with(|current| {
        let mut current = current.borrow_mut();
        let host = current.as_mut().expect(
            "no fake host installed: outside a component, run connector code inside \
             sluice_sdk::testing::FakeHost::run",
        );
        f(host)
    })
}

/// `http.send` on the fake host.
pub(crate) fn send(request: SentRequest) -> Result<Response, HttpError> {
    // The handler runs without the host borrowed, so it may log or read config itself.
    let mut handler = with_host(|host| host.handler.take());
    let result = match handler.as_mut() {
        Some(answer) => answer(&request),
        None => Err(HttpError::Denied(
            "the fake host has no request handler".into(),
        )),
    };
    with_host(|host| {
        host.handler = handler;
        host.requests.push(request);
    });
    result
}

/// `config.get` on the fake host.
pub(crate) fn config_get(name: &str) -> Option<String> {
    with_host(|host| host.config.get(name).cloned())
}

/// `log.log` on the fake host.
pub(crate) fn log(level: Level, message: &str) {
    with_host(|host| host.logs.push((level, message.to_owned())));
}
