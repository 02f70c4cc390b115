//! Fault injection around the real stores: a step that "dies" after its write has landed
//! (so the redelivery finds it done), or a store that throttles or fails outright.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bulkops_shared::engine::Secrets;
use bulkops_shared::error::StoreError;
use bulkops_shared::model::{ChunkCounts, Job, JobType, RowOutcome};
use bulkops_shared::store::{CancelOutcome, JobStore, RecordKey, RecordStore, Recorded};
use serde_json::Value;

/// When a wrapped call fails.
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// The call's write lands, then the process "dies" (the caller sees an error).
    AfterWrite { method: &'static str, times: u32 },
    /// The call is throttled without doing anything.
    Throttle { method: &'static str, times: u32 },
    /// Every call for this chunk fails: a poison chunk.
    PoisonChunk { chunk: u32 },
}

#[derive(Default)]
pub struct Faults {
    remaining: Mutex<HashMap<&'static str, (bool, u32)>>,
    poison: Mutex<Option<u32>>,
}

impl Faults {
    pub fn new(faults: &[Fault]) -> Arc<Self> {
        let f = Self::default();
        for fault in faults {
            match *fault {
                Fault::AfterWrite { method, times } => {
                    f.remaining.lock().unwrap().insert(method, (true, times));
                }
                Fault::Throttle { method, times } => {
                    f.remaining.lock().unwrap().insert(method, (false, times));
                }
                Fault::PoisonChunk { chunk } => *f.poison.lock().unwrap() = Some(chunk),
            }
        }
        Arc::new(f)
    }

    /// `Some(after_write)` if this call of `method` must fail.
    fn take(&self, method: &'static str) -> Option<bool> {
        let mut remaining = self.remaining.lock().unwrap();
        let (after_write, times) = remaining.get_mut(method)?;
        if *times == 0 {
            return None;
        }
        *times -= 1;
        Some(*after_write)
    }

    fn poisoned(&self, chunk: u32) -> bool {
        *self.poison.lock().unwrap() == Some(chunk)
    }
}

fn injected(method: &str) -> StoreError {
    StoreError::Throttled(format!("injected fault in {method}"))
}

macro_rules! faulty {
    ($self:ident, $method:literal, $call:expr) => {{
        match $self.faults.take($method) {
            Some(false) => Err(injected($method)),
            Some(true) => {
                $call.await?;
                Err(injected($method))
            }
            None => $call.await,
        }
    }};
}

pub struct FaultyJobStore {
    pub inner: Arc<dyn JobStore>,
    pub faults: Arc<Faults>,
}

#[async_trait]
impl JobStore for FaultyJobStore {
    async fn create_job(&self, job: &Job) -> Result<(), StoreError> {
        faulty!(self, "create_job", self.inner.create_job(job))
    }
    async fn get_job(&self, id: &str) -> Result<Option<Job>, StoreError> {
        faulty!(self, "get_job", self.inner.get_job(id))
    }
    async fn list_jobs(
        &self,
        job_type: JobType,
        owner: &str,
        limit: usize,
    ) -> Result<Vec<Job>, StoreError> {
        self.inner.list_jobs(job_type, owner, limit).await
    }
    async fn next_sequence(&self, name: &str) -> Result<i64, StoreError> {
        self.inner.next_sequence(name).await
    }
    async fn put_chunk_secrets(
        &self,
        id: &str,
        chunk: u32,
        secrets: &Secrets,
    ) -> Result<(), StoreError> {
        self.inner.put_chunk_secrets(id, chunk, secrets).await
    }
    async fn chunk_secrets(&self, id: &str, chunk: u32) -> Result<Secrets, StoreError> {
        self.inner.chunk_secrets(id, chunk).await
    }
    async fn delete_chunk_secrets(&self, id: &str, chunk: u32) -> Result<(), StoreError> {
        faulty!(
            self,
            "delete_chunk_secrets",
            self.inner.delete_chunk_secrets(id, chunk)
        )
    }
    async fn start_processing(&self, id: &str, now_ms: i64) -> Result<(), StoreError> {
        faulty!(
            self,
            "start_processing",
            self.inner.start_processing(id, now_ms)
        )
    }
    async fn put_chunk_outcomes(
        &self,
        id: &str,
        chunk: u32,
        outcomes: &[RowOutcome],
    ) -> Result<(), StoreError> {
        if self.faults.poisoned(chunk) {
            return Err(StoreError::Backend(format!("poison chunk {chunk}")));
        }
        faulty!(
            self,
            "put_chunk_outcomes",
            self.inner.put_chunk_outcomes(id, chunk, outcomes)
        )
    }
    async fn lower_first_failure(
        &self,
        id: &str,
        row: u32,
        message: &str,
    ) -> Result<(), StoreError> {
        faulty!(
            self,
            "lower_first_failure",
            self.inner.lower_first_failure(id, row, message)
        )
    }
    async fn record_chunk(
        &self,
        id: &str,
        chunk: u32,
        counts: ChunkCounts,
    ) -> Result<Option<Recorded>, StoreError> {
        faulty!(
            self,
            "record_chunk",
            self.inner.record_chunk(id, chunk, counts)
        )
    }
    async fn complete(&self, id: &str, now_ms: i64) -> Result<bool, StoreError> {
        faulty!(self, "complete", self.inner.complete(id, now_ms))
    }
    async fn cancel(&self, id: &str, now_ms: i64) -> Result<CancelOutcome, StoreError> {
        self.inner.cancel(id, now_ms).await
    }
    async fn fail(
        &self,
        id: &str,
        message: &str,
        unsent: &[u32],
        rows: u32,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.inner.fail(id, message, unsent, rows, now_ms).await
    }
    async fn row_outcomes(&self, id: &str) -> Result<Vec<RowOutcome>, StoreError> {
        self.inner.row_outcomes(id).await
    }
}

pub struct FaultyRecordStore {
    pub inner: Arc<dyn RecordStore>,
    pub faults: Arc<Faults>,
}

#[async_trait]
impl RecordStore for FaultyRecordStore {
    async fn get_many(&self, keys: &[RecordKey]) -> Result<HashMap<RecordKey, Value>, StoreError> {
        faulty!(self, "get_many", self.inner.get_many(keys))
    }
    async fn put_many(&self, records: Vec<(RecordKey, Value)>) -> Result<(), StoreError> {
        faulty!(self, "put_many", self.inner.put_many(records))
    }
    async fn create_many(
        &self,
        records: Vec<(RecordKey, Value)>,
    ) -> Result<Vec<RecordKey>, StoreError> {
        faulty!(self, "create_many", self.inner.create_many(records))
    }
    async fn increment(
        &self,
        key: &RecordKey,
        attribute: &str,
        by: i64,
    ) -> Result<Option<i64>, StoreError> {
        faulty!(self, "increment", self.inner.increment(key, attribute, by))
    }
}

/// Processor dependencies whose job and record stores both inject `faults`.
pub fn faulty_processor(fx: &bulkops::testkit::Fixture, faults: Arc<Faults>) -> processor::Deps {
    processor::Deps {
        jobs: Arc::new(FaultyJobStore {
            inner: fx.jobs(),
            faults: faults.clone(),
        }),
        operations: bulkops_shared::engine::Operations::new(Arc::new(FaultyRecordStore {
            inner: fx.records(),
            faults,
        })),
    }
}
