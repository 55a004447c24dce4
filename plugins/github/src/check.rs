//! `check`: does the token work, for which account, and can it see the organisation?
//!
//! `GET /user` names the token's owner and, for classic tokens and OAuth tokens, lists
//! its scopes in `x-oauth-scopes`; `GET /orgs/{org}` proves the org is visible.
//! Fine-grained and GitHub App tokens send no scope header, so nothing can be said
//! about missing capabilities until a scan tries; GitHub App installation tokens
//! cannot read `/user` at all (403), which is not an error here.

use sluice_sdk::prelude::*;

use crate::api::Api;

/// Scope needed to read the audit log (`list-activities`).
const AUDIT_LOG_SCOPE: &str = "read:audit_log";

/// Scope needed for org settings, credential authorizations, installations and actions.
const ADMIN_ORG_SCOPE: &str = "admin:org";

/// Validates the token and the organisation.
pub fn check(ctx: &Context) -> Result<Permissions, ConnectorError> {
    let api = Api::new(ctx)?;
    let (principal, scopes) = match api.get(api.url("/user")).send()?.error_for_status() {
        Ok(user) => {
            let login = json::str_at(&user.json_value()?, "login");
            (login, user.header("x-oauth-scopes").map(parse_scopes))
        }
        // Installation tokens act as the app, which has no `/user`.
        Err(ConnectorError::Forbidden(_)) => (None, None),
        Err(error) => return Err(error),
    };

    api.organization()?;

    Ok(Permissions {
        principal,
        missing: scopes
            .as_deref()
            .map(missing_capabilities)
            .unwrap_or_default(),
        granted: scopes.unwrap_or_default(),
    })
}

/// The scopes in an `x-oauth-scopes` header, e.g. `repo, read:org`.
fn parse_scopes(header: &str) -> Vec<String> {
    header
        .split(',')
        .map(str::trim)
        .filter(|scope| !scope.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Capabilities a classic token with `scopes` cannot serve, with the reason.
fn missing_capabilities(scopes: &[String]) -> Vec<(Capability, String)> {
    let has = |scope: &str| scopes.iter().any(|s| s == scope);
    let mut missing = Vec::new();
    if !has(AUDIT_LOG_SCOPE) {
        let reason = format!("token lacks the `{AUDIT_LOG_SCOPE}` scope needed for the audit log");
        missing.push((Capability::AdminActivity, reason.clone()));
        missing.push((Capability::UserActivity, reason));
    }
    if !has(ADMIN_ORG_SCOPE) {
        missing.push((
            Capability::Posture,
            format!("token lacks the `{ADMIN_ORG_SCOPE}` scope needed to read organization security settings"),
        ));
        missing.push((
            Capability::AppPermissions,
            format!("token lacks the `{ADMIN_ORG_SCOPE}` scope needed to list credential authorizations and installations"),
        ));
    }
    missing
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sluice_sdk::http::Response;

    use super::*;
    use crate::api::fake;

    fn user(scopes: Option<&str>) -> Response {
        let headers = scopes
            .map(|s| vec![("X-OAuth-Scopes".to_owned(), s.to_owned())])
            .unwrap_or_default();
        Response::new(
            200,
            headers,
            json!({"login": "octocat", "id": 1}).to_string(),
        )
    }

    #[test]
    fn reports_principal_scopes_and_what_they_do_not_cover() {
        let host = fake::github(vec![
            (
                "https://gh.test/user".into(),
                user(Some("repo, read:org, read:audit_log")),
            ),
            (
                "https://gh.test/orgs/acme".into(),
                fake::json(&json!({"login": "acme"}), None),
            ),
        ]);
        let (result, _) = host.run(|| check(&fake::ctx(100, None)));
        let permissions = result.unwrap();
        assert_eq!(permissions.principal.as_deref(), Some("octocat"));
        assert_eq!(permissions.granted, ["repo", "read:org", "read:audit_log"]);
        let missing: Vec<_> = permissions.missing.iter().map(|(c, _)| *c).collect();
        assert_eq!(missing, [Capability::Posture, Capability::AppPermissions]);
    }

    #[test]
    fn tokens_without_a_scope_header_report_nothing_missing() {
        let host = fake::github(vec![
            ("https://gh.test/user".into(), user(None)),
            (
                "https://gh.test/orgs/acme".into(),
                fake::json(&json!({"login": "acme"}), None),
            ),
        ]);
        let (result, _) = host.run(|| check(&fake::ctx(100, None)));
        let permissions = result.unwrap();
        assert!(permissions.granted.is_empty() && permissions.missing.is_empty());
    }

    #[test]
    fn an_invisible_org_and_a_bad_token_are_typed_errors() {
        let host = fake::github(vec![(
            "https://gh.test/user".into(),
            user(Some("admin:org")),
        )]);
        let (result, _) = host.run(|| check(&fake::ctx(100, None)));
        assert_eq!(
            result,
            Err(ConnectorError::NotFound(
                "organization `acme` not found or not visible".into()
            ))
        );

        let host = fake::github(vec![(
            "https://gh.test/user".into(),
            fake::status(401, "Bad credentials"),
        )]);
        let (result, _) = host.run(|| check(&fake::ctx(100, None)));
        assert_eq!(
            result,
            Err(ConnectorError::Unauthorized(
                "HTTP 401: Bad credentials".into()
            ))
        );
    }
}
