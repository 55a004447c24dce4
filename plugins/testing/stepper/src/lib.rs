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

/// The one auth option, and what `context.auth` reports.
const AUTH_ID: &str = "none";
/// How operators see [`AUTH_ID`].
const AUTH_LABEL: &str = "No authentication";

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

impl Guest for Stepper {
    fn describe() -> ConnectorInfo {
        let mut egress = vec!["{base_url}".to_string()];
        let mut actions = vec![ActionKind::SuspendUser];
        if cfg!(feature = "next") {
            egress.push("https://audit.stepper.test/".into());
            actions.push(ActionKind::RevokeAppPermission);
        }
        ConnectorInfo {
            scan_writes: Vec::new(),
            max_look_back_days: None,
            id: "stepper".into(),
            name: "Stepper".into(),
            version: VERSION.into(),
            provider: "Sluice tests".into(),
            description: "Test-only: two versions of one connector.".into(),
            capabilities: vec![Capability::Accounts],
            actions,
            config: vec![ConfigField {
                name: "base_url".into(),
                label: "Stepper mock URL".into(),
                required: true,
                secret: false,
                default: None,
                example: Some("http://127.0.0.1:8080".into()),
                description: None,
            }],
            auth: vec![AuthOption {
                id: AUTH_ID.into(),
                label: AUTH_LABEL.into(),
                scheme: AuthScheme::None,
            }],
            egress,
            rate_limits: Vec::new(),
        }
    }

    fn check(_ctx: Context) -> Result<Permissions, ConnectorError> {
        http::get(format!("{}/check", base()?))
            .send()?
            .error_for_status()?;
        Ok(Permissions {
            principal: Some(format!("stepper {VERSION}")),
            granted: Vec::new(),
            missing: Vec::new(),
        })
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

    fn list_groups(_: Context, _: Option<String>) -> Result<GroupPage, ConnectorError> {
        Err(unsupported())
    }

    fn list_activities(_: Context, _: Option<String>) -> Result<ActivityPage, ConnectorError> {
        Err(unsupported())
    }

    fn list_files(_: Context, _: Option<String>) -> Result<FilePage, ConnectorError> {
        Err(unsupported())
    }

    fn read_file(_: Context, _: String, _: u64, _: u32) -> Result<FileChunk, ConnectorError> {
        Err(ConnectorError::unsupported("no file content"))
    }

    fn list_app_permissions(
        _: Context,
        _: Option<String>,
    ) -> Result<AppPermissionPage, ConnectorError> {
        Err(unsupported())
    }

    fn posture(_: Context) -> Result<Vec<Finding>, ConnectorError> {
        Err(unsupported())
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
    User {
        id: id.into(),
        login: Some(id.into()),
        email: None,
        display_name: Some(format!("stepper {VERSION}")),
        status: UserStatus::Active,
        is_admin: false,
        is_external: false,
        roles: Vec::new(),
        group_ids: Vec::new(),
        last_sign_in: None,
        created: None,
        raw: serde_json::json!({ "id": id, "page": page["page"] }).to_string(),
    }
}

fn unsupported() -> ConnectorError {
    ConnectorError::unsupported("the stepper only lists users")
}
