//! `check`: the token works for the tenant (`GET /organization`, whose display name is
//! the principal) and each enabled component's first endpoint answers; a 403 there
//! means the app registration lacks that permission, reported as missing.

use sluice_sdk::prelude::*;

use crate::api::{Api, Component};

/// Validates the credentials and reports capabilities the app cannot serve.
pub fn check(ctx: &Context) -> Result<Permissions, ConnectorError> {
    let api = Api::new(ctx)?;
    let (orgs, _) = api.collection(&api.graph("/organization?$select=id,displayName"))?;
    let principal = orgs.first().and_then(|o| json::str_at(o, "displayName"));
    let probes: [(Component, String, &[Capability], &str); 4] = [
        (
            Component::UsersGroups,
            api.graph("/users?$top=1&$select=id"),
            &[Capability::Accounts, Capability::Groups],
            "User.Read.All",
        ),
        (
            Component::SignIns,
            api.graph("/auditLogs/signIns?$top=1"),
            &[Capability::LogonActivity],
            "AuditLog.Read.All",
        ),
        (
            Component::ManagementEvents,
            api.graph("/auditLogs/directoryAudits?$top=1"),
            &[Capability::AdminActivity],
            "AuditLog.Read.All",
        ),
        (
            Component::Apps,
            api.graph("/oauth2PermissionGrants?$top=1"),
            &[Capability::AppPermissions],
            "Directory.Read.All",
        ),
    ];
    let mut granted = Vec::new();
    let mut missing = Vec::new();
    for (component, url, capabilities, permission) in probes {
        if !api.enabled(component) {
            continue;
        }
        match api.get(url).send()?.error_for_status() {
            Ok(_) => granted.push(permission.to_owned()),
            Err(ConnectorError::Forbidden(message)) => {
                for c in capabilities {
                    missing.push((*c, format!("app lacks {permission}: {message}")));
                }
            }
            Err(error) => return Err(error),
        }
    }
    granted.dedup();
    Ok(Permissions {
        principal,
        granted,
        missing,
    })
}
