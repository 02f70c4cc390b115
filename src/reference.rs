//! Reference data: enrollments loaded into the table so flash passes can be issued for them.

use std::sync::Arc;

use bulkops_shared::enrollment::EnrollmentRef;
use bulkops_shared::error::StoreError;
use bulkops_shared::ops::mobile_flash_pass::enrollment_key;
use bulkops_shared::store::RecordStore;
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
        batch.push((enrollment_key(&enrollment), Value::Object(record)));
    }
    records.put_many(batch).await?;
    Ok(ids)
}
