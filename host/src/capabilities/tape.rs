//! Record and replay of a connector's HTTP exchanges.
//!
//! `sluice scan INSTANCE --record DIR` puts a recording [`Tape`] on the HTTP client:
//! every request a plugin sends, and the response it got, is written to `DIR` as one
//! JSON file per exchange. The recording holds exactly what the plugin saw: the host
//! adds credentials only on the wire, so no auth header is in it, and any secret value
//! of the instance that appears anyway (echoed in a body or URL) is replaced by
//! `[REDACTED]`. `sluice test-connector --fixtures DIR` replays a folder: a request is
//! answered by the first unused recorded exchange with the same method and URL, and
//! nothing goes to the network.
//!
//! Folder format (hand-written fixtures use it too):
//! - `sluice-fixtures.json`: `{"connector", "version", "config": {…}}`, the instance's
//!   non-secret config, so a replay builds the same URLs; optionally `"actions":
//!   [{"action", "target", "params"}]`, the dry-run actions to replay;
//! - `NNNN.json`: `{"request": {"method", "url", "headers", "body"?},
//!   "response": {"status", "headers", "body"}}`. A body is a string, or any other
//!   JSON value (written out compactly as the body).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::intercept::{Intercepted, OutboundInterceptor};
use crate::model::ActionKind;
use crate::model::http::{HttpFailure, InboundResponse, Method, OutboundRequest};

/// The manifest file of a fixtures folder.
pub const MANIFEST: &str = "sluice-fixtures.json";

/// `sluice-fixtures.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    #[serde(default)]
    pub connector: String,
    #[serde(default)]
    pub version: String,
    /// Non-secret config of the recorded instance.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// The `since` of the first activity page (ms since the epoch), so a replay asks
    /// for the same window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
    /// The host's clock for the recorded scan (`context.now`, ms since the epoch), so
    /// a window a connector ends at "now" is the recorded one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub now: Option<i64>,
    /// The page size the recording asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
    /// The dry-run actions the recording ran, so a replay runs the same ones on the
    /// same targets. Absent: a replay dry-runs every action the connector declares,
    /// each on the first record of its target's kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions: Option<Vec<ActionFixture>>,
}

/// One dry-run action of a fixtures folder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ActionFixture {
    pub action: ActionKind,
    /// Provider id of the record acted on.
    pub target: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
}

/// One request and its response, as the plugin saw them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    pub request: RecordedRequest,
    pub response: RecordedResponse,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    pub method: String,
    pub url: String,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordedResponse {
    pub status: u16,
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    #[serde(default)]
    pub body: Value,
}

/// Response headers never kept in a recording (they can carry session state).
const DROPPED_HEADERS: &[&str] = &["set-cookie", "authorization", "proxy-authorization"];

/// A body as JSON when it is JSON (readable, diffable fixtures), else as text.
fn body_value(bytes: &[u8]) -> Value {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v) if !bytes.is_empty() => v,
        _ => Value::String(String::from_utf8_lossy(bytes).into_owned()),
    }
}

fn body_bytes(v: &Value) -> Vec<u8> {
    match v {
        Value::String(s) => s.clone().into_bytes(),
        Value::Null => Vec::new(),
        other => other.to_string().into_bytes(),
    }
}

/// What a tape does with requests.
enum Mode {
    /// Pass through to the network and write each exchange to the folder.
    Record {
        dir: PathBuf,
        next: usize,
        redact: Vec<String>,
    },
    /// Answer from recorded exchanges; `used` marks those already answered.
    Replay {
        exchanges: Vec<Exchange>,
        used: Vec<bool>,
    },
    /// Answer every request with this status (the typed-error checks).
    Fault { status: u16 },
}

/// A recording or a replay, shared by every call of one run.
pub struct Tape {
    mode: Mutex<Mode>,
    /// Requests a replay had no recording for (method and URL).
    misses: Mutex<Vec<String>>,
    /// Requests the egress policy refused.
    denied: Mutex<Vec<String>>,
}

impl std::fmt::Debug for Tape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tape").finish_non_exhaustive()
    }
}

