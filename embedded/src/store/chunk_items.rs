//! The items a job keeps per chunk: its staged secrets (until the chunk is recorded) and its
//! row outcomes (stored once).

use redb::ReadableTable;

use super::{chunk_key, EmbeddedStore};
use crate::db::{CHUNKS, SECRETS};
use bulkops_shared::error::StoreError;
use bulkops_shared::model::{RowOutcome, Secrets};

impl EmbeddedStore {
    pub(super) async fn put_chunk_secrets_item(
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

    pub(super) async fn chunk_secrets_item(
        &self,
        id: &str,
        chunk: u32,
    ) -> Result<Secrets, StoreError> {
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

    pub(super) async fn delete_chunk_secrets_item(
        &self,
        id: &str,
        chunk: u32,
    ) -> Result<(), StoreError> {
        let key = chunk_key(id, chunk);
        self.write(move |txn| {
            let mut table = txn.open_table(SECRETS)?;
            table.remove(key.as_str())?;
            Ok(())
        })
        .await
    }

    pub(super) async fn store_chunk_outcomes_item(
        &self,
        id: &str,
        chunk: u32,
        outcomes: &[RowOutcome],
    ) -> Result<Vec<RowOutcome>, StoreError> {
        let (key, bytes) = (chunk_key(id, chunk), serde_json::to_vec(outcomes)?);
        let ours = outcomes.to_vec();
        self.write(move |txn| {
            let mut table = txn.open_table(CHUNKS)?;
            // Write-once: the first outcomes stored are the ones the chunk is counted with.
            if let Some(existing) = table.get(key.as_str())? {
                return Ok(serde_json::from_slice(existing.value())?);
            }
            table.insert(key.as_str(), bytes.as_slice())?;
            Ok(ours)
        })
        .await
    }

    pub(super) async fn row_outcomes_item(&self, id: &str) -> Result<Vec<RowOutcome>, StoreError> {
        let (start, end) = (format!("{id}#"), format!("{id}$"));
        self.read(move |txn| {
            let table = txn.open_table(CHUNKS)?;
            let mut outcomes = Vec::new();
            for entry in table.range(start.as_str()..end.as_str())? {
                let (_, value) = entry?;
                outcomes.extend(serde_json::from_slice::<Vec<RowOutcome>>(value.value())?);
            }
            outcomes.sort_by_key(|o| o.row);
            Ok(outcomes)
        })
        .await
    }
}
