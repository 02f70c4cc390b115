//! What the store keeps for an `Idempotency-Key`: which request holds it (by its body's
//! fingerprint), the job that request creates, and, once answered, the answer to replay.

use serde::{Deserialize, Serialize};

/// How long a key is kept: the IETF draft's suggestion of 24 hours.
pub const IDEMPOTENCY_RETENTION_SECONDS: i64 = 24 * 3600;

/// How long a request holds its key before a retry may take it over: longer than the create
/// function's timeout (a test keeps it so), so the holder is certainly gone by then.
pub const IDEMPOTENCY_LEASE_MS: i64 = 120_000;

/// A key's record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyRecord {
    /// SHA-256 of the request body that claimed the key.
    pub fingerprint: String,
    /// The job the request creates (drawn before the claim, so a takeover reuses it).
    pub job_id: String,
    /// When the holder claimed it; a takeover renews it.
    pub claimed_at_ms: i64,
    /// Epoch seconds after which the key is gone (the table's TTL attribute).
    pub expires_at: i64,
    /// The answer, once the holder gave one. Absent (never null) until then: the stores'
    /// conditions test for its absence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<StoredResponse>,
}

impl KeyRecord {
    /// A new claim by a request with `fingerprint`, for `job_id`.
    pub fn new(fingerprint: String, job_id: String, now_ms: i64) -> Self {
        Self {
            fingerprint,
            job_id,
            claimed_at_ms: now_ms,
            expires_at: now_ms / 1000 + IDEMPOTENCY_RETENTION_SECONDS,
            response: None,
        }
    }

    /// Whether a retry may take the key over: never answered, and its lease ran out.
    pub fn is_stale(&self, now_ms: i64) -> bool {
        self.response.is_none() && self.claimed_at_ms + IDEMPOTENCY_LEASE_MS <= now_ms
    }
}

/// An answer as it is replayed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredResponse {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

/// What a claim found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyClaim {
    /// This request holds the key now: new, or taken over from a holder whose lease ran out
    /// (the record then keeps that holder's job id and fingerprint).
    Won(KeyRecord),
    /// Another request holds it (or held it and answered): the record as it is.
    Held(KeyRecord),
}
