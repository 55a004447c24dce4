//! `check`: do the credentials work, whose are they, and which tables may they read?
//!
//! ServiceNow has no scopes for the Table API: what an integration user may read is
//! what its roles' ACLs allow, table by table, and a refused table answers 403 `User
//! Not Authorized`. So `check` asks:
//!
//! 1. `sys_user?sysparm_query=sys_id=javascript:gs.getUserID()`: the principal (its
//!    `user_name`), and whether the User table is readable at all;
//! 2. `sys_user_has_role?sysparm_query=user=javascript:gs.getUserID()`: its roles
//!    (`granted` lists them as `role:<name>`);
//! 3. one row (`sysparm_limit=1`) of every other table a capability reads;
//! 4. one attachment, `GET /api/now/attachment?sysparm_limit=1` (the Attachment API
//!    over `sys_attachment`), for files and their content.
//!
//! | capability | table(s) | role that reads them out of the box |
//! |---|---|---|
//! | accounts | `sys_user` | `admin` or `user_admin` |
//! | privileges | `sys_user_has_role` | `admin` or `user_admin` |
//! | groups | `sys_user_group`, `sys_user_grmember` | `admin` or `user_admin` |
//! | logon activity | `sysevent` | `admin` |
//! | user, admin activity | `sys_audit` | `admin` |
//! | posture | `sys_properties` | `admin` (changing the `glide.security.*` ones takes the elevated `security_admin`) |
//! | files, file content | `sys_attachment` (Attachment API) | `admin`; otherwise read on `sys_attachment` and on each attachment's record (`itil` for incidents, …) |
//!
//! A refused table marks its capabilities missing with ServiceNow's own message; a
//! readable one is `granted` as `read:<table>`. Attachments are guarded twice: the
//! Attachment API's own ACL (a 403) and the parent record's read ACL, which hides an
//! attachment without an error; `check` can only see the first. The actions need `write` on `sys_user`
//! (`admin` or `user_admin`), which a read probe cannot tell.

use sluice_sdk::prelude::*;

use crate::api::{self, Api};

/// What each probed table serves, and which role reads it out of the box.
const TABLES: &[(&str, &[Capability], &str)] = &[
    (
        "sys_user_group",
        &[Capability::Groups],
        "the Group [sys_user_group] table (`admin` or `user_admin` role)",
    ),
    (
        "sys_user_grmember",
        &[Capability::Groups],
        "the Group Member [sys_user_grmember] table (`admin` or `user_admin` role)",
    ),
    (
        "sysevent",
        &[Capability::LogonActivity],
        "the Event [sysevent] table (`admin` role)",
    ),
    (
        "sys_audit",
        &[Capability::UserActivity, Capability::AdminActivity],
        "the Audit [sys_audit] table (`admin` role)",
    ),
    (
        "sys_properties",
        &[Capability::Posture],
        "the System Property [sys_properties] table (`admin` role; changing the security properties takes the elevated `security_admin` role)",
    ),
];

/// What reads attachments, in ServiceNow's terms.
const ATTACHMENTS: &str = "the Attachment [sys_attachment] table through the Attachment API \
    (`admin` role, or a role with read on sys_attachment and on the records the files are \
    attached to, such as `itil` for incidents)";

/// Validates the credentials and reports which tables they may read.
pub fn check(ctx: &Context) -> Result<Permissions, ConnectorError> {
    let api = Api::new(ctx)?;
    let mut granted = Vec::new();
    let mut missing = Vec::new();

    let me = api.list(
        "sys_user",
        Some("sys_id,user_name,name"),
        Some("sys_id=javascript:gs.getUserID()"),
        1,
    );
    let (principal, me_id) = match refusal(me.send()?)? {
        Ok(response) => {
            let (rows, _) = api::page_of(&response)?;
            granted.push("read:sys_user".to_owned());
            let row = rows.first();
            (
                row.and_then(|r| api::text(r, "user_name")),
                row.and_then(|r| api::text(r, "sys_id")),
            )
        }
        Err(why) => {
            missing.push((
                Capability::Accounts,
                format!("reading the User [sys_user] table (`admin` or `user_admin` role) was refused: {why}"),
            ));
            (None, None)
        }
    };

    let roles = api.list(
        "sys_user_has_role",
        Some("user,role,role.name,state"),
        Some("user=javascript:gs.getUserID()"),
        api::MAX_PAGE_SIZE,
    );
    match refusal(roles.send()?)? {
        Ok(response) => {
            let (rows, _) = api::page_of(&response)?;
            let by_user = crate::users::roles_by_user(&rows);
            let mine = me_id
                .and_then(|id| by_user.get(&id).cloned())
                .unwrap_or_else(|| by_user.into_values().flatten().collect());
            granted.extend(mine.into_iter().map(|r| format!("role:{r}")));
            granted.push("read:sys_user_has_role".to_owned());
        }
        Err(why) => missing.push((
            Capability::Privileges,
            format!("reading the User Role [sys_user_has_role] table (`admin` or `user_admin` role) was refused: {why}"),
        )),
    }

    for (table, capabilities, needs) in TABLES {
        let probe = api.list(table, Some("sys_id"), None, 1);
        match refusal(probe.send()?)? {
            Ok(_) => granted.push(format!("read:{table}")),
            Err(why) => {
                for capability in *capabilities {
                    if !missing.iter().any(|(c, _)| c == capability) {
                        missing.push((*capability, format!("reading {needs} was refused: {why}")));
                    }
                }
            }
        }
    }
    let probe = api.attachments("", 1);
    match refusal(probe.send()?)? {
        Ok(_) => granted.push("read:sys_attachment".to_owned()),
        Err(why) => {
            for capability in [Capability::Files, Capability::FileContent] {
                missing.push((
                    capability,
                    format!("reading {ATTACHMENTS} was refused: {why}"),
                ));
            }
        }
    }
    Ok(Permissions {
        principal,
        granted,
        missing,
    })
}

