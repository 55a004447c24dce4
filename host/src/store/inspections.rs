//! Content inspection results, one per file: which version of the file was inspected
//! and what was found (`crate::inspection` writes them after a files scan).
//!
//! Kept beside the instance's records under their own tag (`INSPECT_TAG`, instance,
//! file id), so removing an instance removes them, and a rescan that replaces a file
//! record leaves its result in place: the next inspection run compares versions.

use serde::{Deserialize, Serialize};

use super::{Store, StoreError, StoredRecord, from_json, key, prefix, prefix_end, tagged, to_json};
use crate::model::{File, Kind, Millis, Record};

/// Key-space tag of inspection results.
pub(super) const INSPECT_TAG: u8 = 0x05;

fn inspection_key(instance_id: &str, file_id: &str) -> Vec<u8> {
    tagged(
        INSPECT_TAG,
        key(&[instance_id.as_bytes(), file_id.as_bytes()]),
    )
}

/// One file's inspection.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FileInspection {
    /// The version inspected ([`file_version`]); a file listed with another version is
    /// inspected again.
    pub version: String,
    /// Matched classifiers with counts and redacted snippets, or why the content was
    /// not inspected.
    pub outcome: sluice_inspect::Outcome,
    pub inspected_at: Millis,
    /// Time the inspection took, reading included (ms).
    pub took_ms: u64,
}

impl FileInspection {
    /// Whether classifier `name` matched (case-insensitive).
    pub fn matched(&self, name: &str) -> bool {
        match &self.outcome {
            sluice_inspect::Outcome::Inspected { hits, .. } => {
                hits.iter().any(|h| h.classifier.eq_ignore_ascii_case(name))
            }
            sluice_inspect::Outcome::NotInspected { .. } => false,
        }
    }
}

/// What identifies a version of a file's content: the provider's content hash, else
/// its modified time and size, else its size. A provider that gives none of them
/// cannot tell a change, so such a file is inspected once.
pub fn file_version(file: &File) -> String {
    if let Some(hash) = &file.content_hash {
        return format!("{}:{}", hash.algorithm, hash.value);
    }
    match (file.modified, file.size) {
        (Some(m), Some(s)) => format!("modified:{m}/size:{s}"),
        (Some(m), None) => format!("modified:{m}"),
        (None, Some(s)) => format!("size:{s}"),
        (None, None) => "unversioned".into(),
    }
}

impl Store {
    /// The stored inspection of file `file_id`, whichever version it was.
    pub fn inspection(
        &self,
        instance_id: &str,
        file_id: &str,
    ) -> Result<Option<FileInspection>, StoreError> {
        match self
            .t()?
            .records
            .get(inspection_key(instance_id, file_id))?
        {
            Some(v) => Ok(Some(from_json(&v)?)),
            None => Ok(None),
        }
    }

    /// Save a file's inspection (replacing the one of an older version).
    pub fn put_inspection(
        &self,
        instance_id: &str,
        file_id: &str,
        inspection: &FileInspection,
    ) -> Result<(), StoreError> {
        self.t()?
            .records
            .insert(inspection_key(instance_id, file_id), to_json(inspection)?)?;
        Ok(())
    }

    /// The instance's files not marked deleted, in id order, read lazily (a tenant
    /// may hold many).
    pub fn live_files(
        &self,
        instance_id: &str,
    ) -> Result<impl Iterator<Item = Result<File, StoreError>> + Send + 'static, StoreError> {
        let p = prefix(&[instance_id.as_bytes(), Kind::Files.as_str().as_bytes()]);
        let end = prefix_end(&p);
        let iter = self.t()?.records.range(p..end);
        Ok(iter.filter_map(|item| {
            let result = item.map_err(StoreError::from).and_then(|(_, v)| {
                let r: StoredRecord = from_json(&v)?;
                Ok((!r.deleted).then_some(r.record))
            });
            match result {
                Ok(Some(Record::File(f))) => Some(Ok(f)),
                Ok(_) => None,
                Err(e) => Some(Err(e)),
            }
        }))
    }
}
