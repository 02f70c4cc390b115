//! The Entrust contract's `BulkOperation`: what the flash pass routes answer about a job.

use serde::{Deserialize, Serialize};

use super::{FailureTolerance, Job, JobState, JobType};
use crate::time::rfc3339;

impl Job {
    /// The Entrust `BulkOperation` view of this job.
    pub fn to_bulk_operation(&self) -> BulkOperation {
        BulkOperation {
            id: self.id.clone(),
            name: self.name.clone(),
            op_type: self.job_type,
            state: self.state,
            init_time: rfc3339(self.init_time_ms),
            processing_start_time: self.processing_start_ms.map(rfc3339),
            processing_end_time: self.processing_end_ms.map(rfc3339),
            processing_time: match (self.processing_start_ms, self.processing_end_ms) {
                (Some(start), Some(end)) => Some(end - start),
                _ => None,
            },
            rows_processed: self.rows_processed,
            rows_failed: self.rows_failed,
            first_failed_row: self.first_failed_row,
            error_message: self.error_message.clone(),
            total_rows: self.total_rows,
            rows_skipped: self.rows_skipped,
            expires_at: rfc3339(self.expires_at_ms()),
            tolerance: self.tolerance,
            retry_of: self.retry_of.clone(),
            retries: self.retries.clone(),
            upload_expires_at: self.upload_expires_at_ms.map(rfc3339),
        }
    }
}

/// `BulkOperation` exactly as the Entrust contract names it, plus two additive fields
/// (`totalRows`, `rowsSkipped`) so callers can show progress and see rows never run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkOperation {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub op_type: JobType,
    pub state: JobState,
    pub init_time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_end_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_time: Option<i64>,
    pub rows_processed: u32,
    pub rows_failed: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_failed_row: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    pub total_rows: u32,
    #[serde(default)]
    pub rows_skipped: u32,
    /// Additive: when the job and its rows are deleted; reads answer 410 Gone after it.
    #[serde(default)]
    pub expires_at: String,
    /// Additive: the tolerated failures the job was created with, if any.
    #[serde(default, flatten)]
    pub tolerance: FailureTolerance,
    /// Additive: the job whose failed rows this one retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_of: Option<String>,
    /// Additive: the jobs retrying this one's failed rows, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retries: Vec<String>,
    /// Additive: a staged job's upload URL takes its file until then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_expires_at: Option<String>,
}
