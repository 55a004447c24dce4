//! Governance actions (`sluice act`, `POST /v1/instances/{name}/actions`) and the
//! audit log they write (`sluice audit`, `GET /v1/audit`).
//!
//! Guard rails, in order, before the connector runs: the connector supports the
//! action, the operator granted it to the instance, and the target is a record the
//! store holds (an id, or for users a login or email). Every attempt on a known
//! instance is audited — refused, previewed, done, already or failed — before the
//! answer goes back. After a real action the target's kind is rescanned so the store
//! (and `sluice users`) shows the new state.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::op::{InputFrom, InstanceName, Method, OpDoc, Operation, TokenName};
use super::{Control, ControlError, ScanInput};
use crate::model::{ActionKind, ConnectorError, Kind, Record, now_millis};
use crate::runtime::{ActionFailure, ActionRequest, SentWrite};
use crate::scan::KindReport;
use crate::session::InstanceSession;
use crate::store::tokens::{ADMIN_TOKEN_NAME, TokenInfo};
use crate::store::{AuditEntry, AuditFilter, AuditVerification, Instance, Secret, StoredRecord};

/// `POST /v1/instances/{name}/actions`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActInput {
    pub action: ActionKind,
    /// The record acted on: its provider id (as `sluice users` shows it), or for a
    /// user action the user's login or email.
    pub target: String,
    /// Extra arguments, e.g. `member` for `remove-group-member`.
    #[serde(default)]
    pub params: BTreeMap<String, String>,
    /// Why: kept in the audit log, and passed to the provider where it takes a note.
    #[serde(default)]
    pub reason: Option<String>,
    /// Ask the connector for the requests it would send, and send none.
    #[serde(default)]
    pub dry_run: bool,
}

/// What an action did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ActOutput {
    /// The audit entry written for it (outcome, requests, provider status, hash).
    pub audit: AuditEntry,
    /// The target as the store holds it now: after the refresh for a real action.
    pub record: Option<StoredRecord>,
    /// The rescan of the target's kind after a real action.
    pub refresh: Option<KindReport>,
    /// Why the rescan did not run or failed (the action itself stands).
    pub refresh_error: Option<String>,
}

/// `GET /v1/audit`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuditView {
    pub entries: Vec<AuditEntry>,
    /// With `verify=true`: the result of recomputing the chain.
    pub verification: Option<AuditVerification>,
}

/// `POST /v1/tokens`: a new named token, shown once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NewToken {
    pub name: String,
    pub created: crate::model::Millis,
    pub token: String,
}

/// The outcome of an attempt that did not get an answer from the connector.
struct Refusal {
    outcome: &'static str,
    error: ControlError,
    sent: Vec<SentWrite>,
}

