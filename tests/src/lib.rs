//! Shared setup for the end-to-end tests: a temp data dir with a store, the wasm
//! runtime, the built-in connectors, and helpers to connect mock providers.

pub mod daemon;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use sluice::capabilities::egress::EgressPolicy;
use sluice::capabilities::http::{HttpClient, HttpLimits, InstanceNet, Outbound};
use sluice::capabilities::transport::{NameLookup, NetworkConfig, SystemLookup};
use sluice::control::{ConnectRequest, connect};
use sluice::model::grants::GrantRequest;
use sluice::model::{ActionKind, ConnectorError, Kind, Permissions, Record};
use sluice::registry::{PLUGIN_BUILD_DIR, Registry};
use sluice::runtime::{
    ActionOutcome, ActionRequest, CallContext, LoadedPlugin, Runtime, RuntimeConfig, SandboxLimits,
};
use sluice::scan::{KindReport, ScanOptions, scan_instance};
use sluice::session::InstanceSession;
use sluice::store::{Instance, RecordQuery, Secret, Store, StoredRecord};
use sluice_mocks::GithubMock;

/// `SLUICE_TEST_CONNECTORS=DIR`: the connector tests run against the plugin files in
/// DIR instead of the built-ins, e.g. `tests/artifacts/v0.1.0` (the five connectors as
/// built for contract 0.1.0), which `.ci/run` does to prove old builds keep working.
/// A relative DIR is taken from the repository root.
pub fn frozen_connectors() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("SLUICE_TEST_CONNECTORS")?);
    Some(if dir.is_absolute() {
        dir
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir)
    })
}

/// The compile cache of the built-in connectors that every test of a run shares, as
/// operators share `~/.cache/sluice`: compiling a connector takes seconds, and the
/// suite would otherwise compile the same ones for every test. Entries are keyed by
/// content hash and engine, written atomically. Beside the test binaries
/// (`target/tmp`), else in the system's temp dir.
pub fn suite_compile_cache() -> PathBuf {
    let beside = std::env::current_exe().ok().and_then(|exe| {
        // target/debug/deps/NAME → target/tmp
        Some(exe.parent()?.parent()?.parent()?.join("tmp"))
    });
    beside
        .filter(|dir| dir.is_dir())
        .unwrap_or_else(std::env::temp_dir)
        .join("sluice-suite-compile-cache")
}

/// A sluice "process" in a temp dir.
pub struct Harness {
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub runtime: Runtime,
    pub registry: Registry,
}

impl Harness {
    pub async fn new() -> Harness {
        Harness::with_limits(SandboxLimits::default()).await
    }

    pub async fn with_limits(limits: SandboxLimits) -> Harness {
        Harness::with(limits, HttpLimits::default()).await
    }

    /// Fast timeouts and retries, for fault tests.
    pub async fn with_http(http: HttpLimits) -> Harness {
        Harness::with(SandboxLimits::default(), http).await
    }

    pub async fn with(limits: SandboxLimits, http: HttpLimits) -> Harness {
        Harness::with_runtime(
            RuntimeConfig {
                limits,
                ..Default::default()
            },
            http,
        )
        .await
    }

    /// Any runtime configuration (the compile cache goes into the temp dir).
    pub async fn with_runtime(config: RuntimeConfig, http: HttpLimits) -> Harness {
        Harness::with_everything(config, http, NetworkConfig::default()).await
    }

    /// Providers reached as `network` says (extra CA certificates, a proxy, names).
    pub async fn with_network(network: NetworkConfig) -> Harness {
        Harness::with_everything(RuntimeConfig::default(), HttpLimits::default(), network).await
    }

