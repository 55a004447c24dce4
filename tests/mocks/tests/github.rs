//! The GitHub mock's wire behaviour, as a connector sees it over HTTP: auth, `Link`
//! paging, audit-log cursors and search, rate-limit headers, faults, writes, fixtures.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use serde_json::Value;
use sluice_mocks::{Faults, GITHUB_MOCK_EPOCH_MS, GithubMock, GithubMockConfig};

const TOKEN: &str = "ghp_mock_token";

async fn start(config: GithubMockConfig) -> GithubMock {
    GithubMock::start(config).await.expect("mock starts")
}

async fn get(url: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("request reaches the mock")
}

async fn json(response: reqwest::Response) -> Value {
    let text = response.text().await.expect("body");
    serde_json::from_str(&text).expect("JSON body")
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|v| v.to_str().unwrap())
}

/// The URL of relation `rel` in a `Link` header.
fn link(response: &reqwest::Response, rel: &str) -> Option<String> {
    header(response, "link")?.split(", ").find_map(|part| {
        let (url, relation) = part.split_once("; ")?;
        (relation == format!("rel=\"{rel}\""))
            .then(|| url.trim_start_matches('<').trim_end_matches('>').to_owned())
    })
}

fn logins(body: &Value) -> Vec<String> {
    body.as_array()
        .unwrap()
        .iter()
        .map(|user| user["login"].as_str().unwrap().to_owned())
        .collect()
}

/// The default config with the audit log pinned at 2024-01-01T00:00:00Z, for tests that
/// assert exact event times.
fn pinned_audit() -> GithubMockConfig {
    GithubMockConfig {
        audit_start: Some(GITHUB_MOCK_EPOCH_MS),
        ..GithubMockConfig::default()
    }
}

/// Every event `url` leads to, following `next` links.
async fn all_events(url: String) -> Vec<Value> {
    let mut url = url;
    let mut events = Vec::new();
    loop {
        let response = get(&url).await;
        assert_eq!(response.status(), StatusCode::OK, "{url}");
        let next = link(&response, "next");
        events.extend(json(response).await.as_array().unwrap().clone());
        match next {
            Some(next) => url = next,
            None => return events,
        }
    }
}

fn now_epoch() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn link_paging_visits_every_member_exactly_once() {
    let github = start(GithubMockConfig::default()).await;
    let mut url = format!(
        "{}/orgs/acme/members?role=all&per_page=4",
        github.base_url()
    );
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let response = get(&url).await;
        assert_eq!(response.status(), StatusCode::OK);
        pages += 1;
        let next = link(&response, "next");
        seen.extend(logins(&json(response).await));
        match next {
            Some(next) => url = next,
            None => break,
        }
    }
    assert_eq!(pages, 4, "15 members at 4 per page");
    assert_eq!(seen, github.member_logins());
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), seen.len());
    assert_eq!(seen.len() + 2, github.expected().users);
    let pages_requested: Vec<_> = github
        .requests()
        .iter()
        .map(|r| r.query_param("page"))
        .collect();
    assert_eq!(
        pages_requested,
        [None, Some("2".into()), Some("3".into()), Some("4".into())]
    );
}

#[tokio::test]
async fn link_header_has_githubs_exact_format() {
    let github = start(GithubMockConfig {
        admins: 9,
        ..GithubMockConfig::default()
    })
    .await;
    let base = github.base_url();
    let first = get(&format!("{base}/orgs/acme/members?role=admin&per_page=2")).await;
    assert_eq!(
        header(&first, "link").unwrap(),
        format!(
            "<{base}/orgs/acme/members?role=admin&per_page=2&page=2>; rel=\"next\", \
             <{base}/orgs/acme/members?role=admin&per_page=2&page=5>; rel=\"last\""
        )
    );
    let middle = get(&format!(
        "{base}/orgs/acme/members?page=3&role=admin&per_page=2"
    ))
    .await;
    assert_eq!(
        header(&middle, "link").unwrap(),
        format!(
            "<{base}/orgs/acme/members?role=admin&per_page=2&page=2>; rel=\"prev\", \
             <{base}/orgs/acme/members?role=admin&per_page=2&page=4>; rel=\"next\", \
             <{base}/orgs/acme/members?role=admin&per_page=2&page=5>; rel=\"last\", \
             <{base}/orgs/acme/members?role=admin&per_page=2&page=1>; rel=\"first\""
        )
    );
    assert_eq!(logins(&json(middle).await), ["admin-5", "admin-6"]);
    let single = get(&format!("{base}/orgs/acme/teams")).await;
    assert!(header(&single, "link").is_none(), "one page, no Link");
}

