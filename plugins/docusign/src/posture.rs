//! `posture`: findings judged from the organization's users in the account.
//!
//! The Admin API user listing is the one source every DocuSign plan exposes, so the
//! findings are about who holds access:
//! - `few-administrators`: at most [`MAX_ADMINS`] active administrators;
//! - `users-provisioned-by-scim`: active users are managed by SCIM, so deprovisioning
//!   in the identity provider reaches DocuSign;
//! - `no-stale-invitations`: no memberships left waiting for activation (accounts that
//!   anyone holding the invitation mail can claim).

use sluice_sdk::prelude::*;

use crate::api::Api;
use crate::users;

/// More active administrators than this fails `few-administrators`.
pub const MAX_ADMINS: usize = 4;

/// The findings for the configured account.
pub fn findings(ctx: &Context) -> Result<Vec<Finding>, ConnectorError> {
    let api = Api::new(ctx)?;
    Ok(judge(&users::all(&api)?))
}

/// The findings for these Admin API users.
pub fn judge(all: &[Value]) -> Vec<Finding> {
    let active: Vec<&Value> = all.iter().filter(|u| users::is_active(u)).collect();
    let admins: Vec<&Value> = active
        .iter()
        .copied()
        .filter(|u| users::is_admin(u))
        .collect();
    let unmanaged: Vec<&Value> = active
        .iter()
        .copied()
        .filter(|u| json::bool_at(u, "is_managed_by_scim") != Some(true))
        .collect();
    let pending: Vec<&Value> = all
        .iter()
        .filter(|u| {
            json::str_at(u, "membership_status").is_some_and(|s| s.starts_with("activation_"))
        })
        .collect();
    vec![
        Finding {
            id: "few-administrators".into(),
            title: "Limit account administrators".into(),
            severity: Severity::Medium,
            passed: admins.len() <= MAX_ADMINS,
            detail: format!(
                "{} of {} active users are administrators",
                admins.len(),
                active.len()
            ),
            remediation: format!(
                "Keep at most {MAX_ADMINS} users in administrator groups; give others a \
                 narrower permission profile in DocuSign Admin."
            ),
            raw: summary(&admins),
        },
        Finding {
            id: "users-provisioned-by-scim".into(),
            title: "Provision users through SCIM".into(),
            severity: Severity::Low,
            passed: unmanaged.is_empty(),
            detail: format!(
                "{} of {} active users are not managed by SCIM",
                unmanaged.len(),
                active.len()
            ),
            remediation: "Connect the organization to your identity provider with SCIM \
                          user provisioning so leavers lose DocuSign access automatically."
                .into(),
            raw: summary(&unmanaged),
        },
        Finding {
            id: "no-stale-invitations".into(),
            title: "Remove pending invitations".into(),
            severity: Severity::Low,
            passed: pending.is_empty(),
            detail: format!("{} memberships are waiting for activation", pending.len()),
            remediation: "Resend or close memberships in `activation_sent` or \
                          `activation_required` state in DocuSign Admin."
                .into(),
            raw: summary(&pending),
        },
    ]
}

/// The ids and emails a finding was judged from (not whole records: findings stay small).
fn summary(users: &[&Value]) -> String {
    Value::Array(
        users
            .iter()
            .map(|u| serde_json::json!({"id": u.get("id"), "email": u.get("email")}))
            .collect(),
    )
    .to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn judges_admins_scim_and_invitations() {
        let user = |id: u32, admin: bool, scim: bool, membership: &str| {
            json!({"id": id.to_string(), "user_status": "active", "membership_status": membership,
                   "is_managed_by_scim": scim, "ds_groups": [{"is_admin": admin}]})
        };
        let mut all: Vec<Value> = (0..5).map(|i| user(i, true, true, "active")).collect();
        all.push(user(9, false, false, "activation_sent"));
        let f = judge(&all);
        let by = |id: &str| f.iter().find(|f| f.id == id).unwrap();
        assert!(!by("few-administrators").passed);
        assert!(by("few-administrators").detail.starts_with("5 of 5"));
        // The pending user is not active, so it does not count against SCIM.
        assert!(by("users-provisioned-by-scim").passed);
        assert!(!by("no-stale-invitations").passed);
        all.truncate(4);
        assert!(judge(&all).iter().all(|f| f.passed));
    }
}