    async fn with_everything(
        config: RuntimeConfig,
        http: HttpLimits,
        network: NetworkConfig,
    ) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let runtime = Runtime::new(
            RuntimeConfig {
                cache_dir: Some(dir.path().join("cache")),
                shared_cache_dir: config
                    .shared_cache_dir
                    .clone()
                    .or_else(|| Some(suite_compile_cache())),
                ..config
            },
            HttpClient::with_network(http.clone(), network, Outbound::new(&http.retry)).unwrap(),
        )
        .unwrap();
        let registry = match frozen_connectors() {
            // The released connectors as built for an older contract, in place of
            // the built-ins: the same tests then prove those builds still work.
            Some(frozen) => {
                let registry = Registry::load_dir(&runtime, &frozen).await;
                assert!(
                    registry.rejected().is_empty(),
                    "{}: {:?}",
                    frozen.display(),
                    registry.rejected()
                );
                registry
            }
            None => Registry::load(&runtime, &dir.path().join("plugins")).await,
        };
        Harness {
            dir,
            store,
            runtime,
            registry,
        }
    }

    pub fn github(&self) -> LoadedPlugin {
        self.plugin("github")
    }

    /// A loaded connector by id (built-in or from the plugins dir).
    pub fn plugin(&self, id: &str) -> LoadedPlugin {
        self.registry
            .get(id)
            .unwrap_or_else(|| panic!("connector `{id}` is not loaded"))
            .plugin
            .clone()
    }

    /// Connect an instance of any connector: `config` pairs are plain config, `secrets`
    /// are stored encrypted, and everything the connector asks for is granted. Private
    /// networks are allowed (mocks live on loopback).
    pub async fn connect_to(
        &self,
        connector: &str,
        name: &str,
        config: &[(&str, &str)],
        secrets: &[(&str, &str)],
    ) -> Result<(Instance, Permissions), sluice::control::ConnectError> {
        self.connect_granting(connector, name, config, secrets, GrantRequest::all())
            .await
    }

    /// [`Harness::connect_to`] with the operator's `grants`.
    pub async fn connect_granting(
        &self,
        connector: &str,
        name: &str,
        config: &[(&str, &str)],
        secrets: &[(&str, &str)],
        grants: GrantRequest,
    ) -> Result<(Instance, Permissions), sluice::control::ConnectError> {
        connect(
            &self.store,
            &self.registry,
            ConnectRequest {
                connector: connector.into(),
                name: name.into(),
                config: config
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                secrets: secrets
                    .iter()
                    .map(|(k, v)| (k.to_string(), Secret::new(*v)))
                    .collect(),
                allow_private_network: true,
                ca_pem: None,
                schedule: Default::default(),
                limits: Default::default(),
                pin: None,
                auth: None,
                look_back_days: None,
                grants,
            },
        )
        .await
    }

    /// Run governance `action` on an instance through its connector's `act`.
    pub async fn act(
        &self,
        inst: &Instance,
        action: ActionRequest,
    ) -> Result<ActionOutcome, ConnectorError> {
        let inst = self.store.instance(&inst.id).unwrap();
        let plugin = self.plugin(&inst.connector);
        let session = InstanceSession::open(&plugin, &self.store, &inst)?;
        session.act(action).await.map_err(|f| f.error)
    }

    /// Connect a GitHub instance to `mock` with `token`.
    pub async fn connect_github(
        &self,
        mock: &GithubMock,
        name: &str,
        token: &str,
    ) -> Result<(Instance, Permissions), sluice::control::ConnectError> {
        connect(
            &self.store,
            &self.registry,
            ConnectRequest {
                connector: "github".into(),
                name: name.into(),
                config: [
                    ("org".to_string(), mock.config().org.clone()),
                    ("base_url".to_string(), mock.base_url()),
                ]
                .into(),
                secrets: [("token".to_string(), Secret::new(token))].into(),
                allow_private_network: true,
                ca_pem: None,
                schedule: Default::default(),
                limits: Default::default(),
                pin: None,
                auth: None,
                look_back_days: None,
                grants: GrantRequest::all(),
            },
        )
        .await
    }

    /// Scan `kinds` (all when empty) of an instance with its own connector.
    pub async fn scan(&self, inst: &Instance, kinds: &[Kind], page_size: u32) -> Vec<KindReport> {
        let opts = ScanOptions {
            page_size,
            ..Default::default()
        };
        let inst = self.store.instance(&inst.id).unwrap();
        scan_instance(
            &self.store,
            &self.plugin(&inst.connector),
            &inst,
            kinds,
            &opts,
        )
        .await
        .unwrap()
    }

    pub fn records(&self, inst: &Instance, kind: Kind, deleted: bool) -> Vec<StoredRecord> {
        self.store
            .records(
                &inst.id,
                kind,
                &RecordQuery {
                    limit: None,
                    include_deleted: deleted,
                },
            )
            .unwrap()
    }

    /// Scan the instance's users in pages of `page_size` and return `id`'s stored status:
    /// how a governance action shows in the next scan.
    pub async fn scanned_status(
        &self,
        inst: &Instance,
        id: &str,
        page_size: u32,
    ) -> Option<sluice::model::UserStatus> {
        let reports = self.scan(inst, &[Kind::Users], page_size).await;
        assert!(reports[0].error.is_none(), "{:?}", reports[0].error);
        self.users(inst)
            .into_iter()
            .find(|u| u.id == id)
            .map(|u| u.status)
    }

    /// The instance's live users, as stored.
    pub fn users(&self, inst: &Instance) -> Vec<sluice::model::User> {
        (self.records(inst, Kind::Users, false).into_iter())
            .filter_map(|r| match r.record {
                Record::User(u) => Some(u),
                _ => None,
            })
            .collect()
    }

    /// The instance's stored activities.
    pub fn activities(&self, inst: &Instance) -> Vec<sluice::model::Activity> {
        (self.records(inst, Kind::Activities, false).into_iter())
            .filter_map(|r| match r.record {
                Record::Activity(a) => Some(a),
                _ => None,
            })
            .collect()
    }

    pub fn live(&self, inst: &Instance, kind: Kind) -> usize {
        self.store.count(&inst.id, kind).unwrap().0 as usize
    }
}

