use std::time::Duration;

use tracing::Instrument;

use super::recovered::{check_one_per_row, dead_letter_outcomes};
use super::secrets::{keep_failed_secrets, release_secrets};
use super::siblings::Siblings;
use crate::engine::{EventFlush, RowOperation, Secrets};
use crate::error::EngineError;
use crate::model::{ChunkCounts, ChunkMessage, Job, JobState, RowOutcome};
use crate::queue::ChunkQueue;
use crate::store::{Claim, FirstFailure, JobStore, Skip};
use crate::time::now_ms;

/// How long a delivery waits for its job to release its chunks before giving the message
/// back: the submit queues them all within a request, so this is short.
const RELEASE_WAITS_MS: [u64; 6] = [25, 50, 100, 200, 400, 800];

/// What happened to a chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkDisposition {
    /// Rows run (or, dead-lettered, recovered or failed) and counted now, with these counts.
    Processed(ChunkCounts),
    /// Counted before: a duplicate delivery (follow-up steps re-checked).
    AlreadyRecorded,
    /// The job is CANCELLED or FAILED and the chunk never started: rows counted as skipped.
    Skipped(JobState),
    /// The job no longer exists (expired): nothing to do.
    JobMissing,
}

/// A claimed chunk's outcomes, stored: what its record adds to its job.
struct Counted {
    chunk: u32,
    counts: ChunkCounts,
    /// The chunk's lowest failed row and its message.
    first_failure: Option<(u32, String)>,
}

/// Where running a claimed chunk left it.
enum Stored {
    /// Its outcomes are stored; its counts are to be recorded.
    Counted(Counted),
    /// Nothing to record: a late duplicate of a recorded chunk, or its job is gone.
    Done(ChunkDisposition),
}

/// Which path a chunk delivery takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Path {
    /// The main queue: run the rows.
    Run,
    /// The dead-letter queue: report the rows' side effects, fail the rest with a reason.
    DeadLetter,
}

/// Processes one chunk delivery, idempotently.
///
/// The chunk is claimed before its rows run, and a claimed chunk is never skipped: a cancel
/// stops the chunks that have not started, and a chunk that has started is finished and
/// counted with what it did. Its outcomes are stored once; the first stored are the ones
/// counted. Its sealed values are deleted once the chunk is recorded, when no delivery can
/// need them any more.
pub async fn process_chunk(
    worker: Worker<'_>,
    operation: &dyn RowOperation,
    chunk: &ChunkMessage,
) -> Result<ChunkDisposition, EngineError> {
    let (jobs, engine) = (worker.jobs, Engine(worker));
    let work = async {
        let disposition = engine.settle(operation, chunk, Path::Run).await?;
        release_secrets(jobs, chunk).await?;
        Ok(disposition)
    };
    work.instrument(chunk_span(chunk)).await
}

/// Ends a chunk that exhausted its deliveries, through the same count-once path, so the job
/// still reaches a final state: a row whose side effect a dying delivery wrote succeeded, every
/// other row fails. If a delivery stored real outcomes before dying, those are kept and counted
/// instead.
pub async fn dead_letter_chunk(
    worker: Worker<'_>,
    operation: &dyn RowOperation,
    chunk: &ChunkMessage,
) -> Result<ChunkDisposition, EngineError> {
    let (jobs, engine) = (worker.jobs, Engine(worker));
    let work = async {
        let disposition = engine.settle(operation, chunk, Path::DeadLetter).await?;
        release_secrets(jobs, chunk).await?;
        Ok(disposition)
    };
    work.instrument(chunk_span(chunk)).await
}

/// The span of every log line about one chunk: its job and its number.
fn chunk_span(chunk: &ChunkMessage) -> tracing::Span {
    tracing::info_span!("chunk", job_id = %chunk.job_id, chunk = chunk.chunk)
}

/// What a chunk delivery works with.
#[derive(Clone, Copy)]
pub struct Worker<'a> {
    pub jobs: &'a dyn JobStore,
    /// Told when the chunk moved its job, so that the job's events go out at once.
    pub events: &'a dyn EventFlush,
    /// Where the chunk's successor in its job's window goes.
    pub queue: &'a dyn ChunkQueue,
    /// What the other chunks of the same batch wrote to their jobs.
    pub siblings: &'a Siblings,
}

/// The engine's dependencies for one delivery.
struct Engine<'a>(Worker<'a>);

impl<'a> std::ops::Deref for Engine<'a> {
    type Target = Worker<'a>;
    fn deref(&self) -> &Worker<'a> {
        &self.0
    }
}

