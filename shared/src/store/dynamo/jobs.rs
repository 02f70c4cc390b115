//! [`JobStore`] on DynamoDB: every state change is one conditional UpdateItem on the job item,
//! so each rule of the state machine is one condition expression.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;

use super::awaiting::LEAVES_AWAITING;
use super::conditional::state_in;
use super::recorded::NOT_RECORDED;
use super::{
    chunk_set, conditional_update, job_from_item, job_pk, job_to_item, n, s, sdk_error, Item,
    JOB_SK,
};
use crate::error::StoreError;
use crate::model::{ChunkCounts, EventKind, Job, JobState, JobType, RowOutcome};
use crate::store::{
    Admission, CancelOutcome, Claim, FirstFailure, JobStore, KeyClaim, KeyRecord, Quota, Recorded,
    Skip, StoredChunkJson, StoredResponse, Transition,
};

/// DynamoDB-backed [`JobStore`].
#[derive(Clone, Debug)]
pub struct DynamoJobStore {
    pub(super) client: Client,
    pub(super) table: String,
}

impl DynamoJobStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub(super) fn job_key(&self, id: &str) -> Item {
        HashMap::from([
            ("pk".to_owned(), s(job_pk(id))),
            ("sk".to_owned(), s(JOB_SK)),
        ])
    }
}