/// Name lookups with the test's own answers (names under `.test`), standing in for
/// DNS: the host's address checks see these, while a proxy resolves names its own way.
/// Other names go to the system resolver.
pub struct StaticNames(BTreeMap<String, Vec<IpAddr>>);

impl StaticNames {
    pub fn new(names: &[(&str, IpAddr)]) -> Arc<StaticNames> {
        let mut map: BTreeMap<String, Vec<IpAddr>> = BTreeMap::new();
        for (name, ip) in names {
            map.entry(name.to_string()).or_default().push(*ip);
        }
        Arc::new(StaticNames(map))
    }
}

impl NameLookup for StaticNames {
    fn lookup<'a>(
        &'a self,
        host: &'a str,
    ) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<IpAddr>>> + Send + 'a>> {
        Box::pin(async move {
            match self.0.get(host) {
                Some(ips) => Ok(ips.clone()),
                None => SystemLookup.lookup(host).await,
            }
        })
    }
}

/// A call of the test-only `probe` guest in `mode` (see `plugins/testing/probe`) that
/// requests `url`, its egress allowing only `allowed` (private networks per flag).
pub fn probe_call(mode: &str, url: &str, allowed: &str, allow_private: bool) -> CallContext {
    let config: BTreeMap<String, String> = [
        ("mode".to_string(), mode.to_string()),
        ("url".to_string(), url.to_string()),
    ]
    .into();
    let allow: BTreeMap<String, String> = [("url".to_string(), allowed.to_string())].into();
    CallContext {
        instance_id: "probe-1".into(),
        instance_name: "probe".into(),
        config: Arc::new(config),
        net: Arc::new(InstanceNet {
            policy: EgressPolicy::from_templates(&["{url}".into()], &allow, allow_private).unwrap(),
            ..Default::default()
        }),
        granted_actions: Arc::from([]),
        since: None,
        page_size: 10,
        ..Default::default()
    }
}

