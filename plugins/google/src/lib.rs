//! The Google Workspace connector: one Workspace customer through the Admin SDK
//! (Directory and Reports APIs, `https://admin.googleapis.com`) and the Drive API v3
//! (`https://www.googleapis.com`), authenticated by the host with a service account
//! and domain-wide delegation: the host signs an RS256 JWT (`iss` the service
//! account's `client_email`, `sub` the admin to act as, `aud` the token URL
//! `https://oauth2.googleapis.com/token`, `scope` the instance's scopes) and exchanges
//! it with `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` (contract 0.3.0's
//! `jwt-bearer` scheme). The connector never sees the key or the token.
//!
//! | export | Google API | provider docs' table |
//! |---|---|---|
//! | `check` | one probe per capability (see `check`) | — |
//! | `list-users` (accounts, privileges) | `users.list`, `roles.list`, `roleAssignments.list` | yes, yes |
//! | `list-groups` | `groups.list`, `members.list` | yes |
//! | `list-activities` (logon, admin, user) | Reports `activities.list` of `login`, `admin`, `drive`, `token` | yes, yes, yes (Business or Enterprise) |
//! | `list-app-permissions` | `tokens.list` per user | yes |
//! | `list-files`, `read-file` (files, file content, labels) | Drive `files.list`, `permissions.list`, `changes.*`, `files.get?alt=media`, `files.export` | yes (DLP, sharing, labels) |
//! | `act` | see `actions` | user and file governance, revoke app permissions: yes |
//!
//! Not built: SSPM (Preview in the table): posture findings from Workspace settings
//! would need the Policy API (`cloudidentity.policies`), not read yet.
//!
//! Rate limits (Google's published defaults): Admin SDK Directory API 2,400 queries a
//! minute per user per project; Reports API "reasonable use" with the same pacing
//! assumed; Drive API 12,000 queries a minute per user per project. Google signals
//! throttling with 429 or 403 `rateLimitExceeded` / `userRateLimitExceeded` and asks
//! for exponential backoff; the host backs off on 429, and the connector turns the
//! 403 forms into `rate-limited` (see `api::checked`).
//!
//! Look-back: the Reports API keeps most activity for 180 days.

mod actions;
mod activities;
mod api;
mod apps;
mod check;
mod files;
mod groups;
mod users;

use sluice_sdk::prelude::*;

/// The connector; stateless, as every Sluice connector is.
pub struct Google;

sluice_sdk::connector!(Google {
    describe: describe,
    check: check::check,
    list_users: users::list,
    list_groups: groups::list,
    list_activities: activities::list,
    list_files: files::list,
    read_file: files::read,
    list_app_permissions: apps::list,
    act: actions::act,
});

