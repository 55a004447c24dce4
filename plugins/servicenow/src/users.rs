//! `list-users`: every account of the instance (`sys_user`) with its roles
//! (`sys_user_has_role`): the provider docs' accounts and privileges cells.
//!
//! `GET /api/now/table/sys_user?sysparm_fields=…&sysparm_query=ORDERBYsys_id` pages by
//! offset (ordered by sys_id, so a page boundary is stable while users are added).
//! Each page's roles come from one query of the User Roles table for that page's
//! users, `sys_user_has_role?sysparm_query=userIN<sys_id,…>` with `role.name`
//! dot-walked, up to [`MAX_RELATED_PAGES`] pages. That table lists every role a user
//! holds, granted directly or `inherited` (from a group or a containing role), so the
//! roles are the user's effective roles; rows whose `state` is not `active` (pending
//! or requested grants) are left out.
//!
//! | sys_user | Sluice |
//! |---|---|
//! | `active` is `false` | disabled (cannot sign in; ServiceNow's "inactive") |
//! | `locked_out` is `true` | suspended (cannot sign in, account otherwise intact) |
//! | otherwise | active |
//!
//! `is-admin` is holding the `admin` role; `is-external` marks CSM customer contacts
//! (`sys_class_name` `customer_contact`, which extends `sys_user`); `last_login_time`
//! is the last sign-in.

use std::collections::BTreeMap;

use sluice_sdk::prelude::*;

use crate::api::{self, Api, MAX_PAGE_SIZE, MAX_RELATED_PAGES};

/// The sys_user columns read: identity, status, sign-in and the governance flags the
/// actions change, so each action shows in the next scan's raw record.
pub const USER_FIELDS: &str = "sys_id,user_name,email,name,first_name,last_name,title,\
active,locked_out,password_needs_reset,last_login_time,failed_attempts,\
web_service_access_only,internal_integration_user,source,sys_class_name,\
sys_created_on,sys_updated_on";

/// Role names by user sys_id.
pub type RolesByUser = BTreeMap<String, Vec<String>>;

/// One page of users.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<UserPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let position = ListCursor::<()>::resume(cursor)?;
    let url = position.url_or(|()| {
        api.list(
            "sys_user",
            Some(USER_FIELDS),
            Some("ORDERBYsys_id"),
            api.page_size(),
        )
        .url()
        .to_owned()
    });
    let (rows, next) = api.page(&url)?;
    let ids: Vec<String> = rows.iter().filter_map(|r| api::text(r, "sys_id")).collect();
    let roles = roles_of(&api, &ids)?;
    let items = json::map_items(&rows, "ServiceNow users", |row| user(row, &roles));
    Ok(UserPage {
        items,
        next_cursor: position.next_cursor(next.map(At::url)),
    })
}

/// The roles of the users `ids`, from `sys_user_has_role`.
pub fn roles_of(api: &Api, ids: &[String]) -> Result<RolesByUser, ConnectorError> {
    if ids.is_empty() {
        return Ok(RolesByUser::new());
    }
    let query = format!("userIN{}^ORDERBYsys_id", ids.join(","));
    let first = api
        .list(
            "sys_user_has_role",
            Some("sys_id,user,role,role.name,inherited,state"),
            Some(&query),
            MAX_PAGE_SIZE,
        )
        .url()
        .to_owned();
    let (rows, truncated) = api.all(first, MAX_RELATED_PAGES)?;
    if truncated {
        log::warn(format_args!(
            "the users of one page hold more than {MAX_RELATED_PAGES} pages of roles; listed the first {}",
            rows.len()
        ));
    }
    Ok(roles_by_user(&rows))
}

/// Role names per user from `sys_user_has_role` rows (actual or display values),
/// each once, sorted; rows not `active` are left out.
pub fn roles_by_user(rows: &[Value]) -> RolesByUser {
    let mut roles = RolesByUser::new();
    for row in rows {
        if api::text(row, "state").is_some_and(|s| s != "active") {
            continue;
        }
        let (Some(user), Some(role)) = (
            api::text(row, "user"),
            api::text(row, "role.name").or_else(|| api::text(row, "role")),
        ) else {
            continue;
        };
        let held = roles.entry(user).or_default();
        if !held.contains(&role) {
            held.push(role);
        }
    }
    for held in roles.values_mut() {
        held.sort();
    }
    roles
}

/// The normalised status of a sys_user row (see the module docs).
pub fn status_of(row: &Value) -> UserStatus {
    if api::flag(row, "active") == Some(false) {
        UserStatus::Disabled
    } else if api::flag(row, "locked_out") == Some(true) {
        UserStatus::Suspended
    } else {
        UserStatus::Active
    }
}

