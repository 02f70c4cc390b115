//! [`write_result_files`]: a final job's stored rows, a page of chunks at a time, streamed into
//! its result files; memory holds one page and each file's pending bytes, whatever the job's
//! size.

use std::collections::BTreeMap;

use super::{ResultFile, ResultFileStore, ResultFileWriter, ResultLine, ResultRow, ResultRows};
use crate::error::StoreError;
use crate::model::{Job, RowOutcome};
use crate::store::{JobStore, StoredChunkJson};

/// Chunks read at a time.
const PAGE_CHUNKS: usize = 50;
/// A file's bytes are handed to its writer once this many are pending.
const FLUSH_BYTES: usize = 1 << 20;

/// A job's stored rows in row order, a page of chunks at a time.
pub struct OutcomePages<'a> {
    jobs: &'a dyn JobStore,
    job_id: &'a str,
    next_chunk: u32,
    done: bool,
}

impl<'a> OutcomePages<'a> {
    pub fn new(jobs: &'a dyn JobStore, job_id: &'a str) -> Self {
        Self {
            jobs,
            job_id,
            next_chunk: 0,
            done: false,
        }
    }

    /// The rows of the next page of stored chunks; `None` after the last.
    pub async fn next(&mut self) -> Result<Option<Vec<RowOutcome>>, StoreError> {
        let Some(chunks) = self.next_as_stored().await? else {
            return Ok(None);
        };
        let mut rows = Vec::new();
        for chunk in &chunks {
            rows.extend(chunk.parse()?.outcomes);
        }
        Ok(Some(rows))
    }

    /// The next page of stored chunks as stored; `None` after the last.
    async fn next_as_stored(&mut self) -> Result<Option<Vec<StoredChunkJson>>, StoreError> {
        if self.done {
            return Ok(None);
        }
        let chunks = self
            .jobs
            .chunk_outcome_json_from(self.job_id, self.next_chunk, PAGE_CHUNKS)
            .await?;
        self.done = chunks.len() < PAGE_CHUNKS;
        if let Some(last) = chunks.last() {
            self.next_chunk = last.chunk + 1;
        }
        Ok(Some(chunks))
    }
}

/// One file being written, with its pending bytes.
struct Output {
    file: ResultFile,
    writer: Box<dyn ResultFileWriter>,
    pending: Vec<u8>,
}

impl Output {
    async fn push(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        self.pending.extend_from_slice(bytes);
        if self.pending.len() >= FLUSH_BYTES {
            self.writer.write(&mut self.pending).await?;
            self.pending.clear();
        }
        Ok(())
    }

    /// Writes `line` of `row` and a line break.
    async fn push_line(&mut self, line: ResultLine, row: &str) -> Result<(), StoreError> {
        match line {
            ResultLine::AsStored => self.push(row.as_bytes()).await?,
            ResultLine::Shaped(value) => self.push(&to_json(&value)?).await?,
        }
        self.push(b"\n").await
    }

    async fn finish(mut self) -> Result<(ResultFile, u64), StoreError> {
        if !self.pending.is_empty() {
            self.writer.write(&mut self.pending).await?;
        }
        Ok((self.file, self.writer.finish().await?))
    }
}

/// Writes the result files of `job` (final) and records their sizes on it; returns them by
/// name. Writing them again writes the same bytes: a final job's rows do not change.
pub async fn write_result_files(
    jobs: &dyn JobStore,
    store: &dyn ResultFileStore,
    job: &Job,
    mut rows: Box<dyn ResultRows>,
) -> Result<BTreeMap<String, u64>, StoreError> {
    if rows.wants_first_pass() {
        let mut pages = OutcomePages::new(jobs, &job.id);
        while let Some(chunks) = pages.next_as_stored().await? {
            for chunk in &chunks {
                for stored in chunk.outcomes()? {
                    rows.observe(&ResultRow::new(stored))?;
                }
            }
        }
    }
    let open = |file: ResultFile| async move {
        let writer = store.create(&job.id, file).await?;
        Ok::<_, StoreError>(Output {
            file,
            writer,
            // Reserved whole: grown by doubling, the copies were 1.4% of the local server's
            // samples. Pages never written stay unmapped.
            pending: Vec::with_capacity(FLUSH_BYTES),
        })
    };
    let mut all = open(ResultFile::Rows).await?;
    let mut failed_csv = open(ResultFile::FailedCsv).await?;
    let mut failed_jsonl = open(ResultFile::FailedJsonl).await?;
    let mut succeeded = open(ResultFile::Succeeded).await?;
    let mut log = match rows.writes_log() {
        true => Some(open(ResultFile::Log).await?),
        false => None,
    };
    failed_csv
        .push(&csv_line(&rows.failed_csv_header())?)
        .await?;
    if let Some(log) = &mut log {
        log.push(b"[").await?;
    }
    let mut first_logged = true;
    let mut pages = OutcomePages::new(jobs, &job.id);
    while let Some(chunks) = pages.next_as_stored().await? {
        for chunk in &chunks {
            for stored in chunk.outcomes()? {
                let row = ResultRow::new(stored);
                let json = row.json();
                all.push_line(rows.row(&row)?, json).await?;
                if row.is_failed() {
                    let input = json_line(&rows.failed_input(&row)?)?;
                    failed_jsonl.push(&input).await?;
                    let record = csv_line(&rows.failed_csv_record(&row)?)?;
                    failed_csv.push(&record).await?;
                } else {
                    succeeded.push_line(rows.succeeded(&row)?, json).await?;
                }
                if let Some(log) = &mut log {
                    // Byte for byte the download-logs route's answer: a compact JSON array.
                    if !first_logged {
                        log.push(b",").await?;
                    }
                    first_logged = false;
                    log.push(json.as_bytes()).await?;
                }
            }
        }
    }
    if let Some(log) = &mut log {
        log.push(b"]").await?;
    }
    let mut sizes = BTreeMap::new();
    for output in [all, failed_csv, failed_jsonl, succeeded]
        .into_iter()
        .chain(log)
    {
        let (file, bytes) = output.finish().await?;
        sizes.insert(file.name().to_owned(), bytes);
    }
    jobs.record_result_files(&job.id, &sizes).await?;
    Ok(sizes)
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn json_line(value: &serde_json::Value) -> Result<Vec<u8>, StoreError> {
    let mut line = to_json(value)?;
    line.push(b'\n');
    Ok(line)
}

/// One CSV record and its line break (fields quoted only when they need it).
fn csv_line(fields: &[String]) -> Result<Vec<u8>, StoreError> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    writer
        .write_record(fields)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    writer
        .into_inner()
        .map_err(|e| StoreError::Corrupt(e.to_string()))
}
