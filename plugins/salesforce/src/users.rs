//! `list-users`: every user of the org with its profile, permission sets (privileges)
//! and state (active, frozen, deactivated).
//!
//! One page is one batch of
//! `SELECT … FROM User ORDER BY Id` (paged by `nextRecordsUrl`), completed with two
//! queries over the batch's id range (`>=` first id, `<=` last id; Salesforce compares
//! ids as text, and the batch is ordered by id, so the range holds exactly its users):
//!
//! - `PermissionSetAssignment` with the assigned set's name, label, whether a profile
//!   owns it, and its `PermissionsModifyAllData` and `PermissionsManageUsers`: the
//!   profile's own permission set is assigned to every user too, which is how the
//!   profile's system permissions are read;
//! - `UserLogin … AND IsFrozen = true`: who is frozen.
//!
//! | Salesforce | Sluice |
//! |---|---|
//! | `IsActive = false` (deactivated: Salesforce never deletes users) | disabled |
//! | `UserLogin.IsFrozen = true` | suspended |
//! | otherwise | active |
//!
//! `roles` are the profile's name, then the labels of the permission sets assigned
//! beyond the profile's own (a permission set group's aggregate set appears under its
//! label). `is-admin` means an assigned set (the profile's included) grants "Modify All
//! Data" or "Manage Users". `is-external` marks portal and community users and guests
//! (`UserType` other than `Standard` and `CsnOnly`, Chatter Free).

use std::collections::{BTreeMap, BTreeSet};

use sluice_sdk::prelude::*;

use crate::api::{Api, literal};

/// The fields read of each user.
pub const USER_FIELDS: &str = "Id, Username, Name, Email, IsActive, UserType, ProfileId, \
     Profile.Name, UserRoleId, UserRole.Name, LastLoginDate, CreatedDate";

/// Batches of assignments read per user batch: bounds one call's requests (2,000
/// assignments a batch).
const MAX_ASSIGNMENT_BATCHES: usize = 50;

/// `UserType` values of users inside the org.
const INTERNAL_TYPES: [&str; 2] = ["Standard", "CsnOnly"];

/// What the permission sets assigned to one user say.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Privileges {
    /// Labels of the sets assigned beyond the profile's own.
    pub sets: Vec<String>,
    /// A set grants Modify All Data or Manage Users.
    pub admin: bool,
}

/// One page of users.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<UserPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let position = ListCursor::<()>::resume(cursor)?;
    let url =
        position.url_or(|()| api.query_url(&format!("SELECT {USER_FIELDS} FROM User ORDER BY Id")));
    let batch = api.batch(&url)?;
    let ids: Vec<String> = batch
        .records
        .iter()
        .filter_map(|u| json::str_at(u, "Id"))
        .collect();
    let (privileges, frozen) = match (ids.iter().min(), ids.iter().max()) {
        (Some(first), Some(last)) => (
            privileges(&api, first, last)?,
            frozen_users(&api, first, last)?,
        ),
        _ => Default::default(),
    };
    let items = json::map_items(&batch.records, "Salesforce users", |u| {
        let id = json::str_at(u, "Id")?;
        user(
            u,
            privileges.get(&id).cloned().unwrap_or_default(),
            frozen.contains(&id),
        )
    });
    Ok(UserPage {
        items,
        next_cursor: position.next_cursor(batch.next.map(At::url)),
    })
}

/// The privileges of each user with an id in `first..=last`.
pub fn privileges(
    api: &Api,
    first: &str,
    last: &str,
) -> Result<BTreeMap<String, Privileges>, ConnectorError> {
    let soql = format!(
        "SELECT Id, AssigneeId, PermissionSetId, PermissionSetGroupId, PermissionSet.Name, \
         PermissionSet.Label, PermissionSet.IsOwnedByProfile, \
         PermissionSet.PermissionsModifyAllData, PermissionSet.PermissionsManageUsers \
         FROM PermissionSetAssignment WHERE AssigneeId >= {} AND AssigneeId <= {} \
         ORDER BY AssigneeId, Id",
        literal(first),
        literal(last)
    );
    let (assignments, truncated) = api.all(api.query_url(&soql), MAX_ASSIGNMENT_BATCHES)?;
    if truncated {
        log::warn(format_args!(
            "users {first}..{last} have more than {MAX_ASSIGNMENT_BATCHES} batches of permission set assignments; read the first {}",
            assignments.len()
        ));
    }
    Ok(privileges_of(&assignments))
}

