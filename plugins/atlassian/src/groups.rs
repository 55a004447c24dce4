//! `list-groups`: the organization's groups with their members (beyond the provider
//! docs' table, whose Atlassian row leaves groups blank).
//!
//! `GET /admin/v2/orgs/{orgId}/directories/{directoryId}/groups?limit=N` lists groups
//! (`id`, `name`, `description`, `counts.users`) without members, so each group on a
//! page is completed with every page of the users list filtered to it,
//! `GET …/directories/{directoryId}/users?groupIds={id}&limit=100`, up to
//! [`MAX_MEMBER_PAGES`] pages per group. Atlassian has announced that the groups list
//! stops working after June 30, 2027 in favour of `POST /admin/v1/orgs/{orgId}/groups/search`
//! (new user management experience only), a POST this connector would have to declare
//! as a scan write; until then the GET keeps scans read-only.

use sluice_sdk::prelude::*;

use crate::api::{Api, MAX_PAGE_SIZE};

/// Member pages read per group: bounds one call's requests.
const MAX_MEMBER_PAGES: usize = 50;

/// One page of groups.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<GroupPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let position = ListCursor::<()>::resume(cursor)?;
    let mut request = api
        .get(api.directory("/groups"))
        .query("limit", api.page_size(MAX_PAGE_SIZE));
    if let Some(token) = position.token() {
        request = request.query("cursor", token);
    }
    let (groups, next) = api.list_page(request.url())?;
    let mut items = Vec::with_capacity(groups.len());
    for value in &groups {
        // Check before spending requests on a group that could not be stored.
        let Some(id) = group_id(value) else {
            log::warn("skipped an Atlassian group without an id");
            continue;
        };
        items.extend(group(value, members(&api, &id)?));
    }
    Ok(GroupPage {
        items,
        next_cursor: position.next_cursor(next.map(At::token)),
    })
}

/// The account ids of group `id`'s members, every page up to [`MAX_MEMBER_PAGES`].
fn members(api: &Api, id: &str) -> Result<Vec<String>, ConnectorError> {
    let first = api
        .get(api.directory("/users"))
        .query("groupIds", id)
        .query("limit", MAX_PAGE_SIZE)
        .url()
        .to_owned();
    let (users, truncated) = pagination::collect_all(first.clone(), MAX_MEMBER_PAGES, |url| {
        let (users, next) = api.list_page(url)?;
        let next = next.map(|token| {
            api.get(first.as_str())
                .query("cursor", token)
                .url()
                .to_owned()
        });
        Ok((users, next))
    })?;
    if truncated {
        log::warn(format_args!(
            "group {id} has more than {MAX_MEMBER_PAGES} pages of members; listed the first {}",
            users.len()
        ));
    }
    Ok(users
        .iter()
        .filter_map(|u| json::str_at(u, "accountId").or_else(|| json::str_at(u, "account_id")))
        .collect())
}

/// A group object's id: `id` (Organizations API) or `groupId` (Jira's shape).
fn group_id(value: &Value) -> Option<String> {
    json::str_at(value, "id").or_else(|| json::str_at(value, "groupId"))
}

/// The group record for an Atlassian group object and its member ids.
pub fn group(value: &Value, members: Vec<String>) -> Option<Group> {
    let id = group_id(value)?;
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
    fn the_published_jira_groups_map_to_records() {
        let Some(bulk) = fake::fixture("jira-group-bulk.openapi-example") else {
            return;
        };
        let groups: Vec<Group> = bulk["values"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|g| group(g, Vec::new()))
            .collect();
        let names: Vec<_> = groups.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["jdog-developers", "juvenal-bot"]);
        assert_eq!(groups[0].id, "276f955c-63d7-42c8-9520-92d01dca0625");
    }

    #[test]
    fn each_group_is_completed_with_every_page_of_its_members() {
        let groups = format!("{}/groups?limit=5", fake::DIR);
        let members = format!("{}/users?groupIds=g1&limit=100", fake::DIR);
        let members_2 = format!("{}/users?groupIds=g1&limit=100&cursor=m2", fake::DIR);
        let host = fake::atlassian(vec![
            (
                groups.clone(),
                fake::page(
                    json!([{"id": "g1", "name": "jira-administrators", "description": "",
                            "counts": {"users": 2}}]),
                    None,
                ),
            ),
            (
                members.clone(),
                fake::page(json!([{"accountId": "u1"}]), Some("m2")),
            ),
            (
                members_2.clone(),
                fake::page(json!([{"accountId": "u2"}]), None),
            ),
        ]);
        let ctx = fake::ctx(5, None);
        let (pages, host) = host.run(|| sluice_sdk::testing::all_pages(10, |c| list(&ctx, c)));
        let urls: Vec<_> = host.requests().iter().map(|r| r.url.clone()).collect();
        assert_eq!(urls, [groups, members, members_2]);
        let g = &pages[0].items[0];
        assert_eq!(
            (g.id.as_str(), g.name.as_str()),
            ("g1", "jira-administrators")
        );
        assert_eq!(g.members, ["u1", "u2"]);
        assert_eq!(g.description, None);
    }
}
