//! Event-driven requests on the local server: the intake queue (embedded, or an SQS queue in
//! AWS mode), the local-only endpoint `bulkops request` posts to (standing in for a producer's
//! `SendMessage`), and what the intake function's SQS trigger would call.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bulkops_embedded::{EmbeddedQueue, EmbeddedStore};
use bulkops_shared::intake::Intake;
use bulkops_shared::queue::{MessageQueue, QueueError};
use serde_json::json;

use super::backend::{Poller, MAX_RECEIVE_COUNT};

/// Where `bulkops request` sends a request; not an API route (only the local server has it),
/// and like every route it needs a development token: holding one is what IAM credentials
/// are on AWS.
pub const REQUESTS_PATH: &str = "/_local/requests";
/// SQS's message size limit: larger requests could not be sent to the real queue either.
pub const MAX_REQUEST_BYTES: usize = 1_048_576;
const QUEUE: &str = "requests";
const DEAD_LETTER_QUEUE: &str = "requests-dead-letter";

/// The intake of one backend: its queue, the poller of that queue, and the function's deps.
pub struct Requests {
    pub queue: Arc<dyn MessageQueue>,
    pub poller: Poller,
    pub intake: Intake,
}

/// The embedded intake queue, its poller, and its dead-letter queue (where the intake moves
/// an unreadable request, and where the redrive moves one received 3 times, as on AWS).
/// Requests in flight when the server stopped are visible again.
pub async fn embedded_queues(
    store: &EmbeddedStore,
    visibility: Duration,
) -> Result<(Arc<dyn MessageQueue>, Poller, Arc<dyn MessageQueue>), QueueError> {
    let queue = || {
        EmbeddedQueue::new(
            store,
            QUEUE,
            Some(DEAD_LETTER_QUEUE),
            MAX_RECEIVE_COUNT,
            visibility,
        )
    };
    queue().release_in_flight().await?;
    let poller = Poller {
        source: Arc::new(queue()),
        queue_arn: format!("arn:aws:sqs:local:000000000000:{QUEUE}"),
    };
    let dead_letters = EmbeddedQueue::new(store, DEAD_LETTER_QUEUE, None, 0, visibility);
    Ok((Arc::new(queue()), poller, Arc::new(dead_letters)))
}

/// `POST /_local/requests`: queues the body as it is; the intake validates it when it runs.
pub async fn accept(requests: &Requests, body: &[u8]) -> Response {
    let text =
        match std::str::from_utf8(body) {
            Ok(text) if !text.trim().is_empty() => text.to_owned(),
            _ => return error(
                StatusCode::BAD_REQUEST,
                "the request must be a UTF-8 JSON document (a Bulk Job Requested detail or event)",
            ),
        };
    if text.len() > MAX_REQUEST_BYTES {
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("a queued request is at most {MAX_REQUEST_BYTES} bytes (SQS's limit)"),
        );
    }
    match requests.queue.send(&text).await {
        Ok(message_id) => json_response(StatusCode::ACCEPTED, json!({ "messageId": message_id })),
        Err(reason) => {
            tracing::error!(%reason, "the request could not be queued");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the request could not be queued; nothing was sent, please retry",
            )
        }
    }
}

fn error(status: StatusCode, message: &str) -> Response {
    let code = match status {
        StatusCode::BAD_REQUEST => "INVALID_REQUEST",
        StatusCode::PAYLOAD_TOO_LARGE => "PAYLOAD_TOO_LARGE",
        _ => "SERVICE_UNAVAILABLE",
    };
    json_response(status, json!({ "code": code, "message": message }))
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}
