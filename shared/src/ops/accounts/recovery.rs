//! What an upload's rows left behind: the accounts they created. A row owns the account under
//! its key only if the account records this upload and this row (another upload, or an earlier
//! row of this one, may hold the key). A dead-lettered chunk reports its own accounts as created,
//! as a redelivery would.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::{account_key, AccountRowInput};
use crate::engine::Recovery;
use crate::error::EngineError;
use crate::model::{ChunkRow, Job};
use crate::store::{RecordKey, RecordStore};

/// Whether `existing` is the account that `row` of `job` created.
pub(super) fn created_by(existing: &Value, job: &Job, row: u32) -> bool {
    existing.get("bulkId").and_then(Value::as_str) == Some(job.id.as_str())
        && existing.get("uploadRow").and_then(Value::as_u64) == Some(u64::from(row))
}

/// What a created row's outcome shows of its account: the id, never the secret it holds.
pub(super) fn created_result(existing: &Value) -> Value {
    json!({ "id": existing.get("id").cloned().unwrap_or(Value::Null) })
}

/// One answer per row: `Done` with the account's id if the row's account exists.
pub(super) async fn recover(
    records: &dyn RecordStore,
    job: &Job,
    rows: &[ChunkRow],
) -> Result<Vec<Recovery>, EngineError> {
    // A malformed row, a rejected line of a staged file or a duplicate within the upload
    // never created an account.
    let keys: Vec<Option<RecordKey>> = rows
        .iter()
        .map(|row| {
            let input: AccountRowInput = row.input().ok()?;
            (input.duplicate_of.is_none() && input.rejected.is_none())
                .then(|| account_key(&input.account))
        })
        .collect();
    let wanted: Vec<RecordKey> = keys.iter().flatten().cloned().collect();
    let found = if wanted.is_empty() {
        HashMap::new()
    } else {
        records.get_many(&wanted).await?
    };
    Ok(rows
        .iter()
        .zip(&keys)
        .map(
            |(row, key)| match key.as_ref().and_then(|key| found.get(key)) {
                Some(existing) if created_by(existing, job, row.row) => Recovery::Done {
                    result: Some(created_result(existing)),
                },
                _ => Recovery::NotDone,
            },
        )
        .collect())
}
