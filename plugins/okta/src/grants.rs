//! `list-app-permissions`: the Okta API scopes granted to apps in the org.
//!
//! `GET /api/v1/apps?limit=N` pages with `Link` (a [`ListCursor`], `{"url":"<apps page>"}`); each
//! app on a page is completed with every page of `GET /api/v1/apps/{id}/grants`, the
//! app's OAuth 2.0 scope consent grants (one grant per scope). Apps without OAuth
//! (SAML, bookmarks) have no grants; an app that vanished between the two requests
//! (404) is skipped. Record ids are the grant ids (`oag…`).

use sluice_sdk::http::path_segment;
use sluice_sdk::prelude::*;

use crate::api::Api;

/// Okta's maximum `limit` for `GET /api/v1/apps` and `…/grants`.
const MAX_LIMIT: u32 = 200;

/// Grant pages read per app.
const MAX_GRANT_PAGES: usize = 20;

/// One page of app grants.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<AppPermissionPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let position = ListCursor::<()>::resume(cursor)?;
    let (apps, next) = api.list_page(&position.url_or(|()| {
        let request = api.get(api.url("/api/v1/apps"));
        request
            .query("limit", api.limit(MAX_LIMIT))
            .url()
            .to_owned()
    }))?;
    let mut items = Vec::new();
    for app in &apps {
        let Some(segment) = json::str_at(app, "id").and_then(|id| path_segment(&id)) else {
            log::warn("skipped an Okta app without an id");
            continue;
        };
        let first = api
            .get(api.url(&format!("/api/v1/apps/{segment}/grants")))
            .query("limit", MAX_LIMIT)
            .url()
            .to_owned();
        let grants = match api.list_all(first, MAX_GRANT_PAGES) {
            Ok((grants, _)) => grants,
            Err(ConnectorError::NotFound(_)) => continue,
            Err(error) => return Err(error),
        };
        items.extend(json::map_items(&grants, "app grants", |g| grant(app, g)));
    }
    Ok(AppPermissionPage {
        items,
        next_cursor: position.next_cursor(next.map(At::url)),
    })
}

/// The record for one scope consent grant of `app`.
fn grant(app: &Value, grant: &Value) -> Option<AppPermission> {
    let app_id = json::str_at(app, "id").or_else(|| json::str_at(grant, "clientId"))?;
    Some(AppPermission {
        app_name: json::str_at(app, "label").or_else(|| json::str_at(app, "name")),
        grantee: json::str_at(grant, "userId"),
        scopes: json::str_at(grant, "scopeId").into_iter().collect(),
        granted_at: json::timestamp_at(grant, "created"),
        ..AppPermission::new(json::str_at(grant, "id")?, app_id, json::raw(grant))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake;

    #[test]
    fn apps_come_with_their_grants() {
        let apps = "https://okta.test/api/v1/apps?limit=2";
        let apps_2 = "https://okta.test/api/v1/apps?limit=2&after=0oa2";
        let grants_1 = "https://okta.test/api/v1/apps/0oa1/grants?limit=200";
        let host = fake::okta(vec![
            (
                apps.into(),
                fake::json(
                    &json!([{"id": "0oa1", "label": "Reporting"}, {"id": "0oa2", "label": "Wiki"}]),
                    Some(apps_2),
                ),
            ),
            (
                grants_1.into(),
                fake::json(
                    &json!([{"id": "oag1", "scopeId": "okta.users.read", "clientId": "0oa1",
                             "created": "2024-01-01T00:00:00.000Z", "status": "ACTIVE"}]),
                    None,
                ),
            ),
            // 0oa2's grants answer 404 (the fake's default): skipped, not an error.
        ]);
        let (page, host) = host.run(|| list(&fake::ctx(2, None), None));
        let page = page.unwrap();
        assert_eq!(host.requests().len(), 3);
        assert_eq!(page.items.len(), 1);
        let grant = &page.items[0];
        assert_eq!(grant.id, "oag1");
        assert_eq!(grant.app_id, "0oa1");
        assert_eq!(grant.app_name.as_deref(), Some("Reporting"));
        assert_eq!(grant.scopes, ["okta.users.read"]);
        assert_eq!(grant.granted_at, Some(1_704_067_200_000));
        assert_eq!(page.next_cursor, Some(format!(r#"{{"url":"{apps_2}"}}"#)));
    }
}
