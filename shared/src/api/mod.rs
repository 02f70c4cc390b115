//! HTTP-facing logic shared by the HTTP handlers: body parsing and the API routes.

pub mod accounts;
pub mod body;
pub mod mobile_flash_pass;
pub mod routes;

use lambda_http::{Body, Response};

use crate::engine::SubmitError;
use crate::error::ApiError;

/// Maps a failed submit to the caller's answer; `target` names a row (`ids[3]`,
/// `accountsList[3]`) from its 1-based number.
pub fn submit_error(error: SubmitError, target: impl Fn(u32) -> String) -> ApiError {
    match error {
        SubmitError::RowTooLarge(too_large) => ApiError::RowTooLarge {
            target: target(too_large.row),
            bytes: too_large.bytes,
        },
        SubmitError::Store(cause) => {
            tracing::error!(error = %cause, "the job could not be created");
            ApiError::ServiceUnavailable(
                "The request could not be accepted right now; nothing was created, please retry"
                    .to_owned(),
            )
        }
        SubmitError::Enqueue { job_id, .. } => ApiError::ServiceUnavailable(format!(
            "The bulk operation {job_id} could not be queued and was marked FAILED; none of its rows ran; please retry"
        )),
        SubmitError::NotReleased { job_id, source } => {
            tracing::error!(job_id, error = %source, "the job could not be released");
            ApiError::ServiceUnavailable(format!(
                "The bulk operation {job_id} could not be started; none of its rows ran and it will be marked FAILED; please retry"
            ))
        }
    }
}

/// The create routes of both APIs (one Lambda function serves them).
pub async fn submit(
    jobs: &dyn crate::store::JobStore,
    queue: &dyn crate::queue::ChunkQueue,
    request: &lambda_http::Request,
) -> Result<Response<Body>, ApiError> {
    let (method, path) = (request.method().as_str(), request.uri().path());
    if let Some(accounts::AccountsRoute::Create) = accounts::accounts_route(method, path) {
        return accounts::create(jobs, queue, request).await;
    }
    match routes::mfp_route(method, path) {
        Some(routes::MfpRoute::Submit) => mobile_flash_pass::submit(jobs, queue, request).await,
        _ => Err(ApiError::NotFound(format!("no route for {method} {path}"))),
    }
}

/// The read routes of both APIs.
pub async fn query(
    jobs: &dyn crate::store::JobStore,
    request: &lambda_http::Request,
) -> Result<Response<Body>, ApiError> {
    let (method, path) = (request.method().as_str(), request.uri().path());
    if let Some(route) = accounts::accounts_route(method, path) {
        return accounts::query(jobs, request, route).await;
    }
    match routes::mfp_route(method, path) {
        Some(_) => mobile_flash_pass::query(jobs, request).await,
        // Paths reaching the catch-all route that name nothing: 404, whoever asks.
        None => Err(ApiError::NotFound(format!("no route for {method} {path}"))),
    }
}

/// Maps a handler result to a response: the one place errors become HTTP, in the error shape
/// of the API the request's path belongs to.
pub fn respond(
    request: &lambda_http::Request,
    result: Result<Response<Body>, ApiError>,
) -> Response<Body> {
    let style = crate::error::ApiStyle::for_path(request.uri().path());
    result.unwrap_or_else(|error| error.into_response(style))
}

/// What the read-only and cancel handlers need: the job store, built once per cold start.
pub struct JobsDeps {
    pub jobs: std::sync::Arc<dyn crate::store::JobStore>,
}

impl JobsDeps {
    /// From `TABLE_NAME`.
    pub fn from_env(clients: &crate::aws::AwsClients) -> Result<Self, crate::aws::MissingSetting> {
        Ok(Self {
            jobs: clients.job_store(&crate::aws::required_env("TABLE_NAME")?),
        })
    }
}
