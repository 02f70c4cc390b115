use crate::chunking::split_into_chunks;
use crate::engine::Secrets;
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

/// A validated request, ready to become a job.
pub struct NewJob {
    pub id: String,
    pub job_type: JobType,
    pub owner: String,
    pub source: Option<String>,
    pub rows: Vec<ChunkRow>,
    /// Sealed values by row number; they travel through the job store, never the queue.
    pub secrets: Secrets,
}

/// Creates a job for already validated rows and enqueues its chunks. A chunk's secrets are
/// stored before its message is sent. If enqueueing fails for good, the job is marked FAILED
/// (the unsent chunks recorded as skipped) before returning.
pub async fn start_job(
    jobs: &dyn JobStore,
    queue: &dyn ChunkQueue,
    new: NewJob,
) -> Result<Job, SubmitError> {
    let mut job = Job::new(
        new.id,
        new.job_type,
        new.owner,
        new.rows.len() as u32,
        now_ms(),
    );
    job.source = new.source;
    let mut chunks = split_into_chunks(&job.id, job.job_type, new.rows);
    job.chunk_count = chunks.len() as u32;
    jobs.create_job(&job).await?;
    tracing::info!(job_id = %job.id, job_type = job.job_type.as_str(), rows = job.total_rows, chunks = job.chunk_count, "job created");
    for chunk in &mut chunks {
        let sealed: Secrets = chunk
            .rows
            .iter()
            .filter_map(|r| new.secrets.get(&r.row).map(|s| (r.row, s.clone())))
            .collect();
        if !sealed.is_empty() {
            jobs.put_chunk_secrets(&job.id, chunk.chunk, &sealed)
                .await?;
            chunk.sealed = true;
        }
    }
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
        for chunk in chunks
            .iter()
            .filter(|c| c.sealed && error.unsent_chunks.contains(&c.chunk))
        {
            jobs.delete_chunk_secrets(&job.id, chunk.chunk).await?;
        }
        return Err(SubmitError::Enqueue {
            job_id: job.id,
            source: error,
        });
    }
    Ok(job)
}
