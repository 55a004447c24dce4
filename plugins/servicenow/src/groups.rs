//! `list-groups`: the instance's groups (`sys_user_group`) with their members
//! (`sys_user_grmember`): the provider docs' groups cell.
//!
//! Groups page by offset like every table (ordered by sys_id); each page's members
//! come from one query of the Group Members table,
//! `sys_user_grmember?sysparm_query=groupIN<sys_id,…>`, up to [`MAX_RELATED_PAGES`]
//! pages. Members are user sys_ids, the ids `list-users` gives its records. Roles a
//! group conveys reach its members as `inherited` rows of `sys_user_has_role`, so they
//! are already among each user's roles.

use std::collections::BTreeMap;

use sluice_sdk::prelude::*;

use crate::api::{self, Api, MAX_PAGE_SIZE, MAX_RELATED_PAGES};

/// The sys_user_group columns read.
pub const GROUP_FIELDS: &str =
    "sys_id,name,description,active,email,manager,type,roles,sys_created_on,sys_updated_on";

/// One page of groups.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<GroupPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let position = ListCursor::<()>::resume(cursor)?;
    let url = position.url_or(|()| {
        api.list(
            "sys_user_group",
            Some(GROUP_FIELDS),
            Some("ORDERBYsys_id"),
            api.page_size(),
        )
        .url()
        .to_owned()
    });
    let (rows, next) = api.page(&url)?;
    let ids: Vec<String> = rows.iter().filter_map(|r| api::text(r, "sys_id")).collect();
    let mut members = members_of(&api, &ids)?;
    let items = json::map_items(&rows, "ServiceNow groups", |row| {
        let id = api::text(row, "sys_id")?;
        group(row, members.remove(&id).unwrap_or_default())
    });
    Ok(GroupPage {
        items,
        next_cursor: position.next_cursor(next.map(At::url)),
    })
}

/// Member user sys_ids by group sys_id, for the groups `ids`.
pub fn members_of(
    api: &Api,
    ids: &[String],
) -> Result<BTreeMap<String, Vec<String>>, ConnectorError> {
    let mut members: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if ids.is_empty() {
        return Ok(members);
    }
    let query = format!("groupIN{}^ORDERBYsys_id", ids.join(","));
    let first = api
        .list(
            "sys_user_grmember",
            Some("sys_id,group,user"),
            Some(&query),
            MAX_PAGE_SIZE,
        )
        .url()
        .to_owned();
    let (rows, truncated) = api.all(first, MAX_RELATED_PAGES)?;
    if truncated {
        log::warn(format_args!(
            "the groups of one page have more than {MAX_RELATED_PAGES} pages of members; listed the first {}",
            rows.len()
        ));
    }
    for row in &rows {
        if let (Some(group), Some(user)) = (api::text(row, "group"), api::text(row, "user")) {
            let list = members.entry(group).or_default();
            if !list.contains(&user) {
                list.push(user);
            }
        }
    }
    Ok(members)
}

/// The group record for a sys_user_group row and its member sys_ids.
pub fn group(row: &Value, members: Vec<String>) -> Option<Group> {
    let id = api::text(row, "sys_id")?;
    Some(Group {
        name: api::text(row, "name").unwrap_or_else(|| id.clone()),
        description: api::text(row, "description"),
        members,
        ..Group::new(id, "", json::raw(row))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake;

    #[test]
    fn each_page_of_groups_is_completed_with_its_members() {
        let first = fake::table(
            "sys_user_group?sysparm_query=ORDERBYsys_id&sysparm_fields=sys_id%2Cname%2Cdescription%2Cactive%2Cemail%2Cmanager%2Ctype%2Croles%2Csys_created_on%2Csys_updated_on&sysparm_limit=5&sysparm_offset=0",
        );
        let members = fake::table(
            "sys_user_grmember?sysparm_query=groupINg1%2Cg2%5EORDERBYsys_id&sysparm_fields=sys_id%2Cgroup%2Cuser&sysparm_limit=1000&sysparm_offset=0",
        );
        let members_2 = fake::table("sys_user_grmember?sysparm_offset=1000");
        let host = fake::instance(vec![
            (
                first,
                fake::page(
                    json!([{"sys_id": "g1", "name": "Service Desk", "description": ""},
                           {"sys_id": "g2", "name": "CAB Approval", "description": "Change board"}]),
                    None,
                ),
            ),
            (
                members,
                fake::page(
                    json!([{"group": {"link": "l", "value": "g1"}, "user": {"link": "l", "value": "u1"}},
                           {"group": {"link": "l", "value": "g2"}, "user": {"link": "l", "value": "u1"}}]),
                    Some(&members_2),
                ),
            ),
            (
                members_2,
                fake::page(
                    json!([{"group": {"link": "l", "value": "g1"}, "user": {"link": "l", "value": "u2"}}]),
                    None,
                ),
            ),
        ]);
        let ctx = fake::ctx(5, None);
        let (pages, host) = host.run(|| sluice_sdk::testing::all_pages(10, |c| list(&ctx, c)));
        assert_eq!(host.requests().len(), 3);
        let groups = &pages[0].items;
        assert_eq!(groups[0].members, ["u1", "u2"]);
        assert_eq!(groups[0].description, None);
        assert_eq!(groups[1].members, ["u1"]);
        assert_eq!(groups[1].description.as_deref(), Some("Change board"));
    }
}
