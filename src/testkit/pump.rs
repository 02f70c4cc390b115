use std::collections::HashSet;
use std::future::Future;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_sdk_sqs::types::MessageSystemAttributeName;

use super::events::sqs_event;

/// How the pump plays the SQS event source mapping.
#[derive(Clone, Copy, Debug)]
pub struct PumpOptions {
    /// Messages per invocation (the mapping's BatchSize; SQS receives at most 10 per call).
    pub batch_size: i32,
    /// Deliver every message this many times (leaving it undeleted until the last), to
    /// prove at-least-once delivery is harmless.
    pub deliveries: u32,
    /// Stop after this many receive rounds (a guard against a test looping forever).
    pub max_rounds: usize,
}

impl Default for PumpOptions {
    fn default() -> Self {
        Self {
            batch_size: 10,
            deliveries: 1,
            max_rounds: 10_000,
        }
    }
}

/// What a pump run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PumpStats {
    pub invocations: usize,
    pub deliveries: usize,
    /// Message ids the handler reported in `batchItemFailures`.
    pub reported_failures: Vec<String>,
    /// Invocations that returned an error (the whole batch retried).
    pub invocation_errors: usize,
}

/// Feeds `queue_url`'s messages to `handler` until the queue is empty, like Lambda's SQS
/// event source mapping: deletes what succeeded, makes reported failures (or the whole batch,
/// when the handler errs) visible again at once instead of waiting out the visibility timeout.
pub async fn pump<F, Fut, E>(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    queue_arn: &str,
    options: PumpOptions,
    mut handler: F,
) -> PumpStats
where
    F: FnMut(SqsEvent) -> Fut,
    Fut: Future<Output = Result<SqsBatchResponse, E>>,
    E: std::fmt::Display,
{
    let mut stats = PumpStats::default();
    for _ in 0..options.max_rounds {
        let received = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(options.batch_size)
            .wait_time_seconds(0)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .expect("ReceiveMessage");
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return stats;
        }
        stats.invocations += 1;
        stats.deliveries += messages.len();
        let failed: HashSet<String> = match handler(sqs_event(&messages, queue_arn)).await {
            Ok(response) => response
                .batch_item_failures
                .into_iter()
                .map(|f| f.item_identifier)
                .collect(),
            Err(error) => {
                eprintln!("handler error (whole batch retried): {error}");
                stats.invocation_errors += 1;
                messages
                    .iter()
                    .filter_map(|m| m.message_id.clone())
                    .collect()
            }
        };
        stats.reported_failures.extend(failed.iter().cloned());
        for message in &messages {
            let id = message.message_id.clone().unwrap_or_default();
            let receives: u32 = message
                .attributes
                .as_ref()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|c| c.parse().ok())
                .unwrap_or(1);
            let handle = message.receipt_handle.clone().unwrap_or_default();
            if failed.contains(&id) || receives < options.deliveries {
                sqs.change_message_visibility()
                    .queue_url(queue_url)
                    .receipt_handle(handle)
                    .visibility_timeout(0)
                    .send()
                    .await
                    .expect("ChangeMessageVisibility");
            } else {
                sqs.delete_message()
                    .queue_url(queue_url)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .expect("DeleteMessage");
            }
        }
    }
    panic!(
        "queue {queue_url} was not drained after {} rounds",
        options.max_rounds
    );
}
