//! Signed webhook deliveries already accepted, so a replayed one is refused, across
//! restarts: a signature digest and when it was first seen, forgotten after the
//! replay window.

use sha2::{Digest, Sha256};

use super::{Store, StoreError};
use crate::model::{Millis, now_millis};

/// How long a delivery's signature is remembered (providers retry for hours at most).
pub const HOOK_REPLAY_WINDOW_MS: Millis = 24 * 3600 * 1000;

/// Sweep remembered signatures past the window once per this many deliveries.
const SWEEP_EVERY: u64 = 256;

impl Store {
    /// Remember a signed delivery; `false` if it was accepted within the window
    /// before (a replay). Atomic: of two concurrent deliveries of one signature, one
    /// wins.
    pub fn hook_first_seen(&self, signature: &[u8]) -> Result<bool, StoreError> {
        let t = self.t()?;
        let key = Sha256::digest(signature);
        let now = now_millis();
        let fresh = |v: &[u8]| {
            <[u8; 8]>::try_from(v)
                .map(|b| now - Millis::from_be_bytes(b) < HOOK_REPLAY_WINDOW_MS)
                .unwrap_or(false)
        };
        let mut first = false;
        t.hooks_seen
            .fetch_and_update(key.as_slice(), |old| match old {
                Some(v) if fresh(v) => {
                    first = false;
                    Some(v.to_vec())
                }
                _ => {
                    first = true;
                    Some(now.to_be_bytes().to_vec())
                }
            })?;
        if first && t.db.generate_id()? % SWEEP_EVERY == 0 {
            for item in t.hooks_seen.iter() {
                let (k, v) = item?;
                if !fresh(&v) {
                    t.hooks_seen.remove(k)?;
                }
            }
        }
        Ok(first)
    }
}
