//! Result files on the local server: kept in `<data>/results/<job id>/<name>`, written by a
//! background task when a job ends (the [`ResultsRequests`] of this server), linked with URLs
//! this server signs (the upload URLs' key), and served by `GET /results/<job id>/<name>`,
//! whose signature is its only credential (a wrong or expired one is a 403).

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::body::Body as AxumBody;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use bulkops_shared::engine::EventFlush;
use bulkops_shared::error::StoreError;
use bulkops_shared::results::{ResultFile, ResultFileStore, ResultFileWriter, ResultsRequests};
use bulkops_shared::store::JobStore;
use serde_json::json;

use super::uploads::{LocalUploads, Refusal};

/// Where the result links point (local server only; on AWS they are presigned S3 URLs).
pub const RESULTS_PATH: &str = "/results/";
const DIRECTORY: &str = "results";

/// Result files in the data directory.
pub struct LocalResultFiles {
    directory: PathBuf,
    /// Signs and checks the links, with the upload URLs' key.
    signer: Arc<LocalUploads>,
}

impl LocalResultFiles {
    pub fn open(data_dir: &std::path::Path, signer: Arc<LocalUploads>) -> anyhow::Result<Self> {
        let directory = data_dir.join(DIRECTORY);
        std::fs::create_dir_all(&directory)?;
        Ok(Self { directory, signer })
    }

    /// The file of `job_id`'s `name`: only a job id and a result file's name make a path.
    fn path(&self, job_id: &str, name: &str) -> Option<PathBuf> {
        let file = ResultFile::from_name(name)?;
        bulkops_shared::staged::s3::is_job_id(job_id)
            .then(|| self.directory.join(job_id).join(file.name()))
    }

    /// `GET /results/<job id>/<name>?expires=&signature=`: the file, if the link is this
    /// server's and unexpired.
    pub async fn serve(&self, rest: &str, query: &str) -> Response {
        let parameter = |name: &str| {
            query
                .split('&')
                .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
        };
        let refused = |status: StatusCode, message: String| {
            let body = json!({ "code": status.as_str(), "message": message }).to_string();
            (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
        };
        let Some((path, file)) = rest.split_once('/').and_then(|(job_id, name)| {
            Some((self.path(job_id, name)?, ResultFile::from_name(name)?))
        }) else {
            return refused(StatusCode::NOT_FOUND, "no such result file".into());
        };
        let url_path = format!("{RESULTS_PATH}{rest}");
        let signature = (parameter("expires"), parameter("signature"));
        let now = bulkops_shared::time::now_ms();
        if let Err(refusal @ (Refusal::BadSignature | Refusal::Expired | Refusal::UnknownJob)) =
            self.signer
                .check(("GET", &url_path), signature.0, signature.1, now)
        {
            return refused(StatusCode::FORBIDDEN, refusal.to_string());
        }
        match tokio::fs::File::open(&path).await {
            Ok(opened) => {
                let body = AxumBody::from_stream(tokio_util::io::ReaderStream::new(opened));
                let headers = [(header::CONTENT_TYPE, file.content_type())];
                (StatusCode::OK, headers, body).into_response()
            }
            Err(e) => refused(StatusCode::NOT_FOUND, format!("no such result file: {e}")),
        }
    }
}

#[async_trait]
impl ResultFileStore for LocalResultFiles {
    async fn create(
        &self,
        job_id: &str,
        file: ResultFile,
    ) -> Result<Box<dyn ResultFileWriter>, StoreError> {
        let path = self
            .path(job_id, file.name())
            .ok_or_else(|| StoreError::Corrupt(format!("{job_id:?} is not a job id")))?;
        let backend = |e: std::io::Error| StoreError::Backend(format!("{}: {e}", path.display()));
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(backend)?;
        }
        // Written beside, then renamed over: a reader never sees half a file, and two writers
        // of one job never share one.
        let partial = path.with_extension(format!("part-{}", uuid::Uuid::new_v4()));
        let file = tokio::fs::File::create(&partial).await.map_err(backend)?;
        Ok(Box::new(LocalWriter {
            path,
            partial,
            file: Arc::new(file.into_std().await),
            bytes: 0,
            under_way: None,
        }))
    }

    /// A path of this server (a relative `Location`, resolved against the request's URL).
    async fn link(
        &self,
        job_id: &str,
        file: ResultFile,
        expires_at_ms: i64,
    ) -> Result<String, StoreError> {
        let expires_s = expires_at_ms / 1000;
        let path = format!("{RESULTS_PATH}{job_id}/{}", file.name());
        let signature = self.signer.signature("GET", &path, expires_s);
        Ok(format!("{path}?expires={expires_s}&signature={signature}"))
    }
}

