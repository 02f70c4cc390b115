//! [`handle`]: every HTTP function's (and the local gateway's) one entry point. The route is
//! parsed once, dispatched in one match, and any error answered in the called API's shape.

use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt, Response};
use tracing::Instrument;

use super::create::{create, create_prepared, Creates};
use super::routes::Route;
use crate::error::ApiError;
use crate::intake::Api;
use crate::ops::accounts::{api as accounts, retry as accounts_retry, rows as accounts_rows};
use crate::ops::mobile_flash_pass::{api as mfp, rows as mfp_rows};

/// Serves one API Gateway request for any HTTP function: the route is parsed once, dispatched
/// in one match, and any error answered in the called API's shape. `creates` is the submit
/// function's; a route needing it reaches no other function (API Gateway routes by method).
pub async fn handle(
    jobs: &dyn crate::store::JobStore,
    creates: Option<Creates<'_>>,
    events: &dyn crate::engine::EventFlush,
    clock: &dyn crate::time::Clock,
    results: Option<&crate::results::ResultAccess>,
    request: &lambda_http::Request,
) -> Response<Body> {
    let (method, path) = (request.method().as_str(), request.uri().path());
    let route = Route::parse(method, path);
    let span = request_span(request, route.as_ref());
    let reads = Reads {
        jobs,
        results,
        now: clock.now_ms(),
    };
    dispatch(reads, creates, events, request, route)
        .instrument(span)
        .await
}

/// The span of every log line of one HTTP request: API Gateway's request id (the access
/// log's `requestId`) and, for a route of one job, its id.
fn request_span(request: &lambda_http::Request, route: Option<&Route>) -> tracing::Span {
    let api_request_id = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.request_id.as_deref(),
        _ => None,
    };
    let span = tracing::info_span!("request", api_request_id, job_id = tracing::field::Empty);
    if let Some(id) = route.and_then(Route::job_id) {
        span.record("job_id", id);
    }
    span
}

/// What every route reads with: the jobs, the result files, the time.
#[derive(Clone, Copy)]
struct Reads<'a> {
    jobs: &'a dyn crate::store::JobStore,
    results: Option<&'a crate::results::ResultAccess>,
    now: i64,
}

async fn dispatch(
    reads: Reads<'_>,
    creates: Option<Creates<'_>>,
    events: &dyn crate::engine::EventFlush,
    request: &lambda_http::Request,
    route: Option<Route>,
) -> Response<Body> {
    let Reads { jobs, results, now } = reads;
    let (method, path) = (request.method().as_str(), request.uri().path());
    let not_found = || ApiError::NotFound(format!("no route for {method} {path}"));
    let result = match route {
        None => Err(not_found()),
        Some(route) => match (route, creates) {
            (Route::MfpSubmit, Some(creates)) => {
                create(jobs, creates, events, request, Api::MobileFlashPass).await
            }
            (Route::MfpRetry(id), Some(creates)) => {
                match mfp::retry_job(jobs, request, &id, now).await {
                    Ok(new) => {
                        let api = Api::MobileFlashPass;
                        create_prepared(jobs, creates, events, request, api, new).await
                    }
                    Err(error) => Err(error),
                }
            }
            (Route::MfpUpload, Some(creates)) if creates.uploads.is_some() => {
                match mfp::prepare_upload(request, now) {
                    Ok(new) => {
                        let api = Api::MobileFlashPass;
                        create_prepared(jobs, creates, events, request, api, new).await
                    }
                    Err(error) => Err(error),
                }
            }
            (Route::UploadStaged, Some(creates)) if creates.uploads.is_some() => {
                match accounts::prepare_upload(request, now) {
                    Ok(new) => {
                        let api = Api::Accounts;
                        create_prepared(jobs, creates, events, request, api, new).await
                    }
                    Err(error) => Err(error),
                }
            }
            (Route::MfpList, _) => mfp::list(jobs, request, now).await,
            (Route::MfpGet(id), _) => mfp::get(jobs, request, &id, now).await,
            (Route::MfpLogs(id), _) => mfp::logs(jobs, results, request, &id, now).await,
            (Route::MfpResult(id, file), _) => {
                mfp::result_file(jobs, results, request, (&id, &file), now).await
            }
            (Route::MfpRows(id), _) => mfp_rows::rows(jobs, request, &id, now).await,
            (Route::MfpCancel(id), _) => mfp::cancel(jobs, events, request, &id, now).await,
            (Route::UploadCreate, Some(creates)) => {
                create(jobs, creates, events, request, Api::Accounts).await
            }
            (Route::UploadRetry(id), Some(creates)) => {
                match accounts_retry::retry_job(jobs, request, &id, now).await {
                    Ok(new) => {
                        let api = Api::Accounts;
                        create_prepared(jobs, creates, events, request, api, new).await
                    }
                    Err(error) => Err(error),
                }
            }
            (Route::UploadList, _) => accounts::list(jobs, request, now).await,
            (Route::UploadGet(id), _) => accounts::get(jobs, request, &id, now).await,
            (Route::UploadRows(id), _) => accounts_rows::rows(jobs, request, &id, now).await,
            (Route::UploadResult(id, file), _) => {
                accounts::result_file(jobs, results, request, (&id, &file), now).await
            }
            (
                Route::MfpSubmit
                | Route::MfpRetry(_)
                | Route::MfpUpload
                | Route::UploadCreate
                | Route::UploadStaged
                | Route::UploadRetry(_),
                _,
            ) => Err(not_found()),
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
