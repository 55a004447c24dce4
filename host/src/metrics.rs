//! Process-wide counters, exposed by the admin API at `/metrics` in the Prometheus text
//! format (through `prometheus-client`).
//!
//! One [`Metrics`] per process, shared by the HTTP capability (outbound requests), the
//! daemon's scan runner (scans, pages, records, errors, traps, rate-limit waits) and the
//! API. Labels carry instance names, so a dashboard can break every series down by
//! instance; with thousands of instances that is still a few series per instance.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::model::KindReport;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ScanLabels {
    pub instance: String,
    pub kind: String,
    /// `ok`, `error`, `stopped` or `skipped`.
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub instance: String,
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub instance: String,
    pub kind: String,
    /// The connector error case (`unauthorized`, `rate-limited`, `trap`, …).
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConnectorLabels {
    pub connector: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct InstanceLabels {
    pub instance: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub instance: String,
    /// The status code, or `denied` (egress policy) / `failed` (no response).
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabels {
    pub state: String,
}

/// Every series sluice exports.
pub struct Metrics {
    registry: Registry,
    pub scans: Family<ScanLabels, Counter>,
    pub pages: Family<KindLabels, Counter>,
    pub records: Family<KindLabels, Counter>,
    pub scan_errors: Family<ErrorLabels, Counter>,
    pub plugin_traps: Family<ConnectorLabels, Counter>,
    /// Time scans were held back by provider rate limits, in seconds.
    pub ratelimit_wait_seconds: Family<InstanceLabels, Counter<f64>>,
    pub http_requests: Family<HttpLabels, Counter>,
    /// Requests sent again after a throttle, 5xx, timeout or connection error.
    pub http_retries: Family<InstanceLabels, Counter>,
    /// Throttling answers from providers.
    pub provider_throttles: Family<InstanceLabels, Counter>,
    pub http_bytes_in: Counter,
    /// Instances per status (connected, scanning, error, disabled, …).
    pub instances: Family<StateLabels, Gauge>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut m = Metrics {
            registry: Registry::with_prefix("sluice"),
            scans: Family::default(),
            pages: Family::default(),
            records: Family::default(),
            scan_errors: Family::default(),
            plugin_traps: Family::default(),
            ratelimit_wait_seconds: Family::default(),
            http_requests: Family::default(),
            http_retries: Family::default(),
            provider_throttles: Family::default(),
            http_bytes_in: Counter::default(),
            instances: Family::default(),
        };
        m.registry
            .register("scans", "Scans finished, by outcome", m.scans.clone());
        m.registry
            .register("pages", "Pages committed to the store", m.pages.clone());
        m.registry.register(
            "records",
            "Records committed to the store",
            m.records.clone(),
        );
        m.registry.register(
            "scan_errors",
            "Scans that ended in a connector error, by error case",
            m.scan_errors.clone(),
        );
        m.registry.register(
            "plugin_traps",
            "Plugin calls that trapped (panic, CPU or memory limit)",
            m.plugin_traps.clone(),
        );
        m.registry.register(
            "ratelimit_wait_seconds",
            "Seconds scans were held back by provider rate limits",
            m.ratelimit_wait_seconds.clone(),
        );
        m.registry.register(
            "http_requests",
            "Outbound requests made for plugins, by instance and status",
            m.http_requests.clone(),
        );
        m.registry.register(
            "http_retries",
            "Outbound requests sent again after a throttle, 5xx, timeout or reset",
            m.http_retries.clone(),
        );
        m.registry.register(
            "provider_throttles",
            "Throttling answers from providers (429, 503 with retry-after, 403 limits)",
            m.provider_throttles.clone(),
        );
        m.registry.register(
            "http_received_bytes",
            "Response body bytes received for plugins",
            m.http_bytes_in.clone(),
        );
        m.registry
            .register("instances", "Instances by status", m.instances.clone());
        m
    }

    /// Count a finished scan.
    pub fn scan_finished(&self, instance: &str, connector: &str, report: &KindReport) {
        let kind = report.kind.as_str().to_string();
        let outcome = match (&report.error, report.stopped, report.skipped) {
            (Some(_), _, _) => "error",
            (None, true, _) => "stopped",
            (None, false, true) => "skipped",
            _ => "ok",
        };
        self.scans
            .get_or_create(&ScanLabels {
                instance: instance.to_string(),
                kind: kind.clone(),
                outcome: outcome.to_string(),
            })
            .inc();
        let kl = KindLabels {
            instance: instance.to_string(),
            kind: kind.clone(),
        };
        self.pages.get_or_create(&kl).inc_by(report.pages);
        self.records.get_or_create(&kl).inc_by(report.records);
        if let Some(e) = &report.error {
            self.scan_errors
                .get_or_create(&ErrorLabels {
                    instance: instance.to_string(),
                    kind,
                    code: e.code().to_string(),
                })
                .inc();
            if matches!(e, crate::model::ConnectorError::Trap(_)) {
                self.plugin_traps
                    .get_or_create(&ConnectorLabels {
                        connector: connector.to_string(),
                    })
                    .inc();
            }
        }
    }

    /// Count an outbound request's result.
    pub fn http_result(&self, instance: &str, status: &str) {
        self.http_requests
            .get_or_create(&HttpLabels {
                instance: instance.to_string(),
                status: status.to_string(),
            })
            .inc();
    }

    /// Count what the limiter and retries did for one request.
    pub fn limited(&self, instance: &str, r: &crate::ratelimit::SendReport) {
        let l = InstanceLabels {
            instance: instance.to_string(),
        };
        if !r.waited.is_zero() {
            self.ratelimit_wait_seconds
                .get_or_create(&l)
                .inc_by(r.waited.as_secs_f64());
        }
        if r.retries > 0 {
            self.http_retries
                .get_or_create(&l)
                .inc_by(u64::from(r.retries));
        }
        if r.throttled > 0 {
            self.provider_throttles
                .get_or_create(&l)
                .inc_by(u64::from(r.throttled));
        }
    }

    /// Set the instances-by-status gauge from a full count.
    pub fn set_instance_states(&self, counts: &[(String, i64)]) {
        self.instances.clear();
        for (state, n) in counts {
            self.instances
                .get_or_create(&StateLabels {
                    state: state.clone(),
                })
                .set(*n);
        }
    }

    /// The Prometheus text exposition of every series.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
