//! [`EmbeddedStore`]: the storage ports on the embedded file. Every conditional update of the
//! DynamoDB adapter is one write transaction here (read, check, write, commit), so the two
//! implementations keep the same contract — `tests/store_conformance/` runs one suite
//! against both. `jobs.rs` implements `JobStore`, `chunk_items.rs` the per-chunk items,
//! `records.rs` `RecordStore`.

mod awaiting;
mod chunk_items;
#[cfg(test)]
mod durable_events_tests;
mod groups;
mod idempotency_keys;
mod jobs;
mod parked;
mod quota;
mod records;
mod retries;
mod secrets;
mod transitions;

use std::collections::BTreeSet;
use std::path::Path;

use bulkops_shared::error::StoreError;
use bulkops_shared::model::Job;
use bulkops_shared::store::{jobs_partition, RecordKey};
use redb::{ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

use crate::db::{Db, DbError, JOBS, OUTBOX};

/// A job with the chunk numbers already counted into it (at or above `job.recorded_below`:
/// the run below is folded into it at once, so the stored job stays small) and those claimed
/// for running and not recorded yet.
#[derive(Serialize, Deserialize)]
struct StoredJob {
    job: Job,
    recorded_chunks: BTreeSet<u32>,
    #[serde(default)]
    claimed_chunks: BTreeSet<u32>,
    /// The job's key in the outbox index while its outbox is not empty.
    #[serde(default)]
    outbox_key: Option<String>,
    /// The job's key in the awaiting-uploads index while it is a staged job waiting for its
    /// file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    awaiting_key: Option<String>,
}

impl StoredJob {
    fn is_recorded(&self, chunk: u32) -> bool {
        chunk < self.job.recorded_below || self.recorded_chunks.contains(&chunk)
    }

    /// Records `chunk` (false if it was recorded already), drops its claim, and folds the
    /// run of recorded chunks at the low-water mark into it.
    fn record(&mut self, chunk: u32) -> bool {
        if self.is_recorded(chunk) {
            return false;
        }
        self.recorded_chunks.insert(chunk);
        self.claimed_chunks.remove(&chunk);
        while self.recorded_chunks.remove(&self.job.recorded_below) {
            self.job.recorded_below += 1;
        }
        true
    }
}

fn chunk_key(id: &str, chunk: u32) -> String {
    format!("{id}#{chunk:06}")
}

fn record_key(key: &RecordKey) -> String {
    crate::records_table::record_name(&key.pk, &key.sk)
}

/// `<partition>\0<initTime:013>#<id>`: partitions never hold a NUL (see [`jobs_partition`]),
/// so `<partition>\0` is an exact prefix of one partition's entries.
fn index_key(job: &Job) -> String {
    let partition = jobs_partition(job.job_type, &job.owner);
    format!("{partition}\0{:013}#{}", job.init_time_ms, job.id)
}

fn read_job(txn: &WriteTransaction, id: &str) -> Result<Option<StoredJob>, DbError> {
    let table = txn.open_table(JOBS)?;
    let value = table.get(id)?;
    Ok(value
        .map(|v| serde_json::from_slice::<StoredJob>(v.value()))
        .transpose()?)
}

/// Writes a job, keeping the outbox index in step with its outbox, and the awaiting-uploads
/// index with its state, in the same transaction.
fn write_job(txn: &WriteTransaction, stored: &mut StoredJob) -> Result<(), DbError> {
    awaiting::index(txn, stored)?;
    let first_pending = stored.job.outbox.values().min().copied();
    match (first_pending, &stored.outbox_key) {
        (Some(at), None) => {
            let key = format!("{at:013}#{}", stored.job.id);
            txn.open_table(OUTBOX)?
                .insert(key.as_str(), stored.job.id.as_str())?;
            stored.outbox_key = Some(key);
        }
        (None, Some(key)) => {
            txn.open_table(OUTBOX)?.remove(key.as_str())?;
            stored.outbox_key = None;
        }
        _ => {}
    }
    let bytes = serde_json::to_vec(stored)?;
    let mut table = txn.open_table(JOBS)?;
    table.insert(stored.job.id.as_str(), bytes.as_slice())?;
    Ok(())
}

/// Inserts a job that must not exist yet, with its listing entry.
fn insert_new_job(txn: &WriteTransaction, job: Job) -> Result<(), DbError> {
    if read_job(txn, &job.id)?.is_some() {
        return Err(DbError::Refused(format!("job {} already exists", job.id)));
    }
    let mut index = txn.open_table(crate::db::JOB_INDEX)?;
    index.insert(index_key(&job).as_str(), job.id.as_str())?;
    drop(index);
    write_job(
        txn,
        &mut StoredJob {
            recorded_chunks: BTreeSet::new(),
            claimed_chunks: BTreeSet::new(),
            outbox_key: None,
            awaiting_key: None,
            job,
        },
    )
}

/// Up to `limit` jobs an index table lists (key → job id) with keys in `keys`, in key order.
fn indexed_jobs<'k>(
    txn: &redb::ReadTransaction,
    index: redb::TableDefinition<&str, &str>,
    keys: impl std::ops::RangeBounds<&'k str> + 'k,
    limit: usize,
) -> Result<Vec<Job>, DbError> {
    let index = txn.open_table(index)?;
    let jobs = txn.open_table(JOBS)?;
    let mut out = Vec::new();
    for entry in index.range(keys)?.take(limit) {
        let (_, id) = entry?;
        if let Some(value) = jobs.get(id.value())? {
            out.push(with_chunks(serde_json::from_slice(value.value())?));
        }
    }
    Ok(out)
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
    pub(crate) db: Db,
}

impl EmbeddedStore {
    /// Opens (or creates) the store file `path` (which also holds the embedded queues).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Ok(Self {
            db: Db::open(path)?,
        })
    }

    /// A handle whose commits are lazy (see [`Db::lazy`]); the row work uses it.
    pub fn lazy(&self) -> Self {
        Self { db: self.db.lazy() }
    }

    /// Makes every lazy commit so far durable (one fsync), if there are any.
    pub fn sync(&self) -> Result<(), StoreError> {
        Ok(self.db.sync()?)
    }

    /// Whether lazy commits are waiting for a sync (a crash now would take them back).
    pub fn has_unsynced_commits(&self) -> bool {
        self.db.has_unsynced_commits()
    }

    /// One write transaction (see [`Db::write`]), its failure as the ports' error.
    async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> Result<T, DbError> + Send + 'static,
    {
        Ok(self.db.write(work).await?)
    }

    /// One read snapshot (see [`Db::read`]), its failure as the ports' error.
    async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&redb::ReadTransaction) -> Result<T, DbError> + Send + 'static,
    {
        Ok(self.db.read(work).await?)
    }
}