#[tokio::test]
async fn links_follow_the_host_header_and_per_page_is_clamped() {
    let github = start(GithubMockConfig {
        members: 250,
        ..GithubMockConfig::default()
    })
    .await;
    let response = reqwest::Client::new()
        .get(format!(
            "{}/orgs/acme/members?per_page=500",
            github.base_url()
        ))
        .bearer_auth(TOKEN)
        .header("host", "github.internal:8443")
        .send()
        .await
        .unwrap();
    assert_eq!(
        link(&response, "next").unwrap(),
        "http://github.internal:8443/orgs/acme/members?per_page=500&page=2"
    );
    assert_eq!(json(response).await.as_array().unwrap().len(), 100);
    let default = get(&format!("{}/orgs/acme/members", github.base_url())).await;
    assert_eq!(json(default).await.as_array().unwrap().len(), 30);
}

#[tokio::test]
async fn audit_cursors_reach_every_event_exactly_once_in_ascending_order() {
    let github = start(pinned_audit()).await;
    let mut url = format!(
        "{}/orgs/acme/audit-log?include=all&order=asc&per_page=100",
        github.base_url()
    );
    let mut timestamps = Vec::new();
    let mut ids = HashSet::new();
    loop {
        let response = get(&url).await;
        assert_eq!(response.status(), StatusCode::OK);
        let next = link(&response, "next");
        for event in json(response).await.as_array().unwrap() {
            timestamps.push(event["@timestamp"].as_i64().unwrap());
            assert_eq!(event["created_at"], event["@timestamp"]);
            assert!(ids.insert(event["_document_id"].as_str().unwrap().to_owned()));
        }
        match next {
            Some(next) => {
                assert!(next.contains("include=all&order=asc&per_page=100&after="));
                url = next;
            }
            None => break,
        }
    }
    assert_eq!(timestamps.len(), github.expected().audit_events);
    let listed: HashSet<String> = github.audit_event_ids().into_iter().collect();
    assert_eq!(
        listed, ids,
        "audit_event_ids lists what include=all returns"
    );
    assert!(timestamps.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(timestamps[0], 1_704_067_200_000, "2024-01-01T00:00:00Z");
    assert_eq!(github.requests().len(), 3);

    // The last page has no `next`; a connector resumes with `created:>=` its newest
    // event and drops what it already has (by `_document_id`).
    github.add_audit_events(5);
    let response = get(&format!(
        "{}/orgs/acme/audit-log?include=all&order=asc&phrase=created%3A%3E%3D2024-01-01T00%3A04%3A09Z",
        github.base_url()
    ))
    .await;
    let resumed = json(response).await;
    let resumed: Vec<i64> = resumed
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["@timestamp"].as_i64().unwrap())
        .collect();
    assert_eq!(
        resumed.len(),
        6,
        "the newest known event and the 5 new ones"
    );
    assert_eq!(resumed[0], *timestamps.last().unwrap());
}

#[tokio::test]
async fn audit_log_defaults_to_newest_first_web_events_and_pages_back_with_before() {
    let github = start(GithubMockConfig::default()).await;
    let base = github.base_url();
    let first = get(&format!("{base}/orgs/acme/audit-log?per_page=10")).await;
    let next = link(&first, "next").unwrap();
    assert!(link(&first, "prev").is_none());
    let first = json(first).await;
    let stamps = |page: &Value| -> Vec<i64> {
        page.as_array()
            .unwrap()
            .iter()
            .map(|e| e["@timestamp"].as_i64().unwrap())
            .collect()
    };
    let newest = stamps(&first);
    assert!(newest.windows(2).all(|w| w[0] > w[1]), "desc by default");
    assert!(
        first
            .as_array()
            .unwrap()
            .iter()
            .all(|e| !e["action"].as_str().unwrap().starts_with("git.")),
        "include=web leaves out Git events"
    );
    let second = get(&next).await;
    let prev = link(&second, "prev").unwrap();
    assert!(prev.contains("before="));
    let back = json(get(&prev).await).await;
    assert_eq!(stamps(&back), newest, "before= returns the previous page");

    let expected = github.expected();
    assert!(expected.web_audit_events < expected.audit_events);
}

