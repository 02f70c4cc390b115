//! The create routes: `POST /api/web/v2/mobileFlashPass` and
//! `POST /PasswordVault/API/BulkActions/Accounts`: validate, create the job, enqueue its chunks.

use std::sync::Arc;

use bulkops_shared::api;
use bulkops_shared::aws::{required_env, AwsClients, MissingSetting};
use bulkops_shared::queue::ChunkQueue;
use bulkops_shared::store::JobStore;
use lambda_http::{Body, Error, Request, Response};

/// What the handler needs, built once per cold start.
pub struct Deps {
    pub jobs: Arc<dyn JobStore>,
    pub queue: Arc<dyn ChunkQueue>,
}

impl Deps {
    /// From `TABLE_NAME` and `QUEUE_URL`.
    pub fn from_env(clients: &AwsClients) -> Result<Self, MissingSetting> {
        Ok(Self {
            jobs: clients.job_store(&required_env("TABLE_NAME")?),
            queue: clients.chunk_queue(&required_env("QUEUE_URL")?),
        })
    }
}

pub async fn handler(deps: &Deps, request: Request) -> Result<Response<Body>, Error> {
    Ok(api::handle(deps.jobs.as_ref(), Some(deps.queue.as_ref()), &request).await)
}
