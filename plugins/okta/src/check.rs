//! `check`: does the API token work, whose is it, and which admin roles does it carry?
//!
//! An Okta API token acts with the roles of the admin who created it, so
//! `GET /api/v1/users/me` names the principal and `GET /api/v1/users/{id}/roles` lists
//! what was granted. Every read this connector does needs some admin role (a read-only
//! admin can scan everything); without one, nothing would work.

use sluice_sdk::prelude::*;

use crate::api::Api;
use crate::users::user_roles;

/// Validates the token.
pub fn check(ctx: &Context) -> Result<Permissions, ConnectorError> {
    let api = Api::new(ctx)?;
    let me = api
        .get(api.url("/api/v1/users/me"))
        .send()?
        .error_for_status()?
        .json_value()?;
    let id = json::str_at(&me, "id")
        .ok_or_else(|| ConnectorError::upstream("`/api/v1/users/me` answered without an id"))?;
    let granted = user_roles(&api, &id)?;
    // Everything the connector collects needs an admin role.
    let missing = if granted.is_empty() {
        crate::describe()
            .capabilities
            .into_iter()
            .map(|c| {
                (
                    c,
                    "the token's owner holds no Okta admin role, which every listing needs"
                        .to_owned(),
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    Ok(Permissions {
        principal: json::str_at(&me, "/profile/login").or(Some(id)),
        granted,
        missing,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake;

    #[test]
    fn reports_the_token_owner_and_its_roles() {
        let host = fake::okta(vec![
            (
                "https://okta.test/api/v1/users/me".into(),
                fake::json(
                    &json!({"id": "00u1", "profile": {"login": "bot@acme.test"}}),
                    None,
                ),
            ),
            (
                "https://okta.test/api/v1/users/00u1/roles".into(),
                fake::json(&json!([{"type": "READ_ONLY_ADMIN"}]), None),
            ),
        ]);
        let (result, _) = host.run(|| check(&fake::ctx(100, None)));
        let permissions = result.unwrap();
        assert_eq!(permissions.principal.as_deref(), Some("bot@acme.test"));
        assert_eq!(permissions.granted, ["READ_ONLY_ADMIN"]);
        assert!(permissions.missing.is_empty());

        let host = fake::okta(vec![
            (
                "https://okta.test/api/v1/users/me".into(),
                fake::json(&json!({"id": "00u1"}), None),
            ),
            (
                "https://okta.test/api/v1/users/00u1/roles".into(),
                fake::json(&json!([]), None),
            ),
        ]);
        let (result, _) = host.run(|| check(&fake::ctx(100, None)));
        let missing = sluice_sdk::testing::missing(&result.unwrap());
        assert_eq!(missing, crate::describe().capabilities);
    }
}