#[tokio::test]
async fn phrase_created_qualifiers_filter_events() {
    let github = start(pinned_audit()).await;
    let count = |phrase: &'static str| {
        all_events(format!(
            "{}/orgs/acme/audit-log?include=all&per_page=100&phrase={}",
            github.base_url(),
            phrase
        ))
    };
    // Event i is at 00:00:00 + i seconds; 00:01:40 is event 100.
    let since = count("created%3A%3E%3D2024-01-01T00%3A01%3A40Z").await;
    assert_eq!(since.len(), 150);
    assert!(
        since
            .iter()
            .all(|e| e["@timestamp"].as_i64().unwrap() >= 1_704_067_300_000)
    );
    assert_eq!(
        count("created%3A%3E2024-01-01T00%3A01%3A40Z").await.len(),
        149
    );
    assert_eq!(count("created%3A%3E%3D2024-01-01").await.len(), 250);
    assert_eq!(count("created%3A%3E%3D2024-01-02").await.len(), 0);
    let team_events = count("action%3Ateam.add_member+created%3A%3C2024-01-01T00%3A01%3A00Z").await;
    assert!(!team_events.is_empty());
    assert!(team_events.iter().all(|e| e["action"] == "team.add_member"));

    let bad = get(&format!(
        "{}/orgs/acme/audit-log?phrase=created%3A%3Esoon",
        github.base_url()
    ))
    .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn default_audit_log_ends_just_before_the_mock_started() {
    let before_start = now_epoch() as i64 * 1_000;
    let github = start(GithubMockConfig::default()).await;
    let base = github.base_url();
    let now = now_epoch() as i64 * 1_000 + 1_000;
    let day = 86_400_000;
    let events = all_events(format!(
        "{base}/orgs/acme/audit-log?include=all&order=asc&per_page=100"
    ))
    .await;
    assert_eq!(events.len(), 250);
    let stamps: Vec<i64> = events
        .iter()
        .map(|e| e["@timestamp"].as_i64().unwrap())
        .collect();
    assert!(
        stamps.iter().all(|&at| at > now - day && at < now),
        "{stamps:?}"
    );
    assert!(stamps.windows(2).all(|w| w[1] - w[0] == 1_000));
    assert_eq!(stamps[0] % 1_000, 0, "whole seconds");
    assert!(
        *stamps.last().unwrap() < before_start - 3_500_000,
        "an hour before start"
    );

    // A host looking back 90 days, by date or by time, sees every event.
    let since = chrono::DateTime::from_timestamp_millis(now - 90 * day).unwrap();
    for bound in [
        since.format("%Y-%m-%d").to_string(),
        since.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    ] {
        let url = format!(
            "{base}/orgs/acme/audit-log?include=all&per_page=100&phrase=created%3A%3E%3D{bound}"
        );
        assert_eq!(all_events(url).await.len(), 250, "created:>={bound}");
    }

    // Events added later are newer, still one second apart.
    github.add_audit_events(3);
    let newest = all_events(format!("{base}/orgs/acme/audit-log?include=all&per_page=3")).await;
    assert_eq!(newest.len(), 253);
    let top: Vec<i64> = newest[..4]
        .iter()
        .map(|e| e["@timestamp"].as_i64().unwrap())
        .collect();
    assert_eq!(top[3], *stamps.last().unwrap());
    assert!(top.windows(2).all(|w| w[0] - w[1] == 1_000), "{top:?}");
    assert_eq!(github.audit_event_ids().len(), 253);
}

#[tokio::test]
async fn set_token_refuses_the_old_token() {
    let github = start(GithubMockConfig::default()).await;
    let url = format!("{}/orgs/acme/teams", github.base_url());
    assert_eq!(get(&url).await.status(), StatusCode::OK);
    github.set_token("ghp_rotated");
    let old = get(&url).await;
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json(old).await["message"], "Bad credentials");
    let rotated = reqwest::Client::new()
        .get(&url)
        .bearer_auth("ghp_rotated")
        .send()
        .await
        .unwrap();
    assert_eq!(rotated.status(), StatusCode::OK);
}

