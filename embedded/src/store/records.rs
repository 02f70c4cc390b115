//! [`RecordStore`] on the embedded store: records are JSON under `<sk>\0<pk>` (see
//! [`crate::records_table`]).

use std::collections::HashMap;

use async_trait::async_trait;
use redb::ReadableTable;
use serde_json::Value;

use super::{record_key, EmbeddedStore};
use crate::db::RECORDS;
use crate::sorted_write::{write_sorted, OnTaken};
use bulkops_shared::error::StoreError;
use bulkops_shared::store::{Record, RecordKey, RecordStore};

/// Each record under its name in the table, as the very JSON text it was made as.
fn named(records: &[(RecordKey, Record)]) -> Vec<(String, &[u8])> {
    records
        .iter()
        .map(|(key, record)| (record_key(key), record.json().as_bytes()))
        .collect()
}

#[async_trait]
impl RecordStore for EmbeddedStore {
    async fn get_many(&self, keys: &[RecordKey]) -> Result<HashMap<RecordKey, Value>, StoreError> {
        let keys = keys.to_vec();
        self.read(move |txn| {
            let table = txn.open_table(RECORDS)?;
            let mut found = HashMap::new();
            for key in keys {
                if let Some(value) = table.get(record_key(&key).as_str())? {
                    found.insert(key, serde_json::from_slice(value.value())?);
                }
            }
            Ok(found)
        })
        .await
    }

    async fn existing(&self, keys: &[RecordKey]) -> Result<Vec<bool>, StoreError> {
        let names: Vec<String> = keys.iter().map(record_key).collect();
        self.read(move |txn| {
            let table = txn.open_table(RECORDS)?;
            names
                .iter()
                .map(|name| Ok(table.get(name.as_str())?.is_some()))
                .collect()
        })
        .await
    }

    async fn put_many(&self, records: Vec<(RecordKey, Record)>) -> Result<(), StoreError> {
        self.write(move |txn| {
            let mut table = txn.open_table(RECORDS)?;
            write_sorted(&mut table, &named(&records), OnTaken::Replace)?;
            Ok(())
        })
        .await
    }

    async fn create_many(
        &self,
        records: Vec<(RecordKey, Record)>,
    ) -> Result<Vec<RecordKey>, StoreError> {
        self.write(move |txn| {
            let mut table = txn.open_table(RECORDS)?;
            let taken = write_sorted(&mut table, &named(&records), OnTaken::Keep)?;
            Ok(taken.into_iter().map(|i| records[i].0.clone()).collect())
        })
        .await
    }

    async fn put_keeping_counter(
        &self,
        key: &RecordKey,
        record: Value,
        counter: &str,
    ) -> Result<(), StoreError> {
        let (name, counter) = (record_key(key), counter.to_owned());
        let Value::Object(mut record) = record else {
            return Err(StoreError::Corrupt("a record must be a JSON object".into()));
        };
        self.write(move |txn| {
            let mut table = txn.open_table(RECORDS)?;
            let stored = table
                .get(name.as_str())?
                .and_then(|v| serde_json::from_slice::<Value>(v.value()).ok())
                .and_then(|v| v.get(&counter).and_then(Value::as_i64));
            let given = record.get(&counter).and_then(Value::as_i64).unwrap_or(0);
            record.insert(counter, Value::from(stored.unwrap_or(0).max(given)));
            let bytes = serde_json::to_vec(&record)?;
            table.insert(name.as_str(), bytes.as_slice())?;
            Ok(())
        })
        .await
    }

    async fn increment(
        &self,
        key: &RecordKey,
        attribute: &str,
        by: i64,
    ) -> Result<Option<i64>, StoreError> {
        let (name, attribute) = (record_key(key), attribute.to_owned());
        self.write(move |txn| {
            let mut table = txn.open_table(RECORDS)?;
            let current = table.get(name.as_str())?.map(|v| v.value().to_vec());
            let Some(bytes) = current else {
                return Ok(None);
            };
            let mut record: serde_json::Map<String, Value> = serde_json::from_slice(&bytes)?;
            let next = record.get(&attribute).and_then(Value::as_i64).unwrap_or(0) + by;
            record.insert(attribute, Value::from(next));
            let bytes = serde_json::to_vec(&record)?;
            table.insert(name.as_str(), bytes.as_slice())?;
            Ok(Some(next))
        })
        .await
    }
}
