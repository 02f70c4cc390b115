//! A webhook receiver for the tests: an axum server on 127.0.0.1 that records every request
//! and answers by a plan (fail the first N, acknowledge at most K until opened). Signatures
//! are checked afterwards by [`verify`], with the HMAC computed here, not by the code under
//! test.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

/// One request as received, and what it was answered.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub content_type: String,
    pub body: Bytes,
    /// Unix seconds when it arrived.
    pub received_at: i64,
    pub status: u16,
}

#[derive(Default)]
struct Plan {
    /// Answer 500 to this many more requests.
    fail_first: usize,
    /// Answer 503 once this many requests were acknowledged (until opened).
    ack_limit: Option<usize>,
    deliveries: Vec<Delivery>,
}

pub struct Receiver {
    pub url: reqwest::Url,
    plan: Arc<Mutex<Plan>>,
    server: tokio::task::JoinHandle<()>,
}

fn header(headers: &HeaderMap, name: &str) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

async fn receive(
    State(plan): State<Arc<Mutex<Plan>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let mut plan = plan.lock().expect("receiver state");
    let acknowledged = plan.deliveries.iter().filter(|d| d.status == 200).count();
    let status = if plan.fail_first > 0 {
        plan.fail_first -= 1;
        StatusCode::INTERNAL_SERVER_ERROR
    } else if plan.ack_limit.is_some_and(|limit| acknowledged >= limit) {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    plan.deliveries.push(Delivery {
        id: header(&headers, "webhook-id"),
        timestamp: header(&headers, "webhook-timestamp"),
        signature: header(&headers, "webhook-signature"),
        content_type: header(&headers, "content-type"),
        body,
        received_at: chrono::Utc::now().timestamp(),
        status: status.as_u16(),
    });
    status
}

impl Receiver {
    pub async fn start(fail_first: usize, ack_limit: Option<usize>) -> Self {
        let plan = Arc::new(Mutex::new(Plan {
            fail_first,
            ack_limit,
            deliveries: Vec::new(),
        }));
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(receive))
            .with_state(plan.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the receiver");
        let address = listener.local_addr().expect("receiver address");
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("the receiver runs");
        });
        Self {
            url: format!("http://{address}/hook")
                .parse()
                .expect("receiver URL"),
            plan,
            server,
        }
    }

    /// Every request so far, in arrival order.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.plan.lock().expect("receiver state").deliveries.clone()
    }

    /// The ids answered 200, in order.
    pub fn acknowledged(&self) -> Vec<String> {
        self.deliveries()
            .into_iter()
            .filter(|d| d.status == 200)
            .map(|d| d.id)
            .collect()
    }

    /// Acknowledges everything from now on.
    pub fn open(&self) {
        self.plan.lock().expect("receiver state").ack_limit = None;
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Checks every delivery the Standard Webhooks way with `secret` (`whsec_…`): the HMAC of
/// `{id}.{timestamp}.{body}` is one of the `v1` signatures, the timestamp is recent, the body
/// is the JSON envelope of the event `webhook-id` names.
pub fn verify(deliveries: &[Delivery], secret: &str) {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("a whsec_ secret"))
        .expect("base64 key");
    assert!(!deliveries.is_empty(), "nothing to verify");
    for d in deliveries {
        assert_eq!(d.content_type, "application/json", "{}", d.id);
        let timestamp: i64 = d.timestamp.parse().expect("a unix timestamp");
        assert!(
            (d.received_at - timestamp).abs() <= 30,
            "{}: timestamp {timestamp} is not recent (received at {})",
            d.id,
            d.received_at
        );
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("HMAC key");
        mac.update(format!("{}.{}.", d.id, d.timestamp).as_bytes());
        mac.update(&d.body);
        let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
        assert!(
            d.signature.split(' ').any(|s| s == expected),
            "{}: signature {} is not {expected}",
            d.id,
            d.signature
        );
        let body: Value = serde_json::from_slice(&d.body).expect("a JSON body");
        assert_eq!(body["id"], d.id.as_str(), "webhook-id is the event's id");
    }
}
