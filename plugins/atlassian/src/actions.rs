//! `act`: suspending and restoring a user's access to the organization (beyond the
//! provider docs' table, whose Atlassian row leaves user governance blank).
//!
//! | action | request |
//! |---|---|
//! | `suspend-user` | `POST /admin/v1/orgs/{orgId}/directory/users/{accountId}/suspend-access` |
//! | `unsuspend-user` | `POST /admin/v1/orgs/{orgId}/directory/users/{accountId}/restore-access` |
//!
//! Both first read the user, `GET …/directories/{directoryId}/users?accountIds={id}`: an
//! unknown account is `not-found`, and one already in the asked-for state
//! (`membershipStatus: suspended`, or not) is `already` with nothing written. A
//! suspended user keeps the account but cannot reach the organization's apps; the next
//! users scan shows it suspended and Atlassian logs it in the audit log. Atlassian
//! offers these endpoints to organizations on the new user management experience
//! only; elsewhere its refusal is returned as it came. A dry run sends nothing.

use sluice_sdk::prelude::*;

use crate::api::Api;

/// Performs or plans `action`.
pub fn act(ctx: &Context, action: &Action) -> Result<ActionOutcome, ConnectorError> {
    let api = Api::new(ctx)?;
    let target = action::target_segment(&action.target)?;
    let id = action.target.trim();
    let (suspend, verb) = match action.kind {
        ActionKind::SuspendUser => (true, "suspend-access"),
        ActionKind::UnsuspendUser => (false, "restore-access"),
        _ => return Err(action::unsupported("Atlassian", action)),
    };
    let request = api.post(api.v1(&format!("/directory/users/{target}/{verb}")));
    let what = if suspend {
        format!("suspend Atlassian user {id}'s access to the organization")
    } else {
        format!("restore Atlassian user {id}'s access to the organization")
    };
    Write::new(request, what).perform_unless(action.dry_run, || {
        let suspended = is_suspended(&api, id)?;
        Ok((suspended == suspend).then(|| {
            format!(
                "Atlassian user {id}'s access is {}suspended",
                if suspended { "" } else { "not " }
            )
        }))
    })
}

/// Whether account `id`'s access is suspended now; `not-found` for an unknown account.
fn is_suspended(api: &Api, id: &str) -> Result<bool, ConnectorError> {
    let url = api
        .get(api.directory("/users"))
        .query("accountIds", id)
        .url()
        .to_owned();
    let (users, _) = api.list_page(&url)?;
    let user = users
        .iter()
        .find(|u| json::str_at(u, "accountId").as_deref() == Some(id))
        .ok_or_else(|| ConnectorError::not_found(format!("no Atlassian user `{id}`")))?;
    Ok(crate::users::status_of(user) == UserStatus::Suspended)
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sluice_sdk::testing::action;

    use super::*;
    use crate::api::fake;

    fn lookup() -> String {
        format!("{}/users?accountIds=u42", fake::DIR)
    }

    fn user(membership: &str) -> sluice_sdk::http::Response {
        fake::page(
            json!([{"accountId": "u42", "accountStatus": "active", "membershipStatus": membership}]),
            None,
        )
    }

    #[test]
    fn dry_runs_send_nothing() {
        for (kind, verb) in [
            (ActionKind::SuspendUser, "suspend-access"),
            (ActionKind::UnsuspendUser, "restore-access"),
        ] {
            let (result, host) = fake::atlassian(vec![])
                .run(|| act(&fake::ctx(100, None), &action(kind, "u42", true)));
            let outcome = result.unwrap();
            assert_eq!(outcome.status, ActionStatus::Planned);
            assert_eq!(
                outcome.requests,
                [format!("POST {}/directory/users/u42/{verb}", fake::ORG)]
            );
            assert!(host.requests().is_empty());
        }
    }

    #[test]
    fn suspends_with_one_post_and_reports_already_suspended() {
        let suspend = format!("{}/directory/users/u42/suspend-access", fake::ORG);
        let host = fake::atlassian(vec![
            (lookup(), user("active")),
            (suspend, fake::json(&json!({"message": "Access suspended"}))),
        ]);
        let (result, host) = host.run(|| {
            act(
                &fake::ctx(100, None),
                &action(ActionKind::SuspendUser, "u42", false),
            )
        });
        assert_eq!(result.unwrap().status, ActionStatus::Done);
        let lines: Vec<_> = host.requests().iter().map(|r| r.line()).collect();
        assert_eq!(
            lines,
            [
                format!("GET {}", lookup()),
                format!("POST {}/directory/users/u42/suspend-access", fake::ORG)
            ]
        );
        let host = fake::atlassian(vec![(lookup(), user("suspended"))]);
        let (result, host) = host.run(|| {
            act(
                &fake::ctx(100, None),
                &action(ActionKind::SuspendUser, "u42", false),
            )
        });
        assert_eq!(result.unwrap().status, ActionStatus::Already);
        assert_eq!(host.requests().len(), 1, "no POST");
    }

    #[test]
    fn unknown_users_bad_targets_and_other_actions_are_errors() {
        let host = fake::atlassian(vec![(lookup(), fake::page(json!([]), None))]);
        let (result, _) = host.run(|| {
            act(
                &fake::ctx(100, None),
                &action(ActionKind::UnsuspendUser, "u42", false),
            )
        });
        assert!(
            matches!(result, Err(ConnectorError::NotFound(_))),
            "{result:?}"
        );
        let (result, host) = fake::atlassian(vec![]).run(|| {
            act(
                &fake::ctx(100, None),
                &action(ActionKind::SuspendUser, "..", false),
            )
        });
        assert!(matches!(result, Err(ConnectorError::Other(_))));
        assert!(host.requests().is_empty());
        let (result, _) = fake::atlassian(vec![]).run(|| {
            act(
                &fake::ctx(100, None),
                &action(ActionKind::RequireSignIn, "u42", false),
            )
        });
        assert!(matches!(result, Err(ConnectorError::Unsupported(_))));
    }
}
