//! The NetDocuments connector: one NetDocuments repository through the REST API.
//!
//! NetDocuments runs separate regional services (US `vault.netvoyage.com`, EU
//! `eu.netdocuments.com`, AU `au.netdocuments.com`, DE `de.netdocuments.com`), each with
//! its API on `api.<host>`. `describe` is static and the host expands egress and token
//! URLs from config, so the API root is the config field `api_url` (US by default) and
//! `region` names the service; `api` refuses a NetDocuments API URL of another region
//! before any request is sent, so a region cannot silently be read from the wrong one.
//!
//! | export | NetDocuments API |
//! |---|---|
//! | `check` | `GET /v1/User/info`, `GET /v1/Repository/{id}/info` |
//! | `list-users` | `GET /v1/Repository/{id}/users`; administrators from the repository info |
//! | `list-groups` | `GET /v1/Repository/{id}/groups`, `GET /v1/Group/{id}/members` |
//! | `list-activities` | `GET /v1/Repository/{id}/log` (`Logtype=admin`, then `consolidated`) |
//! | `posture` | repository info ("Adopt SSO", administrator count) |
//!
//! Sign-in events are not in the repository log NetDocuments documents, so the
//! connector does not claim `logon-activity`. Both logs reach 90 days back
//! (NetDocuments' "Administration Activity Log" and "Consolidated Activity Log" help
//! pages), hence `max-look-back-days` 90. Log entries carry an `ip` but no location or
//! session, so those 0.2.0 fields stay empty.
//!
//! # What is confirmed and what is assumed
//!
//! NetDocuments publishes no machine-readable API description with example bodies.
//! Paths, query parameters and the fields of users (`id`, `displayName`, `email`,
//! `external`, `lastLogin`, `registered`), groups (`id`, `name`, `external`, `hidden`,
//! `hideMembership`) and group members (`id`, `displayName`) follow NetDocuments' own
//! API description for its Power Platform connector and its REST API reference; the
//! token endpoint (`POST https://api.<host>/v1/OAuth`, scope `full`) follows its OAuth
//! documentation. Not confirmed, and chosen in the same documented style:
//!
//! - paging: `$top`, `paging=true` and `$skiptoken` with the next token returned as
//!   `next` are documented for groups; the connector uses the same on users and on the
//!   log, and reads a page as `{"results": [...], "next": "<token>"}` (a bare array, as
//!   unpaged calls answer, is one last page);
//! - repository info: `administrators` (user ids or `{id}` objects) and
//!   `federatedIdentity.enabled` / `.required` for SSO;
//! - log entries: `date` (RFC 3339 or `/Date(ms)/`), `userId`, `user`, `action`,
//!   `objectId`, `objectName`, `ip`, and an `id` when NetDocuments sends one (otherwise a
//!   stable id is derived from the entry, see `activities`).

mod activities;
mod api;
mod check;
mod groups;
mod posture;
mod users;

use sluice_sdk::prelude::*;

/// The connector; stateless, as every Sluice connector is. It performs no actions.
pub struct NetDocuments;

sluice_sdk::connector!(NetDocuments {
    describe: describe,
    check: check::check,
    list_users: users::list,
    list_groups: groups::list,
    list_activities: activities::list,
    posture: posture::findings,
});

/// What the operator sees before connecting a repository.
fn describe() -> ConnectorInfo {
    let regions = api::REGIONS
        .iter()
        .map(|r| format!("{} {}", r.code, r.api_url))
        .collect::<Vec<_>>()
        .join(", ");
    ConnectorInfo {
        // NetDocuments keeps repository activity logs for 90 days ("Activity logs are
        // available for the past 90 days", support article 205627614).
        max_look_back_days: Some(90),
        // No sign-ins: NetDocuments' logs do not record them.
        capabilities: [
            &Capability::DIRECTORY[..],
            &[
                Capability::UserActivity,
                Capability::AdminActivity,
                Capability::Posture,
            ],
        ]
        .concat(),
        actions: vec![],
        config: vec![
            ConfigField::new("region", "Region")
                .default("us")
                .example("eu")
                .description(
                    "The NetDocuments service the repository lives in: us \
                     (vault.netvoyage.com), eu (eu.netdocuments.com), au \
                     (au.netdocuments.com) or de (de.netdocuments.com). Set api_url to \
                     the same region's API.",
                ),
            ConfigField::new("api_url", "Regional API URL")
                .default(api::REGIONS[0].api_url)
                .example(api::REGIONS[1].api_url)
                .description(format!(
                    "The REST API of the repository's region ({regions}); also used for \
                     the OAuth token endpoint `{{api_url}}/v1/OAuth`. Any other URL (a \
                     mock, a proxy) is used as given."
                )),
            ConfigField::new("repository_id", "Repository ID")
                .required()
                .example("CA-ABCDEF12")
                .description(
                    "The repository's ID as shown in NetDocuments' repository \
                     administration (it starts with CA-).",
                ),
            ConfigField::new("client_id", "Client ID")
                .required()
                .example("AP-ABCDEF12|CA-ABCDEF12")
                .description(
                    "The client ID of a NetDocuments application mapped to a service \
                     account that is a repository administrator. NetDocuments' \
                     client-credentials grant names the repository with the client ID \
                     as `<client id>|<repository id>`.",
                ),
            ConfigField::new("client_secret", "Client secret")
                .required()
                .secret()
                .description("The application's client secret."),
        ],
        auth: vec![AuthOption::new(
            "oauth",
            "OAuth client credentials",
            AuthScheme::Oauth2ClientCredentials(Oauth2ClientCredentials {
                token_url: "{api_url}/v1/OAuth".into(),
                client_id_field: "client_id".into(),
                client_secret_field: "client_secret".into(),
                scopes: vec!["full".into()],
                client_auth: ClientAuth::RequestBody,
                grant_type: None,
                params: Vec::new(),
            }),
        )],
        egress: vec!["{api_url}".into()],
        rate_limits: vec![RateLimit {
            scope: "*".into(),
            requests: 100_000,
            per_seconds: 60,
            burst: 1_000,
            max_concurrency: 4,
        }],
        ..ConnectorInfo::new(
            "netdocuments",
            "NetDocuments",
            env!("CARGO_PKG_VERSION"),
            "NetDocuments Software, Inc.",
            "Users, repository administrators, groups and their members, and the \
                      repository's admin and consolidated activity logs of one NetDocuments \
                      repository, in any of NetDocuments' regional services; posture: \
                      single sign-on and the number of administrators. Sign-in events are \
                      not available from NetDocuments' API.",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_declares_what_the_connector_does() {
        let info = describe();
        assert_eq!(info.id, "netdocuments");
        assert_eq!(info.egress, ["{api_url}"]);
        assert!(!info.capabilities.contains(&Capability::LogonActivity));
        assert!(info.capabilities.contains(&Capability::Privileges));
        assert_eq!(sluice_sdk::testing::secret_fields(&info), ["client_secret"]);
        assert!(matches!(
            &info.auth[0].scheme,
            AuthScheme::Oauth2ClientCredentials(o)
                if o.token_url == "{api_url}/v1/OAuth" && o.scopes == ["full"]
        ));
        assert_eq!(
            (
                info.rate_limits[0].requests,
                info.rate_limits[0].per_seconds
            ),
            (100_000, 60)
        );
        assert_eq!(info.max_look_back_days, Some(90));
        let api_url = info.config.iter().find(|f| f.name == "api_url").unwrap();
        assert_eq!(
            api_url.default.as_deref(),
            Some("https://api.vault.netvoyage.com")
        );
    }
}
