//! `list-users`: every user of the organization with its organization roles
//! (privileges) and access status.
//!
//! `GET /admin/v2/orgs/{orgId}/directories/{directoryId}/users?limit=N` (at most 100,
//! `cursor` from `links.next`), with directory `-` for all of them. Atlassian: "By
//! default, users in all your directories and all your managed accounts are returned
//! (including managed accounts that aren't in a directory)". Each user names its
//! `platformRoles` (`atlassian/org-admin`, `atlassian/site-admin`,
//! `atlassian/user-access-admin`, `atlassian/admin`, `atlassian/user`, `atlassian/guest`,
//! …), its Atlassian account's lifecycle (`accountStatus`: active, inactive, closed),
//! its access to the organization (`membershipStatus`: active, suspended,
//! no_membership) and whether the organization manages the account (`claimStatus`).
//!
//! | Atlassian | Sluice |
//! |---|---|
//! | `accountStatus: closed` | deleted |
//! | `membershipStatus: suspended` (what suspend-access sets) | suspended |
//! | `accountStatus: inactive`, `membershipStatus: no_membership` | disabled |
//! | otherwise | active |
//!
//! `is-admin` holds one of the administrator roles above; `is-external` marks accounts
//! the organization does not manage (`claimStatus: unmanaged`: their email domain is not
//! one the organization verified) and guests. `created` is `addedToOrg`.
//!
//! The mapping also reads the v1 spelling (`account_id`, `account_status`,
//! `last_active`) of `GET /admin/v1/orgs/{orgId}/users` and the search answers, whose
//! published examples are in `shared/fixtures/atlassian`; `last_active` (the newest
//! product use, the closest Atlassian reports to a sign-in) becomes `last-sign-in`.

use sluice_sdk::prelude::*;

use crate::api::{Api, MAX_PAGE_SIZE};

/// Roles that administer the organization, its sites or user access.
pub const ADMIN_ROLES: &[&str] = &[
    "atlassian/org-admin",
    "atlassian/site-admin",
    "atlassian/user-access-admin",
    "atlassian/admin",
];

/// One page of users.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<UserPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let position = ListCursor::<()>::resume(cursor)?;
    let mut request = api
        .get(api.directory("/users"))
        .query("limit", api.page_size(MAX_PAGE_SIZE));
    if let Some(token) = position.token() {
        request = request.query("cursor", token);
    }
    let (users, next) = api.list_page(request.url())?;
    let items = json::map_items(&users, "Atlassian users", user);
    Ok(UserPage {
        items,
        next_cursor: position.next_cursor(next.map(At::token)),
    })
}

/// The first present of `names` (v2 camelCase, v1 snake_case) as a string.
fn field(value: &Value, names: &[&str]) -> Option<String> {
    names.iter().find_map(|name| json::str_at(value, name))
}

/// The normalised status of an Atlassian user object (see the module docs).
pub fn status_of(value: &Value) -> UserStatus {
    let account = field(value, &["accountStatus", "account_status"]);
    let membership = field(value, &["membershipStatus", "status"]);
    match (account.as_deref(), membership.as_deref()) {
        (Some("closed"), _) => UserStatus::Deleted,
        (_, Some("suspended")) => UserStatus::Suspended,
        (Some("inactive"), _) | (_, Some("no_membership")) => UserStatus::Disabled,
        _ => UserStatus::Active,
    }
}

