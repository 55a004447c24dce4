//! `list-users`: every person in the organization with their admin roles (privileges).
//!
//! `GET /v1/people?max=N` lists the organization's people for an admin token
//! (`spark-admin:people_read`), `Link`-paged. Each person names its admin roles by id
//! (`roles`); the names come from `GET /v1/roles` (`spark-admin:roles_read`), read
//! once on the first call and carried in the cursor. Every Webex role is an
//! administrative one (Full Administrator, Read-only Administrator, Compliance
//! Officer, …; ordinary users hold none), so `is-admin` is "holds any role".
//!
//! | Webex | Sluice status |
//! |---|---|
//! | `loginEnabled: false` (an admin turned sign-in off) | suspended |
//! | `invitePending: true` (invited, never signed in) | disabled |
//! | otherwise | active |
//!
//! Webex's `status` is presence (`active`, `inactive`, `DoNotDisturb`, …), not the
//! account's state, so it is left in `raw`. `lastActivity` is the last activity of
//! any kind, not a sign-in, so `last-sign-in` stays empty.

use std::collections::BTreeMap;

use sluice_sdk::prelude::*;

use crate::api::{self, Api};

/// Role names by id, carried in the cursor.
pub type Roles = BTreeMap<String, String>;

/// Pages of roles read at most; an organization has a dozen roles.
pub const ROLE_PAGES: usize = 10;

/// One page of people.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<UserPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let mut position = ListCursor::<(), Roles>::resume(cursor)?;
    if cursor.is_none() {
        position.state = roles(&api)?;
    }
    let url = position.url_or(|()| {
        api.get("/people")
            .query("max", api.page_size())
            .url()
            .to_owned()
    });
    let (people, next) = api.page(api.get_url(&url))?;
    let items = json::map_items(&people, "Webex people", |p| person(p, &position.state));
    Ok(UserPage {
        items,
        next_cursor: position.next_cursor(next.map(At::url)),
    })
}

/// Every role's name by id (`GET /v1/roles`, `Link`-paged, at most [`ROLE_PAGES`]
/// pages). A token without `spark-admin:roles_read` (403) reads people with roles
/// shown by id.
pub fn roles(api: &Api) -> Result<Roles, ConnectorError> {
    let first = api.url("/roles");
    let read = pagination::collect_all(first, ROLE_PAGES, |url| api.page(api.get_url(url)));
    let roles = match read {
        Ok((roles, _)) => roles,
        Err(ConnectorError::Forbidden(why)) => {
            log::info(format_args!(
                "roles are shown by id: GET /v1/roles was refused ({why})"
            ));
            return Ok(Roles::new());
        }
        Err(other) => return Err(other),
    };
    Ok(roles
        .iter()
        .filter_map(|r| Some((json::str_at(r, "id")?, json::str_at(r, "name")?)))
        .collect())
}

/// The normalised status of a Webex person.
pub fn status_of(value: &Value) -> UserStatus {
    if json::bool_at(value, "loginEnabled") == Some(false) {
        UserStatus::Suspended
    } else if json::bool_at(value, "invitePending") == Some(true) {
        UserStatus::Disabled
    } else {
        UserStatus::Active
    }
}

