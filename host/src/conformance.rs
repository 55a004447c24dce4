//! `sluice test-connector`: checks a connector component against the contract, offline,
//! and `sluice scan --record`: the recordings it replays.
//!
//! The runner loads the component into a runtime whose HTTP capability answers from a
//! fixtures folder (see [`crate::capabilities::tape`]) and checks, in order:
//!
//! 1. it loads: a component of a WIT version the host accepts, whose `describe` works;
//! 2. `describe` is well formed: id, semver, capabilities without duplicates, config
//!    field names, egress templates that resolve over the config, rate limits;
//! 3. `check` answers from the fixtures (as `connect` runs it);
//! 4. every capability it lists works against the fixtures: each kind pages to its end
//!    within a bound, snapshot cursors never repeat, activity cursors advance and a scan
//!    resumed from a saved cursor reads the same records, and every record keeps the
//!    provider's JSON (an object or array) as `raw`;
//! 5. every action it declares runs as a dry run: it plans write requests inside the
//!    declared egress (or finds nothing to do) and sends none; the targets are the
//!    manifest's `actions`, else the first listed record of each action's target kind;
//! 6. errors are typed: every request answered 401 must give `unauthorized`, 429 must
//!    give `rate-limited`;
//! 7. nothing outside the declared egress was requested, and every request had a
//!    recorded answer.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::capabilities::egress::EgressPolicy;
use crate::capabilities::http::{HttpClient, HttpLimits, Outbound};
use crate::capabilities::tape::{self, ActionFixture, Manifest, Tape};
use crate::model::{ActionKind, AuthScheme, Permissions};
use crate::model::{ConnectorError, ConnectorInfo, Kind, Millis, Record, now_millis};
use crate::ratelimit::RetryPolicy;
use crate::runtime::{ActionRequest, CallContext, LoadedPlugin, Runtime, RuntimeConfig};
use crate::scan::{KindReport, Lister, ScanOptions, scan_instance};
use crate::session::{InstanceSession, effective_grants, resolve_templates, validate_config};
use crate::store::{Instance, RecordQuery, Secret, Secrets, Store};

/// What to check a component against.
#[derive(Clone, Debug)]
pub struct ConformanceInput {
    /// A fixtures folder: recorded exchanges and their manifest.
    pub fixtures: PathBuf,
    /// Config values, over the manifest's and the connector's defaults.
    pub config: BTreeMap<String, String>,
    /// Pages per kind before pagination counts as endless.
    pub max_pages: u64,
    /// Compile cache (a temp dir when none).
    pub cache_dir: Option<PathBuf>,
}

/// One line of the report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub check: String,
    pub passed: bool,
    pub detail: String,
}

/// What the runner found.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ConformanceReport {
    pub connector: String,
    pub version: String,
    pub wit_version: String,
    pub checks: Vec<Check>,
    /// The ids each kind yielded from the fixtures (what a replay collects).
    pub records: BTreeMap<String, Vec<String>>,
}

impl ConformanceReport {
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| c.passed)
    }

    fn add(&mut self, check: impl Into<String>, result: Result<String, String>) {
        let (passed, detail) = match result {
            Ok(d) => (true, d),
            Err(d) => (false, d),
        };
        self.checks.push(Check {
            check: check.into(),
            passed,
            detail,
        });
    }
}

/// Value given to secret config fields during a replay (the host never sends it).
const TEST_SECRET: &str = "sluice-test-secret";

