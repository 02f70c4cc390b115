//! The ADD_ACCOUNTS row operation: checks each row against the vault (safe, membership,
//! platform, required properties, duplicates), numbers new accounts one block per safe, and
//! creates them with conditional puts, so a redelivered chunk recognises its own accounts.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use super::{
    account_key, codes, platform_key, recovery, safe_key, AccountRowInput, BulkAccountModel,
    NEXT_ACCOUNT_NUMBER,
};
use crate::engine::{Recovery, RowOperation, Secrets};
use crate::error::EngineError;
use crate::model::{ChunkRow, Job, RowOutcome};
use crate::store::{Record, RecordKey, RecordStore};
use crate::time::{now_ms, rfc3339};

/// The ADD_ACCOUNTS row operation.
pub struct AddAccounts {
    records: Arc<dyn RecordStore>,
}

impl AddAccounts {
    pub fn new(records: Arc<dyn RecordStore>) -> Self {
        Self { records }
    }
}

fn exists_message(account: &BulkAccountModel) -> String {
    format!(
        "An account with userName {} and address {} already exists in safe {}",
        account.user_name.as_deref().unwrap_or_default(),
        account.address.as_deref().unwrap_or_default(),
        account.safe_name
    )
}

/// The first required property of the platform that the account lacks.
fn missing_property(platform: &Value, account: &BulkAccountModel) -> Option<String> {
    let required = platform
        .get("requiredProperties")
        .and_then(Value::as_array)?;
    required
        .iter()
        .filter_map(Value::as_str)
        .find_map(|property| {
            let present = account
                .property(property)
                .is_some_and(|v| !v.trim().is_empty());
            (!present).then(|| property.to_owned())
        })
}

/// A row that passed every check and will be created.
struct Creatable {
    index: usize,
    key: RecordKey,
    safe: RecordKey,
}

