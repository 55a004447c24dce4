//! `posture`: Salesforce Health Check as findings, through the Tooling API.
//!
//! - `SELECT Id, DurableId, Score, CustomBaselineId, CreatedDate FROM
//!   SecurityHealthCheck`: the org's score (0 to 100) against the baseline; one finding
//!   `health-check-score`, passed at [`PASSING_SCORE`] or more (Salesforce calls 80–89
//!   "Very Good", 70–79 "Good" and below that "Poor" or "Very Poor").
//! - `SELECT DurableId, Setting, SettingGroup, SettingRiskCategory, RiskType, OrgValue,
//!   StandardValue FROM SecurityHealthCheckRisks`: one finding per setting, passed when
//!   its `RiskType` is `MEETS_STANDARD`; the severity is the setting's
//!   `SettingRiskCategory` (`HIGH_RISK` high, `MEDIUM_RISK` medium, `LOW_RISK` low,
//!   `INFORMATIONAL` info).
//!
//! Both objects need "View Setup and Configuration".

use sluice_sdk::prelude::*;

use crate::api::Api;

/// Health Check scores from here up pass ("Good" and better).
pub const PASSING_SCORE: i64 = 70;

/// Findings read per call: Health Check has a few dozen settings.
const MAX_BATCHES: usize = 10;

/// The org's Health Check findings.
pub fn posture(ctx: &Context) -> Result<Vec<Finding>, ConnectorError> {
    let api = Api::new(ctx)?;
    let (scores, _) = api.all(
        api.tooling_query_url(
            "SELECT Id, DurableId, Score, CustomBaselineId, CreatedDate FROM SecurityHealthCheck",
        ),
        MAX_BATCHES,
    )?;
    let (risks, _) = api.all(
        api.tooling_query_url(
            "SELECT DurableId, Setting, SettingGroup, SettingRiskCategory, RiskType, OrgValue, \
             StandardValue FROM SecurityHealthCheckRisks",
        ),
        MAX_BATCHES,
    )?;
    let mut findings: Vec<Finding> = scores.iter().take(1).filter_map(score).collect();
    findings.extend(json::map_items(&risks, "Health Check settings", risk));
    Ok(findings)
}

/// The finding of a `SecurityHealthCheck` record.
pub fn score(value: &Value) -> Option<Finding> {
    let score = json::at(value, "Score").and_then(|s| match s {
        Value::Number(n) => n.as_f64(),
        Value::String(t) => t.trim().parse().ok(),
        _ => None,
    })? as i64;
    Some(Finding {
        detail: format!("Health Check score {score} of 100 against the org's baseline"),
        remediation: "Setup → Health Check: fix the settings that are high and medium risk \
                      (the other findings), or adopt a stricter baseline"
            .into(),
        ..Finding::new(
            "health-check-score",
            "Keep the Salesforce Health Check score at 70 or more",
            Severity::Medium,
            score >= PASSING_SCORE,
            json::raw(value),
        )
    })
}

/// The finding of a `SecurityHealthCheckRisks` record; none without a setting.
pub fn risk(value: &Value) -> Option<Finding> {
    let setting = json::str_at(value, "Setting")?;
    let group = json::str_at(value, "SettingGroup").unwrap_or_default();
    let id = json::str_at(value, "DurableId").unwrap_or_else(|| setting.clone());
    let org = json::str_at(value, "OrgValue").unwrap_or_else(|| "(not set)".into());
    let standard = json::str_at(value, "StandardValue").unwrap_or_else(|| "(none)".into());
    let severity = match json::str_at(value, "SettingRiskCategory").as_deref() {
        Some("HIGH_RISK") => Severity::High,
        Some("MEDIUM_RISK") => Severity::Medium,
        Some("LOW_RISK") => Severity::Low,
        _ => Severity::Info,
    };
    let passed = json::str_at(value, "RiskType").as_deref() == Some("MEETS_STANDARD");
    let risk = json::str_at(value, "RiskType").unwrap_or_default();
    Some(Finding {
        detail: format!("{group}: {setting} is `{org}`; the standard is `{standard}` ({risk})"),
        remediation: format!("Setup → {group}: set {setting} to {standard}"),
        ..Finding::new(
            format!("health-check:{id}"),
            format!("{group}: {setting}"),
            severity,
            passed,
            json::raw(value),
        )
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn risks_and_scores_become_findings() {
        let f = risk(&json!({
            "DurableId": "PasswordPolicies.minPasswordLength", "Setting": "Minimum password length",
            "SettingGroup": "Password Policies", "SettingRiskCategory": "HIGH_RISK",
            "RiskType": "HIGH_RISK", "OrgValue": "5 characters", "StandardValue": "8 characters",
        }))
        .unwrap();
        assert_eq!(f.id, "health-check:PasswordPolicies.minPasswordLength");
        assert_eq!((f.severity, f.passed), (Severity::High, false));
        assert!(f.detail.contains("5 characters") && f.remediation.contains("8 characters"));
        let ok = risk(&json!({"Setting": "x", "RiskType": "MEETS_STANDARD", "SettingRiskCategory": "LOW_RISK"}))
            .unwrap();
        assert!(ok.passed);
        assert!(score(&json!({"Score": "86"})).unwrap().passed);
        assert!(!score(&json!({"Score": 55})).unwrap().passed);
    }
}
