//! Plays Lambda's SQS event source mapping over any [`ChunkSource`] (SQS or the embedded
//! queue): receives a batch, hands it to a handler as real SQS event JSON, deletes what
//! succeeded, and makes reported failures (or the whole batch, when the handler errs) visible
//! again at once instead of waiting out the visibility timeout.

use std::collections::HashSet;
use std::future::Future;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use bulkops_shared::queue::{ChunkSource, Delivery, QueueError};
use serde_json::{json, Value};

const SQS_EVENT_TEMPLATE: &str = include_str!("local/events/sqs-event.json");

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

/// How one invocation went.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Invocation {
    /// Message ids the handler reported in `batchItemFailures`, or every id of the batch
    /// when the invocation itself failed.
    pub failed: Vec<String>,
    pub errored: bool,
    /// Messages made visible again (failed, or to be delivered again).
    pub retried: usize,
}

/// Hands one received batch to `handler` as an SQS event, then settles each message as the
/// event source mapping does: deletes the successes, and makes the failures visible again at
/// once (Lambda waits out the visibility timeout; at once is kinder to a local loop and to
/// the tests). A message received fewer than `deliveries` times is also left undeleted.
pub async fn invoke<F, Fut, E>(
    source: &dyn ChunkSource,
    queue_arn: &str,
    deliveries: &[Delivery],
    repeat: u32,
    handler: &mut F,
) -> Result<Invocation, QueueError>
where
    F: FnMut(SqsEvent) -> Fut,
    Fut: Future<Output = Result<SqsBatchResponse, E>>,
    E: std::fmt::Display,
{
    let mut invocation = Invocation::default();
    let failed: HashSet<String> = match handler(sqs_event(deliveries, queue_arn)).await {
        Ok(response) => response
            .batch_item_failures
            .into_iter()
            .map(|f| f.item_identifier)
            .collect(),
        Err(error) => {
            tracing::warn!(queue = queue_arn, %error, "handler error: the whole batch is retried");
            invocation.errored = true;
            deliveries.iter().map(|d| d.message_id.clone()).collect()
        }
    };
    for delivery in deliveries {
        if failed.contains(&delivery.message_id) || delivery.receive_count < repeat {
            source.retry_now(&delivery.receipt).await?;
            invocation.retried += 1;
        } else {
            source.ack(&delivery.receipt).await?;
        }
    }
    invocation.failed = failed.into_iter().collect();
    Ok(invocation)
}

/// Polls `source` until `stop` turns true, as a long-running event source mapping: invokes
/// `handler` for every batch, and sleeps `idle` when the queue has nothing visible.
/// Queue errors are logged and retried after `idle`; they never stop the loop.
pub async fn poll<F, Fut, E>(
    source: &dyn ChunkSource,
    queue_arn: &str,
    batch_size: usize,
    idle: std::time::Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
    mut handler: F,
) where
    F: FnMut(SqsEvent) -> Fut,
    Fut: Future<Output = Result<SqsBatchResponse, E>>,
    E: std::fmt::Display,
{
    while !*stop.borrow() {
        let rest = match source.receive(batch_size).await {
            Ok(deliveries) if deliveries.is_empty() => true,
            Ok(deliveries) => match invoke(source, queue_arn, &deliveries, 1, &mut handler).await {
                Ok(_) => false,
                Err(error) => {
                    tracing::error!(queue = queue_arn, %error, "settling a batch failed");
                    true
                }
            },
            Err(error) => {
                tracing::error!(queue = queue_arn, %error, "receiving failed");
                true
            }
        };
        if rest {
            tokio::select! {
                _ = tokio::time::sleep(idle) => {}
                _ = stop.changed() => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
    use bulkops_embedded::EmbeddedQueue;
    use bulkops_embedded::EmbeddedStore;
    use bulkops_shared::model::ChunkMessage;
    use bulkops_shared::queue::ChunkQueue;

    use super::*;

    fn chunk(n: u32) -> ChunkMessage {
        serde_json::from_value(serde_json::json!({
            "jobId": "job", "jobType": "SEND_MFP", "chunk": n, "rows": []
        }))
        .expect("chunk message")
    }

    /// The long-running loop: every message is delivered, the one the handler keeps reporting
    /// in `batchItemFailures` is retried until its third receive and then sits in the
    /// dead-letter queue, and the rest are deleted after one successful delivery.
    #[tokio::test]
    async fn poll_honours_partial_batch_responses_and_redrives_poison() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = EmbeddedStore::open(&dir.path().join("q.redb")).expect("store");
        let visibility = Duration::from_secs(60);
        let queue = EmbeddedQueue::new(&store, "main", Some("dlq"), 3, visibility);
        let dead = EmbeddedQueue::new(&store, "dlq", None, 0, visibility);
        queue
            .enqueue(&(0..25).map(chunk).collect::<Vec<_>>())
            .await
            .expect("enqueue");

        let deliveries = Arc::new(AtomicUsize::new(0));
        let poison_receives = Arc::new(AtomicUsize::new(0));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let handler = {
            let (deliveries, poison_receives) = (deliveries.clone(), poison_receives.clone());
            move |event: SqsEvent| {
                let mut response = SqsBatchResponse::default();
                for record in &event.records {
                    deliveries.fetch_add(1, Ordering::SeqCst);
                    let body: ChunkMessage =
                        serde_json::from_str(record.body.as_deref().unwrap_or_default())
                            .expect("body");
                    if body.chunk == 7 {
                        poison_receives.fetch_add(1, Ordering::SeqCst);
                        let mut failure = BatchItemFailure::default();
                        failure.item_identifier = record.message_id.clone().unwrap_or_default();
                        response.batch_item_failures.push(failure);
                    }
                }
                async move { Ok::<_, std::convert::Infallible>(response) }
            }
        };
        let source = queue.clone();
        let worker = tokio::spawn(async move {
            poll(
                &source,
                "arn",
                10,
                Duration::from_millis(5),
                stopped,
                handler,
            )
            .await;
        });
        for _ in 0..400 {
            if dead.depth().await.expect("depth") == 1 && queue.depth().await.expect("depth") == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        stop.send(true).expect("stop");
        worker.await.expect("worker");
        assert_eq!(queue.depth().await.expect("depth"), 0);
        assert_eq!(dead.depth().await.expect("depth"), 1);
        assert_eq!(poison_receives.load(Ordering::SeqCst), 3);
        assert_eq!(deliveries.load(Ordering::SeqCst), 24 + 3);
        let letter = dead.receive(10).await.expect("receive");
        assert_eq!(letter.len(), 1);
        assert!(letter[0].body.contains("\"chunk\":7"));
    }
}
