//! Host-managed OAuth, end to end: the test-only `oauth-probe` guest
//! (`plugins/testing/oauth-probe`) calls a protected resource without any credentials
//! of its own, and the host fetches, caches, refreshes and injects tokens from the
//! reusable mock token endpoint (`sluice_mocks::oauth`) on loopback.
//!
//! The probe declares client credentials; the refresh-token and JWT bearer schemes are
//! given to the same guest through call contexts built from those schemes, since the
//! guest never sees which one produced its `Authorization` header.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sluice::auth::Credentials;
use sluice::control::{ConnectError, connect};
use sluice::model::grants::{GrantRequest, GrantSet};
use sluice::model::{AuthScheme, ConnectorError};
use sluice::registry::Registry;
use sluice::runtime::{CallContext, LoadedPlugin, Runtime};
use sluice::session::InstanceSession;
use sluice::store::{Instance, Secret, Store};
use sluice_mocks::oauth::{OTHER_RSA_PRIVATE_KEY_PKCS8_PEM, TEST_RSA_PRIVATE_KEY_PKCS1_PEM};
use sluice_mocks::{JwtAcceptance, OAuthMock, OAuthMockConfig, OAuthServer, TokenFailure};
use sluice_tests::{Harness, load_test_plugin, oauth_probe_request};

const CLIENT_SECRET: &str = "mock-client-secret";

/// A harness with the oauth probe loaded from this checkout's plugins build dir
/// (`host/build.rs` builds it; the registry's build-dir constant can name another
/// checkout when several share one cargo target dir).
async fn harness() -> Harness {
    let mut h = Harness::new().await;
    load_test_plugin(&mut h.registry, &h.runtime, "oauth_probe.wasm").await;
    h
}

fn probe(h: &Harness) -> LoadedPlugin {
    h.plugin("oauth-probe")
}

/// Connects an `oauth-probe` instance to `server` with `secret` as client secret.
async fn connect_probe(
    h: &Harness,
    server: &OAuthServer,
    name: &str,
    secret: &str,
    allow_private_network: bool,
) -> Result<Instance, ConnectError> {
    let grants = GrantRequest::all();
    let token_url = server.token_url();
    connect_granting(
        h,
        server,
        &token_url,
        name,
        secret,
        allow_private_network,
        grants,
    )
    .await
}

/// [`connect_probe`] with the token endpoint at `token_url` and `grants`.
async fn connect_granting(
    h: &Harness,
    server: &OAuthServer,
    token_url: &str,
    name: &str,
    secret: &str,
    allow_private_network: bool,
    grants: GrantRequest,
) -> Result<Instance, ConnectError> {
    connect(
        &h.store,
        &h.registry,
        oauth_probe_request(
            name,
            token_url,
            &server.base_url(),
            secret,
            allow_private_network,
            grants,
        ),
    )
    .await
    .map(|(inst, _)| inst)
}

/// A fresh call context for a stored instance, as every call and scan builds one.
fn context(h: &Harness, inst: &Instance) -> CallContext {
    let inst = h.store.instance(&inst.id).unwrap();
    InstanceSession::open(&probe(h), &h.store, &inst)
        .unwrap()
        .context()
}

/// `ctx` with its credentials replaced by `scheme`'s over the instance's config and
/// secrets (the egress policy stays the instance's).
fn with_scheme(
    mut ctx: CallContext,
    scheme: &AuthScheme,
    config: &BTreeMap<String, String>,
    secrets: &BTreeMap<String, Secret>,
) -> CallContext {
    let mut net = (*ctx.net).clone();
    net.credentials = Credentials::prepare(scheme, config, secrets).unwrap();
    ctx.net = Arc::new(net);
    ctx
}

/// A token endpoint that accepts `rt-initial` and rotates the refresh token on every
/// refresh (as Microsoft and DocuSign do).
fn rotating_refresh_tokens() -> OAuthMock {
    OAuthMock::new(OAuthMockConfig {
        refresh_token: Some("rt-initial".into()),
        rotate_refresh_tokens: true,
        ..OAuthMockConfig::default()
    })
}

