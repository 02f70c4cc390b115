//! The read routes: `GET /api/web/v1/mobileFlashPass`, `GET /api/web/v1/mobileFlashPass/{id}`,
//! `GET /api/web/v2/mobileFlashPass/download/logs/{id}`.

pub use bulkops_shared::api::JobsDeps as Deps;
use bulkops_shared::api::{mobile_flash_pass, respond};
use lambda_http::{Body, Error, Request, Response};

pub async fn handler(deps: &Deps, request: Request) -> Result<Response<Body>, Error> {
    Ok(respond(
        mobile_flash_pass::query(deps.jobs.as_ref(), &request).await,
    ))
}
