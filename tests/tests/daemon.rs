//! The daemon end to end: scheduler, admin API over loopback with a real HTTP client,
//! disable/enable, restart, webhooks, metrics, and the OpenAPI description.

use std::collections::BTreeSet;
use std::time::Duration;

use serde_json::{Value, json};
use sluice::api::{openapi, routes, sign_hook_body};
use sluice::daemon::DAEMON_FILE;
use sluice::store::hook_secret;
use sluice_mocks::{GithubMock, GithubMockConfig};
use sluice_tests::daemon::{TestDaemon, WAIT};

fn org(name: &str) -> GithubMockConfig {
    GithubMockConfig {
        org: name.into(),
        token: format!("ghp_{name}"),
        ..Default::default()
    }
}

fn concrete(path: &str, name: &str) -> String {
    path.replace("{name}", name).replace("{kind}", "users")
}

#[tokio::test]
async fn openapi_describes_exactly_the_served_routes() {
    let spec: Value = openapi::document();
    let mut documented = BTreeSet::new();
    for (path, ops) in spec["paths"].as_object().unwrap() {
        for method in ops.as_object().unwrap().keys() {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let served: BTreeSet<(String, String)> = routes()
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(
        documented, served,
        "the OpenAPI description and api::routes differ"
    );

    // Every listed route is really served: with a valid token it never falls through
    // to "no such route" or "method not allowed".
    let dir = tempfile::tempdir().unwrap();
    let d = TestDaemon::start(dir.path()).await;
    for (method, path) in routes() {
        let (status, body) = d.api(method, &concrete(path, "ghost"), None).await;
        assert_ne!(status, 405, "{method} {path}: {body}");
        assert_ne!(body["error"]["code"], "no-route", "{method} {path}: {body}");
    }
    let (status, body) = d.api("GET", "/openapi.json", None).await;
    assert_eq!(status, 200);
    assert_eq!(body, spec);
    let (status, body) = d.api("GET", "/v1/nothing-here", None).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("no-route"))
    );
    d.daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn every_route_but_healthz_refuses_a_missing_or_wrong_token() {
    let mock = GithubMock::start(org("acme")).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = TestDaemon::start(dir.path()).await;
    d.connect_github(&mock, "acme").await;
    let before = d.api("GET", "/v1/instances/acme", None).await.1;
    for (method, path) in routes() {
        let path = concrete(path, "acme");
        for token in [None, Some("wrong"), Some("")] {
            let (status, body) = d.api_with(method, &path, None, token).await;
            if path == "/healthz" {
                assert_eq!(status, 200);
                assert_eq!(body["status"], "ok");
            } else {
                assert_eq!(status, 401, "{method} {path} with {token:?}: {body}");
                assert_eq!(body["error"]["code"], "unauthorized");
            }
        }
    }
    // The API token is not a webhook secret, and nothing was changed by the refusals.
    let (status, _) = d.api("POST", "/hooks/acme", None).await;
    assert_eq!(status, 401);
    let after = d.api("GET", "/v1/instances/acme", None).await;
    assert_eq!(after.0, 200, "DELETE without a token removed nothing");
    assert_eq!(after.1["instance"]["id"], before["instance"]["id"]);
    d.daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn connect_flow_collects_everything_and_queries_page_stably() {
    let mock = GithubMock::start(org("acme")).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = TestDaemon::start(dir.path()).await;
    let connected = d.connect_github(&mock, "acme").await;
    assert_eq!(connected["permissions"]["principal"], "sluice-bot");
    assert!(
        connected["egress"][0]
            .as_str()
            .unwrap()
            .starts_with(&mock.base_url())
    );
    let detail = d.wait_scanned("acme").await;
    assert_eq!(detail["instance"]["status"]["state"], "connected");
    let expected = mock.expected();
    let count = |kind: &str| {
        detail["kinds"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kind"] == kind)
            .unwrap()["records"]
            .as_u64()
            .unwrap() as usize
    };
    assert_eq!(count("users"), expected.users);
    assert_eq!(count("groups"), expected.groups);
    assert_eq!(count("activities"), expected.audit_events);
    assert_eq!(count("app-permissions"), expected.app_permissions);
    assert_eq!(count("findings"), expected.findings);

    // Activities page newest first in small pages; new events arriving mid-way do not
    // shift or repeat what was already read.
    let (status, first) = d
        .api("GET", "/v1/instances/acme/activities?limit=7", None)
        .await;
    assert_eq!(status, 200);
    let mut ids: Vec<String> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["record"]["id"].as_str().unwrap().to_string())
        .collect();
    mock.add_audit_events(20);
    let (status, body) = d
        .api(
            "POST",
            "/v1/instances/acme/scan",
            Some(json!({"kinds": ["activities"], "wait": true})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let read = body["reports"][0]["records"].as_u64().unwrap();
    assert!(
        (20..=21).contains(&read),
        "incremental: the new events (plus the one the cursor overlaps), read {read}"
    );
    let mut cursor = first["next_cursor"].as_str().unwrap().to_string();
    for _ in 0..1000 {
        let (status, page) = d
            .api(
                "GET",
                &format!("/v1/instances/acme/activities?limit=7&cursor={cursor}"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{page}");
        for i in page["items"].as_array().unwrap() {
            ids.push(i["record"]["id"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    let unique: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "no record repeated across pages");
    assert_eq!(
        ids.len(),
        expected.audit_events,
        "pages hold exactly the events present at the first page"
    );

    // Every kind pages to the full set.
    let users = d.all_ids("acme", "users", 5).await;
    assert_eq!(users.len(), expected.users);
    let all_acts = d.all_ids("acme", "activities", 1000).await;
    assert_eq!(all_acts.len(), expected.audit_events + 20);
    let mut mock_ids = mock.audit_event_ids();
    mock_ids.sort();
    let mut got = all_acts.clone();
    got.sort();
    assert_eq!(got, mock_ids);
    d.daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn filters_narrow_queries_and_bad_input_gets_a_clear_4xx() {
    let mock = GithubMock::start(org("acme")).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = TestDaemon::start(dir.path()).await;
    d.connect_github(&mock, "acme").await;
    d.wait_scanned("acme").await;

    let (status, answer) = d
        .api(
            "PUT",
            "/v1/instances/acme/schedule",
            Some(json!({"intervals": {"users": 7200}})),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    let items = |v: &Value| v["items"].as_array().unwrap().clone();
    let (_, all) = d
        .api("GET", "/v1/instances/acme/activities?limit=1000", None)
        .await;
    let all = items(&all);
    let (_, logons) = d
        .api(
            "GET",
            "/v1/instances/acme/activities?kind=logon&limit=1000",
            None,
        )
        .await;
    let logons = items(&logons);
    assert!(!logons.is_empty());
    assert_eq!(
        logons.len(),
        all.iter()
            .filter(|a| a["record"]["kind"] == "logon")
            .count()
    );
    let actor = all[0]["record"]["actor"].as_str().unwrap().to_string();
    let (_, by_actor) = d
        .api(
            "GET",
            &format!("/v1/instances/acme/activities?actor={actor}&limit=1000"),
            None,
        )
        .await;
    let by_actor = items(&by_actor);
    assert_eq!(
        by_actor.len(),
        all.iter()
            .filter(|a| a["record"]["actor"] == actor.as_str())
            .count()
    );
    // A time window: the 10 newest events by their own timestamps.
    let t_new = all[0]["record"]["time"].as_i64().unwrap();
    let t_old = all[9]["record"]["time"].as_i64().unwrap();
    let (_, window) = d
        .api(
            "GET",
            &format!("/v1/instances/acme/activities?since={t_old}&until={t_new}&limit=1000"),
            None,
        )
        .await;
    let window = items(&window);
    assert_eq!(
        window.len(),
        all.iter()
            .filter(|a| (t_old..=t_new).contains(&a["record"]["time"].as_i64().unwrap()))
            .count()
    );
    // Free text reaches into the raw provider JSON.
    let (_, found) = d
        .api(
            "GET",
            "/v1/instances/acme/users?q=member-1&limit=1000",
            None,
        )
        .await;
    assert!(
        items(&found)
            .iter()
            .all(|u| { u.to_string().to_lowercase().contains("member-1") })
    );
    assert!(!items(&found).is_empty());
    let (_, failing) = d
        .api("GET", "/v1/instances/acme/posture?status=fail", None)
        .await;
    assert_eq!(items(&failing).len(), mock.expected().failed_findings);

    let bad: &[(&str, &str, Option<Value>, u16, &str)] = &[
        (
            "POST",
            "/v1/instances",
            Some(json!("not an object")),
            400,
            "invalid JSON",
        ),
        (
            "POST",
            "/v1/instances",
            Some(json!({"connector": "github", "name": "x", "bogus": 1})),
            400,
            "bogus",
        ),
        (
            "POST",
            "/v1/instances",
            Some(json!({"connector": "nope", "name": "x"})),
            404,
            "unknown connector",
        ),
        (
            "POST",
            "/v1/instances",
            Some(
                json!({"connector": "github", "name": "acme", "config": {"org": "acme"}, "secrets": {"token": "t"}}),
            ),
            409,
            "already exists",
        ),
        (
            "POST",
            "/v1/instances",
            Some(
                json!({"connector": "github", "name": "y", "config": {"org": "a"}, "secrets": {"token": "t"}, "schedule": {"intervals": {"users": 1}}}),
            ),
            400,
            "out of range",
        ),
        (
            "PUT",
            "/v1/instances/acme/schedule",
            Some(json!({"intervals": {"activities": 3}})),
            400,
            "out of range",
        ),
        (
            "PUT",
            "/v1/instances/acme/schedule",
            Some(json!({"interval": {}})),
            400,
            "interval",
        ),
        // serde reads a struct from a sequence: `[]` would have been every default,
        // wiping the schedule or the limits.
        (
            "PUT",
            "/v1/instances/acme/schedule",
            Some(json!([])),
            400,
            "must be a JSON object",
        ),
        (
            "PUT",
            "/v1/instances/acme/limits",
            Some(json!([])),
            400,
            "must be a JSON object",
        ),
        (
            "POST",
            "/v1/instances/acme/scan",
            Some(json!([])),
            400,
            "must be a JSON object",
        ),
        ("GET", "/v1/instances/ghost", None, 404, "unknown instance"),
        (
            "GET",
            "/v1/instances/acme/widgets",
            None,
            404,
            "unknown kind",
        ),
        (
            "GET",
            "/v1/instances/acme/users?cursor=%21%21",
            None,
            400,
            "invalid cursor",
        ),
        (
            "GET",
            "/v1/instances/acme/users?limit=0",
            None,
            400,
            "limit",
        ),
        (
            "GET",
            "/v1/instances/acme/users?colour=red",
            None,
            400,
            "colour",
        ),
        (
            "GET",
            "/v1/instances/acme/users?since=2026-01-01",
            None,
            400,
            "applies to activities",
        ),
        (
            "GET",
            "/v1/instances/acme/activities?since=yesterday-ish",
            None,
            400,
            "invalid time",
        ),
        (
            "POST",
            "/v1/instances/acme/scan",
            Some(json!({"kinds": ["files"]})),
            400,
            "does not support",
        ),
        (
            "POST",
            "/v1/instances/ghost/disable",
            None,
            404,
            "unknown instance",
        ),
    ];
    for (method, path, body, status, needle) in bad {
        let (got, answer) = d.api(method, path, body.clone()).await;
        assert_eq!(got, *status, "{method} {path}: {answer}");
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(needle),
            "{method} {path}: `{message}` lacks `{needle}`"
        );
    }
    // Nothing was lost or changed by the bad requests.
    let (_, list) = d.api("GET", "/v1/instances", None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (_, shown) = d.api("GET", "/v1/instances/acme", None).await;
    assert_eq!(
        shown["instance"]["schedule"]["intervals"]["users"], 7200,
        "the schedule set before the bad requests: {shown}"
    );
    assert_eq!(
        d.all_ids("acme", "users", 1000).await.len(),
        mock.expected().users
    );
    d.daemon.shutdown().await.unwrap();
}

/// A log spread over 87 days, so each time range of a first scan has pages to read.
fn slow_org(name: &str) -> GithubMockConfig {
    GithubMockConfig {
        audit_events: 1500,
        audit_spacing_ms: 5_000_000,
        latency: Duration::from_millis(25),
        ..org(name)
    }
}

async fn activity_pages(d: &TestDaemon, name: &str) -> u64 {
    let (_, detail) = d.api("GET", &format!("/v1/instances/{name}"), None).await;
    detail["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kind"] == "activities")
        .unwrap()["scan"]["pages"]
        .as_u64()
        .unwrap_or(0)
}

async fn wait_activity_pages(d: &TestDaemon, name: &str, pages: u64) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while activity_pages(d, name).await < pages {
        assert!(
            tokio::time::Instant::now() < deadline,
            "scan never got going"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn assert_matches_provider(d: &TestDaemon, name: &str, mock: &GithubMock) {
    let mut acts = d.all_ids(name, "activities", 1000).await;
    acts.sort();
    let mut want = mock.audit_event_ids();
    want.sort();
    assert_eq!(acts, want, "activities equal the provider's, once each");
    let expected = mock.expected();
    assert_eq!(d.all_ids(name, "users", 1000).await.len(), expected.users);
    assert_eq!(d.all_ids(name, "groups", 1000).await.len(), expected.groups);
    // Nothing was wrongly marked deleted by the interruption.
    let (_, with_deleted) = d
        .api(
            "GET",
            &format!("/v1/instances/{name}/users?deleted=true&limit=1000"),
            None,
        )
        .await;
    assert_eq!(
        with_deleted["items"].as_array().unwrap().len(),
        expected.users
    );
}

#[tokio::test]
async fn disable_stops_a_scan_at_a_page_and_enable_resumes_to_the_same_data() {
    let mock = GithubMock::start(slow_org("acme")).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = TestDaemon::start(dir.path()).await;
    d.connect_github(&mock, "acme").await;
    wait_activity_pages(&d, "acme", 2).await;
    // Activities collected so far are queryable while the first scan still runs.
    let (_, partial) = d
        .api("GET", "/v1/instances/acme/activities?limit=1000", None)
        .await;
    let partial = partial["items"].as_array().unwrap().len();
    assert!(
        (100..1500).contains(&partial),
        "{partial} activities mid-scan"
    );

    let (status, body) = d.api("POST", "/v1/instances/acme/disable", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"]["state"], "disabled");
    // Disable returned after the scan stopped: no more requests, no more records.
    let requests = mock.requests().len();
    let pages = activity_pages(&d, "acme").await;
    let (_, detail) = d.api("GET", "/v1/instances/acme", None).await;
    let acts = detail["kinds"][2]["records"].as_u64().unwrap();
    assert!(acts < 1500, "stopped mid-way ({acts} of 1500)");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        mock.requests().len(),
        requests,
        "nothing runs while disabled"
    );
    assert_eq!(activity_pages(&d, "acme").await, pages);
    let (status, body) = d
        .api("POST", "/v1/instances/acme/scan", Some(json!({})))
        .await;
    assert_eq!(status, 409, "a disabled instance is not scanned: {body}");

    let (status, body) = d.api("POST", "/v1/instances/acme/enable", None).await;
    assert_eq!(status, 200, "{body}");
    d.wait_scanned("acme").await;
    assert_matches_provider(&d, "acme", &mock).await;
    d.daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_restarted_daemon_resumes_where_it_stopped() {
    let mock = GithubMock::start(slow_org("acme")).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = TestDaemon::start(dir.path()).await;
    assert!(dir.path().join(DAEMON_FILE).exists());
    d.connect_github(&mock, "acme").await;
    wait_activity_pages(&d, "acme", 2).await;
    d.daemon.shutdown().await.unwrap();
    assert!(
        !dir.path().join(DAEMON_FILE).exists(),
        "daemon.json is removed on shutdown"
    );
    let requests_at_stop = mock.requests().len();

    let d = TestDaemon::start(dir.path()).await;
    d.wait_scanned("acme").await;
    assert_matches_provider(&d, "acme", &mock).await;
    // Resumed, not restarted: the second run did not re-read the whole audit log.
    let audit_requests = mock
        .requests()
        .iter()
        .skip(requests_at_stop)
        .filter(|r| r.path_and_query.contains("audit-log"))
        .count();
    assert!(
        audit_requests < 15,
        "{audit_requests} audit-log pages after restart"
    );
    d.daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_signed_webhook_triggers_an_incremental_scan() {
    let mock = GithubMock::start(org("acme")).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = TestDaemon::start(dir.path()).await;
    let connected = d.connect_github(&mock, "acme").await;
    d.wait_scanned("acme").await;
    let id = connected["instance"]["id"].as_str().unwrap();
    let secret = hook_secret(dir.path(), id).unwrap();
    mock.add_audit_events(3);

    let body = br#"{"action":"member_added"}"#.to_vec();
    let post = |sig: String| {
        d.client()
            .post(d.url("/hooks/acme"))
            .header("x-hub-signature-256", sig)
            .body(body.clone())
    };
    let wrong = d.raw(post("sha256=00".into())).await;
    assert_eq!(wrong.status().as_u16(), 401);
    let before = d.all_ids("acme", "activities", 1000).await.len();
    assert_eq!(before, mock.expected().audit_events - 3);

    let ok = d.raw(post(sign_hook_body(&secret, &body))).await;
    assert_eq!(ok.status().as_u16(), 202);
    let deadline = tokio::time::Instant::now() + WAIT;
    while d.all_ids("acme", "activities", 1000).await.len() < before + 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "webhook did not scan"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The same signed delivery again is a replay, refused.
    let replay = d.raw(post(sign_hook_body(&secret, &body))).await;
    assert_eq!(replay.status().as_u16(), 409);
    // An unknown instance answers exactly like a wrong signature: nothing tells
    // which instance names exist.
    let unknown = d
        .raw(
            d.client()
                .post(d.url("/hooks/ghost"))
                .header("x-hub-signature-256", sign_hook_body(&secret, &body))
                .body(body.clone()),
        )
        .await;
    assert_eq!(unknown.status().as_u16(), 401);
    let wrong_text = d.raw(post("sha256=00".into())).await.text().await.unwrap();
    assert_eq!(unknown.text().await.unwrap(), wrong_text);
    // Bearer form, and kinds chosen by the caller.
    let resp = d
        .raw(
            d.client()
                .post(d.url("/hooks/acme?kind=users,groups"))
                .bearer_auth(secret.expose()),
        )
        .await;
    assert_eq!(resp.status().as_u16(), 202);
    let v: Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
    assert_eq!(v["triggered"], json!(["users", "groups"]));
    d.daemon.shutdown().await.unwrap();

    // A restarted daemon still knows the delivery it accepted.
    let d = TestDaemon::start(dir.path()).await;
    let replay = d
        .raw(
            d.client()
                .post(d.url("/hooks/acme"))
                .header("x-hub-signature-256", sign_hook_body(&secret, &body))
                .body(body.clone()),
        )
        .await;
    assert_eq!(replay.status().as_u16(), 409, "replayed after a restart");
    d.daemon.shutdown().await.unwrap();
}

#[tokio::test]
async fn metrics_count_scans_pages_records_and_requests() {
    let mock = GithubMock::start(org("acme")).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = TestDaemon::start(dir.path()).await;
    d.connect_github(&mock, "acme").await;
    d.wait_scanned("acme").await;
    let resp = d
        .raw(d.client().get(d.url("/metrics")).bearer_auth(&d.token))
        .await;
    assert_eq!(resp.status().as_u16(), 200);
    let text = resp.text().await.unwrap();
    let value = |series: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(series))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no `{series}` in:\n{text}"))
    };
    let events = mock.expected().audit_events as f64;
    assert_eq!(
        value(r#"sluice_records_total{instance="acme",kind="activities"}"#),
        events
    );
    assert_eq!(
        value(r#"sluice_scans_total{instance="acme",kind="users",outcome="ok"}"#),
        1.0
    );
    assert!(value(r#"sluice_pages_total{instance="acme",kind="activities"}"#) >= 3.0);
    assert!(value(r#"sluice_http_requests_total{instance="acme",status="200"}"#) > 5.0);
    assert_eq!(value(r#"sluice_instances{state="connected"}"#), 1.0);
    d.daemon.shutdown().await.unwrap();
}
