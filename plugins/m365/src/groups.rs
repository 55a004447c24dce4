//! `list-groups`: groups (`GET /groups`, paged by `@odata.nextLink`) and, for each group
//! on the page, its direct members (`GET /groups/{id}/members?$select=id`, all pages).
//! The cursor is the SDK's [`ListCursor`] at the next groups URL.

use sluice_sdk::prelude::*;

use crate::api::{Api, Component};

/// Most member pages (999 each) read per group.
const MAX_MEMBER_PAGES: usize = 100;

/// One page of groups with their members.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<GroupPage, ConnectorError> {
    let api = Api::new(ctx)?;
    api.require(Component::UsersGroups)?;
    let position = ListCursor::<()>::resume(cursor)?;
    let url = position.url_or(|()| {
        http::get(api.graph("/groups"))
            .query(
                "$select",
                "id,displayName,description,groupTypes,securityEnabled,mailEnabled,mail",
            )
            .query("$top", api.top())
            .url()
            .to_owned()
    });
    let (items, next) = api.collection(&url)?;
    let mut groups = json::map_items(&items, "groups", |g| group(g, Vec::new()));
    for g in &mut groups {
        let Some(segment) = http::path_segment(&g.id) else {
            continue;
        };
        let url = http::get(api.graph(&format!("/groups/{segment}/members")))
            .query("$select", "id")
            .query("$top", 999)
            .url()
            .to_owned();
        g.members = api
            .collection_all(&url, MAX_MEMBER_PAGES)?
            .iter()
            .filter_map(|m| json::str_at(m, "id"))
            .collect();
    }
    Ok(GroupPage {
        items: groups,
        next_cursor: position.next_cursor(next.map(At::url)),
    })
}

/// The record for a Graph `group`; the id falls back to `mailNickname` (unique in a
/// tenant) for bodies shortened without it, as the published `$search` example is.
pub fn group(g: &Value, members: Vec<String>) -> Option<Group> {
    Some(Group {
        id: json::str_at(g, "id").or_else(|| json::str_at(g, "mailNickname"))?,
        name: json::str_at(g, "displayName").unwrap_or_default(),
        description: json::str_at(g, "description"),
        members,
        raw: json::raw(g),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::fake;

    #[test]
    fn published_group_examples_parse_into_records() {
        let Some(fixtures) = fake::fixtures() else {
            return;
        };
        for name in [
            "list-groups.json",
            "list-groups-count-filter.json",
            "list-groups-search.json",
        ] {
            let (items, _) = crate::api::collection_parts(fixtures.json(name));
            let groups: Vec<_> = items.iter().filter_map(|g| group(g, vec![])).collect();
            assert_eq!(groups.len(), items.len(), "{name}");
            assert!(!groups.is_empty());
        }
        let body = fixtures.json("list-groups.json");
        assert_eq!(
            group(&body["value"][0], vec![]).unwrap().name,
            "Golf Assist"
        );
    }
}
