//! `list-users`: every user of the customer with their admin roles (privileges).
//!
//! `GET /admin/directory/v1/users?customer=my_customer` (`maxResults` up to 500,
//! `pageToken`), ordered by email so pages do not shift while users are added.
//!
//! Roles come from two lists read once, on the first page, and carried in the cursor
//! as role names per user id:
//!
//! - `GET …/customer/{customer}/roles`: each role's `roleName` (system roles are
//!   spelled `_SEED_ADMIN_ROLE`, `_USER_MANAGEMENT_ADMIN_ROLE`, …; custom roles by the
//!   admin's name);
//! - `GET …/customer/{customer}/roleassignments`: which `assignedTo` (a user id, or a
//!   group id when `assigneeType` is `group`) holds which `roleId`. A role held through
//!   a group is listed on the group's id only: its members are not expanded.
//!
//! Without `admin.directory.rolemanagement.readonly` the users are still listed, with
//! `isAdmin` / `isDelegatedAdmin` alone (see `check`).
//!
//! | Google | Sluice |
//! |---|---|
//! | `suspended: true` | suspended |
//! | `archived: true` | disabled |
//! | otherwise | active |
//! | `isAdmin` (super admin) or `isDelegatedAdmin` | `is-admin` |
//! | `lastLoginTime` (`1970-01-01T00:00:00.000Z` means never) | `last-sign-in` |

use std::collections::BTreeMap;

use sluice_sdk::prelude::*;

use crate::api::{self, Api, MAX_GROUPS, MAX_USERS};

/// Role names per user id, carried in the cursor.
pub type Roles = BTreeMap<String, Vec<String>>;

/// Pages of roles and of role assignments read at most.
pub const ROLE_PAGES: usize = 50;

/// One page of users.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<UserPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let mut position = ListCursor::<(), Roles>::resume(cursor)?;
    if cursor.is_none() {
        position.state = roles(&api)?;
    }
    let request = api
        .page(
            api.directory("/users"),
            "maxResults",
            api.page_size(MAX_USERS),
            position.token(),
        )
        .query("customer", &api.customer)
        .query("orderBy", "email");
    let (users, token) = api::items_and_token(api.fetch(request)?, "users");
    let items = json::map_items(&users, "Google users", |u| user(u, &position.state));
    Ok(UserPage {
        items,
        next_cursor: position.next_cursor(token.map(At::token)),
    })
}

/// Every role assignment's role name per assignee id. A 403 (no role-management
/// scope) reads no roles, with a log line.
pub fn roles(api: &Api) -> Result<Roles, ConnectorError> {
    let customer = http::encode_component(&api.customer);
    let read = |path: &str, size: u32| {
        let url = api.directory(&format!("/customer/{customer}/{path}"));
        pagination::collect_all(String::new(), ROLE_PAGES, |token| {
            let token = (!token.is_empty()).then_some(token);
            let response = api.page(url.clone(), "maxResults", size, token).send()?;
            let (items, next) =
                api::items_and_token(api::checked(response)?.json_value()?, "items");
            Ok((items, next))
        })
    };
    let names = match read("roles", 100) {
        Ok((roles, _)) => roles,
        Err(ConnectorError::Forbidden(why)) => {
            log::info(format!(
                "roles not readable ({why}); users show isAdmin alone"
            ));
            return Ok(Roles::new());
        }
        Err(e) => return Err(e),
    };
    let names: BTreeMap<String, String> = names
        .iter()
        .filter_map(|r| Some((json::str_at(r, "roleId")?, json::str_at(r, "roleName")?)))
        .collect();
    let (assignments, _) = read("roleassignments", MAX_GROUPS)?;
    let mut held = Roles::new();
    for a in &assignments {
        let (Some(who), Some(role)) = (json::str_at(a, "assignedTo"), json::str_at(a, "roleId"))
        else {
            continue;
        };
        let name = names
            .get(&role)
            .cloned()
            .unwrap_or_else(|| format!("role {role}"));
        let list = held.entry(who).or_default();
        if !list.contains(&name) {
            list.push(name);
        }
    }
    Ok(held)
}

/// The normalised status of a Directory user.
pub fn status_of(value: &Value) -> UserStatus {
    if json::bool_at(value, "suspended") == Some(true) {
        UserStatus::Suspended
    } else if json::bool_at(value, "archived") == Some(true) {
        UserStatus::Disabled
    } else {
        UserStatus::Active
    }
}

