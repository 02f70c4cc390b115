use std::future::Future;

use tracing::Instrument;

use crate::batching::backoff;
use crate::chunking::{chunk_messages, group_rows, RowTooLarge};
use crate::error::{EnqueueError, StoreError};
use crate::model::Secrets;
use crate::model::{ChunkMessage, ChunkRow, FailureTolerance, Job, JobState, JobType};
use crate::queue::ChunkQueue;
use crate::store::{Admission, JobStore, Quota, Transition};
use crate::time::now_ms;

/// Attempts of each store call on the submit's failure paths before giving up.
const STORE_ATTEMPTS: u32 = 4;

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// A row cannot be staged and queued within the platform's limits; nothing was written.
    #[error(transparent)]
    RowTooLarge(#[from] RowTooLarge),
    /// The job could not be created; nothing that can run was written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The caller's active jobs are at its quota; nothing was written.
    #[error("the caller has {active_jobs} active jobs with {rows_in_flight} rows; a new job of {rows} rows would pass its quota")]
    QuotaExceeded {
        active_jobs: u32,
        rows_in_flight: u64,
        rows: u32,
        quota: Quota,
    },
    /// The job alone holds more rows than the caller may have in flight: it can never run.
    #[error("the job has {rows} rows; a caller may have at most {max} rows in flight")]
    OverQuota { rows: u32, max: u64 },
    /// The job was created but could not be enqueued; it has been marked FAILED and none of
    /// its rows ran.
    #[error("job {job_id} could not be queued and was marked FAILED: {source}")]
    Enqueue {
        job_id: String,
        source: EnqueueError,
    },
    /// Every chunk was queued but the job could not be released: its chunks wait, and the
    /// dead-letter path fails the job if it is never released. None of its rows ran.
    #[error("job {job_id} was queued but could not be released: {source}")]
    NotReleased { job_id: String, source: StoreError },
}

