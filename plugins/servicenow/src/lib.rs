//! The ServiceNow connector: one instance (`https://{instance}.service-now.com`)
//! through the Table API (`/api/now/table/{table}`). The host authenticates every
//! request, with an integration user's name and password (basic auth, the default) or
//! an OAuth 2.0 client-credentials token from the instance's `/oauth_token.do`; the
//! connector never sees either.
//!
//! | export | ServiceNow tables | provider docs' table |
//! |---|---|---|
//! | `check` | `sys_user`, `sys_user_has_role` (the caller), one row of each table below | — |
//! | `list-users` (accounts, privileges) | `sys_user`, `sys_user_has_role` | yes, yes |
//! | `list-groups` | `sys_user_group`, `sys_user_grmember` | yes |
//! | `list-activities` (logon) | `sysevent`: `login`, `login.failed`, `logout`, `external.authentication.*` | yes |
//! | `list-activities` (user, admin) | `sys_audit`: audited field changes | Partial, Partial |
//! | `posture` | `sys_properties`: the instance security hardening settings | yes |
//! | `list-files`, `read-file` (DLP periodic, near-real-time) | `sys_attachment` through the Attachment API (`/api/now/attachment`) | yes, yes |
//! | `act` lock out / deactivate, unlock / reactivate, require password reset | `PATCH sys_user` | blank: beyond the table |
//!
//! DLP inspects attachments (`files`); near-real-time is a business rule on
//! `sys_attachment` calling Sluice's `/hooks/{instance}?kind=files`, set up in the
//! instance (see `docs/connectors/servicenow.md`). Records' own text fields are not
//! files and are not inspected.
//!
//! Requirements, in ServiceNow's words: the Table API's "calling user must have
//! sufficient roles to access the data in the table"; out of the box `admin` reads
//! every table used here (`user_admin` the user, role and group tables), and changing
//! the security properties takes the elevated `security_admin` role. `check` probes
//! each table and names the refused ones with ServiceNow's message. Row-level ACLs
//! may also hide rows without an error: `sysparm_limit` applies before them, which is
//! why paging follows `Link: rel="next"` rather than counting rows.
//!
//! Rate limits: ServiceNow publishes no instance-wide default. Administrators may set
//! inbound REST rate-limit rules (requests per hour, per user or role); a request under
//! such a rule carries `X-RateLimit-Limit` and `X-RateLimit-Reset` (Unix time), and a
//! denied one is 429 `Rate limit exceeded` with `Retry-After`, which the host waits
//! out. The default budget (10 requests a second, 4 at once) is the connector's
//! choice, kept modest because inbound REST requests share the instance's worker
//! threads with its users.
//!
//! Assumptions (no published example): the shape of `sys_user_group`,
//! `sys_user_grmember`, `sysevent` and `sys_audit` rows (their documented columns, as
//! strings and references like every Table API row); `parm2` of `login`,
//! `login.failed` and `logout` events is the client's IP address; date-times in an
//! encoded query are read as UTC (set the integration user's time zone to GMT);
//! an ACL refusal of a GET is 403 `User Not Authorized`.

mod actions;
mod activity;
mod api;
mod check;
mod files;
mod groups;
mod posture;
mod users;

use sluice_sdk::prelude::*;

/// The connector; stateless, as every Sluice connector is.
pub struct ServiceNow;

sluice_sdk::connector!(ServiceNow {
    describe: describe,
    check: check::check,
    list_users: users::list,
    list_groups: groups::list,
    list_activities: activity::list,
    posture: posture::findings,
    list_files: files::list,
    read_file: files::read,
    act: actions::act,
});

/// The OAuth option's id, as `ctx.auth` reports it.
pub const OAUTH: &str = "oauth";