/// Privileges by assignee from `PermissionSetAssignment` records.
pub fn privileges_of(assignments: &[Value]) -> BTreeMap<String, Privileges> {
    let mut by_user: BTreeMap<String, Privileges> = BTreeMap::new();
    for a in assignments {
        let Some(user) = json::str_at(a, "AssigneeId") else {
            continue;
        };
        let entry = by_user.entry(user).or_default();
        let flag = |name: &str| json::bool_at(a, &format!("/PermissionSet/{name}")) == Some(true);
        entry.admin |= flag("PermissionsModifyAllData") || flag("PermissionsManageUsers");
        if !flag("IsOwnedByProfile") {
            let label = json::str_at(a, "/PermissionSet/Label")
                .or_else(|| json::str_at(a, "/PermissionSet/Name"))
                .or_else(|| json::str_at(a, "PermissionSetId"));
            if let Some(label) = label
                && !entry.sets.contains(&label)
            {
                entry.sets.push(label);
            }
        }
    }
    by_user
}

/// Ids of the frozen users with an id in `first..=last`.
pub fn frozen_users(
    api: &Api,
    first: &str,
    last: &str,
) -> Result<BTreeSet<String>, ConnectorError> {
    let soql = format!(
        "SELECT Id, UserId, IsFrozen FROM UserLogin WHERE UserId >= {} AND UserId <= {} \
         AND IsFrozen = true",
        literal(first),
        literal(last)
    );
    let (logins, _) = api.all(api.query_url(&soql), MAX_ASSIGNMENT_BATCHES)?;
    Ok(logins
        .iter()
        .filter(|l| json::bool_at(l, "IsFrozen") == Some(true))
        .filter_map(|l| json::str_at(l, "UserId"))
        .collect())
}

/// The status of a user (see the module docs).
pub fn status_of(value: &Value, frozen: bool) -> UserStatus {
    if json::bool_at(value, "IsActive") == Some(false) {
        UserStatus::Disabled
    } else if frozen {
        UserStatus::Suspended
    } else {
        UserStatus::Active
    }
}

