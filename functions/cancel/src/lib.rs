//! `DELETE /api/web/v1/mobileFlashPass/cancel/{id}`.

use bulkops_shared::api;
pub use bulkops_shared::api::JobsDeps as Deps;
use lambda_http::{Body, Error, Request, Response};

pub async fn handler(deps: &Deps, request: Request) -> Result<Response<Body>, Error> {
    Ok(api::handle(
        deps.jobs.as_ref(),
        None,
        deps.events.as_ref(),
        deps.clock.as_ref(),
        deps.results.as_ref(),
        &request,
    )
    .await)
}
