//! SQS-triggered processor: one chunk per message, partial batch response.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
pub use bulkops_shared::engine::sqs::WorkerDeps as Deps;
use bulkops_shared::engine::sqs::{handle_batch, Mode};
use lambda_runtime::{Error, LambdaEvent};

pub async fn handler(deps: &Deps, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
    Ok(handle_batch(deps, event.payload, Mode::Process).await?)
}
