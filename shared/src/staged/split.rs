//! [`split`]: a staged file into a job's chunks, in constant memory. Every chunk is parked
//! beside the job as soon as it is full (its secrets staged first), so nothing is queued
//! while the file is read; once the last row is in, the job gets its totals and is released,
//! and its first window of chunks is queued (each queues its successor when taken up, see
//! [`crate::queue::WindowedQueue`]).
//!
//! Chunk numbers follow from the file alone, so reading it again after a crash writes the
//! same chunks under the same numbers: parking and staging overwrite, the release happens
//! once, and a chunk queued twice is counted once. A run that finds the job released already
//! only queues the first window again.
//!
//! **A split longer than one invocation.** Given a deadline ([`SplitDeps::deadline_ms`]), a
//! split that reaches it stops after a parked batch, notes on the job how many chunks are
//! parked ([`JobStore::record_split_progress`]) and answers [`SplitError::OutOfTime`]; its
//! caller runs it again (the splitter function queues its notification once more). The next
//! run reads the file from the start again, which is fast (no write: it only numbers the
//! chunks and sees every row, so duplicates still point at their first row), and parks from
//! the noted chunk on.

use tokio::io::AsyncBufRead;

use super::{FileError, Line, Lines, StagedRows, UploadStore, MAX_FILE_BYTES, MAX_JOB_ROWS};
use crate::chunking::ChunkBuilder;
use crate::error::{EnqueueError, StoreError};
use crate::model::{ChunkMessage, ChunkRow, Job, JobState, Secrets};
use crate::queue::ChunkQueue;
use crate::store::{ChunkParking, JobStore, Transition};

/// Chunks parked per write (DynamoDB's BatchWriteItem takes 25 items).
const PARK_BATCH: usize = 25;
/// What a row that cannot fit a chunk is read as instead: the start of its line.
const CUT_ROW_CHARS: usize = 1_024;

/// What splitting needs: the job store, where chunks wait, the plain chunk queue (not
/// windowed: the splitter parks and queues itself) and the job's chunk window.
#[derive(Clone, Copy)]
pub struct SplitDeps<'a> {
    pub jobs: &'a dyn JobStore,
    pub parking: &'a dyn ChunkParking,
    pub queue: &'a dyn ChunkQueue,
    pub window: u32,
    /// When to stop and leave the rest to another run (epoch ms); `None`: never.
    pub deadline_ms: Option<i64>,
}

