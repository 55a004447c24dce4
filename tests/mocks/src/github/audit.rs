//! The organisation audit log: generated events, the `phrase` search syntax and
//! GitHub's cursor paging (`after` / `before` from the `Link` header).
//!
//! Event *i* happens at the log's anchor ([`GithubMockConfig::audit_start`]) + *i*
//! spacings (one second unless the config says otherwise) and is otherwise derived from *i* alone, so the log can hold hundreds of
//! thousands of events without storing them and appending events never changes earlier
//! ones. Cursors encode the event's timestamp
//! and `_document_id` (as GitHub's opaque cursors do), so a cursor stays valid while
//! the log grows and works in either `order`.
//!
//! [`GithubMockConfig::audit_start`]: super::GithubMockConfig::audit_start

use std::ops::Range;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, TimeDelta};
use serde::Serialize;

use super::model::{ORG_ID, Person, pick, splitmix64};
use crate::server::RequestUrl;

/// What an event was about, which decides its target fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    User,
    TeamUser,
    Repo,
    Git,
}

/// The actions generated events cycle through: (action, operation_type, target).
const ACTIONS: [(&str, &str, Target); 11] = [
    ("org.add_member", "create", Target::User),
    ("team.add_member", "modify", Target::TeamUser),
    ("repo.create", "create", Target::Repo),
    ("git.clone", "access", Target::Git),
    ("org.sso_response", "authentication", Target::User),
    ("oauth_authorization.create", "create", Target::User),
    ("repo.destroy", "remove", Target::Repo),
    ("org.update_member", "modify", Target::User),
    ("git.push", "access", Target::Git),
    ("team.remove_member", "modify", Target::TeamUser),
    ("org.remove_member", "remove", Target::User),
];

/// Generates the events of one organisation's log.
/// One audit-log event as GitHub sends it (see [`AuditLog::event`]).
#[derive(Debug, Serialize)]
pub(crate) struct AuditEvent<'a> {
    #[serde(rename = "@timestamp")]
    timestamp: i64,
    #[serde(rename = "_document_id")]
    document_id: String,
    action: &'static str,
    actor: String,
    actor_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    actor_ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    actor_location: Option<Location>,
    created_at: i64,
    operation_type: &'static str,
    org: &'a str,
    org_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    repo: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    repo_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    repository: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    repository_public: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    team: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transport_protocol: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transport_protocol_name: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_agent: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    visibility: Option<&'static str>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Location {
    country_code: &'static str,
}

#[derive(Debug, Clone)]
pub(crate) struct AuditLog {
    org: String,
    /// The organisation as first generated; history keeps naming removed members.
    roster: Vec<Person>,
    /// The roster's admins, who act in administrative events.
    admins: Vec<Person>,
    teams: usize,
    /// `@timestamp` of event 0, in milliseconds since the epoch.
    start_ms: i64,
    /// Milliseconds between consecutive events.
    spacing_ms: i64,
}

/// The fields a search can match without building the whole JSON body.
#[derive(Debug, Clone)]
struct Facts {
    action: &'static str,
    operation: &'static str,
    target: Target,
    actor: Person,
    user: Person,
    team: u64,
    repo: u64,
}

impl AuditLog {
    /// A log whose event 0 happens at `start_ms` (milliseconds since the epoch), the
    /// next ones `spacing_ms` apart.
    pub(crate) fn new(
        org: &str,
        roster: Vec<Person>,
        teams: usize,
        (start_ms, spacing_ms): (i64, i64),
    ) -> AuditLog {
        AuditLog {
            org: org.to_owned(),
            admins: roster.iter().filter(|p| p.admin).cloned().collect(),
            roster,
            teams,
            start_ms,
            spacing_ms: spacing_ms.max(1),
        }
    }

    /// `@timestamp` of event `index`.
    fn timestamp_ms(&self, index: usize) -> i64 {
        self.start_ms
            .saturating_add((index as i64).saturating_mul(self.spacing_ms))
    }

