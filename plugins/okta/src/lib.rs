//! The Okta connector: one Okta org through the Management API, authenticated with an
//! API token (`Authorization: SSWS <token>`, injected by the host).
//!
//! Each export lives in its own module and is mostly "map Okta's JSON to Sluice
//! records"; requests, `Link` paging and error mapping come from `sluice-sdk`, the
//! Okta conventions from `api`.
//!
//! | export | Okta API |
//! |---|---|
//! | `check` | `GET /api/v1/users/me`, `GET /api/v1/users/{id}/roles` |
//! | `list-users` | `GET /api/v1/users` (+ deprovisioned), `GET /api/v1/iam/assignees/users`, `…/roles` |
//! | `list-groups` | `GET /api/v1/groups`, `GET /api/v1/groups/{id}/users` |
//! | `list-activities` | the System Log, `GET /api/v1/logs` (polling) |
//! | `list-app-permissions` | `GET /api/v1/apps`, `GET /api/v1/apps/{id}/grants` |
//! | `act` | suspend, unsuspend, clear sessions |

mod actions;
mod api;
mod check;
mod grants;
mod groups;
mod logs;
mod users;

use sluice_sdk::prelude::*;

/// The one auth option, and what `context.auth` reports.
const AUTH_ID: &str = "api-token";
/// How operators see [`AUTH_ID`].
const AUTH_LABEL: &str = "API token";

/// The connector; stateless, as every Sluice connector is.
pub struct Okta;

sluice_sdk::connector!(Okta {
    describe: describe,
    check: check::check,
    list_users: users::list,
    list_groups: groups::list,
    list_activities: logs::list,
    list_app_permissions: grants::list,
    act: actions::act,
});

/// What the operator sees before connecting an org.
fn describe() -> ConnectorInfo {
    ConnectorInfo {
        max_look_back_days: Some(90),
        // The System Log takes `since` and `until`, so a first scan may be fetched as
        // time ranges side by side.
        activity_partitions: true,
        capabilities: [
            &Capability::DIRECTORY[..],
            &Capability::ACTIVITY,
            &[Capability::AppPermissions],
        ]
        .concat(),
        actions: vec![
            ActionKind::SuspendUser,
            ActionKind::UnsuspendUser,
            ActionKind::RequireSignIn,
            ActionKind::RemoveGroupMember,
        ],
        config: vec![
            ConfigField::new("domain", "Okta org URL")
                .required()
                .example("https://acme.okta.com")
                .description(
                    "The org's URL as in the Admin Console address without `-admin` \
                     (https://acme.okta.com, https://acme.oktapreview.com or a custom \
                     domain).",
                ),
            ConfigField::new("api_token", "API token")
                .required()
                .secret()
                .description(
                    "An API token (Security → API → Tokens) created by an admin: a \
                     read-only admin can scan; the actions need a super, org or group \
                     admin.",
                ),
        ],
        auth: vec![AuthOption::new(
            AUTH_ID,
            AUTH_LABEL,
            AuthScheme::ApiKey(ApiKeyHeader {
                header: "authorization".into(),
                prefix: "SSWS ".into(),
                key_field: "api_token".into(),
            }),
        )],
        egress: vec!["{domain}".into()],
        // Okta's Management API rate limits are per org, per endpoint and per minute
        // (developer.okta.com/docs/reference/rl-global-mgmt/, Workforce orgs):
        // `/api/v1/users` 600/min, `/api/v1/groups` 500/min, `/api/v1/logs` 120/min.
        // Budgets here apply per host, not per path, so the default is the users
        // limit that most of a scan draws on; the System Log's lower limit arrives in
        // its `X-Rate-Limit-*` headers, which the host's limiter follows.
        rate_limits: vec![RateLimit {
            scope: "*".into(),
            requests: 600,
            per_seconds: 60,
            burst: 50,
            max_concurrency: 4,
        }],
        ..ConnectorInfo::new(
            "okta",
            "Okta",
            env!("CARGO_PKG_VERSION"),
            "Okta, Inc.",
            "Users (with lifecycle status and admin roles), groups and their \
                      members, the System Log (sign-ins, user and admin activity) and \
                      the OAuth scope grants of apps in one Okta org. Can suspend and \
                      unsuspend users and end a user's sessions.",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_declares_what_the_connector_does() {
        let info = describe();
        assert_eq!(info.id, "okta");
        assert_eq!(info.egress, ["{domain}"]);
        assert_eq!(sluice_sdk::testing::secret_fields(&info), ["api_token"]);
        assert!(matches!(&info.auth[0].scheme, AuthScheme::ApiKey(k)
            if k.header == "authorization" && k.prefix == "SSWS " && k.key_field == "api_token"));
        assert!(!info.capabilities.contains(&Capability::Posture));
        assert!(!info.capabilities.contains(&Capability::Files));
    }
}
