//! `list-groups`: the organisation's teams with their members.
//!
//! `GET /orgs/{org}/teams` pages with `Link`; the cursor is `{"url":"<teams page>"}`
//! (a [`ListCursor`]).
//! Team objects do not carry members, so each team on a page is completed with all
//! pages of `GET /orgs/{org}/teams/{slug}/members` (which include child teams'
//! members, as GitHub grants access through them). That is up to
//! [`MAX_MEMBER_PAGES`] extra requests per team, which is why teams are fetched in
//! pages of the host's page size rather than all at once.

use sluice_sdk::http::path_segment;
use sluice_sdk::prelude::*;

use crate::api::Api;

/// Member pages fetched per team (of 100 members each): bounds one call's requests
/// and time even for a team spanning a whole enterprise.
const MAX_MEMBER_PAGES: usize = 50;

/// One page of teams.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<GroupPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let position = ListCursor::<()>::resume(cursor)?;
    let (teams, next) = api.list_page(&position.url_or(|()| api.first_page_url("/teams", &[])))?;
    let mut items = Vec::with_capacity(teams.len());
    for team in &teams {
        // Check before spending requests on the members of a team we could not store.
        let (Some(_), Some(slug)) = (
            json::str_at(team, "id"),
            json::str_at(team, "slug").and_then(|slug| path_segment(&slug)),
        ) else {
            log::warn("skipped a team without an id or slug");
            continue;
        };
        let members = team_member_ids(&api, &slug)?;
        items.extend(group(team, members));
    }
    Ok(GroupPage {
        items,
        next_cursor: position.next_cursor(next.map(At::url)),
    })
}

/// Ids of all members of the team with (encoded) `slug`, up to [`MAX_MEMBER_PAGES`] pages.
fn team_member_ids(api: &Api, slug: &str) -> Result<Vec<String>, ConnectorError> {
    let path = format!("/teams/{slug}/members");
    // Members are small and many: always the largest page GitHub allows.
    let first = api.first_page_url_sized(&path, &[], 100);
    let (members, truncated) =
        pagination::collect_all(first, MAX_MEMBER_PAGES, |url| api.list_page(url))?;
    let ids: Vec<String> = members
        .iter()
        .filter_map(|m| json::str_at(m, "id"))
        .collect();
    if truncated {
        log::warn(format_args!(
            "team `{slug}` has more than {MAX_MEMBER_PAGES} pages of members; listed the first {}",
            ids.len()
        ));
    }
    Ok(ids)
}

/// The group record for a `team` object and its member ids.
fn group(team: &Value, members: Vec<String>) -> Option<Group> {
    let name = json::str_at(team, "name").or_else(|| json::str_at(team, "slug"))?;
    Some(Group {
        description: json::str_at(team, "description").filter(|d| !d.is_empty()),
        members,
        ..Group::new(json::str_at(team, "id")?, name, json::raw(team))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake;

    #[test]
    fn teams_come_with_all_their_members() {
        if !fake::fixtures_present() {
            return;
        }
        let teams = "https://gh.test/orgs/acme/teams?per_page=30";
        let teams_2 = "https://gh.test/orgs/acme/teams?per_page=30&page=2";
        let members = "https://gh.test/orgs/acme/teams/justice-league/members?per_page=100";
        let members_2 =
            "https://gh.test/orgs/acme/teams/justice-league/members?per_page=100&page=2";
        let host = fake::github(vec![
            (
                teams.into(),
                fake::json(&fake::fixture("org-teams.json"), Some(teams_2)),
            ),
            (
                members.into(),
                fake::json(&fake::fixture("org-members.json"), Some(members_2)),
            ),
            (
                members_2.into(),
                fake::json(&json!([{"id": 7, "login": "hubot"}]), None),
            ),
        ]);
        let (page, host) = host.run(|| list(&fake::ctx(30, None), None));
        let page = page.expect("page");
        assert_eq!(host.requests().len(), 3);
        let team = &page.items[0];
        assert_eq!(team.id, "1");
        assert_eq!(team.name, "Justice League");
        assert_eq!(team.description.as_deref(), Some("A great team."));
        assert_eq!(team.members, ["1", "7"]);
        assert_eq!(
            page.next_cursor.as_deref(),
            Some(r#"{"url":"https://gh.test/orgs/acme/teams?per_page=30&page=2"}"#)
        );
    }
}
