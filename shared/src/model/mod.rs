//! The job and row model shared by every function.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

mod bulk_operation;
mod rows;
mod seed;
mod stored_outcome;
mod tolerance;

pub use bulk_operation::BulkOperation;
pub use rows::{ChunkCounts, ChunkMessage, ChunkRow, Outcome, RowOutcome, Secrets};
pub use seed::{JobSeed, SeedDeriver};
pub use stored_outcome::StoredOutcome;
pub use tolerance::{FailureTolerance, InvalidTolerance, PERCENTAGE_MIN_ROWS};

/// How long a job and its rows are kept after its creation (the table's TTL).
pub const JOB_RETENTION_SECONDS: i64 = 30 * 24 * 3600;
/// How long after its upload URL expires a staged job may still receive its file.
pub const UPLOAD_GRACE_SECONDS: i64 = 3_600;

/// Bulk operation state, as in the Entrust contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobState {
    Scheduled,
    Processing,
    Completed,
    Failed,
    Cancelled,
    AwaitingData,
}

impl JobState {
    /// A terminal state never changes again.
    pub fn is_terminal(self) -> bool {
        !Self::CANCELLABLE.contains(&self)
    }

    /// The state machine's rules, defined once here and used by both store adapters (as Rust
    /// checks in the embedded store, as condition expressions on DynamoDB):
    /// AWAITING_DATA → SCHEDULED (released) → PROCESSING (first chunk) → COMPLETED (last
    /// chunk counted); CANCELLED from any non-final state; FAILED from AWAITING_DATA (never
    /// released).
    ///
    /// The states in which a chunk may be claimed and run.
    pub const RUNNABLE: [JobState; 2] = [Self::Scheduled, Self::Processing];
    /// The non-final states: CANCELLED may follow each; a first failure may still be lowered.
    pub const CANCELLABLE: [JobState; 3] = [Self::AwaitingData, Self::Scheduled, Self::Processing];

    pub fn is_runnable(self) -> bool {
        Self::RUNNABLE.contains(&self)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "SCHEDULED",
            Self::Processing => "PROCESSING",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
            Self::Cancelled => "CANCELLED",
            Self::AwaitingData => "AWAITING_DATA",
        }
    }
}

/// A job transition that emits an event. The transition records it in the job's outbox in
/// the same conditional write; a publisher turns it into an event and removes it once the
/// event is acknowledged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventKind {
    /// Released: every chunk is queued (AWAITING_DATA → SCHEDULED).
    Created,
    /// The first chunk started (SCHEDULED → PROCESSING).
    Processing,
    Completed,
    Failed,
    Cancelled,
}

impl EventKind {
    pub const ALL: [EventKind; 5] = [
        Self::Created,
        Self::Processing,
        Self::Completed,
        Self::Failed,
        Self::Cancelled,
    ];

    /// The outbox key, and the last part of the event's id (`<job id>:<key>`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "CREATED",
            Self::Processing => "PROCESSING",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
            Self::Cancelled => "CANCELLED",
        }
    }

    /// The EventBridge detail-type.
    pub fn detail_type(self) -> &'static str {
        match self {
            Self::Created => "Bulk Job Created",
            Self::Processing => "Bulk Job Processing",
            Self::Completed => "Bulk Job Completed",
            Self::Failed => "Bulk Job Failed",
            Self::Cancelled => "Bulk Job Cancelled",
        }
    }

    pub fn parse(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == key)
    }
}

/// The kind of bulk operation; selects the row operation that processes its chunks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum JobType {
    #[serde(rename = "SEND_MFP")]
    SendMfp,
    /// The CyberArk-style bulk account upload.
    #[serde(rename = "ADD_ACCOUNTS")]
    AddAccounts,
}

impl JobType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SendMfp => "SEND_MFP",
            Self::AddAccounts => "ADD_ACCOUNTS",
        }
    }

    /// Jobs only their creator may see (listed per owner) rather than per permission.
    pub fn is_owner_scoped(self) -> bool {
        matches!(self, Self::AddAccounts)
    }

    /// Human-readable operation name shown in `BulkOperation.name`.
    pub fn display_name(self) -> &'static str {
        match self {
            Self::SendMfp => "Send mobile flash pass",
            Self::AddAccounts => "Bulk account upload",
        }
    }
}

