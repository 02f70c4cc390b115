//! A durable embedded queue in the same redb file as the embedded store, with SQS's
//! semantics: at-least-once delivery, a visibility timeout, receive counts, and a move to the
//! dead-letter queue once a message has been received `max_receives` times.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redb::{Database, ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};

use super::{ChunkQueue, ChunkSource, Delivery, QueueError};
use crate::error::EnqueueError;
use crate::model::ChunkMessage;
use crate::store::embedded::EmbeddedStore;
use crate::time::now_ms;

/// `<queue>\0<sequence:020>` → message (JSON); keys keep arrival order.
const MESSAGES: TableDefinition<&str, &[u8]> = TableDefinition::new("queue_messages");
/// receipt → message key, for the current receive of each message.
const RECEIPTS: TableDefinition<&str, &str> = TableDefinition::new("queue_receipts");
const SEQUENCE: TableDefinition<&str, u64> = TableDefinition::new("queue_sequence");

#[derive(Serialize, Deserialize)]
struct StoredMessage {
    id: String,
    body: String,
    receive_count: u32,
    visible_at_ms: i64,
    receipt: Option<String>,
}

fn error(e: impl std::fmt::Display) -> QueueError {
    QueueError(format!("embedded queue: {e}"))
}

fn push(txn: &WriteTransaction, queue: &str, id: String, body: String) -> Result<(), QueueError> {
    let mut sequence = txn.open_table(SEQUENCE).map_err(error)?;
    let next = sequence
        .get("next")
        .map_err(error)?
        .map(|v| v.value())
        .unwrap_or(0)
        + 1;
    sequence.insert("next", next).map_err(error)?;
    let message = StoredMessage {
        id,
        body,
        receive_count: 0,
        visible_at_ms: 0,
        receipt: None,
    };
    let bytes = serde_json::to_vec(&message).map_err(error)?;
    let mut messages = txn.open_table(MESSAGES).map_err(error)?;
    messages
        .insert(format!("{queue}\0{next:020}").as_str(), bytes.as_slice())
        .map_err(error)?;
    Ok(())
}

/// One named queue (and where its dead letters go).
#[derive(Clone)]
pub struct EmbeddedQueue {
    db: Arc<Database>,
    name: String,
    dead_letter: Option<String>,
    max_receives: u32,
    visibility: Duration,
}

impl EmbeddedQueue {
    /// Queue `name` in `store`'s file. With `dead_letter`, a message received `max_receives`
    /// times moves there on its next receive (as SQS's redrive policy does).
    pub fn new(
        store: &EmbeddedStore,
        name: &str,
        dead_letter: Option<&str>,
        max_receives: u32,
        visibility: Duration,
    ) -> Self {
        Self {
            db: store.database(),
            name: name.to_owned(),
            dead_letter: dead_letter.map(str::to_owned),
            max_receives,
            visibility,
        }
    }

    async fn write<T, F>(&self, work: F) -> Result<T, QueueError>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction, &EmbeddedQueue) -> Result<T, QueueError> + Send + 'static,
    {
        let queue = self.clone();
        tokio::task::spawn_blocking(move || {
            let txn = queue.db.begin_write().map_err(error)?;
            let result = work(&txn, &queue)?;
            txn.commit().map_err(error)?;
            Ok(result)
        })
        .await
        .map_err(error)?
    }
}

#[async_trait]
impl ChunkQueue for EmbeddedQueue {
    async fn enqueue(&self, chunks: &[ChunkMessage]) -> Result<(), EnqueueError> {
        let mut bodies = Vec::with_capacity(chunks.len());
        for chunk in chunks {
            bodies.push(serde_json::to_string(chunk).unwrap_or_default());
        }
        let all: Vec<u32> = chunks.iter().map(|c| c.chunk).collect();
        // One transaction: every chunk is enqueued, or none is.
        self.write(move |txn, queue| {
            for body in bodies {
                push(txn, &queue.name, uuid::Uuid::new_v4().to_string(), body)?;
            }
            Ok(())
        })
        .await
        .map_err(|e| EnqueueError {
            sent: 0,
            total: all.len(),
            unsent_chunks: all,
            reason: e.0,
        })
    }
}

