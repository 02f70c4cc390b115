//! The row outcomes a job keeps per chunk (stored once).

use redb::ReadableTable;

use super::{chunk_key, EmbeddedStore};
use crate::db::CHUNKS;
use bulkops_shared::error::StoreError;
use bulkops_shared::model::RowOutcome;

impl EmbeddedStore {
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
