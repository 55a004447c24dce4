//! `act`: suspending and unsuspending users (beyond the provider docs' table, whose
//! Zendesk row leaves user governance blank).
//!
//! | action | request |
//! |---|---|
//! | `suspend-user` | `PUT /api/v2/users/{id}` with `{"user":{"suspended":true}}` |
//! | `unsuspend-user` | `PUT /api/v2/users/{id}` with `{"user":{"suspended":false}}` |
//!
//! Both first read `GET /api/v2/users/{id}`: a user already in the asked-for state is
//! `already` and nothing is written (Zendesk limits updates of one user to 5 a
//! minute, so a needless write costs). A suspended user cannot sign in; Zendesk logs
//! the suspension in the audit log, so the next activity scan shows it too. Allowed
//! for admins and agents in a custom role that may manage users; with OAuth the token
//! needs `write` or `users:write`. A dry run sends nothing and lists the write.

use serde_json::json;
use sluice_sdk::prelude::*;

use crate::api::Api;

/// Performs or plans `action`.
pub fn act(ctx: &Context, action: &Action) -> Result<ActionOutcome, ConnectorError> {
    let api = Api::new(ctx)?;
    let target = action.target.trim();
    let suspend = match action.kind {
        ActionKind::SuspendUser => true,
        ActionKind::UnsuspendUser => false,
        _ => return Err(action::unsupported("Zendesk", action)),
    };
    let request = api
        .put(api.user_url(target, "")?)
        .json_body(&json!({"user": {"suspended": suspend}}));
    let what = if suspend {
        format!("suspend Zendesk user {target}")
    } else {
        format!("unsuspend Zendesk user {target}")
    };
    Write::new(request, what).perform_unless(action.dry_run, || {
        let suspended = is_suspended(&api, target)?;
        Ok((suspended == suspend).then(|| {
            format!(
                "Zendesk user {target} is {}suspended",
                if suspended { "" } else { "not " }
            )
        }))
    })
}

/// Whether user `id` is suspended now; `not-found` for an unknown user.
fn is_suspended(api: &Api, id: &str) -> Result<bool, ConnectorError> {
    let response = api.get(api.user_url(id, "")?).send()?;
    if response.status() == 404 {
        return Err(ConnectorError::not_found(format!("no Zendesk user `{id}`")));
    }
    let body = response.error_for_status()?.json_value()?;
    Ok(json::bool_at(&body, "/user/suspended").unwrap_or(false))
}

#[cfg(test)]
mod tests {
    use sluice_sdk::http::Response;
    use sluice_sdk::testing::action;

    use super::*;
    use crate::api::fake;

    const USER: &str = "https://acme.zendesk.test/api/v2/users/42";

    fn user(suspended: bool) -> Response {
        fake::json(&json!({"user": {"id": 42, "role": "agent", "suspended": suspended}}))
    }

    #[test]
    fn dry_runs_send_nothing() {
        for kind in [ActionKind::SuspendUser, ActionKind::UnsuspendUser] {
            let (result, host) =
                fake::zendesk(vec![]).run(|| act(&fake::ctx(100, None), &action(kind, "42", true)));
            let outcome = result.unwrap();
            assert_eq!(outcome.status, ActionStatus::Planned);
            assert_eq!(outcome.requests, [format!("PUT {USER}")]);
            assert!(host.requests().is_empty());
        }
    }

    #[test]
    fn suspends_with_one_put_and_reports_already_suspended() {
        let host = fake::zendesk(vec![(USER.into(), user(false))]);
        let (result, host) = host.run(|| {
            act(
                &fake::ctx(100, None),
                &action(ActionKind::SuspendUser, "42", false),
            )
        });
        assert_eq!(result.unwrap().status, ActionStatus::Done);
        let sent = host.requests();
        let lines: Vec<_> = sent.iter().map(|r| r.line()).collect();
        assert_eq!(lines, [format!("GET {USER}"), format!("PUT {USER}")]);
        let body: Value = serde_json::from_slice(sent[1].body.as_deref().unwrap()).unwrap();
        assert_eq!(body, json!({"user": {"suspended": true}}));

        let host = fake::zendesk(vec![(USER.into(), user(true))]);
        let (result, host) = host.run(|| {
            act(
                &fake::ctx(100, None),
                &action(ActionKind::SuspendUser, "42", false),
            )
        });
        assert_eq!(result.unwrap().status, ActionStatus::Already);
        assert_eq!(host.requests().len(), 1, "no PUT");

        let host = fake::zendesk(vec![(USER.into(), user(false))]);
        let (result, _) = host.run(|| {
            act(
                &fake::ctx(100, None),
                &action(ActionKind::UnsuspendUser, "42", false),
            )
        });
        assert_eq!(result.unwrap().status, ActionStatus::Already);
    }

    #[test]
    fn unknown_users_bad_targets_and_other_actions_are_errors() {
        let (result, _) = fake::zendesk(vec![]).run(|| {
            act(
                &fake::ctx(100, None),
                &action(ActionKind::SuspendUser, "7", false),
            )
        });
        assert!(
            matches!(result, Err(ConnectorError::NotFound(_))),
            "{result:?}"
        );
        let (result, host) = fake::zendesk(vec![]).run(|| {
            act(
                &fake::ctx(100, None),
                &action(ActionKind::SuspendUser, "..", false),
            )
        });
        assert!(matches!(result, Err(ConnectorError::Other(_))));
        assert!(host.requests().is_empty());
        let (result, _) = fake::zendesk(vec![]).run(|| {
            act(
                &fake::ctx(100, None),
                &action(ActionKind::RequireSignIn, "42", false),
            )
        });
        assert!(matches!(result, Err(ConnectorError::Unsupported(_))));
    }
}
