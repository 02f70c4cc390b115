//! The CyberArk-style bulk account upload API (contract section B).

use std::collections::HashMap;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{json, Value};

use super::model::{bind, parse_account, FieldError};
use super::results::{extended, parse_filter, status, status_matches, summary};
use super::{account_key, AccountRowInput};
use crate::auth::Identity;
use crate::body::{json_body_of, JsonMediaTypes};
use crate::engine::{JobId, NewJob, Secrets};
use crate::error::{json_response, ApiError};
use crate::model::{ChunkRow, Job, JobType};
use crate::store::JobStore;

/// Body limit of an upload: 1 MiB (≈3,000 accounts with every field set).
pub const MAX_BODY_BYTES: usize = 1_048_576;
pub const DEFAULT_LIMIT: usize = 10;
pub const MAX_LIMIT: usize = 1_000;
/// The sequence bulk ids are drawn from.
pub const BULK_ID_SEQUENCE: &str = "BULK_ACCOUNTS";
/// How many of a caller's uploads a list considers (they expire after 30 days).
const LIST_SCAN_LIMIT: usize = 10_000;

fn bad(message: impl Into<String>, target: impl Into<String>) -> ApiError {
    ApiError::bad_request(message, Some(target.into()))
}

impl From<FieldError> for ApiError {
    fn from(error: FieldError) -> Self {
        ApiError::bad_request(error.message, Some(error.target))
    }
}

/// A validated upload: the source, the public rows and the secrets kept apart.
pub struct Upload {
    pub source: Option<String>,
    pub rows: Vec<ChunkRow>,
    pub secrets: Secrets,
}

/// Validates `{source, accountsList}` completely, binding property names in any case as
/// PVWA does; the first bad property is named.
pub fn parse_upload(body: Value) -> Result<Upload, ApiError> {
    let Value::Object(body) = body else {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object with an accountsList array",
            None,
        ));
    };
    let fields = bind(&body, &["source", "accountsList"], "")?;
    let source = fields.string("source")?;
    let list = match fields.get("accountsList") {
        None => return Err(bad("accountsList is required", "accountsList")),
        Some((path, Value::Array(list))) if list.is_empty() => {
            return Err(bad(format!("{path} must not be empty"), path))
        }
        Some((_, Value::Array(list))) => list,
        Some((path, _)) => return Err(bad(format!("{path} must be an array of accounts"), path)),
    };
    let mut rows = Vec::with_capacity(list.len());
    let mut secrets = Secrets::new();
    let mut first_index: HashMap<crate::store::RecordKey, i64> = HashMap::new();
    for (index, value) in list.iter().enumerate() {
        let parsed = parse_account(value, &format!("accountsList[{index}]"))?;
        let row = index as u32 + 1;
        if let Some(secret) = parsed.secret {
            secrets.insert(row, secret);
        }
        let mut input = AccountRowInput::new(row, parsed.upload_index, parsed.model);
        let key = account_key(&input.account);
        match first_index.get(&key) {
            Some(first) => input.duplicate_of = Some(*first),
            None => {
                first_index.insert(key, input.upload_index);
            }
        }
        rows.push(input.into_row(row));
    }
    Ok(Upload {
        source,
        rows,
        secrets,
    })
}

/// The job a create request asks for, once its body is valid; its bulk id is drawn when it is
/// created.
pub fn new_job(owner: String, body: Value) -> Result<NewJob, ApiError> {
    let tolerance = crate::ops::tolerance(&body)?;
    let upload = parse_upload(body)?;
    Ok(NewJob {
        id: JobId::Next(BULK_ID_SEQUENCE),
        job_type: JobType::AddAccounts,
        owner,
        source: upload.source,
        client_token: None,
        rows: upload.rows,
        secrets: upload.secrets,
        tolerance,
        retry_of: None,
        quota: None,
        upload_until_ms: None,
    })
}

/// Names the request property of a 1-based row.
pub fn row_target(row: u32) -> String {
    format!("accountsList[{}]", row - 1)
}

/// `POST /PasswordVault/API/BulkActions/Accounts`, before anything is written: the caller is
/// known, and the body is valid.
pub fn prepare(request: &Request) -> Result<NewJob, ApiError> {
    let identity = Identity::from_request(request)?;
    let body = json_body_of(request, MAX_BODY_BYTES, JsonMediaTypes::Lenient)?;
    new_job(identity.subject, body)
}