    /// The first event index (capped at `len`) whose timestamp is at or after `ms`.
    fn first_index_at_or_after(&self, ms: i64, len: usize) -> usize {
        if ms <= self.start_ms {
            return 0;
        }
        let offset = ms.saturating_sub(self.start_ms);
        let index =
            offset.div_euclid(self.spacing_ms) + i64::from(offset.rem_euclid(self.spacing_ms) != 0);
        usize::try_from(index).map_or(len, |index| index.min(len))
    }

    /// The opaque cursor of event `index`: URL-safe base64 of `<@timestamp>|<_document_id>`.
    fn cursor(&self, index: usize) -> String {
        URL_SAFE_NO_PAD.encode(format!(
            "{}|{}",
            self.timestamp_ms(index),
            document_id(index)
        ))
    }

    /// The `_document_id` of each of the first `len` events, oldest first.
    pub(crate) fn document_ids(&self, len: usize) -> Vec<String> {
        (0..len).map(document_id).collect()
    }

    fn facts(&self, index: usize) -> Facts {
        let (action, operation, target) = ACTIONS[index % ACTIONS.len()];
        // Admins administer; anyone may clone or push.
        let actor = if target == Target::Git || self.admins.is_empty() {
            pick(&self.roster, index * 7)
        } else {
            pick(&self.admins, index)
        };
        Facts {
            action,
            operation,
            target,
            actor,
            user: pick(&self.roster, index * 3 + 1),
            team: (index % self.teams.max(1)) as u64 + 1,
            repo: (index % 7) as u64 + 1,
        }
    }

    /// The `audit-log-event` body of event `index`.
    ///
    /// A typed struct rather than a `Value` map: the bench's ingest rows page through
    /// a million of these, and building and dropping a map per event made the mock
    /// the slowest link of the chain it is meant to feed. Fields are declared in
    /// sorted order, so the text is what a (sorted) `Value` map would print.
    pub(crate) fn event(&self, index: usize) -> AuditEvent<'_> {
        let facts = self.facts(index);
        let org = self.org.as_str();
        let at = self.timestamp_ms(index);
        let mut e = AuditEvent {
            timestamp: at,
            document_id: document_id(index),
            action: facts.action,
            actor: facts.actor.login,
            actor_id: facts.actor.id,
            actor_ip: None,
            actor_location: None,
            created_at: at,
            operation_type: facts.operation,
            org,
            org_id: ORG_ID,
            repo: None,
            repo_id: None,
            repository: None,
            repository_public: None,
            team: None,
            transport_protocol: None,
            transport_protocol_name: None,
            user: None,
            user_agent: None,
            user_id: None,
            visibility: None,
        };
        match facts.target {
            Target::User => {
                e.user = Some(facts.user.login);
                e.user_id = Some(facts.user.id);
            }
            Target::TeamUser => {
                e.team = Some(format!("{org}/team-{}", facts.team));
                e.user = Some(facts.user.login);
                e.user_id = Some(facts.user.id);
            }
            Target::Repo => {
                e.repo = Some(format!("{org}/repo-{}", facts.repo));
                e.repo_id = Some(700_000 + facts.repo);
                e.visibility = Some("private");
            }
            Target::Git => {
                let repo = format!("{org}/repo-{}", facts.repo);
                e.repository = Some(repo.clone());
                e.repo = Some(repo);
                e.repository_public = Some(false);
                e.transport_protocol = Some(1);
                e.transport_protocol_name = Some("http");
            }
        }
        // Only some events carry the client's address and agent, as on GitHub (IP
        // disclosure and the client decide); connectors must cope with both.
        if index.is_multiple_of(3) {
            e.actor_ip = Some(format!("203.0.113.{}", index % 250 + 1));
            e.actor_location = Some(Location { country_code: "US" });
        }
        if index % 4 == 1 {
            e.user_agent = Some(if facts.target == Target::Git {
                "git/2.43.0"
            } else {
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
            });
        }
        e
    }

    /// How many of the first `len` events `include=web` (the default) returns.
    pub(crate) fn web_events(&self, len: usize) -> usize {
        (0..len.min(ACTIONS.len()))
            .filter(|&i| ACTIONS[i].2 != Target::Git)
            .map(|i| (len - i).div_ceil(ACTIONS.len()))
            .sum()
    }

    /// Answers one `GET /orgs/{org}/audit-log` over the first `len` events.
    pub(crate) fn page(&self, query: &AuditQuery, len: usize) -> AuditPage {
        let all = query.created_range(self, len);
        let bounded = query.cursor_range(self, all.clone());
        let matches = |&index: &usize| query.matches(&self.facts(index));
        // Walk from the cursor outwards: `before` pages end next to the cursor.
        let walk_up = query.ascending != query.before.is_some();
        let mut found: Vec<usize> = if walk_up {
            bounded.filter(matches).take(query.per_page).collect()
        } else {
            bounded.rev().filter(matches).take(query.per_page).collect()
        };
        if query.before.is_some() {
            found.reverse();
        }
        let (Some(&first), Some(&last)) = (found.first(), found.last()) else {
            return AuditPage::default();
        };
        // Listing order → which side of an index comes "after" it.
        let following = |index: usize| -> Range<usize> {
            if query.ascending {
                index + 1..all.end
            } else {
                all.start..index
            }
        };
        let preceding = |index: usize| -> Range<usize> {
            if query.ascending {
                all.start..index
            } else {
                index + 1..all.end
            }
        };
        AuditPage {
            next: following(last)
                .into_iter()
                .any(|i| matches(&i))
                .then(|| self.cursor(last)),
            prev: preceding(first)
                .into_iter()
                .any(|i| matches(&i))
                .then(|| self.cursor(first)),
            events: found,
        }
    }
}

