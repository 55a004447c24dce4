//! The OneLogin connector: one OneLogin account (`https://{subdomain}.onelogin.com`)
//! through its API v2 (users, roles) and the v1 Events API, the only version that lists
//! events. The host authenticates every request with an access token from OneLogin's
//! client-credentials grant (`POST /auth/oauth2/v2/token`, client id and secret as
//! HTTP Basic, which OneLogin requires); the connector never sees either.
//!
//! | export | OneLogin API | provider docs' table |
//! |---|---|---|
//! | `check` | `GET /api/2/users?limit=1`, `GET /api/2/roles?limit=1`, `GET /api/1/events?limit=1` | — |
//! | `list-users` (accounts, privileges) | `GET /api/2/users` (`After-Cursor` paged), `GET /api/2/roles` | yes, yes |
//! | `list-activities` (logon, user, admin) | `GET /api/1/events`, `GET /api/1/events/types` | yes, yes, yes |
//!
//! Groups are blank in the table: OneLogin's groups are a user's single security-policy
//! group (`group_id`), kept in each user's raw record, not listed here. Actions
//! (suspend/unsuspend) are not implemented.
//!
//! Requirements, in OneLogin's words: an API credential pair with the **Read users**
//! scope lists users; roles and events need **Read All** (or **Manage All**). A pair
//! with **Authentication Only** can read nothing. `check` probes each and reports the
//! capability missing with OneLogin's own refusal.
//!
//! Rate limits: OneLogin documents "an account level rate limit of 5,000 calls per
//! hour" for v1 calls (the Events API), reported as `X-RateLimit-Limit`,
//! `X-RateLimit-Remaining` and `X-RateLimit-Reset` (seconds until the hour resets),
//! which the host's limiter follows; a refused call is 429. The default budget is
//! that documented 5,000 an hour for the whole account.
//!
//! Look-back: OneLogin does not publish how long events are kept through the API, so
//! `max-look-back-days` is unset.

mod api;
mod check;
mod events;
mod users;

use sluice_sdk::prelude::*;

/// The connector; stateless, as every Sluice connector is.
pub struct OneLogin;

sluice_sdk::connector!(OneLogin {
    describe: describe,
    check: check::check,
    list_users: users::list,
    list_activities: events::list,
});

/// What the operator sees before connecting an account.
fn describe() -> ConnectorInfo {
    ConnectorInfo {
        capabilities: vec![
            Capability::Accounts,
            Capability::Privileges,
            Capability::LogonActivity,
            Capability::UserActivity,
            Capability::AdminActivity,
        ],
        actions: vec![],
        config: vec![
            ConfigField::new("subdomain", "OneLogin subdomain")
                .required()
                .example("acme")
                .description("The account's subdomain: `acme` for https://acme.onelogin.com."),
            ConfigField::new("base_url", "API base URL")
                .default("https://{subdomain}.onelogin.com")
                .description(
                    "The account's URL, also where tokens are issued; change it only for a \
                     test account.",
                ),
            ConfigField::new("client_id", "API client ID")
                .required()
                .description(
                    "The client ID of an API credential pair (Developers → API \
                     Credentials) with the Read All scope.",
                ),
            ConfigField::new("client_secret", "API client secret")
                .secret()
                .required()
                .description("The credential pair's client secret."),
        ],
        auth: vec![AuthOption::new(
            "client-credentials",
            "API credentials (OAuth 2.0 client credentials)",
            AuthScheme::Oauth2ClientCredentials(Oauth2ClientCredentials {
                token_url: "{base_url}/auth/oauth2/v2/token".into(),
                client_id_field: "client_id".into(),
                client_secret_field: "client_secret".into(),
                scopes: vec![],
                client_auth: ClientAuth::Basic,
                grant_type: None,
                params: vec![],
            }),
        )],
        egress: vec!["{base_url}".into()],
        // "An account level rate limit of 5,000 calls per hour."
        rate_limits: vec![RateLimit {
            scope: "*".into(),
            requests: 5_000,
            per_seconds: 3_600,
            burst: 20,
            max_concurrency: 4,
        }],
        max_look_back_days: None,
        ..ConnectorInfo::new(
            "onelogin",
            "OneLogin",
            env!("CARGO_PKG_VERSION"),
            "One Identity (OneLogin)",
            "Users with their status and roles, and the event log (sign-ins and failed \
             sign-ins, users' own actions, administrators' changes) of one OneLogin account.",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_declares_what_the_connector_does() {
        let info = describe();
        assert_eq!(info.id, "onelogin");
        assert_eq!(info.egress, ["{base_url}"]);
        assert_eq!(sluice_sdk::testing::secret_fields(&info), ["client_secret"]);
        let AuthScheme::Oauth2ClientCredentials(auth) = &info.auth[0].scheme else {
            panic!("client credentials")
        };
        assert_eq!(auth.token_url, "{base_url}/auth/oauth2/v2/token");
        assert_eq!(auth.client_auth, ClientAuth::Basic);
        assert!(auth.scopes.is_empty() && auth.grant_type.is_none());
        let base = info.config.iter().find(|f| f.name == "base_url").unwrap();
        assert_eq!(
            base.default.as_deref(),
            Some("https://{subdomain}.onelogin.com")
        );
        assert_eq!(
            (
                info.rate_limits[0].requests,
                info.rate_limits[0].per_seconds
            ),
            (5_000, 3_600)
        );
        assert!(!info.capabilities.contains(&Capability::Groups));
    }
}
