//! `sluice daemon`'s sandbox and storage limits: every per-call and per-instance
//! bound the README's security section lists, as flags with the defaults in force.

use std::time::Duration;

use bytesize::ByteSize;
use clap::Args;
use sluice::daemon::DaemonConfig;
use sluice::runtime::SandboxLimits;
use sluice::scan::ScanCaps;

/// Sandbox and storage limits (see README, "Security").
#[derive(Debug, Args)]
#[command(next_help_heading = "Sandbox and storage limits")]
pub struct LimitArgs {
    /// Linear memory and tables a plugin instance may use, all its memories together.
    #[arg(long, value_name = "SIZE", default_value_t = size(SandboxLimits::default().memory_bytes as u64))]
    pub plugin_memory: ByteSize,
    /// Time one call may spend executing wasm (waits on HTTP and sleeps excluded).
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "1s")]
    pub plugin_cpu_time: Duration,
    /// Time one call may take in all, HTTP waits included.
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "5m")]
    pub plugin_call_time: Duration,
    /// Time one call may spend blocked outside wasm and HTTP (a WASI sleep or poll).
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "10s")]
    pub plugin_blocked_time: Duration,
    /// The same, summed over the calls of one scan job or action.
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "1m")]
    pub plugin_session_blocked_time: Duration,
    /// Records one page may carry; a bigger page is refused whole (`over-cap`).
    #[arg(long, value_name = "N", default_value_t = ScanCaps::default().page_records)]
    pub max_page_records: u64,
    /// Bytes one page's records may take as stored; a bigger page is refused whole.
    #[arg(long, value_name = "SIZE", default_value_t = size(ScanCaps::default().commit.page_bytes))]
    pub max_page_bytes: ByteSize,
    /// Records one scan of one kind commits before it stops (it resumes from its
    /// cursor on the next run).
    #[arg(long, value_name = "N", default_value_t = ScanCaps::default().scan_records)]
    pub max_scan_records: u64,
    /// Bytes an instance's records may take in the store; pages beyond are refused and
    /// the instance shows `error: over-cap` until the cap is raised.
    #[arg(long, value_name = "SIZE", default_value_t = size(ScanCaps::default().commit.instance_bytes))]
    pub max_instance_bytes: ByteSize,
}

fn size(bytes: u64) -> ByteSize {
    ByteSize(bytes)
}

fn duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{e} (e.g. 500ms, 10s, 5m)"))?;
    if d.is_zero() {
        return Err("must be more than zero".into());
    }
    Ok(d)
}

impl LimitArgs {
    /// Apply to a daemon's configuration.
    pub fn apply(&self, cfg: &mut DaemonConfig) -> anyhow::Result<()> {
        let memory = usize::try_from(self.plugin_memory.as_u64())
            .map_err(|_| anyhow::anyhow!("--plugin-memory is too big for this machine"))?;
        anyhow::ensure!(memory >= 1 << 20, "--plugin-memory must be at least 1 MiB");
        let limits = &mut cfg.runtime.limits;
        limits.memory_bytes = memory;
        limits.cpu_time = self.plugin_cpu_time;
        limits.wall_time = self.plugin_call_time;
        limits.blocked_time = self.plugin_blocked_time;
        limits.session_blocked_time = self.plugin_session_blocked_time;
        let caps = &mut cfg.scan.caps;
        caps.page_records = self.max_page_records.max(1);
        caps.scan_records = self.max_scan_records.max(1);
        caps.commit.page_bytes = self.max_page_bytes.as_u64();
        caps.commit.instance_bytes = self.max_instance_bytes.as_u64();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn daemon_args(args: &[&str]) -> Result<LimitArgs, clap::Error> {
        let cli = Cli::try_parse_from([&["sluice", "daemon"], args].concat())?;
        match cli.command {
            Command::Daemon(d) => Ok(d.limits),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn limit_flags_reach_the_runtime_and_the_scans() {
        let mut cfg = DaemonConfig::new("d".into(), "p".into(), "127.0.0.1:0".parse().unwrap());
        daemon_args(&[
            "--plugin-memory",
            "64MiB",
            "--plugin-cpu-time",
            "250ms",
            "--plugin-blocked-time",
            "2s",
            "--max-page-records",
            "500",
            "--max-instance-bytes",
            "1 GiB",
        ])
        .unwrap()
        .apply(&mut cfg)
        .unwrap();
        assert_eq!(cfg.runtime.limits.memory_bytes, 64 << 20);
        assert_eq!(cfg.runtime.limits.cpu_time, Duration::from_millis(250));
        assert_eq!(cfg.runtime.limits.blocked_time, Duration::from_secs(2));
        assert_eq!(cfg.scan.caps.page_records, 500);
        assert_eq!(cfg.scan.caps.commit.instance_bytes, 1 << 30);

        // The defaults shown in --help are the library's defaults.
        let mut defaults =
            DaemonConfig::new("d".into(), "p".into(), "127.0.0.1:0".parse().unwrap());
        daemon_args(&[]).unwrap().apply(&mut defaults).unwrap();
        assert_eq!(defaults.scan.caps, ScanCaps::default());
        let (got, want) = (&defaults.runtime.limits, SandboxLimits::default());
        assert_eq!(
            (
                got.memory_bytes,
                got.cpu_time,
                got.wall_time,
                got.blocked_time
            ),
            (
                want.memory_bytes,
                want.cpu_time,
                want.wall_time,
                want.blocked_time
            )
        );
        assert_eq!(got.session_blocked_time, want.session_blocked_time);

        assert!(daemon_args(&["--plugin-cpu-time", "0s"]).is_err());
        assert!(daemon_args(&["--max-page-bytes", "lots"]).is_err());
    }
}
