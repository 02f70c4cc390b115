//! SEND_MFP rows in the result files: each row as its log has it; a failed row as the one id a
//! staged flash pass file line holds (`{"id": ...}`, or under the CSV header `id`).

use serde_json::{json, Value};

use crate::model::RowOutcome;
use crate::results::{ResultLine, ResultRows};

/// The result files' shape of flash pass rows.
pub struct MfpResultRows;

fn id(outcome: &RowOutcome) -> String {
    outcome
        .item
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

impl ResultRows for MfpResultRows {
    fn row<'a>(&self, outcome: &'a RowOutcome) -> ResultLine<'a> {
        ResultLine::Outcome(outcome)
    }

    fn failed_input(&self, outcome: &RowOutcome) -> Value {
        json!({ "id": id(outcome) })
    }

    fn failed_csv_header(&self) -> Vec<String> {
        vec!["id".to_owned()]
    }

    fn failed_csv_record(&self, outcome: &RowOutcome) -> Vec<String> {
        vec![id(outcome)]
    }

    fn succeeded<'a>(&self, outcome: &'a RowOutcome) -> ResultLine<'a> {
        ResultLine::Outcome(outcome)
    }

    fn writes_log(&self) -> bool {
        true
    }
}
