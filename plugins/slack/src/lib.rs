//! The Slack connector: one Slack workspace or Enterprise Grid organisation through
//! the Web API (`https://slack.com/api/…`), the Audit Logs API and the SCIM API (both
//! on `https://api.slack.com/…`), authenticated with a user or bot token
//! (`Authorization: Bearer xoxp-…`, injected by the host).
//!
//! Each export lives in its own module and is "map Slack's JSON to Sluice records";
//! requests and paging come from `sluice-sdk`, Slack's conventions (two API roots,
//! `ok: false` answers, `response_metadata.next_cursor`) from `api`.
//!
//! | export | Slack API |
//! |---|---|
//! | `check` | `auth.test` (scopes from its `x-oauth-scopes` header) |
//! | `list-users` | `users.list` (admins, owners, primary owner and Grid org roles from the user objects) |
//! | `list-groups` | `usergroups.list?include_users=true` (`usergroups.users.list` when a group comes without its members) |
//! | `list-activities` | Audit Logs API `GET /audit/v1/logs` (sign-ins, user and admin activity) |
//! | `list-app-permissions` | `admin.apps.approved.list`, `admin.apps.restricted.list` |
//! | `act` | deactivate (SCIM `DELETE /scim/v1/Users/{id}`), reactivate (SCIM `PATCH`), `admin.users.session.reset` |

mod actions;
mod api;
mod apps;
mod audit;
mod check;
mod groups;
mod users;

use sluice_sdk::prelude::*;

/// The one auth option, and what `context.auth` reports.
const AUTH_ID: &str = "token";

/// The connector; stateless, as every Sluice connector is.
pub struct Slack;

sluice_sdk::connector!(Slack {
    describe: describe,
    check: check::check,
    list_users: users::list,
    list_groups: groups::list,
    list_activities: audit::list,
    list_app_permissions: apps::list,
    act: actions::act,
});

/// What the operator sees before connecting a workspace or organisation.
fn describe() -> ConnectorInfo {
    ConnectorInfo {
        // Slack documents no retention limit for the Audit Logs API (data goes back
        // to March 2018), so the operator's look-back is not capped here.
        max_look_back_days: None,
        capabilities: [
            &Capability::DIRECTORY[..],
            &Capability::ACTIVITY,
            &[Capability::AppPermissions],
        ]
        .concat(),
        actions: vec![
            ActionKind::SuspendUser,
            ActionKind::UnsuspendUser,
            ActionKind::RevokeSessions,
        ],
        config: vec![
            ConfigField::new("token", "Slack token")
                .required()
                .secret()
                .description(
                    "A user token (xoxp-…) of an org owner (Enterprise Grid) or workspace \
                     owner/admin, or a bot token (xoxb-…) for the directory only. Scopes: \
                     users:read, users:read.email, usergroups:read, auditlogs:read, \
                     admin.apps:read, admin (SCIM deactivation), admin.users:write \
                     (session resets). `sluice connect` lists what is missing.",
                ),
            ConfigField::new("team_id", "Workspace id")
                .example("T012AB3C4")
                .description(
                    "Enterprise Grid only: the workspace (T…) whose users, user groups and \
                     app approvals to list with an org-level token. Leave empty for a \
                     single workspace's token.",
                ),
            ConfigField::new("api_url", "Web API base URL")
                .default("https://slack.com/api")
                .description("Where Slack's Web API methods live."),
            ConfigField::new("admin_api_url", "Audit Logs and SCIM API base URL")
                .default("https://api.slack.com")
                .description(
                    "The host of the Audit Logs API (`/audit/v1/logs`) and the SCIM API \
                     (`/scim/v1/Users`), which Slack serves apart from the Web API.",
                ),
        ],
        auth: vec![AuthOption::new(
            AUTH_ID,
            "Bearer token (xoxp-/xoxb-)",
            AuthScheme::Bearer(BearerAuth {
                token_field: "token".into(),
            }),
        )],
        egress: vec!["{api_url}".into(), "{admin_api_url}".into()],
        // Slack rates each Web API method by tier (docs.slack.dev/apis/web-api/rate-limits):
        // Tier 2 ≈ 20+/min (users.list, usergroups.list, team.accessLogs), Tier 3 ≈
        // 50+/min, Tier 4 ≈ 100+/min, all "with sporadic bursts". The host budgets per API
        // host, not per method, so the Web API host gets the Tier 3 rate that a scan
        // mixing Tier 2 and Tier 3 methods can draw on; a method over its own tier
        // answers 429 with `Retry-After`, which the host honours. The Audit Logs API is
        // Tier 3 (50/min) computed organisation-wide, and SCIM shares its host.
        rate_limits: vec![
            RateLimit {
                scope: "{api_url}".into(),
                requests: 50,
                per_seconds: 60,
                burst: 20,
                max_concurrency: 2,
            },
            RateLimit {
                scope: "{admin_api_url}".into(),
                requests: 50,
                per_seconds: 60,
                burst: 20,
                max_concurrency: 2,
            },
        ],
        ..ConnectorInfo::new(
            "slack",
            "Slack",
            env!("CARGO_PKG_VERSION"),
            "Slack Technologies (Salesforce)",
            "Members with their admin, owner and guest roles, user groups and their \
             members, the Audit Logs API (sign-ins, user and admin activity) and the \
             organisation's approved and restricted apps of one Slack workspace or \
             Enterprise Grid organisation. Can deactivate and reactivate members (SCIM) \
             and reset a member's sessions.",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_declares_what_the_connector_does() {
        let info = describe();
        assert_eq!(info.id, "slack");
        assert_eq!(info.egress, ["{api_url}", "{admin_api_url}"]);
        assert_eq!(sluice_sdk::testing::secret_fields(&info), ["token"]);
        assert!(matches!(&info.auth[0].scheme, AuthScheme::Bearer(b) if b.token_field == "token"));
        let scopes: Vec<_> = info.rate_limits.iter().map(|r| r.scope.as_str()).collect();
        assert_eq!(scopes, ["{api_url}", "{admin_api_url}"]);
        for capability in [
            Capability::Accounts,
            Capability::Privileges,
            Capability::LogonActivity,
            Capability::UserActivity,
            Capability::AdminActivity,
        ] {
            assert!(info.capabilities.contains(&capability), "{capability:?}");
        }
        assert!(!info.capabilities.contains(&Capability::Files));
    }
}
