//! DynamoDB implementation of the storage ports: one table, `pk`/`sk` keys, a `gsi1` index for
//! listing jobs newest first, and `expiresAt` (epoch seconds) as the TTL attribute.
//!
//! | item          | pk              | sk             |
//! |---------------|-----------------|----------------|
//! | job           | `JOB#<id>`      | `JOB`          |
//! | chunk results | `JOB#<id>`      | `CHUNK#<n:06>` |
//! | records       | caller-defined  | caller-defined |

use std::collections::{BTreeSet, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, PutRequest, ReturnValue,
    ReturnValuesOnConditionCheckFailure, WriteRequest,
};
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    jobs_partition, listed_for, CancelOutcome, JobStore, RecordKey, RecordStore, Recorded,
};
use crate::batching::drain;
use crate::error::StoreError;
use crate::model::{ChunkCounts, Job, JobState, JobType, RowOutcome};

type Item = HashMap<String, AttributeValue>;

/// Jobs and chunk results stay this long after creation (then TTL removes them).
pub const RETENTION_SECONDS: i64 = 30 * 24 * 3600;
/// BatchWriteItem takes at most 25 requests.
pub const MAX_BATCH_WRITE: usize = 25;
/// BatchGetItem takes at most 100 keys.
pub const MAX_BATCH_GET: usize = 100;
pub const JOBS_INDEX: &str = "gsi1";
/// TransactWriteItems takes at most 100 actions.
pub const MAX_TRANSACT_ITEMS: usize = 100;

fn job_pk(id: &str) -> String {
    format!("JOB#{id}")
}
const JOB_SK: &str = "JOB";
const CHUNK_SK_PREFIX: &str = "CHUNK#";

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}
fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

/// Maps an SDK error to a [`StoreError`], telling throttling apart.
fn sdk_error<
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
>(
    operation: &str,
    err: SdkError<E, R>,
) -> StoreError {
    let code = err.code().unwrap_or_default().to_owned();
    let detail = format!(
        "{operation}: {}",
        aws_smithy_types::error::display::DisplayErrorContext(&err)
    );
    if matches!(
        code.as_str(),
        "ProvisionedThroughputExceededException" | "ThrottlingException" | "RequestLimitExceeded"
    ) {
        StoreError::Throttled(detail)
    } else {
        StoreError::Backend(detail)
    }
}

/// The job item: the job plus its keys, index keys and expiry.
#[derive(Serialize, Deserialize)]
struct JobItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: String,
    #[serde(rename = "expiresAt")]
    expires_at: i64,
    #[serde(flatten)]
    job: Job,
}

const SECRETS_SK_PREFIX: &str = "SECRETS#";
/// Sealed values outlive a chunk by at most the queue's retention (4 days).
const SECRETS_RETENTION_SECONDS: i64 = 4 * 24 * 3600;

