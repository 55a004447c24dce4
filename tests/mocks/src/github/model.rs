//! The mock organisation's data and its JSON in GitHub's published shapes.
//!
//! Everything is a pure function of [`GithubMockConfig`], so two mocks with the same
//! config answer byte-for-byte the same and tests can predict ids and logins
//! (`admin-1` is id 1001). The shapes follow the `simple-user`, `team`,
//! `organization-full`, `credential-authorization` and `installation` examples in
//! GitHub's REST description (see `shared/fixtures/github`).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use chrono::{DateTime, Duration as ChronoDuration, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::GithubMockConfig;

/// The token owner (`GET /user`), id 1000 so that member *i* is id 1000 + *i*.
pub(crate) const BOT_LOGIN: &str = "sluice-bot";
pub(crate) const BOT_ID: u64 = 1000;
/// The organisation's numeric id.
pub(crate) const ORG_ID: u64 = 90_000;
/// 2024-01-01T00:00:00Z: the anchor of every generated date but the audit events'
/// (which [`GithubMockConfig::audit_start`] places).
pub(crate) const BASE_TIME_MS: i64 = super::GITHUB_MOCK_EPOCH_MS;

/// An account in the organisation: an admin, a member or an outside collaborator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Person {
    pub(crate) id: u64,
    pub(crate) login: String,
    /// Organisation owner (`role=admin`).
    pub(crate) admin: bool,
    /// Whether the account has two-factor authentication (`filter=2fa_disabled`).
    pub(crate) two_factor: bool,
}

/// A team and who is in it (by user id), maintainers first.
#[derive(Debug, Clone)]
pub(crate) struct Team {
    pub(crate) id: u64,
    pub(crate) members: Vec<TeamMember>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct TeamMember {
    pub(crate) user_id: u64,
    pub(crate) maintainer: bool,
}

/// A credential authorized for SAML SSO (`GET /orgs/{org}/credential-authorizations`).
#[derive(Debug, Clone)]
pub(crate) struct Credential {
    /// 1-based position, from which every other field is derived.
    pub(crate) seq: u64,
    pub(crate) credential_id: u64,
    pub(crate) login: String,
}

/// The organisation's current state: what list endpoints serve and tests change.
#[derive(Debug, Clone)]
pub(crate) struct OrgState {
    /// Admins and members, by id.
    pub(crate) members: Vec<Person>,
    pub(crate) outside: Vec<Person>,
    pub(crate) teams: Vec<Team>,
    pub(crate) credentials: Vec<Credential>,
    /// 1-based installation positions; an installation is derived from its position.
    pub(crate) installations: Vec<u64>,
    /// Number of audit events; event *i* is derived from *i*.
    pub(crate) audit_len: usize,
}

impl OrgState {
    pub(crate) fn generate(config: &GithubMockConfig) -> OrgState {
        let members = roster(config);
        let first_outside = config.admins + config.members;
        let outside = (1..=config.outside_collaborators)
            .map(|n| account(config, first_outside + n, "outside", n, false))
            .collect();
        let teams = (1..=config.teams)
            .map(|t| Team {
                id: t as u64,
                members: team_members(&members, t, config.members_per_team),
            })
            .collect();
        let credentials = (1..=config.credential_authorizations as u64)
            .map(|seq| Credential {
                seq,
                credential_id: 161_000 + seq,
                login: pick(&members, seq as usize - 1).login.clone(),
            })
            .collect();
        OrgState {
            members,
            outside,
            teams,
            credentials,
            installations: (1..=config.installations as u64).collect(),
            audit_len: config.audit_events,
        }
    }

    pub(crate) fn person(&self, user_id: u64) -> Option<&Person> {
        self.members.iter().find(|person| person.id == user_id)
    }