#[async_trait]
impl ChunkSource for EmbeddedQueue {
    async fn receive(&self, max: usize) -> Result<Vec<Delivery>, QueueError> {
        self.write(move |txn, queue| {
            let now = now_ms();
            let (start, end) = (format!("{}\0", queue.name), format!("{}\u{1}", queue.name));
            let mut due: Vec<(String, StoredMessage)> = Vec::new();
            {
                let messages = txn.open_table(MESSAGES).map_err(error)?;
                for entry in messages
                    .range(start.as_str()..end.as_str())
                    .map_err(error)?
                {
                    let (key, value) = entry.map_err(error)?;
                    let message: StoredMessage =
                        serde_json::from_slice(value.value()).map_err(error)?;
                    if message.visible_at_ms <= now {
                        due.push((key.value().to_owned(), message));
                        if due.len() >= max {
                            break;
                        }
                    }
                }
            }
            let mut deliveries = Vec::new();
            for (key, mut message) in due {
                let mut messages = txn.open_table(MESSAGES).map_err(error)?;
                let mut receipts = txn.open_table(RECEIPTS).map_err(error)?;
                if let Some(old) = message.receipt.take() {
                    receipts.remove(old.as_str()).map_err(error)?;
                }
                if let (Some(dead_letter), true) = (
                    &queue.dead_letter,
                    message.receive_count >= queue.max_receives,
                ) {
                    messages.remove(key.as_str()).map_err(error)?;
                    drop((messages, receipts));
                    push(txn, dead_letter, message.id, message.body)?;
                    continue;
                }
                let receipt = uuid::Uuid::new_v4().to_string();
                message.receive_count += 1;
                message.visible_at_ms = now + queue.visibility.as_millis() as i64;
                message.receipt = Some(receipt.clone());
                let bytes = serde_json::to_vec(&message).map_err(error)?;
                messages
                    .insert(key.as_str(), bytes.as_slice())
                    .map_err(error)?;
                receipts
                    .insert(receipt.as_str(), key.as_str())
                    .map_err(error)?;
                deliveries.push(Delivery {
                    message_id: message.id,
                    receipt,
                    body: message.body,
                    receive_count: message.receive_count,
                });
            }
            Ok(deliveries)
        })
        .await
    }

    async fn ack(&self, receipt: &str) -> Result<(), QueueError> {
        let receipt = receipt.to_owned();
        self.write(move |txn, _| {
            let mut receipts = txn.open_table(RECEIPTS).map_err(error)?;
            let key = receipts
                .remove(receipt.as_str())
                .map_err(error)?
                .map(|k| k.value().to_owned());
            if let Some(key) = key {
                txn.open_table(MESSAGES)
                    .map_err(error)?
                    .remove(key.as_str())
                    .map_err(error)?;
            }
            Ok(())
        })
        .await
    }

    async fn retry_now(&self, receipt: &str) -> Result<(), QueueError> {
        let receipt = receipt.to_owned();
        self.write(move |txn, _| {
            let receipts = txn.open_table(RECEIPTS).map_err(error)?;
            let key = receipts
                .get(receipt.as_str())
                .map_err(error)?
                .map(|k| k.value().to_owned());
            drop(receipts);
            let Some(key) = key else { return Ok(()) };
            let mut messages = txn.open_table(MESSAGES).map_err(error)?;
            let current = messages
                .get(key.as_str())
                .map_err(error)?
                .map(|v| v.value().to_vec());
            if let Some(bytes) = current {
                let mut message: StoredMessage = serde_json::from_slice(&bytes).map_err(error)?;
                message.visible_at_ms = 0;
                let bytes = serde_json::to_vec(&message).map_err(error)?;
                messages
                    .insert(key.as_str(), bytes.as_slice())
                    .map_err(error)?;
            }
            Ok(())
        })
        .await
    }
}
