//! The end of a job, as `submit` and `wait` report it: which rows failed or never ran, the
//! failed-rows file, and the summary.

use serde_json::Value;

use super::args::Api;
use super::error::ClientError;
use super::failed_file::{FailedFile, FailedTarget};
use super::failures::{self, Failure};
use super::http::ApiClient;
use super::input::Input;
use super::output::Output;
use super::retry::Retry;
use super::status::JobStatus;
use super::summary::{self, FailedRow, Summary};
use super::wait::Job;

/// The rows of a finished job the operator has to look at.
pub struct Rows {
    /// In input order.
    pub failures: Vec<Failure>,
    /// Input rows (0-based) that never ran: a cancelled or failed job's. Empty without the input.
    pub unrun: Vec<usize>,
}

/// The mfp row log, retried as any GET.
pub async fn row_log(
    client: &ApiClient,
    id: &str,
    out: &Output,
) -> Result<Vec<Value>, ClientError> {
    Retry::default()
        .run(|| client.mfp_logs(id), out.retry_notes())
        .await
        .map_err(|e| ClientError::call(format!("downloading the row log of job {id}"), e))
}

/// Reads the failed and unrun rows from the row log (mfp, fetched only when needed) or the
/// upload's document; `input` matches them to the file's rows.
pub async fn rows_of(
    client: &ApiClient,
    job: &Job,
    status: &JobStatus,
    document: &Value,
    input: Option<&Input>,
    out: &Output,
) -> Result<Rows, ClientError> {
    let input_rows = input.map_or(&[][..], |i| i.rows.as_slice());
    let (failures, unrun) = match job.api {
        Api::Mfp if status.failed > 0 || (status.skipped > 0 && input.is_some()) => {
            let log = row_log(client, &job.id, out).await?;
            (
                failures::from_mfp_logs(&log, input_rows.len()),
                failures::mfp_unrun(&log, input_rows.len()),
            )
        }
        Api::Mfp => (Vec::new(), Vec::new()),
        Api::Accounts => failures::from_accounts_result(document, input_rows),
    };
    // Rows missing from a finished job's report never ran only if the job says some were skipped.
    let unrun = if status.skipped > 0 {
        unrun
    } else {
        Vec::new()
    };
    Ok(Rows { failures, unrun })
}

/// Writes (or removes) the failed-rows file and builds the summary.
pub fn summarize(
    job: &Job,
    status: JobStatus,
    rows: &Rows,
    input: Option<&Input>,
    target: Option<&FailedTarget>,
    seconds: f64,
) -> Result<Summary, ClientError> {
    let failed_file = match (input, target) {
        (Some(input), Some(target)) => {
            let mut indexes = failures::failed_rows(&rows.failures);
            indexes.extend(&rows.unrun);
            indexes.sort_unstable();
            indexes.dedup();
            target.settle(input, &indexes)?
        }
        _ => FailedFile::None,
    };
    let line_of = |index: usize| input.and_then(|i| i.rows.get(index)).and_then(|r| r.line);
    Ok(Summary {
        job_id: job.id.clone(),
        api: job.api,
        state: status.state,
        job_failed: status.job_failed,
        error: status.error,
        total: status.total,
        succeeded: status.succeeded,
        failed: status.failed,
        skipped: status.skipped,
        failures_by_code: failures::counts_by_code(&rows.failures),
        first_failures: rows
            .failures
            .iter()
            .take(summary::LISTED_FAILURES)
            .map(|f| FailedRow {
                row: f.index.map(|i| i as i64 + 1).or(f.row),
                line: f.index.and_then(line_of),
                code: f.code.clone(),
                message: f.message.clone(),
            })
            .collect(),
        failed_file,
        seconds,
    })
}
