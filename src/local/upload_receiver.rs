//! `PUT /uploads/<job id>?expires=&signature=` (local server only; on AWS the file goes to
//! S3): the signature is the credential (a wrong or expired one is a 403); the job must be
//! waiting for its file (else 409); the body is written as a stream to the data directory (at
//! most 1 GB, else 413), then split in the background while the caller is answered 200.

use std::sync::Arc;

use axum::body::Body as AxumBody;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use bulkops_shared::model::JobState;
use bulkops_shared::staged::{split_upload, MAX_FILE_BYTES};
use http_body_util::BodyExt;
use serde_json::json;
use tokio::io::AsyncWriteExt;

use super::backend::Backend;
use super::uploads::{LocalUploads, Refusal};

fn answer(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = json!({ "code": code, "message": message.into() });
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// The value of `name` in a query string of hex and digits (nothing to percent-decode).
fn parameter<'q>(query: &'q str, name: &str) -> Option<&'q str> {
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

/// Takes job `job_id`'s file from `body` and starts its split.
pub async fn receive(
    backend: &Arc<Backend>,
    uploads: &Arc<LocalUploads>,
    job_id: &str,
    query: &str,
    body: AxumBody,
) -> Response {
    let now = bulkops_shared::time::now_ms();
    let (expires, signature) = (parameter(query, "expires"), parameter(query, "signature"));
    let path = match uploads.verify(job_id, expires, signature, now) {
        Ok(path) => path,
        Err(refusal @ (Refusal::BadSignature | Refusal::Expired)) => {
            return answer(StatusCode::FORBIDDEN, "FORBIDDEN", refusal.to_string())
        }
        Err(refusal @ Refusal::UnknownJob) => {
            return answer(StatusCode::NOT_FOUND, "NOT_FOUND", refusal.to_string())
        }
    };
    match backend.splitting.jobs.get_job(job_id).await {
        Ok(Some(job)) if job.state == JobState::AwaitingData => {}
        Ok(Some(job)) => {
            return answer(
                StatusCode::CONFLICT,
                "CONFLICT",
                format!(
                    "job {job_id} is {}: it takes no file any more",
                    job.state.as_str()
                ),
            )
        }
        Ok(None) => return answer(StatusCode::NOT_FOUND, "NOT_FOUND", "no such job"),
        Err(error) => {
            tracing::error!(%error, "reading the job of an upload");
            return answer(
                StatusCode::SERVICE_UNAVAILABLE,
                "UNAVAILABLE",
                "retry the upload",
            );
        }
    }
    let partial = path.with_extension("part");
    if let Err(response) = write_file(&partial, body).await {
        let _ = tokio::fs::remove_file(&partial).await;
        return response;
    }
    if let Err(error) = tokio::fs::rename(&partial, &path).await {
        tracing::error!(%error, "keeping an upload");
        return answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "UNAVAILABLE",
            "retry the upload",
        );
    }
    spawn_split(backend.clone(), uploads.clone(), job_id.to_owned());
    StatusCode::OK.into_response()
}

/// Writes `body` to `path` as it arrives, refusing more than [`MAX_FILE_BYTES`].
async fn write_file(path: &std::path::Path, body: AxumBody) -> Result<(), Response> {
    let unavailable = |error: std::io::Error| {
        tracing::error!(%error, "writing an upload");
        answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "UNAVAILABLE",
            "retry the upload",
        )
    };
    let file = tokio::fs::File::create(path).await.map_err(unavailable)?;
    let mut file = tokio::io::BufWriter::with_capacity(256 * 1024, file);
    let mut body = body;
    let mut written: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| {
            answer(
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST",
                "the upload ended early",
            )
        })?;
        let Ok(chunk) = frame.into_data() else {
            continue;
        };
        written += chunk.len() as u64;
        if written > MAX_FILE_BYTES {
            return Err(answer(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                format!("a staged file is at most {MAX_FILE_BYTES} bytes"),
            ));
        }
        file.write_all(&chunk).await.map_err(unavailable)?;
    }
    file.flush().await.map_err(unavailable)?;
    file.get_ref().sync_all().await.map_err(unavailable)?;
    Ok(())
}

/// Splits job `job_id`'s file in the background; once its job is released (or failed), the
/// file is deleted and the job's event goes out. A split that fails is logged and retried at
/// the next start of the server (the file stays).
pub fn spawn_split(backend: Arc<Backend>, uploads: Arc<LocalUploads>, job_id: String) {
    tokio::spawn(async move {
        match split_upload(backend.splitting.deps(), uploads.as_ref(), &job_id).await {
            Ok(job) if job.state != JobState::AwaitingData => {
                backend.submit.events.flush(&job_id).await;
                if let Some(path) = uploads.file(&job_id) {
                    let _ = tokio::fs::remove_file(path).await;
                }
                tracing::info!(job_id, state = job.state.as_str(), "staged file split");
            }
            Ok(_) => tracing::warn!(job_id, "staged file not split: its job still awaits data"),
            Err(error) => {
                tracing::error!(job_id, %error, "staged file not split; retried at the next start")
            }
        }
    });
}
