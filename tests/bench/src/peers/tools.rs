//! The collectors compared: how each is configured against the mock, which command
//! runs it, and how its output is counted.
//!
//! Every tool of a scenario reads the same mock; over HTTPS they trust the bench's CA
//! the way they document it: `REQUESTS_CA_BUNDLE` for grove (`requests.get`),
//! `--ca-file` for Sluice. Each writes its
//! records where it normally does: the Python tools to stdout (kept in a file and
//! counted after the run), Sluice into its data dir (counted from its store).

use std::collections::HashSet;
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context as _;
use serde::Deserialize;
use serde_json::{Value, json};

/// What a run reads from the mock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed {
    /// The organisation audit log, every event (`include=all`).
    AuditLog,
    /// The organisation's members (admins and members; the scenarios have no outside
    /// collaborators, so Sluice's users are the same set).
    Members,
}

/// One of the collectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// hashicorp-forge/grove, connector `github_audit_log`.
    Grove,
    /// MeltanoLabs' tap-github (Singer), stream `organization_members`.
    SingerTap,
    /// Airbyte's source-github, stream `users`.
    AirbyteSource,
    /// The `sluice` CLI on a fresh data dir: `connect`, then `scan`.
    Sluice,
}

impl Tool {
    pub const PEERS: [Tool; 3] = [Tool::Grove, Tool::SingerTap, Tool::AirbyteSource];

    pub fn name(self) -> &'static str {
        match self {
            Tool::Grove => "grove",
            Tool::SingerTap => "Singer tap-github",
            Tool::AirbyteSource => "Airbyte source-github",
            Tool::Sluice => "Sluice",
        }
    }

    /// Whether the tool can read `feed` at all: grove has no members connector; neither
    /// tap-github nor source-github has an audit-log stream.
    pub fn reads(self, feed: Feed) -> bool {
        match self {
            Tool::Grove => feed == Feed::AuditLog,
            Tool::SingerTap | Tool::AirbyteSource => feed == Feed::Members,
            Tool::Sluice => true,
        }
    }
}

/// Where the tools find the mock and their programs.
#[derive(Debug, Clone)]
pub struct Setup {
    /// `https://127.0.0.1:PORT` or `http://…`.
    pub base_url: String,
    pub org: String,
    pub token: String,
    /// The bench CA's certificate, PEM.
    pub ca_file: PathBuf,
    /// A loopback CONNECT proxy that sends `api.github.com:443` to the mock (see
    /// [`Tool::SingerTap`]'s token check).
    pub proxy_url: String,
    /// `target/peers-venv`, one venv per peer.
    pub venvs: PathBuf,
    pub sluice: PathBuf,
    /// tap-github's and source-github's discovered catalogs (`--discover` output), made
    /// once per bench run outside the measurement.
    pub singer_catalog: Value,
    pub airbyte_catalog: Value,
}

/// One process of a run.
#[derive(Debug)]
pub struct Step {
    pub command: Command,
    /// A short name for logs and file names (`connect`, `scan`, `run`).
    pub label: &'static str,
}

impl Setup {
    /// Sluice's per-user compile cache for these runs (`target/peers-compile-cache`),
    /// never the user's own: the unmeasured first run fills it, so measured runs start
    /// as they do after `sluice precompile` (a fresh data dir, GitHub's connector
    /// already compiled), the state an installed Sluice is in.
    fn compile_cache(&self) -> PathBuf {
        self.venvs.with_file_name("peers-compile-cache")
    }

    /// A peer's console script in its venv.
    pub fn program(&self, venv: &str, script: &str) -> PathBuf {
        self.venvs.join(venv).join("bin").join(script)
    }

