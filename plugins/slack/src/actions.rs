//! `act`: deactivating and reactivating members, and resetting their sessions.
//!
//! | action | request | scope |
//! |---|---|---|
//! | `suspend-user` | SCIM `DELETE {admin_api_url}/scim/v1/Users/{id}` | `admin` |
//! | `unsuspend-user` | SCIM `PATCH {admin_api_url}/scim/v1/Users/{id}` `{"active": true}` | `admin` |
//! | `revoke-sessions` | `POST {api_url}/admin.users.session.reset` `{"user_id": id}` | `admin.users:write` |
//!
//! Why SCIM for deactivation: Slack's SCIM API documents `DELETE /Users/{id}` as
//! deactivating the member (Slack never deletes accounts; `users.list` then shows
//! `deleted: true`) and a `PATCH` of `active: true` as reactivating, on Business+ and
//! Enterprise Grid alike, so the action can be undone with the same API.
//! `admin.users.remove` only removes a member from one workspace, which is not
//! deactivation, and `admin.users.deactivate` exists only on Enterprise plans.
//!
//! Both SCIM actions first read `GET /scim/v1/Users/{id}`: a member already in the
//! asked-for state (`active`) is `already`, and nothing is written; an unknown member
//! is `not-found`. `admin.users.session.reset` "wipes all valid sessions on all
//! devices" and says nothing about whether there were any, so it is always sent; it
//! answers HTTP 200 with `ok: false` when it fails, which is read as such. The
//! Audit Logs API records all three (`user_deactivated`, `user_reactivated`,
//! `user_session_reset_by_admin`), so the next activity scan shows them.
//!
//! A dry run sends nothing at all and lists the write request it would send.

use serde_json::json;
use sluice_sdk::http;
use sluice_sdk::prelude::*;

use crate::api::{Api, json_accepting};

/// SCIM 1.1's core schema, which Slack's SCIM API asks for in request bodies.
const SCIM_CORE: &str = "urn:scim:schemas:core:1.0";

/// Performs or plans `action`.
pub fn act(ctx: &Context, action: &Action) -> Result<ActionOutcome, ConnectorError> {
    let api = Api::new(ctx)?;
    let target = action.target.trim();
    match action.kind {
        ActionKind::SuspendUser => {
            let request = json_accepting(http::delete(api.scim_user_url(target)?));
            Write::new(request, format!("deactivate Slack user {target}")).perform_unless(
                action.dry_run,
                || {
                    Ok((!is_active(&api, target)?)
                        .then(|| format!("Slack user {target} is deactivated already")))
                },
            )
        }
        ActionKind::UnsuspendUser => {
            let request = json_accepting(http::patch(api.scim_user_url(target)?))
                .json_body(&json!({"schemas": [SCIM_CORE], "active": true}));
            Write::new(request, format!("reactivate Slack user {target}")).perform_unless(
                action.dry_run,
                || {
                    Ok(is_active(&api, target)?
                        .then(|| format!("Slack user {target} is active already")))
                },
            )
        }
        ActionKind::RevokeSessions => reset_sessions(&api, target, action.dry_run),
        _ => Err(action::unsupported("Slack", action)),
    }
}

/// `admin.users.session.reset` for `user`, read as a Web API answer.
fn reset_sessions(api: &Api, user: &str, dry_run: bool) -> Result<ActionOutcome, ConnectorError> {
    action::target_segment(user)?;
    let request = api.post_method("admin.users.session.reset", &json!({"user_id": user}));
    let what = format!("reset every session of Slack user {user}");
    let requests = vec![request.line()];
    if dry_run {
        return Ok(ActionOutcome::planned(&what, requests));
    }
    api.call(request)?;
    Ok(ActionOutcome::done(&what, requests))
}

