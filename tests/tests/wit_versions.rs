//! Several WIT versions side by side: the GitHub connector as built against
//! `sluice:connector@0.1.0` and `@0.2.0` (frozen in `tests/artifacts/v0.1.0` and
//! `v0.2.0`) loads and runs beside the built-in connectors, which are `0.3.0`, each
//! through its own bindings, and a version the host does not know is rejected with
//! the reason. The host tells versions apart by the component's import and export
//! names.

use std::path::PathBuf;

use sluice::control::{ConnectRequest, connect};
use sluice::model::Kind;
use sluice::model::grants::GrantRequest;
use sluice::registry::Registry;
use sluice::runtime::LoadError;
use sluice::scan::{ScanOptions, scan_instance};
use sluice::store::Secret;
use sluice_mocks::GithubMock;
use sluice_tests::{Harness, test_plugin};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn older_components_load_and_scan_beside_the_latest_in_one_runtime() {
    let h = Harness::new().await;
    assert_eq!(h.github().wit.as_str(), "0.3.0", "the built-ins are 0.3.0");
    let mock = GithubMock::start(Default::default()).await.unwrap();
    let expected_users = mock.expected().users;
    for version in ["0.1.0", "0.2.0"] {
        // The frozen build has the built-in's id and version, and a file overrides a
        // built-in of the same version, so it gets a registry of its own over the
        // same runtime (and store).
        let file = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join(format!("artifacts/v{version}/github.wasm"));
        let mut frozen = Registry::load_dir(&h.runtime, &h.dir.path().join("none")).await;
        let old = frozen
            .load_file(&h.runtime, &file)
            .await
            .map(|e| e.plugin.clone());
        let old = old.unwrap_or_else(|| panic!("{:?}", frozen.rejected()));
        assert_eq!(old.wit.as_str(), version);
        assert_eq!(old.info.id, "github");
        // What the older contract lacks reads as its old meaning.
        assert!(!old.info.activity_partitions);

        let (inst, _) = connect(
            &h.store,
            &frozen,
            ConnectRequest {
                connector: "github".into(),
                name: format!("acme-{version}"),
                config: [
                    ("org".to_string(), mock.config().org.clone()),
                    ("base_url".to_string(), mock.base_url()),
                ]
                .into(),
                secrets: [("token".to_string(), Secret::new(&mock.config().token))].into(),
                allow_private_network: true,
                grants: GrantRequest::all(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let reports = scan_instance(
            &h.store,
            &old,
            &inst,
            &[Kind::Users, Kind::Activities],
            &ScanOptions::default(),
        )
        .await
        .unwrap();
        for r in &reports {
            assert_eq!(r.error, None, "{version}: {reports:?}");
        }
        assert_eq!(h.live(&inst, Kind::Users), expected_users, "{version}");
        assert_eq!(
            h.live(&inst, Kind::Activities),
            mock.expected().audit_events,
            "{version}"
        );
    }

    // …and a 0.3.0 instance of the built-in in the same runtime.
    let (inst, _) = h
        .connect_github(&mock, "acme-0-3", &mock.config().token)
        .await
        .unwrap();
    let reports = h.scan(&inst, &[Kind::Users], 100).await;
    assert_eq!(reports[0].error, None, "{reports:?}");
    assert_eq!(h.live(&inst, Kind::Users), expected_users);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_wit_version_is_rejected_with_the_reason() {
    let h = Harness::new().await;
    // The probe (0.3.0) with every `@0.3.0` interface name rewritten to `@0.9.0`
    // (same length, so the binary stays well formed).
    let mut bytes = test_plugin("probe");
    let (from, to) = (b"@0.3.0", b"@0.9.0");
    let mut i = 0;
    while i + from.len() <= bytes.len() {
        if &bytes[i..i + from.len()] == from {
            bytes[i..i + from.len()].copy_from_slice(to);
        }
        i += 1;
    }
    let err = h.runtime.load(&bytes).await.unwrap_err();
    assert!(matches!(err, LoadError::UnsupportedWit(_)), "{err}");
    let reason = err.to_string();
    assert!(reason.contains("sluice:connector@0.9.0"), "{reason}");
    assert!(reason.contains("supports 0.1.0, 0.2.0, 0.3.0"), "{reason}");
}
