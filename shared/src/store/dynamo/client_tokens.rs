//! Client tokens of event-driven requests: one item per token key, created once with the id
//! of the job it stands for (`pk` = `TOKEN#<key>`, `sk` = `TOKEN`).

use super::{conditional_update, n, s, DynamoJobStore};
use crate::error::StoreError;
use crate::store::keys::TOKEN_PREFIX;
use crate::store::CLIENT_TOKEN_RETENTION_SECONDS;
use crate::time::now_ms;

impl DynamoJobStore {
    pub(super) async fn claim_client_token_item(
        &self,
        key: &str,
        job_id: &str,
    ) -> Result<String, StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("{TOKEN_PREFIX}{key}")))
            .key("sk", s("TOKEN"))
            .condition_expression("attribute_not_exists(pk)")
            .update_expression("SET jobId = :job, expiresAt = :expires")
            .expression_attribute_values(":job", s(job_id))
            .expression_attribute_values(
                ":expires",
                n(now_ms() / 1000 + CLIENT_TOKEN_RETENTION_SECONDS),
            );
        let item = match conditional_update(update, "UpdateItem(client token)").await? {
            Ok(created) => created,
            Err(Some(existing)) => existing,
            Err(None) => {
                return Err(StoreError::Corrupt(format!(
                    "client token {key} was refused but not returned"
                )))
            }
        };
        item.get("jobId")
            .and_then(|v| v.as_s().ok())
            .cloned()
            .ok_or_else(|| StoreError::Corrupt(format!("client token {key} has no jobId")))
    }
}
