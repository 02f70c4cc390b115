//! Fault injection around the real stores: a step that "dies" after its write has landed
//! (so the redelivery finds it done), a store that throttles, a poison chunk, and a gate that
//! holds a delivery before its n-th store call so that another can run in between (a
//! deterministic interleaving, not a sleep). Calls are named by [`Call`], so a misspelt fault
//! cannot silently not fire.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bulkops_shared::error::StoreError;
use bulkops_shared::model::Secrets;
use bulkops_shared::model::{ChunkCounts, EventKind, Job, JobType, RowOutcome};
use bulkops_shared::store::{
    CancelOutcome, Claim, FirstFailure, JobStore, KeyClaim, KeyRecord, Record, RecordKey,
    RecordStore, Recorded, SecretStore, Skip, StoredChunkJson, StoredResponse, Transition,
};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

/// A store call the engine makes while processing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Call {
    CreateJob,
    Release,
    ClaimClientToken,
    AnswerIdempotencyKey,
    StopFailed,
    GetJob,
    ClaimChunk,
    SkipChunk,
    StartProcessing,
    ChunkSecrets,
    DeleteChunkSecrets,
    KeepFailedSecrets,
    StoreChunkOutcomes,
    RecordChunk,
    Complete,
    MarkPublished,
    MakeDurable,
    GetMany,
    PutMany,
    CreateMany,
    PutKeepingCounter,
    Increment,
}

/// When a wrapped call fails.
#[derive(Clone, Copy, Debug)]
pub enum Fault {
    /// The call's write lands, then the process "dies" (the caller sees an error).
    AfterWrite { call: Call, times: u32 },
    /// The call is throttled without doing anything.
    Throttle { call: Call, times: u32 },
    /// Every outcome write for this chunk fails: a poison chunk.
    PoisonChunk { chunk: u32 },
}

#[derive(Default)]
pub struct Faults {
    remaining: Mutex<HashMap<Call, (bool, u32)>>,
    poison: Mutex<Option<u32>>,
    gate: Mutex<Option<Gate>>,
}

/// Holds the `at`-th store call (0-based, counting every wrapped call) until released.
struct Gate {
    at: usize,
    seen: usize,
    paused: Option<mpsc::UnboundedSender<Call>>,
    resume: Option<oneshot::Receiver<()>>,
}

/// The test's side of a gate: wait until the delivery is held, then let it go on.
pub struct GateHandle {
    paused: mpsc::UnboundedReceiver<Call>,
    resume: Option<oneshot::Sender<()>>,
}

impl GateHandle {
    /// The call the delivery is held before, or `None` if it finished without reaching it.
    pub async fn held(&mut self) -> Option<Call> {
        self.paused.recv().await
    }

    pub fn release(&mut self) {
        if let Some(resume) = self.resume.take() {
            resume.send(()).ok();
        }
    }
}

impl Faults {
    pub fn new(faults: &[Fault]) -> Arc<Self> {
        let f = Self::default();
        for fault in faults {
            match *fault {
                Fault::AfterWrite { call, times } => {
                    f.remaining.lock().unwrap().insert(call, (true, times));
                }
                Fault::Throttle { call, times } => {
                    f.remaining.lock().unwrap().insert(call, (false, times));
                }
                Fault::PoisonChunk { chunk } => *f.poison.lock().unwrap() = Some(chunk),
            }
        }
        Arc::new(f)
    }

    /// Faults that hold the `at`-th store call until the handle releases it.
    pub fn gated(at: usize) -> (Arc<Self>, GateHandle) {
        let (paused_tx, paused_rx) = mpsc::unbounded_channel();
        let (resume_tx, resume_rx) = oneshot::channel();
        let faults = Self::default();
        *faults.gate.lock().unwrap() = Some(Gate {
            at,
            seen: 0,
            paused: Some(paused_tx),
            resume: Some(resume_rx),
        });
        (
            Arc::new(faults),
            GateHandle {
                paused: paused_rx,
                resume: Some(resume_tx),
            },
        )
    }

