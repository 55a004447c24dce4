//! Printing results: aligned tables for people, JSON for scripts.

use serde_json::{Value, json};

use sluice::capabilities::tls::CaBundle;
use sluice::control::{
    ActOutput, AuditView, Connected, InstanceDetail, InstanceLimits, InstanceSummary, LimitsView,
    PluginList,
};
use sluice::model::{ConnectorInfo, Kind, Record, format_millis};
use sluice::ratelimit::{ProviderQuota, Source};
use sluice::scan::KindReport;
use sluice::store::tokens::TokenInfo;
use sluice::store::{Instance, InstanceStatus, StoredRecord};

/// Text for a terminal: control characters other than newline and tab are escaped
/// (`\u{1b}`), so text a provider or connector supplied cannot move the cursor,
/// rewrite lines or change the terminal's state.
pub fn terminal_safe(text: &str) -> std::borrow::Cow<'_, str> {
    if !text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' | '\t' => out.push(c),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&c.escape_unicode().to_string()),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Write human or JSON output to stdout, terminal-safe. A closed pipe
/// (`sluice activities x | head`) ends the process quietly instead of panicking.
pub fn write_out(text: &str, newline: bool) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let written = stdout
        .write_all(terminal_safe(text).as_bytes())
        .and_then(|()| {
            if newline {
                stdout.write_all(b"\n")
            } else {
                Ok(())
            }
        })
        .and_then(|()| stdout.flush());
    if let Err(e) = written {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: writing output: {e}");
        std::process::exit(1);
    }
}

/// Longest table cell shown; longer text ends in `…` (`--json` has it whole).
const MAX_CELL_CHARS: usize = 200;

/// A plain text table with left-aligned columns.
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            rows: vec![header.iter().map(|s| s.to_string()).collect()],
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(
            cells
                .into_iter()
                .map(|c| {
                    // One line per row: a cell's own line breaks are shown, not made.
                    let safe = terminal_safe(&c).replace('\n', "\\n").replace('\t', " ");
                    short(&safe, MAX_CELL_CHARS)
                })
                .collect(),
        );
    }

    pub fn render(&self) -> String {
        let cols = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..cols)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|s| s.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                line.push_str(cell);
                if c + 1 < row.len() {
                    // Padded by hand: `format!`'s width must fit in a u16.
                    let pad = widths[c] - cell.chars().count() + 2;
                    line.extend(std::iter::repeat_n(' ', pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    pub fn print(&self) {
        out!("{}", self.render());
    }
}

fn print_json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    outln!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_else(|| "-".into())
}

fn short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

pub fn plugins(list: &PluginList, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(list);
    }
    let mut t = Table::new(&[
        "ID",
        "VERSION",
        "SERVING",
        "WIT",
        "SHA256",
        "CAPABILITIES",
        "FILE",
        "LOADED",
    ]);
    for p in &list.plugins {
        t.row(vec![
            p.id.clone(),
            p.version.clone(),
            if p.serving { "yes" } else { "pinned only" }.into(),
            p.wit_version.clone(),
            p.sha256.chars().take(12).collect(),
            p.capabilities
                .iter()
                .map(|c| c.heading())
                .collect::<Vec<_>>()
                .join(", "),
            p.file.display().to_string(),
            format_millis(p.loaded_at),
        ]);
    }
    t.print();
    outln!("\nplugins dir: {}", list.plugins_dir.display());
    for r in &list.rejected {
        outln!(
            "rejected {}: {} (at {})",
            r.file.display(),
            r.reason,
            format_millis(r.at)
        );
    }
    Ok(())
}

