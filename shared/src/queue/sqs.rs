//! SQS implementation of [`ChunkQueue`]: SendMessageBatch (≤ 10 entries, ≤ 256 KiB per call,
//! safe for queues of any age), retrying the `Failed` entries that SQS reports even on HTTP 200.

use std::future::Future;

use async_trait::async_trait;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use aws_sdk_sqs::Client;

use super::ChunkQueue;
use crate::batching::backoff;
use crate::error::EnqueueError;
use crate::model::ChunkMessage;

pub const MAX_BATCH_ENTRIES: usize = 10;
pub const MAX_BATCH_BYTES: usize = 256 * 1024;
/// Attempts per entry before the enqueue fails for good.
pub const MAX_ATTEMPTS: u32 = 5;

/// One message to send: the chunk number (also its batch entry id) and its body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub chunk: u32,
    pub body: String,
}

/// Groups entries into SendMessageBatch calls by count and size.
pub fn batches(entries: Vec<Entry>) -> Vec<Vec<Entry>> {
    let mut out: Vec<Vec<Entry>> = Vec::new();
    let mut bytes = 0;
    for entry in entries {
        let size = entry.body.len();
        let full = out
            .last()
            .is_none_or(|b| b.len() == MAX_BATCH_ENTRIES || bytes + size > MAX_BATCH_BYTES);
        if full {
            out.push(Vec::new());
            bytes = 0;
        }
        bytes += size;
        if let Some(last) = out.last_mut() {
            last.push(entry);
        }
    }
    out
}

/// Sends every entry through `send_batch`, which returns the entries SQS reported as failed
/// (or an error for the whole call). Failed entries are retried with backoff up to
/// [`MAX_ATTEMPTS`]; on a final failure the unsent chunks (that one and every later one) are
/// reported.
pub async fn send_all<F, Fut>(entries: Vec<Entry>, mut send_batch: F) -> Result<(), EnqueueError>
where
    F: FnMut(Vec<Entry>) -> Fut,
    Fut: Future<Output = Result<Vec<(Entry, String)>, String>>,
{
    let total = entries.len();
    let mut remaining = batches(entries).into_iter();
    let mut sent = 0;
    while let Some(mut batch) = remaining.next() {
        let mut attempt = 1;
        loop {
            let size = batch.len();
            let failure = match send_batch(batch.clone()).await {
                Ok(failed) if failed.is_empty() => None,
                Ok(failed) => {
                    sent += size - failed.len();
                    let reason = failed[0].1.clone();
                    batch = failed.into_iter().map(|(entry, _)| entry).collect();
                    Some(reason)
                }
                Err(reason) => Some(reason),
            };
            let Some(reason) = failure else {
                sent += size;
                break;
            };
            if attempt >= MAX_ATTEMPTS {
                let mut unsent_chunks: Vec<u32> = batch.iter().map(|e| e.chunk).collect();
                unsent_chunks.extend(remaining.flatten().map(|e| e.chunk));
                return Err(EnqueueError {
                    sent,
                    total,
                    unsent_chunks,
                    reason,
                });
            }
            tokio::time::sleep(backoff(attempt)).await;
            attempt += 1;
        }
    }
    Ok(())
}

/// SQS-backed [`ChunkQueue`].
#[derive(Clone, Debug)]
pub struct SqsChunkQueue {
    client: Client,
    queue_url: String,
}

impl SqsChunkQueue {
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }
}

#[async_trait]
impl ChunkQueue for SqsChunkQueue {
    async fn enqueue(&self, chunks: &[ChunkMessage]) -> Result<(), EnqueueError> {
        let mut entries = Vec::with_capacity(chunks.len());
        for chunk in chunks {
            let body = serde_json::to_string(chunk).map_err(|e| EnqueueError {
                sent: 0,
                total: chunks.len(),
                unsent_chunks: chunks.iter().map(|c| c.chunk).collect(),
                reason: e.to_string(),
            })?;
            entries.push(Entry {
                chunk: chunk.chunk,
                body,
            });
        }
        send_all(entries, |batch| async move {
            let mut request = self.client.send_message_batch().queue_url(&self.queue_url);
            for entry in &batch {
                let sqs_entry = SendMessageBatchRequestEntry::builder()
                    .id(format!("c{}", entry.chunk))
                    .message_body(&entry.body)
                    .build()
                    .map_err(|e| e.to_string())?;
                request = request.entries(sqs_entry);
            }
            let out = request.send().await.map_err(|e| {
                format!(
                    "SendMessageBatch: {}",
                    aws_smithy_types::error::display::DisplayErrorContext(&e)
                )
            })?;
            let failed = out
                .failed
                .into_iter()
                .filter_map(|f| {
                    let entry = batch
                        .iter()
                        .find(|e| format!("c{}", e.chunk) == f.id)?
                        .clone();
                    Some((
                        entry,
                        format!("{}: {}", f.code, f.message.unwrap_or_default()),
                    ))
                })
                .collect();
            Ok(failed)
        })
        .await
    }
}

