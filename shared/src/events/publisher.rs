//! Publishing a job's pending events: build them from the job, send them in order of time,
//! and remove from the outbox exactly those the sink accepted. The sweep also ends the staged
//! jobs whose file never came and that nobody read (a read ends them too), so their Failed
//! event goes out without a caller asking.

use std::sync::Arc;

use async_trait::async_trait;

use super::{job_event, EventSink, JobEvent};
use crate::engine::EventFlush;
use crate::error::StoreError;
use crate::metrics::{Metric, Metrics, NoMetrics};
use crate::model::{EventKind, Job, JobState};
use crate::staged::expire_if_overdue;
use crate::store::JobStore;
use crate::time::{Clock, SystemClock};

/// What a sweep did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SweepStats {
    /// Staged jobs found overdue for their file (each ended FAILED, by this sweep or by a
    /// reader just before it).
    pub overdue: usize,
    /// Jobs found with pending events.
    pub jobs: usize,
    pub published: usize,
    /// Events the sink refused or could not take, left for the next sweep.
    pub left: usize,
}

/// Publishes jobs' outbox events through a sink.
#[derive(Clone)]
pub struct Publisher {
    jobs: Arc<dyn JobStore>,
    sink: Arc<dyn EventSink>,
    metrics: Arc<dyn Metrics>,
    clock: Arc<dyn Clock>,
}

impl Publisher {
    pub fn new(jobs: Arc<dyn JobStore>, sink: Arc<dyn EventSink>) -> Self {
        Self {
            jobs,
            sink,
            metrics: Arc::new(NoMetrics),
            clock: Arc::new(SystemClock),
        }
    }

    /// The clock that decides whether a staged job's file is overdue; tests move it.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Counts each job's end (completed, failed, cancelled, with its duration) when its event
    /// goes out: one event per transition makes it one count per job.
    pub fn with_metrics(mut self, metrics: Arc<dyn Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Publishes one job's pending events; returns how many went out.
    pub async fn publish(&self, job_id: &str) -> Result<usize, StoreError> {
        match self.jobs.get_job(job_id).await? {
            Some(job) => Ok(self.publish_pending(&job).await?.0),
            None => Ok(0),
        }
    }

    /// Ends up to `limit` staged jobs overdue for their file (publishing their Failed
    /// events), then publishes every job's pending events, oldest first, `limit` jobs at most.
    pub async fn sweep(&self, limit: usize) -> Result<SweepStats, StoreError> {
        let mut stats = SweepStats::default();
        // A failure ending them must not hold back the outbox: it is reported after it.
        let ended = self.end_overdue_uploads(limit, &mut stats).await;
        for job in self.jobs.jobs_with_pending_events(limit).await? {
            let (published, left) = self.publish_pending(&job).await?;
            stats.jobs += 1;
            stats.published += published;
            stats.left += left;
        }
        ended.map(|()| stats)
    }

    /// Ends the staged jobs overdue for their file now, and publishes their Failed events.
    async fn end_overdue_uploads(
        &self,
        limit: usize,
        stats: &mut SweepStats,
    ) -> Result<(), StoreError> {
        let now_ms = self.clock.now_ms();
        for job in self.jobs.overdue_uploads(now_ms, limit).await? {
            let job = expire_if_overdue(self.jobs.as_ref(), job, now_ms).await?;
            if job.state == JobState::Failed {
                tracing::info!(job_id = %job.id, "a staged job's file never came: it ended FAILED");
            }
            let (published, left) = self.publish_pending(&job).await?;
            stats.overdue += 1;
            stats.published += published;
            stats.left += left;
        }
        Ok(())
    }

    /// Sends `job`'s outbox events in order of time; removes the accepted ones.
    async fn publish_pending(&self, job: &Job) -> Result<(usize, usize), StoreError> {
        let mut pending: Vec<(i64, EventKind)> =
            job.outbox.iter().map(|(kind, at)| (*at, *kind)).collect();
        if pending.is_empty() {
            return Ok((0, 0));
        }
        pending.sort();
        // The job may come from a transition this process committed lazily (the embedded
        // store's row work): what an event announces is durable first.
        self.jobs.make_durable().await?;
        let events: Vec<JobEvent> = pending
            .iter()
            .map(|(at, kind)| job_event(job, *kind, *at))
            .collect();
        let refused = match self.sink.send(&events).await {
            Ok(refused) => refused,
            Err(error) => {
                tracing::warn!(job_id = %job.id, %error, "events not sent; they stay in the outbox");
                return Ok((0, events.len()));
            }
        };
        let accepted: Vec<EventKind> = pending
            .iter()
            .zip(&events)
            .filter(|(_, event)| !refused.contains(&event.id))
            .map(|((_, kind), _)| *kind)
            .collect();
        self.jobs.mark_published(&job.id, &accepted).await?;
        for event in events.iter().filter(|e| !refused.contains(&e.id)) {
            tracing::info!(event_id = %event.id, detail_type = %event.detail_type, "event published");
        }
        for (at, kind) in pending.iter().filter(|(_, kind)| accepted.contains(kind)) {
            let ended = match kind {
                EventKind::Completed => Metric::JobsCompleted,
                EventKind::Failed => Metric::JobsFailed,
                EventKind::Cancelled => Metric::JobsCancelled,
                EventKind::Created | EventKind::Processing => continue,
            };
            let duration = (at - job.init_time_ms).max(0) as f64;
            self.metrics.record(
                job.job_type,
                &[(ended, 1.0), (Metric::JobDuration, duration)],
            );
        }
        Ok((accepted.len(), refused.len()))
    }
}

#[async_trait]
impl EventFlush for Publisher {
    async fn flush(&self, job_id: &str) {
        if let Err(error) = self.publish(job_id).await {
            tracing::warn!(job_id, %error, "publishing events failed; the sweep will retry");
        }
    }

    /// Publishes from the job the transition returned: no read of the job item.
    async fn flush_job(&self, job: &Job) {
        if let Err(error) = self.publish_pending(job).await {
            tracing::warn!(job_id = %job.id, %error, "publishing events failed; the sweep will retry");
        }
    }
}
