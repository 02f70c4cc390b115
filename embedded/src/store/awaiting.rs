//! Staged jobs waiting for their file in the embedded store: [`write_job`](super::write_job)
//! keeps each in the `awaiting_uploads` table, sorted by when it becomes overdue, while it is
//! AWAITING_DATA, so the table holds exactly the jobs still waiting. The publisher's sweep
//! reads the overdue ones.

use bulkops_shared::error::StoreError;
use bulkops_shared::model::Job;
use redb::WriteTransaction;

use super::{with_chunks, EmbeddedStore, StoredJob};
use crate::db::{DbError, AWAITING_UPLOADS, JOBS};

/// Puts `stored` in the index, moves it, or takes it out, as its state asks.
pub(super) fn index(txn: &WriteTransaction, stored: &mut StoredJob) -> Result<(), DbError> {
    let wanted = stored
        .job
        .upload_due_at_ms()
        .map(|due| format!("{due:013}#{}", stored.job.id));
    if wanted == stored.awaiting_key {
        return Ok(());
    }
    let mut table = txn.open_table(AWAITING_UPLOADS)?;
    if let Some(old) = &stored.awaiting_key {
        table.remove(old.as_str())?;
    }
    if let Some(key) = &wanted {
        table.insert(key.as_str(), stored.job.id.as_str())?;
    }
    stored.awaiting_key = wanted;
    Ok(())
}

impl EmbeddedStore {
    pub(super) async fn overdue_uploads_entries(
        &self,
        now_ms: i64,
        limit: usize,
    ) -> Result<Vec<Job>, StoreError> {
        // Every key due at `now_ms` or before sorts below the next millisecond's.
        let below = format!("{:013}", now_ms + 1);
        self.read(move |txn| {
            let index = txn.open_table(AWAITING_UPLOADS)?;
            let jobs = txn.open_table(JOBS)?;
            let mut out = Vec::new();
            for entry in index.range(..below.as_str())?.take(limit) {
                let (_, id) = entry?;
                if let Some(value) = jobs.get(id.value())? {
                    out.push(with_chunks(serde_json::from_slice(value.value())?));
                }
            }
            Ok(out)
        })
        .await
    }
}
