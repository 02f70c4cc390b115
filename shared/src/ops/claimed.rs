//! Starting a job under an id that a client token or an Idempotency-Key already holds: the
//! request that claimed the id may have created the job, or stored it and died before
//! releasing it, or died before storing it. Each is finished, never made twice.

use crate::engine::{resume_job, EventFlush, JobId, NewJob, SubmitError};
use crate::model::{Job, JobState};
use crate::queue::ChunkQueue;
use crate::store::JobStore;

/// Starts `new` as job `id`. `fresh`: this request drew `id` itself, so no job can exist yet.
pub async fn start_claimed(
    jobs: &dyn JobStore,
    queue: &dyn ChunkQueue,
    events: &dyn EventFlush,
    mut new: NewJob,
    id: String,
    fresh: bool,
) -> Result<Job, SubmitError> {
    new.id = JobId::Given(id.clone());
    let existing = if fresh {
        None
    } else {
        jobs.get_job(&id).await?
    };
    match existing {
        // An earlier request created it: this one is a duplicate. A staged job waits for its
        // file AWAITING_DATA by design: there is nothing to resume.
        Some(job) if job.state != JobState::AwaitingData || new.upload_until_ms.is_some() => {
            tracing::info!(job_id = %id, "the request's job exists already");
            events.flush(&id).await;
            super::submitting::link_retry(jobs, &job).await;
            Ok(job)
        }
        // An earlier request stored it and stopped before releasing it.
        Some(_) => {
            let resumed = resume_job(jobs, queue, new).await;
            events.flush(&id).await;
            if let Ok(job) = &resumed {
                super::submitting::link_retry(jobs, job).await;
            }
            resumed
        }
        None => super::start(jobs, queue, events, new).await,
    }
}