    /// Removes an organisation member, and with it their team memberships, as GitHub does.
    pub(crate) fn remove_member(&mut self, login: &str) -> bool {
        let Some(at) = self.members.iter().position(|p| p.login == login) else {
            return false;
        };
        let removed = self.members.remove(at);
        for team in &mut self.teams {
            team.members.retain(|member| member.user_id != removed.id);
        }
        true
    }
}

/// The organisation's admins then members as generated from the config, before any test
/// changed them. Audit events are history, so they keep naming these people.
pub(crate) fn roster(config: &GithubMockConfig) -> Vec<Person> {
    let admins = (1..=config.admins).map(|n| account(config, n, "admin", n, true));
    let members =
        (1..=config.members).map(|n| account(config, config.admins + n, "member", n, false));
    admins.chain(members).collect()
}

/// Account number `index` (id 1000 + `index`), called `<prefix>-<n>`.
fn account(config: &GithubMockConfig, index: usize, prefix: &str, n: usize, admin: bool) -> Person {
    let id = BOT_ID + index as u64;
    Person {
        id,
        login: format!("{prefix}-{n}"),
        admin,
        // Every fourth account lacks 2FA, unless the org enforces it (GitHub then
        // removes such accounts, so none remain).
        two_factor: config.two_factor_required || !id.is_multiple_of(4),
    }
}

/// The person at `index` in a cyclic walk over `people`, or the token owner when the
/// organisation is empty, so generated history always names someone.
pub(crate) fn pick(people: &[Person], index: usize) -> Person {
    match people.len() {
        0 => Person {
            id: BOT_ID,
            login: BOT_LOGIN.to_owned(),
            admin: true,
            two_factor: true,
        },
        n => people[index % n].clone(),
    }
}

/// Team `t` (1-based) takes `per_team` consecutive members, wrapping around, starting
/// where team `t - 1` stopped; its first member maintains it.
fn team_members(members: &[Person], t: usize, per_team: usize) -> Vec<TeamMember> {
    let size = per_team.min(members.len());
    (0..size)
        .map(|j| TeamMember {
            user_id: members[((t - 1) * per_team + j) % members.len()].id,
            maintainer: j == 0,
        })
        .collect()
}

/// GitHub's global node id: base64 of `<type tag>:<type><id>`.
fn node_id(kind: &str, id: u64) -> String {
    STANDARD.encode(format!("{kind}{id}"))
}

/// An RFC 3339 timestamp `offset` after [`BASE_TIME_MS`], in GitHub's `…Z` form.
pub(crate) fn date_after(offset: ChronoDuration) -> String {
    base_time()
        .checked_add_signed(offset)
        .unwrap_or_else(base_time)
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub(crate) fn base_time() -> DateTime<Utc> {
    DateTime::from_timestamp_millis(BASE_TIME_MS).unwrap_or_default()
}

/// `simple-user`, for users (`kind` "User") and organisations ("Organization").
pub(crate) fn simple_user(base: &str, login: &str, id: u64, kind: &str) -> Value {
    let tag = if kind == "Organization" {
        "012:Organization"
    } else {
        "04:User"
    };
    let api = format!("{base}/users/{login}");
    json!({
        "login": login,
        "id": id,
        "node_id": node_id(tag, id),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
        "gravatar_id": "",
        "url": api,
        "html_url": format!("https://github.com/{login}"),
        "followers_url": format!("{api}/followers"),
        "following_url": format!("{api}/following{{/other_user}}"),
        "gists_url": format!("{api}/gists{{/gist_id}}"),
        "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/subscriptions"),
        "organizations_url": format!("{api}/orgs"),
        "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events{{/privacy}}"),
        "received_events_url": format!("{api}/received_events"),
        "type": kind,
        "site_admin": false
    })
}

pub(crate) fn person_json(base: &str, person: &Person) -> Value {
    simple_user(base, &person.login, person.id, "User")
}