impl Control {
    /// Run (or with `dry_run`, preview) a governance action on an instance's record,
    /// on behalf of `who`, and audit it.
    #[tracing::instrument(name = "act", skip_all, fields(instance = name, action = %input.action))]
    pub async fn act(
        &self,
        name: &str,
        input: ActInput,
        who: &str,
    ) -> Result<ActOutput, ControlError> {
        let inst = self.migrated(self.store.instance(name)?)?;
        let kind = input.action.target_kind();
        let mut entry = AuditEntry {
            seq: 0,
            at: now_millis(),
            who: who.to_string(),
            instance: inst.name.clone(),
            instance_id: inst.id.clone(),
            connector: inst.connector.clone(),
            connector_version: String::new(),
            action: crate::store::AuditAction::Action(input.action),
            target: input.target.trim().to_string(),
            params: input.params.clone().into_iter().collect(),
            reason: input.reason.clone().filter(|r| !r.trim().is_empty()),
            dry_run: input.dry_run,
            outcome: String::new(),
            message: String::new(),
            requests: Vec::new(),
            sent: Vec::new(),
            provider_status: None,
            prev: String::new(),
            hash: String::new(),
        };
        match self.run_action(&inst, &input, &mut entry).await {
            Ok(outcome) => {
                entry.outcome = outcome.status;
                entry.message = outcome.message;
                entry.requests = outcome.requests;
                entry.provider_status = outcome.sent.last().and_then(|w| w.status);
                entry.sent = outcome.sent;
            }
            Err(refusal) => {
                entry.outcome = refusal.outcome.to_string();
                entry.message = refusal.error.to_string();
                entry.provider_status = refusal.sent.last().and_then(|w| w.status);
                entry.sent = refusal.sent;
                let logged = self.store.append_audit(entry)?;
                // A refusal is the operator's input error, answered to them; a failure
                // may have left the provider half-changed.
                if logged.outcome == "failed" {
                    tracing::warn!(instance = %inst.name, action = %input.action, target = %logged.target, who, seq = logged.seq, "action failed: {}", logged.message);
                } else {
                    tracing::info!(instance = %inst.name, action = %input.action, target = %logged.target, who, seq = logged.seq, "action refused: {}", logged.message);
                }
                return Err(refusal.error);
            }
        }
        let audit = self.store.append_audit(entry)?;
        tracing::info!(instance = %inst.name, action = %input.action, target = %audit.target, who, outcome = %audit.outcome, dry_run = audit.dry_run, seq = audit.seq, "action {}", audit.outcome);
        let (mut refresh, mut refresh_error) = (None, None);
        if !audit.dry_run {
            match self
                .scan(
                    &inst.name,
                    ScanInput {
                        kinds: vec![kind],
                        wait: true,
                        // A full rescan: not every provider marks a file changed
                        // when only its sharing changed.
                        changes_only: false,
                    },
                )
                .await
            {
                Ok(out) => {
                    refresh = out.reports.into_iter().next();
                    refresh_error = refresh
                        .as_ref()
                        .and_then(|r| r.error.as_ref())
                        .map(|e| e.to_string());
                }
                Err(e) => refresh_error = Some(e.to_string()),
            }
        }
        let record = self.store.record(&inst.id, kind, &audit.target)?;
        Ok(ActOutput {
            audit,
            record,
            refresh,
            refresh_error,
        })
    }

    /// The guard rails and the connector call; fills in the entry's canonical target
    /// and params.
    async fn run_action(
        &self,
        inst: &Instance,
        input: &ActInput,
        entry: &mut AuditEntry,
    ) -> Result<crate::runtime::ActionOutcome, Refusal> {
        let refuse = |error: ControlError| Refusal {
            outcome: "refused",
            error,
            sent: Vec::new(),
        };
        let plugin = self
            .plugin_of(inst)
            .map_err(|e| ControlError::Unavailable(format!("{e} for instance `{}`", inst.name)))
            .map_err(refuse)?
            .plugin;
        entry.connector_version = plugin.info.version.clone();
        if !plugin.info.actions.contains(&input.action) {
            let offered: Vec<&str> = plugin.info.actions.iter().map(|a| a.as_str()).collect();
            return Err(refuse(ControlError::BadRequest(format!(
                "connector `{}` {} does not perform `{}`; it offers: {}",
                inst.connector,
                plugin.info.version,
                input.action,
                if offered.is_empty() {
                    "no actions".to_string()
                } else {
                    offered.join(", ")
                }
            ))));
        }
        let granted = inst
            .grants
            .as_ref()
            .is_some_and(|g| g.actions.contains(&input.action));
        if !granted {
            return Err(refuse(ControlError::NotGranted(format!(
                "action `{}` is not granted to instance `{}`; `sluice instances approve {}` grants what its connector asks for",
                input.action, inst.name, inst.name
            ))));
        }
        if entry.target.is_empty() {
            return Err(refuse(ControlError::BadRequest(
                "give the target's id (--target)".into(),
            )));
        }
        let record = self
            .resolve_target(inst, input.action, &entry.target)
            .map_err(refuse)?;
        entry.target = record.record.id().to_string();
        // What the connector may need besides the id (GitHub removes by login).
        for (k, v) in record.record.action_params() {
            if !entry.params.iter().any(|(pk, _)| *pk == k) {
                entry.params.push((k, v));
            }
        }
        if input.action == ActionKind::RemoveGroupMember
            && !entry.params.iter().any(|(k, _)| k == "member")
        {
            return Err(refuse(ControlError::BadRequest(
                "remove-group-member needs the member's id: --param member=ID".into(),
            )));
        }
        // The session also saves a refresh token the provider rotates during the
        // action, as a scan's does.
        let session = InstanceSession::open(&plugin, &self.store, inst).map_err(|e| {
            refuse(match e {
                ConnectorError::InvalidConfig(_) => ControlError::BadRequest(e.to_string()),
                other => ControlError::Internal(other.to_string()),
            })
        })?;
        let request = ActionRequest {
            kind: input.action,
            target: entry.target.clone(),
            params: entry.params.clone(),
            reason: entry.reason.clone(),
            dry_run: input.dry_run,
        };
        session
            .act(request)
            .await
            .map_err(|ActionFailure { error, sent }| Refusal {
                outcome: if matches!(error, ConnectorError::NotGranted(_)) {
                    "refused"
                } else {
                    "failed"
                },
                error: match error {
                    ConnectorError::NotGranted(m) => ControlError::NotGranted(m),
                    ConnectorError::Unsupported(m) | ConnectorError::InvalidConfig(m) => {
                        ControlError::BadRequest(m)
                    }
                    other => ControlError::ActionFailed(format!(
                        "{} on `{}` failed: {other}",
                        input.action, inst.name
                    )),
                },
                sent,
            })
    }