/// Whether SCIM says member `id` is active; `not-found` for an unknown member.
fn is_active(api: &Api, id: &str) -> Result<bool, ConnectorError> {
    let response = json_accepting(http::get(api.scim_user_url(id)?)).send()?;
    if response.status() == 404 {
        return Err(ConnectorError::not_found(format!("no Slack user `{id}`")));
    }
    let user = response.error_for_status()?.json_value()?;
    Ok(json::bool_at(&user, "active").unwrap_or(false))
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sluice_sdk::http::Response;
    use sluice_sdk::testing::action;

    use super::*;
    use crate::api::fake;

    fn scim_user(active: bool) -> Response {
        fake::json(
            &json!({"schemas": [SCIM_CORE], "id": "W1", "userName": "grace", "active": active}),
        )
    }

    fn scim_url() -> String {
        format!("{}/scim/v1/Users/W1", fake::ADMIN)
    }

    #[test]
    fn dry_runs_send_nothing() {
        for (kind, line) in [
            (ActionKind::SuspendUser, format!("DELETE {}", scim_url())),
            (ActionKind::UnsuspendUser, format!("PATCH {}", scim_url())),
            (
                ActionKind::RevokeSessions,
                format!("POST {}/admin.users.session.reset", fake::WEB),
            ),
        ] {
            let (result, host) =
                fake::slack(vec![]).run(|| act(&fake::ctx(100, None), &action(kind, "W1", true)));
            let outcome = result.unwrap();
            assert_eq!(outcome.status, ActionStatus::Planned);
            assert_eq!(outcome.requests, [line]);
            assert!(host.requests().is_empty());
        }
    }

    #[test]
    fn deactivates_an_active_user_once() {
        let host = fake::slack(vec![(scim_url(), scim_user(true))]);
        let (result, host) = host.run(|| {
            act(
                &fake::ctx(100, None),
                &action(ActionKind::SuspendUser, "W1", false),
            )
        });
        assert_eq!(result.unwrap().status, ActionStatus::Done);
        let lines: Vec<_> = host.requests().iter().map(|r| r.line()).collect();
        assert_eq!(
            lines,
            [
                format!("GET {}", scim_url()),
                format!("DELETE {}", scim_url())
            ]
        );

        let host = fake::slack(vec![(scim_url(), scim_user(false))]);
        let (result, host) = host.run(|| {
            act(
                &fake::ctx(100, None),
                &action(ActionKind::SuspendUser, "W1", false),
            )
        });
        assert_eq!(result.unwrap().status, ActionStatus::Already);
        assert_eq!(host.requests().len(), 1, "no DELETE for a deactivated user");

        let host = fake::slack(vec![(scim_url(), scim_user(false))]);
        let (result, host) = host.run(|| {
            act(
                &fake::ctx(100, None),
                &action(ActionKind::UnsuspendUser, "W1", false),
            )
        });
        assert_eq!(result.unwrap().status, ActionStatus::Done);
        let patch = &host.requests()[1];
        let body: Value = serde_json::from_slice(patch.body.as_deref().unwrap()).unwrap();
        assert_eq!(body["active"], true);
    }

    #[test]
    fn a_session_reset_that_slack_refuses_is_an_error() {
        let reset = format!("{}/admin.users.session.reset", fake::WEB);
        let Some(ok) = fake::fixture("admin.users.session.reset.openapi-example.json") else {
            return;
        };
        let (result, host) = fake::slack(vec![(reset.clone(), fake::json(&ok))]).run(|| {
            act(
                &fake::ctx(100, None),
                &action(ActionKind::RevokeSessions, "W1", false),
            )
        });
        assert_eq!(result.unwrap().status, ActionStatus::Done);
        let sent = &host.requests()[0];
        assert_eq!(sent.line(), format!("POST {reset}"));
        let body: Value = serde_json::from_slice(sent.body.as_deref().unwrap()).unwrap();
        assert_eq!(body, json!({"user_id": "W1"}));

        let refusal = json!({"ok": false, "error": "missing_scope",
            "needed": "admin.users:write", "provided": "admin"});
        let (result, _) = fake::slack(vec![(reset, fake::json(&refusal))]).run(|| {
            act(
                &fake::ctx(100, None),
                &action(ActionKind::RevokeSessions, "W1", false),
            )
        });
        assert!(
            matches!(&result, Err(ConnectorError::Forbidden(m)) if m.contains("admin.users:write")),
            "{result:?}"
        );
    }

    #[test]
    fn unknown_users_and_bad_targets_are_errors() {
        let not_found = Response::new(
            404,
            vec![],
            json!({"Errors": {"description": "User not found", "code": 404}}).to_string(),
        );
        let (result, _) = fake::slack(vec![(scim_url(), not_found)]).run(|| {
            act(
                &fake::ctx(100, None),
                &action(ActionKind::SuspendUser, "W1", false),
            )
        });
        assert!(
            matches!(result, Err(ConnectorError::NotFound(_))),
            "{result:?}"
        );
        for kind in [ActionKind::SuspendUser, ActionKind::RevokeSessions] {
            let (result, host) =
                fake::slack(vec![]).run(|| act(&fake::ctx(100, None), &action(kind, "..", false)));
            assert!(
                matches!(result, Err(ConnectorError::Other(_))),
                "{result:?}"
            );
            assert!(host.requests().is_empty());
        }
        let (result, _) = fake::slack(vec![]).run(|| {
            act(
                &fake::ctx(100, None),
                &action(ActionKind::QuarantineFile, "f", false),
            )
        });
        assert!(matches!(result, Err(ConnectorError::Unsupported(_))));
    }
}
