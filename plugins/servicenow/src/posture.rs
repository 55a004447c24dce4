//! `posture`: the instance's security properties judged against ServiceNow's own
//! "Instance security hardening settings" (the provider docs' SSPM cell).
//!
//! One query reads them all: `sys_properties?sysparm_query=nameIN<names>`. A property
//! missing from `sys_properties` has the platform's fallback where the hardening page
//! documents one (`glide.ui.session_timeout` falls back to 30 minutes,
//! `glide.security.use_csrf_token` to true), and is "not set" otherwise, which fails
//! its finding as the hardening page asks for the property to exist. Reading
//! `sys_properties` takes the `admin` role; when it is refused every finding fails
//! with ServiceNow's refusal, since "unknown" is not a state an operator can sign off.
//!
//! | finding | property | passes when |
//! |---|---|---|
//! | `mfa-enforced` | `glide.authenticate.multifactor` | `true` |
//! | `mfa-setup-bypass` | `glide.authenticate.multifactor.setup.bypass.count` | `0` |
//! | `password-policy` | `glide.enable.password_policy` | `true` |
//! | `basic-auth-restricted` | `glide.authenticate.basic_auth.restriction.active` | `true` |
//! | `csrf-token` | `glide.security.use_csrf_token` | `true` (the default) |
//! | `session-timeout` | `glide.ui.session_timeout` | at most 30 minutes (the default) |

use std::collections::BTreeMap;

use serde_json::json;
use sluice_sdk::prelude::*;

use crate::api::{self, Api};

/// What a property's value must be.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// Exactly this text.
    Is(&'static str),
    /// A whole number no larger than this.
    AtMost(i64),
}

/// One hardening setting.
struct Setting {
    id: &'static str,
    property: &'static str,
    title: &'static str,
    severity: Severity,
    want: Want,
    /// The platform's value while the property is not in `sys_properties`.
    fallback: Option<&'static str>,
    remediation: &'static str,
}

const SETTINGS: &[Setting] = &[
    Setting {
        id: "mfa-enforced",
        property: "glide.authenticate.multifactor",
        title: "Enforce role-based multi-factor authentication",
        severity: Severity::High,
        want: Want::Is("true"),
        fallback: None,
        remediation: "Set glide.authenticate.multifactor to true (System Properties, as \
                      security_admin) and list the admin, security_admin and user_admin roles \
                      in Multi-factor Criteria [multi_factor_criteria].",
    },
    Setting {
        id: "mfa-setup-bypass",
        property: "glide.authenticate.multifactor.setup.bypass.count",
        title: "Allow no bypasses of multi-factor setup",
        severity: Severity::Medium,
        want: Want::Is("0"),
        fallback: None,
        remediation: "Set glide.authenticate.multifactor.setup.bypass.count to 0 so users \
                      cannot skip setting up multi-factor authentication.",
    },
    Setting {
        id: "password-policy",
        property: "glide.enable.password_policy",
        title: "Enforce the password policy on password changes",
        severity: Severity::High,
        want: Want::Is("true"),
        fallback: None,
        remediation: "Add glide.enable.password_policy to System Properties [sys_properties] \
                      with the value true.",
    },
    Setting {
        id: "basic-auth-restricted",
        property: "glide.authenticate.basic_auth.restriction.active",
        title: "Restrict basic authentication to allowed API access paths",
        severity: Severity::Medium,
        want: Want::Is("true"),
        fallback: None,
        remediation: "Set glide.authenticate.basic_auth.restriction.active to true and allow \
                      basic auth only for the roles and users that need it.",
    },
    Setting {
        id: "csrf-token",
        property: "glide.security.use_csrf_token",
        title: "Use the anti-CSRF token",
        severity: Severity::High,
        want: Want::Is("true"),
        fallback: Some("true"),
        remediation: "Set glide.security.use_csrf_token to true (as security_admin).",
    },
    Setting {
        id: "session-timeout",
        property: "glide.ui.session_timeout",
        title: "Time out inactive sessions within 30 minutes",
        severity: Severity::Medium,
        want: Want::AtMost(30),
        fallback: Some("30"),
        remediation: "Set glide.ui.session_timeout to 30 (minutes) or less, or delete the \
                      property to fall back to 30.",
    },
];

/// All findings for the instance.
pub fn findings(ctx: &Context) -> Result<Vec<Finding>, ConnectorError> {
    let api = Api::new(ctx)?;
    let names: Vec<&str> = SETTINGS.iter().map(|s| s.property).collect();
    let query = format!("nameIN{}", names.join(","));
    let request = api.list(
        "sys_properties",
        Some("sys_id,name,value,type,sys_updated_on,sys_updated_by"),
        Some(&query),
        api::MAX_PAGE_SIZE,
    );
    let response = request.send()?;
    if response.status() == 403 {
        let why = format!(
            "Could not be judged: reading System Properties [sys_properties] was refused \
             (HTTP 403 {}); it takes the `admin` role.",
            api::error_text(&response)
        );
        return Ok(SETTINGS.iter().map(|s| unreadable(s, &why)).collect());
    }
    let (rows, _) = api::page_of(&response.error_for_status()?)?;
    let by_name: BTreeMap<String, Value> = rows
        .into_iter()
        .filter_map(|row| Some((api::text(&row, "name")?, row)))
        .collect();
    Ok(SETTINGS
        .iter()
        .map(|s| judge(s, by_name.get(s.property)))
        .collect())
}

