//! `check`: does the token work, whose is it, and which of the scopes each capability
//! needs were granted?
//!
//! `GET auth.test` names the token's user and workspace; like every Web API answer
//! it carries the token's granted scopes in the `x-oauth-scopes` response header
//! (comma-separated), which Slack's own SDKs read the same way. Each capability's
//! scopes, in Slack's words:
//!
//! | capability | scopes | methods |
//! |---|---|---|
//! | accounts, privileges | `users:read` (`users:read.email` for emails) | `users.list` |
//! | groups | `usergroups:read` | `usergroups.list`, `usergroups.users.list` |
//! | logon, user and admin activity | `auditlogs:read` | Audit Logs API (org owner's user token) |
//! | app permissions | `admin.apps:read` | `admin.apps.approved.list`, `admin.apps.restricted.list` |
//!
//! The actions need `admin` (SCIM deactivation and reactivation) and
//! `admin.users:write` (`admin.users.session.reset`); they are not capabilities, so a
//! missing one is logged rather than reported. A token whose answer lacks the header
//! (none seen so far) is reported with no scopes and nothing missing, and a warning.

use sluice_sdk::prelude::*;

use crate::api::{Api, slack_body};

/// Scopes each capability needs, with what breaks without them.
const NEEDS: &[(Capability, &str, &str)] = &[
    (Capability::Accounts, "users:read", "users.list needs it"),
    (
        Capability::Accounts,
        "users:read.email",
        "users.list leaves every email out without it",
    ),
    (Capability::Privileges, "users:read", "users.list needs it"),
    (
        Capability::Groups,
        "usergroups:read",
        "usergroups.list needs it",
    ),
    (
        Capability::LogonActivity,
        "auditlogs:read",
        "the Audit Logs API needs it (an Enterprise Grid org owner's user token)",
    ),
    (
        Capability::UserActivity,
        "auditlogs:read",
        "the Audit Logs API needs it (an Enterprise Grid org owner's user token)",
    ),
    (
        Capability::AdminActivity,
        "auditlogs:read",
        "the Audit Logs API needs it (an Enterprise Grid org owner's user token)",
    ),
    (
        Capability::AppPermissions,
        "admin.apps:read",
        "admin.apps.approved.list and admin.apps.restricted.list need it",
    ),
];

/// Scopes the actions need.
const ACTION_SCOPES: &[(&str, &str)] = &[
    ("admin", "suspend-user and unsuspend-user (SCIM)"),
    (
        "admin.users:write",
        "revoke-sessions (admin.users.session.reset)",
    ),
];

/// Validates the token.
pub fn check(ctx: &Context) -> Result<Permissions, ConnectorError> {
    let api = Api::new(ctx)?;
    let response = api.method("auth.test").send()?;
    let body = slack_body(&response)?;
    let principal = match (json::str_at(&body, "user"), json::str_at(&body, "team")) {
        (Some(user), Some(team)) => Some(format!("{user} ({team})")),
        (user, _) => user.or_else(|| json::str_at(&body, "user_id")),
    };
    let Some(header) = response.header("x-oauth-scopes") else {
        log::warn("auth.test answered without x-oauth-scopes; granted scopes unknown");
        return Ok(Permissions::granted(principal, Vec::new()));
    };
    let granted: Vec<String> = header
        .split(',')
        .map(str::trim)
        .filter(|scope| !scope.is_empty())
        .map(str::to_owned)
        .collect();
    let has = |scope: &str| granted.iter().any(|g| g == scope);
    let missing = NEEDS
        .iter()
        .filter(|(_, scope, _)| !has(scope))
        .map(|(capability, scope, why)| {
            (
                *capability,
                format!("Slack scope `{scope}` is not granted: {why}"),
            )
        })
        .collect();
    for (scope, what) in ACTION_SCOPES {
        if !has(scope) {
            log::info(format_args!(
                "Slack scope `{scope}` is not granted: {what} will be refused"
            ));
        }
    }
    Ok(Permissions {
        principal,
        granted,
        missing,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sluice_sdk::http::Response;

    use super::*;
    use crate::api::fake;

    fn auth_test(scopes: Option<&str>) -> Response {
        let body = json!({"ok": true, "url": "https://acme.slack.com/", "team": "Acme",
            "user": "grace", "team_id": "T1", "user_id": "W1"});
        let headers = scopes
            .map(|s| vec![("x-oauth-scopes".to_owned(), s.to_owned())])
            .unwrap_or_default();
        Response::new(200, headers, body.to_string())
    }

    fn run(answer: Response) -> Result<Permissions, ConnectorError> {
        let url = format!("{}/auth.test", fake::WEB);
        fake::slack(vec![(url, answer)])
            .run(|| check(&fake::ctx(100, None)))
            .0
    }

    #[test]
    fn every_scope_granted_leaves_nothing_missing() {
        let all = "users:read,users:read.email, usergroups:read,auditlogs:read,admin.apps:read,admin,admin.users:write";
        let permissions = run(auth_test(Some(all))).unwrap();
        assert_eq!(permissions.principal.as_deref(), Some("grace (Acme)"));
        assert_eq!(permissions.granted.len(), 7);
        assert!(permissions.granted.contains(&"usergroups:read".to_owned()));
        assert!(permissions.missing.is_empty(), "{:?}", permissions.missing);
    }

    #[test]
    fn missing_scopes_are_reported_per_capability_in_slack_s_words() {
        let permissions = run(auth_test(Some("users:read,usergroups:read"))).unwrap();
        let missing = sluice_sdk::testing::missing(&permissions);
        assert_eq!(
            missing,
            [
                Capability::Accounts,
                Capability::LogonActivity,
                Capability::UserActivity,
                Capability::AdminActivity,
                Capability::AppPermissions,
            ]
        );
        assert!(permissions.missing[0].1.contains("`users:read.email`"));
        assert!(permissions.missing[1].1.contains("`auditlogs:read`"));
        assert!(permissions.missing[4].1.contains("`admin.apps:read`"));
        // Without the header nothing can be said, and nothing is claimed missing.
        let unknown = run(auth_test(None)).unwrap();
        assert!(unknown.granted.is_empty() && unknown.missing.is_empty());
    }

    #[test]
    fn a_revoked_token_is_unauthorized() {
        assert_eq!(
            run(fake::error("token_revoked")),
            Err(ConnectorError::Unauthorized(
                "Slack error `token_revoked`".into()
            ))
        );
    }
}
