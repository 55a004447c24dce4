//! `act`: Okta's user lifecycle and session governance.
//!
//! | action | request |
//! |---|---|
//! | `suspend-user` | `POST /api/v1/users/{id}/lifecycle/suspend` |
//! | `unsuspend-user` | `POST /api/v1/users/{id}/lifecycle/unsuspend` |
//! | `require-sign-in` | `DELETE /api/v1/users/{id}/sessions?oauthTokens=true` |
//! | `remove-group-member` (target: group id, param `member`: user id) | `DELETE /api/v1/groups/{groupId}/users/{userId}` |
//!
//! Okta refuses to suspend a user who is not `ACTIVE` and to unsuspend one who is not
//! `SUSPENDED` (400), so both first read `GET /api/v1/users/{id}`: a user already in
//! the asked-for state is `already`, and nothing is written. Sessions cannot be
//! listed per user, so `require-sign-in` always sends its DELETE (which Okta answers
//! 204 whether or not sessions existed); `oauthTokens=true` also revokes the user's
//! OAuth tokens, without which apps holding refresh tokens would stay signed in.
//!
//! Okta answers 204 to an unassignment whether or not the user was a member, so
//! `remove-group-member` first reads the user's groups (`GET
//! /api/v1/users/{id}/groups`): a user not in the group is `already` removed.
//!
//! A dry run sends nothing at all and lists the write request it would send.

use sluice_sdk::prelude::*;

use crate::api::Api;

/// Performs or plans `action`.
pub fn act(ctx: &Context, action: &Action) -> Result<ActionOutcome, ConnectorError> {
    let api = Api::new(ctx)?;
    let target = action.target.trim();
    if action.kind == ActionKind::RemoveGroupMember {
        return remove_group_member(&api, target, action);
    }
    let (request, what, already_if) = match action.kind {
        ActionKind::SuspendUser => (
            api.post(api.user_url(target, "/lifecycle/suspend")?),
            format!("suspend Okta user {target}"),
            Some(is_suspended as fn(&str) -> bool),
        ),
        ActionKind::UnsuspendUser => (
            api.post(api.user_url(target, "/lifecycle/unsuspend")?),
            format!("unsuspend Okta user {target}"),
            Some(is_not_suspended as fn(&str) -> bool),
        ),
        ActionKind::RequireSignIn => (
            api.delete(api.user_url(target, "/sessions")?)
                .query("oauthTokens", "true"),
            format!("end every session and OAuth token of Okta user {target}"),
            None,
        ),
        _ => return Err(action::unsupported("Okta", action)),
    };
    Write::new(request, what).perform_unless(action.dry_run, || {
        let Some(already) = already_if else {
            return Ok(None);
        };
        let status = user_status(&api, target)?;
        Ok(already(&status).then(|| format!("Okta user {target} is {status}")))
    })
}

/// `remove-group-member`: unassign user `member` from group `group`.
fn remove_group_member(
    api: &Api,
    group: &str,
    action: &Action,
) -> Result<ActionOutcome, ConnectorError> {
    let member = action::param(action, "member").ok_or_else(|| {
        ConnectorError::other("remove-group-member needs param `member` (the user's id)")
    })?;
    let request = api.delete(api.url(&format!(
        "/api/v1/groups/{}/users/{}",
        action::target_segment(group)?,
        action::target_segment(member)?
    )));
    let what = format!("remove Okta user {member} from group {group}");
    Write::new(request, what).perform_unless(action.dry_run, || {
        let response = api.get(api.user_url(member, "/groups")?).send()?;
        if response.status() == 404 {
            return Err(ConnectorError::not_found(format!(
                "no Okta user `{member}`"
            )));
        }
        let groups = response.error_for_status()?.json_value()?;
        let is_member = groups.as_array().is_some_and(|gs| {
            gs.iter()
                .any(|g| json::str_at(g, "id").as_deref() == Some(group))
        });
        Ok((!is_member).then(|| format!("Okta user {member} is not in group {group}")))
    })
}

