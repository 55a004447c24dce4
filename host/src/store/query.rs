//! Filtered, cursor-paginated reads of collected records (the API's and CLI's queries).
//!
//! Cursors are positions in the key space, not offsets: a page continues strictly after
//! the last key returned, so records added while a client pages (new activities, a
//! rescan) never shift or repeat what it already read. Activities page newest first
//! through the time index; other kinds in provider-id order.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::{SEP, Store, StoreError, StoredRecord, from_json, prefix, prefix_end};
use crate::model::{Kind, Millis, Record, UserStatus};

/// Most records one page may hold.
pub const MAX_PAGE: usize = 1000;
/// Records per page when the caller does not say.
pub const DEFAULT_PAGE: usize = 100;

/// What to select. Each field narrows the result; a field that does not apply to the
/// kind is refused by [`RecordFilter::validate`] rather than silently ignored.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RecordFilter {
    /// Activities at or after this time (ms since the epoch).
    pub since: Option<Millis>,
    /// Activities at or before this time.
    pub until: Option<Millis>,
    /// Activities by this actor; files by this owner; app permissions granted to this
    /// principal (case-insensitive).
    pub actor: Option<String>,
    /// Activities of this kind: `logon`, `user` or `admin`.
    pub kind: Option<String>,
    /// Users in this status (`active`, `suspended`, `disabled`, `deleted`); findings
    /// that `pass` or `fail`.
    pub status: Option<String>,
    /// Free text, matched case-insensitively anywhere in the record (raw JSON included).
    pub q: Option<String>,
    /// Files shared this way: `public` (a link anyone can open), `external` (a public
    /// link or a principal outside the organisation), `internal` (neither).
    #[serde(default)]
    pub shared: Option<String>,
    /// Files whose content inspection matched this classifier (`card`, `iban`, an
    /// operator rule's name, …).
    #[serde(default)]
    pub classifier: Option<String>,
    /// Include records marked deleted (gone from the provider since a scan).
    #[serde(default)]
    pub include_deleted: bool,
}

/// One page of a query.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RecordPage {
    pub items: Vec<StoredRecord>,
    /// Pass back as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl RecordFilter {
    /// Refuse filters that do not apply to `kind`, with the reason.
    pub fn validate(&self, kind: Kind) -> Result<(), String> {
        let only = |field: &str, ok: bool, kinds: &str| {
            if ok {
                Ok(())
            } else {
                Err(format!(
                    "the `{field}` filter applies to {kinds}, not {kind}"
                ))
            }
        };
        if self.since.is_some() || self.until.is_some() {
            only("since/until", kind == Kind::Activities, "activities")?;
        }
        if let (Some(s), Some(u)) = (self.since, self.until)
            && s > u
        {
            return Err("`since` is after `until`".into());
        }
        if self.actor.is_some() {
            only(
                "actor",
                matches!(kind, Kind::Activities | Kind::Files | Kind::AppPermissions),
                "activities, files and app-permissions",
            )?;
        }
        if let Some(k) = &self.kind {
            only("kind", kind == Kind::Activities, "activities")?;
            if !["logon", "user", "admin"].contains(&k.as_str()) {
                return Err(format!(
                    "unknown activity kind `{k}` (expected logon, user or admin)"
                ));
            }
        }
        if let Some(s) = &self.shared {
            only("shared", kind == Kind::Files, "files")?;
            if !SHARED.contains(&s.as_str()) {
                return Err(format!(
                    "unknown sharing `{s}` (expected public, external or internal)"
                ));
            }
        }
        if self.classifier.is_some() {
            only("classifier", kind == Kind::Files, "files")?;
        }
        if let Some(s) = &self.status {
            match kind {
                Kind::Users => {
                    if serde_json::from_value::<UserStatus>(serde_json::Value::String(s.clone()))
                        .is_err()
                    {
                        return Err(format!(
                            "unknown user status `{s}` (expected active, suspended, disabled or deleted)"
                        ));
                    }
                }
                Kind::Findings => {
                    if s != "pass" && s != "fail" {
                        return Err(format!(
                            "unknown finding status `{s}` (expected pass or fail)"
                        ));
                    }
                }
                _ => only("status", false, "users and findings")?,
            }
        }
        Ok(())
    }

    fn matches(&self, r: &StoredRecord) -> bool {
        if r.deleted && !self.include_deleted {
            return false;
        }
        let eq = |a: &Option<String>, want: &str| {
            a.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(want))
        };
        match &r.record {
            Record::Activity(a) => {
                if self.since.is_some_and(|s| a.time < s) || self.until.is_some_and(|u| a.time > u)
                {
                    return false;
                }
                if let Some(actor) = &self.actor
                    && !eq(&a.actor, actor)
                {
                    return false;
                }
                if let Some(k) = &self.kind
                    && serde_json::to_value(a.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        != Some(k.clone())
                {
                    return false;
                }
            }
            Record::File(f) => {
                if let Some(actor) = &self.actor
                    && !eq(&f.owner, actor)
                {
                    return false;
                }
                let external = f.public || f.shared_externally;
                match self.shared.as_deref() {
                    Some("public") if !f.public => return false,
                    Some("external") if !external => return false,
                    Some("internal") if external => return false,
                    _ => {}
                }
            }
            Record::AppPermission(p) => {
                if let Some(actor) = &self.actor
                    && !eq(&p.grantee, actor)
                {
                    return false;
                }
            }
            Record::User(u) => {
                if let Some(s) = &self.status
                    && serde_json::to_value(u.status)
                        .ok()
                        .and_then(|v| v.as_str().map(String::from))
                        != Some(s.clone())
                {
                    return false;
                }
            }
            Record::Finding(f) => {
                if let Some(s) = &self.status
                    && (s == "pass") != f.passed
                {
                    return false;
                }
            }
            Record::Group(_) => {}
        }
        if let Some(q) = &self.q {
            let text = serde_json::to_string(&r.record).unwrap_or_default();
            if !contains_ignore_case(&text, q) {
                return false;
            }
        }
        true
    }
}

