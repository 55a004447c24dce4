//! The Zoom connector: one Zoom account through the Zoom API (`https://api.zoom.us/v2`),
//! authenticated by the host with a Server-to-Server OAuth app: `POST
//! https://zoom.us/oauth/token` with `grant_type=account_credentials` and the
//! `account_id`, the app's client id and secret as HTTP Basic (contract 0.3.0's
//! client-credentials scheme with `client-auth: basic`, another grant type and a form
//! parameter). The connector never sees the secret or the token.
//!
//! | export | Zoom API | provider docs' table |
//! |---|---|---|
//! | `check` | one probe per capability (see `check`) | — |
//! | `list-users` (accounts, privileges) | `GET /v2/users` (`status` active, inactive, pending), `GET /v2/roles` | blank: beyond the table |
//! | `list-activities` (admin, logon) | `GET /v2/report/operationlogs`, `GET /v2/report/activities` | blank: beyond the table |
//! | `posture` | `GET /v2/accounts/me/settings` (default and `option=security`) | Preview |
//! | `act` suspend / unsuspend user | `PUT /v2/users/{userId}/status` (`deactivate` / `activate`) | blank: beyond the table |
//!
//! *Not supported by provider*: user activity (what users did in meetings is in the
//! meeting and webinar reports and dashboards, not an audit trail of the account).
//! Groups (`GET /v2/groups`) exist but are not read yet; users carry `group_ids`.
//!
//! Requirements, in Zoom's words: the reports need a "Pro or higher plan"; scopes
//! `user:read:admin`, `role:read:admin`, `report:read:admin`, `account:read:admin`
//! (or their granular equivalents, which `check` names), and `user:write:admin` for
//! the actions.
//!
//! Rate limits: Zoom limits requests per second per account by plan and by the
//! endpoint's label (Pro: Light 30/s, Medium 20/s, Heavy 10/s with 30,000 Heavy and
//! Resource-intensive requests a day; Business and up: 80, 60, 40/s and 60,000 a
//! day). Users and roles are Medium, the reports Heavy. The defaults are Pro's Heavy
//! rate, 10 a second, and the daily 30,000, safe on every plan with the reports; a
//! 429 carries `Retry-After` (seconds, or an RFC 3339 time for the daily limit),
//! which the host waits out, and `X-RateLimit-Limit` / `X-RateLimit-Remaining`.
//!
//! Look-back: the sign in / sign out report "only supports reports within the last
//! six months", so `max-look-back-days` is 180.

mod actions;
mod api;
mod check;
mod posture;
mod reports;
mod users;

use sluice_sdk::prelude::*;

/// The connector; stateless, as every Sluice connector is.
pub struct Zoom;

sluice_sdk::connector!(Zoom {
    describe: describe,
    check: check::check,
    list_users: users::list,
    list_activities: reports::list,
    posture: posture::findings,
    act: actions::act,
});

/// What the operator sees before connecting an account.
fn describe() -> ConnectorInfo {
    ConnectorInfo {
        capabilities: vec![
            Capability::Accounts,
            Capability::Privileges,
            Capability::LogonActivity,
            Capability::AdminActivity,
            Capability::Posture,
        ],
        actions: vec![ActionKind::SuspendUser, ActionKind::UnsuspendUser],
        config: vec![
            ConfigField::new("account_id", "Account ID")
                .required()
                .example("Qx8yZ3bJRk2m1v0aSxYz7w")
                .description(
                    "The Server-to-Server OAuth app's Account ID (App Credentials page); sent \
                     as `account_id` to the token endpoint.",
                ),
            ConfigField::new("client_id", "Client ID")
                .required()
                .example("yR7abcDEfgHIjk9LmNoPq")
                .description("The Server-to-Server OAuth app's Client ID."),
            ConfigField::new("client_secret", "Client secret")
                .required()
                .secret()
                .description(
                    "The app's Client secret. Add the scopes user:read:admin, \
                     role:read:admin, report:read:admin, account:read:admin (and \
                     user:write:admin for the actions) before activating the app.",
                ),
            ConfigField::new("base_url", "API base URL")
                .default("https://api.zoom.us")
                .description("The Zoom API root; change it only for a test account."),
            ConfigField::new("oauth_url", "OAuth base URL")
                .default("https://zoom.us")
                .description("Where `/oauth/token` is; change it only for a test account."),
        ],
        auth: vec![AuthOption::new(
            "server-to-server",
            "Server-to-Server OAuth app",
            AuthScheme::Oauth2ClientCredentials(Oauth2ClientCredentials {
                token_url: "{oauth_url}/oauth/token".into(),
                client_id_field: "client_id".into(),
                client_secret_field: "client_secret".into(),
                // Zoom takes the app's scopes from the Marketplace, never from the request.
                scopes: vec![],
                client_auth: ClientAuth::Basic,
                grant_type: Some("account_credentials".into()),
                params: vec![("account_id".into(), "{account_id}".into())],
            }),
        )],
        egress: vec!["{base_url}".into()],
        rate_limits: vec![
            // Pro's Heavy label (the reports), the tightest the connector meets…
            RateLimit {
                scope: "*".into(),
                requests: 10,
                per_seconds: 1,
                burst: 10,
                max_concurrency: 4,
            },
            // …and Pro's daily Heavy budget.
            RateLimit {
                scope: "*".into(),
                requests: 30_000,
                per_seconds: 86_400,
                burst: 100,
                max_concurrency: 0,
            },
        ],
        max_look_back_days: Some(180),
        ..ConnectorInfo::new(
            "zoom",
            "Zoom",
            env!("CARGO_PKG_VERSION"),
            "Zoom Communications, Inc.",
            "Users with their roles and status, the admin operation log and sign-in / \
             sign-out activity, and security-posture findings from the account's settings \
             (two-factor sign-in, passwords, meeting passcodes, waiting room) of one Zoom \
             account. Can deactivate and reactivate users.",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_declares_what_the_connector_does() {
        let info = describe();
        assert_eq!(info.id, "zoom");
        assert_eq!(info.egress, ["{base_url}"]);
        assert_eq!(sluice_sdk::testing::secret_fields(&info), ["client_secret"]);
        let AuthScheme::Oauth2ClientCredentials(auth) = &info.auth[0].scheme else {
            panic!("{:?}", info.auth[0].scheme);
        };
        assert_eq!(auth.token_url, "{oauth_url}/oauth/token");
        assert_eq!(auth.client_auth, ClientAuth::Basic);
        assert_eq!(auth.grant_type.as_deref(), Some("account_credentials"));
        assert_eq!(
            auth.params,
            [("account_id".to_owned(), "{account_id}".to_owned())]
        );
        assert_eq!(info.rate_limits[0].requests, 10);
        assert_eq!(info.max_look_back_days, Some(180));
        assert!(info.capabilities.contains(&Capability::Posture));
        assert!(!info.capabilities.contains(&Capability::UserActivity));
    }
}
