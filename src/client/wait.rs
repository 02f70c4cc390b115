//! Polling a job until it reaches a final state, riding out a server that stops answering
//! with backoff and jitter, up to a deadline.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::args::Api;
use super::http::{ApiClient, HttpError};
use super::progress::Progress;
use super::resume::Tracker;
use super::retry::Backoff;
use super::status::JobStatus;

/// A server that never answered this command is given up on after this many attempts (about
/// 4 s): the URL is more likely wrong than the server restarting.
const NEVER_ANSWERED_ATTEMPTS: u32 = 5;

/// The job to follow.
pub struct Job {
    pub api: Api,
    pub id: String,
    /// Rows submitted, when known.
    pub rows: Option<u64>,
}

/// How to wait.
pub struct Polling {
    pub every: Duration,
    pub timeout: Duration,
    pub backoff: Backoff,
    /// The server has answered this command already (the submit did): an outage is then
    /// waited out until the deadline.
    pub answered: bool,
}

/// Why the wait ended without a final state.
#[derive(Debug)]
pub enum WaitError {
    /// The deadline passed; `unanswered` says why the last polls failed, if they did.
    Timeout {
        last: Option<JobStatus>,
        unanswered: Option<String>,
    },
    /// A poll failed for good (401, 404, ...), or the server never answered.
    Call(HttpError),
    /// The status document could not be read.
    Unreadable(String),
}

/// Polls until the job is final with every row accounted for, and returns its last status with the document it came from
/// (the accounts document lists the items). Connection errors, 429 and 5xx are retried with
/// backoff; anything else (401, 404, a malformed answer) ends the wait at once.
pub async fn until_final(
    client: &ApiClient,
    job: &Job,
    polling: &Polling,
    progress: &mut Progress,
    tracker: &Tracker,
) -> Result<(JobStatus, Value), WaitError> {
    let deadline = Instant::now() + polling.timeout;
    let mut last: Option<JobStatus> = None;
    let mut answered = polling.answered;
    let mut failures = 0u32;
    let mut unanswered: Option<String>;
    if answered {
        // The submit's answer was the first status: look again one interval later.
        pause(polling.every, deadline).await;
    }
    loop {
        let pause_for = match client.job(job.api, &job.id).await {
            Ok(body) => {
                let status = JobStatus::parse(job.api, &body, job.rows).map_err(|e| {
                    WaitError::Unreadable(format!("reading the status of job {}: {e}", job.id))
                })?;
                (answered, failures, unanswered) = (true, 0, None);
                progress.update(&status);
                tracker.seen(&status);
                if status.settled() {
                    return Ok((status, body));
                }
                last = Some(status);
                polling.every
            }
            Err(error) if error.is_transient() => {
                failures += 1;
                if !answered && failures >= NEVER_ANSWERED_ATTEMPTS {
                    return Err(WaitError::Call(error));
                }
                let delay = polling.backoff.delay(failures).max(polling.every);
                progress.unreachable(&error, delay);
                unanswered = Some(error.brief());
                delay
            }
            Err(error) => return Err(WaitError::Call(error)),
        };
        if !pause(pause_for, deadline).await {
            return Err(WaitError::Timeout { last, unanswered });
        }
    }
}

/// Sleeps `duration`, never past the deadline; false once the deadline has passed.
async fn pause(duration: Duration, deadline: Instant) -> bool {
    let now = Instant::now();
    if now >= deadline {
        return false;
    }
    tokio::time::sleep(duration.min(deadline - now)).await;
    Instant::now() < deadline
}
