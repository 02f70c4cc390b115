//! Recording a chunk's counts on its job, and claiming or recording several chunks of one job
//! at once: each is one write transaction, as each is one UpdateItem on DynamoDB.

use super::transitions::snapshot;
use super::EmbeddedStore;
use bulkops_shared::error::StoreError;
use bulkops_shared::model::{ChunkCounts, Job};
use bulkops_shared::store::{FirstFailure, Recorded};

/// Adds a chunk's counts to its job.
fn add_counts(job: &mut Job, counts: ChunkCounts) {
    job.rows_processed += counts.succeeded;
    job.rows_failed += counts.failed;
    job.rows_skipped += counts.skipped;
}

/// Lowers the job's first failure to `first` if it is lower and the job is not final.
fn lower_first_failure(job: &mut Job, first: Option<(u32, String)>) {
    if let Some((row, message)) = first {
        if !job.state.is_terminal() && job.first_failed_row.is_none_or(|known| known > row) {
            job.first_failed_row = Some(row);
            job.error_message = Some(message);
        }
    }
}

fn owned(first_failure: Option<FirstFailure<'_>>) -> Option<(u32, String)> {
    first_failure.map(|first| (first.row, first.message.to_owned()))
}

impl EmbeddedStore {
    pub(super) async fn record_one(
        &self,
        id: &str,
        chunk: u32,
        counts: ChunkCounts,
        first_failure: Option<FirstFailure<'_>>,
    ) -> Result<Option<Recorded>, StoreError> {
        let first = owned(first_failure);
        self.change_job(id, None, move |stored| {
            let newly_recorded = stored.record(chunk);
            if newly_recorded {
                add_counts(&mut stored.job, counts);
                lower_first_failure(&mut stored.job, first);
            }
            let job = snapshot(stored);
            let recorded = Recorded {
                job,
                newly_recorded,
            };
            (newly_recorded, Some(recorded))
        })
        .await
    }

    pub(super) async fn claim_group(
        &self,
        id: &str,
        chunks: &[u32],
    ) -> Result<Option<Job>, StoreError> {
        let chunks = chunks.to_vec();
        self.change_job(id, None, move |stored| {
            let claimable = stored.job.state.is_runnable()
                && chunks.iter().all(|chunk| !stored.is_recorded(*chunk));
            if !claimable {
                return (false, None);
            }
            let mut changed = false;
            for chunk in &chunks {
                changed |= stored.claimed_chunks.insert(*chunk);
            }
            (changed, Some(snapshot(stored)))
        })
        .await
    }

    pub(super) async fn record_group(
        &self,
        id: &str,
        chunks: &[(u32, ChunkCounts)],
        first_failure: Option<FirstFailure<'_>>,
    ) -> Result<Option<Job>, StoreError> {
        let (chunks, first) = (chunks.to_vec(), owned(first_failure));
        self.change_job(id, None, move |stored| {
            if chunks.iter().any(|(chunk, _)| stored.is_recorded(*chunk)) {
                return (false, None);
            }
            for (chunk, counts) in &chunks {
                stored.record(*chunk);
                add_counts(&mut stored.job, *counts);
            }
            lower_first_failure(&mut stored.job, first);
            (true, Some(snapshot(stored)))
        })
        .await
    }
}
