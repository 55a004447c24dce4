//! `list-users`: organization users of the configured account, from the Admin API.
//!
//! `GET /v2/organizations/{organizationId}/users?account_id=..&include_ds_groups=true
//! &start=0&take=N` answers `{"users": [...], "paging": {..., "next": URL}}`; the page
//! cursor is the SDK's [`ListCursor`] at `paging.next`, verbatim. The Admin API needs one of `account_id`, `email`
//! or a reserved domain to list users, hence the `account_id` config field.
//!
//! As DocuSign's own admin console does, only active users are reported
//! (`user_status` `active` with `membership_status` `active`): a user closed,
//! disabled or not yet activated in the account is left out, so the host marks a
//! previously seen user deleted once a complete scan no longer lists them; a user
//! inactive in every account is therefore deleted.
//!
//! `is_admin` comes from the user's DocuSign groups (`ds_groups[].is_admin`, the
//! administrator permission profile of an account), which is also where the roles and
//! group ids come from.

use sluice_sdk::prelude::*;

use crate::api::{self, Api};

/// Pages read at most when the posture check needs every user.
const MAX_POSTURE_PAGES: usize = 100;

/// One page of active users.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<UserPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let position = ListCursor::<()>::resume(cursor)?;
    let (users, next) = page(&position.url_or(|()| api.users_first_page(api.admin_take())))?;
    Ok(UserPage {
        items: json::map_items(&users, "organization users", user)
            .into_iter()
            .flatten()
            .collect(),
        next_cursor: position.next_cursor(next.map(At::url)),
    })
}

/// Every user of the account (active or not), for posture; bounded.
pub fn all(api: &Api) -> Result<Vec<Value>, ConnectorError> {
    let first = api.users_first_page(api.admin_take());
    pagination::collect_all(first, MAX_POSTURE_PAGES, page).map(|(users, _)| users)
}

/// One Admin API page: the users and `paging.next`.
fn page(url: &str) -> Result<(Vec<Value>, Option<String>), ConnectorError> {
    let body = api::get(url).send()?.error_for_status()?.json_value()?;
    Ok(pagination::items_and_next(body, "/users", "/paging/next"))
}

/// Whether the user counts as active (see the module docs).
pub fn is_active(user: &Value) -> bool {
    let status = |field| json::str_at(user, field).map(|s| s.to_ascii_lowercase());
    status("user_status").as_deref() == Some("active")
        && matches!(
            status("membership_status").as_deref(),
            None | Some("active")
        )
}

/// Whether any of the user's groups is an administrator group.
pub fn is_admin(user: &Value) -> bool {
    groups(user).any(|g| json::bool_at(g, "is_admin") == Some(true))
}