impl Tape {
    /// Record into `dir` (created; must be empty or hold only an earlier recording's
    /// files, which are replaced). `secrets` are redacted wherever they appear.
    pub fn record(dir: &Path, manifest: &Manifest, secrets: Vec<String>) -> std::io::Result<Tape> {
        std::fs::create_dir_all(dir)?;
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let ours = name == MANIFEST
                || (name.ends_with(".json")
                    && name[..name.len() - 5].bytes().all(|b| b.is_ascii_digit()));
            if !ours {
                return Err(std::io::Error::other(format!(
                    "{} holds {name}, which is not a recording; record into an empty folder",
                    dir.display()
                )));
            }
            std::fs::remove_file(&path)?;
        }
        std::fs::write(
            dir.join(MANIFEST),
            serde_json::to_vec_pretty(manifest).map_err(std::io::Error::other)?,
        )?;
        Ok(Tape {
            mode: Mutex::new(Mode::Record {
                dir: dir.to_path_buf(),
                next: 1,
                redact: secrets.into_iter().filter(|s| s.len() >= 4).collect(),
            }),
            misses: Mutex::default(),
            denied: Mutex::default(),
        })
    }

    /// Replay the exchanges of a fixtures folder (files in name order).
    pub fn replay(exchanges: Vec<Exchange>) -> Tape {
        let used = vec![false; exchanges.len()];
        Tape {
            mode: Mutex::new(Mode::Replay { exchanges, used }),
            misses: Mutex::default(),
            denied: Mutex::default(),
        }
    }

    /// Answer every request with HTTP `status` (429s with `Retry-After: 7`).
    pub fn fault(status: u16) -> Tape {
        Tape {
            mode: Mutex::new(Mode::Fault { status }),
            misses: Mutex::default(),
            denied: Mutex::default(),
        }
    }

    /// Answers from recordings (or faults) instead of the network.
    pub fn is_replay(&self) -> bool {
        !matches!(*self.lock(), Mode::Record { .. })
    }

    /// Record: exchanges written so far.
    pub fn recorded(&self) -> usize {
        match &*self.lock() {
            Mode::Record { next, .. } => next - 1,
            _ => 0,
        }
    }

    /// Record: change the manifest (the connector's version once loaded, the
    /// dry-run actions once run).
    pub fn update_manifest(&self, change: impl FnOnce(&mut Manifest)) {
        let mode = self.lock();
        let Mode::Record { dir, .. } = &*mode else {
            return;
        };
        let path = dir.join(MANIFEST);
        let updated = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice::<Manifest>(&b).ok())
            .map(|mut m| {
                change(&mut m);
                m
            })
            .and_then(|m| serde_json::to_vec_pretty(&m).ok());
        if let Some(bytes) = updated
            && let Err(e) = std::fs::write(&path, bytes)
        {
            tracing::warn!("recording {}: {e}", path.display());
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Mode> {
        self.mode.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Replay: the recorded answer to `req`, or `None` (remembered as a miss).
    pub fn answer(&self, req: &OutboundRequest) -> Option<InboundResponse> {
        let mut mode = self.lock();
        if let Mode::Fault { status } = &*mode {
            let headers = if *status == 429 {
                vec![("retry-after".to_string(), "7".to_string())]
            } else {
                Vec::new()
            };
            return Some(InboundResponse {
                status: *status,
                headers,
                body: br#"{"message":"fault injected by sluice test-connector"}"#.to_vec(),
            });
        }
        let Mode::Replay { exchanges, used } = &mut *mode else {
            return None;
        };
        let method = req.method.as_str();
        let found = exchanges
            .iter()
            .enumerate()
            .position(|(i, e)| !used[i] && e.request.method == method && e.request.url == req.url)
            // A request repeated more often than recorded gets the last recorded answer.
            .or_else(|| {
                exchanges
                    .iter()
                    .rposition(|e| e.request.method == method && e.request.url == req.url)
            });
        match found {
            Some(i) => {
                used[i] = true;
                let r = &exchanges[i].response;
                Some(InboundResponse {
                    status: r.status,
                    headers: r
                        .headers
                        .iter()
                        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                        .collect(),
                    body: body_bytes(&r.body),
                })
            }
            None => {
                drop(mode);
                self.misses
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(format!("{method} {}", req.url));
                None
            }
        }
    }

    /// A request the egress policy refused (a contract violation in a replay).
    pub fn note_denied(&self, req: &OutboundRequest) {
        self.denied
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(format!("{} {}", req.method.as_str(), req.url));
    }

    /// Requests the egress policy refused.
    pub fn denied(&self) -> Vec<String> {
        self.denied
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replay: requests that had no recording.
    pub fn misses(&self) -> Vec<String> {
        self.misses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Record: write one exchange (secrets redacted). Failures to write are logged,
    /// not answered to the plugin.
    pub fn write(&self, req: &OutboundRequest, resp: &InboundResponse) {
        let mut mode = self.lock();
        let Mode::Record { dir, next, redact } = &mut *mode else {
            return;
        };
        let scrub = |s: &str| {
            redact.iter().fold(s.to_string(), |acc, secret| {
                acc.replace(secret.as_str(), "[REDACTED]")
            })
        };
        let scrub_value = |v: Value| -> Value {
            if redact.is_empty() {
                return v;
            }
            let text = v.to_string();
            let clean = scrub(&text);
            if clean == text {
                v
            } else {
                serde_json::from_str(&clean).unwrap_or(Value::String(clean))
            }
        };
        let exchange = Exchange {
            request: RecordedRequest {
                method: req.method.as_str().to_string(),
                url: scrub(&req.url),
                headers: req
                    .headers
                    .iter()
                    .filter(|(k, _)| !DROPPED_HEADERS.contains(&k.to_ascii_lowercase().as_str()))
                    .map(|(k, v)| (k.clone(), scrub(v)))
                    .collect(),
                body: req.body.as_deref().map(|b| scrub_value(body_value(b))),
            },
            response: RecordedResponse {
                status: resp.status,
                headers: resp
                    .headers
                    .iter()
                    .filter(|(k, _)| !DROPPED_HEADERS.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), scrub(v)))
                    .collect(),
                body: scrub_value(body_value(&resp.body)),
            },
        };
        let path = dir.join(format!("{:04}.json", *next));
        *next += 1;
        let written = serde_json::to_vec_pretty(&exchange)
            .map_err(std::io::Error::other)
            .and_then(|bytes| std::fs::write(&path, bytes));
        if let Err(e) = written {
            tracing::warn!("recording {}: {e}", path.display());
        }
    }
}

/// Read a fixtures folder: its manifest (default when absent) and exchanges, in file
/// name order.
pub fn load_fixtures(dir: &Path) -> Result<(Manifest, Vec<Exchange>), String> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("reading {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    names.sort();
    let mut manifest = Manifest::default();
    let mut exchanges = Vec::new();
    for path in names {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("reading {}: {e}", path.display()))?;
        if path.file_name().is_some_and(|n| n == MANIFEST) {
            manifest = serde_json::from_str(&text)
                .map_err(|e| format!("{}: not a fixtures manifest: {e}", path.display()))?;
            continue;
        }
        let e: Exchange = serde_json::from_str(&text).map_err(|e| {
            format!(
                "{}: not an exchange ({{\"request\": {{\"method\", \"url\"}}, \"response\": {{\"status\", \"body\"}}}}): {e}",
                path.display()
            )
        })?;
        if Method::parse(&e.request.method).is_none() {
            return Err(format!(
                "{}: unknown method `{}`",
                path.display(),
                e.request.method
            ));
        }
        exchanges.push(e);
    }
    Ok((manifest, exchanges))
}

/// Replay answers from the recordings (a miss is a connection failure the report
/// names); record writes every exchange the provider answered.
impl OutboundInterceptor for Tape {
    fn intercept(&self, req: &OutboundRequest) -> Intercepted {
        if !self.is_replay() {
            return Intercepted::Continue;
        }
        Intercepted::Answer(self.answer(req).ok_or_else(|| {
            HttpFailure::Connection(format!(
                "no recorded response for {} {}",
                req.method.as_str(),
                req.url
            ))
        }))
    }

    fn denied(&self, req: &OutboundRequest) {
        self.note_denied(req);
    }

    fn completed(&self, req: &OutboundRequest, resp: &InboundResponse) {
        self.write(req, resp);
    }
}
