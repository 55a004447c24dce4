//! `check`: do the credentials work, whose are they, and what can they read?
//!
//! 1. `GET /api/v2/users/me`: the principal (its email) and its Zendesk role. Listing
//!    users and groups is "allowed for admins, agents and light agents"; an end user
//!    can do neither.
//! 2. With the OAuth option, `GET /api/v2/oauth/tokens/current`: the token's scopes.
//!    Users need `read` or `users:read`; groups (not a scopable resource) need `read`;
//!    the audit log needs `read` or `auditlogs:read`.
//! 3. `GET /api/v2/audit_logs?page[size]=1`: the audit log is "only available on the
//!    Enterprise plan" and to admins. A refusal marks logon, user and admin activity
//!    missing with Zendesk's own explanation.
//!
//! `granted` lists the role (`role:admin`, `role:agent`, …, with a custom role id
//! as `custom_role_id:<id>`), then each OAuth scope, then `audit log access` when the
//! probe succeeded.

use sluice_sdk::prelude::*;

use crate::api::Api;

/// OAuth option id, as `ctx.auth` reports it.
pub const OAUTH: &str = "oauth";

/// Validates the credentials and reports what they may read.
pub fn check(ctx: &Context) -> Result<Permissions, ConnectorError> {
    let api = Api::new(ctx)?;
    let me = api
        .get(api.url("/api/v2/users/me"))
        .send()?
        .error_for_status()?
        .json_value()?;
    let me = json::at(&me, "user").cloned().unwrap_or(me);
    if json::str_at(&me, "id").is_none() {
        // Zendesk answers unauthenticated requests to `me` with an anonymous user.
        return Err(ConnectorError::Unauthorized(
            "Zendesk answered `/api/v2/users/me` with the anonymous user: the credentials were not accepted".into(),
        ));
    }
    let role = json::str_at(&me, "role").unwrap_or_default();
    let mut granted = vec![format!("role:{role}")];
    granted.extend(json::str_at(&me, "custom_role_id").map(|id| format!("custom_role_id:{id}")));
    let mut missing = Vec::new();

    if role == "end-user" {
        let why = "the credentials' user is an end user; Zendesk allows listing users and groups to admins, agents and light agents";
        missing.extend(
            [
                Capability::Accounts,
                Capability::Privileges,
                Capability::Groups,
            ]
            .map(|c| (c, why.to_owned())),
        );
    }

    if ctx.auth == OAUTH {
        let token = api
            .get(api.url("/api/v2/oauth/tokens/current"))
            .send()?
            .error_for_status()?
            .json_value()?;
        let scopes = json::strings_at(&token, "/token/scopes");
        for (capability, resource) in [
            (Capability::Accounts, Some("users")),
            (Capability::Privileges, Some("users")),
            (Capability::Groups, None),
        ] {
            if !scope_allows_read(&scopes, resource) && role != "end-user" {
                let needed =
                    resource.map_or("`read`".to_owned(), |r| format!("`read` or `{r}:read`"));
                missing.push((
                    capability,
                    format!("the OAuth token lacks the {needed} scope"),
                ));
            }
        }
        granted.extend(scopes);
    }

    let probe = api
        .get(api.url("/api/v2/audit_logs"))
        .query("page[size]", 1)
        .send()?;
    match probe.status() {
        200..=299 => granted.push("audit log access".into()),
        401 => {
            probe.error_for_status()?;
        }
        403 | 404 => {
            let why = format!(
                "the audit log (GET /api/v2/audit_logs, Enterprise plans, admins only) answered {}: {}",
                probe.status(),
                zendesk_message(&probe)
            );
            missing.extend(Capability::ACTIVITY.map(|c| (c, why.clone())));
        }
        _ => {
            probe.error_for_status()?;
        }
    }
    Ok(Permissions {
        principal: json::str_at(&me, "email").or_else(|| json::str_at(&me, "id")),
        granted,
        missing,
    })
}

/// Whether OAuth `scopes` allow GET requests on `resource` (any resource: `None`).
pub fn scope_allows_read(scopes: &[String], resource: Option<&str>) -> bool {
    scopes.iter().any(|scope| {
        scope == "read" || resource.is_some_and(|r| *scope == r || *scope == format!("{r}:read"))
    })
}

