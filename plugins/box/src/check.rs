//! `check`: do the credentials work, and which capabilities do the app's scopes allow?
//!
//! A Box app's scopes are set in the Developer Console and the token answer never
//! reaches the connector (the host fetches tokens), so `check` reads who the token is
//! (`GET /2.0/users/me`: the enterprise's service account) and probes one request per
//! capability, naming the scope in Box's words when Box refuses:
//!
//! | capability | probe | Box needs |
//! |---|---|---|
//! | accounts, privileges | `GET /2.0/users?limit=1` | "Manage users" |
//! | groups | `GET /2.0/groups?limit=1` | "Manage groups" |
//! | logon, user, admin activity | `GET /2.0/events?stream_type=admin_logs&limit=1` | "Manage enterprise properties" |
//! | files, file content | `GET /2.0/folders/0/items?limit=1` as a user (`As-User`) | "Read all files and folders stored in Box", "Make API calls using the as-user header" |
//! | sensitivity labels | `GET /2.0/metadata_templates/enterprise/securityClassification-6VMVochwUWo/schema` | classifications defined in the Admin Console (Box Shield) |
//!
//! The actions need "Write all files and folders stored in Box" and "Manage users",
//! which cannot be probed without writing; the guide says so. A 401 on the first
//! request is `unauthorized`.

use sluice_sdk::prelude::*;

use crate::api::{self, Api};
use crate::files::CLASSIFICATION_TEMPLATE;

/// The scope files need besides reading them: acting as their owners.
pub const AS_USER: &str = "Make API calls using the as-user header";
/// The scope that reads every user's files.
pub const READ_FILES: &str = "Read all files and folders stored in Box";

/// Validates the credentials and reports what the app's scopes allow.
pub fn check(ctx: &Context) -> Result<Permissions, ConnectorError> {
    let api = Api::new(ctx)?;
    let me = api.fetch(
        api.get("/users/me")
            .query("fields", "id,name,login,role,enterprise"),
    )?;
    let principal = json::str_at(&me, "login").or_else(|| json::str_at(&me, "id"));
    let mut granted: Vec<String> = Vec::new();
    let mut missing = Vec::new();
    let mut grant = |scope: &str| {
        if !granted.iter().any(|g| g == scope) {
            granted.push(scope.to_owned());
        }
    };

    let users = api
        .get("/users")
        .query("limit", 1)
        .query("fields", "id,role")
        .send()?;
    let mut some_user = None;
    match refusal(users)? {
        Ok(body) => {
            grant("Manage users");
            some_user = json::str_at(&body, "/entries/0/id");
        }
        Err(why) => {
            for capability in [Capability::Accounts, Capability::Privileges] {
                missing.push((capability, needs("Manage users", &why)));
            }
        }
    }
    match refusal(api.get("/groups").query("limit", 1).send()?)? {
        Ok(_) => grant("Manage groups"),
        Err(why) => missing.push((Capability::Groups, needs("Manage groups", &why))),
    }
    let events = api
        .get("/events")
        .query("stream_type", "admin_logs")
        .query("limit", 1)
        .send()?;
    match refusal(events)? {
        Ok(_) => grant("Manage enterprise properties"),
        Err(why) => {
            let why = format!(
                "{} (and the service account must be an admin, or a co-admin allowed to \
                 run reports)",
                needs("Manage enterprise properties", &why)
            );
            for capability in [
                Capability::LogonActivity,
                Capability::UserActivity,
                Capability::AdminActivity,
            ] {
                missing.push((capability, why.clone()));
            }
        }
    }
    let items = api::as_user(
        api.get("/folders/0/items").query("limit", 1),
        some_user.as_deref(),
    )
    .send()?;
    match refusal(items)? {
        Ok(_) => {
            grant(READ_FILES);
            if some_user.is_some() {
                grant(AS_USER);
            }
        }
        Err(why) => {
            let why = format!(
                "the app needs \"{READ_FILES}\" and \"{AS_USER}\" (App + Enterprise Access); \
                 Box answered: {why}"
            );
            for capability in [Capability::Files, Capability::FileContent] {
                missing.push((capability, why.clone()));
            }
        }
    }
    let template = api
        .get(&format!(
            "/metadata_templates/enterprise/{CLASSIFICATION_TEMPLATE}/schema"
        ))
        .send()?;
    match refusal(template)? {
        Ok(_) => grant("classifications"),
        Err(why) => missing.push((
            Capability::SensitivityLabels,
            format!(
                "the enterprise has no classification template `{CLASSIFICATION_TEMPLATE}` \
                 (define classifications in the Admin Console, Box Shield); Box answered: {why}"
            ),
        )),
    }
    Ok(Permissions {
        principal,
        granted,
        missing,
    })
}