/// One page of events (by index, in listing order) and the cursors for its links.
#[derive(Debug, Default)]
pub(crate) struct AuditPage {
    pub(crate) events: Vec<usize>,
    /// `after=` cursor for rel="next", when more events follow.
    pub(crate) next: Option<String>,
    /// `before=` cursor for rel="prev", when events precede this page.
    pub(crate) prev: Option<String>,
}

/// A 22-character URL-safe id, unique per event, in the style of GitHub's.
fn document_id(index: usize) -> String {
    let index = index as u64;
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&splitmix64(index).to_be_bytes());
    bytes[8..].copy_from_slice(&splitmix64(index ^ 0x5EED_5EED_5EED_5EED).to_be_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The timestamp a cursor points at, or `None` if it is not one of ours.
fn decode_cursor(cursor: &str) -> Option<i64> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    let (timestamp, _document_id) = text.split_once('|')?;
    timestamp.parse().ok()
}

/// Which events `include` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Include {
    /// Everything but Git events (GitHub's default).
    Web,
    Git,
    All,
}

/// A `key:value` search term other than `created`; `-key:value` negates it.
#[derive(Debug, Clone)]
struct Term {
    key: String,
    value: String,
    negated: bool,
}

/// A parsed audit-log request.
#[derive(Debug, Clone)]
pub(crate) struct AuditQuery {
    ascending: bool,
    include: Include,
    /// `created:` bounds as a half-open millisecond range.
    created: Range<i64>,
    terms: Vec<Term>,
    per_page: usize,
    after: Option<i64>,
    before: Option<i64>,
}