impl Engine<'_> {
    /// Brings the chunk to recorded: run (or fail) it if it is claimed, skip it if it never
    /// started and its job is over.
    async fn settle(
        &self,
        operation: &dyn RowOperation,
        chunk: &ChunkMessage,
        path: Path,
    ) -> Result<ChunkDisposition, EngineError> {
        let mut waits = RELEASE_WAITS_MS.iter();
        loop {
            let job = match self.jobs.claim_chunk(&chunk.job_id, chunk.chunk).await? {
                Claim::JobMissing => {
                    tracing::warn!("chunk of an unknown job acknowledged");
                    return Ok(ChunkDisposition::JobMissing);
                }
                Claim::Claimed(job) => {
                    // Before the chunk can be recorded: a recorded chunk's successor is queued.
                    self.queue.queue_successor(chunk).await?;
                    return self.run_claimed(operation, chunk, &job, path).await;
                }
                Claim::Refused(job) => job,
            };
            if job.is_chunk_recorded(chunk.chunk) {
                // Counted on an earlier delivery that may have died before completing the job.
                tracing::info!("chunk already recorded: a duplicate delivery");
                self.complete_if_done(&job).await?;
                return Ok(ChunkDisposition::AlreadyRecorded);
            }
            if job.state == JobState::AwaitingData {
                match (path, waits.next()) {
                    // The submit has not queued every chunk yet: wait for it a little.
                    (Path::Run, Some(ms)) => {
                        tokio::time::sleep(Duration::from_millis(*ms)).await;
                        continue;
                    }
                    (Path::Run, None) => return Err(EngineError::NotReleased(job.id)),
                    // Dead-lettered while never released: the submit died before queueing every
                    // chunk. None can have run; the job fails with every row skipped.
                    (Path::DeadLetter, _) => {
                        let message = "The job's rows were never released for processing: the request that created it did not finish queueing them";
                        self.jobs.abandon(&job.id, message, now_ms()).await?;
                        self.events.flush(&job.id).await;
                        tracing::warn!("job abandoned: its chunks were never released");
                        continue;
                    }
                }
            }
            // A final job and a chunk that never started: it never will. Its successor is
            // queued all the same, to be skipped and counted in its turn.
            self.queue.queue_successor(chunk).await?;
            match self
                .jobs
                .skip_chunk(&job.id, chunk.chunk, chunk.rows.len() as u32)
                .await?
            {
                Skip::Recorded(recorded) => {
                    tracing::info!(state = job.state.as_str(), "chunk skipped");
                    self.complete_if_done(&recorded.job).await?;
                    return Ok(if recorded.newly_recorded {
                        ChunkDisposition::Skipped(job.state)
                    } else {
                        ChunkDisposition::AlreadyRecorded
                    });
                }
                Skip::JobMissing => return Ok(ChunkDisposition::JobMissing),
                // Claimed meanwhile by another delivery: this one claims it too and finishes it.
                Skip::Claimed => continue,
            }
        }
    }

    /// Runs (or, dead-lettered, recovers) a claimed chunk and records it once.
    async fn run_claimed(
        &self,
        operation: &dyn RowOperation,
        chunk: &ChunkMessage,
        job: &Job,
        path: Path,
    ) -> Result<ChunkDisposition, EngineError> {
        self.start_if_scheduled(job).await?;
        match self.run_and_store(operation, chunk, job, path).await? {
            Stored::Counted(counted) => self.record(job, &counted).await,
            Stored::Done(disposition) => Ok(disposition),
        }
    }

    /// Starts a job its claim showed SCHEDULED. Chunks claimed at once all see SCHEDULED;
    /// one of a batch tries the start and its siblings wait for it. The one that starts the
    /// job sends its event (a start whose flush is lost goes out with the publisher's sweep).
    async fn start_if_scheduled(&self, job: &Job) -> Result<(), EngineError> {
        self.siblings.learn(job);
        if job.state != JobState::Scheduled {
            return Ok(());
        }
        let start = || async {
            if let Some(started) = self.jobs.start_processing(&job.id, now_ms()).await? {
                self.events.flush_job(&started).await;
            }
            Ok(())
        };
        self.siblings.start_once(&job.id, start).await
    }

    /// Runs (or recovers) a claimed chunk's rows and stores its outcomes once: what its
    /// record adds to the job.
    async fn run_and_store(
        &self,
        operation: &dyn RowOperation,
        chunk: &ChunkMessage,
        job: &Job,
        path: Path,
    ) -> Result<Stored, EngineError> {
        let outcomes = match path {
            Path::Run => {
                let Some(secrets) = self.secrets_of(chunk).await? else {
                    return self.late_duplicate(chunk).await.map(Stored::Done);
                };
                operation.run(job, &chunk.rows, &secrets).await?
            }
            Path::DeadLetter => dead_letter_outcomes(operation, job, chunk).await?,
        };
        self.store_outcomes(chunk, job, outcomes).await
    }

    /// A chunk's sealed values (none for most), or `None` if they are gone: secrets are
    /// deleted only once the chunk is recorded, so this is a late duplicate, which must not
    /// create anything without its secret.
    async fn secrets_of(&self, chunk: &ChunkMessage) -> Result<Option<Secrets>, EngineError> {
        if !chunk.sealed {
            return Ok(Some(Secrets::new()));
        }
        let secrets = self.jobs.chunk_secrets(&chunk.job_id, chunk.chunk).await?;
        Ok(Some(secrets).filter(|secrets| !secrets.is_empty()))
    }

    /// Stores a chunk's outcomes once: what its record adds to the job.
    async fn store_outcomes(
        &self,
        chunk: &ChunkMessage,
        job: &Job,
        outcomes: Vec<RowOutcome>,
    ) -> Result<Stored, EngineError> {
        check_one_per_row(outcomes.len(), chunk)?;
        // Write-once: if another delivery (or the dead-letter path) stored first, its outcomes
        // are the chunk's, and they are what gets counted.
        let earlier = self
            .jobs
            .store_chunk_outcomes(&job.id, chunk.chunk, &outcomes)
            .await?;
        let outcomes = earlier.as_deref().unwrap_or(&outcomes);
        if chunk.sealed {
            // Before the chunk is recorded (and its staged secrets deleted): a retry of the
            // job's failed rows finds their secrets.
            keep_failed_secrets(self.jobs, job, chunk.chunk, outcomes).await?;
        }
        let first_failure = outcomes
            .iter()
            .filter(|o| o.is_failed())
            .min_by_key(|o| o.row)
            .map(|first| {
                let message = first.error_message.as_deref().unwrap_or("failed");
                (first.row, message.to_owned())
            });
        Ok(Stored::Counted(Counted {
            chunk: chunk.chunk,
            counts: ChunkCounts::of(outcomes),
            first_failure,
        }))
    }

    /// A sealed chunk whose secrets are gone: recorded already, or something is wrong.
    async fn late_duplicate(&self, chunk: &ChunkMessage) -> Result<ChunkDisposition, EngineError> {
        match self.jobs.get_job(&chunk.job_id).await? {
            Some(job) if job.is_chunk_recorded(chunk.chunk) => {
                self.complete_if_done(&job).await?;
                Ok(ChunkDisposition::AlreadyRecorded)
            }
            Some(_) => Err(EngineError::SecretsMissing {
                job_id: chunk.job_id.clone(),
                chunk: chunk.chunk,
            }),
            None => Ok(ChunkDisposition::JobMissing),
        }
    }

    /// The first failure a record lowers the job's to: the chunk's, unless one no higher is
    /// known on the job item already (seen at the claim, or written by a sibling since). With
    /// the counts, in one write: once every chunk is counted, every chunk's first failure is
    /// in, and the job's only moves down.
    fn lowering<'c>(
        &self,
        job: &Job,
        first: Option<&'c (u32, String)>,
    ) -> Option<FirstFailure<'c>> {
        let known = self.siblings.first_failed_row(job);
        first
            .filter(|(row, _)| known.is_none_or(|known| *row < known))
            .map(|(row, message)| FirstFailure { row: *row, message })
    }

    /// The count-once tail shared by processing and dead-lettering: records the chunk's counts
    /// on its job, then completes the job if it is done.
    async fn record(&self, job: &Job, counted: &Counted) -> Result<ChunkDisposition, EngineError> {
        let (job_id, chunk, counts) = (job.id.as_str(), counted.chunk, counted.counts);
        let first_failure = self.lowering(job, counted.first_failure.as_ref());
        let Some(recorded) = self
            .jobs
            .record_chunk(job_id, chunk, counts, first_failure)
            .await?
        else {
            return Ok(ChunkDisposition::JobMissing);
        };
        self.siblings.learn(&recorded.job);
        tracing::info!(
            succeeded = counts.succeeded,
            failed = counts.failed,
            duplicate = !recorded.newly_recorded,
            "chunk recorded"
        );
        self.complete_if_done(&recorded.job).await?;
        Ok(if recorded.newly_recorded {
            ChunkDisposition::Processed(counts)
        } else {
            ChunkDisposition::AlreadyRecorded
        })
    }

    /// What follows a recorded chunk: the job stops FAILED if it failed more rows than its
    /// caller tolerates, else completes once every row is accounted for. Both are conditional
    /// on PROCESSING, so a redelivery repeats them harmlessly.
    async fn complete_if_done(&self, job: &Job) -> Result<(), EngineError> {
        if job.state == JobState::Processing {
            let failed = job.rows_failed;
            if let Some(message) =
                job.tolerance
                    .exceeded(failed, job.rows_accounted(), job.total_rows)
            {
                if let Some(stopped) = self.jobs.stop_failed(&job.id, &message, now_ms()).await? {
                    self.events.flush_job(&stopped).await;
                    tracing::warn!(rows_failed = failed, "job stopped: too many rows failed");
                }
                return Ok(());
            }
        }
        if job.is_settled() {
            // Ended (stopped or cancelled) before this, its last chunk: its rows are all in,
            // and the flush asks for its result files.
            self.events.flush_job(job).await;
            return Ok(());
        }
        let done = job.state == JobState::Processing && job.rows_accounted() >= job.total_rows;
        let completed = match done {
            true => self.jobs.complete(&job.id, now_ms()).await?,
            false => None,
        };
        if let Some(completed) = completed {
            self.events.flush_job(&completed).await;
            tracing::info!(
                rows_processed = job.rows_processed,
                rows_failed = job.rows_failed,
                "job completed"
            );
        }
        Ok(())
    }
}

#[path = "group.rs"]
mod group;
pub use group::process_group;

#[cfg(test)]
#[path = "process_tests.rs"]
mod tests;
