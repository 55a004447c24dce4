//! A loopback GitHub REST API for one organisation, faithful to what GitHub documents:
//! token auth, page-number paging with `Link` headers, the audit log's cursor paging
//! and `phrase` search, `x-ratelimit-*` headers with a real hourly budget, and bodies in
//! GitHub's published shapes. On demand ([`GithubMock::inject_faults`]) it also
//! misbehaves: secondary limits (for a while or until told otherwise), 5xx bursts,
//! bodies cut off mid-transfer or truncated, and slow answers.
//!
//! The GitHub connector, the host's integration tests, the benchmarks and `sluice demo`
//! all point at this instead of api.github.com. Data is generated deterministically from
//! [`GithubMockConfig`] (user *i* is id 1000 + *i*, `admin-1`, `member-7`, `outside-2`),
//! so [`GithubMock::expected`] can say exactly what a complete scan must find. With
//! [`GithubMockConfig::fixtures_dir`] set, list endpoints serve GitHub's own example
//! bodies instead.
//!
//! Routes (paths as on api.github.com, no `/api/v3` prefix):
//!
//! | route | paging |
//! |---|---|
//! | `GET /user` (token owner `sluice-bot`, with `x-oauth-scopes`) | — |
//! | `GET /rate_limit` (free, like GitHub's; `core` is the real budget) | — |
//! | `GET /orgs/{org}` (`organization-full`) | — |
//! | `GET /orgs/{org}/members?role=all\|admin\|member&filter=all\|2fa_disabled` | `Link` |
//! | `GET /orgs/{org}/outside_collaborators?filter=…` | `Link` |
//! | `DELETE /orgs/{org}/outside_collaborators/{username}` | — |
//! | `GET /orgs/{org}/teams` | `Link` |
//! | `GET /orgs/{org}/teams/{slug}/members?role=all\|maintainer\|member` | `Link` |
//! | `GET /orgs/{org}/installations` (`{total_count, installations}`) | `Link` |
//! | `GET /orgs/{org}/credential-authorizations?login=` (404 without SAML SSO) | `page`, no `Link` |
//! | `DELETE /orgs/{org}/credential-authorizations/{credential_id}` | — |
//! | `GET /orgs/{org}/audit-log?phrase=&include=&order=&after=&before=` | cursor `Link` |
//! | `GET /repos/{org}/repo-{1..7}` (`full-repository`) | — |
//!
//! Paging: `per_page` defaults to 30 and is clamped to
//! [`max_per_page`](GithubMockConfig::max_per_page); `page` is 1-based. `Link` lists
//! `prev`, `next`, `last`, `first` (each when it applies) as absolute URLs built from the
//! request's `Host`, keeping the request's other parameters in order and appending
//! `page=N`. The audit log's `next` link carries `after=<cursor>`, its `prev` link
//! `before=<cursor>`; a cursor is URL-safe base64 of `<@timestamp>|<_document_id>`.

mod audit;
mod fixtures;
mod model;
mod routes;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::faults::{FaultPlan, Faults, RateBudget};
use crate::server::{MockServer, RequestRecord};

use audit::AuditLog;
use fixtures::Fixtures;
use model::OrgState;

use crate::tls::MockTls;

/// 2024-01-01T00:00:00Z in milliseconds since the epoch: the anchor of the generated
/// dates (accounts, installations, credential authorizations), and a fixed
/// [`GithubMockConfig::audit_start`] for tests that assert exact audit times.
pub const GITHUB_MOCK_EPOCH_MS: i64 = 1_704_067_200_000;

