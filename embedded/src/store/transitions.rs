//! The read-check-write transactions every state change of the embedded [`JobStore`] is made
//! of (the DynamoDB adapter's conditional UpdateItems).
//!
//! [`JobStore`]: bulkops_shared::store::JobStore

use bulkops_shared::error::StoreError;
use bulkops_shared::model::{EventKind, Job, JobState};
use bulkops_shared::store::Transition;
use redb::WriteTransaction;

use super::{read_job, write_job, EmbeddedStore, StoredJob};

impl EmbeddedStore {
    /// Reads job `id` in one write transaction and lets `change` update it; the job is written
    /// back if `change` says it changed. `missing` is the answer when there is no such job.
    pub(super) async fn change_job<T, F>(
        &self,
        id: &str,
        missing: T,
        change: F,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut StoredJob) -> (bool, T) + Send + 'static,
    {
        let id = id.to_owned();
        self.write(move |txn: &WriteTransaction| {
            let Some(mut stored) = read_job(txn, &id)? else {
                return Ok(missing);
            };
            let (changed, answer) = change(&mut stored);
            if changed {
                write_job(txn, &mut stored)?;
            }
            Ok(answer)
        })
        .await
    }

    /// A state change allowed only from `from`: the job after it, or as it was.
    pub(super) async fn transition<F>(
        &self,
        id: &str,
        from: &'static [JobState],
        apply: F,
    ) -> Result<Transition, StoreError>
    where
        F: FnOnce(&mut StoredJob) + Send + 'static,
    {
        self.change_job(id, Transition::JobMissing, move |stored| {
            if !from.contains(&stored.job.state) {
                return (false, Transition::Unchanged(Box::new(snapshot(stored))));
            }
            apply(stored);
            (true, Transition::Moved(Box::new(snapshot(stored))))
        })
        .await
    }

    /// A transition that emits `kind`: its outbox entry is written with it.
    pub(super) async fn emitting<F>(
        &self,
        id: &str,
        from: &'static [JobState],
        kind: EventKind,
        at_ms: i64,
        apply: F,
    ) -> Result<Transition, StoreError>
    where
        F: FnOnce(&mut StoredJob) + Send + 'static,
    {
        self.transition(id, from, move |stored| {
            apply(stored);
            stored.job.outbox.insert(kind, at_ms);
        })
        .await
    }
}

pub(super) fn snapshot(stored: &StoredJob) -> Job {
    let mut job = stored.job.clone();
    job.recorded_chunks = stored.recorded_chunks.clone();
    job.claimed_chunks = stored.claimed_chunks.clone();
    job
}

/// Every row skipped and every chunk recorded: what a job that never released its chunks
/// ends with (none of them can have run).
pub(super) fn skip_everything(stored: &mut StoredJob) {
    let job = &mut stored.job;
    job.rows_skipped = job.total_rows - job.rows_processed - job.rows_failed;
    job.recorded_below = job.recorded_below.max(job.chunk_count);
    stored.recorded_chunks.clear();
}
