//! `list-users`: Entra ID users with their directory roles.
//!
//! Users do not carry their roles, so the first call reads the activated directory
//! roles (`GET /directoryRoles`) and each role's members, and keeps the resulting
//! "user id → role names" map in the cursor (privileged accounts are few, so the cursor
//! stays small). Then `GET /users?$select=…` pages with `@odata.nextLink`. The cursor
//! is the SDK's [`ListCursor`] at that URL, with the roles as its state.
//!
//! `signInActivity` needs an Entra ID P1 licence; without one Graph refuses the whole
//! request with 403, so the connector retries once without it and remembers that.
//! Status: `accountEnabled: false` is `disabled` (the WIT's name for it).

use std::collections::BTreeMap;

use sluice_sdk::prelude::*;

use crate::api::{Api, Component};

/// Fields read for every user. `signInSessionsValidFromDateTime` (kept in the raw
/// record) is where a `require-sign-in` (`revokeSignInSessions`) shows: Graph moves it
/// to the time of the revocation, and returns it only when selected.
const SELECT: &str = "id,displayName,userPrincipalName,mail,accountEnabled,userType,\
                      createdDateTime,signInSessionsValidFromDateTime";

/// Most pages read for one role's members (999 each).
const MAX_ROLE_MEMBER_PAGES: usize = 50;

/// Role names per user id: what the first call learns, carried to the last page.
type Roles = BTreeMap<String, Vec<String>>;

/// Role names per member id of every activated directory role.
pub fn directory_roles(api: &Api) -> Result<Roles, ConnectorError> {
    let mut roles = Roles::new();
    for role in api.collection_all(&api.graph("/directoryRoles"), MAX_ROLE_MEMBER_PAGES)? {
        let (Some(id), Some(name)) = (
            json::str_at(&role, "id"),
            json::str_at(&role, "displayName"),
        ) else {
            continue;
        };
        let Some(segment) = http::path_segment(&id) else {
            continue;
        };
        let url = http::get(api.graph(&format!("/directoryRoles/{segment}/members")))
            .query("$select", "id")
            .query("$top", 999)
            .url()
            .to_owned();
        for member in api.collection_all(&url, MAX_ROLE_MEMBER_PAGES)? {
            if let Some(member_id) = json::str_at(&member, "id") {
                roles.entry(member_id).or_default().push(name.clone());
            }
        }
    }
    Ok(roles)
}

fn users_url(api: &Api, sign_in_activity: bool) -> String {
    let select = if sign_in_activity {
        format!("{SELECT},signInActivity")
    } else {
        SELECT.to_owned()
    };
    http::get(api.graph("/users"))
        .query("$select", select)
        .query("$top", api.top())
        .url()
        .to_owned()
}

/// One page of users.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<UserPage, ConnectorError> {
    let api = Api::new(ctx)?;
    api.require(Component::UsersGroups)?;
    let mut position = ListCursor::<(), Roles>::resume(cursor)?;
    if cursor.is_none() {
        position.state = directory_roles(&api)?;
    }
    let url = position.url_or(|()| users_url(&api, true));
    // Graph's next links keep the first page's `$select`, so only the first page can
    // be refused for `signInActivity`.
    let (items, next) = match api.collection(&url) {
        Err(ConnectorError::Forbidden(_)) if cursor.is_none() => {
            log::info("signInActivity refused (no Entra ID P1?); listing users without it");
            api.collection(&users_url(&api, false))?
        }
        other => other?,
    };
    let users = json::map_items(&items, "users", |u| user(u, &position.state));
    Ok(UserPage {
        items: users,
        next_cursor: position.next_cursor(next.map(At::url)),
    })
}

