//! The Dropbox connector: one Dropbox team (Business, Advanced, Enterprise) through
//! the Dropbox API v2, RPC calls to `https://api.dropboxapi.com/2` and content
//! downloads from `https://content.dropboxapi.com/2`, authenticated by the host with
//! a team app's OAuth 2 refresh token (offline access): `POST
//! https://api.dropboxapi.com/oauth2/token` with `grant_type=refresh_token` and the
//! app key and secret (contract 0.3.0's refresh-token scheme). Dropbox's refresh
//! tokens do not expire or rotate; access tokens last four hours. An access token
//! can be given instead (`access-token`, bearer) for a short trial.
//!
//! | export | Dropbox API | provider docs' table |
//! |---|---|---|
//! | `check` | one probe per capability (see `check`) | — |
//! | `list-users` (accounts, privileges) | `team/members/list_v2` (`roles`) | yes, yes |
//! | `list-groups` | `team/groups/list`, `team/groups/members/list` | yes |
//! | `list-activities` logon, user, admin | `team_log/get_events` (+ `/continue`, `category`, `time`) | yes, yes, yes |
//! | `list-files`, `read-file` (DLP periodic, sharing control) | `files/list_folder` (+ `/continue`) as each member, `sharing/list_shared_links`, `list_folder_members`, `list_file_members`; `files/download` with `Range` | yes, yes |
//! | `act` trash-file, quarantine-file, remove-public-link, remove-file-collaborator (file governance, sharing control) | `files/delete_v2`; `files/copy_reference/get` + `save` + `delete_v2`; `sharing/revoke_shared_link`; `sharing/remove_file_member_2` | yes, yes |
//! | `act` suspend / unsuspend user | `team/members/suspend`, `unsuspend` | blank: beyond the table |
//!
//! Dropbox reads are `POST`s too, so each route read while scanning is a declared
//! scan write the operator grants at connect (see `describe`).
//!
//! Rate limits: Dropbox publishes no numbers ("rate limits are per user or per
//! team"); a throttled call is answered 429 with `Retry-After` and the error
//! `too_many_requests` (or `too_many_write_operations`), which the host waits out.
//! The default budget, 600 requests a minute with bursts of 20, is an assumption
//! stated in the guide.

mod actions;
mod api;
mod check;
mod events;
mod files;
mod groups;
mod members;

use sluice_sdk::prelude::*;

/// The connector; stateless, as every Sluice connector is.
pub struct Dropbox;

sluice_sdk::connector!(Dropbox {
    describe: describe,
    check: check::check,
    list_users: members::list,
    list_groups: groups::list,
    list_activities: events::list,
    list_files: files::list,
    read_file: files::read,
    act: actions::act,
});

/// The routes read while scanning or checking, each a `POST` (a continuation
/// `…/continue` extends its route's path and is covered by it).
const READ_ROUTES: [(&str, &str); 11] = [
    ("{api_url}", "team/get_info"),
    ("{api_url}", "team/members/list_v2"),
    ("{api_url}", "team/members/list/continue_v2"),
    ("{api_url}", "team/groups/list"),
    ("{api_url}", "team/groups/members/list"),
    ("{api_url}", "team_log/get_events"),
    ("{api_url}", "files/list_folder"),
    ("{api_url}", "sharing/list_shared_links"),
    ("{api_url}", "sharing/list_folder_members"),
    ("{api_url}", "sharing/list_file_members"),
    ("{content_url}", "files/download"),
];

