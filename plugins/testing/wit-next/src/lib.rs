//! A test-only connector built against `tests/wit/v0.2-test`, the TEST-ONLY
//! `sluice:connector@0.2.0` (not a release). Host tests load it beside `0.1.0`
//! connectors to show that each WIT version gets its own bindings.
//!
//! `check` answers with what only `0.2.0` can do: its principal is
//! `names:<config.names() joined by ,>`, the import that `0.1.0` does not have.
//! Every listing returns one empty page; `act` is unsupported.

#[allow(unsafe_code, missing_docs, clippy::all)]
mod bindings {
    wit_bindgen::generate!({
        path: "../../../tests/wit/v0.2-test",
        world: "plugin",
    });
}

use bindings::exports::sluice::connector::connector::Guest;
use bindings::sluice::connector::config;
use bindings::sluice::connector::types::*;

/// The connector; stateless.
struct WitNext;

fn empty<T>() -> (Vec<T>, Option<String>) {
    (Vec::new(), None)
}

impl Guest for WitNext {
    fn describe() -> ConnectorInfo {
        ConnectorInfo {
            id: "wit-next".into(),
            name: "WIT 0.2.0 test guest".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            provider: "Sluice tests".into(),
            description: "Test-only: built against the test-only WIT 0.2.0.".into(),
            capabilities: vec![Capability::Accounts],
            actions: Vec::new(),
            config: vec![ConfigField {
                name: "label".into(),
                label: "Any label".into(),
                required: false,
                secret: false,
                default: Some("side-by-side".into()),
                example: None,
                description: None,
            }],
            auth: AuthScheme::None,
            egress: Vec::new(),
            rate_limits: Vec::new(),
        }
    }

    fn check(_ctx: Context) -> Result<Permissions, ConnectorError> {
        Ok(Permissions {
            principal: Some(format!("names:{}", config::names().join(","))),
            granted: Vec::new(),
            missing: Vec::new(),
        })
    }

    fn list_users(_: Context, _: Option<String>) -> Result<UserPage, ConnectorError> {
        let (items, next_cursor) = empty();
        Ok(UserPage { items, next_cursor })
    }

    fn list_groups(_: Context, _: Option<String>) -> Result<GroupPage, ConnectorError> {
        let (items, next_cursor) = empty();
        Ok(GroupPage { items, next_cursor })
    }

    fn list_activities(_: Context, _: Option<String>) -> Result<ActivityPage, ConnectorError> {
        Err(ConnectorError::Unsupported("no activities".into()))
    }

    fn list_files(_: Context, _: Option<String>) -> Result<FilePage, ConnectorError> {
        let (items, next_cursor) = empty();
        Ok(FilePage { items, next_cursor })
    }

    fn list_app_permissions(
        _: Context,
        _: Option<String>,
    ) -> Result<AppPermissionPage, ConnectorError> {
        let (items, next_cursor) = empty();
        Ok(AppPermissionPage { items, next_cursor })
    }

    fn posture(_: Context) -> Result<Vec<Finding>, ConnectorError> {
        Ok(Vec::new())
    }

    fn act(_: Context, _: Action) -> Result<ActionOutcome, ConnectorError> {
        Err(ConnectorError::Unsupported("no actions".into()))
    }
}

/// The component's exports; the generated glue is `unsafe` FFI, kept in this module.
#[allow(unsafe_code)]
mod export {
    use super::WitNext;

    super::bindings::export!(WitNext with_types_in super::bindings);
}