/// The record for a Graph `user`; the id falls back to `userPrincipalName` (also unique
/// in a tenant) for bodies shortened without it, as some published examples are.
pub fn user(u: &Value, roles: &BTreeMap<String, Vec<String>>) -> Option<User> {
    let id = json::str_at(u, "id").or_else(|| json::str_at(u, "userPrincipalName"))?;
    let upn = json::str_at(u, "userPrincipalName");
    let user_roles = roles.get(&id).cloned().unwrap_or_default();
    let is_external = json::str_at(u, "userType").is_some_and(|t| t.eq_ignore_ascii_case("guest"))
        || upn.as_deref().is_some_and(|upn| upn.contains("#EXT#"));
    Some(User {
        login: upn,
        email: json::str_at(u, "mail"),
        display_name: json::str_at(u, "displayName"),
        status: match json::bool_at(u, "accountEnabled") {
            Some(false) => UserStatus::Disabled,
            _ => UserStatus::Active,
        },
        is_admin: !user_roles.is_empty(),
        is_external,
        roles: user_roles,
        group_ids: Vec::new(),
        last_sign_in: json::timestamp_at(u, "/signInActivity/lastSignInDateTime"),
        created: json::timestamp_at(u, "createdDateTime"),
        raw: json::raw(u),
        id,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake;

    #[test]
    fn published_user_examples_parse_into_records() {
        let Some(fixtures) = fake::fixtures() else {
            return;
        };
        for name in ["list-users.json", "list-users-count-filter.json"] {
            let (items, _) = crate::api::collection_parts(fixtures.json(name));
            let users: Vec<_> = items
                .iter()
                .filter_map(|u| user(u, &BTreeMap::new()))
                .collect();
            assert_eq!(users.len(), items.len(), "{name}");
            assert!(!users.is_empty());
        }
        let body = fixtures.json("list-users.json");
        let first = user(&body["value"][0], &BTreeMap::new()).unwrap();
        assert_eq!(first.id, "6ea91a8d-e32e-41a1-b7bd-d2d185eed0e0");
        assert_eq!(first.login.as_deref(), Some("Adams@contoso.com"));
        let guest = fixtures.json("list-users-count-filter.json");
        assert!(
            user(&guest["value"][0], &BTreeMap::new())
                .unwrap()
                .is_external
        );
    }

    #[test]
    fn roles_come_from_directory_roles_and_pages_follow_next_link() {
        let roles = "https://graph.test/v1.0/directoryRoles";
        let members = "https://graph.test/v1.0/directoryRoles/r1/members?%24select=id&%24top=999";
        let first = format!(
            "https://graph.test/v1.0/users?%24select={}&%24top=2",
            http::encode_component(&format!("{SELECT},signInActivity"))
        );
        let second = "https://graph.test/v1.0/users?$top=2&$skiptoken=abc";
        let host = fake::tenant(
            None,
            vec![
                (
                    roles.into(),
                    fake::json(
                        &json!({"value": [{"id": "r1", "displayName": "Global Administrator"}]}),
                    ),
                ),
                (
                    members.into(),
                    fake::json(&json!({"value": [{"id": "u1"}]})),
                ),
                (
                    first.clone(),
                    fake::json(&json!({"value": [
                {"id": "u1", "accountEnabled": true, "signInActivity": {"lastSignInDateTime": "2024-01-01T00:00:00Z"}},
                {"id": "u2", "accountEnabled": false, "userType": "Guest"}],
                "@odata.nextLink": second})),
                ),
                (second.into(), fake::json(&json!({"value": [{"id": "u3"}]}))),
            ],
        );
        let (pages, host) = host.run(|| {
            let one = list(&fake::ctx(2, None), None).unwrap();
            let two = list(&fake::ctx(2, None), one.next_cursor.as_deref()).unwrap();
            (one, two)
        });
        assert_eq!(host.requests().len(), 4);
        let (one, two) = pages;
        assert_eq!(one.items[0].roles, ["Global Administrator"]);
        assert!(one.items[0].is_admin && !one.items[1].is_admin);
        assert_eq!(one.items[0].last_sign_in, Some(1_704_067_200_000));
        assert_eq!(one.items[1].status, UserStatus::Disabled);
        assert!(one.items[1].is_external);
        assert_eq!(two.items[0].id, "u3");
        assert!(two.next_cursor.is_none());
    }

    #[test]
    fn a_disabled_component_is_never_requested() {
        let host = fake::tenant(Some("sign-ins"), vec![]);
        let (result, host) = host.run(|| list(&fake::ctx(2, None), None));
        assert!(matches!(result, Err(ConnectorError::Unsupported(_))));
        assert!(host.requests().is_empty());
    }
}