/// The body of a successful probe, or Box's reason for a 403 or 404; other failures
/// (401, 429, 5xx) fail the check.
fn refusal(response: Response) -> Result<Result<Value, String>, ConnectorError> {
    match response.status() {
        200..=299 => Ok(Ok(response.json_value()?)),
        403 | 404 => Ok(Err(format!(
            "{} {}",
            response.status(),
            api::message(&response)
        ))),
        _ => Err(response.error_for_status().err().unwrap_or_else(|| {
            ConnectorError::upstream("unexpected answer to a probe".to_owned())
        })),
    }
}

fn needs(scope: &str, why: &str) -> String {
    format!("the app needs the scope \"{scope}\"; Box answered: {why}")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake::{self, BASE};

    fn routes(denied: &[&str]) -> Vec<(String, Response)> {
        let ok = |body: Value| fake::json(&body);
        let all = vec![
            (
                format!("{BASE}/users/me?fields=id%2Cname%2Clogin%2Crole%2Centerprise"),
                ok(
                    json!({"type": "user", "id": "5", "login": "AutomationUser_1_x@boxdevedition.com"}),
                ),
            ),
            (
                format!("{BASE}/users?limit=1&fields=id%2Crole"),
                ok(json!({"entries": [{"type": "user", "id": "42"}]})),
            ),
            (format!("{BASE}/groups?limit=1"), ok(json!({"entries": []}))),
            (
                format!("{BASE}/events?stream_type=admin_logs&limit=1"),
                ok(json!({"entries": [], "next_stream_position": "1"})),
            ),
            (
                format!("{BASE}/folders/0/items?limit=1"),
                ok(json!({"entries": []})),
            ),
            (
                format!("{BASE}/metadata_templates/enterprise/{CLASSIFICATION_TEMPLATE}/schema"),
                ok(json!({"templateKey": CLASSIFICATION_TEMPLATE})),
            ),
        ];
        all.into_iter()
            .map(|(url, response)| {
                if denied.iter().any(|d| url.contains(d)) {
                    let refusal = fake::error(
                        403,
                        "access_denied_insufficient_permissions",
                        "Access denied - insufficient permission",
                    );
                    (url, refusal)
                } else {
                    (url, response)
                }
            })
            .collect()
    }

    #[test]
    fn every_scope_granted_and_files_probed_as_a_user() {
        let (result, host) = fake::boxed(routes(&[])).run(|| check(&fake::ctx(100, None)));
        let permissions = result.unwrap();
        assert_eq!(
            permissions.principal.as_deref(),
            Some("AutomationUser_1_x@boxdevedition.com")
        );
        assert_eq!(
            permissions.granted,
            [
                "Manage users",
                "Manage groups",
                "Manage enterprise properties",
                READ_FILES,
                AS_USER,
                "classifications"
            ]
        );
        assert!(permissions.missing.is_empty());
        let items = (host.requests().iter())
            .find(|r| r.url.contains("/folders/0/items"))
            .unwrap();
        assert_eq!(items.header("as-user"), Some("42"));
    }

    #[test]
    fn refused_probes_name_the_scope_in_box_s_words() {
        let (result, _) =
            fake::boxed(routes(&["/events", "/folders/0"])).run(|| check(&fake::ctx(100, None)));
        let permissions = result.unwrap();
        assert_eq!(
            sluice_sdk::testing::missing(&permissions),
            [
                Capability::LogonActivity,
                Capability::UserActivity,
                Capability::AdminActivity,
                Capability::Files,
                Capability::FileContent,
            ]
        );
        assert!(
            permissions.missing[0]
                .1
                .contains("\"Manage enterprise properties\"")
        );
        assert!(
            permissions.missing[0]
                .1
                .contains("access_denied_insufficient_permissions")
        );
        assert!(permissions.missing[3].1.contains(AS_USER));
    }

    #[test]
    fn a_rejected_token_is_unauthorized() {
        let host = fake::boxed(vec![])
            .on_request(|_| Ok(fake::error(401, "unauthorized", "Unauthorized")));
        let (result, _) = host.run(|| check(&fake::ctx(100, None)));
        assert!(matches!(result, Err(ConnectorError::Unauthorized(_))));
    }
}
