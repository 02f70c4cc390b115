//! SQS event handling for the processor and the dead-letter function: one chunk per message
//! (on the main queue, a job's chunks of one batch claimed and recorded together), bounded
//! concurrency, and a partial batch response naming exactly the failed messages.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use futures::stream::{self, StreamExt};
use tracing::Instrument;

use super::units::{units, Parsed, Unit};
use super::{
    dead_letter_chunk, process_chunk, process_group, ChunkDisposition, EventFlush, Operations,
    RowOperation, Siblings, Worker,
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
    let together = mode == Mode::Process && deps.group_chunks;
    let answers: Vec<Vec<Answer>> = stream::iter(units(event.records, together))
        .map(|unit| {
            let siblings = &siblings;
            async move {
                match unit {
                    Unit::Alone(parsed) => vec![handle_message(deps, siblings, parsed, mode).await],
                    Unit::Together(members) => handle_group(deps, siblings, members).await,
                }
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let mut response = SqsBatchResponse::default();
    for (id, result) in answers.into_iter().flatten() {
        if let Err(error) = result {
            let id = id.ok_or(error)?;
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    Ok(response)
}

/// A message's id (if it has one) and whether it was handled.
type Answer = (Option<String>, Result<(), EngineError>);

fn message_id(message: &SqsMessage) -> Option<String> {
    message.message_id.clone().filter(|id| !id.is_empty())
}

fn worker<'a>(deps: &'a WorkerDeps, siblings: &'a Siblings) -> Worker<'a> {
    Worker {
        jobs: deps.jobs.as_ref(),
        events: deps.events.as_ref(),
        queue: deps.queue.as_ref(),
        siblings,
    }
}

fn operation_for<'a>(
    deps: &'a WorkerDeps,
    chunk: &ChunkMessage,
) -> Result<&'a dyn RowOperation, EngineError> {
    deps.operations
        .for_type(chunk.job_type)
        .ok_or_else(|| no_operation(chunk))
}

fn no_operation(chunk: &ChunkMessage) -> EngineError {
    EngineError::BadMessage(format!(
        "no operation runs {} rows",
        chunk.job_type.as_str()
    ))
}

async fn handle_message(
    deps: &WorkerDeps,
    siblings: &Siblings,
    parsed: Box<Parsed>,
    mode: Mode,
) -> Answer {
    let id = message_id(&parsed.message);
    let span = tracing::info_span!("message", message_id = id.as_deref().unwrap_or("-"));
    let result = async {
        let chunk = match parsed.chunk {
            Ok(chunk) => chunk,
            // Not a chunk of ours: no job to account it to. On the main queue it is retried
            // and dead-lettered; on the dead-letter queue it is logged and dropped.
            Err(e) if mode == Mode::DeadLetter => {
                tracing::error!(error = %e, "dropping a dead-lettered message that is not a chunk");
                return Ok(());
            }
            Err(e) => return Err(EngineError::BadMessage(e.to_string())),
        };
        let operation = operation_for(deps, &chunk)?;
        let started = std::time::Instant::now();
        let worker = worker(deps, siblings);
        let disposition = match mode {
            Mode::Process => process_chunk(worker, operation, &chunk).await?,
            Mode::DeadLetter => dead_letter_chunk(worker, operation, &chunk).await?,
        };
        account(deps, &chunk, &disposition, mode, started);
        Ok(())
    }
    .instrument(span)
    .await;
    (id, logged(result))
}

/// Chunks of one job, claimed and recorded together.
async fn handle_group(
    deps: &WorkerDeps,
    siblings: &Siblings,
    members: Vec<(SqsMessage, ChunkMessage)>,
) -> Vec<Answer> {
    let (messages, chunks): (Vec<SqsMessage>, Vec<ChunkMessage>) = members.into_iter().unzip();
    let started = std::time::Instant::now();
    let results = match chunks.first().map(|chunk| operation_for(deps, chunk)) {
        Some(Ok(operation)) => process_group(worker(deps, siblings), operation, &chunks).await,
        // A group is of one job type: none of them has an operation.
        _ => chunks
            .iter()
            .map(|chunk| Err(no_operation(chunk)))
            .collect(),
    };
    let answers = messages.iter().zip(&chunks).zip(results);
    answers
        .map(|((message, chunk), result)| {
            let result = result.map(|disposition| {
                account(deps, chunk, &disposition, Mode::Process, started);
            });
            (message_id(message), logged(result))
        })
        .collect()
}

/// Logs a chunk that failed.
fn logged(result: Result<(), EngineError>) -> Result<(), EngineError> {
    if let Err(error) = &result {
        tracing::error!(error = %error, "chunk failed; it will be retried");
    }
    result
}

/// Logs and counts a handled chunk.
fn account(
    deps: &WorkerDeps,
    chunk: &ChunkMessage,
    disposition: &ChunkDisposition,
    mode: Mode,
    started: std::time::Instant,
) {
    tracing::debug!(job_id = %chunk.job_id, chunk = chunk.chunk, ?disposition, "chunk handled");
    let elapsed_ms = started.elapsed().as_secs_f64() * 1_000.0;
    deps.metrics.record(
        chunk.job_type,
        &chunk_metrics(disposition, mode, elapsed_ms, chunk),
    );
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
    /// Whether a job's chunks of one batch are claimed, run and recorded together (see
    /// `group.rs`): on AWS it saves calls; on the embedded store, where a call is a function
    /// call, it measured 5-9% more CPU, so the local server's embedded backend runs them alone.
    pub group_chunks: bool,
}
