//! The create routes: `POST /api/web/v2/mobileFlashPass` and
//! `POST /PasswordVault/API/BulkActions/Accounts`: validate, create the job, enqueue its chunks.

use std::sync::Arc;

use bulkops_shared::api;
use bulkops_shared::aws::{required_env, AwsClients, MissingSetting};
use bulkops_shared::engine::EventFlush;
use bulkops_shared::queue::ChunkQueue;
use bulkops_shared::store::JobStore;
use bulkops_shared::time::{Clock, SystemClock};
use lambda_http::{Body, Error, Request, Response};

/// What the handler needs, built once per cold start.
pub struct Deps {
    pub jobs: Arc<dyn JobStore>,
    pub queue: Arc<dyn ChunkQueue>,
    pub events: Arc<dyn EventFlush>,
    /// Decides whether a job has expired (on the routes this function shares).
    pub clock: Arc<dyn Clock>,
}

impl Deps {
    /// From `TABLE_NAME`, `QUEUE_URL` and (to publish events at once) `EVENT_BUS_NAME`.
    pub fn from_env(clients: &AwsClients) -> Result<Self, MissingSetting> {
        let table = required_env("TABLE_NAME")?;
        Ok(Self {
            jobs: clients.job_store(&table),
            queue: clients.chunk_queue(&required_env("QUEUE_URL")?),
            events: clients.event_flush(&table),
            clock: Arc::new(SystemClock),
        })
    }
}

pub async fn handler(deps: &Deps, request: Request) -> Result<Response<Body>, Error> {
    let (jobs, queue, events) = (
        deps.jobs.as_ref(),
        deps.queue.as_ref(),
        deps.events.as_ref(),
    );
    Ok(api::handle(jobs, Some(queue), events, deps.clock.as_ref(), &request).await)
}
