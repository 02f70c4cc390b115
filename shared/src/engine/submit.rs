use crate::chunking::split_into_chunks;
use crate::error::{EnqueueError, StoreError};
use crate::model::{ChunkRow, Job, JobType};
use crate::queue::ChunkQueue;
use crate::store::JobStore;
use crate::time::now_ms;

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The job was created but could not be enqueued; it has been marked FAILED.
    #[error("job {job_id} could not be queued and was marked FAILED: {source}")]
    Enqueue {
        job_id: String,
        source: EnqueueError,
    },
}

/// Creates a job for already validated `rows` and enqueues its chunks. If enqueueing fails for
/// good, the job is marked FAILED (the unsent chunks recorded as skipped) before returning.
pub async fn start_job(
    jobs: &dyn JobStore,
    queue: &dyn ChunkQueue,
    job_type: JobType,
    owner: &str,
    rows: Vec<ChunkRow>,
) -> Result<Job, SubmitError> {
    let id = uuid::Uuid::new_v4().to_string();
    let mut job = Job::new(id, job_type, owner.to_owned(), rows.len() as u32, now_ms());
    let chunks = split_into_chunks(&job.id, job_type, rows);
    job.chunk_count = chunks.len() as u32;
    jobs.create_job(&job).await?;
    tracing::info!(job_id = %job.id, job_type = job_type.as_str(), rows = job.total_rows, chunks = job.chunk_count, "job created");
    if let Err(error) = queue.enqueue(&chunks).await {
        let unsent_rows = chunks
            .iter()
            .filter(|c| error.unsent_chunks.contains(&c.chunk))
            .map(|c| c.rows.len() as u32)
            .sum();
        tracing::error!(job_id = %job.id, error = %error, "enqueue failed; marking the job FAILED");
        let message = format!(
            "The job could not be queued for processing: {}",
            error.reason
        );
        jobs.fail(
            &job.id,
            &message,
            &error.unsent_chunks,
            unsent_rows,
            now_ms(),
        )
        .await?;
        return Err(SubmitError::Enqueue {
            job_id: job.id,
            source: error,
        });
    }
    Ok(job)
}