/// Why a split did not finish; running it again (the same file) is safe.
#[derive(Debug, thiserror::Error)]
pub enum SplitError {
    #[error("job {0} does not exist")]
    JobMissing(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the first chunks could not be queued: {0}")]
    Enqueue(#[from] EnqueueError),
    #[error("job {0} has no file yet")]
    NoFile(String),
    #[error("job {job_id} is a {job_type} job, which takes no staged file")]
    NotStaged {
        job_id: String,
        job_type: &'static str,
    },
    #[error("job {0} was created with its rows, not to take a staged file")]
    NotAwaitingFile(String),
    #[error("the split of job {job_id} ran out of time with {parked_below} chunks parked; run it again to go on")]
    OutOfTime { job_id: String, parked_below: u32 },
}

/// Splits the file `uploads` holds for job `job_id`, read by its operation's rows (see
/// [`split`]); what runs when a staged file has arrived.
pub async fn split_upload(
    deps: SplitDeps<'_>,
    uploads: &dyn UploadStore,
    job_id: &str,
) -> Result<Job, SplitError> {
    let job = deps
        .jobs
        .get_job(job_id)
        .await?
        .ok_or_else(|| SplitError::JobMissing(job_id.to_owned()))?;
    // Only a staged create hands out an upload URL; a file named for any other job (whose
    // chunks were never parked) is not its rows.
    if job.upload_expires_at_ms.is_none() {
        return Err(SplitError::NotAwaitingFile(job_id.to_owned()));
    }
    let mut rows = crate::ops::staged_rows(job.job_type).ok_or_else(|| SplitError::NotStaged {
        job_id: job_id.to_owned(),
        job_type: job.job_type.as_str(),
    })?;
    let reader = uploads
        .open(job_id)
        .await?
        .ok_or_else(|| SplitError::NoFile(job_id.to_owned()))?;
    split(deps, job_id, reader, rows.as_mut()).await
}

/// Reads job `job_id`'s file from `reader` with `rows` into parked chunks, then releases the
/// job and queues its first window. A file that cannot be read as rows (not text, no rows,
/// over 1 GB or over the row limit) fails the job with an `errorMessage` saying so. Returns
/// the job as it is after.
pub async fn split<R: AsyncBufRead + Unpin>(
    deps: SplitDeps<'_>,
    job_id: &str,
    reader: R,
    rows: &mut dyn StagedRows,
) -> Result<Job, SplitError> {
    let missing = || SplitError::JobMissing(job_id.to_owned());
    let job = deps.jobs.get_job(job_id).await?.ok_or_else(missing)?;
    match job.state {
        JobState::AwaitingData => {}
        // Split and released by an earlier run that may have died before queueing.
        JobState::Scheduled | JobState::Processing => {
            queue_first_window(deps, &job).await?;
            return Ok(job);
        }
        _ => return Ok(job),
    }
    // The file is here: from now on the job is not overdue for it, however long the split
    // takes (or waits in the split dead-letter queue).
    let job = match job.file_received_ms {
        Some(_) => job,
        None => match deps
            .jobs
            .note_file_received(job_id, crate::time::now_ms())
            .await?
        {
            Transition::Moved(job) => *job,
            // Split and released by a run beside this one, or ended meanwhile.
            Transition::Unchanged(job) if job.state.is_runnable() => {
                queue_first_window(deps, &job).await?;
                return Ok(*job);
            }
            Transition::Unchanged(job) => return Ok(*job),
            Transition::JobMissing => return Err(missing()),
        },
    };
    if job.split_parked_below > 0 {
        tracing::info!(parked_below = job.split_parked_below, "split resumed");
    }
    let (total_rows, chunk_count) = match read_into_chunks(deps, &job, reader, rows).await? {
        Ok(totals) => totals,
        Err(error) => {
            let message = format!("The uploaded file could not be read as rows: {error}");
            tracing::warn!(%error, "staged file refused");
            let failed = deps.jobs.abandon(job_id, &message, crate::time::now_ms());
            return match failed.await? {
                Transition::Moved(job) | Transition::Unchanged(job) => Ok(*job),
                Transition::JobMissing => Err(missing()),
            };
        }
    };
    let released = deps
        .jobs
        .release_staged(job_id, total_rows, chunk_count)
        .await?;
    let job = match released {
        Transition::Moved(job) => *job,
        // Cancelled while its file was read: nothing is queued.
        Transition::Unchanged(job) if !job.state.is_runnable() => return Ok(*job),
        Transition::Unchanged(job) => *job,
        Transition::JobMissing => return Err(missing()),
    };
    tracing::info!(total_rows, chunk_count, "staged file split; job released");
    queue_first_window(deps, &job).await?;
    Ok(job)
}

/// The file's rows into parked chunks: `Ok(Ok((rows, chunks)))`, or `Ok(Err(why))` when the
/// file cannot be read as rows at all.
async fn read_into_chunks<R: AsyncBufRead + Unpin>(
    deps: SplitDeps<'_>,
    job: &Job,
    reader: R,
    rows: &mut dyn StagedRows,
) -> Result<Result<(u32, u32), FileError>, SplitError> {
    let mut lines = Lines::new(reader, MAX_FILE_BYTES);
    let mut out = ChunkWriter::new(deps, job);
    let mut row = 0u32;
    let mut first_line = true;
    loop {
        let mut line = match lines.next_line().await {
            Ok(Some(line)) => line,
            Ok(None) => break,
            Err(error) => return Ok(Err(error)),
        };
        while !first_line && !line.cut && rows.continues(&line) {
            match lines.continue_record(&mut line).await {
                Ok(true) => {}
                Ok(false) => break,
                Err(error) => return Ok(Err(error)),
            }
        }
        if std::mem::take(&mut first_line) {
            match rows.header(&line) {
                Ok(true) => continue,
                Ok(false) => {}
                Err(error) => return Ok(Err(error)),
            }
        }
        if row == MAX_JOB_ROWS {
            return Ok(Err(FileError::TooManyRows {
                limit: MAX_JOB_ROWS,
            }));
        }
        row += 1;
        let (chunk_row, secret) = rows.row(row, &line);
        out.push(rows, &line, chunk_row, secret).await?;
    }
    if row == 0 {
        return Ok(Err(FileError::Empty));
    }
    let chunks = out.finish().await?;
    Ok(Ok((row, chunks)))
}

/// Fills, numbers, stages and parks chunks as rows arrive.
struct ChunkWriter<'a> {
    deps: SplitDeps<'a>,
    job: &'a Job,
    builder: ChunkBuilder,
    /// Secrets of the rows in `builder`.
    secrets: Secrets,
    pending: Vec<ChunkMessage>,
    chunks: u32,
    /// Chunks below this one were parked by an earlier run: numbered, not written again.
    parked_below: u32,
}

impl<'a> ChunkWriter<'a> {
    fn new(deps: SplitDeps<'a>, job: &'a Job) -> Self {
        Self {
            deps,
            job,
            builder: ChunkBuilder::default(),
            secrets: Secrets::new(),
            pending: Vec::new(),
            chunks: 0,
            parked_below: job.split_parked_below,
        }
    }

