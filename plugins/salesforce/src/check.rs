//! `check`: do the credentials work, and what may their user read and do?
//!
//! 1. `SELECT … FROM UserPermissionAccess`: the signed-in user's own system
//!    permissions (any user may read its own), by their API names. What each
//!    capability needs, in Salesforce's words:
//!
//! | capability | permission |
//! |---|---|
//! | accounts, groups | "API Enabled" (`PermissionsApiEnabled`) |
//! | privileges, admin activity, posture | "View Setup and Configuration" (`PermissionsViewSetup`) |
//! | logon activity, app permissions | "Manage Users" (`PermissionsManageUsers`): everyone's login history and OAuth tokens |
//! | user activity | "View Event Log Files" (`PermissionsViewEventLogFiles`) and Event Monitoring in the org |
//! | files, file content | "View All Data" (`PermissionsViewAllData`) and "Query All Files" (`PermissionsQueryAllFiles`, which needs "View All Data"): without them Salesforce answers only the files the user owns, was given, or sees in its libraries and groups |
//!
//! 2. `SELECT Id FROM EventLogFile LIMIT 1`: whether the org has Event Monitoring
//!    (Salesforce Shield or the add-on). Without it Salesforce answers `INVALID_TYPE`,
//!    quoted in the reason user activity is missing.
//!
//! `granted` lists every permission the query returned true, then `EventLogFile`
//! when the probe succeeded. The principal is the configured `username` (the JWT's
//! subject). The user governance actions need "Manage Users" (or "Freeze Users" to
//! freeze); deleting a file or its public links needs access to the file (its owner,
//! or "Modify All Data" for the files the user can see). A capability missing for
//! several reasons gets one entry naming them all.

use sluice_sdk::prelude::*;

use crate::api::{Api, checked, message_of};

/// The permissions read, and the capabilities each one is needed for.
pub const NEEDED: &[(&str, &str, &[Capability])] = &[
    (
        "PermissionsApiEnabled",
        "API Enabled",
        &[Capability::Accounts, Capability::Groups],
    ),
    (
        "PermissionsViewSetup",
        "View Setup and Configuration",
        &[
            Capability::Privileges,
            Capability::AdminActivity,
            Capability::Posture,
        ],
    ),
    (
        "PermissionsManageUsers",
        "Manage Users",
        &[Capability::LogonActivity, Capability::AppPermissions],
    ),
    (
        "PermissionsViewEventLogFiles",
        "View Event Log Files",
        &[Capability::UserActivity],
    ),
    (
        "PermissionsViewAllData",
        "View All Data",
        &[Capability::Files, Capability::FileContent],
    ),
    (
        "PermissionsQueryAllFiles",
        "Query All Files",
        &[Capability::Files, Capability::FileContent],
    ),
    ("PermissionsFreezeUsers", "Freeze Users", &[]),
    ("PermissionsModifyAllData", "Modify All Data", &[]),
];