#[tokio::test]
async fn wrong_or_missing_token_is_refused_with_githubs_body() {
    let github = start(GithubMockConfig::default()).await;
    let url = format!("{}/orgs/acme/members", github.base_url());
    let client = reqwest::Client::new();
    let wrong = client
        .get(&url)
        .bearer_auth("ghp_nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header(&wrong, "x-ratelimit-limit"), Some("60"));
    let body = json(wrong).await;
    assert_eq!(body["message"], "Bad credentials");
    assert_eq!(body["documentation_url"], "https://docs.github.com/rest");
    let missing = client.get(&url).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    let token_scheme = client
        .get(&url)
        .header("authorization", format!("token {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(token_scheme.status(), StatusCode::OK);
}

#[tokio::test]
async fn token_owner_and_organization_have_githubs_shapes() {
    let github = start(GithubMockConfig::default()).await;
    let base = github.base_url();
    let user = get(&format!("{base}/user")).await;
    assert_eq!(
        header(&user, "x-oauth-scopes"),
        Some("admin:org, read:audit_log, read:org")
    );
    assert_eq!(json(user).await["login"], "sluice-bot");
    let org = json(get(&format!("{base}/orgs/acme")).await).await;
    assert_eq!(org["two_factor_requirement_enabled"], false);
    assert_eq!(org["default_repository_permission"], "read");
    assert_eq!(org["members_can_create_public_repositories"], true);
    let unknown = get(&format!("{base}/orgs/umbrella")).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(json(unknown).await["message"], "Not Found");
}

#[tokio::test]
async fn repositories_of_the_org_answer_and_others_are_not_found() {
    // Airbyte's source-github finds the organisations to read through the
    // repositories it is configured with (`GET /repos/{owner}/{repo}`).
    let github = start(GithubMockConfig::default()).await;
    let base = github.base_url();
    let repo = json(get(&format!("{base}/repos/acme/repo-5")).await).await;
    assert_eq!(repo["full_name"], "acme/repo-5");
    assert_eq!(repo["id"], 700_005);
    assert_eq!(repo["organization"]["login"], "acme");
    assert_eq!(repo["owner"]["type"], "Organization");
    assert_eq!(repo["private"], true);
    assert_eq!(repo["default_branch"], "main");
    let org = json(get(&format!("{base}/orgs/acme")).await).await;
    let public = json(get(&format!("{base}/repos/acme/repo-1")).await).await;
    assert_eq!(public["visibility"], "public");
    assert_eq!(
        org["public_repos"].as_u64().unwrap() + org["total_private_repos"].as_u64().unwrap(),
        7
    );
    for missing in [
        "repos/acme/repo-8",
        "repos/umbrella/repo-1",
        "repos/acme/web",
    ] {
        let response = get(&format!("{base}/{missing}")).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{missing}");
    }
}

#[tokio::test]
async fn rate_limit_lists_the_core_budget_and_the_others_github_has() {
    // Clients seed their quota from this body (Airbyte's reads `core` and `graphql`).
    let github = start(GithubMockConfig {
        rate_limit_per_hour: 10,
        ..GithubMockConfig::default()
    })
    .await;
    let base = github.base_url();
    get(&format!("{base}/orgs/acme")).await;
    let body = json(get(&format!("{base}/rate_limit")).await).await;
    let core = &body["resources"]["core"];
    assert_eq!(
        (core["limit"].as_u64(), core["used"].as_u64()),
        (Some(10), Some(1))
    );
    assert_eq!(body["rate"], *core);
    for resource in ["search", "graphql", "integration_manifest", "code_search"] {
        let budget = &body["resources"][resource];
        assert_eq!(budget["used"], 0, "{resource}");
        assert_eq!(budget["remaining"], budget["limit"], "{resource}");
        assert_eq!(budget["reset"], core["reset"], "{resource}");
    }
}

#[tokio::test]
async fn rate_limit_headers_count_down_and_the_budget_runs_out() {
    let github = start(GithubMockConfig {
        rate_limit_per_hour: 3,
        ..GithubMockConfig::default()
    })
    .await;
    let url = format!("{}/orgs/acme/teams", github.base_url());
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let response = get(&url).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, "x-ratelimit-limit"), Some("3"));
        assert_eq!(header(&response, "x-ratelimit-resource"), Some("core"));
        assert!(header(&response, "x-github-request-id").is_some());
        let reset: u64 = header(&response, "x-ratelimit-reset")
            .unwrap()
            .parse()
            .unwrap();
        assert!(reset > now_epoch() + 3_000 && reset <= now_epoch() + 3_601);
        remaining.push(
            header(&response, "x-ratelimit-remaining")
                .unwrap()
                .to_owned(),
        );
        let used = header(&response, "x-ratelimit-used").unwrap();
        assert_eq!(
            used.parse::<u32>().unwrap(),
            3 - remaining.last().unwrap().parse::<u32>().unwrap()
        );
    }
    assert_eq!(remaining, ["2", "1", "0"]);
    let refused = get(&url).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(header(&refused, "x-ratelimit-remaining"), Some("0"));
    let body = json(refused).await;
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("API rate limit exceeded for")
    );
}

