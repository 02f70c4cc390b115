//! Cancelling a job on DynamoDB: a released job stops where it is (its queued chunks are
//! skipped as they arrive); a job never released runs nothing, so all its rows are skipped in
//! the same conditional update.

use super::awaiting::LEAVES_AWAITING;
use super::conditional::state_in;
use super::{n, DynamoJobStore};
use crate::error::StoreError;
use crate::model::{EventKind, JobState};
use crate::store::{CancelOutcome, Transition};

impl DynamoJobStore {
    /// Any non-final state → CANCELLED (see [`crate::store::JobStore::cancel`]).
    pub(super) async fn cancel_job(
        &self,
        id: &str,
        now_ms: i64,
    ) -> Result<CancelOutcome, StoreError> {
        // Released jobs: their queued chunks are skipped as they arrive. A job whose chunks
        // were never released: none can run, so all its rows are skipped at once.
        for _ in 0..3 {
            let released = self
                .emitting(
                    id,
                    &state_in(&JobState::RUNNABLE),
                    "SET #state = :CANCELLED, processingEndMs = :now",
                    vec![(":now", n(now_ms))],
                    "UpdateItem(cancel)",
                    EventKind::Cancelled,
                    now_ms,
                )
                .await?;
            let job = match released {
                Transition::Moved(job) => return Ok(CancelOutcome::Cancelled(job)),
                Transition::JobMissing => return Ok(CancelOutcome::NotFound),
                Transition::Unchanged(job) if job.state.is_terminal() => {
                    return Ok(CancelOutcome::AlreadyFinal(job.state))
                }
                Transition::Unchanged(job) => job,
            };
            let unreleased = self
                .emitting(
                    id,
                    "#state = :AWAITING_DATA",
                    &format!("SET #state = :CANCELLED, processingEndMs = :now, rowsSkipped = totalRows, recordedBelow = :chunkCount {LEAVES_AWAITING}"),
                    vec![(":now", n(now_ms)), (":chunkCount", n(job.chunk_count))],
                    "UpdateItem(cancel unreleased)",
                    EventKind::Cancelled,
                    now_ms,
                )
                .await?;
            match unreleased {
                Transition::Moved(job) => return Ok(CancelOutcome::Cancelled(job)),
                Transition::JobMissing => return Ok(CancelOutcome::NotFound),
                // Released meanwhile: cancel it as a released job.
                Transition::Unchanged(_) => continue,
            }
        }
        Err(StoreError::Backend(format!(
            "job {id} kept changing state while being cancelled"
        )))
    }
}