/// Connect an instance of the test-only `oauth-probe` guest (client credentials
/// against `token_url`, its API at `api_url`) with `secret` as client secret.
pub fn oauth_probe_request(
    name: &str,
    token_url: &str,
    api_url: &str,
    secret: &str,
    allow_private_network: bool,
    grants: GrantRequest,
) -> ConnectRequest {
    let config = [
        ("token_url", token_url),
        ("api_url", api_url),
        ("client_id", "mock-client-id"),
        ("scope", "users.read"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    ConnectRequest {
        connector: "oauth-probe".into(),
        name: name.into(),
        config,
        secrets: [("client_secret".to_string(), Secret::new(secret))].into(),
        allow_private_network,
        grants,
        ..Default::default()
    }
}

/// The operations over `store`, as the CLI assembles them when no daemon runs (it
/// migrates stored instances on the way, as opening the store does).
pub fn control(
    store: &Store,
    runtime: &Runtime,
    registry: Registry,
    plugins_dir: &std::path::Path,
) -> sluice::control::Control {
    sluice::control::Control::new(
        store.clone(),
        runtime.clone(),
        sluice::registry::Plugins::new(runtime, plugins_dir, registry),
        plugins_dir.to_path_buf(),
        None,
        ScanOptions::default(),
    )
    .unwrap()
}

/// Load the test-only guest built as `file` (e.g. `oauth_probe.wasm`) into
/// `registry`, from this checkout's plugins build dir (`host/build.rs` builds it; the
/// registry's build-dir constant can name another checkout when several share one
/// cargo target dir).
pub async fn load_test_plugin(registry: &mut Registry, runtime: &Runtime, file: &str) {
    let own = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../plugins/target/wasm32-wasip2/release")
        .join(file);
    let path = if own.exists() {
        own
    } else {
        PathBuf::from(PLUGIN_BUILD_DIR).join(file)
    };
    let loaded = registry.load_file(runtime, &path).await.is_some();
    assert!(loaded, "{file} loads: {:?}", registry.rejected());
}

/// A test-only guest built by `host/build.rs` (e.g. `probe`).
pub fn test_plugin(name: &str) -> Vec<u8> {
    let path = PathBuf::from(PLUGIN_BUILD_DIR).join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The component of connector `id` under test: its frozen build when
/// `SLUICE_TEST_CONNECTORS` names a folder of them, else the built-in.
pub fn connector_under_test(id: &str) -> Vec<u8> {
    match frozen_connectors() {
        Some(dir) => {
            let path = dir.join(format!("{id}.wasm"));
            std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        }
        None => test_plugin(id),
    }
}

/// After `target` was suspended: suspending it again answers `already` and sends no
/// write; unsuspending is `done` and the next users scan (pages of `page_size`) shows it
/// active; suspending `unknown` is `not-found`. `requests` and `clear_requests` are the
/// mock's request log.
pub async fn assert_suspend_is_idempotent_and_reversible(
    h: &Harness,
    inst: &Instance,
    (target, unknown): (&str, &str),
    page_size: u32,
    requests: impl Fn() -> Vec<sluice_mocks::RequestRecord>,
    clear_requests: impl FnOnce(),
) {
    clear_requests();
    let again = h
        .act(inst, action(ActionKind::SuspendUser, target, false))
        .await
        .unwrap();
    assert_eq!(again.status, "already");
    assert!(requests().iter().all(|r| !r.is_write()));

    let done = h
        .act(inst, action(ActionKind::UnsuspendUser, target, false))
        .await
        .unwrap();
    assert_eq!(done.status, "done");
    assert_eq!(
        h.scanned_status(inst, target, page_size).await,
        Some(sluice::model::UserStatus::Active)
    );
    let missing = h
        .act(inst, action(ActionKind::SuspendUser, unknown, false))
        .await
        .unwrap_err();
    assert!(
        matches!(missing, ConnectorError::NotFound(_)),
        "{missing:?}"
    );
}

/// What [`record_then_replay`] must not find in a recording, and where the scan may write.
pub struct Recording<'a> {
    /// Secrets the operator gave (tokens, passwords, client secrets); `mock-at-` (the
    /// OAuth mock's access tokens) is always checked.
    pub secrets: &'a [&'a str],
    /// The token endpoint's path, the one place a read-only scan may POST to.
    pub token_path: Option<&'a str>,
}

/// The connector's whole promise to `test-connector`: a full scan of `inst` by `component`,
/// recorded to a directory, (1) fails no kind, (2) writes no secret and no access token,
/// (3) changes nothing at the provider (no write but to the token endpoint), and (4) replays
/// through the conformance checks with the provider's request log staying empty.
/// `requests` and `clear_requests` are the mock's request log.
pub async fn record_then_replay(
    h: &Harness,
    inst: &Instance,
    component: &[u8],
    recording: Recording<'_>,
    requests: impl Fn() -> Vec<sluice_mocks::RequestRecord>,
    clear_requests: impl FnOnce(),
) {
    use sluice::conformance::{ConformanceInput, record_scan, run};

    let dir = tempfile::tempdir().unwrap();
    let (reports, exchanges) = record_scan(&h.store, inst, component, &[], dir.path(), None)
        .await
        .unwrap();
    for r in &reports {
        assert!(r.error.is_none(), "{:?}: {:?}", r.kind, r.error);
    }
    assert!(exchanges > 5, "{exchanges} exchanges");
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for secret in recording.secrets.iter().chain(&["mock-at-"]) {
            assert!(
                !text.contains(secret),
                "{} records a secret",
                path.display()
            );
        }
    }
    let writes: Vec<_> = requests()
        .into_iter()
        .filter(|r| r.is_write() && Some(r.path()) != recording.token_path)
        .collect();
    assert!(
        writes.is_empty(),
        "a scan wrote to the provider: {writes:?}"
    );

    clear_requests();
    let report = run(
        component,
        &ConformanceInput {
            fixtures: dir.path().to_path_buf(),
            config: Default::default(),
            max_pages: 1000,
            cache_dir: None,
        },
    )
    .await
    .unwrap();
    assert!(report.passed(), "{:#?}", report.checks);
    let reached = requests();
    assert!(
        reached.is_empty(),
        "a replay reached the provider: {reached:?}"
    );
}

