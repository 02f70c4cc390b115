//! Event-driven submission: bulk requests from other services arrive on a queue (fed by an
//! EventBridge rule for `Bulk Job Requested`, or sent to it directly). Each runs the same
//! validation and job creation as the HTTP route; a valid one becomes a job whose events carry
//! its `clientToken`, an invalid one a `Bulk Job Rejected` event that says what the HTTP route
//! would have answered. The client token makes a redelivered request find its job instead of
//! creating another.

mod request;
pub mod sqs;

use std::sync::Arc;

use crate::engine::{EventFlush, JobId, SubmitError};
use crate::error::{ApiError, StoreError};
use crate::events::{rejected_event, EventSink, JobEvent, RejectedRequest};
use crate::model::Job;
use crate::queue::{ChunkQueue, MessageQueue};
use crate::store::{client_token_key, JobStore};
use crate::time::now_ms;

pub use request::{Api, BulkRequest, Unreadable, REQUESTED_DETAIL_TYPE};

/// What a request became.
#[derive(Debug)]
pub enum Outcome {
    /// A job: created now, or by an earlier delivery of the same request.
    Job(Box<Job>),
    /// No job; this event (already sent) says why.
    Rejected(Box<JobEvent>),
}

/// Why a request must be delivered again.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the job could not be started: {0}")]
    Submit(SubmitError),
    #[error("the rejection could not be published: {0}")]
    Publish(String),
}

/// What the intake function needs, built once per cold start.
pub struct Intake {
    pub jobs: Arc<dyn JobStore>,
    pub queue: Arc<dyn ChunkQueue>,
    /// Publishes a job's events as soon as it moves.
    pub events: Arc<dyn EventFlush>,
    /// Where a rejection goes (the bus).
    pub sink: Arc<dyn EventSink>,
    /// Where an unreadable message goes at once (the intake queue's dead-letter queue).
    pub dead_letters: Arc<dyn MessageQueue>,
}

impl Intake {
    /// Validates `request` and creates its job once per client token.
    pub async fn submit(&self, request: BulkRequest) -> Result<Outcome, IntakeError> {
        let BulkRequest {
            api,
            owner,
            permissions,
            client_token,
            body,
        } = request;
        let key = client_token_key(api.as_str(), &owner, &client_token);
        let rejected = RejectedRequest {
            api: api.as_str(),
            style: api.style(),
            owner: &owner,
            client_token: &client_token,
            token_key: &key,
        };
        let mut new = match api.validate(&owner, &permissions, body) {
            Ok(new) => new,
            Err(error) => return self.reject(&rejected, &error).await,
        };
        new.client_token = Some(client_token.clone());
        let candidate = match &new.id {
            JobId::Given(id) => id.clone(),
            JobId::Next(sequence) => self.jobs.next_sequence(sequence).await?.to_string(),
        };
        let id = self.jobs.claim_client_token(&key, &candidate).await?;
        let fresh = id == candidate;
        let (jobs, queue, events) = (
            self.jobs.as_ref(),
            self.queue.as_ref(),
            self.events.as_ref(),
        );
        let started = crate::ops::start_claimed(jobs, queue, events, new, id, fresh).await;
        match started {
            Ok(job) => Ok(Outcome::Job(Box::new(job))),
            Err(SubmitError::RowTooLarge(too_large)) => {
                let error = crate::ops::submit_error(SubmitError::RowTooLarge(too_large), |row| {
                    api.row_target(row)
                });
                self.reject(&rejected, &error).await
            }
            // Marked FAILED: its Failed event (with the client token) is the answer.
            Err(SubmitError::Enqueue { job_id, .. }) => match self.jobs.get_job(&job_id).await? {
                Some(job) => Ok(Outcome::Job(Box::new(job))),
                None => Err(IntakeError::Store(StoreError::Corrupt(format!(
                    "job {job_id} vanished"
                )))),
            },
            Err(other) => Err(IntakeError::Submit(other)),
        }
    }

    async fn reject(
        &self,
        request: &RejectedRequest<'_>,
        error: &ApiError,
    ) -> Result<Outcome, IntakeError> {
        let event = rejected_event(request, error, now_ms());
        tracing::info!(event_id = %event.id, client_token = request.client_token, error = %error, "request rejected");
        let refused = self
            .sink
            .send(std::slice::from_ref(&event))
            .await
            .map_err(|e| IntakeError::Publish(e.to_string()))?;
        if !refused.is_empty() {
            return Err(IntakeError::Publish(format!(
                "the bus refused {}",
                event.id
            )));
        }
        Ok(Outcome::Rejected(Box::new(event)))
    }
}
