//! `posture`: the repository's settings judged against common recommendations.
//!
//! Both findings come from `GET /v1/Repository/{id}/info`. Whether the repository
//! signs people in through its identity provider is assumed to be reported as
//! `federatedIdentity.enabled` (see the crate docs); when the info does not say, the
//! "Adopt SSO" finding fails with a detail saying it could not be confirmed, since
//! "unknown" is not a state an operator can sign off.

use sluice_sdk::prelude::*;

use crate::api::{self, Api};

/// Administrators a repository should need at most; more is standing privilege that
/// an attacker can take over.
pub const MAX_ADMINISTRATORS: usize = 3;

/// All findings for the repository.
pub fn findings(ctx: &Context) -> Result<Vec<Finding>, ConnectorError> {
    let api = Api::new(ctx)?;
    let info = api.repository_info()?;
    Ok(vec![adopt_sso(&api, &info), few_administrators(&info)])
}

/// Single sign-on through the organisation's identity provider.
fn adopt_sso(api: &Api, info: &Value) -> Finding {
    let enabled = json::bool_at(info, "/federatedIdentity/enabled");
    let required = json::bool_at(info, "/federatedIdentity/required");
    Finding {
        id: "adopt-sso".into(),
        title: "Adopt SSO".into(),
        severity: Severity::High,
        passed: enabled == Some(true),
        detail: match (enabled, required) {
            (Some(true), Some(true)) => {
                "Federated sign-in is enabled and required for the repository's users.".into()
            }
            (Some(true), _) => "Federated sign-in is enabled; NetDocuments passwords may \
                                still be allowed for some users."
                .into(),
            (Some(false), _) => "Users sign in with NetDocuments passwords: federated \
                                 identity (SSO) is not enabled."
                .into(),
            (None, _) => "The repository information does not say whether federated \
                          identity is enabled, so SSO could not be confirmed."
                .into(),
        },
        remediation: format!(
            "In https://{}: Repository administration → Federated Identity: connect the \
             organisation's identity provider (SAML 2.0) and require it for all internal \
             users.",
            api.region().service_host
        ),
        raw: json::raw(info),
    }
}

/// At most [`MAX_ADMINISTRATORS`] repository administrators.
fn few_administrators(info: &Value) -> Finding {
    let admins = api::ids_at(info, "administrators");
    let listed = json::at(info, "administrators").is_some();
    Finding {
        id: "few-repository-administrators".into(),
        title: "Keep repository administrators few".into(),
        severity: Severity::Medium,
        passed: listed && admins.len() <= MAX_ADMINISTRATORS,
        detail: if listed {
            format!(
                "{} repository administrator(s); at most {MAX_ADMINISTRATORS} recommended.",
                admins.len()
            )
        } else {
            "The repository information lists no administrators, so their number could \
             not be confirmed."
                .into()
        },
        remediation: "Repository administration → Administrators: remove the \
                      administrator right from everyone who does not manage the \
                      repository day to day."
            .into(),
        raw: json::raw(info),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake;

    fn judge(info: Value) -> Vec<(String, bool, String)> {
        let host = fake::netdocuments(vec![(
            "https://nd.test/v1/Repository/CA-TEST/info".into(),
            fake::json(&info),
        )]);
        let (result, _) = host.run(|| findings(&fake::ctx(100, None)));
        result
            .unwrap()
            .into_iter()
            .map(|f| (f.id, f.passed, f.detail))
            .collect()
    }

    #[test]
    fn judges_sso_and_administrators() {
        let results = judge(json!({
            "id": "CA-TEST",
            "administrators": ["U-1", "U-2", "U-3", "U-4"],
            "federatedIdentity": {"enabled": true, "required": true},
        }));
        assert_eq!(
            results
                .iter()
                .map(|(id, p, _)| (id.as_str(), *p))
                .collect::<Vec<_>>(),
            [
                ("adopt-sso", true),
                ("few-repository-administrators", false)
            ]
        );
        assert!(results[1].2.starts_with("4 repository"), "{}", results[1].2);
    }

    #[test]
    fn settings_the_info_does_not_show_fail_and_say_why() {
        let results = judge(json!({"id": "CA-TEST"}));
        assert!(results.iter().all(|(_, passed, _)| !passed));
        assert!(
            results[0].2.contains("could not be confirmed"),
            "{}",
            results[0].2
        );
    }
}
