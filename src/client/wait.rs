//! Polling a job until it reaches a final state, riding out transient failures.

use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use serde_json::Value;

use super::args::Api;
use super::http::ApiClient;
use super::progress::Progress;
use super::status::JobStatus;

/// The job to follow.
pub struct Job<'a> {
    pub api: Api,
    pub id: &'a str,
    /// Rows submitted.
    pub rows: u64,
}

/// How to wait.
pub struct Polling {
    every: Duration,
    timeout: Duration,
    deadline: Instant,
}

impl Polling {
    /// Polls every `every` until `timeout` from now.
    pub fn new(every: Duration, timeout: Duration) -> Self {
        Self {
            every,
            timeout,
            deadline: Instant::now() + timeout,
        }
    }

    /// Sleeps one interval (never past the deadline); false once the deadline has passed.
    async fn pause(&self) -> bool {
        let now = Instant::now();
        if now >= self.deadline {
            return false;
        }
        tokio::time::sleep(self.every.min(self.deadline - now)).await;
        true
    }
}

/// Polls until the job is final and returns its last status with the document it came from
/// (the accounts document lists the failed items). Connection errors, 429 and 5xx are retried
/// until the timeout; anything else (401, 404, a malformed answer) ends the wait at once.
pub async fn until_final(
    client: &ApiClient,
    job: &Job<'_>,
    polling: &Polling,
    progress: &mut Progress,
) -> anyhow::Result<(JobStatus, Value)> {
    let mut last: Option<JobStatus> = None;
    loop {
        match client.job(job.api, job.id).await {
            Ok(body) => {
                let status = JobStatus::parse(job.api, &body, job.rows)
                    .with_context(|| format!("reading the status of job {}", job.id))?;
                progress.update(&status);
                if status.is_final {
                    return Ok((status, body));
                }
                last = Some(status);
            }
            Err(error) if error.is_transient() => {
                let error = anyhow!(error);
                progress.note(&format!(
                    "polling job {} failed, retrying: {error:#}",
                    job.id
                ));
            }
            Err(error) => {
                return Err(anyhow!(error).context(format!("polling job {}", job.id)));
            }
        }
        if !polling.pause().await {
            let where_ = last.map_or_else(
                || "no status was read".to_owned(),
                |s| {
                    format!(
                        "last state {} with {}/{} rows done",
                        s.state,
                        s.done(),
                        s.total
                    )
                },
            );
            bail!(
                "job {} did not finish within {} s ({where_}); it keeps running on the server",
                job.id,
                polling.timeout.as_secs()
            );
        }
    }
}

/// The mfp row log of a finished job, retrying transient failures until the deadline.
pub async fn row_log(
    client: &ApiClient,
    id: &str,
    polling: &Polling,
    progress: &Progress,
) -> anyhow::Result<Vec<Value>> {
    loop {
        match client.mfp_logs(id).await {
            Ok(entries) => return Ok(entries),
            Err(error) if error.is_transient() && Instant::now() < polling.deadline => {
                let error = anyhow!(error);
                progress.note(&format!(
                    "downloading the row log failed, retrying: {error:#}"
                ));
            }
            Err(error) => {
                return Err(anyhow!(error).context(format!("downloading the row log of job {id}")))
            }
        }
        polling.pause().await;
    }
}
