//! `sluice daemon`'s content-inspection (DLP) settings: which classifiers run over
//! file content, and how much reading each files scan may do.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bytesize::ByteSize;
use clap::Args;
use sluice::daemon::DaemonConfig;
use sluice::inspection::InspectOptions;
use tokio::sync::Semaphore;

/// Content inspection (see docs/inspection.md).
#[derive(Debug, Args)]
#[command(next_help_heading = "Content inspection (DLP)")]
pub struct InspectArgs {
    /// Never read file content: files are still listed with their sharing.
    #[arg(long)]
    pub no_inspect: bool,
    /// Classifiers and per-file limits as JSON: which built-ins run, keyword lists,
    /// regexes (see docs/inspection.md for the format).
    #[arg(long, value_name = "FILE")]
    pub inspect_rules: Option<PathBuf>,
    /// Content bytes one instance's inspection may read per files scan; the files left
    /// are inspected after the next scan.
    #[arg(long, value_name = "SIZE", default_value_t = ByteSize(InspectOptions::default().run_bytes))]
    pub inspect_bytes_per_run: ByteSize,
    /// Time one instance's inspection may take per files scan.
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "15m")]
    pub inspect_time_per_run: Duration,
    /// Time one file may take (reading and extracting); a file past it is recorded as
    /// not inspected until it changes.
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "2m")]
    pub inspect_file_time: Duration,
    /// Files parsed at once across all instances (default: one per core).
    #[arg(long, value_name = "N")]
    pub inspect_workers: Option<usize>,
}

fn duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{e} (e.g. 30s, 2m, 1h)"))?;
    if d.is_zero() {
        return Err("must be more than zero".into());
    }
    Ok(d)
}

impl InspectArgs {
    /// Apply to a daemon's configuration; a rules file that does not parse or compile
    /// stops the daemon from starting, with the reason.
    pub fn apply(&self, cfg: &mut DaemonConfig) -> anyhow::Result<()> {
        let mut opts = match &self.inspect_rules {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading --inspect-rules {}", path.display()))?;
                let config = serde_json::from_str(&text)
                    .with_context(|| format!("--inspect-rules {}", path.display()))?;
                InspectOptions::with_config(config)
                    .with_context(|| format!("--inspect-rules {}", path.display()))?
            }
            None => InspectOptions::default(),
        };
        opts.enabled = !self.no_inspect;
        opts.run_bytes = self.inspect_bytes_per_run.as_u64().max(1);
        opts.run_time = self.inspect_time_per_run;
        opts.file_time = self.inspect_file_time;
        if let Some(n) = self.inspect_workers {
            anyhow::ensure!(n >= 1, "--inspect-workers must be at least 1");
            opts.workers = Arc::new(Semaphore::new(n));
        }
        cfg.scan.inspection = Arc::new(opts);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn apply(args: &[&str]) -> anyhow::Result<DaemonConfig> {
        let cli = Cli::try_parse_from([&["sluice", "daemon"], args].concat())?;
        let Command::Daemon(d) = cli.command else {
            panic!("not the daemon")
        };
        let mut cfg = DaemonConfig::new("d".into(), "p".into(), "127.0.0.1:0".parse().unwrap());
        d.inspect.apply(&mut cfg)?;
        Ok(cfg)
    }

    #[test]
    fn operator_rules_and_budgets_reach_the_scans_and_bad_rules_stop_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let rules = dir.path().join("rules.json");
        std::fs::write(
            &rules,
            r#"{"builtins": ["card"], "keywords": [{"name": "project-x", "words": ["Project X"]}]}"#,
        )
        .unwrap();
        let cfg = apply(&[
            "--inspect-rules",
            rules.to_str().unwrap(),
            "--inspect-bytes-per-run",
            "10MiB",
            "--inspect-workers",
            "3",
        ])
        .unwrap();
        let opts = &cfg.scan.inspection;
        assert_eq!(opts.run_bytes, 10 << 20);
        assert_eq!(opts.workers.available_permits(), 3);
        let mut i = opts.inspector.start("memo.txt", None);
        i.feed(b"about Project X: card 4111 1111 1111 1111, key AKIAIOSFODNN7EXAMPLE");
        let sluice_inspect::Outcome::Inspected { hits, .. } = i.finish() else {
            panic!("text is inspected")
        };
        let names: Vec<_> = hits.iter().map(|h| h.classifier.as_str()).collect();
        assert_eq!(
            names,
            ["card", "project-x"],
            "only the listed built-ins run"
        );

        assert!(!apply(&["--no-inspect"]).unwrap().scan.inspection.enabled);
        std::fs::write(&rules, r#"{"patterns": [{"name": "bad", "regex": "("}]}"#).unwrap();
        let err = apply(&["--inspect-rules", rules.to_str().unwrap()]).unwrap_err();
        assert!(
            format!("{err:#}").contains("rule `bad`: invalid regex"),
            "{err:#}"
        );
        std::fs::write(&rules, r#"{"bultins": []}"#).unwrap();
        let err = apply(&["--inspect-rules", rules.to_str().unwrap()]).unwrap_err();
        assert!(format!("{err:#}").contains("unknown field"), "{err:#}");
    }
}
