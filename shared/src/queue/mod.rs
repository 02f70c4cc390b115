//! The chunk queue port and its SQS implementation.

pub mod sqs;

use async_trait::async_trait;

use crate::error::EnqueueError;
use crate::model::ChunkMessage;

/// Where chunks wait for the processor.
#[async_trait]
pub trait ChunkQueue: Send + Sync {
    /// Enqueues every chunk, or reports which ones could not be enqueued.
    async fn enqueue(&self, chunks: &[ChunkMessage]) -> Result<(), EnqueueError>;
}
