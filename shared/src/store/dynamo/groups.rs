//! Claiming and recording several chunks of one job in one UpdateItem each: the chunks of a
//! small job arrive in one batch, and one write for all of them replaces one per chunk. Each
//! write's condition is every chunk's own condition joined, so it does all or nothing.

use super::conditional::state_in;
use super::recorded::record_expressions;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder as UpdateItem;

use super::{chunk_set, conditional_update, job_from_item, n, s, DynamoJobStore};
use crate::error::StoreError;
use crate::model::{ChunkCounts, Job, JobState};
use crate::store::FirstFailure;

/// `NOT_RECORDED` for the `i`-th chunk of a group, with its own placeholders.
fn not_recorded(i: usize) -> String {
    format!(
        "NOT contains(recordedChunks, :chunk{i}) \
         AND (attribute_not_exists(recordedBelow) OR recordedBelow <= :chunkNumber{i})"
    )
}

/// Binds each chunk's placeholders of [`not_recorded`].
fn bind_chunks<'a>(mut update: UpdateItem, chunks: impl Iterator<Item = &'a u32>) -> UpdateItem {
    for (i, chunk) in chunks.enumerate() {
        update = update
            .expression_attribute_values(format!(":chunk{i}"), s(chunk.to_string()))
            .expression_attribute_values(format!(":chunkNumber{i}"), n(*chunk));
    }
    update
}

fn none_recorded(count: usize) -> String {
    (0..count)
        .map(not_recorded)
        .collect::<Vec<_>>()
        .join(" AND ")
}

impl DynamoJobStore {
    pub(super) async fn claim_group(
        &self,
        id: &str,
        chunks: &[u32],
    ) -> Result<Option<Job>, StoreError> {
        let condition = format!(
            "attribute_exists(pk) AND {} AND {}",
            state_in(&JobState::RUNNABLE),
            none_recorded(chunks.len())
        );
        let update = self
            .update_job(id, "ADD claimedChunks :chunks", &condition)
            .expression_attribute_values(":chunks", chunk_set(chunks.iter().copied()));
        let update = bind_chunks(update, chunks.iter());
        match conditional_update(update, "UpdateItem(claim chunks)").await? {
            Ok(item) => Ok(Some(job_from_item(item)?)),
            Err(_) => Ok(None),
        }
    }

    pub(super) async fn record_group(
        &self,
        id: &str,
        chunks: &[(u32, ChunkCounts)],
        first_failure: Option<FirstFailure<'_>>,
    ) -> Result<Option<Job>, StoreError> {
        if let Some(first) = first_failure {
            match self.record_group_update(id, chunks, Some(first)).await? {
                Ok(item) => return self.group_recorded(item).await.map(Some),
                // Missing, or one of them recorded: the write refuses without the failure too.
                Err(None) => return Ok(None),
                Err(Some(old)) => {
                    let job = job_from_item(old)?;
                    if chunks
                        .iter()
                        .any(|(chunk, _)| job.is_chunk_recorded(*chunk))
                    {
                        return Ok(None);
                    }
                    // The job is final or shows a lower failure: the counts go in alone.
                }
            }
        }
        match self.record_group_update(id, chunks, None).await? {
            Ok(item) => self.group_recorded(item).await.map(Some),
            Err(_) => Ok(None),
        }
    }

    async fn record_group_update(
        &self,
        id: &str,
        chunks: &[(u32, ChunkCounts)],
        first_failure: Option<FirstFailure<'_>>,
    ) -> Result<super::Conditional, StoreError> {
        let not_recorded = none_recorded(chunks.len());
        let (expression, condition) = record_expressions(&not_recorded, first_failure.is_some());
        let total = chunks
            .iter()
            .fold(ChunkCounts::default(), |total, (_, counts)| ChunkCounts {
                succeeded: total.succeeded + counts.succeeded,
                failed: total.failed + counts.failed,
                skipped: total.skipped + counts.skipped,
            });
        let mut update = self
            .update_job(id, &expression, &condition)
            .expression_attribute_values(":succeeded", n(total.succeeded))
            .expression_attribute_values(":failed", n(total.failed))
            .expression_attribute_values(":skipped", n(total.skipped))
            .expression_attribute_values(":chunks", chunk_set(chunks.iter().map(|(c, _)| *c)));
        update = bind_chunks(update, chunks.iter().map(|(chunk, _)| chunk));
        if let Some(first) = first_failure {
            update = update
                .expression_attribute_values(":row", n(first.row))
                .expression_attribute_values(":message", s(first.message));
        }
        conditional_update(update, "UpdateItem(record chunks)").await
    }

    /// The job as a group's record left it, its recorded set compacted if it has grown.
    async fn group_recorded(&self, item: super::Item) -> Result<Job, StoreError> {
        let job = job_from_item(item)?;
        self.compact_recorded(&job).await;
        Ok(job)
    }
}