/// The user record for a Directory user; none without an id.
pub fn user(value: &Value, roles: &Roles) -> Option<User> {
    let id = json::str_at(value, "id")?;
    let super_admin = json::bool_at(value, "isAdmin") == Some(true);
    let delegated = json::bool_at(value, "isDelegatedAdmin") == Some(true);
    let mut held = roles.get(&id).cloned().unwrap_or_default();
    if super_admin && held.is_empty() {
        held.push("Super Admin".into());
    }
    Some(User {
        login: json::str_at(value, "primaryEmail"),
        email: json::str_at(value, "primaryEmail"),
        display_name: json::str_at(value, "/name/fullName"),
        status: status_of(value),
        is_admin: super_admin || delegated,
        roles: held,
        // Google answers the epoch for a user who never signed in.
        last_sign_in: json::timestamp_at(value, "lastLoginTime").filter(|t| *t > 0),
        created: json::timestamp_at(value, "creationTime"),
        ..User::new(id, json::raw(value))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake;

    #[test]
    fn the_published_users_map_with_their_roles() {
        let (Some(body), Some(roles_body), Some(assignments)) = (
            fake::fixture("directory-users.list"),
            fake::fixture("directory-roles.list"),
            fake::fixture("directory-roleAssignments.list"),
        ) else {
            return;
        };
        let base = format!("{}/admin/directory/v1/customer/my_customer", fake::ADMIN);
        let host = fake::google(vec![
            (
                format!("{base}/roles?maxResults=100"),
                fake::json(&roles_body),
            ),
            (
                format!("{base}/roleassignments?maxResults=200"),
                fake::json(&assignments),
            ),
            (
                format!(
                    "{}/admin/directory/v1/users?maxResults=100&customer=my_customer&orderBy=email",
                    fake::ADMIN
                ),
                fake::json(&body),
            ),
        ]);
        let (page, _) = host.run(|| list(&fake::ctx(100, None), None));
        let page = page.unwrap();
        assert_eq!(page.items.len(), 2);
        let alice = &page.items[0];
        assert_eq!(alice.id, "104857291836450193827");
        assert_eq!(alice.email.as_deref(), Some("alice.admin@example.com"));
        assert_eq!(alice.display_name.as_deref(), Some("Alice Admin"));
        assert!(alice.is_admin);
        assert_eq!(alice.roles, ["_SEED_ADMIN_ROLE"]);
        assert_eq!(alice.status, UserStatus::Active);
        assert_eq!(alice.last_sign_in, time::parse("2024-06-30T08:12:44.000Z"));
        let bob = &page.items[1];
        assert_eq!(bob.status, UserStatus::Suspended);
        assert!(!bob.is_admin);
        assert_eq!(bob.last_sign_in, None, "the epoch means never");
        assert_eq!(
            serde_json::from_str::<Value>(&bob.raw).unwrap(),
            body["users"][1]
        );
        // The published page names a next page: the cursor carries its token and
        // the roles.
        let cursor = page.next_cursor.unwrap();
        assert!(cursor.contains("Q0FFU0FrTUFBQS1Ga0pCVkVKU1EwdFNUVWxTU0Y5WlZVVVNRVXhRUkVGWg"));
        assert!(cursor.contains("_SEED_ADMIN_ROLE"));
    }

    #[test]
    fn without_role_management_users_show_is_admin_alone() {
        let base = format!("{}/admin/directory/v1", fake::ADMIN);
        let host = fake::google(vec![
            (
                format!("{base}/customer/my_customer/roles?maxResults=100"),
                fake::error(
                    403,
                    "forbidden",
                    "Not Authorized to access this resource/api",
                ),
            ),
            (
                format!("{base}/users?maxResults=2&customer=my_customer&orderBy=email"),
                fake::json(&json!({"users": [{"id": "1", "isAdmin": true},
                    {"id": "2", "archived": true}]})),
            ),
        ]);
        let (page, _) = host.run(|| list(&fake::ctx(2, None), None));
        let page = page.unwrap();
        assert_eq!(page.items[0].roles, ["Super Admin"]);
        assert_eq!(page.items[1].status, UserStatus::Disabled);
        assert_eq!(page.next_cursor, None);
    }
}
