//! `list-groups`: the org's groups with their members.
//!
//! `GET /api/v1/groups?limit=N` pages with `after` in `Link: rel="next"`; the cursor is
//! `{"url":"<groups page>"}`. Group objects do not carry members, so each group on a
//! page is completed with every page of `GET /api/v1/groups/{id}/users?limit=1000`
//! (Okta's maximum), up to [`MAX_MEMBER_PAGES`] pages per group. That is why groups
//! are fetched in pages of the host's page size rather than Okta's large maximum.

use sluice_sdk::http::path_segment;
use sluice_sdk::prelude::*;

use crate::api::Api;

/// The largest groups page the host may ask for (Okta allows far more, but every
/// group on a page costs member requests within the same call).
const MAX_LIMIT: u32 = 200;

/// Okta's maximum `limit` for `GET /api/v1/groups/{id}/users`.
const MEMBERS_LIMIT: u32 = 1000;

/// Member pages read per group: bounds one call's requests even for "Everyone".
const MAX_MEMBER_PAGES: usize = 50;

/// One page of groups.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<GroupPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let position = ListCursor::<()>::resume(cursor)?;
    let (groups, next) = api.list_page(&position.url_or(|()| {
        let request = api.get(api.url("/api/v1/groups"));
        request
            .query("limit", api.limit(MAX_LIMIT))
            .url()
            .to_owned()
    }))?;
    let mut items = Vec::with_capacity(groups.len());
    for value in &groups {
        // Check before spending requests on the members of a group we could not store.
        let Some(segment) = json::str_at(value, "id").and_then(|id| path_segment(&id)) else {
            log::warn("skipped an Okta group without an id");
            continue;
        };
        let first = api
            .get(api.url(&format!("/api/v1/groups/{segment}/users")))
            .query("limit", MEMBERS_LIMIT)
            .url()
            .to_owned();
        let (members, truncated) = api.list_all(first, MAX_MEMBER_PAGES)?;
        if truncated {
            log::warn(format_args!(
                "group {segment} has more than {MAX_MEMBER_PAGES} pages of members; listed the first {}",
                members.len()
            ));
        }
        let member_ids = members
            .iter()
            .filter_map(|m| json::str_at(m, "id"))
            .collect();
        items.extend(group(value, member_ids));
    }
    Ok(GroupPage {
        items,
        next_cursor: position.next_cursor(next.map(At::url)),
    })
}

/// The group record for an Okta group object and its member ids.
fn group(value: &Value, members: Vec<String>) -> Option<Group> {
    let id = json::str_at(value, "id")?;
    Some(Group {
        name: json::str_at(value, "/profile/name").unwrap_or_else(|| id.clone()),
        description: json::str_at(value, "/profile/description").filter(|d| !d.is_empty()),
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
    fn every_published_group_list_maps_to_records() {
        for (name, body) in fake::fixtures("list-groups__") {
            let list = body.as_array().expect("group lists are arrays");
            let groups: Vec<_> = list.iter().filter_map(|g| group(g, Vec::new())).collect();
            assert_eq!(groups.len(), list.len(), "{name}");
            assert!(
                groups
                    .iter()
                    .all(|g| !g.name.is_empty() && g.description.is_some())
            );
            if name == "list-groups__list-groups-examples.json" {
                assert_eq!(groups[0].id, "00g1emaKYZTWRYYRRTSK");
                assert_eq!(groups[0].name, "West Coast users");
            }
        }
    }

    #[test]
    fn groups_come_with_all_their_members() {
        let groups = "https://okta.test/api/v1/groups?limit=2";
        let groups_2 = "https://okta.test/api/v1/groups?limit=2&after=00g1";
        let members = "https://okta.test/api/v1/groups/00g1/users?limit=1000";
        let members_2 = "https://okta.test/api/v1/groups/00g1/users?limit=1000&after=00u2";
        let host = fake::okta(vec![
            (
                groups.into(),
                fake::json(
                    &json!([{"id": "00g1", "profile": {"name": "Eng", "description": ""}}]),
                    Some(groups_2),
                ),
            ),
            (
                members.into(),
                fake::json(&json!([{"id": "00u1"}, {"id": "00u2"}]), Some(members_2)),
            ),
            (members_2.into(), fake::json(&json!([{"id": "00u3"}]), None)),
        ]);
        let (page, host) = host.run(|| list(&fake::ctx(2, None), None));
        let page = page.unwrap();
        assert_eq!(host.requests().len(), 3);
        assert_eq!(page.items[0].members, ["00u1", "00u2", "00u3"]);
        assert_eq!(page.items[0].description, None);
        assert_eq!(page.next_cursor, Some(format!(r#"{{"url":"{groups_2}"}}"#)));
    }
}