/// What the mock organisation looks like and how the API behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GithubMockConfig {
    /// The organisation login; other orgs answer 404.
    pub org: String,
    /// The only token accepted (as `Bearer <token>` or `token <token>`).
    pub token: String,
    /// Organisation owners, `admin-1` … (ids 1001 …).
    pub admins: usize,
    /// Non-admin members, `member-1` …, numbered after the admins.
    pub members: usize,
    /// Outside collaborators, `outside-1` …, numbered after the members.
    pub outside_collaborators: usize,
    /// Teams `team-1` … (ids 1 …).
    pub teams: usize,
    /// Members per team, drawn in turn from admins then members (capped at their number).
    pub members_per_team: usize,
    /// Audit events at start, one per [`audit_spacing_ms`](Self::audit_spacing_ms) from
    /// [`audit_start`](Self::audit_start).
    pub audit_events: usize,
    /// `@timestamp` of audit event 0, in milliseconds since the epoch. `None` (the
    /// default) places the log relative to when the mock starts: event 0 at that moment,
    /// floored to a whole second, minus `audit_events` seconds minus one hour. So a scan
    /// looking back a few days sees every event, and events added later with
    /// [`GithubMock::add_audit_events`] follow on one second apart. `Some(ms)` pins the
    /// log, e.g. at [`GITHUB_MOCK_EPOCH_MS`], for tests asserting exact times.
    pub audit_start: Option<i64>,
    /// Milliseconds between consecutive audit events (default 1,000). Larger spacings
    /// spread the log over days, as a real organisation's is; the default `audit_start`
    /// then steps back by `audit_events` spacings.
    pub audit_spacing_ms: i64,
    /// SAML SSO credential authorizations (served only when `saml_sso`).
    pub credential_authorizations: usize,
    /// GitHub App installations.
    pub installations: usize,
    /// `two_factor_requirement_enabled`; when true no account lacks 2FA.
    pub two_factor_required: bool,
    /// Whether the org uses SAML SSO; without it `credential-authorizations` is a 404.
    pub saml_sso: bool,
    /// Largest `per_page` honoured (GitHub: 100).
    pub max_per_page: usize,
    /// Primary budget per hour for the token (GitHub: 5,000).
    pub rate_limit_per_hour: u32,
    /// Added to every response, for benchmarks that want realistic round trips.
    pub latency: Duration,
    /// Serve GitHub's example bodies from this folder (`shared/fixtures/github`) on
    /// list endpoints instead of generated data.
    pub fixtures_dir: Option<PathBuf>,
    /// `default_repository_permission` of the org (`read`, `write`, `admin`, `none`).
    pub default_repository_permission: String,
    /// `members_can_create_public_repositories` of the org.
    pub members_can_create_public_repositories: bool,
    /// Serve HTTPS with this certificate instead of HTTP (a GitHub Enterprise Server
    /// behind a private CA).
    pub tls: Option<MockTls>,
}

impl Default for GithubMockConfig {
    fn default() -> Self {
        GithubMockConfig {
            org: "acme".to_owned(),
            token: "ghp_mock_token".to_owned(),
            admins: 3,
            members: 12,
            outside_collaborators: 2,
            teams: 4,
            members_per_team: 3,
            audit_events: 250,
            audit_start: None,
            audit_spacing_ms: 1_000,
            credential_authorizations: 3,
            installations: 2,
            two_factor_required: false,
            saml_sso: true,
            max_per_page: 100,
            rate_limit_per_hour: 5_000,
            latency: Duration::ZERO,
            fixtures_dir: None,
            default_repository_permission: "read".to_owned(),
            members_can_create_public_repositories: true,
            tls: None,
        }
    }
}

/// What a complete scan of the mock must yield right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Expected {
    /// Distinct accounts: admins + members + outside collaborators.
    pub users: usize,
    /// Organisation owners (`role=admin`).
    pub admins: usize,
    /// Outside collaborators.
    pub outside: usize,
    /// Teams.
    pub groups: usize,
    /// Team memberships summed over teams.
    pub group_memberships: usize,
    /// Audit events with `include=all`, which a complete scan must ask for: GitHub's
    /// default (`include=web`) leaves out Git events.
    pub audit_events: usize,
    /// Audit events with the default `include=web`.
    pub web_audit_events: usize,
    /// Credential authorizations (when SAML SSO is on) plus app installations.
    pub app_permissions: usize,
    /// Posture checks the org's data decides, one finding each: two-factor requirement
    /// (`two_factor_requirement_enabled`), SAML SSO (`credential-authorizations` answers
    /// 200 rather than 404), default repository permission (not `write`/`admin`), and
    /// public repository creation by members (disabled).
    pub findings: usize,
    /// How many of those checks fail.
    pub failed_findings: usize,
    /// Accounts listed by `filter=2fa_disabled` (members and outside collaborators).
    pub two_factor_disabled: usize,
}

/// A running GitHub mock on `127.0.0.1`; shuts down when dropped.
#[derive(Debug)]
pub struct GithubMock {
    server: MockServer,
    shared: Arc<Shared>,
}

