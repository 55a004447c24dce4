//! The connectors' own unit tests (SDK paging helpers, JSON mapping, cursors) run
//! natively against the SDK's fake host. They live in the `plugins/` workspace, which
//! targets wasm by default, so this test runs them for the host triple: one
//! `cargo test --workspace` then covers both workspaces.

use std::process::Command;

#[test]
fn plugin_workspace_unit_tests_pass() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let host = String::from_utf8(
        Command::new("rustc")
            .current_dir(&root)
            .arg("-vV")
            .output()
            .expect("rustc -vV")
            .stdout,
    )
    .unwrap()
    .lines()
    .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
    .expect("host triple");
    let out = Command::new(cargo)
        .current_dir(root.join("plugins"))
        .args([
            "test",
            "--workspace",
            "--exclude",
            "sluice-probe",
            "--target",
            &host,
        ])
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .output()
        .expect("running cargo test in plugins/");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "plugin unit tests failed:\n{stdout}\n{stderr}"
    );
    let passed: usize = stdout
        .lines()
        .filter_map(|l| l.strip_prefix("test result: ok. "))
        .filter_map(|l| l.split(' ').next()?.parse::<usize>().ok())
        .sum();
    assert!(
        passed >= 10,
        "expected the connector unit tests to run, saw {passed}:\n{stdout}"
    );
}
