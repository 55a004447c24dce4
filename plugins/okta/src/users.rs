//! `list-users`: every user of the org with its normalised status and admin roles.
//!
//! `GET /api/v1/users` lists every user *except* `DEPROVISIONED` ones, so the scan
//! walks two lists in turn, both paged with `limit` (at most 200) and the `after`
//! cursor from `Link: rel="next"`:
//!
//! 1. `GET /api/v1/users?limit=N`;
//! 2. `GET /api/v1/users?filter=status eq "DEPROVISIONED"&limit=N`, so deprovisioned
//!    accounts are stored as `deleted` rather than silently vanishing.
//!
//! Admin roles: asking `GET /api/v1/users/{id}/roles` for every user would cost one
//! request per user, so the first call lists who holds any role with Okta's bulk
//! `GET /api/v1/iam/assignees/users` and asks `…/roles` only for those; the map of
//! admin id → role types rides along in the cursor, keeping the connector stateless.
//!
//! Status mapping (Okta's lifecycle states → WIT `user-status`):
//!
//! | Okta | Sluice | why |
//! |---|---|---|
//! | `ACTIVE`, `RECOVERY`, `PASSWORD_EXPIRED` | active | can sign in (recovery and expiry only force a password step) |
//! | `LOCKED_OUT`, `SUSPENDED` | suspended | blocked from signing in, account kept |
//! | `STAGED`, `PROVISIONED` | disabled | not activated yet: cannot sign in |
//! | `DEPROVISIONED` | deleted | deactivated; the next step is deletion |
//! | anything else | disabled | an unknown state is not claimed to sign in |

use std::collections::BTreeMap;

use sluice_sdk::prelude::*;

use crate::api::Api;

/// Okta's maximum `limit` for `GET /api/v1/users`.
const MAX_LIMIT: u32 = 200;

/// Okta's maximum `limit` for `GET /api/v1/iam/assignees/users`.
const ASSIGNEES_LIMIT: u32 = 100;

/// Pages of role assignees read on the first call: bounds one call's requests even
/// in an org that made thousands of admins.
const MAX_ASSIGNEE_PAGES: usize = 20;

sluice_sdk::phases! {
    /// Which of the two user lists a page comes from.
    enum Phase {
        /// The default listing (everyone but deprovisioned users).
        Listed,
        /// `status eq "DEPROVISIONED"`.
        Deprovisioned,
    }
}

impl Phase {
    /// The first page of this phase's list.
    fn first_url(self, api: &Api) -> String {
        let request = api.get(api.url("/api/v1/users"));
        match self {
            Self::Listed => request,
            Self::Deprovisioned => request.query("filter", "status eq \"DEPROVISIONED\""),
        }
        .query("limit", api.limit(MAX_LIMIT))
        .url()
        .to_owned()
    }
}

/// Admin role types by user id, carried in the cursor.
type Admins = BTreeMap<String, Vec<String>>;

/// One page of users.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<UserPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let mut position = ListCursor::<Phase, Admins>::resume(cursor)?;
    if cursor.is_none() {
        position.state = admin_roles(&api)?;
    }
    let (users, next) = api.list_page(&position.url_or(|phase| phase.first_url(&api)))?;
    let items = json::map_items(&users, "Okta users", |u| user(u, &position.state));
    Ok(UserPage {
        items,
        next_cursor: position.next_cursor(next.map(At::url)),
    })
}

