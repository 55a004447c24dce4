//! Builds the first-party wasm plugins (`plugins/`, its own workspace) so that a plain
//! `cargo build`/`cargo test`/`cargo run` on a fresh clone has them: the built-in
//! connectors are embedded in the `sluice` binary, and tests find the test-only guests
//! through `SLUICE_PLUGIN_BUILD_DIR`.
//!
//! It also makes sure the `wasm32-wasip2` target is installed: rust-toolchain.toml
//! lists it, but rustup only installs listed targets together with the toolchain.

use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";
/// Connectors embedded in the binary as built-ins (test-only guests are not).
const BUILTIN: &[&str] = &[
    "github",
    "docusign",
    "m365",
    "netdocuments",
    "okta",
    "zendesk",
    "slack",
    "atlassian",
    "servicenow",
    "salesforce",
    "onelogin",
    "zoom",
    "webex",
    "google",
    "dropbox",
    "box",
];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap();
    let plugins = root.join("plugins");
    // The connectors embedded here, plus what every guest build depends on.
    let watched = [".cargo", "Cargo.toml", "Cargo.lock", "sdk", "testing"];
    for p in watched.iter().chain(BUILTIN) {
        println!("cargo:rerun-if-changed={}", plugins.join(p).display());
    }
    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    println!("cargo:rerun-if-env-changed=SLUICE_SKIP_PLUGIN_BUILD");
    let lockfile = root.join("Cargo.lock");
    println!("cargo:rerun-if-changed={}", lockfile.display());
    println!(
        "cargo:rustc-env=SLUICE_WASMTIME_VERSION={}",
        locked_version(&lockfile, "wasmtime")
    );

    let out_dir = plugins.join("target").join(TARGET).join("release");
    // For hacking on the host alone: use whatever plugins were built before.
    let skip = std::env::var_os("SLUICE_SKIP_PLUGIN_BUILD").is_some();
    if !skip {
        ensure_target();
        build_plugins(&plugins);
    }
    println!(
        "cargo:rustc-env=SLUICE_PLUGIN_BUILD_DIR={}",
        out_dir.display()
    );

    // The built-in table: (connector file stem, bytes).
    let mut table = String::from("&[\n");
    for name in BUILTIN {
        let wasm = out_dir.join(format!("{name}.wasm"));
        if skip && !wasm.exists() {
            println!(
                "cargo:warning={} is missing; the built-in {name} connector is left out",
                wasm.display()
            );
            continue;
        }
        assert!(
            wasm.exists(),
            "{} was not built; run `cargo build --release --target {TARGET}` in plugins/",
            wasm.display()
        );
        table.push_str(&format!(
            "    ({name:?}, include_bytes!({:?}) as &[u8]),\n",
            wasm.display().to_string()
        ));
    }
    table.push(']');
    let generated = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("builtin_plugins.rs");
    std::fs::write(generated, table).unwrap();
}

fn ensure_target() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let installed = sysroot
        .as_deref()
        .is_some_and(|s| Path::new(s).join("lib/rustlib").join(TARGET).exists());
    if installed {
        return;
    }
    let status = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status();
    match status {
        Ok(s) if s.success() => {}
        other => panic!(
            "the {TARGET} target is missing and `rustup target add {TARGET}` failed ({other:?}); install it and rebuild"
        ),
    }
}

fn build_plugins(plugins: &Path) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(plugins)
        .args(["build", "--release", "--target", TARGET, "--workspace"])
        // The outer build's settings are for the host, not for wasm guests.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("RUSTC_WORKSPACE_WRAPPER");
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("CARGO_PROFILE_")
            || k.starts_with("CARGO_FEATURE_")
            || k.starts_with("CARGO_CFG_")
        {
            cmd.env_remove(k);
        }
    }
    let output = cmd.output().expect("running cargo for plugins/");
    if !output.status.success() {
        panic!(
            "building the wasm plugins failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// The version of `package` that `lockfile` pins, for the compile cache's file names;
/// "unlocked" when there is no lockfile (the engine hash in the name still keeps
/// entries of different wasmtime builds apart).
fn locked_version(lockfile: &Path, package: &str) -> String {
    let Ok(lock) = std::fs::read_to_string(lockfile) else {
        return "unlocked".into();
    };
    let name = format!("name = \"{package}\"");
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == name
            && let Some(version) = lines
                .next()
                .and_then(|l| l.strip_prefix("version = \""))
                .and_then(|l| l.strip_suffix('"'))
        {
            return version.to_string();
        }
    }
    "unlocked".into()
}
