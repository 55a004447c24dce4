//! `act`: freezing, deactivating and restoring users, and revoking OAuth tokens.
//!
//! | action | param `mode` | request |
//! |---|---|---|
//! | `suspend-user` | `freeze` (default) | `PATCH …/sobjects/UserLogin/{login id}` `{"IsFrozen": true}` |
//! | `suspend-user` | `deactivate` | `PATCH …/sobjects/User/{id}` `{"IsActive": false}` |
//! | `unsuspend-user` | `freeze` (default) | `PATCH …/sobjects/UserLogin/{login id}` `{"IsFrozen": false}` |
//! | `unsuspend-user` | `deactivate` | `PATCH …/sobjects/User/{id}` `{"IsActive": true}` |
//! | `revoke-app-permission` | | `DELETE …/sobjects/OauthToken/{id}` |
//! | `trash-file` | | `DELETE …/sobjects/ContentDocument/{id}` (see `files`) |
//! | `remove-public-link` | | `DELETE …/sobjects/ContentDistribution/{id}`, each of the file's (see `files`) |
//!
//! Freezing stops the user signing in but keeps the license and everything the user
//! owns; deactivating frees the license too (Salesforce never deletes users). The
//! target of the user actions is the user id; the user's `UserLogin` record, whose id
//! the freeze needs, is read first, in a dry run too (a read is no write). A user
//! already in the asked-for state is `already` and nothing is written. Salesforce logs
//! freezes and deactivations in the Setup Audit Trail, so the next activity scan shows
//! them. Freezing needs "Manage Users" or "Freeze Users", deactivating and revoking
//! tokens "Manage Users".

use serde_json::json;
use sluice_sdk::prelude::*;

use crate::api::{Api, literal, record_id};

/// Performs or plans `action`.
pub fn act(ctx: &Context, action: &Action) -> Result<ActionOutcome, ConnectorError> {
    let api = Api::new(ctx)?;
    let suspend = match action.kind {
        ActionKind::SuspendUser => true,
        ActionKind::UnsuspendUser => false,
        ActionKind::RevokeAppPermission => return revoke(&api, action),
        ActionKind::TrashFile => return crate::files::trash(&api, action),
        ActionKind::RemovePublicLink => return crate::files::remove_public_links(&api, action),
        _ => return Err(action::unsupported("Salesforce", action)),
    };
    let user = record_id(&action.target, "user")?;
    match action::param(action, "mode").unwrap_or("freeze") {
        "freeze" => freeze(&api, user, suspend, action.dry_run),
        "deactivate" => deactivate(&api, user, suspend, action.dry_run),
        other => Err(ConnectorError::other(format!(
            "param `mode` is `freeze` (the default) or `deactivate`, not `{other}`"
        ))),
    }
}

/// Freezes (`frozen`) or unfreezes `user` through its `UserLogin` record.
fn freeze(
    api: &Api,
    user: &str,
    frozen: bool,
    dry_run: bool,
) -> Result<ActionOutcome, ConnectorError> {
    let (logins, _) = api.query_all(
        &format!(
            "SELECT Id, UserId, IsFrozen FROM UserLogin WHERE UserId = {}",
            literal(user)
        ),
        1,
    )?;
    let login = logins.first().ok_or_else(|| {
        ConnectorError::not_found(format!("no Salesforce user `{user}` (no UserLogin record)"))
    })?;
    let login_id = json::str_at(login, "Id")
        .ok_or_else(|| ConnectorError::upstream("a UserLogin record came without an Id"))?;
    let is_frozen = json::bool_at(login, "IsFrozen") == Some(true);
    let what = if frozen {
        format!("freeze Salesforce user {user}")
    } else {
        format!("unfreeze Salesforce user {user}")
    };
    let request = api.patch(
        api.sobject_url("UserLogin", &login_id)?,
        &json!({"IsFrozen": frozen}),
    );
    Write::new(request, what).perform_unless(dry_run, || {
        Ok((is_frozen == frozen).then(|| {
            format!(
                "Salesforce user {user} is {}frozen",
                if is_frozen { "" } else { "not " }
            )
        }))
    })
}

