//! SEND_MFP: issue a mobile flash pass for each enrollment id.
//!
//! A pass is stored beside its enrollment (`pk` = the enrollment key, `sk` = `MFP#<job id>`),
//! so a job issues at most one pass per enrollment: a redelivered chunk rewrites the very pass
//! it issued before (see [`pass`]) and reports the same success, and a dead-lettered chunk
//! reports the passes it issued before dying as succeeded.

pub mod api;
pub mod pass;
pub mod result_files;
pub mod rows;
pub mod staged;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::engine::{Recovery, RowOperation, Secrets};
use crate::enrollment::{EnrollmentRef, InvalidEnrollment};
use crate::error::EngineError;
use crate::model::{ChunkRow, Job, RowOutcome};
use crate::store::{Record, RecordKey, RecordStore};
use pass::{pass_result, Issuer};

/// Row error codes of this operation.
pub mod codes {
    pub const INVALID_ENROLLMENT_ID: &str = "INVALID_ENROLLMENT_ID";
    pub const ENROLLMENT_NOT_FOUND: &str = "ENROLLMENT_NOT_FOUND";
    pub const DUPLICATE_ROW: &str = "DUPLICATE_ROW";
}

/// Sort key of an enrollment record under its enrollment key.
pub const ENROLLMENT_SK: &str = "ENROLLMENT";
/// A pass can be claimed for this long.
pub const PASS_VALIDITY_MS: i64 = 7 * 24 * 3600 * 1000;

/// The input of one row, as the submit handler puts it in the chunk.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MfpRowInput {
    pub id: String,
    /// The earlier row with the same enrollment, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<u32>,
}

/// Record key of an enrollment.
pub fn enrollment_key(enrollment: &EnrollmentRef) -> RecordKey {
    RecordKey::new(enrollment.key(), ENROLLMENT_SK)
}

/// Record key of the pass a job issues for an enrollment.
pub fn pass_key(enrollment: &EnrollmentRef, job_id: &str) -> RecordKey {
    RecordKey::new(enrollment.key(), format!("MFP#{job_id}"))
}

/// The SEND_MFP row operation.
pub struct MobileFlashPass {
    records: Arc<dyn RecordStore>,
}

impl MobileFlashPass {
    pub fn new(records: Arc<dyn RecordStore>) -> Self {
        Self { records }
    }
}

fn not_found_message(enrollment: &EnrollmentRef) -> String {
    let clause: Vec<String> = enrollment
        .where_clause
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!(
        "No enrollment matches {} in workflow {}",
        clause.join(", "),
        enrollment.workflow_id
    )
}

fn invalid_message(reason: &InvalidEnrollment) -> String {
    format!("The enrollment id is not a valid enrollment reference: {reason}")
}

/// What an outcome shows of a row: its enrollment id.
fn echo_id(id: String) -> Map<String, Value> {
    Map::from_iter([("id".to_owned(), Value::String(id))])
}

/// A row waiting for its lookup, with its keys computed once.
struct Lookup {
    index: usize,
    id: String,
    enrollment: EnrollmentRef,
    pass_key: RecordKey,
}