pub fn connectors(infos: &[ConnectorInfo], json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(&infos);
    }
    let cols = super::matrix_columns();
    let mut header = vec!["CONNECTOR"];
    header.extend(cols.iter().map(|c| c.heading()));
    header.push("ACTIONS");
    let mut t = Table::new(&header);
    for info in infos {
        let mut row = vec![info.name.clone()];
        row.extend(cols.iter().map(|c| {
            if info.capabilities.contains(c) {
                "✔".to_string()
            } else {
                "—".to_string()
            }
        }));
        row.push(if info.actions.is_empty() {
            "—".into()
        } else {
            info.actions
                .iter()
                .map(|a| {
                    if sluice::model::beyond_provider_docs(&info.id, *a) {
                        format!("{a}†")
                    } else {
                        a.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        });
        t.row(row);
    }
    t.print();
    if infos.iter().any(|i| {
        i.actions
            .iter()
            .any(|a| sluice::model::beyond_provider_docs(&i.id, *a))
    }) {
        outln!(
            "\n† goes beyond the governance actions the provider docs' connector table lists for this app"
        );
    }
    Ok(())
}

/// One line on the state of an action's target.
fn record_state(r: &StoredRecord) -> String {
    if r.deleted {
        return "gone from the provider (kept, marked deleted)".into();
    }
    match &r.record {
        Record::User(u) => format!("user status: {}", json!(u.status).as_str().unwrap_or("?")),
        Record::Group(g) => format!("{} members", g.members.len()),
        Record::File(f) => format!(
            "shared externally: {}",
            if f.shared_externally { "yes" } else { "no" }
        ),
        Record::AppPermission(_) => "still granted".into(),
        Record::Activity(_) | Record::Finding(_) => String::new(),
    }
}

/// What `sluice act` did (or, in a dry run, would do).
pub fn acted(out: &ActOutput, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(out);
    }
    let a = &out.audit;
    let head = match a.outcome.as_str() {
        "planned" => "dry run, nothing sent",
        "already" => "already in that state, nothing changed",
        "done" => "done",
        other => other,
    };
    outln!(
        "{} {} on `{}` ({} {}): {head}",
        a.action,
        a.target,
        a.instance,
        a.connector,
        a.connector_version
    );
    outln!("  {}", a.message);
    for r in &a.requests {
        let label = if a.dry_run { "would send" } else { "request" };
        outln!("  {label:<11}{r}");
    }
    for w in &a.sent {
        let status = w
            .status
            .map_or("no response".to_string(), |s| s.to_string());
        outln!("  sent       {} → {status}", w.request);
    }
    if let Some(r) = &out.record {
        let state = record_state(r);
        if !state.is_empty() {
            let when = if a.dry_run { "now" } else { "after refresh" };
            outln!("  {when}: {state}");
        }
    } else if !a.dry_run {
        outln!("  after refresh: no longer in the store");
    }
    if let Some(e) = &out.refresh_error {
        outln!(
            "  refresh failed: {e} (the action stands; rescan with `sluice scan {}`)",
            a.instance
        );
    }
    outln!("  audit #{} {}", a.seq, short(&a.hash, 16));
    Ok(())
}

/// `sluice audit`.
pub fn audit(v: &AuditView, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(v);
    }
    if v.entries.is_empty() {
        outln!("no actions audited yet (sluice act …)");
    }
    let mut t = Table::new(&[
        "#", "AT", "WHO", "INSTANCE", "ACTION", "TARGET", "DRY", "OUTCOME", "STATUS", "REASON",
    ]);
    for e in &v.entries {
        t.row(vec![
            e.seq.to_string(),
            format_millis(e.at),
            e.who.clone(),
            e.instance.clone(),
            e.action.to_string(),
            short(&e.target, 30),
            if e.dry_run { "yes" } else { "" }.into(),
            e.outcome.clone(),
            e.provider_status.map(|s| s.to_string()).unwrap_or_default(),
            short(e.reason.as_deref().unwrap_or(""), 40),
        ]);
    }
    if !v.entries.is_empty() {
        t.print();
    }
    match &v.verification {
        Some(ver) if ver.ok => outln!(
            "\nverified: {} entries, chain intact; head {}",
            ver.entries,
            ver.head.as_deref().unwrap_or("(empty log)")
        ),
        Some(ver) => outln!(
            "\nNOT VERIFIED after {} entries: {}",
            ver.entries,
            ver.problem.as_deref().unwrap_or("broken chain")
        ),
        None => {}
    }
    Ok(())
}

/// `sluice test-connector`: one row per check.
pub fn conformance(r: &sluice::conformance::ConformanceReport, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(r);
    }
    if !r.connector.is_empty() {
        outln!("{} {} (WIT {})", r.connector, r.version, r.wit_version);
    }
    let mut t = Table::new(&["CHECK", "RESULT", "DETAIL"]);
    for c in &r.checks {
        t.row(vec![
            c.check.clone(),
            if c.passed { "pass" } else { "FAIL" }.into(),
            c.detail.clone(),
        ]);
    }
    t.print();
    Ok(())
}

/// `sluice token list`.
pub fn tokens(list: &[TokenInfo], json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(&list);
    }
    let mut t = Table::new(&["NAME", "CREATED"]);
    t.row(vec![
        "admin".into(),
        "(the data dir's token: sluice token)".into(),
    ]);
    for tok in list {
        t.row(vec![tok.name.clone(), format_millis(tok.created)]);
    }
    t.print();
    Ok(())
}

