//! Fault injection around the real stores: a step that "dies" after its write has landed
//! (so the redelivery finds it done), a store that throttles, a poison chunk, and a gate that
//! holds a delivery before its n-th store call so that another can run in between (a
//! deterministic interleaving, not a sleep). Calls are named by [`Call`], so a misspelt fault
//! cannot silently not fire.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bulkops_shared::error::StoreError;
use bulkops_shared::store::{JobStore, RecordStore};
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
    ClaimChunks,
    SkipChunk,
    StartProcessing,
    ChunkSecrets,
    DeleteChunkSecrets,
    KeepFailedSecrets,
    StoreChunkOutcomes,
    RecordChunk,
    RecordChunks,
    Complete,
    MarkPublished,
    ExpireUpload,
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
    /// Every wrapped call made, failed or not.
    made: Mutex<HashMap<Call, u32>>,
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

    /// How many times `call` was made.
    pub fn made(&self, call: Call) -> u32 {
        self.made.lock().unwrap().get(&call).copied().unwrap_or(0)
    }

    /// `Some(after_write)` if this call must fail.
    fn take(&self, call: Call) -> Option<bool> {
        *self.made.lock().unwrap().entry(call).or_default() += 1;
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

mod stores;
pub use stores::{FaultyJobStore, FaultyRecordStore};

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
        group_chunks: true,
    }
}

/// Processor dependencies whose job and record stores both inject `faults`.
pub fn faulty_processor(fx: &bulkops_testkit::Fixture, faults: Arc<Faults>) -> processor::Deps {
    faulty_worker(fx.jobs(), fx.records(), fx.events(), fx.queue(), faults)
}
