//! `check`: does the token work, for which account, and can it see the repository?
//!
//! `GET /v1/User/info` names the service account the client credentials act as;
//! `GET /v1/Repository/{id}/info` proves the repository is visible. Only repository
//! administrators can read users, groups and logs, so a service account the info does
//! not list as an administrator is reported with those capabilities missing (the scan
//! would fail on them with `forbidden`).

use sluice_sdk::prelude::*;

use crate::api::{self, Api};

/// Validates the credentials and the repository.
pub fn check(ctx: &Context) -> Result<Permissions, ConnectorError> {
    let api = Api::new(ctx)?;
    let me = api.get_json(&api.url("/v1/User/info"))?;
    let info = api.repository_info()?;
    let my_id = json::str_at(&me, "id");
    let admins = api::ids_at(&info, "administrators");
    let listed = json::at(&info, "administrators").is_some();
    let missing = match &my_id {
        Some(id) if listed && !admins.contains(id) => {
            let reason = format!(
                "the service account is not an administrator of repository `{}`",
                api.repository_id()
            );
            [
                Capability::Accounts,
                Capability::Groups,
                Capability::Privileges,
                Capability::UserActivity,
                Capability::AdminActivity,
            ]
            .into_iter()
            .map(|capability| (capability, reason.clone()))
            .collect()
        }
        _ => Vec::new(),
    };
    Ok(Permissions {
        principal: json::str_at(&me, "email").or(my_id),
        granted: if listed && missing.is_empty() {
            vec!["full".into(), super::users::ADMIN_ROLE.into()]
        } else {
            vec!["full".into()]
        },
        missing,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake;

    fn host(admins: Value) -> sluice_sdk::testing::FakeHost {
        fake::netdocuments(vec![
            (
                "https://nd.test/v1/User/info".into(),
                fake::json(&json!({"id": "U-SVC", "email": "svc@firm.test"})),
            ),
            (
                "https://nd.test/v1/Repository/CA-TEST/info".into(),
                fake::json(&json!({"id": "CA-TEST", "administrators": admins})),
            ),
        ])
    }

    #[test]
    fn reports_the_principal_and_what_a_non_administrator_misses() {
        let (result, _) = host(json!(["U-SVC"])).run(|| check(&fake::ctx(100, None)));
        let permissions = result.unwrap();
        assert_eq!(permissions.principal.as_deref(), Some("svc@firm.test"));
        assert!(permissions.missing.is_empty());

        let (result, _) = host(json!(["U-1"])).run(|| check(&fake::ctx(100, None)));
        let missing = sluice_sdk::testing::missing(&result.unwrap());
        assert!(
            missing.contains(&Capability::AdminActivity) && !missing.contains(&Capability::Posture)
        );
    }

    #[test]
    fn a_rejected_token_is_unauthorized() {
        let host = fake::netdocuments(vec![(
            "https://nd.test/v1/User/info".into(),
            fake::status(401, "invalid_token"),
        )]);
        let (result, _) = host.run(|| check(&fake::ctx(100, None)));
        assert!(
            matches!(result, Err(ConnectorError::Unauthorized(_))),
            "{result:?}"
        );
    }
}
