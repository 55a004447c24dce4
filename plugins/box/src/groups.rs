//! `list-groups`: the enterprise's groups and their members.
//!
//! `GET /2.0/groups?offset=…&limit=…` (offset-paged, `limit` up to 1000, `fields` for
//! the description), and for each group on the page `GET
//! /2.0/groups/{id}/memberships` (offset-paged, at most [`MEMBER_PAGES`] pages): a
//! member is the membership's `user.id`. Reading groups needs the app scope "Manage
//! groups"; the service account sees every group of the enterprise.

use sluice_sdk::prelude::*;

use crate::api::{self, Api, MAX_LIMIT};

/// Pages of one group's memberships read at most (1000 members a page).
pub const MEMBER_PAGES: usize = 100;

/// One page of groups with their members.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<GroupPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let position = ListCursor::<()>::resume(cursor)?;
    let offset = position.offset_or(0);
    let request = api
        .get("/groups")
        .query("offset", offset)
        .query("limit", api.limit(MAX_LIMIT))
        .query("fields", "id,type,name,description,group_type,created_at");
    let (groups, next) = api::entries_and_offset(api.fetch(request)?, offset);
    let mut items = Vec::with_capacity(groups.len());
    for value in &groups {
        let Some(mut group) = group(value) else {
            continue;
        };
        group.members = members(&api, &group.id)?;
        items.push(group);
    }
    Ok(GroupPage {
        items,
        next_cursor: position.next_cursor(next.map(At::offset)),
    })
}

/// The ids of group `id`'s members.
fn members(api: &Api, id: &str) -> Result<Vec<String>, ConnectorError> {
    let segment = action::target_segment(id)?;
    let mut offset = Some(0);
    let mut members = Vec::new();
    for _ in 0..MEMBER_PAGES {
        let Some(at) = offset else {
            return Ok(members);
        };
        let request = api
            .get(&format!("/groups/{segment}/memberships"))
            .query("offset", at)
            .query("limit", MAX_LIMIT);
        let (page, next) = api::entries_and_offset(api.fetch(request)?, at);
        members.extend(page.iter().filter_map(|m| json::str_at(m, "/user/id")));
        offset = next;
    }
    if offset.is_some() {
        log::warn(format_args!(
            "group {id} has more than {} members; only those read are listed",
            MEMBER_PAGES * MAX_LIMIT as usize
        ));
    }
    Ok(members)
}

/// The group record for a Box group object, without members; none without an id.
pub fn group(value: &Value) -> Option<Group> {
    let id = json::str_at(value, "id")?;
    let name = json::str_at(value, "name").unwrap_or_else(|| id.clone());
    Some(Group {
        description: json::str_at(value, "description").filter(|d| !d.is_empty()),
        ..Group::new(id, name, json::raw(value))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake::{self, BASE};

    #[test]
    fn the_published_groups_and_memberships_parse() {
        let (Some(groups), Some(members)) = (
            fake::fixture("groups.list.sdk-fixture"),
            fake::fixture("group-memberships.list.sdk-fixture"),
        ) else {
            return;
        };
        let (list, next) = api::entries_and_offset(groups, 0);
        assert_eq!(next, None, "total_count 2, both on the page");
        let names: Vec<String> = list.iter().filter_map(group).map(|g| g.name).collect();
        assert_eq!(names, ["Test Group 1", "Test Group 2"]);
        let (entries, _) = api::entries_and_offset(members, 0);
        let ids: Vec<String> = entries
            .iter()
            .filter_map(|m| json::str_at(m, "/user/id"))
            .collect();
        assert_eq!(ids, ["2222"]);
        if let Some(rendered) = fake::fixture("groups.list.rendered-from-openapi") {
            let (list, _) = api::entries_and_offset(rendered, 0);
            assert!(list.iter().all(|g| group(g).is_some()));
        }
    }

    #[test]
    fn pages_groups_by_offset_and_reads_each_group_s_members() {
        let groups = |offset: u32| {
            format!(
                "{BASE}/groups?offset={offset}&limit=1&fields=id%2Ctype%2Cname%2Cdescription%2Cgroup_type%2Ccreated_at"
            )
        };
        let members = |id: &str, offset: u32| {
            format!("{BASE}/groups/{id}/memberships?offset={offset}&limit=1000")
        };
        let host = fake::boxed(vec![
            (
                groups(0),
                fake::json(&json!({"total_count": 2, "offset": 0, "limit": 1,
                    "entries": [{"type": "group", "id": "g1", "name": "Sales", "description": ""}]})),
            ),
            (
                groups(1),
                fake::json(&json!({"total_count": 2, "offset": 1, "limit": 1,
                    "entries": [{"type": "group", "id": "g2", "name": "Legal"}]})),
            ),
            (
                members("g1", 0),
                fake::json(&json!({"total_count": 2, "entries": [
                    {"type": "group_membership", "id": "m1", "user": {"type": "user", "id": "u1"}},
                    {"type": "group_membership", "id": "m2", "user": {"type": "user", "id": "u2"}}]})),
            ),
            (
                members("g2", 0),
                fake::json(&json!({"total_count": 0, "entries": []})),
            ),
        ]);
        let ctx = fake::ctx(1, None);
        let (pages, _) = host.run(|| sluice_sdk::testing::all_pages(10, |c| list(&ctx, c)));
        let groups: Vec<&Group> = pages.iter().flat_map(|p| &p.items).collect();
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].members, ["u1", "u2"]);
        assert_eq!(groups[0].description, None);
        assert!(groups[1].members.is_empty());
    }
}
