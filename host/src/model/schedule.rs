//! An instance's rescan schedule: the vocabulary the store keeps and the scheduler
//! follows (the scheduler's own state and rules live in `crate::scheduler`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Kind;

/// The default rescan interval of a kind.
pub fn default_interval(kind: Kind) -> Duration {
    const MIN: u64 = 60;
    Duration::from_secs(match kind {
        Kind::Activities => 5 * MIN,
        Kind::Users | Kind::Groups | Kind::AppPermissions => 60 * MIN,
        Kind::Files => 12 * 60 * MIN,
        Kind::Findings => 24 * 60 * MIN,
    })
}

/// Shortest and longest interval an operator may set.
pub const MIN_INTERVAL: Duration = Duration::from_secs(10);
pub const MAX_INTERVAL: Duration = Duration::from_secs(30 * 24 * 3600);

/// An instance's schedule as the operator configured it (stored with the instance).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Rescan interval per kind in seconds; kinds not listed use [`default_interval`].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub intervals: BTreeMap<Kind, u64>,
}

impl Schedule {
    pub fn interval(&self, kind: Kind) -> Duration {
        self.intervals
            .get(&kind)
            .map(|s| Duration::from_secs(*s))
            .unwrap_or_else(|| default_interval(kind))
    }

    /// Set one kind's interval from text such as `5m`, `1h`, `12h`, `1d`.
    pub fn set(&mut self, kind: Kind, text: &str) -> Result<(), String> {
        let d = humantime::parse_duration(text.trim()).map_err(|e| {
            format!("invalid interval `{text}` for {kind}: {e} (examples: 90s, 5m, 1h, 1d)")
        })?;
        if d < MIN_INTERVAL || d > MAX_INTERVAL {
            return Err(format!(
                "interval `{text}` for {kind} is out of range ({} to {})",
                humantime::format_duration(MIN_INTERVAL),
                humantime::format_duration(MAX_INTERVAL)
            ));
        }
        self.intervals.insert(kind, d.as_secs());
        Ok(())
    }

    /// Check stored or submitted values (the API takes seconds directly).
    pub fn validate(&self) -> Result<(), String> {
        for (kind, secs) in &self.intervals {
            let d = Duration::from_secs(*secs);
            if d < MIN_INTERVAL || d > MAX_INTERVAL {
                return Err(format!(
                    "interval of {secs}s for {kind} is out of range ({}s to {}s)",
                    MIN_INTERVAL.as_secs(),
                    MAX_INTERVAL.as_secs()
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_text_is_parsed_and_bounded() {
        let mut s = Schedule::default();
        s.set(Kind::Activities, "2m").unwrap();
        assert_eq!(s.interval(Kind::Activities), Duration::from_secs(120));
        assert_eq!(s.interval(Kind::Users), Duration::from_secs(3600));
        assert!(
            s.set(Kind::Users, "1s")
                .unwrap_err()
                .contains("out of range")
        );
        assert!(
            s.set(Kind::Users, "soon")
                .unwrap_err()
                .contains("invalid interval")
        );
        let bad = Schedule {
            intervals: [(Kind::Files, 1)].into(),
        };
        assert!(bad.validate().is_err());
    }
}
