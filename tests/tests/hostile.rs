//! What hostile connectors and hostile providers still tried after the sandbox held
//! (the hardening issue), each contained: credentials reflected by a provider never
//! reach the plugin, a plugin cannot send under another `Host`, cannot forge log
//! lines, and cannot take more memory by spreading it over several memories.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use sluice::auth::Credentials;
use sluice::capabilities::egress::EgressPolicy;
use sluice::capabilities::http::InstanceNet;
use sluice::model::AuthScheme;
use sluice::model::secret::Secret;
use sluice::runtime::{CallContext, LoadedPlugin, SandboxLimits};
use sluice_mocks::EchoMock;
use sluice_tests::{Harness, test_plugin, with_extra_memories};

const TOKEN: &str = "ghp_hostile-test-token-0123456789";
const PASSWORD: &str = "correct horse battery staple";

async fn probe(limits: SandboxLimits) -> (Harness, LoadedPlugin) {
    let h = Harness::with_limits(limits).await;
    let plugin = h.runtime.load(&test_plugin("probe")).await.unwrap();
    (h, plugin)
}

/// A probe call in `mode` against `url`, with `scheme`'s credentials.
fn call(mode: &str, url: &str, scheme: &AuthScheme) -> CallContext {
    let config: BTreeMap<String, String> = [
        ("mode".to_string(), mode.to_string()),
        ("url".to_string(), url.to_string()),
        ("user".to_string(), "alice".to_string()),
    ]
    .into();
    let secrets = [
        ("token".to_string(), Secret::new(TOKEN)),
        ("password".to_string(), Secret::new(PASSWORD)),
    ]
    .into();
    CallContext {
        instance_id: "hostile-1".into(),
        instance_name: "hostile".into(),
        net: Arc::new(InstanceNet {
            policy: EgressPolicy::from_templates(&["{url}".into()], &config, true).unwrap(),
            credentials: Credentials::prepare(scheme, &config, &secrets).unwrap(),
            ..Default::default()
        }),
        config: Arc::new(config),
        granted_actions: Arc::from([]),
        since: None,
        page_size: 10,
        ..Default::default()
    }
}

fn bearer() -> AuthScheme {
    AuthScheme::Bearer {
        token_field: "token".into(),
    }
}

fn basic() -> AuthScheme {
    AuthScheme::Basic {
        username: "{user}".into(),
        password_field: "password".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_a_provider_reflects_never_reach_the_plugin() {
    let mock = EchoMock::start().await.unwrap();
    let (_h, plugin) = probe(SandboxLimits::default()).await;
    let basic_value = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(format!("alice:{PASSWORD}"))
    };
    for (scheme, secrets) in [
        (bearer(), vec![TOKEN.to_string()]),
        (basic(), vec![PASSWORD.to_string(), basic_value.clone()]),
    ] {
        for path in ["/echo", "/error"] {
            let url = format!("{}{path}", mock.base_url());
            let seen = plugin.check(call("echo", &url, &scheme)).await.unwrap();
            let all = seen.granted.join("\n");
            assert!(
                all.contains("[REDACTED]"),
                "{path}: the provider did reflect: {all}"
            );
            for secret in &secrets {
                assert!(
                    !all.contains(secret.as_str()),
                    "{path} leaked {secret}: {all}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_cannot_send_under_another_host_name() {
    let mock = EchoMock::start().await.unwrap();
    let (_h, plugin) = probe(SandboxLimits::default()).await;
    let url = format!("{}/host", mock.base_url());
    let err = plugin
        .check(call("host-header", &url, &bearer()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Host"), "{err}");
    assert!(mock.requests().is_empty(), "nothing was sent");
    // Without the header the request goes out under the URL's host.
    let seen = plugin.check(call("echo", &url, &bearer())).await.unwrap();
    assert!(
        seen.granted[0].contains(&mock.base_url()["http://".len()..]),
        "{:?}",
        seen.granted
    );
}

/// A writer the test reads back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_plugin_cannot_forge_log_lines() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let (_h, plugin) = probe(SandboxLimits::default()).await;
    let done = plugin
        .check(call("log-forge", "https://x.example", &bearer()))
        .await
        .unwrap();
    assert_eq!(done.principal.as_deref(), Some("logged"));
    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("first line")).collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(
        lines[0].contains("first line\\n2026-01-01T00:00:00Z ERROR sluice: forged\\rline"),
        "{text}"
    );
    assert!(!text.contains("\nERROR") && !text.contains('\r'), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_cap_counts_every_memory_of_an_instance() {
    // The probe starts with 2 MiB of linear memory; three more memories of 64 KiB each
    // fit under a per-memory cap of 2.125 MiB but not under a per-instance one.
    let limits = SandboxLimits {
        memory_bytes: (2 << 20) + (128 << 10),
        ..Default::default()
    };
    let (h, plugin) = probe(limits).await;
    assert_eq!(plugin.describe().await.unwrap().id, "probe");
    let spread = with_extra_memories(&test_plugin("probe"), 3);
    let err = h.runtime.load(&spread).await.unwrap_err().to_string();
    assert!(err.contains("memory cap"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_host_call_carries_a_bounded_amount_in() {
    let mock = EchoMock::start().await.unwrap();
    let (_h, plugin) = probe(SandboxLimits::default()).await;
    let url = format!("{}/echo", mock.base_url());
    let err = plugin
        .check(call("big-request", &url, &bearer()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, sluice::model::ConnectorError::Trap(_)),
        "a 16 MiB request body is over the 4 MiB a host call may carry: {err}"
    );
    assert!(mock.requests().is_empty(), "nothing was sent");
    assert_eq!(plugin.describe().await.unwrap().id, "probe");
}