fn groups(user: &Value) -> impl Iterator<Item = &Value> {
    user.get("ds_groups")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// `Some(None)` for an inactive user (left out), `Some(Some(user))` for an active
/// one, none without an id.
fn user(raw: &Value) -> Option<Option<User>> {
    let id = json::str_at(raw, "id")?;
    if !is_active(raw) {
        return Some(None);
    }
    let name = json::str_at(raw, "user_name").or_else(|| {
        let parts: Vec<_> = ["first_name", "last_name"]
            .iter()
            .filter_map(|f| json::str_at(raw, f))
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    });
    Some(Some(User {
        email: json::str_at(raw, "email"),
        display_name: name,
        is_admin: is_admin(raw),
        roles: groups(raw)
            .filter_map(|g| json::str_at(g, "group_name"))
            .collect(),
        group_ids: groups(raw)
            .filter_map(|g| json::str_at(g, "ds_group_id"))
            .collect(),
        created: json::timestamp_at(raw, "created_on"),
        ..User::new(id, json::raw(raw))
    }))
}

/// The Admin API properties this module reads, for the schema-conformance test.
#[cfg(test)]
pub const READ_USER_PROPERTIES: &[&str] = &[
    "id",
    "user_name",
    "first_name",
    "last_name",
    "user_status",
    "membership_status",
    "email",
    "created_on",
    "ds_groups",
    "is_managed_by_scim",
];

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake;

    fn raw(id: &str, user_status: &str, membership: &str, admin: bool) -> Value {
        json!({
            "id": id, "user_name": format!("User {id}"), "first_name": "U", "last_name": id,
            "user_status": user_status, "membership_status": membership,
            "email": format!("{id}@acme.test"), "created_on": "2023-05-01T10:00:00Z",
            "ds_groups": [{"ds_group_id": format!("g-{admin}"), "account_id": fake::ACCOUNT,
                           "group_name": if admin { "Administrators" } else { "Everyone" },
                           "is_admin": admin}],
            "is_managed_by_scim": false,
        })
    }

    #[test]
    fn pages_by_paging_next_and_reports_only_active_users() {
        let first = format!(
            "https://admin.ds.test/management/v2/organizations/{}/users?account_id={}\
             &include_ds_groups=true&start=0&take=2",
            fake::ORG,
            fake::ACCOUNT
        );
        let second = format!("{first}&start=2");
        let host = fake::docusign(vec![
            (
                first.clone(),
                fake::json(&json!({
                    "users": [raw("a", "active", "active", true), raw("b", "closed", "closed", false)],
                    "paging": {"result_set_size": 2, "result_set_start_position": 0,
                               "result_set_end_position": 1, "total_set_size": 3, "next": second},
                })),
            ),
            (
                second.clone(),
                fake::json(&json!({
                    "users": [raw("c", "active", "active", false)],
                    "paging": {"result_set_size": 1, "total_set_size": 3, "previous": first},
                })),
            ),
        ]);
        let ctx = fake::ctx(2, None);
        let (pages, _) = host.run(|| {
            let one = list(&ctx, None).unwrap();
            let two = list(&ctx, one.next_cursor.as_deref()).unwrap();
            [one, two]
        });
        let at_second = Cursor::encode(&ListCursor::<()> {
            phase: (),
            at: At::url(&second),
            state: (),
        });
        assert_eq!(pages[0].next_cursor.as_deref(), Some(at_second.as_str()));
        let ids: Vec<_> = pages[0].items.iter().map(|u| u.id.as_str()).collect();
        assert_eq!(ids, ["a"]);
        let a = &pages[0].items[0];
        assert!(a.is_admin);
        assert_eq!(a.roles, ["Administrators"]);
        assert_eq!(a.display_name.as_deref(), Some("User a"));
        assert_eq!(a.email.as_deref(), Some("a@acme.test"));
        assert_eq!(pages[1].items.len(), 1);
        assert!(!pages[1].items[0].is_admin);
        assert_eq!(pages[1].next_cursor, None);
    }

    #[test]
    fn pending_and_disabled_memberships_are_not_active() {
        assert!(is_active(&raw("a", "active", "active", false)));
        assert!(!is_active(&raw("a", "active", "disabled", false)));
        assert!(!is_active(&raw("a", "created", "activation_sent", false)));
        assert!(!is_active(&raw("a", "closed", "active", false)));
    }

    /// Every property the mapping reads is in the published Admin API schema.
    #[test]
    fn reads_only_properties_of_the_published_users_schema() {
        let Some(schema) = fake::schema("_SCHEMA-admin-list-users.json") else {
            return;
        };
        let defs = &schema["definitions"];
        for read in READ_USER_PROPERTIES {
            assert!(
                defs["OrganizationUserResponse"]["properties"]
                    .get(read)
                    .is_some(),
                "`{read}` not in OrganizationUserResponse"
            );
        }
        for read in ["ds_group_id", "group_name", "is_admin"] {
            assert!(
                defs["DSGroupResponse"]["properties"].get(read).is_some(),
                "{read}"
            );
        }
        for read in ["users", "paging"] {
            assert!(
                defs["OrganizationUsersResponse"]["properties"]
                    .get(read)
                    .is_some()
            );
        }
        assert!(
            defs["PagingResponseProperties"]["properties"]
                .get("next")
                .is_some()
        );
        let params = fake::documented_parameters(&schema);
        for sent in ["account_id", "include_ds_groups", "start", "take"] {
            assert!(
                params.contains(&sent),
                "`{sent}` is no documented parameter"
            );
        }
    }
}
