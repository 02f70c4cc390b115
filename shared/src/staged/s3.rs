//! [`S3Uploads`]: the [`UploadStore`] on AWS. A job's file is the object `uploads/<job id>` of
//! the upload bucket: the caller `PUT`s it to a presigned URL (signed with the submit
//! function's role, so it may do only what that role may: `s3:PutObject` on `uploads/*`), and
//! the object's creation notifies the split queue (see [`super::notifications`]), whose
//! function reads it back here as a stream.

use std::time::{Duration, UNIX_EPOCH};

use async_trait::async_trait;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_smithy_types::error::display::DisplayErrorContext;

use super::{UploadReader, UploadStore, UploadTarget};
use crate::error::StoreError;

/// Where staged files are kept in the bucket; the bucket notifies the split queue of objects
/// created under it, and its lifecycle rule deletes them after the job's retention.
pub const UPLOAD_PREFIX: &str = "uploads/";
/// The read buffer over the object's body.
const READ_BUFFER_BYTES: usize = 256 * 1024;

/// Whether `id` can be a job's id: a UUID in its canonical form (a flash pass job) or a
/// number (a bulk account upload). Only these become object keys, so that a key names at most
/// one job and nothing in it needs escaping.
pub fn is_job_id(id: &str) -> bool {
    let number = !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit());
    let uuid = uuid::Uuid::try_parse(id).is_ok_and(|u| u.hyphenated().to_string() == id);
    number || uuid
}

/// The object key of job `job_id`'s file; `None` for an id that is not a job's.
pub fn upload_key(job_id: &str) -> Option<String> {
    is_job_id(job_id).then(|| format!("{UPLOAD_PREFIX}{job_id}"))
}

/// The job whose file `key` (decoded) is; `None` for any other key.
pub fn job_of_key(key: &str) -> Option<&str> {
    key.strip_prefix(UPLOAD_PREFIX).filter(|id| is_job_id(id))
}

/// Staged files in one S3 bucket.
pub struct S3Uploads {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3Uploads {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    fn key(&self, job_id: &str) -> Result<String, StoreError> {
        upload_key(job_id).ok_or_else(|| {
            StoreError::Corrupt(format!("{job_id:?} is not a job id: it names no upload"))
        })
    }
}

#[async_trait]
impl UploadStore for S3Uploads {
    /// A presigned `PUT` of `uploads/<job id>`, valid from now until `expires_at_ms` (whole
    /// seconds, as SigV4 counts them). It is signed here, without a call to AWS.
    async fn upload_target(
        &self,
        job_id: &str,
        expires_at_ms: i64,
    ) -> Result<UploadTarget, StoreError> {
        let key = self.key(job_id)?;
        let now_s = crate::time::now_ms().div_euclid(1000);
        let expires_s = expires_at_ms.div_euclid(1000);
        // Signed at a whole second, so that the URL ends exactly at `expires_s`; a target
        // asked for after its time (a replayed create) gets the shortest URL there is.
        let seconds = u64::try_from(expires_s - now_s).unwrap_or(0).max(1);
        let start = UNIX_EPOCH + Duration::from_secs(u64::try_from(now_s).unwrap_or(0));
        let presigning = PresigningConfig::builder()
            .start_time(start)
            .expires_in(Duration::from_secs(seconds))
            .build()
            .map_err(|e| StoreError::Backend(format!("presigning {key}: {e}")))?;
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .presigned(presigning)
            .await
            .map_err(|e| {
                StoreError::Backend(format!("presigning {key}: {}", DisplayErrorContext(&e)))
            })?;
        let ends_ms = (start + Duration::from_secs(seconds))
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        Ok(UploadTarget {
            url: request.uri().to_owned(),
            method: request.method().to_owned(),
            expires_at: crate::time::rfc3339(ends_ms),
        })
    }