/// `private-user`: the token owner as `GET /user` shows it.
pub(crate) fn token_owner(base: &str) -> Value {
    let mut user = simple_user(base, BOT_LOGIN, BOT_ID, "User");
    let extra = json!({
        "name": "Sluice Bot",
        "company": null,
        "blog": "",
        "location": null,
        "email": null,
        "hireable": null,
        "bio": "Service account used by Sluice",
        "twitter_username": null,
        "public_repos": 0,
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "created_at": date_after(ChronoDuration::days(-180)),
        "updated_at": date_after(ChronoDuration::zero()),
        "private_gists": 0,
        "total_private_repos": 0,
        "owned_private_repos": 0,
        "disk_usage": 0,
        "collaborators": 0,
        "two_factor_authentication": true,
        "plan": { "name": "free", "space": 976_562_499, "private_repos": 10_000, "collaborators": 0 }
    });
    merge(&mut user, extra);
    user
}

/// `organization-full`, as an owner sees it (billing and security settings included).
pub(crate) fn organization(base: &str, config: &GithubMockConfig, state: &OrgState) -> Value {
    let org = &config.org;
    let api = format!("{base}/orgs/{org}");
    let mut body = json!({
        "login": org,
        "id": ORG_ID,
        "node_id": node_id("012:Organization", ORG_ID),
        "url": api,
        "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events"),
        "hooks_url": format!("{api}/hooks"),
        "issues_url": format!("{api}/issues"),
        "members_url": format!("{api}/members{{/member}}"),
        "public_members_url": format!("{api}/public_members{{/member}}"),
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{ORG_ID}?v=4"),
        "description": format!("{org}, served by the Sluice GitHub mock"),
        "name": org,
        "company": null,
        "blog": "",
        "location": null,
        "email": null,
        "twitter_username": null,
        "is_verified": false,
        "has_organization_projects": true,
        "has_repository_projects": true,
        "public_repos": PUBLIC_REPOSITORIES,
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "html_url": format!("https://github.com/{org}"),
        "created_at": date_after(ChronoDuration::days(-1461)),
        "updated_at": date_after(ChronoDuration::zero()),
        "archived_at": null,
        "type": "Organization",
        "total_private_repos": REPOSITORIES - PUBLIC_REPOSITORIES,
        "owned_private_repos": REPOSITORIES - PUBLIC_REPOSITORIES,
        "private_gists": 0,
        "disk_usage": 10_000,
        "collaborators": state.outside.len(),
    });
    // Owner-only fields, in a second literal to stay within `json!`'s recursion limit.
    let settings = json!({
        "billing_email": format!("billing@{org}.example"),
        "plan": {
            "name": "enterprise",
            "space": 976_562_499,
            "private_repos": 999_999,
            "filled_seats": state.members.len() + state.outside.len(),
            "seats": state.members.len() + state.outside.len() + 5
        },
        "default_repository_permission": config.default_repository_permission,
        "members_can_create_repositories": true,
        "two_factor_requirement_enabled": config.two_factor_required,
        "members_allowed_repository_creation_type": "all",
        "members_can_create_public_repositories": config.members_can_create_public_repositories,
        "members_can_create_private_repositories": true,
        "members_can_create_internal_repositories": true,
        "members_can_create_pages": true,
        "members_can_create_public_pages": true,
        "members_can_create_private_pages": true,
        "members_can_fork_private_repositories": false,
        "web_commit_signoff_required": false
    });
    merge(&mut body, settings);
    body
}

/// `team`, as listed by `GET /orgs/{org}/teams`.
pub(crate) fn team_json(base: &str, org: &str, team: &Team) -> Value {
    let id = team.id;
    let api = format!("{base}/teams/{id}");
    json!({
        "id": id,
        "node_id": node_id("04:Team", id),
        "url": api,
        "html_url": format!("https://github.com/orgs/{org}/teams/{}", team_slug(id)),
        "name": format!("Team {id}"),
        "slug": team_slug(id),
        "description": format!("Generated team {id}"),
        "privacy": if id.is_multiple_of(3) { "secret" } else { "closed" },
        "notification_setting": "notifications_enabled",
        "permission": "pull",
        "members_url": format!("{api}/members{{/member}}"),
        "repositories_url": format!("{api}/repos"),
        "parent": null
    })
}

pub(crate) fn team_slug(id: u64) -> String {
    format!("team-{id}")
}

