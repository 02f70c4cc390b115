//! [`JobStore`] on the embedded store: each conditional update of the DynamoDB adapter is one
//! write transaction here that reads the job, checks the same rule, and writes it back.

use async_trait::async_trait;
use redb::ReadableTable;

use super::transitions::{skip_everything, snapshot};
use super::{indexed_jobs, insert_new_job, with_chunks, EmbeddedStore, StoredJob};
use crate::db::{CLIENT_TOKENS, JOBS, OUTBOX, SEQUENCES};
use bulkops_shared::error::StoreError;
use bulkops_shared::model::{ChunkCounts, EventKind, Job, JobState, JobType, RowOutcome};
use bulkops_shared::store::{
    Admission, CancelOutcome, Claim, FirstFailure, JobStore, KeyClaim, KeyRecord, Quota, Recorded,
    Skip, StoredChunkJson, StoredResponse, Transition,
};

#[async_trait]
impl JobStore for EmbeddedStore {
    async fn create_job(&self, job: &Job) -> Result<(), StoreError> {
        let job = job.clone();
        self.write(move |txn| insert_new_job(txn, job)).await
    }

    async fn create_job_within(&self, job: &Job, quota: &Quota) -> Result<Admission, StoreError> {
        self.create_job_within_quota(job, quota).await
    }

    async fn get_job(&self, id: &str) -> Result<Option<Job>, StoreError> {
        let id = id.to_owned();
        self.read(move |txn| {
            let table = txn.open_table(JOBS)?;
            let value = table.get(id.as_str())?;
            Ok(value
                .map(|v| serde_json::from_slice::<StoredJob>(v.value()).map(with_chunks))
                .transpose()?)
        })
        .await
    }

    async fn list_jobs(
        &self,
        job_type: JobType,
        owner: &str,
        limit: usize,
    ) -> Result<Vec<Job>, StoreError> {
        self.listed_jobs(job_type, owner, limit).await
    }

    async fn next_sequence(&self, name: &str) -> Result<i64, StoreError> {
        let name = name.to_owned();
        self.write(move |txn| {
            let mut table = txn.open_table(SEQUENCES)?;
            let next = table.get(name.as_str())?.map(|v| v.value()).unwrap_or(0) + 1;
            table.insert(name.as_str(), next)?;
            Ok(next)
        })
        .await
    }

    async fn release(&self, id: &str) -> Result<Transition, StoreError> {
        let now = bulkops_shared::time::now_ms();
        self.emitting(
            id,
            &[JobState::AwaitingData],
            EventKind::Created,
            now,
            |stored| {
                stored.job.state = JobState::Scheduled;
            },
        )
        .await
    }

    async fn release_staged(
        &self,
        id: &str,
        total_rows: u32,
        chunk_count: u32,
    ) -> Result<Transition, StoreError> {
        let now = bulkops_shared::time::now_ms();
        self.emitting(
            id,
            &[JobState::AwaitingData],
            EventKind::Created,
            now,
            move |stored| {
                stored.job.state = JobState::Scheduled;
                stored.job.total_rows = total_rows;
                stored.job.chunk_count = chunk_count;
            },
        )
        .await
    }

    async fn abandon(
        &self,
        id: &str,
        message: &str,
        now_ms: i64,
    ) -> Result<Transition, StoreError> {
        self.fail_unreleased(id, message, now_ms, |_| true).await
    }

    async fn expire_upload(
        &self,
        id: &str,
        message: &str,
        now_ms: i64,
    ) -> Result<Transition, StoreError> {
        let unreceived = |job: &Job| job.file_received_ms.is_none();
        self.fail_unreleased(id, message, now_ms, unreceived).await
    }

