//! `posture`: Secure-Score-style checks judged from Graph data.
//!
//! | finding | source | Secure Score counterpart |
//! |---|---|---|
//! | `security-defaults-enabled` | `/policies/identitySecurityDefaultsEnforcementPolicy` | "Enable security defaults" (or Conditional Access) |
//! | `global-admin-count` | members of the Global Administrator role | "Designate more than one global admin" / "fewer than 5" |
//! | `guest-accounts-limited` | `/users?$filter=userType eq 'Guest'&$count=true` | guest access review |

use sluice_sdk::prelude::*;

use crate::api::Api;
use crate::users::directory_roles;

/// Guests above this share of all users fail `guest-accounts-limited`.
const MAX_GUEST_PERCENT: i64 = 10;

/// The findings for the tenant.
pub fn findings(ctx: &Context) -> Result<Vec<Finding>, ConnectorError> {
    let api = Api::new(ctx)?;
    let policy = api
        .get(api.graph("/policies/identitySecurityDefaultsEnforcementPolicy"))
        .send()?
        .error_for_status()?
        .json_value()?;
    let roles = directory_roles(&api)?;
    let global_admins: Vec<&String> = roles
        .iter()
        .filter(|(_, names)| names.iter().any(|n| n == "Global Administrator"))
        .map(|(id, _)| id)
        .collect();
    let count = |filter: Option<&str>| -> Result<(i64, Value), ConnectorError> {
        let mut request = http::get(api.graph("/users"))
            .query("$count", "true")
            .query("$top", 1)
            .query("$select", "id");
        if let Some(filter) = filter {
            request = request.query("$filter", filter);
        }
        let body = request
            .header("consistencylevel", "eventual")
            .header("accept", "application/json")
            .send()?
            .error_for_status()?
            .json_value()?;
        Ok((json::i64_at(&body, "@odata.count").unwrap_or(0), body))
    };
    let (guests, guest_body) = count(Some("userType eq 'Guest'"))?;
    let (users, _) = count(None)?;
    Ok(judge(
        &policy,
        global_admins.len(),
        guests,
        users,
        &guest_body,
    ))
}

/// The findings from the fetched facts.
fn judge(
    policy: &Value,
    global_admins: usize,
    guests: i64,
    users: i64,
    guest_body: &Value,
) -> Vec<Finding> {
    let defaults = json::bool_at(policy, "isEnabled").unwrap_or(false);
    let guest_ok = guests * 100 <= users * MAX_GUEST_PERCENT;
    vec![
        Finding {
            id: "security-defaults-enabled".into(),
            title: "Enable security defaults (MFA for everyone, legacy auth blocked)".into(),
            severity: Severity::High,
            passed: defaults,
            detail: format!(
                "security defaults are {}",
                if defaults { "enabled" } else { "disabled" }
            ),
            remediation: "Entra admin center → Properties → Manage security defaults → Enabled, \
                          or enforce MFA with Conditional Access policies."
                .into(),
            raw: json::raw(policy),
        },
        Finding {
            id: "global-admin-count".into(),
            title: "Have between two and four global administrators".into(),
            severity: Severity::Medium,
            passed: (2..=4).contains(&global_admins),
            detail: format!("{global_admins} accounts hold Global Administrator"),
            remediation: "Keep a second global admin for break-glass, and move other admins to \
                          least-privileged roles (User, Exchange, SharePoint Administrator)."
                .into(),
            raw: serde_json::json!({ "globalAdministrators": global_admins }).to_string(),
        },
        Finding {
            id: "guest-accounts-limited".into(),
            title: format!("Keep guest accounts at most {MAX_GUEST_PERCENT}% of users"),
            severity: Severity::Low,
            passed: guest_ok,
            detail: format!("{guests} guests among {users} users"),
            remediation: "Review guest access with access reviews and remove guests who no \
                          longer need access."
                .into(),
            raw: json::raw(guest_body),
        },
    ]
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn judges_defaults_admins_and_guests() {
        let found = judge(&json!({"isEnabled": false}), 1, 3, 10, &json!({}));
        let passed: Vec<_> = found.iter().map(|f| (f.id.as_str(), f.passed)).collect();
        assert_eq!(
            passed,
            [
                ("security-defaults-enabled", false),
                ("global-admin-count", false),
                ("guest-accounts-limited", false)
            ]
        );
        let found = judge(&json!({"isEnabled": true}), 2, 1, 10, &json!({}));
        assert!(found.iter().all(|f| f.passed));
    }
}