/// Every file below `dir` (bounded depth: the data dir is shallow).
fn files_under(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut pending = vec![(dir.to_path_buf(), 0)];
    while let Some((dir, depth)) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() && depth < 4 {
                pending.push((path, depth + 1));
            } else if path.is_file() {
                out.push(path);
            }
        }
    }
    out
}

/// Requests the protected resource answered with `status`.
fn resource_hits(server: &OAuthServer, status: u16) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.path() == "/me" && r.status == status)
        .count()
}

/// The host sends an instance's client secret only to a token endpoint the operator
/// granted: a connector (hostile, or a newer version that moved it) cannot name
/// another place for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_secret_goes_only_to_a_granted_token_endpoint() {
    let mock = OAuthMock::new(OAuthMockConfig::default());
    let api = mock.serve("/oauth2/token").await.unwrap();
    let collector = mock.serve("/collect").await.unwrap();
    let h = harness().await;

    // Granted the API only: the token endpoint on another origin is refused before
    // anything is sent to it.
    let narrow = GrantRequest {
        egress: Some(GrantSet::Only(vec![api.base_url()])),
        actions: Some(GrantSet::All),
    };
    let err = connect_granting(
        &h,
        &api,
        &collector.token_url(),
        "narrow",
        CLIENT_SECRET,
        true,
        narrow,
    )
    .await
    .unwrap_err();
    let ConnectError::Check(ConnectorError::InvalidConfig(message)) = &err else {
        panic!("{err:?}")
    };
    assert!(
        message.contains("denied")
            && message.contains("token endpoint")
            && message.contains("not granted"),
        "{message}"
    );
    assert!(
        collector.requests().is_empty(),
        "{:?}",
        collector.requests()
    );
    assert!(mock.requests().is_empty(), "no token request was made");

    // The token endpoint is among what the connector asks for, so granting what it
    // asks for grants it, and the secret goes there.
    let inst = connect_granting(
        &h,
        &api,
        &collector.token_url(),
        "wide",
        CLIENT_SECRET,
        true,
        GrantRequest::all(),
    )
    .await
    .unwrap();
    let granted = inst.grants.unwrap().egress;
    assert!(
        granted.contains(&format!("{}/collect/", collector.base_url())),
        "{granted:?}"
    );
    assert_eq!(mock.requests().len(), 1);
    assert_eq!(collector.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_is_fetched_once_and_reused_across_calls() {
    let mock = OAuthMock::new(OAuthMockConfig::default());
    let server = mock.serve("/oauth2/token").await.unwrap();
    let h = harness().await;
    let inst = connect_probe(&h, &server, "cc", CLIENT_SECRET, true)
        .await
        .unwrap();
    for _ in 0..3 {
        let permissions = probe(&h).check(context(&h, &inst)).await.unwrap();
        assert_eq!(permissions.principal.as_deref(), Some("mock-client-id"));
        assert_eq!(permissions.granted, ["users.read"]);
    }
    // connect's check plus three calls, each with a new call context: one token.
    assert_eq!(mock.issued(), 1);
    assert_eq!(resource_hits(&server, 200), 4);
    let request = &mock.requests()[0];
    assert_eq!(request.field("grant_type"), Some("client_credentials"));
    assert_eq!(request.field("client_secret"), Some(CLIENT_SECRET));
    assert_eq!(request.field("scope"), Some("users.read"));
    // The guest's config never holds the secret, and no Debug output shows it.
    let ctx = context(&h, &inst);
    assert!(!format!("{ctx:?}").contains(CLIENT_SECRET));
    assert!(!format!("{:?}", h.runtime.http()).contains("mock-at-"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_drops_the_token_and_retries_exactly_once() {
    let mock = OAuthMock::new(OAuthMockConfig::default());
    let server = mock.serve("/oauth2/token").await.unwrap();
    let h = harness().await;
    let inst = connect_probe(&h, &server, "cc", CLIENT_SECRET, true)
        .await
        .unwrap();
    assert_eq!(mock.issued(), 1);

    // The provider revokes the token early: one 401, one new token, one retry.
    mock.expire_all();
    probe(&h).check(context(&h, &inst)).await.unwrap();
    assert_eq!(mock.issued(), 2);
    assert_eq!(resource_hits(&server, 401), 1);
    assert_eq!(resource_hits(&server, 200), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resource_that_keeps_refusing_gets_one_retry_then_unauthorized() {
    // Tokens that are dead on arrival: every API answer is a 401.
    let mock = OAuthMock::new(OAuthMockConfig {
        token_lifetime: Duration::ZERO,
        ..OAuthMockConfig::default()
    });
    let server = mock.serve("/oauth2/token").await.unwrap();
    let h = harness().await;
    let err = connect_probe(&h, &server, "cc", CLIENT_SECRET, true)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConnectError::Check(ConnectorError::Unauthorized(_))),
        "{err:?}"
    );
    assert_eq!(mock.issued(), 2);
    assert_eq!(resource_hits(&server, 401), 2);
    assert!(h.store.instance("cc").is_err(), "nothing saved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_endpoint_errors_are_unauthorized_with_the_provider_message_and_no_secret() {
    let mock = OAuthMock::new(OAuthMockConfig::default());
    let server = mock.serve("/oauth2/token").await.unwrap();
    let h = harness().await;
    let wrong = "wrong-secret-value-42";
    let err = connect_probe(&h, &server, "cc", wrong, true)
        .await
        .unwrap_err();
    let ConnectError::Check(ConnectorError::Unauthorized(message)) = &err else {
        panic!("{err:?}")
    };
    assert!(
        message.contains("Client authentication failed."),
        "{message}"
    );
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains(wrong), "{shown}");
    }
    assert_eq!(resource_hits(&server, 200) + resource_hits(&server, 401), 0);

    // A provider that quotes the secret back has it redacted.
    mock.set_failure(Some(TokenFailure::new(
        400,
        "invalid_request",
        &format!("AADSTS90014: client_secret '{CLIENT_SECRET}' is malformed"),
    )));
    let err = connect_probe(&h, &server, "cc", CLIENT_SECRET, true)
        .await
        .unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(
        shown.contains("AADSTS90014: client_secret '[redacted]' is malformed"),
        "{shown}"
    );
    assert!(!shown.contains(CLIENT_SECRET), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_refresh_token_is_persisted_to_the_encrypted_store_before_use() {
    let mock = rotating_refresh_tokens();
    let server = mock.serve("/oauth2/token").await.unwrap();
    let h = harness().await;
    let inst = connect_probe(&h, &server, "rt", CLIENT_SECRET, true)
        .await
        .unwrap();
    h.store
        .replace_secret(&inst.id, "refresh_token", &Secret::new("rt-initial"))
        .unwrap();
    let scheme = AuthScheme::Oauth2RefreshToken {
        token_url: "{token_url}".into(),
        client_id_field: "client_id".into(),
        client_secret_field: Some("client_secret".into()),
        refresh_token_field: "refresh_token".into(),
        scopes: vec!["{scope}".into()],
    };
    let call = |h: &Harness| {
        let inst = h.store.instance(&inst.id).unwrap();
        let secrets = h.store.secrets(&inst.id).unwrap();
        with_scheme(context(h, &inst), &scheme, &inst.config, &secrets)
    };

    let permissions = probe(&h).check(call(&h)).await.unwrap();
    assert_eq!(permissions.granted, ["users.read"]);
    let stored = h.store.secrets(&inst.id).unwrap();
    assert_eq!(stored["refresh_token"].expose(), "mock-rt-1");
    assert_eq!(mock.refresh_token().as_deref(), Some("mock-rt-1"));
    assert_eq!(
        stored["client_secret"].expose(),
        CLIENT_SECRET,
        "others kept"
    );

    // Next refresh (token revoked) uses the rotated token and saves the next one.
    mock.expire_all();
    probe(&h).check(call(&h)).await.unwrap();
    let refreshes: Vec<_> = mock
        .requests()
        .into_iter()
        .filter(|r| r.field("grant_type") == Some("refresh_token"))
        .collect();
    assert_eq!(refreshes.len(), 2);
    assert_eq!(refreshes[1].field("refresh_token"), Some("mock-rt-1"));

    // It is on disk, encrypted: a re-opened store reads it back.
    // Close the database: the token cache's save hook holds the last store handle.
    h.runtime.http().outbound().tokens.forget(&inst.id);
    let Harness {
        dir,
        store,
        runtime,
        registry,
    } = h;
    drop((store, registry, runtime));
    let reopened = Store::open(dir.path()).unwrap();
    assert_eq!(
        reopened.secrets(&inst.id).unwrap()["refresh_token"].expose(),
        "mock-rt-2"
    );
    let files = files_under(dir.path());
    assert!(!files.is_empty());
    let raw = files.iter().any(|file| {
        std::fs::read(file).is_ok_and(|bytes| bytes.windows(9).any(|w| w == b"mock-rt-2"))
    });
    assert!(!raw, "the refresh token is stored encrypted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_bearer_assertion_is_signed_by_the_host_and_verified_by_the_mock() {
    let mock = OAuthMock::new(OAuthMockConfig {
        jwt: Some(JwtAcceptance::test_key(
            "integration-key",
            "user-guid",
            "account-d.example",
        )),
        ..OAuthMockConfig::default()
    });
    let server = mock.serve("/oauth/token").await.unwrap();
    let h = harness().await;
    let inst = connect_probe(&h, &server, "cc", CLIENT_SECRET, true)
        .await
        .unwrap();
    let scheme = AuthScheme::JwtBearer {
        token_url: "{token_url}".into(),
        issuer_field: "issuer".into(),
        subject_field: "subject".into(),
        audience: "{audience}".into(),
        private_key_field: "private_key".into(),
        scopes: vec!["signature".into(), "impersonation".into()],
    };
    let mut config = inst.config.clone();
    config.extend(
        [
            ("issuer", "integration-key"),
            ("subject", "user-guid"),
            ("audience", "account-d.example"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let secrets = |pem: &str| -> BTreeMap<String, Secret> {
        [("private_key".to_string(), Secret::new(pem))].into()
    };
    let before = mock.issued();

    let ctx = with_scheme(
        context(&h, &inst),
        &scheme,
        &config,
        &secrets(TEST_RSA_PRIVATE_KEY_PKCS1_PEM),
    );
    assert!(!format!("{ctx:?}").contains("PRIVATE KEY"));
    let permissions = probe(&h).check(ctx).await.unwrap();
    assert_eq!(permissions.principal.as_deref(), Some("user-guid"));
    assert_eq!(permissions.granted, ["signature impersonation"]);
    assert_eq!(mock.issued(), before + 1);
    let claims = mock.assertions().pop().unwrap();
    assert_eq!(claims["iss"], "integration-key");
    assert_eq!(claims["sub"], "user-guid");
    assert_eq!(claims["aud"], "account-d.example");

    // Signed with a key the provider does not know: refused, reported, nothing leaked.
    h.runtime.http().outbound().tokens.forget(&inst.id);
    let ctx = with_scheme(
        context(&h, &inst),
        &scheme,
        &config,
        &secrets(OTHER_RSA_PRIVATE_KEY_PKCS8_PEM),
    );
    let err = probe(&h).check(ctx).await.unwrap_err();
    let ConnectorError::Unauthorized(message) = &err else {
        panic!("{err:?}")
    };
    assert!(message.contains("InvalidSignature"), "{message}");
    assert!(!format!("{err:?}").contains("PRIVATE KEY"));
    assert_eq!(mock.issued(), before + 1);
}

/// Grants saved before token endpoints were destinations are given the token endpoint
/// of the version the instance was connected with when the store is opened, and only
/// of that version: otherwise the instance waits for approval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn older_grants_get_the_connected_versions_token_endpoint_only() {
    use sluice::model::grants::Grants;

    let mock = OAuthMock::new(OAuthMockConfig::default());
    let server = mock.serve("/oauth2/token").await.unwrap();
    let collector = mock.serve("/collect").await.unwrap();
    let h = harness().await;
    let token_url = collector.token_url();
    let all = GrantRequest::all();
    let mut instances = Vec::new();
    for name in ["current", "moved"] {
        let inst = connect_granting(
            &h,
            &server,
            &token_url,
            name,
            CLIENT_SECRET,
            true,
            all.clone(),
        )
        .await
        .unwrap();
        // As an older sluice stored it: the API granted, no token endpoint, schema 0.
        h.store
            .update_instance(&inst.id, |i| {
                i.grants = Some(Grants {
                    egress: vec![format!("{}/", server.base_url())],
                    actions: Vec::new(),
                    scan_writes: Vec::new(),
                    schema: 0,
                });
                if name == "moved" {
                    // Connected with a version that is no longer loaded.
                    i.connector_version = "0.0.1".into();
                }
            })
            .unwrap();
        instances.push(inst);
    }
    let before = mock.requests().len();
    let err = probe(&h)
        .check(context(&h, &instances[0]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("token endpoint"), "{err}");
    assert_eq!(mock.requests().len(), before, "refused before sending");

    let dir = h.dir.path().join("plugins");
    let _control = sluice_tests::control(&h.store, &h.runtime, h.registry.clone(), &dir);
    let current = h.store.instance("current").unwrap().grants.unwrap();
    assert_eq!(current.schema, sluice::model::grants::GRANTS_SCHEMA);
    assert!(
        current
            .egress
            .contains(&format!("{}/collect/", collector.base_url())),
        "{current:?}"
    );
    probe(&h).check(context(&h, &instances[0])).await.unwrap();

    let moved = h.store.instance("moved").unwrap().grants.unwrap();
    assert_eq!(moved.schema, 0, "not migrated: its version is not loaded");
    assert!(probe(&h).check(context(&h, &instances[1])).await.is_err());
}

/// An action run as the CLI runs it (a new process: no cached token, no hooks) on a
/// refresh-token instance whose provider rotates refresh tokens saves the new one, so
/// the next start does not present a revoked token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_saves_a_refresh_token_rotated_while_it_runs() {
    use sluice::capabilities::http::{HttpClient, HttpLimits, Outbound};
    use sluice::control::ActInput;
    use sluice::model::ActionKind;
    use sluice::runtime::RuntimeConfig;

    let mock = rotating_refresh_tokens();
    let server = mock.serve("/oauth2/token").await.unwrap();
    let mut h = Harness::new().await;
    load_test_plugin(&mut h.registry, &h.runtime, "oauth_probe_refresh.wasm").await;
    let (token_url, api_url) = (server.token_url(), server.base_url());
    let (inst, _) = h
        .connect_to(
            "oauth-probe",
            "rt",
            &[
                ("token_url", &token_url),
                ("api_url", &api_url),
                ("client_id", "mock-client-id"),
                ("scope", "users.read"),
            ],
            &[
                ("client_secret", CLIENT_SECRET),
                ("refresh_token", "rt-initial"),
            ],
        )
        .await
        .unwrap();
    let reports = h.scan(&inst, &[], 10).await;
    assert!(reports.iter().all(|r| r.error.is_none()), "{reports:?}");
    let stored = |h: &Harness| {
        h.store.secrets(&inst.id).unwrap()["refresh_token"]
            .expose()
            .to_owned()
    };
    assert_eq!(Some(stored(&h)), mock.refresh_token());

    // `sluice act` in a new process: a fresh runtime over the same store.
    let runtime = Runtime::new(
        RuntimeConfig::default(),
        HttpClient::new(HttpLimits::default(), Outbound::new(&Default::default())).unwrap(),
    )
    .unwrap();
    let dir = h.dir.path().join("plugins");
    let mut registry = Registry::load(&runtime, &dir).await;
    load_test_plugin(&mut registry, &runtime, "oauth_probe_refresh.wasm").await;
    let control = sluice_tests::control(&h.store, &runtime, registry, &dir);
    let before = mock.refresh_token();
    let out = control
        .act(
            "rt",
            ActInput {
                action: ActionKind::SuspendUser,
                target: "mock-client-id".into(),
                params: Default::default(),
                reason: None,
                dry_run: false,
            },
            "local:test",
        )
        .await
        .unwrap();
    assert_eq!(out.audit.outcome, "done", "{out:?}");
    assert_ne!(
        mock.refresh_token(),
        before,
        "the action's token request rotated it"
    );
    assert_eq!(
        Some(stored(&h)),
        mock.refresh_token(),
        "the rotated token is saved"
    );
}
