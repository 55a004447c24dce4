//! `list-groups` (beyond the provider docs' table, whose Webex row leaves groups blank):
//! the organization's groups with their members.
//!
//! `GET /v1/groups?includeMembers=true&startIndex=S&count=N` (`identity:groups_read`)
//! pages SCIM-style: `startIndex` is 1-based and the body says `totalResults`,
//! `startIndex` and `itemsPerPage`; the next page starts after the groups returned,
//! until `totalResults` is reached or a page comes back empty. Each group lists its
//! members (`{id, type, displayName}`); a member's `id` is the person's id as in
//! `list-users`.
//!
//! Assumed (Webex does not say): `count` at most [`MAX_COUNT`]; the members inline
//! are all of them (a group whose `memberSize` says more is logged).

use sluice_sdk::prelude::*;

use crate::api::{self, Api};

/// The largest `count` asked for.
pub const MAX_COUNT: u32 = 100;

/// One page of groups.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<GroupPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let position = ListCursor::<()>::resume(cursor)?;
    let start = position.offset_or(1);
    let request = api
        .get("/groups")
        .query("includeMembers", "true")
        .query("startIndex", start)
        .query("count", api.page_size().min(MAX_COUNT));
    let body = api.fetch(request)?;
    let total = json::i64_at(&body, "totalResults")
        .and_then(|t| u64::try_from(t).ok())
        .unwrap_or(0);
    let groups = api::items_of(body, "groups");
    let after = start + groups.len() as u64;
    let next = (!groups.is_empty() && after <= total).then(|| At::offset(after));
    Ok(GroupPage {
        items: json::map_items(&groups, "Webex groups", group),
        next_cursor: position.next_cursor(next),
    })
}

/// The group record for a Webex group; none without an id.
pub fn group(value: &Value) -> Option<Group> {
    let id = json::str_at(value, "id")?;
    let members: Vec<String> = json::at(value, "members")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(|m| json::str_at(m, "id")).collect())
        .unwrap_or_default();
    if let Some(size) = json::i64_at(value, "memberSize")
        && usize::try_from(size).is_ok_and(|size| size > members.len())
    {
        log::warn(format_args!(
            "Webex group {id} has {size} members but lists {}",
            members.len()
        ));
    }
    Some(Group {
        description: json::str_at(value, "description"),
        members,
        ..Group::new(
            id.clone(),
            json::str_at(value, "displayName").unwrap_or(id),
            json::raw(value),
        )
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake::{self, BASE};

    #[test]
    fn the_published_group_maps_with_its_member() {
        let Some(body) = fake::fixture("groups-list") else {
            return;
        };
        let list = api::items_of(body, "groups");
        let g = group(&list[0]).unwrap();
        assert_eq!(g.name, "Sales Group");
        assert_eq!(
            g.members,
            ["Y2lzY29zcGFyazovL3VzL1BFT1BMRS8xOTUzOTdhMi03MTU5LTRjNTgtYTBiOC00NmQ2ZWZlZTdkMTM"]
        );
        assert_eq!(serde_json::from_str::<Value>(&g.raw).unwrap(), list[0]);
    }

    #[test]
    fn pages_by_start_index_until_total_results() {
        let url =
            |start: u32| format!("{BASE}/groups?includeMembers=true&startIndex={start}&count=2");
        let page = |start: u32, ids: &[&str]| {
            let groups: Vec<Value> = ids
                .iter()
                .map(|id| {
                    json!({"id": id, "displayName": format!("G {id}"),
                    "members": [{"id": "p1", "type": "user"}]})
                })
                .collect();
            fake::json(&json!({"totalResults": 3, "startIndex": start,
                "itemsPerPage": ids.len(), "groups": groups}))
        };
        let host = fake::webex(vec![
            (url(1), page(1, &["g1", "g2"])),
            (url(3), page(3, &["g3"])),
        ]);
        let ctx = fake::ctx(2, None);
        let (pages, host) = host.run(|| sluice_sdk::testing::all_pages(10, |c| list(&ctx, c)));
        assert_eq!(host.requests().len(), 2);
        let ids: Vec<_> = pages
            .iter()
            .flat_map(|p| &p.items)
            .map(|g| g.id.as_str())
            .collect();
        assert_eq!(ids, ["g1", "g2", "g3"]);
        assert_eq!(pages[0].items[0].members, ["p1"]);
    }
}
