//! `list-users`: every member of the workspace (or, with `team_id`, of one Grid
//! workspace) with their privileges.
//!
//! `GET users.list?limit=N[&cursor=C][&team_id=T]` pages with Slack's cursor
//! (`response_metadata.next_cursor`); Slack recommends at most 200 per page. The
//! cursor is the SDK's [`ListCursor`] holding Slack's token, `{"token":"…"}`.
//!
//! Privileges come from the user object itself, so no request per user is needed:
//!
//! | Slack field | role | admin |
//! |---|---|---|
//! | `is_primary_owner` | `primary_owner` | yes |
//! | `is_owner` | `owner` | yes |
//! | `is_admin` | `admin` | yes |
//! | `enterprise_user.is_primary_owner` / `is_owner` / `is_admin` (Grid) | `org_primary_owner` / `org_owner` / `org_admin` | yes |
//! | `is_restricted` | `multi_channel_guest` | no, external |
//! | `is_ultra_restricted` (Slack sets `is_restricted` too) | `single_channel_guest` only | no, external |
//!
//! Status: Slack never deletes members, it deactivates them (`deleted: true`, which
//! SCIM shows as `active: false`); they cannot sign in and can be reactivated, which
//! is the contract's `disabled`. Everyone else is `active`. Guests and people from
//! other organisations in shared channels (`is_stranger`) are external.

use sluice_sdk::prelude::*;

use crate::api::{Api, next_cursor};

/// Slack's recommended maximum `limit` for `users.list`.
const MAX_LIMIT: u32 = 200;

/// Role names for the flags of a Slack user object, in the order shown.
const ROLES: &[(&str, &str)] = &[
    ("/enterprise_user/is_primary_owner", "org_primary_owner"),
    ("/enterprise_user/is_owner", "org_owner"),
    ("/enterprise_user/is_admin", "org_admin"),
    ("/is_primary_owner", "primary_owner"),
    ("/is_owner", "owner"),
    ("/is_admin", "admin"),
    ("/is_restricted", "multi_channel_guest"),
    ("/is_ultra_restricted", "single_channel_guest"),
];

/// Roles that make a member an administrator.
const ADMIN_ROLES: &[&str] = &[
    "org_primary_owner",
    "org_owner",
    "org_admin",
    "primary_owner",
    "owner",
    "admin",
];

/// One page of users.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<UserPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let position = ListCursor::<()>::resume(cursor)?;
    let mut request = api
        .team_method("users.list")
        .query("limit", api.limit(MAX_LIMIT));
    if let Some(token) = position.token() {
        request = request.query("cursor", token);
    }
    let body = api.call(request)?;
    let members = body
        .get("members")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    Ok(UserPage {
        items: json::map_items(members, "Slack users", user),
        next_cursor: position.next_cursor(next_cursor(&body).map(At::token)),
    })
}

