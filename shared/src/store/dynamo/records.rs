//! [`RecordStore`] on DynamoDB: BatchGetItem / BatchWriteItem, looping on unprocessed work;
//! conditional creates as concurrent conditional PutItems.

use std::collections::{BTreeSet, HashMap, HashSet};

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{KeysAndAttributes, PutRequest, ReturnValue, WriteRequest};
use aws_sdk_dynamodb::Client;
use futures::stream::{self, StreamExt};
use serde_json::Value;

use super::{n, s, sdk_error, Item, MAX_BATCH_GET};

/// Conditional creates in flight at once.
const CREATE_CONCURRENCY: usize = 32;
use crate::batching::drain;
use crate::error::StoreError;
use crate::store::{Record, RecordKey, RecordStore};

/// DynamoDB-backed [`RecordStore`].
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

/// The item that stores `record` under `key`.
fn record_item(key: &RecordKey, record: &Record) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(record.parse::<Value>()?)?;
    item.extend(key_item(key));
    Ok(item)
}

impl DynamoRecordStore {
    /// The items stored under `keys` (each once), by BatchGetItem: whole, or only the
    /// attributes `projection` names.
    async fn batch_get(
        &self,
        keys: &[RecordKey],
        projection: Option<&str>,
    ) -> Result<Vec<Item>, StoreError> {
        let unique: BTreeSet<&RecordKey> = keys.iter().collect();
        drain(
            unique.into_iter().map(key_item).collect(),
            MAX_BATCH_GET,
            |batch| async move {
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(batch))
                    .consistent_read(true)
                    .set_projection_expression(projection.map(str::to_owned))
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
        .await
    }
}

#[async_trait]
impl RecordStore for DynamoRecordStore {
    async fn get_many(&self, keys: &[RecordKey]) -> Result<HashMap<RecordKey, Value>, StoreError> {
        let items = self.batch_get(keys, None).await?;
        let mut records = HashMap::with_capacity(items.len());
        for mut item in items {
            let key =
                key_of(&item).ok_or_else(|| StoreError::Corrupt("record without pk/sk".into()))?;
            item.remove("pk");
            item.remove("sk");
            let value: Value = serde_dynamo::from_item(item)?;
            records.insert(key, value);
        }
        Ok(records)
    }

    async fn existing(&self, keys: &[RecordKey]) -> Result<Vec<bool>, StoreError> {
        // Only the keys come back: the read costs the same units, the answer is smaller.
        let items = self.batch_get(keys, Some("pk, sk")).await?;
        let found = items
            .iter()
            .map(|item| {
                key_of(item).ok_or_else(|| StoreError::Corrupt("record without pk/sk".into()))
            })
            .collect::<Result<HashSet<RecordKey>, StoreError>>()?;
        Ok(keys.iter().map(|key| found.contains(key)).collect())
    }

    async fn put_many(&self, records: Vec<(RecordKey, Record)>) -> Result<(), StoreError> {
        let mut requests = Vec::with_capacity(records.len());
        for (key, record) in records {
            let item = record_item(&key, &record)?;
            let put = PutRequest::builder()
                .set_item(Some(item))
                .build()
                .map_err(|e| StoreError::Backend(e.to_string()))?;
            requests.push(WriteRequest::builder().put_request(put).build());
        }
        super::batch_write(&self.client, &self.table, requests, "BatchWriteItem").await
    }

    async fn create_many(
        &self,
        records: Vec<(RecordKey, Record)>,
    ) -> Result<Vec<RecordKey>, StoreError> {
        // One conditional PutItem per record, CREATE_CONCURRENCY at a time. Each record is
        // created only if its key is free, for one write unit; TransactWriteItems would batch
        // them but costs two per record (and transactions touching one key cancel each other).
        let results: Vec<Result<Option<RecordKey>, StoreError>> = stream::iter(records)
            .map(|(key, record)| async move {
                let item = record_item(&key, &record)?;
                let result = self
                    .client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(pk)")
                    .send()
                    .await;
                match result {
                    Ok(_) => Ok(None),
                    Err(e)
                        if e.as_service_error()
                            .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                    {
                        Ok(Some(key))
                    }
                    Err(e) => Err(sdk_error("PutItem(create)", e)),
                }
            })
            .buffer_unordered(CREATE_CONCURRENCY)
            .collect()
            .await;
        // Records created before an error stay: every caller's creates are idempotent on retry
        // (a record names the job and row that created it).
        results.into_iter().filter_map(Result::transpose).collect()
    }

    async fn put_keeping_counter(
        &self,
        key: &RecordKey,
        record: Value,
        counter: &str,
    ) -> Result<(), StoreError> {
        let Value::Object(mut fields) = record else {
            return Err(StoreError::Corrupt("a record must be a JSON object".into()));
        };
        let floor = fields.remove(counter).and_then(|v| v.as_i64()).unwrap_or(0);
        // Every other field is set; the counter is set only where there is none yet...
        let mut assignments = vec!["#counter = if_not_exists(#counter, :floor)".to_owned()];
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_item(key)))
            .expression_attribute_names("#counter", counter)
            .expression_attribute_values(":floor", n(floor));
        for (index, (name, value)) in fields.into_iter().enumerate() {
            assignments.push(format!("#f{index} = :f{index}"));
            update = update
                .expression_attribute_names(format!("#f{index}"), name)
                .expression_attribute_values(
                    format!(":f{index}"),
                    serde_dynamo::to_attribute_value(value)?,
                );
        }
        update
            .update_expression(format!("SET {}", assignments.join(", ")))
            .send()
            .await
            .map_err(|e| sdk_error("UpdateItem(record)", e))?;
        // ...and raised to the floor only if it is lower: two atomic steps, neither lowers it.
        let raised = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_item(key)))
            .update_expression("SET #counter = :floor")
            .condition_expression("#counter < :floor")
            .expression_attribute_names("#counter", counter)
            .expression_attribute_values(":floor", n(floor))
            .send()
            .await;
        match raised {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk_error("UpdateItem(counter floor)", e)),
        }
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