/// A bulk job as stored. Counters are only ever changed once per chunk (see `engine`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub id: String,
    pub job_type: JobType,
    pub name: String,
    /// `sub` of the caller who created the job.
    pub owner: String,
    /// Free-text description of where the rows came from (CyberArk `Source`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The `clientToken` of the event-driven request that created the job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    pub state: JobState,
    pub init_time_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_start_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_end_ms: Option<i64>,
    pub total_rows: u32,
    pub chunk_count: u32,
    #[serde(default)]
    pub rows_processed: u32,
    #[serde(default)]
    pub rows_failed: u32,
    /// Rows that will never run because the job was cancelled or failed as a whole.
    #[serde(default)]
    pub rows_skipped: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_failed_row: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// Every chunk below this one has its counts in the counters: the recorded chunks
    /// compacted into one number, so the job item stays small however many chunks it has.
    #[serde(default)]
    pub recorded_below: u32,
    /// Chunk numbers at or above `recorded_below` whose counts are already in the counters
    /// (stored as a string set, compacted into `recorded_below` as it fills up).
    #[serde(skip)]
    pub recorded_chunks: BTreeSet<u32>,
    /// Chunk numbers a delivery has started to run and that are not recorded yet: such a chunk
    /// is finished by running, never skipped (stored as a string set; recording removes it).
    #[serde(skip)]
    pub claimed_chunks: BTreeSet<u32>,
    /// Transitions whose events are not published yet, with their times (ms): the outbox.
    #[serde(default)]
    pub outbox: BTreeMap<EventKind, i64>,
    /// How many failed rows the caller accepts before the job is stopped.
    #[serde(default, flatten)]
    pub tolerance: FailureTolerance,
    /// The job whose failed rows this one retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_of: Option<String>,
    /// The jobs retrying this one's failed rows, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retries: Vec<String>,
    /// A job whose rows come in a staged file: until when its upload URL takes the file. Past
    /// it, a job still AWAITING_DATA has no file coming and ends FAILED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_expires_at_ms: Option<i64>,
    /// When a staged job's file arrived (its split began): from then on it is no longer
    /// overdue for it, however long the split takes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_received_ms: Option<i64>,
    /// The job's result files (by name, with their sizes in bytes), once written after it
    /// ended; empty until then (see [`crate::results`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub result_files: BTreeMap<String, u64>,
    /// A staged job whose split ran out of time: its chunks below this one are parked, and the
    /// next run parks from there (see [`crate::staged::split`]).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub split_parked_below: u32,
    /// What the job's side-effect secrets derive from (see [`JobSeed`]); absent on jobs
    /// created before seeds, whose operations then create their side effects only if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<JobSeed>,
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

impl Job {
    pub fn new(id: String, job_type: JobType, owner: String, total_rows: u32, now_ms: i64) -> Self {
        Self {
            id,
            job_type,
            name: job_type.display_name().to_owned(),
            owner,
            source: None,
            client_token: None,
            state: JobState::Scheduled,
            init_time_ms: now_ms,
            processing_start_ms: None,
            processing_end_ms: None,
            total_rows,
            chunk_count: 0,
            rows_processed: 0,
            rows_failed: 0,
            rows_skipped: 0,
            first_failed_row: None,
            error_message: None,
            recorded_below: 0,
            recorded_chunks: BTreeSet::new(),
            claimed_chunks: BTreeSet::new(),
            outbox: BTreeMap::new(),
            tolerance: FailureTolerance::default(),
            retry_of: None,
            retries: Vec::new(),
            upload_expires_at_ms: None,
            file_received_ms: None,
            result_files: BTreeMap::new(),
            split_parked_below: 0,
            seed: Some(JobSeed::random()),
        }
    }

    /// When the job and its rows are gone: [`JOB_RETENTION_SECONDS`] after its creation.
    pub fn expires_at_ms(&self) -> i64 {
        self.init_time_ms + JOB_RETENTION_SECONDS * 1000
    }

    /// Whether the job is past its retention at `now_ms` (reads answer 410, lists omit it,
    /// whether or not the table's TTL has deleted it yet).
    pub fn is_expired(&self, now_ms: i64) -> bool {
        now_ms >= self.expires_at_ms()
    }