    /// The stored record an action's target names: by provider id, or (users) by a
    /// unique login or email. Deleted records count: the connector reports `already`.
    fn resolve_target(
        &self,
        inst: &Instance,
        action: ActionKind,
        target: &str,
    ) -> Result<StoredRecord, ControlError> {
        let kind = action.target_kind();
        if let Some(r) = self.store.record(&inst.id, kind, target)? {
            return Ok(r);
        }
        let all = self.store.records(
            &inst.id,
            kind,
            &crate::store::RecordQuery {
                limit: None,
                include_deleted: true,
            },
        )?;
        let matches: Vec<StoredRecord> = all
            .into_iter()
            .filter(|r| match &r.record {
                Record::User(u) => [&u.login, &u.email]
                    .into_iter()
                    .flatten()
                    .any(|v| v.eq_ignore_ascii_case(target)),
                Record::Group(g) => g.name == target,
                _ => false,
            })
            .collect();
        match matches.len() {
            1 => Ok(matches.into_iter().next().expect("one match")),
            0 => Err(ControlError::NotFound(format!(
                "no {} `{target}` in instance `{}`'s store: act only on records sluice has collected (see `sluice {} {}`; scan first if it is new)",
                kind_noun(kind),
                inst.name,
                kind.as_str(),
                inst.name
            ))),
            n => Err(ControlError::BadRequest(format!(
                "`{target}` matches {n} {}s in `{}`: give the id instead",
                kind_noun(kind),
                inst.name
            ))),
        }
    }

    /// Audit entries, newest first; with `verify`, the chain checked too.
    pub fn audit(&self, filter: &AuditFilter, verify: bool) -> Result<AuditView, ControlError> {
        if let Some(i) = &filter.instance {
            // A typo should say so, not list nothing; removed instances stay listable
            // by the name their entries carry.
            let known = self.store.instance(i).is_ok()
                || !self
                    .store
                    .audit(&AuditFilter {
                        instance: Some(i.clone()),
                        limit: Some(1),
                    })?
                    .is_empty();
            if !known {
                return Err(ControlError::NotFound(format!(
                    "no instance `{i}` and no audit entries for it"
                )));
            }
        }
        Ok(AuditView {
            entries: self.store.audit(filter)?,
            verification: if verify {
                Some(self.store.verify_audit()?)
            } else {
                None
            },
        })
    }
}

