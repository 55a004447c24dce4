//! `list-users`: the team's members, `POST team/members/list_v2` then
//! `team/members/list/continue_v2`, `cursor` / `has_more` paged (`limit` at most
//! 1000; removed members left out).
//!
//! | Dropbox (`TeamMemberInfoV2`) | Sluice user |
//! |---|---|
//! | `profile.team_member_id` | `id` (what the actions and `Dropbox-API-Select-User` take) |
//! | `profile.email` | `email`, `login` |
//! | `profile.name.display_name` | `display-name` |
//! | `profile.status` `active` / `suspended` / `invited` / `removed` | `active` / `suspended` / `disabled` / `deleted` |
//! | `roles[].name` (admin roles: Team admin, User management admin, …) | `roles`; any role makes `is-admin` |
//! | `profile.groups` | `group-ids` |
//! | `profile.joined_on` | `created` |
//!
//! Dropbox gives members without an admin role an empty `roles` list in its examples;
//! a role named "Member only" (the v1 API's `member_only` permission) is not counted
//! as admin, should Dropbox list it. Members are never external: guests appear as
//! non-team members in sharing, not here.

use sluice_sdk::prelude::*;

use crate::api::{self, Api, MAX_TEAM_LIMIT};

/// The route, and `/continue_v2` after the first page.
const LIST: &str = "team/members/list_v2";

/// One page of members.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<UserPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let (members, next) = page(&api, cursor, api.limit(MAX_TEAM_LIMIT))?;
    Ok(UserPage {
        items: json::map_items(&members, "members", user),
        next_cursor: next,
    })
}

/// One page of `team/members/list_v2`: the members and the cursor while `has_more`.
pub fn page(
    api: &Api,
    cursor: Option<&str>,
    limit: u32,
) -> Result<(Vec<Value>, Option<String>), ConnectorError> {
    // list_v2 continues at `team/members/list/continue_v2`, not `list_v2/continue`.
    let request = match cursor {
        Some(cursor) => api.rpc(
            "team/members/list/continue_v2",
            &serde_json::json!({"cursor": cursor}),
        ),
        None => api.rpc(
            LIST,
            &serde_json::json!({"limit": limit, "include_removed": false}),
        ),
    };
    Ok(api::items_and_cursor(api.call(request)?, "members"))
}

/// A member's status.
pub fn status(member: &Value) -> UserStatus {
    match api::tag(member, "/profile/status").as_deref() {
        Some("suspended") => UserStatus::Suspended,
        Some("invited") => UserStatus::Disabled,
        Some("removed") => UserStatus::Deleted,
        _ => UserStatus::Active,
    }
}

/// The member's admin roles, by name.
fn roles(member: &Value) -> Vec<String> {
    json::at(member, "roles")
        .and_then(Value::as_array)
        .map(|roles| {
            roles
                .iter()
                .filter_map(|r| json::str_at(r, "name").or_else(|| json::str_at(r, "role_id")))
                .collect()
        })
        .unwrap_or_default()
}

/// One member as a user; none without a `team_member_id`.
pub fn user(member: &Value) -> Option<User> {
    let id = json::str_at(member, "/profile/team_member_id")?;
    let roles = roles(member);
    let email = json::str_at(member, "/profile/email");
    Some(User {
        login: email.clone(),
        email,
        display_name: json::str_at(member, "/profile/name/display_name"),
        status: status(member),
        is_admin: roles.iter().any(|r| !r.eq_ignore_ascii_case("member only")),
        roles,
        group_ids: json::strings_at(member, "/profile/groups"),
        created: json::timestamp_at(member, "/profile/joined_on"),
        ..User::new(id, json::raw(member))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake;

    #[test]
    fn the_published_member_is_an_admin_with_groups() {
        let Some(published) = fake::fixture("team-members-list_v2") else {
            return;
        };
        let member = &published["members"][0];
        let u = user(member).unwrap();
        assert_eq!(u.id, "dbmid:FDFSVF-DFSDF");
        assert_eq!(u.email.as_deref(), Some("tami@seagull.com"));
        assert_eq!(
            u.display_name.as_deref(),
            Some("Franz Ferdinand (Personal)")
        );
        assert_eq!(u.status, UserStatus::Active);
        assert!(u.is_admin);
        assert_eq!(u.roles, ["User management admin"]);
        assert_eq!(u.group_ids, ["g:e2db7665347abcd600000000001a2b3c"]);
        assert_eq!(u.created, Some(1_431_445_838_000));
    }

    #[test]
    fn pages_follow_the_cursor_at_continue_v2() {
        let host = fake::dropbox(|r| match fake::route(r) {
            "team/members/list_v2" => {
                assert_eq!(fake::body(r)["limit"], json!(2));
                fake::json(&json!({"members": [
                    {"profile": {"team_member_id": "dbmid:1", "status": {".tag": "active"}}, "roles": []},
                    {"profile": {"team_member_id": "dbmid:2", "status": {".tag": "suspended"}},
                        "roles": [{"role_id": "pid_dbtmr:1", "name": "Team admin"}]},
                ], "cursor": "c1", "has_more": true}))
            }
            "team/members/list/continue_v2" => {
                assert_eq!(fake::body(r)["cursor"], json!("c1"));
                fake::json(&json!({"members": [
                    {"profile": {"team_member_id": "dbmid:3", "status": {".tag": "invited"}}},
                ], "cursor": "c2", "has_more": false}))
            }
            other => panic!("{other}"),
        });
        let ctx = fake::ctx(2, None);
        let (pages, _) = host.run(|| sluice_sdk::testing::all_pages(5, |c| list(&ctx, c)));
        let users: Vec<&User> = pages.iter().flat_map(|p| &p.items).collect();
        let seen: Vec<_> = users
            .iter()
            .map(|u| (u.id.as_str(), u.status, u.is_admin))
            .collect();
        assert_eq!(
            seen,
            [
                ("dbmid:1", UserStatus::Active, false),
                ("dbmid:2", UserStatus::Suspended, true),
                ("dbmid:3", UserStatus::Disabled, false)
            ]
        );
    }
}
