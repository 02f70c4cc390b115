//! The intake queue's batches: each message is one request; a message that must be tried
//! again (or is unreadable, and so goes to the dead-letter queue after the queue's
//! `maxReceiveCount`) is reported in `batchItemFailures`.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use futures::stream::{self, StreamExt};

use super::{BulkRequest, Intake, Outcome};

/// Requests handled at once per batch.
const CONCURRENCY: usize = 4;

pub async fn handle_batch(intake: &Intake, event: SqsEvent) -> SqsBatchResponse {
    let failed: Vec<String> = stream::iter(event.records)
        .map(|message| async move {
            let id = message.message_id.clone().unwrap_or_default();
            let body = message.body.as_deref().unwrap_or_default();
            let request = match BulkRequest::from_message(body) {
                Ok(request) => request,
                Err(error) => {
                    tracing::error!(message_id = %id, %error, "unreadable request; it goes to the dead-letter queue after its last receive");
                    return Some(id);
                }
            };
            match intake.submit(request).await {
                Ok(Outcome::Job(job)) => {
                    tracing::info!(message_id = %id, job_id = %job.id, state = job.state.as_str(), "request handled");
                    None
                }
                Ok(Outcome::Rejected(_)) => None,
                Err(error) => {
                    tracing::error!(message_id = %id, %error, "request failed; it will be retried");
                    Some(id)
                }
            }
        })
        .buffer_unordered(CONCURRENCY)
        .filter_map(|failed| async move { failed })
        .collect()
        .await;
    let mut response = SqsBatchResponse::default();
    for id in failed {
        let mut failure = BatchItemFailure::default();
        failure.item_identifier = id;
        response.batch_item_failures.push(failure);
    }
    response
}