impl AuditQuery {
    /// Reads `phrase`, `include`, `order`, `per_page`, `after` and `before`; the error is
    /// the message of GitHub's 422 answer.
    pub(crate) fn parse(url: &RequestUrl, max_per_page: usize) -> Result<AuditQuery, String> {
        let include = match url.param("include") {
            None | Some("web") => Include::Web,
            Some("git") => Include::Git,
            Some("all") => Include::All,
            Some(other) => return Err(format!("Invalid include value: {other}")),
        };
        let ascending = match url.param("order") {
            None | Some("desc") => false,
            Some("asc") => true,
            Some(other) => return Err(format!("Invalid order value: {other}")),
        };
        let cursor = |name: &str| -> Result<Option<i64>, String> {
            url.param(name)
                .map(|value| decode_cursor(value).ok_or_else(|| format!("Invalid {name} cursor")))
                .transpose()
        };
        let mut query = AuditQuery {
            ascending,
            include,
            created: i64::MIN..i64::MAX,
            terms: Vec::new(),
            per_page: super::routes::per_page(url, max_per_page),
            after: cursor("after")?,
            before: cursor("before")?,
        };
        for word in url.param("phrase").unwrap_or_default().split_whitespace() {
            let Some((key, value)) = word.split_once(':') else {
                continue; // Free text has no meaning in the audit log; GitHub ignores it.
            };
            if key == "created" {
                let range = created_range(value)
                    .ok_or_else(|| format!("Invalid created qualifier: {value}"))?;
                query.created =
                    query.created.start.max(range.start)..query.created.end.min(range.end);
            } else {
                let (key, negated) = key.strip_prefix('-').map_or((key, false), |k| (k, true));
                query.terms.push(Term {
                    key: key.to_owned(),
                    value: value.to_owned(),
                    negated,
                });
            }
        }
        Ok(query)
    }

    /// Indices of the events inside the `created:` bounds.
    fn created_range(&self, log: &AuditLog, len: usize) -> Range<usize> {
        let start = log.first_index_at_or_after(self.created.start, len);
        let end = log.first_index_at_or_after(self.created.end, len);
        start..end.max(start)
    }

    /// Narrows `range` to what lies beyond the `after` cursor / before the `before` one,
    /// in listing order.
    fn cursor_range(&self, log: &AuditLog, mut range: Range<usize>) -> Range<usize> {
        let len = range.end;
        let newer_than = |ms: i64| log.first_index_at_or_after(ms.saturating_add(1), len);
        let older_than = |ms: i64| log.first_index_at_or_after(ms, len);
        // `after` continues the listing; `before` goes back towards its start.
        for (cursor, towards_newer) in
            [(self.after, self.ascending), (self.before, !self.ascending)]
        {
            if let Some(ms) = cursor {
                if towards_newer {
                    range.start = range.start.max(newer_than(ms));
                } else {
                    range.end = range.end.min(older_than(ms));
                }
            }
        }
        range.start..range.end.max(range.start)
    }

    fn matches(&self, facts: &Facts) -> bool {
        let git = facts.target == Target::Git;
        let included = match self.include {
            Include::Web => !git,
            Include::Git => git,
            Include::All => true,
        };
        included && self.terms.iter().all(|term| term.matches(facts))
    }
}

impl Term {
    fn matches(&self, facts: &Facts) -> bool {
        let hit = match self.key.as_str() {
            // `action:team` means the whole `team.*` category.
            "action" if !self.value.contains('.') => facts
                .action
                .split_once('.')
                .is_some_and(|(category, _)| category == self.value),
            "action" => facts.action == self.value,
            "actor" => facts.actor.login == self.value,
            "user" => {
                matches!(facts.target, Target::User | Target::TeamUser)
                    && facts.user.login == self.value
            }
            "repo" => {
                matches!(facts.target, Target::Repo | Target::Git)
                    && self.value.ends_with(&format!("/repo-{}", facts.repo))
            }
            "team" => {
                facts.target == Target::TeamUser
                    && self.value.ends_with(&format!("/team-{}", facts.team))
            }
            "operation" => facts.operation == self.value,
            // Unknown qualifiers do not narrow the search.
            _ => true,
        };
        hit != self.negated
    }
}

