//! The Atlassian connector: one Atlassian Cloud organization through the
//! Organizations REST API at `https://api.atlassian.com/admin`. The host authenticates
//! every request with the organization's API key as a bearer token
//! (`Authorization: Bearer <api_key>`); the connector never sees it.
//!
//! | export | Organizations REST API | provider docs' table |
//! |---|---|---|
//! | `check` | `GET /admin/v1/orgs/{orgId}`, then one `limit=1` read per capability (see `check`) | — |
//! | `list-users` (accounts, privileges) | `GET /admin/v2/orgs/{orgId}/directories/-/users` (`platformRoles`) | yes, blank: beyond the table |
//! | `list-groups` | `GET /admin/v2/orgs/{orgId}/directories/-/groups`, members by `…/users?groupIds=` | blank: beyond the table |
//! | `list-activities` (logon, user, admin) | `GET /admin/v1/orgs/{orgId}/events-stream` | yes, yes, yes |
//! | `act` suspend / unsuspend user | `POST /admin/v1/orgs/{orgId}/directory/users/{accountId}/suspend-access`, `…/restore-access` | blank: beyond the table |
//!
//! One API and one auth scheme cover every cell: the organization API has users,
//! groups (so the Jira Cloud platform API, which needs basic auth `{email}:{api_token}`
//! on each site, is not used) and the audit log.
//!
//! Requirements, in Atlassian's words: the Organizations REST API is for an
//! "Organization admin" and authenticates with an API key created under Settings → API
//! keys. The users, groups and events endpoints need an API key *without* scopes (the
//! events endpoints' scopes read "Not supported (use API Key without scopes)").
//! Suspend and restore access are "available for customers using the new user
//! management experience only". `check` reports each missing capability with
//! Atlassian's answer.
//!
//! Rate limits: Atlassian says "all API requests are subjected to rate limits" and
//! answers over them with 429 and `X-RateLimit-Limit`, `X-RateLimit-Remaining` and
//! `X-RateLimit-Reset` (an ISO 8601 time), which the host's limiter follows, and
//! `Retry-After`, which it waits out. It publishes a number only for the filtered
//! `/events` query (10 requests a minute per user and per path), which this connector
//! does not use. The default budget, 100 requests a minute with bursts of 10, is a
//! choice, not a published figure; the headers correct it.
//!
//! Look-back: the audit log's retention depends on the organization's plan and is not
//! published per API, so `max-look-back-days` is unset.

mod actions;
mod api;
mod check;
mod events;
mod groups;
mod users;

use sluice_sdk::prelude::*;

/// The connector; stateless, as every Sluice connector is.
pub struct Atlassian;

sluice_sdk::connector!(Atlassian {
    describe: describe,
    check: check::check,
    list_users: users::list,
    list_groups: groups::list,
    list_activities: events::list,
    act: actions::act,
});

/// What the operator sees before connecting an organization.
fn describe() -> ConnectorInfo {
    ConnectorInfo {
        capabilities: [&Capability::DIRECTORY[..], &Capability::ACTIVITY].concat(),
        actions: vec![ActionKind::SuspendUser, ActionKind::UnsuspendUser],
        config: vec![
            ConfigField::new("org_id", "Organization ID")
                .required()
                .example("6665kc2j-4644-14k8-j32c-68ak2f6kc0g7")
                .description(
                    "Your organization's ID, shown in the Atlassian Administration URL and \
                     when you create an API key.",
                ),
            ConfigField::new("directory_id", "Directory ID")
                .default("-")
                .description("The directory to read; `-` (the default) reads every directory."),
            ConfigField::new("base_url", "API base URL")
                .default("https://api.atlassian.com")
                .description("Change it only for a test organization."),
            ConfigField::new("api_key", "API key").secret().description(
                "An organization API key without scopes (Atlassian Administration → \
                     Settings → API keys), created by an organization admin.",
            ),
        ],
        auth: vec![AuthOption::new(
            "api-key",
            "Organization API key",
            AuthScheme::Bearer(BearerAuth {
                token_field: "api_key".into(),
            }),
        )],
        egress: vec!["{base_url}".into()],
        // No published figure for these endpoints: a conservative default that the
        // `X-RateLimit-*` headers correct.
        rate_limits: vec![RateLimit {
            scope: "*".into(),
            requests: 100,
            per_seconds: 60,
            burst: 10,
            max_concurrency: 2,
        }],
        max_look_back_days: None,
        ..ConnectorInfo::new(
            "atlassian",
            "Atlassian",
            env!("CARGO_PKG_VERSION"),
            "Atlassian",
            "Users of one Atlassian Cloud organization with their organization roles and \
             access status, its groups and their members, and the organization audit log \
             (sign-ins, what users did, admin changes). Can suspend and restore a user's \
             access.",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_declares_what_the_connector_does() {
        let info = describe();
        assert_eq!(info.id, "atlassian");
        assert_eq!(info.egress, ["{base_url}"]);
        assert_eq!(sluice_sdk::testing::secret_fields(&info), ["api_key"]);
        assert_eq!(info.auth.len(), 1);
        assert!(
            matches!(&info.auth[0].scheme, AuthScheme::Bearer(b) if b.token_field == "api_key")
        );
        let base = info.config.iter().find(|f| f.name == "base_url").unwrap();
        assert_eq!(base.default.as_deref(), Some("https://api.atlassian.com"));
        assert_eq!(info.rate_limits[0].requests, 100);
        assert!(!info.capabilities.contains(&Capability::Files));
        assert_eq!(
            info.actions,
            [ActionKind::SuspendUser, ActionKind::UnsuspendUser]
        );
    }
}