#[tokio::test]
async fn injected_faults_answer_then_recover() {
    let github = start(GithubMockConfig::default()).await;
    let url = format!("{}/orgs/acme/members", github.base_url());
    github.inject_faults(Faults {
        secondary_limit: 2,
        retry_after_secs: 7,
        server_errors: 1,
        ..Faults::default()
    });
    for _ in 0..2 {
        let response = get(&url).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(header(&response, "retry-after"), Some("7"));
        let body = json(response).await;
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .starts_with("You have exceeded a secondary rate limit")
        );
    }
    assert_eq!(get(&url).await.status(), StatusCode::BAD_GATEWAY);
    let recovered = get(&url).await;
    assert_eq!(recovered.status(), StatusCode::OK);
    assert_eq!(
        header(&recovered, "x-ratelimit-remaining"),
        Some("4999"),
        "faulted requests do not use the budget"
    );

    github.inject_faults(Faults {
        primary_exhausted: true,
        retry_after_secs: 30,
        ..Faults::default()
    });
    let exhausted = get(&url).await;
    assert_eq!(exhausted.status(), StatusCode::FORBIDDEN);
    assert_eq!(header(&exhausted, "x-ratelimit-remaining"), Some("0"));
    let reset: u64 = header(&exhausted, "x-ratelimit-reset")
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset <= now_epoch() + 31);
}

#[tokio::test]
async fn credential_authorizations_page_without_link_and_need_saml() {
    let github = start(GithubMockConfig {
        credential_authorizations: 5,
        ..GithubMockConfig::default()
    })
    .await;
    let base = github.base_url();
    let page = get(&format!(
        "{base}/orgs/acme/credential-authorizations?per_page=2&page=3"
    ))
    .await;
    assert!(header(&page, "link").is_none());
    let body = json(page).await;
    assert_eq!(body.as_array().unwrap().len(), 1);
    assert_eq!(body[0]["credential_id"], 161_005);

    let no_sso = start(GithubMockConfig {
        saml_sso: false,
        ..GithubMockConfig::default()
    })
    .await;
    let missing = get(&format!(
        "{}/orgs/acme/credential-authorizations",
        no_sso.base_url()
    ))
    .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(no_sso.expected().app_permissions, 2);
}

