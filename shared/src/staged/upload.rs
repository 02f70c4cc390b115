//! [`UploadStore`]: where a staged job's file is sent and read back. On AWS an S3 bucket (a
//! presigned PUT URL; the object's creation starts the split); locally the data directory (a
//! URL the local server signs and checks itself). The file's key is the job's id.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncBufRead;

use crate::error::StoreError;

/// How long an upload URL takes the file: an hour, time to send a gigabyte over a slow link.
pub const UPLOAD_URL_SECONDS: i64 = 3_600;

/// A staged file being read.
pub type UploadReader = Box<dyn AsyncBufRead + Send + Unpin>;

/// Where and how the caller sends a staged job's file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadTarget {
    /// The URL to send the file to, with `method`, until `expires_at`.
    pub url: String,
    pub method: String,
    /// RFC 3339.
    pub expires_at: String,
}

/// Staged files, one per job.
#[async_trait]
pub trait UploadStore: Send + Sync {
    /// Where job `job_id`'s file goes: a URL that takes it until `expires_at_ms`.
    async fn upload_target(
        &self,
        job_id: &str,
        expires_at_ms: i64,
    ) -> Result<UploadTarget, StoreError>;
    /// Job `job_id`'s file, read as a stream, once it has arrived.
    async fn open(&self, job_id: &str) -> Result<Option<UploadReader>, StoreError>;
}