/// What the operator sees before connecting a team.
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
            ActionKind::TrashFile,
            ActionKind::QuarantineFile,
            ActionKind::RemovePublicLink,
            ActionKind::RemoveFileCollaborator,
        ],
        config: vec![
            ConfigField::new("client_id", "App key")
                .example("a1b2c3d4e5f6g7h")
                .description(
                    "The team app's App key (App Console → your app → Settings). The app \
                     has team scopes: team_info.read, members.read, groups.read, \
                     events.read, team_data.member, files.metadata.read, \
                     files.content.read, sharing.read, and for the actions members.write, \
                     files.content.write, sharing.write.",
                ),
            ConfigField::new("client_secret", "App secret")
                .secret()
                .description("The app's App secret."),
            ConfigField::new("refresh_token", "Refresh token")
                .secret()
                .description(
                    "A refresh token from a team admin's authorization of the app with \
                     `token_access_type=offline`. It does not expire.",
                ),
            ConfigField::new("access_token", "Access token")
                .secret()
                .description(
                    "For the `access-token` option only: an access token of the team app \
                     (the App Console's \"Generate\"); it expires after four hours.",
                ),
            ConfigField::new("categories", "Event categories").description(
                "Read only these team activity log categories, comma-separated \
                 (Dropbox's EventCategory tags: logins, members, sharing, \
                 file_operations, …); all when empty.",
            ),
            ConfigField::new("quarantine_member", "Quarantine admin (team member id)")
                .example("dbmid:AAHhy7WsR0x-u4ZCqiDl5Fz5zvuL3kmspwU")
                .description(
                    "For quarantine-file: the team_member_id of the admin whose Dropbox \
                     holds the quarantine folder; quarantined files are copied there and \
                     deleted from the member's Dropbox.",
                ),
            ConfigField::new("quarantine_folder", "Quarantine folder")
                .default(actions::QUARANTINE_FOLDER)
                .description("The folder of the quarantine admin's Dropbox that receives files."),
            ConfigField::new("api_url", "API URL")
                .default("https://api.dropboxapi.com")
                .description(
                    "The RPC API root, also where `/oauth2/token` is; change it only for a \
                     test team.",
                ),
            ConfigField::new("content_url", "Content API URL")
                .default("https://content.dropboxapi.com")
                .description("The content API root (downloads); change it only for a test team."),
        ],
        auth: vec![
            AuthOption::new(
                "team-app",
                "Dropbox team app (OAuth refresh token, offline access)",
                AuthScheme::Oauth2RefreshToken(Oauth2RefreshToken {
                    token_url: "{api_url}/oauth2/token".into(),
                    client_id_field: "client_id".into(),
                    client_secret_field: Some("client_secret".into()),
                    refresh_token_field: "refresh_token".into(),
                    // Dropbox keeps the scopes granted at authorization.
                    scopes: vec![],
                }),
            ),
            AuthOption::new(
                "access-token",
                "Access token (expires after four hours)",
                AuthScheme::Bearer(BearerAuth {
                    token_field: "access_token".into(),
                }),
            ),
        ],
        egress: vec!["{api_url}".into(), "{content_url}".into()],
        rate_limits: vec![RateLimit {
            scope: "*".into(),
            requests: 600,
            per_seconds: 60,
            burst: 20,
            max_concurrency: 4,
        }],
        scan_writes: READ_ROUTES
            .iter()
            .map(|(root, route)| ScanWrite {
                method: Method::Post,
                url: format!("{root}/2/{route}"),
                reason: "Dropbox API v2 reads are POST calls with a JSON body; this one \
                         only reads."
                    .into(),
            })
            .collect(),
        max_look_back_days: None,
        activity_partitions: true,
        ..ConnectorInfo::new(
            "dropbox",
            "Dropbox",
            env!("CARGO_PKG_VERSION"),
            "Dropbox, Inc.",
            "Team members with their admin roles, groups, and the team activity log \
             (sign-ins, member and admin activity) of one Dropbox team, and every \
             member's files with their links and collaborators, with content for \
             inspection. Can suspend and unsuspend members, trash or quarantine a file, \
             revoke its shared links and remove a collaborator.",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_declares_what_the_connector_does() {
        let info = describe();
        assert_eq!(info.id, "dropbox");
        assert_eq!(info.egress, ["{api_url}", "{content_url}"]);
        assert_eq!(
            sluice_sdk::testing::secret_fields(&info),
            ["client_secret", "refresh_token", "access_token"]
        );
        let AuthScheme::Oauth2RefreshToken(auth) = &info.auth[0].scheme else {
            panic!("{:?}", info.auth[0].scheme);
        };
        assert_eq!(auth.token_url, "{api_url}/oauth2/token");
        assert!(info.activity_partitions);
        assert!(info.capabilities.contains(&Capability::FileContent));
        assert!(info.scan_writes.iter().all(|w| w.method == Method::Post));
        assert!(
            info.scan_writes
                .iter()
                .any(|w| w.url == "{content_url}/2/files/download")
        );
    }
}
