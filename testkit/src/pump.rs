//! The tests' stand-in for Lambda's SQS event source mapping: feeds a queue's messages to a
//! handler through the product's own [`invoke`] until the queue is drained, optionally
//! delivering every message several times. Test code: it panics when a queue cannot be
//! read or drained.

use std::future::Future;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use bulkops::worker::invoke;
use bulkops_shared::queue::ChunkSource;

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
    let mut just_retried = false;
    for _ in 0..options.max_rounds {
        let deliveries = source.receive(options.batch_size).await.expect("receive");
        if deliveries.is_empty() {
            if std::mem::take(&mut just_retried) {
                // A message made visible a moment ago may not be visible yet: moto compares
                // its visibility in whole milliseconds. Look once more before calling the
                // queue drained.
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
            return stats;
        }
        stats.invocations += 1;
        stats.deliveries += deliveries.len();
        let invocation = invoke(
            source,
            queue_arn,
            &deliveries,
            options.deliveries,
            &mut handler,
        )
        .await
        .expect("settle the batch");
        just_retried = invocation.retried > 0;
        stats.invocation_errors += usize::from(invocation.errored);
        stats.reported_failures.extend(invocation.failed);
    }
    panic!(
        "queue {queue_arn} was not drained after {} rounds",
        options.max_rounds
    );
}
