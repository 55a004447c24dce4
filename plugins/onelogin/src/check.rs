//! `check`: do the API credentials work, and what may they read?
//!
//! OneLogin does not tell a token its credential pair's scope, so `check` asks each
//! list for one item, as the capabilities would:
//!
//! 1. `GET /api/2/users?limit=1`: "Read users", "Manage users", "Read All" or
//!    "Manage All"; accounts. A 401 here means the credentials were refused.
//! 2. `GET /api/2/roles?limit=1`: "Read All" or "Manage All"; privileges (role names).
//! 3. `GET /api/1/events?limit=1`: "Read All" or "Manage All"; logon, user and admin
//!    activity.
//!
//! A refusal (401 or 403 once the credentials worked) marks the capability missing,
//! with OneLogin's own message and the scopes that would allow it. `granted` names
//! each list that answered.

use sluice_sdk::prelude::*;

use crate::api::{self, Api};

/// Validates the credentials and reports what they may read.
pub fn check(_ctx: &Context) -> Result<Permissions, ConnectorError> {
    let api = Api::new(_ctx)?;
    let mut granted = Vec::new();
    let mut missing = Vec::new();
    let probes: [(&str, &str, &[Capability], &str); 3] = [
        (
            "/api/2/users",
            "users (Read users)",
            &[Capability::Accounts],
            "`Read users`, `Manage users`, `Read All` or `Manage All`",
        ),
        (
            "/api/2/roles",
            "roles (Read All)",
            &[Capability::Privileges],
            "`Read All` or `Manage All`",
        ),
        (
            "/api/1/events",
            "events (Read All)",
            &Capability::ACTIVITY,
            "`Read All` or `Manage All`",
        ),
    ];
    for (index, (path, grant, capabilities, scopes)) in probes.into_iter().enumerate() {
        let response = api.get(api.url(path)).query("limit", 1).send()?;
        match response.status() {
            200..=299 => granted.push(grant.to_owned()),
            401 if index == 0 => {
                api::checked(response)?;
            }
            401 | 403 => {
                let why = format!(
                    "GET {path} answered {}: {}; the API credential pair needs the {scopes} scope",
                    response.status(),
                    api::message(&response)
                );
                missing.extend(capabilities.iter().map(|c| (*c, why.clone())));
            }
            _ => {
                api::checked(response)?;
            }
        }
    }
    if granted.is_empty() && !missing.is_empty() {
        // Not even users: an "Authentication Only" pair.
        log::info("the OneLogin API credentials can read nothing (Authentication Only?)");
    }
    Ok(Permissions {
        principal: config::get("client_id").map(|id| format!("API client {id}")),
        granted,
        missing,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake;

    const USERS: &str = "https://acme.onelogin.test/api/2/users?limit=1";
    const ROLES: &str = "https://acme.onelogin.test/api/2/roles?limit=1";
    const EVENTS: &str = "https://acme.onelogin.test/api/1/events?limit=1";

    fn events_ok() -> sluice_sdk::http::Response {
        fake::json(
            &json!({"status": {"error": false, "code": 200, "type": "success", "message": "Success"},
                           "pagination": {"next_link": null}, "data": []}),
        )
    }

    #[test]
    fn read_all_credentials_have_everything() {
        let host = fake::onelogin(vec![
            (USERS.into(), fake::v2_page(json!([]), None)),
            (ROLES.into(), fake::v2_page(json!([]), None)),
            (EVENTS.into(), events_ok()),
        ])
        .config("client_id", "abc123");
        let (result, _) = host.run(|| check(&fake::ctx(100, None)));
        let permissions = result.unwrap();
        assert_eq!(permissions.principal.as_deref(), Some("API client abc123"));
        assert_eq!(
            permissions.granted,
            [
                "users (Read users)",
                "roles (Read All)",
                "events (Read All)"
            ]
        );
        assert!(permissions.missing.is_empty());
    }

    #[test]
    fn read_users_credentials_miss_roles_and_events_in_onelogin_s_words() {
        let host = fake::onelogin(vec![
            (USERS.into(), fake::v2_page(json!([]), None)),
            (
                ROLES.into(),
                fake::v2_error(403, "Forbidden", "Insufficient scope for this resource"),
            ),
            (
                EVENTS.into(),
                fake::v1_error(
                    401,
                    "Unauthorized",
                    "Authorization Information is incorrect",
                ),
            ),
        ]);
        let (result, _) = host.run(|| check(&fake::ctx(100, None)));
        let permissions = result.unwrap();
        assert_eq!(permissions.granted, ["users (Read users)"]);
        let mut expected = vec![Capability::Privileges];
        expected.extend(Capability::ACTIVITY);
        assert_eq!(sluice_sdk::testing::missing(&permissions), expected);
        assert!(permissions.missing[0].1.contains("Insufficient scope"));
        assert!(permissions.missing[0].1.contains("`Read All`"));
        assert!(
            permissions.missing[1]
                .1
                .contains("Authorization Information is incorrect")
        );
    }

    #[test]
    fn refused_credentials_are_unauthorized() {
        let host = fake::onelogin(vec![]).on_request(|_| {
            Ok(fake::v2_error(
                401,
                "Unauthorized",
                "Authentication Failure",
            ))
        });
        let (result, host) = host.run(|| check(&fake::ctx(100, None)));
        assert!(
            matches!(result, Err(ConnectorError::Unauthorized(_))),
            "{result:?}"
        );
        assert_eq!(host.requests().len(), 1);
    }
}
