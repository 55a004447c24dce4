//! `act`: deactivating and activating users (beyond the provider docs' table, whose
//! Zoom row leaves user governance blank).
//!
//! | action | request |
//! |---|---|
//! | `suspend-user` | `PUT /v2/users/{userId}/status` with `{"action":"deactivate"}` |
//! | `unsuspend-user` | `PUT /v2/users/{userId}/status` with `{"action":"activate"}` |
//!
//! Both first read `GET /v2/users/{userId}`: a user already `inactive` (or already
//! `active`) is `already` and nothing is written; an unknown user (404, code 1001) is
//! `not-found`. A deactivated user cannot sign in and keeps their data; Zoom logs the
//! change in the operation log (`User` / `Update`), so the next activity scan shows
//! it. Needs `user:write:admin` (granular `user:update:status:admin`). A dry run
//! sends nothing and lists the write.

use serde_json::json;
use sluice_sdk::prelude::*;

use crate::api::{self, Api};

/// Performs or plans `action`.
pub fn act(ctx: &Context, action: &Action) -> Result<ActionOutcome, ConnectorError> {
    let api = Api::new(ctx)?;
    let deactivate = match action.kind {
        ActionKind::SuspendUser => true,
        ActionKind::UnsuspendUser => false,
        _ => return Err(action::unsupported("Zoom", action)),
    };
    let target = action.target.trim();
    let segment = action::target_segment(target)?;
    let verb = if deactivate { "deactivate" } else { "activate" };
    let request = http::put(api.url(&format!("/users/{segment}/status")))
        .header("accept", "application/json")
        .json_body(&json!({"action": verb}));
    Write::new(request, format!("{verb} Zoom user {target}")).perform_unless(action.dry_run, || {
        let response = api.get(&format!("/users/{segment}")).send()?;
        if response.status() == 404 {
            return Err(ConnectorError::not_found(format!(
                "no Zoom user `{target}`: {}",
                response.provider_message()
            )));
        }
        let user = api::check_status(response)?.json_value()?;
        let status = json::str_at(&user, "status").unwrap_or_default();
        let already = if deactivate {
            status == "inactive"
        } else {
            status == "active"
        };
        Ok(already.then(|| format!("Zoom user {target} is {status}")))
    })
}

#[cfg(test)]
mod tests {
    use sluice_sdk::http::Response;
    use sluice_sdk::testing::action;

    use super::*;
    use crate::api::fake;

    const USER: &str = "https://api.zoom.test/v2/users/u1";
    const STATUS: &str = "https://api.zoom.test/v2/users/u1/status";

    fn user(status: &str) -> Response {
        fake::json(&json!({"id": "u1", "status": status}))
    }

    #[test]
    fn dry_runs_send_nothing() {
        for kind in [ActionKind::SuspendUser, ActionKind::UnsuspendUser] {
            let (result, host) =
                fake::zoom(vec![]).run(|| act(&fake::ctx(100, None), &action(kind, "u1", true)));
            let outcome = result.unwrap();
            assert_eq!(outcome.status, ActionStatus::Planned);
            assert_eq!(outcome.requests, [format!("PUT {STATUS}")]);
            assert!(host.requests().is_empty());
        }
    }

    #[test]
    fn deactivates_with_one_put_and_reports_already_inactive() {
        let host = fake::zoom(vec![
            (USER.into(), user("active")),
            (STATUS.into(), Response::new(204, vec![], "")),
        ]);
        let (result, host) = host.run(|| {
            act(
                &fake::ctx(100, None),
                &action(ActionKind::SuspendUser, "u1", false),
            )
        });
        assert_eq!(result.unwrap().status, ActionStatus::Done);
        let sent = host.requests();
        let body: Value = serde_json::from_slice(sent[1].body.as_deref().unwrap()).unwrap();
        assert_eq!(body, json!({"action": "deactivate"}));

        let host = fake::zoom(vec![(USER.into(), user("inactive"))]);
        let (result, host) = host.run(|| {
            act(
                &fake::ctx(100, None),
                &action(ActionKind::SuspendUser, "u1", false),
            )
        });
        assert_eq!(result.unwrap().status, ActionStatus::Already);
        assert_eq!(host.requests().len(), 1, "no PUT");

        let host = fake::zoom(vec![])
            .on_request(|_| Ok(fake::error(404, 1001, "User does not exist: u9.")));
        let (result, _) = host.run(|| {
            act(
                &fake::ctx(100, None),
                &action(ActionKind::UnsuspendUser, "u9", false),
            )
        });
        assert!(
            matches!(result, Err(ConnectorError::NotFound(_))),
            "{result:?}"
        );
    }
}
