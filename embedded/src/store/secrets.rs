//! [`SecretStore`] on the embedded file: staged secrets per chunk until the chunk is recorded,
//! and the failed rows' secrets kept for a retry until their time is up (read past it, they
//! are gone, as DynamoDB's TTL would have them).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{chunk_key, EmbeddedStore};
use crate::db::{KEPT, SECRETS};
use bulkops_shared::error::StoreError;
use bulkops_shared::model::Secrets;
use bulkops_shared::store::SecretStore;

/// A chunk's failed rows' secrets and when they go.
#[derive(Serialize, Deserialize)]
struct Kept {
    until_ms: i64,
    secrets: Secrets,
}

#[async_trait]
impl SecretStore for EmbeddedStore {
    async fn put_chunk_secrets(
        &self,
        id: &str,
        chunk: u32,
        secrets: &Secrets,
    ) -> Result<(), StoreError> {
        let (key, bytes) = (chunk_key(id, chunk), serde_json::to_vec(secrets)?);
        self.write(move |txn| {
            let mut table = txn.open_table(SECRETS)?;
            table.insert(key.as_str(), bytes.as_slice())?;
            Ok(())
        })
        .await
    }

    async fn chunk_secrets(&self, id: &str, chunk: u32) -> Result<Secrets, StoreError> {
        let key = chunk_key(id, chunk);
        self.read(move |txn| {
            let table = txn.open_table(SECRETS)?;
            let value = table.get(key.as_str())?;
            Ok(match value {
                Some(v) => serde_json::from_slice(v.value())?,
                None => Secrets::new(),
            })
        })
        .await
    }

    async fn delete_chunk_secrets(&self, id: &str, chunk: u32) -> Result<(), StoreError> {
        let key = chunk_key(id, chunk);
        self.write(move |txn| {
            let mut table = txn.open_table(SECRETS)?;
            table.remove(key.as_str())?;
            Ok(())
        })
        .await
    }

    async fn keep_failed_secrets(
        &self,
        id: &str,
        chunk: u32,
        secrets: &Secrets,
        until_ms: i64,
    ) -> Result<(), StoreError> {
        let kept = Kept {
            until_ms,
            secrets: secrets.clone(),
        };
        let (key, bytes) = (chunk_key(id, chunk), serde_json::to_vec(&kept)?);
        self.write(move |txn| {
            let mut table = txn.open_table(KEPT)?;
            table.insert(key.as_str(), bytes.as_slice())?;
            Ok(())
        })
        .await
    }

    async fn kept_secrets(&self, id: &str) -> Result<Secrets, StoreError> {
        // `#` sorts before `$`: the range holds exactly this job's `<id>#<chunk>` keys.
        let (start, end) = (format!("{id}#"), format!("{id}$"));
        let now_ms = bulkops_shared::time::now_ms();
        self.read(move |txn| {
            let table = txn.open_table(KEPT)?;
            let mut secrets = Secrets::new();
            for entry in table.range(start.as_str()..end.as_str())? {
                let (_, value) = entry?;
                let kept: Kept = serde_json::from_slice(value.value())?;
                if kept.until_ms > now_ms {
                    secrets.extend(kept.secrets);
                }
            }
            Ok(secrets)
        })
        .await
    }
}
