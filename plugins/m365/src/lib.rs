//! The Microsoft 365 connector: one Entra ID tenant through Microsoft Graph, and its
//! Office 365 activity through the Management Activity API.
//!
//! Authentication is the client-credentials grant against the tenant's token endpoint;
//! the host gets one token per resource (`{graph_resource}/.default`,
//! `{management_resource}/.default`) and sends each request with the token of its origin,
//! so the connector never sees a secret. Each export lives in its own module.
//!
//! | export | API |
//! |---|---|
//! | `check` | `GET /organization` |
//! | `list-users` | `/directoryRoles` + members (privileges), then `/users` |
//! | `list-groups` | `/groups` + `/groups/{id}/members` |
//! | `list-activities` | `/auditLogs/signIns`, `/auditLogs/directoryAudits`, Management API content |
//! | `list-app-permissions` | `/oauth2PermissionGrants` (+ `/servicePrincipals/{id}` for names) |
//! | `posture` | security defaults policy, global admin count, guest accounts |
//! | `act` | suspend / unsuspend user, revoke sign-in sessions, delete a permission grant |
//!
//! Config field `components` selects what an instance reads (`users-groups`, `sign-ins`,
//! `management-events`, `apps`, `activities`); a disabled component is never requested.

mod actions;
mod activities;
mod api;
mod apps;
mod check;
mod groups;
mod posture;
mod users;

use sluice_sdk::prelude::*;

/// The connector; stateless, as every Sluice connector is.
pub struct M365;

sluice_sdk::connector!(M365 {
    describe: describe,
    check: check::check,
    list_users: users::list,
    list_groups: groups::list,
    list_activities: activities::list,
    list_app_permissions: apps::list,
    posture: posture::findings,
    act: actions::act,
});

/// What the operator sees before connecting a tenant.
fn describe() -> ConnectorInfo {
    ConnectorInfo {
        // The Management Activity API lists nothing until a subscription per content
        // type is started (`activities::start_subscriptions`).
        scan_writes: vec![ScanWrite {
            method: Method::Post,
            url: "{management_resource}/api/v1.0/{tenant_id}/activity/feed/subscriptions/start"
                .into(),
            reason: "Start the Office 365 Management Activity API subscription of each \
                     configured content type; audit content is listed only once started."
                .into(),
        }],
        max_look_back_days: Some(7),
        capabilities: [
            &Capability::DIRECTORY[..],
            &Capability::ACTIVITY,
            &[Capability::AppPermissions, Capability::Posture],
        ]
        .concat(),
        actions: vec![
            ActionKind::SuspendUser,
            ActionKind::UnsuspendUser,
            ActionKind::RequireSignIn,
            ActionKind::RevokeAppPermission,
        ],
        config: vec![
            ConfigField::new("tenant_id", "Directory (tenant) ID")
                .required()
                .description(
                    "The tenant's GUID or a verified domain, as in the app registration's \
                     overview.",
                ),
            ConfigField::new("client_id", "Application (client) ID")
                .required()
                .description(
                    "The app registration with Graph application permissions User.Read.All, \
                     Group.Read.All, RoleManagement.Read.Directory, AuditLog.Read.All, \
                     Directory.Read.All, Policy.Read.All (User.EnableDisableAccount.All, \
                     DelegatedPermissionGrant.ReadWrite.All for actions) and Office 365 \
                     Management API ActivityFeed.Read.",
                ),
            ConfigField::new("client_secret", "Client secret")
                .required()
                .secret()
                .description("A client secret of that app registration."),
            ConfigField::new("login_url", "Login URL")
                .default(api::DEFAULT_LOGIN_URL)
                .description("Microsoft identity platform authority; national clouds differ."),
            ConfigField::new("graph_resource", "Graph URL")
                .default(api::DEFAULT_GRAPH)
                .description("Microsoft Graph root; national clouds differ."),
            ConfigField::new("management_resource", "Management API URL")
                .default(api::DEFAULT_MANAGEMENT)
                .description("Office 365 Management Activity API root."),
            ConfigField::new("components", "Components")
                .default(api::ALL_COMPONENTS)
                .description(
                    "Comma list of users-groups, sign-ins, management-events, apps, activities.",
                ),
            ConfigField::new("content_types", "Management content types")
                .default(api::DEFAULT_CONTENT_TYPES)
                .description("Management Activity API content types to subscribe to."),
        ],
        auth: vec![AuthOption::new(
            "oauth",
            "OAuth client credentials (Entra ID app registration)",
            AuthScheme::Oauth2ClientCredentials(Oauth2ClientCredentials {
                token_url: "{login_url}/{tenant_id}/oauth2/v2.0/token".into(),
                client_id_field: "client_id".into(),
                client_secret_field: "client_secret".into(),
                scopes: vec![
                    "{graph_resource}/.default".into(),
                    "{management_resource}/.default".into(),
                ],
                client_auth: ClientAuth::RequestBody,
                grant_type: None,
                params: Vec::new(),
            }),
        )],
        egress: vec!["{graph_resource}".into(), "{management_resource}".into()],
        // Graph: Entra ID throttles per app per tenant at 3,500 resource units / 10 s for
        // the smallest tenants, a list request costing 1–3 units (learn.microsoft.com/graph/
        // throttling-limits, "Identity and access service limits"): 1,200 requests / 10 s
        // stays below it. Management Activity API: 2,000 requests per minute per tenant
        // (learn.microsoft.com/office/office-365-management-api, "API throttling").
        rate_limits: vec![
            RateLimit {
                scope: "{graph_resource}".into(),
                requests: 1_200,
                per_seconds: 10,
                burst: 100,
                max_concurrency: 4,
            },
            RateLimit {
                scope: "{management_resource}".into(),
                requests: 2_000,
                per_seconds: 60,
                burst: 50,
                max_concurrency: 4,
            },
        ],
        ..ConnectorInfo::new(
            "m365",
            "Microsoft 365",
            env!("CARGO_PKG_VERSION"),
            "Microsoft Corporation",
            "Entra ID users (with directory roles), groups and members, sign-ins, \
                      directory audits, Office 365 activity (Exchange, SharePoint, OneDrive, \
                      Teams) from the Management Activity API, OAuth2 permission grants and \
                      tenant posture. Can disable and re-enable users, revoke their sign-in \
                      sessions and delete permission grants.",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_declares_oauth_per_resource_and_both_origins() {
        let info = describe();
        assert_eq!(info.id, "m365");
        assert_eq!(info.egress, ["{graph_resource}", "{management_resource}"]);
        assert_eq!(sluice_sdk::testing::secret_fields(&info), ["client_secret"]);
        let AuthScheme::Oauth2ClientCredentials(auth) = &info.auth[0].scheme else {
            panic!()
        };
        assert_eq!(auth.token_url, "{login_url}/{tenant_id}/oauth2/v2.0/token");
        assert_eq!(
            auth.scopes,
            [
                "{graph_resource}/.default",
                "{management_resource}/.default"
            ]
        );
    }
}
