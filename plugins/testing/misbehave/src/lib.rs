//! A test-only connector that keeps the contract in mode `good` and breaks exactly one
//! rule in each other mode (config `mode`), for the conformance runner's tests:
//!
//! | mode | breaks |
//! |---|---|
//! | `good` | nothing |
//! | `endless` | pagination: every users page names a new next page |
//! | `stuck-cursor` | pagination: the users cursor never changes |
//! | `bad-raw` | raw JSON: users keep a non-JSON `raw` |
//! | `untyped-errors` | typed errors: every HTTP failure is `other` |
//! | `egress-escape` | egress: also requests a host it did not declare |
//! | `stuck-activities` | cursors: activity pages claim more but keep the cursor |
//!
//! Built with feature `bad-describe` (crate `testing/misbehave-describe`) its describe
//! lists a capability twice and a config field no one can type.
//!
//! Against `{base_url}`: `GET /users?page=N` answers `{"users": [{"id"}…], "next": N+1
//! or null}`; `GET /events?after=P` answers `{"events": [{"id", "time"}…], "position":
//! P', "more": bool}`.

use sluice_sdk::prelude::*;

/// The one auth option, and what `context.auth` reports.
const AUTH_ID: &str = "none";
/// How operators see [`AUTH_ID`].
const AUTH_LABEL: &str = "No authentication";

/// The connector; stateless.
struct Misbehave;

fn mode() -> String {
    config::get("mode").unwrap_or_else(|| "good".into())
}

fn base() -> Result<String, ConnectorError> {
    config::required_url("base_url")
}

/// `GET url`, typed errors unless the mode breaks them.
fn get_json(request: http::Request) -> Result<Value, ConnectorError> {
    let response = request.send()?;
    if mode() == "untyped-errors" && response.status() >= 400 {
        return Err(ConnectorError::other(format!("HTTP {}", response.status())));
    }
    response.error_for_status()?.json_value()
}

impl Guest for Misbehave {
    fn describe() -> ConnectorInfo {
        let mut capabilities = vec![Capability::Accounts, Capability::AdminActivity];
        let mut field = "base_url";
        if cfg!(feature = "bad-describe") {
            capabilities.push(Capability::Accounts);
            field = "Base URL!";
        }
        ConnectorInfo {
            scan_writes: Vec::new(),
            max_look_back_days: None,
            id: "misbehave".into(),
            name: "Misbehave".into(),
            version: "0.1.0".into(),
            provider: "Sluice tests".into(),
            description: "Test-only: breaks one contract rule per mode.".into(),
            capabilities,
            actions: Vec::new(),
            config: vec![
                ConfigField {
                    name: field.into(),
                    label: "Fixture origin".into(),
                    required: false,
                    secret: false,
                    default: Some("http://fixtures.test".into()),
                    example: None,
                    description: None,
                },
                ConfigField {
                    name: "mode".into(),
                    label: "Which rule to break".into(),
                    required: false,
                    secret: false,
                    default: Some("good".into()),
                    example: None,
                    description: None,
                },
            ],
            auth: vec![AuthOption {
                id: AUTH_ID.into(),
                label: AUTH_LABEL.into(),
                scheme: AuthScheme::None,
            }],
            // The bad-describe build names no `base_url` field to template from.
            egress: vec![if cfg!(feature = "bad-describe") {
                "http://fixtures.test/".into()
            } else {
                "{base_url}/".into()
            }],
            rate_limits: Vec::new(),
        }
    }

    fn check(_ctx: Context) -> Result<Permissions, ConnectorError> {
        Ok(Permissions {
            principal: None,
            granted: Vec::new(),
            missing: Vec::new(),
        })
    }

    fn list_users(_ctx: Context, cursor: Option<String>) -> Result<UserPage, ConnectorError> {
        let mode = mode();
        let page: u64 = cursor
            .as_deref()
            .and_then(|c| c.trim_start_matches("page-").parse().ok())
            .unwrap_or(1);
        if mode == "egress-escape" {
            // Refused by the host; a well-behaved connector never asks.
            let _ = http::get("https://exfiltrate.example/collect").send();
        }
        let body = get_json(http::get(format!("{}/users", base()?)).query("page", page))?;
        let items = body["users"]
            .as_array()
            .map(|users| users.iter().filter_map(|u| user(u, &mode)).collect())
            .unwrap_or_default();
        let next_cursor = match mode.as_str() {
            "endless" => Some(format!("page-{}", page + 1)),
            "stuck-cursor" => Some("page-2".into()),
            _ => body["next"].as_u64().map(|n| format!("page-{n}")),
        };
        Ok(UserPage { items, next_cursor })
    }

    fn list_groups(_: Context, _: Option<String>) -> Result<GroupPage, ConnectorError> {
        Err(unsupported())
    }

    fn list_activities(
        ctx: Context,
        cursor: Option<String>,
    ) -> Result<ActivityPage, ConnectorError> {
        let after = cursor.unwrap_or_else(|| "0".into());
        let body = get_json(http::get(format!("{}/events", base()?)).query("after", &after))?;
        let items = body["events"]
            .as_array()
            .map(|events| events.iter().filter_map(activity).collect())
            .unwrap_or_default();
        let next = if mode() == "stuck-activities" {
            after
        } else {
            body["position"].as_u64().map_or(after, |p| p.to_string())
        };
        let _ = ctx;
        Ok(ActivityPage {
            items,
            next_cursor: Some(next),
            more: body["more"].as_bool().unwrap_or(false),
        })
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

    fn act(_: Context, _: Action) -> Result<ActionOutcome, ConnectorError> {
        Err(unsupported())
    }
}

sluice_sdk::export_connector!(Misbehave);

fn user(u: &Value, mode: &str) -> Option<User> {
    Some(User {
        id: u["id"].as_str()?.into(),
        login: u["id"].as_str().map(Into::into),
        email: None,
        display_name: None,
        status: UserStatus::Active,
        is_admin: false,
        is_external: false,
        roles: Vec::new(),
        group_ids: Vec::new(),
        last_sign_in: None,
        created: None,
        raw: if mode == "bad-raw" {
            "user".into()
        } else {
            u.to_string()
        },
    })
}

fn activity(e: &Value) -> Option<Activity> {
    Some(Activity {
        location: None,
        session_id: None,
        id: e["id"].as_str()?.into(),
        time: e["time"].as_i64()?,
        kind: ActivityKind::Admin,
        actor: None,
        action: "test.event".into(),
        targets: Vec::new(),
        ip: None,
        user_agent: None,
        outcome: Outcome::Success,
        raw: e.to_string(),
    })
}

fn unsupported() -> ConnectorError {
    ConnectorError::unsupported("misbehave lists only users and activities")
}