    async fn claim_chunk(&self, id: &str, chunk: u32) -> Result<Claim, StoreError> {
        self.change_job(id, Claim::JobMissing, move |stored| {
            let claimable = !stored.is_recorded(chunk)
                && (stored.claimed_chunks.contains(&chunk) || stored.job.state.is_runnable());
            if !claimable {
                return (false, Claim::Refused(Box::new(snapshot(stored))));
            }
            let changed = stored.claimed_chunks.insert(chunk);
            (changed, Claim::Claimed(Box::new(snapshot(stored))))
        })
        .await
    }

    async fn skip_chunk(&self, id: &str, chunk: u32, rows: u32) -> Result<Skip, StoreError> {
        self.change_job(id, Skip::JobMissing, move |stored| {
            if stored.is_recorded(chunk) {
                let job = snapshot(stored);
                return (
                    false,
                    Skip::Recorded(Box::new(Recorded {
                        job,
                        newly_recorded: false,
                    })),
                );
            }
            if stored.claimed_chunks.contains(&chunk) {
                return (false, Skip::Claimed);
            }
            stored.record(chunk);
            stored.job.rows_skipped += rows;
            let job = snapshot(stored);
            (
                true,
                Skip::Recorded(Box::new(Recorded {
                    job,
                    newly_recorded: true,
                })),
            )
        })
        .await
    }

    async fn start_processing(&self, id: &str, now_ms: i64) -> Result<Option<Job>, StoreError> {
        let transition = self
            .emitting(
                id,
                &[JobState::Scheduled],
                EventKind::Processing,
                now_ms,
                move |stored| {
                    stored.job.state = JobState::Processing;
                    stored.job.processing_start_ms = Some(now_ms);
                },
            )
            .await?;
        Ok(transition.moved())
    }

    async fn record_chunk(
        &self,
        id: &str,
        chunk: u32,
        counts: ChunkCounts,
        first_failure: Option<FirstFailure<'_>>,
    ) -> Result<Option<Recorded>, StoreError> {
        self.record_one(id, chunk, counts, first_failure).await
    }

    async fn claim_chunks(&self, id: &str, chunks: &[u32]) -> Result<Option<Job>, StoreError> {
        self.claim_group(id, chunks).await
    }

    async fn record_chunks(
        &self,
        id: &str,
        chunks: &[(u32, ChunkCounts)],
        first_failure: Option<FirstFailure<'_>>,
    ) -> Result<Option<Job>, StoreError> {
        self.record_group(id, chunks, first_failure).await
    }

    async fn complete(&self, id: &str, now_ms: i64) -> Result<Option<Job>, StoreError> {
        let transition = self
            .emitting(
                id,
                &[JobState::Processing],
                EventKind::Completed,
                now_ms,
                move |stored| {
                    stored.job.state = JobState::Completed;
                    stored.job.processing_end_ms = Some(now_ms);
                },
            )
            .await?;
        Ok(transition.moved())
    }

    async fn add_retry(&self, id: &str, retry_id: &str) -> Result<(), StoreError> {
        self.link_retry(id, retry_id).await
    }

    async fn record_split_progress(&self, id: &str, parked_below: u32) -> Result<(), StoreError> {
        self.set_split_progress(id, parked_below).await
    }

    async fn record_result_files(
        &self,
        id: &str,
        files: &std::collections::BTreeMap<String, u64>,
    ) -> Result<(), StoreError> {
        self.set_result_files(id, files.clone()).await
    }

    async fn stop_failed(
        &self,
        id: &str,
        message: &str,
        now_ms: i64,
    ) -> Result<Option<Job>, StoreError> {
        let message = message.to_owned();
        let transition = self
            .emitting(
                id,
                &[JobState::Processing],
                EventKind::Failed,
                now_ms,
                move |stored| {
                    stored.job.state = JobState::Failed;
                    stored.job.processing_end_ms = Some(now_ms);
                    stored.job.error_message = Some(message);
                },
            )
            .await?;
        Ok(transition.moved())
    }