/// State shared by the handlers and the test-facing handle.
#[derive(Debug)]
pub(crate) struct Shared {
    config: GithubMockConfig,
    /// The only token accepted now: `config.token` until [`GithubMock::set_token`].
    token: Mutex<String>,
    /// Members, teams, grants and the audit log's length: what tests change.
    state: Mutex<OrgState>,
    /// Event generator over the roster as first generated.
    audit: AuditLog,
    fixtures: Option<Fixtures>,
    /// The token's primary budget (`x-ratelimit-*`).
    budget: RateBudget,
    /// GitHub's separate 60/hour budget for unauthenticated requests, which failed
    /// logins use up.
    anonymous_budget: RateBudget,
    faults: FaultPlan,
    /// Numbers `x-github-request-id`.
    requests_seen: AtomicU64,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, OrgState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The token requests must present now.
    fn token(&self) -> String {
        self.token
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// An id in the shape of GitHub's `x-github-request-id` (`XXXX:XXXX:XXXXXX:XXXXXX:XXXXXXXX`).
    fn next_request_id(&self) -> String {
        let n = self.requests_seen.fetch_add(1, Ordering::Relaxed) + 1;
        let mixed = model::splitmix64(n);
        format!(
            "{:04X}:{:04X}:{:06X}:{:06X}:{:08X}",
            mixed >> 48,
            n & 0xFFFF,
            (mixed >> 24) & 0xFF_FFFF,
            mixed & 0xFF_FFFF,
            n
        )
    }
}

const HOUR: Duration = Duration::from_secs(3_600);

/// Where audit event 0 goes when [`GithubMockConfig::audit_start`] is `None`: `now`
/// (ms since the epoch) floored to a whole second, minus one spacing per initial event,
/// minus an hour.
fn default_audit_start(now_ms: i64, audit_events: usize, spacing_ms: i64) -> i64 {
    let events_ms = i64::try_from(audit_events)
        .unwrap_or(i64::MAX)
        .saturating_mul(spacing_ms);
    (now_ms - now_ms.rem_euclid(1_000))
        .saturating_sub(events_ms)
        .saturating_sub(3_600_000)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
        })
}

impl GithubMock {
    /// Binds `127.0.0.1:0` and serves on the current tokio runtime. Fails if the
    /// listener cannot be bound or a fixture file cannot be read or parsed.
    pub async fn start(config: GithubMockConfig) -> std::io::Result<GithubMock> {
        let fixtures = config
            .fixtures_dir
            .as_deref()
            .map(Fixtures::load)
            .transpose()?;
        let audit_start = config.audit_start.unwrap_or_else(|| {
            default_audit_start(now_ms(), config.audit_events, config.audit_spacing_ms)
        });
        let shared = Arc::new(Shared {
            token: Mutex::new(config.token.clone()),
            state: Mutex::new(OrgState::generate(&config)),
            audit: AuditLog::new(
                &config.org,
                model::roster(&config),
                config.teams,
                (audit_start, config.audit_spacing_ms),
            ),
            fixtures,
            budget: RateBudget::new(config.rate_limit_per_hour, HOUR),
            anonymous_budget: RateBudget::new(60, HOUR),
            faults: FaultPlan::default(),
            requests_seen: AtomicU64::new(0),
            config,
        });
        let router = routes::router(shared.clone());
        let server =
            MockServer::start_with(shared.config.latency, shared.config.tls.as_ref(), |_addr| {
                router
            })
            .await?;
        Ok(GithubMock { server, shared })
    }

    /// `http://127.0.0.1:PORT` (`https://…` with [`GithubMockConfig::tls`]), without a
    /// trailing slash.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The configuration the mock was started with (its `token` stays the starting
    /// one after [`set_token`](Self::set_token)).
    pub fn config(&self) -> &GithubMockConfig {
        &self.shared.config
    }

    /// From now on only `token` is accepted, as when the old token is revoked or
    /// rotated: requests with any other answer 401 `Bad credentials`.
    pub fn set_token(&self, token: &str) {
        *self
            .shared
            .token
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = token.to_owned();
    }

    /// Appends `n` events, each one second after the newest so far.
    pub fn add_audit_events(&self, n: usize) {
        self.shared.state().audit_len += n;
    }