/// A probe's answer: the response when readable, ServiceNow's explanation when an ACL
/// (403) or a missing table (400, 404) refused it; other failures are errors.
fn refusal(response: Response) -> Result<Result<Response, String>, ConnectorError> {
    match response.status() {
        200..=299 => Ok(Ok(response)),
        400 | 403 | 404 => Ok(Err(format!(
            "HTTP {} {}",
            response.status(),
            api::error_text(&response)
        ))),
        _ => response.error_for_status().map(Ok),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sluice_sdk::http::Response;

    use super::*;
    use crate::api::fake;

    const ME: &str = "sys_user?sysparm_query=sys_id%3Djavascript%3Ags.getUserID%28%29&sysparm_fields=sys_id%2Cuser_name%2Cname&sysparm_limit=1&sysparm_offset=0";
    const MY_ROLES: &str = "sys_user_has_role?sysparm_query=user%3Djavascript%3Ags.getUserID%28%29&sysparm_fields=user%2Crole%2Crole.name%2Cstate&sysparm_limit=1000&sysparm_offset=0";

    fn probe(table: &str) -> String {
        fake::table(&format!(
            "{table}?sysparm_fields=sys_id&sysparm_limit=1&sysparm_offset=0"
        ))
    }

    const ATTACHMENT_PROBE: &str =
        "https://acme.service-now.test/api/now/attachment?sysparm_limit=1&sysparm_offset=0";

    fn routes(refused: &[&str]) -> Vec<(String, Response)> {
        let mut routes = vec![
            (
                fake::table(ME),
                fake::page(
                    json!([{"sys_id": "u0", "user_name": "sluice.integration", "name": "Sluice"}]),
                    None,
                ),
            ),
            (
                fake::table(MY_ROLES),
                fake::page(
                    json!([{"user": {"link": "l", "value": "u0"}, "role.name": "admin", "state": "active"},
                           {"user": {"link": "l", "value": "u0"}, "role.name": "itil", "state": "active"}]),
                    None,
                ),
            ),
        ];
        for (table, _, _) in TABLES {
            let answer = if refused.contains(table) {
                fake::error(
                    403,
                    "User Not Authorized",
                    "Failed API level ACL Validation",
                )
            } else {
                fake::page(json!([{"sys_id": "x"}]), None)
            };
            routes.push((probe(table), answer));
        }
        let attachments = if refused.contains(&"sys_attachment") {
            fake::error(
                403,
                "User Not Authorized",
                "Failed API level ACL Validation",
            )
        } else {
            fake::page(json!([{"sys_id": "x", "file_name": "a.txt"}]), None)
        };
        routes.push((ATTACHMENT_PROBE.to_owned(), attachments));
        routes
    }

    #[test]
    fn an_admin_reads_every_table() {
        let (result, host) = fake::instance(routes(&[])).run(|| check(&fake::ctx(100, None)));
        let permissions = result.unwrap();
        assert_eq!(permissions.principal.as_deref(), Some("sluice.integration"));
        assert_eq!(
            permissions.granted,
            [
                "read:sys_user",
                "role:admin",
                "role:itil",
                "read:sys_user_has_role",
                "read:sys_user_group",
                "read:sys_user_grmember",
                "read:sysevent",
                "read:sys_audit",
                "read:sys_properties",
                "read:sys_attachment"
            ]
        );
        assert!(permissions.missing.is_empty());
        assert_eq!(host.requests().len(), 8);
    }

    #[test]
    fn refused_tables_mark_their_capabilities_missing_in_servicenow_s_words() {
        let (result, _) = fake::instance(routes(&[
            "sys_audit",
            "sys_properties",
            "sys_user_grmember",
            "sys_attachment",
        ]))
        .run(|| check(&fake::ctx(100, None)));
        let permissions = result.unwrap();
        assert_eq!(
            sluice_sdk::testing::missing(&permissions),
            [
                Capability::Groups,
                Capability::UserActivity,
                Capability::AdminActivity,
                Capability::Posture,
                Capability::Files,
                Capability::FileContent
            ]
        );
        let why = &permissions.missing[1].1;
        assert!(
            why.contains("[sys_audit]")
                && why.contains("`admin`")
                && why.contains("User Not Authorized"),
            "{why}"
        );
        assert!(permissions.missing[3].1.contains("security_admin"));
        let files = &permissions.missing[4].1;
        assert!(
            files.contains("[sys_attachment]")
                && files.contains("Attachment API")
                && files.contains("User Not Authorized"),
            "{files}"
        );
    }

    #[test]
    fn bad_credentials_are_unauthorized() {
        let host = fake::instance(vec![]).on_request(|_| {
            Ok(fake::error(
                401,
                "User Not Authenticated",
                "Required to provide Auth information",
            ))
        });
        let (result, _) = host.run(|| check(&fake::ctx(100, None)));
        assert!(
            matches!(result, Err(ConnectorError::Unauthorized(_))),
            "{result:?}"
        );
    }
}
