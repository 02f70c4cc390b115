//! The HTTP API: the one route table ([`routes`]) and its dispatch ([`handle`]); the operations' own
//! handlers live with them in [`crate::ops`].

pub mod create;
mod dispatch;
pub mod result_files;
pub mod routes;

pub use create::Creates;
pub use dispatch::handle;
pub use routes::{Function, Route, GATEWAY_ROUTES};

/// What the read-only and cancel handlers need: the job store, built once per cold start.
pub struct JobsDeps {
    pub jobs: std::sync::Arc<dyn crate::store::JobStore>,
    /// Told when a request moved a job (a cancel), so that its event goes out at once.
    pub events: std::sync::Arc<dyn crate::engine::EventFlush>,
    /// Decides whether a job has expired.
    pub clock: std::sync::Arc<dyn crate::time::Clock>,
    /// Where result files are, and how to ask for missing ones; `None`: their routes 404.
    pub results: Option<crate::results::ResultAccess>,
}

impl JobsDeps {
    /// From `TABLE_NAME`, and for result files `UPLOAD_BUCKET` and `RESULTS_QUEUE_URL`.
    pub fn from_env(clients: &crate::aws::AwsClients) -> Result<Self, crate::aws::MissingSetting> {
        let table = crate::aws::required_env("TABLE_NAME")?;
        Ok(Self {
            jobs: clients.job_store(&table),
            events: clients.event_flush(&table),
            clock: std::sync::Arc::new(crate::time::SystemClock),
            results: clients.result_access(),
        })
    }
}
