//! Job events for integrations: one per transition, on an EventBridge bus (or, locally, to
//! webhooks). A transition records its event in the job's outbox in the same conditional
//! write ([`crate::store::JobStore`]); the [`Publisher`] builds the event from the job, sends
//! it through an [`EventSink`], and removes it from the outbox once the sink accepted it. What
//! fails stays there for the next flush or sweep: none is lost, and a transport duplicate
//! carries the same `id` (`<job id>:<KIND>`).

mod detail;
mod eventbridge;
mod publisher;
mod rejected;
#[cfg(test)]
mod schemas;

use async_trait::async_trait;

pub use detail::{job_event, Detail, EventCounts, EventDetail, EventPaths, JobEvent, SOURCE};
pub use eventbridge::EventBridgeSink;
pub use publisher::{Publisher, SweepStats};
pub use rejected::{rejected_event, RejectedDetail, RejectedRequest, REJECTED_DETAIL_TYPE};

/// A sink refused or failed a whole call.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SinkError(pub String);

/// Where events go.
#[async_trait]
pub trait EventSink: Send + Sync {
    /// Sends `events`; returns the ids of those not accepted (to be sent again later).
    async fn send(&self, events: &[JobEvent]) -> Result<Vec<String>, SinkError>;
}
