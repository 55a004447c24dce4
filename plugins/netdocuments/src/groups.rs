//! `list-groups`: the repository's groups with their members.
//!
//! `GET /v1/Repository/{id}/groups?returnInfo=all&$top=N&paging=true[&$skiptoken=T]`
//! lists groups with names (without `returnInfo=all` NetDocuments answers bare ids);
//! each group on a page is completed with `GET /v1/Group/{id}/members`, an unpaged
//! array of `{id, displayName}`. The cursor is the SDK's `ListCursor` at the next
//! page's token, `{"token":"<token>"}`.

use sluice_sdk::http::path_segment;
use sluice_sdk::prelude::*;

use crate::api::{self, Api};

/// One page of groups.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<GroupPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let position = ListCursor::<()>::resume(cursor)?;
    let url = api.paged_url(
        &api.repository_path("groups"),
        &[("returnInfo", "all")],
        position.token(),
    );
    let (groups, next) = api.page(&url)?;
    let mut items = Vec::with_capacity(groups.len());
    for group in &groups {
        // Check before spending a request on a group we could not store.
        let Some(segment) = json::str_at(group, "id").and_then(|id| path_segment(&id)) else {
            log::warn("skipped a repository group without an id");
            continue;
        };
        let members = api.get_json(&api.url(&format!("/v1/Group/{segment}/members")))?;
        items.extend(record(group, api::ids_in(&members)));
    }
    Ok(GroupPage {
        items,
        next_cursor: position.next_cursor(next.map(At::token)),
    })
}

/// The group record for a repository group and its member ids.
fn record(group: &Value, members: Vec<String>) -> Option<Group> {
    let id = json::str_at(group, "id")?;
    let mut traits = Vec::new();
    for (field, label) in [
        ("external", "external"),
        ("hidden", "hidden in lists"),
        ("hideMembership", "membership hidden"),
    ] {
        if json::bool_at(group, field) == Some(true) {
            traits.push(label);
        }
    }
    Some(Group {
        name: json::str_at(group, "name").unwrap_or_else(|| id.clone()),
        description: (!traits.is_empty()).then(|| traits.join(", ")),
        members,
        raw: json::raw(group),
        id,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake;

    #[test]
    fn groups_come_with_their_members() {
        let first =
            "https://nd.test/v1/Repository/CA-TEST/groups?returnInfo=all&%24top=50&paging=true";
        let host = fake::netdocuments(vec![
            (
                first.into(),
                fake::json(&json!({"results": [
                    {"id": "UG-1", "name": "Litigation", "external": false, "hideMembership": true},
                    {"id": "UG-2", "name": "Client A", "external": true},
                ], "next": "G2"})),
            ),
            (
                "https://nd.test/v1/Group/UG-1/members".into(),
                fake::json(&json!([{"id": "U-1", "displayName": "Ada"}, {"id": "U-2"}])),
            ),
            (
                "https://nd.test/v1/Group/UG-2/members".into(),
                fake::json(&json!([])),
            ),
        ]);
        let (page, host) = host.run(|| list(&fake::ctx(50, None), None));
        let page = page.unwrap();
        assert_eq!(host.requests().len(), 3);
        assert_eq!(page.items[0].members, ["U-1", "U-2"]);
        assert_eq!(
            page.items[0].description.as_deref(),
            Some("membership hidden")
        );
        assert_eq!(page.items[1].name, "Client A");
        assert_eq!(page.next_cursor.as_deref(), Some(r#"{"token":"G2"}"#));
    }
}