/// SQS-backed [`super::ChunkSource`].
#[derive(Clone, Debug)]
pub struct SqsChunkSource {
    client: Client,
    queue_url: String,
    wait_seconds: i32,
}

impl SqsChunkSource {
    /// Short polling: `receive` returns at once (what the tests want).
    pub fn new(client: Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
            wait_seconds: 0,
        }
    }

    /// Long polling: `receive` waits up to `seconds` (≤ 20) for a message, as a
    /// long-running consumer should, instead of hammering an empty queue.
    pub fn long_polling(mut self, seconds: i32) -> Self {
        self.wait_seconds = seconds.clamp(0, 20);
        self
    }
}

fn queue_error(operation: &str, error: impl std::error::Error) -> super::QueueError {
    super::QueueError(format!(
        "{operation}: {}",
        aws_smithy_types::error::display::DisplayErrorContext(error)
    ))
}

#[async_trait]
impl super::ChunkSource for SqsChunkSource {
    async fn receive(&self, max: usize) -> Result<Vec<super::Delivery>, super::QueueError> {
        use aws_sdk_sqs::types::MessageSystemAttributeName;
        let out = self
            .client
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(max.clamp(1, 10) as i32)
            .wait_time_seconds(self.wait_seconds)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| queue_error("ReceiveMessage", e))?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .map(|m| super::Delivery {
                receive_count: m
                    .attributes
                    .as_ref()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(1),
                message_id: m.message_id.unwrap_or_default(),
                receipt: m.receipt_handle.unwrap_or_default(),
                body: m.body.unwrap_or_default(),
            })
            .collect())
    }

    async fn ack(&self, receipt: &str) -> Result<(), super::QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(|e| queue_error("DeleteMessage", e))?;
        Ok(())
    }

    async fn retry_now(&self, receipt: &str) -> Result<(), super::QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt)
            .visibility_timeout(0)
            .send()
            .await
            .map_err(|e| queue_error("ChangeMessageVisibility", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn entries(n: u32, size: usize) -> Vec<Entry> {
        (0..n)
            .map(|chunk| Entry {
                chunk,
                body: "x".repeat(size),
            })
            .collect()
    }

    #[test]
    fn batches_respect_count_and_size() {
        let b = batches(entries(23, 10));
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), vec![10, 10, 3]);
        let b = batches(entries(10, 61_000));
        assert!(b
            .iter()
            .all(|batch| batch.iter().map(|e| e.body.len()).sum::<usize>() <= MAX_BATCH_BYTES));
        assert_eq!(b.iter().map(Vec::len).sum::<usize>(), 10);
    }

    #[tokio::test(start_paused = true)]
    async fn failed_entries_are_retried_until_sent() {
        let sent = Mutex::new(Vec::new());
        let attempts = Mutex::new(0);
        send_all(entries(12, 10), |batch| {
            let mut n = attempts.lock().unwrap();
            *n += 1;
            let first_try = *n == 1;
            let (fail, ok): (Vec<Entry>, Vec<Entry>) = batch
                .into_iter()
                .partition(|e| first_try && e.chunk % 3 == 0);
            sent.lock().unwrap().extend(ok.iter().map(|e| e.chunk));
            async move {
                Ok(fail
                    .into_iter()
                    .map(|e| (e, "InternalError: try again".to_owned()))
                    .collect())
            }
        })
        .await
        .unwrap();
        let mut chunks = sent.into_inner().unwrap();
        chunks.sort_unstable();
        assert_eq!(
            chunks,
            (0..12).collect::<Vec<_>>(),
            "every chunk sent exactly once"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_permanent_failure_reports_every_unsent_chunk() {
        let err = send_all(entries(25, 10), |batch| async move {
            if batch[0].chunk >= 10 {
                Err("AccessDenied".to_owned())
            } else {
                Ok(vec![])
            }
        })
        .await
        .unwrap_err();
        assert_eq!(err.sent, 10);
        assert_eq!(err.unsent_chunks, (10..25).collect::<Vec<_>>());
        assert_eq!(err.reason, "AccessDenied");
    }
}
