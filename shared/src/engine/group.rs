//! Several chunks of one job delivered in one batch, claimed, run and recorded together.
//!
//! A small job's chunks are queued at once and usually arrive in one batch. Claimed and
//! recorded one by one, each cost two UpdateItems of the job item; together, the group costs
//! two. Each group write is all or nothing, its condition being every chunk's own, and when
//! one is refused or fails the chunks go on alone, through the path every fault test covers:
//! claiming a chunk claimed already is allowed, and recording one recorded already counts
//! nothing. Their rows run in one call of the operation, so its batched reads and writes are
//! not rounded up chunk by chunk; each chunk's outcomes are stored (write-once) and its secrets
//! kept and released as its own.

use futures::stream::{self, StreamExt};
use tracing::Instrument;

use std::collections::HashMap;

use super::{chunk_span, process_chunk, Counted, Engine, Stored, Worker};
use crate::engine::sqs::CONCURRENCY;
use crate::engine::{secrets::release_secrets, ChunkDisposition, RowOperation, Secrets};
use crate::error::EngineError;
use crate::model::{ChunkCounts, ChunkMessage, Job, RowOutcome};

/// Processes `chunks`, of one job and each a different chunk of it, as [`process_chunk`]
/// would one by one: the answers are theirs, in their order.
pub async fn process_group(
    worker: Worker<'_>,
    operation: &dyn RowOperation,
    chunks: &[ChunkMessage],
) -> Vec<Result<ChunkDisposition, EngineError>> {
    let Some(first) = chunks.first() else {
        return Vec::new();
    };
    let numbers: Vec<u32> = chunks.iter().map(|chunk| chunk.chunk).collect();
    let claimed = match worker.jobs.claim_chunks(&first.job_id, &numbers).await {
        Ok(claimed) => claimed,
        Err(error) => {
            tracing::warn!(job_id = %first.job_id, error = %error, "claiming chunks together failed; each claims its own");
            None
        }
    };
    let engine = Engine(worker);
    if let Some(job) = claimed {
        match engine.start_if_scheduled(&job).await {
            Ok(()) => return engine.run_group(operation, chunks, &job).await,
            Err(error) => {
                tracing::warn!(job_id = %job.id, error = %error, "starting the job failed; each chunk goes on alone");
            }
        }
    }
    // Refused (a chunk recorded, the job not runnable or gone) or not started: each chunk
    // claims its own (a claimed chunk's claim succeeds) and finds out.
    each_alone(worker, operation, chunks).await
}

async fn each_alone(
    worker: Worker<'_>,
    operation: &dyn RowOperation,
    chunks: &[ChunkMessage],
) -> Vec<Result<ChunkDisposition, EngineError>> {
    // By index: a closure over `&ChunkMessage` would make the future not `Send` (a known
    // limit of higher-ranked lifetimes in stream combinators).
    stream::iter(0..chunks.len())
        .map(|i| process_chunk(worker, operation, &chunks[i]))
        .buffered(CONCURRENCY)
        .collect()
        .await
}

/// A chunk ready to run: its sealed values (`None`: gone, a late duplicate).
type Ready = Result<Option<Secrets>, EngineError>;

/// Runs the rows of every ready chunk in one call of the operation, so that its reads and
/// writes are batched across the chunks instead of rounded up in each (a flash pass chunk of
/// 321 rows made 4 reads of up to 100 enrollments and 13 writes of up to 25 passes). A row's
/// outcome depends only on the row and the store, so it is the one the chunk alone would
/// have. The outcomes, split back by row into their chunks, or `None` for a chunk that is to
/// run alone: not ready, or the call failed (each chunk then runs alone, so one chunk whose
/// rows keep failing cannot hold its siblings back).
async fn run_together(
    operation: &dyn RowOperation,
    chunks: &[ChunkMessage],
    job: &Job,
    ready: &[Ready],
) -> Vec<Option<Vec<RowOutcome>>> {
    let mut split: Vec<Option<Vec<RowOutcome>>> = chunks.iter().map(|_| None).collect();
    let members: Vec<usize> = (0..chunks.len())
        .filter(|&i| matches!(ready[i], Ok(Some(_))))
        .collect();
    if members.len() < 2 {
        return split;
    }
    let (mut rows, mut secrets, mut chunk_of) = (Vec::new(), Secrets::new(), HashMap::new());
    for &i in &members {
        for row in &chunks[i].rows {
            chunk_of.insert(row.row, i);
            rows.push(row.clone());
        }
        if let Ok(Some(sealed)) = &ready[i] {
            secrets.extend(sealed.iter().map(|(row, value)| (*row, value.clone())));
        }
    }
    let outcomes = match operation.run(job, &rows, &secrets).await {
        Ok(outcomes) => outcomes,
        Err(error) => {
            tracing::warn!(job_id = %job.id, error = %error, "running chunks together failed; each runs alone");
            return split;
        }
    };
    for &i in &members {
        split[i] = Some(Vec::with_capacity(chunks[i].rows.len()));
    }
    for outcome in outcomes {
        match chunk_of.get(&outcome.row).and_then(|&i| split[i].as_mut()) {
            Some(own) => own.push(outcome),
            None => {
                tracing::warn!(job_id = %job.id, row = outcome.row, "an outcome for a row of no chunk; each runs alone");
                return chunks.iter().map(|_| None).collect();
            }
        }
    }
    split
}

