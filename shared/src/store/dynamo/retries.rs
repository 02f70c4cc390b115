//! The links from a job to the jobs retrying its failed rows (`retries`, appended once each),
//! the record of its result files (`resultFiles`) and how far its split got (`splitParkedBelow`).

use aws_sdk_dynamodb::types::AttributeValue;

use super::{conditional_update, s, DynamoJobStore};
use crate::error::StoreError;

impl DynamoJobStore {
    pub(super) async fn add_retry_item(&self, id: &str, retry_id: &str) -> Result<(), StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.job_key(id)))
            .condition_expression("attribute_exists(pk) AND NOT contains(retries, :id)")
            .update_expression("SET retries = list_append(if_not_exists(retries, :none), :ids)")
            .expression_attribute_values(":id", s(retry_id))
            .expression_attribute_values(":none", AttributeValue::L(Vec::new()))
            .expression_attribute_values(":ids", AttributeValue::L(vec![s(retry_id)]));
        // Refused: linked already, or the job is gone; either way nothing is left to do.
        let _refused = conditional_update(update, "UpdateItem(add retry)").await?;
        Ok(())
    }
}

impl DynamoJobStore {
    pub(super) async fn set_result_files(
        &self,
        id: &str,
        files: &std::collections::BTreeMap<String, u64>,
    ) -> Result<(), StoreError> {
        let sizes = files
            .iter()
            .map(|(name, bytes)| (name.clone(), AttributeValue::N(bytes.to_string())))
            .collect();
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.job_key(id)))
            .condition_expression("attribute_exists(pk)")
            .update_expression("SET resultFiles = :files")
            .expression_attribute_values(":files", AttributeValue::M(sizes));
        // Refused: the job is gone (past its retention); its files go with it.
        let _refused = conditional_update(update, "UpdateItem(result files)").await?;
        Ok(())
    }
}

impl DynamoJobStore {
    pub(super) async fn set_split_progress(
        &self,
        id: &str,
        parked_below: u32,
    ) -> Result<(), StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(self.job_key(id)))
            .condition_expression(
                "#state = :awaiting AND (attribute_not_exists(splitParkedBelow) OR splitParkedBelow < :n)",
            )
            .update_expression("SET splitParkedBelow = :n")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":awaiting", s(crate::model::JobState::AwaitingData.as_str()))
            .expression_attribute_values(":n", AttributeValue::N(parked_below.to_string()));
        // Refused: released, cancelled or gone meanwhile, or further already.
        let _refused = conditional_update(update, "UpdateItem(split progress)").await?;
        Ok(())
    }
}
