//! The file: one redb database holding every table of the embedded store and queue, and the
//! transactions on it. Jobs, rows, side effects and queue state share one ACID file, so a
//! crash rolls all of them back to one consistent moment together.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bulkops_shared::error::StoreError;
use bulkops_shared::queue::QueueError;
use redb::{
    Database, Durability, ReadTransaction, ReadableDatabase, TableDefinition, WriteTransaction,
};

pub(crate) type Bytes = &'static [u8];

/// redb's page cache. Its default (1 GiB) let the server's memory grow with a job: a
/// million-row staged file peaked at 1,222 MiB (VmHWM); at 128 MiB, 307 MiB; at 64 MiB,
/// 210 MiB, and the run was faster (63,077 rows/s against 48,438 at the default). Counting
/// the result files' phase too, where reading the chunks' large pages evicts small ones:
/// 64 MiB 203-206, 32 MiB 140-148, 16 MiB 121-125 MiB, at the same rows/s and CPU (the
/// kernel's page cache serves what redb's misses).
const CACHE_BYTES: usize = 16 * 1024 * 1024;

/// job id → the job with its recorded and claimed chunks (JSON).
pub(crate) const JOBS: TableDefinition<&str, Bytes> = TableDefinition::new("jobs");
/// `<partition>\0<initTime:013>#<id>` → job id, for newest-first listing.
pub(crate) const JOB_INDEX: TableDefinition<&str, &str> = TableDefinition::new("job_index");
/// `<job id>#<chunk:06>` → the chunk's row outcomes (JSON).
pub(crate) const CHUNKS: TableDefinition<&str, Bytes> = TableDefinition::new("chunk_outcomes");
/// `<job id>#<chunk:06>` → the chunk's staged secrets (JSON).
pub(crate) const SECRETS: TableDefinition<&str, Bytes> = TableDefinition::new("chunk_secrets");
/// `<job id>#<chunk:06>` → the chunk's failed rows' secrets, kept for a retry (JSON).
pub(crate) const KEPT: TableDefinition<&str, Bytes> = TableDefinition::new("kept_secrets");
/// `<job id>#<chunk:06>` → a parked chunk message (JSON), waiting for its turn in the queue.
pub(crate) const PARKED: TableDefinition<&str, &str> = TableDefinition::new("parked_chunks");
/// SHA-256 of a caller's sub → its active jobs for the quotas (JSON: job id → rows).
pub(crate) const QUOTAS: TableDefinition<&str, &str> = TableDefinition::new("quotas");
pub(crate) use crate::records_table::RECORDS;
pub(crate) const SEQUENCES: TableDefinition<&str, i64> = TableDefinition::new("sequences");
/// client token key → the id of the job its request created.
pub(crate) const CLIENT_TOKENS: TableDefinition<&str, &str> = TableDefinition::new("client_tokens");
/// scoped Idempotency-Key → its record (JSON).
pub(crate) const IDEMPOTENCY_KEYS: TableDefinition<&str, &str> =
    TableDefinition::new("idempotency_keys");
/// `<first pending event time:013>#<job id>` → job id: the jobs with unpublished events.
pub(crate) const OUTBOX: TableDefinition<&str, &str> = TableDefinition::new("job_outbox");
/// `<when overdue:013>#<job id>` → job id: the staged jobs waiting for their file.
pub(crate) const AWAITING_UPLOADS: TableDefinition<&str, &str> =
    TableDefinition::new("awaiting_uploads");
/// `<queue>\0<sequence:020>` → message state (JSON); keys keep arrival order. Bodies live
/// apart so that looking for a visible message never parses a 60 KiB chunk.
pub(crate) const MESSAGES: TableDefinition<&str, Bytes> = TableDefinition::new("queue_messages");
/// Same key → message body.
pub(crate) const BODIES: TableDefinition<&str, &str> = TableDefinition::new("queue_bodies");
/// receipt → message key, for the current receive of each message.
pub(crate) const RECEIPTS: TableDefinition<&str, &str> = TableDefinition::new("queue_receipts");
pub(crate) const QUEUE_SEQUENCE: TableDefinition<&str, u64> =
    TableDefinition::new("queue_sequence");

