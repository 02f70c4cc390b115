//! Row operations, one module per job type, each owning its typed request row, its outcome
//! echo and its HTTP API; and the registry that tells the engine which operation runs which
//! job type (the one place listing them).

pub mod accounts;
mod claimed;
pub mod mobile_flash_pass;
pub mod row_pages;
mod submitting;

use std::sync::Arc;

use crate::engine::Operations;
use crate::model::JobType;
use crate::store::RecordStore;

pub use claimed::start_claimed;
pub use submitting::{start, submit_error};

/// The optional tolerated failures of a create body (any API); a bad one is a 400 naming it.
pub fn tolerance(
    body: &serde_json::Value,
) -> Result<crate::model::FailureTolerance, crate::error::ApiError> {
    let Some(object) = body.as_object() else {
        return Ok(Default::default());
    };
    crate::model::FailureTolerance::from_body(object).map_err(|invalid| {
        crate::error::ApiError::bad_request(invalid.1, Some(invalid.0.to_owned()))
    })
}

/// How a job type's rows are read from a staged file; `None`: it takes none.
pub fn staged_rows(job_type: JobType) -> Option<Box<dyn crate::staged::StagedRows>> {
    match job_type {
        JobType::SendMfp => Some(Box::new(mobile_flash_pass::staged::MfpFileRows::default())),
        JobType::AddAccounts => Some(Box::new(accounts::staged::AccountFileRows::default())),
    }
}

/// How a job type's rows are written into its result files.
pub fn result_rows(job_type: JobType) -> Box<dyn crate::results::ResultRows> {
    match job_type {
        JobType::SendMfp => Box::new(mobile_flash_pass::result_files::MfpResultRows),
        JobType::AddAccounts => Box::new(accounts::result_files::AccountResultRows::default()),
    }
}

/// Every operation, working on `records` (reference data and side effects).
pub fn registry(records: Arc<dyn RecordStore>) -> Operations {
    Operations::new()
        .register(
            JobType::SendMfp,
            Box::new(mobile_flash_pass::MobileFlashPass::new(records.clone())),
        )
        .register(
            JobType::AddAccounts,
            Box::new(accounts::AddAccounts::new(records)),
        )
}
