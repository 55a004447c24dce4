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

use sluice_sdk::http::{Request, path_segment};
use sluice_sdk::prelude::*;

use crate::api::Api;

/// Performs or plans `action`.
pub fn act(ctx: &Context, action: &Action) -> Result<ActionOutcome, ConnectorError> {
    let api = Api::new(ctx)?;
    let target = action.target.trim();
    let segment = path_segment(target)
        .ok_or_else(|| ConnectorError::other(format!("`{target}` is not a valid action target")))?;
    let user_url = api.graph(&format!("/users/{segment}"));
    match action.kind {
        ActionKind::SuspendUser | ActionKind::UnsuspendUser => {
            let enable = action.kind == ActionKind::UnsuspendUser;
            let request =
                http::patch(&user_url).json_body(&serde_json::json!({ "accountEnabled": enable }));
            let what = format!(
                "{} user {target}",
                if enable { "enable" } else { "disable" }
            );
            if action.dry_run {
                return Ok(planned(&request, &what));
            }
            let current = api
                .get(
                    http::get(&user_url)
                        .query("$select", "id,accountEnabled")
                        .url(),
                )
                .send()?
                .error_for_status()?
                .json_value()?;
            if json::bool_at(&current, "accountEnabled") == Some(enable) {
                return Ok(ActionOutcome {
                    status: ActionStatus::Already,
                    message: format!("user {target} already has accountEnabled={enable}"),
                    requests: Vec::new(),
                });
            }
            send(request, &what)
        }
        ActionKind::RequireSignIn => {
            let request = http::post(format!("{user_url}/revokeSignInSessions"));
            let what = format!("revoke the sign-in sessions of user {target}");
            if action.dry_run {
                return Ok(planned(&request, &what));
            }
            send(request, &what)
        }
        ActionKind::RevokeAppPermission => {
            let request = http::delete(api.graph(&format!("/oauth2PermissionGrants/{segment}")));
            let what = format!("delete permission grant {target}");
            if action.dry_run {
                return Ok(planned(&request, &what));
            }
            let line = request.line();
            match request.send()?.error_for_status() {
                Ok(_) => Ok(ActionOutcome {
                    status: ActionStatus::Done,
                    message: format!("did {what}"),
                    requests: vec![line],
                }),
                Err(ConnectorError::NotFound(_)) => Ok(ActionOutcome {
                    status: ActionStatus::Already,
                    message: format!("nothing to {what}: Graph answered 404"),
                    requests: vec![line],
                }),
                Err(error) => Err(error),
            }
        }
        kind => Err(ConnectorError::unsupported(format!(
            "Microsoft 365 connector does not perform {kind:?}"
        ))),
    }
}

fn planned(request: &Request, what: &str) -> ActionOutcome {
    ActionOutcome {
        status: ActionStatus::Planned,
        message: format!("would {what}"),
        requests: vec![request.line()],
    }
}

fn send(request: Request, what: &str) -> Result<ActionOutcome, ConnectorError> {
    let line = request.line();
    request.send()?.error_for_status()?;
    Ok(ActionOutcome {
        status: ActionStatus::Done,
        message: format!("did {what}"),
        requests: vec![line],
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake;

    fn action(kind: ActionKind, target: &str, dry_run: bool) -> Action {
        Action {
            kind,
            target: target.into(),
            params: vec![],
            reason: None,
            dry_run,
        }
    }

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
