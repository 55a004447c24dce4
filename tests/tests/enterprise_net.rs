//! Enterprise networks, end to end: a provider behind a private CA (trusted per
//! instance or for every instance), and a corporate forward proxy that every request
//! leaves through while the egress grants and the private-address refusal still hold.
//!
//! Names under `.test` are answered by the test's [`StaticNames`] for the host's own
//! checks (a provider name gets a public address), while the mock proxy resolves them
//! from its routes to the loopback mocks, as a real proxy resolves names itself.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use base64::Engine as _;
use sluice::capabilities::proxy::OutboundProxy;
use sluice::capabilities::tls::CaBundle;
use sluice::capabilities::transport::NetworkConfig;
use sluice::control::{ConnectError, ConnectRequest, connect};
use sluice::model::grants::GrantRequest;
use sluice::model::{ConnectorError, Kind};
use sluice::runtime::CallContext;
use sluice::store::{Instance, Secret};
use sluice_mocks::pki::TestCa;
use sluice_mocks::{
    EchoMock, ForwardProxy, ForwardProxyConfig, GithubMock, GithubMockConfig, OAuthMock,
    OAuthMockConfig,
};
use sluice_tests::daemon::TestDaemon;
use sluice_tests::{
    Harness, StaticNames, load_test_plugin, oauth_probe_request, probe_call, test_plugin,
};

const PROXY_USER: &str = "svc-sluice";
const PROXY_PASSWORD: &str = "pr0xy-s3cret-passw0rd";
/// What the test's name lookup answers for provider names: a public address (the
/// proxy, not the host, connects to the provider).
const PUBLIC: IpAddr = IpAddr::V4(Ipv4Addr::new(140, 82, 112, 3));
const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Connect a GitHub instance to `base_url` (the mock's token), granting everything.
async fn connect_github(
    h: &Harness,
    mock: &GithubMock,
    name: &str,
    base_url: &str,
    allow_private_network: bool,
    ca_pem: Option<String>,
) -> Result<Instance, ConnectError> {
    connect(
        &h.store,
        &h.registry,
        ConnectRequest {
            connector: "github".into(),
            name: name.into(),
            config: [
                ("org".to_string(), mock.config().org.clone()),
                ("base_url".to_string(), base_url.to_string()),
            ]
            .into(),
            secrets: [(
                "token".to_string(),
                Secret::new(mock.config().token.as_str()),
            )]
            .into(),
            allow_private_network,
            ca_pem,
            grants: GrantRequest::all(),
            ..Default::default()
        },
    )
    .await
    .map(|(inst, _)| inst)
}

/// Scan the users of `inst` and check every one of the mock's arrived.
async fn scan_users(h: &Harness, inst: &Instance, mock: &GithubMock) {
    let reports = h.scan(inst, &[Kind::Users], 100).await;
    assert!(
        reports.iter().all(|r| r.error.is_none()),
        "scan failed: {reports:?}"
    );
    assert_eq!(h.live(inst, Kind::Users), mock.expected().users);
}

/// A proxy with the test's credentials that routes `host:PORT` of each name to `to`.
async fn proxy_to(names: &[&str], to: std::net::SocketAddr) -> ForwardProxy {
    ForwardProxy::start(proxy_config(names, to)).await.unwrap()
}

fn proxy_config(names: &[&str], to: std::net::SocketAddr) -> ForwardProxyConfig {
    ForwardProxyConfig {
        credentials: Some((PROXY_USER.into(), PROXY_PASSWORD.into())),
        routes: names
            .iter()
            .map(|n| (format!("{n}:{}", to.port()), to))
            .collect(),
        forwards_credentials: false,
    }
}

/// Everything the host sends leaves through `proxy` (with `password`), and the host
/// checks the `names` it is given.
fn through(proxy: &ForwardProxy, password: &str, names: &[(&str, IpAddr)]) -> NetworkConfig {
    NetworkConfig {
        proxy: Some(OutboundProxy::parse(&proxy.url_with(PROXY_USER, password)).unwrap()),
        lookup: Some(StaticNames::new(names)),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_behind_a_private_ca_is_reached_with_that_ca_per_instance_or_for_all() {
    let ca = TestCa::new("Acme internal CA");
    let mock = GithubMock::start(GithubMockConfig {
        tls: Some(ca.issue(&["127.0.0.1"])),
        ..Default::default()
    })
    .await
    .unwrap();
    let base = mock.base_url();
    assert!(base.starts_with("https://"), "{base}");
    let h = Harness::new().await;

    // The built-in roots do not know the CA: the handshake fails, nothing is saved.
    let err = connect_github(&h, &mock, "no-ca", &base, true, None)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("certificate"),
        "a TLS certificate error: {err}"
    );
    assert!(mock.requests().is_empty(), "no HTTP request got through");
    assert!(h.store.instance("no-ca").is_err());

    // The instance's own CA: connected and scanned, paging links and all.
    let inst = connect_github(&h, &mock, "own-ca", &base, true, Some(ca.pem()))
        .await
        .unwrap();
    scan_users(&h, &inst, &mock).await;
    // Stored as the certificates alone.
    let stored = h.store.instance("own-ca").unwrap().ca_pem.unwrap();
    assert_eq!(
        CaBundle::from_pem(&stored).unwrap(),
        CaBundle::from_pem(&ca.pem()).unwrap()
    );

    // Another instance of the same process, without the CA, is still refused.
    let err = connect_github(&h, &mock, "still-no-ca", &base, true, None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("certificate"), "{err}");

    // A file with no certificate, or with a key, is refused before anything is sent.
    let requests = mock.requests().len();
    for (pem, why) in [
        ("not a certificate\n".to_string(), "no certificate"),
        (ca.issue(&["x.test"]).key_pem, "private key"),
    ] {
        let err = connect_github(&h, &mock, "bad-ca", &base, true, Some(pem))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ConnectError::InvalidConfig(m) if m.contains(why)),
            "{err}"
        );
    }
    assert_eq!(mock.requests().len(), requests);

    // The operator's CA for every instance (`daemon --ca-file`).
    let wide = Harness::with_network(NetworkConfig {
        ca: Some(CaBundle::from_pem(&ca.pem()).unwrap()),
        ..Default::default()
    })
    .await;
    let inst = connect_github(&wide, &mock, "daemon-ca", &base, true, None)
        .await
        .unwrap();
    scan_users(&wide, &inst, &mock).await;
}

