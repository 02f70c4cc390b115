//! What every operation's create route does with a validated request: start the job, have
//! its events published, and answer a failure with the one mapping from the engine's
//! [`SubmitError`] to the caller's [`ApiError`].

use crate::engine::{start_job, EventFlush, NewJob, SubmitError};
use crate::error::ApiError;
use crate::model::{Job, JobState};
use crate::queue::ChunkQueue;
use crate::store::JobStore;

/// Starts the job (see [`start_job`]) and flushes the event its ending transition recorded
/// (Created when released, Failed when abandoned).
pub async fn start(
    jobs: &dyn JobStore,
    queue: &dyn ChunkQueue,
    events: &dyn EventFlush,
    new: NewJob,
) -> Result<Job, SubmitError> {
    let result = start_job(jobs, queue, new).await;
    match &result {
        // Released (or found past it): the job as the store returned it, its event in the
        // outbox. A staged job is the one this call built, so the store is read for it.
        Ok(job) if job.state != JobState::AwaitingData => events.flush_job(job).await,
        Ok(job) => events.flush(&job.id).await,
        Err(SubmitError::Enqueue { job_id, .. } | SubmitError::NotReleased { job_id, .. }) => {
            events.flush(job_id).await
        }
        Err(_) => {}
    }
    if let Ok(job) = &result {
        link_retry(jobs, job).await;
    }
    result
}

/// Links a retry to the job it retries (idempotent). The retry exists and runs whatever
/// happens here, so a failure is logged, not the caller's.
pub(super) async fn link_retry(jobs: &dyn JobStore, job: &Job) {
    if let Some(original) = &job.retry_of {
        if let Err(error) = jobs.add_retry(original, &job.id).await {
            tracing::warn!(retry_of = %original, %error, "the retry could not be linked to its job");
        }
    }
}

/// Maps a failed submit to the caller's answer; `target` names a row (`ids[3]`,
/// `accountsList[3]`) from its 1-based number.
pub fn submit_error(error: SubmitError, target: impl Fn(u32) -> String) -> ApiError {
    match error {
        SubmitError::RowTooLarge(too_large) => ApiError::RowTooLarge {
            target: target(too_large.row),
            bytes: too_large.bytes,
        },
        SubmitError::QuotaExceeded {
            active_jobs,
            rows_in_flight,
            rows,
            quota,
        } => ApiError::TooManyRequests {
            message: format!(
                "The caller has {active_jobs} active jobs holding {rows_in_flight} rows; with this job of {rows} rows it would pass its quota of {} active jobs and {} rows in flight. Retry once a job has ended.",
                quota.max_active_jobs, quota.max_rows_in_flight
            ),
            retry_after: crate::store::quota::QUOTA_RETRY_AFTER_SECONDS,
        },
        // Never admissible, so not a 429: waiting would not help.
        over @ SubmitError::OverQuota { .. } => ApiError::bad_request(over.to_string(), None),
        SubmitError::Store(cause) => {
            tracing::error!(error = %cause, "the job could not be created");
            ApiError::ServiceUnavailable(
                "The request could not be accepted right now; nothing was created, please retry"
                    .to_owned(),
            )
        }
        SubmitError::Enqueue { job_id, .. } => ApiError::ServiceUnavailable(format!(
            "The bulk operation {job_id} could not be queued and was marked FAILED; none of its rows ran; please retry"
        )),
        SubmitError::NotReleased { job_id, source } => {
            tracing::error!(job_id, error = %source, "the job could not be released");
            ApiError::ServiceUnavailable(format!(
                "The bulk operation {job_id} could not be started; none of its rows ran and it will be marked FAILED; please retry"
            ))
        }
    }
}
