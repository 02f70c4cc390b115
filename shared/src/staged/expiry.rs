//! A staged job whose file never came: once [`crate::model::Job::is_upload_overdue`], the
//! first read of it (the job's routes, the lists) ends it FAILED with an `errorMessage`
//! saying so, with the same conditional transition as a job that was never released, so its
//! Failed event goes out once. The quota sweep already counts it as ended.

use crate::error::StoreError;
use crate::model::Job;
use crate::store::{JobStore, Transition};
use crate::time::rfc3339;

/// `job` as it is at `now_ms`: FAILED if its file is overdue (written once), else unchanged.
pub async fn expire_if_overdue(
    jobs: &dyn JobStore,
    job: Job,
    now_ms: i64,
) -> Result<Job, StoreError> {
    let Some(until) = job
        .upload_expires_at_ms
        .filter(|_| job.is_upload_overdue(now_ms))
    else {
        return Ok(job);
    };
    let message = format!(
        "The job's file did not arrive: its upload URL expired at {}",
        rfc3339(until)
    );
    Ok(match jobs.expire_upload(&job.id, &message, now_ms).await? {
        Transition::Moved(job) | Transition::Unchanged(job) => *job,
        Transition::JobMissing => job,
    })
}