impl Control {
    /// Create a named API token; its value is returned once and stored only hashed.
    pub fn create_token(&self, name: &str) -> Result<NewToken, ControlError> {
        let name = name.trim();
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'));
        if !valid {
            return Err(ControlError::BadRequest(format!(
                "token name `{name}`: use 1–64 letters, digits and - _ . @"
            )));
        }
        if name == ADMIN_TOKEN_NAME || name.starts_with("local:") {
            return Err(ControlError::Conflict(format!(
                "`{name}` is reserved: it names the data dir's own token (`sluice token`)"
            )));
        }
        use rand::RngCore;
        let mut b = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut b);
        let token = Secret::new(format!("sluice_{}", hex::encode(b)));
        let info = self.store.create_token(name, token.expose())?;
        tracing::info!(token = %name, "API token created");
        Ok(NewToken {
            name: info.name,
            created: info.created,
            token: token.expose().to_string(),
        })
    }

    pub fn tokens(&self) -> Result<Vec<TokenInfo>, ControlError> {
        Ok(self.store.tokens()?)
    }

    pub fn revoke_token(&self, name: &str) -> Result<TokenInfo, ControlError> {
        let t = self
            .store
            .revoke_token(name)?
            .ok_or_else(|| ControlError::NotFound(format!("no token named `{name}`")))?;
        tracing::info!(token = %name, "API token revoked");
        Ok(t)
    }
}

fn kind_noun(kind: Kind) -> &'static str {
    match kind {
        Kind::Users => "user",
        Kind::Groups => "group",
        Kind::Files => "file",
        Kind::AppPermissions => "app permission",
        Kind::Activities => "activity",
        Kind::Findings => "finding",
    }
}

/// `POST /v1/instances/{name}/actions`: audited under the caller's token name.
#[derive(Debug)]
pub struct Act;

impl Operation for Act {
    const METHOD: Method = Method::Post;
    const PATH: &'static str = "/v1/instances/{name}/actions";
    const INPUT: InputFrom = InputFrom::Json;
    const DOC: OpDoc = OpDoc {
        id: "act",
        tag: "actions",
        summary: "Run or preview a governance action",
        description: "Runs a governance action (suspend a user, revoke an app permission, \
            …) through the instance's connector, or with `dry_run: true` asks \
            the connector for the exact write requests it would send and sends \
            none (the host refuses every write request during a dry run). Guard \
            rails, checked before the connector runs: the connector supports the \
            action, the instance was granted it, and the target is a record the \
            store holds (a provider id; for user actions also a login or email). \
            Every attempt on a known instance is appended to the hash-chained \
            audit log under the calling token's name, refused and failed ones \
            included. After a real action the target's kind is rescanned, so \
            `record` shows the new state. Repeating an action on a target \
            already in that state succeeds with outcome `already`.",
        responses: &[
            (
                200,
                "The action ran (`done` or `already`) or was planned (dry run); \
                its audit entry, the record after the refresh and the refresh's \
                report.",
            ),
            (
                400,
                "Malformed body, an action the connector does not perform, a \
                missing parameter, or an ambiguous target (`bad-request`). \
                Audited as `refused`.",
            ),
            (
                403,
                "The action is not granted to the instance (`not-granted`); \
                nothing was sent. Audited as `refused`.",
            ),
            (
                404,
                "Unknown instance, or a target the store does not hold \
                (`not-found`; the latter is audited as `refused`).",
            ),
            (500, "Internal"),
            (
                502,
                "The connector or the provider failed the action \
                (`action-failed`). Audited as `failed` with the write requests \
                sent and the provider's status.",
            ),
            (
                503,
                "The instance's connector is not loaded (`unavailable`).",
            ),
        ],
    };
    type Params = InstanceName;
    type Input = ActInput;
    type Output = ActOutput;

    async fn run(
        c: &Control,
        who: &str,
        p: InstanceName,
        i: ActInput,
    ) -> Result<ActOutput, ControlError> {
        c.act(&p.name, i, who).await
    }
}

/// `GET /v1/audit`.
#[derive(Debug)]
pub struct Audit;

/// The query string of [`Audit`].
#[derive(Clone, Debug, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only this instance (name or id; removed instances by the name their entries
    /// carry).
    pub instance: Option<String>,
    /// At most this many entries, newest first.
    pub limit: Option<usize>,
    /// Also recompute the hash chain.
    #[serde(default)]
    pub verify: bool,
}

