//! The create routes of both APIs, safe to retry with an `Idempotency-Key` (IETF httpapi
//! draft): the key is scoped to the route and the caller; the same key with the same body
//! replays the first answer (same status, same job), with another body is a 422, and while
//! the first request is still being answered a 409. A request without the header is created
//! as before (the vendors' clients do not send one).
//!
//! The job id is drawn before the key is claimed and kept in the key's record, so a retry that
//! takes over the key of a request that died mid-way finishes that request's job instead of
//! making a second one. A failure of the service (5xx) frees the key: a retry runs again.

use lambda_http::http::{header, HeaderValue, StatusCode};
use lambda_http::{Body, Request, Response};

use crate::engine::{EventFlush, JobId, NewJob};
use crate::error::ApiError;
use crate::intake::Api;
use crate::model::Job;
use crate::ops::{accounts::api as accounts, mobile_flash_pass::api as mfp};
use crate::queue::ChunkQueue;
use crate::staged::UploadStore;
use crate::store::{scoped_key, JobStore, KeyClaim, KeyRecord, Quota, StoredResponse};
use crate::time::now_ms;

/// What the create routes need beyond the job store and the events.
#[derive(Clone, Copy)]
pub struct Creates<'a> {
    /// Where the new jobs' chunks go.
    pub queue: &'a dyn ChunkQueue,
    /// Each caller's limits on active jobs and rows in flight.
    pub quota: Quota,
    /// Where staged files go; `None`: this deployment takes none (the staged routes 404).
    pub uploads: Option<&'a dyn UploadStore>,
}

/// The request header.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// The longest key accepted.
pub const MAX_KEY_LENGTH: usize = 255;

/// `POST` of a new job of `api`: the create route's own body.
pub async fn create(
    jobs: &dyn JobStore,
    creates: Creates<'_>,
    events: &dyn EventFlush,
    request: &Request,
    api: Api,
) -> Result<Response<Body>, ApiError> {
    let new = prepare(api, request)?;
    create_prepared(jobs, creates, events, request, api, new).await
}

/// Creates `new`, validated from `request` (a create, or a retry of a job's failed rows),
/// once per Idempotency-Key, within the caller's quota.
pub async fn create_prepared(
    jobs: &dyn JobStore,
    creates: Creates<'_>,
    events: &dyn EventFlush,
    request: &Request,
    api: Api,
    mut new: NewJob,
) -> Result<Response<Body>, ApiError> {
    new.quota = Some(creates.quota);
    let queue = creates.queue;
    let Some(key) = idempotency_key(request)? else {
        let job = crate::ops::start(jobs, queue, events, new)
            .await
            .map_err(|e| crate::ops::submit_error(e, |row| api.row_target(row)))?;
        return created(api, &job, creates.uploads).await;
    };
    let route = match (&new.retry_of, new.upload_until_ms) {
        (Some(original), _) => format!("{}/{original}/retry", api.as_str()),
        (None, Some(_)) => format!("{}/uploads", api.as_str()),
        (None, None) => api.as_str().to_owned(),
    };
    let scoped = scoped_key(&["idempotency", &route, &new.owner, &key]);
    let candidate = match &new.id {
        JobId::Given(id) => id.clone(),
        JobId::Next(sequence) => jobs.next_sequence(sequence).await?.to_string(),
    };
    let claim = KeyRecord::new(fingerprint(request.body()), candidate.clone(), now_ms());
    let record = match jobs.claim_idempotency_key(&scoped, &claim).await? {
        KeyClaim::Won(record) => record,
        KeyClaim::Held(held) if held.fingerprint != claim.fingerprint => {
            return Err(ApiError::IdempotencyKeyReused)
        }
        KeyClaim::Held(KeyRecord {
            response: Some(first),
            ..
        }) => return Ok(replay(&first)),
        KeyClaim::Held(_) => return Err(ApiError::IdempotencyKeyInUse),
    };
    let response = run(jobs, creates, events, new, api, &record, &candidate).await;
    let stored = match stored(&response) {
        // A 429 is not an answer to keep: the retry it asks for must run.
        Some(stored)
            if !response.status().is_server_error()
                && response.status() != StatusCode::TOO_MANY_REQUESTS =>
        {
            jobs.answer_idempotency_key(&scoped, record.claimed_at_ms, &stored)
                .await
        }
        _ => {
            jobs.release_idempotency_key(&scoped, record.claimed_at_ms)
                .await
        }
    };
    if let Err(error) = stored {
        // The job's outcome stands; a retry finds the key held until its lease ends, then
        // takes it over and finds the job.
        tracing::warn!(%error, "the Idempotency-Key's answer could not be stored");
    }
    Ok(response)
}

