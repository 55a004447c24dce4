//! `list-app-permissions`: the connected apps users have authorized, one record per
//! OAuth token (`OauthToken`: "Represents an OAuth access token for connected app
//! access").
//!
//! `SELECT Id, AppName, AppMenuItemId, UserId, CreatedDate, LastUsedDate, UseCount
//! FROM OauthToken ORDER BY Id`, paged by `nextRecordsUrl`. Reading every user's
//! tokens takes "Manage Users". The app is named by its `AppMenuItemId` (the
//! connected app's menu item) when Salesforce gives one, else by `AppName`.
//! *Not supported by provider*: the token's scopes; `OauthToken` has no scope field
//! (a connected app's scopes are its policy, not the grant's), so `scopes` is empty.
//! `revoke-app-permission` deletes the token (see `actions`).

use sluice_sdk::prelude::*;

use crate::api::Api;

/// The fields read of each token.
pub const TOKEN_FIELDS: &str =
    "Id, AppName, AppMenuItemId, UserId, CreatedDate, LastUsedDate, UseCount";

/// One page of OAuth tokens.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<AppPermissionPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let position = ListCursor::<()>::resume(cursor)?;
    let url = position.url_or(|()| {
        api.query_url(&format!(
            "SELECT {TOKEN_FIELDS} FROM OauthToken ORDER BY Id"
        ))
    });
    let batch = api.batch(&url)?;
    Ok(AppPermissionPage {
        items: json::map_items(&batch.records, "Salesforce OAuth tokens", token),
        next_cursor: position.next_cursor(batch.next.map(At::url)),
    })
}

/// The app permission of an `OauthToken` record; none without an id or app.
pub fn token(value: &Value) -> Option<AppPermission> {
    let name = json::str_at(value, "AppName");
    let app = json::str_at(value, "AppMenuItemId").or_else(|| name.clone())?;
    Some(AppPermission {
        app_name: name,
        grantee: json::str_at(value, "UserId"),
        granted_at: json::timestamp_at(value, "CreatedDate"),
        ..AppPermission::new(json::str_at(value, "Id")?, app, json::raw(value))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn tokens_name_their_app_and_user() {
        let t = token(&json!({
            "Id": "0CR000000000001AAA", "AppName": "Data Loader", "AppMenuItemId": "0DS000000000001AAA",
            "UserId": "005000000000001AAA", "CreatedDate": "2024-01-01T00:00:00.000+0000",
            "LastUsedDate": null, "UseCount": 3,
        }))
        .unwrap();
        assert_eq!(t.app_id, "0DS000000000001AAA");
        assert_eq!(t.app_name.as_deref(), Some("Data Loader"));
        assert_eq!(t.grantee.as_deref(), Some("005000000000001AAA"));
        assert_eq!(t.granted_at, Some(1_704_067_200_000));
        assert!(t.scopes.is_empty());
        let by_name = token(&json!({"Id": "0CR2", "AppName": "Workbench"})).unwrap();
        assert_eq!(by_name.app_id, "Workbench");
        assert!(token(&json!({"Id": "0CR3"})).is_none());
    }
}
