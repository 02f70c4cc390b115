use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::error::EngineError;
pub use crate::model::Secrets;
use crate::model::{ChunkRow, Job, JobType, RowOutcome};

/// One kind of row work (issue a flash pass, create an account, …). The engine owns chunking,
/// counting and state; an operation only turns a chunk's rows into one outcome per row.
#[async_trait]
pub trait RowOperation: Send + Sync {
    /// Runs the rows and returns exactly one outcome per row. Must be idempotent: a redelivered
    /// chunk runs again and must neither repeat a side effect nor change a row's outcome.
    /// `secrets` holds the chunk's sealed values by row number (empty for most operations).
    async fn run(
        &self,
        job: &Job,
        rows: &[ChunkRow],
        secrets: &Secrets,
    ) -> Result<Vec<RowOutcome>, EngineError>;

    /// What a row's outcome shows of its input (never a secret).
    fn echo(&self, row: &ChunkRow) -> Map<String, Value>;

    /// For a chunk that exhausted its deliveries: which rows' side effects a dying delivery
    /// wrote anyway. Returns exactly one answer per row, in order. Reads only (it must never
    /// write a side effect: the chunk is being given up), and a row it cannot read (malformed
    /// input) is `NotDone`, so that the dead-letter path always ends the chunk.
    async fn recover(&self, job: &Job, rows: &[ChunkRow]) -> Result<Vec<Recovery>, EngineError>;
}

/// What the dead-letter path learns of one row from the side effects it left. An operation
/// can only report a success it finds evidence of; the engine adds the row number and echo,
/// and fails every `NotDone` row with the dead-letter reason.
#[derive(Clone, Debug, PartialEq)]
pub enum Recovery {
    /// The row's side effect exists: the row succeeded, with the result `run` reports for it.
    Done { result: Option<Value> },
    /// No side effect of the row exists.
    NotDone,
}

/// The operations a worker knows, by job type. The engine sees them only through
/// [`RowOperation`]; which operations exist is decided where they are registered
/// (`crate::ops::registry`).
#[derive(Default)]
pub struct Operations {
    by_type: Vec<(JobType, Box<dyn RowOperation>)>,
}

impl Operations {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the operation that runs `job_type`'s rows.
    pub fn register(mut self, job_type: JobType, operation: Box<dyn RowOperation>) -> Self {
        self.by_type.retain(|(t, _)| *t != job_type);
        self.by_type.push((job_type, operation));
        self
    }

    /// The operation of `job_type`, if one is registered.
    pub fn for_type(&self, job_type: JobType) -> Option<&dyn RowOperation> {
        self.by_type
            .iter()
            .find(|(t, _)| *t == job_type)
            .map(|(_, operation)| operation.as_ref())
    }
}
