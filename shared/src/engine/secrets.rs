//! What a chunk delivery does with its job's secrets once the chunk's outcomes are stored:
//! the failed rows' are kept for a retry, then the chunk's staged ones are deleted.

use crate::error::EngineError;
use crate::model::{ChunkMessage, Job, RowOutcome};
use crate::store::{secrets_expire_at_ms, JobStore};

/// Deletes a chunk's sealed values; called only once the chunk is recorded (or its job gone).
pub(super) async fn release_secrets(
    jobs: &dyn JobStore,
    chunk: &ChunkMessage,
) -> Result<(), EngineError> {
    if chunk.sealed {
        jobs.delete_chunk_secrets(&chunk.job_id, chunk.chunk)
            .await?;
    }
    Ok(())
}

/// Keeps the staged secrets of the chunk's counted failed rows for a retry. Nothing is written
/// when none is left: a concurrent delivery recorded the chunk and kept them first.
pub(super) async fn keep_failed_secrets(
    jobs: &dyn JobStore,
    job: &Job,
    chunk: u32,
    outcomes: &[RowOutcome],
) -> Result<(), EngineError> {
    if !outcomes.iter().any(RowOutcome::is_failed) {
        return Ok(());
    }
    let mut staged = jobs.chunk_secrets(&job.id, chunk).await?;
    staged.retain(|row, _| outcomes.iter().any(|o| o.row == *row && o.is_failed()));
    if !staged.is_empty() {
        let until = secrets_expire_at_ms(job);
        jobs.keep_failed_secrets(&job.id, chunk, &staged, until)
            .await?;
    }
    Ok(())
}
