//! Splits a job's rows into chunks: one SQS message each, sized to stay far below the message
//! limit and to bill as one 64 KiB SQS unit, with a deterministic number per chunk.
//!
//! Size is decided on everything a chunk puts somewhere: its rows travel in the message, their
//! sealed values (secrets) in one staged item of the job store, and their outcomes in one
//! results item. A row weighs its serialized input plus its secret; a chunk holds at most
//! [`MAX_CHUNK_BYTES`] of weight (or one heavier row alone), and no row may weigh more than
//! [`MAX_ROW_BYTES`], so every message stays under SQS's 256 KiB and every item under
//! DynamoDB's 400 KB, whatever a valid request holds.

use crate::model::Secrets;
use crate::model::{ChunkMessage, ChunkRow, JobType};

/// At most this many rows per chunk: enough to batch DynamoDB calls well, few enough that a
/// chunk finishes in seconds.
pub const MAX_CHUNK_ROWS: usize = 500;
/// Row weight per chunk (SQS bills per 64 KiB; the limit is 256 KiB or 1 MiB).
pub const MAX_CHUNK_BYTES: usize = 60 * 1024;
/// The heaviest row accepted. Its message (≤ 128 KiB + envelope) fits SQS's 256 KiB; its
/// staged secret and its results item (the row's echo plus an error message that may quote
/// it) fit DynamoDB's 400 KB.
pub const MAX_ROW_BYTES: usize = 128 * 1024;

/// A row too heavy to stage and queue within the platform's limits.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("row {row} is {bytes} bytes (its fields and secret); a row may be at most {MAX_ROW_BYTES} bytes")]
pub struct RowTooLarge {
    /// 1-based row number.
    pub row: u32,
    pub bytes: usize,
}

/// What a row weighs: its serialized input (as queued) plus its sealed value (as staged).
pub fn row_weight(row: &ChunkRow, secret: Option<&str>) -> usize {
    // `{"row":N,"input":...},` — the input dominates; 24 bytes cover the rest.
    row.input_json().len() + 24 + secret.map_or(0, str::len)
}

/// Groups `rows` (in row order) into chunks, weighing each row with its secret from
/// `secrets`. Fails, before anything is written, on a row heavier than [`MAX_ROW_BYTES`].
pub fn group_rows(
    rows: Vec<ChunkRow>,
    secrets: &Secrets,
) -> Result<Vec<Vec<ChunkRow>>, RowTooLarge> {
    let mut chunks = Vec::new();
    let mut builder = ChunkBuilder::default();
    for row in rows {
        let secret = secrets.get(&row.row).map(String::as_str);
        chunks.extend(builder.push(row, secret)?);
    }
    chunks.extend(builder.finish());
    Ok(chunks)
}

/// Fills chunks one row at a time, in row order, by the rules of [`group_rows`]: for rows
/// that arrive as a stream (a staged file) and must not all be held at once.
#[derive(Debug, Default)]
pub struct ChunkBuilder {
    current: Vec<ChunkRow>,
    bytes: usize,
}

impl ChunkBuilder {
    /// Adds `row` (weighed with `secret`); returns the chunk it closed, if it did not fit.
    pub fn push(
        &mut self,
        row: ChunkRow,
        secret: Option<&str>,
    ) -> Result<Option<Vec<ChunkRow>>, RowTooLarge> {
        let size = row_weight(&row, secret);
        if size > MAX_ROW_BYTES {
            return Err(RowTooLarge {
                row: row.row,
                bytes: size,
            });
        }
        let full = !self.current.is_empty()
            && (self.current.len() == MAX_CHUNK_ROWS || self.bytes + size > MAX_CHUNK_BYTES);
        let closed = if full {
            self.bytes = 0;
            Some(std::mem::take(&mut self.current))
        } else {
            None
        };
        self.bytes += size;
        self.current.push(row);
        Ok(closed)
    }

    /// The last, partly filled chunk, if any.
    pub fn finish(self) -> Option<Vec<ChunkRow>> {
        (!self.current.is_empty()).then_some(self.current)
    }
}