/// `POST /PasswordVault/API/BulkActions/Accounts/uploads` (additive): an upload whose
/// accounts come in a staged file, before anything is written. The body is optional:
/// `{"source"}` and the tolerated failures.
pub fn prepare_upload(request: &Request, now_ms: i64) -> Result<NewJob, ApiError> {
    let identity = Identity::from_request(request)?;
    let object =
        crate::body::optional_json_object(request, MAX_BODY_BYTES, JsonMediaTypes::Lenient)?;
    let source = bind(&object, &["source"], "")?.string("source")?;
    Ok(NewJob {
        id: JobId::Next(BULK_ID_SEQUENCE),
        job_type: JobType::AddAccounts,
        owner: identity.subject,
        source,
        client_token: None,
        rows: Vec::new(),
        secrets: Secrets::new(),
        tolerance: crate::ops::tolerance(&Value::Object(object))?,
        retry_of: None,
        quota: None,
        // Whole seconds, as upload URLs state their expiry.
        upload_until_ms: Some((now_ms / 1000 + crate::staged::UPLOAD_URL_SECONDS) * 1000),
    })
}

/// The answer to a staged create: 202 with the bulk id and where its file goes
/// (`UploadUrl`, `UploadMethod`, `UploadExpirationTime` in epoch seconds).
pub fn created_awaiting_file(
    job: &Job,
    target: crate::staged::UploadTarget,
) -> Result<Response<Body>, ApiError> {
    let until = job.upload_expires_at_ms.unwrap_or_default() / 1000;
    let answer = json!({
        "Id": job.id.parse::<i64>().unwrap_or_default(),
        "UploadUrl": target.url,
        "UploadMethod": target.method,
        "UploadExpirationTime": until,
    });
    Ok(json_response(StatusCode::ACCEPTED, &answer))
}

/// The answer to a create: 202 with the bulk id as a bare number.
pub fn created(job: &Job) -> Result<Response<Body>, ApiError> {
    let bulk_id: i64 = job.id.parse().map_err(|_| {
        ApiError::Internal(crate::error::StoreError::Corrupt(format!(
            "bulk id {} is not a number",
            job.id
        )))
    })?;
    tracing::info!(
        bulk_id,
        rows = job.total_rows,
        "bulk account upload accepted"
    );
    Ok(json_response(StatusCode::ACCEPTED, &bulk_id))
}

/// `GET /PasswordVault/API/BulkActions/Accounts/{bulkId}`: only the uploader's; anyone else
/// gets 404, so existence does not leak.
pub async fn get(
    jobs: &dyn JobStore,
    request: &Request,
    id: &str,
    now_ms: i64,
) -> Result<Response<Body>, ApiError> {
    let identity = Identity::from_request(request)?;
    let job = find_upload(jobs, &identity, id, now_ms).await?;
    Ok(json_response(StatusCode::OK, &extended(jobs, &job).await?))
}

/// `GET /PasswordVault/API/BulkActions/Accounts/{bulkId}/results/{file}` (additive): `303 See
/// Other` to the ended upload's result file; the uploader's only, as the upload is.
pub async fn result_file(
    jobs: &dyn JobStore,
    results: Option<&crate::results::ResultAccess>,
    request: &Request,
    (id, file): (&str, &str),
    now_ms: i64,
) -> Result<Response<Body>, ApiError> {
    let identity = Identity::from_request(request)?;
    let job = find_upload(jobs, &identity, id, now_ms).await?;
    crate::api::result_files::see_result_file(results, &job, file, now_ms).await
}

/// The caller's own upload `id`: anyone else's, or none, is a 404 (existence does not leak);
/// an expired one a 410.
pub async fn find_upload(
    jobs: &dyn JobStore,
    identity: &Identity,
    id: &str,
    now_ms: i64,
) -> Result<Job, ApiError> {
    let not_found = || ApiError::NotFound(format!("Bulk account upload {id} was not found"));
    let bulk_id: i64 = id.parse().map_err(|_| not_found())?;
    let job = jobs
        .get_job(&bulk_id.to_string())
        .await?
        .filter(|job| job.job_type == JobType::AddAccounts && job.owner == identity.subject)
        .ok_or_else(not_found)?;
    if job.is_expired(now_ms) {
        return Err(ApiError::Gone(format!(
            "Bulk account upload {id} expired at {} and its results were deleted",
            crate::time::rfc3339(job.expires_at_ms())
        )));
    }
    Ok(crate::staged::expire_if_overdue(jobs, job, now_ms).await?)
}

