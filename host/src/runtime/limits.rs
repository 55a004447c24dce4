//! Per-call sandbox limits: CPU time (enforced by epoch interruption in
//! `Runtime::new_store`), wall-clock time, what one host call may carry in, and the
//! memory and table caps of one call's instance, summed over every memory and table
//! the component has.

use std::time::Duration;

/// Per-call sandbox limits.
#[derive(Clone, Debug)]
pub struct SandboxLimits {
    /// Linear memory a plugin may grow to, per call.
    pub memory_bytes: usize,
    /// Time a call may spend executing wasm (time waiting on host calls such as HTTP
    /// does not count): a runaway loop is stopped after this.
    pub cpu_time: Duration,
    /// Time a whole call may take, HTTP waits included.
    pub wall_time: Duration,
    /// Bytes a plugin may hand the host in one host call (a request with its body, a
    /// log line): wasmtime's "hostcall fuel", whose 128 MiB default would let one
    /// call make the host allocate that much. Connector requests carry kilobytes.
    pub hostcall_bytes: usize,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        SandboxLimits {
            memory_bytes: 256 * 1024 * 1024,
            cpu_time: Duration::from_secs(1),
            wall_time: Duration::from_secs(300),
            hostcall_bytes: 4 << 20,
        }
    }
}

/// Table elements one call's instance may hold across all its tables.
pub(super) const MAX_TABLE_ELEMENTS: usize = 100_000;

/// Caps the linear memory and table elements of one call's instance, summed over
/// every memory and table of the component (a component of several core modules has
/// several), and remembers that it did, for a clear error.
pub(super) struct MemoryCap {
    pub(super) max: usize,
    /// Bytes of every linear memory of the instance together.
    used: usize,
    /// Elements of every table of the instance together.
    table_elements: usize,
    pub(super) hit: bool,
}

impl MemoryCap {
    pub(super) fn new(max: usize) -> MemoryCap {
        MemoryCap {
            max,
            used: 0,
            table_elements: 0,
            hit: false,
        }
    }
}

impl wasmtime::ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = (self.used - current.min(self.used)).saturating_add(desired);
        if total > self.max {
            self.hit = true;
            wasmtime::bail!("plugin exceeded its memory cap of {} MiB", self.max >> 20);
        }
        self.used = total;
        Ok(true)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total =
            (self.table_elements - current.min(self.table_elements)).saturating_add(desired);
        if total > MAX_TABLE_ELEMENTS {
            return Ok(false);
        }
        self.table_elements = total;
        Ok(true)
    }
}