pub fn connected(c: &Connected, daemon: bool, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(c);
    }
    let (instance, permissions) = (&c.instance, &c.permissions);
    outln!(
        "connected `{}` ({} {}, id {})",
        instance.name,
        instance.connector,
        instance.connector_version,
        instance.id
    );
    if let Some(p) = &permissions.principal {
        outln!("  as:          {p}");
    }
    if !permissions.granted.is_empty() {
        outln!("  granted:     {}", permissions.granted.join(", "));
    }
    for (cap, why) in &permissions.missing {
        outln!("  missing:     {} — {why}", cap.heading());
    }
    let asked = sluice::model::grants::Grants {
        egress: c.egress.clone(),
        actions: c.actions.clone(),
        scan_writes: c.scan_writes.clone(),
        schema: sluice::model::grants::GRANTS_SCHEMA,
    };
    let granted = instance.grants.clone().unwrap_or_default();
    for line in asked.lines() {
        outln!("  asks for     {line}");
    }
    for line in granted.lines() {
        outln!("  granted      {line}");
    }
    if daemon {
        outln!(
            "the daemon is scanning it now: sluice instances show {}",
            instance.name
        );
    } else {
        outln!(
            "next: sluice scan {} (or start `sluice daemon`)",
            instance.name
        );
    }
    Ok(())
}

fn status_detail(s: &InstanceStatus) -> String {
    match s {
        InstanceStatus::Connected { last_success } => {
            format!("last success {}", format_millis(*last_success))
        }
        InstanceStatus::Scanning {
            kind,
            pages,
            records,
        } => format!("{kind}: {pages} pages, {records} records"),
        InstanceStatus::Error {
            reason,
            attempts,
            next_retry,
            ..
        } => {
            let retry = match next_retry {
                Some(t) => format!(", retry {}", format_millis(*t)),
                None => String::new(),
            };
            format!("{} (attempt {attempts}{retry})", short(reason, 80))
        }
        InstanceStatus::NeedsApproval {
            version,
            egress,
            actions,
            scan_writes,
        } => {
            let mut more: Vec<&str> = egress.iter().map(String::as_str).collect();
            more.extend(actions.iter().map(|a| a.as_str()));
            more.extend(scan_writes.iter().map(String::as_str));
            format!(
                "{version} also asks for {}; `sluice instances approve` to grant",
                more.join(", ")
            )
        }
        _ => String::new(),
    }
}

/// The status table of `sluice instances` (also printed by the demo).
pub fn instances_table(all: &[InstanceSummary]) -> Table {
    let mut t = Table::new(&[
        "NAME",
        "CONNECTOR",
        "STATUS",
        "USERS",
        "ACTIVITIES",
        "LIMIT WAIT",
        "DETAIL",
    ]);
    for s in all {
        let i = &s.instance;
        t.row(vec![
            i.name.clone(),
            i.connector.clone(),
            i.status.label(),
            s.users.to_string(),
            s.activities.to_string(),
            seconds(s.waited_secs),
            status_detail(&i.status),
        ]);
    }
    t
}

pub fn instances(all: &[InstanceSummary], json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(&all);
    }
    if all.is_empty() {
        outln!("no instances; connect one with `sluice connect CONNECTOR --name NAME …`");
        return Ok(());
    }
    instances_table(all).print();
    Ok(())
}

fn interval_text(secs: u64) -> String {
    humantime::format_duration(std::time::Duration::from_secs(secs)).to_string()
}

pub fn schedule(inst: &Instance) {
    let intervals: Vec<String> = Kind::ALL
        .iter()
        .map(|k| {
            format!(
                "{k} every {}",
                interval_text(inst.schedule.interval(*k).as_secs())
            )
        })
        .collect();
    outln!("`{}` rescans: {}", inst.name, intervals.join(", "));
}