/// The millisecond range a `created:` value selects: `>=T`, `>T`, `<=T`, `<T`, `T` or
/// `A..B` (either side may be `*`), where each T is a date (`2024-01-01`, the whole day)
/// or an RFC 3339 time (`2024-01-01T00:00:00Z`, that second).
fn created_range(value: &str) -> Option<Range<i64>> {
    if let Some((from, to)) = value.split_once("..") {
        let start = if from == "*" {
            i64::MIN
        } else {
            moment(from)?.start
        };
        let end = if to == "*" { i64::MAX } else { moment(to)?.end };
        return Some(start..end);
    }
    let (op, rest) = [">=", "<=", ">", "<"]
        .into_iter()
        .find_map(|op| value.strip_prefix(op).map(|rest| (op, rest)))
        .unwrap_or(("", value));
    let at = moment(rest)?;
    Some(match op {
        ">=" => at.start..i64::MAX,
        ">" => at.end..i64::MAX,
        "<=" => i64::MIN..at.end,
        "<" => i64::MIN..at.start,
        _ => at,
    })
}

/// The span one date or time value covers, in milliseconds.
fn moment(value: &str) -> Option<Range<i64>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(value) {
        let start = at.timestamp_millis();
        return Some(start..start + 1_000);
    }
    let day = NaiveDate::parse_from_str(value, "%Y-%m-%d").ok()?;
    let start = day.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis();
    Some(start..start + TimeDelta::days(1).num_milliseconds())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::github::model::BASE_TIME_MS;

    #[test]
    fn created_qualifiers_select_the_documented_spans() {
        let day = 86_400_000;
        assert_eq!(created_range(">=2024-01-01"), Some(BASE_TIME_MS..i64::MAX));
        assert_eq!(
            created_range(">2024-01-01"),
            Some(BASE_TIME_MS + day..i64::MAX)
        );
        assert_eq!(created_range("<2024-01-01"), Some(i64::MIN..BASE_TIME_MS));
        assert_eq!(
            created_range(">=2024-01-01T00:00:10Z"),
            Some(BASE_TIME_MS + 10_000..i64::MAX)
        );
        assert_eq!(
            created_range(">2024-01-01T00:00:10Z"),
            Some(BASE_TIME_MS + 11_000..i64::MAX)
        );
        assert_eq!(
            created_range("2024-01-01..2024-01-02"),
            Some(BASE_TIME_MS..BASE_TIME_MS + 2 * day)
        );
        assert_eq!(created_range(">=yesterday"), None);
    }

    #[test]
    fn cursors_round_trip_and_document_ids_are_unique() {
        let log = AuditLog::new("acme", Vec::new(), 0, (BASE_TIME_MS, 1_000));
        assert_eq!(decode_cursor(&log.cursor(41)), Some(BASE_TIME_MS + 41_000));
        assert_eq!(decode_cursor("not a cursor"), None);
        let ids: std::collections::HashSet<String> = (0..10_000).map(document_id).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(ids.iter().all(|id| id.len() == 22));
    }

    #[test]
    fn created_bounds_follow_the_logs_anchor() {
        let log = AuditLog::new("acme", Vec::new(), 0, (BASE_TIME_MS + 500, 1_000));
        assert_eq!(log.timestamp_ms(2), BASE_TIME_MS + 2_500);
        assert_eq!(log.first_index_at_or_after(BASE_TIME_MS, 10), 0);
        assert_eq!(log.first_index_at_or_after(BASE_TIME_MS + 1_000, 10), 1);
        assert_eq!(log.first_index_at_or_after(BASE_TIME_MS + 1_500, 10), 1);
        assert_eq!(log.first_index_at_or_after(BASE_TIME_MS + 1_501, 10), 2);
        assert_eq!(log.first_index_at_or_after(i64::MAX, 10), 10);
    }

    #[test]
    fn web_event_count_matches_a_scan() {
        let log = AuditLog::new("acme", Vec::new(), 0, (BASE_TIME_MS, 1_000));
        for len in [0, 1, 3, 4, 11, 250, 1001] {
            let scanned = (0..len)
                .filter(|&i| log.facts(i).target != Target::Git)
                .count();
            assert_eq!(log.web_events(len), scanned, "len {len}");
        }
    }
}
