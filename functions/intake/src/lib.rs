//! SQS-triggered intake of event-driven bulk requests (`Bulk Job Requested`): one request per
//! message, partial batch response.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use bulkops_shared::aws::{required_env, AwsClients, MissingSetting};
pub use bulkops_shared::intake::Intake as Deps;
use lambda_runtime::{Error, LambdaEvent};

/// From `TABLE_NAME`, `QUEUE_URL` (the chunk queue), `EVENT_BUS_NAME` and
/// `DEAD_LETTER_QUEUE_URL` (the intake queue's).
pub fn deps_from_env(clients: &AwsClients) -> Result<Deps, MissingSetting> {
    Ok(clients.intake(
        &required_env("TABLE_NAME")?,
        &required_env("QUEUE_URL")?,
        &required_env("EVENT_BUS_NAME")?,
        &required_env("DEAD_LETTER_QUEUE_URL")?,
    ))
}

pub async fn handler(deps: &Deps, event: LambdaEvent<SqsEvent>) -> Result<SqsBatchResponse, Error> {
    Ok(bulkops_shared::intake::sqs::handle_batch(deps, event.payload).await)
}
