//! Which chunks of a job are counted, kept small on the job item: `recordedBelow` (every
//! chunk below it is recorded) and the string set `recordedChunks` of the recorded chunks at
//! or above it. Chunks are recorded about in order (a job's window keeps at most
//! `ChunkWindow` of them in the queue), so once the set holds [`COMPACT_AT`] chunks, the run
//! starting at `recordedBelow` is folded into it with one conditional update. The set then
//! holds about the chunks in flight plus the stragglers: a few hundred bytes, not one entry
//! per chunk of the job (a 10-million-row job has 20,000 to 50,000 chunks).

use super::{chunk_set, n, sdk_error, DynamoJobStore};
use crate::model::Job;

/// The condition that chunk `:chunkNumber` (also bound as the string `:chunk`) is not recorded.
pub(super) const NOT_RECORDED: &str = "NOT contains(recordedChunks, :chunk) \
     AND (attribute_not_exists(recordedBelow) OR recordedBelow <= :chunkNumber)";

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
