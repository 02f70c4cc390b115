//! What a dead-lettered chunk reports: the rows whose side effect a dying delivery wrote
//! succeeded, the others fail with [`DEAD_LETTER_CODE`].

use crate::engine::{Recovery, RowOperation};
use crate::error::EngineError;
use crate::model::{ChunkCounts, ChunkMessage, Job, RowOutcome};

/// Error code of rows whose chunk exhausted its deliveries and was dead-lettered.
pub const DEAD_LETTER_CODE: &str = "PROCESSING_FAILED";

/// The outcomes of a dead-lettered chunk. A delivery may have died after writing some rows'
/// side effects (passes issued, accounts created): those rows succeeded, and are reported as
/// the run would have reported them, so that nobody redoes them. Only the rows that left no
/// side effect fail with the dead-letter reason.
pub(super) async fn dead_letter_outcomes(
    operation: &dyn RowOperation,
    job: &Job,
    chunk: &ChunkMessage,
) -> Result<Vec<RowOutcome>, EngineError> {
    let message =
        "The row could not be processed: its chunk failed on every delivery and was dead-lettered";
    let found = operation.recover(job, &chunk.rows).await?;
    check_one_per_row(found.len(), chunk)?;
    let outcomes: Vec<RowOutcome> = chunk
        .rows
        .iter()
        .zip(found)
        .map(|(row, found)| match found {
            Recovery::Done { result } => {
                RowOutcome::succeeded(row.row, operation.echo(row), result)
            }
            Recovery::NotDone => {
                RowOutcome::failed(row.row, operation.echo(row), DEAD_LETTER_CODE, message)
            }
        })
        .collect();
    let counts = ChunkCounts::of(&outcomes);
    tracing::warn!(
        recovered = counts.succeeded,
        failed = counts.failed,
        "dead-lettered chunk: rows with a side effect succeeded, the others failed"
    );
    Ok(outcomes)
}

/// An operation answers exactly once per row: a count that differs is a bug, never recorded.
pub(super) fn check_one_per_row(answers: usize, chunk: &ChunkMessage) -> Result<(), EngineError> {
    if answers == chunk.rows.len() {
        return Ok(());
    }
    Err(EngineError::BadMessage(format!(
        "operation returned {answers} outcomes for {} rows",
        chunk.rows.len()
    )))
}
