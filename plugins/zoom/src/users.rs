//! `list-users`: every user of the account with its role (privileges) and status.
//!
//! `GET /v2/users` lists one `status` at a time and defaults to `active`, so the
//! listing walks three lists in turn: `status=active`, `status=inactive`
//! (deactivated by an admin) and `status=pending` (invited, not yet signed up), each
//! token-paged (`page_size` up to 300, `next_page_token`).
//!
//! Each user names its `role_id`; the role names come from `GET /v2/roles`, read once
//! on the first call and carried in the cursor. Zoom's built-in roles are Owner
//! (`role_id` `0`), Admin (`1`) and Member (`2`); `is-admin` is an Owner or Admin.
//! Custom roles may hold admin privileges too; they show by name but are not judged
//! admin (their privilege lists are not read).
//!
//! | Zoom `status` | Sluice |
//! |---|---|
//! | `active` | active |
//! | `inactive` (deactivated) | suspended |
//! | `pending` (invitation not accepted) | disabled |

use std::collections::BTreeMap;

use sluice_sdk::prelude::*;

use crate::api::{self, Api};

sluice_sdk::phases! {
    /// Which `status` list a page comes from.
    pub enum Listed {
        /// `status=active`, Zoom's default.
        Active,
        /// `status=inactive`: deactivated users.
        Inactive,
        /// `status=pending`: invited users who have not signed up.
        Pending,
    }
}

impl Listed {
    /// The `status` query value.
    fn status(self) -> &'static str {
        match self {
            Listed::Active => "active",
            Listed::Inactive => "inactive",
            Listed::Pending => "pending",
        }
    }
}

/// Role names by id, carried in the cursor.
pub type Roles = BTreeMap<String, String>;

/// One page of users.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<UserPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let mut position = ListCursor::<Listed, Roles>::resume(cursor)?;
    if cursor.is_none() {
        position.state = roles(&api)?;
    }
    let request = api
        .page("/users", position.token())
        .query("status", position.phase.status());
    let (users, token) = api::items_and_token(api.fetch(request)?, "users");
    let items = json::map_items(&users, "Zoom users", |u| user(u, &position.state));
    Ok(UserPage {
        items,
        next_cursor: position.next_cursor(token.map(At::token)),
    })
}