/// `../shared/fixtures` (or `SLUICE_FIXTURES_DIR`), when present.
pub fn shared_fixtures() -> Option<PathBuf> {
    let dir = std::env::var_os("SLUICE_FIXTURES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures"));
    dir.is_dir().then_some(dir)
}

/// `component` with `extra` more core modules instantiated at its top level, each
/// defining one linear memory of one page: a hostile component whose instances take
/// more of the pool's memories than a connector needs, built from a real connector so
/// it still loads and answers `describe`.
///
/// Appends a core module section and a core instance section per memory (a component
/// is a sequence of sections); assumes the component's core module index space holds
/// only its top-level core module sections (true of what wasm-component-ld writes).
pub fn with_extra_memories(component: &[u8], extra: u32) -> Vec<u8> {
    fn leb(mut n: u32, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    fn section(id: u8, payload: &[u8], out: &mut Vec<u8>) {
        out.push(id);
        leb(payload.len() as u32, out);
        out.extend_from_slice(payload);
    }
    assert_eq!(&component[..4], b"\0asm", "not wasm");
    assert_eq!(&component[6..8], &[1, 0], "not a component");
    // Count the top-level core module sections (id 1).
    let mut modules = 0u32;
    let mut at = 8;
    while at < component.len() {
        let id = component[at];
        let (mut size, mut shift, mut i) = (0usize, 0, at + 1);
        loop {
            let b = component[i];
            size |= ((b & 0x7f) as usize) << shift;
            shift += 7;
            i += 1;
            if b & 0x80 == 0 {
                break;
            }
        }
        if id == 1 {
            modules += 1;
        }
        at = i + size;
    }
    // A core module with one memory of one page: magic, version, memory section.
    let memory_module = [0, b'a', b's', b'm', 1, 0, 0, 0, 5, 3, 1, 0, 1];
    let mut out = component.to_vec();
    for n in 0..extra {
        section(1, &memory_module, &mut out);
        let mut instance = vec![1, 0];
        leb(modules + n, &mut instance);
        instance.push(0);
        section(2, &instance, &mut out);
    }
    out
}

/// An instance record as `connect` would save it (status `connecting`, no grants: it
/// may use what its connector asks for), for tests that store one directly.
pub fn new_instance(name: &str, connector: &str, config: &[(&str, &str)]) -> Instance {
    let config = (config.iter())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Instance {
        allow_private_network: true,
        ..Instance::new(name, connector, "0.1.0", config)
    }
}

/// An action request with reason "test" and no parameters.
pub fn action(kind: ActionKind, target: &str, dry_run: bool) -> ActionRequest {
    ActionRequest {
        kind,
        target: target.into(),
        params: Vec::new(),
        reason: Some("test".into()),
        dry_run,
    }
}

/// Asserts that after the first 429 in `requests` the next successful request came at
/// least 900 ms later: the client waited out a one-second `Retry-After` (or reset)
/// instead of retrying at once.
pub fn assert_waited_out_the_first_429(requests: &[sluice_mocks::RequestRecord]) {
    let first_429 = (requests.iter().find(|r| r.status == 429))
        .expect("the provider throttled a request")
        .at;
    let retried = (requests.iter())
        .find(|r| r.status == 200 && r.at > first_429)
        .expect("a request succeeded after the throttling");
    assert!(
        retried.at - first_429 >= chrono::Duration::milliseconds(900),
        "retried {:?} after the 429",
        retried.at - first_429
    );
}
