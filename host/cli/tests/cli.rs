//! The real `sluice` binary: one-line errors for bad input, and crash safety
//! (SIGKILL mid-scan, rescan, exactly the provider's records).
//!
//! These live in the host package because only its own integration tests get the
//! binary's path from cargo (`CARGO_BIN_EXE_sluice`).

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use sluice_mocks::pki::TestCa;
use sluice_mocks::{GithubMock, GithubMockConfig};

const TOKEN: &str = "ghp_cli_token";

/// The binary, with one compile cache for the built-ins shared by this suite's runs
/// (in cargo's target dir, never the user's `~/.cache`).
fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluice"));
    cmd.env("SLUICE_COMPILE_CACHE", SUITE_COMPILE_CACHE);
    cmd
}

const SUITE_COMPILE_CACHE: &str = concat!(env!("CARGO_TARGET_TMPDIR"), "/compile-cache");

/// `sluice --data-dir DATA_DIR ARGS` with that data dir's plugins folder.
fn sluice_cmd(data_dir: &Path, args: &[&str]) -> Command {
    let mut cmd = bin();
    cmd.arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("RUST_LOG")
        .env("SLUICE_PLUGINS_DIR", data_dir.join("plugins"));
    cmd
}

fn sluice(data_dir: &Path, args: &[&str]) -> Output {
    sluice_cmd(data_dir, args).output().expect("running sluice")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The command failed with exactly one `error:` line that contains `needle`.
fn assert_one_line_error(o: &Output, needle: &str) {
    let err = stderr(o);
    assert!(!o.status.success(), "expected failure, got success: {err}");
    let lines: Vec<_> = err.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line, got:\n{err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    assert!(lines[0].contains(needle), "`{needle}` not in: {err}");
}

fn connect_args<'a>(base_url: &'a str, token: &'a str) -> Vec<String> {
    [
        "connect",
        "github",
        "--name",
        "acme",
        "--config",
        "org=acme",
        "--config",
        &format!("base_url={base_url}"),
        "--secret",
        &format!("token={token}"),
        "--allow-private-network",
        "--grant",
        "all",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// A default mock GitHub org that accepts [`TOKEN`].
async fn mock() -> GithubMock {
    GithubMock::start(GithubMockConfig {
        token: TOKEN.into(),
        ..Default::default()
    })
    .await
    .unwrap()
}

fn run(dir: &Path, args: &[String]) -> Output {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    sluice(dir, &refs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_clear_one_line_errors() {
    let mock = mock().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();

    assert_one_line_error(
        &sluice(d, &["connect", "nope", "--name", "x"]),
        "unknown connector `nope`",
    );
    assert_one_line_error(
        &sluice(
            d,
            &["connect", "github", "--name", "x", "--secret", "token=t"],
        ),
        "missing required config field `org`",
    );
    assert_one_line_error(
        &sluice(
            d,
            &[
                "connect", "github", "--name", "x", "--config", "org=a", "--config", "token=t",
            ],
        ),
        "is a secret",
    );
    let bad = run(d, &connect_args(&mock.base_url(), "ghp_wrong"));
    assert_one_line_error(&bad, "unauthorized");
    assert!(
        !stderr(&bad).contains("ghp_wrong"),
        "secret leaked into the error"
    );
    assert_one_line_error(
        &run(d, &connect_args("http://127.0.0.1:9", TOKEN)),
        "connection check failed",
    );
    assert_one_line_error(&sluice(d, &["users", "ghost"]), "unknown instance `ghost`");
    assert_one_line_error(&sluice(d, &["scan", "ghost"]), "unknown instance `ghost`");

    // Without a grant decision and no terminal to ask on, connect lists what the
    // connector asks for and saves nothing (the name stays free).
    let requests_before = mock.requests().len();
    let mut ungranted = connect_args(&mock.base_url(), TOKEN);
    ungranted.truncate(ungranted.len() - 2);
    let refused = run(d, &ungranted);
    assert!(!refused.status.success(), "connected without grants");
    let err = stderr(&refused);
    assert!(
        err.contains("remove-collaborator") && err.contains("--grant all"),
        "{err}"
    );
    assert_eq!(
        mock.requests().len(),
        requests_before,
        "requests sent before grants"
    );

    let ok = run(d, &connect_args(&mock.base_url(), TOKEN));
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert_one_line_error(
        &run(d, &connect_args(&mock.base_url(), TOKEN)),
        "already exists",
    );
    assert_one_line_error(&sluice(d, &["instances", "remove", "acme"]), "--yes");
    // Garbage and core modules in the plugins dir are rejected with a reason; the
    // built-in connectors keep working.
    let plugins = d.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    std::fs::write(plugins.join("garbage.wasm"), b"this is not wasm").unwrap();
    std::fs::write(plugins.join("core.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let list = sluice(d, &["plugins", "list"]);
    assert!(list.status.success(), "{}", stderr(&list));
    let out = String::from_utf8_lossy(&list.stdout);
    assert!(
        out.contains("garbage.wasm: not a WebAssembly component"),
        "{out}"
    );
    assert!(
        out.contains("core.wasm: not a WebAssembly component: this is a core wasm module"),
        "{out}"
    );
    assert!(out.lines().any(|l| l.starts_with("github ")), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_scan_then_rescan_gives_exactly_the_providers_records() {
    // One event a second: the whole log falls in the newest range of a first scan.
    // 120 pages at 15 ms each: the activity scan runs for seconds.
    sigkill_mid_activity_scan(1_000, Duration::from_millis(15)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_a_partitioned_first_scan_then_rescan_gives_exactly_the_providers_records() {
    // One event every 10 minutes: 83 days, inside the 90-day look-back, so each of the
    // first scan's time ranges has pages of its own in flight when the kill comes.
    // Four ranges of 30 pages at 100 ms each: the activity scan runs for seconds.
    let mock = sigkill_mid_activity_scan(600_000, Duration::from_millis(100)).await;
    let ranges: std::collections::HashSet<String> = mock
        .requests()
        .iter()
        .filter_map(|r| r.query_param("phrase"))
        .filter(|phrase| phrase.contains(".."))
        .collect();
    assert!(ranges.len() >= 3, "not fetched as ranges: {ranges:?}");
}

/// Kill -9 a first scan well into the audit log, scan again, and compare every record
/// with the mock's. The log's events are `spacing_ms` apart; each response takes
/// `latency`.
async fn sigkill_mid_activity_scan(spacing_ms: i64, latency: Duration) -> GithubMock {
    const EVENTS: usize = 12_000;
    let mock = GithubMock::start(GithubMockConfig {
        token: TOKEN.into(),
        members: 250,
        audit_events: EVENTS,
        audit_spacing_ms: spacing_ms,
        latency,
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ok = run(d, &connect_args(&mock.base_url(), TOKEN));
    assert!(ok.status.success(), "{}", stderr(&ok));

    let mut child = bin()
        .arg("--data-dir")
        .arg(d)
        .args(["scan", "acme"])
        .env("SLUICE_PLUGINS_DIR", d.join("plugins"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the activity scan is well under way, then kill -9. sled persists
    // committed batches within its 500 ms flush interval (a kill loses at most the pages
    // since, together with their cursor), so the scan runs past two intervals first.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut first_audit_page = None;
    loop {
        let audit = mock
            .requests()
            .iter()
            .filter(|r| r.path().ends_with("/audit-log"))
            .count();
        if audit > 0 && first_audit_page.is_none() {
            first_audit_page = Some(Instant::now());
        }
        if audit >= 6
            && first_audit_page.is_some_and(|t| t.elapsed() >= Duration::from_millis(1200))
        {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "scan finished before the kill"
        );
        assert!(
            Instant::now() < deadline,
            "scan never reached the audit log"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let partial = sluice(d, &["activities", "acme", "--json"]);
    let partial: serde_json::Value = serde_json::from_slice(&partial.stdout).unwrap();
    let partial = partial.as_array().unwrap().len();
    assert!(
        partial > 0 && partial < EVENTS,
        "killed mid-scan, got {partial}"
    );

    let again = sluice(d, &["scan", "acme"]);
    assert!(again.status.success(), "{}", stderr(&again));

    let exp = mock.expected();
    for (cmd, want) in [
        ("activities", exp.audit_events),
        ("users", exp.users),
        ("groups", exp.groups),
    ] {
        let out = sluice(d, &[cmd, "acme", "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let ids: Vec<&str> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        let unique: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "{cmd}: duplicates");
        assert_eq!(ids.len(), want, "{cmd}: gaps or extras");
    }
    let act_ids: std::collections::HashSet<String> = {
        let out = sluice(d, &["activities", "acme", "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    };
    let mock_ids: std::collections::HashSet<String> = mock.audit_event_ids().into_iter().collect();
    assert_eq!(act_ids, mock_ids);
    mock
}

/// Wait (bounded) for the daemon to write `daemon.json`.
fn wait_for_daemon(dir: &Path, child: &mut std::process::Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !dir.join("daemon.json").exists() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the daemon exited early"
        );
        assert!(Instant::now() < deadline, "the daemon never started");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `sluice daemon` on an ephemeral loopback port with `extra` arguments, once it
/// serves.
fn start_daemon(dir: &Path, extra: &[&std::ffi::OsStr]) -> std::process::Child {
    let mut daemon = bin()
        .arg("--data-dir")
        .arg(dir)
        .args(["daemon", "--listen", "127.0.0.1:0"])
        .args(extra)
        .env("SLUICE_PLUGINS_DIR", dir.join("plugins"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_daemon(dir, &mut daemon);
    daemon
}

/// SIGTERM the daemon and wait (bounded) for its clean exit, `daemon.json` removed.
fn stop_daemon(dir: &Path, daemon: &mut std::process::Child) {
    let kill = Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = daemon.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "the daemon did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "daemon exit: {status:?}");
    assert!(!dir.join("daemon.json").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_works_through_a_running_daemon_and_sigterm_stops_it_cleanly() {
    let mock = mock().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut daemon = start_daemon(d, &[]);

    // The store is the daemon's; every command below goes through its API.
    let ok = run(d, &connect_args(&mock.base_url(), TOKEN));
    assert!(ok.status.success(), "{}", stderr(&ok));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("the daemon is scanning it now"));
    let scan = sluice(d, &["scan", "acme", "--json"]);
    assert!(scan.status.success(), "{}", stderr(&scan));
    let users = sluice(d, &["users", "acme", "--json"]);
    assert!(users.status.success(), "{}", stderr(&users));
    let users: serde_json::Value = serde_json::from_slice(&users.stdout).unwrap();
    assert_eq!(users.as_array().unwrap().len(), mock.expected().users);
    let limited = sluice(
        d,
        &["activities", "acme", "--limit", "3", "--kind", "admin"],
    );
    assert!(limited.status.success(), "{}", stderr(&limited));
    assert!(stderr(&limited).contains("--cursor"), "a next-page hint");
    assert_one_line_error(&sluice(d, &["users", "ghost"]), "unknown instance `ghost`");
    assert_one_line_error(
        &sluice(d, &["instances", "schedule", "acme", "users=1s"]),
        "out of range",
    );
    let sched = sluice(d, &["instances", "schedule", "acme", "activities=2m"]);
    assert!(sched.status.success(), "{}", stderr(&sched));
    let show = sluice(d, &["instances", "show", "acme"]);
    let show_out = String::from_utf8_lossy(&show.stdout);
    assert!(show.status.success(), "{}", stderr(&show));
    assert!(show_out.contains("NEXT RUN"), "{show_out}");
    assert!(show_out.contains("2m"), "{show_out}");
    let disable = sluice(d, &["instances", "disable", "acme"]);
    assert!(disable.status.success(), "{}", stderr(&disable));
    let token = sluice(d, &["token"]);
    assert_eq!(String::from_utf8_lossy(&token.stdout).trim().len(), 64);

    // SIGTERM: a clean exit that releases the data dir.
    stop_daemon(d, &mut daemon);
    // Now the CLI opens the store itself and sees what the daemon left.
    let list = sluice(d, &["instances", "--json"]);
    assert!(list.status.success(), "{}", stderr(&list));
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(list[0]["instance"]["status"]["state"], "disabled");
    assert_eq!(list[0]["users"], mock.expected().users as u64);
    // Enabling again reports the real last success, not the moment of enabling.
    let enable = sluice(d, &["instances", "enable", "acme"]);
    assert!(enable.status.success(), "{}", stderr(&enable));
    let show = sluice(d, &["instances", "--json", "show", "acme"]);
    let show: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    let newest = show["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["scan"]["last_completed"].as_i64())
        .max()
        .unwrap();
    assert_eq!(show["instance"]["status"]["state"], "connected");
    assert_eq!(show["instance"]["status"]["last_success"], newest);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_over_https_and_an_instance_behind_a_private_ca() {
    let ca = TestCa::new("Acme internal CA");
    let mock = GithubMock::start(GithubMockConfig {
        token: TOKEN.into(),
        tls: Some(ca.issue(&["127.0.0.1"])),
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca_file = ca.write(d);
    let api_cert = ca.issue(&["localhost", "127.0.0.1"]);
    let (cert_file, key_file) = (d.join("api.pem"), d.join("api-key.pem"));
    std::fs::write(&cert_file, &api_cert.cert_pem).unwrap();
    std::fs::write(&key_file, &api_cert.key_pem).unwrap();
    let mut daemon = start_daemon(
        d,
        &[
            "--tls-cert".as_ref(),
            cert_file.as_os_str(),
            "--tls-key".as_ref(),
            key_file.as_os_str(),
        ],
    );
    let info = sluice::daemon::DaemonInfo::read(d).unwrap();
    assert!(info.tls);
    let port = info.listen.port();
    let ca_arg = ca_file.to_str().unwrap();

    // The daemon's certificate is checked: without its CA the CLI refuses it.
    assert_one_line_error(&sluice(d, &["instances"]), "certificate");
    let listed = sluice(d, &["--server-ca", ca_arg, "instances", "--json"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    assert_eq!(String::from_utf8_lossy(&listed.stdout).trim(), "[]");
    // By name, as an operator elsewhere would (the certificate names `localhost`).
    let server = format!("https://localhost:{port}");
    let named = sluice(
        d,
        &["--server", &server, "--server-ca", ca_arg, "instances"],
    );
    assert!(named.status.success(), "{}", stderr(&named));
    // Plain HTTP to the TLS port gets no answer.
    let plain = sluice(
        d,
        &["--server", &format!("http://127.0.0.1:{port}"), "instances"],
    );
    assert!(!plain.status.success());

    // An instance behind the private CA: refused without it, connected with it.
    let base = mock.base_url();
    let mut args = connect_args(&base, TOKEN);
    args.splice(0..0, ["--server-ca".to_string(), ca_arg.to_string()]);
    let refused = run(d, &args);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("certificate"),
        "{}",
        stderr(&refused)
    );
    let key_as_ca = run(
        d,
        &[
            args.clone(),
            vec!["--ca-file".into(), key_file.display().to_string()],
        ]
        .concat(),
    );
    assert_one_line_error(&key_as_ca, "private key");
    let ok = run(d, &[args, vec!["--ca-file".into(), ca_arg.into()]].concat());
    assert!(ok.status.success(), "{}", stderr(&ok));
    let show = sluice(d, &["--server-ca", ca_arg, "instances", "show", "acme"]);
    assert!(
        String::from_utf8_lossy(&show.stdout).contains("its own CA certificates (1 certificate"),
        "{}",
        String::from_utf8_lossy(&show.stdout)
    );

    // Webhooks are served on the same TLS listener.
    let trusting = reqwest::Client::builder()
        .no_proxy()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let hook = trusting
        .post(format!("{server}/hooks/acme"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        hook.status(),
        401,
        "an unsigned delivery is refused over TLS"
    );

    stop_daemon(d, &mut daemon);
}

#[test]
fn demo_once_scans_every_connector_through_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["demo", "--once", "--demo-dir"])
        .arg(dir.path())
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", stderr(&out));
    let instances = [
        "github-acme",
        "github-globex",
        "okta-acme",
        "docusign-acme",
        "netdocuments-firm",
        "m365-contoso",
        "zendesk-acme",
        "slack-acme",
        "atlassian-acme",
        "servicenow-acme",
        "salesforce-acme",
        "onelogin-acme",
        "zoom-acme",
        "webex-acme",
        "google-acme",
        "dropbox-acme",
        "box-acme",
    ];
    for name in instances {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(name) && l.contains(" connected ")),
            "{name} not connected in:\n{stdout}"
        );
        // `name`: 17 users (mock: 17), 4 groups (mock: 4), …: every count is the mock's.
        let summary = stdout
            .lines()
            .find(|l| l.starts_with(&format!("`{name}`: ")))
            .unwrap_or_else(|| panic!("no summary for {name} in:\n{stdout}"));
        let counts: Vec<&str> = summary.split_once(": ").unwrap().1.split("), ").collect();
        // At least users and activities (OneLogin has no more kinds to count).
        assert!(counts.len() >= 2, "{summary}");
        for count in counts {
            let (found, expected) = count.trim_end_matches(')').split_once(" (mock: ").unwrap();
            let found = found.split(' ').next().unwrap();
            assert_eq!(found, expected, "{name}: {count} in {summary}");
            assert_ne!(found, "0", "{name}: {count} in {summary}");
        }
    }
    assert!(
        stdout.contains("`github-acme`: 17 users (mock: 17), 4 groups (mock: 4), 250 activities (mock: 250), 5 app-permissions (mock: 5)"),
        "{stdout}"
    );
    // Content inspection found the card numbers in the publicly shared CSV, and shows
    // them counted, never printed.
    let dlp = stdout
        .split("content inspection: files in `salesforce-acme`")
        .nth(1)
        .unwrap_or_else(|| panic!("no content inspection in:\n{stdout}"));
    let row = dlp
        .lines()
        .find(|l| l.contains("card x2"))
        .unwrap_or_else(|| panic!("{dlp}"));
    assert!(row.contains("Document 2.csv"), "{row}");
    assert!(
        !stdout.contains("4111 1111 1111 1111"),
        "a raw match is never shown"
    );
    // The governance preview names the exact request, sends nothing, and is audited.
    assert!(
        stdout.contains("remove-collaborator") && stdout.contains("dry run, nothing sent"),
        "{stdout}"
    );
    assert!(
        stdout.contains("/orgs/acme/outside_collaborators/outside-1"),
        "{stdout}"
    );
    // The dry run, after one entry per write M365 declared and sent while scanning
    // (it starts its audit subscriptions): 4 content types; and Dropbox's first scan,
    // whose reads are POSTs declared as scan writes, one entry per request (58).
    assert!(
        stdout.contains("audit log: 63 entries, hash chain verified"),
        "{stdout}"
    );
    assert!(!dir.path().join("daemon.json").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_are_shown_with_their_source_and_changed_from_the_cli() {
    let mock = mock().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ok = run(d, &connect_args(&mock.base_url(), TOKEN));
    assert!(ok.status.success(), "{}", stderr(&ok));
    let out = |args: &[&str]| {
        let o = sluice(d, args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let shown = out(&["limits"]);
    assert!(
        shown.contains("5000/1h, burst 100, 4 at once  connector default"),
        "{shown}"
    );
    let set = out(&["limits", "set", "acme", "1000/1m", "--burst", "10"]);
    assert!(
        set.contains("1000/1m, burst 10  operator  5000/1h"),
        "{set}"
    );
    out(&["limits", "share", "acme", "org-token"]);
    let scoped = out(&["limits", "scope", "org-token", "3000/1m"]);
    assert!(
        scoped.contains("org-token     3000/1m, burst 60  operator  acme"),
        "{scoped}"
    );
    let v: serde_json::Value = serde_json::from_str(&out(&["limits", "acme", "--json"])).unwrap();
    assert_eq!(v["instances"][0]["shared"], "org-token");
    assert_eq!(v["instances"][0]["rules"][0]["budget"]["requests"], 1000);
    assert_one_line_error(
        &sluice(d, &["limits", "set", "acme", "lots"]),
        "REQUESTS/DURATION",
    );
    assert_one_line_error(
        &sluice(d, &["limits", "set", "acme", "10/1s", "--burst", "11"]),
        "burst must be between 1",
    );
    assert_one_line_error(
        &sluice(d, &["limits", "scope", "nope", "--remove"]),
        "no budget",
    );
    assert_one_line_error(&sluice(d, &["limits", "ghost"]), "unknown instance");
    // The scan still completes under the operator's budget.
    let scan = sluice(d, &["scan", "acme"]);
    assert!(scan.status.success(), "{}", stderr(&scan));
}

#[test]
fn connectors_shows_each_built_in_connectors_capability_row() {
    let dir = tempfile::tempdir().unwrap();
    let out = sluice(dir.path(), &["connectors"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    // Columns: accounts, groups, privileges, logon, user, admin activity, files, app
    // permissions, posture, file content, sensitivity labels; then the actions. What each provider's API offers.
    let rows = [
        ("DocuSign", "✔ — ✔ ✔ ✔ ✔ — — ✔ — — —"),
        ("OneLogin", "✔ — ✔ ✔ ✔ ✔ — — — — — —"),
        (
            "GitHub",
            "✔ ✔ ✔ ✔ ✔ ✔ — ✔ ✔ — — remove-collaborator†, revoke-app-permission†",
        ),
        (
            "Microsoft 365",
            "✔ ✔ ✔ ✔ ✔ ✔ — ✔ ✔ — — suspend-user, unsuspend-user, require-sign-in, revoke-app-permission",
        ),
        // NetDocuments' audit log has no sign-ins: documented as unsupported.
        ("NetDocuments", "✔ ✔ ✔ — ✔ ✔ — — ✔ — — —"),
        (
            "Okta",
            "✔ ✔ ✔ ✔ ✔ ✔ — ✔ — — — suspend-user, unsuspend-user, require-sign-in, remove-group-member",
        ),
        // Zendesk's suspend/unsuspend go beyond the provider docs' table (blank there).
        (
            "Zendesk",
            "✔ ✔ ✔ ✔ ✔ ✔ — — — — — suspend-user†, unsuspend-user†",
        ),
        // Slack's user governance goes beyond the provider docs' table.
        (
            "Slack",
            "✔ ✔ ✔ ✔ ✔ ✔ — ✔ — — — suspend-user†, unsuspend-user†, revoke-sessions†",
        ),
        // Atlassian's suspend/restore access go beyond the provider docs' table.
        (
            "Atlassian",
            "✔ ✔ ✔ ✔ ✔ ✔ — — — — — suspend-user†, unsuspend-user†",
        ),
        // ServiceNow's user governance goes beyond the provider docs' table; files
        // are record attachments (DLP).
        (
            "ServiceNow",
            "✔ ✔ ✔ ✔ ✔ ✔ ✔ — ✔ ✔ — suspend-user†, unsuspend-user†, require-password-reset†",
        ),
        // Salesforce: user activity through Event Monitoring; Salesforce Files with
        // content; removing public links goes beyond the table (sharing control blank).
        (
            "Salesforce",
            "✔ ✔ ✔ ✔ ✔ ✔ ✔ ✔ ✔ ✔ — suspend-user, unsuspend-user, revoke-app-permission, trash-file, remove-public-link†",
        ),
        // Zoom's row marks only SSPM; deactivate/activate go beyond the table, and
        // there is no user-activity trail (not supported by provider).
        (
            "Zoom",
            "✔ — ✔ ✔ — ✔ — — ✔ — — suspend-user†, unsuspend-user†",
        ),
        // Webex: groups, logon and admin activity (the table's "Not supported by
        // provider") and turning sign-in off/on go beyond the table; files are
        // message attachments, quarantined by deleting their message, shared with
        // their space's members (one of whom the sharing control removes).
        (
            "Webex",
            "✔ ✔ ✔ ✔ ✔ ✔ ✔ — — ✔ — suspend-user†, unsuspend-user†, quarantine-file, remove-file-collaborator",
        ),
        // Google Workspace: every cell of its row but SSPM (Preview, not built);
        // a password change at the next sign-in goes beyond the table. Eleven
        // actions: the matrix cuts the list (the last is apply-label).
        (
            "Google Workspace",
            "✔ ✔ ✔ ✔ ✔ ✔ ✔ ✔ — ✔ ✔ suspend-user, unsuspend-user, require-sign-in, require-password-reset†, revoke-app-permission, trash-file, quarantine-file, remove-public-link, remove-external-sharing, remove-file-collaborator, appl…",
        ),
        // Dropbox: every identity and activity cell, members' files with content and
        // the file actions; suspending members goes beyond the table.
        (
            "Dropbox",
            "✔ ✔ ✔ ✔ ✔ ✔ ✔ — — ✔ — suspend-user†, unsuspend-user†, trash-file, quarantine-file, remove-public-link, remove-file-collaborator",
        ),
        // Box: every cell of its row, app permissions aside (not supported by
        // provider); files with content and classifications as labels.
        (
            "Box",
            "✔ ✔ ✔ ✔ ✔ ✔ ✔ — — ✔ ✔ suspend-user, unsuspend-user, remove-public-link, remove-file-collaborator, trash-file, quarantine-file, apply-label",
        ),
    ];
    for (name, cells) in rows {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no row for {name} in:\n{stdout}"));
        let shown = line[name.len()..]
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(shown, cells, "{name}");
    }
    // GitHub's actions go beyond the provider docs' table, and the matrix says so.
    assert!(stdout.contains("† goes beyond"), "{stdout}");
}

/// The `.cwasm` files in `dir`, with their modification times (none if it is missing).
fn compiled_files(dir: &Path) -> Vec<(std::path::PathBuf, std::time::SystemTime)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".cwasm"))
        .map(|e| (e.path(), e.metadata().unwrap().modified().unwrap()))
        .collect();
    files.sort();
    files
}

/// A built-in connector is compiled once per user, not once per data dir: a command
/// compiles only the built-in it uses, into the shared compile cache; a new data dir
/// loads it from there; a cache others could write to is not trusted; and
/// `sluice precompile` fills the cache for commands and daemons.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn built_ins_compile_once_per_user_into_the_shared_compile_cache() {
    use std::os::unix::fs::PermissionsExt as _;
    let mock = mock().await;
    let cache_home = tempfile::tempdir().unwrap();
    let shared = cache_home.path().join("sluice");
    let args = connect_args(&mock.base_url(), TOKEN);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let connect = |d: &Path| {
        let out = sluice_cmd(d, &args)
            .env("SLUICE_COMPILE_CACHE", &shared)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        out
    };

    let first = tempfile::tempdir().unwrap();
    connect(first.path());
    let cached = compiled_files(&shared);
    assert_eq!(cached.len(), 1, "only github was compiled: {cached:?}");
    assert!(compiled_files(&first.path().join("cache")).is_empty());
    let mode = std::fs::metadata(&shared).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "the cache is private");

    // A new data dir loads github's compiled code: the file is not written again.
    let second = tempfile::tempdir().unwrap();
    connect(second.path());
    assert_eq!(compiled_files(&shared), cached);
    assert!(compiled_files(&second.path().join("cache")).is_empty());

    // Compiled code runs as native code: a cache others may write to is not used.
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let third = tempfile::tempdir().unwrap();
    let out = connect(third.path());
    assert!(
        stderr(&out).contains("not using the shared compile cache"),
        "{}",
        stderr(&out)
    );
    assert_eq!(compiled_files(&third.path().join("cache")).len(), 1);
    assert_eq!(compiled_files(&shared), cached);

    // `precompile` compiles every built-in for local commands and for a daemon.
    let fresh = cache_home.path().join("fresh");
    let out = bin()
        .args(["precompile"])
        .env("SLUICE_COMPILE_CACHE", &fresh)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().filter(|l| l.contains(" ms")).collect();
    for who in ["commands", "daemon"] {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(who) && l.contains("github")),
            "{stdout}"
        );
    }
    let built_ins = lines.iter().filter(|l| l.starts_with("commands")).count();
    assert!(built_ins >= 5, "{stdout}");
    // The daemon's settings may share the compiled code (same engine hash) or not.
    let files = compiled_files(&fresh).len();
    assert!(
        (built_ins..=2 * built_ins).contains(&files),
        "{files} files: {stdout}"
    );
    // A daemon on a new data dir then compiles nothing.
    let fourth = tempfile::tempdir().unwrap();
    let before = compiled_files(&fresh);
    let mut daemon = bin()
        .arg("--data-dir")
        .arg(fourth.path())
        .args(["daemon", "--listen", "127.0.0.1:0"])
        .env("SLUICE_COMPILE_CACHE", &fresh)
        .env("SLUICE_PLUGINS_DIR", fourth.path().join("plugins"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_daemon(fourth.path(), &mut daemon);
    let _ = daemon.kill();
    let _ = daemon.wait();
    assert_eq!(compiled_files(&fresh), before);
    assert!(compiled_files(&fourth.path().join("cache")).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn act_previews_confirms_acts_refreshes_and_audits() {
    let mock = mock().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let connect = run(d, &connect_args(&mock.base_url(), TOKEN));
    assert!(connect.status.success(), "{}", stderr(&connect));
    let scan = sluice(d, &["scan", "acme", "--kind", "users"]);
    assert!(scan.status.success(), "{}", stderr(&scan));

    // Record a scan, then replay it through the conformance runner.
    let fixtures = d.join("fixtures");
    let fx = fixtures.to_str().unwrap();
    let recorded = sluice(d, &["scan", "acme", "--record", fx]);
    assert!(recorded.status.success(), "{}", stderr(&recorded));
    assert!(
        stderr(&recorded).contains("recorded"),
        "{}",
        stderr(&recorded)
    );
    let replayed = sluice(d, &["test-connector", "builtin:github", "--fixtures", fx]);
    let table = String::from_utf8_lossy(&replayed.stdout);
    assert!(replayed.status.success(), "{table}\n{}", stderr(&replayed));
    assert!(
        table.contains("list users") && !table.contains("FAIL"),
        "{table}"
    );
    mock.clear_requests();
    let writes = || mock.requests().iter().filter(|r| r.is_write()).count();
    let act = [
        "act",
        "acme",
        "remove-collaborator",
        "--target",
        "outside-1",
    ];

    // No terminal and no --yes: nothing is sent, and the error says what to do.
    let unconfirmed = sluice(d, &act);
    assert_one_line_error(&unconfirmed, "--yes");
    assert_eq!(writes(), 0);

    // --dry-run: the exact request, nothing sent.
    let preview = sluice(d, &[&act[..], &["--dry-run"]].concat());
    assert!(preview.status.success(), "{}", stderr(&preview));
    let out = String::from_utf8_lossy(&preview.stdout);
    let request = format!(
        "DELETE {}/orgs/acme/outside_collaborators/outside-1",
        mock.base_url()
    );
    assert!(
        out.contains("dry run, nothing sent") && out.contains(&request),
        "{out}"
    );
    assert_eq!(writes(), 0);

    // --yes: done, and the refreshed store no longer has the collaborator.
    let done = sluice(
        d,
        &[&act[..], &["--yes", "--reason", "offboarding"]].concat(),
    );
    assert!(done.status.success(), "{}", stderr(&done));
    let out = String::from_utf8_lossy(&done.stdout);
    assert!(out.contains(": done"), "{out}");
    assert!(
        out.contains("after refresh: gone from the provider"),
        "{out}"
    );
    assert_eq!(writes(), 1);
    assert_eq!(mock.outside_collaborator_logins(), ["outside-2"]);

    // The audit log lists both, under the local user, and verifies.
    let audit = sluice(d, &["audit", "--verify"]);
    assert!(audit.status.success(), "{}", stderr(&audit));
    let out = String::from_utf8_lossy(&audit.stdout);
    assert!(out.contains("local:"), "{out}");
    assert!(out.contains("offboarding"), "{out}");
    assert!(out.contains("verified: 2 entries"), "{out}");
    let unknown = sluice(
        d,
        &[
            "act",
            "acme",
            "remove-collaborator",
            "--target",
            "ghost",
            "--yes",
        ],
    );
    assert_one_line_error(&unknown, "no user `ghost`");

    // Editing an entry in the database makes --verify fail, naming the entry.
    {
        let db = sled::open(d.join("db")).unwrap();
        let audit = db.open_tree("audit").unwrap();
        let mut key = vec![b'e'];
        key.extend_from_slice(&1u64.to_be_bytes());
        let body = audit.get(&key).unwrap().expect("entry 1");
        let edited = String::from_utf8(body.to_vec())
            .unwrap()
            .replace("\"planned\"", "\"done\"");
        assert_ne!(edited.as_bytes(), &body[..]);
        audit.insert(&key, edited.as_bytes()).unwrap();
        db.flush().unwrap();
    }
    let tampered = sluice(d, &["audit", "--verify"]);
    assert_one_line_error(&tampered, "entry 1 was changed");
}

/// `cargo` for a crate outside this workspace: none of the outer build's settings.
fn nested_cargo(dir: &Path, args: &[&str], target_dir: &Path) -> Output {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(dir)
        .args(args)
        .env("CARGO_TARGET_DIR", target_dir);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("CARGO_PROFILE_")
            || k.starts_with("CARGO_BUILD_")
            || k.starts_with("CARGO_ENCODED_")
            || k == "RUSTFLAGS"
            || k == "RUSTC_WORKSPACE_WRAPPER"
        {
            cmd.env_remove(k);
        }
    }
    cmd.output().expect("running cargo")
}

#[test]
fn a_scaffolded_connector_builds_tests_and_passes_test_connector() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let made = sluice(
        &data,
        &[
            "new-connector",
            "acme-hr",
            "--dir",
            dir.path().to_str().unwrap(),
        ],
    );
    assert!(made.status.success(), "{}", stderr(&made));
    let crate_dir = dir.path().join("acme-hr");
    // A persistent target dir: the SDK's dependencies compile once per checkout.
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/scaffold-check");

    let build = nested_cargo(&crate_dir, &["build", "--release", "--offline"], &target);
    assert!(
        build.status.success(),
        "{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let wasm = target.join("wasm32-wasip2/release/acme_hr.wasm");
    assert!(wasm.exists(), "{} not built", wasm.display());

    let host = String::from_utf8(Command::new("rustc").arg("-vV").output().unwrap().stdout)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("host: ").map(str::to_string))
        .unwrap();
    let unit = nested_cargo(
        &crate_dir,
        &["test", "--offline", "--target", &host],
        &target,
    );
    let out = String::from_utf8_lossy(&unit.stdout);
    assert!(
        unit.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&unit.stderr)
    );
    assert!(out.contains("test result: ok. 3 passed"), "{out}");

    let check = sluice(
        &data,
        &[
            "test-connector",
            wasm.to_str().unwrap(),
            "--fixtures",
            crate_dir.join("fixtures").to_str().unwrap(),
        ],
    );
    let table = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{table}\n{}", stderr(&check));
    assert!(
        table.contains("list users") && !table.contains("FAIL"),
        "{table}"
    );
    assert!(table.contains("2 pages, 3 records"), "{table}");
    // `check` answered from the fixtures, and the one action planned its request
    // on the first user listed without sending it.
    assert!(table.contains("check"), "{table}");
    assert!(
        table.contains("act suspend-user (dry run)")
            && table.contains("would send POST https://api.example.com/users/u1/suspend"),
        "{table}"
    );

    // And a second scaffold into the same place is refused, leaving it intact.
    let again = sluice(
        &data,
        &[
            "new-connector",
            "acme-hr",
            "--dir",
            dir.path().to_str().unwrap(),
        ],
    );
    assert_one_line_error(&again, "not empty");
}

/// A connector in another language, built by `dir/build.sh` (what its `just` recipe
/// runs) into `wasm` (under the repository): it builds, passes `test-connector`
/// against `dir/fixtures` with a table whose first line starts with `title`, and,
/// installed beside the built-in connectors as `id.wasm`, is listed as loaded.
fn a_connector_from_another_language(dir: &str, needs: &str, wasm: &str, id: &str, title: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let build = Command::new(root.join(dir).join("build.sh"))
        .output()
        .unwrap_or_else(|e| panic!("running {dir}/build.sh: {e}"));
    assert!(
        build.status.success(),
        "building {dir} failed (needs {needs}):\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    let wasm = root.join(wasm);
    let data = tempfile::tempdir().unwrap();
    let fixtures = root.join(dir).join("fixtures");
    let check = sluice(
        data.path(),
        &[
            "test-connector",
            wasm.to_str().unwrap(),
            "--fixtures",
            fixtures.to_str().unwrap(),
        ],
    );
    let table = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{table}\n{}", stderr(&check));
    assert!(table.starts_with(title), "{table}");
    assert!(table.contains("2 pages, 3 records"), "{table}");

    std::fs::create_dir_all(data.path().join("plugins")).unwrap();
    std::fs::copy(&wasm, data.path().join(format!("plugins/{id}.wasm"))).unwrap();
    let list = sluice(data.path(), &["plugins", "list"]);
    let out = String::from_utf8_lossy(&list.stdout);
    assert!(list.status.success(), "{}", stderr(&list));
    assert!(out.lines().any(|l| l.starts_with(id)), "{out}");
}

/// The component model's promise: a connector written in Python (componentize-py,
/// from PyPI, contract 0.1.0) is loaded by the host and passes `test-connector`.
#[test]
fn a_python_connector_builds_loads_and_passes_test_connector() {
    a_connector_from_another_language(
        "connectors-py/hello-py",
        "python3 with venv and PyPI",
        "target/py/hello_py.wasm",
        "hello-py",
        "hello-py 0.1.0",
    );
}

/// The same for JavaScript: componentize-js (from npm) against contract 0.2.0,
/// importing no WASI.
#[test]
fn a_javascript_connector_builds_loads_and_passes_test_connector() {
    a_connector_from_another_language(
        "connectors-js/hello-js",
        "node 20+ with npm",
        "target/js/hello_js.wasm",
        "hello-js",
        "hello-js 0.1.0 (WIT 0.2.0)",
    );
}
