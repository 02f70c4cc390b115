//! The port row operations store their records through: reference data and side effects
//! (enrollments, passes, accounts), read and written in batches.

use std::collections::HashMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
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

/// A record to write: a JSON object's text, serialized once by whoever makes it. A typed
/// record (a flash pass) serializes straight into it, with no `serde_json::Value` in
/// between, and the embedded store keeps these very bytes.
#[derive(Clone, Debug)]
pub struct Record(Box<RawValue>);

impl Record {
    /// `record` serialized; it must serialize as a JSON object.
    pub fn of(record: &impl Serialize) -> Result<Self, StoreError> {
        let json = serde_json::value::to_raw_value(record)?;
        // Serialized compactly, an object's text starts with its brace.
        if !json.get().starts_with('{') {
            return Err(StoreError::Corrupt(format!(
                "a record must be a JSON object, not {}",
                json.get()
            )));
        }
        Ok(Self(json))
    }

    /// The record's JSON text.
    pub fn json(&self) -> &str {
        self.0.get()
    }

    /// The record read as `T`.
    pub fn parse<'a, T: Deserialize<'a>>(&'a self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.0.get())
    }
}

/// Records are equal when their JSON text is.
impl PartialEq for Record {
    fn eq(&self, other: &Self) -> bool {
        self.json() == other.json()
    }
}

/// Batched reads and writes of JSON records: what row operations need from storage.
#[async_trait]
pub trait RecordStore: Send + Sync {
    /// The records that exist among `keys` (missing keys are absent from the map).
    async fn get_many(&self, keys: &[RecordKey]) -> Result<HashMap<RecordKey, Value>, StoreError>;
    /// Whether each of `keys` exists, in their order: for a caller to whom a record's presence
    /// is all that matters (no record is parsed or returned, no key copied or hashed).
    async fn existing(&self, keys: &[RecordKey]) -> Result<Vec<bool>, StoreError>;
    /// Writes (overwrites) every record.
    async fn put_many(&self, records: Vec<(RecordKey, Record)>) -> Result<(), StoreError>;
    /// Creates records that do not exist yet (batched, each conditional on its key being
    /// free); returns the keys that already existed, which were left unchanged.
    async fn create_many(
        &self,
        records: Vec<(RecordKey, Record)>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_record_is_a_json_object_serialized_once() {
        let record = Record::of(&json!({"a": [true], "b": 1})).unwrap();
        assert_eq!(record.json(), r#"{"a":[true],"b":1}"#);
        assert_eq!(
            record.parse::<Value>().unwrap(),
            json!({"a": [true], "b": 1})
        );
        for not_an_object in [json!([1]), json!("x"), json!(null), json!(3)] {
            assert!(matches!(
                Record::of(&not_an_object),
                Err(StoreError::Corrupt(_))
            ));
        }
    }
}
