//! `check`: does the delegation work, and which capabilities do its scopes and the
//! admin's privileges allow?
//!
//! With domain-wide delegation Google issues a token only when every scope asked for
//! is authorised for the service account's client id (Admin console → Security → API
//! controls → Domain-wide delegation); otherwise the token endpoint answers
//! `unauthorized_client` and connecting fails as `unauthorized` before `check` runs.
//! So every scope in the instance's `scopes` is granted once `check` runs, and `check`
//! reports as missing a capability whose scope the instance does not ask for, or whose
//! probe Google refuses (the API not enabled in the Cloud project, `accessNotConfigured`;
//! an `admin_email` without the admin privilege, "Not Authorized to access this
//! resource/api"), in Google's words.
//!
//! | capability | probe | scope |
//! |---|---|---|
//! | accounts | `GET …/users?customer=…&maxResults=1` | `admin.directory.user.readonly` |
//! | groups | `GET …/groups?customer=…&maxResults=1` | `admin.directory.group.readonly` |
//! | privileges | `GET …/customer/{customer}/roles?maxResults=1` | `admin.directory.rolemanagement.readonly` |
//! | logon, admin, user activity | `activities.list` of `login`, `admin`, `drive` | `admin.reports.audit.readonly` |
//! | app permissions | `GET …/users/{admin_email}/tokens` | `admin.directory.user.security` |
//! | files, file content | `GET /drive/v3/files?pageSize=1` | `drive.readonly` |
//! | sensitivity labels | (with the files probe) | `drive.readonly`, and `drive_label_ids` set |
//!
//! A broader scope stands for its read-only one (`admin.directory.user` for
//! `admin.directory.user.readonly`, `drive` for `drive.readonly`). The actions need
//! the broader ones: `admin.directory.user` (suspend, password), `admin.directory.user.security`
//! (sign-out, revoke grants) and `drive` (file actions).

use sluice_sdk::prelude::*;

use crate::api::{self, Api};
use crate::{activities, files};

/// The scope prefix every scope shares.
pub const SCOPE_ROOT: &str = "https://www.googleapis.com/auth/";

/// The scopes asked for when the config names none, in Google's words.
pub const DEFAULT_SCOPES: [&str; 6] = [
    "https://www.googleapis.com/auth/admin.directory.user",
    "https://www.googleapis.com/auth/admin.directory.group.readonly",
    "https://www.googleapis.com/auth/admin.directory.rolemanagement.readonly",
    "https://www.googleapis.com/auth/admin.directory.user.security",
    "https://www.googleapis.com/auth/admin.reports.audit.readonly",
    "https://www.googleapis.com/auth/drive",
];

/// A probe: which capabilities it stands for, the read-only scope and the broader
/// ones that include it.
struct Probe {
    capabilities: &'static [Capability],
    scope: &'static str,
    broader: &'static [&'static str],
}

const PROBES: [Probe; 8] = [
    Probe {
        capabilities: &[Capability::Accounts],
        scope: "admin.directory.user.readonly",
        broader: &["admin.directory.user"],
    },
    Probe {
        capabilities: &[Capability::Groups],
        scope: "admin.directory.group.readonly",
        broader: &["admin.directory.group"],
    },
    Probe {
        capabilities: &[Capability::Privileges],
        scope: "admin.directory.rolemanagement.readonly",
        broader: &["admin.directory.rolemanagement"],
    },
    Probe {
        capabilities: &[Capability::LogonActivity],
        scope: "admin.reports.audit.readonly",
        broader: &[],
    },
    Probe {
        capabilities: &[Capability::AdminActivity],
        scope: "admin.reports.audit.readonly",
        broader: &[],
    },
    Probe {
        capabilities: &[Capability::UserActivity],
        scope: "admin.reports.audit.readonly",
        broader: &[],
    },
    Probe {
        capabilities: &[Capability::AppPermissions],
        scope: "admin.directory.user.security",
        broader: &[],
    },
    Probe {
        capabilities: &[Capability::Files, Capability::FileContent],
        scope: "drive.readonly",
        broader: &["drive"],
    },
];

/// The scopes the instance asks for (config `scopes`, space or comma separated).
pub fn requested_scopes() -> Vec<String> {
    match config::get("scopes").filter(|s| !s.trim().is_empty()) {
        Some(scopes) => scopes
            .split([' ', ','])
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        None => DEFAULT_SCOPES.map(String::from).to_vec(),
    }
}

