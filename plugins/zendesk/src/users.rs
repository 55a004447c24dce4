//! `list-users`: every user of the account with its role (privileges) and status.
//!
//! `GET /api/v2/users?page[size]=N` (cursor pagination, at most 100 per page) lists
//! end users, agents and admins alike. Each user object names its `role` (`end-user`,
//! `agent`, `admin`), a `role_type` (1 light agent, 2 chat-only agent, 3 contributor,
//! 5 billing admin; 0 or 4 add nothing to the role) and, on plans with custom agent
//! roles (Enterprise), a `custom_role_id`. The custom roles' names come from
//! `GET /api/v2/custom_roles`, read once on the first call and carried in the cursor;
//! where that answers 403 or 404 (plans without custom roles) the role shows as
//! `custom role <id>`.
//!
//! | Zendesk | Sluice |
//! |---|---|
//! | `suspended: true` | suspended |
//! | `active: false` (a deleted user) | deleted |
//! | otherwise | active |
//!
//! `is-admin` is `role == "admin"`; `is-external` marks end users (the account's
//! customers, not its staff); `last_login_at` is the last sign-in.

use std::collections::BTreeMap;

use sluice_sdk::prelude::*;

use crate::api::Api;

/// Custom role names by id, carried in the cursor.
type CustomRoles = BTreeMap<String, String>;

/// One page of users.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<UserPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let mut position = ListCursor::<(), CustomRoles>::resume(cursor)?;
    if cursor.is_none() {
        position.state = custom_roles(&api)?;
    }
    let url = position.url_or(|()| api.first_page("/api/v2/users").url().to_owned());
    let (users, next) = api.list_page(&url, "users")?;
    let items = json::map_items(&users, "Zendesk users", |u| user(u, &position.state));
    Ok(UserPage {
        items,
        next_cursor: position.next_cursor(next.map(At::url)),
    })
}

/// `GET /api/v2/custom_roles`: names by id; empty where the plan has none (403/404).
/// Zendesk answers every custom role in one page.
pub fn custom_roles(api: &Api) -> Result<CustomRoles, ConnectorError> {
    let response = api.get(api.url("/api/v2/custom_roles")).send()?;
    if matches!(response.status(), 403 | 404) {
        log::info("custom roles are not available on this Zendesk plan; roles show by id");
        return Ok(CustomRoles::new());
    }
    let (roles, _) =
        crate::api::page_of(response.error_for_status()?.json_value()?, "custom_roles");
    Ok(roles
        .iter()
        .filter_map(|r| Some((json::str_at(r, "id")?, json::str_at(r, "name")?)))
        .collect())
}

/// The role names of a Zendesk user object (see the module docs).
pub fn roles_of(value: &Value, custom: &CustomRoles) -> Vec<String> {
    let mut roles: Vec<String> = json::str_at(value, "role").into_iter().collect();
    let role_type = match json::i64_at(value, "role_type") {
        Some(1) => Some("light-agent"),
        Some(2) => Some("chat-agent"),
        Some(3) => Some("contributor"),
        Some(5) => Some("billing-admin"),
        _ => None,
    };
    roles.extend(role_type.map(str::to_owned));
    if let Some(id) = json::str_at(value, "custom_role_id") {
        roles.push(
            custom
                .get(&id)
                .cloned()
                .unwrap_or_else(|| format!("custom role {id}")),
        );
    }
    roles
}

/// The normalised status of a Zendesk user object (see the module docs).
pub fn status_of(value: &Value) -> UserStatus {
    if json::bool_at(value, "suspended") == Some(true) {
        UserStatus::Suspended
    } else if json::bool_at(value, "active") == Some(false) {
        UserStatus::Deleted
    } else {
        UserStatus::Active
    }
}

