//! The Entrust-style mobile flash pass API (contract section A).

use lambda_http::http::{header, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::Value;

use super::{rows_from_ids, rows_from_parsed, ParsedId};
use crate::auth::{authorize, permission};
use crate::body::json_body;
use crate::engine::{EventFlush, JobId, NewJob};
use crate::enrollment::{EnrollmentRef, InvalidEnrollment};
use crate::error::{json_response, ApiError};
use crate::model::{Job, JobType};
use crate::store::{CancelOutcome, JobStore};

/// The contract's body limit: 200 KB.
pub const MAX_BODY_BYTES: usize = 204_800;
/// `GET /api/web/v1/mobileFlashPass` returns at most this many operations, newest first.
pub const LIST_LIMIT: usize = 1_000;

/// Validates `{"ids": [base64, ...]}` and returns the ids in order, each with its reference
/// as read (a base64 id that is not a valid reference is a row's failure, not the request's).
pub fn parse_ids(body: Value) -> Result<Vec<ParsedId>, ApiError> {
    let Value::Object(mut object) = body else {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object with an ids array",
            None,
        ));
    };
    let ids = match object.remove("ids") {
        None | Some(Value::Null) => {
            return Err(ApiError::bad_request("ids is required", Some("ids".into())))
        }
        Some(Value::Array(ids)) => ids,
        Some(_) => {
            return Err(ApiError::bad_request(
                "ids must be an array of strings",
                Some("ids".into()),
            ))
        }
    };
    if ids.is_empty() {
        return Err(ApiError::bad_request(
            "ids must not be empty",
            Some("ids".into()),
        ));
    }
    ids.into_iter()
        .enumerate()
        .map(|(index, id)| match id {
            Value::String(id) => match EnrollmentRef::from_id(&id) {
                Err(InvalidEnrollment::NotBase64) => Err(ApiError::bad_request(
                    format!("ids[{index}] is not a valid Base64 enrollment id"),
                    Some(format!("ids[{index}]")),
                )),
                reference => Ok((id, reference)),
            },
            _ => Err(ApiError::bad_request(
                format!("ids[{index}] must be a string"),
                Some(format!("ids[{index}]")),
            )),
        })
        .collect()
}

/// The job a create request asks for, once its body is valid: the rows in the order given.
pub fn new_job(owner: String, body: Value) -> Result<NewJob, ApiError> {
    let tolerance = crate::ops::tolerance(&body)?;
    let ids = parse_ids(body)?;
    Ok(NewJob {
        id: JobId::Given(uuid::Uuid::new_v4().to_string()),
        job_type: JobType::SendMfp,
        owner,
        source: None,
        client_token: None,
        rows: rows_from_parsed(ids),
        secrets: Default::default(),
        tolerance,
        retry_of: None,
        quota: None,
        upload_until_ms: None,
    })
}

/// Names the request property of a 1-based row.
pub fn row_target(row: u32) -> String {
    format!("ids[{}]", row - 1)
}

/// `POST /api/web/v2/mobileFlashPass`, before anything is written: the caller may, and the
/// body is valid.
pub fn prepare(request: &Request) -> Result<NewJob, ApiError> {
    let identity = authorize(request, permission::ISSUANCE_ADD)?;
    new_job(identity.subject, json_body(request, MAX_BODY_BYTES)?)
}

/// `POST /api/web/v2/mobileFlashPass/{id}/retry[?errorCode=]` (additive): a new job of the
/// failed rows of a final job (those with `errorCode`, if given), in their order, with the
/// same tolerance; it needs what creating a job and reading that one need.
pub async fn retry_job(
    jobs: &dyn JobStore,
    request: &Request,
    id: &str,
    now_ms: i64,
) -> Result<NewJob, ApiError> {
    let identity = authorize(request, permission::ISSUANCE_ADD)?;
    authorize(request, permission::ISSUANCE_VIEW)?;
    let original = find_job(jobs, id, now_ms).await?;
    if !original.state.is_terminal() {
        return Err(ApiError::Conflict(format!(
            "The bulk operation {} is {}; its failed rows can be retried once it is final",
            original.id,
            original.state.as_str()
        )));
    }
    let wanted = request
        .query_string_parameters_ref()
        .and_then(|q| q.first("errorCode"))
        .map(str::to_owned);
    let ids: Vec<String> = jobs
        .row_outcomes(&original.id)
        .await?
        .into_iter()
        .filter(|o| o.is_failed())
        .filter(|o| wanted.is_none() || o.error_code == wanted)
        .filter_map(|o| o.item.get("id").and_then(Value::as_str).map(str::to_owned))
        .collect();
    if ids.is_empty() {
        return Err(ApiError::Conflict(format!(
            "The bulk operation {} has no failed rows{} to retry",
            original.id,
            wanted
                .map(|c| format!(" with errorCode {c}"))
                .unwrap_or_default()
        )));
    }
    Ok(NewJob {
        id: JobId::Given(uuid::Uuid::new_v4().to_string()),
        job_type: JobType::SendMfp,
        owner: identity.subject,
        source: None,
        client_token: None,
        rows: rows_from_ids(ids),
        secrets: Default::default(),
        tolerance: original.tolerance,
        retry_of: Some(original.id),
        quota: None,
        upload_until_ms: None,
    })
}

