//! The items a job keeps per chunk: its staged secrets (until the chunk is recorded) and its
//! row outcomes (stored once).

use redb::ReadableTable;

use super::{backend, chunk_key, corrupt, EmbeddedStore, CHUNKS, SECRETS};
use crate::error::StoreError;
use crate::model::{RowOutcome, Secrets};

impl EmbeddedStore {
    pub(super) async fn put_chunk_secrets_item(
        &self,
        id: &str,
        chunk: u32,
        secrets: &Secrets,
    ) -> Result<(), StoreError> {
        let (key, bytes) = (
            chunk_key(id, chunk),
            serde_json::to_vec(secrets).map_err(corrupt)?,
        );
        self.write(move |txn| {
            let mut table = txn.open_table(SECRETS).map_err(backend)?;
            table
                .insert(key.as_str(), bytes.as_slice())
                .map_err(backend)?;
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
            let table = txn.open_table(SECRETS).map_err(backend)?;
            let value = table.get(key.as_str()).map_err(backend)?;
            Ok(match value {
                Some(v) => serde_json::from_slice(v.value()).map_err(corrupt)?,
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
            let mut table = txn.open_table(SECRETS).map_err(backend)?;
            table.remove(key.as_str()).map_err(backend)?;
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
        let (key, bytes) = (
            chunk_key(id, chunk),
            serde_json::to_vec(outcomes).map_err(corrupt)?,
        );
        let ours = outcomes.to_vec();
        self.write(move |txn| {
            let mut table = txn.open_table(CHUNKS).map_err(backend)?;
            // Write-once: the first outcomes stored are the ones the chunk is counted with.
            if let Some(existing) = table.get(key.as_str()).map_err(backend)? {
                return serde_json::from_slice(existing.value()).map_err(corrupt);
            }
            table
                .insert(key.as_str(), bytes.as_slice())
                .map_err(backend)?;
            Ok(ours)
        })
        .await
    }

    pub(super) async fn row_outcomes_item(&self, id: &str) -> Result<Vec<RowOutcome>, StoreError> {
        let (start, end) = (format!("{id}#"), format!("{id}$"));
        self.read(move |txn| {
            let table = txn.open_table(CHUNKS).map_err(backend)?;
            let mut outcomes = Vec::new();
            for entry in table.range(start.as_str()..end.as_str()).map_err(backend)? {
                let (_, value) = entry.map_err(backend)?;
                outcomes.extend(
                    serde_json::from_slice::<Vec<RowOutcome>>(value.value()).map_err(corrupt)?,
                );
            }
            outcomes.sort_by_key(|o| o.row);
            Ok(outcomes)
        })
        .await
    }
}