impl Operation for Audit {
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v1/audit";
    const INPUT: InputFrom = InputFrom::Query;
    const DOC: OpDoc = OpDoc {
        id: "audit",
        tag: "actions",
        summary: "The governance audit log",
        description: "Audit entries, newest first, each with its SHA-256 hash. Every entry \
            carries the previous entry's hash, so editing or deleting one breaks \
            the chain; `verify=true` recomputes it from the first entry to the \
            head and reports the first break.",
        responses: &[
            (200, "The entries, and with `verify` the verification."),
            (400, "BadRequest"),
            (404, "No such instance and no entries for it (`not-found`)."),
            (500, "Internal"),
        ],
    };
    type Params = ();
    type Input = AuditQuery;
    type Output = AuditView;

    async fn run(c: &Control, _: &str, _: (), q: AuditQuery) -> Result<AuditView, ControlError> {
        let filter = AuditFilter {
            instance: q.instance,
            limit: q.limit,
        };
        c.audit(&filter, q.verify)
    }
}

/// `GET /v1/tokens`.
#[derive(Debug)]
pub struct ListTokens;

impl Operation for ListTokens {
    const METHOD: Method = Method::Get;
    const PATH: &'static str = "/v1/tokens";
    const INPUT: InputFrom = InputFrom::Nothing;
    const ADMIN_ONLY: bool = true;
    const DOC: OpDoc = OpDoc {
        id: "listTokens",
        tag: "tokens",
        summary: "Named API tokens",
        description: "Every named token (name and creation time; never the value). Only \
            the data dir's own `admin` token may manage tokens.",
        responses: &[
            (200, "The tokens."),
            (403, "The caller is a named token (`admin-only`)."),
            (500, "Internal"),
        ],
    };
    type Params = ();
    type Input = ();
    type Output = Vec<TokenInfo>;

    async fn run(c: &Control, _: &str, _: (), _: ()) -> Result<Vec<TokenInfo>, ControlError> {
        c.tokens()
    }
}

/// `POST /v1/tokens`.
#[derive(Debug)]
pub struct CreateToken;

/// The body of [`CreateToken`].
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenInput {
    /// 1–64 letters, digits and - _ . @; not `admin`.
    pub name: String,
}

impl Operation for CreateToken {
    const METHOD: Method = Method::Post;
    const PATH: &'static str = "/v1/tokens";
    const INPUT: InputFrom = InputFrom::Json;
    const ADMIN_ONLY: bool = true;
    const DOC: OpDoc = OpDoc {
        id: "createToken",
        tag: "tokens",
        summary: "Create a named token",
        description: "Creates a bearer token for one person or automation, so the audit \
            log names who acted. The value is in this answer only; the store \
            keeps its SHA-256.",
        responses: &[
            (201, "The new token, shown once."),
            (400, "A malformed body or name (`bad-request`)."),
            (403, "The caller is a named token (`admin-only`)."),
            (409, "The name is taken or reserved (`conflict`)."),
            (500, "Internal"),
        ],
    };
    type Params = ();
    type Input = TokenInput;
    type Output = NewToken;

    fn status(_: &TokenInput) -> u16 {
        201
    }

    async fn run(c: &Control, _: &str, _: (), i: TokenInput) -> Result<NewToken, ControlError> {
        c.create_token(&i.name)
    }
}

/// `DELETE /v1/tokens/{name}`.
#[derive(Debug)]
pub struct RevokeToken;

impl Operation for RevokeToken {
    const METHOD: Method = Method::Delete;
    const PATH: &'static str = "/v1/tokens/{name}";
    const INPUT: InputFrom = InputFrom::Nothing;
    const ADMIN_ONLY: bool = true;
    const DOC: OpDoc = OpDoc {
        id: "revokeToken",
        tag: "tokens",
        summary: "Revoke a named token",
        description: "Requests carrying it are refused from now on.",
        responses: &[
            (200, "The revoked token."),
            (403, "The caller is a named token (`admin-only`)."),
            (404, "No token by that name (`not-found`)."),
            (500, "Internal"),
        ],
    };
    type Params = TokenName;
    type Input = ();
    type Output = TokenInfo;

    async fn run(c: &Control, _: &str, p: TokenName, _: ()) -> Result<TokenInfo, ControlError> {
        c.revoke_token(&p.name)
    }
}
