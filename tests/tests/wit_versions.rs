//! Several WIT versions side by side: a component built against the TEST-ONLY
//! `tests/wit/v0.2-test` (`sluice:connector@0.2.0`) loads beside `0.1.0` connectors,
//! each through its own bindings, and a version the host does not know is rejected
//! with the reason. The host tells versions apart by the component's import and
//! export names.

use std::path::PathBuf;

use sluice::registry::PLUGIN_BUILD_DIR;
use sluice::runtime::LoadError;
use sluice_tests::{Harness, test_plugin};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_0_2_component_loads_beside_0_1_ones_and_gets_its_new_import() {
    let mut h = Harness::new().await;
    let file = PathBuf::from(PLUGIN_BUILD_DIR).join("wit_next.wasm");
    let wit = h
        .registry
        .load_file(&h.runtime, &file)
        .await
        .map(|e| e.plugin.wit.as_str());
    assert_eq!(wit, Some("0.2.0"), "{:?}", h.registry.rejected());
    assert_eq!(h.github().wit.as_str(), "0.1.0");

    // A 0.2.0 call uses the import only 0.2.0 has (`config.names`)…
    let (_, permissions) = h
        .connect_to("wit-next", "next", &[("label", "x")], &[])
        .await
        .unwrap();
    assert_eq!(permissions.principal.as_deref(), Some("names:label"));
    // …while a 0.1.0 connector in the same runtime keeps working.
    let mock = sluice_mocks::GithubMock::start(Default::default())
        .await
        .unwrap();
    h.connect_github(&mock, "acme", &mock.config().token)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_wit_version_is_rejected_with_the_reason() {
    let h = Harness::new().await;
    // The probe (0.1.0) with every `@0.1.0` interface name rewritten to `@0.9.0`
    // (same length, so the binary stays well formed).
    let mut bytes = test_plugin("probe");
    let (from, to) = (b"@0.1.0", b"@0.9.0");
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
    assert!(reason.contains("supports 0.1.0, 0.2.0"), "{reason}");
}
