//! `act`: locking out, deactivating and reactivating users, and requiring a password
//! reset (beyond the provider docs' table, whose ServiceNow row leaves user governance
//! blank). Each is one `PATCH /api/now/table/sys_user/{sys_id}` of a sys_user field:
//!
//! | action | param `method` | body |
//! |---|---|---|
//! | `suspend-user` | `lock_out` (default) | `{"locked_out":"true"}`: the account stays active, sign-in is refused |
//! | `suspend-user` | `deactivate` | `{"active":"false"}`: the account is made inactive |
//! | `unsuspend-user` | `lock_out` (default) | `{"locked_out":"false"}` |
//! | `unsuspend-user` | `deactivate` | `{"active":"true"}` |
//! | `require-password-reset` | — | `{"password_needs_reset":"true"}` |
//!
//! Each first reads the user (`GET …/sys_user/{sys_id}`): one already in the asked-for
//! state is `already` and nothing is written; an unknown sys_id is `not-found`.
//! Updating sys_user takes the `user_admin` or `admin` role. The change shows in the
//! next users scan, and ServiceNow's audit history records it (`sys_user.locked_out`,
//! `sys_user.active`), so the next activity scan shows it as admin activity.

use serde_json::json;
use sluice_sdk::prelude::*;

use crate::api::{self, Api};

/// The sys_user field an action sets and the value it sets it to.
fn change(action: &Action) -> Result<(&'static str, bool), ConnectorError> {
    let deactivate = match action::param(action, "method") {
        None | Some("lock_out") => false,
        Some("deactivate") => true,
        Some(other) => {
            return Err(ConnectorError::other(format!(
                "unknown method `{other}`: use `lock_out` (the default) or `deactivate`"
            )));
        }
    };
    Ok(match (action.kind, deactivate) {
        (ActionKind::SuspendUser, false) => ("locked_out", true),
        (ActionKind::SuspendUser, true) => ("active", false),
        (ActionKind::UnsuspendUser, false) => ("locked_out", false),
        (ActionKind::UnsuspendUser, true) => ("active", true),
        (ActionKind::RequirePasswordReset, _) => ("password_needs_reset", true),
        _ => return Err(action::unsupported("ServiceNow", action)),
    })
}

/// Performs or plans `action`.
pub fn act(ctx: &Context, action: &Action) -> Result<ActionOutcome, ConnectorError> {
    let api = Api::new(ctx)?;
    let target = action.target.trim();
    let (field, value) = change(action)?;
    let url = api.record_url("sys_user", target)?;
    let request = api
        .patch(url.clone())
        .json_body(&json!({ field: value.to_string() }));
    let what = format!("set {field} to {value} on ServiceNow user {target}");
    Write::new(request, what).perform_unless(action.dry_run, || {
        let current = current(&api, &url, target)?;
        let now = api::flag(&current, field).unwrap_or(!value);
        Ok((now == value).then(|| format!("ServiceNow user {target} has {field} {now}")))
    })
}

/// User `sys_id` now; `not-found` for an unknown one.
fn current(api: &Api, url: &str, sys_id: &str) -> Result<Value, ConnectorError> {
    let response = api
        .get(url)
        .query(
            "sysparm_fields",
            "sys_id,user_name,active,locked_out,password_needs_reset",
        )
        .send()?;
    if response.status() == 404 {
        return Err(ConnectorError::not_found(format!(
            "no ServiceNow user `{sys_id}`: {}",
            api::error_text(&response)
        )));
    }
    let body = response.error_for_status()?.json_value()?;
    Ok(body.get("result").cloned().unwrap_or(Value::Null))
}

#[cfg(test)]
mod tests {
    use sluice_sdk::http::Response;
    use sluice_sdk::testing::action;

    use super::*;
    use crate::api::fake;

    const USER: &str = "https://acme.service-now.test/api/now/table/sys_user/u42";

