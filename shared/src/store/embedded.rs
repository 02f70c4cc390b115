//! Embedded implementation of the storage ports on redb: one durable file in a local data
//! directory, ACID write transactions, no external service. Every conditional update of the
//! DynamoDB adapter is one write transaction here (read, check, write, commit), so the two
//! implementations keep the same contract — `tests/store_conformance.rs` runs one suite
//! against both.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{
    jobs_partition, listed_for, CancelOutcome, JobStore, RecordKey, RecordStore, Recorded,
};
use crate::engine::Secrets;
use crate::error::StoreError;
use crate::model::{ChunkCounts, Job, JobState, JobType, RowOutcome};

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

/// A job with the chunk numbers already counted into it.
#[derive(Serialize, Deserialize)]
struct StoredJob {
    job: Job,
    recorded_chunks: BTreeSet<u32>,
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
    async fn read<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&redb::ReadTransaction) -> Result<T, StoreError> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let txn = db.begin_read().map_err(backend)?;
            work(&txn)
        })
        .await
        .map_err(backend)?
    }
}

#[async_trait]
impl JobStore for EmbeddedStore {
    async fn create_job(&self, job: &Job) -> Result<(), StoreError> {
        let job = job.clone();
        self.write(move |txn| {
            if read_job(txn, &job.id)?.is_some() {
                return Err(backend(format!("job {} already exists", job.id)));
            }
            let mut index = txn.open_table(JOB_INDEX).map_err(backend)?;
            index
                .insert(index_key(&job).as_str(), job.id.as_str())
                .map_err(backend)?;
            drop(index);
            write_job(
                txn,
                &StoredJob {
                    recorded_chunks: BTreeSet::new(),
                    job,
                },
            )
        })
        .await
    }

    async fn get_job(&self, id: &str) -> Result<Option<Job>, StoreError> {
        let id = id.to_owned();
        self.read(move |txn| {
            let table = txn.open_table(JOBS).map_err(backend)?;
            let value = table.get(id.as_str()).map_err(backend)?;
            value
                .map(|v| {
                    serde_json::from_slice::<StoredJob>(v.value())
                        .map(with_chunks)
                        .map_err(corrupt)
                })
                .transpose()
        })
        .await
    }

    async fn list_jobs(
        &self,
        job_type: JobType,
        owner: &str,
        limit: usize,
    ) -> Result<Vec<Job>, StoreError> {
        let partition = jobs_partition(job_type, owner);
        let owner = owner.to_owned();
        self.read(move |txn| {
            let index = txn.open_table(JOB_INDEX).map_err(backend)?;
            let jobs = txn.open_table(JOBS).map_err(backend)?;
            let (start, end) = (format!("{partition}\0"), format!("{partition}\u{1}"));
            let mut out = Vec::new();
            for entry in index
                .range(start.as_str()..end.as_str())
                .map_err(backend)?
                .rev()
            {
                let (_, id) = entry.map_err(backend)?;
                if let Some(value) = jobs.get(id.value()).map_err(backend)? {
                    let job = with_chunks(serde_json::from_slice(value.value()).map_err(corrupt)?);
                    if listed_for(&job, &owner) {
                        out.push(job);
                    }
                }
                if out.len() >= limit {
                    break;
                }
            }
            Ok(out)
        })
        .await
    }

    async fn next_sequence(&self, name: &str) -> Result<i64, StoreError> {
        let name = name.to_owned();
        self.write(move |txn| {
            let mut table = txn.open_table(SEQUENCES).map_err(backend)?;
            let next = table
                .get(name.as_str())
                .map_err(backend)?
                .map(|v| v.value())
                .unwrap_or(0)
                + 1;
            table.insert(name.as_str(), next).map_err(backend)?;
            Ok(next)
        })
        .await
    }

