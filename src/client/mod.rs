//! The operator client: `bulkops submit <file>` sends a bulk request read from a JSON or CSV
//! file to either API, follows the job with a progress bar, and writes the rows that failed
//! back in the file's own shape so they can be fixed and resubmitted.
//!
//! One concern per file: `args` (command line), `input` (reading files), `http` (the routes),
//! `status` (one view of both status documents), `wait` (polling), `progress` (display),
//! `failures` and `failed_file` (failed rows), `summary` (the report); `request` queues an
//! event-driven request on the local server.

mod args;
mod failed_file;
mod failures;
mod http;
mod input;
mod progress;
pub mod request;
mod status;
mod summary;
mod wait;

#[cfg(test)]
mod run_tests;
#[cfg(test)]
mod test_server;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use serde_json::Value;

pub use args::{Api, SubmitArgs};
pub use summary::{FailedRow, Summary};

use failures::Failure;
use http::{ApiClient, HttpError};
use input::Input;
use progress::Progress;
use status::JobStatus;
use wait::{Job, Polling};

/// Request body limits of the contract; checked before sending so the operator learns how to
/// split the file instead of getting a bare 413.
const fn body_limit(api: Api) -> usize {
    match api {
        Api::Mfp => 204_800,
        Api::Accounts => 1_048_576,
    }
}

/// Submits `args.file`, waits for the job to finish, and writes its failed rows.
///
/// Rows failing is part of a normal result (see [`Summary::failed`]); an error means the file
/// could not be read or submitted, the wait timed out, or the API answered unusably.
pub async fn run(args: SubmitArgs) -> anyhow::Result<Summary> {
    let input = input::read_input(&args.file, args.api)?;
    let failed_path = failed_path(&args)?;
    let source = args
        .source
        .clone()
        .or_else(|| input.source.clone())
        .unwrap_or_else(|| file_name(&args.file));
    let body = serde_json::to_vec(&input.request_body(&source)).context("encoding the request")?;
    check_size(&input, body.len())?;

    let client = ApiClient::new(&args.url, args.token.clone())?;
    let started = Instant::now();
    let submitted = client
        .submit(input.api, body)
        .await
        .map_err(|error| match error {
            HttpError::Status { .. } => anyhow!("submit rejected: {error}"),
            other => anyhow!(other).context(format!("submitting {}", args.file.display())),
        })?;

    let rows = input.rows.len() as u64;
    let job = Job {
        api: input.api,
        id: &submitted.id,
        rows,
    };
    let polling = Polling::new(
        Duration::from_millis(args.poll_ms.max(1)),
        Duration::from_secs(args.timeout_secs),
    );
    let mut progress = Progress::new(&submitted.id, rows, !args.no_progress);
    let (status, document) = wait::until_final(&client, &job, &polling, &mut progress).await?;
    progress.finish();
    let seconds = started.elapsed().as_secs_f64();

    let failures = failures_of(
        &client,
        &input,
        &submitted.id,
        &status,
        &document,
        &polling,
        &progress,
    )
    .await?;
    let failed_file = write_failed_rows(&failed_path, &input, &failures)?;
    Ok(summarize(
        submitted.id,
        input.api,
        status,
        &failures,
        failed_file,
        seconds,
    ))
}

/// The failed rows: from the mfp row log (fetched only when rows failed), or from the
/// accounts document's `FailedItems`.
async fn failures_of(
    client: &ApiClient,
    input: &Input,
    id: &str,
    status: &JobStatus,
    document: &Value,
    polling: &Polling,
    progress: &Progress,
) -> anyhow::Result<Vec<Failure>> {
    Ok(match input.api {
        Api::Mfp if status.failed > 0 => {
            let log = wait::row_log(client, id, polling, progress).await?;
            failures::from_mfp_logs(&log, input.rows.len())
        }
        Api::Mfp => Vec::new(),
        Api::Accounts => {
            let items = document
                .pointer("/FailedItems/Items")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default();
            failures::from_failed_items(items, &input.rows)
        }
    })
}

fn summarize(
    job_id: String,
    api: Api,
    status: JobStatus,
    failures: &[Failure],
    failed_file: Option<PathBuf>,
    seconds: f64,
) -> Summary {
    Summary {
        job_id,
        api,
        state: status.state,
        job_failed: status.job_failed,
        error: status.error,
        total: status.total,
        succeeded: status.succeeded,
        failed: status.failed,
        skipped: status.skipped,
        failures_by_code: failures::counts_by_code(failures),
        first_failures: failures
            .iter()
            .take(summary::LISTED_FAILURES)
            .map(|f| FailedRow {
                row: f.index.map(|i| i + 1),
                code: f.code.clone(),
                message: f.message.clone(),
            })
            .collect(),
        failed_file,
        seconds,
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

fn check_size(input: &Input, size: usize) -> anyhow::Result<()> {
    let limit = body_limit(input.api);
    if size > limit {
        let rows_per_file = input.rows.len() * limit / size;
        bail!(
            "the request is {size} bytes, over the {} API's limit of {limit} bytes: split the \
             file into files of about {rows_per_file} rows",
            input.api
        );
    }
    Ok(())
}

/// Where failed rows go; checked before submitting, so a typo cannot overwrite the input
/// after the job has run.
fn failed_path(args: &SubmitArgs) -> anyhow::Result<PathBuf> {
    let path = args
        .failed
        .clone()
        .unwrap_or_else(|| failed_file::default_path(&args.file));
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    };
    if same(&path, &args.file) {
        bail!(
            "--failed {} is the input file itself; choose another path",
            path.display()
        );
    }
    Ok(path)
}

/// Writes the matched failed rows, if any, and says where.
fn write_failed_rows(
    path: &Path,
    input: &Input,
    failures: &[Failure],
) -> anyhow::Result<Option<PathBuf>> {
    let indexes = failures::failed_rows(failures);
    if indexes.is_empty() {
        return Ok(None);
    }
    failed_file::write(path, input, &indexes)?;
    Ok(Some(path.to_path_buf()))
}