/// What a replay stores as the private key of a JWT bearer option: the host parses the
/// key when it opens the instance, so `TEST_SECRET` would fail the config check. It
/// never signs anything that leaves: a replay answers every request before credentials
/// are added. A throwaway key, the public test key of `tests/mocks` (`oauth/keys.rs`).
const REPLAY_SIGNING_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIIEuwIBADANBgkqhkiG9w0BAQEFAASCBKUwggShAgEAAoIBAQDE72/XVd0RMurw
PAfdnXLoa9Effr42jqfxEDbJZXgfAaFP8UG+Imf1YR46Rx62APE89Zx3cInKWTjk
P1MNyQgEODdKBT/W2J4a0c7qYQvSRZuxxinQYJyNpBMT/e7n9/10+dnV5N1Npw+U
lwvqFCsBDZvC3bE0IEOMiTbMNBgdGyqmOB4r7dU3Q2LugS+NDVzC3D26rL6pJ9Up
oQAH+Q6sGdBXahUk/g+XwZrOsc23HfbgATD2jh3GTO+EEHzc1MsyvT0rTbOGEHNp
SHBFKd2TYssunc1REuFq1SEpY4/X2diSQZK1CV9gYxYWJKx8PyUl8V2eH/8YvMut
m1HvNgxlAgMBAAECgf96MOeil1hqcJBJoa/inUjjJ0hlpTiDT/Sp3g5O3AmDYhyj
bAg133StC5sYsLadcTJr1Mq6rkG5OgukHwN6yi/AnQmCmFZ+IJgndJ3z2qvGrunx
jJRZjcbbG4QX9OWSzl2dsSMJgqBBwoNuHUpBYZOTDeRXW58pBDjlUT3jO8yL5IRB
jh61T1ktwUqxoqzzgHUbig5QhNt6fTJChNuQZb8AB2MOqaw5I8fCLiV81kh1tjbQ
J6U2/LWyXGLypxSweFgebyAyTn/JZePJBqfeaELt/vv3CLfe8pn/Wgu9Cbj9B3Yi
qehS+olc6fL8OyBPxqLWpHMa8ce/nLmdcWdZnBkCgYEA40xjJI43an4xUPcsLW6o
THL0HEzAJjRRaFa5uekXhBOz33L0j0f1LfE5JNSVTKL/DV0l9CCa61YuyNWznC8m
Jg7M4kEW4cfA9+1jGNTunloeFNtz/DG6Bw63obMVMv0i3y5vdBnfzhC8Edl9eogR
rqqElTpR4LLnYzpSGbEfjbkCgYEA3c2Jf9b3fRegYnxW3e+p0Suvmt7Nznz/PbiD
YWKi6zRcYTRga5B9Pv+kRNfjzkpNqdi0xVefcDDtxs0266D2kSTh29JUwm21k2/e
6qxicyuFPqXE1BiYqx+kjWtBbBYNBfHi05KqLT1YM2T7/qQnijlWRJDiC9h49mND
xLf3qg0CgYBEham5wnnoS8S4QNt7ksl/yoPW6DhhDBKinsp8xk1Fjt8B9NjPPQUn
5Xmxpbigkt7K+5LOhunNGn0eJHZyFjCs9ndDmhW42QxOca0XNlH9QPOinAnaNG99
Yy1uvNseNPvHRmtpF8fFinv38ZYHU2/pNRSlHCDE2Yox+sn3XtNBWQKBgFDZiCJq
aIJXp2Xe7wctQlh1tSgdySVYmO2VoYZRHxPfXUEth2wOGilppCZYD7j1isO7s4Ev
xHVv0GykBz3yyY30xMONMspAlWxt3fLq7WQP3B0O7eVmJdhSy3elPg65JvwgxM7c
al3dO5ZYXCbhDWysI88QhOVOfiFJ470EVinNAoGBAMku7KGUXcOdtiRU42S2wudP
y1SLrAHsntKu/4LeXftzlRm+Rq0rPCQq7Ky2TjOp5DmpYW8ITtFC2cVnF24W0dSR
YkIDaVq2COoVX50jD0/9I0/3+7Izzn7huvwrVAtZrJAUb69LQO9tFmcHaAB2QotR
PNcBZZxYHVo8Iki/w71t
-----END PRIVATE KEY-----
";

fn replay_client(tape: Arc<Tape>) -> anyhow::Result<HttpClient> {
    let limits = HttpLimits {
        retry: RetryPolicy {
            max_attempts: 1,
            ..Default::default()
        },
        ..Default::default()
    };
    let outbound = Outbound::new(&limits.retry);
    Ok(HttpClient::new(limits, outbound)?.intercepted(tape))
}

/// Load `bytes` into a fresh runtime whose HTTP answers from `tape`.
async fn load_with(
    bytes: &[u8],
    tape: Arc<Tape>,
    cache_dir: &Path,
) -> anyhow::Result<Result<LoadedPlugin, String>> {
    let runtime = Runtime::new(
        RuntimeConfig {
            cache_dir: Some(cache_dir.to_path_buf()),
            ..Default::default()
        },
        replay_client(tape)?,
    )?;
    Ok(runtime.load(bytes).await.map_err(|e| e.to_string()))
}