/// `GET /PasswordVault/API/BulkActions/Accounts?limit=&filter=`: the caller's own uploads.
pub async fn list(
    jobs: &dyn JobStore,
    request: &Request,
    now_ms: i64,
) -> Result<Response<Body>, ApiError> {
    let identity = Identity::from_request(request)?;
    let query = request.query_string_parameters_ref();
    let limit = match query.and_then(|q| q.first("limit")) {
        None => DEFAULT_LIMIT,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(bad(
                    format!("limit must be an integer from 1 to {MAX_LIMIT}"),
                    "limit",
                ))
            }
        },
    };
    let wanted = match query.and_then(|q| q.first("filter")) {
        None => None,
        Some(filter) => Some(parse_filter(filter)?),
    };
    let mut matching: Vec<Job> = Vec::new();
    for job in jobs
        .list_jobs(JobType::AddAccounts, &identity.subject, LIST_SCAN_LIMIT)
        .await?
    {
        if job.is_expired(now_ms) {
            continue;
        }
        let job = crate::staged::expire_if_overdue(jobs, job, now_ms).await?;
        if wanted.is_none_or(|w| status_matches(w, status(&job))) {
            matching.push(job);
        }
    }
    let actions: Vec<Value> = matching
        .iter()
        .take(limit)
        .map(|j| Value::Object(summary(j)))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({ "Total": matching.len(), "BulkActions": actions }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(result: Result<Upload, ApiError>) -> Option<String> {
        match result {
            Err(ApiError::BadRequest { target, .. }) => target,
            Err(other) => panic!("expected a 400, got {other:?}"),
            Ok(_) => panic!("expected a 400, got a valid upload"),
        }
    }

    #[test]
    fn names_the_first_bad_field() {
        let ok = json!({"platformId": "p", "safeName": "s"});
        assert_eq!(target(parse_upload(json!([]))), None);
        assert_eq!(
            target(parse_upload(json!({"source": 1, "accountsList": [ok]}))),
            Some("source".into())
        );
        assert_eq!(target(parse_upload(json!({}))), Some("accountsList".into()));
        assert_eq!(
            target(parse_upload(json!({"accountsList": []}))),
            Some("accountsList".into())
        );
        assert_eq!(
            target(parse_upload(json!({"accountsList": {}}))),
            Some("accountsList".into())
        );
        let cases = [
            (json!(5), "accountsList[3]"),
            (json!({"platformId": "p"}), "accountsList[3].safeName"),
            (
                json!({"platformId": "p", "safeName": 7}),
                "accountsList[3].safeName",
            ),
            (
                json!({"platformId": "", "safeName": "s"}),
                "accountsList[3].platformId",
            ),
            (
                json!({"platformId": "p", "safeName": "s", "secretType": "pin"}),
                "accountsList[3].secretType",
            ),
            (
                json!({"platformId": "p", "safeName": "s", "uploadIndex": "1"}),
                "accountsList[3].uploadIndex",
            ),
            (
                json!({"platformId": "p", "safeName": "s", "uploadIndex": 3_000_000_000u64}),
                "accountsList[3].uploadIndex",
            ),
            (
                json!({"platformId": "p", "safeName": "s", "address": 1}),
                "accountsList[3].address",
            ),
            (
                json!({"platformId": "p", "safeName": "s", "platformAccountProperties": {"a": 1}}),
                "accountsList[3].platformAccountProperties.a",
            ),
            (
                json!({"platformId": "p", "safeName": "s", "secretManagement": {"automaticManagementEnabled": "yes"}}),
                "accountsList[3].secretManagement.automaticManagementEnabled",
            ),
            (
                json!({"platformId": "p", "safeName": "s", "remoteMachinesAccess": []}),
                "accountsList[3].remoteMachinesAccess",
            ),
        ];
        for (bad_account, expected) in cases {
            let body = json!({"accountsList": [ok, ok, ok, bad_account, 7]});
            assert_eq!(target(parse_upload(body)).as_deref(), Some(expected));
        }
    }

    #[test]
    fn secrets_are_kept_apart_and_duplicates_marked() {
        let upload = parse_upload(json!({"source": "x.csv", "accountsList": [
            {"platformId": "p", "safeName": "S", "userName": "root", "address": "h", "secret": "hunter2", "uploadIndex": 10},
            {"platformId": "p", "safeName": "s", "userName": "ROOT", "address": "h"},
            {"platformId": "p", "safeName": "s", "userName": "other", "address": "h", "unknown": 1},
        ]}))
        .unwrap();
        assert_eq!(upload.secrets, Secrets::from([(1, "hunter2".to_owned())]));
        assert!(!serde_json::to_string(&upload.rows)
            .unwrap()
            .contains("hunter2"));
        assert_eq!(upload.rows[1].input::<Value>().unwrap()["duplicateOf"], 10);
        assert_eq!(upload.rows[1].input::<Value>().unwrap()["uploadIndex"], 2);
        assert!(upload.rows[2].input::<Value>().unwrap()["account"]
            .get("unknown")
            .is_none());
    }

    #[test]
    fn top_level_properties_bind_in_any_case() {
        let upload = parse_upload(json!({"Source": "ps", "AccountsList": [
            {"platformID": "p", "SafeName": "s", "secret": null},
        ]}))
        .unwrap();
        assert_eq!(upload.source.as_deref(), Some("ps"));
        assert_eq!(upload.rows.len(), 1);
        assert!(upload.secrets.is_empty());
        assert_eq!(
            target(parse_upload(
                json!({"accountsList": [], "AccountsList": [{"platformId": "p", "safeName": "s"}]})
            )),
            Some("AccountsList".into())
        );
    }
}
