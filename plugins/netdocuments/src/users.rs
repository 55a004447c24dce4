//! `list-users`: the repository's members, with administrators marked.
//!
//! `GET /v1/Repository/{id}/users?$top=N&paging=true[&$skiptoken=T]`. User objects do
//! not say who administers the repository, so every page first reads the repository
//! info's `administrators`: one small request per page, which keeps the cursor (the
//! SDK's `ListCursor` at the next page's token, `{"token":"<token>"}`) small however
//! many administrators there are.

use sluice_sdk::prelude::*;

use crate::api::{self, Api};

/// Role name of repository administrators, as NetDocuments' admin pages call them.
pub const ADMIN_ROLE: &str = "repository_administrator";

/// One page of users.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<UserPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let position = ListCursor::<()>::resume(cursor)?;
    let admins = api::ids_at(&api.repository_info()?, "administrators");
    let url = api.paged_url(&api.repository_path("users"), &[], position.token());
    let (members, next) = api.page(&url)?;
    let items = json::map_items(&members, "repository users", |m| user(m, &admins));
    Ok(UserPage {
        items,
        next_cursor: position.next_cursor(next.map(At::token)),
    })
}

/// The user record for a repository member; none without an id.
fn user(member: &Value, admins: &[String]) -> Option<User> {
    let id = json::str_at(member, "id")?;
    let is_admin = admins.contains(&id);
    let is_external = json::bool_at(member, "external").unwrap_or(false);
    let mut roles = vec![if is_external { "external" } else { "internal" }.to_owned()];
    if is_admin {
        roles.push(ADMIN_ROLE.to_owned());
    }
    Some(User {
        login: json::str_at(member, "username").or_else(|| json::str_at(member, "email")),
        email: json::str_at(member, "email"),
        display_name: json::str_at(member, "displayName"),
        status: if json::bool_at(member, "disabled") == Some(true) {
            UserStatus::Disabled
        } else {
            UserStatus::Active
        },
        is_admin,
        is_external,
        roles,
        group_ids: Vec::new(),
        last_sign_in: api::time_at(member, "lastLogin"),
        created: api::time_at(member, "registered"),
        raw: json::raw(member),
        id,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake;

    #[test]
    fn pages_through_members_marking_administrators() {
        let info = "https://nd.test/v1/Repository/CA-TEST/info";
        let first = "https://nd.test/v1/Repository/CA-TEST/users?%24top=2&paging=true";
        let second =
            "https://nd.test/v1/Repository/CA-TEST/users?%24top=2&paging=true&%24skiptoken=P2";
        let host = fake::netdocuments(vec![
            (
                info.into(),
                fake::json(&json!({"id": "CA-TEST", "administrators": ["U-1"]})),
            ),
            (
                first.into(),
                fake::json(&json!({"results": [
                    {"id": "U-1", "displayName": "Ada", "email": "ada@firm.test",
                     "external": false, "lastLogin": "/Date(1704067200000-0500)/",
                     "registered": "2023-01-01T00:00:00Z"},
                    {"id": "U-2", "email": "bob@client.test", "external": true},
                ], "next": "P2"})),
            ),
            (
                second.into(),
                fake::json(&json!({"results": [{"id": "U-3"}, {"displayName": "no id"}]})),
            ),
        ]);
        let ctx = fake::ctx(2, None);
        let (pages, host) = host.run(|| {
            let one = list(&ctx, None).unwrap();
            let two = list(&ctx, one.next_cursor.as_deref()).unwrap();
            [one, two]
        });
        assert_eq!(host.requests().len(), 4);
        assert_eq!(pages[0].next_cursor.as_deref(), Some(r#"{"token":"P2"}"#));
        assert_eq!(pages[1].next_cursor, None);
        let ada = &pages[0].items[0];
        assert!(ada.is_admin && !ada.is_external);
        assert_eq!(ada.roles, ["internal", ADMIN_ROLE]);
        assert_eq!(ada.last_sign_in, Some(1_704_067_200_000));
        assert_eq!(ada.created, Some(1_672_531_200_000));
        let bob = &pages[0].items[1];
        assert!(bob.is_external && !bob.is_admin);
        assert_eq!(bob.login.as_deref(), Some("bob@client.test"));
        assert_eq!(
            pages[1].items.len(),
            1,
            "the member without an id is skipped"
        );
    }

    #[test]
    fn an_unknown_repository_is_not_found() {
        let (result, _) = fake::netdocuments(vec![]).run(|| list(&fake::ctx(100, None), None));
        assert!(
            matches!(&result, Err(ConnectorError::NotFound(m)) if m.contains("CA-TEST")),
            "{result:?}"
        );
    }
}
