use async_trait::async_trait;

/// Where the engine says that a job just moved: the job's outbox then holds a new event,
/// which the implementation publishes (best effort: what fails stays in the outbox, and the
/// publisher's sweep sends it later). The engine never builds or sends events itself.
#[async_trait]
pub trait EventFlush: Send + Sync {
    async fn flush(&self, job_id: &str);
}

/// Publishes nothing at once: events wait in the outbox for the sweep.
pub struct NoFlush;

#[async_trait]
impl EventFlush for NoFlush {
    async fn flush(&self, _job_id: &str) {}
}