/// The user record for a Webex person; none without an id.
pub fn person(value: &Value, roles: &Roles) -> Option<User> {
    let role_ids = api::ids_at(value, "roles");
    let display_name = json::str_at(value, "displayName").or_else(|| {
        let parts: Vec<String> = ["firstName", "lastName"]
            .iter()
            .filter_map(|k| json::str_at(value, k).filter(|s| !s.is_empty()))
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    });
    Some(User {
        email: json::strings_at(value, "emails").into_iter().next(),
        display_name,
        status: status_of(value),
        is_admin: !role_ids.is_empty(),
        roles: role_ids
            .iter()
            .map(|id| roles.get(id).cloned().unwrap_or_else(|| id.clone()))
            .collect(),
        created: json::timestamp_at(value, "created"),
        ..User::new(json::str_at(value, "id")?, json::raw(value))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake::{self, BASE};

    #[test]
    fn the_published_person_maps_with_both_role_ids() {
        let Some(body) = fake::fixture("people-list") else {
            return;
        };
        let list = api::items_of(body, "items");
        assert_eq!(list.len(), 1);
        let full = "Y2lzY29zcGFyazovL3VzL1JPTEUvOTZhYmMyYWEtM2RjYy0xMWU1LWExNTItZmUzNDgxOWNkYzlh";
        let roles = Roles::from([(full.to_owned(), "Full Administrator".to_owned())]);
        let u = person(&list[0], &roles).unwrap();
        assert_eq!(
            u.id,
            "Y2lzY29zcGFyazovL3VzL1BFT1BMRS9mNWIzNjE4Ny1jOGRkLTQ3MjctOGIyZi1mOWM0NDdmMjkwNDY"
        );
        assert_eq!(u.email.as_deref(), Some("john.andersen@example.com"));
        assert_eq!(u.display_name.as_deref(), Some("John Andersen"));
        assert_eq!(
            u.status,
            UserStatus::Active,
            "loginEnabled is the string \"true\""
        );
        assert!(u.is_admin);
        assert_eq!(u.roles.len(), 2, "one string holding two role ids");
        assert_eq!(u.roles[0], "Full Administrator");
        assert_eq!(u.created, time::parse("2015-10-18T14:26:16.000Z"));
        assert_eq!(serde_json::from_str::<Value>(&u.raw).unwrap(), list[0]);
    }

    #[test]
    fn follows_link_pages_and_names_roles_once() {
        let roles_url = format!("{BASE}/roles");
        let first = format!("{BASE}/people?max=2");
        let second = format!("{BASE}/people?max=2&cursor=abc");
        let host = fake::webex(vec![
            (
                roles_url.clone(),
                fake::json(&json!({"items": [{"id": "r1", "name": "Full Administrator"}]})),
            ),
            (
                first.clone(),
                fake::linked(
                    &json!({"items": [
                        {"id": "a", "emails": ["a@x.test"], "roles": ["r1"]},
                        {"id": "b", "emails": ["b@x.test"], "roles": [], "loginEnabled": false}]}),
                    Some(&second),
                ),
            ),
            (
                second.clone(),
                fake::json(&json!({"items": [
                    {"id": "c", "invitePending": true, "roles": ["r9"]}]})),
            ),
        ]);
        let ctx = fake::ctx(2, None);
        let (pages, host) = host.run(|| sluice_sdk::testing::all_pages(10, |c| list(&ctx, c)));
        let urls: Vec<_> = host.requests().iter().map(|r| r.url.clone()).collect();
        assert_eq!(urls, [roles_url, first, second]);
        let users: Vec<&User> = pages.iter().flat_map(|p| &p.items).collect();
        let ids: Vec<_> = users.iter().map(|u| u.id.as_str()).collect();
        assert_eq!(ids, ["a", "b", "c"]);
        assert!(users[0].is_admin && !users[1].is_admin);
        assert_eq!(users[0].roles, ["Full Administrator"]);
        assert_eq!(users[1].status, UserStatus::Suspended);
        assert_eq!(users[2].status, UserStatus::Disabled);
        assert_eq!(users[2].roles, ["r9"], "an unknown role shows by id");
    }

    #[test]
    fn bad_credentials_are_unauthorized() {
        let host = fake::webex(vec![]).on_request(|_| {
            Ok(fake::error(
                401,
                "The request requires a valid access token set in the Authorization request header.",
            ))
        });
        let (result, _) = host.run(|| list(&fake::ctx(100, None), None));
        assert!(
            matches!(result, Err(ConnectorError::Unauthorized(_))),
            "{result:?}"
        );
    }
}
