//! `list-users`: every user of the account with its status and roles (privileges).
//!
//! `GET /api/2/users?limit=N` (a bare array, `After-Cursor` paged, "up to 50 users per
//! page"). Each user names its roles by id (`role_ids`); the names come from
//! `GET /api/2/roles`, read once on the first call and carried in the cursor with the
//! ids of each role's `admins` (the users who may manage that role's members and
//! apps). A role id the list did not name shows as `role <id>`.
//!
//! | OneLogin | Sluice |
//! |---|---|
//! | `state` 0 unapproved, 2 rejected, 3 unlicensed | disabled |
//! | `status` 0 unactivated | disabled |
//! | `status` 2 suspended, 3 locked | suspended |
//! | otherwise (`status` 1 active, 4/5/7/8 password or security-question states) | active |
//!
//! `is-admin` is "administers at least one role" (a role's `admins`): OneLogin's
//! account-wide administrator privileges are the Privileges API, not read here.

use std::collections::{BTreeMap, BTreeSet};

use sluice_sdk::prelude::*;

use crate::api::Api;

/// At most this many pages of roles are read.
const MAX_ROLE_PAGES: usize = 100;

/// Role names by id and the users administering a role, carried in the cursor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roles {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub names: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub admins: BTreeSet<String>,
}

/// One page of users.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<UserPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let mut position = ListCursor::<(), Roles>::resume(cursor)?;
    if cursor.is_none() {
        position.state = roles(&api)?;
    }
    let (users, next) = api.v2_page("/api/2/users", position.token())?;
    let items = json::map_items(&users, "OneLogin users", |u| user(u, &position.state));
    Ok(UserPage {
        items,
        next_cursor: position.next_cursor(next.map(At::token)),
    })
}

/// Every role (`GET /api/2/roles`, `After-Cursor` paged): names and administrators.
pub fn roles(api: &Api) -> Result<Roles, ConnectorError> {
    let mut roles = Roles::default();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_ROLE_PAGES {
        let (page, next) = api.v2_page("/api/2/roles", cursor.as_deref())?;
        for role in &page {
            let Some(id) = json::str_at(role, "id") else {
                continue;
            };
            roles.admins.extend(json::strings_at(role, "admins"));
            roles
                .names
                .insert(id, json::str_at(role, "name").unwrap_or_default());
        }
        match next {
            Some(next) => cursor = Some(next),
            None => return Ok(roles),
        }
    }
    log::warn(format!(
        "OneLogin roles: stopped after {MAX_ROLE_PAGES} pages; later roles show by id"
    ));
    Ok(roles)
}

/// The normalised status of a OneLogin user (see the module docs).
pub fn status_of(value: &Value) -> UserStatus {
    match (json::i64_at(value, "state"), json::i64_at(value, "status")) {
        (Some(0 | 2 | 3), _) | (_, Some(0)) => UserStatus::Disabled,
        (_, Some(2 | 3)) => UserStatus::Suspended,
        _ => UserStatus::Active,
    }
}

