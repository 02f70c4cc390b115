//! SQS-triggered splitter of staged files: the upload bucket notifies the split queue of each
//! file (`ObjectCreated` under `uploads/`), and each notification's file is read as a stream
//! into its job's parked chunks, the job released and its first window of chunks queued.
//! Partial batch response: only the notifications worth trying again are redelivered.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use bulkops_shared::aws::{required_env, AwsClients, MissingSetting};
pub use bulkops_shared::staged::Splitter as Deps;
use lambda_runtime::{Error, LambdaEvent};

/// From `TABLE_NAME`, `QUEUE_URL` (the chunk queue), `UPLOAD_BUCKET`, `CHUNK_WINDOW` and (to
/// publish events at once) `EVENT_BUS_NAME`.
pub fn deps_from_env(clients: &AwsClients) -> Result<Deps, MissingSetting> {
    Ok(clients.splitter(
        &required_env("TABLE_NAME")?,
        &required_env("QUEUE_URL")?,
        &required_env("UPLOAD_BUCKET")?,
    ))
}

pub async fn handler(deps: &Deps, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
    Ok(bulkops_shared::staged::notifications::handle_batch(deps, event.payload).await?)
}