/// The probe's `check`: one GET to `url`, with egress allowing `allowed` only.
fn probe_ctx(url: &str, allowed: &str, allow_private: bool) -> CallContext {
    probe_call("egress", url, allowed, allow_private)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_leave_through_the_proxy_only_after_the_egress_and_address_checks() {
    let mock = GithubMock::start(GithubMockConfig::default())
        .await
        .unwrap();
    let port = mock.addr().port();
    let proxy = proxy_to(&["github.test", "intranet.test"], mock.addr()).await;
    let h = Harness::with_network(through(
        &proxy,
        PROXY_PASSWORD,
        &[("github.test", PUBLIC), ("intranet.test", LOOPBACK)],
    ))
    .await;

    // An instance without private networks scans its public provider through the
    // (loopback, operator-granted) proxy, with the proxy's credentials.
    let base = format!("http://github.test:{port}");
    let inst = connect_github(&h, &mock, "acme", &base, false, None)
        .await
        .unwrap();
    scan_users(&h, &inst, &mock).await;
    let proxied = proxy.requests();
    assert_eq!(
        proxied.len(),
        mock.requests().len(),
        "every provider request went through the proxy"
    );
    let authorization = proxied[0].proxy_authorization.clone().unwrap();
    for r in &proxied {
        assert!(r.target.starts_with(&format!("{base}/")), "{r:?}");
        assert_eq!(r.refused, None, "{r:?}");
        assert_eq!(r.proxy_authorization.as_ref(), Some(&authorization));
    }

    let probe = h.runtime.load(&test_plugin("probe")).await.unwrap();
    let seen = proxy.requests().len();
    // Outside the egress allowlist: refused before the proxy is asked.
    let err = probe
        .check(probe_ctx(
            &format!("{base}/user"),
            &format!("http://other.test:{port}"),
            false,
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Other(m) if m.starts_with("denied:") && m.contains("allowlist")),
        "{err}"
    );
    // Allowed, but the name resolves to loopback and the instance may not reach
    // private networks: the host resolves it and refuses before the proxy is asked.
    let intranet = format!("http://intranet.test:{port}");
    let err = probe
        .check(probe_ctx(&format!("{intranet}/user"), &intranet, false))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Other(m) if m.starts_with("denied:") && m.contains("127.0.0.1") && m.contains("--allow-private-network")),
        "{err}"
    );
    assert_eq!(
        proxy.requests().len(),
        seen,
        "nothing refused reached the proxy"
    );
    // With private networks allowed the same request goes through the proxy.
    let ok = probe
        .check(probe_ctx(&format!("{intranet}/user"), &intranet, true))
        .await
        .unwrap();
    assert_eq!(
        ok.principal.as_deref(),
        Some("status:401"),
        "the mock answered"
    );
    assert_eq!(proxy.requests().len(), seen + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_goes_through_the_proxy_in_a_tunnel_that_still_checks_the_certificate() {
    let ca = TestCa::new("Acme internal CA");
    let mock = GithubMock::start(GithubMockConfig {
        tls: Some(ca.issue(&["github.test"])),
        ..Default::default()
    })
    .await
    .unwrap();
    let proxy = proxy_to(&["github.test"], mock.addr()).await;
    let h =
        Harness::with_network(through(&proxy, PROXY_PASSWORD, &[("github.test", PUBLIC)])).await;
    let base = format!("https://github.test:{}", mock.addr().port());

    let err = connect_github(&h, &mock, "no-ca", &base, false, None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("certificate"), "{err}");
    let inst = connect_github(&h, &mock, "acme", &base, false, Some(ca.pem()))
        .await
        .unwrap();
    scan_users(&h, &inst, &mock).await;
    let proxied = proxy.requests();
    assert!(!proxied.is_empty());
    for r in &proxied {
        assert_eq!(r.method, "CONNECT", "{r:?}");
        assert_eq!(r.target, format!("github.test:{}", mock.addr().port()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_requests_take_the_proxy_and_its_address_check_too() {
    let oauth = OAuthMock::new(OAuthMockConfig::default());
    let server = oauth.serve("/token").await.unwrap();
    let addr: std::net::SocketAddr = server.base_url()["http://".len()..].parse().unwrap();
    let proxy = proxy_to(&["login.test", "api.test", "intranet.test"], addr).await;
    let mut h = Harness::with_network(through(
        &proxy,
        PROXY_PASSWORD,
        &[
            ("login.test", PUBLIC),
            ("api.test", PUBLIC),
            ("intranet.test", LOOPBACK),
        ],
    ))
    .await;
    load_test_plugin(&mut h.registry, &h.runtime, "oauth_probe.wasm").await;
    let connect_probe = |name: &'static str, token_host: &'static str| {
        let token_url = format!("http://{token_host}:{}/token", addr.port());
        let api_url = format!("http://api.test:{}", addr.port());
        connect(
            &h.store,
            &h.registry,
            oauth_probe_request(
                name,
                &token_url,
                &api_url,
                "mock-client-secret",
                false,
                GrantRequest::all(),
            ),
        )
    };

    connect_probe("public", "login.test").await.unwrap();
    let proxied = proxy.requests();
    assert!(
        proxied
            .iter()
            .any(|r| r.method == "POST" && r.target.starts_with("http://login.test:")),
        "the token request went through the proxy: {proxied:?}"
    );
    assert_eq!(oauth.issued(), 1);

    // A token endpoint whose name resolves to loopback: no secret leaves for it.
    let err = connect_probe("private", "intranet.test").await.unwrap_err();
    assert!(err.to_string().contains("127.0.0.1"), "{err}");
    assert!(
        proxy
            .requests()
            .iter()
            .all(|r| !r.target.contains("intranet.test")),
        "{:?}",
        proxy.requests()
    );
    assert_eq!(oauth.issued(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_proxy_credentials_never_show_in_errors_or_the_api() {
    let mock = GithubMock::start(GithubMockConfig::default())
        .await
        .unwrap();
    let port = mock.addr().port();
    let proxy = proxy_to(&["github.test"], mock.addr()).await;
    let names = [("github.test", PUBLIC)];
    let wrong = "wrong-password-1234";
    // The password, or the credentials as they travel (base64 of `user:password`).
    let leaked = |text: &str, password: &str| {
        let basic =
            base64::engine::general_purpose::STANDARD.encode(format!("{PROXY_USER}:{password}"));
        text.contains(password) || text.contains(&basic)
    };

    // The configuration as it would be logged.
    let network = through(&proxy, wrong, &names);
    assert!(!leaked(&format!("{network:?}"), wrong), "{network:?}");

    // The proxy refuses a wrong password (407): through the daemon's API, the error
    // says what went wrong without the password that was sent.
    let dir = tempfile::tempdir().unwrap();
    let d = TestDaemon::start_with(dir.path(), |cfg| cfg.network = network).await;
    let (status, body) = d
        .api(
            "POST",
            "/v1/instances",
            Some(serde_json::json!({
                "connector": "github",
                "name": "acme",
                "config": { "org": mock.config().org, "base_url": format!("http://github.test:{port}") },
                "secrets": { "token": mock.config().token },
                "grants": { "egress": "all", "actions": "all" },
            })),
        )
        .await;
    assert!(status >= 400, "{status} {body}");
    assert!(body.to_string().contains("407"), "{body}");
    assert!(!leaked(&body.to_string(), wrong), "{body}");
    let (status, instances) = d.api("GET", "/v1/instances", None).await;
    assert_eq!(status, 200);
    assert!(!leaked(&instances.to_string(), wrong), "{instances}");
    let refused = proxy.requests();
    assert!(!refused.is_empty() && refused.iter().all(|r| r.refused == Some(407)));
    d.daemon.shutdown().await.unwrap();

    // A proxy that is down: the connection error names neither user nor password.
    let gone = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let h = Harness::with_network(NetworkConfig {
        proxy: Some(
            OutboundProxy::parse(&format!("http://{PROXY_USER}:{PROXY_PASSWORD}@{gone}")).unwrap(),
        ),
        lookup: Some(StaticNames::new(&names)),
        ..Default::default()
    })
    .await;
    let err = connect_github(
        &h,
        &mock,
        "acme",
        &format!("http://github.test:{port}"),
        false,
        None,
    )
    .await
    .unwrap_err();
    assert!(!leaked(&err.to_string(), PROXY_PASSWORD), "{err}");
    assert!(!err.to_string().contains(PROXY_USER), "{err}");

    // A proxy that passes its credentials on, to a provider that reflects every
    // header: the connector sees them redacted.
    let echo = EchoMock::start().await.unwrap();
    let echo_addr: std::net::SocketAddr = echo.base_url()["http://".len()..].parse().unwrap();
    let leaky = ForwardProxy::start(ForwardProxyConfig {
        forwards_credentials: true,
        ..proxy_config(&["echo.test"], echo_addr)
    })
    .await
    .unwrap();
    let h = Harness::with_network(through(&leaky, PROXY_PASSWORD, &[("echo.test", PUBLIC)])).await;
    let probe = h.runtime.load(&test_plugin("probe")).await.unwrap();
    let url = format!("http://echo.test:{}", echo_addr.port());
    let mut ctx = probe_ctx(&format!("{url}/echo"), &url, false);
    Arc::make_mut(&mut ctx.config).insert("mode".into(), "echo".into());
    let seen = probe.check(ctx).await.unwrap().granted.join("\n");
    assert!(
        seen.contains("proxy-authorization"),
        "the provider got it: {seen}"
    );
    assert!(seen.contains("[REDACTED]"), "{seen}");
    assert!(!leaked(&seen, PROXY_PASSWORD), "{seen}");
}