#[tokio::test]
async fn installations_teams_and_team_members_page_like_the_rest() {
    let github = start(GithubMockConfig {
        installations: 3,
        ..GithubMockConfig::default()
    })
    .await;
    let base = github.base_url();
    let page = get(&format!("{base}/orgs/acme/installations?per_page=2")).await;
    assert!(link(&page, "next").unwrap().ends_with("per_page=2&page=2"));
    let body = json(page).await;
    assert_eq!(body["total_count"], 3);
    assert_eq!(body["installations"].as_array().unwrap().len(), 2);
    assert_eq!(body["installations"][0]["target_type"], "Organization");

    let teams = json(get(&format!("{base}/orgs/acme/teams")).await).await;
    assert_eq!(teams[0]["slug"], "team-1");
    let members = json(get(&format!("{base}/orgs/acme/teams/team-1/members")).await).await;
    assert_eq!(logins(&members), ["admin-1", "admin-2", "admin-3"]);
    let unknown = get(&format!("{base}/orgs/acme/teams/nope/members")).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn deletes_remove_and_are_recorded_as_writes() {
    let github = start(GithubMockConfig::default()).await;
    let base = github.base_url();
    let client = reqwest::Client::new();
    let delete = |path: String| {
        client
            .delete(format!("{base}{path}"))
            .bearer_auth(TOKEN)
            .send()
    };
    let before = github.expected();
    let removed = delete("/orgs/acme/outside_collaborators/outside-1".into())
        .await
        .unwrap();
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let again = delete("/orgs/acme/outside_collaborators/outside-1".into())
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    let revoked = delete("/orgs/acme/credential-authorizations/161001".into())
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    assert_eq!(github.outside_collaborator_logins(), ["outside-2"]);
    let after = github.expected();
    assert_eq!(after.outside, before.outside - 1);
    assert_eq!(after.users, before.users - 1);
    assert_eq!(after.app_permissions, before.app_permissions - 1);
    assert_eq!(github.requests().iter().filter(|r| r.is_write()).count(), 3);

    assert!(github.remove_member("member-1"));
    assert!(!github.member_logins().contains(&"member-1".to_owned()));
    assert_eq!(github.expected().users, before.users - 2);
}

#[tokio::test]
async fn fixtures_mode_serves_githubs_examples_verbatim() {
    // `SLUICE_FIXTURES_DIR` is the fixtures root (holding `github/`); otherwise the
    // shared folder beside the repository. Machines without it skip this test.
    let root = std::env::var_os("SLUICE_FIXTURES_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures"),
        PathBuf::from,
    );
    let dir = root.join("github");
    if !dir.is_dir() {
        eprintln!(
            "skipping fixtures mode: no GitHub fixtures at {} (set SLUICE_FIXTURES_DIR)",
            dir.display()
        );
        return;
    }
    let github = start(GithubMockConfig {
        fixtures_dir: Some(dir.clone()),
        ..GithubMockConfig::default()
    })
    .await;
    let base = github.base_url();
    for (path, file) in [
        ("/orgs/acme/members", "org-members.json"),
        ("/orgs/acme/members?role=admin", "org-members.json"),
        (
            "/orgs/acme/outside_collaborators",
            "org-outside-collaborators.json",
        ),
        ("/orgs/acme/teams", "org-teams.json"),
        ("/orgs/acme/audit-log?include=all", "org-audit-log.json"),
        (
            "/orgs/acme/credential-authorizations",
            "org-credential-authorizations.json",
        ),
        ("/orgs/acme/installations", "org-installations.json"),
    ] {
        let response = get(&format!("{base}{path}")).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert!(header(&response, "link").is_none(), "{path}");
        let body = response.text().await.unwrap();
        assert_eq!(
            body,
            std::fs::read_to_string(dir.join(file)).unwrap(),
            "{path}"
        );
    }
    let members_only = get(&format!("{base}/orgs/acme/members?role=member")).await;
    assert_eq!(members_only.text().await.unwrap(), "[]");
    let later = get(&format!(
        "{base}/orgs/acme/credential-authorizations?page=2"
    ))
    .await;
    assert_eq!(later.text().await.unwrap(), "[]");
    let expected = github.expected();
    assert_eq!((expected.users, expected.audit_events), (1, 3));
    assert_eq!(expected.app_permissions, 5 + 1);
    assert_eq!(github.audit_event_ids().len(), 3);
}

#[tokio::test]
async fn dropping_the_mock_stops_the_server() {
    let github = start(GithubMockConfig::default()).await;
    let addr = github.addr();
    assert_eq!(github.base_url(), format!("http://{addr}"));
    drop(github);
    let stopped = tokio::time::timeout(Duration::from_secs(5), async {
        while tokio::net::TcpStream::connect(addr).await.is_ok() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(stopped.is_ok(), "listener still accepting after drop");
}

#[test]
fn the_mock_can_be_shared_across_tasks() {
    fn shareable<T: Send + Sync + 'static>() {}
    shareable::<GithubMock>();
}