/// Validates the credentials and reports what they may read.
pub fn check(ctx: &Context) -> Result<Permissions, ConnectorError> {
    let api = Api::new(ctx)?;
    let fields: Vec<&str> = NEEDED.iter().map(|(name, _, _)| *name).collect();
    let (rows, _) = api.query_all(
        &format!("SELECT {} FROM UserPermissionAccess", fields.join(", ")),
        1,
    )?;
    let access = rows.first().cloned().unwrap_or(Value::Null);
    let mut granted = Vec::new();
    let mut missing: Vec<(Capability, String)> = Vec::new();
    for (name, label, capabilities) in NEEDED {
        if json::bool_at(&access, name) == Some(true) {
            granted.push((*name).to_owned());
        } else {
            missing.extend(capabilities.iter().map(|c| {
                (
                    *c,
                    format!("the user lacks the \"{label}\" permission ({name})"),
                )
            }));
        }
    }

    let probe = api
        .get(api.query_url("SELECT Id FROM EventLogFile LIMIT 1"))
        .send()?;
    match probe.status() {
        200..=299 => granted.push("EventLogFile".into()),
        400 | 403 | 404 => {
            if probe.status() == 403 {
                // A spent daily allocation or a refused session is no answer about the object.
                checked(probe.clone())?;
            }
            let why = format!(
                "Event Monitoring log files are not available to this user (Salesforce Shield or the Event Monitoring add-on, and \"View Event Log Files\"): {}",
                message_of(&probe)
            );
            missing.retain(|(c, _)| *c != Capability::UserActivity);
            missing.push((Capability::UserActivity, why));
        }
        _ => {
            checked(probe)?;
        }
    }
    missing.sort_by_key(|(c, _)| *c as u8);
    missing.dedup_by(|later, first| {
        let same = later.0 == first.0;
        if same {
            first.1 = format!("{}; {}", first.1, later.1);
        }
        same
    });
    Ok(Permissions {
        principal: config::get("username"),
        granted,
        missing,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sluice_sdk::testing::missing;

    use super::*;
    use crate::api::fake;

    fn access(granted: &[&str]) -> (String, sluice_sdk::http::Response) {
        let fields: Vec<&str> = NEEDED.iter().map(|(n, _, _)| *n).collect();
        let mut row = json!({"attributes": {"type": "UserPermissionAccess"}});
        for name in &fields {
            row[*name] = json!(granted.contains(name));
        }
        (
            fake::query(&format!(
                "SELECT {} FROM UserPermissionAccess",
                fields.join(", ")
            )),
            fake::batch(json!([row]), None),
        )
    }

    fn probe() -> String {
        fake::query("SELECT Id FROM EventLogFile LIMIT 1")
    }

    #[test]
    fn an_admin_with_event_monitoring_has_everything() {
        let all: Vec<&str> = NEEDED.iter().map(|(n, _, _)| *n).collect();
        let host = fake::org(vec![access(&all), (probe(), fake::batch(json!([]), None))])
            .config("username", "integration@acme.test");
        let (result, _) = host.run(|| check(&fake::ctx(200, None)));
        let p = result.unwrap();
        assert_eq!(p.principal.as_deref(), Some("integration@acme.test"));
        assert_eq!(p.granted.last().map(String::as_str), Some("EventLogFile"));
        assert_eq!(p.granted.len(), all.len() + 1);
        assert!(p.missing.is_empty(), "{:?}", p.missing);
    }

    #[test]
    fn missing_permissions_and_event_monitoring_are_named_in_salesforce_s_words() {
        let host = fake::org(vec![
            access(&["PermissionsApiEnabled", "PermissionsViewSetup"]),
            (
                probe(),
                fake::error(
                    400,
                    "INVALID_TYPE",
                    "sObject type 'EventLogFile' is not supported.",
                ),
            ),
        ]);
        let (result, _) = host.run(|| check(&fake::ctx(200, None)));
        let p = result.unwrap();
        assert_eq!(
            missing(&p),
            [
                Capability::LogonActivity,
                Capability::UserActivity,
                Capability::Files,
                Capability::AppPermissions,
                Capability::FileContent,
            ]
        );
        let why = |c| p.missing.iter().find(|(m, _)| *m == c).unwrap().1.clone();
        assert!(why(Capability::LogonActivity).contains("\"Manage Users\""));
        assert_eq!(
            why(Capability::Files),
            "the user lacks the \"View All Data\" permission (PermissionsViewAllData); \
             the user lacks the \"Query All Files\" permission (PermissionsQueryAllFiles)"
        );
        assert!(
            why(Capability::UserActivity)
                .contains("INVALID_TYPE: sObject type 'EventLogFile' is not supported.")
        );

        let host = fake::org(vec![]).on_request(|_| {
            Ok(fake::error(
                401,
                "INVALID_SESSION_ID",
                "Session expired or invalid",
            ))
        });
        let (result, _) = host.run(|| check(&fake::ctx(200, None)));
        assert!(matches!(result, Err(ConnectorError::Unauthorized(_))));
    }
}