/// The user record for a sys_user row; none without a sys_id.
pub fn user(row: &Value, roles: &RolesByUser) -> Option<User> {
    let id = api::text(row, "sys_id")?;
    let roles = roles.get(&id).cloned().unwrap_or_default();
    let display_name = api::text(row, "name").or_else(|| {
        let parts: Vec<String> = ["first_name", "last_name"]
            .iter()
            .filter_map(|f| api::text(row, f))
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    });
    Some(User {
        login: api::text(row, "user_name"),
        email: api::text(row, "email"),
        display_name,
        status: status_of(row),
        is_admin: roles.iter().any(|r| r == "admin"),
        is_external: api::text(row, "sys_class_name").as_deref() == Some("customer_contact"),
        roles,
        last_sign_in: api::time_of(row, "last_login_time"),
        created: api::time_of(row, "sys_created_on"),
        ..User::new(id, json::raw(row))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake;

    #[test]
    fn the_published_sys_user_columns_map_to_users() {
        let Some(body) = fake::fixture("contact-get-now-contact-sys_user-fields") else {
            return;
        };
        let rows = body["result"].as_array().unwrap();
        let users: Vec<User> = rows
            .iter()
            .filter_map(|r| user(r, &RolesByUser::new()))
            .collect();
        assert_eq!(users.len(), 2);
        let george = &users[0];
        assert_eq!(george.id, "ddce70866f9331003b3c498f5d3ee417");
        assert_eq!(george.login.as_deref(), Some("george.warren"));
        assert_eq!(george.email.as_deref(), Some("geo.warren@mailinator.com"));
        assert_eq!(george.display_name.as_deref(), Some("George Warren"));
        assert_eq!(george.status, UserStatus::Active);
        assert!(george.is_external, "a CSM customer contact");
        // 2018-03-10 21:48:11 UTC.
        assert_eq!(george.last_sign_in, Some(1_520_718_491_000));
        assert_eq!(users[1].login.as_deref(), Some("Jane.Contact"));
        assert_eq!(serde_json::from_str::<Value>(&george.raw).unwrap(), rows[0]);
    }

    #[test]
    fn the_published_role_rows_give_each_user_its_role_names() {
        let Some(body) = fake::fixture("table-get-sys_user_has_role-dotwalk-display_value") else {
            return;
        };
        let roles = roles_by_user(body["result"].as_array().unwrap());
        assert_eq!(
            roles["f5a3716d0f6002003a2d47bce1050ed4"],
            ["asset_mgmt", "support"]
        );
    }

    #[test]
    fn statuses_and_admins_map_as_documented() {
        let row = |active: &str, locked: &str| json!({"sys_id": "u1", "active": active, "locked_out": locked, "user_name": "a"});
        assert_eq!(status_of(&row("true", "false")), UserStatus::Active);
        assert_eq!(status_of(&row("true", "true")), UserStatus::Suspended);
        assert_eq!(status_of(&row("false", "true")), UserStatus::Disabled);
        let roles = roles_by_user(&[
            json!({"user": {"link": "l", "value": "u1"}, "role.name": "itil", "state": "active"}),
            json!({"user": {"link": "l", "value": "u1"}, "role.name": "admin", "inherited": "true"}),
            json!({"user": {"link": "l", "value": "u1"}, "role.name": "itil", "inherited": "true"}),
            json!({"user": {"link": "l", "value": "u1"}, "role.name": "security_admin", "state": "requested"}),
        ]);
        let u = user(&row("true", "false"), &roles).unwrap();
        assert_eq!(u.roles, ["admin", "itil"]);
        assert!(u.is_admin && !u.is_external);
    }

    #[test]
    fn each_page_of_users_is_completed_with_its_roles_and_follows_the_next_link() {
        let first = fake::table(
            "sys_user?sysparm_query=ORDERBYsys_id&sysparm_fields=sys_id%2Cuser_name%2Cemail%2Cname%2Cfirst_name%2Clast_name%2Ctitle%2Cactive%2Clocked_out%2Cpassword_needs_reset%2Clast_login_time%2Cfailed_attempts%2Cweb_service_access_only%2Cinternal_integration_user%2Csource%2Csys_class_name%2Csys_created_on%2Csys_updated_on&sysparm_limit=2&sysparm_offset=0",
        );
        let second = fake::table("sys_user?sysparm_offset=2&sysparm_limit=2");
        let roles = |ids: &str| {
            fake::table(&format!(
                "sys_user_has_role?sysparm_query=userIN{ids}%5EORDERBYsys_id&sysparm_fields=sys_id%2Cuser%2Crole%2Crole.name%2Cinherited%2Cstate&sysparm_limit=1000&sysparm_offset=0"
            ))
        };
        let host = fake::instance(vec![
            (
                first.clone(),
                fake::page(
                    json!([{"sys_id": "a1", "active": "true"}, {"sys_id": "b2", "active": "false"}]),
                    Some(&second),
                ),
            ),
            (
                roles("a1%2Cb2"),
                fake::page(
                    json!([{"user": {"link": "x", "value": "a1"}, "role.name": "admin"}]),
                    None,
                ),
            ),
            (
                second.clone(),
                fake::page(json!([{"sys_id": "c3", "locked_out": "true"}]), None),
            ),
            (roles("c3"), fake::page(json!([]), None)),
        ]);
        let ctx = fake::ctx(2, None);
        let (pages, host) = host.run(|| sluice_sdk::testing::all_pages(10, |c| list(&ctx, c)));
        let urls: Vec<_> = host.requests().iter().map(|r| r.url.as_str()).collect();
        assert_eq!(urls, [first, roles("a1%2Cb2"), second, roles("c3")]);
        let users: Vec<&User> = pages.iter().flat_map(|p| &p.items).collect();
        assert_eq!(users.len(), 3);
        assert!(users[0].is_admin);
        assert_eq!(users[1].status, UserStatus::Disabled);
        assert_eq!(users[2].status, UserStatus::Suspended);
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
        let (result, _) = host.run(|| list(&fake::ctx(100, None), None));
        assert_eq!(
            result,
            Err(ConnectorError::Unauthorized(
                "HTTP 401: User Not Authenticated".into()
            ))
        );
    }
}
