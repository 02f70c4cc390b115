//! `DELETE /api/web/v1/mobileFlashPass/cancel/{id}`.

pub use bulkops_shared::api::JobsDeps as Deps;
use bulkops_shared::api::{mobile_flash_pass, respond};
use lambda_http::{Body, Error, Request, Response};

pub async fn handler(deps: &Deps, request: Request) -> Result<Response<Body>, Error> {
    let result = mobile_flash_pass::cancel(deps.jobs.as_ref(), &request).await;
    Ok(respond(&request, result))
}
