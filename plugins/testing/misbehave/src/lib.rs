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
//! | `failing-check` | `check`: asks for `/me`, which the fixtures do not hold |
//! | `dry-run-done` | dry runs: answers `done` without sending anything |
//! | `dry-run-egress` | dry runs: plans a write outside the declared egress |
//! | `dry-run-writes` | dry runs: sends the write anyway (the host refuses it) |
//! | `dry-run-silent` | dry runs: plans, but lists no request |
//!
//! Built with feature `bad-describe` (crate `testing/misbehave-describe`) its describe
//! lists a capability twice and a config field no one can type.
//!
//! Against `{base_url}`: `GET /users?page=N` answers `{"users": [{"id"}…], "next": N+1
//! or null}`; `GET /events?after=P` answers `{"events": [{"id", "time"}…], "position":
//! P', "more": bool}`. `suspend-user` is `POST /users/{id}/suspend`.

use sluice_sdk::prelude::*;

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

impl Connector for Misbehave {
    fn describe() -> ConnectorInfo {
        let mut capabilities = vec![Capability::Accounts, Capability::AdminActivity];
        let mut field = "base_url";
        if cfg!(feature = "bad-describe") {
            capabilities.push(Capability::Accounts);
            field = "Base URL!";
        }
        ConnectorInfo {
            capabilities,
            config: vec![
                ConfigField::new(field, "Fixture origin").default("http://fixtures.test"),
                ConfigField::new("mode", "Which rule to break").default("good"),
            ],
            actions: vec![ActionKind::SuspendUser],
            // The bad-describe build names no `base_url` field to template from.
            egress: vec![if cfg!(feature = "bad-describe") {
                "http://fixtures.test/".into()
            } else {
                "{base_url}/".into()
            }],
            ..ConnectorInfo::new(
                "misbehave",
                "Misbehave",
                "0.1.0",
                "Sluice tests",
                "Test-only: breaks one contract rule per mode.",
            )
        }
    }

    fn check(_ctx: Context) -> Result<Permissions, ConnectorError> {
        if mode() == "failing-check" {
            get_json(http::get(format!("{}/me", base()?)))?;
        }
        Ok(Permissions::granted(None, Vec::new()))
    }

    fn act(_ctx: Context, action: Action) -> Result<ActionOutcome, ConnectorError> {
        let target = action::target_segment(&action.target)?;
        let url = match mode().as_str() {
            "dry-run-egress" => format!("https://exfiltrate.example/users/{target}/suspend"),
            _ => format!("{}/users/{target}/suspend", base()?),
        };
        let write = Write::new(http::post(url), format!("suspend {target}"));
        match mode().as_str() {
            "dry-run-done" => Ok(ActionOutcome {
                status: ActionStatus::Done,
                message: "done (but nothing was sent)".into(),
                requests: Vec::new(),
            }),
            "dry-run-writes" => write.perform(false),
            "dry-run-silent" => Ok(ActionOutcome {
                status: ActionStatus::Planned,
                message: "would suspend".into(),
                requests: Vec::new(),
            }),
            _ => write.perform(action.dry_run),
        }
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
}

sluice_sdk::export_connector!(Misbehave);

fn user(u: &Value, mode: &str) -> Option<User> {
    let id = u["id"].as_str()?;
    let raw = if mode == "bad-raw" {
        "user".into()
    } else {
        u.to_string()
    };
    Some(User {
        login: Some(id.into()),
        ..User::new(id, raw)
    })
}

fn activity(e: &Value) -> Option<Activity> {
    let (id, time) = (e["id"].as_str()?, e["time"].as_i64()?);
    Some(Activity {
        outcome: Outcome::Success,
        ..Activity::new(id, time, ActivityKind::Admin, "test.event", e.to_string())
    })
}
