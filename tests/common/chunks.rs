//! Chunks finishing out of order: the processor runs only the chunks a test names, in the
//! order it names them, and the job's other chunks stay queued.

use bulkops::worker::invoke;
use bulkops_shared::model::ChunkMessage;
use bulkops_shared::queue::ChunkSource;
use bulkops_testkit::Fixture;
use lambda_runtime::{Context, LambdaEvent};

/// Runs chunks `chunks` of job `job_id`, one delivery each, through the real processor
/// handler; every other message received on the way is made visible again at once.
pub async fn process_only(fx: &Fixture, job_id: &str, chunks: &[u32]) {
    let (source, deps) = (fx.source(), fx.processor_deps());
    for &wanted in chunks {
        let (mut found, mut others) = (None, Vec::new());
        for _ in 0..20 {
            for delivery in source.receive(10).await.expect("receive") {
                let message: ChunkMessage =
                    serde_json::from_str(&delivery.body).expect("a chunk message");
                if found.is_none() && message.job_id == job_id && message.chunk == wanted {
                    found = Some(delivery);
                } else {
                    others.push(delivery);
                }
            }
            if found.is_some() {
                break;
            }
        }
        for other in others {
            source.retry_now(&other.receipt).await.expect("requeue");
        }
        let delivery = found.unwrap_or_else(|| panic!("chunk {wanted} of {job_id} is not queued"));
        let mut handler =
            |event| processor::handler(&deps, LambdaEvent::new(event, Context::default()));
        let invocation = invoke(&source, &fx.queue_arn, &[delivery], 1, &mut handler)
            .await
            .expect("settle the delivery");
        assert!(
            invocation.failed.is_empty(),
            "chunk {wanted} failed: {invocation:?}"
        );
    }
}