/// Zendesk's explanation of a refusal: `description` (as in "You are missing the
/// following required scopes: read"), else `error` as text or `{title, message}`.
pub fn zendesk_message(response: &Response) -> String {
    let body: Value = response.json_value().unwrap_or(Value::Null);
    json::str_at(&body, "description")
        .or_else(|| json::str_at(&body, "/error/message"))
        .or_else(|| json::str_at(&body, "/error/title"))
        .or_else(|| json::str_at(&body, "error"))
        .unwrap_or_else(|| response.provider_message())
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sluice_sdk::http::Response;

    use super::*;
    use crate::api::fake;

    const ME: &str = "https://acme.zendesk.test/api/v2/users/me";
    const TOKEN: &str = "https://acme.zendesk.test/api/v2/oauth/tokens/current";
    const AUDIT: &str = "https://acme.zendesk.test/api/v2/audit_logs?page%5Bsize%5D=1";

    fn me(role: &str) -> Response {
        fake::json(&json!({"user": {"id": 9, "email": "bot@acme.test", "role": role}}))
    }

    fn audit_ok() -> Response {
        fake::cursor_page("audit_logs", json!([]), AUDIT, false)
    }

    #[test]
    fn an_admin_on_enterprise_with_an_api_token_has_everything() {
        let host = fake::zendesk(vec![(ME.into(), me("admin")), (AUDIT.into(), audit_ok())]);
        let (result, host) = host.run(|| check(&fake::ctx(100, None)));
        let permissions = result.unwrap();
        assert_eq!(permissions.principal.as_deref(), Some("bot@acme.test"));
        assert_eq!(permissions.granted, ["role:admin", "audit log access"]);
        assert!(permissions.missing.is_empty());
        assert_eq!(host.requests().len(), 2, "no token lookup for an API token");
    }

    #[test]
    fn a_plan_without_audit_logs_reports_the_activity_missing_in_zendesk_s_words() {
        let refusal = "You do not have access to this page. Please contact the account owner of this help desk for further help.";
        let host = fake::zendesk(vec![
            (ME.into(), me("agent")),
            (AUDIT.into(), fake::error(403, "Forbidden", Some(refusal))),
        ]);
        let (result, _) = host.run(|| check(&fake::ctx(100, None)));
        let permissions = result.unwrap();
        assert_eq!(
            sluice_sdk::testing::missing(&permissions),
            Capability::ACTIVITY
        );
        assert!(
            permissions.missing[0].1.contains(refusal),
            "{:?}",
            permissions.missing
        );
        assert!(permissions.missing[0].1.contains("Enterprise"));
    }

    #[test]
    fn oauth_scopes_are_listed_and_missing_ones_named() {
        let mut ctx = fake::ctx(100, None);
        ctx.auth = OAUTH.into();
        let host = fake::zendesk(vec![
            (ME.into(), me("admin")),
            (
                TOKEN.into(),
                fake::json(
                    &json!({"token": {"id": 1, "scopes": ["users:read", "auditlogs:read"]}}),
                ),
            ),
            (AUDIT.into(), audit_ok()),
        ]);
        let (result, _) = host.run(|| check(&ctx));
        let permissions = result.unwrap();
        assert_eq!(
            permissions.granted,
            [
                "role:admin",
                "users:read",
                "auditlogs:read",
                "audit log access"
            ]
        );
        assert_eq!(
            sluice_sdk::testing::missing(&permissions),
            [Capability::Groups]
        );
        assert!(permissions.missing[0].1.contains("`read`"));

        assert!(scope_allows_read(&["read".into()], None));
        assert!(scope_allows_read(&["users".into()], Some("users")));
        assert!(!scope_allows_read(
            &["write".into(), "users:write".into()],
            Some("users")
        ));
    }

    #[test]
    fn an_end_user_can_list_nothing_and_bad_credentials_are_unauthorized() {
        let host = fake::zendesk(vec![
            (ME.into(), me("end-user")),
            (AUDIT.into(), fake::error(403, "Forbidden", None)),
        ]);
        let (result, _) = host.run(|| check(&fake::ctx(100, None)));
        assert_eq!(sluice_sdk::testing::missing(&result.unwrap()).len(), 6);

        let host = fake::zendesk(vec![])
            .on_request(|_| Ok(fake::error(401, "Couldn't authenticate you", None)));
        let (result, _) = host.run(|| check(&fake::ctx(100, None)));
        assert!(matches!(result, Err(ConnectorError::Unauthorized(_))));

        let host = fake::zendesk(vec![(
            ME.into(),
            fake::json(&json!({"user": {"id": null, "name": "Anonymous user"}})),
        )]);
        let (result, _) = host.run(|| check(&fake::ctx(100, None)));
        assert!(matches!(result, Err(ConnectorError::Unauthorized(_))));
    }
}