/// Suspended already: nothing to suspend.
fn is_suspended(status: &str) -> bool {
    status == "SUSPENDED"
}

/// Not suspended: nothing to unsuspend (Okta unsuspends only `SUSPENDED` users).
fn is_not_suspended(status: &str) -> bool {
    !is_suspended(status)
}

/// The user's Okta lifecycle status, e.g. `ACTIVE`.
fn user_status(api: &Api, id: &str) -> Result<String, ConnectorError> {
    let response = api.get(api.user_url(id, "")?).send()?;
    if response.status() == 404 {
        return Err(ConnectorError::not_found(format!("no Okta user `{id}`")));
    }
    let user = response.error_for_status()?.json_value()?;
    Ok(json::str_at(&user, "status").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sluice_sdk::http::Response;

    use super::*;
    use crate::api::fake;

    use sluice_sdk::testing::action;

    fn user(status: &str) -> Response {
        fake::json(&json!({"id": "00u1", "status": status}), None)
    }

    #[test]
    fn dry_runs_send_nothing() {
        for (kind, line) in [
            (
                ActionKind::SuspendUser,
                "POST https://okta.test/api/v1/users/00u1/lifecycle/suspend",
            ),
            (
                ActionKind::UnsuspendUser,
                "POST https://okta.test/api/v1/users/00u1/lifecycle/unsuspend",
            ),
            (
                ActionKind::RequireSignIn,
                "DELETE https://okta.test/api/v1/users/00u1/sessions?oauthTokens=true",
            ),
        ] {
            let (result, host) =
                fake::okta(vec![]).run(|| act(&fake::ctx(100, None), &action(kind, "00u1", true)));
            let outcome = result.unwrap();
            assert_eq!(outcome.status, ActionStatus::Planned);
            assert_eq!(outcome.requests, [line]);
            assert!(host.requests().is_empty());
        }
    }

    #[test]
    fn suspends_an_active_user_and_reports_already_suspended() {
        let user_url = "https://okta.test/api/v1/users/00u1";
        let suspend = "https://okta.test/api/v1/users/00u1/lifecycle/suspend";
        let host = fake::okta(vec![
            (user_url.into(), user("ACTIVE")),
            (suspend.into(), fake::json(&json!({}), None)),
        ]);
        let (result, host) = host.run(|| {
            act(
                &fake::ctx(100, None),
                &action(ActionKind::SuspendUser, "00u1", false),
            )
        });
        assert_eq!(result.unwrap().status, ActionStatus::Done);
        let lines: Vec<_> = host.requests().iter().map(|r| r.line()).collect();
        assert_eq!(
            lines,
            [format!("GET {user_url}"), format!("POST {suspend}")]
        );

        let host = fake::okta(vec![(user_url.into(), user("SUSPENDED"))]);
        let (result, host) = host.run(|| {
            act(
                &fake::ctx(100, None),
                &action(ActionKind::SuspendUser, "00u1", false),
            )
        });
        assert_eq!(result.unwrap().status, ActionStatus::Already);
        assert_eq!(host.requests().len(), 1);

        let host = fake::okta(vec![(user_url.into(), user("ACTIVE"))]);
        let (result, _) = host.run(|| {
            act(
                &fake::ctx(100, None),
                &action(ActionKind::UnsuspendUser, "00u1", false),
            )
        });
        assert_eq!(result.unwrap().status, ActionStatus::Already);
    }

    #[test]
    fn removes_a_group_member_once_and_reports_a_non_member_as_already() {
        let mut remove = action(ActionKind::RemoveGroupMember, "00g1", false);
        remove.params = vec![("member".into(), "00u1".into())];
        let groups_url = "https://okta.test/api/v1/users/00u1/groups";
        let delete = "https://okta.test/api/v1/groups/00g1/users/00u1";

        let planned = Action {
            dry_run: true,
            ..remove.clone()
        };
        let (result, host) = fake::okta(vec![]).run(|| act(&fake::ctx(100, None), &planned));
        assert_eq!(result.unwrap().requests, [format!("DELETE {delete}")]);
        assert!(host.requests().is_empty());

        let host = fake::okta(vec![
            (
                groups_url.into(),
                fake::json(&json!([{"id": "00g0"}, {"id": "00g1"}]), None),
            ),
            (delete.into(), Response::new(204, vec![], "")),
        ]);
        let (result, host) = host.run(|| act(&fake::ctx(100, None), &remove));
        assert_eq!(result.unwrap().status, ActionStatus::Done);
        let lines: Vec<_> = host.requests().iter().map(|r| r.line()).collect();
        assert_eq!(
            lines,
            [format!("GET {groups_url}"), format!("DELETE {delete}")]
        );

        let host = fake::okta(vec![(
            groups_url.into(),
            fake::json(&json!([{"id": "00g0"}]), None),
        )]);
        let (result, host) = host.run(|| act(&fake::ctx(100, None), &remove));
        assert_eq!(result.unwrap().status, ActionStatus::Already);
        assert_eq!(host.requests().len(), 1, "no DELETE for a non-member");

        let no_member = action(ActionKind::RemoveGroupMember, "00g1", false);
        let (result, host) = fake::okta(vec![]).run(|| act(&fake::ctx(100, None), &no_member));
        assert!(
            matches!(result, Err(ConnectorError::Other(_))),
            "{result:?}"
        );
        assert!(host.requests().is_empty());
    }

    /// Okta's published error answers for the suspend operation (400, 403, 404, 429)
    /// become the matching typed errors carrying Okta's `errorSummary`.
    #[test]
    fn published_suspend_errors_are_typed_with_okta_s_summary() {
        let user_url = "https://okta.test/api/v1/users/00u1";
        let suspend = "https://okta.test/api/v1/users/00u1/lifecycle/suspend";
        let fixtures = fake::fixtures("suspend-user__");
        for (name, body) in &fixtures {
            let status: u16 = name.split("__").nth(1).unwrap().parse().unwrap();
            let summary = body["errorSummary"].as_str().unwrap().to_owned();
            let host = fake::okta(vec![
                (user_url.into(), user("ACTIVE")),
                (
                    suspend.into(),
                    Response::new(status, vec![], body.to_string()),
                ),
            ]);
            let (result, host) = host.run(|| {
                act(
                    &fake::ctx(100, None),
                    &action(ActionKind::SuspendUser, "00u1", false),
                )
            });
            assert_eq!(host.requests().len(), 2, "{name}");
            let error = result.unwrap_err();
            let message = match (status, &error) {
                (400, ConnectorError::Other(m))
                | (403, ConnectorError::Forbidden(m))
                | (404, ConnectorError::NotFound(m)) => m.clone(),
                (429, ConnectorError::RateLimited(None)) => continue,
                _ => panic!("{name}: {error:?}"),
            };
            assert_eq!(message, format!("HTTP {status}: {summary}"), "{name}");
        }
        if !fixtures.is_empty() {
            assert_eq!(fixtures.len(), 4);
        }
    }

    #[test]
    fn unknown_users_and_bad_targets_are_errors() {
        let (result, _) = fake::okta(vec![]).run(|| {
            act(
                &fake::ctx(100, None),
                &action(ActionKind::SuspendUser, "00u9", false),
            )
        });
        assert!(matches!(result, Err(ConnectorError::NotFound(_))));
        for target in ["..", " "] {
            let (result, host) = fake::okta(vec![]).run(|| {
                act(
                    &fake::ctx(100, None),
                    &action(ActionKind::RequireSignIn, target, false),
                )
            });
            assert!(matches!(result, Err(ConnectorError::Other(_))), "{target}");
            assert!(host.requests().is_empty());
        }
        let (result, _) = fake::okta(vec![]).run(|| {
            act(
                &fake::ctx(100, None),
                &action(ActionKind::QuarantineFile, "f", false),
            )
        });
        assert!(matches!(result, Err(ConnectorError::Unsupported(_))));
    }
}
