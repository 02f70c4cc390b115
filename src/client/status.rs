//! One view of a job's progress over the two APIs' different status documents.

use serde::Deserialize;
use serde_json::Value;

use super::args::Api;

/// Where a job stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobStatus {
    /// The state (mfp) or Status (accounts) exactly as the API wrote it.
    pub state: String,
    pub total: u64,
    pub succeeded: u64,
    pub failed: u64,
    /// Rows that will never run (a cancelled or failed job).
    pub skipped: u64,
    /// No further change will come.
    pub is_final: bool,
    /// The job as a whole failed or was cancelled (rows failing is not this).
    pub job_failed: bool,
    /// The job-level error, when the job failed.
    pub error: Option<String>,
}

impl JobStatus {
    /// Rows with an outcome, for the progress bar.
    pub fn done(&self) -> u64 {
        self.succeeded + self.failed + self.skipped
    }

    /// Reads the GET answer of `api`; `submitted` is the row count sent, the total when the
    /// document has none.
    pub fn parse(api: Api, body: &Value, submitted: u64) -> Result<Self, serde_json::Error> {
        match api {
            Api::Mfp => Ok(from_bulk_operation(
                BulkOperation::deserialize(body)?,
                submitted,
            )),
            Api::Accounts => Ok(from_accounts(AccountsResult::deserialize(body)?, submitted)),
        }
    }
}

/// The fields of an Entrust BulkOperation the client needs.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BulkOperation {
    state: String,
    #[serde(default)]
    rows_processed: u64,
    #[serde(default)]
    rows_failed: u64,
    #[serde(default)]
    rows_skipped: u64,
    total_rows: Option<u64>,
    error_message: Option<String>,
}

fn from_bulk_operation(op: BulkOperation, submitted: u64) -> JobStatus {
    let state = op.state.to_ascii_uppercase();
    let job_failed = matches!(state.as_str(), "FAILED" | "CANCELLED");
    JobStatus {
        is_final: job_failed || state == "COMPLETED",
        job_failed,
        // On a completed job errorMessage is the first failed row's; only a failed job's is its own.
        error: op.error_message.filter(|_| job_failed),
        state: op.state,
        total: op.total_rows.unwrap_or(submitted),
        succeeded: op.rows_processed,
        failed: op.rows_failed,
        skipped: op.rows_skipped,
    }
}

/// The fields of a CyberArk BulkAccountsOperationResult the client needs.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AccountsResult {
    status: String,
    #[serde(default)]
    result: Counts,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct Counts {
    #[serde(default)]
    succeeded: u64,
    #[serde(default)]
    failed: u64,
    error: Option<String>,
}

fn from_accounts(result: AccountsResult, submitted: u64) -> JobStatus {
    let status = result.status.to_ascii_lowercase();
    let job_failed = status == "failed";
    // The vendor's docs also write `completed`.
    let is_final = job_failed
        || matches!(
            status.as_str(),
            "completedsuccessfully" | "completedwitherrors" | "completed"
        );
    let Counts {
        succeeded,
        failed,
        error,
    } = result.result;
    // The API has no skipped count: what never ran is the rest, once nothing more will run.
    let skipped = if is_final {
        submitted.saturating_sub(succeeded + failed)
    } else {
        0
    };
    JobStatus {
        state: result.status,
        total: submitted,
        succeeded,
        failed,
        skipped,
        is_final,
        job_failed,
        error,
    }
}
