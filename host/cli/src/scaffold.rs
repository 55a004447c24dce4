//! `sluice new-connector NAME`: a buildable connector crate to start from.
//!
//! The crate is self-contained: the guest SDK and the WIT it is generated from are
//! vendored into it (`sluice-sdk/`), copied from the ones this binary was built with,
//! so it builds without a Sluice checkout and always matches the host's contract. It
//! has a unit test over a sample response, a README with the build and test commands,
//! and a `fixtures/` recording that `sluice test-connector` passes out of the box.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

/// The template connector's files, with `{{NAME}}`, `{{TITLE}}` and `{{LIB}}` to fill.
const TEMPLATES: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("scaffold/Cargo.toml.tmpl")),
    ("README.md", include_str!("scaffold/README.md.tmpl")),
    ("src/lib.rs", include_str!("scaffold/lib.rs.tmpl")),
    (
        ".cargo/config.toml",
        include_str!("../../../plugins/.cargo/config.toml"),
    ),
    (".gitignore", "/target\n"),
    (
        "fixtures/sluice-fixtures.json",
        include_str!("scaffold/fixtures/sluice-fixtures.json"),
    ),
    (
        "fixtures/0001.json",
        include_str!("scaffold/fixtures/0001.json"),
    ),
    (
        "fixtures/0002.json",
        include_str!("scaffold/fixtures/0002.json"),
    ),
    (
        "fixtures/0003.json",
        include_str!("scaffold/fixtures/0003.json"),
    ),
];

/// The SDK and WIT, vendored as they are in this build.
const VENDORED: &[(&str, &str)] = &[
    // The versions the SDK was built and tested with (cargo drops what is unused).
    ("Cargo.lock", include_str!("../../../plugins/Cargo.lock")),
    (
        "sluice-sdk/Cargo.toml",
        include_str!("../../../plugins/sdk/Cargo.toml"),
    ),
    (
        "sluice-sdk/src/lib.rs",
        include_str!("../../../plugins/sdk/src/lib.rs"),
    ),
    (
        "sluice-sdk/src/action.rs",
        include_str!("../../../plugins/sdk/src/action.rs"),
    ),
    (
        "sluice-sdk/src/connector.rs",
        include_str!("../../../plugins/sdk/src/connector.rs"),
    ),
    (
        "sluice-sdk/src/records.rs",
        include_str!("../../../plugins/sdk/src/records.rs"),
    ),
    (
        "sluice-sdk/src/config.rs",
        include_str!("../../../plugins/sdk/src/config.rs"),
    ),
    (
        "sluice-sdk/src/error.rs",
        include_str!("../../../plugins/sdk/src/error.rs"),
    ),
    (
        "sluice-sdk/src/files.rs",
        include_str!("../../../plugins/sdk/src/files.rs"),
    ),
    (
        "sluice-sdk/src/http.rs",
        include_str!("../../../plugins/sdk/src/http.rs"),
    ),
    (
        "sluice-sdk/src/imports.rs",
        include_str!("../../../plugins/sdk/src/imports.rs"),
    ),
    (
        "sluice-sdk/src/json.rs",
        include_str!("../../../plugins/sdk/src/json.rs"),
    ),
    (
        "sluice-sdk/src/log.rs",
        include_str!("../../../plugins/sdk/src/log.rs"),
    ),
    (
        "sluice-sdk/src/pagination.rs",
        include_str!("../../../plugins/sdk/src/pagination.rs"),
    ),
    (
        "sluice-sdk/src/testing.rs",
        include_str!("../../../plugins/sdk/src/testing.rs"),
    ),
    (
        "sluice-sdk/src/time.rs",
        include_str!("../../../plugins/sdk/src/time.rs"),
    ),
    (
        "sluice-sdk/wit/since_v0.3.0/config.wit",
        include_str!("../../../wit/since_v0.3.0/config.wit"),
    ),
    (
        "sluice-sdk/wit/since_v0.3.0/connector.wit",
        include_str!("../../../wit/since_v0.3.0/connector.wit"),
    ),
    (
        "sluice-sdk/wit/since_v0.3.0/http.wit",
        include_str!("../../../wit/since_v0.3.0/http.wit"),
    ),
    (
        "sluice-sdk/wit/since_v0.3.0/log.wit",
        include_str!("../../../wit/since_v0.3.0/log.wit"),
    ),
    (
        "sluice-sdk/wit/since_v0.3.0/types.wit",
        include_str!("../../../wit/since_v0.3.0/types.wit"),
    ),
];

/// Where the SDK finds its WIT in the repository, and in a scaffolded crate.
const WIT_PATH_IN_REPO: &str = "\"../../wit/since_v0.3.0\"";
const WIT_PATH_VENDORED: &str = "\"wit/since_v0.3.0\"";

/// Why a connector name is refused, if it is.
fn check_name(name: &str) -> Result<(), String> {
    let ok = name.len() <= 40
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.ends_with('-')
        && name != "sluice-sdk";
    if ok {
        Ok(())
    } else {
        Err(format!(
            "connector name `{name}`: use 1–40 lowercase letters, digits and dashes, starting with a letter (it becomes the connector id and the crate name)"
        ))
    }
}

/// `acme-hr` → `Acme Hr`.
fn title(name: &str) -> String {
    name.split('-')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Write the crate for connector `name` into `parent/name`; returns that folder.
pub fn new_connector(name: &str, parent: &Path) -> anyhow::Result<PathBuf> {
    check_name(name).map_err(anyhow::Error::msg)?;
    let dir = parent.join(name);
    if dir.exists()
        && std::fs::read_dir(&dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .next()
            .is_some()
    {
        bail!(
            "{} exists and is not empty; choose another name or --dir",
            dir.display()
        );
    }
    let lib = name.replace('-', "_");
    let fill = |text: &str| {
        text.replace("{{NAME}}", name)
            .replace("{{TITLE}}", &title(name))
            .replace("{{LIB}}", &lib)
    };
    let files = TEMPLATES
        .iter()
        .map(|(path, text)| (*path, fill(text)))
        .chain(VENDORED.iter().map(|(path, text)| {
            let text = if *path == "sluice-sdk/src/lib.rs" {
                text.replace(WIT_PATH_IN_REPO, WIT_PATH_VENDORED)
            } else {
                text.to_string()
            };
            (*path, text)
        }));
    for (path, text) in files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_ids_titles_and_crates() {
        assert!(check_name("acme-hr").is_ok());
        for bad in ["", "Acme", "1acme", "acme_hr", "acme-", "sluice-sdk", "a/b"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert_eq!(title("acme-hr"), "Acme Hr");
    }

    #[test]
    fn the_vendored_sdk_points_at_its_own_wit_copy() {
        let lib = VENDORED
            .iter()
            .find(|(p, _)| *p == "sluice-sdk/src/lib.rs")
            .unwrap()
            .1;
        assert!(lib.contains(WIT_PATH_IN_REPO), "the SDK's WIT path moved");
        let dir = tempfile::tempdir().unwrap();
        let out = new_connector("acme-hr", dir.path()).unwrap();
        let vendored = std::fs::read_to_string(out.join("sluice-sdk/src/lib.rs")).unwrap();
        assert!(vendored.contains(WIT_PATH_VENDORED));
        let lib_rs = std::fs::read_to_string(out.join("src/lib.rs")).unwrap();
        assert!(lib_rs.contains("\"acme-hr\","), "the id is filled in");
        assert!(!lib_rs.contains("{{"));
        assert!(new_connector("acme-hr", dir.path()).is_err(), "overwrote");
    }
}
