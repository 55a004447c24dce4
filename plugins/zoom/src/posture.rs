//! `posture`: findings judged from the account's settings (the provider docs' table
//! marks SSPM for Zoom as Preview).
//!
//! Two reads: `GET /v2/accounts/me/settings` (meeting settings: `schedule_meeting`,
//! `in_meeting`) and `GET /v2/accounts/me/settings?option=security` (sign-in security:
//! `{"security": {…}}`). Both need `account:read:admin`.
//!
//! | finding | passes when |
//! |---|---|
//! | `two-factor-sign-in` | `security.sign_in_with_two_factor_auth` is `all` |
//! | `strong-sign-in-passwords` | `security.password_requirement`: `minimum_password_length` ≥ 8, with a number and a special character |
//! | `meeting-passcodes-required` | `schedule_meeting.require_password_for_scheduling_new_meetings`, `…_for_instant_meetings`, and `…_for_pmi_meetings` not `none` |
//! | `waiting-room-on` | `in_meeting.waiting_room` |
//! | `passcode-not-in-join-link` | `schedule_meeting.embed_password_in_join_link` is false |
//!
//! A setting Zoom does not report fails its finding, saying so: the account's plan or
//! the app's scopes hide it, and an unknown setting is not a safe one.

use serde_json::json;
use sluice_sdk::prelude::*;

use crate::api::Api;

/// The shortest sign-in password that passes `strong-sign-in-passwords`.
pub const MIN_PASSWORD_LENGTH: i64 = 8;

/// The findings for the configured account.
pub fn findings(ctx: &Context) -> Result<Vec<Finding>, ConnectorError> {
    let api = Api::new(ctx)?;
    let settings = api.fetch(api.get("/accounts/me/settings"))?;
    let security = api.fetch(api.get("/accounts/me/settings").query("option", "security"))?;
    let security = security.get("security").cloned().unwrap_or(security);
    Ok(judge(&settings, &security))
}

/// A finding with its detail and remediation.
fn finding(
    id: &str,
    title: &str,
    severity: Severity,
    passed: bool,
    detail: String,
    remediation: &str,
    raw: &Value,
) -> Finding {
    Finding {
        detail,
        remediation: remediation.to_owned(),
        ..Finding::new(id, title, severity, passed, raw.to_string())
    }
}

/// `value` at `path` as shown in a detail: its JSON, or `not reported`.
fn shown(value: &Value, path: &str) -> String {
    json::at(value, path).map_or_else(|| "not reported".to_owned(), Value::to_string)
}

