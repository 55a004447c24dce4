//! `check`: do the credentials work, and which scopes does the team app hold?
//!
//! The token answer lists the granted scopes, but the host reads it, not the
//! connector; so `check` probes one call per capability and reads Dropbox's refusal,
//! a 401 whose error is `missing_scope` with the `required_scope`:
//!
//! | capability | probe | scope, in Dropbox's words |
//! |---|---|---|
//! | (who) | `team/get_info` | `team_info.read` |
//! | accounts, privileges | `team/members/list_v2` `{"limit": 1}` | `members.read` |
//! | groups | `team/groups/list` `{"limit": 1}` | `groups.read` |
//! | logon, user, admin activity | `team_log/get_events` (yesterday, `limit` 1) | `events.read` |
//! | files | `files/list_folder` `{"path": "", "limit": 1}` and `sharing/list_shared_links` as the first active member | `team_data.member`, `files.metadata.read`, `sharing.read` |
//! | file content | `files/download` of `/` `Range: bytes=0-0` as that member (409 `path` is a pass: the scope was accepted) | `files.content.read` |
//!
//! Any other 401 is `unauthorized`. The actions' scopes (`members.write`,
//! `files.content.write`, `sharing.write`) cannot be probed without writing; the guide
//! names them.

use serde_json::json;
use sluice_sdk::prelude::*;

use crate::api::{self, Api};
use crate::events::search;
use crate::members;

/// One day in ms: the activity probe's window.
const DAY_MS: i64 = 86_400_000;

/// What a probe found.
enum Probe {
    /// The call was allowed.
    Granted,
    /// Refused for lack of a scope or permission: why, in Dropbox's words.
    Missing(String),
}

/// Sends `request` as a probe for `scopes`; 401s other than `missing_scope` fail.
fn probe(request: http::Request, scopes: &str) -> Result<(Probe, Option<Value>), ConnectorError> {
    let response = request.send()?;
    match response.status() {
        200..=299 => Ok((Probe::Granted, response.json_value().ok())),
        // A route error (e.g. no such path) comes after the scope was accepted.
        409 => Ok((Probe::Granted, None)),
        401 | 403 => {
            let body = response.json_value().unwrap_or(Value::Null);
            // A member the app may not act as is a files problem, not bad credentials.
            let member = api::tag(&body, "/error").as_deref() == Some("invalid_select_user");
            if response.status() == 401 && api::missing_scope(&body).is_none() && !member {
                return Err(api::check_status(response).unwrap_err());
            }
            Ok((
                Probe::Missing(format!(
                    "needs {scopes}; Dropbox answered {}: {}",
                    response.status(),
                    api::summary(&response)
                )),
                None,
            ))
        }
        _ => {
            api::check_status(response)?;
            Ok((Probe::Granted, None))
        }
    }
}

/// Validates the credentials and reports what the app's scopes allow.
pub fn check(ctx: &Context) -> Result<Permissions, ConnectorError> {
    let api = Api::new(ctx)?;
    let mut found = Found::default();
    let mut note = |result, scopes: &[&str], capabilities: &[Capability]| {
        found.note(result, scopes, capabilities);
    };

    let (who, info) = probe(api.rpc("team/get_info", &Value::Null), "`team_info.read`")?;
    let principal = info.as_ref().and_then(|i| json::str_at(i, "name"));
    note(who, &["team_info.read"], &[]);

    let (result, list) = probe(
        api.rpc("team/members/list_v2", &json!({"limit": 1})),
        "`members.read`",
    )?;
    note(
        result,
        &["members.read"],
        &[Capability::Accounts, Capability::Privileges],
    );
    let member = list
        .as_ref()
        .and_then(|l| json::at(l, "members"))
        .and_then(Value::as_array)
        .and_then(|m| {
            m.iter()
                .find(|m| members::status(m) == UserStatus::Active)
                .and_then(|m| json::str_at(m, "/profile/team_member_id"))
        });

    let (result, _) = probe(
        api.rpc("team/groups/list", &json!({"limit": 1})),
        "`groups.read`",
    )?;
    note(result, &["groups.read"], &[Capability::Groups]);

    let today = ctx.now - ctx.now.rem_euclid(DAY_MS);
    let (result, _) = probe(
        api.rpc(
            "team_log/get_events",
            &search("all", today - DAY_MS, today, 1),
        ),
        "`events.read`",
    )?;
    note(
        result,
        &["events.read"],
        &[
            Capability::LogonActivity,
            Capability::UserActivity,
            Capability::AdminActivity,
        ],
    );

    let Some(member) = member else {
        let why = "no active team member to act as (or `members.read` missing), so files \
                   cannot be listed";
        note(
            Probe::Missing(why.into()),
            &[],
            &[Capability::Files, Capability::FileContent],
        );
        return Ok(found.permissions(principal));
    };
    let (listing, _) = probe(
        api::as_member(
            api.rpc("files/list_folder", &json!({"path": "", "limit": 1})),
            &member,
        ),
        "`team_data.member` and `files.metadata.read`",
    )?;
    let (links, _) = probe(
        api::as_member(api.rpc("sharing/list_shared_links", &json!({})), &member),
        "`sharing.read`",
    )?;
    match (listing, links) {
        (Probe::Granted, Probe::Granted) => note(
            Probe::Granted,
            &["team_data.member", "files.metadata.read", "sharing.read"],
            &[],
        ),
        (Probe::Missing(why), _) | (_, Probe::Missing(why)) => {
            note(Probe::Missing(why), &[], &[Capability::Files]);
        }
    }
    let download = http::post(api.content_url("files/download"))
        .header("dropbox-api-arg", json!({"path": "/"}).to_string())
        .header("range", "bytes=0-0");
    let (content, _) = probe(api::as_member(download, &member), "`files.content.read`")?;
    note(content, &["files.content.read"], &[Capability::FileContent]);
    Ok(found.permissions(principal))
}

