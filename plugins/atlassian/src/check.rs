//! `check`: does the API key work, for which organization, and what can it read?
//!
//! An organization API key's scopes cannot be read back through the API, so `check`
//! sends one cheap request per capability and reports what Atlassian answered:
//!
//! 1. `GET /admin/v1/orgs/{orgId}`: the organization's name (the principal). A 401 is
//!    a rejected key (`unauthorized`); a 404 an organization this key does not reach.
//! 2. `GET …/directories/{directoryId}/users?limit=1`: accounts and privileges.
//! 3. `GET …/directories/{directoryId}/groups?limit=1`: groups.
//! 4. `GET /admin/v1/orgs/{orgId}/events-stream?limit=1`: logon, user and admin
//!    activity. Atlassian lists the events endpoints' scopes as "Not supported (use API
//!    Key without scopes)".
//!
//! A 403 marks the capabilities behind that request missing, with Atlassian's own
//! message ("User has no permission to access resource.") and what to create instead:
//! an API key without scopes, made by an organization admin. `granted` names each API
//! that answered. Suspending and restoring access are writes, so they are not probed;
//! they need the new user management experience, and `act` reports Atlassian's refusal.

use sluice_sdk::prelude::*;

use crate::api::{Api, atlassian_message};

/// Validates the API key and reports what it may read.
pub fn check(ctx: &Context) -> Result<Permissions, ConnectorError> {
    let api = Api::new(ctx)?;
    let org = api.get(api.v1("")).send()?;
    if org.status() == 404 {
        return Err(ConnectorError::not_found(format!(
            "Atlassian knows no organization with this ID for this API key: {}",
            atlassian_message(&org)
        )));
    }
    let org = org.error_for_status()?.json_value()?;
    let name = json::str_at(&org, "/data/attributes/name");
    let mut granted = vec![format!(
        "API key for organization {}",
        name.as_deref().unwrap_or("(unnamed)")
    )];
    let mut missing = Vec::new();

    let probes: [(&str, String, &[Capability]); 3] = [
        (
            "Users API",
            api.directory("/users"),
            &[Capability::Accounts, Capability::Privileges],
        ),
        (
            "Groups API",
            api.directory("/groups"),
            &[Capability::Groups],
        ),
        (
            "Events API (events-stream)",
            api.v1("/events-stream"),
            &Capability::ACTIVITY,
        ),
    ];
    for (what, url, capabilities) in probes {
        let response = api.get(url.as_str()).query("limit", 1).send()?;
        match response.status() {
            200..=299 => granted.push(what.to_owned()),
            403 | 404 => {
                let why = format!(
                    "Atlassian answered {} to GET {}: \"{}\"; the {what} needs an API key \
                     without scopes, created by an organization admin (Settings → API keys)",
                    response.status(),
                    url,
                    atlassian_message(&response)
                );
                missing.extend(capabilities.iter().map(|c| (*c, why.clone())));
            }
            _ => {
                response.error_for_status()?;
            }
        }
    }
    Ok(Permissions {
        principal: name,
        granted,
        missing,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake;

    fn routes(events: sluice_sdk::http::Response) -> Vec<(String, sluice_sdk::http::Response)> {
        vec![
            (
                fake::ORG.into(),
                fake::json(&json!({"data": {"id": "org-1", "type": "orgs",
                                            "attributes": {"name": "Acme"}}})),
            ),
            (
                format!("{}/users?limit=1", fake::DIR),
                fake::page(json!([]), None),
            ),
            (
                format!("{}/groups?limit=1", fake::DIR),
                fake::page(json!([]), None),
            ),
            (format!("{}/events-stream?limit=1", fake::ORG), events),
        ]
    }

    #[test]
    fn a_key_without_scopes_reads_everything() {
        let host = fake::atlassian(routes(fake::page(json!([]), None)));
        let (result, host) = host.run(|| check(&fake::ctx(100, None)));
        let permissions = result.unwrap();
        assert_eq!(permissions.principal.as_deref(), Some("Acme"));
        assert_eq!(
            permissions.granted,
            [
                "API key for organization Acme",
                "Users API",
                "Groups API",
                "Events API (events-stream)"
            ]
        );
        assert!(permissions.missing.is_empty());
        assert_eq!(host.requests().len(), 4);
    }

    #[test]
    fn a_refused_probe_marks_its_capabilities_missing_in_atlassian_s_words() {
        let refusal = "User has no permission to access resource.";
        let host = fake::atlassian(routes(fake::error(403, refusal)));
        let (result, _) = host.run(|| check(&fake::ctx(100, None)));
        let permissions = result.unwrap();
        assert_eq!(
            sluice_sdk::testing::missing(&permissions),
            Capability::ACTIVITY
        );
        let why = &permissions.missing[0].1;
        assert!(
            why.contains(refusal) && why.contains("without scopes"),
            "{why}"
        );
        assert!(why.contains("/events-stream"), "{why}");
    }

    #[test]
    fn a_rejected_key_is_unauthorized_and_an_unknown_org_not_found() {
        let host = fake::atlassian(vec![]).on_request(|_| Ok(fake::error(401, "Unauthorized")));
        let (result, _) = host.run(|| check(&fake::ctx(100, None)));
        assert!(
            matches!(result, Err(ConnectorError::Unauthorized(_))),
            "{result:?}"
        );
        let (result, _) = fake::atlassian(vec![]).run(|| check(&fake::ctx(100, None)));
        assert!(
            matches!(result, Err(ConnectorError::NotFound(_))),
            "{result:?}"
        );
    }
}