/// The findings for these settings (`settings`: the default option's answer;
/// `security`: the `security` object of `option=security`).
pub fn judge(settings: &Value, security: &Value) -> Vec<Finding> {
    let two_factor = json::str_at(security, "sign_in_with_two_factor_auth");
    let password = json::at(security, "password_requirement")
        .cloned()
        .unwrap_or(Value::Null);
    let min_length = json::i64_at(&password, "minimum_password_length");
    let strong = min_length.is_some_and(|n| n >= MIN_PASSWORD_LENGTH)
        && json::bool_at(&password, "have_number") == Some(true)
        && json::bool_at(&password, "have_special_character") == Some(true);
    let schedule = json::at(settings, "schedule_meeting")
        .cloned()
        .unwrap_or(Value::Null);
    let flag = |key: &str| json::bool_at(&schedule, key) == Some(true);
    let pmi = json::str_at(&schedule, "require_password_for_pmi_meetings");
    let passcodes = flag("require_password_for_scheduling_new_meetings")
        && flag("require_password_for_instant_meetings")
        && pmi.as_deref().is_some_and(|p| p != "none");
    let in_meeting = json::at(settings, "in_meeting")
        .cloned()
        .unwrap_or(Value::Null);
    let waiting_room = json::bool_at(&in_meeting, "waiting_room");
    let embedded = json::bool_at(&schedule, "embed_password_in_join_link");
    vec![
        finding(
            "two-factor-sign-in",
            "Require two-factor authentication to sign in",
            Severity::High,
            two_factor.as_deref() == Some("all"),
            format!(
                "Sign in with Two-Factor Authentication is {}",
                two_factor.as_deref().unwrap_or("not reported")
            ),
            "In the Zoom web portal, Account Management → Account Settings → Security: turn on \
             Sign in with Two-Factor Authentication for all users in the account (or enforce \
             SSO with your identity provider's MFA).",
            &json!({
                "sign_in_with_two_factor_auth": two_factor,
                "sign_in_with_two_factor_auth_groups": json::at(security, "sign_in_with_two_factor_auth_groups"),
                "sign_in_with_two_factor_auth_roles": json::at(security, "sign_in_with_two_factor_auth_roles"),
            }),
        ),
        finding(
            "strong-sign-in-passwords",
            "Require strong sign-in passwords",
            Severity::Medium,
            strong,
            format!(
                "minimum length {}, number required {}, special character required {}",
                shown(&password, "minimum_password_length"),
                shown(&password, "have_number"),
                shown(&password, "have_special_character"),
            ),
            "Account Settings → Security → Password requirement: at least 8 characters with \
             a number and a special character.",
            &password,
        ),
        finding(
            "meeting-passcodes-required",
            "Require passcodes for meetings",
            Severity::High,
            passcodes,
            format!(
                "new meetings {}, instant meetings {}, personal meeting ID {}",
                shown(&schedule, "require_password_for_scheduling_new_meetings"),
                shown(&schedule, "require_password_for_instant_meetings"),
                shown(&schedule, "require_password_for_pmi_meetings"),
            ),
            "Account Settings → Meeting → Security: require a passcode when scheduling new \
             meetings, for instant meetings and for Personal Meeting ID meetings, and lock \
             the settings.",
            &json!({
                "require_password_for_scheduling_new_meetings": json::at(&schedule, "require_password_for_scheduling_new_meetings"),
                "require_password_for_instant_meetings": json::at(&schedule, "require_password_for_instant_meetings"),
                "require_password_for_pmi_meetings": pmi,
            }),
        ),
        finding(
            "waiting-room-on",
            "Turn on the waiting room",
            Severity::Medium,
            waiting_room == Some(true),
            format!("Waiting room is {}", shown(&in_meeting, "waiting_room")),
            "Account Settings → Meeting → Security: turn on Waiting Room so that hosts admit \
             participants, and lock the setting.",
            &json!({"waiting_room": waiting_room}),
        ),
        finding(
            "passcode-not-in-join-link",
            "Keep passcodes out of join links",
            Severity::Low,
            embedded == Some(false),
            format!(
                "Embed passcode in invite link for one-click join is {}",
                shown(&schedule, "embed_password_in_join_link")
            ),
            "Account Settings → Meeting → Security: turn off \"Embed passcode in invite link \
             for one-click join\", so a forwarded link alone does not admit anyone.",
            &json!({"embed_password_in_join_link": embedded}),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::fake;

    fn secure() -> (Value, Value) {
        (
            json!({
                "schedule_meeting": {
                    "require_password_for_scheduling_new_meetings": true,
                    "require_password_for_instant_meetings": true,
                    "require_password_for_pmi_meetings": "all",
                    "embed_password_in_join_link": false,
                },
                "in_meeting": {"waiting_room": true},
            }),
            json!({
                "sign_in_with_two_factor_auth": "all",
                "password_requirement": {"minimum_password_length": 10, "have_number": true,
                    "have_special_character": true, "have_letter": true},
            }),
        )
    }

    #[test]
    fn a_locked_down_account_passes_everything() {
        let (settings, security) = secure();
        let findings = judge(&settings, &security);
        assert_eq!(findings.len(), 5);
        assert!(findings.iter().all(|f| f.passed), "{findings:?}");
    }

    #[test]
    fn each_weak_setting_fails_its_finding() {
        let by = |f: &[Finding], id: &str| f.iter().find(|f| f.id == id).unwrap().clone();
        let (mut settings, mut security) = secure();
        security["sign_in_with_two_factor_auth"] = json!("role");
        security["password_requirement"]["minimum_password_length"] = json!(6);
        settings["schedule_meeting"]["require_password_for_pmi_meetings"] = json!("none");
        settings["in_meeting"]["waiting_room"] = json!(false);
        settings["schedule_meeting"]["embed_password_in_join_link"] = json!(true);
        let f = judge(&settings, &security);
        assert!(f.iter().all(|f| !f.passed), "{f:?}");
        assert!(by(&f, "two-factor-sign-in").detail.ends_with("is role"));
        assert_eq!(by(&f, "two-factor-sign-in").severity, Severity::High);
        // Unreported settings fail and say so.
        let f = judge(&json!({}), &json!({}));
        assert!(f.iter().all(|f| !f.passed));
        assert!(by(&f, "waiting-room-on").detail.contains("not reported"));
    }

    #[test]
    fn reads_both_settings_options() {
        let (settings, security) = secure();
        let host = fake::zoom(vec![
            (
                "https://api.zoom.test/v2/accounts/me/settings".into(),
                fake::json(&settings),
            ),
            (
                "https://api.zoom.test/v2/accounts/me/settings?option=security".into(),
                fake::json(&json!({"security": security})),
            ),
        ]);
        let (result, host) = host.run(|| findings(&fake::ctx(10, None)));
        assert!(result.unwrap().iter().all(|f| f.passed));
        assert_eq!(host.requests().len(), 2);
    }
}
