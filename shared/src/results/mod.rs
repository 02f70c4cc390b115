//! Result files (issue 11): once a job is final, its rows are written once, as files a caller
//! downloads instead of reading a million rows through the API.
//!
//! - `rows.jsonl`: every row, one JSON object a line, as the job's `rows` route shows it.
//! - `failed.csv` and `failed.jsonl`: the failed rows in the shape of the input, so that either
//!   file is a staged file of a new job as it stands (an account's secret is never written:
//!   the retry route sends failed accounts again with theirs).
//! - `succeeded.jsonl`: the succeeded rows with what they produced (a pass, an account id).
//! - `log.json`: the download-logs route's answer as a file, for job types that have the route.
//!
//! **When.** Every flush of a job's events ([`ResultsOnEnd`]) asks for its files once the job is
//! final and they are not written ([`ResultsRequests`]: a message to the splitter function on
//! AWS, a background task locally). The writer ([`write_result_files`]) reads the stored rows a
//! page at a time and streams each file to its store ([`ResultFileStore`]: S3, the data
//! directory), then records the files' sizes on the job. A final job's rows never change, so a
//! request made twice writes the same bytes twice, and a lost request is made again by the next
//! read of the files (see [`ResultAccess::request_if_missing`]).

mod request;
pub mod s3;
mod write;

pub use request::{ResultsOnEnd, SqsResultsRequests, RESULTS_MESSAGE_FIELD};
pub use write::{write_result_files, OutcomePages};

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::error::StoreError;
use crate::model::{Job, RowOutcome, StoredOutcome};

/// How long a link to a result file works: 15 minutes to start the download.
pub const LINK_SECONDS: i64 = 900;
/// A final job whose files are still missing this long after it ended asks for them again.
pub const REQUEST_AGAIN_AFTER_MS: i64 = 60_000;

/// One result file of a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResultFile {
    Rows,
    FailedCsv,
    FailedJsonl,
    Succeeded,
    Log,
}

impl ResultFile {
    pub const ALL: [ResultFile; 5] = [
        Self::Rows,
        Self::FailedCsv,
        Self::FailedJsonl,
        Self::Succeeded,
        Self::Log,
    ];

    /// The file's name, in its key and its route.
    pub fn name(self) -> &'static str {
        match self {
            Self::Rows => "rows.jsonl",
            Self::FailedCsv => "failed.csv",
            Self::FailedJsonl => "failed.jsonl",
            Self::Succeeded => "succeeded.jsonl",
            Self::Log => "log.json",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|file| file.name() == name)
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::FailedCsv => "text/csv; charset=utf-8",
            Self::Log => "application/json",
            _ => "application/x-ndjson",
        }
    }
}

/// A row's line in a result file: the outcome as the row log stores it (its JSON as stored),
/// or a shape of the operation's own.
pub enum ResultLine {
    AsStored,
    Shaped(Value),
}

