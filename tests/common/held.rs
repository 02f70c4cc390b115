//! A processor delivery held before one of its store calls, for the interleaving tests.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use bulkops_shared::engine::sqs::WorkerDeps;
use lambda_runtime::{Context, LambdaEvent};
use tokio::task::JoinHandle;

use super::faults::{Call, GateHandle};

/// The processor function's answer to `event`.
pub async fn process(deps: &WorkerDeps, event: SqsEvent) -> SqsBatchResponse {
    processor::handler(deps, LambdaEvent::new(event, Context::default()))
        .await
        .expect("the processor answers")
}

/// Runs `event` through `deps` (whose faults hold `gate`'s call) until the gate holds it:
/// the call it waits before, or `None` if the delivery finished without reaching it, and
/// the delivery's task.
pub async fn run_until_held(
    deps: Arc<WorkerDeps>,
    event: SqsEvent,
    gate: &mut GateHandle,
) -> (Option<Call>, JoinHandle<SqsBatchResponse>) {
    let mut held = tokio::spawn(async move { process(&deps, event).await });
    let call = tokio::select! {
        call = gate.held() => call,
        _ = &mut held => None,
    };
    (call, held)
}
