//! `check`: do the credentials work, and which capabilities do the integration's
//! scopes (and the authorizing user's roles) allow?
//!
//! Webex has no API that lists a token's scopes, and the token answer (which the host
//! reads, not the connector) carries none. So `check` probes one request per
//! capability and reads Webex's refusals: 403 "the access token is missing required
//! scopes or the user is missing required roles or licenses".
//!
//! | capability | probe | needs, in Webex's words |
//! |---|---|---|
//! | (who) | `GET /v1/people/me` | `spark:people_read` |
//! | accounts | `GET /v1/people?max=1` | `spark-admin:people_read` |
//! | privileges | `GET /v1/roles` | `spark-admin:roles_read` |
//! | groups | `GET /v1/groups?count=1` | `identity:groups_read` |
//! | admin activity | `GET /v1/adminAudit/events` (yesterday, UTC) | `audit:events_read`, authorized by a full administrator |
//! | logon activity | `GET /v1/admin/securityAudit/events` (yesterday) | `audit:events_read`, authorized by a full administrator |
//! | user activity | `GET /v1/events` (yesterday) | `spark-compliance:events_read`, authorized by a compliance officer |
//! | files | `GET /v1/events?resource=messages&type=created` (yesterday) | the same |
//!
//! A 401 from the first probe is `unauthorized`. What cannot be probed without a
//! file or a write is named in the guide: `spark-compliance:messages_read` (file
//! content), `spark-admin:people_write` and `spark-compliance:messages_write` (the
//! actions).

use sluice_sdk::prelude::*;

use crate::api::{self, Api};
use crate::audit::webex_time;

/// One day in ms: the probes' window.
const DAY_MS: i64 = 86_400_000;

/// A capability's probe: what it is, the scope, and who must authorize it.
struct Probe {
    capability: Capability,
    scope: &'static str,
    role: Option<&'static str>,
}

/// Each capability's scope, in probing order.
const PROBES: [Probe; 7] = [
    Probe {
        capability: Capability::Accounts,
        scope: "spark-admin:people_read",
        role: None,
    },
    Probe {
        capability: Capability::Privileges,
        scope: "spark-admin:roles_read",
        role: None,
    },
    Probe {
        capability: Capability::Groups,
        scope: "identity:groups_read",
        role: None,
    },
    Probe {
        capability: Capability::AdminActivity,
        scope: "audit:events_read",
        role: Some("a full administrator"),
    },
    Probe {
        capability: Capability::LogonActivity,
        scope: "audit:events_read",
        role: Some("a full administrator"),
    },
    Probe {
        capability: Capability::UserActivity,
        scope: "spark-compliance:events_read",
        role: Some("a compliance officer"),
    },
    Probe {
        capability: Capability::Files,
        scope: "spark-compliance:events_read",
        role: Some("a compliance officer"),
    },
];

/// Validates the credentials and reports what the integration's scopes allow.
pub fn check(ctx: &Context) -> Result<Permissions, ConnectorError> {
    let api = Api::new(ctx)?;
    let (principal, org) = whoami(&api)?;
    // The day before today (UTC): whole days, so a recorded check replays to the
    // same URLs on the same day.
    let today = ctx.now - ctx.now.rem_euclid(DAY_MS);
    let window = |r: http::Request, from: &str, to: &str| {
        r.query(from, webex_time(today - DAY_MS))
            .query(to, webex_time(today))
            .query("max", 1)
    };
    let mut granted: Vec<String> = Vec::new();
    let mut missing = Vec::new();
    for probe in &PROBES {
        let org = match (&org, probe.capability) {
            (Err(why), Capability::AdminActivity | Capability::LogonActivity) => {
                missing.push((probe.capability, why.clone()));
                continue;
            }
            (Ok(org), _) => org.as_str(),
            (Err(_), _) => "",
        };
        let request = match probe.capability {
            Capability::Accounts => api.get("/people").query("max", 1),
            Capability::Privileges => api.get("/roles"),
            Capability::Groups => api.get("/groups").query("count", 1),
            Capability::AdminActivity => window(
                api.get("/adminAudit/events").query("orgId", org),
                "from",
                "to",
            ),
            Capability::LogonActivity => window(
                api.get("/admin/securityAudit/events").query("orgId", org),
                "startTime",
                "endTime",
            ),
            Capability::Files => window(
                api.get("/events")
                    .query("resource", "messages")
                    .query("type", "created"),
                "from",
                "to",
            ),
            _ => window(api.get("/events"), "from", "to"),
        };
        let response = request.send()?;
        match response.status() {
            200..=299 => {
                if !granted.iter().any(|g| g == probe.scope) {
                    granted.push(probe.scope.to_owned());
                }
            }
            403 | 404 => {
                let who = probe
                    .role
                    .map(|r| format!(", authorized by {r}"))
                    .unwrap_or_default();
                missing.push((
                    probe.capability,
                    format!(
                        "needs the `{}` scope{who}; Webex answered {}: {}",
                        probe.scope,
                        response.status(),
                        api::message(&response)
                    ),
                ));
            }
            _ => {
                api::check_status(response)?;
            }
        }
    }
    Ok(Permissions {
        principal,
        granted,
        missing,
    })
}

