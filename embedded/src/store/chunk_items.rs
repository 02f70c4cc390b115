//! The row outcomes a job keeps per chunk (stored once).

use redb::ReadableTable;

use super::{chunk_key, EmbeddedStore};
use crate::db::{DbError, CHUNKS};
use bulkops_shared::error::StoreError;
use bulkops_shared::model::RowOutcome;
use bulkops_shared::store::StoredChunkJson;

impl EmbeddedStore {
    pub(super) async fn store_chunk_outcomes_item(
        &self,
        id: &str,
        chunk: u32,
        outcomes: &[RowOutcome],
    ) -> Result<Option<Vec<RowOutcome>>, StoreError> {
        let (key, bytes) = (chunk_key(id, chunk), serde_json::to_vec(outcomes)?);
        self.write(move |txn| {
            let mut table = txn.open_table(CHUNKS)?;
            // Write-once: the first outcomes stored are the ones the chunk is counted with.
            if let Some(existing) = table.get(key.as_str())? {
                return Ok(Some(serde_json::from_slice(existing.value())?));
            }
            table.insert(key.as_str(), bytes.as_slice())?;
            Ok(None)
        })
        .await
    }

    pub(super) async fn row_outcomes_item(&self, id: &str) -> Result<Vec<RowOutcome>, StoreError> {
        let (start, end) = (format!("{id}#"), format!("{id}$"));
        // Every row of the job, up to millions.
        let outcomes = self.db.read_unbounded(move |txn| {
            let table = txn.open_table(CHUNKS)?;
            let mut outcomes = Vec::new();
            for entry in table.range(start.as_str()..end.as_str())? {
                let (_, value) = entry?;
                outcomes.extend(serde_json::from_slice::<Vec<RowOutcome>>(value.value())?);
            }
            outcomes.sort_by_key(|o| o.row);
            Ok(outcomes)
        });
        Ok(outcomes.await?)
    }

    pub(super) async fn chunk_outcome_json_from_item(
        &self,
        id: &str,
        first: u32,
        max: usize,
    ) -> Result<Vec<StoredChunkJson>, StoreError> {
        let (start, end) = (chunk_key(id, first), format!("{id}$"));
        let prefix = format!("{id}#");
        self.read(move |txn| {
            let table = txn.open_table(CHUNKS)?;
            let mut chunks = Vec::new();
            for entry in table.range(start.as_str()..end.as_str())?.take(max) {
                let (key, value) = entry?;
                let chunk = key
                    .value()
                    .strip_prefix(prefix.as_str())
                    .and_then(|n| n.parse().ok())
                    .ok_or_else(|| DbError::MalformedKey(key.value().to_owned()))?;
                let json = String::from_utf8(value.value().to_vec())?;
                chunks.push(StoredChunkJson { chunk, json });
            }
            Ok(chunks)
        })
        .await
    }
}