/// The user record for a Slack user object; none without an id.
pub fn user(value: &Value) -> Option<User> {
    let flag = |pointer: &str| json::bool_at(value, pointer).unwrap_or(false);
    let roles: Vec<String> = ROLES
        .iter()
        .filter(|(pointer, _)| flag(pointer))
        .map(|(_, role)| (*role).to_owned())
        // A single-channel guest is flagged restricted too; one guest role says it.
        .filter(|role| !(role == "multi_channel_guest" && flag("/is_ultra_restricted")))
        .collect();
    let is_admin = roles.iter().any(|r| ADMIN_ROLES.contains(&r.as_str()));
    let non_empty = |pointer: &str| json::str_at(value, pointer).filter(|s| !s.is_empty());
    Some(User {
        login: non_empty("name"),
        email: non_empty("/profile/email"),
        display_name: non_empty("/profile/real_name")
            .or_else(|| non_empty("real_name"))
            .or_else(|| non_empty("/profile/display_name")),
        status: if flag("/deleted") {
            UserStatus::Disabled
        } else {
            UserStatus::Active
        },
        is_admin,
        is_external: flag("/is_restricted") || flag("/is_ultra_restricted") || flag("/is_stranger"),
        roles,
        ..User::new(json::str_at(value, "id")?, json::raw(value))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake;

    #[test]
    fn the_published_users_list_maps_to_records() {
        let Some(body) = fake::fixture("users.list.openapi-example.json") else {
            return;
        };
        let members = body["members"].as_array().unwrap();
        let users: Vec<User> = members.iter().filter_map(user).collect();
        assert_eq!(users.len(), 2);
        let egon = &users[0];
        assert_eq!(egon.id, "W012A3CDE");
        assert_eq!(egon.login.as_deref(), Some("spengler"));
        assert_eq!(
            egon.email.as_deref(),
            Some("spengler@ghostbusters.example.com")
        );
        assert_eq!(egon.display_name.as_deref(), Some("Egon Spengler"));
        assert_eq!(egon.status, UserStatus::Active);
        assert!(egon.is_admin && !egon.is_external);
        assert_eq!(egon.roles, ["admin"]);
        assert_eq!(users[1].display_name.as_deref(), Some("Glinda Southgood"));
        for (record, raw) in users.iter().zip(members) {
            assert_eq!(serde_json::from_str::<Value>(&record.raw).unwrap(), *raw);
        }
    }

    #[test]
    fn privileges_guests_and_deactivation_map_as_documented() {
        let owner = user(&json!({"id": "U1", "is_owner": true, "is_admin": true,
            "is_primary_owner": true, "enterprise_user": {"is_admin": true, "is_owner": false}}))
        .unwrap();
        assert_eq!(
            owner.roles,
            ["org_admin", "primary_owner", "owner", "admin"]
        );
        assert!(owner.is_admin);
        let guest = user(&json!({"id": "U2", "is_restricted": true, "deleted": true})).unwrap();
        assert_eq!(guest.roles, ["multi_channel_guest"]);
        assert!(!guest.is_admin && guest.is_external);
        assert_eq!(guest.status, UserStatus::Disabled);
        let single =
            user(&json!({"id": "U4", "is_restricted": true, "is_ultra_restricted": true})).unwrap();
        assert_eq!(single.roles, ["single_channel_guest"]);
        let stranger = user(&json!({"id": "U3", "is_stranger": true})).unwrap();
        assert!(stranger.is_external && stranger.roles.is_empty());
        assert!(user(&json!({"name": "no id"})).is_none());
    }

    #[test]
    fn pages_with_slack_cursors_until_the_cursor_is_empty() {
        let first = format!("{}/users.list?limit=2", fake::WEB);
        let second = format!("{}/users.list?limit=2&cursor=dXNlcjpVMg%3D%3D", fake::WEB);
        let member = |id: &str| json!({"id": id, "name": id.to_lowercase()});
        let host = fake::slack(vec![
            (
                first.clone(),
                fake::json(&json!({"ok": true, "members": [member("U1"), member("U2")],
                    "response_metadata": {"next_cursor": "dXNlcjpVMg=="}})),
            ),
            (
                second.clone(),
                fake::json(&json!({"ok": true, "members": [member("U3")],
                    "response_metadata": {"next_cursor": ""}})),
            ),
        ]);
        let ctx = fake::ctx(2, None);
        let (pages, host) = host.run(|| sluice_sdk::testing::all_pages(10, |c| list(&ctx, c)));
        let urls: Vec<_> = host.requests().iter().map(|r| r.url.clone()).collect();
        assert_eq!(urls, [first, second]);
        assert_eq!(pages.len(), 2);
        assert_eq!(
            pages[0].next_cursor.as_deref(),
            Some(r#"{"token":"dXNlcjpVMg=="}"#)
        );
        assert_eq!(pages[1].next_cursor, None);
        let ids: Vec<_> = pages.iter().flat_map(|p| &p.items).map(|u| &u.id).collect();
        assert_eq!(ids, ["U1", "U2", "U3"]);
    }

    #[test]
    fn a_grid_team_id_is_sent_and_a_bad_token_is_unauthorized() {
        let host = fake::slack(vec![])
            .config("team_id", "T9")
            .on_request(|_| Ok(fake::error("invalid_auth")));
        let (result, host) = host.run(|| list(&fake::ctx(500, None), None));
        assert_eq!(
            result,
            Err(ConnectorError::Unauthorized(
                "Slack error `invalid_auth`".into()
            ))
        );
        assert_eq!(
            host.requests()[0].url,
            format!("{}/users.list?team_id=T9&limit=200", fake::WEB)
        );
    }
}
