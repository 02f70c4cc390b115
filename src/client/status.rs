//! One view of a job's progress over the two APIs' different status documents.

use serde::Deserialize;
use serde_json::Value;

use super::args::Api;

/// Where a job stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobStatus {
    /// The state (mfp) or Status (accounts) exactly as the API wrote it.
    pub state: String,
    /// Rows in the job: the mfp `totalRows`; for an upload, the rows submitted when known.
    pub total: Option<u64>,
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
    /// Rows that ran (skipped ones did not: a cancelled job's bar stops where it was).
    pub fn done(&self) -> u64 {
        self.succeeded + self.failed
    }

    /// Final, with every row accounted for. A job is CANCELLED at once, but a chunk already
    /// claimed keeps running and the others are counted as skipped as the workers reach
    /// them: until then its rows are not settled.
    pub fn settled(&self) -> bool {
        match self.total {
            Some(total) if self.job_failed => self.done() + self.skipped >= total,
            _ => self.is_final,
        }
    }

    /// `PROCESSING, 120/1000 rows done`, for messages.
    pub fn brief(&self) -> String {
        let skipped = match self.skipped {
            0 => String::new(),
            n => format!(", {n} skipped"),
        };
        match self.total {
            Some(total) => format!("{}, {}/{total} rows done{skipped}", self.state, self.done()),
            None => format!("{}, {} rows done{skipped}", self.state, self.done()),
        }
    }

    /// Reads the GET answer of `api`; `submitted` is the row count sent, the total when the
    /// document has none.
    pub fn parse(
        api: Api,
        body: &Value,
        submitted: Option<u64>,
    ) -> Result<Self, serde_json::Error> {
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

fn from_bulk_operation(op: BulkOperation, submitted: Option<u64>) -> JobStatus {
    let state = op.state.to_ascii_uppercase();
    let job_failed = matches!(state.as_str(), "FAILED" | "CANCELLED");
    JobStatus {
        is_final: job_failed || state == "COMPLETED",
        job_failed,
        // On a completed job errorMessage is the first failed row's; only a failed job's is its own.
        error: op.error_message.filter(|_| job_failed),
        state: op.state,
        total: op.total_rows.or(submitted),
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

fn from_accounts(result: AccountsResult, submitted: Option<u64>) -> JobStatus {
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
    // The API has no skipped count: what never ran is the rest, once nothing more will run
    // (known only with the rows submitted); a finished upload without them totals its counts.
    let skipped = match (is_final, submitted) {
        (true, Some(submitted)) => submitted.saturating_sub(succeeded + failed),
        _ => 0,
    };
    let total = submitted.or(is_final.then_some(succeeded + failed));
    JobStatus {
        state: result.status,
        total,
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
            Some(10),
        )
        .unwrap();
        assert_eq!(
            (running.done(), running.total, running.is_final),
            (4, Some(10), false)
        );
        assert_eq!(running.brief(), "PROCESSING, 4/10 rows done");

        let completed = JobStatus::parse(
            Api::Mfp,
            &json!({"state": "COMPLETED", "rowsProcessed": 9, "rowsFailed": 1, "firstFailedRow": 4, "errorMessage": "row 4 failed"}),
            Some(10),
        )
        .unwrap();
        assert!(completed.is_final && !completed.job_failed);
        // A completed job's errorMessage belongs to its first failed row.
        assert_eq!((completed.total, completed.error.clone()), (Some(10), None));

        let cancelled = JobStatus::parse(
            Api::Mfp,
            &json!({"state": "CANCELLED", "rowsProcessed": 2, "rowsSkipped": 8, "errorMessage": "cancelled by user"}),
            Some(10),
        )
        .unwrap();
        assert!(cancelled.is_final && cancelled.job_failed);
        assert_eq!(cancelled.error.as_deref(), Some("cancelled by user"));
        // The skipped rows never ran: the bar stays at the 2 that did.
        assert_eq!((cancelled.done(), cancelled.skipped), (2, 8));
        assert!(cancelled.settled());
        // Just cancelled: the other rows are not yet counted as skipped.
        let cancelling = JobStatus::parse(
            Api::Mfp,
            &json!({"state": "CANCELLED", "rowsProcessed": 2, "rowsSkipped": 3, "totalRows": 10}),
            None,
        )
        .unwrap();
        assert!(cancelling.is_final && !cancelling.settled());
        assert!(completed.settled() && !running.settled());
    }

    #[test]
    fn accounts_statuses_and_counts() {
        let pending = JobStatus::parse(
            Api::Accounts,
            &json!({"Id": 1, "Status": "Pending"}),
            Some(4),
        )
        .unwrap();
        assert_eq!((pending.done(), pending.is_final), (0, false));

        let with_errors = JobStatus::parse(
            Api::Accounts,
            &json!({"Status": "completedWithErrors", "Result": {"Succeeded": 3, "Failed": 1}}),
            Some(4),
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
            Some(4),
        )
        .unwrap();
        assert!(failed.is_final && failed.job_failed);
        assert_eq!(
            (failed.skipped, failed.error.as_deref()),
            (3, Some("The upload was cancelled"))
        );

        let vendor_word =
            JobStatus::parse(Api::Accounts, &json!({"Status": "completed"}), Some(1)).unwrap();
        assert!(vendor_word.is_final);

        // Without the rows submitted (`wait ID` with no --input): unknown until it ends.
        let running = JobStatus::parse(
            Api::Accounts,
            &json!({"Status": "inProgress", "Result": {"Succeeded": 3, "Failed": 1}}),
            None,
        )
        .unwrap();
        assert_eq!(
            (running.total, running.brief().as_str()),
            (None, "inProgress, 4 rows done")
        );
        let done = JobStatus::parse(
            Api::Accounts,
            &json!({"Status": "completedWithErrors", "Result": {"Succeeded": 3, "Failed": 1}}),
            None,
        )
        .unwrap();
        assert_eq!((done.total, done.skipped), (Some(4), 0));
    }

    #[test]
    fn a_document_without_a_state_is_an_error() {
        assert!(JobStatus::parse(Api::Mfp, &json!({"id": "j"}), Some(1)).is_err());
        assert!(JobStatus::parse(Api::Accounts, &json!(17), None).is_err());
    }
}
