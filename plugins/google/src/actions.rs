//! `act`: user governance through the Directory API, grant revocation, and the Drive
//! file actions (in `files`).
//!
//! | action | request |
//! |---|---|
//! | `suspend-user` / `unsuspend-user` | `PUT /admin/directory/v1/users/{userKey}` `{"suspended": true/false}` (`users.update`), after reading `suspended` |
//! | `require-sign-in` | `POST …/users/{userKey}/signOut`: ends the user's web and device sessions |
//! | `require-password-reset` | `PUT …/users/{userKey}` `{"changePasswordAtNextLogin": true}` |
//! | `revoke-app-permission` | `DELETE …/users/{userKey}/tokens/{clientId}` (`tokens.delete`; target `{user id}:{clientId}`) |
//! | `trash-file`, `quarantine-file`, `remove-public-link`, `remove-external-sharing`, `remove-file-collaborator`, `apply-label` | see `files` |
//!
//! A user target is the user's id or primary email (`userKey` takes either).

use serde_json::json;
use sluice_sdk::prelude::*;

use crate::api::Api;
use crate::{apps, files};

/// Performs (or plans) `action`.
pub fn act(ctx: &Context, action: &Action) -> Result<ActionOutcome, ConnectorError> {
    let api = Api::new(ctx)?;
    match action.kind {
        ActionKind::SuspendUser => set_flag(&api, action, "suspended", true, "suspend"),
        ActionKind::UnsuspendUser => set_flag(&api, action, "suspended", false, "unsuspend"),
        ActionKind::RequirePasswordReset => set_flag(
            &api,
            action,
            "changePasswordAtNextLogin",
            true,
            "require a new password at the next sign-in of",
        ),
        ActionKind::RequireSignIn => {
            let user = action::target_segment(&action.target)?;
            Write::new(
                http::post(api.directory(&format!("/users/{user}/signOut"))),
                format!("sign Google user {user} out of every session"),
            )
            .perform(action.dry_run)
        }
        ActionKind::RevokeAppPermission => {
            let (user, client) = apps::parse_id(&action.target)?;
            Write::new(
                http::delete(api.directory(&format!("/users/{user}/tokens/{client}"))),
                format!("revoke the OAuth grant of app {client} by user {user}"),
            )
            .gone_is_already()
            .perform(action.dry_run)
        }
        ActionKind::TrashFile => files::trash(&api, action),
        ActionKind::QuarantineFile => files::quarantine(&api, action),
        ActionKind::RemovePublicLink => files::remove_public_link(&api, action),
        ActionKind::RemoveExternalSharing => files::remove_external_sharing(&api, action),
        ActionKind::RemoveFileCollaborator => files::remove_collaborator(&api, action),
        ActionKind::ApplyLabel => files::apply_label(&api, action),
        _ => Err(action::unsupported("Google Workspace", action)),
    }
}

/// Sets the user's boolean `field` to `value` with `users.update`, unless it is so
/// already; `verb` names the action ("suspend").
fn set_flag(
    api: &Api,
    action: &Action,
    field: &str,
    value: bool,
    verb: &str,
) -> Result<ActionOutcome, ConnectorError> {
    let user = action::target_segment(&action.target)?;
    let url = api.directory(&format!("/users/{user}"));
    let mut body = json!({ field: value });
    if field == "suspended" && !value {
        body = json!({"suspended": false});
    }
    Write::new(
        http::put(url.clone()).json_body(&body),
        format!("{verb} Google user {user}"),
    )
    .perform_unless(action.dry_run, || {
        let now = api.fetch(api.get(url.clone()).query("fields", format!("id,{field}")))?;
        Ok((json::bool_at(&now, field).unwrap_or(false) == value)
            .then(|| format!("Google user {user} has {field} {value}")))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sluice_sdk::http::Response;
    use sluice_sdk::testing::action as test_action;

    use super::*;
    use crate::api::fake::{self, ADMIN};

    #[test]
    fn suspend_reads_then_puts_and_a_suspended_user_is_already() {
        let user = format!("{ADMIN}/admin/directory/v1/users/u1");
        let read = format!("{user}?fields=id%2Csuspended");
        let host = fake::google(vec![]).on_request(move |r| {
            Ok(if r.line().starts_with("PUT ") {
                let body = r.body.as_deref().unwrap_or_default();
                assert_eq!(
                    serde_json::from_slice::<Value>(body).unwrap(),
                    json!({"suspended": true})
                );
                fake::json(&json!({"id": "u1", "suspended": true}))
            } else {
                fake::json(&json!({"id": "u1", "suspended": false}))
            })
        });
        let (outcome, host) = host.run(|| {
            act(
                &fake::ctx(2, None),
                &test_action(ActionKind::SuspendUser, "u1", false),
            )
        });
        let outcome = outcome.unwrap();
        assert_eq!(outcome.status, ActionStatus::Done);
        assert_eq!(outcome.requests, [format!("PUT {user}")]);
        assert_eq!(host.requests().len(), 2);

        let host = fake::google(vec![(
            read,
            fake::json(&json!({"id": "u1", "suspended": true})),
        )]);
        let (outcome, _) = host.run(|| {
            act(
                &fake::ctx(2, None),
                &test_action(ActionKind::SuspendUser, "u1", false),
            )
        });
        assert_eq!(outcome.unwrap().status, ActionStatus::Already);
    }

    #[test]
    fn revoking_a_grant_deletes_its_token_and_a_gone_one_is_already() {
        let host = fake::google(vec![]).on_request(|_| Ok(Response::new(404, vec![], "")));
        let target = "u1:123-abc.apps.googleusercontent.com";
        let (outcome, host) = host.run(|| {
            act(
                &fake::ctx(2, None),
                &test_action(ActionKind::RevokeAppPermission, target, false),
            )
        });
        assert_eq!(outcome.unwrap().status, ActionStatus::Already);
        assert_eq!(
            host.requests()[0].line(),
            format!(
                "DELETE {ADMIN}/admin/directory/v1/users/u1/tokens/123-abc.apps.googleusercontent.com"
            )
        );
    }
}