fn job_to_item(job: &Job) -> Result<Item, StoreError> {
    let item = JobItem {
        pk: job_pk(&job.id),
        sk: JOB_SK.to_owned(),
        gsi1pk: jobs_partition(job.job_type, &job.owner),
        gsi1sk: format!("{:013}#{}", job.init_time_ms, job.id),
        expires_at: job.init_time_ms / 1000 + RETENTION_SECONDS,
        job: job.clone(),
    };
    serde_dynamo::to_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn job_from_item(item: Item) -> Result<Job, StoreError> {
    let recorded: BTreeSet<u32> = match item.get("recordedChunks") {
        Some(AttributeValue::Ss(chunks)) => chunks.iter().filter_map(|c| c.parse().ok()).collect(),
        _ => BTreeSet::new(),
    };
    let mut job = serde_dynamo::from_item::<_, JobItem>(item)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?
        .job;
    job.recorded_chunks = recorded;
    Ok(job)
}

/// DynamoDB-backed [`JobStore`].
#[derive(Clone, Debug)]
pub struct DynamoJobStore {
    client: Client,
    table: String,
}

impl DynamoJobStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn job_key(&self, id: &str) -> Item {
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

    async fn list_jobs(
        &self,
        job_type: JobType,
        owner: &str,
        limit: usize,
    ) -> Result<Vec<Job>, StoreError> {
        let mut jobs = Vec::new();
        let mut start_key = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(JOBS_INDEX)
                .key_condition_expression("gsi1pk = :p")
                .expression_attribute_values(":p", s(jobs_partition(job_type, owner)))
                .scan_index_forward(false)
                .limit((limit - jobs.len()).min(1000) as i32)
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .map_err(|e| sdk_error("Query(jobs)", e))?;
            for item in out.items.unwrap_or_default() {
                let job = job_from_item(item)?;
                if listed_for(&job, owner) {
                    jobs.push(job);
                }
            }
            start_key = out.last_evaluated_key;
            if start_key.is_none() || jobs.len() >= limit {
                return Ok(jobs);
            }
        }
    }

    async fn next_sequence(&self, name: &str) -> Result<i64, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("SEQUENCE#{name}")))
            .key("sk", s("SEQUENCE"))
            .update_expression("ADD #value :one")
            .expression_attribute_names("#value", "value")
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| sdk_error("UpdateItem(sequence)", e))?;
        out.attributes
            .and_then(|a| {
                a.get("value")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|v| v.parse().ok())
            })
            .ok_or_else(|| StoreError::Corrupt("sequence update returned no value".into()))
    }

    async fn put_chunk_secrets(
        &self,
        id: &str,
        chunk: u32,
        secrets: &crate::engine::Secrets,
    ) -> Result<(), StoreError> {
        let values = secrets
            .iter()
            .map(|(row, secret)| (row.to_string(), s(secret)))
            .collect();
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(job_pk(id)))
            .item("sk", s(format!("{SECRETS_SK_PREFIX}{chunk:06}")))
            .item("secrets", AttributeValue::M(values))
            .item(
                "expiresAt",
                n(crate::time::now_ms() / 1000 + SECRETS_RETENTION_SECONDS),
            )
            .send()
            .await
            .map_err(|e| sdk_error("PutItem(chunk secrets)", e))?;
        Ok(())
    }

    async fn chunk_secrets(
        &self,
        id: &str,
        chunk: u32,
    ) -> Result<crate::engine::Secrets, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(job_pk(id)))
            .key("sk", s(format!("{SECRETS_SK_PREFIX}{chunk:06}")))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem(chunk secrets)", e))?;
        let mut secrets = crate::engine::Secrets::new();
        if let Some(AttributeValue::M(values)) = out.item.as_ref().and_then(|i| i.get("secrets")) {
            for (row, value) in values {
                if let (Ok(row), Ok(secret)) = (row.parse(), value.as_s()) {
                    secrets.insert(row, secret.clone());
                }
            }
        }
        Ok(secrets)
    }

    async fn delete_chunk_secrets(&self, id: &str, chunk: u32) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(job_pk(id)))
            .key("sk", s(format!("{SECRETS_SK_PREFIX}{chunk:06}")))
            .send()
            .await
            .map_err(|e| sdk_error("DeleteItem(chunk secrets)", e))?;
        Ok(())
    }

    async fn start_processing(&self, id: &str, now_ms: i64) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.job_key(id)))
            .update_expression("SET #state = :processing, processingStartMs = :now")
            .condition_expression("#state = :scheduled")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":processing", s(JobState::Processing.as_str()))
            .expression_attribute_values(":scheduled", s(JobState::Scheduled.as_str()))
            .expression_attribute_values(":now", n(now_ms))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk_error("UpdateItem(start)", e)),
        }
    }

    async fn put_chunk_outcomes(
        &self,
        id: &str,
        chunk: u32,
        outcomes: &[RowOutcome],
    ) -> Result<(), StoreError> {
        let packed =
            serde_json::to_string(outcomes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let expires_at = crate::time::now_ms() / 1000 + RETENTION_SECONDS;
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(job_pk(id)))
            .item("sk", s(format!("{CHUNK_SK_PREFIX}{chunk:06}")))
            .item("rows", n(outcomes.len()))
            // One JSON attribute per chunk keeps the item compact (well under 400 KB for a
            // 60 KiB chunk) and its write cost predictable.
            .item("outcomes", s(packed))
            .item("expiresAt", n(expires_at))
            .send()
            .await
            .map_err(|e| sdk_error("PutItem(chunk outcomes)", e))?;
        Ok(())
    }

    async fn lower_first_failure(
        &self,
        id: &str,
        row: u32,
        message: &str,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.job_key(id)))
            .update_expression("SET firstFailedRow = :row, errorMessage = :message")
            .condition_expression("attribute_exists(pk) AND (attribute_not_exists(firstFailedRow) OR firstFailedRow > :row)")
            .expression_attribute_values(":row", n(row))
            .expression_attribute_values(":message", s(message))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk_error("UpdateItem(first failure)", e)),
        }
    }

    async fn record_chunk(
        &self,
        id: &str,
        chunk: u32,
        counts: ChunkCounts,
    ) -> Result<Option<Recorded>, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.job_key(id)))
            .update_expression(
                "ADD rowsProcessed :succeeded, rowsFailed :failed, rowsSkipped :skipped, recordedChunks :chunks",
            )
            .condition_expression("attribute_exists(pk) AND NOT contains(recordedChunks, :chunk)")
            .expression_attribute_values(":succeeded", n(counts.succeeded))
            .expression_attribute_values(":failed", n(counts.failed))
            .expression_attribute_values(":skipped", n(counts.skipped))
            .expression_attribute_values(":chunks", AttributeValue::Ss(vec![chunk.to_string()]))
            .expression_attribute_values(":chunk", s(chunk.to_string()))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => {
                let item = out
                    .attributes
                    .ok_or_else(|| StoreError::Corrupt("update returned no item".into()))?;
                Ok(Some(Recorded {
                    job: job_from_item(item)?,
                    newly_recorded: true,
                }))
            }
            Err(e) => match e.as_service_error() {
                Some(err) if err.is_conditional_check_failed_exception() => {
                    let old = match err {
                        aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c) => {
                            c.item.clone()
                        }
                        _ => None,
                    };
                    // No item: the job is gone. An item: the chunk was recorded before.
                    old.map(|item| {
                        Ok(Recorded {
                            job: job_from_item(item)?,
                            newly_recorded: false,
                        })
                    })
                    .transpose()
                }
                _ => Err(sdk_error("UpdateItem(record chunk)", e)),
            },
        }
    }

    async fn complete(&self, id: &str, now_ms: i64) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.job_key(id)))
            .update_expression("SET #state = :completed, processingEndMs = :now")
            .condition_expression("#state = :processing")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":completed", s(JobState::Completed.as_str()))
            .expression_attribute_values(":processing", s(JobState::Processing.as_str()))
            .expression_attribute_values(":now", n(now_ms))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk_error("UpdateItem(complete)", e)),
        }
    }

    async fn cancel(&self, id: &str, now_ms: i64) -> Result<CancelOutcome, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.job_key(id)))
            .update_expression("SET #state = :cancelled, processingEndMs = :now")
            .condition_expression(
                "attribute_exists(pk) AND #state IN (:scheduled, :processing, :awaiting)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":cancelled", s(JobState::Cancelled.as_str()))
            .expression_attribute_values(":scheduled", s(JobState::Scheduled.as_str()))
            .expression_attribute_values(":processing", s(JobState::Processing.as_str()))
            .expression_attribute_values(":awaiting", s(JobState::AwaitingData.as_str()))
            .expression_attribute_values(":now", n(now_ms))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(out) => {
                let item = out.attributes.ok_or_else(|| StoreError::Corrupt("update returned no item".into()))?;
                Ok(CancelOutcome::Cancelled(Box::new(job_from_item(item)?)))
            }
            Err(e) => match e.as_service_error() {
                Some(aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c)) => {
                    match c.item.clone() {
                        Some(item) => Ok(CancelOutcome::AlreadyFinal(job_from_item(item)?.state)),
                        None => Ok(CancelOutcome::NotFound),
                    }
                }
                _ => Err(sdk_error("UpdateItem(cancel)", e)),
            },
        }
    }

    async fn fail(
        &self,
        id: &str,
        message: &str,
        unsent_chunks: &[u32],
        unsent_rows: u32,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.job_key(id)))
            .condition_expression("attribute_exists(pk) AND #state IN (:scheduled, :processing)")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":failed", s(JobState::Failed.as_str()))
            .expression_attribute_values(":scheduled", s(JobState::Scheduled.as_str()))
            .expression_attribute_values(":processing", s(JobState::Processing.as_str()))
            .expression_attribute_values(":message", s(message))
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":skipped", n(unsent_rows));
        if unsent_chunks.is_empty() {
            update = update
                .update_expression("SET #state = :failed, errorMessage = :message, processingEndMs = :now ADD rowsSkipped :skipped");
        } else {
            let chunks = unsent_chunks.iter().map(u32::to_string).collect();
            update = update
                .update_expression("SET #state = :failed, errorMessage = :message, processingEndMs = :now ADD rowsSkipped :skipped, recordedChunks :chunks")
                .expression_attribute_values(":chunks", AttributeValue::Ss(chunks));
        }
        match update.send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk_error("UpdateItem(fail)", e)),
        }
    }

    async fn row_outcomes(&self, id: &str) -> Result<Vec<RowOutcome>, StoreError> {
        let mut outcomes = Vec::new();
        let mut start_key = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(job_pk(id)))
                .expression_attribute_values(":prefix", s(CHUNK_SK_PREFIX))
                .consistent_read(true)
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .map_err(|e| sdk_error("Query(chunk outcomes)", e))?;
            for item in out.items.unwrap_or_default() {
                let packed = item
                    .get("outcomes")
                    .and_then(|v| v.as_s().ok())
                    .ok_or_else(|| StoreError::Corrupt("chunk item without outcomes".into()))?;
                let chunk: Vec<RowOutcome> =
                    serde_json::from_str(packed).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                outcomes.extend(chunk);
            }
            start_key = out.last_evaluated_key;
            if start_key.is_none() {
                break;
            }
        }
        outcomes.sort_by_key(|o| o.row);
        Ok(outcomes)
    }
}

