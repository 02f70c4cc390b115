//! The job and record stores that inject [`Faults`](super::Faults) before, or after, each call
//! they pass on to the real store.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use bulkops_shared::error::StoreError;
use bulkops_shared::model::Secrets;
use bulkops_shared::model::{ChunkCounts, EventKind, Job, JobType, RowOutcome};
use bulkops_shared::store::{
    CancelOutcome, Claim, FirstFailure, JobStore, KeyClaim, KeyRecord, Record, RecordKey,
    RecordStore, Recorded, SecretStore, Skip, StoredChunkJson, StoredResponse, Transition,
};
use serde_json::Value;

use super::{injected, Call, Faults};

pub struct FaultyJobStore {
    pub inner: Arc<dyn JobStore>,
    pub faults: Arc<Faults>,
}

#[async_trait]
impl SecretStore for FaultyJobStore {
    async fn put_chunk_secrets(
        &self,
        id: &str,
        chunk: u32,
        secrets: &Secrets,
    ) -> Result<(), StoreError> {
        self.inner.put_chunk_secrets(id, chunk, secrets).await
    }
    async fn chunk_secrets(&self, id: &str, chunk: u32) -> Result<Secrets, StoreError> {
        faulty!(
            self,
            Call::ChunkSecrets,
            self.inner.chunk_secrets(id, chunk)
        )
    }
    async fn delete_chunk_secrets(&self, id: &str, chunk: u32) -> Result<(), StoreError> {
        faulty!(
            self,
            Call::DeleteChunkSecrets,
            self.inner.delete_chunk_secrets(id, chunk)
        )
    }
    async fn keep_failed_secrets(
        &self,
        id: &str,
        chunk: u32,
        secrets: &Secrets,
        until_ms: i64,
    ) -> Result<(), StoreError> {
        faulty!(
            self,
            Call::KeepFailedSecrets,
            self.inner.keep_failed_secrets(id, chunk, secrets, until_ms)
        )
    }
    async fn kept_secrets(&self, id: &str) -> Result<Secrets, StoreError> {
        self.inner.kept_secrets(id).await
    }
}

