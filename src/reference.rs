//! Reference data: enrollments loaded into the table so flash passes can be issued for them.

use std::sync::Arc;

use bulkops_shared::enrollment::EnrollmentRef;
use bulkops_shared::error::StoreError;
use bulkops_shared::ops::mobile_flash_pass::enrollment_key;
use bulkops_shared::store::{Record, RecordStore};
use serde::Deserialize;
use serde_json::{Map, Value};

/// One enrollment as an operator supplies it: the reference plus any attributes to keep.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnrollmentInput {
    pub workflow_id: uuid::Uuid,
    pub where_clause: std::collections::BTreeMap<String, Value>,
    #[serde(flatten)]
    pub attributes: Map<String, Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("enrollment {index}: {message}")]
    Invalid { index: usize, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Writes enrollments (batched) and returns each one's enrollment id, in input order.
pub async fn load_enrollments(
    records: &Arc<dyn RecordStore>,
    inputs: Vec<EnrollmentInput>,
) -> Result<Vec<String>, LoadError> {
    let mut batch = Vec::with_capacity(inputs.len());
    let mut ids = Vec::with_capacity(inputs.len());
    for (index, input) in inputs.into_iter().enumerate() {
        let clause: Map<String, Value> = input.where_clause.into_iter().collect();
        let reference =
            serde_json::json!({ "workflowId": input.workflow_id, "whereClause": clause });
        let encoded = bulkops_shared::enrollment::encode_id(&reference);
        let enrollment = EnrollmentRef::from_id(&encoded).map_err(|e| LoadError::Invalid {
            index,
            message: e.to_string(),
        })?;
        let mut record = input.attributes;
        record.insert(
            "workflowId".into(),
            Value::String(enrollment.workflow_id.to_string()),
        );
        record.insert(
            "whereClause".into(),
            serde_json::to_value(&enrollment.where_clause).unwrap_or_default(),
        );
        ids.push(enrollment.to_id());
        batch.push((enrollment_key(&enrollment), Record::of(&record)?));
    }
    records.put_many(batch).await?;
    Ok(ids)
}

/// Vault reference data for bulk account uploads: safes (with their members' rights) and
/// platforms.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VaultInput {
    #[serde(default)]
    pub safes: Vec<SafeInput>,
    #[serde(default)]
    pub platforms: Vec<PlatformInput>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SafeInput {
    pub safe_name: String,
    /// The numeric id that prefixes account ids (`<safeId>_<n>`).
    pub safe_id: u64,
    /// Members by `sub`, with their rights, e.g. `{"alice": {"addAccounts": true}}`.
    #[serde(default)]
    pub members: Map<String, Value>,
    /// Accounts already numbered in the safe; the next account gets this + 1.
    #[serde(default)]
    pub next_account_number: i64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlatformInput {
    pub platform_id: String,
    /// Properties every account on this platform must have (e.g. `address`, `userName`).
    #[serde(default)]
    pub required_properties: Vec<String>,
}

/// Writes safes and platforms. A safe's account counter never moves backwards, so reloading
/// reference data cannot make account ids repeat.
pub async fn load_vault(
    records: &Arc<dyn RecordStore>,
    vault: VaultInput,
) -> Result<(usize, usize), LoadError> {
    use bulkops_shared::ops::accounts::{platform_key, safe_key, NEXT_ACCOUNT_NUMBER};
    // Each safe in one write that never lowers its counter: accounts may be created while the
    // vault is reloaded, and a counter read before and written after would reuse their ids.
    for safe in &vault.safes {
        let record = serde_json::json!({
            "safeName": safe.safe_name,
            "safeId": safe.safe_id,
            "members": safe.members,
            NEXT_ACCOUNT_NUMBER: safe.next_account_number,
        });
        records
            .put_keeping_counter(&safe_key(&safe.safe_name), record, NEXT_ACCOUNT_NUMBER)
            .await?;
    }
    let mut batch = Vec::new();
    for platform in &vault.platforms {
        let record = serde_json::json!({
            "platformId": platform.platform_id,
            "requiredProperties": platform.required_properties,
        });
        batch.push((platform_key(&platform.platform_id), Record::of(&record)?));
    }
    records.put_many(batch).await?;
    Ok((vault.safes.len(), vault.platforms.len()))
}
