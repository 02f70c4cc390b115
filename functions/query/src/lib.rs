//! The read routes: `GET /api/web/v1/mobileFlashPass`, `GET /api/web/v1/mobileFlashPass/{id}`,
//! `GET /api/web/v2/mobileFlashPass/download/logs/{id}`, and
//! `GET /PasswordVault/API/BulkActions/Accounts[/{bulkId}]`.

pub use bulkops_shared::api::JobsDeps as Deps;
use bulkops_shared::api::{self, respond};
use lambda_http::{Body, Error, Request, Response};

pub async fn handler(deps: &Deps, request: Request) -> Result<Response<Body>, Error> {
    let result = api::query(deps.jobs.as_ref(), &request).await;
    Ok(respond(&request, result))
}