#[async_trait]
impl RowOperation for MobileFlashPass {
    async fn run(
        &self,
        job: &Job,
        rows: &[ChunkRow],
        _secrets: &Secrets,
    ) -> Result<Vec<RowOutcome>, EngineError> {
        let mut outcomes: Vec<Option<RowOutcome>> = vec![None; rows.len()];
        let pass_sk = format!("MFP#{}", job.id);
        let issuer = Issuer::of(job);
        let seeded = issuer.is_seeded();
        let mut pending: Vec<Lookup> = Vec::new();
        // The enrollment keys of `pending`, in its order: the lookup's keys as they are.
        let mut enrollment_keys: Vec<RecordKey> = Vec::new();
        for (index, row) in rows.iter().enumerate() {
            let input: MfpRowInput = row
                .input()
                .map_err(|e| EngineError::BadMessage(format!("row {}: {e}", row.row)))?;
            match EnrollmentRef::from_id(&input.id) {
                Err(reason) => {
                    outcomes[index] = Some(RowOutcome::failed(
                        row.row,
                        echo_id(input.id),
                        codes::INVALID_ENROLLMENT_ID,
                        invalid_message(&reason),
                    ))
                }
                Ok(_) if input.duplicate_of.is_some() => {
                    let first = input.duplicate_of.unwrap_or_default();
                    let message = format!("Duplicate of row {first}: the same enrollment appears earlier in the request");
                    outcomes[index] = Some(RowOutcome::failed(
                        row.row,
                        echo_id(input.id),
                        codes::DUPLICATE_ROW,
                        message,
                    ));
                }
                Ok(enrollment) => {
                    let key = enrollment.key();
                    enrollment_keys.push(RecordKey::new(key.clone(), ENROLLMENT_SK));
                    pending.push(Lookup {
                        index,
                        id: input.id,
                        enrollment,
                        pass_key: RecordKey::new(key, pass_sk.clone()),
                    })
                }
            }
        }

        // A seeded job's passes are the same on every delivery: only the enrollments are read,
        // and the passes are rewritten in batches. A job without a seed reads its passes too,
        // to report the ones an earlier delivery issued.
        // A seeded job needs only to know which enrollments exist: nothing is parsed.
        let (present, mut found) = if enrollment_keys.is_empty() {
            (Vec::new(), HashMap::new())
        } else if seeded {
            (
                self.records.existing(&enrollment_keys).await?,
                HashMap::new(),
            )
        } else {
            let mut keys = enrollment_keys.clone();
            keys.extend(pending.iter().map(|lookup| lookup.pass_key.clone()));
            let found = self.records.get_many(&keys).await?;
            let present = enrollment_keys
                .iter()
                .map(|key| found.contains_key(key))
                .collect();
            (present, found)
        };

        let mut new_passes = Vec::new();
        let mut issued_by_row: HashMap<u32, RecordKey> = HashMap::new();
        let looked_up = pending.into_iter().zip(&enrollment_keys).zip(present);
        for ((lookup, enrollment_key), present) in looked_up {
            let row = &rows[lookup.index];
            let echo = echo_id(lookup.id);
            let outcome = if !present {
                RowOutcome::failed(
                    row.row,
                    echo,
                    codes::ENROLLMENT_NOT_FOUND,
                    not_found_message(&lookup.enrollment),
                )
            } else {
                // A seeded job read no pass: no key is hashed for nothing.
                let issued = match found.is_empty() {
                    true => None,
                    false => found.remove(&lookup.pass_key),
                };
                let result = match issued {
                    Some(existing) => pass_result(&existing),
                    None => {
                        let key = &enrollment_key.pk;
                        let pass = issuer.pass(job, row.row, &lookup.enrollment, key);
                        let (result, record) = (pass.result(), Record::of(&pass)?);
                        if !seeded {
                            // Only a create-if-absent can find another delivery's pass.
                            issued_by_row.insert(row.row, lookup.pass_key.clone());
                        }
                        new_passes.push((lookup.pass_key, record));
                        result
                    }
                };
                RowOutcome::succeeded(row.row, echo, Some(result))
            };
            outcomes[lookup.index] = Some(outcome);
        }
        if seeded {
            self.records.put_many(new_passes).await?;
            return Ok(outcomes.into_iter().flatten().collect());
        }
        // Written only if absent for (enrollment, job): a concurrent duplicate delivery that
        // issued first keeps its pass, and this delivery reports that pass.
        let taken = self.records.create_many(new_passes).await?;
        if !taken.is_empty() {
            let issued = self.records.get_many(&taken).await?;
            for outcome in outcomes.iter_mut().flatten() {
                let Some(key) = issued_by_row.get(&outcome.row) else {
                    continue;
                };
                if let Some(pass) = issued.get(key) {
                    outcome.result = Some(pass_result(pass));
                }
            }
        }
        Ok(outcomes.into_iter().flatten().collect())
    }

