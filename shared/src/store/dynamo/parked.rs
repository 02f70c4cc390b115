//! [`ChunkParking`] on DynamoDB: one item per parked chunk beside its job
//! (`JOB#<id>` / `PARKED#<n:06>`), its message as one JSON attribute, kept as long as the job.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};

use super::RETENTION_SECONDS;
use super::{job_pk, n, s, sdk_error, DynamoJobStore, PARKED_SK_PREFIX};
use crate::error::StoreError;
use crate::model::ChunkMessage;
use crate::store::ChunkParking;

#[async_trait]
impl ChunkParking for DynamoJobStore {
    async fn park_chunks(&self, chunks: &[ChunkMessage]) -> Result<(), StoreError> {
        let expires_at = crate::time::now_ms() / 1000 + RETENTION_SECONDS;
        let mut requests = Vec::with_capacity(chunks.len());
        for chunk in chunks {
            // A chunk is at most 60 KiB of rows: 25 of them stay far below BatchWriteItem's
            // 16 MB, each far below the 400 KB item limit.
            let put = PutRequest::builder()
                .item("pk", s(job_pk(&chunk.job_id)))
                .item("sk", s(format!("{PARKED_SK_PREFIX}{:06}", chunk.chunk)))
                .item("message", s(serde_json::to_string(chunk)?))
                .item("expiresAt", n(expires_at))
                .build()
                .map_err(|e| StoreError::Backend(e.to_string()))?;
            requests.push(WriteRequest::builder().put_request(put).build());
        }
        super::batch_write(
            &self.client,
            &self.table,
            requests,
            "BatchWriteItem(parked chunks)",
        )
        .await
    }

    async fn parked_chunk(
        &self,
        job_id: &str,
        chunk: u32,
    ) -> Result<Option<ChunkMessage>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(job_pk(job_id)))
            .key("sk", s(format!("{PARKED_SK_PREFIX}{chunk:06}")))
            // Parked before the first chunk was queued, but a miss would stall the job.
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem(parked chunk)", e))?;
        out.item.as_ref().map(message_of).transpose()
    }

    /// One Query of the range (paged by DynamoDB's 1 MB), instead of a GetItem per chunk.
    async fn parked_chunks(
        &self,
        job_id: &str,
        first: u32,
        count: u32,
    ) -> Result<Vec<ChunkMessage>, StoreError> {
        let Some(last) = (first + count).checked_sub(1).filter(|_| count > 0) else {
            return Ok(Vec::new());
        };
        let (from, to) = (
            format!("{PARKED_SK_PREFIX}{first:06}"),
            format!("{PARKED_SK_PREFIX}{last:06}"),
        );
        let items = self
            .job_items_between(job_id, (&from, &to), "Query(parked chunks)")
            .await?;
        items.iter().map(message_of).collect()
    }
}

/// The chunk message a parked item holds.
fn message_of(item: &super::Item) -> Result<ChunkMessage, StoreError> {
    let message = item
        .get("message")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| StoreError::Corrupt("parked chunk without its message".into()))?;
    Ok(serde_json::from_str(message)?)
}