/// The values of [`RecordFilter::shared`].
const SHARED: [&str; 3] = ["public", "external", "internal"];

fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(&needle.to_lowercase())
}

fn encode_cursor(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn decode_cursor(cursor: &str) -> Result<Vec<u8>, StoreError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| StoreError::BadCursor(cursor.to_string()))
}

impl Store {
    /// One page of `kind` records of an instance that match `filter`, after `cursor`.
    pub fn query(
        &self,
        instance_id: &str,
        kind: Kind,
        filter: &RecordFilter,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<RecordPage, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE);
        let after = cursor.map(decode_cursor).transpose()?;
        let mut items = Vec::new();
        let mut last_pos: Option<Vec<u8>> = None;
        if kind == Kind::Activities {
            // Positions are `time(8) \0 id` (the id may be empty, times before the epoch
            // count as the epoch): the cursor is the last one returned, and `until` is
            // the first position time past the range, none when nothing is.
            let mut before = filter
                .until
                .and_then(|u| u.max(0).checked_add(1))
                .map(|u| u.to_be_bytes().to_vec());
            if let Some(a) = after {
                if a.len() < 9 || a[8] != SEP {
                    return Err(StoreError::BadCursor(cursor.unwrap_or_default().into()));
                }
                before = Some(before.map_or(a.clone(), |b| b.min(a)));
            }
            for item in self.activities_desc(instance_id, filter.since, before)? {
                let (pos, r) = item?;
                if filter.matches(&r) {
                    items.push(r);
                    last_pos = Some(pos);
                    if items.len() == limit {
                        break;
                    }
                }
            }
        } else {
            let p = prefix(&[instance_id.as_bytes(), kind.as_str().as_bytes()]);
            let lo = match &after {
                // Strictly after the cursor's id: append a byte that sorts first.
                Some(a) => [p.as_slice(), a, &[0u8]].concat(),
                None => p.clone(),
            };
            for item in self.t()?.records.range(lo..prefix_end(&p)) {
                let (k, v) = item?;
                let mut r: StoredRecord = from_json(&v)?;
                if !filter.matches(&r) {
                    continue;
                }
                if let Record::File(f) = &r.record {
                    r.inspection = self.inspection(instance_id, &f.id)?;
                    if let Some(c) = &filter.classifier
                        && !r.inspection.as_ref().is_some_and(|i| i.matched(c))
                    {
                        continue;
                    }
                }
                {
                    items.push(r);
                    last_pos = Some(k[p.len()..].to_vec());
                    if items.len() == limit {
                        break;
                    }
                }
            }
        }
        let next_cursor = if items.len() == limit {
            last_pos.map(|p| encode_cursor(&p))
        } else {
            None
        };
        Ok(RecordPage { items, next_cursor })
    }
}