    /// Waits at the gate if this is the call it holds.
    async fn pass_gate(&self, call: Call) {
        let wait = {
            let mut gate = self.gate.lock().unwrap();
            let Some(gate) = gate.as_mut() else {
                return;
            };
            let this = gate.seen;
            gate.seen += 1;
            if this != gate.at {
                return;
            }
            if let Some(paused) = gate.paused.take() {
                paused.send(call).ok();
            }
            gate.resume.take()
        };
        if let Some(resume) = wait {
            resume.await.ok();
        }
    }

    /// Drops the gate's sender so a waiting test learns the delivery finished.
    pub fn close_gate(&self) {
        if let Some(gate) = self.gate.lock().unwrap().as_mut() {
            gate.paused.take();
        }
    }

    /// `Some(after_write)` if this call must fail.
    fn take(&self, call: Call) -> Option<bool> {
        let mut remaining = self.remaining.lock().unwrap();
        let (after_write, times) = remaining.get_mut(&call)?;
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

fn injected(call: Call) -> StoreError {
    StoreError::Throttled(format!("injected fault in {call:?}"))
}

macro_rules! faulty {
    ($self:ident, $call:expr, $future:expr) => {{
        $self.faults.pass_gate($call).await;
        match $self.faults.take($call) {
            Some(false) => Err(injected($call)),
            Some(true) => {
                $future.await?;
                Err(injected($call))
            }
            None => $future.await,
        }
    }};
}

pub struct FaultyJobStore {
    pub inner: Arc<dyn JobStore>,
    pub faults: Arc<Faults>,
}

#[async_trait]
impl SecretStore for FaultyJobStore {
    async fn put_chunk_secrets(
        &self,
        id: &str,
        chunk: u32,
        secrets: &Secrets,
    ) -> Result<(), StoreError> {
        self.inner.put_chunk_secrets(id, chunk, secrets).await
    }
    async fn chunk_secrets(&self, id: &str, chunk: u32) -> Result<Secrets, StoreError> {
        faulty!(
            self,
            Call::ChunkSecrets,
            self.inner.chunk_secrets(id, chunk)
        )
    }
    async fn delete_chunk_secrets(&self, id: &str, chunk: u32) -> Result<(), StoreError> {
        faulty!(
            self,
            Call::DeleteChunkSecrets,
            self.inner.delete_chunk_secrets(id, chunk)
        )
    }
    async fn keep_failed_secrets(
        &self,
        id: &str,
        chunk: u32,
        secrets: &Secrets,
        until_ms: i64,
    ) -> Result<(), StoreError> {
        faulty!(
            self,
            Call::KeepFailedSecrets,
            self.inner.keep_failed_secrets(id, chunk, secrets, until_ms)
        )
    }
    async fn kept_secrets(&self, id: &str) -> Result<Secrets, StoreError> {
        self.inner.kept_secrets(id).await
    }
}

#[async_trait]
impl JobStore for FaultyJobStore {
    async fn create_job(&self, job: &Job) -> Result<(), StoreError> {
        faulty!(self, Call::CreateJob, self.inner.create_job(job))
    }
    async fn create_job_within(
        &self,
        job: &Job,
        quota: &bulkops_shared::store::Quota,
    ) -> Result<bulkops_shared::store::Admission, StoreError> {
        faulty!(
            self,
            Call::CreateJob,
            self.inner.create_job_within(job, quota)
        )
    }
    async fn get_job(&self, id: &str) -> Result<Option<Job>, StoreError> {
        faulty!(self, Call::GetJob, self.inner.get_job(id))
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
    async fn release(&self, id: &str) -> Result<Transition, StoreError> {
        faulty!(self, Call::Release, self.inner.release(id))
    }
    async fn release_staged(
        &self,
        id: &str,
        total_rows: u32,
        chunk_count: u32,
    ) -> Result<Transition, StoreError> {
        faulty!(
            self,
            Call::Release,
            self.inner.release_staged(id, total_rows, chunk_count)
        )
    }
    async fn abandon(
        &self,
        id: &str,
        message: &str,
        now_ms: i64,
    ) -> Result<Transition, StoreError> {
        self.inner.abandon(id, message, now_ms).await
    }
    async fn claim_chunk(&self, id: &str, chunk: u32) -> Result<Claim, StoreError> {
        faulty!(self, Call::ClaimChunk, self.inner.claim_chunk(id, chunk))
    }
    async fn skip_chunk(&self, id: &str, chunk: u32, rows: u32) -> Result<Skip, StoreError> {
        faulty!(
            self,
            Call::SkipChunk,
            self.inner.skip_chunk(id, chunk, rows)
        )
    }
    async fn start_processing(&self, id: &str, now_ms: i64) -> Result<Option<Job>, StoreError> {
        faulty!(
            self,
            Call::StartProcessing,
            self.inner.start_processing(id, now_ms)
        )
    }
    async fn store_chunk_outcomes(
        &self,
        id: &str,
        chunk: u32,
        outcomes: &[RowOutcome],
    ) -> Result<Option<Vec<RowOutcome>>, StoreError> {
        if self.faults.poisoned(chunk) {
            return Err(StoreError::Backend(format!("poison chunk {chunk}")));
        }
        faulty!(
            self,
            Call::StoreChunkOutcomes,
            self.inner.store_chunk_outcomes(id, chunk, outcomes)
        )
    }
    async fn record_chunk(
        &self,
        id: &str,
        chunk: u32,
        counts: ChunkCounts,
        first_failure: Option<FirstFailure<'_>>,
    ) -> Result<Option<Recorded>, StoreError> {
        faulty!(
            self,
            Call::RecordChunk,
            self.inner.record_chunk(id, chunk, counts, first_failure)
        )
    }
    async fn complete(&self, id: &str, now_ms: i64) -> Result<Option<Job>, StoreError> {
        faulty!(self, Call::Complete, self.inner.complete(id, now_ms))
    }
    async fn add_retry(&self, id: &str, retry_id: &str) -> Result<(), StoreError> {
        self.inner.add_retry(id, retry_id).await
    }
    async fn record_split_progress(&self, id: &str, parked_below: u32) -> Result<(), StoreError> {
        self.inner.record_split_progress(id, parked_below).await
    }
    async fn record_result_files(
        &self,
        id: &str,
        files: &std::collections::BTreeMap<String, u64>,
    ) -> Result<(), StoreError> {
        self.inner.record_result_files(id, files).await
    }
    async fn stop_failed(
        &self,
        id: &str,
        message: &str,
        now_ms: i64,
    ) -> Result<Option<Job>, StoreError> {
        faulty!(
            self,
            Call::StopFailed,
            self.inner.stop_failed(id, message, now_ms)
        )
    }
    async fn cancel(&self, id: &str, now_ms: i64) -> Result<CancelOutcome, StoreError> {
        self.inner.cancel(id, now_ms).await
    }
    async fn row_outcomes(&self, id: &str) -> Result<Vec<RowOutcome>, StoreError> {
        self.inner.row_outcomes(id).await
    }
    async fn chunk_outcome_json_from(
        &self,
        id: &str,
        first: u32,
        max: usize,
    ) -> Result<Vec<StoredChunkJson>, StoreError> {
        self.inner.chunk_outcome_json_from(id, first, max).await
    }
    async fn jobs_with_pending_events(&self, limit: usize) -> Result<Vec<Job>, StoreError> {
        self.inner.jobs_with_pending_events(limit).await
    }
    async fn mark_published(&self, id: &str, kinds: &[EventKind]) -> Result<(), StoreError> {
        faulty!(
            self,
            Call::MarkPublished,
            self.inner.mark_published(id, kinds)
        )
    }
    async fn make_durable(&self) -> Result<(), StoreError> {
        faulty!(self, Call::MakeDurable, self.inner.make_durable())
    }
    async fn claim_client_token(&self, key: &str, job_id: &str) -> Result<String, StoreError> {
        faulty!(
            self,
            Call::ClaimClientToken,
            self.inner.claim_client_token(key, job_id)
        )
    }
    async fn claim_idempotency_key(
        &self,
        key: &str,
        claim: &KeyRecord,
    ) -> Result<KeyClaim, StoreError> {
        self.inner.claim_idempotency_key(key, claim).await
    }
    async fn answer_idempotency_key(
        &self,
        key: &str,
        claimed_at_ms: i64,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        faulty!(
            self,
            Call::AnswerIdempotencyKey,
            self.inner
                .answer_idempotency_key(key, claimed_at_ms, response)
        )
    }
    async fn release_idempotency_key(
        &self,
        key: &str,
        claimed_at_ms: i64,
    ) -> Result<(), StoreError> {
        self.inner.release_idempotency_key(key, claimed_at_ms).await
    }
}

pub struct FaultyRecordStore {
    pub inner: Arc<dyn RecordStore>,
    pub faults: Arc<Faults>,
}

#[async_trait]
impl RecordStore for FaultyRecordStore {
    async fn get_many(&self, keys: &[RecordKey]) -> Result<HashMap<RecordKey, Value>, StoreError> {
        faulty!(self, Call::GetMany, self.inner.get_many(keys))
    }
    /// A read like `get_many`, so the same fault reaches it.
    async fn existing(&self, keys: &[RecordKey]) -> Result<HashSet<RecordKey>, StoreError> {
        faulty!(self, Call::GetMany, self.inner.existing(keys))
    }
    async fn put_many(&self, records: Vec<(RecordKey, Record)>) -> Result<(), StoreError> {
        faulty!(self, Call::PutMany, self.inner.put_many(records))
    }
    async fn create_many(
        &self,
        records: Vec<(RecordKey, Record)>,
    ) -> Result<Vec<RecordKey>, StoreError> {
        faulty!(self, Call::CreateMany, self.inner.create_many(records))
    }
    async fn put_keeping_counter(
        &self,
        key: &RecordKey,
        record: Value,
        counter: &str,
    ) -> Result<(), StoreError> {
        faulty!(
            self,
            Call::PutKeepingCounter,
            self.inner.put_keeping_counter(key, record.clone(), counter)
        )
    }
    async fn increment(
        &self,
        key: &RecordKey,
        attribute: &str,
        by: i64,
    ) -> Result<Option<i64>, StoreError> {
        faulty!(
            self,
            Call::Increment,
            self.inner.increment(key, attribute, by)
        )
    }
}

/// Worker dependencies (processor or dead-letter function) whose job and record stores both
/// inject `faults`, around `jobs` and `records`.
pub fn faulty_worker(
    jobs: Arc<dyn JobStore>,
    records: Arc<dyn RecordStore>,
    events: Arc<dyn bulkops_shared::engine::EventFlush>,
    queue: Arc<dyn bulkops_shared::queue::ChunkQueue>,
    faults: Arc<Faults>,
) -> bulkops_shared::engine::sqs::WorkerDeps {
    bulkops_shared::engine::sqs::WorkerDeps {
        events,
        queue,
        metrics: Arc::new(bulkops_shared::metrics::NoMetrics),
        jobs: Arc::new(FaultyJobStore {
            inner: jobs,
            faults: faults.clone(),
        }),
        operations: bulkops_shared::ops::registry(Arc::new(FaultyRecordStore {
            inner: records,
            faults,
        })),
    }
}

/// Processor dependencies whose job and record stores both inject `faults`.
pub fn faulty_processor(fx: &bulkops_testkit::Fixture, faults: Arc<Faults>) -> processor::Deps {
    faulty_worker(fx.jobs(), fx.records(), fx.events(), fx.queue(), faults)
}
