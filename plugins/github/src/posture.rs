//! `posture`: organisation security settings judged against common recommendations.
//!
//! Everything but SSO comes from `GET /orgs/{org}`. GitHub only shows the settings to
//! organisation owners (`admin:org`); a setting the token cannot see fails its finding
//! with a detail saying so, since "unknown" is not a state an operator can sign off.
//! GitHub has no endpoint that says whether SAML SSO is on, so it is judged from
//! `GET /orgs/{org}/credential-authorizations`, which exists only for orgs with SAML SSO.

use serde_json::json;
use sluice_sdk::prelude::*;

use crate::api::Api;

/// All findings for the organisation.
pub fn findings(ctx: &Context) -> Result<Vec<Finding>, ConnectorError> {
    let api = Api::new(ctx)?;
    let org = api.organization()?;
    Ok(vec![
        two_factor_required(&org),
        sso_enforced(&api)?,
        default_repository_permission(&org),
        members_can_create_public_repositories(&org),
    ])
}

/// What a failing finding says when the token cannot see `field`.
fn not_visible(field: &str) -> String {
    format!(
        "`{field}` is not visible to this token (it needs an organization owner's token \
         with admin:org), so the setting could not be confirmed"
    )
}

/// Two-factor authentication required for members and outside collaborators.
fn two_factor_required(org: &Value) -> Finding {
    let field = "two_factor_requirement_enabled";
    let required = json::bool_at(org, field);
    Finding {
        id: "two-factor-required".into(),
        title: "Require two-factor authentication".into(),
        severity: Severity::High,
        passed: required == Some(true),
        detail: match required {
            Some(true) => "Everyone in the organization must use two-factor authentication.".into(),
            Some(false) => {
                "Two-factor authentication is not required for members and outside collaborators."
                    .into()
            }
            None => not_visible(field),
        },
        remediation: "Organization Settings → Authentication security → Two-factor \
                      authentication: tick \"Require two-factor authentication for everyone \
                      in the organization\"."
            .into(),
        raw: json::raw(org),
    }
}

/// SAML single sign-on enabled, judged from whether credential authorizations exist.
fn sso_enforced(api: &Api) -> Result<Finding, ConnectorError> {
    let probe = api
        .get(api.org_url("/credential-authorizations"))
        .query("per_page", 1);
    let line = probe.line();
    let response = probe.send()?;
    let status = response.status();
    let (passed, detail) = match response.error_for_status() {
        Ok(_) => (
            true,
            format!(
                "SAML SSO is enabled: `{line}` answered {status} (the API cannot tell whether \
                 SSO is also required for every member)."
            ),
        ),
        Err(ConnectorError::NotFound(_)) => (
            false,
            format!("SAML SSO is not enabled: `{line}` answered 404."),
        ),
        Err(ConnectorError::Forbidden(message)) => (
            false,
            format!(
                "Could not be judged: `{line}` answered {message}; it needs an organization \
                 owner's token with read:org."
            ),
        ),
        Err(error) => return Err(error),
    };
    Ok(Finding {
        id: "sso-enforced".into(),
        title: "Adopt SAML single sign-on".into(),
        severity: Severity::High,
        passed,
        detail,
        remediation: "Organization Settings → Authentication security → SAML single sign-on: \
                      enable SAML authentication, then tick \"Require SAML SSO authentication \
                      for all members\" (GitHub Enterprise Cloud)."
            .into(),
        raw: json!({ "credential_authorizations_status": status }).to_string(),
    })
}

/// New repositories get at most read access for all members by default.
fn default_repository_permission(org: &Value) -> Finding {
    let field = "default_repository_permission";
    let permission = json::str_at(org, field);
    Finding {
        id: "default-repository-permission".into(),
        title: "Limit members' base repository permission to read".into(),
        severity: Severity::Medium,
        passed: matches!(permission.as_deref(), Some("read" | "none")),
        detail: match &permission {
            Some(permission) => {
                format!("Members' base permission on every repository is `{permission}`.")
            }
            None => not_visible(field),
        },
        remediation: "Organization Settings → Member privileges → Base permissions: choose \
                      \"No permission\" or \"Read\", and grant more through teams."
            .into(),
        raw: json::raw(org),
    }
}

/// Members cannot publish repositories on their own.
fn members_can_create_public_repositories(org: &Value) -> Finding {
    let field = "members_can_create_public_repositories";
    let allowed = json::bool_at(org, field);
    Finding {
        id: "members-can-create-public-repositories".into(),
        title: "Stop members from creating public repositories".into(),
        severity: Severity::Low,
        passed: allowed == Some(false),
        detail: match allowed {
            Some(true) => "Members can create public repositories.".into(),
            Some(false) => "Only owners can create public repositories.".into(),
            None => not_visible(field),
        },
        remediation: "Organization Settings → Member privileges → Repository creation: \
                      untick \"Public\"."
            .into(),
        raw: json::raw(org),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake;

    #[test]
    fn judges_settings_and_sso() {
        let org = json!({
            "login": "acme",
            "two_factor_requirement_enabled": true,
            "default_repository_permission": "write",
            "members_can_create_public_repositories": false,
        });
        let host = fake::github(vec![
            ("https://gh.test/orgs/acme".into(), fake::json(&org, None)),
            (
                "https://gh.test/orgs/acme/credential-authorizations?per_page=1".into(),
                fake::json(&json!([]), None),
            ),
        ]);
        let (result, _) = host.run(|| findings(&fake::ctx(100, None)));
        let results: Vec<_> = result
            .unwrap()
            .into_iter()
            .map(|f| (f.id, f.passed))
            .collect();
        assert_eq!(
            results,
            [
                ("two-factor-required".to_owned(), true),
                ("sso-enforced".to_owned(), true),
                ("default-repository-permission".to_owned(), false),
                ("members-can-create-public-repositories".to_owned(), true),
            ]
        );
    }

    #[test]
    fn settings_hidden_from_the_token_fail_and_say_why() {
        let host = fake::github(vec![(
            "https://gh.test/orgs/acme".into(),
            fake::json(&json!({"login": "acme"}), None),
        )]);
        let (result, _) = host.run(|| findings(&fake::ctx(100, None)));
        let findings = result.unwrap();
        assert!(findings.iter().all(|f| !f.passed));
        assert!(
            findings[0].detail.contains("not visible"),
            "{}",
            findings[0].detail
        );
        assert!(
            findings[1].detail.contains("not enabled"),
            "{}",
            findings[1].detail
        );
    }
}