/// Validates the delegation and reports what it allows.
pub fn check(ctx: &Context) -> Result<Permissions, ConnectorError> {
    let api = Api::new(ctx)?;
    let requested = requested_scopes();
    let asks = |scope: &str| {
        requested
            .iter()
            .any(|r| r == &format!("{SCOPE_ROOT}{scope}"))
    };
    let admin = config::required("admin_email")?;
    let customer = http::encode_component(&api.customer);
    // The newest event only, without times: a recorded check replays at another time.
    let report = |app: &str| {
        api.get(api.reports(&format!("/activity/users/all/applications/{app}")))
            .query("maxResults", 1)
    };
    let mut missing = Vec::new();
    for probe in &PROBES {
        if !asks(probe.scope) && !probe.broader.iter().any(|b| asks(b)) {
            for capability in probe.capabilities {
                missing.push((
                    *capability,
                    format!(
                        "the instance does not ask for the scope {SCOPE_ROOT}{} (config `scopes`); add it there and to the client id's domain-wide delegation",
                        probe.scope
                    ),
                ));
            }
            continue;
        }
        let request = match probe.capabilities[0] {
            Capability::Accounts => api
                .get(api.directory("/users"))
                .query("customer", &api.customer)
                .query("maxResults", 1),
            Capability::Groups => api
                .get(api.directory("/groups"))
                .query("customer", &api.customer)
                .query("maxResults", 1),
            Capability::Privileges => api
                .get(api.directory(&format!("/customer/{customer}/roles")))
                .query("maxResults", 1),
            Capability::LogonActivity => report("login"),
            Capability::AdminActivity => report("admin"),
            Capability::UserActivity => report("drive"),
            Capability::AppPermissions => {
                api.get(api.directory(&format!("/users/{}/tokens", http::encode_component(&admin))))
            }
            _ => api
                .get(api.drive("/files"))
                .query("pageSize", 1)
                .query("corpora", files::corpora()),
        };
        let response = request.send()?;
        if response.status() == 401 {
            return Err(ConnectorError::Unauthorized(format!(
                "HTTP 401: {}",
                response.provider_message()
            )));
        }
        match response.status() {
            200..=299 => {}
            400 | 403 | 404 => {
                let why = format!(
                    "Google answered {} to {} (needs {SCOPE_ROOT}{} and an admin_email with the admin privilege to read it): {}",
                    response.status(),
                    describe_probe(probe.capabilities[0]),
                    probe.scope,
                    response.provider_message()
                );
                for capability in probe.capabilities {
                    missing.push((*capability, why.clone()));
                }
            }
            _ => {
                api::checked(response)?;
            }
        }
    }
    let files_ok = !missing.iter().any(|(c, _)| *c == Capability::Files);
    if files_ok && config::get("drive_label_ids").is_none_or(|l| l.trim().is_empty()) {
        missing.push((
            Capability::SensitivityLabels,
            "set `drive_label_ids` to the Drive label ids to read (Drive Labels API, e.g. from \
             the Admin console's Labels page); files then carry them"
                .into(),
        ));
    }
    if !activities::applications().iter().any(|a| a == "drive") {
        missing.retain(|(c, _)| *c != Capability::UserActivity);
    }
    Ok(Permissions {
        principal: Some(format!(
            "{admin} (through {})",
            config::get("client_email").unwrap_or_else(|| "the service account".into())
        )),
        granted: requested,
        missing,
    })
}

/// The probe's request, in words.
fn describe_probe(capability: Capability) -> &'static str {
    match capability {
        Capability::Accounts => "users.list",
        Capability::Groups => "groups.list",
        Capability::Privileges => "roles.list",
        Capability::LogonActivity => "activities.list (login)",
        Capability::AdminActivity => "activities.list (admin)",
        Capability::UserActivity => "activities.list (drive)",
        Capability::AppPermissions => "tokens.list",
        _ => "Drive files.list",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake;

    #[test]
    fn every_probe_passing_grants_the_requested_scopes() {
        let host = fake::google(vec![])
            .config("drive_label_ids", "L1")
            .config("client_email", "sluice@proj.iam.gserviceaccount.com")
            .on_request(|_| Ok(fake::json(&json!({}))));
        let (result, host) = host.run(|| check(&fake::ctx(100, None)));
        let permissions = result.unwrap();
        assert!(permissions.missing.is_empty(), "{:?}", permissions.missing);
        assert_eq!(permissions.granted, DEFAULT_SCOPES);
        assert_eq!(
            permissions.principal.as_deref(),
            Some("admin@example.com (through sluice@proj.iam.gserviceaccount.com)")
        );
        assert_eq!(host.requests().len(), 8);
    }

    #[test]
    fn refused_probes_and_scopes_not_asked_for_are_missing_in_google_s_words() {
        let host = fake::google(vec![])
            .config(
                "scopes",
                "https://www.googleapis.com/auth/admin.directory.user.readonly https://www.googleapis.com/auth/admin.reports.audit.readonly https://www.googleapis.com/auth/drive.readonly",
            )
            .on_request(|r| {
                Ok(if r.url.contains("/reports/") {
                    fake::error(
                        403,
                        "accessNotConfigured",
                        "Admin SDK API has not been used in project 123 before or it is disabled.",
                    )
                } else {
                    fake::json(&json!({}))
                })
            });
        let (result, _) = host.run(|| check(&fake::ctx(100, None)));
        let permissions = result.unwrap();
        assert_eq!(
            sluice_sdk::testing::missing(&permissions),
            [
                Capability::Groups,
                Capability::Privileges,
                Capability::LogonActivity,
                Capability::AdminActivity,
                Capability::UserActivity,
                Capability::AppPermissions,
                Capability::SensitivityLabels,
            ]
        );
        assert!(
            permissions.missing[0]
                .1
                .contains("admin.directory.group.readonly")
        );
        assert!(
            permissions.missing[2]
                .1
                .contains("Admin SDK API has not been used")
        );
    }

    #[test]
    fn a_rejected_token_is_unauthorized() {
        let host = fake::google(vec![])
            .on_request(|_| Ok(fake::error(401, "authError", "Invalid Credentials")));
        let (result, _) = host.run(|| check(&fake::ctx(100, None)));
        assert!(matches!(result, Err(ConnectorError::Unauthorized(_))));
    }
}
