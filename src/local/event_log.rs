//! The local event bus: `<data-dir>/events.jsonl`, one event a line in the envelope EventBridge
//! gives its targets. The [`bulkops_shared::events::Publisher`] sends the outbox here; an
//! event counts as accepted (and leaves the outbox) only once its line is on disk. Webhook
//! delivery and `bulkops events` read the file (see [`super::log_reader`]).
//!
//! Each id is written once: the ids already in the file are loaded at open, because a crash
//! between the append and the outbox removal sends the same events again after a restart.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bulkops_shared::events::{EventSink, JobEvent, SinkError};
use serde_json::{json, Value};
use tokio::sync::watch;

/// The log inside the data directory.
pub const EVENTS_FILE: &str = "events.jsonl";
/// What EventBridge would put in `account` and `region`: nothing real, locally.
const ACCOUNT: &str = "000000000000";
const REGION: &str = "local";

/// A failure of the events log.
#[derive(Debug, thiserror::Error)]
pub enum EventLogError {
    #[error("events log {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("events log {path}, line {line}: not an event ({reason})")]
    Corrupt {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("event {id}: its detail does not serialize: {source}")]
    Serialize {
        id: String,
        source: serde_json::Error,
    },
}

/// `event` as EventBridge hands it to a rule's target, with the event's own id as `id` (so a
/// consumer drops duplicates by it, as it would by `detail.eventId`).
pub fn envelope(event: &JobEvent) -> Result<Value, EventLogError> {
    let detail =
        serde_json::to_value(&event.detail).map_err(|source| EventLogError::Serialize {
            id: event.id.clone(),
            source,
        })?;
    Ok(json!({
        "version": "0",
        "id": event.id,
        "detail-type": event.detail_type,
        "source": event.source,
        "account": ACCOUNT,
        "time": event.time,
        "region": REGION,
        "resources": [],
        "detail": detail,
    }))
}

/// The append-only log of events (the local bus). Clones share the file.
#[derive(Clone)]
pub struct LocalEventLog {
    shared: Arc<Shared>,
}

struct Shared {
    path: PathBuf,
    state: Mutex<State>,
    /// The length of the file's complete, synced lines: readers never look past it.
    committed: watch::Sender<u64>,
}

struct State {
    file: File,
    len: u64,
    ids: HashSet<String>,
}

impl LocalEventLog {
    /// Opens (or creates) `<data_dir>/events.jsonl` and loads the ids already in it. A last
    /// line without its newline is what a crash mid-append leaves: it was never reported
    /// accepted (its event is still in an outbox), so it is cut off. Any other line that is
    /// not an event is an error: the log is the record of what was delivered.
    pub fn open(data_dir: &Path) -> Result<Self, EventLogError> {
        let path = data_dir.join(EVENTS_FILE);
        let io = |source| EventLogError::Io {
            path: path.clone(),
            source,
        };
        let created = !path.exists();
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(io)?;
        if created {
            // The new file's directory entry must survive a crash like its lines do.
            sync_dir(data_dir).map_err(io)?;
        }
        let (ids, complete) = read_ids(&path, &mut file)?;
        let len = file.metadata().map_err(io)?.len();
        if complete < len {
            tracing::warn!(
                path = %path.display(),
                bytes = len - complete,
                "cutting off an incomplete last line (a crash mid-append); its event is resent"
            );
            file.set_len(complete).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        let (committed, _) = watch::channel(complete);
        let state = Mutex::new(State {
            file,
            len: complete,
            ids,
        });
        Ok(Self {
            shared: Arc::new(Shared {
                path,
                state,
                committed,
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.shared.path
    }

    /// The length of the complete lines, updated after each append.
    pub fn committed(&self) -> watch::Receiver<u64> {
        self.shared.committed.subscribe()
    }

    /// Whether the log holds the event `id`.
    pub fn contains(&self, id: &str) -> bool {
        self.lock().ids.contains(id)
    }

    /// Appends the events whose id is not in the log yet, as one write and one fsync; returns
    /// how many were written. On failure nothing is taken as written and the file is cut back
    /// to its last complete line, so the retry starts on a clean line.
    pub fn append(&self, events: &[JobEvent]) -> Result<usize, EventLogError> {
        let mut state = self.lock();
        let mut batch = Vec::new();
        let mut new_ids = Vec::new();
        for event in events {
            if state.ids.contains(&event.id) || new_ids.contains(&event.id) {
                continue;
            }
            let line = envelope(event)?.to_string();
            batch.extend_from_slice(line.as_bytes());
            batch.push(b'\n');
            new_ids.push(event.id.clone());
        }
        if new_ids.is_empty() {
            return Ok(0);
        }
        let written = state
            .file
            .write_all(&batch)
            .and_then(|()| state.file.sync_data());
        if let Err(source) = written {
            let len = state.len;
            if let Err(error) = state.file.set_len(len) {
                tracing::error!(%error, path = %self.path().display(), "cutting back a failed append");
            }
            return Err(EventLogError::Io {
                path: self.path().to_owned(),
                source,
            });
        }
        state.len += batch.len() as u64;
        let count = new_ids.len();
        state.ids.extend(new_ids);
        self.shared.committed.send_replace(state.len);
        Ok(count)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves the state as consistent as an I/O error does.
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The ids in the log and the length of its complete lines.
fn read_ids(path: &Path, file: &mut File) -> Result<(HashSet<String>, u64), EventLogError> {
    let io = |source| EventLogError::Io {
        path: path.to_owned(),
        source,
    };
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    let mut reader = BufReader::new(&*file);
    let (mut ids, mut complete, mut number) = (HashSet::new(), 0u64, 0usize);
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = reader.read_until(b'\n', &mut line).map_err(io)?;
        if read == 0 || line.last() != Some(&b'\n') {
            return Ok((ids, complete));
        }
        number += 1;
        let corrupt = |reason: String| EventLogError::Corrupt {
            path: path.to_owned(),
            line: number,
            reason,
        };
        let value: Value = serde_json::from_slice(&line).map_err(|e| corrupt(e.to_string()))?;
        let id = value["id"]
            .as_str()
            .ok_or_else(|| corrupt("no string `id`".to_owned()))?;
        ids.insert(id.to_owned());
        complete += read as u64;
    }
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

#[async_trait]
impl EventSink for LocalEventLog {
    async fn send(&self, events: &[JobEvent]) -> Result<Vec<String>, SinkError> {
        // The write and fsync block: off the runtime's threads. An id already in the log
        // counts as accepted (it was written before a crash), so it leaves the outbox too.
        let (log, events) = (self.clone(), events.to_vec());
        tokio::task::spawn_blocking(move || log.append(&events))
            .await
            .map_err(|e| SinkError(format!("appending events: {e}")))?
            .map_err(|e| SinkError(e.to_string()))?;
        Ok(Vec::new())
    }
}

#[cfg(test)]
mod tests;
