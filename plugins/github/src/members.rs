//! `list-users`: the organisation's owners, members and outside collaborators.
//!
//! GitHub has no single "everyone with access" list, and member objects do not say
//! which role they hold, so the scan walks three lists in turn, each telling us the
//! role of everyone on it:
//!
//! 1. `GET /orgs/{org}/members?role=admin` (owners),
//! 2. `GET /orgs/{org}/members?role=member`,
//! 3. `GET /orgs/{org}/outside_collaborators`.
//!
//! Each list pages with `Link: rel="next"`. The cursor is the SDK's [`ListCursor`]
//! over these three phases: `{"phase":"members","url":"<page to fetch>"}`; it is none
//! only after the last page of the last phase.

use sluice_sdk::prelude::*;

use crate::api::Api;

sluice_sdk::phases! {
    /// Which of the three lists a page comes from.
    enum Phase {
        /// Organisation owners.
        Admins,
        /// Members without the owner role.
        Members,
        /// People with repository access who are not members.
        OutsideCollaborators,
    }
}

impl Phase {
    /// The first page of this phase's list.
    fn first_url(self, api: &Api) -> String {
        match self {
            Self::Admins => api.first_page_url("/members", &[("role", "admin")]),
            Self::Members => api.first_page_url("/members", &[("role", "member")]),
            Self::OutsideCollaborators => api.first_page_url("/outside_collaborators", &[]),
        }
    }

    /// The user record for a `simple-user` from this phase's list.
    fn user(self, member: &Value) -> Option<User> {
        let role = match self {
            Self::Admins => "admin",
            Self::Members => "member",
            Self::OutsideCollaborators => "outside_collaborator",
        };
        Some(User {
            login: json::str_at(member, "login"),
            email: json::str_at(member, "email"),
            display_name: json::str_at(member, "name"),
            is_admin: self == Self::Admins,
            is_external: self == Self::OutsideCollaborators,
            roles: vec![role.to_owned()],
            ..User::new(json::str_at(member, "id")?, json::raw(member))
        })
    }
}

/// One page of users.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<UserPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let position = ListCursor::<Phase>::resume(cursor)?;
    let (members, next) = api.list_page(&position.url_or(|phase| phase.first_url(&api)))?;
    let items = json::map_items(&members, "organization members", |m| position.phase.user(m));
    Ok(UserPage {
        items,
        next_cursor: position.next_cursor(next.map(At::url)),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake;

    #[test]
    fn maps_the_published_member_example() {
        if !fake::fixtures_present() {
            return;
        }
        let members = fake::fixture("org-members.json");
        let user = Phase::Admins.user(&members[0]).expect("member has an id");
        assert_eq!(user.id, "1");
        assert_eq!(user.login.as_deref(), Some("octocat"));
        assert!(user.is_admin && !user.is_external);
        assert_eq!(user.roles, ["admin"]);
        assert_eq!(user.status, UserStatus::Active);
        assert_eq!(
            serde_json::from_str::<Value>(&user.raw).unwrap(),
            members[0]
        );

        let outside = fake::fixture("org-outside-collaborators.json");
        let user = Phase::OutsideCollaborators.user(&outside[0]).unwrap();
        assert!(user.is_external && !user.is_admin);
        assert_eq!(user.roles, ["outside_collaborator"]);
    }

    #[test]
    fn walks_owners_then_members_then_outside_collaborators() {
        if !fake::fixtures_present() {
            return;
        }
        let owners = "https://gh.test/orgs/acme/members?role=admin&per_page=2";
        let owners_2 = "https://gh.test/orgs/acme/members?role=admin&per_page=2&page=2";
        let members = "https://gh.test/orgs/acme/members?role=member&per_page=2";
        let outside = "https://gh.test/orgs/acme/outside_collaborators?per_page=2";
        let host = fake::github(vec![
            (
                owners.into(),
                fake::json(
                    &json!([{"id": 1, "login": "a"}, {"id": 2, "login": "b"}]),
                    Some(owners_2),
                ),
            ),
            (
                owners_2.into(),
                fake::json(&json!([{"id": 3, "login": "c"}]), None),
            ),
            (
                members.into(),
                fake::json(&json!([{"id": 4, "login": "d"}]), None),
            ),
            (
                outside.into(),
                fake::fixture_response("org-outside-collaborators.json"),
            ),
        ]);
        let ctx = fake::ctx(2, None);
        let (pages, host) = host.run(|| {
            let mut pages = Vec::new();
            let mut cursor = None;
            loop {
                let page = list(&ctx, cursor.as_deref()).expect("page");
                cursor = page.next_cursor.clone();
                pages.push(page);
                if cursor.is_none() {
                    break pages;
                }
            }
        });
        let urls: Vec<_> = host.requests().iter().map(|r| r.url.as_str()).collect();
        assert_eq!(urls, [owners, owners_2, members, outside]);
        let ids: Vec<Vec<&str>> = pages
            .iter()
            .map(|p| p.items.iter().map(|u| u.id.as_str()).collect())
            .collect();
        assert_eq!(ids, [vec!["1", "2"], vec!["3"], vec!["4"], vec!["1"]]);
        assert!(pages[1].items[0].is_admin);
        assert!(!pages[2].items[0].is_admin && !pages[2].items[0].is_external);
        assert!(pages[3].items[0].is_external);
        assert_eq!(
            pages[1].next_cursor.as_deref(),
            Some(r#"{"phase":"members"}"#)
        );
    }

    #[test]
    fn an_unknown_org_is_not_found() {
        let host = fake::github(vec![]);
        let (result, _) = host.run(|| list(&fake::ctx(100, None), None));
        assert!(matches!(result, Err(ConnectorError::NotFound(_))));
    }
}
