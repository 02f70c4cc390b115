use crate::engine::{RowOperation, Secrets};
use crate::error::EngineError;
use crate::model::{ChunkCounts, ChunkMessage, Job, JobState, RowOutcome};
use crate::store::JobStore;
use crate::time::now_ms;

/// Error code of rows whose chunk exhausted its deliveries and was dead-lettered.
pub const DEAD_LETTER_CODE: &str = "PROCESSING_FAILED";

/// What happened to a chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkDisposition {
    /// Rows run and counted now.
    Processed,
    /// Counted before: a duplicate delivery (follow-up steps re-checked).
    AlreadyRecorded,
    /// The job is CANCELLED or FAILED: rows not run, counted as skipped.
    Skipped(JobState),
    /// The job no longer exists (expired): nothing to do.
    JobMissing,
}

/// Processes one chunk delivery, idempotently. Once the chunk is counted (or skipped), its
/// sealed values are deleted: a secret outlives its processing no longer than necessary.
pub async fn process_chunk(
    jobs: &dyn JobStore,
    operation: &dyn RowOperation,
    chunk: &ChunkMessage,
) -> Result<ChunkDisposition, EngineError> {
    let disposition = run_chunk(jobs, operation, chunk).await?;
    release_secrets(jobs, chunk).await?;
    Ok(disposition)
}

async fn release_secrets(jobs: &dyn JobStore, chunk: &ChunkMessage) -> Result<(), EngineError> {
    if chunk.sealed {
        jobs.delete_chunk_secrets(&chunk.job_id, chunk.chunk)
            .await?;
    }
    Ok(())
}

async fn run_chunk(
    jobs: &dyn JobStore,
    operation: &dyn RowOperation,
    chunk: &ChunkMessage,
) -> Result<ChunkDisposition, EngineError> {
    let Some(job) = jobs.get_job(&chunk.job_id).await? else {
        tracing::warn!(job_id = %chunk.job_id, chunk = chunk.chunk, "chunk of an unknown job acknowledged");
        return Ok(ChunkDisposition::JobMissing);
    };
    if job.recorded_chunks.contains(&chunk.chunk) {
        // Counted on an earlier delivery that may have died before completing the job.
        complete_if_done(jobs, &job).await?;
        return Ok(ChunkDisposition::AlreadyRecorded);
    }
    if matches!(job.state, JobState::Cancelled | JobState::Failed) {
        let skipped = ChunkCounts {
            skipped: chunk.rows.len() as u32,
            ..ChunkCounts::default()
        };
        jobs.record_chunk(&job.id, chunk.chunk, skipped).await?;
        tracing::info!(job_id = %job.id, chunk = chunk.chunk, state = job.state.as_str(), "chunk skipped");
        return Ok(ChunkDisposition::Skipped(job.state));
    }
    if job.state == JobState::Scheduled {
        jobs.start_processing(&job.id, now_ms()).await?;
    }
    let secrets = if chunk.sealed {
        jobs.chunk_secrets(&job.id, chunk.chunk).await?
    } else {
        Secrets::new()
    };
    let outcomes = operation.run(&job, &chunk.rows, &secrets).await?;
    if outcomes.len() != chunk.rows.len() {
        return Err(EngineError::BadMessage(format!(
            "operation returned {} outcomes for {} rows",
            outcomes.len(),
            chunk.rows.len()
        )));
    }
    record_outcomes(jobs, &job.id, chunk.chunk, &outcomes).await
}

/// Fails every row of a chunk that exhausted its deliveries, through the same count-once path,
/// so the job still reaches a final state.
pub async fn dead_letter_chunk(
    jobs: &dyn JobStore,
    operation: &dyn RowOperation,
    chunk: &ChunkMessage,
) -> Result<ChunkDisposition, EngineError> {
    let disposition = fail_chunk(jobs, operation, chunk).await?;
    release_secrets(jobs, chunk).await?;
    Ok(disposition)
}

async fn fail_chunk(
    jobs: &dyn JobStore,
    operation: &dyn RowOperation,
    chunk: &ChunkMessage,
) -> Result<ChunkDisposition, EngineError> {
    let Some(job) = jobs.get_job(&chunk.job_id).await? else {
        return Ok(ChunkDisposition::JobMissing);
    };
    if job.recorded_chunks.contains(&chunk.chunk) {
        complete_if_done(jobs, &job).await?;
        return Ok(ChunkDisposition::AlreadyRecorded);
    }
    let message =
        "The row could not be processed: its chunk failed on every delivery and was dead-lettered";
    let outcomes: Vec<RowOutcome> = chunk
        .rows
        .iter()
        .map(|row| RowOutcome::failed(row.row, operation.echo(row), DEAD_LETTER_CODE, message))
        .collect();
    tracing::warn!(job_id = %job.id, chunk = chunk.chunk, rows = outcomes.len(), "dead-lettered chunk failed");
    record_outcomes(jobs, &job.id, chunk.chunk, &outcomes).await
}

/// The count-once tail shared by processing and dead-lettering.
async fn record_outcomes(
    jobs: &dyn JobStore,
    job_id: &str,
    chunk: u32,
    outcomes: &[RowOutcome],
) -> Result<ChunkDisposition, EngineError> {
    jobs.put_chunk_outcomes(job_id, chunk, outcomes).await?;
    // Before the counts: once every chunk is counted, every chunk's first failure is in.
    if let Some(first) = outcomes
        .iter()
        .filter(|o| o.is_failed())
        .min_by_key(|o| o.row)
    {
        let message = first.error_message.as_deref().unwrap_or("failed");
        jobs.lower_first_failure(job_id, first.row, message).await?;
    }
    let counts = ChunkCounts::of(outcomes);
    let Some(recorded) = jobs.record_chunk(job_id, chunk, counts).await? else {
        return Ok(ChunkDisposition::JobMissing);
    };
    tracing::info!(
        job_id,
        chunk,
        succeeded = counts.succeeded,
        failed = counts.failed,
        duplicate = !recorded.newly_recorded,
        "chunk recorded"
    );
    complete_if_done(jobs, &recorded.job).await?;
    Ok(if recorded.newly_recorded {
        ChunkDisposition::Processed
    } else {
        ChunkDisposition::AlreadyRecorded
    })
}

async fn complete_if_done(jobs: &dyn JobStore, job: &Job) -> Result<(), EngineError> {
    let done = job.state == JobState::Processing && job.rows_accounted() >= job.total_rows;
    if done && jobs.complete(&job.id, now_ms()).await? {
        tracing::info!(
            job_id = %job.id,
            rows_processed = job.rows_processed,
            rows_failed = job.rows_failed,
            "job completed"
        );
    }
    Ok(())
}
