//! `list-groups`: the account's agent groups with their members (beyond the provider
//! docs' table, whose Zendesk row leaves groups blank).
//!
//! `GET /api/v2/groups?page[size]=N` is cursor-paged; group objects do not carry
//! members, so each group on a page is completed with every page of
//! `GET /api/v2/groups/{id}/memberships?page[size]=100` (each membership names a
//! `user_id`), up to [`MAX_MEMBER_PAGES`] pages per group. Only agents and admins can
//! be group members in Zendesk.

use sluice_sdk::http::path_segment;
use sluice_sdk::prelude::*;

use crate::api::{Api, MAX_PAGE_SIZE};

/// Membership pages read per group: bounds one call's requests.
const MAX_MEMBER_PAGES: usize = 50;

/// One page of groups.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<GroupPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let position = ListCursor::<()>::resume(cursor)?;
    let url = position.url_or(|()| api.first_page("/api/v2/groups").url().to_owned());
    let (groups, next) = api.list_page(&url, "groups")?;
    let mut items = Vec::with_capacity(groups.len());
    for value in &groups {
        // Check before spending requests on a group that could not be stored.
        let Some(segment) = json::str_at(value, "id").and_then(|id| path_segment(&id)) else {
            log::warn("skipped a Zendesk group without an id");
            continue;
        };
        let first = api
            .get(api.url(&format!("/api/v2/groups/{segment}/memberships")))
            .query("page[size]", MAX_PAGE_SIZE)
            .url()
            .to_owned();
        let (memberships, truncated) =
            api.list_all(first, "group_memberships", MAX_MEMBER_PAGES)?;
        if truncated {
            log::warn(format_args!(
                "group {segment} has more than {MAX_MEMBER_PAGES} pages of memberships; listed the first {}",
                memberships.len()
            ));
        }
        items.extend(group(value, member_ids(&memberships)));
    }
    Ok(GroupPage {
        items,
        next_cursor: position.next_cursor(next.map(At::url)),
    })
}

/// The user ids of group membership objects.
pub fn member_ids(memberships: &[Value]) -> Vec<String> {
    memberships
        .iter()
        .filter_map(|m| json::str_at(m, "user_id"))
        .collect()
}

/// The group record for a Zendesk group object and its member ids.
pub fn group(value: &Value, members: Vec<String>) -> Option<Group> {
    let id = json::str_at(value, "id")?;
    Some(Group {
        name: json::str_at(value, "name").unwrap_or_else(|| id.clone()),
        description: json::str_at(value, "description").filter(|d| !d.is_empty()),
        members,
        raw: json::raw(value),
        id,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake;

    #[test]
    fn the_published_groups_and_memberships_map_to_records() {
        let (Some(groups), Some(memberships)) = (
            fake::fixture("groups.list"),
            fake::fixture("group_memberships.list"),
        ) else {
            return;
        };
        let memberships = memberships["group_memberships"].as_array().unwrap().clone();
        let records: Vec<Group> = groups["groups"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|g| {
                let id = json::str_at(g, "id")?;
                let mine: Vec<Value> = memberships
                    .iter()
                    .filter(|m| json::str_at(m, "group_id").as_deref() == Some(id.as_str()))
                    .cloned()
                    .collect();
                group(g, member_ids(&mine))
            })
            .collect();
        let names: Vec<_> = records.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["My Group", "My Group", "Support"]);
        let support = &records[2];
        assert_eq!(support.id, "20001662");
        assert_eq!(support.members, ["20014182", "20014327"]);
        assert!(records[..2].iter().all(|g| g.members.is_empty()));
    }

    #[test]
    fn each_group_is_completed_with_its_memberships() {
        let groups = "https://acme.zendesk.test/api/v2/groups?page%5Bsize%5D=5";
        let members = "https://acme.zendesk.test/api/v2/groups/11/memberships?page%5Bsize%5D=100";
        let members_2 = "https://acme.zendesk.test/api/v2/groups/11/memberships?page%5Bsize%5D=100&page%5Bafter%5D=m";
        let host = fake::zendesk(vec![
            (
                groups.into(),
                fake::cursor_page(
                    "groups",
                    json!([{"id": 11, "name": "Tier 1"}]),
                    "https://unused.test",
                    false,
                ),
            ),
            (
                members.into(),
                fake::cursor_page(
                    "group_memberships",
                    json!([{"id": 1, "user_id": 5, "group_id": 11}]),
                    members_2,
                    true,
                ),
            ),
            (
                members_2.into(),
                fake::cursor_page(
                    "group_memberships",
                    json!([{"id": 2, "user_id": 6, "group_id": 11}]),
                    "https://unused.test",
                    false,
                ),
            ),
        ]);
        let ctx = fake::ctx(5, None);
        let (pages, host) = host.run(|| sluice_sdk::testing::all_pages(10, |c| list(&ctx, c)));
        assert_eq!(host.requests().len(), 3);
        assert_eq!(pages.len(), 1);
        assert_eq!(pages[0].items[0].members, ["5", "6"]);
        assert_eq!(pages[0].items[0].name, "Tier 1");
    }
}