/// The user record for a OneLogin user object; none without an id.
pub fn user(value: &Value, roles: &Roles) -> Option<User> {
    let id = json::str_at(value, "id")?;
    let names: Vec<String> = json::strings_at(value, "role_ids")
        .into_iter()
        .map(|r| {
            roles
                .names
                .get(&r)
                .filter(|n| !n.is_empty())
                .cloned()
                .unwrap_or_else(|| format!("role {r}"))
        })
        .collect();
    let full_name = [
        json::str_at(value, "firstname"),
        json::str_at(value, "lastname"),
    ]
    .into_iter()
    .flatten()
    .filter(|p| !p.is_empty())
    .collect::<Vec<_>>()
    .join(" ");
    Some(User {
        login: json::str_at(value, "username")
            .filter(|u| !u.is_empty())
            .or_else(|| json::str_at(value, "email")),
        email: json::str_at(value, "email"),
        display_name: (!full_name.is_empty()).then_some(full_name),
        status: status_of(value),
        is_admin: roles.admins.contains(&id),
        is_external: false,
        roles: names,
        last_sign_in: json::timestamp_at(value, "last_login"),
        created: json::timestamp_at(value, "created_at"),
        ..User::new(id, json::raw(value))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake;

    #[test]
    fn the_rendered_users_and_roles_map_with_their_role_names() {
        let (Some(users), Some(role_list)) = (
            fake::fixture("users-v2-list"),
            fake::fixture("roles-v2-list"),
        ) else {
            return;
        };
        let host = fake::onelogin(vec![(
            "https://acme.onelogin.test/api/2/roles?limit=50".into(),
            fake::v2_page(role_list, None),
        )]);
        let (map, _) = host.run(|| roles(&Api::new(&fake::ctx(100, None)).unwrap()));
        let map = map.unwrap();
        let list = users.as_array().unwrap();
        let records: Vec<User> = list.iter().filter_map(|u| user(u, &map)).collect();
        assert_eq!(records.len(), 2);
        let alice = &records[0];
        assert_eq!(alice.id, "201234567");
        assert_eq!(alice.login.as_deref(), Some("alice.admin"));
        assert_eq!(alice.display_name.as_deref(), Some("Alice Admin"));
        assert_eq!(alice.roles, ["Administrators", "Engineering"]);
        assert!(alice.is_admin, "administers the Administrators role");
        assert_eq!(alice.status, UserStatus::Active);
        assert!(alice.last_sign_in.is_some() && alice.created.is_some());
        let bob = &records[1];
        assert!(bob.roles.is_empty() && !bob.is_admin);
        assert_eq!(bob.status, UserStatus::Suspended, "status 2");
        assert_eq!(serde_json::from_str::<Value>(&bob.raw).unwrap(), list[1]);
    }

    #[test]
    fn statuses_map_as_documented() {
        let s = |state: i64, status: i64| status_of(&json!({"state": state, "status": status}));
        assert_eq!(s(1, 1), UserStatus::Active);
        assert_eq!(s(1, 2), UserStatus::Suspended);
        assert_eq!(s(1, 3), UserStatus::Suspended);
        assert_eq!(s(1, 0), UserStatus::Disabled);
        assert_eq!(s(3, 1), UserStatus::Disabled);
        assert_eq!(s(2, 1), UserStatus::Disabled);
        assert_eq!(s(1, 4), UserStatus::Active);
    }

    #[test]
    fn pages_by_after_cursor_until_it_is_gone() {
        let roles = "https://acme.onelogin.test/api/2/roles?limit=2";
        let first = "https://acme.onelogin.test/api/2/users?limit=2";
        let second = "https://acme.onelogin.test/api/2/users?cursor=c%3D2";
        let host = fake::onelogin(vec![
            (
                roles.into(),
                fake::v2_page(json!([{"id": 7, "name": "Sales", "admins": [2]}]), None),
            ),
            (
                first.into(),
                fake::v2_page(
                    json!([{"id": 1, "role_ids": [7, 9]}, {"id": 2, "role_ids": []}]),
                    Some("c=2"),
                ),
            ),
            (
                second.into(),
                fake::v2_page(json!([{"id": 3, "status": 2}]), None),
            ),
        ]);
        let ctx = fake::ctx(2, None);
        let (pages, host) = host.run(|| sluice_sdk::testing::all_pages(10, |c| list(&ctx, c)));
        let urls: Vec<_> = host.requests().iter().map(|r| r.url.as_str()).collect();
        assert_eq!(urls, [roles, first, second]);
        let users: Vec<&User> = pages.iter().flat_map(|p| &p.items).collect();
        assert_eq!(users.len(), 3);
        assert_eq!(users[0].roles, ["Sales", "role 9"]);
        assert!(users[1].is_admin && !users[0].is_admin);
        assert_eq!(users[2].status, UserStatus::Suspended);
    }

    #[test]
    fn bad_credentials_are_unauthorized() {
        let host = fake::onelogin(vec![]).on_request(|_| {
            Ok(fake::v2_error(
                401,
                "Unauthorized",
                "Authentication Failure",
            ))
        });
        let (result, _) = host.run(|| list(&fake::ctx(100, None), None));
        assert_eq!(
            result,
            Err(ConnectorError::Unauthorized(
                "HTTP 401: Authentication Failure".into()
            ))
        );
    }
}
