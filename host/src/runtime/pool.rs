//! The pooling allocator's slots, shared fairly: per-instance resource caps that make
//! an admitted call always fit, and admission with a share per connector and instance.

use std::sync::Arc;

/// Per-instance resources a component may use in the pool, whatever it asks: with
/// the pool's totals set to `slots ×` these, a call that holds a slot always fits, so
/// instantiating never fails for want of pool memory, tables or instances. A
/// component needing more is refused at load with a clear error.
pub const POOL_MEMORIES_PER_INSTANCE: u32 = 4;
/// See [`POOL_MEMORIES_PER_INSTANCE`].
pub const POOL_TABLES_PER_INSTANCE: u32 = 8;
/// See [`POOL_MEMORIES_PER_INSTANCE`] (componentize-py's Python components use about a
/// dozen core instances).
pub const POOL_CORE_INSTANCES_PER_INSTANCE: u32 = 32;

/// Admission to the pooling allocator's slots.
///
/// A call holds a slot from instantiation to the end of the call, HTTP waits and
/// WASI sleeps included, so calls that block would otherwise starve every other
/// plugin. Each connector may hold at most half of the slots and each instance a
/// quarter (at least one each); a call beyond its share, or beyond the pool, waits in
/// line (tokio's semaphores are FIFO) instead of failing.
pub(super) struct PoolGate {
    slots: Arc<tokio::sync::Semaphore>,
    per_connector: KeyedShare,
    per_instance: KeyedShare,
}

/// A share of permits per key (connector id, instance id); a key's semaphore lives
/// while some call of that key holds or waits for it.
struct KeyedShare {
    share: usize,
    keys: std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Semaphore>>>,
}

/// A held share; releases the key's entry when its last holder is gone.
struct SharePermit<'a> {
    owner: &'a KeyedShare,
    key: String,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl KeyedShare {
    fn new(share: usize) -> KeyedShare {
        KeyedShare {
            share: share.max(1),
            keys: Default::default(),
        }
    }

    async fn acquire(&self, key: &str) -> Option<SharePermit<'_>> {
        let semaphore = {
            let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
            keys.entry(key.to_string())
                .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(self.share)))
                .clone()
        };
        // Registered as a holder before waiting, so the entry outlives the wait.
        let mut held = SharePermit {
            owner: self,
            key: key.to_string(),
            permit: None,
        };
        held.permit = Some(semaphore.acquire_owned().await.ok()?);
        Some(held)
    }
}

impl Drop for SharePermit<'_> {
    fn drop(&mut self) {
        drop(self.permit.take());
        let mut keys = self.owner.keys.lock().unwrap_or_else(|p| p.into_inner());
        // Only the map holds it and no permit is out: nobody holds or waits.
        if keys
            .get(&self.key)
            .is_some_and(|s| Arc::strong_count(s) == 1 && s.available_permits() == self.owner.share)
        {
            keys.remove(&self.key);
        }
    }
}

/// Everything a call holds in the pool; dropped with the call's store.
pub(super) struct PoolAdmission<'a> {
    _slot: tokio::sync::OwnedSemaphorePermit,
    _instance: Option<SharePermit<'a>>,
    _connector: SharePermit<'a>,
}

impl PoolGate {
    pub(super) fn new(slots: u32) -> PoolGate {
        let slots = slots.max(1) as usize;
        PoolGate {
            slots: Arc::new(tokio::sync::Semaphore::new(slots)),
            per_connector: KeyedShare::new(slots / 2),
            per_instance: KeyedShare::new(slots / 4),
        }
    }

    /// Wait for this connector's and instance's share, then for a slot. `None` once
    /// the runtime is shutting down.
    pub(super) async fn admit(&self, connector: &str, instance: &str) -> Option<PoolAdmission<'_>> {
        let connector = self.per_connector.acquire(connector).await?;
        let instance = match instance {
            "" => None,
            id => Some(self.per_instance.acquire(id).await?),
        };
        let slot = self.slots.clone().acquire_owned().await.ok()?;
        Some(PoolAdmission {
            _slot: slot,
            _instance: instance,
            _connector: connector,
        })
    }
}