/// What the operator sees before connecting a Workspace.
fn describe() -> ConnectorInfo {
    ConnectorInfo {
        capabilities: vec![
            Capability::Accounts,
            Capability::Groups,
            Capability::Privileges,
            Capability::LogonActivity,
            Capability::UserActivity,
            Capability::AdminActivity,
            Capability::AppPermissions,
            Capability::Files,
            Capability::FileContent,
            Capability::SensitivityLabels,
        ],
        actions: vec![
            ActionKind::SuspendUser,
            ActionKind::UnsuspendUser,
            ActionKind::RequireSignIn,
            ActionKind::RequirePasswordReset,
            ActionKind::RevokeAppPermission,
            ActionKind::TrashFile,
            ActionKind::QuarantineFile,
            ActionKind::RemovePublicLink,
            ActionKind::RemoveExternalSharing,
            ActionKind::RemoveFileCollaborator,
            ActionKind::ApplyLabel,
        ],
        config: vec![
            ConfigField::new("client_email", "Service account email")
                .required()
                .example("sluice@my-project.iam.gserviceaccount.com")
                .description(
                    "The service account's `client_email` (from its JSON key); the JWT's \
                     issuer. Its client id must be allowed the instance's scopes under \
                     Admin console → Security → API controls → Domain-wide delegation.",
                ),
            ConfigField::new("admin_email", "Admin to act as")
                .required()
                .example("security-admin@example.com")
                .description(
                    "A super admin (or an admin whose role can read users, groups, roles, \
                     reports and tokens) the service account impersonates: the JWT's subject.",
                ),
            ConfigField::new("private_key", "Service account private key")
                .required()
                .secret()
                .description(
                    "The `private_key` of the service account's JSON key: the PEM text \
                     from -----BEGIN PRIVATE KEY----- to -----END PRIVATE KEY-----, with \
                     real line breaks (the JSON file writes them as \\n).",
                ),
            ConfigField::new("scopes", "OAuth scopes")
                .default(check::DEFAULT_SCOPES.join(" "))
                .description(
                    "The scopes asked for, space separated; each must be allowed in the \
                     domain-wide delegation, or Google refuses the token. Leave out what \
                     the instance should not do (e.g. use drive.readonly without file actions).",
                ),
            ConfigField::new("customer", "Customer")
                .default("my_customer")
                .description("The Workspace customer id, or my_customer for the admin's own."),
            ConfigField::new("internal_domains", "Internal domains")
                .example("example.com, example.org")
                .description(
                    "The organisation's domains, comma separated; anyone else a file is shared \
                     with is external. Default: the domain of admin_email.",
                ),
            ConfigField::new("applications", "Reports applications")
                .default(activities::DEFAULT_APPLICATIONS)
                .description(
                    "The Reports API applications read as activity, comma separated (login, \
                     admin, drive, token, saml, user_accounts, groups, …).",
                ),
            ConfigField::new("drive_corpora", "Drive corpora")
                .default("domain")
                .description(
                    "files.list `corpora`: domain (files shared with the domain, and the \
                     admin's and its shared drives'), allDrives or user.",
                ),
            ConfigField::new("drive_label_ids", "Drive label ids")
                .example("37Dv9a6I8jnEm1spKu0f28jDfz2t7UENXgS3Te6Rbrk")
                .description(
                    "Drive label ids to read on files (files.list includeLabels), comma separated.",
                ),
            ConfigField::new("quarantine_folder_id", "Quarantine folder id")
                .example("1AbCqUaRaNtInEfOlDeR")
                .description(
                    "A Drive folder owned by admin_email that quarantine-file moves files into.",
                ),
            ConfigField::new("admin_url", "Admin SDK base URL")
                .default("https://admin.googleapis.com")
                .description("Where the Directory and Reports APIs are; change it only for tests."),
            ConfigField::new("drive_url", "Drive API base URL")
                .default("https://www.googleapis.com")
                .description("Where the Drive API is; change it only for tests."),
            ConfigField::new("token_url", "Token URL")
                .default("https://oauth2.googleapis.com/token")
                .description("Google's OAuth token endpoint, also the JWT's audience."),
        ],
        auth: vec![AuthOption::new(
            "service-account",
            "Service account with domain-wide delegation",
            AuthScheme::JwtBearer(JwtBearer {
                token_url: "{token_url}".into(),
                issuer_field: "client_email".into(),
                subject_field: "admin_email".into(),
                audience: "{token_url}".into(),
                private_key_field: "private_key".into(),
                // One template: the instance's space-separated list, which the host
                // puts in the assertion's `scope` claim as it is.
                scopes: vec!["{scopes}".into()],
            }),
        )],
        egress: vec!["{admin_url}".into(), "{drive_url}".into()],
        rate_limits: vec![
            // Directory API: 2,400 queries a minute per user per project.
            RateLimit {
                scope: "{admin_url}".into(),
                requests: 2_400,
                per_seconds: 60,
                burst: 40,
                max_concurrency: 4,
            },
            // Drive API: 12,000 queries a minute per user per project.
            RateLimit {
                scope: "{drive_url}".into(),
                requests: 12_000,
                per_seconds: 60,
                burst: 100,
                max_concurrency: 4,
            },
        ],
        max_look_back_days: Some(180),
        ..ConnectorInfo::new(
            "google",
            "Google Workspace",
            env!("CARGO_PKG_VERSION"),
            "Google LLC",
            "Users with their admin roles, groups and members, the Reports API's login, \
             admin, Drive and OAuth token activity, users' OAuth grants, and Drive files with \
             their sharing, labels and content of one Google Workspace customer. Can suspend \
             users, sign them out, revoke grants, and trash, quarantine or unshare files.",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_declares_the_service_account_grant() {
        let info = describe();
        assert_eq!(info.id, "google");
        assert_eq!(sluice_sdk::testing::secret_fields(&info), ["private_key"]);
        let AuthScheme::JwtBearer(auth) = &info.auth[0].scheme else {
            panic!("{:?}", info.auth[0].scheme);
        };
        assert_eq!(auth.token_url, "{token_url}");
        assert_eq!(auth.audience, "{token_url}");
        assert_eq!(
            (auth.issuer_field.as_str(), auth.subject_field.as_str()),
            ("client_email", "admin_email")
        );
        let token_url = info.config.iter().find(|f| f.name == "token_url").unwrap();
        assert_eq!(
            token_url.default.as_deref(),
            Some("https://oauth2.googleapis.com/token")
        );
        assert_eq!(info.max_look_back_days, Some(180));
        assert!(info.actions.contains(&ActionKind::QuarantineFile));
    }
}