/// Writes on blocking threads with `std::fs`: a `tokio::fs::File` copies every write into
/// a buffer of its own before handing it to one, and the result writer's buffers are 1 MiB.
/// One write is under way while the caller fills the other buffer.
struct LocalWriter {
    path: PathBuf,
    partial: PathBuf,
    file: Arc<std::fs::File>,
    bytes: u64,
    under_way: Option<tokio::task::JoinHandle<(std::io::Result<()>, Vec<u8>)>>,
}

impl LocalWriter {
    fn error(&self, e: impl std::fmt::Display) -> StoreError {
        StoreError::Backend(format!("{}: {e}", self.partial.display()))
    }

    /// Waits for the write under way, if any, and returns its buffer, cleared.
    async fn settle(&mut self) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(under_way) = self.under_way.take() else {
            return Ok(None);
        };
        let (written, mut buffer) = under_way.await.map_err(|e| self.error(e))?;
        written.map_err(|e| self.error(e))?;
        buffer.clear();
        Ok(Some(buffer))
    }
}

#[async_trait]
impl ResultFileWriter for LocalWriter {
    async fn write(&mut self, bytes: &mut Vec<u8>) -> Result<(), StoreError> {
        self.bytes += bytes.len() as u64;
        let spare = match self.settle().await? {
            Some(buffer) => buffer,
            None => Vec::with_capacity(bytes.capacity()),
        };
        let (file, buffer) = (self.file.clone(), std::mem::replace(bytes, spare));
        self.under_way = Some(tokio::task::spawn_blocking(move || {
            ((&*file).write_all(&buffer), buffer)
        }));
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> Result<u64, StoreError> {
        self.settle().await?;
        let (file, partial, path) = (self.file.clone(), self.partial.clone(), self.path.clone());
        let done = tokio::task::spawn_blocking(move || {
            file.sync_all()?;
            std::fs::rename(&partial, &path)
        })
        .await
        .map_err(|e| self.error(e))?;
        done.map_err(|e| self.error(e))?;
        Ok(self.bytes)
    }
}

/// Tasks the server waits for when it shuts down (they hold the store).
pub type Background = Arc<Mutex<tokio::task::JoinSet<()>>>;

/// Writes a job's result files in a background task of this server (one at a time per job).
pub struct LocalResultsRequests {
    pub jobs: Arc<dyn JobStore>,
    pub files: Arc<LocalResultFiles>,
    writing: Arc<Mutex<HashSet<String>>>,
    background: Background,
}

impl LocalResultsRequests {
    pub fn new(
        jobs: Arc<dyn JobStore>,
        files: Arc<LocalResultFiles>,
        background: Background,
    ) -> Self {
        Self {
            jobs,
            files,
            writing: Arc::default(),
            background,
        }
    }
}

#[async_trait]
impl ResultsRequests for LocalResultsRequests {
    async fn request(&self, job_id: &str) -> Result<(), StoreError> {
        let started = self
            .writing
            .lock()
            .map_or(false, |mut writing| writing.insert(job_id.to_owned()));
        if !started {
            return Ok(());
        }
        let (jobs, files, writing) = (self.jobs.clone(), self.files.clone(), self.writing.clone());
        let job_id = job_id.to_owned();
        let Ok(mut background) = self.background.lock() else {
            return Err(StoreError::Backend(
                "the server's task set is poisoned".into(),
            ));
        };
        // Finished tasks are reaped as new ones come, so the set stays small.
        while background.try_join_next().is_some() {}
        background.spawn(async move {
            let written =
                bulkops_shared::results::write_for_job(jobs.as_ref(), files.as_ref(), &job_id)
                    .await;
            if let Err(error) = written {
                tracing::error!(job_id, %error, "writing result files failed; a read asks again");
            }
            if let Ok(mut writing) = writing.lock() {
                writing.remove(&job_id);
            }
        });
        Ok(())
    }
}

impl super::backend::Backend {
    /// Result files in `files`: every function's flush asks for a final job's files (written
    /// by a task of this server), and the read routes link them.
    pub fn attach_results(&mut self, files: Arc<LocalResultFiles>) {
        use bulkops_shared::results::{ResultAccess, ResultsOnEnd, ResultsRequests};
        let jobs = self.query.jobs.clone();
        let requests: Arc<dyn ResultsRequests> = Arc::new(LocalResultsRequests::new(
            jobs.clone(),
            files.clone(),
            self.background.clone(),
        ));
        let wrap = |inner: &Arc<dyn EventFlush>| -> Arc<dyn EventFlush> {
            Arc::new(ResultsOnEnd {
                inner: inner.clone(),
                jobs: jobs.clone(),
                requests: requests.clone(),
            })
        };
        self.processor.events = wrap(&self.processor.events);
        self.dead_letter.events = wrap(&self.dead_letter.events);
        self.submit.events = wrap(&self.submit.events);
        self.cancel.events = wrap(&self.cancel.events);
        self.query.events = wrap(&self.query.events);
        let access = ResultAccess { files, requests };
        self.query.results = Some(access.clone());
        self.cancel.results = Some(access);
    }
}
