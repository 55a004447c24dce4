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
//! For fixture-driven tests: [`Fixtures`] reads the shared published provider
//! examples (and says why a test checked nothing when they are absent),
//! [`FakeHost::routes`] answers recorded responses by URL, and [`run_pages`] drives a
//! listing from no cursor to its last page, as the host does.
//!
//! Tests run the connector's code, not the host's: egress checks, credentials and
//! limits are the host's own tests' business.

use std::cell::RefCell;
use std::collections::HashMap;

use std::path::PathBuf;

use serde_json::Value;

use crate::bindings::sluice::connector::http::{HttpError, Method};
use crate::bindings::sluice::connector::log::Level;
use crate::bindings::sluice::connector::types::{
    Action, ActionKind, ActivityPage, AppPermissionPage, Capability, ConnectorError, ConnectorInfo,
    Context, FilePage, GroupPage, Permissions, UserPage,
};
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
    /// Headers every request must carry, as a provider insists on.
    expected_headers: Vec<(String, String)>,
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

    /// Answers each request whose URL (query included) is in `routes` with its
    /// recorded response, and every other request with `fallback` (the provider's 404,
    /// usually). The method is not compared.
    pub fn routes(self, routes: Vec<(String, Response)>, fallback: Response) -> Self {
        let routes: HashMap<String, Response> = routes.into_iter().collect();
        self.on_request(move |request| {
            Ok(routes
                .get(&request.url)
                .cloned()
                .unwrap_or_else(|| fallback.clone()))
        })
    }

    /// Fails the test when a request lacks header `name` with `value`, for the
    /// headers a provider refuses requests without.
    pub fn expect_header(mut self, name: &str, value: &str) -> Self {
        self.expected_headers
            .push((name.to_owned(), value.to_owned()));
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
    let (mut handler, expected) =
        with_host(|host| (host.handler.take(), host.expected_headers.clone()));
    for (name, value) in &expected {
        assert_eq!(
            request.header(name),
            Some(value.as_str()),
            "header {name} of {}",
            request.line()
        );
    }
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

/// 2024-01-01T00:00:00Z in ms: a round "now" for feeds in tests.
pub const NEW_YEAR: i64 = 1_704_067_200_000;

/// A context as the host passes it: instance `inst-1`, auth option `test`.
pub fn context(page_size: u32, since: Option<i64>) -> Context {
    Context {
        instance_id: "inst-1".into(),
        instance_name: "test instance".into(),
        since,
        until: None,
        now: NEW_YEAR,
        page_size,
        auth: "test".into(),
    }
}

/// An action as the host passes it, without params or reason.
pub fn action(kind: ActionKind, target: &str, dry_run: bool) -> Action {
    Action {
        kind,
        target: target.into(),
        params: Vec::new(),
        reason: None,
        dry_run,
    }
}

/// The names of the config fields `describe` marks secret, which the host keeps and
/// `config.get` never returns.
pub fn secret_fields(info: &ConnectorInfo) -> Vec<&str> {
    info.config
        .iter()
        .filter(|field| field.secret)
        .map(|field| field.name.as_str())
        .collect()
}

/// The capabilities a `check` reported missing, without the reasons.
pub fn missing(permissions: &Permissions) -> Vec<Capability> {
    permissions.missing.iter().map(|(c, _)| *c).collect()
}

/// A 200 response with `body` as JSON.
pub fn json_response(body: &Value) -> Response {
    Response::new(200, vec![], body.to_string())
}

/// A 200 JSON response whose `Link` header points at `next`, if any.
pub fn link_response(body: &Value, next: Option<&str>) -> Response {
    let headers = next
        .map(|url| vec![("link".to_owned(), format!("<{url}>; rel=\"next\""))])
        .unwrap_or_default();
    Response::new(200, headers, body.to_string())
}

/// One provider's published example payloads in the shared fixtures folder
/// (`$SLUICE_FIXTURES_DIR/<provider>`, else `shared/fixtures/<provider>` beside the
/// repository), read in place: they are never copied into the repository.
#[derive(Debug, Clone)]
pub struct Fixtures {
    /// The provider's folder.
    dir: PathBuf,
}

impl Fixtures {
    /// The provider's fixtures, or none (with a note on stderr) when the folder is
    /// absent: tests built on them then pass having checked nothing, so the suite runs
    /// on a checkout without the shared folder.
    #[allow(
        clippy::print_stderr,
        reason = "tells the test runner why a test did nothing"
    )]
    pub fn open(provider: &str) -> Option<Self> {
        let root = match std::env::var_os("SLUICE_FIXTURES_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/fixtures"
            )),
        };
        let dir = root.join(provider);
        if dir.is_dir() {
            Some(Self { dir })
        } else {
            eprintln!("shared fixtures not found at {}; skipping", dir.display());
            None
        }
    }

    /// Fixture `name` (a path below the provider's folder), parsed.
    ///
    /// # Panics
    ///
    /// When it is missing or not JSON: the test names a fixture that does not exist.
    pub fn json(&self, name: &str) -> Value {
        let path = self.dir.join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
    }

    /// Fixture `name` as a 200 JSON response.
    pub fn response(&self, name: &str) -> Response {
        json_response(&self.json(name))
    }

    /// Every `.json` fixture whose name starts with `prefix`, parsed, in name order.
    pub fn matching(&self, prefix: &str) -> Vec<(String, Value)> {
        let mut names: Vec<String> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with(prefix) && name.ends_with(".json"))
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|name| (name.clone(), self.json(&name)))
            .collect()
    }
}

