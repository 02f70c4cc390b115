//! A stand-in for Lambda's Runtime API, so that a function binary runs exactly as Lambda
//! starts it: it polls `/next` for events this stub hands out one by one, and posts each
//! answer back. Test code: it panics when it cannot bind or an answer does not come.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, Mutex};

/// What the function answered to one invocation.
#[derive(Clone, Debug)]
pub struct Answer {
    /// `response` or `error`.
    pub kind: String,
    pub body: Value,
}

type Pending = Arc<Mutex<HashMap<String, oneshot::Sender<Answer>>>>;

#[derive(Clone)]
struct Shared {
    events: Arc<Mutex<mpsc::UnboundedReceiver<(String, Value)>>>,
    pending: Pending,
}

/// The stub, listening on a local port.
pub struct RuntimeApi {
    address: SocketAddr,
    events: mpsc::UnboundedSender<(String, Value)>,
    pending: Pending,
    invocations: std::sync::atomic::AtomicUsize,
}

impl RuntimeApi {
    pub async fn start() -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        let pending: Pending = Arc::default();
        let shared = Shared {
            events: Arc::new(Mutex::new(receiver)),
            pending: pending.clone(),
        };
        let app = axum::Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/{kind}", post(answer))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the Runtime API stub");
        let address = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            address,
            events: sender,
            pending,
            invocations: Default::default(),
        }
    }

    /// `host:port`, the function's `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.address.to_string()
    }

    /// Hands `event` to the function and waits (up to a minute) for its answer. The request
    /// ids are `request-1`, `request-2`, … in invocation order.
    pub async fn invoke(&self, event: Value) -> Answer {
        let n = 1 + self
            .invocations
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let request_id = format!("request-{n}");
        let (sender, receiver) = oneshot::channel();
        self.pending.lock().await.insert(request_id.clone(), sender);
        self.events
            .send((request_id.clone(), event))
            .expect("the stub is running");
        tokio::time::timeout(Duration::from_secs(60), receiver)
            .await
            .unwrap_or_else(|_| panic!("no answer to {request_id} within a minute"))
            .expect("the stub is running")
    }
}

async fn next(State(shared): State<Shared>) -> (HeaderMap, String) {
    let (request_id, event) = shared
        .events
        .lock()
        .await
        .recv()
        .await
        .expect("the test holds the sender");
    let deadline = bulkops_shared::time::now_ms() + 60_000;
    let mut headers = HeaderMap::new();
    let header = |value: &str| HeaderValue::from_str(value).expect("header value");
    headers.insert("lambda-runtime-aws-request-id", header(&request_id));
    headers.insert("lambda-runtime-deadline-ms", header(&deadline.to_string()));
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        header("arn:aws:lambda:us-east-1:123456789012:function:bulkops-test"),
    );
    (headers, event.to_string())
}

async fn answer(
    State(shared): State<Shared>,
    Path((id, kind)): Path<(String, String)>,
    body: String,
) -> StatusCode {
    let body = serde_json::from_str(&body).unwrap_or(Value::String(body));
    if let Some(waiting) = shared.pending.lock().await.remove(&id) {
        let _ = waiting.send(Answer { kind, body });
    }
    StatusCode::ACCEPTED
}

/// A function binary of the workspace, built next to the running test (`target/<profile>`).
///
/// # Panics
/// If it has not been built (`cargo build --workspace --bins`, as scripts/test.sh does).
pub fn function_binary(name: &str) -> std::path::PathBuf {
    let test = std::env::current_exe().expect("the test binary");
    let binary = test
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>")
        .join(name);
    assert!(
        binary.is_file(),
        "{} is missing: build the functions first (`cargo build --workspace --bins`, as scripts/test.sh does)",
        binary.display()
    );
    binary
}