pub fn instance(d: &InstanceDetail, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(d);
    }
    let inst = &d.instance;
    outln!(
        "{} ({} {}, id {})",
        inst.name,
        inst.connector,
        inst.connector_version,
        inst.id
    );
    outln!(
        "  status:   {} {}",
        inst.status.label(),
        status_detail(&inst.status)
    );
    outln!("  enabled:  {}", inst.enabled);
    outln!("  created:  {}", format_millis(inst.created));
    outln!(
        "  stored:   {} of {} (daemon --max-instance-bytes)",
        bytesize::ByteSize(d.stored_bytes).display().iec(),
        bytesize::ByteSize(d.stored_cap).display().iec()
    );
    for (k, v) in &inst.config {
        outln!("  config:   {k} = {v}");
    }
    if let Some(r) = &d.resolved {
        outln!("  auth:     {} ({})", r.auth, r.auth_label);
        let keeps = r
            .max_look_back_days
            .map(|m| format!("; the provider keeps {m}"))
            .unwrap_or_default();
        let whose = if inst.look_back_days.is_some() {
            "set at connect"
        } else {
            "default"
        };
        outln!(
            "  look-back: {} days on the first activity scan ({whose}{keeps})",
            r.look_back_days
        );
    }
    if inst.allow_private_network {
        outln!("  network:  private addresses allowed");
    }
    if let Some(pem) = &inst.ca_pem {
        let summary = CaBundle::from_pem(pem)
            .map(|ca| ca.summary())
            .unwrap_or_else(|e| format!("unusable: {e}"));
        outln!("  trusts:   its own CA certificates ({summary})");
    }
    if let Some(p) = &inst.permissions {
        outln!("  as:       {}", opt(&p.principal));
        outln!("  granted:  {}", p.granted.join(", "));
    }
    if let Some(pin) = &inst.pinned_version {
        outln!("  pinned:   {pin}");
    }
    match &inst.grants {
        Some(g) => {
            for line in g.lines() {
                outln!("  may use   {line}");
            }
        }
        None => outln!("  may use   what the connector asks for (saved before grants)"),
    }
    if let Some(d) = &inst.declined {
        for line in d.lines() {
            outln!("  declined  {line}");
        }
    }
    let mut t = Table::new(&[
        "KIND",
        "RECORDS",
        "DELETED",
        "EVERY",
        "LAST COMPLETED",
        "NEXT RUN",
        "CURSOR",
    ]);
    for k in &d.kinds {
        let next = match &k.schedule {
            Some(s) if s.running => "running".to_string(),
            Some(s) => match (s.next_run, s.attempts) {
                (Some(t), 0) => format_millis(t),
                (Some(t), n) => format!("{} (retry {n})", format_millis(t)),
                (None, _) => "after users".into(),
            },
            None if d.daemon => "-".into(),
            None => "(no daemon)".into(),
        };
        t.row(vec![
            k.kind.to_string(),
            k.records.to_string(),
            k.deleted.to_string(),
            interval_text(inst.schedule.interval(k.kind).as_secs()),
            k.scan
                .last_completed
                .map(format_millis)
                .unwrap_or("-".into()),
            next,
            k.scan
                .cursor
                .as_deref()
                .map(|c| short(c, 40))
                .unwrap_or("-".into()),
        ]);
    }
    outln!();
    t.print();
    let (rows, notes) = instance_limits_lines(&d.limits);
    if !rows.is_empty() {
        outln!();
        let mut t = Table::new(&LIMIT_HEADER);
        for r in rows {
            t.row(r);
        }
        t.print();
        for n in notes {
            outln!("{n}");
        }
    }
    if !d.recent_scans.is_empty() {
        outln!();
        let mut t = Table::new(&[
            "SCAN STARTED",
            "KIND",
            "PAGES",
            "RECORDS",
            "DELETED",
            "RESULT",
        ]);
        for r in &d.recent_scans {
            t.row(vec![
                format_millis(r.started),
                r.kind.to_string(),
                r.pages.to_string(),
                r.records.to_string(),
                r.deleted.to_string(),
                r.error
                    .as_ref()
                    .map(|e| e.to_string())
                    .unwrap_or("ok".into()),
            ]);
        }
        t.print();
    }
    Ok(())
}

pub fn scan_reports(name: &str, reports: &[KindReport], json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(&reports);
    }
    let mut t = Table::new(&["KIND", "PAGES", "RECORDS", "DELETED", "RESULT"]);
    for r in reports {
        t.row(vec![
            r.kind.to_string(),
            r.pages.to_string(),
            r.records.to_string(),
            r.deleted.to_string(),
            match (&r.error, r.skipped, r.stopped) {
                (Some(e), _, _) => e.to_string(),
                (None, true, _) => "skipped (unsupported)".into(),
                (None, _, true) => "stopped (resumes from its cursor)".into(),
                (None, false, false) => "ok".into(),
            },
        ]);
    }
    outln!("scan of `{name}`:");
    t.print();
    Ok(())
}