/// The user record for a Zendesk user object; none without an id.
pub fn user(value: &Value, custom: &CustomRoles) -> Option<User> {
    let role = json::str_at(value, "role");
    Some(User {
        login: json::str_at(value, "email"),
        email: json::str_at(value, "email"),
        display_name: json::str_at(value, "name"),
        status: status_of(value),
        is_admin: role.as_deref() == Some("admin"),
        is_external: role.as_deref() == Some("end-user"),
        roles: roles_of(value, custom),
        last_sign_in: json::timestamp_at(value, "last_login_at"),
        created: json::timestamp_at(value, "created_at"),
        ..User::new(json::str_at(value, "id")?, json::raw(value))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake;

    #[test]
    fn the_published_user_list_maps_every_user_with_its_role() {
        let Some(body) = fake::fixture("users.list") else {
            return;
        };
        let list = body["users"].as_array().expect("a users array");
        assert_eq!(list.len(), 33);
        let users: Vec<User> = list
            .iter()
            .filter_map(|u| user(u, &CustomRoles::new()))
            .collect();
        assert_eq!(users.len(), 33);
        for (record, raw) in users.iter().zip(list) {
            assert_eq!(record.id, raw["id"].as_u64().unwrap().to_string());
            assert_eq!(serde_json::from_str::<Value>(&record.raw).unwrap(), *raw);
        }
        let count = |f: &dyn Fn(&User) -> bool| users.iter().filter(|u| f(u)).count();
        assert_eq!(count(&|u| u.is_admin), 1);
        assert_eq!(
            count(&|u| u.roles.first().map(String::as_str) == Some("agent")),
            2
        );
        assert_eq!(count(&|u| u.is_external), 30);
        assert_eq!(count(&|u| u.status == UserStatus::Active), 33);
        // The agent in custom role 3692, whose name this plan did not give.
        let custom = users
            .iter()
            .find(|u| u.roles.iter().any(|r| r == "custom role 3692"))
            .expect("the custom-role agent");
        assert_eq!(custom.roles[0], "agent");
        let first = &users[0];
        assert_eq!(first.id, "20014192");
        assert_eq!(first.roles, ["end-user"]);
        assert_eq!(first.created, Some(1_346_962_690_000));
        assert!(users.iter().any(|u| u.last_sign_in.is_some()));
    }

    #[test]
    fn roles_and_statuses_map_as_documented() {
        let custom = CustomRoles::from([("7".to_owned(), "Team lead".to_owned())]);
        let u = |extra: Value| {
            let mut base = json!({"id": 1, "role": "agent", "active": true, "suspended": false});
            base.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            base
        };
        assert_eq!(
            roles_of(&u(json!({"role_type": 1})), &custom),
            ["agent", "light-agent"]
        );
        assert_eq!(
            roles_of(&u(json!({"role_type": 0, "custom_role_id": 7})), &custom),
            ["agent", "Team lead"]
        );
        assert_eq!(
            roles_of(&u(json!({"role": "admin", "role_type": 5})), &custom),
            ["admin", "billing-admin"]
        );
        assert_eq!(
            status_of(&u(json!({"suspended": true}))),
            UserStatus::Suspended
        );
        assert_eq!(status_of(&u(json!({"active": false}))), UserStatus::Deleted);
        assert_eq!(status_of(&u(json!({}))), UserStatus::Active);
    }

    #[test]
    fn pages_with_cursors_until_has_more_is_false_and_names_custom_roles() {
        let roles = "https://acme.zendesk.test/api/v2/custom_roles";
        let first = "https://acme.zendesk.test/api/v2/users?page%5Bsize%5D=2";
        let second = "https://acme.zendesk.test/api/v2/users?page%5Bsize%5D=2&page%5Bafter%5D=c2";
        let third = "https://acme.zendesk.test/api/v2/users?page%5Bsize%5D=2&page%5Bafter%5D=c3";
        let host = fake::zendesk(vec![
            (
                roles.into(),
                fake::json(&json!({"custom_roles": [{"id": 7, "name": "Team lead"}],
                                   "next_page": null, "previous_page": null, "count": 1})),
            ),
            (
                first.into(),
                fake::cursor_page(
                    "users",
                    json!([{"id": 1, "role": "admin"}, {"id": 2, "role": "agent", "custom_role_id": 7}]),
                    second,
                    true,
                ),
            ),
            (
                second.into(),
                fake::cursor_page(
                    "users",
                    json!([{"id": 3, "role": "end-user", "suspended": true}]),
                    third,
                    false,
                ),
            ),
        ]);
        let ctx = fake::ctx(2, None);
        let (pages, host) = host.run(|| sluice_sdk::testing::all_pages(10, |c| list(&ctx, c)));
        let urls: Vec<_> = host.requests().iter().map(|r| r.url.as_str()).collect();
        assert_eq!(
            urls,
            [roles, first, second],
            "no request after has_more: false"
        );
        let users: Vec<&User> = pages.iter().flat_map(|p| &p.items).collect();
        assert_eq!(users.len(), 3);
        assert_eq!(users[1].roles, ["agent", "Team lead"]);
        assert_eq!(users[2].status, UserStatus::Suspended);
        assert!(users[0].is_admin && !users[1].is_admin);
    }

    #[test]
    fn bad_credentials_are_unauthorized() {
        let host = fake::zendesk(vec![])
            .on_request(|_| Ok(fake::error(401, "Couldn't authenticate you", None)));
        let (result, _) = host.run(|| list(&fake::ctx(100, None), None));
        assert_eq!(
            result,
            Err(ConnectorError::Unauthorized(
                "HTTP 401: Couldn't authenticate you".into()
            ))
        );
    }
}