#[async_trait]
impl RowOperation for AddAccounts {
    async fn run(
        &self,
        job: &Job,
        rows: &[ChunkRow],
        secrets: &Secrets,
    ) -> Result<Vec<RowOutcome>, EngineError> {
        let mut inputs = Vec::with_capacity(rows.len());
        for row in rows {
            let input: AccountRowInput = row
                .input()
                .map_err(|e| EngineError::BadMessage(format!("row {}: {e}", row.row)))?;
            inputs.push(input);
        }

        // One batched read: every safe, platform and candidate account of the chunk (a
        // rejected row has none).
        let mut keys: Vec<RecordKey> = Vec::new();
        for input in inputs.iter().filter(|input| input.rejected.is_none()) {
            keys.push(safe_key(&input.account.safe_name));
            keys.push(platform_key(&input.account.platform_id));
            if input.duplicate_of.is_none() {
                keys.push(account_key(&input.account));
            }
        }
        let found = if keys.is_empty() {
            HashMap::new()
        } else {
            self.records.get_many(&keys).await?
        };

        let mut outcomes: Vec<Option<RowOutcome>> = vec![None; rows.len()];
        let mut creatable: Vec<Creatable> = Vec::new();
        for (index, (row, input)) in rows.iter().zip(&inputs).enumerate() {
            let echo = self.echo(row);
            let account = &input.account;
            let safe_name = account.safe_name.as_str();
            let fail = |code: &str, message: String| {
                Some(RowOutcome::failed(row.row, echo.clone(), code, message))
            };
            if let Some(reason) = &input.rejected {
                outcomes[index] = fail(codes::INVALID_FIELDS, reason.clone());
                continue;
            }
            let Some(safe) = found.get(&safe_key(safe_name)) else {
                outcomes[index] = fail(
                    codes::SAFE_NOT_FOUND,
                    format!("Safe {safe_name} was not found"),
                );
                continue;
            };
            let may_add = safe
                .get("members")
                .and_then(|m| m.get(&job.owner))
                .and_then(|m| m.get("addAccounts"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if !may_add {
                let message =
                    format!("You are not authorized to create object in safe {safe_name}");
                outcomes[index] = fail(codes::NOT_AUTHORIZED, message);
                continue;
            }
            let platform_id = account.platform_id.as_str();
            let Some(platform) = found.get(&platform_key(platform_id)) else {
                outcomes[index] = fail(
                    codes::PLATFORM_NOT_FOUND,
                    format!("Platform {platform_id} was not found"),
                );
                continue;
            };
            if let Some(property) = missing_property(platform, account) {
                let message = format!("The account is missing the property {property} required by platform {platform_id}");
                outcomes[index] = fail(codes::INVALID_FIELDS, message);
                continue;
            }
            if let Some(first) = input.duplicate_of {
                let message = format!(
                    "{} (uploadIndex {first} of this upload)",
                    exists_message(account)
                );
                outcomes[index] = fail(codes::ACCOUNT_ALREADY_EXISTS, message);
                continue;
            }
            let key = account_key(account);
            match found.get(&key) {
                Some(existing) => {
                    outcomes[index] = Some(self.existing_outcome(job, row, existing, echo, account))
                }
                None => creatable.push(Creatable {
                    index,
                    key,
                    safe: safe_key(safe_name),
                }),
            }
        }

        // Account numbers: one atomic block per safe per chunk.
        let mut per_safe: BTreeMap<RecordKey, Vec<usize>> = BTreeMap::new();
        for (position, c) in creatable.iter().enumerate() {
            per_safe.entry(c.safe.clone()).or_default().push(position);
        }
        let mut ids: HashMap<usize, String> = HashMap::new();
        let now = now_ms();
        for (safe, positions) in &per_safe {
            let safe_id = found
                .get(safe)
                .and_then(|s| s.get("safeId"))
                .cloned()
                .unwrap_or(Value::Null);
            let safe_id = safe_id
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| safe_id.to_string());
            let count = positions.len() as i64;
            let Some(last) = self
                .records
                .increment(safe, NEXT_ACCOUNT_NUMBER, count)
                .await?
            else {
                for &position in positions {
                    let c = &creatable[position];
                    let message =
                        format!("Safe {} was not found", inputs[c.index].account.safe_name);
                    outcomes[c.index] = Some(RowOutcome::failed(
                        rows[c.index].row,
                        self.echo(&rows[c.index]),
                        codes::SAFE_NOT_FOUND,
                        message,
                    ));
                }
                continue;
            };
            for (offset, &position) in positions.iter().enumerate() {
                ids.insert(
                    position,
                    format!("{safe_id}_{}", last - count + 1 + offset as i64),
                );
            }
        }
        let mut records = Vec::new();
        for (position, c) in creatable.iter().enumerate() {
            let Some(id) = ids.get(&position) else {
                continue;
            };
            let row = &rows[c.index];
            let mut record = inputs[c.index].account.to_map();
            record.insert("id".into(), json!(id));
            if let Some(secret) = secrets.get(&row.row) {
                record.insert("secret".into(), json!(secret));
            }
            record.insert("createdBy".into(), json!(job.owner));
            record.insert("bulkId".into(), json!(job.id));
            record.insert("uploadRow".into(), json!(row.row));
            record.insert("createdTime".into(), json!(rfc3339(now)));
            records.push((c.key.clone(), Record::of(&record)?));
        }
        let taken = self.records.create_many(records).await?;
        // Keys taken meanwhile: by this very row on an earlier delivery, or by someone else.
        let rivals = if taken.is_empty() {
            HashMap::new()
        } else {
            self.records.get_many(&taken).await?
        };
        for (position, c) in creatable.iter().enumerate() {
            let Some(id) = ids.get(&position) else {
                continue;
            };
            let row = &rows[c.index];
            let echo = self.echo(row);
            outcomes[c.index] = Some(match rivals.get(&c.key) {
                Some(existing) => {
                    self.existing_outcome(job, row, existing, echo, &inputs[c.index].account)
                }
                None if taken.contains(&c.key) => RowOutcome::failed(
                    row.row,
                    echo,
                    codes::ACCOUNT_ALREADY_EXISTS,
                    exists_message(&inputs[c.index].account),
                ),
                None => RowOutcome::succeeded(row.row, echo, Some(json!({ "id": id }))),
            });
        }
        Ok(outcomes.into_iter().flatten().collect())
    }

    fn echo(&self, row: &ChunkRow) -> Map<String, Value> {
        let mut echo = Map::new();
        let input: Value = row.input().unwrap_or(Value::Null);
        if let Some(index) = input.get("uploadIndex") {
            echo.insert("uploadIndex".into(), index.clone());
        }
        // The typed model has no secret field: whatever the row holds, none is echoed.
        if let Some(account) = input
            .get("account")
            .and_then(|a| serde_json::from_value::<BulkAccountModel>(a.clone()).ok())
        {
            echo.extend(account.to_map());
        }
        echo
    }

    async fn recover(&self, job: &Job, rows: &[ChunkRow]) -> Result<Vec<Recovery>, EngineError> {
        recovery::recover(self.records.as_ref(), job, rows).await
    }
}

impl AddAccounts {
    /// An account already under this key: ours from an earlier delivery (success), or not.
    fn existing_outcome(
        &self,
        job: &Job,
        row: &ChunkRow,
        existing: &Value,
        echo: Map<String, Value>,
        account: &BulkAccountModel,
    ) -> RowOutcome {
        if recovery::created_by(existing, job, row.row) {
            RowOutcome::succeeded(row.row, echo, Some(recovery::created_result(existing)))
        } else {
            RowOutcome::failed(
                row.row,
                echo,
                codes::ACCOUNT_ALREADY_EXISTS,
                exists_message(account),
            )
        }
    }
}

#[cfg(test)]
mod tests;