/// The token owner (`GET /v1/people/me`: first email, else display name) and the
/// organization id (config `org_id`, else the owner's `orgId`), or why there is none.
fn whoami(api: &Api) -> Result<(Option<String>, Result<String, String>), ConnectorError> {
    let response = api.get("/people/me").send()?;
    let configured = config::get("org_id").filter(|o| !o.trim().is_empty());
    if response.status() == 403 {
        let org = configured.ok_or_else(|| {
            format!(
                "no `org_id` configured, and GET /v1/people/me (scope `spark:people_read`) \
                 was refused: {}",
                api::message(&response)
            )
        });
        return Ok((None, org));
    }
    let me = api::check_status(response)?.json_value()?;
    let principal = json::strings_at(&me, "emails")
        .into_iter()
        .next()
        .or_else(|| json::str_at(&me, "displayName"));
    let org = configured
        .or_else(|| json::str_at(&me, "orgId"))
        .ok_or_else(|| "GET /v1/people/me answered no `orgId`".to_owned());
    Ok((principal, org))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake::{self, BASE};

    const REFUSED: &str = "The server understood the request, but refused to fulfill it because \
                           the access token is missing required scopes or the user is missing \
                           required roles or licenses.";

    fn routes() -> Vec<(String, Response)> {
        let enc = http::encode_component;
        let (from, to) = (
            enc("2023-12-31T00:00:00.000Z"),
            enc("2024-01-01T00:00:00.000Z"),
        );
        let ok = fake::json(&json!({"items": []}));
        vec![
            (
                format!("{BASE}/people/me"),
                fake::json(&json!({"id": "me", "emails": ["admin@acme.test"], "orgId": "org-9"})),
            ),
            (format!("{BASE}/people?max=1"), ok.clone()),
            (format!("{BASE}/roles"), ok.clone()),
            (format!("{BASE}/groups?count=1"), ok.clone()),
            (
                format!("{BASE}/adminAudit/events?orgId=org-1&from={from}&to={to}&max=1"),
                ok.clone(),
            ),
            (
                format!(
                    "{BASE}/admin/securityAudit/events?orgId=org-1&startTime={from}&endTime={to}&max=1"
                ),
                ok.clone(),
            ),
            (
                format!("{BASE}/events?from={from}&to={to}&max=1"),
                ok.clone(),
            ),
            (
                format!("{BASE}/events?resource=messages&type=created&from={from}&to={to}&max=1"),
                ok,
            ),
        ]
    }

    #[test]
    fn every_scope_granted_lists_each_once() {
        let (result, host) = fake::webex(routes()).run(|| check(&fake::ctx(100, None)));
        let permissions = result.unwrap();
        assert_eq!(permissions.principal.as_deref(), Some("admin@acme.test"));
        assert_eq!(
            permissions.granted,
            [
                "spark-admin:people_read",
                "spark-admin:roles_read",
                "identity:groups_read",
                "audit:events_read",
                "spark-compliance:events_read"
            ]
        );
        assert!(permissions.missing.is_empty(), "{:?}", permissions.missing);
        assert_eq!(host.requests().len(), 8);
    }

    #[test]
    fn missing_scopes_are_named_with_webex_s_answer() {
        let mut routes = routes();
        routes[7].1 = fake::error(403, REFUSED);
        routes[6].1 = fake::error(403, REFUSED);
        routes[2].1 = fake::error(403, REFUSED);
        let (result, _) = fake::webex(routes).run(|| check(&fake::ctx(100, None)));
        let permissions = result.unwrap();
        assert_eq!(
            sluice_sdk::testing::missing(&permissions),
            [
                Capability::Privileges,
                Capability::UserActivity,
                Capability::Files
            ]
        );
        let why = &permissions.missing[1].1;
        assert!(why.contains("`spark-compliance:events_read`"), "{why}");
        assert!(why.contains("compliance officer"), "{why}");
        assert!(why.contains("missing required scopes"), "{why}");
    }

    #[test]
    fn a_rejected_token_is_unauthorized() {
        let host = fake::webex(vec![]).on_request(|_| {
            Ok(fake::error(
                401,
                "The request requires a valid access token set in the Authorization request header.",
            ))
        });
        let (result, _) = host.run(|| check(&fake::ctx(100, None)));
        assert!(matches!(result, Err(ConnectorError::Unauthorized(_))));
    }
}
