//! Recording a chunk's counts (with its first failure) on its job, and which chunks of a job
//! are counted, kept small on the job item: `recordedBelow` (every
//! chunk below it is recorded) and the string set `recordedChunks` of the recorded chunks at
//! or above it. Chunks are recorded about in order (a job's window keeps at most
//! `ChunkWindow` of them in the queue), so once the set holds [`COMPACT_AT`] chunks, the run
//! starting at `recordedBelow` is folded into it with one conditional update. The set then
//! holds about the chunks in flight plus the stragglers: a few hundred bytes, not one entry
//! per chunk of the job (a 10-million-row job has 20,000 to 50,000 chunks).

use super::conditional::state_in;
use super::{
    chunk_set, conditional_update, job_from_item, n, s, sdk_error, Conditional, DynamoJobStore,
};
use crate::error::StoreError;
use crate::model::{ChunkCounts, Job, JobState};
use crate::store::{FirstFailure, Recorded};

/// The condition that chunk `:chunkNumber` (also bound as the string `:chunk`) is not recorded.
pub(super) const NOT_RECORDED: &str = "NOT contains(recordedChunks, :chunk) \
     AND (attribute_not_exists(recordedBelow) OR recordedBelow <= :chunkNumber)";

/// The update and condition of a record of the chunks `not_recorded` names: their counts
/// added and their claims dropped (a recorded chunk is neither claimed nor skipped), once;
/// with a first failure, the job's lowered in the same write, the condition then also asking
/// for a lower row and a job that is not final.
pub(super) fn record_expressions(not_recorded: &str, lowers_failure: bool) -> (String, String) {
    let counted = "ADD rowsProcessed :succeeded, rowsFailed :failed, rowsSkipped :skipped, recordedChunks :chunks DELETE claimedChunks :chunks";
    let recordable = format!("attribute_exists(pk) AND {not_recorded}");
    if !lowers_failure {
        return (counted.to_owned(), recordable);
    }
    (
        format!("SET firstFailedRow = :row, errorMessage = :message {counted}"),
        format!(
            "{recordable} AND {} AND (attribute_not_exists(firstFailedRow) OR firstFailedRow > :row)",
            state_in(&JobState::CANCELLABLE)
        ),
    )
}

/// Set size from which a recording delivery compacts.
pub(super) const COMPACT_AT: usize = 64;

impl DynamoJobStore {
    /// Folds the run of recorded chunks starting at `recordedBelow` into it, if the set has
    /// grown to [`COMPACT_AT`]. Conditional on `recordedBelow` being what `job` shows, so two
    /// deliveries compacting at once cannot both apply; losing that race, or failing at all,
    /// changes nothing the engine relies on (the chunk is recorded either way), so it is
    /// logged, not returned.
    pub(super) async fn compact_recorded(&self, job: &Job) {
        let below = job.compacted_below();
        if job.recorded_chunks.len() < COMPACT_AT || below == job.recorded_below {
            return;
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.job_key(&job.id)))
            .update_expression("SET recordedBelow = :below DELETE recordedChunks :folded")
            .condition_expression("recordedBelow = :old OR attribute_not_exists(recordedBelow)")
            .expression_attribute_values(":below", n(below))
            .expression_attribute_values(":old", n(job.recorded_below))
            .expression_attribute_values(":folded", chunk_set(job.recorded_below..below))
            .send()
            .await;
        if let Err(error) = result {
            let error = sdk_error("UpdateItem(compact recorded chunks)", error);
            tracing::info!(%error, "recorded chunks not compacted this time");
        }
    }
}

impl DynamoJobStore {
    /// The conditional UpdateItem that adds a chunk's counts once and, given a first failure,
    /// lowers the job's in the same write (its condition then also asks for a lower row and
    /// a job that is not final).
    pub(super) async fn record_update(
        &self,
        id: &str,
        chunk: u32,
        counts: ChunkCounts,
        first_failure: Option<FirstFailure<'_>>,
    ) -> Result<Conditional, StoreError> {
        let (expression, condition) = record_expressions(NOT_RECORDED, first_failure.is_some());
        let mut update = self
            .update_job(id, &expression, &condition)
            .expression_attribute_values(":succeeded", n(counts.succeeded))
            .expression_attribute_values(":failed", n(counts.failed))
            .expression_attribute_values(":skipped", n(counts.skipped))
            .expression_attribute_values(":chunks", chunk_set([chunk]))
            .expression_attribute_values(":chunk", s(chunk.to_string()))
            .expression_attribute_values(":chunkNumber", n(chunk));
        if let Some(first) = first_failure {
            update = update
                .expression_attribute_values(":row", n(first.row))
                .expression_attribute_values(":message", s(first.message));
        }
        conditional_update(update, "UpdateItem(record chunk)").await
    }

    /// What a record's update did: recorded now (the set compacted if it has grown), recorded
    /// before (the job as it was), or no job.
    pub(super) async fn recorded(
        &self,
        outcome: Conditional,
    ) -> Result<Option<Recorded>, StoreError> {
        Ok(match outcome {
            Ok(item) => {
                let job = job_from_item(item)?;
                self.compact_recorded(&job).await;
                Some(Recorded {
                    job,
                    newly_recorded: true,
                })
            }
            Err(Some(old)) => Some(Recorded {
                job: job_from_item(old)?,
                newly_recorded: false,
            }),
            Err(None) => None,
        })
    }
}