#[async_trait]
impl JobStore for DynamoJobStore {
    async fn create_job(&self, job: &Job) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(job_to_item(job)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| sdk_error("PutItem(job)", e))?;
        Ok(())
    }

    async fn create_job_within(&self, job: &Job, quota: &Quota) -> Result<Admission, StoreError> {
        self.create_job_within_quota(job, quota).await
    }

    async fn get_job(&self, id: &str) -> Result<Option<Job>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(self.job_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem(job)", e))?;
        out.item.map(job_from_item).transpose()
    }

    async fn release(&self, id: &str) -> Result<Transition, StoreError> {
        self.emitting(
            id,
            "#state = :AWAITING_DATA",
            &format!("SET #state = :SCHEDULED {LEAVES_AWAITING}"),
            vec![],
            "UpdateItem(release)",
            EventKind::Created,
            crate::time::now_ms(),
        )
        .await
    }

    async fn release_staged(
        &self,
        id: &str,
        rows: u32,
        chunks: u32,
    ) -> Result<Transition, StoreError> {
        let totals = vec![(":rows", n(rows)), (":chunks", n(chunks))];
        let expression = format!(
            "SET #state = :SCHEDULED, totalRows = :rows, chunkCount = :chunks {LEAVES_AWAITING}"
        );
        let (condition, now) = ("#state = :AWAITING_DATA", crate::time::now_ms());
        let operation = "UpdateItem(release staged)";
        self.emitting(
            id,
            condition,
            &expression,
            totals,
            operation,
            EventKind::Created,
            now,
        )
        .await
    }

    async fn abandon(
        &self,
        id: &str,
        message: &str,
        now_ms: i64,
    ) -> Result<Transition, StoreError> {
        self.fail_unreleased(id, "#state = :AWAITING_DATA", message, now_ms)
            .await
    }

    async fn expire_upload(
        &self,
        id: &str,
        message: &str,
        now_ms: i64,
    ) -> Result<Transition, StoreError> {
        let condition = "#state = :AWAITING_DATA AND attribute_not_exists(fileReceivedMs)";
        self.fail_unreleased(id, condition, message, now_ms).await
    }

    async fn claim_chunk(&self, id: &str, chunk: u32) -> Result<Claim, StoreError> {
        let update = self
            .update_job(
                id,
                "ADD claimedChunks :chunks",
                &format!(
                    "attribute_exists(pk) AND {NOT_RECORDED} \
                     AND (contains(claimedChunks, :chunk) OR {})",
                    state_in(&JobState::RUNNABLE)
                ),
            )
            .expression_attribute_values(":chunks", chunk_set([chunk]))
            .expression_attribute_values(":chunk", s(chunk.to_string()))
            .expression_attribute_values(":chunkNumber", n(chunk));
        Ok(
            match conditional_update(update, "UpdateItem(claim chunk)").await? {
                Ok(item) => Claim::Claimed(Box::new(job_from_item(item)?)),
                Err(Some(old)) => Claim::Refused(Box::new(job_from_item(old)?)),
                Err(None) => Claim::JobMissing,
            },
        )
    }

    async fn skip_chunk(&self, id: &str, chunk: u32, rows: u32) -> Result<Skip, StoreError> {
        let update = self
            .update_job(
                id,
                "ADD rowsSkipped :rows, recordedChunks :chunks",
                &format!(
                    "attribute_exists(pk) AND {NOT_RECORDED} AND NOT contains(claimedChunks, :chunk)"
                ),
            )
            .expression_attribute_values(":rows", n(rows))
            .expression_attribute_values(":chunks", chunk_set([chunk]))
            .expression_attribute_values(":chunk", s(chunk.to_string()))
            .expression_attribute_values(":chunkNumber", n(chunk));
        Ok(
            match conditional_update(update, "UpdateItem(skip chunk)").await? {
                Ok(item) => {
                    let job = job_from_item(item)?;
                    self.compact_recorded(&job).await;
                    Skip::Recorded(Box::new(Recorded {
                        job,
                        newly_recorded: true,
                    }))
                }
                Err(Some(old)) => {
                    let job = job_from_item(old)?;
                    if job.is_chunk_recorded(chunk) {
                        Skip::Recorded(Box::new(Recorded {
                            job,
                            newly_recorded: false,
                        }))
                    } else {
                        Skip::Claimed
                    }
                }
                Err(None) => Skip::JobMissing,
            },
        )
    }

    async fn start_processing(&self, id: &str, now_ms: i64) -> Result<Option<Job>, StoreError> {
        let transition = self
            .emitting(
                id,
                "#state = :SCHEDULED",
                "SET #state = :PROCESSING, processingStartMs = :now",
                vec![(":now", n(now_ms))],
                "UpdateItem(start)",
                EventKind::Processing,
                now_ms,
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
        if let Some(first) = first_failure {
            match self.record_update(id, chunk, counts, Some(first)).await? {
                Err(Some(old)) => {
                    let job = job_from_item(old)?;
                    if job.is_chunk_recorded(chunk) {
                        return Ok(Some(Recorded {
                            job,
                            newly_recorded: false,
                        }));
                    }
                    // Not recorded: the job is final or shows a lower failure already, so
                    // the counts go in alone (a second call, only then).
                }
                outcome => return self.recorded(outcome).await,
            }
        }
        let outcome = self.record_update(id, chunk, counts, None).await?;
        self.recorded(outcome).await
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
                "#state = :PROCESSING",
                "SET #state = :COMPLETED, processingEndMs = :now",
                vec![(":now", n(now_ms))],
                "UpdateItem(complete)",
                EventKind::Completed,
                now_ms,
            )
            .await?;
        Ok(transition.moved())
    }

    async fn add_retry(&self, id: &str, retry_id: &str) -> Result<(), StoreError> {
        self.add_retry_item(id, retry_id).await
    }

    async fn record_split_progress(&self, id: &str, parked_below: u32) -> Result<(), StoreError> {
        self.set_split_progress(id, parked_below).await
    }

    async fn record_result_files(
        &self,
        id: &str,
        files: &std::collections::BTreeMap<String, u64>,
    ) -> Result<(), StoreError> {
        self.set_result_files(id, files).await
    }

    async fn stop_failed(
        &self,
        id: &str,
        message: &str,
        now_ms: i64,
    ) -> Result<Option<Job>, StoreError> {
        let transition = self
            .emitting(
                id,
                "#state = :PROCESSING",
                "SET #state = :FAILED, processingEndMs = :now, errorMessage = :message",
                vec![(":now", n(now_ms)), (":message", s(message))],
                "UpdateItem(stop failed)",
                EventKind::Failed,
                now_ms,
            )
            .await?;
        Ok(transition.moved())
    }

    async fn cancel(&self, id: &str, now_ms: i64) -> Result<CancelOutcome, StoreError> {
        self.cancel_job(id, now_ms).await
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
    async fn list_jobs(
        &self,
        job_type: JobType,
        owner: &str,
        limit: usize,
    ) -> Result<Vec<Job>, StoreError> {
        self.list_jobs_item(job_type, owner, limit).await
    }

    async fn next_sequence(&self, name: &str) -> Result<i64, StoreError> {
        self.next_sequence_item(name).await
    }

    async fn jobs_with_pending_events(&self, limit: usize) -> Result<Vec<Job>, StoreError> {
        self.jobs_with_pending_events_item(limit).await
    }

    async fn mark_published(&self, id: &str, kinds: &[EventKind]) -> Result<(), StoreError> {
        self.mark_published_item(id, kinds).await
    }

    async fn note_file_received(&self, id: &str, now_ms: i64) -> Result<Transition, StoreError> {
        self.note_file_received_item(id, now_ms).await
    }

    async fn overdue_uploads(&self, now_ms: i64, limit: usize) -> Result<Vec<Job>, StoreError> {
        self.overdue_uploads_items(now_ms, limit).await
    }

    async fn make_durable(&self) -> Result<(), StoreError> {
        // A write DynamoDB acknowledged is durable already.
        Ok(())
    }

    async fn claim_client_token(&self, key: &str, job_id: &str) -> Result<String, StoreError> {
        self.claim_client_token_item(key, job_id).await
    }

    async fn claim_idempotency_key(
        &self,
        key: &str,
        claim: &KeyRecord,
    ) -> Result<KeyClaim, StoreError> {
        self.claim_key_item(key, claim).await
    }

    async fn answer_idempotency_key(
        &self,
        key: &str,
        claimed_at_ms: i64,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        self.answer_key_item(key, claimed_at_ms, response).await
    }

    async fn release_idempotency_key(
        &self,
        key: &str,
        claimed_at_ms: i64,
    ) -> Result<(), StoreError> {
        self.release_key_item(key, claimed_at_ms).await
    }
}
