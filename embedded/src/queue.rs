//! [`EmbeddedQueue`]: a durable queue in the embedded file, with SQS's semantics: at-least-once
//! delivery, a visibility timeout, receive counts, and a move to the dead-letter queue once a
//! message has been received `max_receives` times.

use std::time::Duration;

use async_trait::async_trait;
use bulkops_shared::error::EnqueueError;
use bulkops_shared::model::ChunkMessage;
use bulkops_shared::queue::{ChunkQueue, ChunkSource, Delivery, MessageQueue, QueueError};
use bulkops_shared::time::now_ms;
use redb::{ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use crate::db::{Db, DbError, BODIES, MESSAGES, QUEUE_SEQUENCE, RECEIPTS};
use crate::store::EmbeddedStore;

#[derive(Serialize, Deserialize)]
struct MessageState {
    id: String,
    receive_count: u32,
    visible_at_ms: i64,
    receipt: Option<String>,
}

/// Visits `queue`'s messages in arrival order until `visit` returns false.
fn scan<T>(
    messages: &T,
    queue: &str,
    mut visit: impl FnMut(&str, MessageState) -> bool,
) -> Result<(), DbError>
where
    T: ReadableTable<&'static str, &'static [u8]>,
{
    let (start, end) = (format!("{queue}\0"), format!("{queue}\u{1}"));
    for entry in messages.range(start.as_str()..end.as_str())? {
        let (key, value) = entry?;
        let state: MessageState = serde_json::from_slice(value.value())?;
        if !visit(key.value(), state) {
            break;
        }
    }
    Ok(())
}

fn put_state(txn: &WriteTransaction, key: &str, state: &MessageState) -> Result<(), DbError> {
    let bytes = serde_json::to_vec(state)?;
    let mut messages = txn.open_table(MESSAGES)?;
    messages.insert(key, bytes.as_slice())?;
    Ok(())
}

fn push(txn: &WriteTransaction, queue: &str, id: String, body: &str) -> Result<(), DbError> {
    let mut sequence = txn.open_table(QUEUE_SEQUENCE)?;
    let next = sequence.get("next")?.map(|v| v.value()).unwrap_or(0) + 1;
    sequence.insert("next", next)?;
    let key = format!("{queue}\0{next:020}");
    let state = MessageState {
        id,
        receive_count: 0,
        visible_at_ms: 0,
        receipt: None,
    };
    put_state(txn, &key, &state)?;
    let mut bodies = txn.open_table(BODIES)?;
    bodies.insert(key.as_str(), body)?;
    Ok(())
}

/// Removes a message; returns its body.
fn remove(txn: &WriteTransaction, key: &str) -> Result<Option<String>, DbError> {
    txn.open_table(MESSAGES)?.remove(key)?;
    let mut bodies = txn.open_table(BODIES)?;
    let body = bodies.remove(key)?.map(|b| b.value().to_owned());
    Ok(body)
}

/// One named queue (and where its dead letters go).
#[derive(Clone)]
pub struct EmbeddedQueue {
    db: Db,
    name: String,
    dead_letter: Option<String>,
    max_receives: u32,
    visibility: Duration,
}

impl EmbeddedQueue {
    /// Queue `name` in `store`'s file, committing as `store` does (see
    /// [`EmbeddedStore::lazy`]). With `dead_letter`, a message received `max_receives` times
    /// moves there on its next receive (as SQS's redrive policy does).
    pub fn new(
        store: &EmbeddedStore,
        name: &str,
        dead_letter: Option<&str>,
        max_receives: u32,
        visibility: Duration,
    ) -> Self {
        Self {
            db: store.db.clone(),
            name: name.to_owned(),
            dead_letter: dead_letter.map(str::to_owned),
            max_receives,
            visibility,
        }
    }

    /// Makes every received, unacknowledged message visible again at once.
    ///
    /// Only for start-up: redb locks the file for one process, so messages in flight then
    /// were received by a process that has died, and waiting out their visibility timeout
    /// would only delay the work. Their receive counts stay, so a message that keeps
    /// crashing its consumer still reaches the dead-letter queue.
    pub async fn release_in_flight(&self) -> Result<usize, QueueError> {
        self.write(move |txn, queue| {
            let mut released = Vec::new();
            {
                let messages = txn.open_table(MESSAGES)?;
                scan(&messages, &queue.name, |key, state| {
                    if state.receipt.is_some() {
                        released.push((key.to_owned(), state));
                    }
                    true
                })?;
            }
            let count = released.len();
            let mut receipts = txn.open_table(RECEIPTS)?;
            for (key, mut state) in released {
                if let Some(receipt) = state.receipt.take() {
                    receipts.remove(receipt.as_str())?;
                }
                state.visible_at_ms = 0;
                put_state(txn, &key, &state)?;
            }
            Ok(count)
        })
        .await
    }

    /// Messages in the queue, visible or not.
    pub async fn depth(&self) -> Result<usize, QueueError> {
        let name = self.name.clone();
        let count = self
            .db
            .read(move |txn| {
                let messages = txn.open_table(MESSAGES)?;
                let mut count = 0;
                scan(&messages, &name, |_, _| {
                    count += 1;
                    true
                })?;
                Ok(count)
            })
            .await?;
        Ok(count)
    }

    /// Whether any message is visible now; a read snapshot, so an idle poll writes nothing.
    async fn any_visible(&self, now: i64) -> Result<bool, QueueError> {
        let name = self.name.clone();
        let any = self
            .db
            .read(move |txn| {
                let messages = txn.open_table(MESSAGES)?;
                let mut any = false;
                scan(&messages, &name, |_, state| {
                    any = state.visible_at_ms <= now;
                    !any
                })?;
                Ok(any)
            })
            .await?;
        Ok(any)
    }

    async fn write<T, F>(&self, work: F) -> Result<T, QueueError>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction, &EmbeddedQueue) -> Result<T, DbError> + Send + 'static,
    {
        let queue = self.clone();
        Ok(self.db.write(move |txn| work(txn, &queue)).await?)
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
                push(txn, &queue.name, uuid::Uuid::new_v4().to_string(), &body)?;
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
impl MessageQueue for EmbeddedQueue {
    async fn send(&self, body: &str) -> Result<String, QueueError> {
        let id = uuid::Uuid::new_v4().to_string();
        let (message_id, body) = (id.clone(), body.to_owned());
        self.write(move |txn, queue| push(txn, &queue.name, id, &body))
            .await?;
        Ok(message_id)
    }
}

#[async_trait]
impl ChunkSource for EmbeddedQueue {
    async fn receive(&self, max: usize) -> Result<Vec<Delivery>, QueueError> {
        if !self.any_visible(now_ms()).await? {
            return Ok(Vec::new());
        }
        self.write(move |txn, queue| {
            let now = now_ms();
            let mut due: Vec<(String, MessageState)> = Vec::new();
            {
                let messages = txn.open_table(MESSAGES)?;
                scan(&messages, &queue.name, |key, state| {
                    if state.visible_at_ms <= now {
                        due.push((key.to_owned(), state));
                    }
                    due.len() < max
                })?;
            }
            let mut deliveries = Vec::new();
            for (key, mut state) in due {
                if let Some(old) = state.receipt.take() {
                    let mut receipts = txn.open_table(RECEIPTS)?;
                    receipts.remove(old.as_str())?;
                }
                if let (Some(dead_letter), true) = (
                    &queue.dead_letter,
                    state.receive_count >= queue.max_receives,
                ) {
                    let body = remove(txn, &key)?.unwrap_or_default();
                    push(txn, dead_letter, state.id, &body)?;
                    continue;
                }
                let receipt = uuid::Uuid::new_v4().to_string();
                state.receive_count += 1;
                state.visible_at_ms = now + queue.visibility.as_millis() as i64;
                state.receipt = Some(receipt.clone());
                put_state(txn, &key, &state)?;
                let mut receipts = txn.open_table(RECEIPTS)?;
                receipts.insert(receipt.as_str(), key.as_str())?;
                let bodies = txn.open_table(BODIES)?;
                let body = bodies
                    .get(key.as_str())?
                    .map(|b| b.value().to_owned())
                    .unwrap_or_default();
                deliveries.push(Delivery {
                    message_id: state.id,
                    receipt,
                    body,
                    receive_count: state.receive_count,
                });
            }
            Ok(deliveries)
        })
        .await
    }

    async fn ack(&self, receipt: &str) -> Result<(), QueueError> {
        let receipt = receipt.to_owned();
        self.write(move |txn, _| {
            let mut receipts = txn.open_table(RECEIPTS)?;
            let key = receipts
                .remove(receipt.as_str())?
                .map(|k| k.value().to_owned());
            drop(receipts);
            if let Some(key) = key {
                remove(txn, &key)?;
            }
            Ok(())
        })
        .await
    }

    async fn retry_now(&self, receipt: &str) -> Result<(), QueueError> {
        let receipt = receipt.to_owned();
        self.write(move |txn, _| {
            let receipts = txn.open_table(RECEIPTS)?;
            let key = receipts
                .get(receipt.as_str())?
                .map(|k| k.value().to_owned());
            drop(receipts);
            let Some(key) = key else { return Ok(()) };
            let current = txn
                .open_table(MESSAGES)?
                .get(key.as_str())?
                .map(|v| v.value().to_vec());
            if let Some(bytes) = current {
                let mut state: MessageState = serde_json::from_slice(&bytes)?;
                state.visible_at_ms = 0;
                put_state(txn, &key, &state)?;
            }
            Ok(())
        })
        .await
    }
}