/// Run every check of the contract on component `bytes`.
pub async fn run(bytes: &[u8], input: &ConformanceInput) -> anyhow::Result<ConformanceReport> {
    let (manifest, exchanges) = tape::load_fixtures(&input.fixtures).map_err(anyhow::Error::msg)?;
    let scratch = tempfile::tempdir()?;
    let cache = input
        .cache_dir
        .clone()
        .unwrap_or_else(|| scratch.path().join("cache"));
    let tape = Arc::new(Tape::replay(exchanges));
    let mut report = ConformanceReport::default();

    let plugin = match load_with(bytes, tape.clone(), &cache).await? {
        Ok(p) => {
            report.add(
                "loads",
                Ok(format!("WIT {}, describe() answered", p.wit.as_str())),
            );
            p
        }
        Err(e) => {
            report.add("loads", Err(e));
            return Ok(report);
        }
    };
    let info = plugin.info.clone();
    report.connector = info.id.clone();
    report.version = info.version.clone();
    report.wit_version = plugin.wit.as_str().to_string();

    let mut given = manifest.config.clone();
    given.extend(input.config.clone());
    // Defaults applied (templated ones filled in) as connect would, with the default
    // auth option; what does not resolve is reported by the describe check.
    let scheme = info
        .auth
        .first()
        .map(|o| o.scheme.clone())
        .unwrap_or(AuthScheme::None);
    let signing_key = match &scheme {
        AuthScheme::JwtBearer {
            private_key_field, ..
        } => Some(private_key_field.as_str()),
        _ => None,
    };
    let secrets: Secrets = info
        .config
        .iter()
        .filter(|f| f.secret)
        .map(|f| {
            let value = if signing_key == Some(f.name.as_str()) {
                REPLAY_SIGNING_KEY
            } else {
                TEST_SECRET
            };
            (f.name.clone(), Secret::new(value))
        })
        .collect();
    let mut config: BTreeMap<String, String> = info
        .config
        .iter()
        .filter(|f| !f.secret && !f.default.as_deref().unwrap_or_default().contains('{'))
        .filter_map(|f| f.default.clone().map(|d| (f.name.clone(), d)))
        .collect();
    config.extend(given.clone());
    let resolved = validate_config(&info, &scheme, &given, &secrets);
    if let Ok(resolved) = &resolved {
        config = resolved.clone();
    }
    report.add("describe", check_describe(&info, &scheme, &config));
    let missing: Vec<&str> = info
        .config
        .iter()
        .filter(|f| f.required && !f.secret && !config.contains_key(&f.name))
        .map(|f| f.name.as_str())
        .collect();
    if !missing.is_empty() {
        report.add(
            "config",
            Err(format!(
                "required config {} not in the fixtures' manifest; pass --config NAME=VALUE",
                missing.join(", ")
            )),
        );
        return Ok(report);
    }
    if let Err(e) = resolved {
        report.add("config", Err(e));
        return Ok(report);
    }

    let inst = instance_for(&info, &config);
    let ctx = match InstanceSession::scratch(&plugin, &inst, &secrets) {
        Ok(session) => session.context(),
        Err(e) => {
            report.add("config", Err(e.to_string()));
            return Ok(report);
        }
    };
    // `check` first, as connect runs it (and as a recording ran it).
    let misses_before = tape.misses().len();
    let checked = plugin
        .check(ctx.clone())
        .await
        .map(|p| permissions_summary(&p))
        .map_err(|e| e.to_string());
    report.add("check", with_misses(checked, &tape, misses_before));

    let kinds: Vec<Kind> = Kind::ALL
        .into_iter()
        .filter(|k| k.supported_by(&info.capabilities))
        .collect();
    // The first record each kind listed: the default targets of the dry runs.
    let mut samples: HashMap<Kind, Record> = HashMap::new();
    let page_size = manifest.page_size.unwrap_or(100);
    let since = manifest
        .since
        .unwrap_or_else(|| now_millis() - 90 * 24 * 3600 * 1000);
    for &kind in &kinds {
        let mut ctx = ctx.clone();
        ctx.page_size = page_size;
        ctx.now = manifest.now;
        if kind == Kind::Activities {
            ctx.since = Some(since);
        }
        let misses_before = tape.misses().len();
        let mut first = None;
        let (result, ids) = if kind == Kind::Activities {
            check_activities(&plugin, &ctx, input.max_pages, &mut first).await
        } else {
            check_snapshot(&plugin, &ctx, kind, input.max_pages, &mut first).await
        };
        if let Some(record) = first {
            samples.insert(kind, record);
        }
        report.add(
            format!("list {kind}"),
            with_misses(result, &tape, misses_before),
        );
        report.records.insert(kind.to_string(), ids);
    }
    if kinds.is_empty() {
        report.add("capabilities", Err("describe lists no capability".into()));
    }

    // Each declared action as a dry run.
    let egress = EgressPolicy::from_templates(&info.egress, &config, true).ok();
    for (action, fixture) in dry_runs(&info, manifest.actions.as_deref(), |kind| {
        samples.get(&kind).cloned()
    }) {
        let misses_before = tape.misses().len();
        let result = match fixture {
            Ok(Some(fixture)) => dry_run(&plugin, &ctx, egress.as_ref(), &fixture).await,
            Ok(None) => Ok("not in the fixtures' manifest `actions`: not replayed".into()),
            Err(e) => Err(e),
        };
        report.add(
            format!("act {action} (dry run)"),
            with_misses(result, &tape, misses_before),
        );
    }

    // Typed errors: the same first call with every answer a 401, then a 429.
    if let Some(&kind) = kinds.first() {
        for (status, expect) in [(401u16, "unauthorized"), (429, "rate-limited")] {
            let fault = Arc::new(Tape::fault(status));
            let result = match load_with(bytes, fault, &cache).await? {
                Ok(p) => {
                    let mut ctx = ctx.clone();
                    ctx.since = Some(since);
                    let call = InstanceSession::scratch(&p, &inst, &secrets);
                    match call {
                        Ok(session) => {
                            ctx.net = session.context().net;
                            match p.page(ctx, kind, None).await {
                                Err(e) if e.code() == expect => {
                                    Ok(format!("{kind}: HTTP {status} gave `{expect}`"))
                                }
                                Err(e) => Err(format!(
                                    "{kind}: HTTP {status} gave `{}` ({e}), not `{expect}`",
                                    e.code()
                                )),
                                Ok(_) => Err(format!(
                                    "{kind}: HTTP {status} on every request still gave a page, not `{expect}`"
                                )),
                            }
                        }
                        Err(e) => Err(e.to_string()),
                    }
                }
                Err(e) => Err(e),
            };
            report.add(format!("HTTP {status} is `{expect}`"), result);
        }
    }

    let denied = tape.denied();
    report.add(
        "egress",
        if denied.is_empty() {
            Ok(format!(
                "every request stayed within {}",
                info.egress.join(", ")
            ))
        } else {
            Err(format!(
                "requested outside the declared egress: {}",
                denied.join(", ")
            ))
        },
    );
    Ok(report)
}