/// The chunk messages of job `job_id`, numbered from 0.
pub fn chunk_messages(
    job_id: &str,
    job_type: JobType,
    groups: Vec<Vec<ChunkRow>>,
) -> Vec<ChunkMessage> {
    groups
        .into_iter()
        .enumerate()
        .map(|(n, rows)| ChunkMessage {
            job_id: job_id.to_owned(),
            job_type,
            chunk: n as u32,
            rows,
            sealed: false,
            window: 0,
        })
        .collect()
}

/// [`group_rows`], then [`chunk_messages`].
pub fn split_into_chunks(
    job_id: &str,
    job_type: JobType,
    rows: Vec<ChunkRow>,
    secrets: &Secrets,
) -> Result<Vec<ChunkMessage>, RowTooLarge> {
    Ok(chunk_messages(job_id, job_type, group_rows(rows, secrets)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn split(job: &str, rows: Vec<ChunkRow>) -> Vec<ChunkMessage> {
        split_into_chunks(job, JobType::SendMfp, rows, &Secrets::new()).unwrap()
    }

    fn rows(n: u32, id_len: usize) -> Vec<ChunkRow> {
        (1..=n)
            .map(|row| ChunkRow::new(row, &json!({ "id": "x".repeat(id_len) })))
            .collect()
    }

    #[test]
    fn chunks_keep_row_order_and_numbering() {
        let chunks = split("j", rows(1_201, 4));
        assert_eq!(
            chunks.iter().map(|c| c.rows.len()).collect::<Vec<_>>(),
            vec![500, 500, 201]
        );
        assert_eq!(
            chunks.iter().map(|c| c.chunk).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        let all: Vec<u32> = chunks
            .iter()
            .flat_map(|c| c.rows.iter().map(|r| r.row))
            .collect();
        assert_eq!(all, (1..=1_201).collect::<Vec<_>>());
    }

    #[test]
    fn chunks_stay_under_the_byte_budget() {
        let chunks = split("j", rows(1_500, 136));
        for chunk in &chunks {
            let body = serde_json::to_string(chunk).unwrap();
            assert!(
                body.len() <= MAX_CHUNK_BYTES + 200,
                "chunk {} is {} bytes",
                chunk.chunk,
                body.len()
            );
        }
        assert_eq!(chunks.iter().map(|c| c.rows.len()).sum::<usize>(), 1_500);
    }

    #[test]
    fn an_oversized_row_gets_a_chunk_of_its_own() {
        let mut input = rows(2, 4);
        input.insert(
            1,
            ChunkRow::new(99, &json!({ "id": "y".repeat(MAX_CHUNK_BYTES) })),
        );
        let chunks = split("j", input);
        assert_eq!(
            chunks.iter().map(|c| c.rows.len()).collect::<Vec<_>>(),
            vec![1, 1, 1]
        );
    }

    #[test]
    fn secrets_count_towards_a_chunk() {
        // 200 rows with 2.6 KB keys: 520 KB of secrets must not land in one chunk.
        let secrets: Secrets = (1..=200).map(|row| (row, "k".repeat(2_600))).collect();
        let chunks = split_into_chunks("j", JobType::AddAccounts, rows(200, 20), &secrets).unwrap();
        assert!(chunks.len() >= 9, "{} chunks", chunks.len());
        for chunk in &chunks {
            let staged: usize = chunk.rows.iter().map(|r| secrets[&r.row].len()).sum();
            assert!(
                staged <= MAX_CHUNK_BYTES,
                "chunk {} stages {staged} bytes",
                chunk.chunk
            );
        }
    }

    #[test]
    fn a_row_over_the_limit_is_named() {
        let mut input = rows(3, 4);
        input[2] = ChunkRow::new(3, &json!({ "id": "z".repeat(MAX_ROW_BYTES) }));
        let error = split_into_chunks("j", JobType::SendMfp, input, &Secrets::new()).unwrap_err();
        assert_eq!(error.row, 3);
        assert!(error.bytes > MAX_ROW_BYTES);
        let secret = Secrets::from([(2, "s".repeat(MAX_ROW_BYTES))]);
        assert_eq!(
            split_into_chunks("j", JobType::AddAccounts, rows(3, 4), &secret).map_err(|e| e.row),
            Err(2)
        );
    }
}
