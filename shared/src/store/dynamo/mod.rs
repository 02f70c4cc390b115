//! DynamoDB implementation of the storage ports: one table, `pk`/`sk` keys, a `gsi1` index for
//! listing jobs newest first, and `expiresAt` (epoch seconds) as the TTL attribute.
//!
//! Partition keys start with the prefixes of [`crate::store::keys`].
//!
//! | item           | pk              | sk               |
//! |----------------|-----------------|------------------|
//! | job            | `JOB#<id>`      | `JOB`            |
//! | chunk results  | `JOB#<id>`      | `CHUNK#<n:06>`   |
//! | staged secrets | `JOB#<id>`      | `SECRETS#<n:06>` |
//! | kept secrets   | `JOB#<id>`      | `KEPT#<n:06>`    |
//! | parked chunk   | `JOB#<id>`      | `PARKED#<n:06>`  |
//! | client token   | `TOKEN#<key>`   | `TOKEN`          |
//!
//! A job item's `outbox` map holds its unpublished events (kind → time); while it is not
//! empty, `gsi2pk`/`gsi2sk` put the job in the [`OUTBOX_INDEX`] the publisher sweeps. A staged
//! job waiting for its file is in the `gsi3` index (see `awaiting.rs`).
//! | records        | caller-defined  | caller-defined   |
//!
//! `jobs.rs` implements [`super::JobStore`], `records.rs` [`super::RecordStore`]; this module
//! holds the item layout and the helpers both use.

mod awaiting;
mod cancel;
mod chunk_items;
mod client_tokens;
mod conditional;
mod groups;
mod idempotency_keys;
mod jobs;
mod listing;
mod outbox;
mod parked;
mod quota;
mod recorded;
mod records;
mod retries;
mod secrets;

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure};
use serde::{Deserialize, Serialize};

pub use jobs::DynamoJobStore;
pub use records::DynamoRecordStore;

use super::jobs_partition;
use crate::error::StoreError;
use crate::model::Job;

type Item = HashMap<String, AttributeValue>;

/// Jobs and chunk results stay this long after creation (then TTL removes them).
pub use crate::model::JOB_RETENTION_SECONDS as RETENTION_SECONDS;
/// BatchWriteItem takes at most 25 requests.
pub const MAX_BATCH_WRITE: usize = 25;
/// BatchGetItem takes at most 100 keys.
pub const MAX_BATCH_GET: usize = 100;
// `gsi2` holds jobs with unpublished events: `gsi2pk` = `OUTBOX`, `gsi2sk` = the first pending
// event's time and the job id.
pub use super::keys::{JOBS_INDEX, OUTBOX_INDEX};
use super::keys::{JOB_PREFIX, OUTBOX_PARTITION};

fn job_pk(id: &str) -> String {
    format!("{JOB_PREFIX}{id}")
}
const JOB_SK: &str = "JOB";
const CHUNK_SK_PREFIX: &str = "CHUNK#";
const SECRETS_SK_PREFIX: &str = "SECRETS#";
const PARKED_SK_PREFIX: &str = "PARKED#";
const KEPT_SK_PREFIX: &str = "KEPT#";

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}
fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}
/// A string set of chunk numbers (never empty: DynamoDB refuses empty sets).
fn chunk_set(chunks: impl IntoIterator<Item = u32>) -> AttributeValue {
    AttributeValue::Ss(chunks.into_iter().map(|c| c.to_string()).collect())
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

impl From<serde_dynamo::Error> for StoreError {
    fn from(error: serde_dynamo::Error) -> Self {
        StoreError::Corrupt(error.to_string())
    }
}

/// A conditional update's outcome: the item after it, or (its condition failed) the item as
/// it was, `None` if there was none.
type Conditional = Result<Item, Option<Item>>;

/// Sends `update` asking for the new item, or the old one if its condition fails: every
/// conditional update of this adapter goes through here.
async fn conditional_update(
    update: UpdateItemFluentBuilder,
    operation: &str,
) -> Result<Conditional, StoreError> {
    let result = update
        .return_values(ReturnValue::AllNew)
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await;
    match result {
        Ok(out) => Ok(Ok(out.attributes.unwrap_or_default())),
        Err(e) => match e.as_service_error() {
            Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                Ok(Err(failed.item.clone()))
            }
            _ => Err(sdk_error(operation, e)),
        },
    }
}

/// Writes every request with BatchWriteItem (25 per call), resubmitting what DynamoDB leaves
/// unprocessed (see [`crate::batching::drain`]).
async fn batch_write(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    requests: Vec<aws_sdk_dynamodb::types::WriteRequest>,
    operation: &str,
) -> Result<(), StoreError> {
    crate::batching::drain(requests, MAX_BATCH_WRITE, |batch| async move {
        let out = client
            .batch_write_item()
            .request_items(table, batch)
            .send()
            .await
            .map_err(|e| sdk_error(operation, e))?;
        let unprocessed = out
            .unprocessed_items
            .and_then(|mut u| u.remove(table))
            .unwrap_or_default();
        Ok((Vec::<()>::new(), unprocessed))
    })
    .await?;
    Ok(())
}

/// The job item: the job plus its keys, index keys and expiry.
#[derive(Serialize, Deserialize)]
struct JobItem {
    pk: String,
    sk: String,
    gsi1pk: String,
    gsi1sk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi3pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    gsi3sk: Option<String>,
    #[serde(rename = "expiresAt")]
    expires_at: i64,
    #[serde(flatten)]
    job: Job,
}

fn job_to_item(job: &Job) -> Result<Item, StoreError> {
    let (gsi3pk, gsi3sk) = awaiting::awaiting_keys(job).unzip();
    let item = JobItem {
        gsi3pk,
        gsi3sk,
        pk: job_pk(&job.id),
        sk: JOB_SK.to_owned(),
        gsi1pk: jobs_partition(job.job_type, &job.owner),
        gsi1sk: format!("{:013}#{}", job.init_time_ms, job.id),
        expires_at: job.expires_at_ms() / 1000,
        job: job.clone(),
    };
    Ok(serde_dynamo::to_item(item)?)
}

fn chunk_numbers(item: &Item, attribute: &str) -> BTreeSet<u32> {
    match item.get(attribute) {
        Some(AttributeValue::Ss(chunks)) => chunks.iter().filter_map(|c| c.parse().ok()).collect(),
        _ => BTreeSet::new(),
    }
}

fn job_from_item(item: Item) -> Result<Job, StoreError> {
    let recorded = chunk_numbers(&item, "recordedChunks");
    let claimed = chunk_numbers(&item, "claimedChunks");
    let mut job = serde_dynamo::from_item::<_, JobItem>(item)?.job;
    job.recorded_chunks = recorded;
    job.claimed_chunks = claimed;
    Ok(job)
}
