//! `list-groups`: `POST team/groups/list` then `team/groups/list/continue`, and each
//! group's members from `team/groups/members/list` (+ `/continue`), both `cursor` /
//! `has_more` paged. A group's members are its members' `team_member_id`s, as
//! `list-users` keys users; `group_management_type` and `member_count` stay in `raw`.

use serde_json::json;
use sluice_sdk::prelude::*;

use crate::api::{Api, MAX_TEAM_LIMIT};

/// Pages of one group's members read at most (1000 members a page).
const MAX_MEMBER_PAGES: usize = 100;

/// One page of groups, each with its members.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<GroupPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let limit = api.limit(MAX_TEAM_LIMIT);
    let (groups, next) = api.page(
        "team/groups/list",
        &json!({"limit": limit}),
        cursor,
        "groups",
        None,
    )?;
    let mut items = Vec::with_capacity(groups.len());
    for raw in &groups {
        let Some(mut group) = group(raw) else {
            log::warn(format_args!("skipped a group without `group_id`"));
            continue;
        };
        group.members = members(&api, &group.id)?;
        items.push(group);
    }
    Ok(GroupPage {
        items,
        next_cursor: next,
    })
}

/// A group without its members; none without a `group_id`.
pub fn group(raw: &Value) -> Option<Group> {
    let id = json::str_at(raw, "group_id")?;
    let name = json::str_at(raw, "group_name").unwrap_or_else(|| id.clone());
    Some(Group::new(id, name, json::raw(raw)))
}

/// The `team_member_id`s of group `id`'s members.
fn members(api: &Api, id: &str) -> Result<Vec<String>, ConnectorError> {
    let args = json!({"group": {".tag": "group_id", "group_id": id}, "limit": MAX_TEAM_LIMIT});
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_MEMBER_PAGES {
        let (members, next) = api.page(
            "team/groups/members/list",
            &args,
            cursor.as_deref(),
            "members",
            None,
        )?;
        ids.extend(
            members
                .iter()
                .filter_map(|m| json::str_at(m, "/profile/team_member_id")),
        );
        match next {
            Some(next) => cursor = Some(next),
            None => return Ok(ids),
        }
    }
    log::warn(format_args!(
        "group {id} has more than {} members; only those read are listed",
        MAX_MEMBER_PAGES * MAX_TEAM_LIMIT as usize
    ));
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::fake;

    #[test]
    fn groups_list_with_their_members_across_pages() {
        let composed = fake::fixture("team-groups-members-list.composed-from-stone");
        let host = fake::dropbox(move |r| match fake::route(r) {
            "team/groups/list" => fake::json(&json!({"groups": [
                {"group_name": "Test group", "group_id": "g:1",
                    "group_management_type": {".tag": "user_managed"}, "member_count": 2}
            ], "cursor": "gc", "has_more": false})),
            "team/groups/members/list" => {
                assert_eq!(fake::body(r)["group"]["group_id"], json!("g:1"));
                fake::json(&json!({"members": [
                    {"profile": {"team_member_id": "dbmid:a"}, "access_type": {".tag": "owner"}}
                ], "cursor": "m1", "has_more": true}))
            }
            "team/groups/members/list/continue" => match &composed {
                Some(published) => fake::json(published),
                None => fake::json(&json!({"members": [
                    {"profile": {"team_member_id": "dbmid:1234567"}}], "has_more": false})),
            },
            other => panic!("{other}"),
        });
        let (page, _) = host.run(|| list(&fake::ctx(10, None), None).unwrap());
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].name, "Test group");
        assert_eq!(page.items[0].members, ["dbmid:a", "dbmid:1234567"]);
        assert_eq!(page.next_cursor, None);
    }
}
