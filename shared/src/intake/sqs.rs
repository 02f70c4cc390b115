//! The intake queue's batches: each message is one request; a message that must be tried
//! again is reported in `batchItemFailures`. An unreadable message is moved to the
//! dead-letter queue at once, logged once: retrying cannot make it readable. (If even that
//! send fails, it is retried, and the queue's redrive policy dead-letters it in the end.)

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures::stream::{self, StreamExt};
use tracing::Instrument;

use super::{BulkRequest, Intake, Outcome};

/// Requests handled at once per batch.
const CONCURRENCY: usize = 4;

pub async fn handle_batch(intake: &Intake, event: SqsEvent) -> SqsBatchResponse {
    let failed: Vec<String> = stream::iter(event.records)
        .map(|message| {
            let id = message.message_id.clone().unwrap_or_default();
            let span = tracing::info_span!("message", message_id = %id);
            handle_message(intake, message, id).instrument(span)
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

/// One request; the message's id if it must be tried again.
async fn handle_message(intake: &Intake, message: SqsMessage, id: String) -> Option<String> {
    let body = message.body.as_deref().unwrap_or_default();
    let request = match BulkRequest::from_message(body) {
        Ok(request) => request,
        Err(error) => {
            return match intake.dead_letters.send(body).await {
                Ok(dead_letter_id) => {
                    tracing::error!(%dead_letter_id, %error, "unreadable request moved to the dead-letter queue");
                    None
                }
                Err(send) => {
                    tracing::error!(%error, %send, "unreadable request could not be dead-lettered; it will be retried");
                    Some(id)
                }
            };
        }
    };
    match intake.submit(request).await {
        Ok(Outcome::Job(job)) => {
            tracing::info!(job_id = %job.id, state = job.state.as_str(), "request handled");
            None
        }
        Ok(Outcome::Rejected(_)) => None,
        Err(error) => {
            tracing::error!(%error, "request failed; it will be retried");
            Some(id)
        }
    }
}