    async fn put_chunk_secrets(
        &self,
        id: &str,
        chunk: u32,
        secrets: &Secrets,
    ) -> Result<(), StoreError> {
        let (key, bytes) = (
            chunk_key(id, chunk),
            serde_json::to_vec(secrets).map_err(corrupt)?,
        );
        self.write(move |txn| {
            let mut table = txn.open_table(SECRETS).map_err(backend)?;
            table
                .insert(key.as_str(), bytes.as_slice())
                .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn chunk_secrets(&self, id: &str, chunk: u32) -> Result<Secrets, StoreError> {
        let key = chunk_key(id, chunk);
        self.read(move |txn| {
            let table = txn.open_table(SECRETS).map_err(backend)?;
            let value = table.get(key.as_str()).map_err(backend)?;
            Ok(match value {
                Some(v) => serde_json::from_slice(v.value()).map_err(corrupt)?,
                None => Secrets::new(),
            })
        })
        .await
    }

    async fn delete_chunk_secrets(&self, id: &str, chunk: u32) -> Result<(), StoreError> {
        let key = chunk_key(id, chunk);
        self.write(move |txn| {
            let mut table = txn.open_table(SECRETS).map_err(backend)?;
            table.remove(key.as_str()).map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn start_processing(&self, id: &str, now_ms: i64) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.write(move |txn| {
            if let Some(mut stored) = read_job(txn, &id)? {
                if stored.job.state == JobState::Scheduled {
                    stored.job.state = JobState::Processing;
                    stored.job.processing_start_ms = Some(now_ms);
                    write_job(txn, &stored)?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn put_chunk_outcomes(
        &self,
        id: &str,
        chunk: u32,
        outcomes: &[RowOutcome],
    ) -> Result<(), StoreError> {
        let (key, bytes) = (
            chunk_key(id, chunk),
            serde_json::to_vec(outcomes).map_err(corrupt)?,
        );
        self.write(move |txn| {
            let mut table = txn.open_table(CHUNKS).map_err(backend)?;
            table
                .insert(key.as_str(), bytes.as_slice())
                .map_err(backend)?;
            Ok(())
        })
        .await
    }

    async fn lower_first_failure(
        &self,
        id: &str,
        row: u32,
        message: &str,
    ) -> Result<(), StoreError> {
        let (id, message) = (id.to_owned(), message.to_owned());
        self.write(move |txn| {
            if let Some(mut stored) = read_job(txn, &id)? {
                if stored.job.first_failed_row.is_none_or(|first| first > row) {
                    stored.job.first_failed_row = Some(row);
                    stored.job.error_message = Some(message);
                    write_job(txn, &stored)?;
                }
            }
            Ok(())
        })
        .await
    }

    async fn record_chunk(
        &self,
        id: &str,
        chunk: u32,
        counts: ChunkCounts,
    ) -> Result<Option<Recorded>, StoreError> {
        let id = id.to_owned();
        self.write(move |txn| {
            let Some(mut stored) = read_job(txn, &id)? else {
                return Ok(None);
            };
            if !stored.recorded_chunks.insert(chunk) {
                return Ok(Some(Recorded {
                    job: with_chunks(stored),
                    newly_recorded: false,
                }));
            }
            stored.job.rows_processed += counts.succeeded;
            stored.job.rows_failed += counts.failed;
            stored.job.rows_skipped += counts.skipped;
            write_job(txn, &stored)?;
            Ok(Some(Recorded {
                job: with_chunks(stored),
                newly_recorded: true,
            }))
        })
        .await
    }

    async fn complete(&self, id: &str, now_ms: i64) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.write(move |txn| {
            let Some(mut stored) = read_job(txn, &id)? else {
                return Ok(false);
            };
            if stored.job.state != JobState::Processing {
                return Ok(false);
            }
            stored.job.state = JobState::Completed;
            stored.job.processing_end_ms = Some(now_ms);
            write_job(txn, &stored)?;
            Ok(true)
        })
        .await
    }

    async fn cancel(&self, id: &str, now_ms: i64) -> Result<CancelOutcome, StoreError> {
        let id = id.to_owned();
        self.write(move |txn| {
            let Some(mut stored) = read_job(txn, &id)? else {
                return Ok(CancelOutcome::NotFound);
            };
            if stored.job.state.is_terminal() {
                return Ok(CancelOutcome::AlreadyFinal(stored.job.state));
            }
            stored.job.state = JobState::Cancelled;
            stored.job.processing_end_ms = Some(now_ms);
            write_job(txn, &stored)?;
            Ok(CancelOutcome::Cancelled(Box::new(with_chunks(stored))))
        })
        .await
    }

    async fn fail(
        &self,
        id: &str,
        message: &str,
        unsent_chunks: &[u32],
        unsent_rows: u32,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let (id, message, unsent) = (id.to_owned(), message.to_owned(), unsent_chunks.to_vec());
        self.write(move |txn| {
            let Some(mut stored) = read_job(txn, &id)? else {
                return Ok(());
            };
            if !matches!(stored.job.state, JobState::Scheduled | JobState::Processing) {
                return Ok(());
            }
            stored.job.state = JobState::Failed;
            stored.job.error_message = Some(message);
            stored.job.processing_end_ms = Some(now_ms);
            stored.job.rows_skipped += unsent_rows;
            stored.recorded_chunks.extend(unsent);
            write_job(txn, &stored)
        })
        .await
    }

    async fn row_outcomes(&self, id: &str) -> Result<Vec<RowOutcome>, StoreError> {
        let (start, end) = (format!("{id}#"), format!("{id}$"));
        self.read(move |txn| {
            let table = txn.open_table(CHUNKS).map_err(backend)?;
            let mut outcomes = Vec::new();
            for entry in table.range(start.as_str()..end.as_str()).map_err(backend)? {
                let (_, value) = entry.map_err(backend)?;
                outcomes.extend(
                    serde_json::from_slice::<Vec<RowOutcome>>(value.value()).map_err(corrupt)?,
                );
            }
            outcomes.sort_by_key(|o| o.row);
            Ok(outcomes)
        })
        .await
    }
}

#[async_trait]
impl RecordStore for EmbeddedStore {
    async fn get_many(&self, keys: &[RecordKey]) -> Result<HashMap<RecordKey, Value>, StoreError> {
        let keys = keys.to_vec();
        self.read(move |txn| {
            let table = txn.open_table(RECORDS).map_err(backend)?;
            let mut found = HashMap::new();
            for key in keys {
                if let Some(value) = table.get(record_key(&key).as_str()).map_err(backend)? {
                    found.insert(key, serde_json::from_slice(value.value()).map_err(corrupt)?);
                }
            }
            Ok(found)
        })
        .await
    }

    async fn put_many(&self, records: Vec<(RecordKey, Value)>) -> Result<(), StoreError> {
        // Serialized before the transaction: the file has one writer at a time.
        let encoded = encode_records(records)?;
        self.write(move |txn| {
            let mut table = txn.open_table(RECORDS).map_err(backend)?;
            for (name, bytes) in encoded {
                table
                    .insert(name.as_str(), bytes.as_slice())
                    .map_err(backend)?;
            }
            Ok(())
        })
        .await
    }

    async fn create_many(
        &self,
        records: Vec<(RecordKey, Value)>,
    ) -> Result<Vec<RecordKey>, StoreError> {
        let keys: Vec<RecordKey> = records.iter().map(|(key, _)| key.clone()).collect();
        let encoded = encode_records(records)?;
        self.write(move |txn| {
            let mut table = txn.open_table(RECORDS).map_err(backend)?;
            let mut existing = Vec::new();
            for (key, (name, bytes)) in keys.into_iter().zip(encoded) {
                if table.get(name.as_str()).map_err(backend)?.is_some() {
                    existing.push(key);
                    continue;
                }
                table
                    .insert(name.as_str(), bytes.as_slice())
                    .map_err(backend)?;
            }
            Ok(existing)
        })
        .await
    }

    async fn increment(
        &self,
        key: &RecordKey,
        attribute: &str,
        by: i64,
    ) -> Result<Option<i64>, StoreError> {
        let (name, attribute) = (record_key(key), attribute.to_owned());
        self.write(move |txn| {
            let mut table = txn.open_table(RECORDS).map_err(backend)?;
            let current = table
                .get(name.as_str())
                .map_err(backend)?
                .map(|v| v.value().to_vec());
            let Some(bytes) = current else {
                return Ok(None);
            };
            let mut record: serde_json::Map<String, Value> =
                serde_json::from_slice(&bytes).map_err(corrupt)?;
            let next = record.get(&attribute).and_then(Value::as_i64).unwrap_or(0) + by;
            record.insert(attribute, Value::from(next));
            let bytes = serde_json::to_vec(&record).map_err(corrupt)?;
            table
                .insert(name.as_str(), bytes.as_slice())
                .map_err(backend)?;
            Ok(Some(next))
        })
        .await
    }
}
