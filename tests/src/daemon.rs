//! A daemon in this test process, with a real HTTP client for its API.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use sluice::daemon::{Daemon, DaemonConfig};
use sluice::scheduler::SchedulerConfig;
use sluice_mocks::GithubMock;

/// A running daemon over a data dir the test owns (so it can be restarted).
pub struct TestDaemon {
    pub daemon: Daemon,
    pub token: String,
    http: reqwest::Client,
    data_dir: PathBuf,
}

/// Bounds for every wait in these tests.
pub const WAIT: Duration = Duration::from_secs(60);

impl TestDaemon {
    pub async fn start(data_dir: &Path) -> TestDaemon {
        TestDaemon::start_with(data_dir, |_| {}).await
    }

    /// Start with the test defaults changed by `tune`.
    pub async fn start_with(data_dir: &Path, tune: impl FnOnce(&mut DaemonConfig)) -> TestDaemon {
        let mut cfg = DaemonConfig::new(
            data_dir.to_path_buf(),
            data_dir.join("plugins"),
            "127.0.0.1:0".parse::<SocketAddr>().unwrap(),
        );
        cfg.scheduler = SchedulerConfig {
            max_concurrent: 4,
            ..Default::default()
        };
        cfg.shutdown_grace = Duration::from_secs(20);
        cfg.runtime.shared_cache_dir = Some(crate::suite_compile_cache());
        tune(&mut cfg);
        let daemon = Daemon::start(cfg).await.expect("daemon starts");
        let token = sluice::store::api_token(data_dir)
            .unwrap()
            .expose()
            .to_string();
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        TestDaemon {
            daemon,
            token,
            http,
            data_dir: data_dir.to_path_buf(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.daemon.addr)
    }

    /// A request with the right token; returns status and JSON body (Null if not JSON).
    pub async fn api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.api_with(method, path, body, Some(&self.token.clone()))
            .await
    }

    pub async fn api_with(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.http.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(serde_json::to_vec(&b).unwrap());
        }
        let resp = tokio::time::timeout(WAIT, req.send())
            .await
            .expect("API answers in time")
            .expect("API reachable");
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    pub async fn raw(&self, req: reqwest::RequestBuilder) -> reqwest::Response {
        tokio::time::timeout(WAIT, req.send())
            .await
            .expect("API answers in time")
            .expect("API reachable")
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.http
    }

    /// Connect a GitHub instance through the API.
    pub async fn connect_github(&self, mock: &GithubMock, name: &str) -> Value {
        let config = serde_json::json!({ "org": mock.config().org, "base_url": mock.base_url() });
        let secrets = serde_json::json!({ "token": mock.config().token });
        self.connect("github", name, config, secrets).await
    }

    /// Connect an instance of `connector` through the API, reaching a loopback mock,
    /// every egress and action granted; the API's answer.
    pub async fn connect(
        &self,
        connector: &str,
        name: &str,
        config: Value,
        secrets: Value,
    ) -> Value {
        let (status, body) = self
            .api(
                "POST",
                "/v1/instances",
                Some(serde_json::json!({
                    "connector": connector,
                    "name": name,
                    "config": config,
                    "secrets": secrets,
                    "allow_private_network": true,
                    "grants": { "egress": "all", "actions": "all" },
                })),
            )
            .await;
        assert_eq!(status, 201, "connect: {body}");
        body
    }

    /// The webhook secret of the instance `connected` (the answer of [`Self::connect`]).
    pub fn hook_secret(&self, connected: &Value) -> sluice::store::Secret {
        let id = connected["instance"]["id"]
            .as_str()
            .expect("an instance id");
        sluice::store::hook_secret(&self.data_dir, id).unwrap()
    }

    /// Wait until record `id` of `kind` is listed for instance `name` (bounded by
    /// [`WAIT`]); every id listed then.
    pub async fn wait_for_record(&self, name: &str, kind: &str, id: &str) -> Vec<String> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let ids = self.all_ids(name, kind, 1000).await;
            if ids.iter().any(|listed| listed == id) {
                return ids;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{kind} `{id}` of `{name}` not listed in time: {ids:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Wait until every kind of `name` has completed at least once and nothing runs.
    pub async fn wait_scanned(&self, name: &str) -> Value {
        self.wait_until(name, |detail| {
            detail["kinds"].as_array().unwrap().iter().all(|k| {
                k["schedule"].is_null()
                    || (k["schedule"]["last_success"].is_i64()
                        && k["schedule"]["running"] == false
                        && k["schedule"]["attempts"] == 0)
            }) && detail["kinds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|k| !k["schedule"].is_null())
        })
        .await
    }

    /// Poll `GET /v1/instances/{name}` until `done` holds (bounded by [`WAIT`]).
    pub async fn wait_until(&self, name: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let (status, detail) = self
                .api("GET", &format!("/v1/instances/{name}"), None)
                .await;
            assert_eq!(status, 200, "{detail}");
            if done(&detail) {
                return detail;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting on `{name}`: {detail}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Every record id of a kind, paging through the API with `page` per request.
    pub async fn all_ids(&self, name: &str, kind: &str, page: usize) -> Vec<String> {
        let mut ids = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..10_000 {
            let mut path = format!("/v1/instances/{name}/{kind}?limit={page}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let (status, body) = self.api("GET", &path, None).await;
            assert_eq!(status, 200, "{body}");
            for item in body["items"].as_array().unwrap() {
                ids.push(item["record"]["id"].as_str().unwrap().to_string());
            }
            match body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return ids,
            }
        }
        panic!("paging did not end");
    }
}