/// `POST /api/web/v2/mobileFlashPass/uploads` (additive): a job whose ids come in a staged
/// file, before anything is written. The body is optional: `{}` or the tolerated failures.
pub fn prepare_upload(request: &Request, now_ms: i64) -> Result<NewJob, ApiError> {
    let identity = authorize(request, permission::ISSUANCE_ADD)?;
    let body = crate::body::optional_json_object(
        request,
        MAX_BODY_BYTES,
        crate::body::JsonMediaTypes::Strict,
    )?;
    Ok(NewJob {
        id: JobId::Given(uuid::Uuid::new_v4().to_string()),
        job_type: JobType::SendMfp,
        owner: identity.subject,
        source: None,
        client_token: None,
        rows: Vec::new(),
        secrets: Default::default(),
        tolerance: crate::ops::tolerance(&Value::Object(body))?,
        retry_of: None,
        quota: None,
        // Whole seconds, as upload URLs state their expiry.
        upload_until_ms: Some((now_ms / 1000 + crate::staged::UPLOAD_URL_SECONDS) * 1000),
    })
}

/// The answer to a staged create: 200 with the BulkOperation (AWAITING_DATA) and where its
/// file goes (`upload`: `url`, `method`, `expiresAt`).
pub fn created_awaiting_file(
    job: &Job,
    target: crate::staged::UploadTarget,
) -> Result<Response<Body>, ApiError> {
    let mut answer = serde_json::to_value(job.to_bulk_operation())
        .map_err(|e| ApiError::Internal(crate::error::StoreError::Corrupt(e.to_string())))?;
    answer["upload"] = serde_json::json!(target);
    Ok(json_response(StatusCode::OK, &answer))
}

/// The answer to a create: 200 with the BulkOperation.
pub fn created(job: &Job) -> Result<Response<Body>, ApiError> {
    Ok(json_response(StatusCode::OK, &job.to_bulk_operation()))
}

/// `GET /api/web/v1/mobileFlashPass`: the tenant's operations, newest first.
pub async fn list(
    jobs: &dyn JobStore,
    request: &Request,
    now_ms: i64,
) -> Result<Response<Body>, ApiError> {
    authorize(request, permission::ISSUANCE_VIEW)?;
    let mut list = Vec::new();
    for job in jobs.list_jobs(JobType::SendMfp, "", LIST_LIMIT).await? {
        if !job.is_expired(now_ms) {
            let job = crate::staged::expire_if_overdue(jobs, job, now_ms).await?;
            list.push(job.to_bulk_operation());
        }
    }
    Ok(json_response(StatusCode::OK, &list))
}

/// `GET /api/web/v1/mobileFlashPass/{id}`.
pub async fn get(
    jobs: &dyn JobStore,
    request: &Request,
    id: &str,
    now_ms: i64,
) -> Result<Response<Body>, ApiError> {
    authorize(request, permission::ISSUANCE_VIEW)?;
    let job = find_job(jobs, id, now_ms).await?;
    Ok(json_response(StatusCode::OK, &job.to_bulk_operation()))
}

/// `GET /api/web/v2/mobileFlashPass/download/logs/{id}`: every processed row, as a file; a
/// log over 5 MB is a `303 See Other` to its result file (`log.json`, the same bytes).
pub async fn logs(
    jobs: &dyn JobStore,
    results: Option<&crate::results::ResultAccess>,
    request: &Request,
    id: &str,
    now_ms: i64,
) -> Result<Response<Body>, ApiError> {
    authorize(request, permission::ISSUANCE_VIEW)?;
    let job = find_job(jobs, id, now_ms).await?;
    let text = match crate::api::result_files::log_or_file(jobs, results, &job, now_ms).await? {
        Ok(text) => text,
        Err(see_other) => return Ok(see_other),
    };
    let corrupt = |e: String| ApiError::Internal(crate::error::StoreError::Corrupt(e));
    let disposition = format!(
        "attachment; filename=\"mobileFlashPass-{}-logs.json\"",
        job.id
    );
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header(header::CONTENT_DISPOSITION, disposition)
        .body(Body::Text(text))
        .map_err(|e| corrupt(e.to_string()))
}

