//! The row outcomes a job keeps per chunk (stored once).

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;

use super::DynamoJobStore;
use super::{job_pk, n, s, sdk_error, Item, CHUNK_SK_PREFIX, RETENTION_SECONDS};
use crate::error::StoreError;
use crate::model::RowOutcome;
use crate::store::StoredChunkJson;

impl DynamoJobStore {
    pub(super) async fn store_chunk_outcomes_item(
        &self,
        id: &str,
        chunk: u32,
        outcomes: &[RowOutcome],
    ) -> Result<Option<Vec<RowOutcome>>, StoreError> {
        let packed =
            serde_json::to_string(outcomes).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let expires_at = crate::time::now_ms() / 1000 + RETENTION_SECONDS;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(job_pk(id)))
            .item("sk", s(format!("{CHUNK_SK_PREFIX}{chunk:06}")))
            .item("rows", n(outcomes.len()))
            // One JSON attribute per chunk keeps the item compact (well under 400 KB for a
            // 60 KiB chunk) and its write cost predictable.
            .item("outcomes", s(packed))
            .item("expiresAt", n(expires_at))
            // Write-once: the first outcomes stored are the ones the chunk is counted with.
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(None),
            Err(e) => match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => failed
                    .item
                    .as_ref()
                    .map(outcomes_of)
                    .unwrap_or_else(|| Err(StoreError::Corrupt("no stored outcomes".into())))
                    .map(Some),
                _ => Err(sdk_error("PutItem(chunk outcomes)", e)),
            },
        }
    }

    /// Every item of job `id` whose sort key starts with `prefix`, read consistently, page by
    /// page.
    pub(super) async fn job_items(
        &self,
        id: &str,
        prefix: &str,
        call: &'static str,
    ) -> Result<Vec<Item>, StoreError> {
        let condition = "pk = :pk AND begins_with(sk, :prefix)";
        self.job_items_where(id, condition, &[(":prefix", prefix)], call)
            .await
    }

    /// Every item of job `id` whose sort key is within `first..=last`, read consistently, page
    /// by page.
    pub(super) async fn job_items_between(
        &self,
        id: &str,
        (first, last): (&str, &str),
        call: &'static str,
    ) -> Result<Vec<Item>, StoreError> {
        let condition = "pk = :pk AND sk BETWEEN :first AND :last";
        let bounds = [(":first", first), (":last", last)];
        self.job_items_where(id, condition, &bounds, call).await
    }

    async fn job_items_where(
        &self,
        id: &str,
        condition: &str,
        values: &[(&str, &str)],
        call: &'static str,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start_key = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression(condition)
                .expression_attribute_values(":pk", s(job_pk(id)));
            for (name, value) in values {
                query = query.expression_attribute_values(*name, s(*value));
            }
            let out = query
                .consistent_read(true)
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .map_err(|e| sdk_error(call, e))?;
            items.extend(out.items.unwrap_or_default());
            start_key = out.last_evaluated_key;
            if start_key.is_none() {
                return Ok(items);
            }
        }
    }

    pub(super) async fn row_outcomes_item(&self, id: &str) -> Result<Vec<RowOutcome>, StoreError> {
        let mut outcomes = Vec::new();
        for item in self
            .job_items(id, CHUNK_SK_PREFIX, "Query(chunk outcomes)")
            .await?
        {
            outcomes.extend(outcomes_of(&item)?);
        }
        outcomes.sort_by_key(|o| o.row);
        Ok(outcomes)
    }
}

impl DynamoJobStore {
    pub(super) async fn chunk_outcome_json_from_item(
        &self,
        id: &str,
        first: u32,
        max: usize,
    ) -> Result<Vec<StoredChunkJson>, StoreError> {
        let mut chunks = Vec::new();
        let mut start_key = None;
        // Chunk numbers stay below 10^6 (a 1 GB staged file makes some 40,000 chunks), so the
        // zero-padded sort keys run in chunk order; `~` sorts after every digit.
        let (from, to) = (
            format!("{CHUNK_SK_PREFIX}{first:06}"),
            format!("{CHUNK_SK_PREFIX}~"),
        );
        while chunks.len() < max {
            let remaining = i32::try_from(max - chunks.len()).unwrap_or(i32::MAX);
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
                .expression_attribute_values(":pk", s(job_pk(id)))
                .expression_attribute_values(":from", s(from.as_str()))
                .expression_attribute_values(":to", s(to.as_str()))
                // A page must see every chunk stored before it was asked for.
                .consistent_read(true)
                .limit(remaining)
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .map_err(|e| sdk_error("Query(chunk outcomes from)", e))?;
            for item in out.items.unwrap_or_default() {
                chunks.push(StoredChunkJson {
                    chunk: chunk_of(&item)?,
                    json: packed_outcomes(&item)?.to_owned(),
                });
            }
            // A query page also ends at 1 MB of items, before `Limit`: go on from there.
            start_key = out.last_evaluated_key;
            if start_key.is_none() {
                break;
            }
        }
        chunks.truncate(max);
        Ok(chunks)
    }
}

/// The chunk number of a chunk results item (`sk` = `CHUNK#<n:06>`).
fn chunk_of(item: &Item) -> Result<u32, StoreError> {
    item.get("sk")
        .and_then(|v| v.as_s().ok())
        .and_then(|sk| sk.strip_prefix(CHUNK_SK_PREFIX))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| StoreError::Corrupt("chunk item without a chunk number".into()))
}

/// The row outcomes packed in a chunk results item, as stored (a JSON array).
fn packed_outcomes(item: &Item) -> Result<&str, StoreError> {
    item.get("outcomes")
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .ok_or_else(|| StoreError::Corrupt("chunk item without outcomes".into()))
}

/// The row outcomes packed in a chunk results item.
fn outcomes_of(item: &Item) -> Result<Vec<RowOutcome>, StoreError> {
    serde_json::from_str(packed_outcomes(item)?).map_err(|e| StoreError::Corrupt(e.to_string()))
}
