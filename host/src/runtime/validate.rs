//! What a component must be before it is loaded: within the sandbox's per-instance
//! footprint, targeting a WIT version this host links, and describing itself sanely.

use wasmtime::Engine;
use wasmtime::component::Component;

use super::pool::{POOL_MEMORIES_PER_INSTANCE, POOL_TABLES_PER_INSTANCE};
use super::{LoadError, WitVersion};
use crate::model::ConnectorInfo;
use crate::model::template::Template;

/// Refuse a component that needs more linear memories or tables per instance than
/// the sandbox gives one (see [`POOL_MEMORIES_PER_INSTANCE`]), whether or not this
/// runtime pools, so a plugin that loads in the CLI also loads in the daemon.
pub(super) fn check_footprint(component: &Component) -> Result<(), LoadError> {
    let Some(needs) = component.resources_required() else {
        return Err(LoadError::NotAComponent(
            "the component imports core modules, which sluice does not provide".into(),
        ));
    };
    if needs.num_memories > POOL_MEMORIES_PER_INSTANCE {
        return Err(LoadError::Footprint(format!(
            "the component defines {} linear memories; a connector may have at most {POOL_MEMORIES_PER_INSTANCE}",
            needs.num_memories
        )));
    }
    if needs.num_tables > POOL_TABLES_PER_INSTANCE {
        return Err(LoadError::Footprint(format!(
            "the component defines {} tables; a connector may have at most {POOL_TABLES_PER_INSTANCE}",
            needs.num_tables
        )));
    }
    Ok(())
}

/// Which connector WIT version a component targets, from its import and export names.
pub(super) fn wit_version(engine: &Engine, component: &Component) -> Result<WitVersion, LoadError> {
    let ty = component.component_type();
    let exports: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_string()).collect();
    let imports: Vec<String> = ty.imports(engine).map(|(n, _)| n.to_string()).collect();
    let ours = exports
        .iter()
        .find(|n| n.starts_with("sluice:connector/connector@"))
        .ok_or_else(|| {
            LoadError::UnsupportedWit(format!(
                "the component exports no `sluice:connector/connector` interface (exports: {})",
                if exports.is_empty() {
                    "none".to_string()
                } else {
                    exports.join(", ")
                }
            ))
        })?;
    let version = ours.rsplit('@').next().unwrap_or_default();
    for import in imports
        .iter()
        .filter(|n| n.starts_with("sluice:connector/"))
    {
        if !import.ends_with(&format!("@{version}")) {
            return Err(LoadError::UnsupportedWit(format!(
                "mixed WIT versions: exports {ours} but imports {import}"
            )));
        }
    }
    WitVersion::SUPPORTED
        .iter()
        .copied()
        .find(|v| v.as_str() == version)
        .ok_or_else(|| {
            let supported: Vec<&str> = WitVersion::SUPPORTED.iter().map(|v| v.as_str()).collect();
            LoadError::UnsupportedWit(format!(
                "sluice:connector@{version} (this host supports {})",
                supported.join(", ")
            ))
        })
}

/// Checks on `describe()` output that the WIT types cannot express.
pub(super) fn validate_info(info: &ConnectorInfo) -> Result<(), String> {
    let id_ok = !info.id.is_empty()
        && info
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !id_ok {
        return Err(format!("id `{}` must be lowercase [a-z0-9-]", info.id));
    }
    let core = info.version.split(['-', '+']).next().unwrap_or_default();
    if core.split('.').count() != 3 || core.split('.').any(|n| n.parse::<u64>().is_err()) {
        return Err(format!(
            "version `{}` is not semver (MAJOR.MINOR.PATCH)",
            info.version
        ));
    }
    let mut names = std::collections::HashSet::new();
    for f in &info.config {
        if !names.insert(f.name.as_str()) {
            return Err(format!("config field `{}` is declared twice", f.name));
        }
    }
    if info.auth.is_empty() {
        return Err("it declares no auth option (use `none` for public APIs)".into());
    }
    let mut ids = std::collections::HashSet::new();
    for o in &info.auth {
        let ok = !o.id.is_empty()
            && (o.id.bytes()).all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !ok {
            return Err(format!(
                "auth option id `{}` must be lowercase [a-z0-9-]",
                o.id
            ));
        }
        if !ids.insert(o.id.as_str()) {
            return Err(format!("auth option `{}` is declared twice", o.id));
        }
    }
    let secret_fields = info.auth.iter().flat_map(|o| o.scheme.secret_fields());
    for name in secret_fields {
        match info.config.iter().find(|f| f.name == name) {
            Some(f) if f.secret => {}
            Some(_) => {
                return Err(format!(
                    "auth uses config field `{name}`, which is not marked secret"
                ));
            }
            None => {
                return Err(format!(
                    "auth uses config field `{name}`, which is not declared"
                ));
            }
        }
    }
    for w in &info.scan_writes {
        let write = crate::model::http::Method::parse(&w.method).is_some_and(|m| m.is_write());
        if !write {
            return Err(format!(
                "scan write `{} {}`: only POST, PUT, PATCH and DELETE are writes",
                w.method, w.url
            ));
        }
    }
    // Every template over config: egress, the token endpoints (destinations too, see
    // `AuthScheme::token_url`), audiences and user names, scan writes and defaults.
    let egress = info.egress.iter().map(|t| ("egress", t.as_str()));
    let auth =
        (info.auth.iter()).flat_map(|o| o.scheme.templates().into_iter().map(|t| ("auth", t)));
    let writes = info
        .scan_writes
        .iter()
        .map(|w| ("scan write", w.url.as_str()));
    let defaults = (info.config.iter()).filter_map(|f| Some(("default", f.default.as_deref()?)));
    for (what, t) in egress.chain(auth).chain(writes).chain(defaults) {
        let template = Template::parse(t).map_err(|e| format!("{what} {e}"))?;
        for name in template.fields() {
            match info.config.iter().find(|f| f.name == name) {
                Some(f) if f.secret => {
                    return Err(format!("{what} template `{t}` uses secret field `{name}`"));
                }
                Some(_) => {}
                None => {
                    return Err(format!(
                        "{what} template `{t}` uses undeclared field `{name}`"
                    ));
                }
            }
        }
    }
    Ok(())
}

pub(super) fn placeholder_info() -> ConnectorInfo {
    ConnectorInfo {
        id: String::new(),
        name: String::new(),
        version: String::new(),
        provider: String::new(),
        description: String::new(),
        capabilities: vec![],
        actions: vec![],
        config: vec![],
        auth: vec![],
        egress: vec![],
        rate_limits: vec![],
        scan_writes: vec![],
        max_look_back_days: None,
        activity_partitions: false,
    }
}
