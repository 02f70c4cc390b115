//! [`SecretStore`]: the values a job must never show or queue (account secrets), kept beside
//! it. A chunk's secrets are staged before it is queued and deleted once it is recorded; the
//! secrets of its failed rows are first copied aside, so that a retry of those rows can send
//! them again. Both live at most [`SECRETS_RETENTION_SECONDS`] after the job was created.

use async_trait::async_trait;

use crate::error::StoreError;
use crate::model::{Job, Secrets};

/// How long after its job was created a secret is kept (staged or kept for a retry); a job
/// must finish within it, and its failed rows can be retried within it.
pub const SECRETS_RETENTION_SECONDS: i64 = 4 * 24 * 3600;

/// When `job`'s secrets are deleted (epoch milliseconds).
pub fn secrets_expire_at_ms(job: &Job) -> i64 {
    job.init_time_ms + SECRETS_RETENTION_SECONDS * 1000
}

/// Staged and kept secrets, encrypted at rest, each with a TTL.
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// Stores a chunk's sealed values until the chunk is done.
    async fn put_chunk_secrets(
        &self,
        id: &str,
        chunk: u32,
        secrets: &Secrets,
    ) -> Result<(), StoreError>;
    /// A chunk's sealed values (empty once deleted).
    async fn chunk_secrets(&self, id: &str, chunk: u32) -> Result<Secrets, StoreError>;
    /// Deletes a chunk's sealed values; idempotent.
    async fn delete_chunk_secrets(&self, id: &str, chunk: u32) -> Result<(), StoreError>;
    /// Keeps the secrets of chunk `chunk`'s failed rows until `until_ms`, for a retry;
    /// idempotent (a redelivery writes the same values).
    async fn keep_failed_secrets(
        &self,
        id: &str,
        chunk: u32,
        secrets: &Secrets,
        until_ms: i64,
    ) -> Result<(), StoreError>;
    /// Every kept secret of job `id`, by row.
    async fn kept_secrets(&self, id: &str) -> Result<Secrets, StoreError>;
}