/// A record as JSON: its fields plus the store's bookkeeping.
pub fn record_json(r: &StoredRecord) -> Value {
    let mut v = serde_json::to_value(&r.record).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("deleted".into(), json!(r.deleted));
        m.insert("first_seen".into(), json!(r.first_seen));
        m.insert("last_seen".into(), json!(r.last_seen));
        if let Some(i) = &r.inspection {
            m.insert("inspection".into(), json!(i));
        }
    }
    v
}

/// A file's inspection in a few words: the classifiers that matched with their
/// counts, `clean`, why it was not inspected, or `-` before its first inspection.
fn inspection_summary(r: &StoredRecord, f: &sluice::model::File) -> String {
    let Some(i) = &r.inspection else {
        return "-".into();
    };
    let mut text = match &i.outcome {
        sluice_inspect::Outcome::Inspected {
            hits, truncated, ..
        } => {
            let mut t = if hits.is_empty() {
                "clean".to_string()
            } else {
                hits.iter()
                    .map(|h| format!("{} x{}", h.classifier, h.count))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            if *truncated {
                t.push_str(" (partly read)");
            }
            t
        }
        sluice_inspect::Outcome::NotInspected { reason } => reason.clone(),
    };
    if i.version != sluice::store::file_version(f) {
        text.push_str(" (an older version)");
    }
    text
}

pub fn records(kind: Kind, records: &[StoredRecord], json: bool) -> anyhow::Result<()> {
    if json {
        let arr: Vec<Value> = records.iter().map(record_json).collect();
        return print_json(&arr);
    }
    let mut t = match kind {
        Kind::Users => Table::new(&[
            "ID",
            "LOGIN",
            "NAME / EMAIL",
            "STATUS",
            "ADMIN",
            "EXTERNAL",
            "ROLES",
        ]),
        Kind::Groups => Table::new(&["ID", "NAME", "MEMBERS"]),
        Kind::Activities => Table::new(&["TIME", "KIND", "ACTOR", "ACTION", "TARGETS", "IP"]),
        Kind::Files => Table::new(&["ID", "NAME", "OWNER", "EXTERNAL", "PUBLIC", "CONTENT"]),
        Kind::AppPermissions => Table::new(&["ID", "APP", "GRANTEE", "SCOPES"]),
        Kind::Findings => Table::new(&["RESULT", "SEVERITY", "ID", "TITLE"]),
    };
    for r in records {
        let gone = if r.deleted { " (deleted)" } else { "" };
        let row = match &r.record {
            Record::User(u) => vec![
                u.id.clone(),
                opt(&u.login),
                u.display_name
                    .clone()
                    .or(u.email.clone())
                    .unwrap_or("-".into()),
                format!("{:?}{gone}", u.status).to_lowercase(),
                if u.is_admin { "yes" } else { "no" }.into(),
                if u.is_external { "yes" } else { "no" }.into(),
                u.roles.join(","),
            ],
            Record::Group(g) => vec![
                g.id.clone(),
                format!("{}{gone}", g.name),
                g.members.len().to_string(),
            ],
            Record::Activity(a) => vec![
                format_millis(a.time),
                format!("{:?}", a.kind).to_lowercase(),
                opt(&a.actor),
                a.action.clone(),
                short(&a.targets.join(","), 40),
                opt(&a.ip),
            ],
            Record::File(f) => vec![
                f.id.clone(),
                format!("{}{gone}", f.name),
                opt(&f.owner),
                f.shared_externally.to_string(),
                f.public.to_string(),
                short(&inspection_summary(r, f), 60),
            ],
            Record::AppPermission(a) => vec![
                format!("{}{gone}", a.id),
                a.app_name.clone().unwrap_or(a.app_id.clone()),
                opt(&a.grantee),
                short(&a.scopes.join(","), 50),
            ],
            Record::Finding(f) => vec![
                if f.passed { "pass" } else { "FAIL" }.into(),
                format!("{:?}", f.severity).to_lowercase(),
                f.id.clone(),
                f.title.clone(),
            ],
        };
        t.row(row);
    }
    t.print();
    Ok(())
}

fn source_text(s: Source) -> &'static str {
    match s {
        Source::Connector => "connector default",
        Source::Operator => "operator",
    }
}

fn seconds(s: f64) -> String {
    humantime::format_duration(std::time::Duration::from_secs(s.round() as u64)).to_string()
}

