//! `list-app-permissions`: what third-party credentials and apps can reach the org.
//!
//! Two lists, walked in turn:
//!
//! 1. SAML SSO credential authorizations (`GET /orgs/{org}/credential-authorizations`):
//!    personal access tokens, OAuth app tokens and SSH keys that members authorised for
//!    the org. GitHub documents no `Link` header here, so it is paged by number and ends
//!    at the first short page. Orgs without SAML SSO answer 404; that phase is then
//!    skipped silently, as there is nothing to list.
//! 2. GitHub App installations (`GET /orgs/{org}/installations`), paged with `Link`.
//!
//! The cursor is a [`ListCursor`] over the two phases: `{"offset":<page>}` and
//! `{"phase":"installations","url":"<page>"}`. Record ids are `credential:{id}` and
//! `installation:{id}`; `act` revokes the former.

use serde::Deserialize;
use sluice_sdk::prelude::*;

use crate::api::Api;

sluice_sdk::phases! {
    /// The two lists, walked in turn.
    enum Lists {
        /// Credential authorizations, by page number (from 1).
        CredentialAuthorizations,
        /// App installations, by `Link` URL.
        Installations,
    }
}

/// The body of `GET /orgs/{org}/installations`.
#[derive(Debug, Deserialize)]
struct Installations {
    /// Installations on this page.
    #[serde(default)]
    installations: Vec<Value>,
}

/// One page of app permissions.
pub fn list(ctx: &Context, cursor: Option<&str>) -> Result<AppPermissionPage, ConnectorError> {
    let api = Api::new(ctx)?;
    let mut position = ListCursor::<Lists>::resume(cursor)?;
    if position.phase == Lists::CredentialAuthorizations {
        let page = position.offset_or(1);
        let response = api
            .get(api.org_url("/credential-authorizations"))
            .query("per_page", api.per_page())
            .query("page", page)
            .send()?;
        if response.status() == 404 && page == 1 {
            log::debug("no credential authorizations (SAML SSO is off); listing installations");
            position.skip_phase();
        } else {
            let credentials: Vec<Value> = response.error_for_status()?.json()?;
            let last = credentials.len() < api.per_page() as usize;
            return Ok(AppPermissionPage {
                items: json::map_items(&credentials, "credential authorizations", credential),
                next_cursor: position.next_cursor((!last).then(|| At::offset(page + 1))),
            });
        }
    }
    let response = api
        .get(position.url_or(|_| installations_url(&api)))
        .send()?
        .error_for_status()?;
    let body: Installations = response.json()?;
    Ok(AppPermissionPage {
        items: json::map_items(&body.installations, "app installations", installation),
        next_cursor: position.next_cursor(pagination::next_link(&response).map(At::url)),
    })
}

/// The first installations page.
fn installations_url(api: &Api) -> String {
    api.first_page_url("/installations", &[])
}

/// The record for a SAML credential authorization.
fn credential(authorization: &Value) -> Option<AppPermission> {
    let id = json::str_at(authorization, "credential_id")?;
    let kind = json::str_at(authorization, "credential_type");
    Some(AppPermission {
        app_name: kind.clone(),
        grantee: json::str_at(authorization, "login"),
        scopes: json::strings_at(authorization, "scopes"),
        granted_at: json::timestamp_at(authorization, "credential_authorized_at"),
        ..AppPermission::new(
            format!("credential:{id}"),
            kind.unwrap_or_else(|| "credential".to_owned()),
            json::raw(authorization),
        )
    })
}

