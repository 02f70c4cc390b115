//! Idempotency keys of HTTP create requests: one item per scoped key (`pk` =
//! `IDEMPOTENCY#<key>`, `sk` = `IDEMPOTENCY`) holding a [`KeyRecord`], removed by the table's
//! TTL after [`crate::store::IDEMPOTENCY_RETENTION_SECONDS`] (and ignored once expired, as TTL
//! deletes lazily).

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use serde::{Deserialize, Serialize};

use super::{conditional_update, n, s, sdk_error, DynamoJobStore, Item};
use crate::error::StoreError;
use crate::store::{KeyClaim, KeyRecord, StoredResponse};

const SK: &str = "IDEMPOTENCY";

#[derive(Serialize, Deserialize)]
struct KeyItem {
    pk: String,
    sk: String,
    #[serde(flatten)]
    record: KeyRecord,
}

fn pk(key: &str) -> String {
    format!("{}{key}", crate::store::keys::IDEMPOTENCY_PREFIX)
}

fn record_of(item: Item) -> Result<KeyRecord, StoreError> {
    Ok(serde_dynamo::from_item::<_, KeyItem>(item)?.record)
}

impl DynamoJobStore {
    pub(super) async fn claim_key_item(
        &self,
        key: &str,
        claim: &KeyRecord,
    ) -> Result<KeyClaim, StoreError> {
        let item = KeyItem {
            pk: pk(key),
            sk: SK.to_owned(),
            record: KeyRecord {
                response: None,
                ..claim.clone()
            },
        };
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(serde_dynamo::to_item(&item)?))
            .condition_expression("attribute_not_exists(pk) OR expiresAt < :now")
            .expression_attribute_values(":now", n(claim.claimed_at_ms / 1000))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let held = match put {
            Ok(_) => return Ok(KeyClaim::Won(item.record)),
            Err(e) => match e.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => {
                    match failed.item.clone() {
                        Some(old) => record_of(old)?,
                        None => {
                            return Err(StoreError::Corrupt(format!(
                                "idempotency key {key} was refused but not returned"
                            )))
                        }
                    }
                }
                _ => return Err(sdk_error("PutItem(idempotency key)", e)),
            },
        };
        if held.fingerprint != claim.fingerprint || !held.is_stale(claim.claimed_at_ms) {
            return Ok(KeyClaim::Held(held));
        }
        // Its holder never answered and is gone: this retry takes the key over, with the
        // holder's job id, so that a job it created is found rather than made twice.
        let takeover = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk(key)))
            .key("sk", s(SK))
            .condition_expression("claimedAtMs = :held AND attribute_not_exists(#response)")
            .update_expression("SET claimedAtMs = :now")
            .expression_attribute_names("#response", "response")
            .expression_attribute_values(":held", n(held.claimed_at_ms))
            .expression_attribute_values(":now", n(claim.claimed_at_ms));
        match conditional_update(takeover, "UpdateItem(idempotency key)").await? {
            Ok(item) => Ok(KeyClaim::Won(record_of(item)?)),
            Err(Some(old)) => Ok(KeyClaim::Held(record_of(old)?)),
            Err(None) => Err(StoreError::Corrupt(format!(
                "idempotency key {key} vanished while taken over"
            ))),
        }
    }

    pub(super) async fn answer_key_item(
        &self,
        key: &str,
        claimed_at_ms: i64,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk(key)))
            .key("sk", s(SK))
            .condition_expression("claimedAtMs = :claimed AND attribute_not_exists(#response)")
            .update_expression("SET #response = :response")
            .expression_attribute_names("#response", "response")
            .expression_attribute_values(":claimed", n(claimed_at_ms))
            .expression_attribute_values(":response", serde_dynamo::to_attribute_value(response)?);
        // Refused: a retry took the key over after this request's lease; its answer counts.
        let _refused = conditional_update(update, "UpdateItem(idempotency answer)").await?;
        Ok(())
    }

    pub(super) async fn release_key_item(
        &self,
        key: &str,
        claimed_at_ms: i64,
    ) -> Result<(), StoreError> {
        let delete = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(pk(key)))
            .key("sk", s(SK))
            .condition_expression("claimedAtMs = :claimed AND attribute_not_exists(#response)")
            .expression_attribute_names("#response", "response")
            .expression_attribute_values(":claimed", n(claimed_at_ms))
            .send()
            .await;
        match delete {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk_error("DeleteItem(idempotency key)", e)),
        }
    }
}
