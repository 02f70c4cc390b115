//! The chunk queue ports: [`ChunkQueue`] (where submit puts chunks) and [`ChunkSource`] (how
//! a worker takes them: at-least-once, with a visibility timeout and a dead-letter queue
//! after a bounded number of receives). SQS implements both; so does the embedded queue.

pub mod sqs;
mod sqs_messages;
mod window;

pub use sqs_messages::SqsMessageQueue;
pub use window::{WindowedQueue, DEFAULT_CHUNK_WINDOW};

use async_trait::async_trait;

use crate::error::EnqueueError;
use crate::model::ChunkMessage;

/// Where chunks wait for the processor.
#[async_trait]
pub trait ChunkQueue: Send + Sync {
    /// Enqueues every chunk, or reports which ones could not be enqueued.
    async fn enqueue(&self, chunks: &[ChunkMessage]) -> Result<(), EnqueueError>;
    /// Queues the chunk that follows `chunk` in its job's window (see [`WindowedQueue`]),
    /// if it has one; called when a delivery takes `chunk` up, before it is recorded. A queue
    /// without parking refuses a windowed chunk loudly rather than stall its job.
    async fn queue_successor(&self, chunk: &ChunkMessage) -> Result<(), EnqueueError> {
        if chunk.window == 0 {
            return Ok(());
        }
        Err(EnqueueError {
            sent: 0,
            total: 1,
            unsent_chunks: vec![chunk.chunk + chunk.window],
            reason: "this queue has no parked chunks to queue".to_owned(),
        })
    }
}

/// One received message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub message_id: String,
    /// Identifies this receive; ack or retry with it.
    pub receipt: String,
    pub body: String,
    /// How many times the message has been received, this time included.
    pub receive_count: u32,
}

/// Receives of one message before its queue moves it to the dead-letter queue: template.yaml's
/// `maxReceiveCount` (a test keeps them equal), the embedded queues' and the emulator's. AWS
/// recommends at least 5 for Lambda consumers, so a throttled or briefly failing batch is not
/// dead-lettered.
pub const MAX_RECEIVE_COUNT: u32 = 5;

/// A queue failure while receiving or acknowledging.
#[derive(Debug, thiserror::Error)]
#[error("queue request failed: {0}")]
pub struct QueueError(pub String);

/// A queue of opaque messages (requests and what is left of them), sent as they are.
#[async_trait]
pub trait MessageQueue: Send + Sync {
    /// Sends one message; returns its id.
    async fn send(&self, body: &str) -> Result<String, QueueError>;
}

/// The consuming side of a queue, as Lambda's SQS event source mapping uses it.
#[async_trait]
pub trait ChunkSource: Send + Sync {
    /// Up to `max` visible messages; each stays hidden for the visibility timeout. A message
    /// received more than the queue's maximum receive count moves to its dead-letter queue.
    async fn receive(&self, max: usize) -> Result<Vec<Delivery>, QueueError>;
    /// Deletes a processed message.
    async fn ack(&self, receipt: &str) -> Result<(), QueueError>;
    /// Makes a failed message visible again at once (instead of after the timeout).
    async fn retry_now(&self, receipt: &str) -> Result<(), QueueError>;
}
