//! Operator grants: a connector reaches only the egress destinations and runs only the
//! actions the operator granted its instance, and connecting without deciding what
//! it asks for fails before any request.

use std::path::PathBuf;

use sluice::control::ConnectError;
use sluice::model::grants::{GrantError, GrantRequest, GrantSet, Grants};
use sluice::model::{ActionKind, ConnectorError};
use sluice::registry::PLUGIN_BUILD_DIR;
use sluice::runtime::ActionRequest;
use sluice::store::Instance;
use sluice_mocks::{GithubMock, GithubMockConfig, StepperMock};
use sluice_tests::Harness;

/// A harness with these test-only guests loaded from their build.
async fn with_guests(files: &[&str]) -> Harness {
    let mut h = Harness::new().await;
    for file in files {
        let path = PathBuf::from(PLUGIN_BUILD_DIR).join(file);
        h.registry
            .load_file(&h.runtime, &path)
            .await
            .unwrap_or_else(|| panic!("{file} loads"));
    }
    h
}

async fn with_stepper() -> Harness {
    with_guests(&["stepper.wasm"]).await
}

fn suspend(target: &str) -> ActionRequest {
    ActionRequest {
        kind: ActionKind::SuspendUser,
        target: target.into(),
        params: Vec::new(),
        reason: None,
        dry_run: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_without_deciding_the_asks_lists_them_and_sends_nothing() {
    let h = with_stepper().await;
    let mock = StepperMock::start(1).await.unwrap();
    let base = mock.base_url();
    let err = h
        .connect_granting(
            "stepper",
            "s",
            &[("base_url", base.as_str())],
            &[],
            GrantRequest::default(),
        )
        .await
        .unwrap_err();
    let ConnectError::Grants(GrantError::Required(message)) = &err else {
        panic!("{err:?}")
    };
    assert!(message.contains(&format!("{base}/")), "{message}");
    assert!(message.contains("suspend-user"), "{message}");
    assert!(message.contains("--grant all"), "{message}");
    assert!(mock.requests().is_empty(), "{:?}", mock.requests());
    assert!(h.store.instances().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn egress_to_an_ungranted_destination_is_denied() {
    let h = with_guests(&["probe.wasm"]).await;
    let mock = GithubMock::start(GithubMockConfig::default())
        .await
        .unwrap();
    let url = format!("{}/user", mock.base_url());
    let config = [("mode", "egress"), ("url", url.as_str())];

    // Granted something else: the probe's request is denied in the host.
    for (name, egress) in [
        ("nothing", vec![]),
        ("other-host", vec!["https://api.github.com".to_string()]),
    ] {
        let grants = GrantRequest {
            egress: Some(GrantSet::Only(egress)),
            actions: None,
        };
        let err = h
            .connect_granting("probe", name, &config, &[], grants)
            .await
            .unwrap_err();
        let ConnectError::Check(ConnectorError::Other(m)) = &err else {
            panic!("{err:?}")
        };
        assert!(m.starts_with("denied:"), "{m}");
    }
    assert!(mock.requests().is_empty(), "{:?}", mock.requests());

    // Granted: the same request goes out.
    let (_, permissions) = h
        .connect_granting("probe", "granted", &config, &[], GrantRequest::all())
        .await
        .unwrap();
    assert!(
        permissions.principal.unwrap().starts_with("status:"),
        "the request reached the mock"
    );
    assert_eq!(mock.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_not_granted_is_refused_before_any_request() {
    let h = with_stepper().await;
    let mock = StepperMock::start(1).await.unwrap();
    let base = mock.base_url();
    let egress_only = GrantRequest {
        egress: Some(GrantSet::All),
        actions: Some(GrantSet::Only(vec![])),
    };
    let (no_actions, _) = h
        .connect_granting(
            "stepper",
            "no-actions",
            &[("base_url", base.as_str())],
            &[],
            egress_only,
        )
        .await
        .unwrap();
    let (granted, _) = h
        .connect_granting(
            "stepper",
            "granted",
            &[("base_url", base.as_str())],
            &[],
            GrantRequest::all(),
        )
        .await
        .unwrap();
    assert_eq!(
        granted.grants.as_ref().unwrap().actions,
        [ActionKind::SuspendUser]
    );

    mock.clear_requests();
    let err = h.act(&no_actions, suspend("u1-a")).await.unwrap_err();
    assert_eq!(err.code(), "not-granted", "{err}");
    assert!(err.to_string().contains("suspend-user"), "{err}");
    assert!(
        mock.requests().is_empty(),
        "refused before any request: {:?}",
        mock.requests()
    );

    let done = h.act(&granted, suspend("u1-a")).await.unwrap();
    assert_eq!(done.status, "done");
    let sent: Vec<String> = mock
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path()))
        .collect();
    assert_eq!(sent, ["POST /users/u1-a/suspend"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_saved_before_grants_are_granted_what_their_connector_asks_for() {
    let h = with_stepper().await;
    let mock = StepperMock::start(1).await.unwrap();
    let base = mock.base_url();
    let (inst, _) = h
        .connect_granting(
            "stepper",
            "legacy",
            &[("base_url", base.as_str())],
            &[],
            GrantRequest::all(),
        )
        .await
        .unwrap();
    // As an older sluice stored it: no `grants` field at all.
    let legacy: Instance = {
        let mut v = serde_json::to_value(&inst).unwrap();
        v.as_object_mut().unwrap().remove("grants");
        serde_json::from_value(v).unwrap()
    };
    assert_eq!(legacy.grants, None);
    h.store
        .update_instance(&inst.id, |i| i.grants = None)
        .unwrap();
    // It keeps working before migration: a scan reaches the mock.
    let reports = h.scan(&legacy, &[], 10).await;
    assert!(reports.iter().all(|r| r.error.is_none()), "{reports:?}");

    let dir = h.dir.path().join("plugins");
    let _control = sluice_tests::control(&h.store, &h.runtime, h.registry.clone(), &dir);
    let migrated = h.store.instance("legacy").unwrap().grants.unwrap();
    assert_eq!(
        migrated,
        Grants {
            egress: vec![format!("{base}/")],
            actions: vec![ActionKind::SuspendUser],
            scan_writes: vec![],
            schema: sluice::model::grants::GRANTS_SCHEMA,
        }
    );
}
