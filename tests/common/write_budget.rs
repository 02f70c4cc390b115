//! A record store that lets a fixed number of side-effect records land (created, or written
//! in batches as flash passes are) and then fails every such write: a chunk dying part-way
//! through its side effects on every delivery, so that it is dead-lettered with some of them
//! written (the failure the dead-letter path must report honestly). Reads and other writes
//! pass through.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bulkops_shared::error::StoreError;
use bulkops_shared::store::{Record, RecordKey, RecordStore};
use serde_json::Value;

pub struct WriteBudget {
    inner: Arc<dyn RecordStore>,
    /// Records that may still be written.
    left: Mutex<usize>,
}

fn died_after(written: usize) -> StoreError {
    StoreError::Backend(format!(
        "injected: the process died after writing {written} records"
    ))
}

impl WriteBudget {
    pub fn new(inner: Arc<dyn RecordStore>, creates: usize) -> Arc<Self> {
        Arc::new(Self {
            inner,
            left: Mutex::new(creates),
        })
    }

    /// How many of `wanted` records may still land.
    fn take(&self, wanted: usize) -> usize {
        let mut left = self.left.lock().expect("budget lock");
        let allowed = (*left).min(wanted);
        *left -= allowed;
        allowed
    }
}

#[async_trait]
impl RecordStore for WriteBudget {
    async fn get_many(&self, keys: &[RecordKey]) -> Result<HashMap<RecordKey, Value>, StoreError> {
        self.inner.get_many(keys).await
    }
    async fn existing(&self, keys: &[RecordKey]) -> Result<Vec<bool>, StoreError> {
        self.inner.existing(keys).await
    }
    /// Writes what the budget allows, in order; a call that exceeds it writes its first
    /// records and then fails, as a process dying mid-batch would.
    async fn put_many(&self, mut records: Vec<(RecordKey, Record)>) -> Result<(), StoreError> {
        let allowed = self.take(records.len());
        if allowed == records.len() {
            return self.inner.put_many(records).await;
        }
        records.truncate(allowed);
        if !records.is_empty() {
            self.inner.put_many(records).await?;
        }
        Err(died_after(allowed))
    }
    /// Creates what the budget allows, in order, like `put_many`.
    async fn create_many(
        &self,
        mut records: Vec<(RecordKey, Record)>,
    ) -> Result<Vec<RecordKey>, StoreError> {
        let allowed = self.take(records.len());
        if allowed == records.len() {
            return self.inner.create_many(records).await;
        }
        records.truncate(allowed);
        if !records.is_empty() {
            self.inner.create_many(records).await?;
        }
        Err(died_after(allowed))
    }
    async fn put_keeping_counter(
        &self,
        key: &RecordKey,
        record: Value,
        counter: &str,
    ) -> Result<(), StoreError> {
        self.inner.put_keeping_counter(key, record, counter).await
    }
    async fn increment(
        &self,
        key: &RecordKey,
        attribute: &str,
        by: i64,
    ) -> Result<Option<i64>, StoreError> {
        self.inner.increment(key, attribute, by).await
    }
}