/// `GET /api/web/v2/mobileFlashPass/{id}/results/{file}` (additive): `303 See Other` to the
/// ended job's result file; read as the job is (`ISSUANCE:VIEW`).
pub async fn result_file(
    jobs: &dyn JobStore,
    results: Option<&crate::results::ResultAccess>,
    request: &Request,
    (id, file): (&str, &str),
    now_ms: i64,
) -> Result<Response<Body>, ApiError> {
    authorize(request, permission::ISSUANCE_VIEW)?;
    let job = find_job(jobs, id, now_ms).await?;
    crate::api::result_files::see_result_file(results, &job, file, now_ms).await
}

/// `DELETE /api/web/v1/mobileFlashPass/cancel/{id}`.
pub async fn cancel(
    jobs: &dyn JobStore,
    events: &dyn EventFlush,
    request: &Request,
    id: &str,
    now_ms: i64,
) -> Result<Response<Body>, ApiError> {
    authorize(request, permission::ISSUANCE_REMOVE)?;
    let id = find_job(jobs, id, now_ms).await?.id;
    match jobs.cancel(&id, now_ms).await? {
        CancelOutcome::Cancelled(job) => {
            tracing::info!("job cancelled");
            events.flush(&job.id).await;
            let mut response = Response::new(Body::Empty);
            *response.status_mut() = StatusCode::OK;
            Ok(response)
        }
        CancelOutcome::NotFound => Err(not_found(&id)),
        CancelOutcome::AlreadyFinal(state) => Err(ApiError::Conflict(format!(
            "The bulk operation {id} is already {} and cannot be cancelled",
            state.as_str()
        ))),
    }
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("Bulk operation {id} not found"))
}

/// Job ids are UUIDs; anything else cannot exist.
fn valid_job_id(id: &str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(id)
        .map(|u| u.to_string())
        .map_err(|_| not_found(id))
}

/// The flash pass job `id`: 404 if there is none, 410 once it is past its retention.
pub(super) async fn find_job(
    jobs: &dyn JobStore,
    id: &str,
    now_ms: i64,
) -> Result<crate::model::Job, ApiError> {
    let id = valid_job_id(id)?;
    let job = jobs
        .get_job(&id)
        .await?
        .filter(|j| j.job_type == JobType::SendMfp)
        .ok_or_else(|| not_found(&id))?;
    if job.is_expired(now_ms) {
        return Err(ApiError::Gone(format!(
            "Bulk operation {id} expired at {} and its results were deleted",
            crate::time::rfc3339(job.expires_at_ms())
        )));
    }
    Ok(crate::staged::expire_if_overdue(jobs, job, now_ms).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn target(result: Result<Vec<ParsedId>, ApiError>) -> Option<String> {
        match result {
            Err(ApiError::BadRequest { target, .. }) => target,
            other => panic!("expected a 400, got {other:?}"),
        }
    }

    #[test]
    fn accepts_every_base64_form() {
        let ids = parse_ids(json!({"ids": ["eyJh", "eyJhIjoxfQ", "eyJhIjoxfQ==", "a-_b", "a+/b"]}))
            .unwrap();
        assert_eq!(ids.len(), 5);
    }

    #[test]
    fn names_the_first_bad_field() {
        assert_eq!(target(parse_ids(json!([1]))), None);
        assert_eq!(target(parse_ids(json!({}))), Some("ids".into()));
        assert_eq!(target(parse_ids(json!({"ids": "abc"}))), Some("ids".into()));
        assert_eq!(target(parse_ids(json!({"ids": []}))), Some("ids".into()));
        assert_eq!(
            target(parse_ids(json!({"ids": ["eyJh", 5]}))),
            Some("ids[1]".into())
        );
        assert_eq!(
            target(parse_ids(
                json!({"ids": ["eyJh", "eyJh", "not base64!", "??"]})
            )),
            Some("ids[2]".into())
        );
        assert_eq!(
            target(parse_ids(json!({"ids": [""]}))),
            Some("ids[0]".into())
        );
    }
}