    /// The object's body as a stream (never the whole object in memory); `None` when there is
    /// no such object.
    async fn open(&self, job_id: &str) -> Result<Option<UploadReader>, StoreError> {
        let key = self.key(job_id)?;
        let output = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .send()
            .await
        {
            Ok(output) => output,
            Err(error) => {
                return match error.into_service_error() {
                    GetObjectError::NoSuchKey(_) => Ok(None),
                    other => Err(StoreError::Backend(format!(
                        "GetObject {key}: {}",
                        DisplayErrorContext(&other)
                    ))),
                }
            }
        };
        let reader = output.body.into_async_read();
        Ok(Some(Box::new(tokio::io::BufReader::with_capacity(
            READ_BUFFER_BYTES,
            reader,
        ))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(endpoint: Option<&str>) -> S3Uploads {
        let mut config = aws_config::SdkConfig::builder()
            .region(aws_config::Region::new("eu-west-1"))
            .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(
                aws_sdk_s3::config::Credentials::new("AKIDEXAMPLE", "secret", None, None, "t"),
            ))
            .behavior_version(aws_config::BehaviorVersion::latest());
        if let Some(endpoint) = endpoint {
            config = config.endpoint_url(endpoint);
        }
        let client = aws_sdk_s3::Client::from_conf(crate::aws::s3_config(&config.build()).build());
        S3Uploads::new(client, "bulkops-uploads")
    }

    fn parameter<'u>(url: &'u str, name: &str) -> Option<&'u str> {
        url.split_once('?')?
            .1
            .split('&')
            .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
    }

    /// What a browser or curl can send: the URL alone (only `host` is signed, no checksum
    /// to compute), ending exactly when the job's upload does.
    #[tokio::test]
    async fn a_presigned_put_ends_when_the_upload_does_and_signs_only_the_host() {
        let job = "0f8fad5b-d9cb-469f-a165-70867728950e";
        let expires_s = crate::time::now_ms() / 1000 + 3_600;
        let target = store(None)
            .upload_target(job, expires_s * 1000 + 999)
            .await
            .unwrap();
        assert_eq!(target.method, "PUT");
        assert_eq!(target.expires_at, crate::time::rfc3339(expires_s * 1000));
        let url = &target.url;
        assert!(
            url.starts_with(&format!(
                "https://bulkops-uploads.s3.eu-west-1.amazonaws.com/uploads/{job}?"
            )),
            "{url}"
        );
        assert_eq!(parameter(url, "X-Amz-SignedHeaders"), Some("host"), "{url}");
        assert!(!url.to_ascii_lowercase().contains("checksum"), "{url}");
        let date = parameter(url, "X-Amz-Date").unwrap();
        let start = chrono::NaiveDateTime::parse_from_str(date, "%Y%m%dT%H%M%SZ")
            .unwrap()
            .and_utc()
            .timestamp();
        let seconds: i64 = parameter(url, "X-Amz-Expires").unwrap().parse().unwrap();
        assert_eq!(start + seconds, expires_s);
        assert!((3_598..=3_600).contains(&seconds), "{seconds}");

        // Path-style against an emulator's endpoint.
        let local = store(Some("http://127.0.0.1:5055"))
            .upload_target("42", expires_s * 1000)
            .await
            .unwrap();
        assert!(
            local
                .url
                .starts_with("http://127.0.0.1:5055/bulkops-uploads/uploads/42?"),
            "{}",
            local.url
        );
        // A job id that is no job's names no object.
        assert!(store(None).upload_target("../x", 0).await.is_err());
    }

    #[test]
    fn only_job_ids_name_uploads() {
        let uuid = "0f8fad5b-d9cb-469f-a165-70867728950e";
        assert_eq!(
            upload_key(uuid).as_deref(),
            Some(&*format!("uploads/{uuid}"))
        );
        assert_eq!(upload_key("42").as_deref(), Some("uploads/42"));
        for bad in [
            "",
            "../x",
            "a/b",
            "0F8FAD5B-D9CB-469F-A165-70867728950E",
            "0f8fad5bd9cb469fa16570867728950e",
            "{0f8fad5b-d9cb-469f-a165-70867728950e}",
            "-1",
            "1 ",
            "123456789012345678901",
        ] {
            assert_eq!(upload_key(bad), None, "{bad:?}");
        }
        assert_eq!(job_of_key(&format!("uploads/{uuid}")), Some(uuid));
        assert_eq!(job_of_key("uploads/7"), Some("7"));
        assert_eq!(job_of_key("results/7"), None);
        assert_eq!(job_of_key("uploads/7/x"), None);
        assert_eq!(job_of_key("uploads/"), None);
    }
}
