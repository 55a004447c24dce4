//! `act`: the governance actions GitHub's org API can perform with an owner's token.
//!
//! - `remove-collaborator` (target: the outside collaborator's user id with param
//!   `login`, which the host adds from the stored user, or the login itself):
//!   `DELETE /orgs/{org}/outside_collaborators/{login}`;
//! - `revoke-app-permission` (target: `credential:{id}` from `list-app-permissions`):
//!   `DELETE /orgs/{org}/credential-authorizations/{id}`. Installations cannot be
//!   removed with an org token (only by the app itself or in the settings UI).
//!
//! A dry run returns the request line and sends nothing. A 404 means the target is
//! already gone, which is the state the operator asked for (the SDK's
//! [`Write`](sluice_sdk::action::Write) gives those answers).

use sluice_sdk::prelude::*;

use crate::api::Api;

/// Performs or plans `action`.
pub fn act(ctx: &Context, action: &Action) -> Result<ActionOutcome, ConnectorError> {
    let api = Api::new(ctx)?;
    let target = action.target.trim();
    let write = match action.kind {
        ActionKind::RemoveCollaborator => {
            // The host passes the user record's id (numeric at GitHub) with its `login`
            // param; the API removes by login.
            let login = action::param(action, "login").unwrap_or(target);
            Write::new(
                api.delete(api.org_url(&format!(
                    "/outside_collaborators/{}",
                    action::target_segment(login)?
                ))),
                format!("remove outside collaborator `{login}` from `{}`", api.org()),
            )
        }
        ActionKind::RevokeAppPermission => {
            let Some(id) = target.strip_prefix("credential:") else {
                return Err(ConnectorError::unsupported(format!(
                    "only SAML credential authorizations (`credential:…`) can be revoked, not \
                     `{target}`; uninstall GitHub Apps in the organization's settings"
                )));
            };
            Write::new(
                api.delete(api.org_url(&format!(
                    "/credential-authorizations/{}",
                    action::target_segment(id)?
                ))),
                format!("revoke credential authorization {id} in `{}`", api.org()),
            )
        }
        _ => return Err(action::unsupported("GitHub", action)),
    };
    // A 404 means the target is already gone, the state the operator asked for.
    write.gone_is_already().perform(action.dry_run)
}

#[cfg(test)]
mod tests {
    use sluice_sdk::http::Response;

    use super::*;
    use crate::api::fake;

    use sluice_sdk::testing::action;

    #[test]
    fn dry_runs_send_nothing() {
        let host = fake::github(vec![]);
        let (result, host) = host.run(|| {
            act(
                &fake::ctx(100, None),
                &action(ActionKind::RemoveCollaborator, "bob", true),
            )
        });
        let outcome = result.unwrap();
        assert_eq!(outcome.status, ActionStatus::Planned);
        assert_eq!(
            outcome.requests,
            ["DELETE https://gh.test/orgs/acme/outside_collaborators/bob"]
        );
        assert!(host.requests().is_empty());
    }

    #[test]
    fn removes_by_the_login_param_when_the_target_is_the_numeric_id() {
        let mut by_id = action(ActionKind::RemoveCollaborator, "583231", true);
        by_id.params = vec![("login".into(), "octocat".into())];
        let (result, _) = fake::github(vec![]).run(|| act(&fake::ctx(100, None), &by_id));
        assert_eq!(
            result.unwrap().requests,
            ["DELETE https://gh.test/orgs/acme/outside_collaborators/octocat"]
        );
    }

    #[test]
    fn removes_and_reports_already_removed() {
        let url = "https://gh.test/orgs/acme/outside_collaborators/bob";
        let host = fake::github(vec![(url.into(), Response::new(204, vec![], ""))]);
        let (result, host) = host.run(|| {
            act(
                &fake::ctx(100, None),
                &action(ActionKind::RemoveCollaborator, "bob", false),
            )
        });
        assert_eq!(result.unwrap().status, ActionStatus::Done);
        assert_eq!(host.requests()[0].line(), format!("DELETE {url}"));

        let host = fake::github(vec![]);
        let (result, _) = host.run(|| {
            act(
                &fake::ctx(100, None),
                &action(ActionKind::RemoveCollaborator, "bob", false),
            )
        });
        assert_eq!(result.unwrap().status, ActionStatus::Already);
    }

    #[test]
    fn revokes_credentials_only_and_encodes_targets() {
        let url = "https://gh.test/orgs/acme/credential-authorizations/161195";
        let host = fake::github(vec![(url.into(), Response::new(204, vec![], ""))]);
        let (result, _) = host.run(|| {
            act(
                &fake::ctx(100, None),
                &action(ActionKind::RevokeAppPermission, "credential:161195", false),
            )
        });
        assert_eq!(result.unwrap().status, ActionStatus::Done);

        let (results, host) = fake::github(vec![]).run(|| {
            let ctx = fake::ctx(100, None);
            [
                act(
                    &ctx,
                    &action(ActionKind::RevokeAppPermission, "installation:25381", false),
                ),
                act(&ctx, &action(ActionKind::SuspendUser, "bob", false)),
            ]
        });
        assert!(
            results
                .iter()
                .all(|r| matches!(r, Err(ConnectorError::Unsupported(_))))
        );
        assert!(host.requests().is_empty());

        let (result, _) = fake::github(vec![]).run(|| {
            act(
                &fake::ctx(100, None),
                &action(ActionKind::RemoveCollaborator, "../members/alice", true),
            )
        });
        assert_eq!(
            result.unwrap().requests,
            ["DELETE https://gh.test/orgs/acme/outside_collaborators/..%2Fmembers%2Falice"]
        );
        for target in ["..", "credential:..", " ", "credential:"] {
            let kind = if target.starts_with("credential") {
                ActionKind::RevokeAppPermission
            } else {
                ActionKind::RemoveCollaborator
            };
            let (result, host) = fake::github(vec![])
                .run(|| act(&fake::ctx(100, None), &action(kind, target, false)));
            assert!(
                matches!(result, Err(ConnectorError::Other(_))),
                "{target}: {result:?}"
            );
            assert!(host.requests().is_empty());
        }
    }
}