/// Role types (custom roles by label) of every user holding an admin role.
pub fn admin_roles(api: &Api) -> Result<BTreeMap<String, Vec<String>>, ConnectorError> {
    let mut url = Some(
        api.get(api.url("/api/v1/iam/assignees/users"))
            .query("limit", ASSIGNEES_LIMIT)
            .url()
            .to_owned(),
    );
    let mut admins = BTreeMap::new();
    for _ in 0..MAX_ASSIGNEE_PAGES {
        let Some(page) = url.take() else {
            return Ok(admins);
        };
        let response = api.get(page).send()?.error_for_status()?;
        let body = response.json_value()?;
        for id in json::at(&body, "value")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|assignee| json::str_at(assignee, "id"))
        {
            let roles = user_roles(api, &id)?;
            admins.insert(id, roles);
        }
        // The bulk endpoint puts its next page in the body; accept the header too.
        url = pagination::next_url_in_body(&body, "/_links/next/href")
            .or_else(|| pagination::next_link(&response));
    }
    if url.is_some() {
        log::warn(format_args!(
            "more than {MAX_ASSIGNEE_PAGES} pages of admin role assignees; roles of the rest are not listed"
        ));
    }
    Ok(admins)
}

/// `GET /api/v1/users/{id}/roles`: the role types assigned to one user.
pub fn user_roles(api: &Api, id: &str) -> Result<Vec<String>, ConnectorError> {
    let roles: Vec<Value> = api
        .get(api.user_url(id, "/roles")?)
        .send()?
        .error_for_status()?
        .json()?;
    let mut names: Vec<String> = roles
        .iter()
        .filter_map(|role| match json::str_at(role, "type").as_deref() {
            Some("CUSTOM") | None => json::str_at(role, "label"),
            Some(kind) => Some(kind.to_owned()),
        })
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// The normalised status of an Okta lifecycle state (see the module docs).
pub fn status_of(status: &str) -> UserStatus {
    match status {
        "ACTIVE" | "RECOVERY" | "PASSWORD_EXPIRED" => UserStatus::Active,
        "LOCKED_OUT" | "SUSPENDED" => UserStatus::Suspended,
        "DEPROVISIONED" => UserStatus::Deleted,
        _ => UserStatus::Disabled,
    }
}

/// The user record for an Okta user object; none without an id.
fn user(value: &Value, admins: &BTreeMap<String, Vec<String>>) -> Option<User> {
    let id = json::str_at(value, "id")?;
    let roles = admins.get(&id).cloned().unwrap_or_default();
    let first = json::str_at(value, "/profile/firstName");
    let last = json::str_at(value, "/profile/lastName");
    let display_name = json::str_at(value, "/profile/displayName").or_else(|| {
        let parts: Vec<String> = first.into_iter().chain(last).collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    });
    Some(User {
        login: json::str_at(value, "/profile/login"),
        email: json::str_at(value, "/profile/email"),
        display_name,
        status: status_of(&json::str_at(value, "status").unwrap_or_default()),
        is_admin: !roles.is_empty(),
        roles,
        last_sign_in: json::timestamp_at(value, "lastLogin"),
        created: json::timestamp_at(value, "created"),
        ..User::new(id, json::raw(value))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::api::fake;

    #[test]
    fn every_published_user_list_maps_to_records() {
        let fixtures = fake::fixtures("list-users__");
        for (name, body) in &fixtures {
            let list = body.as_array().expect("user lists are arrays");
            let users: Vec<_> = list
                .iter()
                .filter_map(|u| user(u, &BTreeMap::new()))
                .collect();
            assert_eq!(users.len(), list.len(), "{name}");
            for (record, raw) in users.iter().zip(list) {
                assert_eq!(
                    Some(&record.id),
                    raw["id"].as_str().map(str::to_owned).as_ref()
                );
                assert_eq!(serde_json::from_str::<Value>(&record.raw).unwrap(), *raw);
            }
        }
        if let Some((_, body)) = fixtures
            .iter()
            .find(|(name, _)| name == "list-users__ListUsersResponse.json")
        {
            let alice = user(&body[0], &BTreeMap::new()).unwrap();
            assert_eq!(alice.login.as_deref(), Some("alice.smith@example.com"));
            assert_eq!(alice.display_name.as_deref(), Some("Alice Smith"));
            assert_eq!(alice.status, UserStatus::Active);
            assert_eq!(alice.last_sign_in, Some(1_651_693_852_000));
            assert!(!alice.is_admin);
        }
    }

    #[test]
    fn statuses_map_as_documented() {
        for (okta, sluice) in [
            ("ACTIVE", UserStatus::Active),
            ("RECOVERY", UserStatus::Active),
            ("PASSWORD_EXPIRED", UserStatus::Active),
            ("LOCKED_OUT", UserStatus::Suspended),
            ("SUSPENDED", UserStatus::Suspended),
            ("STAGED", UserStatus::Disabled),
            ("PROVISIONED", UserStatus::Disabled),
            ("DEPROVISIONED", UserStatus::Deleted),
            ("SOMETHING_NEW", UserStatus::Disabled),
        ] {
            assert_eq!(status_of(okta), sluice, "{okta}");
        }
    }

    #[test]
    fn walks_listed_then_deprovisioned_with_admin_roles() {
        let assignees = "https://okta.test/api/v1/iam/assignees/users?limit=100";
        let assignees_2 = "https://okta.test/api/v1/iam/assignees/users?limit=100&after=00ua";
        let listed = "https://okta.test/api/v1/users?limit=2";
        let listed_2 = "https://okta.test/api/v1/users?limit=2&after=00ub";
        let gone =
            "https://okta.test/api/v1/users?filter=status%20eq%20%22DEPROVISIONED%22&limit=2";
        let u = |id: &str, status: &str| json!({"id": id, "status": status, "profile": {"login": format!("{id}@x.test")}});
        let host = fake::okta(vec![
            (
                assignees.into(),
                fake::json(
                    &json!({"value": [{"id": "00ua"}], "_links": {"next": {"href": assignees_2}}}),
                    None,
                ),
            ),
            (
                assignees_2.into(),
                fake::json(&json!({"value": [], "_links": {}}), None),
            ),
            (
                "https://okta.test/api/v1/users/00ua/roles".into(),
                fake::json(
                    &json!([{"type": "SUPER_ADMIN"}, {"type": "CUSTOM", "label": "Auditor"}]),
                    None,
                ),
            ),
            (
                listed.into(),
                fake::json(
                    &json!([u("00ua", "ACTIVE"), u("00ub", "SUSPENDED")]),
                    Some(listed_2),
                ),
            ),
            (
                listed_2.into(),
                fake::json(&json!([u("00uc", "STAGED")]), None),
            ),
            (
                gone.into(),
                fake::json(&json!([u("00ud", "DEPROVISIONED")]), None),
            ),
        ]);
        let ctx = fake::ctx(2, None);
        let (pages, host) = host.run(|| sluice_sdk::testing::all_pages(10, |c| list(&ctx, c)));
        let urls: Vec<_> = host.requests().iter().map(|r| r.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                assignees,
                "https://okta.test/api/v1/users/00ua/roles",
                assignees_2,
                listed,
                listed_2,
                gone
            ]
        );
        let users: Vec<&User> = pages.iter().flat_map(|p| &p.items).collect();
        let statuses: Vec<_> = users.iter().map(|u| u.status).collect();
        assert_eq!(
            statuses,
            [
                UserStatus::Active,
                UserStatus::Suspended,
                UserStatus::Disabled,
                UserStatus::Deleted
            ]
        );
        assert!(users[0].is_admin);
        assert_eq!(users[0].roles, ["Auditor", "SUPER_ADMIN"]);
        assert!(users[1..].iter().all(|u| !u.is_admin && u.roles.is_empty()));
        assert_eq!(pages.len(), 3);
    }

    #[test]
    fn a_bad_token_is_unauthorized() {
        let host = fake::okta(vec![])
            .on_request(|_| Ok(fake::error(401, "E0000011", "Invalid token provided")));
        let (result, _) = host.run(|| list(&fake::ctx(100, None), None));
        assert_eq!(
            result,
            Err(ConnectorError::Unauthorized(
                "HTTP 401: Invalid token provided".into()
            ))
        );
    }
}
