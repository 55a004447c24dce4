//! The Box connector: one Box enterprise through the Box API (`https://api.box.com/2.0`),
//! authenticated by the host with a Platform app's Client Credentials Grant: `POST
//! https://api.box.com/oauth2/token` with `grant_type=client_credentials`, the app's
//! client id and secret in the form, `box_subject_type=enterprise` and
//! `box_subject_id=<enterprise id>` (contract 0.3.0's client-credentials scheme with
//! form parameters). The token belongs to the enterprise's service account; the
//! connector never sees the secret or the token.
//!
//! | export | Box API | provider docs' table |
//! |---|---|---|
//! | `check` | one probe per capability (see `check`) | — |
//! | `list-users` (accounts, privileges) | `GET /2.0/users` (`role`: admin, coadmin) | yes, yes |
//! | `list-groups` | `GET /2.0/groups`, `GET /2.0/groups/{id}/memberships` | yes |
//! | `list-activities` (logon, user, admin) | `GET /2.0/events?stream_type=admin_logs` | yes |
//! | `act` suspend / unsuspend user (user governance) | `PUT /2.0/users/{id}` (`status`) | yes |
//! | `list-files`, `read-file` (DLP periodic, sharing control, labels) | `GET /2.0/folders/{id}/items` as each user, collaborations, `GET /2.0/files/{id}/content` | yes |
//! | `act` remove public link, remove collaborator, trash, quarantine, apply label (sharing control, file governance, labels) | `PUT`/`DELETE /2.0/files/{id}`, `DELETE /2.0/collaborations/{id}`, classification metadata | yes |
//!
//! *Not supported by provider*: viewing app permissions (Box lists no user's
//! authorized apps through its API). DLP near-real-time: see `docs/connectors/box.md`
//! (Box webhooks, and the host change they need).
//!
//! Rate limits: Box allows about 1,000 API requests a minute per user (the service
//! account is one user), and answers more with `429` and `retry-after` (seconds),
//! which the host waits out. The default budget is 900 a minute with bursts of 20.
//!
//! Look-back: the `admin_logs` stream keeps a year of events.

mod actions;
mod api;
mod check;
mod events;
mod files;
mod groups;
mod users;

use sluice_sdk::prelude::*;

/// The connector; stateless, as every Sluice connector is.
pub struct BoxEnterprise;

sluice_sdk::connector!(BoxEnterprise {
    describe: describe,
    check: check::check,
    list_users: users::list,
    list_groups: groups::list,
    list_activities: events::list,
    list_files: files::list,
    read_file: files::read,
    act: actions::act,
});

/// What the operator sees before connecting an enterprise.
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
            Capability::SensitivityLabels,
        ],
        actions: vec![
            ActionKind::SuspendUser,
            ActionKind::UnsuspendUser,
            ActionKind::RemovePublicLink,
            ActionKind::RemoveFileCollaborator,
            ActionKind::TrashFile,
            ActionKind::QuarantineFile,
            ActionKind::ApplyLabel,
        ],
        config: vec![
            ConfigField::new("enterprise_id", "Enterprise ID")
                .required()
                .example("11446498")
                .description(
                    "The Box enterprise's ID (Admin Console, Account & Billing); sent as \
                     `box_subject_id` with `box_subject_type=enterprise` to the token endpoint.",
                ),
            ConfigField::new("client_id", "Client ID")
                .required()
                .example("ly1nj6n11vionaie65emwzk575hnnmrk")
                .description(
                    "The Platform app's Client ID (Developer Console, Configuration). The app \
                     uses Server Authentication (Client Credentials Grant) with App + \
                     Enterprise Access, and an admin authorized it in the Admin Console.",
                ),
            ConfigField::new("client_secret", "Client secret")
                .required()
                .secret()
                .description(
                    "The app's Client Secret. Give the app the scopes \"Read all files and \
                     folders stored in Box\", \"Write all files and folders stored in Box\" \
                     (actions), \"Manage users\", \"Manage groups\", \"Manage enterprise \
                     properties\", and \"Make API calls using the as-user header\".",
                ),
            ConfigField::new("internal_domains", "Internal email domains").description(
                "The enterprise's email domains, comma-separated: a collaborator whose login \
                 is in none of them is external. By default the domains of the enterprise's \
                 users' logins.",
            ),
            ConfigField::new("quarantine_folder_id", "Quarantine folder ID").description(
                "The folder `quarantine-file` moves files into: owned by an admin, with the \
                 files' owners allowed to upload into it (e.g. the all-users group as \
                 Uploader). Without it, quarantine is refused.",
            ),
            ConfigField::new("base_url", "API base URL")
                .default("https://api.box.com")
                .description(
                    "The Box API root, also where `/oauth2/token` is; change it only for a \
                     test enterprise.",
                ),
            ConfigField::new("download_url", "Download host")
                .default("https://dl.boxcloud.com")
                .description(
                    "Where Box redirects file downloads (`read-file` follows the redirect).",
                ),
        ],
        auth: vec![AuthOption::new(
            "client-credentials",
            "Platform app, Client Credentials Grant",
            AuthScheme::Oauth2ClientCredentials(Oauth2ClientCredentials {
                token_url: "{base_url}/oauth2/token".into(),
                client_id_field: "client_id".into(),
                client_secret_field: "client_secret".into(),
                // Box takes the app's scopes from its configuration, never the request.
                scopes: vec![],
                client_auth: ClientAuth::RequestBody,
                grant_type: None,
                params: vec![
                    ("box_subject_type".into(), "enterprise".into()),
                    ("box_subject_id".into(), "{enterprise_id}".into()),
                ],
            }),
        )],
        egress: vec!["{base_url}".into(), "{download_url}".into()],
        rate_limits: vec![RateLimit {
            scope: "*".into(),
            requests: 900,
            per_seconds: 60,
            burst: 20,
            max_concurrency: 4,
        }],
        max_look_back_days: Some(365),
        activity_partitions: true,
        ..ConnectorInfo::new(
            "box",
            "Box",
            env!("CARGO_PKG_VERSION"),
            "Box, Inc.",
            "Users with their admin roles and status, groups and their members, the \
             enterprise event stream (sign-ins, what users did, admin changes), and every \
             user's files with their shared links, collaborators and classification, with \
             their content for inspection, of one Box enterprise. Can deactivate and \
             reactivate users, remove a file's shared link or a collaborator, trash, \
             quarantine and classify files.",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_declares_what_the_connector_does() {
        let info = describe();
        assert_eq!(info.id, "box");
        assert_eq!(info.egress, ["{base_url}", "{download_url}"]);
        assert_eq!(sluice_sdk::testing::secret_fields(&info), ["client_secret"]);
        let AuthScheme::Oauth2ClientCredentials(auth) = &info.auth[0].scheme else {
            panic!("{:?}", info.auth[0].scheme);
        };
        assert_eq!(auth.token_url, "{base_url}/oauth2/token");
        assert_eq!(auth.client_auth, ClientAuth::RequestBody);
        assert_eq!(auth.grant_type, None);
        assert_eq!(
            auth.params,
            [
                ("box_subject_type".to_owned(), "enterprise".to_owned()),
                ("box_subject_id".to_owned(), "{enterprise_id}".to_owned()),
            ]
        );
        assert!(info.activity_partitions);
        assert!(!info.capabilities.contains(&Capability::AppPermissions));
        assert!(info.actions.contains(&ActionKind::QuarantineFile));
    }
}