    async fn cancel(&self, id: &str, now_ms: i64) -> Result<CancelOutcome, StoreError> {
        let transition = self
            .emitting(
                id,
                &JobState::CANCELLABLE,
                EventKind::Cancelled,
                now_ms,
                move |stored| {
                    // A job whose chunks were never released cannot run any: all rows skipped.
                    if stored.job.state == JobState::AwaitingData {
                        skip_everything(stored);
                    }
                    stored.job.state = JobState::Cancelled;
                    stored.job.processing_end_ms = Some(now_ms);
                },
            )
            .await?;
        Ok(match transition {
            Transition::Moved(job) => CancelOutcome::Cancelled(job),
            Transition::Unchanged(job) => CancelOutcome::AlreadyFinal(job.state),
            Transition::JobMissing => CancelOutcome::NotFound,
        })
    }

    async fn store_chunk_outcomes(
        &self,
        id: &str,
        chunk: u32,
        outcomes: &[RowOutcome],
    ) -> Result<Option<Vec<RowOutcome>>, StoreError> {
        self.store_chunk_outcomes_item(id, chunk, outcomes).await
    }

    async fn row_outcomes(&self, id: &str) -> Result<Vec<RowOutcome>, StoreError> {
        self.row_outcomes_item(id).await
    }
    async fn chunk_outcome_json_from(
        &self,
        id: &str,
        first: u32,
        max: usize,
    ) -> Result<Vec<StoredChunkJson>, StoreError> {
        self.chunk_outcome_json_from_item(id, first, max).await
    }

    async fn jobs_with_pending_events(&self, limit: usize) -> Result<Vec<Job>, StoreError> {
        self.read(move |txn| indexed_jobs(txn, OUTBOX, .., limit))
            .await
    }

    async fn note_file_received(&self, id: &str, now_ms: i64) -> Result<Transition, StoreError> {
        self.transition(id, &[JobState::AwaitingData], move |stored| {
            stored.job.file_received_ms.get_or_insert(now_ms);
        })
        .await
    }

    async fn overdue_uploads(&self, now_ms: i64, limit: usize) -> Result<Vec<Job>, StoreError> {
        self.overdue_uploads_entries(now_ms, limit).await
    }

    async fn mark_published(&self, id: &str, kinds: &[EventKind]) -> Result<(), StoreError> {
        let kinds = kinds.to_vec();
        self.change_job(id, (), move |stored| {
            let before = stored.job.outbox.len();
            stored.job.outbox.retain(|kind, _| !kinds.contains(kind));
            (stored.job.outbox.len() != before, ())
        })
        .await
    }

    async fn make_durable(&self) -> Result<(), StoreError> {
        // Most callers find nothing to sync (every answer of the local server asks): no
        // blocking thread for them.
        if self.db.is_durable_now() {
            return Ok(());
        }
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.sync())
            .await
            .map_err(|e| StoreError::from(crate::db::DbError::Task(e)))?
    }

    async fn claim_client_token(&self, key: &str, job_id: &str) -> Result<String, StoreError> {
        let (key, job_id) = (key.to_owned(), job_id.to_owned());
        self.write(move |txn| {
            let mut table = txn.open_table(CLIENT_TOKENS)?;
            let holder = table.get(key.as_str())?.map(|v| v.value().to_owned());
            match holder {
                Some(holder) => Ok(holder),
                None => {
                    table.insert(key.as_str(), job_id.as_str())?;
                    Ok(job_id)
                }
            }
        })
        .await
    }

    async fn claim_idempotency_key(
        &self,
        key: &str,
        claim: &KeyRecord,
    ) -> Result<KeyClaim, StoreError> {
        self.claim_key(key, claim).await
    }

    async fn answer_idempotency_key(
        &self,
        key: &str,
        claimed_at_ms: i64,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        self.answer_key(key, claimed_at_ms, response).await
    }

    async fn release_idempotency_key(
        &self,
        key: &str,
        claimed_at_ms: i64,
    ) -> Result<(), StoreError> {
        self.release_key(key, claimed_at_ms).await
    }
}