/// The organisation's repositories, `repo-1` … `repo-7` (ids 700,001 …): the ones its
/// audit events name. The first [`PUBLIC_REPOSITORIES`] are public.
pub(crate) const REPOSITORIES: u64 = 7;
pub(crate) const PUBLIC_REPOSITORIES: u64 = 3;

/// The repository number of `name` (`repo-3` → 3) when the organisation has it.
pub(crate) fn repository_number(name: &str) -> Option<u64> {
    let n: u64 = name.strip_prefix("repo-")?.parse().ok()?;
    (1..=REPOSITORIES).contains(&n).then_some(n)
}

/// `full-repository`, as `GET /repos/{owner}/{repo}` answers for repository `n` (the
/// fields GitHub's example has, less the many `*_url` templates nobody reads).
pub(crate) fn repository_json(base: &str, org: &str, n: u64) -> Value {
    let id = 700_000 + n;
    let name = format!("repo-{n}");
    let full_name = format!("{org}/{name}");
    let api = format!("{base}/repos/{full_name}");
    let private = n > PUBLIC_REPOSITORIES;
    let owner = simple_user(base, org, ORG_ID, "Organization");
    json!({
        "id": id,
        "node_id": node_id("010:Repository", id),
        "name": name,
        "full_name": full_name,
        "owner": owner,
        "organization": owner,
        "private": private,
        "visibility": if private { "private" } else { "public" },
        "html_url": format!("https://github.com/{full_name}"),
        "description": format!("Generated repository {n}"),
        "fork": false,
        "url": api,
        "git_url": format!("git://github.com/{full_name}.git"),
        "ssh_url": format!("git@github.com:{full_name}.git"),
        "clone_url": format!("https://github.com/{full_name}.git"),
        "default_branch": "main",
        "archived": false,
        "disabled": false,
        "size": 1_024 * n,
        "stargazers_count": n,
        "watchers_count": n,
        "forks_count": 0,
        "open_issues_count": 0,
        "has_issues": true,
        "has_projects": true,
        "has_wiki": false,
        "has_pages": false,
        "has_downloads": true,
        "has_discussions": false,
        "topics": [],
        "created_at": date_after(ChronoDuration::days(-(n as i64) * 30)),
        "updated_at": date_after(ChronoDuration::zero()),
        "pushed_at": date_after(ChronoDuration::zero()),
        "permissions": { "admin": true, "maintain": true, "push": true, "triage": true, "pull": true },
        "network_count": 0,
        "subscribers_count": n
    })
}

/// The kinds GitHub lists, cycled so every shape (with and without token fields) appears.
const CREDENTIAL_TYPES: [&str; 4] = [
    "personal access token",
    "OAuth app token",
    "SSH key",
    "GitHub app token",
];

/// `credential-authorization`.
pub(crate) fn credential_json(credential: &Credential) -> Value {
    let seq = credential.seq;
    let kind = CREDENTIAL_TYPES[(seq as usize - 1) % CREDENTIAL_TYPES.len()];
    let authorized = ChronoDuration::days(seq as i64);
    let mut body = json!({
        "login": credential.login,
        "credential_id": credential.credential_id,
        "credential_type": kind,
        "credential_authorized_at": date_after(authorized),
        "credential_accessed_at": date_after(authorized + ChronoDuration::hours(1)),
        "authorized_credential_id": 12_345_000 + seq,
    });
    let extra = if kind == "SSH key" {
        json!({
            "fingerprint": ssh_fingerprint(seq),
            "authorized_credential_title": format!("laptop key {seq}")
        })
    } else {
        let scopes: &[&str] = match kind {
            "personal access token" => &["repo", "read:org"],
            "OAuth app token" => &["repo", "user"],
            _ => &[],
        };
        json!({
            "token_last_eight": format!("{:08x}", splitmix64(seq) as u32),
            "authorized_credential_expires_at": date_after(authorized + ChronoDuration::days(30)),
            "scopes": scopes
        })
    };
    merge(&mut body, extra);
    body
}

/// A GitHub App that organisations commonly install.
struct App {
    slug: &'static str,
    app_id: u64,
    permissions: &'static [(&'static str, &'static str)],
    events: &'static [&'static str],
}

