//! The port row operations store their records through: reference data and side effects
//! (enrollments, passes, accounts), read and written in batches.

use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use serde_json::Value;

use crate::error::StoreError;

/// Key of a reference-data or side-effect record (enrollments, passes, …).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordKey {
    pub pk: String,
    pub sk: String,
}

impl RecordKey {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }
}

/// Batched reads and writes of JSON records: what row operations need from storage.
#[async_trait]
pub trait RecordStore: Send + Sync {
    /// The records that exist among `keys` (missing keys are absent from the map).
    async fn get_many(&self, keys: &[RecordKey]) -> Result<HashMap<RecordKey, Value>, StoreError>;
    /// Which of `keys` exist: for a caller to whom a record's presence is all that matters
    /// (no record is parsed or returned).
    async fn existing(&self, keys: &[RecordKey]) -> Result<HashSet<RecordKey>, StoreError>;
    /// Writes (overwrites) every record; each value must be a JSON object.
    async fn put_many(&self, records: Vec<(RecordKey, Value)>) -> Result<(), StoreError>;
    /// Creates records that do not exist yet (batched, each conditional on its key being
    /// free); returns the keys that already existed, which were left unchanged.
    async fn create_many(
        &self,
        records: Vec<(RecordKey, Value)>,
    ) -> Result<Vec<RecordKey>, StoreError>;
    /// Writes `record` (a JSON object) under `key`, except that its numeric `counter` never
    /// moves backwards: it keeps the larger of the stored and the given value. (Reference data
    /// reloaded while rows run must not hand out account numbers twice.)
    async fn put_keeping_counter(
        &self,
        key: &RecordKey,
        record: Value,
        counter: &str,
    ) -> Result<(), StoreError>;
    /// Atomically adds `by` to a numeric `attribute` of an existing record and returns the new
    /// value; `None` if the record does not exist.
    async fn increment(
        &self,
        key: &RecordKey,
        attribute: &str,
        by: i64,
    ) -> Result<Option<i64>, StoreError>;
}
