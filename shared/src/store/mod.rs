//! Storage ports. The engine and the operations see only these traits; `dynamo` implements
//! them on DynamoDB (and anything speaking its protocol, such as moto or LocalStack).

pub mod dynamo;
mod idempotency;

pub use idempotency::{
    KeyClaim, KeyRecord, StoredResponse, IDEMPOTENCY_LEASE_MS, IDEMPOTENCY_RETENTION_SECONDS,
};
pub mod keys;
pub mod quota;
mod records;
mod secrets;
mod stored_chunk;

pub use quota::{Admission, Quota};
pub use records::{Record, RecordKey, RecordStore};
pub use secrets::{secrets_expire_at_ms, SecretStore, SECRETS_RETENTION_SECONDS};
pub use stored_chunk::{StoredChunk, StoredChunkJson};

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::error::StoreError;
use crate::model::{ChunkCounts, ChunkMessage, EventKind, Job, JobState, JobType, RowOutcome};

/// The listing partition of a job type's jobs: one per type, or one per owner for
/// owner-scoped types. The owner enters as the SHA-256 of its `sub`, so every owner's
/// partition has the same length and alphabet: no subject's partition is a prefix of
/// another's, and a subject of any length fits a key. Readers still compare the stored
/// `owner` with the caller's `sub` byte for byte.
pub fn jobs_partition(job_type: JobType, owner: &str) -> String {
    use sha2::{Digest, Sha256};
    if !job_type.is_owner_scoped() {
        return format!("{}{}", keys::JOBS_PREFIX, job_type.as_str());
    }
    format!(
        "{}{}#{}",
        keys::JOBS_PREFIX,
        job_type.as_str(),
        hex::encode(Sha256::digest(owner.as_bytes()))
    )
}

/// Whether `job` belongs in `owner`'s listing of its type.
pub fn listed_for(job: &Job, owner: &str) -> bool {
    !job.job_type.is_owner_scoped() || job.owner == owner
}

/// A chunk's lowest failed row and its message, recorded with the chunk's counts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FirstFailure<'a> {
    pub row: u32,
    pub message: &'a str,
}

/// Result of recording a chunk's counts on its job.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    /// The job after the update (or as it was, when the chunk had been recorded before).
    pub job: Job,
    /// False when this chunk was already recorded: a duplicate delivery.
    pub newly_recorded: bool,
}

/// Result of a cancel request.
#[derive(Clone, Debug, PartialEq)]
pub enum CancelOutcome {
    Cancelled(Box<Job>),
    NotFound,
    /// The job is already in this terminal state and was not changed.
    AlreadyFinal(JobState),
}

/// Result of claiming a chunk for running.
#[derive(Clone, Debug, PartialEq)]
pub enum Claim {
    /// The chunk is claimed (now, or by an earlier delivery): it is run to the end. The job
    /// after the claim.
    Claimed(Box<Job>),
    /// The chunk may not run: it is recorded already, or it was never claimed and the job is
    /// not SCHEDULED or PROCESSING. The job as it is.
    Refused(Box<Job>),
    JobMissing,
}

/// Result of skipping a chunk that will never run.
#[derive(Clone, Debug, PartialEq)]
pub enum Skip {
    /// Recorded as skipped now (or recorded before: `newly_recorded` false).
    Recorded(Box<Recorded>),
    /// A delivery claimed the chunk meanwhile: it must be run, not skipped.
    Claimed,
    JobMissing,
}

/// Result of a conditional state change.
#[derive(Clone, Debug, PartialEq)]
pub enum Transition {
    /// The job moved; the job after the change.
    Moved(Box<Job>),
    /// The job was not in a state this change starts from; the job as it is.
    Unchanged(Box<Job>),
    JobMissing,
}

impl Transition {
    /// The job after the change, if this transition moved it.
    pub fn moved(self) -> Option<Job> {
        match self {
            Transition::Moved(job) => Some(*job),
            Transition::Unchanged(_) | Transition::JobMissing => None,
        }
    }
}

