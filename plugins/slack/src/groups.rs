//! `list-groups`: the user groups (`@handle` groups) with their members; beyond the
//! capability table's Slack row, which lists no groups.
//!
//! `GET usergroups.list?include_users=true[&team_id=T]` answers every group in one
//! body (Slack does not page it), each with its member ids in `users`. A group that
//! comes without `users` (as in Slack's published example, taken without
//! `include_users`) is completed with `GET usergroups.users.list?usergroup=S…`.
//! Disabled groups are left out (Slack's default), so a group that is disabled is
//! marked deleted by the next complete scan.

use sluice_sdk::prelude::*;

use crate::api::Api;

/// The one page of user groups.
pub fn list(ctx: &Context, _cursor: Option<&str>) -> Result<GroupPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let body = api.call(
        api.team_method("usergroups.list")
            .query("include_users", "true"),
    )?;
    let groups = body
        .get("usergroups")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut items = Vec::with_capacity(groups.len());
    for value in groups {
        let Some(id) = json::str_at(value, "id") else {
            log::warn("skipped a Slack user group without an id");
            continue;
        };
        let members = match value.get("users").and_then(Value::as_array) {
            Some(users) => users
                .iter()
                .filter_map(|u| u.as_str().map(str::to_owned))
                .collect(),
            None => members_of(&api, &id)?,
        };
        items.extend(group(value, members));
    }
    Ok(GroupPage {
        items,
        next_cursor: None,
    })
}

/// `usergroups.users.list`: the member ids of group `id`.
fn members_of(api: &Api, id: &str) -> Result<Vec<String>, ConnectorError> {
    let body = api.call(
        api.team_method("usergroups.users.list")
            .query("usergroup", id),
    )?;
    Ok(json::strings_at(&body, "users"))
}

/// The group record for a Slack user group and its member ids.
pub fn group(value: &Value, members: Vec<String>) -> Option<Group> {
    let id = json::str_at(value, "id")?;
    Some(Group {
        name: json::str_at(value, "name")
            .or_else(|| json::str_at(value, "handle"))
            .unwrap_or_else(|| id.clone()),
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
    fn the_published_user_groups_map_to_records_with_their_members() {
        let (Some(groups), Some(members)) = (
            fake::fixture("usergroups.list.openapi-example.json"),
            fake::fixture("usergroups.users.list.openapi-example.json"),
        ) else {
            return;
        };
        // The published list carries no `users`, so each group's members are asked for.
        let list_url = format!("{}/usergroups.list?include_users=true", fake::WEB);
        let mut routes = vec![(list_url, fake::json(&groups))];
        for id in ["S0614TZR7", "S06158AV7", "S0615G0KT"] {
            routes.push((
                format!("{}/usergroups.users.list?usergroup={id}", fake::WEB),
                fake::json(&members),
            ));
        }
        let (page, host) = fake::slack(routes).run(|| list(&fake::ctx(100, None), None));
        let page = page.unwrap();
        assert_eq!(host.requests().len(), 4);
        assert_eq!(page.next_cursor, None);
        let names: Vec<_> = page.items.iter().map(|g| g.name.as_str()).collect();
        assert_eq!(names, ["Team Admins", "Team Owners", "Marketing Team"]);
        assert_eq!(page.items[0].id, "S0614TZR7");
        assert_eq!(
            page.items[0].description.as_deref(),
            Some("A group of all Administrators on your team.")
        );
        assert_eq!(page.items[0].members, ["U060R4BJ4", "W123A4BC5"]);
    }

    #[test]
    fn members_included_in_the_list_need_no_more_requests() {
        let list_url = format!("{}/usergroups.list?include_users=true", fake::WEB);
        let body = json!({"ok": true, "usergroups": [
            {"id": "S1", "name": "Eng", "handle": "eng", "description": "", "users": ["U1", "U2"]},
            {"name": "no id"}
        ]});
        let (page, host) = fake::slack(vec![(list_url, fake::json(&body))])
            .run(|| list(&fake::ctx(100, None), None));
        let page = page.unwrap();
        assert_eq!(host.requests().len(), 1);
        assert_eq!(page.items.len(), 1);
        assert_eq!(page.items[0].members, ["U1", "U2"]);
        assert_eq!(page.items[0].description, None);
    }

    #[test]
    fn a_missing_scope_is_forbidden_with_what_slack_needs() {
        let host = fake::slack(vec![]).on_request(|_| {
            Ok(fake::json(&json!({"ok": false, "error": "missing_scope",
                "needed": "usergroups:read", "provided": "users:read"})))
        });
        let (result, _) = host.run(|| list(&fake::ctx(100, None), None));
        assert!(
            matches!(&result, Err(ConnectorError::Forbidden(m)) if m.contains("usergroups:read")),
            "{result:?}"
        );
    }
}