/// A failure of the embedded file.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("embedded store: {0}")]
    Redb(#[from] redb::Error),
    #[error("embedded store: stored data is malformed: {0}")]
    Corrupt(#[from] serde_json::Error),
    #[error("embedded store: a key is malformed: {0}")]
    MalformedKey(String),
    #[error("embedded store: stored JSON is not UTF-8: {0}")]
    NotText(#[from] std::string::FromUtf8Error),
    #[error("embedded store: {0}")]
    Refused(String),
    #[error("embedded store: the blocking task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("embedded store: a transaction panicked: {0}")]
    Panicked(String),
}

/// Every redb error type converts through `redb::Error`, so `?` works on each of them.
macro_rules! from_redb {
    ($($error:ty),*) => {
        $(impl From<$error> for DbError {
            fn from(error: $error) -> Self {
                DbError::Redb(error.into())
            }
        })*
    };
}
from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError,
    redb::SetDurabilityError
);

impl From<DbError> for StoreError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::Corrupt(_) | DbError::MalformedKey(_) | DbError::NotText(_) => {
                StoreError::Corrupt(error.to_string())
            }
            _ => StoreError::Backend(error.to_string()),
        }
    }
}

impl From<DbError> for QueueError {
    fn from(error: DbError) -> Self {
        QueueError(error.to_string())
    }
}

/// A handle on the file, committing durably or lazily (see [`Db::lazy`]).
#[derive(Clone)]
pub struct Db {
    db: Arc<Database>,
    durability: Durability,
    /// Shared by all handles on the file.
    syncs: Arc<Syncs>,
}

/// What has been made durable, counted in lazy transactions begun, so that every caller
/// waiting for a sync is covered by the first one to start after it asked: callers arriving
/// while one sync writes share the next, instead of each syncing again because the row work
/// has committed more meanwhile.
#[derive(Default)]
struct Syncs {
    /// Lazy write transactions begun so far (counted once each holds redb's write lock).
    begun: AtomicU64,
    /// How many of `begun` the last finished sync made durable.
    synced: AtomicU64,
    /// Held for the whole of a sync: a caller finds `synced` up to date only once the sync
    /// that covers it is on disk.
    one_at_a_time: Mutex<()>,
    /// Syncs that wrote (each one durable commit, one fsync).
    flushes: AtomicU64,
}

impl Db {
    /// Opens (or creates) the file `path` with every table, so readers never meet a missing
    /// one. Commits of this handle are durable.
    pub fn open(path: &Path) -> Result<Self, DbError> {
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(path)?;
        let txn = db.begin_write()?;
        txn.open_table(JOBS)?;
        txn.open_table(JOB_INDEX)?;
        txn.open_table(CHUNKS)?;
        txn.open_table(SECRETS)?;
        txn.open_table(KEPT)?;
        txn.open_table(PARKED)?;
        txn.open_table(QUOTAS)?;
        txn.open_table(RECORDS)?;
        txn.open_table(SEQUENCES)?;
        txn.open_table(OUTBOX)?;
        txn.open_table(AWAITING_UPLOADS)?;
        txn.open_table(IDEMPOTENCY_KEYS)?;
        txn.open_table(MESSAGES)?;
        txn.open_table(BODIES)?;
        txn.open_table(RECEIPTS)?;
        txn.open_table(QUEUE_SEQUENCE)?;
        crate::records_table::move_pk_first_records(&txn)?;
        txn.commit()?;
        Ok(Self {
            db: Arc::new(db),
            durability: Durability::Immediate,
            syncs: Arc::default(),
        })
    }

    /// A handle on the same file whose commits are not flushed to disk one by one; call
    /// [`Db::sync`] periodically (the local server does).
    ///
    /// Why this is safe for the row work: the file holds the jobs, the row results, the
    /// records the operations create *and* the queue. A crash loses only the commits since the
    /// last sync, all of them together, so the file rolls back to a consistent earlier moment,
    /// where the lost chunks are still unacknowledged in the queue and simply run again.
    /// Nothing outside the file has seen them: the local server answers a caller only after a
    /// sync (`JobStore::make_durable`, which its HTTP layer calls before every answer; a
    /// durable handle's reads sync first instead), and an event about a job goes out only
    /// after one too, even when the row work's lazy transition handed the publisher the job.
    pub fn lazy(&self) -> Self {
        Self {
            durability: Durability::None,
            ..self.clone()
        }
    }

    /// Makes every lazy commit so far durable (one fsync), if there are any.
    ///
    /// Returns only once they are on disk, even when another thread's sync is writing them.
    /// A sync that started after this call covers it, so callers that wait together share
    /// one fsync.
    pub fn sync(&self) -> Result<(), DbError> {
        self.sync_through(self.syncs.begun.load(Ordering::Acquire))
    }

    /// [`Db::sync`] for a caller that asked when `wanted` lazy transactions had begun.
    fn sync_through(&self, wanted: u64) -> Result<(), DbError> {
        let one_at_a_time = self
            .syncs
            .one_at_a_time
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if self.syncs.synced.load(Ordering::Acquire) >= wanted {
            return Ok(());
        }
        self.flush(&one_at_a_time)
    }