/// Jobs, their per-chunk row outcomes, and the count-once bookkeeping.
#[async_trait]
pub trait JobStore: SecretStore + Send + Sync {
    /// Creates a job; fails if the id exists.
    async fn create_job(&self, job: &Job) -> Result<(), StoreError>;
    /// Creates a job if its owner stays within `quota` with it, counting it in the same
    /// transaction (see [`quota`]); fails if the id exists.
    async fn create_job_within(&self, job: &Job, quota: &Quota) -> Result<Admission, StoreError>;
    /// Strongly consistent read of a job.
    async fn get_job(&self, id: &str) -> Result<Option<Job>, StoreError>;
    /// Jobs of one type, newest first; for owner-scoped types only `owner`'s.
    async fn list_jobs(
        &self,
        job_type: JobType,
        owner: &str,
        limit: usize,
    ) -> Result<Vec<Job>, StoreError>;
    /// The next value of a named, never-reused, increasing sequence (starts at 1).
    async fn next_sequence(&self, name: &str) -> Result<i64, StoreError>;
    /// AWAITING_DATA → SCHEDULED, once every chunk is queued: only then may chunks run.
    async fn release(&self, id: &str) -> Result<Transition, StoreError>;
    /// AWAITING_DATA → SCHEDULED for a job read from a staged file, setting the totals its
    /// file turned out to hold (its chunks are parked).
    async fn release_staged(
        &self,
        id: &str,
        total_rows: u32,
        chunk_count: u32,
    ) -> Result<Transition, StoreError>;
    /// AWAITING_DATA → FAILED with `message`, every row skipped and every chunk recorded: a job
    /// whose chunks were not all queued never runs any.
    async fn abandon(&self, id: &str, message: &str, now_ms: i64)
        -> Result<Transition, StoreError>;
    /// As [`Self::abandon`], for a staged job whose file never came: only while it is
    /// AWAITING_DATA and no file has arrived ([`Self::note_file_received`]).
    async fn expire_upload(
        &self,
        id: &str,
        message: &str,
        now_ms: i64,
    ) -> Result<Transition, StoreError>;
    /// Claims a chunk for running: succeeds if it is claimed already, or if it is not recorded
    /// and the job is SCHEDULED or PROCESSING.
    async fn claim_chunk(&self, id: &str, chunk: u32) -> Result<Claim, StoreError>;
    /// Records a chunk that was never claimed as `rows` skipped (a chunk of a CANCELLED or
    /// FAILED job); a claimed chunk is left to run.
    async fn skip_chunk(&self, id: &str, chunk: u32, rows: u32) -> Result<Skip, StoreError>;
    /// SCHEDULED → PROCESSING (sets the start time); no change from any other state. The job
    /// as this call left it if this call moved it (its event in the outbox), else `None`.
    async fn start_processing(&self, id: &str, now_ms: i64) -> Result<Option<Job>, StoreError>;
    /// Stores a chunk's row outcomes once: if outcomes are stored for the chunk already (an
    /// earlier or concurrent delivery, or the dead-letter path), they are kept and returned,
    /// as the ones the chunk is counted with; `None` means `outcomes` were stored now.
    async fn store_chunk_outcomes(
        &self,
        id: &str,
        chunk: u32,
        outcomes: &[RowOutcome],
    ) -> Result<Option<Vec<RowOutcome>>, StoreError>;
    /// Adds a chunk's counts to its job once: a chunk already recorded changes nothing.
    /// With the counts, in the same write, the chunk's `first_failure` lowers the job's
    /// `firstFailedRow` (and its `errorMessage`) if it is lower and the job is not final.
    /// `None` if the job does not exist.
    async fn record_chunk(
        &self,
        id: &str,
        chunk: u32,
        counts: ChunkCounts,
        first_failure: Option<FirstFailure<'_>>,
    ) -> Result<Option<Recorded>, StoreError>;
    /// [`claim_chunk`](Self::claim_chunk) for several chunks of one job in one write: all
    /// claimed if none is recorded and the job is SCHEDULED or PROCESSING (the job as the
    /// write left it), else none (`None`; each chunk's own claim then answers for it).
    async fn claim_chunks(&self, id: &str, chunks: &[u32]) -> Result<Option<Job>, StoreError>;
    /// [`record_chunk`](Self::record_chunk) for several claimed chunks of one job in one
    /// write, `first_failure` being the lowest of theirs: all recorded if none is recorded
    /// yet (the job as the write left it), else none (`None`, as for a missing job).
    async fn record_chunks(
        &self,
        id: &str,
        chunks: &[(u32, ChunkCounts)],
        first_failure: Option<FirstFailure<'_>>,
    ) -> Result<Option<Job>, StoreError>;
    /// PROCESSING → COMPLETED, exactly once: the job as this call left it, `None` if the job
    /// was not PROCESSING.
    async fn complete(&self, id: &str, now_ms: i64) -> Result<Option<Job>, StoreError>;
    /// Links `retry_id` to job `id` as one of its retries (appended once, in call order).
    async fn add_retry(&self, id: &str, retry_id: &str) -> Result<(), StoreError>;
    /// Notes that a staged job's chunks below `parked_below` are parked, while it waits for
    /// its split to finish (AWAITING_DATA): a split that runs out of time resumes there. Never
    /// lowers it.
    async fn record_split_progress(&self, id: &str, parked_below: u32) -> Result<(), StoreError>;
    /// Records that a final job's result files are written, with their sizes by name
    /// (replacing what an earlier write recorded); nothing when the job is gone.
    async fn record_result_files(
        &self,
        id: &str,
        files: &BTreeMap<String, u64>,
    ) -> Result<(), StoreError>;
    /// PROCESSING → FAILED with `message`, exactly once (the job as this call left it; `None`
    /// if the job was not PROCESSING): it failed more rows than its caller tolerates. Chunks
    /// already claimed finish and are counted; the others are skipped as they arrive.
    async fn stop_failed(
        &self,
        id: &str,
        message: &str,
        now_ms: i64,
    ) -> Result<Option<Job>, StoreError>;
    /// Any non-final state → CANCELLED. A job cancelled before its chunks were released
    /// (AWAITING_DATA) never runs any: its rows are all counted as skipped at once.
    async fn cancel(&self, id: &str, now_ms: i64) -> Result<CancelOutcome, StoreError>;
    /// Every stored row outcome of a job, in row order.
    async fn row_outcomes(&self, id: &str) -> Result<Vec<RowOutcome>, StoreError>;
    /// The chunks of a job whose outcomes are stored, from chunk `first` on, in chunk order,
    /// each as stored: at most `max` chunks, fewer only when no further chunk is stored. A
    /// strongly consistent read: every chunk stored before the call is in the answer (unless
    /// `max` ends it first). The result files read their rows with it.
    async fn chunk_outcome_json_from(
        &self,
        id: &str,
        first: u32,
        max: usize,
    ) -> Result<Vec<StoredChunkJson>, StoreError>;
    /// The same chunks parsed, each with its rows in row order. The rows routes read their
    /// pages with it.
    async fn chunk_outcomes_from(
        &self,
        id: &str,
        first: u32,
        max: usize,
    ) -> Result<Vec<StoredChunk>, StoreError> {
        self.chunk_outcome_json_from(id, first, max)
            .await?
            .iter()
            .map(StoredChunkJson::parse)
            .collect()
    }
    /// Jobs whose outbox holds unpublished events, about oldest first; at most `limit`.
    async fn jobs_with_pending_events(&self, limit: usize) -> Result<Vec<Job>, StoreError>;
    /// Removes published events from a job's outbox; idempotent.
    async fn mark_published(&self, id: &str, kinds: &[EventKind]) -> Result<(), StoreError>;
    /// A staged job's file arrived (its split begins): notes when, once, if the job is
    /// AWAITING_DATA. It is no longer overdue for its file and leaves [`Self::overdue_uploads`].
    /// The job after the note, or as it was (not AWAITING_DATA).
    async fn note_file_received(&self, id: &str, now_ms: i64) -> Result<Transition, StoreError>;
    /// Staged jobs still waiting for their file and overdue at `now_ms` (see
    /// [`Job::upload_due_at_ms`]), about the earliest due first; at most `limit`. A job leaves
    /// this set with its state (released, abandoned or cancelled) or when its file arrives. The publisher's sweep ends
    /// the ones nobody reads.
    async fn overdue_uploads(&self, now_ms: i64, limit: usize) -> Result<Vec<Job>, StoreError>;
    /// Makes every write acknowledged so far durable, before something outside the store (an
    /// event) announces it: an announced transition must survive a crash. DynamoDB's writes
    /// are durable when they return; the embedded store syncs its lazy commits.
    async fn make_durable(&self) -> Result<(), StoreError>;
    /// Reserves a request's client token (its [`client_token_key`]) for `job_id`, unless an
    /// earlier request holds it; returns the job id that holds it now. Kept
    /// [`CLIENT_TOKEN_RETENTION_SECONDS`].
    async fn claim_client_token(&self, key: &str, job_id: &str) -> Result<String, StoreError>;
    /// Claims an `Idempotency-Key` (its [`scoped_key`]) for `claim`: won if the key is new
    /// (or expired), or if its holder never answered and its lease ran out at `claim`'s time;
    /// else the record as it is.
    async fn claim_idempotency_key(
        &self,
        key: &str,
        claim: &KeyRecord,
    ) -> Result<KeyClaim, StoreError>;
    /// Stores the answer of the request that claimed `key` at `claimed_at_ms`; a no-op if a
    /// retry took the key over meanwhile.
    async fn answer_idempotency_key(
        &self,
        key: &str,
        claimed_at_ms: i64,
        response: &StoredResponse,
    ) -> Result<(), StoreError>;
    /// Frees a key whose request failed on the service's side, so that a retry runs again;
    /// only by the request that claimed it at `claimed_at_ms`, and only if unanswered.
    async fn release_idempotency_key(
        &self,
        key: &str,
        claimed_at_ms: i64,
    ) -> Result<(), StoreError>;
}

