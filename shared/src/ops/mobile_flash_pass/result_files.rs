//! SEND_MFP rows in the result files: each row as its log has it; a failed row as the one id a
//! staged flash pass file line holds (`{"id": ...}`, or under the CSV header `id`).

use serde_json::{json, Value};

use crate::error::StoreError;
use crate::results::{ResultLine, ResultRow, ResultRows};

/// The result files' shape of flash pass rows.
pub struct MfpResultRows;

/// A failed row's enrollment id, from its echo.
fn id(row: &ResultRow<'_>) -> Result<String, StoreError> {
    Ok(row
        .outcome()?
        .item
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned())
}

impl ResultRows for MfpResultRows {
    fn row(&self, _row: &ResultRow<'_>) -> Result<ResultLine, StoreError> {
        Ok(ResultLine::AsStored)
    }

    fn failed_input(&self, row: &ResultRow<'_>) -> Result<Value, StoreError> {
        Ok(json!({ "id": id(row)? }))
    }

    fn failed_csv_header(&self) -> Vec<String> {
        vec!["id".to_owned()]
    }

    fn failed_csv_record(&self, row: &ResultRow<'_>) -> Result<Vec<String>, StoreError> {
        Ok(vec![id(row)?])
    }

    fn succeeded(&self, _row: &ResultRow<'_>) -> Result<ResultLine, StoreError> {
        Ok(ResultLine::AsStored)
    }

    fn writes_log(&self) -> bool {
        true
    }
}
