//! `check`: do the credentials work, and which capabilities do the app's scopes allow?
//!
//! A Server-to-Server OAuth app's scopes are chosen in the Zoom App Marketplace, and
//! the token answer's `scope` never reaches the connector (the host fetches tokens).
//! So `check` probes one request per capability and reads Zoom's refusals, which name
//! the scope: `400 {"code": 4711, "message": "Invalid access token, does not contain
//! scopes:[…]"}`.
//!
//! | capability | probe | scope (classic; granular) |
//! |---|---|---|
//! | accounts | `GET /v2/users?page_size=1` | `user:read:admin`; `user:read:list_users:admin` |
//! | privileges | `GET /v2/roles?page_size=1` | `role:read:admin`; `role:read:list_roles:admin` |
//! | admin activity | `GET /v2/report/operationlogs` (today) | `report:read:admin`; `report:read:operation_logs:admin` |
//! | logon activity | `GET /v2/report/activities` (today) | `report:read:admin`; `report:read:user_activities:admin` |
//! | posture | `GET /v2/accounts/me/settings` | `account:read:admin`; `account:read:settings:admin` |
//!
//! A 401 on the first probe is `unauthorized`; the reports also need a paid plan, and
//! Zoom's own message is kept in the reason.

use sluice_sdk::prelude::*;

use crate::api::{self, Api};

/// Each capability's probe: (capability, path, classic scope, granular scope).
pub const PROBES: &[(Capability, &str, &str, &str)] = &[
    (
        Capability::Accounts,
        "/users",
        "user:read:admin",
        "user:read:list_users:admin",
    ),
    (
        Capability::Privileges,
        "/roles",
        "role:read:admin",
        "role:read:list_roles:admin",
    ),
    (
        Capability::AdminActivity,
        "/report/operationlogs",
        "report:read:admin",
        "report:read:operation_logs:admin",
    ),
    (
        Capability::LogonActivity,
        "/report/activities",
        "report:read:admin",
        "report:read:user_activities:admin",
    ),
    (
        Capability::Posture,
        "/accounts/me/settings",
        "account:read:admin",
        "account:read:settings:admin",
    ),
];

/// Validates the credentials and reports what the app's scopes allow.
pub fn check(ctx: &Context) -> Result<Permissions, ConnectorError> {
    let api = Api::new(ctx)?;
    let today = api::date_of_day(api::day_of(ctx.now));
    let mut granted = Vec::new();
    let mut missing = Vec::new();
    for (capability, path, classic, granular) in PROBES {
        let mut request = api.get(path);
        if path.starts_with("/report/") {
            request = request
                .query("page_size", 1)
                .query("from", &today)
                .query("to", &today);
        } else if !path.starts_with("/accounts/") {
            request = request.query("page_size", 1);
        }
        let response = request.send()?;
        match response.status() {
            200..=299 => {
                if !granted.iter().any(|g| g == classic) {
                    granted.push((*classic).to_owned());
                }
            }
            400 | 403 | 404 => {
                let why = if api::error_code(&response) == Some(api::MISSING_SCOPE) {
                    format!(
                        "the app lacks the `{classic}` scope (granular: `{granular}`); Zoom \
                         answered: {}",
                        response.provider_message()
                    )
                } else {
                    format!(
                        "GET /v2{path} answered {}: {} (needs `{classic}`{})",
                        response.status(),
                        response.provider_message(),
                        if path.starts_with("/report/") {
                            " and a Pro or higher plan"
                        } else {
                            ""
                        }
                    )
                };
                missing.push((*capability, why));
            }
            _ => {
                api::check_status(response)?;
            }
        }
    }
    Ok(Permissions {
        principal: config::get("account_id").map(|id| format!("account {id}")),
        granted,
        missing,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake;

    const BASE: &str = "https://api.zoom.test/v2";

    fn urls() -> Vec<String> {
        vec![
            format!("{BASE}/users?page_size=1"),
            format!("{BASE}/roles?page_size=1"),
            format!("{BASE}/report/operationlogs?page_size=1&from=2024-01-01&to=2024-01-01"),
            format!("{BASE}/report/activities?page_size=1&from=2024-01-01&to=2024-01-01"),
            format!("{BASE}/accounts/me/settings"),
        ]
    }

    #[test]
    fn every_scope_granted_lists_each_once() {
        let routes = urls()
            .into_iter()
            .map(|u| (u, fake::json(&json!({}))))
            .collect();
        let host = fake::zoom(routes).config("account_id", "acct-1");
        let (result, host) = host.run(|| check(&fake::ctx(100, None)));
        let permissions = result.unwrap();
        assert_eq!(permissions.principal.as_deref(), Some("account acct-1"));
        assert_eq!(
            permissions.granted,
            [
                "user:read:admin",
                "role:read:admin",
                "report:read:admin",
                "account:read:admin"
            ],
            "each scope once, in Zoom's words"
        );
        assert!(permissions.missing.is_empty());
        assert_eq!(host.requests().len(), 5);
    }

    #[test]
    fn missing_scopes_are_named_in_zoom_s_words() {
        let mut routes: Vec<_> = urls()
            .into_iter()
            .map(|u| (u, fake::json(&json!({}))))
            .collect();
        routes[2].1 = fake::error(
            400,
            4711,
            "Invalid access token, does not contain scopes:[report:read:operation_logs:admin].",
        );
        routes[3].1 = fake::error(
            400,
            4711,
            "Invalid access token, does not contain scopes:[report:read:user_activities:admin].",
        );
        let (result, _) = fake::zoom(routes).run(|| check(&fake::ctx(100, None)));
        let permissions = result.unwrap();
        assert_eq!(
            sluice_sdk::testing::missing(&permissions),
            [Capability::AdminActivity, Capability::LogonActivity]
        );
        assert!(permissions.missing[0].1.contains("`report:read:admin`"));
        assert!(
            permissions.missing[0]
                .1
                .contains("does not contain scopes:[report:read:operation_logs:admin]")
        );
    }

    #[test]
    fn a_rejected_token_is_unauthorized() {
        let host =
            fake::zoom(vec![]).on_request(|_| Ok(fake::error(401, 124, "Invalid access token.")));
        let (result, _) = host.run(|| check(&fake::ctx(100, None)));
        assert!(matches!(result, Err(ConnectorError::Unauthorized(_))));
    }
}