/// The record for a GitHub App installation; its scopes are `permission:level`, sorted.
fn installation(installation: &Value) -> Option<AppPermission> {
    let id = json::str_at(installation, "id")?;
    let slug = json::str_at(installation, "app_slug");
    let mut scopes: Vec<String> = installation
        .get("permissions")
        .and_then(Value::as_object)
        .map(|permissions| {
            permissions
                .iter()
                .map(|(name, level)| format!("{name}:{}", level.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    scopes.sort();
    let app_id = slug
        .clone()
        .or_else(|| json::str_at(installation, "app_id"))?;
    Some(AppPermission {
        app_name: slug,
        scopes,
        granted_at: json::timestamp_at(installation, "created_at"),
        ..AppPermission::new(
            format!("installation:{id}"),
            app_id,
            json::raw(installation),
        )
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sluice_sdk::http::Response;

    use super::*;
    use crate::api::fake;

    #[test]
    fn maps_the_published_examples() {
        if !fake::fixtures_present() {
            return;
        }
        let credentials = fake::fixture("org-credential-authorizations.json");
        let records: Vec<_> = credentials
            .as_array()
            .unwrap()
            .iter()
            .filter_map(credential)
            .collect();
        assert_eq!(records.len(), 5);
        assert_eq!(records[0].id, "credential:161195");
        assert_eq!(records[0].app_id, "personal access token");
        assert_eq!(records[0].grantee.as_deref(), Some("octocat"));
        assert_eq!(records[0].scopes, ["user", "repo"]);
        assert_eq!(records[0].granted_at, Some(1_296_068_803_000));
        // SSH keys have no scopes.
        assert_eq!(records[4].app_name.as_deref(), Some("SSH key"));
        assert!(records[4].scopes.is_empty());

        let body = fake::fixture("org-installations.json");
        let record = installation(&body["installations"][0]).unwrap();
        assert_eq!(record.id, "installation:25381");
        assert_eq!(record.app_id, "github-actions");
        assert_eq!(record.grantee, None);
        assert_eq!(
            record.scopes,
            [
                "deployments:write",
                "metadata:read",
                "pull_requests:read",
                "statuses:read"
            ]
        );
        assert_eq!(record.granted_at, Some(1_494_949_629_000));
    }

    #[test]
    fn credentials_page_by_number_then_installations_by_link() {
        if !fake::fixtures_present() {
            return;
        }
        let credentials_1 = "https://gh.test/orgs/acme/credential-authorizations?per_page=2&page=1";
        let credentials_2 = "https://gh.test/orgs/acme/credential-authorizations?per_page=2&page=2";
        let installations = "https://gh.test/orgs/acme/installations?per_page=2";
        let installations_2 = "https://gh.test/orgs/acme/installations?per_page=2&page=2";
        let all = fake::fixture("org-credential-authorizations.json");
        let host = fake::github(vec![
            (
                credentials_1.into(),
                fake::json(&json!([all[0], all[1]]), None),
            ),
            (credentials_2.into(), fake::json(&json!([all[2]]), None)),
            (
                installations.into(),
                fake::json(
                    &fake::fixture("org-installations.json"),
                    Some(installations_2),
                ),
            ),
            (
                installations_2.into(),
                fake::json(&json!({"total_count": 1, "installations": []}), None),
            ),
        ]);
        let ctx = fake::ctx(2, None);
        let (pages, host) = host.run(|| sluice_sdk::testing::all_pages(10, |c| list(&ctx, c)));
        let urls: Vec<_> = host.requests().iter().map(|r| r.url.as_str()).collect();
        assert_eq!(
            urls,
            [credentials_1, credentials_2, installations, installations_2]
        );
        assert_eq!(pages[0].next_cursor.as_deref(), Some(r#"{"offset":2}"#));
        assert_eq!(
            pages[1].next_cursor.as_deref(),
            Some(r#"{"phase":"installations"}"#)
        );
        let counts: Vec<_> = pages.iter().map(|p| p.items.len()).collect();
        assert_eq!(counts, [2, 1, 1, 0]);
    }

    #[test]
    fn orgs_without_saml_sso_skip_to_installations() {
        if !fake::fixtures_present() {
            return;
        }
        let installations = "https://gh.test/orgs/acme/installations?per_page=100";
        let host = fake::github(vec![(
            installations.into(),
            fake::fixture_response("org-installations.json"),
        )]);
        let (page, host) = host.run(|| list(&fake::ctx(100, None), None));
        let page = page.unwrap();
        assert_eq!(host.requests().len(), 2);
        assert_eq!(page.items[0].id, "installation:25381");
        assert_eq!(page.next_cursor, None);
    }

    #[test]
    fn a_token_without_access_is_forbidden() {
        let host = fake::github(vec![]).on_request(|_| {
            Ok(Response::new(
                403,
                vec![],
                r#"{"message":"Must have admin rights"}"#,
            ))
        });
        let (result, _) = host.run(|| list(&fake::ctx(100, None), None));
        assert_eq!(
            result,
            Err(ConnectorError::Forbidden(
                "HTTP 403: Must have admin rights".into()
            ))
        );
    }
}
