//! The DocuSign connector: one DocuSign organization and one of its eSignature
//! accounts, through the Monitor and Admin APIs.
//!
//! | export | DocuSign API |
//! |---|---|
//! | `check` | eSignature `GET /restapi/v2.1/accounts/{id}`, one Admin and one Monitor call |
//! | `list-users` | Admin API `GET /v2/organizations/{org}/users` (`start`/`take`, `paging.next`) |
//! | `list-activities` | Monitor `GET /api/v2.0/datasets/monitor/stream` (`cursor`/`endCursor`) |
//! | `posture` | judged from the Admin API users |
//! | `act` | none: the Admin API's user changes need `user_write` and are not offered yet |
//!
//! Authentication is DocuSign's JWT grant, done by the host: an RS256 assertion with
//! `iss` = integration key, `sub` = the impersonated User ID, `aud` = the
//! authentication server's host name, POSTed to `{auth_url}/oauth/token`. The private
//! key is a secret config field the connector never sees.
//!
//! No `max-look-back-days`: DocuSign documents no limit on how far back the Monitor
//! stream reaches (see `monitor`), so the operator's look-back is used as given.

mod api;
mod check;
mod monitor;
mod posture;
mod users;

use sluice_sdk::prelude::*;

/// The connector; stateless, as every Sluice connector is.
pub struct DocuSign;

sluice_sdk::connector!(DocuSign {
    describe: describe,
    check: check::check,
    list_users: users::list,
    list_activities: monitor::list,
    posture: posture::findings,
});

/// A non-secret config field with its example and help text.
fn field(name: &str, label: &str, example: &str, description: &str) -> ConfigField {
    ConfigField::new(name, label)
        .example(example)
        .description(description)
}

/// What the operator sees before connecting an organization.
fn describe() -> ConnectorInfo {
    ConnectorInfo {
        capabilities: [
            &[Capability::Accounts, Capability::Privileges][..],
            &Capability::ACTIVITY,
            &[Capability::Posture],
        ]
        .concat(),
        actions: vec![],
        config: vec![
            field(
                "user_id",
                "User ID",
                "8d3b7f4e-0000-4000-8000-00000000a11c",
                "GUID of the user the integration impersonates (Apps and Keys: User ID); an organization administrator who granted consent.",
            )
            .required(),
            field(
                "account_base_uri",
                "Account Base URI",
                "https://demo.docusign.net",
                "The eSignature account's base URI (Apps and Keys: Account Base URI).",
            )
            .required(),
            field(
                "account_id",
                "API Account ID",
                "5d1e0a9c-0000-4000-8000-000000000002",
                "The eSignature account whose organization users are listed (Apps and Keys: API Account ID).",
            )
            .required(),
            field(
                "organization_id",
                "Organization ID",
                "8c7f1b2e-0000-4000-8000-000000000001",
                "The DocuSign organization (Admin: Organization ID).",
            )
            .required(),
            field(
                "integration_key",
                "Integration Key",
                "1f2e3d4c-0000-4000-8000-0000000000ee",
                "The app's integration key (client id), the JWT issuer.",
            )
            .required(),
            field(
                "auth_url",
                "Authentication server",
                "https://account-d.docusign.com",
                "Where the JWT grant is sent; https://account-d.docusign.com for the developer environment.",
            )
            .default(api::DEFAULT_AUTH_URL),
            field(
                "auth_audience",
                "JWT audience",
                "account-d.docusign.com",
                "The authentication server's host name, without https://, as DocuSign requires in `aud`.",
            )
            .default(api::DEFAULT_AUTH_AUDIENCE),
            field(
                "monitor_url",
                "Monitor API URL",
                "https://lens-d.docusign.net",
                "Monitor API root; https://lens-d.docusign.net for the developer environment.",
            )
            .default(api::DEFAULT_MONITOR_URL),
            field(
                "admin_url",
                "Admin API URL",
                "https://api-d.docusign.net/management",
                "Admin API root; https://api-d.docusign.net/management for the developer environment.",
            )
            .default(api::DEFAULT_ADMIN_URL),
            ConfigField::new("private_key", "RSA private key")
                .required()
                .secret()
                .description(
                    "The integration key's RSA private key (PEM) that signs the JWT grant.",
                ),
        ],
        auth: vec![AuthOption::new(
            "jwt",
            "JWT grant (service integration)",
            AuthScheme::JwtBearer(JwtBearer {
                token_url: "{auth_url}/oauth/token".into(),
                issuer_field: "integration_key".into(),
                subject_field: "user_id".into(),
                audience: "{auth_audience}".into(),
                private_key_field: "private_key".into(),
                // `signature impersonation` for the JWT grant and Monitor, `organization_read
                // user_read` for the Admin API's user listing.
                scopes: [
                    "signature",
                    "impersonation",
                    "organization_read",
                    "user_read",
                ]
                .map(String::from)
                .to_vec(),
            }),
        )],
        egress: vec![
            "{account_base_uri}".into(),
            "{monitor_url}".into(),
            "{admin_url}".into(),
        ],
        rate_limits: vec![
            // DocuSign's hourly budget per account…
            RateLimit {
                scope: "*".into(),
                requests: 3000,
                per_seconds: 3600,
                burst: 500,
                max_concurrency: 4,
            },
            // …and its burst limit (500 per 30 s in production, 200 in demo).
            RateLimit {
                scope: "*".into(),
                requests: 500,
                per_seconds: 30,
                burst: 500,
                max_concurrency: 0,
            },
        ],
        ..ConnectorInfo::new(
            "docusign",
            "DocuSign",
            env!("CARGO_PKG_VERSION"),
            "Docusign, Inc.",
            "Active organization users of one eSignature account with their \
                      administrator groups (Admin API), account- and organization-level \
                      activity from DocuSign Monitor, and posture findings on \
                      administrators, SCIM provisioning and pending invitations.",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_declares_the_jwt_grant_and_the_three_apis() {
        let info = describe();
        assert_eq!(info.id, "docusign");
        assert!(info.actions.is_empty());
        assert_eq!(sluice_sdk::testing::secret_fields(&info), ["private_key"]);
        let AuthScheme::JwtBearer(jwt) = &info.auth[0].scheme else {
            panic!("{:?}", info.auth)
        };
        assert_eq!(jwt.token_url, "{auth_url}/oauth/token");
        assert_eq!(jwt.issuer_field, "integration_key");
        assert_eq!(jwt.subject_field, "user_id");
        // Every template names a declared config field.
        let names: Vec<_> = info.config.iter().map(|f| f.name.as_str()).collect();
        for template in info.egress.iter().chain([&jwt.token_url, &jwt.audience]) {
            let field = template.split(['{', '}']).nth(1).unwrap();
            assert!(names.contains(&field), "{template}");
        }
        assert_eq!(info.rate_limits[0].requests, 3000);
        assert_eq!(info.max_look_back_days, None, "DocuSign documents no limit");
    }
}