/// The scopes granted and the capabilities missing so far.
#[derive(Default)]
struct Found {
    granted: Vec<String>,
    missing: Vec<(Capability, String)>,
}

impl Found {
    /// Notes a probe of `scopes`, which `capabilities` need.
    fn note(&mut self, result: Probe, scopes: &[&str], capabilities: &[Capability]) {
        match result {
            Probe::Granted => {
                for s in scopes {
                    if !self.granted.iter().any(|g| g == s) {
                        self.granted.push((*s).to_owned());
                    }
                }
            }
            Probe::Missing(why) => {
                (self.missing).extend(capabilities.iter().map(|c| (*c, why.clone())));
            }
        }
    }

    fn permissions(self, principal: Option<String>) -> Permissions {
        Permissions {
            principal,
            granted: self.granted,
            missing: self.missing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::fake;

    fn missing_scope(scope: &str) -> Response {
        Response::new(
            401,
            vec![],
            json!({"error_summary": format!("missing_scope/{scope}"),
                "error": {".tag": "missing_scope", "required_scope": scope}})
            .to_string(),
        )
    }

    fn team(without: &'static [&'static str]) -> sluice_sdk::testing::FakeHost {
        fake::dropbox(move |r| {
            let (scope, ok) = match fake::route(r) {
                "team/get_info" => (
                    "team_info.read",
                    fake::json(&json!({"name": "Acme", "team_id": "dbtid:1"})),
                ),
                "team/members/list_v2" => (
                    "members.read",
                    fake::json(&json!({"members": [
                    {"profile": {"team_member_id": "dbmid:a", "status": {".tag": "active"}}}],
                    "has_more": true, "cursor": "c"})),
                ),
                "team/groups/list" => (
                    "groups.read",
                    fake::json(&json!({"groups": [], "has_more": false})),
                ),
                "team_log/get_events" => {
                    assert_eq!(
                        fake::body(r)["time"]["start_time"],
                        json!("2023-12-31T00:00:00Z")
                    );
                    (
                        "events.read",
                        fake::json(&json!({"events": [], "has_more": false})),
                    )
                }
                "files/list_folder" => (
                    "files.metadata.read",
                    fake::json(&json!({"entries": [], "has_more": false})),
                ),
                "sharing/list_shared_links" => (
                    "sharing.read",
                    fake::json(&json!({"links": [], "has_more": false})),
                ),
                "files/download" => (
                    "files.content.read",
                    fake::route_error("path/not_file/", &json!({".tag": "path"})),
                ),
                other => panic!("{other}"),
            };
            if without.contains(&scope) {
                missing_scope(scope)
            } else {
                ok
            }
        })
    }

    #[test]
    fn every_scope_granted_is_listed_in_dropbox_s_words() {
        let (result, host) = team(&[]).run(|| check(&fake::ctx(10, None)));
        let p = result.unwrap();
        assert_eq!(p.principal.as_deref(), Some("Acme"));
        assert_eq!(
            p.granted,
            [
                "team_info.read",
                "members.read",
                "groups.read",
                "events.read",
                "team_data.member",
                "files.metadata.read",
                "sharing.read",
                "files.content.read"
            ]
        );
        assert!(p.missing.is_empty(), "{:?}", p.missing);
        assert_eq!(host.requests().len(), 7);
    }

    #[test]
    fn missing_scopes_are_named_per_capability() {
        let (result, _) =
            team(&["events.read", "sharing.read"]).run(|| check(&fake::ctx(10, None)));
        let p = result.unwrap();
        assert_eq!(
            sluice_sdk::testing::missing(&p),
            [
                Capability::LogonActivity,
                Capability::UserActivity,
                Capability::AdminActivity,
                Capability::Files
            ]
        );
        assert!(
            p.missing[0].1.contains("`events.read`"),
            "{}",
            p.missing[0].1
        );
        assert!(
            p.missing[3].1.contains("missing_scope/sharing.read"),
            "{}",
            p.missing[3].1
        );
    }

    #[test]
    fn a_rejected_token_is_unauthorized() {
        let host = fake::dropbox(|_| {
            Response::new(
                401,
                vec![],
                json!({"error_summary": "invalid_access_token/..",
                "error": {".tag": "invalid_access_token"}})
                .to_string(),
            )
        });
        let (result, _) = host.run(|| check(&fake::ctx(10, None)));
        assert!(matches!(result, Err(ConnectorError::Unauthorized(_))));
    }
}
