//! `list-groups`: the org's public groups (`Group` records of `Type = 'Regular'`) with
//! their members (`GroupMember`).
//!
//! One page is one batch of `SELECT … FROM Group WHERE Type = 'Regular' ORDER BY Id`,
//! completed with the `GroupMember` records whose `GroupId` falls in the batch's id
//! range; members of other groups in that range (roles, queues, which are groups too)
//! are dropped. A member is a user (`005…`) or a nested group (`00G…`), listed by id
//! as `UserOrGroupId` names it.

use std::collections::BTreeMap;

use sluice_sdk::prelude::*;

use crate::api::{Api, literal};

/// The fields read of each group.
pub const GROUP_FIELDS: &str =
    "Id, Name, DeveloperName, Type, Email, DoesIncludeBosses, CreatedDate";

/// Member batches read per group batch: bounds one call's requests.
const MAX_MEMBER_BATCHES: usize = 50;

/// One page of groups.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<GroupPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let position = ListCursor::<()>::resume(cursor)?;
    let url = position.url_or(|()| {
        api.query_url(&format!(
            "SELECT {GROUP_FIELDS} FROM Group WHERE Type = 'Regular' ORDER BY Id"
        ))
    });
    let batch = api.batch(&url)?;
    let ids: Vec<String> = batch
        .records
        .iter()
        .filter_map(|g| json::str_at(g, "Id"))
        .collect();
    let mut members = match (ids.iter().min(), ids.iter().max()) {
        (Some(first), Some(last)) => members(&api, first, last)?,
        _ => BTreeMap::new(),
    };
    let items = json::map_items(&batch.records, "Salesforce groups", |g| {
        let id = json::str_at(g, "Id")?;
        group(g, members.remove(&id).unwrap_or_default())
    });
    Ok(GroupPage {
        items,
        next_cursor: position.next_cursor(batch.next.map(At::url)),
    })
}

/// Member ids by group id, for the groups with ids in `first..=last`.
fn members(
    api: &Api,
    first: &str,
    last: &str,
) -> Result<BTreeMap<String, Vec<String>>, ConnectorError> {
    let soql = format!(
        "SELECT Id, GroupId, UserOrGroupId FROM GroupMember WHERE GroupId >= {} \
         AND GroupId <= {} ORDER BY GroupId, Id",
        literal(first),
        literal(last)
    );
    let (records, truncated) = api.all(api.query_url(&soql), MAX_MEMBER_BATCHES)?;
    if truncated {
        log::warn(format_args!(
            "groups {first}..{last} have more than {MAX_MEMBER_BATCHES} batches of members; read the first {}",
            records.len()
        ));
    }
    Ok(members_of(&records))
}

/// Member ids by group from `GroupMember` records.
pub fn members_of(records: &[Value]) -> BTreeMap<String, Vec<String>> {
    let mut by_group: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in records {
        if let (Some(group), Some(member)) =
            (json::str_at(m, "GroupId"), json::str_at(m, "UserOrGroupId"))
        {
            by_group.entry(group).or_default().push(member);
        }
    }
    by_group
}

/// The group record for a `Group` record and its member ids.
pub fn group(value: &Value, members: Vec<String>) -> Option<Group> {
    let id = json::str_at(value, "Id")?;
    Some(Group {
        name: json::str_at(value, "Name")
            .or_else(|| json::str_at(value, "DeveloperName"))
            .unwrap_or_else(|| id.clone()),
        description: json::str_at(value, "DeveloperName"),
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
    fn members_of_other_groups_in_the_range_are_dropped() {
        let groups = fake::query(&format!(
            "SELECT {GROUP_FIELDS} FROM Group WHERE Type = 'Regular' ORDER BY Id"
        ));
        let members = fake::query(
            "SELECT Id, GroupId, UserOrGroupId FROM GroupMember WHERE GroupId >= '00G1' \
             AND GroupId <= '00G3' ORDER BY GroupId, Id",
        );
        let host = fake::org(vec![
            (
                groups,
                fake::batch(
                    json!([{"Id": "00G1", "Name": "Sales", "DeveloperName": "Sales"},
                           {"Id": "00G3", "Name": "Ops"}]),
                    None,
                ),
            ),
            (
                members,
                fake::batch(
                    json!([{"GroupId": "00G1", "UserOrGroupId": "005A"},
                           {"GroupId": "00G2", "UserOrGroupId": "005B"},
                           {"GroupId": "00G3", "UserOrGroupId": "00G1"}]),
                    None,
                ),
            ),
        ]);
        let (page, host) = host.run(|| list(&fake::ctx(100, None), None));
        let page = page.unwrap();
        assert_eq!(host.requests().len(), 2);
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.items[0].members, ["005A"]);
        assert_eq!(page.items[1].members, ["00G1"], "a nested group");
        assert_eq!(page.next_cursor, None);
    }
}
