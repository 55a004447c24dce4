//! The GitHub connector: one GitHub organisation through the REST API.
//!
//! Works against github.com, GitHub Enterprise Cloud and GitHub Enterprise Server
//! (`base_url` = `https://HOST/api/v3`). Each export lives in its own module and is
//! mostly "map GitHub's JSON to Sluice records"; requests, paging and error mapping
//! come from `sluice-sdk`, and the GitHub-specific request conventions from `api`.
//!
//! | export | GitHub API |
//! |---|---|
//! | `check` | `GET /user`, `GET /orgs/{org}` |
//! | `list-users` | org owners, members, outside collaborators |
//! | `list-groups` | teams and their members |
//! | `list-activities` | the organisation audit log |
//! | `list-app-permissions` | SAML credential authorizations, GitHub App installations |
//! | `posture` | organisation settings |
//! | `act` | remove outside collaborator, revoke credential authorization |

mod actions;
mod api;
mod app_permissions;
mod audit_log;
mod check;
mod members;
mod posture;
mod teams;

use sluice_sdk::prelude::*;

/// The one auth option, and what `context.auth` reports.
const AUTH_ID: &str = "token";
/// How operators see [`AUTH_ID`].
const AUTH_LABEL: &str = "Personal access token or GitHub App token";

/// The connector; stateless, as every Sluice connector is. Public so `just bench`
/// can run the same mapping natively as its baseline.
pub struct GitHub;

sluice_sdk::connector!(GitHub {
    describe: describe,
    check: check::check,
    list_users: members::list,
    list_groups: teams::list,
    list_activities: audit_log::list,
    list_app_permissions: app_permissions::list,
    posture: posture::findings,
    act: actions::act,
});

/// What the operator sees before connecting an organisation.
fn describe() -> ConnectorInfo {
    ConnectorInfo {
        capabilities: [
            &Capability::DIRECTORY[..],
            &Capability::ACTIVITY,
            &[Capability::AppPermissions, Capability::Posture],
        ]
        .concat(),
        // GitHub keeps the organisation audit log for 180 days (Git events: 7).
        max_look_back_days: Some(180),
        // The audit log search takes `created:A..B`, so a first scan may be fetched as
        // time ranges side by side.
        activity_partitions: true,
        actions: vec![
            ActionKind::RemoveCollaborator,
            ActionKind::RevokeAppPermission,
        ],
        config: vec![
            ConfigField::new("org", "Organization")
                .required()
                .example("acme")
                .description("The organization's login, as in https://github.com/acme."),
            ConfigField::new("base_url", "API base URL")
                .default(api::DEFAULT_BASE_URL)
                .example("https://github.example.com/api/v3")
                .description(
                    "REST API root. Leave unset for github.com; GitHub Enterprise Server \
                     uses https://HOST/api/v3; also for data-residency clouds and mocks.",
                ),
            ConfigField::new("token", "Personal access token or GitHub App token")
                .required()
                .secret()
                .description(
                    "An organization owner's token. Classic tokens need read:org \
                     (admin:org for posture, app permissions and actions) and \
                     read:audit_log for activities.",
                ),
        ],
        auth: vec![AuthOption::new(
            AUTH_ID,
            AUTH_LABEL,
            AuthScheme::Bearer(BearerAuth {
                token_field: "token".into(),
            }),
        )],
        egress: vec!["{base_url}".into()],
        rate_limits: vec![RateLimit {
            scope: "*".into(),
            requests: 5000,
            per_seconds: 3600,
            burst: 100,
            max_concurrency: 4,
        }],
        ..ConnectorInfo::new(
            "github",
            "GitHub",
            env!("CARGO_PKG_VERSION"),
            "GitHub, Inc.",
            "Members, outside collaborators, teams, the organisation audit log, \
                      SAML credential authorizations and GitHub App installations, and \
                      organisation security settings of one GitHub organisation \
                      (github.com, Enterprise Cloud or Enterprise Server). Can remove \
                      outside collaborators and revoke credential authorizations.",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_declares_what_the_connector_does() {
        let info = describe();
        assert_eq!(info.id, "github");
        assert_eq!(info.version, "0.1.0");
        assert_eq!(info.egress, vec!["{base_url}".to_owned()]);
        assert_eq!(sluice_sdk::testing::secret_fields(&info), ["token"]);
        assert!(matches!(&info.auth[0].scheme, AuthScheme::Bearer(b) if b.token_field == "token"));
    }
}