/// Chunks of a job waiting for their turn in the queue (see
/// [`crate::queue::WindowedQueue`]): a job of many chunks keeps only a window of them queued,
/// so a job behind it does not wait for all of them.
#[async_trait]
pub trait ChunkParking: Send + Sync {
    /// Stores chunk messages until their turn; idempotent (a chunk is the same message every
    /// time its job's rows are split).
    async fn park_chunks(&self, chunks: &[ChunkMessage]) -> Result<(), StoreError>;
    /// A parked chunk; `None` if it was never parked (past the job's last chunk) or is gone
    /// with its job.
    async fn parked_chunk(
        &self,
        job_id: &str,
        chunk: u32,
    ) -> Result<Option<ChunkMessage>, StoreError>;
    /// The parked chunks `first..first + count` that exist, in chunk order (a job's first
    /// window, read at once where the store can).
    async fn parked_chunks(
        &self,
        job_id: &str,
        first: u32,
        count: u32,
    ) -> Result<Vec<ChunkMessage>, StoreError> {
        let mut chunks = Vec::new();
        for chunk in first..first.saturating_add(count) {
            chunks.extend(self.parked_chunk(job_id, chunk).await?);
        }
        Ok(chunks)
    }
}

/// How long a client token keeps a redelivered request from creating a second job: longer
/// than any queue keeps a message (SQS: 14 days at most).
pub const CLIENT_TOKEN_RETENTION_SECONDS: i64 = 15 * 24 * 3600;

