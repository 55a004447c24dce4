//! The Webex connector: one Webex organization through the Webex REST API
//! (`https://webexapis.com/v1`), authenticated by the host with a Webex integration's
//! OAuth 2 refresh token: `POST https://webexapis.com/v1/access_token` with
//! `grant_type=refresh_token`, the integration's client id and secret in the form
//! (contract 0.3.0's refresh-token scheme). Access tokens live about 14 days, refresh
//! tokens about 90 days and are renewed by use; the host persists a new one when
//! Webex sends it. The connector never sees the secret or the tokens.
//!
//! | export | Webex API | provider docs' table |
//! |---|---|---|
//! | `check` | one probe per capability (see `check`) | — |
//! | `list-users` (accounts, privileges) | `GET /v1/people`, `GET /v1/roles` | yes, yes |
//! | `list-groups` | `GET /v1/groups` (SCIM-style paging) | blank: beyond the table |
//! | `list-activities` user | `GET /v1/events` (compliance officer) | yes |
//! | `list-activities` admin | `GET /v1/adminAudit/events` | "Not supported by provider": beyond the table |
//! | `list-activities` logon | `GET /v1/admin/securityAudit/events` | blank: beyond the table |
//! | `act` suspend / unsuspend user | `PUT /v1/people/{personId}` (`loginEnabled`) | blank: beyond the table |
//! | `list-files`, `read-file` (DLP, sharing control) | `GET /v1/events` (messages created / deleted), `HEAD` / `GET /v1/contents/{contentId}` | yes |
//! | `act` quarantine file (file governance) | `DELETE /v1/messages/{messageId}` (compliance officer; irreversible) | yes |
//!
//! Files are message attachments; see `files` for how they are listed and what
//! "quarantine" means on Webex.
//!
//! Rate limits: Webex publishes no numbers ("limits will vary depending on the calls
//! being made"), only that a throttled request is answered 429 with `Retry-After` in
//! seconds, which the host waits out. The default budget, 300 requests a minute with
//! bursts of 10, is an assumption stated in the guide.

mod actions;
mod api;
mod audit;
mod check;
mod files;
mod groups;
mod people;

use sluice_sdk::prelude::*;

/// The connector; stateless, as every Sluice connector is.
pub struct Webex;

sluice_sdk::connector!(Webex {
    describe: describe,
    check: check::check,
    list_users: people::list,
    list_groups: groups::list,
    list_activities: audit::list,
    list_files: files::list,
    read_file: files::read,
    act: actions::act,
});

/// What the operator sees before connecting an organization.
fn describe() -> ConnectorInfo {
    ConnectorInfo {
        capabilities: vec![
            Capability::Accounts,
            Capability::Groups,
            Capability::Privileges,
            Capability::LogonActivity,
            Capability::UserActivity,
            Capability::AdminActivity,
            Capability::Files,
            Capability::FileContent,
        ],
        actions: vec![
            ActionKind::SuspendUser,
            ActionKind::UnsuspendUser,
            ActionKind::QuarantineFile,
            ActionKind::RemoveFileCollaborator,
        ],
        config: vec![
            ConfigField::new("client_id", "Client ID")
                .required()
                .example("C1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3")
                .description("The Webex integration's Client ID (developer.webex.com, My Apps)."),
            ConfigField::new("client_secret", "Client Secret")
                .required()
                .secret()
                .description("The integration's Client Secret."),
            ConfigField::new("refresh_token", "Refresh token")
                .required()
                .secret()
                .description(
                    "A refresh token from the integration's authorization by a full \
                     administrator (and compliance officer for user activity), with the \
                     scopes spark:people_read, spark-admin:people_read, \
                     spark-admin:roles_read, identity:groups_read, audit:events_read, \
                     spark-compliance:events_read, spark-compliance:messages_read (and \
                     spark-admin:people_write, spark-compliance:messages_write for the \
                     actions). Webex renews it on use; it expires after about 90 days \
                     unused.",
                ),
            ConfigField::new("org_id", "Organization ID").description(
                "The organization whose audit events are read; by default the \
                 authorizing administrator's (`orgId` of GET /v1/people/me).",
            ),
            ConfigField::new("trails", "Activity trails")
                .default("admin-audit,security-audit,compliance-events")
                .description(
                    "Which activity trails to read, comma-separated: admin-audit, \
                     security-audit (sign-in / sign-out), compliance-events (needs a \
                     compliance officer's authorization).",
                ),
            ConfigField::new("base_url", "API base URL")
                .default("https://webexapis.com")
                .description(
                    "The Webex API root, also where `/v1/access_token` is; change it only \
                     for a test organization.",
                ),
        ],
        auth: vec![AuthOption::new(
            "integration",
            "Webex integration (OAuth refresh token)",
            AuthScheme::Oauth2RefreshToken(Oauth2RefreshToken {
                token_url: "{base_url}/v1/access_token".into(),
                client_id_field: "client_id".into(),
                client_secret_field: Some("client_secret".into()),
                refresh_token_field: "refresh_token".into(),
                // Webex keeps the scopes granted at authorization; a refresh asks none.
                scopes: vec![],
            }),
        )],
        egress: vec!["{base_url}".into()],
        rate_limits: vec![RateLimit {
            scope: "*".into(),
            requests: 300,
            per_seconds: 60,
            burst: 10,
            max_concurrency: 4,
        }],
        max_look_back_days: Some(365),
        activity_partitions: true,
        ..ConnectorInfo::new(
            "webex",
            "Webex",
            env!("CARGO_PKG_VERSION"),
            "Cisco Systems, Inc.",
            "People with their admin roles and sign-in state, groups, the admin audit \
             log, sign-in / sign-out (security audit) events and the compliance \
             officer's events (messages, memberships, files) of one Webex \
             organization, and the files attached to messages, with their content for \
             inspection. Can turn a person's sign-in off and on, and delete the message \
             holding a file.",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_declares_what_the_connector_does() {
        let info = describe();
        assert_eq!(info.id, "webex");
        assert_eq!(info.egress, ["{base_url}"]);
        assert_eq!(
            sluice_sdk::testing::secret_fields(&info),
            ["client_secret", "refresh_token"]
        );
        let AuthScheme::Oauth2RefreshToken(auth) = &info.auth[0].scheme else {
            panic!("{:?}", info.auth[0].scheme);
        };
        assert_eq!(auth.token_url, "{base_url}/v1/access_token");
        assert_eq!(auth.client_secret_field.as_deref(), Some("client_secret"));
        assert_eq!(auth.refresh_token_field, "refresh_token");
        assert_eq!(info.max_look_back_days, Some(365));
        assert!(info.activity_partitions);
        assert!(info.capabilities.contains(&Capability::UserActivity));
        assert!(info.capabilities.contains(&Capability::Files));
        assert!(info.capabilities.contains(&Capability::FileContent));
        assert!(info.actions.contains(&ActionKind::QuarantineFile));
    }
}