/// A failing finding for a setting that could not be read.
fn unreadable(setting: &Setting, why: &str) -> Finding {
    Finding {
        detail: why.to_owned(),
        remediation: setting.remediation.into(),
        ..Finding::new(
            setting.id,
            setting.title,
            setting.severity,
            false,
            json!({"name": setting.property, "readable": false}).to_string(),
        )
    }
}

/// The finding for `setting` given its `sys_properties` row, if any.
fn judge(setting: &Setting, row: Option<&Value>) -> Finding {
    let stored = row.map(|r| api::text(r, "value").unwrap_or_default());
    let (value, source) = match (&stored, setting.fallback) {
        (Some(value), _) => (Some(value.trim().to_owned()), "is set to"),
        (None, Some(fallback)) => (Some(fallback.to_owned()), "is not set; the platform uses"),
        (None, None) => (None, "is not set"),
    };
    let passed = value.as_deref().is_some_and(|v| match setting.want {
        Want::Is(wanted) => v.eq_ignore_ascii_case(wanted),
        Want::AtMost(max) => v.parse::<i64>().is_ok_and(|n| n > 0 && n <= max),
    });
    let wanted = match setting.want {
        Want::Is(wanted) => format!("`{wanted}`"),
        Want::AtMost(max) => format!("at most `{max}`"),
    };
    let detail = match &value {
        Some(v) => format!(
            "{} {source} `{v}`; ServiceNow's hardening settings recommend {wanted}.",
            setting.property
        ),
        None => format!(
            "{} {source}; ServiceNow's hardening settings recommend {wanted}.",
            setting.property
        ),
    };
    let raw = row.map_or_else(
        || json!({"name": setting.property, "value": null}).to_string(),
        json::raw,
    );
    Finding {
        detail,
        remediation: setting.remediation.into(),
        ..Finding::new(setting.id, setting.title, setting.severity, passed, raw)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake;

    fn url() -> String {
        let names = SETTINGS
            .iter()
            .map(|s| s.property)
            .collect::<Vec<_>>()
            .join("%2C");
        fake::table(&format!(
            "sys_properties?sysparm_query=nameIN{names}&sysparm_fields=sys_id%2Cname%2Cvalue%2Ctype%2Csys_updated_on%2Csys_updated_by&sysparm_limit=1000&sysparm_offset=0"
        ))
    }

    fn row(name: &str, value: &str) -> Value {
        json!({"sys_id": name.len().to_string(), "name": name, "value": value, "type": "string"})
    }

    #[test]
    fn properties_pass_or_fail_against_the_hardening_settings() {
        let host = fake::instance(vec![(
            url(),
            fake::page(
                json!([
                    row("glide.authenticate.multifactor", "true"),
                    row("glide.authenticate.multifactor.setup.bypass.count", "3"),
                    row("glide.enable.password_policy", "true"),
                    row("glide.ui.session_timeout", "240"),
                ]),
                None,
            ),
        )]);
        let (result, _) = host.run(|| findings(&fake::ctx(100, None)));
        let findings = result.unwrap();
        let passed: Vec<(&str, bool)> =
            findings.iter().map(|f| (f.id.as_str(), f.passed)).collect();
        assert_eq!(
            passed,
            [
                ("mfa-enforced", true),
                ("mfa-setup-bypass", false),
                ("password-policy", true),
                // Not in sys_properties and no fallback: not set.
                ("basic-auth-restricted", false),
                // Not in sys_properties: the platform's default, true.
                ("csrf-token", true),
                ("session-timeout", false),
            ]
        );
        assert!(
            findings[5].detail.contains("`240`"),
            "{}",
            findings[5].detail
        );
        assert!(
            findings[4]
                .detail
                .contains("is not set; the platform uses `true`")
        );
        assert_eq!(
            serde_json::from_str::<Value>(&findings[0].raw).unwrap()["value"],
            "true"
        );
    }

    #[test]
    fn a_refused_table_fails_every_finding_with_the_reason() {
        let host = fake::instance(vec![(
            url(),
            fake::error(
                403,
                "User Not Authorized",
                "Failed API level ACL Validation",
            ),
        )]);
        let (result, _) = host.run(|| findings(&fake::ctx(100, None)));
        let findings = result.unwrap();
        assert_eq!(findings.len(), SETTINGS.len());
        assert!(findings.iter().all(|f| !f.passed
            && f.detail.contains("User Not Authorized")
            && f.detail.contains("`admin`")));
    }
}
