//! [`S3ResultFiles`]: result files in the upload bucket, as `results/<job id>/<file name>`. A
//! file up to one part is one `PutObject`; a larger one is a multipart upload of 8 MiB parts,
//! so a gigabyte of rows never sits in memory. The links are presigned `GET`s, signed with the
//! reading function's role (`s3:GetObject` on `results/*`). The bucket's lifecycle deletes the
//! files with the job's retention and aborts uploads a crashed writer left incomplete.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use aws_smithy_types::error::display::DisplayErrorContext;

use super::{ResultFile, ResultFileStore, ResultFileWriter};
use crate::error::StoreError;
use crate::staged::s3::is_job_id;

/// Where result files are kept in the bucket.
pub const RESULTS_PREFIX: &str = "results/";
/// A multipart upload's part (S3 takes 5 MiB at least, but for the last).
const PART_BYTES: usize = 8 << 20;

/// The key of job `job_id`'s `file`; `None` for an id that is not a job's.
pub fn result_key(job_id: &str, file: ResultFile) -> Option<String> {
    is_job_id(job_id).then(|| format!("{RESULTS_PREFIX}{job_id}/{}", file.name()))
}

/// Result files in one S3 bucket.
pub struct S3ResultFiles {
    client: aws_sdk_s3::Client,
    bucket: String,
}

impl S3ResultFiles {
    pub fn new(client: aws_sdk_s3::Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }

    fn key(job_id: &str, file: ResultFile) -> Result<String, StoreError> {
        result_key(job_id, file)
            .ok_or_else(|| StoreError::Corrupt(format!("{job_id:?} is not a job id")))
    }
}

fn backend<E: std::error::Error>(call: &str, key: &str, error: E) -> StoreError {
    StoreError::Backend(format!("{call} {key}: {}", DisplayErrorContext(&error)))
}

#[async_trait]
impl ResultFileStore for S3ResultFiles {
    async fn create(
        &self,
        job_id: &str,
        file: ResultFile,
    ) -> Result<Box<dyn ResultFileWriter>, StoreError> {
        Ok(Box::new(S3Writer {
            client: self.client.clone(),
            bucket: self.bucket.clone(),
            key: Self::key(job_id, file)?,
            content_type: file.content_type(),
            buffer: Vec::new(),
            upload_id: None,
            parts: Vec::new(),
            bytes: 0,
        }))
    }

    async fn link(
        &self,
        job_id: &str,
        file: ResultFile,
        expires_at_ms: i64,
    ) -> Result<String, StoreError> {
        let key = Self::key(job_id, file)?;
        let seconds = (expires_at_ms - crate::time::now_ms())
            .div_euclid(1000)
            .max(1);
        let presigning = PresigningConfig::expires_in(Duration::from_secs(seconds as u64))
            .map_err(|e| StoreError::Backend(format!("presigning {key}: {e}")))?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&key)
            .presigned(presigning)
            .await
            .map_err(|e| backend("presigning", &key, e))?;
        Ok(request.uri().to_owned())
    }
}

/// One file being written: a single `PutObject` if it stays within a part, else a multipart
/// upload started by its first full part.
struct S3Writer {
    client: aws_sdk_s3::Client,
    bucket: String,
    key: String,
    content_type: &'static str,
    buffer: Vec<u8>,
    upload_id: Option<String>,
    parts: Vec<CompletedPart>,
    bytes: u64,
}

impl S3Writer {
    async fn upload_part(&mut self) -> Result<(), StoreError> {
        let upload_id = match &self.upload_id {
            Some(id) => id.clone(),
            None => {
                let started = self
                    .client
                    .create_multipart_upload()
                    .bucket(&self.bucket)
                    .key(&self.key)
                    .content_type(self.content_type)
                    .send()
                    .await
                    .map_err(|e| backend("CreateMultipartUpload", &self.key, e))?;
                let id = started.upload_id.unwrap_or_default();
                self.upload_id = Some(id.clone());
                id
            }
        };
        let number = self.parts.len() as i32 + 1;
        let body = std::mem::take(&mut self.buffer);
        let part = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&upload_id)
            .part_number(number)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| backend("UploadPart", &self.key, e))?;
        self.parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(part.e_tag)
                .build(),
        );
        Ok(())
    }
}

#[async_trait]
impl ResultFileWriter for S3Writer {
    async fn write(&mut self, bytes: &mut Vec<u8>) -> Result<(), StoreError> {
        self.buffer.extend_from_slice(bytes);
        self.bytes += bytes.len() as u64;
        bytes.clear();
        if self.buffer.len() >= PART_BYTES {
            self.upload_part().await?;
        }
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> Result<u64, StoreError> {
        let Some(upload_id) = self.upload_id.clone() else {
            let body = std::mem::take(&mut self.buffer);
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(&self.key)
                .content_type(self.content_type)
                .body(ByteStream::from(body))
                .send()
                .await
                .map_err(|e| backend("PutObject", &self.key, e))?;
            return Ok(self.bytes);
        };
        if !self.buffer.is_empty() {
            self.upload_part().await?;
        }
        let parts = std::mem::take(&mut self.parts);
        self.client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| backend("CompleteMultipartUpload", &self.key, e))?;
        Ok(self.bytes)
    }
}