/// A synthetic instance over `config` (for the call context).
fn instance_for(info: &ConnectorInfo, config: &BTreeMap<String, String>) -> Instance {
    Instance {
        id: "conformance".into(),
        // Fixtures are often recorded against loopback mocks.
        allow_private_network: true,
        ..Instance::new("conformance", &info.id, &info.version, config.clone())
    }
}

/// A failed check's detail, with the requests the fixtures had no answer for.
fn with_misses(
    result: Result<String, String>,
    tape: &Tape,
    misses_before: usize,
) -> Result<String, String> {
    let misses = tape.misses();
    match result {
        Err(e) if misses.len() > misses_before => Err(format!(
            "{e}; no fixture for {}",
            misses[misses_before..].join(", ")
        )),
        other => other,
    }
}

/// What `check` reported, in one line.
fn permissions_summary(p: &Permissions) -> String {
    let mut out = match &p.principal {
        Some(who) => format!("as {who}: "),
        None => String::new(),
    };
    out.push_str(&format!("{} permission(s) granted", p.granted.len()));
    if !p.missing.is_empty() {
        let missing: Vec<String> = p
            .missing
            .iter()
            .map(|(cap, what)| format!("{what} (for {cap:?})"))
            .collect();
        out.push_str(&format!("; missing: {}", missing.join(", ")));
    }
    out
}