    fn read() -> String {
        format!(
            "{USER}?sysparm_fields=sys_id%2Cuser_name%2Cactive%2Clocked_out%2Cpassword_needs_reset"
        )
    }

    fn user(active: &str, locked: &str) -> Response {
        fake::page(
            json!({"sys_id": "u42", "active": active, "locked_out": locked, "password_needs_reset": "false"}),
            None,
        )
    }

    fn with(kind: ActionKind, method: Option<&str>, dry_run: bool) -> Action {
        let mut a = action(kind, "u42", dry_run);
        a.params = method
            .map(|m| ("method".to_owned(), m.to_owned()))
            .into_iter()
            .collect();
        a
    }

    #[test]
    fn each_action_patches_one_field_after_reading_the_user() {
        for (kind, method, (active, locked), body) in [
            (
                ActionKind::SuspendUser,
                None,
                ("true", "false"),
                json!({"locked_out": "true"}),
            ),
            (
                ActionKind::SuspendUser,
                Some("deactivate"),
                ("true", "false"),
                json!({"active": "false"}),
            ),
            (
                ActionKind::UnsuspendUser,
                None,
                ("true", "true"),
                json!({"locked_out": "false"}),
            ),
            (
                ActionKind::UnsuspendUser,
                Some("deactivate"),
                ("false", "false"),
                json!({"active": "true"}),
            ),
            (
                ActionKind::RequirePasswordReset,
                None,
                ("true", "false"),
                json!({"password_needs_reset": "true"}),
            ),
        ] {
            let host = fake::instance(vec![
                (read(), user(active, locked)),
                (USER.into(), user(active, locked)),
            ]);
            let (result, host) =
                host.run(|| act(&fake::ctx(100, None), &with(kind, method, false)));
            assert_eq!(
                result.unwrap().status,
                ActionStatus::Done,
                "{kind:?} {method:?}"
            );
            let sent = host.requests();
            let lines: Vec<_> = sent.iter().map(|r| r.line()).collect();
            assert_eq!(lines, [format!("GET {}", read()), format!("PATCH {USER}")]);
            let patched: Value = serde_json::from_slice(sent[1].body.as_deref().unwrap()).unwrap();
            assert_eq!(patched, body);
        }
    }

    #[test]
    fn already_in_state_dry_runs_unknown_users_and_bad_methods() {
        let host = fake::instance(vec![(read(), user("true", "true"))]);
        let (result, host) = host.run(|| {
            act(
                &fake::ctx(100, None),
                &with(ActionKind::SuspendUser, None, false),
            )
        });
        assert_eq!(result.unwrap().status, ActionStatus::Already);
        assert_eq!(host.requests().len(), 1, "no PATCH");

        let (result, host) = fake::instance(vec![]).run(|| {
            act(
                &fake::ctx(100, None),
                &with(ActionKind::SuspendUser, Some("deactivate"), true),
            )
        });
        let planned = result.unwrap();
        assert_eq!(planned.status, ActionStatus::Planned);
        assert_eq!(planned.requests, [format!("PATCH {USER}")]);
        assert!(host.requests().is_empty());

        let (result, _) = fake::instance(vec![]).run(|| {
            act(
                &fake::ctx(100, None),
                &with(ActionKind::SuspendUser, None, false),
            )
        });
        assert!(
            matches!(&result, Err(ConnectorError::NotFound(m)) if m.contains("No Record found")),
            "{result:?}"
        );

        let (result, host) = fake::instance(vec![]).run(|| {
            act(
                &fake::ctx(100, None),
                &with(ActionKind::SuspendUser, Some("delete"), false),
            )
        });
        assert!(matches!(result, Err(ConnectorError::Other(_))));
        assert!(host.requests().is_empty());
        let (result, _) = fake::instance(vec![]).run(|| {
            act(
                &fake::ctx(100, None),
                &with(ActionKind::RequireSignIn, None, false),
            )
        });
        assert!(matches!(result, Err(ConnectorError::Unsupported(_))));
    }
}
