//! `list-app-permissions`: the apps an Enterprise Grid organisation (or workspace)
//! approved, with the scopes approved, and the apps it restricted.
//!
//! Two lists walked in turn, each paged with Slack's cursor (`limit` at most 1000):
//!
//! 1. `GET admin.apps.approved.list` → `approved_apps`: one record per app, id
//!    `approved:<app id>`, scopes the approved scopes' names, granted at
//!    `date_updated`, granted by `last_resolved_by.actor_id`;
//! 2. `GET admin.apps.restricted.list` → `restricted_apps`: one record per app, id
//!    `restricted:<app id>`, with no scopes, since a restricted app is granted none;
//!    Slack's JSON (with the scopes it asked for) stays in `raw`.
//!
//! An app moved from one list to the other changes id, so the next complete scan
//! marks the old record deleted and stores the new one. Both methods need the
//! `admin.apps:read` scope, which Slack grants only to Grid org admins and owners.

use sluice_sdk::prelude::*;

use crate::api::{Api, next_cursor};

/// Slack's maximum `limit` for the `admin.apps.*.list` methods.
const MAX_LIMIT: u32 = 1000;

sluice_sdk::phases! {
    /// Which of the two app lists a page comes from.
    enum Phase {
        /// `admin.apps.approved.list`.
        Approved,
        /// `admin.apps.restricted.list`.
        Restricted,
    }
}

impl Phase {
    /// The Web API method, the body field listing its apps, and the record id prefix.
    fn method(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::Approved => ("admin.apps.approved.list", "approved_apps", "approved"),
            Self::Restricted => (
                "admin.apps.restricted.list",
                "restricted_apps",
                "restricted",
            ),
        }
    }
}

/// One page of approved or restricted apps.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<AppPermissionPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let position = ListCursor::<Phase>::resume(cursor)?;
    let (method, field, _) = position.phase.method();
    let mut request = api.team_method(method).query("limit", api.limit(MAX_LIMIT));
    if let Some(token) = position.token() {
        request = request.query("cursor", token);
    }
    let body = api.call(request)?;
    let apps = body
        .get(field)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let phase = position.phase;
    Ok(AppPermissionPage {
        items: json::map_items(apps, "Slack apps", |a| app_permission(phase, a)),
        next_cursor: position.next_cursor(next_cursor(&body).map(At::token)),
    })
}

/// The record for one entry of an approved or restricted list.
fn app_permission(phase: Phase, entry: &Value) -> Option<AppPermission> {
    let app_id = json::str_at(entry, "/app/id").filter(|id| !id.is_empty())?;
    let (_, _, prefix) = phase.method();
    let approved = phase == Phase::Approved;
    Some(AppPermission {
        app_name: json::str_at(entry, "/app/name"),
        grantee: json::str_at(entry, "/last_resolved_by/actor_id").filter(|_| approved),
        scopes: if approved {
            entry
                .get("scopes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|scope| json::str_at(scope, "name"))
                .collect()
        } else {
            Vec::new()
        },
        granted_at: json::i64_at(entry, "date_updated")
            .filter(|_| approved)
            .and_then(|s| s.checked_mul(1000)),
        ..AppPermission::new(format!("{prefix}:{app_id}"), app_id, json::raw(entry))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake;

    #[test]
    fn the_published_approved_app_maps_to_a_grant() {
        let Some(body) = fake::fixture("admin.apps.approved.list.openapi-example.json") else {
            return;
        };
        let entry = &body["approved_apps"][0];
        let grant = app_permission(Phase::Approved, entry).unwrap();
        assert_eq!(grant.id, "approved:A0W7UKG8E");
        assert_eq!(grant.app_id, "A0W7UKG8E");
        assert_eq!(grant.app_name.as_deref(), Some("My Test App"));
        assert_eq!(grant.scopes, ["bot"]);
        assert_eq!(grant.grantee.as_deref(), Some("W0G82F4FD"));
        assert_eq!(grant.granted_at, Some(1_574_296_707_000));
        assert_eq!(serde_json::from_str::<Value>(&grant.raw).unwrap(), *entry);
        // The same entry in the restricted list is granted nothing.
        let refused = app_permission(Phase::Restricted, entry).unwrap();
        assert_eq!(refused.id, "restricted:A0W7UKG8E");
        assert!(refused.scopes.is_empty() && refused.granted_at.is_none());
    }

    #[test]
    fn walks_approved_then_restricted_apps() {
        let web = fake::WEB;
        let approved = format!("{web}/admin.apps.approved.list?limit=1");
        let approved_2 = format!("{web}/admin.apps.approved.list?limit=1&cursor=p2");
        let restricted = format!("{web}/admin.apps.restricted.list?limit=1");
        let app =
            |id: &str| json!({"app": {"id": id, "name": id}, "scopes": [{"name": "users:read"}]});
        let host = fake::slack(vec![
            (
                approved.clone(),
                fake::json(&json!({"ok": true, "approved_apps": [app("A1")],
                    "response_metadata": {"next_cursor": "p2"}})),
            ),
            (
                approved_2.clone(),
                fake::json(&json!({"ok": true, "approved_apps": [app("A2")],
                    "response_metadata": {"next_cursor": ""}})),
            ),
            (
                restricted.clone(),
                fake::json(&json!({"ok": true, "restricted_apps": [app("A3")],
                    "response_metadata": {"next_cursor": ""}})),
            ),
        ]);
        let ctx = fake::ctx(1, None);
        let (pages, host) = host.run(|| sluice_sdk::testing::all_pages(10, |c| list(&ctx, c)));
        let urls: Vec<_> = host.requests().iter().map(|r| r.url.clone()).collect();
        assert_eq!(urls, [approved, approved_2, restricted]);
        let ids: Vec<_> = pages
            .iter()
            .flat_map(|p| &p.items)
            .map(|a| a.id.as_str())
            .collect();
        assert_eq!(ids, ["approved:A1", "approved:A2", "restricted:A3"]);
        assert_eq!(
            pages[1].next_cursor.as_deref(),
            Some(r#"{"phase":"restricted"}"#)
        );
    }
}