/// DynamoDB-backed [`RecordStore`]: BatchGetItem / BatchWriteItem, looping on unprocessed work.
#[derive(Clone, Debug)]
pub struct DynamoRecordStore {
    client: Client,
    table: String,
}

impl DynamoRecordStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

fn key_item(key: &RecordKey) -> Item {
    HashMap::from([("pk".to_owned(), s(&key.pk)), ("sk".to_owned(), s(&key.sk))])
}

fn key_of(item: &Item) -> Option<RecordKey> {
    Some(RecordKey::new(
        item.get("pk")?.as_s().ok()?,
        item.get("sk")?.as_s().ok()?,
    ))
}

#[async_trait]
impl RecordStore for DynamoRecordStore {
    async fn get_many(&self, keys: &[RecordKey]) -> Result<HashMap<RecordKey, Value>, StoreError> {
        let unique: BTreeSet<&RecordKey> = keys.iter().collect();
        let items = drain(
            unique.into_iter().map(key_item).collect(),
            MAX_BATCH_GET,
            |batch| async move {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(batch))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| StoreError::Backend(e.to_string()))?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| sdk_error("BatchGetItem", e))?;
                let found = out
                    .responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default();
                let unprocessed = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table))
                    .map(|k| k.keys)
                    .unwrap_or_default();
                Ok((found, unprocessed))
            },
        )
        .await?;
        let mut records = HashMap::with_capacity(items.len());
        for mut item in items {
            let key =
                key_of(&item).ok_or_else(|| StoreError::Corrupt("record without pk/sk".into()))?;
            item.remove("pk");
            item.remove("sk");
            let value: Value =
                serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            records.insert(key, value);
        }
        Ok(records)
    }

    async fn put_many(&self, records: Vec<(RecordKey, Value)>) -> Result<(), StoreError> {
        let mut requests = Vec::with_capacity(records.len());
        for (key, value) in records {
            let mut item: Item =
                serde_dynamo::to_item(value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            item.extend(key_item(&key));
            let put = PutRequest::builder()
                .set_item(Some(item))
                .build()
                .map_err(|e| StoreError::Backend(e.to_string()))?;
            requests.push(WriteRequest::builder().put_request(put).build());
        }
        drain(requests, MAX_BATCH_WRITE, |batch| async move {
            let out = self
                .client
                .batch_write_item()
                .request_items(&self.table, batch)
                .send()
                .await
                .map_err(|e| sdk_error("BatchWriteItem", e))?;
            let unprocessed = out
                .unprocessed_items
                .and_then(|mut u| u.remove(&self.table))
                .unwrap_or_default();
            Ok((Vec::<()>::new(), unprocessed))
        })
        .await?;
        Ok(())
    }

    async fn create_many(
        &self,
        records: Vec<(RecordKey, Value)>,
    ) -> Result<Vec<RecordKey>, StoreError> {
        let mut puts = Vec::with_capacity(records.len());
        for (key, value) in records {
            let mut item: Item =
                serde_dynamo::to_item(value).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            item.extend(key_item(&key));
            puts.push((key, item));
        }
        // TransactWriteItems is the batched write that takes conditions: up to 100 puts,
        // each only if its key is free. A cancelled transaction says which puts failed
        // their condition; those keys exist, the rest are retried.
        drain(puts, MAX_TRANSACT_ITEMS, |batch| async move {
            let mut request = self.client.transact_write_items();
            for (_, item) in &batch {
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item.clone()))
                    .condition_expression("attribute_not_exists(pk)")
                    .build()
                    .map_err(|e| StoreError::Backend(e.to_string()))?;
                request = request.transact_items(TransactWriteItem::builder().put(put).build());
            }
            match request.send().await {
                Ok(_) => Ok((Vec::new(), Vec::new())),
                Err(e) => {
                    let reasons = match e.as_service_error() {
                        Some(TransactWriteItemsError::TransactionCanceledException(c)) => {
                            c.cancellation_reasons.clone().unwrap_or_default()
                        }
                        _ => return Err(sdk_error("TransactWriteItems", e)),
                    };
                    let mut existing = Vec::new();
                    let mut retry = Vec::new();
                    for (index, entry) in batch.into_iter().enumerate() {
                        let code = reasons.get(index).and_then(|r| r.code.as_deref());
                        if code == Some("ConditionalCheckFailed") {
                            existing.push(entry.0);
                        } else {
                            retry.push(entry);
                        }
                    }
                    Ok((existing, retry))
                }
            }
        })
        .await
    }

    async fn increment(
        &self,
        key: &RecordKey,
        attribute: &str,
        by: i64,
    ) -> Result<Option<i64>, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_item(key)))
            .update_expression("ADD #counter :by")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#counter", attribute)
            .expression_attribute_values(":by", n(by))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await;
        match result {
            Ok(out) => Ok(out.attributes.and_then(|a| {
                a.get(attribute)
                    .and_then(|v| v.as_n().ok())
                    .and_then(|v| v.parse().ok())
            })),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(sdk_error("UpdateItem(increment)", e)),
        }
    }
}