    /// The commands one run of `tool` on `feed` executes, in order, in `dir` (fresh and
    /// empty: config files, state and data dir all live there).
    pub fn steps(&self, tool: Tool, feed: Feed, dir: &Path) -> anyhow::Result<Vec<Step>> {
        Ok(match tool {
            Tool::Grove => {
                // Grove's defaults but for `outputs`: by default every entry is written
                // twice (the raw and the processed stream); one stream is the fair count.
                let connectors = dir.join("connectors");
                std::fs::create_dir_all(&connectors)?;
                write_json(
                    &connectors.join("github.json"),
                    &json!({
                        "name": "bench",
                        "identity": self.org,
                        "connector": "github_audit_log",
                        "key": self.token,
                        // Grove builds `https://{fqdn}/orgs/{org}/audit-log`.
                        "fqdn": self.base_url.trim_start_matches("https://"),
                        "outputs": { "logs": "raw" }
                    }),
                )?;
                let mut command = Command::new(self.program("grove", "grove"));
                command
                    .current_dir(dir)
                    .env("GROVE_CONFIG_LOCAL_FILE_PATH", &connectors)
                    .env("REQUESTS_CA_BUNDLE", &self.ca_file);
                vec![Step {
                    command,
                    label: "run",
                }]
            }
            Tool::SingerTap => {
                write_json(&dir.join("config.json"), &self.singer_config())?;
                write_json(
                    &dir.join("catalog.json"),
                    &singer_selection(&self.singer_catalog, "organization_members")?,
                )?;
                let mut command = Command::new(self.program("singer", "tap-github"));
                command
                    .current_dir(dir)
                    .args(["--config", "config.json", "--catalog", "catalog.json"])
                    .env("REQUESTS_CA_BUNDLE", &self.ca_file)
                    // The tap checks each token with `GET https://api.github.com/rate_limit`
                    // whatever `api_url_base` says; that one request goes through a
                    // proxy to the mock, everything else straight to it.
                    .env("HTTPS_PROXY", &self.proxy_url)
                    .env("NO_PROXY", "127.0.0.1");
                vec![Step {
                    command,
                    label: "run",
                }]
            }
            Tool::AirbyteSource => {
                write_json(&dir.join("config.json"), &self.airbyte_config())?;
                write_json(
                    &dir.join("catalog.json"),
                    &airbyte_selection(&self.airbyte_catalog, "users")?,
                )?;
                let mut command = Command::new(self.program("airbyte", "source-github"));
                command
                    .current_dir(dir)
                    .args([
                        "read",
                        "--config",
                        "config.json",
                        "--catalog",
                        "catalog.json",
                    ])
                    .env("REQUESTS_CA_BUNDLE", &self.ca_file);
                vec![Step {
                    command,
                    label: "run",
                }]
            }
            Tool::Sluice => {
                let data = dir.join("data");
                let sluice = |label: &'static str, args: Vec<String>| {
                    let mut command = Command::new(&self.sluice);
                    command
                        .current_dir(dir)
                        .arg("--data-dir")
                        .arg(&data)
                        .args(args)
                        .env("SLUICE_PLUGINS_DIR", dir.join("plugins"))
                        .env("SLUICE_COMPILE_CACHE", self.compile_cache())
                        .env_remove("SLUICE_SERVER");
                    Step { command, label }
                };
                let kind = match feed {
                    Feed::AuditLog => "activities",
                    Feed::Members => "users",
                };
                vec![
                    sluice(
                        "connect",
                        vec![
                            "connect".into(),
                            "github".into(),
                            "--name".into(),
                            self.org.clone(),
                            "--config".into(),
                            format!("org={}", self.org),
                            "--config".into(),
                            format!("base_url={}", self.base_url),
                            "--secret".into(),
                            format!("token={}", self.token),
                            "--allow-private-network".into(),
                            "--grant".into(),
                            "all".into(),
                        ]
                        .into_iter()
                        .chain(self.ca_args())
                        .collect(),
                    ),
                    sluice(
                        "scan",
                        vec![
                            "scan".into(),
                            self.org.clone(),
                            "--kind".into(),
                            kind.into(),
                            "--json".into(),
                        ],
                    ),
                ]
            }
        })
    }

    /// `--ca-file` for `sluice connect` when the mock is served over HTTPS.
    fn ca_args(&self) -> Vec<String> {
        if self.base_url.starts_with("https:") {
            vec!["--ca-file".into(), self.ca_file.display().to_string()]
        } else {
            Vec::new()
        }
    }

    /// tap-github's config: a token, the organisation and the API URL.
    pub fn singer_config(&self) -> Value {
        json!({
            "auth_token": self.token,
            "organizations": [self.org],
            "api_url_base": self.base_url,
        })
    }

    /// source-github's config: a token, one repository of the org (the connector
    /// finds organisations through the repositories it is given) and the API URL.
    pub fn airbyte_config(&self) -> Value {
        json!({
            "credentials": {
                "option_title": "PAT Credentials",
                "personal_access_token": self.token
            },
            "repositories": [format!("{}/repo-1", self.org)],
            "api_url": format!("{}/", self.base_url),
        })
    }

    /// Checks the run's output and returns how many distinct records it delivered; a
    /// count that is not `expected` is an error, not a row.
    pub fn count(
        &self,
        tool: Tool,
        feed: Feed,
        dir: &Path,
        expected: usize,
    ) -> anyhow::Result<usize> {
        let (emitted, distinct) = match tool {
            Tool::Grove => count_lines(&dir.join("run.out"), |line| {
                #[derive(Deserialize)]
                struct Line {
                    message: Event,
                }
                #[derive(Deserialize)]
                struct Event {
                    #[serde(rename = "_document_id")]
                    id: String,
                }
                let line: Line = serde_json::from_str(line)?;
                Ok(Some(line.message.id))
            })?,
            Tool::SingerTap => count_lines(&dir.join("run.out"), |line| {
                #[derive(Deserialize)]
                struct Message {
                    #[serde(rename = "type")]
                    kind: String,
                    #[serde(default)]
                    stream: String,
                    #[serde(default)]
                    record: Value,
                }
                let m: Message = serde_json::from_str(line)?;
                Ok((m.kind == "RECORD" && m.stream == "organization_members")
                    .then(|| m.record["id"].to_string()))
            })?,
            Tool::AirbyteSource => count_lines(&dir.join("run.out"), |line| {
                #[derive(Deserialize)]
                struct Message {
                    #[serde(rename = "type")]
                    kind: String,
                    #[serde(default)]
                    record: Value,
                }
                let m: Message = serde_json::from_str(line)?;
                Ok((m.kind == "RECORD" && m.record["stream"] == "users")
                    .then(|| m.record["data"]["id"].to_string()))
            })?,
            Tool::Sluice => self.sluice_count(feed, dir)?,
        };
        anyhow::ensure!(
            emitted == expected && distinct == expected,
            "{} delivered {emitted} records ({distinct} distinct), expected {expected} (see {})",
            tool.name(),
            dir.display()
        );
        Ok(distinct)
    }

    /// Sluice's scan report (records the scan wrote) and its store (distinct records
    /// kept), both read after the measured run.
    fn sluice_count(&self, feed: Feed, dir: &Path) -> anyhow::Result<(usize, usize)> {
        #[derive(Deserialize)]
        struct KindReport {
            records: usize,
        }
        let reports: Vec<KindReport> =
            serde_json::from_slice(&std::fs::read(dir.join("scan.out"))?)
                .context("sluice scan --json output")?;
        let scanned = reports.iter().map(|r| r.records).sum();
        let out = Command::new(&self.sluice)
            .arg("--data-dir")
            .arg(dir.join("data"))
            .args(["instances", "--json"])
            .env("SLUICE_PLUGINS_DIR", dir.join("plugins"))
            .env("SLUICE_COMPILE_CACHE", self.compile_cache())
            .env_remove("SLUICE_SERVER")
            .output()?;
        anyhow::ensure!(
            out.status.success(),
            "sluice instances: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let list: Vec<Value> = serde_json::from_slice(&out.stdout)?;
        let field = match feed {
            Feed::AuditLog => "activities",
            Feed::Members => "users",
        };
        let stored = list.iter().filter_map(|i| i[field].as_u64()).sum::<u64>();
        Ok((scanned, usize::try_from(stored)?))
    }
}

