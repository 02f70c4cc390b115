//! SQS-triggered splitter of staged files: the upload bucket notifies the split queue of each
//! file (`ObjectCreated` under `uploads/`), and each notification's file is read as a stream
//! into its job's parked chunks, the job released and its first window of chunks queued.
//! Partial batch response: only the notifications worth trying again are redelivered.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use bulkops_shared::aws::{required_env, AwsClients, MissingSetting};
pub use bulkops_shared::staged::Splitter as Deps;
use lambda_runtime::{Error, LambdaEvent};

/// From `TABLE_NAME`, `QUEUE_URL` (the chunk queue), `UPLOAD_BUCKET`, `SPLIT_QUEUE_URL` (its
/// own queue, where a split out of time goes on), `CHUNK_WINDOW` and (to publish events at
/// once) `EVENT_BUS_NAME`.
pub fn deps_from_env(clients: &AwsClients) -> Result<Deps, MissingSetting> {
    Ok(clients.splitter(
        &required_env("TABLE_NAME")?,
        &required_env("QUEUE_URL")?,
        &required_env("UPLOAD_BUCKET")?,
        &required_env("SPLIT_QUEUE_URL")?,
    ))
}

/// A split stops a minute before the invocation's deadline and goes on in the next one.
pub async fn handler(deps: &Deps, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
    use bulkops_shared::staged::notifications::{handle_batch, SPLIT_STOP_BEFORE_DEADLINE_MS};
    // An emulated invocation may carry no deadline (0): then the split never stops early.
    let deadline = i64::try_from(event.context.deadline)
        .ok()
        .filter(|deadline| *deadline > 0)
        .map(|deadline| deadline - SPLIT_STOP_BEFORE_DEADLINE_MS);
    Ok(handle_batch(deps, event.payload, deadline).await?)
}