/// What the operator sees before connecting an instance.
fn describe() -> ConnectorInfo {
    ConnectorInfo {
        capabilities: [
            &Capability::DIRECTORY[..],
            &Capability::ACTIVITY,
            &[
                Capability::Posture,
                Capability::Files,
                Capability::FileContent,
            ],
        ]
        .concat(),
        actions: vec![
            ActionKind::SuspendUser,
            ActionKind::UnsuspendUser,
            ActionKind::RequirePasswordReset,
        ],
        config: vec![
            ConfigField::new("instance", "Instance name")
                .required()
                .example("acme")
                .description("The instance's name: `acme` for https://acme.service-now.com."),
            ConfigField::new("base_url", "Instance URL")
                .default("https://{instance}.service-now.com")
                .description(
                    "The instance's URL; change it only for a custom URL or a test instance.",
                ),
            ConfigField::new("username", "Integration user name")
                .example("sluice.integration")
                .description(
                    "The user name of the integration user (basic auth). Give it the \
                     `admin` role, or `user_admin` for users and groups only (attachments \
                     need read on their records' tables); tick \"Web service access only\" \
                     and set its time zone to GMT.",
                ),
            ConfigField::new("password", "Integration user password")
                .secret()
                .description("The integration user's password (basic auth)."),
            ConfigField::new("client_id", "OAuth client id").description(
                "For the `oauth` option: the client id of an OAuth API endpoint \
                     (System OAuth → Application Registry) with the client-credentials \
                     grant enabled; its tokens act as the endpoint's OAuth application user.",
            ),
            ConfigField::new("client_secret", "OAuth client secret")
                .secret()
                .description("For the `oauth` option: the endpoint's client secret."),
        ],
        auth: vec![
            AuthOption::new(
                "basic",
                "Integration user (basic auth)",
                AuthScheme::Basic(BasicAuth {
                    username: "{username}".into(),
                    password_field: "password".into(),
                }),
            ),
            AuthOption::new(
                OAUTH,
                "OAuth 2.0 client credentials",
                AuthScheme::Oauth2ClientCredentials(Oauth2ClientCredentials {
                    token_url: "{base_url}/oauth_token.do".into(),
                    client_id_field: "client_id".into(),
                    client_secret_field: "client_secret".into(),
                    scopes: Vec::new(),
                    client_auth: ClientAuth::RequestBody,
                    grant_type: None,
                    params: Vec::new(),
                }),
            ),
        ],
        egress: vec!["{base_url}".into()],
        rate_limits: vec![RateLimit {
            scope: "*".into(),
            requests: 600,
            per_seconds: 60,
            burst: 20,
            max_concurrency: 4,
        }],
        max_look_back_days: None,
        ..ConnectorInfo::new(
            "servicenow",
            "ServiceNow",
            env!("CARGO_PKG_VERSION"),
            "ServiceNow, Inc.",
            "Users with their roles, groups and their members, sign-ins and failed \
             sign-ins from the event log, audited record changes, the instance's \
             security properties, and record attachments with their content (for DLP) of \
             one ServiceNow instance. Can lock out, deactivate and reactivate users and \
             require a password reset.",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_declares_what_the_connector_does() {
        let info = describe();
        assert_eq!(info.id, "servicenow");
        assert_eq!(info.egress, ["{base_url}"]);
        assert_eq!(
            sluice_sdk::testing::secret_fields(&info),
            ["password", "client_secret"]
        );
        assert!(matches!(&info.auth[0].scheme, AuthScheme::Basic(b)
            if b.username == "{username}" && b.password_field == "password"));
        assert!(
            matches!(&info.auth[1].scheme, AuthScheme::Oauth2ClientCredentials(o)
            if o.token_url == "{base_url}/oauth_token.do" && o.scopes.is_empty())
        );
        let base = info.config.iter().find(|f| f.name == "base_url").unwrap();
        assert_eq!(
            base.default.as_deref(),
            Some("https://{instance}.service-now.com")
        );
        assert!(info.capabilities.contains(&Capability::Posture));
        assert!(info.capabilities.contains(&Capability::Files));
        assert!(info.capabilities.contains(&Capability::FileContent));
        assert!(
            !info.actions.contains(&ActionKind::TrashFile),
            "ServiceNow deletes attachments permanently: no trash"
        );
    }
}