/// How a new job gets its id.
pub enum JobId {
    Given(String),
    /// The next value of this sequence, drawn only once the request is known to fit.
    Next(&'static str),
}

/// A validated request, ready to become a job.
pub struct NewJob {
    pub id: JobId,
    pub job_type: JobType,
    pub owner: String,
    pub source: Option<String>,
    /// The event-driven request's `clientToken`, if it came that way.
    pub client_token: Option<String>,
    pub rows: Vec<ChunkRow>,
    /// Sealed values by row number; they travel through the job store, never the queue.
    pub secrets: Secrets,
    /// How many failed rows stop the job early.
    pub tolerance: FailureTolerance,
    /// The job whose failed rows this one retries.
    pub retry_of: Option<String>,
    /// The caller's quota, for a job an HTTP caller asks for; `None`: not counted.
    pub quota: Option<Quota>,
    /// A job whose rows come later in a staged file (`rows` is empty): until when its upload
    /// URL takes the file.
    pub upload_until_ms: Option<i64>,
}

/// Creates a job for validated rows and enqueues its chunks, as one unit for the caller:
/// either the job is released to run every chunk, or none of its rows ever runs and the job
/// ends FAILED (or CANCELLED) with every row skipped.
///
/// 1. Chunks are sized with their secrets; a row that cannot fit is refused before any write.
/// 2. Secrets are staged before the job exists, so a failure there leaves no job behind.
/// 3. The job is created AWAITING_DATA: its chunks cannot be claimed yet.
/// 4. Every chunk is queued; then the job is released (SCHEDULED). If queueing fails, the job
///    is abandoned (FAILED, every row skipped) and the chunks already queued are skipped.
pub async fn start_job(
    jobs: &dyn JobStore,
    queue: &dyn ChunkQueue,
    new: NewJob,
) -> Result<Job, SubmitError> {
    let quota = new.quota;
    if new.upload_until_ms.is_some() {
        return super::staged::create_awaiting_file(jobs, new).await;
    }
    if let Some(quota) = quota.filter(|q| q.too_large(new.rows.len() as u32)) {
        return Err(SubmitError::OverQuota {
            rows: new.rows.len() as u32,
            max: quota.max_rows_in_flight,
        });
    }
    let (job, mut chunks, secrets) = prepare(jobs, new).await?;
    let span = job_span(&job.id);
    async move {
        if let Err(error) = stage_secrets(jobs, &job.id, &mut chunks, &secrets).await {
            discard_secrets(jobs, &job.id, &chunks).await;
            return Err(error.into());
        }
        let created = match &quota {
            None => jobs.create_job(&job).await,
            Some(quota) => match jobs.create_job_within(&job, quota).await {
                Ok(Admission::Created) => Ok(()),
                Ok(Admission::Refused {
                    active_jobs,
                    rows_in_flight,
                }) => {
                    discard_secrets(jobs, &job.id, &chunks).await;
                    return Err(SubmitError::QuotaExceeded {
                        active_jobs,
                        rows_in_flight,
                        rows: job.total_rows,
                        quota: *quota,
                    });
                }
                Err(error) => Err(error),
            },
        };
        if let Err(error) = created {
            // A twin request (same id, from one client token) created it first: its chunks use
            // the same staged secrets, which must stay.
            if !matches!(jobs.get_job(&job.id).await, Ok(Some(_))) {
                discard_secrets(jobs, &job.id, &chunks).await;
            }
            return Err(error.into());
        }
        tracing::info!(
            job_type = job.job_type.as_str(),
            rows = job.total_rows,
            chunks = job.chunk_count,
            "job created"
        );
        launch(jobs, queue, job, &chunks).await
    }
    .instrument(span)
    .await
}

/// Finishes a job whose creation was interrupted after it was stored (a redelivered
/// event-driven request finds it AWAITING_DATA): its chunks are queued again and it is
/// released. Chunking is deterministic, so they are the same chunks; one queued twice is a
/// duplicate delivery, which the engine counts once.
pub async fn resume_job(
    jobs: &dyn JobStore,
    queue: &dyn ChunkQueue,
    new: NewJob,
) -> Result<Job, SubmitError> {
    let (job, mut chunks, secrets) = prepare(jobs, new).await?;
    let span = job_span(&job.id);
    async move {
        stage_secrets(jobs, &job.id, &mut chunks, &secrets).await?;
        tracing::info!("resuming the creation of a job");
        launch(jobs, queue, job, &chunks).await
    }
    .instrument(span)
    .await
}

/// The span of every log line about creating one job.
fn job_span(job_id: &str) -> tracing::Span {
    tracing::info_span!("job", job_id)
}

/// The job and its chunk messages, sized with their secrets; a row that cannot fit is
/// refused before any write.
async fn prepare(
    jobs: &dyn JobStore,
    new: NewJob,
) -> Result<(Job, Vec<ChunkMessage>, Secrets), SubmitError> {
    let total_rows = new.rows.len() as u32;
    let groups = group_rows(new.rows, &new.secrets)?;
    let id = match new.id {
        JobId::Given(id) => id,
        JobId::Next(sequence) => jobs.next_sequence(sequence).await?.to_string(),
    };
    let mut job = Job::new(id, new.job_type, new.owner, total_rows, now_ms());
    job.source = new.source;
    job.client_token = new.client_token;
    job.tolerance = new.tolerance;
    job.retry_of = new.retry_of;
    job.state = JobState::AwaitingData;
    let chunks = chunk_messages(&job.id, job.job_type, groups);
    job.chunk_count = chunks.len() as u32;
    Ok((job, chunks, new.secrets))
}

/// Queues every chunk of a stored AWAITING_DATA job, then releases it.
async fn launch(
    jobs: &dyn JobStore,
    queue: &dyn ChunkQueue,
    job: Job,
    chunks: &[ChunkMessage],
) -> Result<Job, SubmitError> {
    if let Err(error) = queue.enqueue(chunks).await {
        tracing::error!(error = %error, "enqueue failed; abandoning the job");
        let message = format!(
            "The job could not be queued for processing: {}",
            error.reason
        );
        // Never released, so nothing ran: the chunks already queued find the job FAILED and
        // recorded, and are dropped. If even this write fails, they find it AWAITING_DATA and
        // the dead-letter path abandons it.
        match retried(|| jobs.abandon(&job.id, &message, now_ms())).await {
            // A twin request (same client token) released it meanwhile: it runs, with these
            // secrets.
            Ok(Transition::Unchanged(current))
                if matches!(
                    current.state,
                    JobState::Scheduled | JobState::Processing | JobState::Completed
                ) =>
            {
                return Ok(*current)
            }
            // FAILED now, or CANCELLED before it was released: nothing runs.
            Ok(Transition::Moved(_) | Transition::Unchanged(_)) => {
                discard_secrets(jobs, &job.id, chunks).await
            }
            Ok(Transition::JobMissing) => {}
            Err(store) => {
                tracing::error!(error = %store, "abandoning the job failed; the dead-letter path will");
            }
        }
        return Err(SubmitError::Enqueue {
            job_id: job.id,
            source: error,
        });
    }
    match retried(|| jobs.release(&job.id)).await {
        Ok(Transition::Moved(released)) => Ok(*released),
        // Released by an earlier attempt whose answer was lost, or cancelled meanwhile (then
        // every row is skipped): either way, the job as it is now is the truth.
        Ok(Transition::Unchanged(current)) => Ok(*current),
        Ok(Transition::JobMissing) => Err(SubmitError::Store(StoreError::Corrupt(format!(
            "job {} vanished before it was released",
            job.id
        )))),
        Err(source) => {
            let message = "The job could not be released for processing after its rows were queued";
            match retried(|| jobs.abandon(&job.id, message, now_ms())).await {
                // Definitely never released: nothing ran or will.
                Ok(Transition::Moved(_)) => discard_secrets(jobs, &job.id, chunks).await,
                // A release whose answer was lost did land: the job runs.
                Ok(Transition::Unchanged(current)) if current.state != JobState::AwaitingData => {
                    return Ok(*current)
                }
                // Unknown: the chunks wait, and the dead-letter path abandons the job if it
                // is never released.
                _ => {}
            }
            Err(SubmitError::NotReleased {
                job_id: job.id,
                source,
            })
        }
    }
}

/// Stores each chunk's secrets and marks the chunk sealed.
async fn stage_secrets(
    jobs: &dyn JobStore,
    job_id: &str,
    chunks: &mut [ChunkMessage],
    secrets: &Secrets,
) -> Result<(), StoreError> {
    for chunk in chunks {
        let sealed: Secrets = chunk
            .rows
            .iter()
            .filter_map(|r| secrets.get(&r.row).map(|s| (r.row, s.clone())))
            .collect();
        if !sealed.is_empty() {
            // Marked first: a failed write may still have landed, and must be cleaned up.
            chunk.sealed = true;
            jobs.put_chunk_secrets(job_id, chunk.chunk, &sealed).await?;
        }
    }
    Ok(())
}

/// Deletes the staged secrets of a job that will never run (best effort: their TTL removes
/// what a failing store leaves).
async fn discard_secrets(jobs: &dyn JobStore, job_id: &str, chunks: &[ChunkMessage]) {
    for chunk in chunks.iter().filter(|c| c.sealed) {
        if let Err(error) = retried(|| jobs.delete_chunk_secrets(job_id, chunk.chunk)).await {
            tracing::error!(chunk = chunk.chunk, %error, "staged secrets left to their TTL");
        }
    }
}

/// A store call retried with backoff: the failure paths must not give up on one blip.
async fn retried<T, F, Fut>(mut call: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut attempt = 1;
    loop {
        match call().await {
            Ok(value) => return Ok(value),
            Err(error) if attempt >= STORE_ATTEMPTS => return Err(error),
            Err(_) => {
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
            }
        }
    }
}
