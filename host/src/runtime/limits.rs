//! Per-call sandbox limits: CPU time (enforced by epoch interruption in
//! `Runtime::new_store`), wall-clock time, time blocked outside wasm and HTTP (a WASI
//! sleep or poll), what one host call may carry in, and the memory and table caps of
//! one call's instance, summed over every memory and table the component has.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

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
    /// Time one call may spend blocked in host calls other than HTTP requests (a WASI
    /// `sleep` or `poll`): such a wait uses no CPU, so the CPU budget never fires, yet
    /// it holds a scan slot.
    pub blocked_time: Duration,
    /// The same, summed over every call of one session (a scan job, an action).
    pub session_blocked_time: Duration,
    /// Wall-clock time `describe()` may take. It runs when a plugin is loaded, which
    /// every CLI command reading the plugins folder does, so it must not wait.
    pub describe_time: Duration,
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
            blocked_time: Duration::from_secs(10),
            session_blocked_time: Duration::from_secs(60),
            describe_time: Duration::from_secs(2),
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

/// Where one call's time goes, readable from outside the call (its watchdog) while
/// the call runs: wasm, HTTP requests, and other host calls (WASI sleep and poll,
/// config reads, logging). Fed by the store's call hook and the HTTP import.
#[derive(Debug)]
pub(super) struct CallClock {
    started: Instant,
    /// Nanoseconds spent in finished host calls of any kind.
    host: AtomicU64,
    /// Nanoseconds spent in finished HTTP requests (part of `host`).
    http: AtomicU64,
    /// While in a host call: 1 + when it began, in nanoseconds since `started`.
    entered: AtomicU64,
    /// Host calls in progress: a host call can nest another (lowering a response
    /// into the guest calls its allocator, whose `memory.grow` is a host call).
    depth: AtomicU32,
    /// While an HTTP request is in flight: 1 + when it began, as `entered`.
    http_since: AtomicU64,
}

impl CallClock {
    pub(super) fn new() -> CallClock {
        CallClock {
            started: Instant::now(),
            host: AtomicU64::new(0),
            http: AtomicU64::new(0),
            entered: AtomicU64::new(0),
            depth: AtomicU32::new(0),
            http_since: AtomicU64::new(0),
        }
    }

    fn now(&self) -> u64 {
        self.started.elapsed().as_nanos() as u64
    }

    /// The guest calls into the host.
    /// Only the outermost host call counts: a nested one is inside its time.
    pub(super) fn enter_host(&self) {
        if self.depth.fetch_add(1, Ordering::AcqRel) == 0 {
            self.entered.store(self.now() + 1, Ordering::Release);
        }
    }

    /// The host call returns to the guest.
    pub(super) fn leave_host(&self) {
        let depth = self.depth.load(Ordering::Acquire);
        if depth == 0 {
            return;
        }
        self.depth.store(depth - 1, Ordering::Release);
        if depth > 1 {
            return;
        }
        let entered = self.entered.swap(0, Ordering::AcqRel);
        if entered != 0 {
            let spent = self.now().saturating_sub(entered - 1);
            self.host.fetch_add(spent, Ordering::AcqRel);
        }
    }

    /// An HTTP request (inside a host call) starts or ends: its time is a legitimate
    /// wait, bounded by the request timeout, not blocked time.
    pub(super) fn http_started(&self) {
        self.http_since.store(self.now() + 1, Ordering::Release);
    }

    pub(super) fn http_finished(&self) {
        let since = self.http_since.swap(0, Ordering::AcqRel);
        if since != 0 {
            let spent = self.now().saturating_sub(since - 1);
            self.http.fetch_add(spent, Ordering::AcqRel);
        }
    }

    /// Time since a mark (`entered`, `http_since`) was set; zero when unset.
    fn since(&self, mark: &AtomicU64) -> u64 {
        match mark.load(Ordering::Acquire) {
            0 => 0,
            e => self.now().saturating_sub(e - 1),
        }
    }

    /// Time in wasm so far: what the CPU budget limits.
    pub(super) fn guest(&self) -> Duration {
        let host = self.host.load(Ordering::Acquire) + self.since(&self.entered);
        Duration::from_nanos(self.now().saturating_sub(host))
    }

    /// Time blocked in host calls other than HTTP requests so far.
    pub(super) fn blocked(&self) -> Duration {
        let host = self.host.load(Ordering::Acquire) + self.since(&self.entered);
        let http = self.http.load(Ordering::Acquire) + self.since(&self.http_since);
        Duration::from_nanos(host.saturating_sub(http))
    }
}

/// Blocked time (see [`SandboxLimits::session_blocked_time`]) summed over the calls of
/// one session; shared by the clones of its call context.
#[derive(Debug, Default)]
pub struct SessionClock(AtomicU64);

impl SessionClock {
    pub fn blocked(&self) -> Duration {
        Duration::from_nanos(self.0.load(Ordering::Acquire))
    }

    pub(super) fn add(&self, d: Duration) {
        self.0.fetch_add(d.as_nanos() as u64, Ordering::AcqRel);
    }
}
