//! The layering in `src/lib.rs`'s `# Layout` table holds: no module imports from a
//! layer above its own, and no two modules import each other. The table is read from
//! `lib.rs` itself, so the doc and the code cannot drift apart.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module → layer, from the `//! | N | [`a`], [`b`] | … |` rows of lib.rs.
fn layers(lib: &str) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    for line in lib.lines() {
        let Some(row) = line.strip_prefix("//! | ") else {
            continue;
        };
        let mut cells = row.split(" | ");
        let Some(Ok(layer)) = cells.next().map(|c| c.trim().parse::<u32>()) else {
            continue;
        };
        let modules = cells.next().unwrap_or_default();
        for name in modules.split(',') {
            let name = name.trim().trim_start_matches("[`").trim_end_matches("`]");
            out.insert(name.to_string(), layer);
        }
    }
    out
}

/// The top-level modules `source` names as `crate::NAME`, comments left out.
fn imports(source: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in source.lines() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                // `crate::{a::X, b}`: the top-level names inside the braces.
                let inner = &group[..group.find('}').unwrap_or(group.len())];
                for part in inner.split(',') {
                    let name: String = part
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        out.insert(name);
                    }
                }
                continue;
            }
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_module_imports_from_a_layer_above_or_from_a_module_that_imports_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let layers = layers(&lib);
    assert!(
        layers.len() >= 8,
        "the layout table lists the modules: {layers:?}"
    );

    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut problems = Vec::new();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if top == "lib" || top == "main" {
            continue;
        }
        let Some(&own) = layers.get(&top) else {
            problems.push(format!("module `{top}` is missing from the layout table"));
            continue;
        };
        let source = std::fs::read_to_string(&file).unwrap();
        for name in imports(&source) {
            if name == top {
                continue;
            }
            match layers.get(&name) {
                None => problems.push(format!(
                    "{}: `crate::{name}` is not in the layout table",
                    rel.display()
                )),
                Some(&theirs) if theirs > own => problems.push(format!(
                    "{} (layer {own}) imports `{name}` (layer {theirs})",
                    rel.display()
                )),
                Some(_) => {
                    edges.entry(top.clone()).or_default().insert(name);
                }
            }
        }
    }
    for (a, targets) in &edges {
        for b in targets {
            if a < b && edges.get(b).is_some_and(|t| t.contains(a)) {
                problems.push(format!("`{a}` and `{b}` import each other"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_checker_sees_grouped_and_plain_imports_and_skips_comments() {
    let seen = imports(
        "use crate::{model::Kind, store};\n// use crate::api;\nlet x = crate::runtime::X;\n",
    );
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        ["model", "runtime", "store"]
    );
    let table = layers("//! | 2 | [`store`] | x |\n//! | 3 | [`a`], [`b`] | y |\n");
    assert_eq!(table.get("b"), Some(&3));
    assert_eq!(table.get("store"), Some(&2));
}
