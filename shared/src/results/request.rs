//! Asking for a final job's result files: [`ResultsOnEnd`] asks when a job's events are flushed
//! (every transition flushes), and on AWS the request is a message `{"resultsOf": "<job id>"}`
//! to the split queue, whose splitter function writes the files ([`SqsResultsRequests`]).

use std::sync::Arc;

use async_trait::async_trait;

use super::ResultsRequests;
use crate::engine::EventFlush;
use crate::error::StoreError;
use crate::model::Job;
use crate::queue::MessageQueue;
use crate::store::JobStore;

/// The field of a split queue message that asks for a job's result files.
pub const RESULTS_MESSAGE_FIELD: &str = "resultsOf";

/// Requests as messages on a queue (the split queue).
pub struct SqsResultsRequests {
    pub queue: Arc<dyn MessageQueue>,
}

#[async_trait]
impl ResultsRequests for SqsResultsRequests {
    async fn request(&self, job_id: &str) -> Result<(), StoreError> {
        let body = serde_json::json!({ RESULTS_MESSAGE_FIELD: job_id }).to_string();
        self.queue
            .send(&body)
            .await
            .map(|_| ())
            .map_err(|e| StoreError::Backend(e.to_string()))
    }
}

/// Flushes a job's events, then asks for its result files when it is final and settled (every
/// chunk counted) without them.
pub struct ResultsOnEnd {
    pub inner: Arc<dyn EventFlush>,
    pub jobs: Arc<dyn JobStore>,
    pub requests: Arc<dyn ResultsRequests>,
}

#[async_trait]
impl EventFlush for ResultsOnEnd {
    async fn flush(&self, job_id: &str) {
        self.inner.flush(job_id).await;
        match self.jobs.get_job(job_id).await {
            Ok(Some(job)) => self.request_files_if_due(&job).await,
            Ok(None) => {}
            // The next read of the job's files asks again.
            Err(error) => {
                tracing::warn!(job_id, %error, "reading the job to ask for its result files failed")
            }
        }
    }

    async fn flush_job(&self, job: &Job) {
        self.inner.flush_job(job).await;
        self.request_files_if_due(job).await;
    }
}

impl ResultsOnEnd {
    /// Asks for `job`'s result files if it is final and settled (every chunk counted)
    /// without them.
    async fn request_files_if_due(&self, job: &Job) {
        if !job.is_settled() || !job.result_files.is_empty() {
            return;
        }
        match self.requests.request(&job.id).await {
            Ok(()) => tracing::info!(job_id = %job.id, "result files requested"),
            Err(error) => {
                tracing::warn!(job_id = %job.id, %error, "requesting result files failed")
            }
        }
    }
}
