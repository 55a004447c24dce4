//! Fixtures mode: list endpoints answer with GitHub's own published example bodies
//! (`shared/fixtures/github`), byte for byte, so connectors are tested against what
//! GitHub documents rather than against what this mock generates.
//!
//! The files are read once at start and never copied into the repository; only the
//! few facts tests need (logins, ids, counts) are parsed out of them.

use std::collections::HashSet;
use std::io;
use std::path::Path;

use serde_json::Value;

/// The fixture bodies and what `expected()` and the DELETE routes need from them.
#[derive(Debug, Clone)]
pub(crate) struct Fixtures {
    pub(crate) members: String,
    pub(crate) outside_collaborators: String,
    pub(crate) teams: String,
    pub(crate) audit_log: String,
    pub(crate) credential_authorizations: String,
    pub(crate) installations: String,
    pub(crate) member_logins: Vec<String>,
    pub(crate) outside_logins: Vec<String>,
    pub(crate) credential_ids: Vec<u64>,
    /// Distinct user ids across members and outside collaborators (the examples reuse
    /// `octocat` in both).
    pub(crate) distinct_users: usize,
    pub(crate) team_count: usize,
    pub(crate) audit_actions: Vec<String>,
    /// `_document_id` of each example audit event, in file order.
    pub(crate) audit_document_ids: Vec<String>,
    pub(crate) installation_count: usize,
}

impl Fixtures {
    pub(crate) fn load(dir: &Path) -> io::Result<Fixtures> {
        let read = |name: &str| -> io::Result<(String, Value)> {
            let path = dir.join(name);
            let text = std::fs::read_to_string(&path)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
            let value = serde_json::from_str(&text).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            })?;
            Ok((text, value))
        };
        let (members, members_json) = read("org-members.json")?;
        let (outside_collaborators, outside_json) = read("org-outside-collaborators.json")?;
        let (teams, teams_json) = read("org-teams.json")?;
        let (audit_log, audit_json) = read("org-audit-log.json")?;
        let (credential_authorizations, credentials_json) =
            read("org-credential-authorizations.json")?;
        let (installations, installations_json) = read("org-installations.json")?;

        let strings = |list: &Value, field: &str| -> Vec<String> {
            items(list)
                .filter_map(|item| item[field].as_str().map(str::to_owned))
                .collect()
        };
        let distinct_users = items(&members_json)
            .chain(items(&outside_json))
            .filter_map(|user| user["id"].as_u64())
            .collect::<HashSet<_>>()
            .len();
        Ok(Fixtures {
            member_logins: strings(&members_json, "login"),
            outside_logins: strings(&outside_json, "login"),
            credential_ids: items(&credentials_json)
                .filter_map(|item| item["credential_id"].as_u64())
                .collect(),
            distinct_users,
            team_count: items(&teams_json).count(),
            audit_actions: strings(&audit_json, "action"),
            audit_document_ids: strings(&audit_json, "_document_id"),
            installation_count: items(&installations_json["installations"]).count(),
            members,
            outside_collaborators,
            teams,
            audit_log,
            credential_authorizations,
            installations,
        })
    }
}

fn items(list: &Value) -> impl Iterator<Item = &Value> {
    list.as_array().into_iter().flatten()
}
