//! Plays Lambda's SQS event source mapping over any [`ChunkSource`] (SQS or the embedded
//! queue): receives a batch, hands it to a handler as real SQS event JSON, deletes what
//! succeeded, and makes reported failures (or the whole batch, when the handler errs) visible
//! again at once instead of waiting out the visibility timeout.

use std::collections::HashSet;
use std::future::Future;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use bulkops_shared::queue::{ChunkSource, Delivery};
use serde_json::{json, Value};

const SQS_EVENT_TEMPLATE: &str = include_str!("../tests/events/sqs-event.json");

/// How the pump plays the SQS event source mapping.
#[derive(Clone, Copy, Debug)]
pub struct PumpOptions {
    /// Messages per invocation (the mapping's BatchSize; SQS receives at most 10 per call).
    pub batch_size: usize,
    /// Deliver every message this many times (leaving it undeleted until the last), to
    /// prove at-least-once delivery is harmless.
    pub deliveries: u32,
    /// Stop after this many receive rounds (a guard against looping forever).
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

/// An SQS event for received messages, built from the committed real event.
pub fn sqs_event(deliveries: &[Delivery], queue_arn: &str) -> SqsEvent {
    let template: Value = serde_json::from_str(SQS_EVENT_TEMPLATE).unwrap_or_default();
    let record_template = template["Records"][0].clone();
    let records: Vec<Value> = deliveries
        .iter()
        .map(|d| {
            let mut record = record_template.clone();
            record["messageId"] = json!(d.message_id);
            record["receiptHandle"] = json!(d.receipt);
            record["body"] = json!(d.body);
            record["md5OfBody"] = Value::Null;
            record["md5OfMessageAttributes"] = Value::Null;
            record["eventSourceARN"] = json!(queue_arn);
            record["awsRegion"] = json!("us-east-1");
            record["messageAttributes"] = json!({});
            record["attributes"] =
                json!({ "ApproximateReceiveCount": d.receive_count.to_string() });
            record
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap_or_default()
}

/// Feeds `source`'s messages to `handler` until it has none visible.
///
/// # Panics
/// If the queue cannot be read or is not drained after `max_rounds` receives.
pub async fn pump<F, Fut, E>(
    source: &dyn ChunkSource,
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
        let deliveries = source.receive(options.batch_size).await.expect("receive");
        if deliveries.is_empty() {
            return stats;
        }
        stats.invocations += 1;
        stats.deliveries += deliveries.len();
        let failed: HashSet<String> = match handler(sqs_event(&deliveries, queue_arn)).await {
            Ok(response) => response
                .batch_item_failures
                .into_iter()
                .map(|f| f.item_identifier)
                .collect(),
            Err(error) => {
                eprintln!("handler error (whole batch retried): {error}");
                stats.invocation_errors += 1;
                deliveries.iter().map(|d| d.message_id.clone()).collect()
            }
        };
        stats.reported_failures.extend(failed.iter().cloned());
        for delivery in &deliveries {
            if failed.contains(&delivery.message_id) || delivery.receive_count < options.deliveries
            {
                source.retry_now(&delivery.receipt).await.expect("retry");
            } else {
                source.ack(&delivery.receipt).await.expect("ack");
            }
        }
    }
    panic!(
        "queue {queue_arn} was not drained after {} rounds",
        options.max_rounds
    );
}
