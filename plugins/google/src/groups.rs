//! `list-groups`: every group of the customer with its direct members.
//!
//! `GET /admin/directory/v1/groups?customer=my_customer` (`maxResults` up to 200,
//! `pageToken`); each group's members from `GET …/groups/{groupKey}/members`
//! (`maxResults` 200, `pageToken`, at most [`MEMBER_PAGES`] pages a group). Members
//! are listed by their Directory `id` (as users are keyed), or by email for members
//! without one (a whole-customer member has neither and is listed as `*`). Nested
//! groups appear as members by their group id; they are not expanded.

use sluice_sdk::prelude::*;

use crate::api::{self, Api, MAX_GROUPS};

/// Member pages read per group at most (40,000 members).
pub const MEMBER_PAGES: usize = 200;

/// One page of groups.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<GroupPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let position = ListCursor::<()>::resume(cursor)?;
    let request = api
        .page(
            api.directory("/groups"),
            "maxResults",
            api.page_size(MAX_GROUPS),
            position.token(),
        )
        .query("customer", &api.customer);
    let (groups, token) = api::items_and_token(api.fetch(request)?, "groups");
    let mut items = Vec::with_capacity(groups.len());
    for value in &groups {
        let Some(mut record) = group(value) else {
            continue;
        };
        record.members = members(&api, &record.id)?;
        items.push(record);
    }
    Ok(GroupPage {
        items,
        next_cursor: position.next_cursor(token.map(At::token)),
    })
}

/// The group record for a Directory group, without members; none without an id.
pub fn group(value: &Value) -> Option<Group> {
    let id = json::str_at(value, "id")?;
    let name = json::str_at(value, "name")
        .or_else(|| json::str_at(value, "email"))
        .unwrap_or_else(|| id.clone());
    Some(Group {
        description: json::str_at(value, "description").filter(|d| !d.is_empty()),
        ..Group::new(id, name, json::raw(value))
    })
}

/// A member's id as listed: its `id`, else its `email`, else `*` (the whole customer).
pub fn member_id(value: &Value) -> String {
    json::str_at(value, "id")
        .or_else(|| json::str_at(value, "email"))
        .unwrap_or_else(|| "*".into())
}

/// Every direct member of group `id`.
fn members(api: &Api, id: &str) -> Result<Vec<String>, ConnectorError> {
    let url = api.directory(&format!("/groups/{}/members", http::encode_component(id)));
    let (members, cut) = pagination::collect_all(String::new(), MEMBER_PAGES, |token| {
        let token = (!token.is_empty()).then_some(token);
        let request = api.page(url.clone(), "maxResults", MAX_GROUPS, token);
        Ok(api::items_and_token(api.fetch(request)?, "members"))
    })?;
    if cut {
        log::warn(format!(
            "group {id}: members beyond {MEMBER_PAGES} pages not read"
        ));
    }
    Ok(members.iter().map(member_id).collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake;

    #[test]
    fn groups_list_their_members_across_pages() {
        let base = format!("{}/admin/directory/v1", fake::ADMIN);
        let (Some(groups), Some(members)) = (
            fake::fixture("directory-groups.list"),
            fake::fixture("directory-members.list"),
        ) else {
            return;
        };
        let members_url = |g: &str| format!("{base}/groups/{g}/members?maxResults=200");
        let host = fake::google(vec![
            (
                format!("{base}/groups?maxResults=100&customer=my_customer"),
                fake::json(&groups),
            ),
            (members_url("02grqrue2fbxk4a"), fake::json(&members)),
            (
                format!(
                    "{}&pageToken=CgwI6f3mswYQwMTj6wISJWVuZ2luZWVyaW5nQGV4YW1wbGUuY29t",
                    members_url("02grqrue2fbxk4a")
                ),
                fake::json(&json!({"members": [{"email": "late@example.com", "type": "USER"}]})),
            ),
            (
                members_url("03l18frh1xv6t9d"),
                fake::json(&json!({"kind": "admin#directory#members"})),
            ),
        ]);
        let (page, host) = host.run(|| list(&fake::ctx(100, None), None));
        let page = page.unwrap();
        assert_eq!(host.requests().len(), 4);
        assert_eq!(page.items.len(), 2);
        let eng = &page.items[0];
        assert_eq!(eng.name, "Engineering");
        assert_eq!(eng.description.as_deref(), Some("All engineering staff"));
        assert_eq!(
            eng.members,
            [
                "104857291836450193827",
                "117392001846377520194",
                "03l18frh1xv6t9d",
                "109998877766655544433",
                "late@example.com"
            ]
        );
        assert!(page.items[1].members.is_empty());
        assert_eq!(page.items[1].description, None);
        assert_eq!(page.next_cursor, None);
    }
}