/// Reads `path` line by line; `id` says which record a line is (`None`: not a record).
/// Returns (records, distinct ids).
fn count_lines(
    path: &Path,
    id: impl Fn(&str) -> anyhow::Result<Option<String>>,
) -> anyhow::Result<(usize, usize)> {
    let file = std::io::BufReader::new(std::fs::File::open(path)?);
    let mut records = 0;
    let mut ids = HashSet::new();
    for (n, line) in file.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let found = id(&line).with_context(|| format!("{}:{}", path.display(), n + 1))?;
        if let Some(found) = found {
            records += 1;
            ids.insert(found);
        }
    }
    Ok((records, ids.len()))
}

fn write_json(path: &Path, value: &Value) -> anyhow::Result<()> {
    std::fs::write(path, serde_json::to_vec_pretty(value)?)?;
    Ok(())
}

/// A Singer catalog with only `stream` selected (its root metadata entry says so;
/// every other stream's says not).
fn singer_selection(catalog: &Value, stream: &str) -> anyhow::Result<Value> {
    let mut catalog = catalog.clone();
    let streams = catalog["streams"]
        .as_array_mut()
        .context("tap-github catalog has no streams")?;
    anyhow::ensure!(
        streams.iter().any(|s| s["tap_stream_id"] == stream),
        "tap-github offers no {stream} stream"
    );
    for s in streams {
        let selected = s["tap_stream_id"] == stream;
        if let Some(metadata) = s["metadata"].as_array_mut() {
            for m in metadata {
                if m["breadcrumb"].as_array().is_some_and(|b| b.is_empty()) {
                    m["metadata"]["selected"] = json!(selected);
                }
            }
        }
    }
    Ok(catalog)
}

/// A configured Airbyte catalog reading `stream` in full (`discover`'s CATALOG message
/// holds the stream's schema).
fn airbyte_selection(discovered: &Value, stream: &str) -> anyhow::Result<Value> {
    let found = discovered["streams"]
        .as_array()
        .and_then(|streams| streams.iter().find(|s| s["name"] == stream))
        .with_context(|| format!("source-github offers no {stream} stream"))?;
    Ok(json!({
        "streams": [{
            "stream": found,
            "sync_mode": "full_refresh",
            "destination_sync_mode": "overwrite"
        }]
    }))
}