impl Engine<'_> {
    async fn run_group(
        &self,
        operation: &dyn RowOperation,
        chunks: &[ChunkMessage],
        job: &Job,
    ) -> Vec<Result<ChunkDisposition, EngineError>> {
        // Before any chunk can be recorded: a recorded chunk's successor is queued.
        let ready: Vec<Ready> = stream::iter(0..chunks.len())
            .map(|i| {
                let chunk = &chunks[i];
                async move {
                    self.queue.queue_successor(chunk).await?;
                    self.secrets_of(chunk).await
                }
                .instrument(chunk_span(chunk))
            })
            .buffered(CONCURRENCY)
            .collect()
            .await;
        let pooled = run_together(operation, chunks, job, &ready).await;
        let stored: Vec<Result<Stored, EngineError>> =
            stream::iter(ready.into_iter().zip(pooled).enumerate())
                .map(|(i, (ready, outcomes))| {
                    let chunk = &chunks[i];
                    async move {
                        let Some(secrets) = ready? else {
                            return self.late_duplicate(chunk).await.map(Stored::Done);
                        };
                        let outcomes = match outcomes {
                            Some(outcomes) => outcomes,
                            None => operation.run(job, &chunk.rows, &secrets).await?,
                        };
                        self.store_outcomes(chunk, job, outcomes).await
                    }
                    .instrument(chunk_span(chunk))
                })
                .buffered(CONCURRENCY)
                .collect()
                .await;
        let counted: Vec<&Counted> = stored
            .iter()
            .filter_map(|stored| match stored {
                Ok(Stored::Counted(counted)) => Some(counted),
                _ => None,
            })
            .collect();
        let recorded = self.record_together(job, &counted).await;
        let mut answers = Vec::with_capacity(chunks.len());
        for (chunk, stored) in chunks.iter().zip(stored) {
            let answer = match (stored, &recorded) {
                (Ok(Stored::Counted(counted)), Some(_)) => {
                    Ok(ChunkDisposition::Processed(counted.counts))
                }
                (Ok(Stored::Counted(counted)), None) => {
                    self.record(job, &counted)
                        .instrument(chunk_span(chunk))
                        .await
                }
                (Ok(Stored::Done(disposition)), _) => Ok(disposition),
                (Err(error), _) => Err(error),
            };
            answers.push(answer);
        }
        if let Some(recorded) = &recorded {
            if let Err(error) = self.complete_if_done(recorded).await {
                // One of the group is delivered again to complete the job: recorded, it finds
                // the job done and completes it.
                if let Some(answer) = answers.iter_mut().find(|answer| answer.is_ok()) {
                    *answer = Err(error);
                }
            }
        }
        for (chunk, answer) in chunks.iter().zip(answers.iter_mut()) {
            if answer.is_ok() {
                if let Err(error) = release_secrets(self.jobs, chunk).await {
                    *answer = Err(error);
                }
            }
        }
        answers
    }

    /// Records the counted chunks in one write: the job as it left it, or `None` when they
    /// are to be recorded one by one (fewer than two, or the write refused or failed).
    async fn record_together(&self, job: &Job, counted: &[&Counted]) -> Option<Job> {
        if counted.len() < 2 {
            return None;
        }
        let chunks: Vec<(u32, ChunkCounts)> = counted
            .iter()
            .map(|counted| (counted.chunk, counted.counts))
            .collect();
        let lowest = counted
            .iter()
            .filter_map(|counted| counted.first_failure.as_ref())
            .min_by_key(|(row, _)| *row);
        let first_failure = self.lowering(job, lowest);
        match self
            .jobs
            .record_chunks(&job.id, &chunks, first_failure)
            .await
        {
            Ok(Some(recorded)) => {
                self.siblings.learn(&recorded);
                for (chunk, counts) in &chunks {
                    tracing::info!(
                        job_id = %job.id,
                        chunk,
                        succeeded = counts.succeeded,
                        failed = counts.failed,
                        duplicate = false,
                        "chunk recorded"
                    );
                }
                Some(recorded)
            }
            Ok(None) => None,
            Err(error) => {
                tracing::warn!(job_id = %job.id, error = %error, "recording chunks together failed; each records its own");
                None
            }
        }
    }
}