/// Creates the job under the key's id and answers, errors included (they are replayed too).
async fn run(
    jobs: &dyn JobStore,
    creates: Creates<'_>,
    events: &dyn EventFlush,
    new: NewJob,
    api: Api,
    record: &KeyRecord,
    candidate: &str,
) -> Response<Body> {
    let fresh = record.job_id == candidate;
    let id = record.job_id.clone();
    let started = crate::ops::start_claimed(jobs, creates.queue, events, new, id, fresh).await;
    let result = match started {
        Ok(job) => created(api, &job, creates.uploads).await,
        Err(error) => Err(crate::ops::submit_error(error, |row| api.row_target(row))),
    };
    result.unwrap_or_else(|error| error.into_response(api.style()))
}

/// The caller may, and the body is valid: nothing is written before this.
fn prepare(api: Api, request: &Request) -> Result<NewJob, ApiError> {
    match api {
        Api::MobileFlashPass => mfp::prepare(request),
        Api::Accounts => accounts::prepare(request),
    }
}

/// The answer to a create: the API's own, or for a staged job its upload target too.
async fn created(
    api: Api,
    job: &Job,
    uploads: Option<&dyn UploadStore>,
) -> Result<Response<Body>, ApiError> {
    let (Some(until), Some(uploads)) = (job.upload_expires_at_ms, uploads) else {
        return match api {
            Api::MobileFlashPass => mfp::created(job),
            Api::Accounts => accounts::created(job),
        };
    };
    let target = uploads.upload_target(&job.id, until).await?;
    match api {
        Api::MobileFlashPass => mfp::created_awaiting_file(job, target),
        Api::Accounts => accounts::created_awaiting_file(job, target),
    }
}

/// The header's key: visible ASCII, 1 to [`MAX_KEY_LENGTH`] characters, bare or as the
/// draft's quoted structured-field string; one header at most.
fn idempotency_key(request: &Request) -> Result<Option<String>, ApiError> {
    let mut values = request.headers().get_all(IDEMPOTENCY_KEY).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let invalid = |why: &str| {
        ApiError::bad_request(
            format!("the Idempotency-Key header {why}"),
            Some("Idempotency-Key".to_owned()),
        )
    };
    if values.next().is_some() {
        return Err(invalid("must be sent once"));
    }
    let text = value
        .to_str()
        .map_err(|_| invalid("must be visible ASCII"))?;
    let key = text
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or(text);
    if key.is_empty() || key.len() > MAX_KEY_LENGTH {
        return Err(invalid(&format!(
            "must hold 1 to {MAX_KEY_LENGTH} characters"
        )));
    }
    if !key.bytes().all(|b| b.is_ascii_graphic() || b == b' ') || key.contains('"') {
        return Err(invalid("must be visible ASCII"));
    }
    Ok(Some(key.to_owned()))
}

/// SHA-256 of the body's bytes, in hex: "the same body" is the same bytes.
fn fingerprint(body: &Body) -> String {
    crate::store::sha256_hex(body.as_ref())
}

/// The answer as it is kept for replay (create answers are small JSON documents).
fn stored(response: &Response<Body>) -> Option<StoredResponse> {
    let body = match response.body() {
        Body::Empty => String::new(),
        Body::Text(text) => text.clone(),
        Body::Binary(bytes) => String::from_utf8(bytes.clone()).ok()?,
        _ => return None,
    };
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_owned();
    Some(StoredResponse {
        status: response.status().as_u16(),
        content_type,
        body,
    })
}

fn replay(first: &StoredResponse) -> Response<Body> {
    let mut response = Response::new(Body::Text(first.body.clone()));
    *response.status_mut() = StatusCode::from_u16(first.status).unwrap_or(StatusCode::OK);
    if let Ok(content_type) = HeaderValue::from_str(&first.content_type) {
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type);
    }
    response
}
