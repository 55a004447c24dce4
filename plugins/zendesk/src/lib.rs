//! The Zendesk connector: one Zendesk account (`https://{subdomain}.zendesk.com`)
//! through the Support API (`/api/v2`). The host authenticates every request, with an
//! API token (basic auth, user name `{email}/token`, the default option) or an OAuth
//! access token (`Authorization: Bearer`); the connector never sees either.
//!
//! | export | Zendesk API | provider docs' table |
//! |---|---|---|
//! | `check` | `GET /api/v2/users/me`, `GET /api/v2/oauth/tokens/current` (OAuth), `GET /api/v2/audit_logs?page[size]=1` | — |
//! | `list-users` (accounts, privileges) | `GET /api/v2/users` (cursor-paged), `GET /api/v2/custom_roles` | yes, yes |
//! | `list-groups` | `GET /api/v2/groups`, `GET /api/v2/groups/{id}/memberships` | blank: beyond the table |
//! | `list-activities` (logon, user, admin) | the Audit Logs API, `GET /api/v2/audit_logs` | yes, yes, yes |
//! | `act` suspend / unsuspend user | `PUT /api/v2/users/{id}` `{"user":{"suspended":…}}` | blank: beyond the table |
//!
//! Activity, by Zendesk's audit log `action` (see `audit`):
//! - **logon**: `login` entries, Zendesk's "Signed in": successful sign-ins of agents
//!   and admins. *Not supported by provider*: failed sign-ins and end users' sign-ins,
//!   which the audit log does not record and no other Support API lists.
//! - **user activity**: `exported` entries (agents and admins exporting data).
//!   *Not supported by provider*: end users' activity ("End user activities are not
//!   captured"). Agents' work on tickets (the Ticket Audits API) is not read yet.
//! - **admin activity**: `create`, `update`, `destroy` entries: settings, users
//!   (roles, suspensions, group membership), apps, business rules, ticket settings,
//!   organizations.
//!
//! Requirements, in Zendesk's words: listing users and groups is "allowed for admins,
//! agents and light agents"; the Audit Logs endpoints are "only available on the
//! Enterprise plan" and to admins; updating a user (suspend) is for admins and agents
//! in a custom role with permission to manage users. OAuth tokens need the `read`
//! scope (or `users:read` for users and `auditlogs:read` for the audit log, but groups
//! are not a scopable resource, so they need `read`), and `write` or `users:write` for
//! the actions. `check` reports each missing capability with the reason.
//!
//! Rate limits: Zendesk limits requests per minute per account by plan (Support and
//! Help Center API: Team 200, Growth and Professional 400, Enterprise 700, Enterprise
//! Plus or the High Volume add-on 2,500; legacy Essential 10). The default budget is
//! the Team plan's 200 a minute, safe on every current plan; Zendesk's answers carry
//! `X-Rate-Limit` / `X-Rate-Limit-Remaining` and, on the ticketing endpoints,
//! `ratelimit-limit` / `ratelimit-remaining` / `ratelimit-reset`, which the host's
//! limiter follows, and a 429 carries `Retry-After`, which it waits out.
//!
//! Look-back: Zendesk keeps the audit log indefinitely, so `max-look-back-days` is
//! unset and the operator's look-back applies as chosen.
//!
//! Assumptions (not confirmed by a published example body): cursor pagination on the
//! audit log with `sort=created_at` returns the oldest entries first (Zendesk
//! documents `sort=-created_at` as the default); `links.next` keeps the search's
//! filters; a `login` entry's `source_type` is `user`; the audit log's own example
//! body is unpublished (see `shared/fixtures/SOURCES.md`), so its shape follows the
//! field table of the Audit Logs reference.

mod actions;
mod api;
mod audit;
mod check;
mod groups;
mod users;

use sluice_sdk::prelude::*;

/// The connector; stateless, as every Sluice connector is.
pub struct Zendesk;

sluice_sdk::connector!(Zendesk {
    describe: describe,
    check: check::check,
    list_users: users::list,
    list_groups: groups::list,
    list_activities: audit::list,
    act: actions::act,
});

/// What the operator sees before connecting an account.
fn describe() -> ConnectorInfo {
    ConnectorInfo {
        capabilities: [&Capability::DIRECTORY[..], &Capability::ACTIVITY].concat(),
        actions: vec![ActionKind::SuspendUser, ActionKind::UnsuspendUser],
        config: vec![
            ConfigField::new("subdomain", "Zendesk subdomain")
                .required()
                .example("acme")
                .description("The account's subdomain: `acme` for https://acme.zendesk.com."),
            ConfigField::new("base_url", "API base URL")
                .default("https://{subdomain}.zendesk.com")
                .description(
                    "The account's URL; change it only for a host-mapped or test account.",
                ),
            ConfigField::new("email", "Agent email (API token)")
                .example("admin@acme.com")
                .description(
                    "The email of the admin whose API token is used; the host sends \
                     `{email}/token` as the basic-auth user name.",
                ),
            ConfigField::new("api_token", "API token")
                .secret()
                .description(
                    "An API token (Admin Center → Apps and integrations → Zendesk API). \
                     It acts with its admin's role: an admin on an Enterprise plan can \
                     read everything, including the audit log.",
                ),
            ConfigField::new("oauth_token", "OAuth access token")
                .secret()
                .description(
                    "For the `oauth` option: a token with the `read` scope (and \
                     `users:write` or `write` for the actions).",
                ),
        ],
        auth: vec![
            AuthOption::new(
                "api-token",
                "API token",
                AuthScheme::Basic(BasicAuth {
                    username: "{email}/token".into(),
                    password_field: "api_token".into(),
                }),
            ),
            AuthOption::new(
                check::OAUTH,
                "OAuth access token",
                AuthScheme::Bearer(BearerAuth {
                    token_field: "oauth_token".into(),
                }),
            ),
        ],
        egress: vec!["{base_url}".into()],
        // Zendesk Team plan: 200 requests a minute for the account (the lowest
        // current plan; the headers tell the limiter when the plan allows more).
        rate_limits: vec![RateLimit {
            scope: "*".into(),
            requests: 200,
            per_seconds: 60,
            burst: 20,
            max_concurrency: 4,
        }],
        max_look_back_days: None,
        ..ConnectorInfo::new(
            "zendesk",
            "Zendesk",
            env!("CARGO_PKG_VERSION"),
            "Zendesk, Inc.",
            "Users with their roles (end user, agent, admin, custom roles), agent groups \
             and their members, and the audit log (agent sign-ins, exports, admin \
             changes) of one Zendesk account. Can suspend and unsuspend users.",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_declares_what_the_connector_does() {
        let info = describe();
        assert_eq!(info.id, "zendesk");
        assert_eq!(info.egress, ["{base_url}"]);
        assert_eq!(
            sluice_sdk::testing::secret_fields(&info),
            ["api_token", "oauth_token"]
        );
        assert!(matches!(&info.auth[0].scheme, AuthScheme::Basic(b)
            if b.username == "{email}/token" && b.password_field == "api_token"));
        assert!(
            matches!(&info.auth[1].scheme, AuthScheme::Bearer(b) if b.token_field == "oauth_token")
        );
        let base = info.config.iter().find(|f| f.name == "base_url").unwrap();
        assert_eq!(
            base.default.as_deref(),
            Some("https://{subdomain}.zendesk.com")
        );
        assert_eq!(info.rate_limits[0].requests, 200);
        assert_eq!(info.max_look_back_days, None);
        assert!(!info.capabilities.contains(&Capability::Files));
    }
}
