//! Splits a job's rows into chunks: one SQS message each, sized to stay far below the message
//! limit and to bill as one 64 KiB SQS unit, with a deterministic number per chunk.

use crate::model::{ChunkMessage, ChunkRow, JobType};

/// At most this many rows per chunk: enough to batch DynamoDB calls well, few enough that a
/// chunk finishes in seconds.
pub const MAX_CHUNK_ROWS: usize = 500;
/// Serialized row bytes per chunk (SQS bills per 64 KiB; the limit is 256 KiB or 1 MiB).
pub const MAX_CHUNK_BYTES: usize = 60 * 1024;

/// Splits `rows` (in row order) into chunk messages numbered from 0.
pub fn split_into_chunks(
    job_id: &str,
    job_type: JobType,
    rows: Vec<ChunkRow>,
) -> Vec<ChunkMessage> {
    let mut chunks = Vec::new();
    let mut current: Vec<ChunkRow> = Vec::new();
    let mut bytes = 0;
    for row in rows {
        let size = row_size(&row);
        if !current.is_empty()
            && (current.len() == MAX_CHUNK_ROWS || bytes + size > MAX_CHUNK_BYTES)
        {
            chunks.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.push(row);
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
        .into_iter()
        .enumerate()
        .map(|(n, rows)| ChunkMessage {
            job_id: job_id.to_owned(),
            job_type,
            chunk: n as u32,
            rows,
            sealed: false,
        })
        .collect()
}

fn row_size(row: &ChunkRow) -> usize {
    // `{"row":N,"input":...},` — the input dominates; 24 bytes cover the rest.
    serde_json::to_string(&row.input)
        .map(|s| s.len())
        .unwrap_or(0)
        + 24
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rows(n: u32, id_len: usize) -> Vec<ChunkRow> {
        (1..=n)
            .map(|row| ChunkRow {
                row,
                input: json!({ "id": "x".repeat(id_len) }),
            })
            .collect()
    }

    #[test]
    fn chunks_keep_row_order_and_numbering() {
        let chunks = split_into_chunks("j", JobType::SendMfp, rows(1_201, 4));
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
        let chunks = split_into_chunks("j", JobType::SendMfp, rows(1_500, 136));
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
            ChunkRow {
                row: 99,
                input: json!({ "id": "y".repeat(MAX_CHUNK_BYTES) }),
            },
        );
        let chunks = split_into_chunks("j", JobType::SendMfp, input);
        assert_eq!(
            chunks.iter().map(|c| c.rows.len()).collect::<Vec<_>>(),
            vec![1, 1, 1]
        );
    }
}
