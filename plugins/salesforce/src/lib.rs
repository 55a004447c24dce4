//! The Salesforce connector: one org, through the REST API's SOQL query resource
//! (`{instance_url}/services/data/v{api_version}/query`) and the Tooling API. The host
//! authenticates every request with an access token from the OAuth 2.0 JWT bearer flow
//! (the default option: a connected app's consumer key as `iss`, the integration
//! user's username as `sub`, the login URL as `aud`, posted to
//! `{login_url}/services/oauth2/token`), or with an access token the operator pastes
//! (`access-token` option); the connector never sees either.
//!
//! | export | Salesforce API | provider docs' table |
//! |---|---|---|
//! | `check` | `UserPermissionAccess`, an `EventLogFile` probe | — |
//! | `list-users` (accounts, privileges) | `User`, `PermissionSetAssignment` (profiles' and permission sets' system permissions), `UserLogin` (frozen) | yes, yes |
//! | `list-groups` | `Group` (`Type = 'Regular'`: public groups), `GroupMember` | yes |
//! | `list-activities`: logon | `LoginHistory` | yes |
//! | `list-activities`: admin | `SetupAuditTrail` | yes |
//! | `list-activities`: user | `EventLogFile` CSV files (Event Monitoring) | "Supported with Salesforce Shield" |
//! | `list-app-permissions` | `OauthToken` | yes |
//! | `posture` | Tooling API `SecurityHealthCheck`, `SecurityHealthCheckRisks` (Health Check) | yes (SSPM) |
//! | `act` suspend / unsuspend user | `UserLogin.IsFrozen` (default) or `User.IsActive` (`mode=deactivate`) | yes (user governance) |
//! | `act` revoke app permission | `DELETE …/sobjects/OauthToken/{id}` | yes |
//! | `list-files`, `read-file` (DLP periodic, near-real-time) | Salesforce Files: latest `ContentVersion`s, `ContentDocumentLink`, `ContentDistribution`; `…/ContentVersion/{id}/VersionData` | yes, yes |
//! | `act` trash file | `DELETE …/sobjects/ContentDocument/{id}` (Recycle Bin) | yes (file governance) |
//! | `act` remove public link | `DELETE …/sobjects/ContentDistribution/{id}` | – (sharing control: beyond the table) |
//!
//! The instance URL (My Domain, `https://acme.my.salesforce.com`) is a config field:
//! Salesforce's token answer names it (`instance_url`), but the host keeps token
//! answers to itself and passes the connector only the token's effect.
//!
//! Rate limits: Salesforce allots API requests per org per rolling 24 hours (100,000
//! plus 1,000 per Enterprise or Professional license, 5,000 per Unlimited or
//! Performance license; Developer Edition 15,000). The default budget is the base
//! 100,000 a day; every answer carries `Sforce-Limit-Info: api-usage=USED/LIMIT`,
//! which the host's limiter follows, and a spent allocation is HTTP 403
//! `REQUEST_LIMIT_EXCEEDED`, which the connector reports as `rate-limited`. At most 25
//! long-running requests may run at once per org; the connector asks for 4.
//!
//! Look-back: `LoginHistory` keeps six months and `SetupAuditTrail` 180 days, so
//! `max-look-back-days` is 180. Event log files are kept 30 days (one day for the
//! free log types).

mod actions;
mod activity;
mod api;
mod apps;
mod check;
mod files;
mod groups;
mod posture;
mod users;

use sluice_sdk::prelude::*;

/// The connector; stateless, as every Sluice connector is.
pub struct Salesforce;

sluice_sdk::connector!(Salesforce {
    describe: describe,
    check: check::check,
    list_users: users::list,
    list_groups: groups::list,
    list_activities: activity::list,
    list_files: files::list,
    read_file: files::read,
    list_app_permissions: apps::list,
    posture: posture::posture,
    act: actions::act,
});

/// Auth option id of the JWT bearer flow.
pub const JWT: &str = "jwt";