/// The key of a request's client token: scoped to the API and the owner, each entering as a
/// length-prefixed field of one SHA-256, so no owner's tokens can meet another's.
pub fn client_token_key(api: &str, owner: &str, client_token: &str) -> String {
    scoped_key(&[api, owner, client_token])
}

/// SHA-256 over length-prefixed fields, in hex: a key no other list of fields can produce
/// (no field's bytes can run into the next's).
pub fn scoped_key(fields: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    for field in fields {
        hash.update((field.len() as u64).to_be_bytes());
        hash.update(field.as_bytes());
    }
    hex::encode(hash.finalize())
}

/// SHA-256 of `bytes`, in hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_partitions_are_exact_and_prefix_free() {
        let a = jobs_partition(JobType::AddAccounts, "alice");
        let b = jobs_partition(JobType::AddAccounts, "alice\u{0}evil");
        let c = jobs_partition(JobType::AddAccounts, &"x".repeat(10_000));
        assert_ne!(a, b);
        assert_eq!(a.len(), b.len());
        assert_eq!(a.len(), c.len());
        assert!(!b.starts_with(&a));
        assert_eq!(jobs_partition(JobType::SendMfp, "alice"), "JOBS#SEND_MFP");
    }

    #[test]
    fn client_token_keys_are_scoped_to_api_and_owner() {
        let key = client_token_key("accounts", "alice", "t1");
        assert_eq!(key.len(), 64);
        assert_eq!(key, client_token_key("accounts", "alice", "t1"));
        for other in [
            client_token_key("mobileFlashPass", "alice", "t1"),
            client_token_key("accounts", "bob", "t1"),
            client_token_key("accounts", "alice", "t2"),
            client_token_key("accounts", "alicet", "1"),
            client_token_key("accounts", "alice ", "t1"),
        ] {
            assert_ne!(key, other);
        }
    }
}
