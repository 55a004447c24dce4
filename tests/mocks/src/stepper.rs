//! The provider behind the test-only `stepper` connector (`plugins/testing/stepper`):
//! a few pages of users, a connection check, and an action endpoint, plus a way to
//! hold one page open so a test can change things (drop a new plugin version) while a
//! scan is provably in the middle.
//!
//! - `GET /check` → `{}`
//! - `GET /users?page=N` → `{"page": N, "users": [{"id": "uN-a"}, {"id": "uN-b"}], "next": N+1 | null}`
//! - `POST /users/{id}/{verb}` → `{}` (governance actions)

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::server::{MockServer, RequestRecord};

/// A running stepper mock.
#[derive(Debug)]
pub struct StepperMock {
    server: MockServer,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    /// Pages of users a full scan reads.
    pages: u64,
    /// The page to hold open, if any.
    hold: Mutex<Option<Hold>>,
}

/// A page to hold: who to tell when it is requested, and what to wait for.
#[derive(Debug)]
struct Hold {
    page: u64,
    reached: oneshot::Sender<()>,
    release: oneshot::Receiver<()>,
}

/// A page held open by [`StepperMock::hold_page`].
#[derive(Debug)]
pub struct HeldPage {
    reached: oneshot::Receiver<()>,
    release: oneshot::Sender<()>,
}

impl HeldPage {
    /// Resolves once a request for the page has arrived (and is being held), or
    /// panics after `within`.
    pub async fn reached(&mut self, within: Duration) {
        tokio::time::timeout(within, &mut self.reached)
            .await
            .expect("the held page was requested in time")
            .expect("the mock is still running");
    }

    /// Let the held request answer.
    pub fn release(self) {
        let _ = self.release.send(());
    }
}

impl StepperMock {
    /// Serve `pages` pages of two users each.
    pub async fn start(pages: u64) -> std::io::Result<StepperMock> {
        let shared = Arc::new(Shared {
            pages,
            hold: Mutex::new(None),
        });
        let router = Router::new()
            .route("/check", get(|| async { Json(json!({})) }))
            .route("/users", get(users))
            .route("/users/{id}/{verb}", post(|| async { Json(json!({})) }))
            .with_state(shared.clone());
        let server = MockServer::start(Duration::ZERO, |_| router).await?;
        Ok(StepperMock { server, shared })
    }

    /// `http://127.0.0.1:PORT`: the connector's `base_url`.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// Users a complete scan stores.
    pub fn users(&self) -> usize {
        self.shared.pages as usize * 2
    }

    /// Hold the next request for `page` until the returned handle is released.
    pub fn hold_page(&self, page: u64) -> HeldPage {
        let (reached_tx, reached) = oneshot::channel();
        let (release, release_rx) = oneshot::channel();
        *self.shared.hold.lock().unwrap() = Some(Hold {
            page,
            reached: reached_tx,
            release: release_rx,
        });
        HeldPage { reached, release }
    }

    pub fn requests(&self) -> Vec<RequestRecord> {
        self.server.log().snapshot()
    }

    pub fn clear_requests(&self) {
        self.server.log().clear();
    }
}

async fn users(
    State(shared): State<Arc<Shared>>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Json<Value> {
    let page: u64 = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let held = {
        let mut hold = shared.hold.lock().unwrap();
        match hold.take() {
            Some(h) if h.page == page => Some((h.reached, h.release)),
            other => {
                *hold = other;
                None
            }
        }
    };
    if let Some((reached, release)) = held {
        let _ = reached.send(());
        let _ = release.await;
    }
    let next = (page < shared.pages).then_some(page + 1);
    Json(json!({
        "page": page,
        "users": [{"id": format!("u{page}-a")}, {"id": format!("u{page}-b")}],
        "next": next,
    }))
}
