//! Embedded implementation of the storage ports on redb: one durable file in a local data
//! directory, ACID write transactions, no external service. Every conditional update of the
//! DynamoDB adapter is one write transaction here (read, check, write, commit), so the two
//! implementations keep the same contract — `tests/store_conformance.rs` runs one suite
//! against both. `jobs.rs` implements [`super::JobStore`], `records.rs`
//! [`super::RecordStore`]; this module owns the file, its tables and its transactions.

mod chunk_items;
mod jobs;
mod records;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{jobs_partition, RecordKey};
use crate::error::StoreError;
use crate::model::Job;

type Bytes = &'static [u8];
const JOBS: TableDefinition<&str, Bytes> = TableDefinition::new("jobs");
/// `<partition>\0<initTime:013>#<id>` → job id, for newest-first listing.
const JOB_INDEX: TableDefinition<&str, &str> = TableDefinition::new("job_index");
/// `<job id>#<chunk:06>` → the chunk's row outcomes (JSON).
const CHUNKS: TableDefinition<&str, Bytes> = TableDefinition::new("chunk_outcomes");
const SECRETS: TableDefinition<&str, Bytes> = TableDefinition::new("chunk_secrets");
/// `<pk>\0<sk>` → record (JSON).
const RECORDS: TableDefinition<&str, Bytes> = TableDefinition::new("records");
const SEQUENCES: TableDefinition<&str, i64> = TableDefinition::new("sequences");

/// A job with the chunk numbers already counted into it and those claimed for running.
#[derive(Serialize, Deserialize)]
struct StoredJob {
    job: Job,
    recorded_chunks: BTreeSet<u32>,
    #[serde(default)]
    claimed_chunks: BTreeSet<u32>,
}

fn backend(error: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("embedded store: {error}"))
}

fn corrupt(error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("embedded store: {error}"))
}

fn chunk_key(id: &str, chunk: u32) -> String {
    format!("{id}#{chunk:06}")
}

fn record_key(key: &RecordKey) -> String {
    format!("{}\0{}", key.pk, key.sk)
}

/// `<partition>\0<initTime:013>#<id>`: partitions never hold a NUL (see [`jobs_partition`]),
/// so `<partition>\0` is an exact prefix of one partition's entries.
fn index_key(job: &Job) -> String {
    let partition = jobs_partition(job.job_type, &job.owner);
    format!("{partition}\0{:013}#{}", job.init_time_ms, job.id)
}

fn read_job(txn: &WriteTransaction, id: &str) -> Result<Option<StoredJob>, StoreError> {
    let table = txn.open_table(JOBS).map_err(backend)?;
    let value = table.get(id).map_err(backend)?;
    value
        .map(|v| serde_json::from_slice::<StoredJob>(v.value()).map_err(corrupt))
        .transpose()
}

fn write_job(txn: &WriteTransaction, stored: &StoredJob) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec(stored).map_err(corrupt)?;
    let mut table = txn.open_table(JOBS).map_err(backend)?;
    table
        .insert(stored.job.id.as_str(), bytes.as_slice())
        .map_err(backend)?;
    Ok(())
}

/// Records as stored: their key and JSON.
fn encode_records(records: Vec<(RecordKey, Value)>) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
    records
        .into_iter()
        .map(|(key, value)| {
            Ok((
                record_key(&key),
                serde_json::to_vec(&value).map_err(corrupt)?,
            ))
        })
        .collect()
}

fn with_chunks(stored: StoredJob) -> Job {
    let mut job = stored.job;
    job.recorded_chunks = stored.recorded_chunks;
    job.claimed_chunks = stored.claimed_chunks;
    job
}

/// The embedded store: jobs, chunk results, staged secrets, records and sequences.
#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    durability: Durability,
    /// Set by every lazy commit, cleared by [`EmbeddedStore::sync`]; shared by all handles.
    unsynced: Arc<AtomicBool>,
}

impl EmbeddedStore {
    /// Opens (or creates) the store file `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path).map_err(backend)?;
        let txn = db.begin_write().map_err(backend)?;
        {
            // Create every table up front so readers never meet a missing one.
            txn.open_table(JOBS).map_err(backend)?;
            txn.open_table(JOB_INDEX).map_err(backend)?;
            txn.open_table(CHUNKS).map_err(backend)?;
            txn.open_table(SECRETS).map_err(backend)?;
            txn.open_table(RECORDS).map_err(backend)?;
            txn.open_table(SEQUENCES).map_err(backend)?;
            crate::queue::embedded::create_tables(&txn).map_err(backend)?;
        }
        txn.commit().map_err(backend)?;
        Ok(Self {
            db: Arc::new(db),
            durability: Durability::Immediate,
            unsynced: Arc::new(AtomicBool::new(false)),
        })
    }

    /// A handle on the same file whose commits are not flushed to disk one by one; call
    /// [`EmbeddedStore::sync`] periodically (the local server does).
    ///
    /// Why this is safe for the row work: the file is one ACID database holding the jobs, the
    /// row results, the records the operations create *and* the queue. A crash loses only the
    /// commits since the last sync, all of them together, so the file rolls back to a
    /// consistent earlier moment, where the lost chunks are still unacknowledged in the queue
    /// and simply run again. Nothing outside the file has seen them. Commits that answer a
    /// caller (creating a job) must use the durable handle.
    pub fn lazy(&self) -> Self {
        Self {
            durability: Durability::None,
            ..self.clone()
        }
    }

    /// Makes every lazy commit so far durable (one fsync), if there are any.
    pub fn sync(&self) -> Result<(), StoreError> {
        if !self.unsynced.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        let flush = || -> Result<(), redb::Error> { Ok(self.db.begin_write()?.commit()?) };
        flush().map_err(|e| {
            self.unsynced.store(true, Ordering::Release);
            backend(e)
        })
    }

    /// The database and commit mode, for the embedded queue that shares the file.
    pub(crate) fn database(&self) -> (Arc<Database>, Durability, Arc<AtomicBool>) {
        (self.db.clone(), self.durability, self.unsynced.clone())
    }

    /// Begins a write transaction with this handle's durability.
    pub(crate) fn begin(
        db: &Database,
        durability: Durability,
        unsynced: &AtomicBool,
    ) -> Result<WriteTransaction, redb::Error> {
        let mut txn = db.begin_write()?;
        if let Durability::None = durability {
            txn.set_durability(Durability::None)?;
            unsynced.store(true, Ordering::Release);
        }
        Ok(txn)
    }

    /// Runs `work` in one write transaction on a blocking thread; commits if it succeeds.
    async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> Result<T, StoreError> + Send + 'static,
    {
        let (db, durability, unsynced) = self.database();
        tokio::task::spawn_blocking(move || {
            let txn = Self::begin(&db, durability, &unsynced).map_err(backend)?;
            let result = work(&txn)?;
            txn.commit().map_err(backend)?;
            Ok(result)
        })
        .await
        .map_err(backend)?
    }

    /// Runs `work` on a read snapshot on a blocking thread.
    ///
    /// Through a durable handle (the one that answers callers), everything in the snapshot is
    /// made durable before it is read: a caller never sees a state a crash could take back
    /// (a COMPLETED job completing again after a restart). The snapshot is taken first and
    /// synced after, so later lazy commits cannot slip in unsynced.
    async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&redb::ReadTransaction) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || {
            let txn = store.db.begin_read().map_err(backend)?;
            if let Durability::Immediate = store.durability {
                store.sync()?;
            }
            work(&txn)
        })
        .await
        .map_err(backend)?
    }
}