#[async_trait]
impl JobStore for FaultyJobStore {
    async fn create_job(&self, job: &Job) -> Result<(), StoreError> {
        faulty!(self, Call::CreateJob, self.inner.create_job(job))
    }
    async fn create_job_within(
        &self,
        job: &Job,
        quota: &bulkops_shared::store::Quota,
    ) -> Result<bulkops_shared::store::Admission, StoreError> {
        faulty!(
            self,
            Call::CreateJob,
            self.inner.create_job_within(job, quota)
        )
    }
    async fn get_job(&self, id: &str) -> Result<Option<Job>, StoreError> {
        faulty!(self, Call::GetJob, self.inner.get_job(id))
    }
    async fn list_jobs(
        &self,
        job_type: JobType,
        owner: &str,
        limit: usize,
    ) -> Result<Vec<Job>, StoreError> {
        self.inner.list_jobs(job_type, owner, limit).await
    }
    async fn next_sequence(&self, name: &str) -> Result<i64, StoreError> {
        self.inner.next_sequence(name).await
    }
    async fn release(&self, id: &str) -> Result<Transition, StoreError> {
        faulty!(self, Call::Release, self.inner.release(id))
    }
    async fn release_staged(
        &self,
        id: &str,
        total_rows: u32,
        chunk_count: u32,
    ) -> Result<Transition, StoreError> {
        faulty!(
            self,
            Call::Release,
            self.inner.release_staged(id, total_rows, chunk_count)
        )
    }
    async fn abandon(
        &self,
        id: &str,
        message: &str,
        now_ms: i64,
    ) -> Result<Transition, StoreError> {
        self.inner.abandon(id, message, now_ms).await
    }
    async fn claim_chunk(&self, id: &str, chunk: u32) -> Result<Claim, StoreError> {
        faulty!(self, Call::ClaimChunk, self.inner.claim_chunk(id, chunk))
    }
    async fn skip_chunk(&self, id: &str, chunk: u32, rows: u32) -> Result<Skip, StoreError> {
        faulty!(
            self,
            Call::SkipChunk,
            self.inner.skip_chunk(id, chunk, rows)
        )
    }
    async fn start_processing(&self, id: &str, now_ms: i64) -> Result<Option<Job>, StoreError> {
        faulty!(
            self,
            Call::StartProcessing,
            self.inner.start_processing(id, now_ms)
        )
    }
    async fn store_chunk_outcomes(
        &self,
        id: &str,
        chunk: u32,
        outcomes: &[RowOutcome],
    ) -> Result<Option<Vec<RowOutcome>>, StoreError> {
        if self.faults.poisoned(chunk) {
            return Err(StoreError::Backend(format!("poison chunk {chunk}")));
        }
        faulty!(
            self,
            Call::StoreChunkOutcomes,
            self.inner.store_chunk_outcomes(id, chunk, outcomes)
        )
    }
    async fn record_chunk(
        &self,
        id: &str,
        chunk: u32,
        counts: ChunkCounts,
        first_failure: Option<FirstFailure<'_>>,
    ) -> Result<Option<Recorded>, StoreError> {
        faulty!(
            self,
            Call::RecordChunk,
            self.inner.record_chunk(id, chunk, counts, first_failure)
        )
    }
    async fn claim_chunks(&self, id: &str, chunks: &[u32]) -> Result<Option<Job>, StoreError> {
        faulty!(self, Call::ClaimChunks, self.inner.claim_chunks(id, chunks))
    }
    async fn record_chunks(
        &self,
        id: &str,
        chunks: &[(u32, ChunkCounts)],
        first_failure: Option<FirstFailure<'_>>,
    ) -> Result<Option<Job>, StoreError> {
        faulty!(
            self,
            Call::RecordChunks,
            self.inner.record_chunks(id, chunks, first_failure)
        )
    }
    async fn complete(&self, id: &str, now_ms: i64) -> Result<Option<Job>, StoreError> {
        faulty!(self, Call::Complete, self.inner.complete(id, now_ms))
    }
    async fn add_retry(&self, id: &str, retry_id: &str) -> Result<(), StoreError> {
        self.inner.add_retry(id, retry_id).await
    }
    async fn record_split_progress(&self, id: &str, parked_below: u32) -> Result<(), StoreError> {
        self.inner.record_split_progress(id, parked_below).await
    }
    async fn record_result_files(
        &self,
        id: &str,
        files: &std::collections::BTreeMap<String, u64>,
    ) -> Result<(), StoreError> {
        self.inner.record_result_files(id, files).await
    }
    async fn stop_failed(
        &self,
        id: &str,
        message: &str,
        now_ms: i64,
    ) -> Result<Option<Job>, StoreError> {
        faulty!(
            self,
            Call::StopFailed,
            self.inner.stop_failed(id, message, now_ms)
        )
    }
    async fn cancel(&self, id: &str, now_ms: i64) -> Result<CancelOutcome, StoreError> {
        self.inner.cancel(id, now_ms).await
    }
    async fn row_outcomes(&self, id: &str) -> Result<Vec<RowOutcome>, StoreError> {
        self.inner.row_outcomes(id).await
    }
    async fn chunk_outcome_json_from(
        &self,
        id: &str,
        first: u32,
        max: usize,
    ) -> Result<Vec<StoredChunkJson>, StoreError> {
        self.inner.chunk_outcome_json_from(id, first, max).await
    }
    async fn jobs_with_pending_events(&self, limit: usize) -> Result<Vec<Job>, StoreError> {
        self.inner.jobs_with_pending_events(limit).await
    }
    async fn expire_upload(
        &self,
        id: &str,
        message: &str,
        now_ms: i64,
    ) -> Result<Transition, StoreError> {
        faulty!(
            self,
            Call::ExpireUpload,
            self.inner.expire_upload(id, message, now_ms)
        )
    }
    async fn note_file_received(&self, id: &str, now_ms: i64) -> Result<Transition, StoreError> {
        self.inner.note_file_received(id, now_ms).await
    }
    async fn overdue_uploads(&self, now_ms: i64, limit: usize) -> Result<Vec<Job>, StoreError> {
        self.inner.overdue_uploads(now_ms, limit).await
    }
    async fn mark_published(&self, id: &str, kinds: &[EventKind]) -> Result<(), StoreError> {
        faulty!(
            self,
            Call::MarkPublished,
            self.inner.mark_published(id, kinds)
        )
    }
    async fn make_durable(&self) -> Result<(), StoreError> {
        faulty!(self, Call::MakeDurable, self.inner.make_durable())
    }
    async fn claim_client_token(&self, key: &str, job_id: &str) -> Result<String, StoreError> {
        faulty!(
            self,
            Call::ClaimClientToken,
            self.inner.claim_client_token(key, job_id)
        )
    }
    async fn claim_idempotency_key(
        &self,
        key: &str,
        claim: &KeyRecord,
    ) -> Result<KeyClaim, StoreError> {
        self.inner.claim_idempotency_key(key, claim).await
    }
    async fn answer_idempotency_key(
        &self,
        key: &str,
        claimed_at_ms: i64,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        faulty!(
            self,
            Call::AnswerIdempotencyKey,
            self.inner
                .answer_idempotency_key(key, claimed_at_ms, response)
        )
    }
    async fn release_idempotency_key(
        &self,
        key: &str,
        claimed_at_ms: i64,
    ) -> Result<(), StoreError> {
        self.inner.release_idempotency_key(key, claimed_at_ms).await
    }
}

pub struct FaultyRecordStore {
    pub inner: Arc<dyn RecordStore>,
    pub faults: Arc<Faults>,
}

#[async_trait]
impl RecordStore for FaultyRecordStore {
    async fn get_many(&self, keys: &[RecordKey]) -> Result<HashMap<RecordKey, Value>, StoreError> {
        faulty!(self, Call::GetMany, self.inner.get_many(keys))
    }
    /// A read like `get_many`, so the same fault reaches it.
    async fn existing(&self, keys: &[RecordKey]) -> Result<Vec<bool>, StoreError> {
        faulty!(self, Call::GetMany, self.inner.existing(keys))
    }
    async fn put_many(&self, records: Vec<(RecordKey, Record)>) -> Result<(), StoreError> {
        faulty!(self, Call::PutMany, self.inner.put_many(records))
    }
    async fn create_many(
        &self,
        records: Vec<(RecordKey, Record)>,
    ) -> Result<Vec<RecordKey>, StoreError> {
        faulty!(self, Call::CreateMany, self.inner.create_many(records))
    }
    async fn put_keeping_counter(
        &self,
        key: &RecordKey,
        record: Value,
        counter: &str,
    ) -> Result<(), StoreError> {
        faulty!(
            self,
            Call::PutKeepingCounter,
            self.inner.put_keeping_counter(key, record.clone(), counter)
        )
    }
    async fn increment(
        &self,
        key: &RecordKey,
        attribute: &str,
        by: i64,
    ) -> Result<Option<i64>, StoreError> {
        faulty!(
            self,
            Call::Increment,
            self.inner.increment(key, attribute, by)
        )
    }
}
