//! Staged files on the local server: the [`UploadStore`] that hands out upload URLs this
//! server signs itself (HMAC-SHA256 over the method, path and expiry, with a key kept in the
//! data directory) and keeps each file in `<data>/uploads/<job id>`; and the `PUT` that checks
//! the signature, takes the file as a stream and starts its split.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use bulkops_shared::error::StoreError;
use bulkops_shared::staged::{UploadReader, UploadStore, UploadTarget};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Where the `PUT`s of staged files go (local server only; on AWS they go to S3).
pub const UPLOADS_PATH: &str = "/uploads/";
const KEY_FILE: &str = "upload-signing-key";
const DIRECTORY: &str = "uploads";

/// Why a `PUT` of a staged file is refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the upload URL is not one this server signed (a wrong or missing signature)")]
    BadSignature,
    #[error("the upload URL expired")]
    Expired,
    #[error("no such upload")]
    UnknownJob,
}

/// Staged files in the data directory, with URLs signed by this server.
pub struct LocalUploads {
    directory: PathBuf,
    key: Vec<u8>,
    /// `http://host:port` of this server, as callers reach it.
    base_url: String,
}

impl LocalUploads {
    /// The uploads of `data_dir` (its signing key created on first use), reached at
    /// `base_url`.
    pub fn open(data_dir: &Path, base_url: String) -> anyhow::Result<Self> {
        let directory = data_dir.join(DIRECTORY);
        std::fs::create_dir_all(&directory)?;
        let key_path = data_dir.join(KEY_FILE);
        let key = match std::fs::read_to_string(&key_path) {
            Ok(text) => decode_hex(text.trim())
                .ok_or_else(|| anyhow::anyhow!("{} is not hex", key_path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = vec![0u8; 32];
                getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("no random key: {e}"))?;
                super::token::write_private(&key_path, &encode_hex(&key))?;
                key
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Self {
            directory,
            key,
            base_url,
        })
    }

    /// Where job `job_id`'s file is kept (`None` for an id that is not a plain name).
    pub fn file(&self, job_id: &str) -> Option<PathBuf> {
        let plain = !job_id.is_empty()
            && job_id.len() <= 64
            && job_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        plain.then(|| self.directory.join(job_id))
    }

    /// The files that arrived, by job id (for finishing their splits after a restart).
    pub fn arrived(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.directory) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|name| self.file(name).is_some())
            .collect()
    }

    /// The MAC of a `method` of `path` until `expires_s`.
    fn mac(&self, method: &str, path: &str, expires_s: i64) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(format!("{method}\n{path}\n{expires_s}").as_bytes());
        mac
    }

    /// The signature of a `method` of `path` until `expires_s` (upload URLs and result links).
    pub fn signature(&self, method: &str, path: &str, expires_s: i64) -> String {
        encode_hex(&self.mac(method, path, expires_s).finalize().into_bytes())
    }

    /// Checks a signed URL's `expires` and `signature` for a `method` of `path`.
    pub fn check(
        &self,
        (method, path): (&str, &str),
        expires: Option<&str>,
        signature: Option<&str>,
        now_ms: i64,
    ) -> Result<(), Refusal> {
        let (Some(expires), Some(signature)) = (expires, signature) else {
            return Err(Refusal::BadSignature);
        };
        let expires_s: i64 = expires.parse().map_err(|_| Refusal::BadSignature)?;
        // Compared in constant time: the signature is the only credential of the request.
        let given = decode_hex(signature).ok_or(Refusal::BadSignature)?;
        if self
            .mac(method, path, expires_s)
            .verify_slice(&given)
            .is_err()
        {
            return Err(Refusal::BadSignature);
        }
        if now_ms / 1000 >= expires_s {
            return Err(Refusal::Expired);
        }
        Ok(())
    }

    /// Checks a `PUT` of job `job_id`'s file with the query's `expires` and `signature`.
    pub fn verify(
        &self,
        job_id: &str,
        expires: Option<&str>,
        signature: Option<&str>,
        now_ms: i64,
    ) -> Result<PathBuf, Refusal> {
        let path = self.file(job_id).ok_or(Refusal::UnknownJob)?;
        let url_path = format!("{UPLOADS_PATH}{job_id}");
        self.check(("PUT", &url_path), expires, signature, now_ms)?;
        Ok(path)
    }
}

#[async_trait]
impl UploadStore for LocalUploads {
    async fn upload_target(
        &self,
        job_id: &str,
        expires_at_ms: i64,
    ) -> Result<UploadTarget, StoreError> {
        let expires_s = expires_at_ms / 1000;
        Ok(UploadTarget {
            url: format!(
                "{}{UPLOADS_PATH}{job_id}?expires={expires_s}&signature={}",
                self.base_url,
                self.signature("PUT", &format!("{UPLOADS_PATH}{job_id}"), expires_s)
            ),
            method: "PUT".to_owned(),
            expires_at: bulkops_shared::time::rfc3339(expires_s * 1000),
        })
    }

    async fn open(&self, job_id: &str) -> Result<Option<UploadReader>, StoreError> {
        let Some(path) = self.file(job_id) else {
            return Ok(None);
        };
        match tokio::fs::File::open(&path).await {
            Ok(file) => Ok(Some(Box::new(tokio::io::BufReader::with_capacity(
                256 * 1024,
                file,
            )))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::Backend(format!("{}: {e}", path.display()))),
        }
    }
}

fn encode_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_this_servers_unexpired_signatures_pass() {
        let dir = tempfile::tempdir().unwrap();
        let uploads = LocalUploads::open(dir.path(), "http://127.0.0.1:1".into()).unwrap();
        let target = uploads.upload_target("job-1", 10_000_000).await.unwrap();
        let query = target.url.split_once('?').unwrap().1;
        let get = |name: &str| {
            query
                .split('&')
                .find_map(|p| p.strip_prefix(&format!("{name}=")))
                .map(str::to_owned)
        };
        let (expires, signature) = (get("expires"), get("signature"));
        let check = |job: &str, expires: Option<&str>, signature: Option<&str>, now: i64| {
            uploads.verify(job, expires, signature, now)
        };
        let (e, s) = (expires.as_deref(), signature.as_deref());
        assert!(check("job-1", e, s, 9_000_000).is_ok());
        assert_eq!(check("job-1", e, s, 10_000_000), Err(Refusal::Expired));
        assert_eq!(check("job-2", e, s, 0), Err(Refusal::BadSignature));
        assert_eq!(
            check("job-1", Some("10001"), s, 0),
            Err(Refusal::BadSignature)
        );
        assert_eq!(check("job-1", e, Some("00"), 0), Err(Refusal::BadSignature));
        assert_eq!(check("job-1", e, None, 0), Err(Refusal::BadSignature));
        assert_eq!(check("../x", e, s, 0), Err(Refusal::UnknownJob));
        // Another data directory has another key.
        let other_dir = tempfile::tempdir().unwrap();
        let other = LocalUploads::open(other_dir.path(), "http://x".into()).unwrap();
        assert_eq!(other.verify("job-1", e, s, 0), Err(Refusal::BadSignature));
        // The key survives a restart.
        let again = LocalUploads::open(dir.path(), "http://127.0.0.1:1".into()).unwrap();
        assert!(again.verify("job-1", e, s, 0).is_ok());
    }
}
