//! Governance actions end to end: admin API → daemon → wasm connector → mock provider,
//! then the refresh rescan into sled, and the hash-chained audit log.

use serde_json::{Value, json};
use sluice_mocks::{GithubMock, GithubMockConfig, OktaMock, OktaMockConfig};
use sluice_tests::daemon::TestDaemon;

fn writes(requests: &[sluice_mocks::RequestRecord]) -> usize {
    requests.iter().filter(|r| r.is_write()).count()
}

/// The stored user with this login, from the API.
async fn user(d: &TestDaemon, instance: &str, login: &str) -> Value {
    let (status, page) = d
        .api(
            "GET",
            &format!("/v1/instances/{instance}/users?q={login}&deleted=true"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["record"]["login"] == login)
        .cloned()
        .unwrap_or_else(|| panic!("no user {login} in {page}"))
}

/// Connect an instance through the API (`body` is the connect request) and wait for
/// its first full scan.
async fn connect_scanned(d: &TestDaemon, body: Value) {
    let name = body["name"].as_str().unwrap().to_string();
    let (status, answer) = d.api("POST", "/v1/instances", Some(body)).await;
    assert_eq!(status, 201, "{answer}");
    d.wait_scanned(&name).await;
}

/// The status and error code of an answer.
fn refusal(status: u16, answer: &Value) -> (u16, Option<&str>) {
    (status, answer["error"]["code"].as_str())
}

async fn act(d: &TestDaemon, instance: &str, body: Value) -> (u16, Value) {
    d.api(
        "POST",
        &format!("/v1/instances/{instance}/actions"),
        Some(body),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn github_actions_preview_act_refresh_and_audit_under_the_token_name() {
    let mock = GithubMock::start(GithubMockConfig::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = TestDaemon::start(dir.path()).await;
    d.connect_github(&mock, "acme").await;
    d.wait_scanned("acme").await;
    let outsider = user(&d, "acme", "outside-1").await;
    assert_eq!(outsider["deleted"], false);
    let id = outsider["record"]["id"].as_str().unwrap().to_string();
    mock.clear_requests();

    // A dry run shows the exact request and sends no write.
    let (status, planned) = act(
        &d,
        "acme",
        json!({ "action": "remove-collaborator", "target": "outside-1", "dry_run": true,
                "reason": "contract ended" }),
    )
    .await;
    assert_eq!(status, 200, "{planned}");
    assert_eq!(planned["audit"]["outcome"], "planned");
    assert_eq!(
        planned["audit"]["target"],
        id.as_str(),
        "login resolved to the id"
    );
    assert_eq!(
        planned["audit"]["requests"],
        json!([format!(
            "DELETE {}/orgs/acme/outside_collaborators/outside-1",
            mock.base_url()
        )])
    );
    assert_eq!(planned["audit"]["sent"], json!([]));
    assert_eq!(planned["refresh"], Value::Null);
    assert_eq!(writes(&mock.requests()), 0, "a dry run sent a write");
    assert!(
        mock.outside_collaborator_logins()
            .contains(&"outside-1".into())
    );

    // A named token: the audit log says who acted.
    let (status, created) = d
        .api("POST", "/v1/tokens", Some(json!({ "name": "alice" })))
        .await;
    assert_eq!(status, 201, "{created}");
    let alice = created["token"].as_str().unwrap().to_string();
    let (status, refused) = d
        .api_with(
            "POST",
            "/v1/tokens",
            Some(json!({ "name": "mallory" })),
            Some(&alice),
        )
        .await;
    assert_eq!(refusal(status, &refused), (403, Some("admin-only")));

    let (status, done) = d
        .api_with(
            "POST",
            "/v1/instances/acme/actions",
            Some(json!({ "action": "remove-collaborator", "target": id,
                         "reason": "contract ended" })),
            Some(&alice),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["audit"]["outcome"], "done");
    assert_eq!(done["audit"]["who"], "alice");
    assert_eq!(done["audit"]["provider_status"], 204);
    assert_eq!(mock.outside_collaborator_logins(), ["outside-2"]);
    assert_eq!(writes(&mock.requests()), 1);
    // The refresh rescanned users: the collaborator is gone from the store too.
    assert_eq!(done["refresh"]["kind"], "users", "{done}");
    assert_eq!(done["record"]["deleted"], true, "{done}");
    assert_eq!(user(&d, "acme", "outside-1").await["deleted"], true);

    // Again: already in that state, a success.
    let (status, again) = act(
        &d,
        "acme",
        json!({ "action": "remove-collaborator", "target": id }),
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["audit"]["outcome"], "already");
    assert_eq!(again["audit"]["provider_status"], 404);

    // Revoking a SAML credential authorization removes the app permission.
    let (status, revoked) = act(
        &d,
        "acme",
        json!({ "action": "revoke-app-permission", "target": "credential:161001" }),
    )
    .await;
    assert_eq!(status, 200, "{revoked}");
    assert_eq!(revoked["audit"]["outcome"], "done");
    assert_eq!(revoked["record"]["deleted"], true, "{revoked}");

    // Guard rails: an unknown target and an action the connector does not offer are
    // refused before any request, and audited.
    mock.clear_requests();
    let (status, unknown) = act(
        &d,
        "acme",
        json!({ "action": "remove-collaborator", "target": "nobody-here" }),
    )
    .await;
    assert_eq!(refusal(status, &unknown), (404, Some("not-found")));
    let (status, unsupported) = act(
        &d,
        "acme",
        json!({ "action": "suspend-user", "target": id }),
    )
    .await;
    assert_eq!(refusal(status, &unsupported), (400, Some("bad-request")));
    assert!(mock.requests().is_empty(), "{:?}", mock.requests());

    // The audit log has every attempt, newest first, and the chain verifies.
    let (status, log) = d.api("GET", "/v1/audit?verify=true", None).await;
    assert_eq!(status, 200, "{log}");
    let outcomes: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes,
        ["refused", "refused", "done", "already", "done", "planned"]
    );
    assert_eq!(log["entries"][4]["who"], "alice");
    assert_eq!(log["entries"][4]["reason"], "contract ended");
    assert_eq!(log["entries"][5]["who"], "admin");
    assert_eq!(log["verification"]["ok"], true, "{log}");
    assert_eq!(log["verification"]["entries"], 6);
    d.daemon.shutdown().await.unwrap();

    // Tamper with one entry in the store: verification fails and names it.
    {
        // The daemon's last tasks let go of the database shortly after shutdown.
        let db = {
            let mut tries = 0;
            loop {
                match sled::open(dir.path().join("db")) {
                    Ok(db) => break db,
                    Err(e) if tries < 100 => {
                        tries += 1;
                        let _ = e;
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                    Err(e) => panic!("database still locked: {e}"),
                }
            }
        };
        let audit = db.open_tree("audit").unwrap();
        let mut key = vec![b'e'];
        key.extend_from_slice(&2u64.to_be_bytes());
        let body = audit.get(&key).unwrap().expect("entry 2");
        let edited = String::from_utf8(body.to_vec())
            .unwrap()
            .replace("\"alice\"", "\"bob\"");
        assert_ne!(edited.as_bytes(), &body[..]);
        audit.insert(&key, edited.as_bytes()).unwrap();
        db.flush().unwrap();
    }
    let store = sluice::store::Store::open(dir.path()).unwrap();
    let v = store.verify_audit().unwrap();
    assert!(!v.ok, "{v:?}");
    let problem = v.problem.unwrap();
    assert!(problem.contains("entry 2 was changed"), "{problem}");
    assert_eq!(v.entries, 2, "verified up to the edited entry");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ungranted_action_is_refused_before_any_request_and_audited() {
    let mock = GithubMock::start(GithubMockConfig::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = TestDaemon::start(dir.path()).await;
    connect_scanned(
        &d,
        json!({
            "connector": "github",
            "name": "acme",
            "config": { "org": "acme", "base_url": mock.base_url() },
            "secrets": { "token": mock.config().token },
            "allow_private_network": true,
            "grants": { "egress": "all", "actions": [] },
        }),
    )
    .await;
    mock.clear_requests();
    let (status, refused) = act(
        &d,
        "acme",
        json!({ "action": "remove-collaborator", "target": "outside-1" }),
    )
    .await;
    assert_eq!(
        refusal(status, &refused),
        (403, Some("not-granted")),
        "{refused}"
    );
    assert!(mock.requests().is_empty(), "{:?}", mock.requests());
    assert_eq!(mock.outside_collaborator_logins().len(), 2);
    let (_, log) = d.api("GET", "/v1/audit?instance=acme", None).await;
    assert_eq!(log["entries"][0]["outcome"], "refused");
    assert_eq!(log["entries"][0]["dry_run"], false);
    let (status, _) = d.api("GET", "/v1/audit?instance=nope", None).await;
    assert_eq!(status, 404);
    d.daemon.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_suspend_unsuspend_and_group_removal_show_in_the_store_after_the_refresh() {
    let token = "00okta_actions_token";
    let mock = OktaMock::start(OktaMockConfig {
        token: token.into(),
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = TestDaemon::start(dir.path()).await;
    connect_scanned(
        &d,
        json!({
            "connector": "okta",
            "name": "okta",
            "config": { "domain": mock.base_url() },
            "secrets": { "api_token": token },
            "allow_private_network": true,
            "grants": { "egress": "all", "actions": "all" },
        }),
    )
    .await;
    let target = mock.user_ids_with_status("ACTIVE").pop().unwrap();
    let status_of = |v: &Value| v["record"]["record"]["status"].clone();

    mock.clear_requests();
    let (status, planned) = act(
        &d,
        "okta",
        json!({ "action": "suspend-user", "target": target, "dry_run": true }),
    )
    .await;
    assert_eq!(status, 200, "{planned}");
    assert_eq!(planned["audit"]["outcome"], "planned");
    assert_eq!(status_of(&planned), "active", "{planned}");
    assert_eq!(writes(&mock.requests()), 0, "a dry run sent a write");
    assert_eq!(mock.user_status(&target).as_deref(), Some("ACTIVE"));

    let (status, done) = act(
        &d,
        "okta",
        json!({ "action": "suspend-user", "target": target, "reason": "phished" }),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["audit"]["outcome"], "done");
    assert_eq!(done["audit"]["provider_status"], 200);
    assert_eq!(mock.user_status(&target).as_deref(), Some("SUSPENDED"));
    assert_eq!(status_of(&done), "suspended", "{done}");

    mock.clear_requests();
    let (_, again) = act(
        &d,
        "okta",
        json!({ "action": "suspend-user", "target": target }),
    )
    .await;
    assert_eq!(again["audit"]["outcome"], "already", "{again}");
    assert_eq!(writes(&mock.requests()), 0);

    let (_, back) = act(
        &d,
        "okta",
        json!({ "action": "unsuspend-user", "target": target }),
    )
    .await;
    assert_eq!(back["audit"]["outcome"], "done", "{back}");
    assert_eq!(mock.user_status(&target).as_deref(), Some("ACTIVE"));
    assert_eq!(status_of(&back), "active", "{back}");

    // Remove a member from a group: the group is rescanned without them.
    let group = mock.group_ids()[0].clone();
    let member = mock.group_member_ids(&group)[0].clone();
    let remove = json!({ "action": "remove-group-member", "target": group,
                         "params": { "member": member } });
    let (status, removed) = act(&d, "okta", remove.clone()).await;
    assert_eq!(status, 200, "{removed}");
    assert_eq!(removed["audit"]["outcome"], "done");
    assert_eq!(removed["audit"]["provider_status"], 204);
    assert!(!mock.group_member_ids(&group).contains(&member));
    assert_eq!(removed["refresh"]["kind"], "groups", "{removed}");
    let members = removed["record"]["record"]["members"].as_array().unwrap();
    assert!(!members.contains(&json!(member)), "{removed}");
    let (_, again) = act(&d, "okta", remove).await;
    assert_eq!(again["audit"]["outcome"], "already", "{again}");
    let (status, missing) = act(
        &d,
        "okta",
        json!({ "action": "remove-group-member", "target": group }),
    )
    .await;
    assert_eq!(status, 400, "{missing}");

    let (_, log) = d.api("GET", "/v1/audit?verify=true&limit=2", None).await;
    assert_eq!(log["entries"].as_array().unwrap().len(), 2);
    assert_eq!(log["verification"]["ok"], true);
    assert_eq!(log["verification"]["entries"], 7);
    d.daemon.shutdown().await.unwrap();
}
