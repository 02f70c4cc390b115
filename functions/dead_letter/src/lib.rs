//! Dead-letter queue consumer: ends the chunks that exhausted their deliveries, through the
//! same count-once path, so their jobs still reach a final state. A row whose side effect a
//! dying delivery wrote is reported succeeded; the others fail with `PROCESSING_FAILED`.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
pub use bulkops_shared::engine::sqs::WorkerDeps as Deps;
use bulkops_shared::engine::sqs::{handle_batch, Mode};
use lambda_runtime::{Error, LambdaEvent};

pub async fn handler(deps: &Deps, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
    Ok(handle_batch(deps, event.payload, Mode::DeadLetter).await?)
}
