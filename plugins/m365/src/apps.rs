//! `list-app-permissions`: delegated OAuth2 permission grants (`GET
//! /oauth2PermissionGrants`, paged by `@odata.nextLink`). A grant names its client by
//! service principal object id, so each distinct client on a page is looked up once
//! (`GET /servicePrincipals/{id}?$select=id,appId,displayName`) for the app's name and
//! application id; a missing principal leaves the grant with its object id only. The
//! cursor is the SDK's [`ListCursor`] at the next grants URL.

use std::collections::BTreeMap;

use sluice_sdk::prelude::*;

use crate::api::{Api, Component};

/// One page of grants.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<AppPermissionPage, ConnectorError> {
    let api = Api::new(ctx)?;
    api.require(Component::Apps)?;
    let position = ListCursor::<()>::resume(cursor)?;
    let url = position.url_or(|()| {
        http::get(api.graph("/oauth2PermissionGrants"))
            .query("$top", api.top())
            .url()
            .to_owned()
    });
    let (items, next) = api.collection(&url)?;
    let mut principals: BTreeMap<String, Option<Value>> = BTreeMap::new();
    for client in items.iter().filter_map(|g| json::str_at(g, "clientId")) {
        if principals.contains_key(&client) {
            continue;
        }
        let Some(segment) = http::path_segment(&client) else {
            continue;
        };
        let url = http::get(api.graph(&format!("/servicePrincipals/{segment}")))
            .query("$select", "id,appId,displayName")
            .url()
            .to_owned();
        let principal = match api.get(url).send()?.error_for_status() {
            Ok(response) => Some(response.json_value()?),
            Err(ConnectorError::NotFound(_)) => None,
            Err(error) => return Err(error),
        };
        principals.insert(client, principal);
    }
    let grants = json::map_items(&items, "permission grants", |g| {
        let principal =
            json::str_at(g, "clientId").and_then(|c| principals.get(&c).cloned().flatten());
        grant(g, principal.as_ref())
    });
    Ok(AppPermissionPage {
        items: grants,
        next_cursor: position.next_cursor(next.map(At::url)),
    })
}

/// The record for an `oauth2PermissionGrant`, with its client's service principal.
pub fn grant(g: &Value, principal: Option<&Value>) -> Option<AppPermission> {
    let client = json::str_at(g, "clientId")?;
    Some(AppPermission {
        id: json::str_at(g, "id")?,
        app_id: principal
            .and_then(|p| json::str_at(p, "appId"))
            .unwrap_or(client),
        app_name: principal.and_then(|p| json::str_at(p, "displayName")),
        grantee: json::str_at(g, "principalId"),
        scopes: json::str_at(g, "scope")
            .unwrap_or_default()
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        granted_at: None,
        raw: json::raw(g),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake;

    #[test]
    fn published_grant_example_parses_into_records() {
        let Some(fixtures) = fake::fixtures() else {
            return;
        };
        let (items, _) =
            crate::api::collection_parts(fixtures.json("list-oauth2-permission-grants.json"));
        let grants: Vec<_> = items.iter().filter_map(|g| grant(g, None)).collect();
        assert_eq!(grants.len(), 2);
        assert_eq!(grants[0].scopes, ["User.Read", "Group.ReadWrite.All"]);
        assert_eq!(grants[0].grantee, None);
        assert_eq!(grants[0].app_id, "263a5b01-03e5-408e-8557-bab681df104c");
    }

    #[test]
    fn client_names_come_from_service_principals_once_per_client() {
        let grants = "https://graph.test/v1.0/oauth2PermissionGrants?%24top=10";
        let sp = "https://graph.test/v1.0/servicePrincipals/sp1?%24select=id%2CappId%2CdisplayName";
        let host = fake::tenant(
            None,
            vec![
                (
                    grants.into(),
                    fake::json(&json!({"value": [
                {"id": "g1", "clientId": "sp1", "principalId": "u1", "scope": "Mail.Read"},
                {"id": "g2", "clientId": "sp1", "scope": "User.Read"}]})),
                ),
                (
                    sp.into(),
                    fake::json(
                        &json!({"id": "sp1", "appId": "app-1", "displayName": "Contoso CRM"}),
                    ),
                ),
            ],
        );
        let (page, host) = host.run(|| list(&fake::ctx(10, None), None).unwrap());
        assert_eq!(host.requests().len(), 2);
        assert_eq!(page.items[0].app_name.as_deref(), Some("Contoso CRM"));
        assert_eq!(page.items[1].app_id, "app-1");
        assert_eq!(page.items[0].grantee.as_deref(), Some("u1"));
    }
}