/// The user record for an Atlassian user object; none without an account id.
pub fn user(value: &Value) -> Option<User> {
    let roles = json::strings_at(value, "platformRoles");
    let guest = roles.iter().any(|r| r == "atlassian/guest");
    let unmanaged = json::str_at(value, "claimStatus").as_deref() == Some("unmanaged");
    Some(User {
        login: json::str_at(value, "nickname"),
        email: json::str_at(value, "email"),
        display_name: json::str_at(value, "name"),
        status: status_of(value),
        is_admin: roles.iter().any(|r| ADMIN_ROLES.contains(&r.as_str())),
        is_external: unmanaged || guest,
        last_sign_in: json::timestamp_at(value, "last_active"),
        created: json::timestamp_at(value, "addedToOrg")
            .or_else(|| json::timestamp_at(value, "added_to_org")),
        roles,
        ..User::new(
            field(value, &["accountId", "account_id"])?,
            json::raw(value),
        )
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake;

    #[test]
    fn the_published_user_examples_map_to_records() {
        let (Some(v1), Some(search)) = (
            fake::fixture("_SHAPE-org-users-list.docs-example"),
            fake::fixture("org-users-search.docs-example"),
        ) else {
            return;
        };
        let v1 = user(&v1["data"][0]).expect("a v1 user");
        assert_eq!(v1.id, "<string>");
        assert_eq!(v1.status, UserStatus::Active);
        assert_eq!(v1.email.as_deref(), Some("<string>"));
        let found = user(&search["data"][0]).expect("a searched user");
        assert_eq!(found.id, "123e4567-e89b-12d3-a456-426614174000");
        assert_eq!(found.status, UserStatus::Active);
        assert_eq!(
            serde_json::from_str::<Value>(&found.raw).unwrap(),
            search["data"][0]
        );
    }

    #[test]
    fn roles_and_statuses_map_as_documented() {
        let u = user(&json!({
            "accountId": "a1", "accountStatus": "active", "membershipStatus": "active",
            "claimStatus": "managed", "platformRoles": ["atlassian/org-admin", "atlassian/user"],
            "addedToOrg": "2024-01-01T00:00:00.000Z", "name": "Ann", "email": "ann@acme.test",
        }))
        .unwrap();
        assert!(u.is_admin && !u.is_external);
        assert_eq!(u.roles, ["atlassian/org-admin", "atlassian/user"]);
        assert_eq!(u.created, Some(1_704_067_200_000));
        let s = |v: Value| status_of(&v);
        assert_eq!(
            s(json!({"accountStatus": "active", "membershipStatus": "suspended"})),
            UserStatus::Suspended
        );
        assert_eq!(
            s(json!({"accountStatus": "closed", "membershipStatus": "suspended"})),
            UserStatus::Deleted
        );
        assert_eq!(
            s(json!({"accountStatus": "inactive"})),
            UserStatus::Disabled
        );
        assert_eq!(
            s(json!({"membershipStatus": "no_membership"})),
            UserStatus::Disabled
        );
        assert_eq!(s(json!({"account_status": "active"})), UserStatus::Active);
        let guest = user(&json!({"accountId": "g", "claimStatus": "unmanaged",
                                 "platformRoles": ["atlassian/guest"]}))
        .unwrap();
        assert!(guest.is_external && !guest.is_admin);
        assert!(user(&json!({"name": "no id"})).is_none());
    }

    #[test]
    fn pages_by_cursor_until_links_next_is_gone() {
        let first = format!("{}/users?limit=2", fake::DIR);
        let second = format!("{}/users?limit=2&cursor=t%2B2", fake::DIR);
        let host = fake::atlassian(vec![
            (
                first.clone(),
                fake::page(
                    json!([{"accountId": "a"}, {"accountId": "b", "membershipStatus": "suspended"}]),
                    Some("t+2"),
                ),
            ),
            (
                second.clone(),
                fake::page(json!([{"accountId": "c"}]), None),
            ),
        ]);
        let ctx = fake::ctx(2, None);
        let (pages, host) = host.run(|| sluice_sdk::testing::all_pages(10, |c| list(&ctx, c)));
        let urls: Vec<_> = host.requests().iter().map(|r| r.url.clone()).collect();
        assert_eq!(urls, [first, second]);
        let users: Vec<&User> = pages.iter().flat_map(|p| &p.items).collect();
        assert_eq!(users.len(), 3);
        assert_eq!(users[1].status, UserStatus::Suspended);
    }

    #[test]
    fn bad_credentials_are_unauthorized() {
        let host = fake::atlassian(vec![]).on_request(|_| Ok(fake::error(401, "Unauthorized")));
        let (result, _) = host.run(|| list(&fake::ctx(100, None), None));
        assert!(
            matches!(result, Err(ConnectorError::Unauthorized(_))),
            "{result:?}"
        );
    }
}
