//! Following a job to its end, for `submit` and `wait`: the progress bar, the polling, then
//! the failed rows and the summary.

use std::time::{Duration, Instant};

use super::args::WaitFlags;
use super::error::ClientError;
use super::failed_file::FailedTarget;
use super::http::ApiClient;
use super::input::Input;
use super::outcome;
use super::output::Output;
use super::progress::{Progress, Show};
use super::resume::Tracker;
use super::retry::Backoff;
use super::summary::Summary;
use super::wait::{self, Job, Polling, WaitError};

/// Where a followed job's rows come from and go.
pub struct Files<'a> {
    pub input: Option<&'a Input>,
    pub target: Option<&'a FailedTarget>,
}

/// Waits for `job` to end and reports it. `answered`: the server has answered this command
/// already (after a submit), so an outage is waited out.
pub async fn follow(
    client: &ApiClient,
    job: &Job,
    files: Files<'_>,
    flags: WaitFlags,
    out: &Output,
    tracker: &Tracker,
    answered: bool,
) -> Result<Summary, ClientError> {
    let started = Instant::now();
    let show = Show {
        progress: !flags.no_progress && !out.quiet,
        notes: !out.quiet,
    };
    let mut progress = Progress::new(&job.id, job.rows, show);
    let polling = Polling {
        every: Duration::from_millis(flags.poll_ms.max(1)),
        timeout: Duration::from_secs(flags.timeout_secs),
        backoff: Backoff::default(),
        answered,
    };
    let waited = wait::until_final(client, job, &polling, &mut progress, tracker).await;
    let (status, document) = waited.map_err(|e| wait_error(e, job, &polling, tracker))?;
    progress.finish(&status);
    drop(progress);
    let seconds = started.elapsed().as_secs_f64();
    let rows = outcome::rows_of(client, job, &status, &document, files.input, out).await?;
    outcome::summarize(job, status, &rows, files.input, files.target, seconds)
}

fn wait_error(error: WaitError, job: &Job, polling: &Polling, tracker: &Tracker) -> ClientError {
    match error {
        WaitError::Timeout { last, unanswered } => {
            let seen = last.map_or_else(|| "no status was read".to_owned(), |s| s.brief());
            let unanswered = unanswered
                .map(|why| format!("; the last polls got no answer: {why}"))
                .unwrap_or_default();
            let resume = tracker
                .followed()
                .map(|followed| format!("\n{}", tracker.message(&followed)))
                .unwrap_or_default();
            ClientError::Timeout(format!(
                "job {} did not finish within {} s (--timeout-secs; {seen}{unanswered}){resume}",
                job.id,
                polling.timeout.as_secs()
            ))
        }
        WaitError::Call(source) => ClientError::call(format!("polling job {}", job.id), source),
        WaitError::Unreadable(message) => ClientError::Unreadable(message),
    }
}