/// The user record for a `User` record; none without an id.
pub fn user(value: &Value, privileges: Privileges, frozen: bool) -> Option<User> {
    let mut roles: Vec<String> = json::str_at(value, "/Profile/Name").into_iter().collect();
    roles.extend(privileges.sets);
    let user_type = json::str_at(value, "UserType");
    Some(User {
        login: json::str_at(value, "Username"),
        email: json::str_at(value, "Email"),
        display_name: json::str_at(value, "Name"),
        status: status_of(value, frozen),
        is_admin: privileges.admin,
        is_external: user_type.is_some_and(|t| !INTERNAL_TYPES.contains(&t.as_str())),
        roles,
        last_sign_in: json::timestamp_at(value, "LastLoginDate"),
        created: json::timestamp_at(value, "CreatedDate"),
        ..User::new(json::str_at(value, "Id")?, json::raw(value))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake;

    #[test]
    fn the_published_users_and_assignments_map_to_records() {
        let (Some(users), Some(assignments)) = (
            fake::fixture("query-user.rendered-from-object-reference"),
            fake::fixture("query-permissionsetassignment.rendered-from-object-reference"),
        ) else {
            return;
        };
        let privileges = privileges_of(assignments["records"].as_array().unwrap());
        let records: Vec<User> = users["records"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|u| {
                let id = json::str_at(u, "Id")?;
                user(u, privileges.get(&id).cloned().unwrap_or_default(), false)
            })
            .collect();
        assert_eq!(records.len(), 2);
        let alice = &records[0];
        assert_eq!(alice.login.as_deref(), Some("alice.admin@example.com"));
        // The profile, then the temporary Modify All Data set (the profile's own set
        // is not listed again).
        assert_eq!(
            alice.roles,
            ["System Administrator", "Modify All Data (temporary)"]
        );
        assert_eq!(alice.status, UserStatus::Active);
        assert_eq!(alice.last_sign_in, Some(1_719_821_564_000));
        let bob = &records[1];
        assert_eq!(bob.status, UserStatus::Disabled);
        assert_eq!(bob.roles, ["Standard User"]);
        assert!(!bob.is_external && !bob.is_admin);
    }

    #[test]
    fn admin_flags_come_from_any_assigned_set_and_states_map_as_documented() {
        let a = |user: &str, label: &str, profile: bool, mad: bool| {
            json!({"AssigneeId": user, "PermissionSetId": "0PS", "PermissionSet": {
                "Label": label, "IsOwnedByProfile": profile,
                "PermissionsModifyAllData": mad, "PermissionsManageUsers": false}})
        };
        let p = privileges_of(&[
            a("u1", "00e1", true, true),
            a("u2", "00e2", true, false),
            a("u2", "Sales Ops", false, false),
        ]);
        assert!(p["u1"].admin && p["u1"].sets.is_empty());
        assert_eq!(
            p["u2"],
            Privileges {
                sets: vec!["Sales Ops".into()],
                admin: false
            }
        );
        let u = json!({"Id": "005", "IsActive": true, "UserType": "PowerPartner"});
        assert_eq!(status_of(&u, true), UserStatus::Suspended);
        assert_eq!(
            status_of(&json!({"IsActive": false}), true),
            UserStatus::Disabled
        );
        assert!(user(&u, Privileges::default(), false).unwrap().is_external);
    }

    #[test]
    fn a_batch_is_completed_with_assignments_and_freezes_over_its_id_range() {
        let users = fake::query(&format!("SELECT {USER_FIELDS} FROM User ORDER BY Id"));
        let next = "/services/data/v62.0/query/01g-200";
        let host = fake::org(vec![
            (
                users.clone(),
                fake::batch(
                    json!([{"Id": "005A", "IsActive": true, "Profile": {"Name": "System Administrator"}},
                           {"Id": "005C", "IsActive": true}]),
                    Some(next),
                ),
            ),
            (
                fake::query(
                    "SELECT Id, AssigneeId, PermissionSetId, PermissionSetGroupId, PermissionSet.Name, \
                     PermissionSet.Label, PermissionSet.IsOwnedByProfile, \
                     PermissionSet.PermissionsModifyAllData, PermissionSet.PermissionsManageUsers \
                     FROM PermissionSetAssignment WHERE AssigneeId >= '005A' AND AssigneeId <= '005C' \
                     ORDER BY AssigneeId, Id",
                ),
                fake::batch(
                    json!([{"AssigneeId": "005A", "PermissionSet": {"IsOwnedByProfile": true, "PermissionsModifyAllData": true}}]),
                    None,
                ),
            ),
            (
                fake::query(
                    "SELECT Id, UserId, IsFrozen FROM UserLogin WHERE UserId >= '005A' AND UserId <= '005C' \
                     AND IsFrozen = true",
                ),
                fake::batch(
                    json!([{"Id": "060", "UserId": "005C", "IsFrozen": true}]),
                    None,
                ),
            ),
        ]);
        let (result, host) = host.run(|| list(&fake::ctx(200, None), None));
        let page = result.unwrap();
        assert_eq!(host.requests().len(), 3);
        assert_eq!(
            host.requests()[0].header("sforce-query-options"),
            Some("batchSize=200")
        );
        assert!(page.items[0].is_admin);
        assert_eq!(page.items[1].status, UserStatus::Suspended);
        assert_eq!(
            page.next_cursor.as_deref(),
            Some(r#"{"url":"https://acme.my.salesforce.test/services/data/v62.0/query/01g-200"}"#)
        );
    }
}