/// What the operator sees before connecting an org.
fn describe() -> ConnectorInfo {
    ConnectorInfo {
        capabilities: [
            &Capability::DIRECTORY[..],
            &Capability::ACTIVITY,
            &[
                Capability::AppPermissions,
                Capability::Posture,
                Capability::Files,
                Capability::FileContent,
            ],
        ]
        .concat(),
        actions: vec![
            ActionKind::SuspendUser,
            ActionKind::UnsuspendUser,
            ActionKind::RevokeAppPermission,
            ActionKind::TrashFile,
            ActionKind::RemovePublicLink,
        ],
        config: vec![
            ConfigField::new("instance_url", "My Domain URL")
                .required()
                .example("https://acme.my.salesforce.com")
                .description(
                    "The org's My Domain URL (Setup → My Domain), where the REST API is \
                     reached. Salesforce's token answer names it too, but the host does not \
                     pass token answers to connectors.",
                ),
            ConfigField::new("login_url", "Login URL")
                .default("https://login.salesforce.com")
                .description(
                    "Where tokens are asked for and the JWT's audience: \
                     https://login.salesforce.com for production, \
                     https://test.salesforce.com for sandboxes.",
                ),
            ConfigField::new("consumer_key", "Consumer key")
                .example("3MVG9...")
                .description(
                    "The connected app's consumer key (the JWT's issuer). The app needs \
                     \"Use digital signatures\" with the certificate of `private_key`, the \
                     `api` scope, and the integration user pre-authorized.",
                ),
            ConfigField::new("username", "Username")
                .example("integration@acme.com")
                .description(
                    "The Salesforce username the connector acts as (the JWT's subject). \
                     It needs \"API Enabled\", \"View Setup and Configuration\" and \"Manage \
                     Users\", \"View Event Log Files\" for user activity, and \"View All \
                     Data\" with \"Query All Files\" for files.",
                ),
            ConfigField::new("private_key", "Private key (PEM)")
                .secret()
                .description(
                    "The RSA private key whose certificate is uploaded to the connected app.",
                ),
            ConfigField::new("access_token", "Access token")
                .secret()
                .description(
                    "For the `access-token` option: an OAuth access token or session id \
                     (e.g. from `sf org display`). It expires with the session.",
                ),
            ConfigField::new("api_version", "REST API version")
                .default(api::DEFAULT_API_VERSION)
                .description("The REST API version used in every path."),
        ],
        auth: vec![
            AuthOption::new(
                JWT,
                "OAuth 2.0 JWT bearer flow (connected app)",
                AuthScheme::JwtBearer(JwtBearer {
                    token_url: "{login_url}/services/oauth2/token".into(),
                    issuer_field: "consumer_key".into(),
                    subject_field: "username".into(),
                    audience: "{login_url}".into(),
                    private_key_field: "private_key".into(),
                    // The connected app's own policy decides the token's scopes; the
                    // JWT bearer flow takes none.
                    scopes: Vec::new(),
                }),
            ),
            AuthOption::new(
                "access-token",
                "Access token",
                AuthScheme::Bearer(BearerAuth {
                    token_field: "access_token".into(),
                }),
            ),
        ],
        egress: vec!["{instance_url}".into()],
        rate_limits: vec![RateLimit {
            scope: "*".into(),
            requests: 100_000,
            per_seconds: 86_400,
            burst: 500,
            max_concurrency: 4,
        }],
        max_look_back_days: Some(180),
        ..ConnectorInfo::new(
            "salesforce",
            "Salesforce",
            env!("CARGO_PKG_VERSION"),
            "Salesforce, Inc.",
            "Users with their profiles and permission sets, public groups and their \
             members, sign-ins (LoginHistory), setup changes (Setup Audit Trail), user \
             activity from Event Monitoring log files (Salesforce Shield), connected apps' \
             OAuth tokens, Health Check, and Salesforce Files with their sharing and \
             content of one Salesforce org. Can freeze, deactivate and restore users, \
             revoke OAuth tokens, move files to the Recycle Bin and delete their public \
             links.",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_declares_what_the_connector_does() {
        let info = describe();
        assert_eq!(info.id, "salesforce");
        assert_eq!(info.egress, ["{instance_url}"]);
        assert_eq!(
            sluice_sdk::testing::secret_fields(&info),
            ["private_key", "access_token"]
        );
        let AuthScheme::JwtBearer(jwt) = &info.auth[0].scheme else {
            panic!("{:?}", info.auth)
        };
        assert_eq!(jwt.token_url, "{login_url}/services/oauth2/token");
        assert_eq!(jwt.audience, "{login_url}");
        assert_eq!(
            (jwt.issuer_field.as_str(), jwt.subject_field.as_str()),
            ("consumer_key", "username")
        );
        let names: Vec<_> = info.config.iter().map(|f| f.name.as_str()).collect();
        for template in info.egress.iter().chain([&jwt.token_url, &jwt.audience]) {
            let field = template.split(['{', '}']).nth(1).unwrap();
            assert!(names.contains(&field), "{template}");
        }
        assert_eq!(info.rate_limits[0].requests, 100_000);
        assert_eq!(info.max_look_back_days, Some(180));
        assert!(info.capabilities.contains(&Capability::Files));
        assert!(info.capabilities.contains(&Capability::FileContent));
        assert!(info.actions.contains(&ActionKind::TrashFile));
    }
}