/// A page of any listing, for [`run_pages`].
pub trait Page {
    /// The record type.
    type Item;
    /// The cursor of the next call, if any.
    fn next_cursor(&self) -> Option<&str>;
    /// Whether the host would stop after this page even with a cursor: an activity
    /// page with `more` false ends the run.
    fn ends_run(&self) -> bool {
        false
    }
    /// The records.
    fn into_items(self) -> Vec<Self::Item>;
}

macro_rules! page {
    ($page:ty, $item:ty) => {
        impl Page for $page {
            type Item = $item;
            fn next_cursor(&self) -> Option<&str> {
                self.next_cursor.as_deref()
            }
            fn into_items(self) -> Vec<$item> {
                self.items
            }
        }
    };
}
use crate::bindings::sluice::connector::types as wit;
page!(UserPage, wit::User);
page!(GroupPage, wit::Group);
page!(FilePage, wit::File);
page!(AppPermissionPage, wit::AppPermission);

impl Page for ActivityPage {
    type Item = wit::Activity;
    fn next_cursor(&self) -> Option<&str> {
        self.next_cursor.as_deref()
    }
    fn ends_run(&self) -> bool {
        !self.more
    }
    fn into_items(self) -> Vec<wit::Activity> {
        self.items
    }
}

/// What a run of [`run_pages`] read.
#[derive(Debug)]
pub struct Run<T> {
    /// Every record, in page order.
    pub items: Vec<T>,
    /// How many calls the run took.
    pub calls: usize,
    /// The cursor the last page left, where the next run starts.
    pub cursor: Option<String>,
}

/// Every page from the first on, each call given the previous page's cursor, until a
/// page has none: for tests that look at each page's cursor. Inside [`FakeHost::run`].
///
/// # Panics
///
/// After `max_calls` calls, or when a call fails.
pub fn all_pages<P: Page>(
    max_calls: usize,
    mut list: impl FnMut(Option<&str>) -> Result<P, ConnectorError>,
) -> Vec<P> {
    let mut pages: Vec<P> = Vec::new();
    loop {
        assert!(
            pages.len() < max_calls,
            "the listing did not end within {max_calls} calls"
        );
        let cursor = pages
            .last()
            .and_then(|page| page.next_cursor().map(str::to_owned));
        if !pages.is_empty() && cursor.is_none() {
            return pages;
        }
        let page =
            list(cursor.as_deref()).unwrap_or_else(|e| panic!("page {}: {e:?}", pages.len() + 1));
        pages.push(page);
    }
}

/// Exactly `calls` pages, each call given the previous page's cursor whatever `more`
/// says: for feeds, whose cursor never ends, read across runs. Inside
/// [`FakeHost::run`].
///
/// # Panics
///
/// When a call fails.
pub fn next_pages<P: Page>(
    calls: usize,
    mut list: impl FnMut(Option<&str>) -> Result<P, ConnectorError>,
) -> Vec<P> {
    let mut pages: Vec<P> = Vec::with_capacity(calls);
    while pages.len() < calls {
        let cursor = pages
            .last()
            .and_then(|page| page.next_cursor().map(str::to_owned));
        let page =
            list(cursor.as_deref()).unwrap_or_else(|e| panic!("page {}: {e:?}", pages.len() + 1));
        pages.push(page);
    }
    pages
}

/// Calls `list` from `cursor` on, passing each page's cursor to the next call, as the
/// host does in one run: until a page has no cursor (or, for activities, `more` is
/// false). Inside [`FakeHost::run`].
///
/// # Panics
///
/// After `max_calls` calls, so a connector that never ends fails its test instead of
/// hanging it.
pub fn run_pages<P: Page>(
    cursor: Option<String>,
    max_calls: usize,
    mut list: impl FnMut(Option<String>) -> Result<P, ConnectorError>,
) -> Result<Run<P::Item>, ConnectorError> {
    let mut run = Run {
        items: Vec::new(),
        calls: 0,
        cursor,
    };
    loop {
        assert!(
            run.calls < max_calls,
            "the listing did not end within {max_calls} calls"
        );
        let page = list(run.cursor.take())?;
        run.calls += 1;
        run.cursor = page.next_cursor().map(str::to_owned);
        let end = page.ends_run() || run.cursor.is_none();
        run.items.extend(page.into_items());
        if end {
            return Ok(run);
        }
    }
}