    /// One durable commit, covering every lazy transaction begun so far.
    fn flush(&self, _one_at_a_time: &MutexGuard<'_, ()>) -> Result<(), DbError> {
        // Read before taking the write lock: every transaction counted here holds or held
        // it, so it has committed (or aborted) before this durable commit begins.
        let covering = self.syncs.begun.load(Ordering::Acquire);
        self.db.begin_write()?.commit()?;
        self.syncs.synced.store(covering, Ordering::Release);
        self.syncs.flushes.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Whether lazy commits are waiting for a sync.
    pub fn has_unsynced_commits(&self) -> bool {
        self.syncs.synced.load(Ordering::Acquire) < self.syncs.begun.load(Ordering::Acquire)
    }

    /// Whether every commit so far is on disk, known without waiting: no sync is under way
    /// (its lock is free) and no lazy commit came since the last one. `false` means "call
    /// [`Db::sync`]", which waits when it must.
    pub fn is_durable_now(&self) -> bool {
        match self.syncs.one_at_a_time.try_lock() {
            Ok(_none_under_way) => !self.has_unsynced_commits(),
            Err(_) => false,
        }
    }

    fn begin(&self) -> Result<WriteTransaction, DbError> {
        let mut txn = self.db.begin_write()?;
        if let Durability::None = self.durability {
            txn.set_durability(Durability::None)?;
            self.syncs.begun.fetch_add(1, Ordering::AcqRel);
        }
        Ok(txn)
    }

    /// Runs `work` in one write transaction and commits if it succeeds: through a lazy
    /// handle on the calling thread, through a durable one on a blocking thread (its commit
    /// waits for an fsync).
    ///
    /// A lazy commit takes tens of microseconds; handing it to a blocking thread and waking
    /// the caller again cost more than that (the row work's CPU fell by 17-18% when its commits
    /// stayed on its own threads). The price: the calling thread waits for redb's write lock,
    /// which a sync holds through its fsync, so the local server runs its row work on a
    /// runtime of its own and callers' requests are not held up behind it.
    pub async fn write<T, F>(&self, work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> Result<T, DbError> + Send + 'static,
    {
        if let Durability::None = self.durability {
            let result = run_here(|| self.commit(work));
            // The row work may otherwise run chunk after chunk without once returning to the
            // scheduler: other tasks on its threads get a turn when its budget runs out.
            tokio::task::consume_budget().await;
            return result;
        }
        let db = self.clone();
        tokio::task::spawn_blocking(move || db.commit(work)).await?
    }

    fn commit<T>(
        &self,
        work: impl FnOnce(&WriteTransaction) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        let txn = self.begin()?;
        let result = work(&txn)?;
        txn.commit()?;
        Ok(result)
    }

    /// Runs `work` on a read snapshot: through a lazy handle on the calling thread (see
    /// [`run_here`]), through a durable one on a blocking thread, since it syncs first.
    ///
    /// Through a durable handle (one that answers callers itself), everything in the snapshot is
    /// made durable before it is read: a caller never sees a state a crash could take back
    /// (a COMPLETED job completing again after a restart). The snapshot is taken first and
    /// synced after, so later lazy commits cannot slip in unsynced.
    pub async fn read<T, F>(&self, work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&ReadTransaction) -> Result<T, DbError> + Send + 'static,
    {
        if let Durability::None = self.durability {
            return run_here(|| work(&self.db.begin_read()?));
        }
        self.read_unbounded(work).await
    }

    /// [`Db::read`] on a blocking thread whatever the handle: for a read whose size has no
    /// bound (every row of a job), too long to hold an async worker.
    pub async fn read_unbounded<T, F>(&self, work: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&ReadTransaction) -> Result<T, DbError> + Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            let txn = db.db.begin_read()?;
            if let Durability::Immediate = db.durability {
                db.sync()?;
            }
            work(&txn)
        })
        .await?
    }
}

/// Runs a lazy handle's read or write on the calling thread: a read snapshot never waits for
/// redb's write lock or for an fsync, and a lazy commit never waits for an fsync of its own,
/// so handing either to a blocking thread cost more than the work. A panic is the work's
/// error, as a blocking task's is (a write transaction dropped unfinished is rolled back).
fn run_here<T>(work: impl FnOnce() -> Result<T, DbError>) -> Result<T, DbError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_owned());
        Err(DbError::Panicked(message))
    })
}

#[cfg(test)]
#[path = "db_tests.rs"]
mod tests;
