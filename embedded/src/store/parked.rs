//! [`ChunkParking`] on the embedded file: chunk messages waiting for their turn in the queue.

use async_trait::async_trait;
use bulkops_shared::error::StoreError;
use bulkops_shared::model::ChunkMessage;
use bulkops_shared::store::ChunkParking;

use super::{chunk_key, EmbeddedStore};
use crate::db::PARKED;

#[async_trait]
impl ChunkParking for EmbeddedStore {
    async fn park_chunks(&self, chunks: &[ChunkMessage]) -> Result<(), StoreError> {
        let mut entries = Vec::with_capacity(chunks.len());
        for chunk in chunks {
            let body = serde_json::to_string(chunk)?;
            entries.push((chunk_key(&chunk.job_id, chunk.chunk), body));
        }
        self.write(move |txn| {
            let mut table = txn.open_table(PARKED)?;
            for (key, body) in &entries {
                table.insert(key.as_str(), body.as_str())?;
            }
            Ok(())
        })
        .await
    }

    async fn parked_chunk(
        &self,
        job_id: &str,
        chunk: u32,
    ) -> Result<Option<ChunkMessage>, StoreError> {
        let key = chunk_key(job_id, chunk);
        self.read(move |txn| {
            let table = txn.open_table(PARKED)?;
            let value = table.get(key.as_str())?;
            Ok(value.map(|v| serde_json::from_str(v.value())).transpose()?)
        })
        .await
    }
}
