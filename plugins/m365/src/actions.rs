//! `act`: governance through Graph.
//!
//! | action | request |
//! |---|---|
//! | `suspend-user` / `unsuspend-user` | `PATCH /users/{id}` `{"accountEnabled": false/true}` |
//! | `require-sign-in` | `POST /users/{id}/revokeSignInSessions` |
//! | `revoke-app-permission` | `DELETE /oauth2PermissionGrants/{id}` |
//!
//! A dry run sends nothing and lists the write request. Suspending reads the user first
//! (`GET /users/{id}?$select=id,accountEnabled`) so an account already in the asked
//! state is `already`; a grant that is gone (404) is `already` revoked.

use sluice_sdk::prelude::*;

use crate::api::Api;

/// Performs or plans `action`.
pub fn act(ctx: &Context, action: &Action) -> Result<ActionOutcome, ConnectorError> {
    let api = Api::new(ctx)?;
    let target = action.target.trim();
    let segment = action::target_segment(target)?;
    let user_url = api.graph(&format!("/users/{segment}"));
    match action.kind {
        ActionKind::SuspendUser | ActionKind::UnsuspendUser => {
            let enable = action.kind == ActionKind::UnsuspendUser;
            let request =
                http::patch(&user_url).json_body(&serde_json::json!({ "accountEnabled": enable }));
            let verb = if enable { "enable" } else { "disable" };
            Write::new(request, format!("{verb} user {target}")).perform_unless(
                action.dry_run,
                || {
                    let current = api
                        .get(
                            http::get(&user_url)
                                .query("$select", "id,accountEnabled")
                                .url(),
                        )
                        .send()?
                        .error_for_status()?
                        .json_value()?;
                    let already = json::bool_at(&current, "accountEnabled") == Some(enable);
                    Ok(already.then(|| format!("user {target} has accountEnabled={enable}")))
                },
            )
        }
        ActionKind::RequireSignIn => Write::new(
            http::post(format!("{user_url}/revokeSignInSessions")),
            format!("revoke the sign-in sessions of user {target}"),
        )
        .perform(action.dry_run),
        // A grant that is gone was revoked already.
        ActionKind::RevokeAppPermission => Write::new(
            http::delete(api.graph(&format!("/oauth2PermissionGrants/{segment}"))),
            format!("delete permission grant {target}"),
        )
        .gone_is_already()
        .perform(action.dry_run),
        _ => Err(action::unsupported("Microsoft 365", action)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake;

    use sluice_sdk::testing::action;

    #[test]
    fn dry_runs_send_nothing_and_already_disabled_users_are_already() {
        let host = fake::tenant(None, vec![]);
        let (outcome, host) = host.run(|| {
            act(
                &fake::ctx(10, None),
                &action(ActionKind::SuspendUser, "u1", true),
            )
            .unwrap()
        });
        assert!(host.requests().is_empty());
        assert_eq!(outcome.status, ActionStatus::Planned);
        assert_eq!(outcome.requests, ["PATCH https://graph.test/v1.0/users/u1"]);

        let host = fake::tenant(
            None,
            vec![(
                "https://graph.test/v1.0/users/u1?%24select=id%2CaccountEnabled".into(),
                fake::json(&json!({"id": "u1", "accountEnabled": false})),
            )],
        );
        let (outcome, host) = host.run(|| {
            act(
                &fake::ctx(10, None),
                &action(ActionKind::SuspendUser, "u1", false),
            )
            .unwrap()
        });
        assert_eq!(outcome.status, ActionStatus::Already);
        assert_eq!(host.requests().len(), 1);
        assert!(act_rejects_dot_dot());
    }

    fn act_rejects_dot_dot() -> bool {
        let host = fake::tenant(None, vec![]);
        let (result, _) = host.run(|| {
            act(
                &fake::ctx(10, None),
                &action(ActionKind::RevokeAppPermission, "..", false),
            )
        });
        matches!(result, Err(ConnectorError::Other(_)))
    }
}