    /// The `_document_id` of every audit event in the log now, oldest first: what
    /// `include=all` lists in all (in fixtures mode, the example's events in file order).
    pub fn audit_event_ids(&self) -> Vec<String> {
        match &self.shared.fixtures {
            Some(fixtures) => fixtures.audit_document_ids.clone(),
            None => self
                .shared
                .audit
                .document_ids(self.shared.state().audit_len),
        }
    }

    /// Removes an admin or member (and their team memberships); false if no such member
    /// or in fixtures mode, whose bodies never change.
    pub fn remove_member(&self, login: &str) -> bool {
        self.shared.fixtures.is_none() && self.shared.state().remove_member(login)
    }

    /// Logins that `GET /orgs/{org}/members?role=all` lists now (admins, then members).
    pub fn member_logins(&self) -> Vec<String> {
        match &self.shared.fixtures {
            Some(fixtures) => fixtures.member_logins.clone(),
            None => logins(&self.shared.state().members),
        }
    }

    /// Logins that `GET /orgs/{org}/outside_collaborators` lists now.
    pub fn outside_collaborator_logins(&self) -> Vec<String> {
        match &self.shared.fixtures {
            Some(fixtures) => fixtures.outside_logins.clone(),
            None => logins(&self.shared.state().outside),
        }
    }

    /// Replaces the pending faults (see [`Faults`] for the order they are applied in).
    pub fn inject_faults(&self, faults: Faults) {
        self.shared.faults.inject(faults, &self.shared.budget);
    }

    /// Every request answered so far, in arrival order, including refused ones.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.server.log().snapshot()
    }

    /// Forgets the requests so far, so a test can assert on one phase alone.
    pub fn clear_requests(&self) {
        self.server.log().clear();
    }

    /// Exact counts a complete scan must yield now.
    pub fn expected(&self) -> Expected {
        let config = &self.shared.config;
        let checks = [
            config.two_factor_required,
            config.saml_sso,
            !matches!(
                config.default_repository_permission.as_str(),
                "write" | "admin"
            ),
            !config.members_can_create_public_repositories,
        ];
        let posture = Expected {
            findings: checks.len(),
            failed_findings: checks.iter().filter(|passed| !**passed).count(),
            ..Expected::default()
        };
        let credentials = |n: usize| if config.saml_sso { n } else { 0 };
        if let Some(fixtures) = &self.shared.fixtures {
            let audit_events = fixtures.audit_actions.len();
            return Expected {
                users: fixtures.distinct_users,
                // `role=admin` serves the whole members example.
                admins: fixtures.member_logins.len(),
                outside: fixtures.outside_logins.len(),
                groups: fixtures.team_count,
                group_memberships: 0,
                audit_events,
                web_audit_events: fixtures
                    .audit_actions
                    .iter()
                    .filter(|action| !action.starts_with("git."))
                    .count(),
                app_permissions: credentials(fixtures.credential_ids.len())
                    + fixtures.installation_count,
                two_factor_disabled: 0,
                ..posture
            };
        }
        let state = self.shared.state();
        let people = state.members.iter().chain(&state.outside);
        Expected {
            users: state.members.len() + state.outside.len(),
            admins: state.members.iter().filter(|p| p.admin).count(),
            outside: state.outside.len(),
            groups: state.teams.len(),
            group_memberships: state.teams.iter().map(|team| team.members.len()).sum(),
            audit_events: state.audit_len,
            web_audit_events: self.shared.audit.web_events(state.audit_len),
            app_permissions: credentials(state.credentials.len()) + state.installations.len(),
            two_factor_disabled: people.filter(|p| !p.two_factor).count(),
            ..posture
        }
    }
}

fn logins(people: &[model::Person]) -> Vec<String> {
    people.iter().map(|p| p.login.clone()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_audit_start_is_an_hour_and_the_events_before_now_in_whole_seconds() {
        let now = GITHUB_MOCK_EPOCH_MS + 86_400_000 + 123;
        assert_eq!(
            default_audit_start(now, 250, 1_000),
            GITHUB_MOCK_EPOCH_MS + 86_400_000 - 250_000 - 3_600_000
        );
        assert!(
            default_audit_start(now, usize::MAX, 1_000) < 0,
            "saturates, no overflow"
        );
    }
}