    fn echo(&self, row: &ChunkRow) -> Map<String, Value> {
        // Whatever the row's `id` is, even in a malformed row (the hot path echoes the id it
        // parsed instead).
        let mut echo = Map::new();
        if let Some(id) = row
            .input::<Map<String, Value>>()
            .ok()
            .and_then(|mut input| input.remove("id"))
        {
            echo.insert("id".to_owned(), id);
        }
        echo
    }

    async fn recover(&self, job: &Job, rows: &[ChunkRow]) -> Result<Vec<Recovery>, EngineError> {
        // Only the first row of a valid enrollment can have issued the job's pass for it: a
        // malformed row, an invalid id or a duplicate never wrote one.
        let keys: Vec<Option<RecordKey>> = rows
            .iter()
            .map(|row| {
                let input: MfpRowInput = row.input().ok()?;
                if input.duplicate_of.is_some() {
                    return None;
                }
                let enrollment = EnrollmentRef::from_id(&input.id).ok()?;
                Some(pass_key(&enrollment, &job.id))
            })
            .collect();
        let wanted: Vec<RecordKey> = keys.iter().flatten().cloned().collect();
        let issued = if wanted.is_empty() {
            HashMap::new()
        } else {
            self.records.get_many(&wanted).await?
        };
        Ok(keys
            .iter()
            .map(|key| match key.as_ref().and_then(|key| issued.get(key)) {
                Some(pass) => Recovery::Done {
                    result: Some(pass_result(pass)),
                },
                None => Recovery::NotDone,
            })
            .collect())
    }
}

/// An id of a request and its reference as read.
pub type ParsedId = (String, Result<EnrollmentRef, InvalidEnrollment>);

/// Builds the rows of a validated request: each id with the row of its first occurrence
/// when the same enrollment was already listed.
pub fn rows_from_ids(ids: Vec<String>) -> Vec<ChunkRow> {
    rows_from_parsed(
        ids.into_iter()
            .map(|id| {
                let reference = EnrollmentRef::from_id(&id);
                (id, reference)
            })
            .collect(),
    )
}

/// [`rows_from_ids`] for ids already read (the create route reads each once, to validate it).
pub fn rows_from_parsed(ids: Vec<ParsedId>) -> Vec<ChunkRow> {
    use std::collections::hash_map::Entry;
    let mut first_row: HashMap<String, u32> = HashMap::with_capacity(ids.len());
    ids.into_iter()
        .enumerate()
        .map(|(index, (id, reference))| {
            let row = index as u32 + 1;
            let duplicate_of = reference.ok().and_then(|e| match first_row.entry(e.key()) {
                Entry::Occupied(first) => Some(*first.get()),
                Entry::Vacant(slot) => {
                    slot.insert(row);
                    None
                }
            });
            ChunkRow::new(row, &MfpRowInput { id, duplicate_of })
        })
        .collect()
}

#[cfg(test)]
mod run_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_point_at_the_first_occurrence() {
        let a = EnrollmentRef::from_id(&crate::enrollment::tests_support::id("1"))
            .unwrap()
            .to_id();
        let b = crate::enrollment::tests_support::id("2");
        let rows = rows_from_ids(vec![
            a.clone(),
            b.clone(),
            a.clone(),
            "bad".into(),
            "bad".into(),
        ]);
        let dup: Vec<Option<u64>> = rows
            .iter()
            .map(|r| {
                r.input::<Value>()
                    .unwrap()
                    .get("duplicateOf")
                    .and_then(Value::as_u64)
            })
            .collect();
        assert_eq!(dup, vec![None, None, Some(1), None, None]);
        assert_eq!(
            rows.iter().map(|r| r.row).collect::<Vec<_>>(),
            vec![1, 2, 3, 4, 5]
        );
    }
}
