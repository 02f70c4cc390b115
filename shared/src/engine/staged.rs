//! Creating a job whose rows come later, in a staged file: the job waits AWAITING_DATA, with
//! no rows and no chunks, until its file is split (see [`crate::staged`]), or ends FAILED when
//! its upload URL expires first.

use super::submit::{JobId, NewJob, SubmitError};
use crate::model::{Job, JobState};
use crate::store::{Admission, JobStore};
use crate::time::now_ms;

/// Stores the AWAITING_DATA job of `new` (whose `upload_until_ms` is set), within its
/// caller's quota: a staged job holds a place among the caller's active jobs from now on, and
/// its rows count once they are known.
pub(super) async fn create_awaiting_file(
    jobs: &dyn JobStore,
    new: NewJob,
) -> Result<Job, SubmitError> {
    let id = match new.id {
        JobId::Given(id) => id,
        JobId::Next(sequence) => jobs.next_sequence(sequence).await?.to_string(),
    };
    let mut job = Job::new(id, new.job_type, new.owner, 0, now_ms());
    job.state = JobState::AwaitingData;
    job.source = new.source;
    job.client_token = new.client_token;
    job.tolerance = new.tolerance;
    job.upload_expires_at_ms = new.upload_until_ms;
    match &new.quota {
        None => jobs.create_job(&job).await?,
        Some(quota) => match jobs.create_job_within(&job, quota).await? {
            Admission::Created => {}
            Admission::Refused {
                active_jobs,
                rows_in_flight,
            } => {
                return Err(SubmitError::QuotaExceeded {
                    active_jobs,
                    rows_in_flight,
                    rows: 0,
                    quota: *quota,
                })
            }
        },
    }
    tracing::info!(job_id = %job.id, job_type = job.job_type.as_str(), "job created, awaiting its file");
    Ok(job)
}