/// Every role's name by id (`GET /v2/roles`, token-paged, at most [`ROLE_PAGES`]
/// pages). A token without `role:read:admin` reads users without role names.
pub fn roles(api: &Api) -> Result<Roles, ConnectorError> {
    let mut names = Roles::new();
    let mut token = None;
    for _ in 0..ROLE_PAGES {
        let response = api.page("/roles", token.as_deref()).send()?;
        if response.status() == 400 && api::error_code(&response) == Some(api::MISSING_SCOPE) {
            log::info("the app lacks role:read:admin; roles show by id");
            return Ok(names);
        }
        let (roles, next) =
            api::items_and_token(api::check_status(response)?.json_value()?, "roles");
        names.extend(
            roles
                .iter()
                .filter_map(|r| Some((json::str_at(r, "id")?, json::str_at(r, "name")?))),
        );
        match next {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    Ok(names)
}

/// Pages of roles read at most; an account has a handful of roles.
pub const ROLE_PAGES: usize = 20;

/// Whether `role_id` is Zoom's built-in Owner (`0`) or Admin (`1`) role.
pub fn is_admin_role(role_id: &str) -> bool {
    matches!(role_id, "0" | "1")
}

/// The normalised status of a Zoom user object.
pub fn status_of(value: &Value) -> UserStatus {
    match json::str_at(value, "status").as_deref() {
        Some("inactive") => UserStatus::Suspended,
        Some("pending") => UserStatus::Disabled,
        _ => UserStatus::Active,
    }
}

/// The user record for a Zoom user object; none without an id.
pub fn user(value: &Value, roles: &Roles) -> Option<User> {
    let role_id = json::str_at(value, "role_id");
    let role = role_id.as_ref().map(|id| {
        roles
            .get(id)
            .cloned()
            .unwrap_or_else(|| format!("role {id}"))
    });
    let name = json::str_at(value, "display_name").or_else(|| {
        let parts: Vec<String> = ["first_name", "last_name"]
            .iter()
            .filter_map(|k| json::str_at(value, k).filter(|s| !s.is_empty()))
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    });
    Some(User {
        email: json::str_at(value, "email"),
        display_name: name,
        status: status_of(value),
        is_admin: role_id.as_deref().is_some_and(is_admin_role),
        roles: role.into_iter().collect(),
        group_ids: json::strings_at(value, "group_ids"),
        last_sign_in: api::time_at(value, "last_login_time"),
        created: api::time_at(value, "created_at")
            .or_else(|| api::time_at(value, "user_created_at")),
        ..User::new(json::str_at(value, "id")?, json::raw(value))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake;

    #[test]
    fn the_published_user_list_maps_its_user() {
        let Some(body) = fake::fixture("list-users.third-party-mirror") else {
            return;
        };
        let (list, token) = api::items_and_token(body.clone(), "users");
        assert_eq!(
            token.as_deref(),
            Some("8V8HigQkzm2O5r9RUn31D9ZyJHgrmFfbLa2")
        );
        assert_eq!(list.len(), 1);
        let roles = Roles::from([("0".to_owned(), "Owner".to_owned())]);
        let u = user(&list[0], &roles).unwrap();
        assert_eq!(u.id, "KDcuGIm1QgePTO8WbOqwIQ");
        assert_eq!(u.email.as_deref(), Some("jchill@example.com"));
        assert_eq!(u.display_name.as_deref(), Some("Jill Chill"));
        assert_eq!(u.roles, ["Owner"]);
        assert!(u.is_admin);
        assert_eq!(u.status, UserStatus::Active);
        assert_eq!(u.group_ids, ["t-_-d56CSWG-7BF15LLrOw"]);
        assert_eq!(u.created, sluice_sdk::time::parse("2019-06-01T07:58:03Z"));
        assert_eq!(
            u.last_sign_in,
            sluice_sdk::time::parse("2022-03-25T05:40:55Z")
        );
        assert_eq!(serde_json::from_str::<Value>(&u.raw).unwrap(), list[0]);
    }

    #[test]
    fn walks_active_inactive_and_pending_by_token_and_names_roles() {
        let base = "https://api.zoom.test/v2";
        let roles_url = format!("{base}/roles?page_size=2");
        let active = format!("{base}/users?page_size=2&status=active");
        let active2 = format!("{base}/users?page_size=2&next_page_token=t2&status=active");
        let inactive = format!("{base}/users?page_size=2&status=inactive");
        let pending = format!("{base}/users?page_size=2&status=pending");
        let host = fake::zoom(vec![
            (
                roles_url.clone(),
                fake::json(&json!({"roles": [{"id": "0", "name": "Owner"},
                    {"id": "2", "name": "Member"}], "next_page_token": ""})),
            ),
            (
                active.clone(),
                fake::json(&json!({"users": [
                    {"id": "a", "role_id": "0", "status": "active"},
                    {"id": "b", "role_id": "2", "status": "active"}],
                    "next_page_token": "t2"})),
            ),
            (
                active2.clone(),
                fake::json(
                    &json!({"users": [{"id": "c", "role_id": "x9", "status": "active"}],
                    "next_page_token": ""}),
                ),
            ),
            (
                inactive.clone(),
                fake::json(&json!({"users": [{"id": "d", "role_id": "2", "status": "inactive"}]})),
            ),
            (
                pending.clone(),
                fake::json(
                    &json!({"users": [{"id": "e", "role_id": "2", "status": "pending"}],
                    "next_page_token": ""}),
                ),
            ),
        ]);
        let ctx = fake::ctx(2, None);
        let (pages, host) = host.run(|| sluice_sdk::testing::all_pages(10, |c| list(&ctx, c)));
        let urls: Vec<_> = host.requests().iter().map(|r| r.url.clone()).collect();
        assert_eq!(urls, [roles_url, active, active2, inactive, pending]);
        let users: Vec<&User> = pages.iter().flat_map(|p| &p.items).collect();
        let ids: Vec<_> = users.iter().map(|u| u.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c", "d", "e"]);
        assert!(users[0].is_admin && !users[1].is_admin);
        assert_eq!(users[1].roles, ["Member"]);
        assert_eq!(users[2].roles, ["role x9"]);
        assert_eq!(users[3].status, UserStatus::Suspended);
        assert_eq!(users[4].status, UserStatus::Disabled);
    }

    #[test]
    fn bad_credentials_are_unauthorized() {
        let host =
            fake::zoom(vec![]).on_request(|_| Ok(fake::error(401, 124, "Invalid access token.")));
        let (result, _) = host.run(|| list(&fake::ctx(100, None), None));
        assert_eq!(
            result,
            Err(ConnectorError::Unauthorized(
                "HTTP 401: Invalid access token.".into()
            ))
        );
    }
}
