//! `list-app-permissions`: every OAuth grant users gave third-party apps.
//!
//! Google lists grants per user only: `GET /admin/directory/v1/users/{userKey}/tokens`
//! (not paged). So a page is one page of users (`users.list`, `fields` cut to ids and
//! emails, at most [`USERS_PER_PAGE`] users so one call stays short) and one tokens
//! request per user. A grant's id is `{user id}:{clientId}`, which `revoke-app-permission`
//! takes apart again (`DELETE …/users/{userKey}/tokens/{clientId}`).

use sluice_sdk::prelude::*;

use crate::api::{self, Api};

/// Users whose grants one page reads.
pub const USERS_PER_PAGE: u32 = 100;

/// One page of grants: those of one page of users.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<AppPermissionPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let position = ListCursor::<()>::resume(cursor)?;
    let request = api
        .page(
            api.directory("/users"),
            "maxResults",
            api.page_size(USERS_PER_PAGE),
            position.token(),
        )
        .query("customer", &api.customer)
        .query("orderBy", "email")
        .query("fields", "nextPageToken,users(id,primaryEmail)");
    let (users, token) = api::items_and_token(api.fetch(request)?, "users");
    let mut items = Vec::new();
    for user in &users {
        let Some(id) = json::str_at(user, "id") else {
            continue;
        };
        let email = json::str_at(user, "primaryEmail");
        let url = api.directory(&format!("/users/{}/tokens", http::encode_component(&id)));
        let response = api.get(url).send()?;
        // A user deleted since the users page was read has no grants left.
        if response.status() == 404 {
            continue;
        }
        let (tokens, _) = api::items_and_token(api::checked(response)?.json_value()?, "items");
        items.extend(
            tokens
                .iter()
                .filter_map(|t| grant(t, &id, email.as_deref())),
        );
    }
    Ok(AppPermissionPage {
        items,
        next_cursor: position.next_cursor(token.map(At::token)),
    })
}

/// The grant record of one token of user `user_id` (`email`); none without a client id.
pub fn grant(value: &Value, user_id: &str, email: Option<&str>) -> Option<AppPermission> {
    let client = json::str_at(value, "clientId")?;
    Some(AppPermission {
        app_name: json::str_at(value, "displayText"),
        grantee: Some(email.unwrap_or(user_id).to_owned()),
        scopes: json::strings_at(value, "scopes"),
        ..AppPermission::new(format!("{user_id}:{client}"), client, json::raw(value))
    })
}

/// The (user key, client id) a grant id names.
pub fn parse_id(id: &str) -> Result<(String, String), ConnectorError> {
    let (user, client) = id
        .trim()
        .split_once(':')
        .filter(|(u, c)| !u.is_empty() && !c.is_empty())
        .ok_or_else(|| {
            ConnectorError::other(format!(
                "`{id}` is not a Google grant id (`{{user id}}:{{clientId}}`)"
            ))
        })?;
    Ok((
        action::target_segment(user)?,
        action::target_segment(client)?,
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake;

    #[test]
    fn grants_of_each_user_on_the_page() {
        let Some(tokens) = fake::fixture("directory-tokens.list") else {
            return;
        };
        let base = format!("{}/admin/directory/v1", fake::ADMIN);
        let host = fake::google(vec![
            (
                format!(
                    "{base}/users?maxResults=2&customer=my_customer&orderBy=email&fields=nextPageToken%2Cusers%28id%2CprimaryEmail%29"
                ),
                fake::json(&json!({"users": [
                    {"id": "104857291836450193827", "primaryEmail": "alice.admin@example.com"},
                    {"id": "gone"}], "nextPageToken": "n2"})),
            ),
            (
                format!("{base}/users/104857291836450193827/tokens"),
                fake::json(&tokens),
            ),
        ]);
        let (page, _) = host.run(|| list(&fake::ctx(2, None), None));
        let page = page.unwrap();
        assert_eq!(page.items.len(), 2);
        let crm = &page.items[0];
        assert_eq!(
            crm.id,
            "104857291836450193827:123456789012-abcdefghijklmnopqrstuvwxyz012345.apps.googleusercontent.com"
        );
        assert_eq!(crm.app_name.as_deref(), Some("Example CRM Sync"));
        assert_eq!(crm.grantee.as_deref(), Some("alice.admin@example.com"));
        assert_eq!(crm.scopes.len(), 4);
        assert_eq!(page.next_cursor.as_deref(), Some(r#"{"token":"n2"}"#));
        assert_eq!(
            parse_id(&crm.id).unwrap().1,
            "123456789012-abcdefghijklmnopqrstuvwxyz012345.apps.googleusercontent.com"
        );
        assert!(parse_id("no-colon").is_err());
    }
}
