//! Injected faults as a client sees them over real HTTP: mixed 5xx bursts, bodies cut off
//! mid-transfer, truncated JSON, slow answers and a secondary limit that never lifts, each
//! followed by the normal answer once the fault is used up or replaced.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use sluice_mocks::{Faults, GithubMock, GithubMockConfig};

const TOKEN: &str = "ghp_mock_token";

async fn start() -> GithubMock {
    GithubMock::start(GithubMockConfig::default())
        .await
        .expect("mock starts")
}

fn client() -> reqwest::Client {
    client_with_timeout(Duration::from_secs(10))
}

fn client_with_timeout(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(timeout)
        .build()
        .expect("client builds")
}

fn members_url(github: &GithubMock) -> String {
    format!("{}/orgs/acme/members", github.base_url())
}

async fn get(client: &reqwest::Client, url: &str) -> reqwest::Result<reqwest::Response> {
    client.get(url).bearer_auth(TOKEN).send().await
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).map(|v| v.to_str().unwrap())
}

async fn json(response: reqwest::Response) -> serde_json::Value {
    let body = response.bytes().await.expect("whole body");
    serde_json::from_slice(&body).expect("JSON body")
}

/// A fault-free answer: 200 and a JSON body, returned as bytes to compare against.
async fn normal_body(client: &reqwest::Client, url: &str) -> Vec<u8> {
    let response = get(client, url).await.expect("request reaches the mock");
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.bytes().await.expect("whole body").to_vec();
    serde_json::from_slice::<serde_json::Value>(&body).expect("JSON body");
    body
}

#[tokio::test]
async fn mixed_server_error_burst_then_success() {
    let github = start().await;
    let client = client();
    let url = members_url(&github);
    github.inject_faults(Faults {
        server_errors: 4,
        server_error_statuses: vec![500, 502, 503],
        retry_after_secs: 5,
        ..Faults::default()
    });
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let response = get(&client, &url).await.expect("request reaches the mock");
        assert_eq!(
            header(&response, "retry-after"),
            None,
            "no server error carries retry-after, not even a 503"
        );
        statuses.push(response.status().as_u16());
        let body = json(response).await;
        assert_eq!(body["message"], "Server Error");
    }
    assert_eq!(statuses, [500, 502, 503, 500]);
    let recovered = get(&client, &url).await.unwrap();
    assert_eq!(recovered.status(), StatusCode::OK);
    assert_eq!(
        header(&recovered, "x-ratelimit-remaining"),
        Some("4999"),
        "server errors do not use the budget"
    );
    let logged: Vec<u16> = github.requests().iter().map(|r| r.status).collect();
    assert_eq!(logged, [500, 502, 503, 500, 200]);
}

#[tokio::test]
async fn reset_mid_body_fails_the_transfer_then_the_next_request_gets_it_all() {
    let github = start().await;
    let client = client();
    let url = members_url(&github);
    let full = normal_body(&client, &url).await;

    github.inject_faults(Faults {
        reset_mid_body: 1,
        ..Faults::default()
    });
    let mut cut = get(&client, &url)
        .await
        .expect("status and headers arrive before the body is cut");
    assert_eq!(cut.status(), StatusCode::OK);
    assert_eq!(
        cut.content_length(),
        Some(full.len() as u64),
        "the whole body's length is declared"
    );
    assert_eq!(
        header(&cut, "x-ratelimit-remaining"),
        Some("4999"),
        "a cut answer does not use the budget"
    );
    let mut received = Vec::new();
    let error = loop {
        match cut.chunk().await {
            Ok(Some(chunk)) => received.extend_from_slice(&chunk),
            Ok(None) => panic!("a short body ended as a success: {received:?}"),
            Err(error) => break error,
        }
    };
    assert!(error.is_body() || error.is_decode(), "{error:?}");
    assert_eq!(
        received,
        full[..full.len() / 2],
        "the first half arrives, then the connection drops"
    );

    assert_eq!(normal_body(&client, &url).await, full);
    let logged: Vec<u16> = github.requests().iter().map(|r| r.status).collect();
    assert_eq!(logged, [200, 200, 200]);
}

#[tokio::test]
async fn truncated_body_arrives_complete_but_is_not_json() {
    let github = start().await;
    let client = client();
    let url = members_url(&github);
    let full = normal_body(&client, &url).await;

    github.inject_faults(Faults {
        truncated_body: 1,
        ..Faults::default()
    });
    let truncated = get(&client, &url).await.unwrap();
    assert_eq!(truncated.status(), StatusCode::OK);
    assert_eq!(truncated.content_length(), Some((full.len() / 2) as u64));
    let body = truncated
        .bytes()
        .await
        .expect("the transfer itself succeeds");
    assert_eq!(&body[..], &full[..full.len() / 2]);
    assert!(serde_json::from_slice::<serde_json::Value>(&body).is_err());

    assert_eq!(normal_body(&client, &url).await, full);
}

#[tokio::test]
async fn slow_response_outlasts_a_short_client_timeout_then_answers_normally() {
    let github = start().await;
    let url = members_url(&github);
    github.inject_faults(Faults {
        slow_responses: 1,
        slow_delay: Duration::from_secs(5),
        ..Faults::default()
    });
    let impatient = client_with_timeout(Duration::from_millis(400));
    let started = Instant::now();
    let error = get(&impatient, &url)
        .await
        .expect_err("the answer comes after the client's timeout");
    assert!(error.is_timeout(), "{error:?}");
    assert!(started.elapsed() < Duration::from_secs(5));

    let answered = get(&client(), &url).await.expect("answered");
    assert_eq!(answered.status(), StatusCode::OK);
    assert_eq!(
        header(&answered, "x-ratelimit-remaining"),
        Some("4998"),
        "the slow answer was a real one and counted"
    );

    // A patient client gets the slow answer whole, just late.
    github.inject_faults(Faults {
        slow_responses: 1,
        slow_delay: Duration::from_millis(300),
        ..Faults::default()
    });
    let started = Instant::now();
    let full = normal_body(&client(), &url).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(!full.is_empty());
}

#[tokio::test]
async fn throttle_forever_refuses_every_request_until_faults_are_replaced() {
    let github = start().await;
    let client = client();
    let url = members_url(&github);
    github.inject_faults(Faults {
        throttle_forever: true,
        retry_after_secs: 11,
        ..Faults::default()
    });
    let teams = format!("{}/orgs/acme/teams", github.base_url());
    for target in [&url, &url, &url, &teams, &url] {
        let response = get(&client, target).await.unwrap();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(header(&response, "retry-after"), Some("11"));
        assert_eq!(header(&response, "x-ratelimit-remaining"), Some("5000"));
        let body = json(response).await;
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .starts_with("You have exceeded a secondary rate limit")
        );
    }

    github.inject_faults(Faults {
        throttle_forever: true,
        secondary_as_403: true,
        retry_after_secs: 2,
        ..Faults::default()
    });
    let refused = get(&client, &url).await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(header(&refused, "retry-after"), Some("2"));

    github.inject_faults(Faults::default());
    normal_body(&client, &url).await;
}
