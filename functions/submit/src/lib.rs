//! The create routes (`POST /api/web/v2/mobileFlashPass`,
//! `POST /PasswordVault/API/BulkActions/Accounts`, the retries and the staged upload):
//! validate, create the job, enqueue its chunks (or hand out where its file goes).

use std::sync::Arc;

use bulkops_shared::api;
use bulkops_shared::aws::{optional_env, quota_from_env, required_env, AwsClients, SettingError};
use bulkops_shared::engine::EventFlush;
use bulkops_shared::queue::ChunkQueue;
use bulkops_shared::staged::UploadStore;
use bulkops_shared::store::{JobStore, Quota};
use bulkops_shared::time::{Clock, SystemClock};
use lambda_http::{Body, Error, Request, Response};

/// What the handler needs, built once per cold start.
pub struct Deps {
    pub jobs: Arc<dyn JobStore>,
    pub queue: Arc<dyn ChunkQueue>,
    pub events: Arc<dyn EventFlush>,
    /// Decides whether a job has expired (on the routes this function shares).
    pub clock: Arc<dyn Clock>,
    /// Each caller's limits on active jobs and rows in flight.
    pub quota: Quota,
    /// Where staged files go; `None`: the staged routes answer 404.
    pub uploads: Option<Arc<dyn UploadStore>>,
}

impl Deps {
    /// From `TABLE_NAME`, `QUEUE_URL`, (to publish events at once) `EVENT_BUS_NAME`, the
    /// quota's `MAX_ACTIVE_JOBS_PER_CALLER` and `MAX_ROWS_IN_FLIGHT_PER_CALLER`, and (to take
    /// staged files: presigned PUTs of `uploads/<job id>`) `UPLOAD_BUCKET`; without it the
    /// staged routes answer 404.
    pub fn from_env(clients: &AwsClients) -> Result<Self, SettingError> {
        let table = required_env("TABLE_NAME")?;
        Ok(Self {
            jobs: clients.job_store(&table),
            queue: clients.chunk_queue(&table, &required_env("QUEUE_URL")?),
            events: clients.event_flush(&table),
            clock: Arc::new(SystemClock),
            quota: quota_from_env()?,
            uploads: optional_env("UPLOAD_BUCKET").map(|bucket| clients.uploads(&bucket)),
        })
    }
}

pub async fn handler(deps: &Deps, request: Request) -> Result<Response<Body>, Error> {
    let (jobs, queue, events) = (
        deps.jobs.as_ref(),
        deps.queue.as_ref(),
        deps.events.as_ref(),
    );
    let creates = api::Creates {
        queue,
        quota: deps.quota,
        uploads: deps.uploads.as_deref(),
    };
    let clock = deps.clock.as_ref();
    Ok(api::handle(jobs, Some(creates), events, clock, None, &request).await)
}