/// The dry runs to make, one per declared action: the manifest's fixture for it
/// (`Ok(None)` when the manifest lists actions but not this one), else a target
/// taken from `first_of` its kind.
fn dry_runs(
    info: &ConnectorInfo,
    manifest: Option<&[ActionFixture]>,
    first_of: impl Fn(Kind) -> Option<Record>,
) -> Vec<(ActionKind, Result<Option<ActionFixture>, String>)> {
    let mut out: Vec<_> = info
        .actions
        .iter()
        .map(|&action| {
            let fixture = match manifest {
                Some(listed) => Ok(listed.iter().find(|f| f.action == action).cloned()),
                None => default_fixture(action, &first_of).map(Some),
            };
            (action, fixture)
        })
        .collect();
    for f in manifest.unwrap_or_default() {
        if !info.actions.contains(&f.action) {
            out.push((
                f.action,
                Err(
                    "named in the fixtures' manifest, but the connector does not declare it".into(),
                ),
            ));
        }
    }
    out
}

/// A dry run of `action` on the first record of its target kind, with the params a
/// real action would get (`act` adds a user's login and email; `remove-group-member`
/// needs a `member`: the first user; `remove-file-collaborator` a `principal` and
/// `apply-label` a `label`, from the file).
fn default_fixture(
    action: ActionKind,
    first_of: impl Fn(Kind) -> Option<Record>,
) -> Result<ActionFixture, String> {
    let kind = action.target_kind();
    let target = first_of(kind).ok_or_else(|| {
        format!(
            "no {kind} record was listed to act on; name a target in the fixtures' manifest: \"actions\": [{{\"action\": \"{action}\", \"target\": \"ID\"}}]"
        )
    })?;
    let mut params: BTreeMap<String, String> = target.action_params().into_iter().collect();
    if action == ActionKind::RemoveGroupMember {
        let member = first_of(Kind::Users).ok_or_else(|| {
            "remove-group-member needs a `member`: no user was listed; name one in the manifest's `actions` params".to_string()
        })?;
        params.insert("member".into(), member.id().to_string());
    }
    // File actions that name what they change: the file's own first principal or label
    // when it has one, else (for a collaborator) the first user, whom the dry run finds
    // without access.
    if let Record::File(file) = &target {
        if action == ActionKind::RemoveFileCollaborator {
            let principal = (file.sharing.principals.first().map(|p| p.id.clone())).or_else(|| {
                first_of(Kind::Users).and_then(|u| match u {
                    Record::User(u) => u.email.or(u.login).or(Some(u.id)),
                    _ => None,
                })
            });
            params.extend(principal.map(|p| ("principal".to_string(), p)));
        }
        if action == ActionKind::ApplyLabel {
            let label = file
                .labels
                .first()
                .map(|l| l.split(':').next().unwrap_or(l).to_string());
            params.extend(label.map(|l| ("label".to_string(), l)));
        }
    }
    Ok(ActionFixture {
        action,
        target: target.id().to_string(),
        params,
    })
}

/// Run `fixture` as a dry run: it must plan write requests inside the egress (or find
/// nothing to do), and send nothing.
async fn dry_run(
    plugin: &LoadedPlugin,
    ctx: &CallContext,
    egress: Option<&EgressPolicy>,
    fixture: &ActionFixture,
) -> Result<String, String> {
    let target = &fixture.target;
    let outcome = plugin
        .act_tracked(ctx.clone(), action_request(fixture))
        .await
        .map_err(|f| format!("on `{target}`: {}", f.error))?;
    if !outcome.sent.is_empty() {
        return Err(format!(
            "on `{target}`: a dry run sent {} write request(s)",
            outcome.sent.len()
        ));
    }
    match outcome.status.as_str() {
        "planned" if outcome.requests.is_empty() => Err(format!(
            "on `{target}`: planned, but lists no request it would send"
        )),
        "planned" => {
            for line in &outcome.requests {
                planned_request_problem(line, egress)
                    .map_or(Ok(()), |p| Err(format!("on `{target}`: {p}")))?;
            }
            Ok(format!(
                "on `{target}`: would send {}",
                outcome.requests.join("; ")
            ))
        }
        "already" => Ok(format!("on `{target}`: already so, nothing to send")),
        other => Err(format!(
            "on `{target}`: a dry run answered `{other}`, not `planned` or `already`"
        )),
    }
}