fn quota_text(q: &ProviderQuota) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(r) = q.remaining {
        match q.limit {
            Some(l) => parts.push(format!("{r}/{l} left")),
            None => parts.push(format!("{r} left")),
        }
    }
    if let Some(t) = q.reset_in_secs {
        parts.push(format!("resets in {}", seconds(t)));
    }
    if let Some(t) = q.paused_for_secs {
        parts.push(format!("paused for {}", seconds(t)));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// One instance's rules and state, as `limits` and `instances show` print them.
fn instance_limits_lines(l: &InstanceLimits) -> (Vec<Vec<String>>, Vec<String>) {
    let rows = l
        .rules
        .iter()
        .map(|r| {
            vec![
                l.instance.clone(),
                r.scope.clone(),
                r.budget.describe(),
                source_text(r.source).to_string(),
                r.connector_default
                    .map(|b| b.describe())
                    .unwrap_or("-".into()),
                l.state
                    .as_ref()
                    .and_then(|s| s.in_flight.get(&r.scope))
                    .map(|n| n.to_string())
                    .unwrap_or("-".into()),
            ]
        })
        .collect();
    let mut notes = Vec::new();
    if let Some(shared) = &l.shared {
        notes.push(format!(
            "{}: draws from shared scope `{shared}`",
            l.instance
        ));
    }
    if let Some(st) = &l.state {
        let s = &st.stats;
        let mut line = format!(
            "{}: {} requests, {} delayed (waited {}), {} throttled by the provider, {} retries",
            l.instance,
            s.requests,
            s.delayed,
            seconds(s.wait_secs),
            s.throttled,
            s.retries
        );
        if let Some(q) = quota_text(&st.provider) {
            line.push_str(&format!("; provider: {q}"));
        }
        notes.push(line);
    }
    (rows, notes)
}

const LIMIT_HEADER: [&str; 6] = [
    "INSTANCE",
    "SCOPE",
    "BUDGET",
    "SET BY",
    "CONNECTOR DEFAULT",
    "IN FLIGHT",
];

pub fn limits(v: &LimitsView, json: bool) -> anyhow::Result<()> {
    if json {
        return print_json(v);
    }
    let mut t = Table::new(&LIMIT_HEADER);
    let mut notes = Vec::new();
    for l in &v.instances {
        let (rows, n) = instance_limits_lines(l);
        for r in rows {
            t.row(r);
        }
        notes.extend(n);
    }
    t.print();
    for n in notes {
        outln!("{n}");
    }
    if !v.scopes.is_empty() {
        outln!();
        let mut t = Table::new(&["SHARED SCOPE", "BUDGET", "SET BY", "MEMBERS", "PROVIDER"]);
        for s in &v.scopes {
            let (budget, by) = match (&s.configured, &s.state) {
                (Some(b), _) => (b.describe(), "operator".to_string()),
                (None, Some(st)) => (st.budget.describe(), source_text(st.source).to_string()),
                (None, None) => ("a member's connector default".into(), "-".into()),
            };
            t.row(vec![
                s.name.clone(),
                budget,
                by,
                s.members.join(", "),
                s.state
                    .as_ref()
                    .and_then(|st| quota_text(&st.provider))
                    .unwrap_or("-".into()),
            ]);
        }
        t.print();
    }
    if !v.hosts.is_empty() {
        outln!();
        let mut t = Table::new(&["API HOST", "BUDGET"]);
        for (h, b) in &v.hosts {
            t.row(vec![h.clone(), b.describe()]);
        }
        t.print();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_print_hostile_cells_safely() {
        let mut t = Table::new(&["ID", "NAME"]);
        // Over 65,535 characters: `format!`'s width used to panic on such a column.
        t.row(vec!["x".repeat(70_000), "a".into()]);
        t.row(vec![
            "id-2".into(),
            "evil\u{1b}]0;pwned\u{7}\r\nname".into(),
        ]);
        let text = t.render();
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(!text.contains('\u{1b}') && !text.contains('\r'), "{text:?}");
        assert!(
            text.contains("evil\\u{1b}]0;pwned\\u{7}\\r\\nname"),
            "{text:?}"
        );
        assert!(text.lines().nth(1).unwrap().chars().count() < 300);
    }

    #[test]
    fn terminal_safe_keeps_newlines_and_tabs() {
        assert_eq!(terminal_safe("a\tb\nc"), "a\tb\nc");
        assert_eq!(terminal_safe("\u{1b}[2J"), "\\u{1b}[2J");
    }
}
