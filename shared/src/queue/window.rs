//! [`WindowedQueue`]: fairness between jobs on one queue. A job of many chunks has only its
//! first `window` chunks queued; the rest wait in the job store (parked), and each chunk, when
//! a delivery takes it up, queues the chunk `window` places after it. A job submitted behind a
//! big one therefore waits behind at most a window of the big job's chunks, not all of them,
//! while the big job still keeps `window` chunks in flight (the processor's parallelism).
//!
//! Nothing is lost: a chunk queues its successor before it is recorded, so a recorded chunk's
//! successor is queued, and a delivery that dies before recording is redelivered and queues it
//! again (a duplicate, which the engine counts once). A recorded chunk's later duplicates do
//! not queue again, so duplicates do not multiply down the chain.

use std::sync::Arc;

use async_trait::async_trait;

use super::ChunkQueue;
use crate::error::EnqueueError;
use crate::model::ChunkMessage;
use crate::store::ChunkParking;

/// Chunks of one job queued at once by default: the processor's default parallelism (10
/// instances × batches of 10), so one job alone still keeps every instance busy.
pub const DEFAULT_CHUNK_WINDOW: u32 = 100;

/// A [`ChunkQueue`] that queues a window of each job's chunks and parks the rest.
pub struct WindowedQueue {
    queue: Arc<dyn ChunkQueue>,
    parking: Arc<dyn ChunkParking>,
    window: u32,
}

impl WindowedQueue {
    /// `window` chunks of a job in `queue` at once (at least 1); the others in `parking`.
    pub fn new(queue: Arc<dyn ChunkQueue>, parking: Arc<dyn ChunkParking>, window: u32) -> Self {
        Self {
            queue,
            parking,
            window: window.max(1),
        }
    }
}

#[async_trait]
impl ChunkQueue for WindowedQueue {
    async fn enqueue(&self, chunks: &[ChunkMessage]) -> Result<(), EnqueueError> {
        let window = self.window as usize;
        if chunks.len() <= window {
            return self.queue.enqueue(chunks).await;
        }
        let chunks: Vec<ChunkMessage> = chunks
            .iter()
            .cloned()
            .map(|chunk| ChunkMessage {
                window: self.window,
                ..chunk
            })
            .collect();
        let (first, later) = chunks.split_at(window);
        // Parked first: a queued chunk may be taken up at once and look for its successor.
        if let Err(error) = self.parking.park_chunks(later).await {
            return Err(EnqueueError {
                sent: 0,
                total: chunks.len(),
                unsent_chunks: chunks.iter().map(|c| c.chunk).collect(),
                reason: format!(
                    "the chunks beyond the first {window} could not be parked: {error}"
                ),
            });
        }
        self.queue
            .enqueue(first)
            .await
            .map_err(|error| EnqueueError {
                total: chunks.len(),
                unsent_chunks: error
                    .unsent_chunks
                    .into_iter()
                    .chain(later.iter().map(|c| c.chunk))
                    .collect(),
                ..error
            })
    }

    async fn queue_successor(&self, chunk: &ChunkMessage) -> Result<(), EnqueueError> {
        if chunk.window == 0 {
            return Ok(());
        }
        let next = chunk.chunk + chunk.window;
        let failed = |reason: String| EnqueueError {
            sent: 0,
            total: 1,
            unsent_chunks: vec![next],
            reason,
        };
        match self.parking.parked_chunk(&chunk.job_id, next).await {
            // Past the job's last chunk.
            Ok(None) => Ok(()),
            Ok(Some(successor)) => self.queue.enqueue(&[successor]).await,
            Err(error) => Err(failed(format!("parked chunk {next} unreadable: {error}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Mutex;

    use super::*;
    use crate::error::StoreError;
    use crate::model::JobType;

    /// Records what was queued; parks in a map, or refuses to park.
    #[derive(Default)]
    struct Memory {
        queued: Mutex<Vec<u32>>,
        parked: Mutex<BTreeMap<u32, ChunkMessage>>,
        refuse_parking: bool,
    }

    #[async_trait]
    impl ChunkQueue for Memory {
        async fn enqueue(&self, chunks: &[ChunkMessage]) -> Result<(), EnqueueError> {
            let mut queued = self.queued.lock().unwrap();
            queued.extend(chunks.iter().map(|c| c.chunk));
            Ok(())
        }
    }

    #[async_trait]
    impl ChunkParking for Memory {
        async fn park_chunks(&self, chunks: &[ChunkMessage]) -> Result<(), StoreError> {
            if self.refuse_parking {
                return Err(StoreError::Backend("refused".into()));
            }
            let mut parked = self.parked.lock().unwrap();
            parked.extend(chunks.iter().map(|c| (c.chunk, c.clone())));
            Ok(())
        }
        async fn parked_chunk(
            &self,
            _: &str,
            chunk: u32,
        ) -> Result<Option<ChunkMessage>, StoreError> {
            Ok(self.parked.lock().unwrap().get(&chunk).cloned())
        }
    }

    fn chunks(count: u32) -> Vec<ChunkMessage> {
        (0..count)
            .map(|chunk| ChunkMessage {
                job_id: "j".into(),
                job_type: JobType::SendMfp,
                chunk,
                rows: Vec::new(),
                sealed: false,
                window: 0,
            })
            .collect()
    }

    fn windowed(memory: &Arc<Memory>, window: u32) -> WindowedQueue {
        WindowedQueue::new(memory.clone(), memory.clone(), window)
    }

    #[tokio::test]
    async fn a_job_within_the_window_is_queued_whole_and_unmarked() {
        let memory = Arc::new(Memory::default());
        windowed(&memory, 3).enqueue(&chunks(3)).await.unwrap();
        assert_eq!(*memory.queued.lock().unwrap(), [0, 1, 2]);
        assert!(memory.parked.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn each_chunk_taken_up_queues_the_one_a_window_later() {
        let memory = Arc::new(Memory::default());
        let queue = windowed(&memory, 2);
        queue.enqueue(&chunks(5)).await.unwrap();
        assert_eq!(*memory.queued.lock().unwrap(), [0, 1]);
        assert_eq!(memory.parked.lock().unwrap().len(), 3);
        for chunk in 0..5 {
            let message = ChunkMessage {
                window: 2,
                ..chunks(5)[chunk].clone()
            };
            queue.queue_successor(&message).await.unwrap();
        }
        // Chunks 3 and 4 have no successor: past the last chunk, nothing is queued.
        assert_eq!(*memory.queued.lock().unwrap(), [0, 1, 2, 3, 4]);
        assert!(memory
            .parked
            .lock()
            .unwrap()
            .values()
            .all(|c| c.window == 2));
    }

    #[tokio::test]
    async fn a_job_that_cannot_park_is_not_queued_at_all() {
        let memory = Arc::new(Memory {
            refuse_parking: true,
            ..Memory::default()
        });
        let error = windowed(&memory, 2).enqueue(&chunks(5)).await.unwrap_err();
        assert_eq!((error.sent, error.total), (0, 5));
        assert_eq!(error.unsent_chunks, [0, 1, 2, 3, 4]);
        assert!(memory.queued.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_plain_queue_refuses_a_windowed_chunk() {
        let memory = Memory::default();
        let message = ChunkMessage {
            window: 2,
            ..chunks(1)[0].clone()
        };
        assert!(memory.queue_successor(&message).await.is_err());
        assert!(memory.queue_successor(&chunks(1)[0]).await.is_ok());
    }
}
