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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn mfp_states_and_counts() {
        let running = JobStatus::parse(
            Api::Mfp,
            &json!({"id": "j", "state": "PROCESSING", "rowsProcessed": 3, "rowsFailed": 1, "rowsSkipped": 0, "totalRows": 10}),
            10,
        )
        .unwrap();
        assert_eq!(
            (running.done(), running.total, running.is_final),
            (4, 10, false)
        );

        let completed = JobStatus::parse(
            Api::Mfp,
            &json!({"state": "COMPLETED", "rowsProcessed": 9, "rowsFailed": 1, "firstFailedRow": 4, "errorMessage": "row 4 failed"}),
            10,
        )
        .unwrap();
        assert!(completed.is_final && !completed.job_failed);
        // A completed job's errorMessage belongs to its first failed row.
        assert_eq!((completed.total, completed.error), (10, None));

        let cancelled = JobStatus::parse(
            Api::Mfp,
            &json!({"state": "CANCELLED", "rowsProcessed": 2, "rowsSkipped": 8, "errorMessage": "cancelled by user"}),
            10,
        )
        .unwrap();
        assert!(cancelled.is_final && cancelled.job_failed);
        assert_eq!(cancelled.error.as_deref(), Some("cancelled by user"));
        assert_eq!(cancelled.done(), 10);
    }

    #[test]
    fn accounts_statuses_and_counts() {
        let pending =
            JobStatus::parse(Api::Accounts, &json!({"Id": 1, "Status": "Pending"}), 4).unwrap();
        assert_eq!((pending.done(), pending.is_final), (0, false));

        let with_errors = JobStatus::parse(
            Api::Accounts,
            &json!({"Status": "completedWithErrors", "Result": {"Succeeded": 3, "Failed": 1}}),
            4,
        )
        .unwrap();
        assert!(with_errors.is_final && !with_errors.job_failed);
        assert_eq!(
            (
                with_errors.succeeded,
                with_errors.failed,
                with_errors.skipped
            ),
            (3, 1, 0)
        );

        let failed = JobStatus::parse(
            Api::Accounts,
            &json!({"Status": "failed", "Result": {"Succeeded": 1, "Failed": 0, "Error": "The upload was cancelled"}}),
            4,
        )
        .unwrap();
        assert!(failed.is_final && failed.job_failed);
        assert_eq!(
            (failed.skipped, failed.error.as_deref()),
            (3, Some("The upload was cancelled"))
        );

        let vendor_word =
            JobStatus::parse(Api::Accounts, &json!({"Status": "completed"}), 1).unwrap();
        assert!(vendor_word.is_final);
    }

    #[test]
    fn a_document_without_a_state_is_an_error() {
        assert!(JobStatus::parse(Api::Mfp, &json!({"id": "j"}), 1).is_err());
        assert!(JobStatus::parse(Api::Accounts, &json!(17), 1).is_err());
    }
}
