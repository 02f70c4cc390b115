//! HTTP-facing logic shared by the HTTP handlers: one dispatch over the route table
//! ([`routes`]), explicit body parsing, and the two APIs.

pub mod accounts;
pub mod body;
pub mod mobile_flash_pass;
pub mod routes;

use lambda_http::{Body, Response};

pub use routes::{Function, Route, GATEWAY_ROUTES};

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

/// Serves one API Gateway request for any HTTP function: the route is parsed once, dispatched
/// in one match, and any error answered in the called API's shape. `queue` is the submit
/// function's; a route needing it reaches no other function (API Gateway routes by method).
pub async fn handle(
    jobs: &dyn crate::store::JobStore,
    queue: Option<&dyn crate::queue::ChunkQueue>,
    request: &lambda_http::Request,
) -> Response<Body> {
    let (method, path) = (request.method().as_str(), request.uri().path());
    let not_found = || ApiError::NotFound(format!("no route for {method} {path}"));
    let result = match Route::parse(method, path) {
        None => Err(not_found()),
        Some(route) => match (route, queue) {
            (Route::MfpSubmit, Some(queue)) => {
                mobile_flash_pass::submit(jobs, queue, request).await
            }
            (Route::MfpList, _) => mobile_flash_pass::list(jobs, request).await,
            (Route::MfpGet(id), _) => mobile_flash_pass::get(jobs, request, &id).await,
            (Route::MfpLogs(id), _) => mobile_flash_pass::logs(jobs, request, &id).await,
            (Route::MfpCancel(id), _) => mobile_flash_pass::cancel(jobs, request, &id).await,
            (Route::UploadCreate, Some(queue)) => accounts::create(jobs, queue, request).await,
            (Route::UploadList, _) => accounts::list(jobs, request).await,
            (Route::UploadGet(id), _) => accounts::get(jobs, request, &id).await,
            (Route::MfpSubmit | Route::UploadCreate, None) => Err(not_found()),
        },
    };
    respond(request, result)
}

/// Maps a handler result to a response: the one place errors become HTTP, in the error shape
/// of the API the request's path belongs to.
fn respond(
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