/// Deactivates (`deactivate`) or reactivates `user`.
fn deactivate(
    api: &Api,
    user: &str,
    deactivate: bool,
    dry_run: bool,
) -> Result<ActionOutcome, ConnectorError> {
    let what = if deactivate {
        format!("deactivate Salesforce user {user}")
    } else {
        format!("reactivate Salesforce user {user}")
    };
    let request = api.patch(
        api.sobject_url("User", user)?,
        &json!({"IsActive": !deactivate}),
    );
    Write::new(request, what).perform_unless(dry_run, || {
        let (users, _) = api.query_all(
            &format!("SELECT Id, IsActive FROM User WHERE Id = {}", literal(user)),
            1,
        )?;
        let found = users
            .first()
            .ok_or_else(|| ConnectorError::not_found(format!("no Salesforce user `{user}`")))?;
        let active = json::bool_at(found, "IsActive") != Some(false);
        Ok((active != deactivate).then(|| {
            format!(
                "Salesforce user {user} is {}",
                if active { "active" } else { "deactivated" }
            )
        }))
    })
}

/// Revokes the OAuth token `action.target`; a token already gone is `already`.
fn revoke(api: &Api, action: &Action) -> Result<ActionOutcome, ConnectorError> {
    let token = record_id(&action.target, "OAuth token")?;
    Write::new(
        api.delete(api.sobject_url("OauthToken", token)?),
        format!("revoke Salesforce OAuth token {token}"),
    )
    .gone_is_already()
    .perform(action.dry_run)
}

#[cfg(test)]
mod tests {
    use sluice_sdk::http::Response;
    use sluice_sdk::testing::action;

    use super::*;
    use crate::api::fake;

    const USER: &str = "005000000000001AAA";
    const LOGIN: &str = "060000000000001AAA";

    fn login_query() -> String {
        fake::query(&format!(
            "SELECT Id, UserId, IsFrozen FROM UserLogin WHERE UserId = '{USER}'"
        ))
    }

    fn login(frozen: bool) -> Response {
        fake::batch(
            json!([{"Id": LOGIN, "UserId": USER, "IsFrozen": frozen}]),
            None,
        )
    }

    fn login_url() -> String {
        format!(
            "{}/services/data/v62.0/sobjects/UserLogin/{LOGIN}",
            fake::INSTANCE
        )
    }

    #[test]
    fn a_freeze_reads_the_user_login_then_patches_it_once() {
        let host = fake::org(vec![
            (login_query(), login(false)),
            (login_url(), Response::new(204, vec![], "")),
        ]);
        let (result, host) = host.run(|| {
            act(
                &fake::ctx(200, None),
                &action(ActionKind::SuspendUser, USER, false),
            )
        });
        assert_eq!(result.unwrap().status, ActionStatus::Done);
        let sent = host.requests();
        assert_eq!(sent[1].line(), format!("PATCH {}", login_url()));
        let body: Value = serde_json::from_slice(sent[1].body.as_deref().unwrap()).unwrap();
        assert_eq!(body, json!({"IsFrozen": true}));

        let host = fake::org(vec![(login_query(), login(true))]);
        let (result, host) = host.run(|| {
            act(
                &fake::ctx(200, None),
                &action(ActionKind::SuspendUser, USER, false),
            )
        });
        assert_eq!(result.unwrap().status, ActionStatus::Already);
        assert_eq!(host.requests().len(), 1, "no PATCH");
    }

    #[test]
    fn dry_runs_only_read_and_bad_targets_send_nothing() {
        let host = fake::org(vec![(login_query(), login(false))]);
        let (result, host) = host.run(|| {
            act(
                &fake::ctx(200, None),
                &action(ActionKind::SuspendUser, USER, true),
            )
        });
        let outcome = result.unwrap();
        assert_eq!(outcome.status, ActionStatus::Planned);
        assert_eq!(outcome.requests, [format!("PATCH {}", login_url())]);
        assert!(host.requests().iter().all(|r| r.line().starts_with("GET ")));

        let (result, host) = fake::org(vec![]).run(|| {
            act(
                &fake::ctx(200, None),
                &action(ActionKind::SuspendUser, "005' OR x", false),
            )
        });
        assert!(matches!(result, Err(ConnectorError::Other(_))));
        assert!(host.requests().is_empty());
        let (result, _) = fake::org(vec![]).run(|| {
            act(
                &fake::ctx(200, None),
                &action(ActionKind::RequireSignIn, USER, false),
            )
        });
        assert!(matches!(result, Err(ConnectorError::Unsupported(_))));
    }

    #[test]
    fn a_revoked_token_that_is_gone_is_already_revoked() {
        let token = "0CR000000000001AAA";
        let (result, host) = fake::org(vec![]).run(|| {
            act(
                &fake::ctx(200, None),
                &action(ActionKind::RevokeAppPermission, token, false),
            )
        });
        assert_eq!(result.unwrap().status, ActionStatus::Already);
        assert_eq!(
            host.requests()[0].line(),
            format!(
                "DELETE {}/services/data/v62.0/sobjects/OauthToken/{token}",
                fake::INSTANCE
            )
        );
    }
}