/// Installed apps, cycled over the installations.
const APPS: [App; 4] = [
    App {
        slug: "dependabot",
        app_id: 29_110,
        permissions: &[
            ("contents", "write"),
            ("metadata", "read"),
            ("pull_requests", "write"),
        ],
        events: &["pull_request", "push"],
    },
    App {
        slug: "slack",
        app_id: 7_100,
        permissions: &[("issues", "read"), ("metadata", "read")],
        events: &["issues", "pull_request"],
    },
    App {
        slug: "codecov",
        app_id: 254,
        permissions: &[
            ("checks", "write"),
            ("metadata", "read"),
            ("statuses", "write"),
        ],
        events: &["check_run", "push"],
    },
    App {
        slug: "vercel",
        app_id: 8_329,
        permissions: &[("deployments", "write"), ("metadata", "read")],
        events: &["deployment", "deployment_status"],
    },
];

pub(crate) fn installation_id(seq: u64) -> u64 {
    25_380 + seq
}

/// `installation`, as in `installation-paginated`.
pub(crate) fn installation_json(base: &str, org: &str, seq: u64) -> Value {
    let app = &APPS[(seq as usize - 1) % APPS.len()];
    let id = installation_id(seq);
    let permissions: serde_json::Map<String, Value> = app
        .permissions
        .iter()
        .map(|(name, level)| ((*name).to_owned(), json!(level)))
        .collect();
    let created = base_time() + ChronoDuration::days(seq as i64);
    let stamp = |at: DateTime<Utc>| at.format("%Y-%m-%dT%H:%M:%S%.3f%:z").to_string();
    json!({
        "id": id,
        "account": simple_user(base, org, ORG_ID, "Organization"),
        "repository_selection": if seq.is_multiple_of(2) { "selected" } else { "all" },
        "access_tokens_url": format!("{base}/app/installations/{id}/access_tokens"),
        "repositories_url": format!("{base}/installation/repositories"),
        "html_url": format!("https://github.com/organizations/{org}/settings/installations/{id}"),
        "app_id": app.app_id,
        "target_id": ORG_ID,
        "target_type": "Organization",
        "permissions": permissions,
        "events": app.events,
        "created_at": stamp(created),
        "updated_at": stamp(created + ChronoDuration::days(7)),
        "single_file_name": null,
        "has_multiple_single_files": false,
        "single_file_paths": [],
        "app_slug": app.slug,
        "suspended_at": null,
        "suspended_by": null
    })
}

/// `SHA256:` plus 43 characters of unpadded base64, the form `ssh-keygen -l` prints.
fn ssh_fingerprint(seq: u64) -> String {
    let digest: Vec<u8> = (0..4)
        .flat_map(|part| splitmix64(seq * 4 + part).to_be_bytes())
        .collect();
    format!("SHA256:{}", STANDARD_NO_PAD.encode(digest))
}

/// A bijective mixer: distinct inputs give distinct, random-looking outputs, which is
/// what generated ids and token suffixes need.
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn merge(into: &mut Value, extra: Value) {
    if let (Value::Object(into), Value::Object(extra)) = (into, extra) {
        into.extend(extra);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_match_githubs_encoding() {
        // The published examples: user 1 and team 1.
        assert_eq!(node_id("04:User", 1), "MDQ6VXNlcjE=");
        assert_eq!(node_id("04:Team", 1), "MDQ6VGVhbTE=");
    }

    #[test]
    fn ids_and_logins_follow_the_documented_scheme() {
        let config = GithubMockConfig::default();
        let state = OrgState::generate(&config);
        assert_eq!(state.members[0].login, "admin-1");
        assert_eq!(state.members[0].id, 1001);
        assert_eq!(state.members[3].login, "member-1");
        assert_eq!(state.members[3].id, 1004);
        assert_eq!(state.outside[1].login, "outside-2");
        assert_eq!(state.outside[1].id, 1017);
        assert_eq!(state.teams.len(), 4);
        assert!(state.teams.iter().all(|team| team.members.len() == 3));
    }
}
