use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::error::EngineError;
use crate::model::{ChunkRow, Job, JobType, RowOutcome};
use crate::store::RecordStore;

/// A chunk's sealed values (e.g. account secrets) by row number.
pub type Secrets = std::collections::BTreeMap<u32, String>;

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
}

/// The operations a processor knows, by job type.
pub struct Operations {
    pub mobile_flash_pass: Box<dyn RowOperation>,
    pub accounts: Box<dyn RowOperation>,
}

impl Operations {
    /// Every operation, working on `records` (reference data and side effects).
    pub fn new(records: Arc<dyn RecordStore>) -> Self {
        Self {
            mobile_flash_pass: Box::new(crate::ops::mobile_flash_pass::MobileFlashPass::new(
                records.clone(),
            )),
            accounts: Box::new(crate::ops::accounts::AddAccounts::new(records)),
        }
    }

    pub fn for_type(&self, job_type: JobType) -> &dyn RowOperation {
        match job_type {
            JobType::SendMfp => self.mobile_flash_pass.as_ref(),
            JobType::AddAccounts => self.accounts.as_ref(),
        }
    }
}
