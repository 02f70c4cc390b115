//! The result files over HTTP: `GET …/{id}/results/{file}` answers `303 See Other` to a link
//! that reads the file (a presigned S3 `GET`, or the local server's signed URL), and the
//! download-logs route hands its log over the same way once it is too large for a Lambda
//! response. The caller's rights are checked by the route, as for the job itself.

use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Response};

use crate::error::{ApiError, StoreError};
use crate::model::Job;
use crate::results::{OutcomePages, ResultAccess, ResultFile, LINK_SECONDS};
use crate::store::JobStore;

/// The largest log answered inline: 5 MiB (Lambda answers at most 6 MB, the log's JSON
/// escaped within it).
pub const INLINE_LOG_BYTES: usize = 5 << 20;
/// The most a log may take once escaped into the Lambda response.
const INLINE_ESCAPED_BYTES: usize = 6_000_000;

/// `303 See Other` to a link reading job `job`'s file `name`.
pub async fn see_result_file(
    access: Option<&ResultAccess>,
    job: &Job,
    name: &str,
    now_ms: i64,
) -> Result<Response<Body>, ApiError> {
    let access =
        access.ok_or_else(|| ApiError::NotFound("This deployment keeps no result files".into()))?;
    let has_log = crate::ops::result_rows(job.job_type).writes_log();
    let kept = |file: &ResultFile| *file != ResultFile::Log || has_log;
    let file = ResultFile::from_name(name).filter(kept).ok_or_else(|| {
        let names: Vec<&str> = ResultFile::ALL
            .into_iter()
            .filter(kept)
            .map(ResultFile::name)
            .collect();
        ApiError::NotFound(format!(
            "No result file {name:?}; a job's files are {}",
            names.join(", ")
        ))
    })?;
    if !job.state.is_terminal() {
        return Err(ApiError::Conflict(format!(
            "The job {} is {}: its result files are written once it ends; its rows can be read a page at a time meanwhile",
            job.id,
            job.state.as_str()
        )));
    }
    if !job.result_files.contains_key(file.name()) {
        access.request_if_missing(job, now_ms).await;
        return Err(ApiError::Conflict(format!(
            "The result files of job {} are being written; try again in a minute",
            job.id
        )));
    }
    see_other(access, job, file, now_ms).await
}

async fn see_other(
    access: &ResultAccess,
    job: &Job,
    file: ResultFile,
    now_ms: i64,
) -> Result<Response<Body>, ApiError> {
    let url = access
        .files
        .link(&job.id, file, now_ms + LINK_SECONDS * 1000)
        .await?;
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, url)
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::Empty)
        .map_err(|e| ApiError::Internal(StoreError::Corrupt(e.to_string())))
}

/// The download-logs route's log of `job`: its text when it fits a response, else a `303` to
/// its file (`log.json`, the same bytes); a log too large whose file is not written yet is a
/// 409 that says when it will be.
pub async fn log_or_file(
    jobs: &dyn JobStore,
    access: Option<&ResultAccess>,
    job: &Job,
    now_ms: i64,
) -> Result<Result<String, Response<Body>>, ApiError> {
    let written = job.result_files.get(ResultFile::Log.name()).copied();
    let fits = written.is_none_or(|bytes| bytes <= INLINE_LOG_BYTES as u64);
    if fits {
        if let Some(text) = inline_log(jobs, &job.id).await? {
            return Ok(Ok(text));
        }
    }
    match access {
        Some(access) if written.is_some() => {
            Ok(Err(see_other(access, job, ResultFile::Log, now_ms).await?))
        }
        Some(access) if job.state.is_terminal() => {
            access.request_if_missing(job, now_ms).await;
            Err(ApiError::Conflict(format!(
                "The log of job {} is over 5 MB and its file is being written; try again in a minute",
                job.id
            )))
        }
        _ => Err(ApiError::Conflict(format!(
            "The log of job {} is over 5 MB: it becomes a file once the job ends; its rows can be read a page at a time meanwhile (GET /api/web/v2/mobileFlashPass/{}/rows)",
            job.id, job.id
        ))),
    }
}

/// The log as a compact JSON array, unless it is over [`INLINE_LOG_BYTES`] (reading stops
/// there).
async fn inline_log(jobs: &dyn JobStore, job_id: &str) -> Result<Option<String>, ApiError> {
    let corrupt = |e: serde_json::Error| ApiError::Internal(StoreError::Corrupt(e.to_string()));
    let mut text = String::from("[");
    let mut pages = OutcomePages::new(jobs, job_id);
    while let Some(outcomes) = pages.next().await? {
        for outcome in &outcomes {
            if text.len() > 1 {
                text.push(',');
            }
            text.push_str(&serde_json::to_string(outcome).map_err(corrupt)?);
        }
        if text.len() > INLINE_LOG_BYTES {
            return Ok(None);
        }
    }
    text.push(']');
    let escaped = serde_json::to_string(&text).map_err(corrupt)?.len();
    Ok((text.len() <= INLINE_LOG_BYTES && escaped <= INLINE_ESCAPED_BYTES).then_some(text))
}

/// Links to an ended job's written result files, by name, as paths of `base` (the job's
/// route): for the PVWA result's additive `ResultFiles`.
pub fn result_links(job: &Job, base: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    if job.result_files.is_empty() {
        return None;
    }
    Some(
        job.result_files
            .keys()
            .map(|name| (name.clone(), format!("{base}/results/{name}").into()))
            .collect(),
    )
}
