//! Idempotency keys on the embedded store: each operation of the DynamoDB adapter is one write
//! transaction here that reads the key's record, checks the same rule and writes it back. An
//! expired record counts as absent, as TTL deletes lazily on AWS too.

use redb::ReadableTable;

use super::EmbeddedStore;
use crate::db::{DbError, IDEMPOTENCY_KEYS};
use bulkops_shared::error::StoreError;
use bulkops_shared::store::{KeyClaim, KeyRecord, StoredResponse};

fn read(txn: &redb::WriteTransaction, key: &str) -> Result<Option<KeyRecord>, DbError> {
    let table = txn.open_table(IDEMPOTENCY_KEYS)?;
    let value = table.get(key)?;
    Ok(value
        .map(|v| serde_json::from_str::<KeyRecord>(v.value()))
        .transpose()?)
}

fn write(txn: &redb::WriteTransaction, key: &str, record: &KeyRecord) -> Result<(), DbError> {
    let text = serde_json::to_string(record)?;
    txn.open_table(IDEMPOTENCY_KEYS)?
        .insert(key, text.as_str())?;
    Ok(())
}

impl EmbeddedStore {
    pub(super) async fn claim_key(
        &self,
        key: &str,
        claim: &KeyRecord,
    ) -> Result<KeyClaim, StoreError> {
        let (key, claim) = (key.to_owned(), claim.clone());
        self.write(move |txn| {
            let now_seconds = claim.claimed_at_ms / 1000;
            match read(txn, &key)? {
                Some(held) if held.expires_at >= now_seconds => {
                    if held.fingerprint != claim.fingerprint || !held.is_stale(claim.claimed_at_ms)
                    {
                        return Ok(KeyClaim::Held(held));
                    }
                    // Taken over: the holder's job id and fingerprint stay.
                    let taken = KeyRecord {
                        claimed_at_ms: claim.claimed_at_ms,
                        ..held
                    };
                    write(txn, &key, &taken)?;
                    Ok(KeyClaim::Won(taken))
                }
                _ => {
                    let fresh = KeyRecord {
                        response: None,
                        ..claim
                    };
                    write(txn, &key, &fresh)?;
                    Ok(KeyClaim::Won(fresh))
                }
            }
        })
        .await
    }

    pub(super) async fn answer_key(
        &self,
        key: &str,
        claimed_at_ms: i64,
        response: &StoredResponse,
    ) -> Result<(), StoreError> {
        let (key, response) = (key.to_owned(), response.clone());
        self.write(move |txn| {
            if let Some(mut held) = read(txn, &key)? {
                if held.claimed_at_ms == claimed_at_ms && held.response.is_none() {
                    held.response = Some(response);
                    write(txn, &key, &held)?;
                }
            }
            Ok(())
        })
        .await
    }

    pub(super) async fn release_key(
        &self,
        key: &str,
        claimed_at_ms: i64,
    ) -> Result<(), StoreError> {
        let key = key.to_owned();
        self.write(move |txn| {
            if let Some(held) = read(txn, &key)? {
                if held.claimed_at_ms == claimed_at_ms && held.response.is_none() {
                    txn.open_table(IDEMPOTENCY_KEYS)?.remove(key.as_str())?;
                }
            }
            Ok(())
        })
        .await
    }
}
