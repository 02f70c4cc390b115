//! `DELETE /api/web/v1/mobileFlashPass/cancel/{id}`.

use std::sync::Arc;

use bulkops_shared::api::{mobile_flash_pass, respond};
use bulkops_shared::aws::{required_env, AwsClients, MissingSetting};
use bulkops_shared::store::JobStore;
use lambda_http::{Body, Error, Request, Response};

pub struct Deps {
    pub jobs: Arc<dyn JobStore>,
}

impl Deps {
    /// From `TABLE_NAME`.
    pub fn from_env(clients: &AwsClients) -> Result<Self, MissingSetting> {
        Ok(Self {
            jobs: clients.job_store(&required_env("TABLE_NAME")?),
        })
    }
}

pub async fn handler(deps: &Deps, request: Request) -> Result<Response<Body>, Error> {
    Ok(respond(
        mobile_flash_pass::cancel(deps.jobs.as_ref(), &request).await,
    ))
}
