//! `list-users`: every user of the enterprise with its admin role (privileges) and status.
//!
//! `GET /2.0/users?usemarker=true&limit=…&fields=…`, marker-paged (`limit` up to
//! 1000). `fields` asks for `role` and `enterprise`, which the default field set
//! leaves out. Box's `role` is `admin` (the enterprise's primary admin), `coadmin` or
//! `user`: the first two are admins. A user whose `enterprise` is another than the
//! configured `enterprise_id` is external.
//!
//! | Box `status` | Sluice |
//! |---|---|
//! | `active` | active |
//! | `inactive` (set by an admin, or `suspend-user`) | suspended |
//! | `cannot_delete_edit`, `cannot_delete_edit_upload` (restricted, can still sign in) | active |

use sluice_sdk::prelude::*;

use crate::api::{self, Api, MAX_LIMIT};

/// The user fields read; `role` and `enterprise` are not in Box's default set.
pub const FIELDS: &str =
    "id,type,name,login,status,role,created_at,modified_at,enterprise,job_title";

/// One page of users.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<UserPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let position = ListCursor::<()>::resume(cursor)?;
    let (users, marker) = page(&api, position.token(), api.limit(MAX_LIMIT))?;
    let enterprise = config::get("enterprise_id");
    let items = json::map_items(&users, "Box users", |u| user(u, enterprise.as_deref()));
    Ok(UserPage {
        items,
        next_cursor: position.next_cursor(marker.map(At::token)),
    })
}

/// One marker page of users with [`FIELDS`]: the users and the next marker.
pub fn page(
    api: &Api,
    marker: Option<&str>,
    limit: u32,
) -> Result<(Vec<Value>, Option<String>), ConnectorError> {
    let mut request = api
        .get("/users")
        .query("usemarker", "true")
        .query("limit", limit)
        .query("fields", FIELDS);
    if let Some(marker) = marker {
        request = request.query("marker", marker);
    }
    Ok(api::entries_and_marker(api.fetch(request)?))
}

/// Whether a Box `role` holds admin privileges.
pub fn is_admin_role(role: &str) -> bool {
    matches!(role, "admin" | "coadmin")
}

/// The normalised status of a Box user object.
pub fn status_of(value: &Value) -> UserStatus {
    match json::str_at(value, "status").as_deref() {
        Some("inactive") => UserStatus::Suspended,
        _ => UserStatus::Active,
    }
}

/// The user record for a Box user object; none without an id.
pub fn user(value: &Value, enterprise: Option<&str>) -> Option<User> {
    let role = json::str_at(value, "role");
    let their_enterprise = json::str_at(value, "/enterprise/id");
    let is_external = match (enterprise, their_enterprise.as_deref()) {
        (Some(ours), Some(theirs)) => ours != theirs,
        _ => false,
    };
    Some(User {
        login: json::str_at(value, "login"),
        email: json::str_at(value, "login").filter(|l| l.contains('@')),
        display_name: json::str_at(value, "name"),
        status: status_of(value),
        is_admin: role.as_deref().is_some_and(is_admin_role),
        is_external,
        roles: role.into_iter().collect(),
        created: json::timestamp_at(value, "created_at"),
        ..User::new(json::str_at(value, "id")?, json::raw(value))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake::{self, BASE};

    #[test]
    fn the_published_user_lists_map_their_users() {
        for name in [
            "users.list.sdk-fixture",
            "users.list-marker.sdk-fixture",
            "users.list.rendered-from-openapi",
        ] {
            let Some(body) = fake::fixture(name) else {
                return;
            };
            let (list, marker) = api::entries_and_marker(body.clone());
            assert_eq!(
                marker.is_some(),
                name.contains("marker"),
                "{name}: only the marker example pages by marker"
            );
            let users: Vec<User> = list
                .iter()
                .filter_map(|u| user(u, Some("11446498")))
                .collect();
            assert_eq!(users.len(), list.len(), "{name}");
            for (u, raw) in users.iter().zip(&list) {
                assert_eq!(serde_json::from_str::<Value>(&u.raw).unwrap(), *raw);
                assert_eq!(u.status, UserStatus::Active);
                assert!(u.created.is_some());
            }
        }
        let Some(body) = fake::fixture("users.list.rendered-from-openapi") else {
            return;
        };
        let u = user(&body["entries"][0], Some("11446498")).unwrap();
        assert_eq!(u.id, "11446498");
        assert_eq!(u.login.as_deref(), Some("ceo@example.com"));
        assert_eq!(u.display_name.as_deref(), Some("Aaron Levie"));
        assert!(u.is_admin && !u.is_external);
        assert_eq!(u.roles, ["admin"]);
        assert_eq!(
            u.created,
            sluice_sdk::time::parse("2012-12-12T10:53:43-08:00")
        );
        assert!(user(&body["entries"][0], Some("1")).unwrap().is_external);
    }

    #[test]
    fn pages_by_marker_with_role_and_status() {
        let first = format!(
            "{BASE}/users?usemarker=true&limit=2&fields={}",
            http::encode_component(FIELDS)
        );
        let second = format!("{first}&marker=m2");
        let host = fake::boxed(vec![
            (
                first.clone(),
                fake::json(&json!({"entries": [
                    {"type": "user", "id": "1", "login": "a@x.test", "role": "admin", "status": "active"},
                    {"type": "user", "id": "2", "login": "b@x.test", "role": "coadmin", "status": "active"}],
                    "limit": 2, "next_marker": "m2"})),
            ),
            (
                second.clone(),
                fake::json(&json!({"entries": [
                    {"type": "user", "id": "3", "login": "c@x.test", "role": "user", "status": "inactive"},
                    {"type": "user", "id": "4", "login": "d@x.test", "role": "user",
                        "status": "cannot_delete_edit_upload"}],
                    "limit": 2, "next_marker": null})),
            ),
        ]);
        let ctx = fake::ctx(2, None);
        let (pages, host) = host.run(|| sluice_sdk::testing::all_pages(10, |c| list(&ctx, c)));
        let urls: Vec<_> = host.requests().iter().map(|r| r.url.clone()).collect();
        assert_eq!(urls, [first, second]);
        let users: Vec<&User> = pages.iter().flat_map(|p| &p.items).collect();
        let admins: Vec<bool> = users.iter().map(|u| u.is_admin).collect();
        assert_eq!(admins, [true, true, false, false]);
        assert_eq!(users[2].status, UserStatus::Suspended);
        assert_eq!(users[3].status, UserStatus::Active);
    }

    #[test]
    fn a_rejected_token_is_unauthorized() {
        let host = fake::boxed(vec![])
            .on_request(|_| Ok(fake::error(401, "unauthorized", "Unauthorized")));
        let (result, _) = host.run(|| list(&fake::ctx(100, None), None));
        assert!(matches!(result, Err(ConnectorError::Unauthorized(_))));
    }
}