    async fn push(
        &mut self,
        rows: &mut dyn StagedRows,
        line: &Line,
        row: ChunkRow,
        secret: Option<String>,
    ) -> Result<(), SplitError> {
        let number = row.row;
        let closed = match self.builder.push(row, secret.as_deref()) {
            Ok(closed) => {
                if let Some(secret) = secret {
                    self.secrets.insert(number, secret);
                }
                closed
            }
            // Too heavy to queue: read as the start of its line, which fails as a row.
            Err(_) => {
                let cut = Line {
                    number: line.number,
                    text: line.text.chars().take(CUT_ROW_CHARS).collect(),
                    cut: true,
                };
                let (row, _) = rows.row(number, &cut);
                self.builder.push(row, None).map_err(|e| {
                    StoreError::Corrupt(format!("a cut row is still too large: {e}"))
                })?
            }
        };
        if let Some(chunk) = closed {
            self.close(chunk).await?;
        }
        Ok(())
    }

    /// Numbers a full chunk, stages its secrets and parks it (in batches).
    async fn close(&mut self, rows: Vec<ChunkRow>) -> Result<(), SplitError> {
        let chunk = self.chunks;
        self.chunks += 1;
        let sealed: Secrets = rows
            .iter()
            .filter_map(|r| self.secrets.remove(&r.row).map(|s| (r.row, s)))
            .collect();
        if chunk < self.parked_below {
            return Ok(());
        }
        if !sealed.is_empty() {
            self.deps
                .jobs
                .put_chunk_secrets(&self.job.id, chunk, &sealed)
                .await?;
        }
        self.pending.push(ChunkMessage {
            job_id: self.job.id.clone(),
            job_type: self.job.job_type,
            chunk,
            rows,
            sealed: !sealed.is_empty(),
            window: self.deps.window.max(1),
        });
        if self.pending.len() == PARK_BATCH {
            self.park().await?;
            self.stop_if_out_of_time().await?;
        }
        Ok(())
    }

    async fn park(&mut self) -> Result<(), SplitError> {
        self.deps.parking.park_chunks(&self.pending).await?;
        self.pending.clear();
        Ok(())
    }

    /// Past the deadline (checked after a parked batch), notes how far the split got and
    /// stops it.
    async fn stop_if_out_of_time(&mut self) -> Result<(), SplitError> {
        let out_of_time = self
            .deps
            .deadline_ms
            .is_some_and(|deadline| crate::time::now_ms() >= deadline);
        if !out_of_time {
            return Ok(());
        }
        let job_id = self.job.id.clone();
        self.deps
            .jobs
            .record_split_progress(&job_id, self.chunks)
            .await?;
        Err(SplitError::OutOfTime {
            job_id,
            parked_below: self.chunks,
        })
    }

    /// Closes the last chunk and parks what is left; the number of chunks.
    async fn finish(mut self) -> Result<u32, SplitError> {
        if let Some(last) = std::mem::take(&mut self.builder).finish() {
            self.close(last).await?;
        }
        if !self.pending.is_empty() {
            self.park().await?;
        }
        Ok(self.chunks)
    }
}

/// Queues the job's first `window` chunks from where they are parked (one read).
async fn queue_first_window(deps: SplitDeps<'_>, job: &Job) -> Result<(), SplitError> {
    let count = job.chunk_count.min(deps.window.max(1));
    let first = deps.parking.parked_chunks(&job.id, 0, count).await?;
    if first.len() != count as usize {
        return Err(SplitError::Store(StoreError::Corrupt(format!(
            "{} of the first {count} chunks of job {} are parked",
            first.len(),
            job.id
        ))));
    }
    deps.queue.enqueue(&first).await?;
    Ok(())
}
