//! A test-only connector with two versions, for hot-loading and grant tests.
//!
//! Built twice from this file: `stepper.wasm` is `0.1.0`; `stepper_next.wasm`
//! (crate `testing/stepper-next`, feature `next`) is `0.2.0`, which asks for one more
//! egress destination (`https://audit.stepper.test/`) and one more action
//! (`revoke-app-permission`), the kind of upgrade an operator must approve.
//!
//! Against the stepper mock (`sluice_mocks::StepperMock`): `check` is `GET /check`;
//! `list-users` pages `GET /users?page=N`, naming every user `stepper VERSION` so a
//! test can tell which version produced a scan; `act` (`suspend-user`, and
//! `revoke-app-permission` in `0.2.0`) is a `POST` to the mock.

use sluice_sdk::prelude::*;

/// Which build this is.
const VERSION: &str = if cfg!(feature = "next") {
    "0.2.0"
} else {
    "0.1.0"
};

/// The connector; stateless.
struct Stepper;

fn base() -> Result<String, ConnectorError> {
    config::required_url("base_url")
}

impl Connector for Stepper {
    fn describe() -> ConnectorInfo {
        let mut egress = vec!["{base_url}".to_string()];
        let mut actions = vec![ActionKind::SuspendUser];
        if cfg!(feature = "next") {
            egress.push("https://audit.stepper.test/".into());
            actions.push(ActionKind::RevokeAppPermission);
        }
        ConnectorInfo {
            capabilities: vec![Capability::Accounts],
            actions,
            config: vec![
                ConfigField::new("base_url", "Stepper mock URL")
                    .required()
                    .example("http://127.0.0.1:8080"),
            ],
            egress,
            ..ConnectorInfo::new(
                "stepper",
                "Stepper",
                VERSION,
                "Sluice tests",
                "Test-only: two versions of one connector.",
            )
        }
    }

    fn check(_ctx: Context) -> Result<Permissions, ConnectorError> {
        http::get(format!("{}/check", base()?))
            .send()?
            .error_for_status()?;
        Ok(Permissions::granted(
            Some(format!("stepper {VERSION}")),
            Vec::new(),
        ))
    }

    fn list_users(_ctx: Context, cursor: Option<String>) -> Result<UserPage, ConnectorError> {
        let page: u64 = cursor.as_deref().unwrap_or("1").parse().unwrap_or(1);
        let body = http::get(format!("{}/users", base()?))
            .query("page", page)
            .send()?
            .error_for_status()?
            .json_value()?;
        let items = body["users"]
            .as_array()
            .map(|users| {
                users
                    .iter()
                    .filter_map(|u| u["id"].as_str())
                    .map(|id| user(id, &body))
                    .collect()
            })
            .unwrap_or_default();
        Ok(UserPage {
            items,
            next_cursor: body["next"].as_u64().map(|n| n.to_string()),
        })
    }

    fn act(_ctx: Context, action: Action) -> Result<ActionOutcome, ConnectorError> {
        let verb = match action.kind {
            ActionKind::SuspendUser => "suspend",
            ActionKind::RevokeAppPermission if cfg!(feature = "next") => "revoke",
            _ => return Err(unsupported()),
        };
        let request = http::post(format!("{}/users/{}/{verb}", base()?, action.target));
        let line = request.line();
        request.send()?.error_for_status()?;
        Ok(ActionOutcome {
            status: ActionStatus::Done,
            message: format!("{verb} {} by stepper {VERSION}", action.target),
            requests: vec![line],
        })
    }
}

sluice_sdk::export_connector!(Stepper);

/// A user named after the version that listed it.
fn user(id: &str, page: &Value) -> User {
    let raw = serde_json::json!({ "id": id, "page": page["page"] });
    User {
        login: Some(id.into()),
        display_name: Some(format!("stepper {VERSION}")),
        ..User::new(id, raw.to_string())
    }
}

fn unsupported() -> ConnectorError {
    ConnectorError::unsupported("the stepper only lists users")
}
