//! Dead-letter queue consumer: fails the rows of chunks that exhausted their deliveries,
//! through the same count-once path, so their jobs still reach a final state.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use bulkops_shared::aws::{required_env, AwsClients, MissingSetting};
use bulkops_shared::engine::sqs::{handle_batch, Mode};
use bulkops_shared::engine::Operations;
use bulkops_shared::store::JobStore;
use lambda_runtime::{Error, LambdaEvent};

pub struct Deps {
    pub jobs: Arc<dyn JobStore>,
    pub operations: Operations,
}

impl Deps {
    /// From `TABLE_NAME` (jobs, reference data and passes share the table).
    pub fn from_env(clients: &AwsClients) -> Result<Self, MissingSetting> {
        let table = required_env("TABLE_NAME")?;
        Ok(Self {
            jobs: clients.job_store(&table),
            operations: Operations::new(clients.record_store(&table)),
        })
    }
}

pub async fn handler(deps: &Deps, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
    Ok(handle_batch(
        deps.jobs.as_ref(),
        &deps.operations,
        event.payload,
        Mode::DeadLetter,
    )
    .await?)
}
