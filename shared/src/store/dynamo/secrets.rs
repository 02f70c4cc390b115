//! [`SecretStore`] on DynamoDB: a chunk's staged secrets (`JOB#<id>` / `SECRETS#<n:06>`) until
//! the chunk is recorded, and its failed rows' secrets (`JOB#<id>` / `KEPT#<n:06>`) for a
//! retry. Each is one map attribute (row → secret) with a TTL; the table is encrypted at rest.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::{job_pk, n, s, sdk_error, DynamoJobStore, Item, KEPT_SK_PREFIX, SECRETS_SK_PREFIX};
use crate::error::StoreError;
use crate::model::Secrets;
use crate::store::{SecretStore, SECRETS_RETENTION_SECONDS};

impl DynamoJobStore {
    fn chunk_item_key(&self, id: &str, prefix: &str, chunk: u32) -> Item {
        HashMap::from([
            ("pk".to_owned(), s(job_pk(id))),
            ("sk".to_owned(), s(format!("{prefix}{chunk:06}"))),
        ])
    }

    async fn put_secrets_item(
        &self,
        key: Item,
        secrets: &Secrets,
        expires_at_s: i64,
        call: &'static str,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(key))
            .item("secrets", AttributeValue::M(secrets_to_map(secrets)))
            .item("expiresAt", n(expires_at_s))
            .send()
            .await
            .map_err(|e| sdk_error(call, e))?;
        Ok(())
    }
}

#[async_trait]
impl SecretStore for DynamoJobStore {
    async fn put_chunk_secrets(
        &self,
        id: &str,
        chunk: u32,
        secrets: &Secrets,
    ) -> Result<(), StoreError> {
        let key = self.chunk_item_key(id, SECRETS_SK_PREFIX, chunk);
        let expires_at = crate::time::now_ms() / 1000 + SECRETS_RETENTION_SECONDS;
        self.put_secrets_item(key, secrets, expires_at, "PutItem(chunk secrets)")
            .await
    }

    async fn chunk_secrets(&self, id: &str, chunk: u32) -> Result<Secrets, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(self.chunk_item_key(id, SECRETS_SK_PREFIX, chunk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem(chunk secrets)", e))?;
        let mut secrets = Secrets::new();
        if let Some(item) = out.item {
            secrets_of(&item, &mut secrets);
        }
        Ok(secrets)
    }

    async fn delete_chunk_secrets(&self, id: &str, chunk: u32) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(self.chunk_item_key(id, SECRETS_SK_PREFIX, chunk)))
            .send()
            .await
            .map_err(|e| sdk_error("DeleteItem(chunk secrets)", e))?;
        Ok(())
    }

    async fn keep_failed_secrets(
        &self,
        id: &str,
        chunk: u32,
        secrets: &Secrets,
        until_ms: i64,
    ) -> Result<(), StoreError> {
        let key = self.chunk_item_key(id, KEPT_SK_PREFIX, chunk);
        self.put_secrets_item(key, secrets, until_ms / 1000, "PutItem(kept secrets)")
            .await
    }

    async fn kept_secrets(&self, id: &str) -> Result<Secrets, StoreError> {
        let mut secrets = Secrets::new();
        for item in self
            .job_items(id, KEPT_SK_PREFIX, "Query(kept secrets)")
            .await?
        {
            secrets_of(&item, &mut secrets);
        }
        Ok(secrets)
    }
}

fn secrets_to_map(secrets: &Secrets) -> HashMap<String, AttributeValue> {
    secrets
        .iter()
        .map(|(row, secret)| (row.to_string(), s(secret)))
        .collect()
}

/// Adds the secrets of a secrets item to `secrets`.
fn secrets_of(item: &Item, secrets: &mut Secrets) {
    if let Some(AttributeValue::M(values)) = item.get("secrets") {
        for (row, value) in values {
            if let (Ok(row), Ok(secret)) = (row.parse(), value.as_s()) {
                secrets.insert(row, secret.clone());
            }
        }
    }
}
