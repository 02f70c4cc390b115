//! SQS event handling for the processor and the dead-letter function: one chunk per message,
//! bounded concurrency, and a partial batch response naming exactly the failed messages.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures::stream::{self, StreamExt};
use tracing::Instrument;

use super::{
    dead_letter_chunk, process_chunk, ChunkDisposition, EventFlush, Operations, Siblings, Worker,
};
use crate::error::EngineError;
use crate::metrics::{Metric, Metrics};
use crate::model::ChunkMessage;
use crate::store::JobStore;

/// Chunks of one batch processed at once.
pub const CONCURRENCY: usize = 4;

/// Which path a batch of chunk messages takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The main queue: run the rows.
    Process,
    /// The dead-letter queue: report the rows' side effects, fail the rest with a reason.
    DeadLetter,
}

/// Handles a batch; `Err` (retry everything) only if a failed message has no id to report.
pub async fn handle_batch(
    deps: &WorkerDeps,
    event: SqsEvent,
    mode: Mode,
) -> Result<SqsBatchResponse, EngineError> {
    let siblings = Siblings::default();
    let results: Vec<(Option<String>, Result<(), EngineError>)> = stream::iter(event.records)
        .map(|message| {
            let siblings = &siblings;
            let id = message.message_id.clone().filter(|id| !id.is_empty());
            let span = tracing::info_span!("message", message_id = id.as_deref().unwrap_or("-"));
            async move {
                let result = handle_message(deps, siblings, &message, mode).await;
                if let Err(error) = &result {
                    tracing::error!(error = %error, "chunk failed; it will be retried");
                }
                (id, result)
            }
            .instrument(span)
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut response = SqsBatchResponse::default();
    for (id, result) in results {
        if let Err(error) = result {
            let id = id.ok_or(error)?;
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    Ok(response)
}

async fn handle_message(
    deps: &WorkerDeps,
    siblings: &Siblings,
    message: &SqsMessage,
    mode: Mode,
) -> Result<(), EngineError> {
    let worker = Worker {
        jobs: deps.jobs.as_ref(),
        events: deps.events.as_ref(),
        queue: deps.queue.as_ref(),
        siblings,
    };
    let body = message.body.as_deref().unwrap_or_default();
    let chunk: ChunkMessage = match serde_json::from_str(body) {
        Ok(chunk) => chunk,
        // Not a chunk of ours: no job to account it to. On the main queue it is retried and
        // dead-lettered; on the dead-letter queue it is logged and dropped.
        Err(e) if mode == Mode::DeadLetter => {
            tracing::error!(error = %e, "dropping a dead-lettered message that is not a chunk");
            return Ok(());
        }
        Err(e) => return Err(EngineError::BadMessage(e.to_string())),
    };
    let operation = deps.operations.for_type(chunk.job_type).ok_or_else(|| {
        EngineError::BadMessage(format!(
            "no operation runs {} rows",
            chunk.job_type.as_str()
        ))
    })?;
    let started = std::time::Instant::now();
    let disposition = match mode {
        Mode::Process => process_chunk(worker, operation, &chunk).await?,
        Mode::DeadLetter => dead_letter_chunk(worker, operation, &chunk).await?,
    };
    tracing::debug!(job_id = %chunk.job_id, chunk = chunk.chunk, ?disposition, "chunk handled");
    let elapsed_ms = started.elapsed().as_secs_f64() * 1_000.0;
    deps.metrics.record(
        chunk.job_type,
        &chunk_metrics(&disposition, mode, elapsed_ms, &chunk),
    );
    Ok(())
}

/// What one handled chunk adds to the service's metrics; every chunk is counted once (its
/// first recording), a duplicate delivery only as one.
fn chunk_metrics(
    disposition: &ChunkDisposition,
    mode: Mode,
    elapsed_ms: f64,
    chunk: &ChunkMessage,
) -> Vec<(Metric, f64)> {
    match disposition {
        ChunkDisposition::Processed(counts) => {
            let mut values = vec![
                (Metric::RowsSucceeded, f64::from(counts.succeeded)),
                (Metric::RowsFailed, f64::from(counts.failed)),
                (Metric::ChunksProcessed, 1.0),
                (Metric::ChunkDuration, elapsed_ms),
            ];
            if mode == Mode::DeadLetter {
                values.push((Metric::DeadLetteredChunks, 1.0));
            }
            values
        }
        ChunkDisposition::Skipped(_) => vec![(Metric::RowsSkipped, chunk.rows.len() as f64)],
        ChunkDisposition::AlreadyRecorded => vec![(Metric::DuplicateDeliveries, 1.0)],
        ChunkDisposition::JobMissing => Vec::new(),
    }
}

/// What the processor and dead-letter functions need, built once per cold start.
pub struct WorkerDeps {
    pub jobs: std::sync::Arc<dyn JobStore>,
    pub operations: Operations,
    /// Told when a chunk moved its job, so that the job's events go out at once.
    pub events: std::sync::Arc<dyn EventFlush>,
    /// Where rows and chunks are counted (EMF lines on Lambda).
    pub metrics: std::sync::Arc<dyn Metrics>,
    /// The chunk queue, for the next chunk of a windowed job (see
    /// [`crate::queue::WindowedQueue`]).
    pub queue: std::sync::Arc<dyn crate::queue::ChunkQueue>,
}