    /// Whether chunk `chunk`'s counts are in the counters.
    pub fn is_chunk_recorded(&self, chunk: u32) -> bool {
        chunk < self.recorded_below || self.recorded_chunks.contains(&chunk)
    }

    /// How many of the job's chunks are recorded.
    pub fn chunks_recorded(&self) -> u32 {
        let above = self.recorded_chunks.range(self.recorded_below..).count();
        self.recorded_below + above as u32
    }

    /// Whether the job is final and every chunk of it counted: its rows will not change any
    /// more (a job stopped or cancelled while chunks ran settles when the last is counted).
    pub fn is_settled(&self) -> bool {
        self.state.is_terminal() && self.chunks_recorded() >= self.chunk_count
    }

    /// The low-water mark the recorded chunks compact to: the first chunk not recorded.
    pub fn compacted_below(&self) -> u32 {
        let mut below = self.recorded_below;
        while self.recorded_chunks.contains(&below) {
            below += 1;
        }
        below
    }

    /// A staged job still waiting for its file an hour after its upload URL expired (an
    /// upload begun before the URL expired may still be arriving until then): it never gets
    /// one, and is ended FAILED when next read or swept.
    pub fn is_upload_overdue(&self, now_ms: i64) -> bool {
        self.upload_due_at_ms().is_some_and(|due| now_ms >= due)
    }

    /// When a staged job still waiting for its file becomes overdue: its upload URL's expiry
    /// plus the grace. `None` for any other job (not staged, not AWAITING_DATA, or its file
    /// arrived).
    pub fn upload_due_at_ms(&self) -> Option<i64> {
        self.upload_expires_at_ms
            .filter(|_| self.state == JobState::AwaitingData && self.file_received_ms.is_none())
            .map(|until| until + UPLOAD_GRACE_SECONDS * 1000)
    }

    /// Rows with a final outcome (or skipped for good).
    pub fn rows_accounted(&self) -> u32 {
        self.rows_processed + self.rows_failed + self.rows_skipped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use serde_json::Map;

    #[test]
    fn bulk_operation_uses_contract_field_names() {
        let mut job = Job::new(
            "j1".into(),
            JobType::SendMfp,
            "alice".into(),
            3,
            1_550_582_127_000,
        );
        job.state = JobState::Completed;
        job.processing_start_ms = Some(1_550_582_128_000);
        job.processing_end_ms = Some(1_550_582_128_250);
        job.rows_processed = 2;
        job.rows_failed = 1;
        job.first_failed_row = Some(2);
        job.error_message = Some("boom".into());
        let v = serde_json::to_value(job.to_bulk_operation()).unwrap();
        assert_eq!(
            v,
            json!({
                "id": "j1", "name": "Send mobile flash pass", "type": "SEND_MFP", "state": "COMPLETED",
                "initTime": "2019-02-19T13:15:27.000Z",
                "processingStartTime": "2019-02-19T13:15:28.000Z",
                "processingEndTime": "2019-02-19T13:15:28.250Z",
                "processingTime": 250, "rowsProcessed": 2, "rowsFailed": 1,
                "firstFailedRow": 2, "errorMessage": "boom", "totalRows": 3, "rowsSkipped": 0,
                "expiresAt": "2019-03-21T13:15:27.000Z"
            })
        );
    }

    #[test]
    fn row_outcome_flattens_the_item_echo() {
        let mut item = Map::new();
        item.insert("id".into(), json!("abc"));
        let o = RowOutcome::failed(7, item, "ENROLLMENT_NOT_FOUND", "nope");
        assert_eq!(
            serde_json::to_value(&o).unwrap(),
            json!({"row": 7, "id": "abc", "outcome": "FAILED", "errorCode": "ENROLLMENT_NOT_FOUND", "errorMessage": "nope"})
        );
        let back: RowOutcome = serde_json::from_value(serde_json::to_value(&o).unwrap()).unwrap();
        assert_eq!(back, o);
    }

    #[test]
    fn counts_split_success_and_failure() {
        let ok = RowOutcome::succeeded(1, Map::new(), None);
        let bad = RowOutcome::failed(2, Map::new(), "X", "x");
        assert_eq!(
            ChunkCounts::of(&[ok, bad]),
            ChunkCounts {
                succeeded: 1,
                failed: 1,
                skipped: 0
            }
        );
    }
}