/// How one operation writes its rows into the result files (the operation's shape of a row).
/// A row comes as stored; an operation that needs its fields asks [`ResultRow::outcome`].
pub trait ResultRows: Send {
    /// Whether every row is read once before any is written (the CSV header depends on them).
    fn wants_first_pass(&self) -> bool {
        false
    }
    /// Sees a row of the first pass.
    fn observe(&mut self, _row: &ResultRow<'_>) -> Result<(), StoreError> {
        Ok(())
    }
    /// The row as `rows.jsonl` has it.
    fn row(&self, row: &ResultRow<'_>) -> Result<ResultLine, StoreError>;
    /// A failed row as the input had it: a line of `failed.jsonl`.
    fn failed_input(&self, row: &ResultRow<'_>) -> Result<Value, StoreError>;
    /// The header of `failed.csv`, and a failed row's record under it.
    fn failed_csv_header(&self) -> Vec<String>;
    fn failed_csv_record(&self, row: &ResultRow<'_>) -> Result<Vec<String>, StoreError>;
    /// A succeeded row with what it produced: a line of `succeeded.jsonl`.
    fn succeeded(&self, row: &ResultRow<'_>) -> Result<ResultLine, StoreError>;
    /// Whether the job type has the download-logs route, whose answer `log.json` is.
    fn writes_log(&self) -> bool {
        false
    }
}

/// A stored row on its way into the result files: its JSON as stored, parsed whole at most
/// once, and only if a file shows one of its fields.
pub struct ResultRow<'a> {
    stored: StoredOutcome<'a>,
    parsed: std::sync::OnceLock<RowOutcome>,
}

impl<'a> ResultRow<'a> {
    pub fn new(stored: StoredOutcome<'a>) -> Self {
        Self {
            stored,
            parsed: std::sync::OnceLock::new(),
        }
    }

    pub fn is_failed(&self) -> bool {
        self.stored.is_failed()
    }

    /// The outcome's JSON as stored.
    pub fn json(&self) -> &'a str {
        self.stored.json.get()
    }

    /// The whole outcome.
    pub fn outcome(&self) -> Result<&RowOutcome, StoreError> {
        if let Some(parsed) = self.parsed.get() {
            return Ok(parsed);
        }
        let parsed = self
            .stored
            .parse()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(self.parsed.get_or_init(|| parsed))
    }
}

/// A result file being written, from its start.
#[async_trait]
pub trait ResultFileWriter: Send {
    /// Appends `bytes` and leaves the vector empty. A writer may keep the vector and hand
    /// back another (or the same one, cleared): the local writer hands its bytes to a
    /// blocking thread without copying them, and the caller reuses a buffer already in
    /// memory.
    async fn write(&mut self, bytes: &mut Vec<u8>) -> Result<(), StoreError>;
    /// Completes the file (it replaces any earlier one); its size in bytes.
    async fn finish(self: Box<Self>) -> Result<u64, StoreError>;
}

/// Where result files are kept, and how a caller reaches them.
#[async_trait]
pub trait ResultFileStore: Send + Sync {
    /// Starts writing job `job_id`'s `file`.
    async fn create(
        &self,
        job_id: &str,
        file: ResultFile,
    ) -> Result<Box<dyn ResultFileWriter>, StoreError>;
    /// A URL that reads job `job_id`'s `file` until `expires_at_ms`.
    async fn link(
        &self,
        job_id: &str,
        file: ResultFile,
        expires_at_ms: i64,
    ) -> Result<String, StoreError>;
}

/// Asks for a final job's result files to be written.
#[async_trait]
pub trait ResultsRequests: Send + Sync {
    async fn request(&self, job_id: &str) -> Result<(), StoreError>;
}

/// Writes job `job_id`'s result files when it is final, settled and has none; `None` when
/// there is nothing to write (no such job, not settled, written already).
pub async fn write_for_job(
    jobs: &dyn crate::store::JobStore,
    files: &dyn ResultFileStore,
    job_id: &str,
) -> Result<Option<std::collections::BTreeMap<String, u64>>, StoreError> {
    let Some(job) = jobs.get_job(job_id).await? else {
        tracing::warn!("result files of a job that does not exist; dropped");
        return Ok(None);
    };
    // A job stopped or cancelled while chunks ran is asked again when its last is counted.
    if !job.is_settled() || !job.result_files.is_empty() {
        tracing::info!(state = job.state.as_str(), "no result files to write (yet)");
        return Ok(None);
    }
    let sizes =
        write_result_files(jobs, files, &job, crate::ops::result_rows(job.job_type)).await?;
    tracing::info!(?sizes, "result files written");
    Ok(Some(sizes))
}

/// What the read routes need of result files: where they are, and how to ask for missing ones.
#[derive(Clone)]
pub struct ResultAccess {
    pub files: Arc<dyn ResultFileStore>,
    pub requests: Arc<dyn ResultsRequests>,
}

impl ResultAccess {
    /// Asks again for the files of a final job that has none a while after it ended (its first
    /// request was lost); best effort, logged.
    pub async fn request_if_missing(&self, job: &Job, now_ms: i64) {
        let ended = job.processing_end_ms.unwrap_or(job.init_time_ms);
        if !job.is_settled()
            || !job.result_files.is_empty()
            || now_ms - ended < REQUEST_AGAIN_AFTER_MS
        {
            return;
        }
        match self.requests.request(&job.id).await {
            Ok(()) => tracing::warn!(job_id = %job.id, "result files missing: asked again"),
            Err(error) => {
                tracing::warn!(job_id = %job.id, %error, "asking for result files failed")
            }
        }
    }
}