/// Why a planned request line (`DELETE https://…`) is wrong, if it is.
fn planned_request_problem(line: &str, egress: Option<&EgressPolicy>) -> Option<String> {
    let Some((method, url)) = line.split_once(' ') else {
        return Some(format!("`{line}` is not `METHOD URL`"));
    };
    if !["POST", "PUT", "PATCH", "DELETE"].contains(&method) {
        return Some(format!("`{line}`: {method} is not a write request"));
    }
    let url = match url::Url::parse(url.trim()) {
        Ok(u) => u,
        Err(e) => return Some(format!("`{line}`: {e}")),
    };
    egress
        .and_then(|p| p.check(&url).err())
        .map(|e| format!("would send `{line}` outside the declared egress: {e}"))
}

fn action_request(fixture: &ActionFixture) -> ActionRequest {
    ActionRequest {
        kind: fixture.action,
        target: fixture.target.clone(),
        params: fixture.params.clone().into_iter().collect(),
        reason: Some("sluice test-connector (dry run)".into()),
        dry_run: true,
    }
}

/// Checks beyond what loading already refuses.
fn check_describe(
    info: &ConnectorInfo,
    scheme: &AuthScheme,
    config: &BTreeMap<String, String>,
) -> Result<String, String> {
    let mut problems = Vec::new();
    if info.name.trim().is_empty() {
        problems.push("name is empty".to_string());
    }
    if info.capabilities.is_empty() {
        problems.push("lists no capability".into());
    }
    let mut seen = HashSet::new();
    for c in &info.capabilities {
        if !seen.insert(c) {
            problems.push(format!("capability {c:?} is listed twice"));
        }
    }
    let mut seen = HashSet::new();
    for a in &info.actions {
        if !seen.insert(a) {
            problems.push(format!("action {a} is listed twice"));
        }
    }
    for f in &info.config {
        let ok = !f.name.is_empty()
            && f.name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !ok {
            problems.push(format!(
                "config field `{}`: use lowercase [a-z0-9_]",
                f.name
            ));
        }
        if f.label.trim().is_empty() {
            problems.push(format!("config field `{}` has no label", f.name));
        }
        if f.secret && f.default.is_some() {
            problems.push(format!("secret config field `{}` has a default", f.name));
        }
    }
    if info.egress.is_empty() {
        problems.push("declares no egress (every request would be refused)".into());
    }
    if let Err(e) =
        crate::capabilities::egress::EgressPolicy::from_templates(&info.egress, config, true)
    {
        problems.push(format!("egress does not resolve over the config: {e}"));
    }
    // Templates of the default auth option, scan writes and config defaults too: a
    // placeholder left unfilled would be sent as is.
    if let Err(e) = resolve_templates(info, scheme, config) {
        problems.push(e);
    }

    for r in &info.rate_limits {
        if r.requests == 0 || r.per_seconds == 0 {
            problems.push(format!(
                "rate limit `{}` allows {} requests per {} s",
                r.scope, r.requests, r.per_seconds
            ));
        }
    }
    if problems.is_empty() {
        Ok(format!(
            "{} {}: {} capabilities, {} actions, {} config fields, egress {}",
            info.id,
            info.version,
            info.capabilities.len(),
            info.actions.len(),
            info.config.len(),
            info.egress.join(", ")
        ))
    } else {
        Err(problems.join("; "))
    }
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// `raw` must be the provider's JSON: an object or an array, not a string or null.
fn raw_problem(r: &Record) -> Option<String> {
    let raw = match r {
        Record::User(x) => &x.raw,
        Record::Group(x) => &x.raw,
        Record::Activity(x) => &x.raw,
        Record::File(x) => &x.raw,
        Record::AppPermission(x) => &x.raw,
        Record::Finding(x) => &x.raw,
    };
    let text = raw.get().trim();
    let structured = text.starts_with('{') || text.starts_with('[');
    let empty = text == "{}" || text == "[]";
    (!structured || empty).then(|| {
        format!(
            "record `{}` keeps `{}` as raw, not the provider's JSON",
            r.id(),
            truncate(text, 40)
        )
    })
}

/// Page `done + 1` of `kind`, with every record's `raw` checked; the failure as the
/// check's detail.
async fn checked_page(
    plugin: &LoadedPlugin,
    ctx: &CallContext,
    kind: Kind,
    cursor: Option<String>,
    done: u64,
    sample: &mut Option<Record>,
) -> Result<crate::model::Page, String> {
    let page = match plugin.page(ctx.clone(), kind, cursor).await {
        Ok(p) => p,
        Err(ConnectorError::Unsupported(why)) if done == 0 => {
            return Err(format!(
                "listed in describe but answers `unsupported`: {why}"
            ));
        }
        Err(e) => return Err(format!("page {}: {e}", done + 1)),
    };
    if sample.is_none() {
        *sample = page.records.first().cloned();
    }
    match page.records.iter().find_map(raw_problem) {
        Some(problem) => Err(problem),
        None => Ok(page),
    }
}

async fn check_snapshot(
    plugin: &LoadedPlugin,
    ctx: &CallContext,
    kind: Kind,
    max_pages: u64,
    sample: &mut Option<Record>,
) -> (Result<String, String>, Vec<String>) {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    let mut seen = HashSet::new();
    let mut pages = 0u64;
    loop {
        if pages >= max_pages {
            return (
                Err(format!(
                    "no last page after {max_pages} pages: pagination does not end"
                )),
                ids,
            );
        }
        let page = match checked_page(plugin, ctx, kind, cursor.clone(), pages, sample).await {
            Ok(p) => p,
            Err(e) => return (Err(e), ids),
        };
        pages += 1;
        ids.extend(page.records.iter().map(|r| r.id().to_string()));
        match page.next_cursor {
            None => break,
            Some(c) => {
                if !seen.insert(c.clone()) {
                    return (
                        Err(format!(
                            "cursor `{}` came back on page {pages}: pagination would never end",
                            truncate(&c, 60)
                        )),
                        ids,
                    );
                }
                cursor = Some(c);
            }
        }
    }
    (Ok(format!("{pages} pages, {} records", ids.len())), ids)
}

async fn check_activities(
    plugin: &LoadedPlugin,
    ctx: &CallContext,
    max_pages: u64,
    sample: &mut Option<Record>,
) -> (Result<String, String>, Vec<String>) {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0u64;
    // (cursor saved after page 1, ids of page 2): for the resume check.
    let mut resume: Option<(Option<String>, Vec<String>)> = None;
    loop {
        if pages >= max_pages {
            return (
                Err(format!(
                    "still `more` after {max_pages} pages: the feed never ends"
                )),
                ids,
            );
        }
        let page = match checked_page(plugin, ctx, Kind::Activities, cursor.clone(), pages, sample)
            .await
        {
            Ok(p) => p,
            Err(e) => return (Err(e), ids),
        };
        pages += 1;
        let page_ids: Vec<String> = page.records.iter().map(|r| r.id().to_string()).collect();
        if pages == 2 {
            resume = Some((cursor.clone(), page_ids.clone()));
        }
        ids.extend(page_ids);
        let n = page.records.len();
        let previous = cursor.clone();
        if page.next_cursor.is_some() {
            cursor = page.next_cursor.clone();
        }
        if page.more && n > 0 && cursor == previous {
            return (
                Err(format!(
                    "page {pages} had {n} events and `more`, but the cursor did not advance"
                )),
                ids,
            );
        }
        if !page.more || (n == 0 && cursor == previous) {
            break;
        }
    }
    if cursor.is_none() && !ids.is_empty() {
        return (
            Err(
                "events were read but no cursor was given to save: the next scan could not resume"
                    .into(),
            ),
            ids,
        );
    }
    let resumed = match resume {
        Some((saved, expected)) => match plugin.page(ctx.clone(), Kind::Activities, saved).await {
            Ok(p) => {
                let got: Vec<String> = p.records.iter().map(|r| r.id().to_string()).collect();
                if got != expected {
                    return (
                        Err(format!(
                            "resuming from page 1's cursor read {} events, not page 2's {}",
                            got.len(),
                            expected.len()
                        )),
                        ids,
                    );
                }
                ", resumable from a saved cursor"
            }
            Err(e) => return (Err(format!("resuming from a saved cursor: {e}")), ids),
        },
        None => "",
    };
    (
        Ok(format!("{pages} pages, {} events{resumed}", ids.len())),
        ids,
    )
}

/// Run a full scan of `instance` from scratch with every exchange recorded into `dir`.
///
/// The scan goes into a scratch store, so the instance's own records and cursors are
/// untouched, and starts from no cursor with a fixed activity start (saved in the
/// manifest), so a replay sends exactly the recorded requests.
pub async fn record_scan(
    store: &Store,
    instance: &Instance,
    bytes: &[u8],
    kinds: &[Kind],
    dir: &Path,
    cache_dir: Option<PathBuf>,
) -> anyhow::Result<(Vec<KindReport>, usize)> {
    let secrets = store.secrets(&instance.id)?;
    let page_size = ScanOptions::default().page_size;
    let now = now_millis();
    let since: Millis = now - Millis::from(crate::model::DEFAULT_LOOK_BACK_DAYS) * 86_400_000;
    let manifest = Manifest {
        connector: instance.connector.clone(),
        version: String::new(),
        config: instance.config.clone(),
        since: Some(since),
        now: Some(now),
        page_size: Some(page_size),
        actions: None,
    };
    let redact = secrets.values().map(|s| s.expose().to_string()).collect();
    let tape = Arc::new(Tape::record(dir, &manifest, redact)?);
    let runtime = Runtime::new(
        RuntimeConfig {
            cache_dir,
            ..Default::default()
        },
        HttpClient::new(
            HttpLimits::default(),
            Outbound::new(&RetryPolicy::default()),
        )?
        .intercepted(tape.clone()),
    )?;
    let plugin = runtime
        .load(bytes)
        .await
        .map_err(|e| anyhow::anyhow!("loading {}: {e}", instance.connector))?;
    let version = plugin.info.version.clone();
    tape.update_manifest(|m| m.version = version);
    let scratch_dir = tempfile::tempdir()?;
    let scratch = Store::open(scratch_dir.path())?;
    scratch.create_instance(instance, &secrets)?;
    let session = InstanceSession::open(&plugin, &scratch, instance)
        .map_err(|e| anyhow::anyhow!("{}: {e}", instance.name))?;
    // `check` first, as a replay runs it.
    if let Err(e) = session.check().await {
        tracing::warn!(instance = %instance.name, "recording: check failed: {e}");
    }
    let opts = ScanOptions {
        activity_since: Some(since),
        now: Some(now),
        page_size,
        // A replay pages each feed from its start, one page after another.
        activity_partitions: 1,
        ..Default::default()
    };
    let reports = scan_instance(&scratch, &plugin, instance, kinds, &opts).await?;

    // Every granted action as a dry run on the first record of its kind (GETs only:
    // the host refuses writes in a dry run), named in the manifest so a replay runs
    // the same ones.
    let granted = effective_grants(&plugin.info, instance)
        .map(|g| g.actions)
        .unwrap_or_default();
    let first_of = |kind: Kind| {
        let query = RecordQuery {
            limit: Some(1),
            include_deleted: false,
        };
        scratch
            .records(&instance.id, kind, &query)
            .ok()
            .and_then(|r| r.into_iter().next())
            .map(|r| r.record)
    };
    let mut ran = Vec::new();
    for (action, fixture) in dry_runs(&plugin.info, None, first_of) {
        let Ok(Some(fixture)) = fixture else { continue };
        if !granted.contains(&action) {
            continue;
        }
        if let Err(f) = session.act(action_request(&fixture)).await {
            tracing::warn!(instance = %instance.name, "recording: dry run of {action}: {}", f.error);
        }
        ran.push(fixture);
    }
    tape.update_manifest(|m| m.actions = Some(ran));
    Ok((reports, tape.recorded()))
}
