//! Rows as they travel: chunk messages, their rows, and the outcomes and counts they end in.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::JobType;

/// A chunk's sealed values (e.g. account secrets) by row number.
pub type Secrets = std::collections::BTreeMap<u32, String>;

/// One row of a chunk: its 1-based row number in the request and the operation's input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChunkRow {
    pub row: u32,
    pub input: Value,
}

/// One SQS message: a deterministic slice of a job's rows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChunkMessage {
    pub job_id: String,
    pub job_type: JobType,
    /// 0-based chunk number; `(job_id, chunk)` identifies the chunk.
    pub chunk: u32,
    pub rows: Vec<ChunkRow>,
    /// The chunk's secrets wait in the job store (encrypted at rest), never in the message.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sealed: bool,
    /// The job's chunk window: once this chunk is taken up, chunk `chunk + window` (parked
    /// in the job store) is queued. 0: every chunk of the job was queued at once.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub window: u32,
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    Succeeded,
    Failed,
}

/// The final outcome of one row, stored with its chunk and listed in the row log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RowOutcome {
    pub row: u32,
    /// What the row was (the operation's echo of its input, never a secret).
    #[serde(flatten)]
    pub item: Map<String, Value>,
    pub outcome: Outcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// What the operation produced for a succeeded row (e.g. a new record's id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
}

impl RowOutcome {
    pub fn succeeded(row: u32, item: Map<String, Value>, result: Option<Value>) -> Self {
        Self {
            row,
            item,
            outcome: Outcome::Succeeded,
            error_code: None,
            error_message: None,
            result,
        }
    }

    pub fn failed(
        row: u32,
        item: Map<String, Value>,
        code: &str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            row,
            item,
            outcome: Outcome::Failed,
            error_code: Some(code.to_owned()),
            error_message: Some(message.into()),
            result: None,
        }
    }

    pub fn is_failed(&self) -> bool {
        self.outcome == Outcome::Failed
    }
}

/// What one chunk adds to its job's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChunkCounts {
    pub succeeded: u32,
    pub failed: u32,
    pub skipped: u32,
}

impl ChunkCounts {
    pub fn of(outcomes: &[RowOutcome]) -> Self {
        let failed = outcomes.iter().filter(|o| o.is_failed()).count() as u32;
        Self {
            succeeded: outcomes.len() as u32 - failed,
            failed,
            skipped: 0,
        }
    }
}
