//! Rows as they travel: chunk messages, their rows, and the outcomes and counts they end in.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::JobType;

/// A chunk's sealed values (e.g. account secrets) by row number.
pub type Secrets = std::collections::BTreeMap<u32, String>;

/// One row of a chunk: its 1-based row number in the request and the operation's input.
///
/// The input stays the JSON text it travels as (in the queue message, a parked chunk): the
/// engine never looks inside it, and the row's operation parses it once, straight into its
/// own typed input ([`ChunkRow::input`]), with no `serde_json::Value` tree in between.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChunkRow {
    pub row: u32,
    input: Box<RawValue>,
}

impl ChunkRow {
    /// The row `row` whose input is `input`, serialized.
    pub fn new(row: u32, input: &impl Serialize) -> Self {
        // The operations' inputs are plain structs, which always serialize; were one not to,
        // its row would carry null and fail as a malformed row.
        let input =
            serde_json::value::to_raw_value(input).unwrap_or_else(|_| RawValue::NULL.to_owned());
        Self { row, input }
    }

    /// The input parsed as the operation's type.
    pub fn input<'a, T: Deserialize<'a>>(&'a self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.input.get())
    }

    /// The input as JSON text (its size is what the row weighs in a message).
    pub fn input_json(&self) -> &str {
        self.input.get()
    }
}

/// Rows are equal when their numbers and their inputs' JSON text are.
impl PartialEq for ChunkRow {
    fn eq(&self, other: &Self) -> bool {
        self.row == other.row && self.input.get() == other.input.get()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Input {
        id: String,
    }

    #[test]
    fn a_row_travels_as_the_same_json_and_parses_into_its_operations_type() {
        let row = ChunkRow::new(3, &Input { id: "a\"b".into() });
        let text = serde_json::to_string(&row).unwrap();
        assert_eq!(text, r#"{"row":3,"input":{"id":"a\"b"}}"#);
        let back: ChunkRow = serde_json::from_str(&text).unwrap();
        assert_eq!(back, row);
        assert_eq!(back.input::<Input>().unwrap(), Input { id: "a\"b".into() });
        assert_eq!(back.input_json().len(), r#"{"id":"a\"b"}"#.len());
    }

    #[test]
    fn an_input_of_another_shape_is_an_error_for_its_operation_not_for_the_message() {
        let back: ChunkRow = serde_json::from_str(r#"{"row":1,"input":[1, 2]}"#).unwrap();
        assert!(back.input::<Input>().is_err());
        assert_eq!(back.input_json(), "[1, 2]", "kept as it arrived");
    }
}
