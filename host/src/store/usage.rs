//! What each instance keeps in the store, in bytes, and the caps a commit is held to.
//!
//! The count is kept under its own key (`USAGE_TAG`, instance) and moves in the same
//! write as the page it counts: snapshot records as the difference between what a
//! page writes and what it replaces, activities as the (compressed) blocks a page
//! adds. A store written before the count existed gets it computed once from the
//! instance's records, the first time it is asked.

use super::{Store, StoreError, prefix, tagged};

/// Key-space tag of the per-instance byte count.
pub(super) const USAGE_TAG: u8 = 0x04;

pub(super) fn usage_key(instance_id: &str) -> Vec<u8> {
    tagged(USAGE_TAG, prefix(&[instance_id.as_bytes()]))
}

/// What one page's commit may add.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommitCaps {
    /// Bytes of one page's records, uncompressed, as stored.
    pub page_bytes: u64,
    /// Bytes an instance's records may take in the store.
    pub instance_bytes: u64,
}

impl CommitCaps {
    pub const NONE: CommitCaps = CommitCaps {
        page_bytes: u64::MAX,
        instance_bytes: u64::MAX,
    };

    /// Refuse a page of `page_bytes` that would bring the instance from `usage` to
    /// `usage + delta`. Shrinking is always allowed (a rescan that drops data).
    pub(super) fn admit(&self, page_bytes: u64, usage: u64, delta: i64) -> Result<u64, StoreError> {
        if page_bytes > self.page_bytes {
            return Err(StoreError::Cap(format!(
                "a page of {} exceeds the cap of {} per page (daemon --max-page-bytes); nothing of it was stored",
                mib(page_bytes),
                mib(self.page_bytes)
            )));
        }
        let after = usage.saturating_add_signed(delta);
        if delta > 0 && after > self.instance_bytes {
            return Err(StoreError::Cap(format!(
                "the instance's store would grow to {}, over its cap of {} (daemon --max-instance-bytes); nothing of this page was stored",
                mib(after),
                mib(self.instance_bytes)
            )));
        }
        Ok(after)
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
}

impl Store {
    /// Bytes the instance's records take in the store (keys and values as written;
    /// activity blocks compressed).
    pub fn usage(&self, instance_id: &str) -> Result<u64, StoreError> {
        if let Some(v) = self.t()?.records.get(usage_key(instance_id))? {
            let bytes: [u8; 8] = v.as_ref().try_into().map_err(|_| {
                StoreError::Corrupt(format!("usage count of {instance_id} is not 8 bytes"))
            })?;
            return Ok(u64::from_be_bytes(bytes));
        }
        let mut total = 0u64;
        for item in self
            .t()?
            .records
            .scan_prefix(prefix(&[instance_id.as_bytes()]))
        {
            let (k, v) = item?;
            total += (k.len() + v.len()) as u64;
        }
        Ok(total)
    }
}
