use async_trait::async_trait;

use crate::model::Job;

/// Where the engine says that a job just moved: the job's outbox then holds a new event,
/// which the implementation publishes (best effort: what fails stays in the outbox, and the
/// publisher's sweep sends it later). The engine never builds or sends events itself.
#[async_trait]
pub trait EventFlush: Send + Sync {
    async fn flush(&self, job_id: &str);

    /// The same with the job as the transition that moved it returned it (its new event in
    /// its outbox): an implementation may publish from it instead of reading the job again.
    /// An event added meanwhile by another transition is that transition's to flush.
    async fn flush_job(&self, job: &Job) {
        self.flush(&job.id).await
    }
}

/// Publishes nothing at once: events wait in the outbox for the sweep.
pub struct NoFlush;

#[async_trait]
impl EventFlush for NoFlush {
    async fn flush(&self, _job_id: &str) {}
}
