//! How a chunk's passes are written: a seeded job's with one batched write of the same bytes
//! on every delivery, a job without a seed's only if absent.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::{json, Value};

use super::*;
use crate::enrollment::tests_support::id;
use crate::error::StoreError;
use crate::model::{JobType, Outcome};

/// Records in memory; remembers which keys were read and which writes were made.
#[derive(Default)]
struct Memory {
    records: Mutex<HashMap<RecordKey, Value>>,
    read: Mutex<Vec<RecordKey>>,
    puts: Mutex<usize>,
    creates: Mutex<usize>,
}

#[async_trait]
impl RecordStore for Memory {
    async fn get_many(&self, keys: &[RecordKey]) -> Result<HashMap<RecordKey, Value>, StoreError> {
        self.read.lock().unwrap().extend_from_slice(keys);
        let records = self.records.lock().unwrap();
        Ok(keys
            .iter()
            .filter_map(|k| records.get(k).map(|v| (k.clone(), v.clone())))
            .collect())
    }
    async fn existing(&self, keys: &[RecordKey]) -> Result<Vec<bool>, StoreError> {
        self.read.lock().unwrap().extend_from_slice(keys);
        let records = self.records.lock().unwrap();
        Ok(keys.iter().map(|k| records.contains_key(k)).collect())
    }
    async fn put_many(&self, records: Vec<(RecordKey, Record)>) -> Result<(), StoreError> {
        *self.puts.lock().unwrap() += records.len();
        let values = records.into_iter().map(|(k, r)| (k, r.parse().unwrap()));
        self.records.lock().unwrap().extend(values);
        Ok(())
    }
    async fn create_many(
        &self,
        records: Vec<(RecordKey, Record)>,
    ) -> Result<Vec<RecordKey>, StoreError> {
        *self.creates.lock().unwrap() += records.len();
        let mut stored = self.records.lock().unwrap();
        let mut taken = Vec::new();
        for (key, value) in records {
            match stored.entry(key) {
                std::collections::hash_map::Entry::Occupied(taken_key) => {
                    taken.push(taken_key.key().clone())
                }
                std::collections::hash_map::Entry::Vacant(free) => {
                    free.insert(value.parse().unwrap());
                }
            }
        }
        Ok(taken)
    }
    async fn put_keeping_counter(
        &self,
        _: &RecordKey,
        _: Value,
        _: &str,
    ) -> Result<(), StoreError> {
        unreachable!("not a flash pass write")
    }
    async fn increment(&self, _: &RecordKey, _: &str, _: i64) -> Result<Option<i64>, StoreError> {
        unreachable!("not a flash pass write")
    }
}

/// Enrollments 1 and 2 exist; the chunk asks for 1, 2, an unknown 9 and 1 again.
fn setup() -> (Arc<Memory>, Vec<ChunkRow>) {
    let memory = Arc::new(Memory::default());
    for n in ["1", "2"] {
        let enrollment = EnrollmentRef::from_id(&id(n)).unwrap();
        memory
            .records
            .lock()
            .unwrap()
            .insert(enrollment_key(&enrollment), json!({"n": n}));
    }
    let rows = rows_from_ids(vec![id("1"), id("2"), id("9"), id("1")]);
    (memory, rows)
}

fn passes(memory: &Memory) -> HashMap<RecordKey, Value> {
    let records = memory.records.lock().unwrap();
    records
        .iter()
        .filter(|(k, _)| k.sk.starts_with("MFP#"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[tokio::test]
async fn a_seeded_job_reads_only_enrollments_and_rewrites_the_same_passes_on_redelivery() {
    let (memory, rows) = setup();
    let operation = MobileFlashPass::new(memory.clone());
    let job = Job::new("j".into(), JobType::SendMfp, "alice".into(), 4, 1_000);
    let first = operation.run(&job, &rows, &Secrets::new()).await.unwrap();
    let issued = passes(&memory);
    let again = operation.run(&job, &rows, &Secrets::new()).await.unwrap();

    let outcomes: Vec<(u32, Outcome)> = first.iter().map(|o| (o.row, o.outcome)).collect();
    use Outcome::{Failed, Succeeded};
    assert_eq!(
        outcomes,
        vec![(1, Succeeded), (2, Succeeded), (3, Failed), (4, Failed)]
    );
    assert_eq!(first, again, "a redelivery reports the same outcomes");
    assert_eq!(issued.len(), 2);
    assert_eq!(passes(&memory), issued, "and rewrites the very same passes");
    assert!(
        memory
            .read
            .lock()
            .unwrap()
            .iter()
            .all(|k| k.sk == ENROLLMENT_SK),
        "only enrollments are read"
    );
    assert_eq!(*memory.puts.lock().unwrap(), 4, "two passes, written twice");
    assert_eq!(*memory.creates.lock().unwrap(), 0);
}

#[tokio::test]
async fn a_job_without_a_seed_creates_its_passes_only_if_absent() {
    let (memory, rows) = setup();
    let operation = MobileFlashPass::new(memory.clone());
    let mut job = Job::new("j".into(), JobType::SendMfp, "alice".into(), 4, 1_000);
    job.seed = None;
    let first = operation.run(&job, &rows, &Secrets::new()).await.unwrap();
    let issued = passes(&memory);
    let again = operation.run(&job, &rows, &Secrets::new()).await.unwrap();

    assert_eq!(first, again, "a redelivery reports the passes issued first");
    assert_eq!(passes(&memory), issued, "and leaves them as they were");
    assert_eq!(issued.len(), 2);
    assert_eq!(
        *memory.creates.lock().unwrap(),
        2,
        "the redelivery found both"
    );
    assert_eq!(*memory.puts.lock().unwrap(), 0);
}
