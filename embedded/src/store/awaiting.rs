//! Staged jobs waiting for their file in the embedded store: [`write_job`](super::write_job)
//! keeps each in the `awaiting_uploads` table, sorted by when it becomes overdue, while it is
//! AWAITING_DATA, so the table holds exactly the jobs still waiting. The publisher's sweep
//! reads the overdue ones. Ending a job that never released its chunks is here too.

use bulkops_shared::error::StoreError;
use bulkops_shared::model::{EventKind, Job, JobState};
use bulkops_shared::store::Transition;
use redb::WriteTransaction;

use super::transitions::{skip_everything, snapshot};
use super::{indexed_jobs, EmbeddedStore, StoredJob};
use crate::db::{DbError, AWAITING_UPLOADS};

/// Puts `stored` in the index, moves it, or takes it out, as its state asks.
pub(super) fn index(txn: &WriteTransaction, stored: &mut StoredJob) -> Result<(), DbError> {
    let wanted = stored
        .job
        .upload_due_at_ms()
        .map(|due| format!("{due:013}#{}", stored.job.id));
    if wanted == stored.awaiting_key {
        return Ok(());
    }
    let mut table = txn.open_table(AWAITING_UPLOADS)?;
    if let Some(old) = &stored.awaiting_key {
        table.remove(old.as_str())?;
    }
    if let Some(key) = &wanted {
        table.insert(key.as_str(), stored.job.id.as_str())?;
    }
    stored.awaiting_key = wanted;
    Ok(())
}

impl EmbeddedStore {
    /// AWAITING_DATA → FAILED with `message`, if `also` holds: every row skipped, every chunk
    /// recorded (nothing can have run: chunks are claimed only once released).
    pub(super) async fn fail_unreleased(
        &self,
        id: &str,
        message: &str,
        now_ms: i64,
        also: fn(&Job) -> bool,
    ) -> Result<Transition, StoreError> {
        let message = message.to_owned();
        self.change_job(id, Transition::JobMissing, move |stored| {
            if stored.job.state != JobState::AwaitingData || !also(&stored.job) {
                return (false, Transition::Unchanged(Box::new(snapshot(stored))));
            }
            stored.job.state = JobState::Failed;
            stored.job.error_message = Some(message);
            stored.job.processing_end_ms = Some(now_ms);
            skip_everything(stored);
            stored.job.outbox.insert(EventKind::Failed, now_ms);
            (true, Transition::Moved(Box::new(snapshot(stored))))
        })
        .await
    }

    pub(super) async fn overdue_uploads_entries(
        &self,
        now_ms: i64,
        limit: usize,
    ) -> Result<Vec<Job>, StoreError> {
        // Every key due at `now_ms` or before sorts below the next millisecond's.
        let below = format!("{:013}", now_ms + 1);
        self.read(move |txn| indexed_jobs(txn, AWAITING_UPLOADS, ..below.as_str(), limit))
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::sync::{Arc, Mutex};

    use async_trait::async_trait;
    use bulkops_shared::events::{EventSink, JobEvent, Publisher, SinkError};
    use bulkops_shared::model::{JobState, JobType, UPLOAD_GRACE_SECONDS};
    use bulkops_shared::store::JobStore;
    use bulkops_shared::time::Clock;

    use super::*;

    #[derive(Default)]
    struct Sent(Mutex<Vec<String>>);

    #[async_trait]
    impl EventSink for Sent {
        async fn send(&self, events: &[JobEvent]) -> Result<Vec<String>, SinkError> {
            let mut sent = self.0.lock().expect("lock");
            sent.extend(events.iter().map(|e| e.id.clone()));
            Ok(Vec::new())
        }
    }

    struct At(AtomicI64);

    impl Clock for At {
        fn now_ms(&self) -> i64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    /// The local server's sweep (the publisher on the embedded store) ends a staged job
    /// nobody reads once it is overdue, across a restart of the store in between.
    #[tokio::test]
    async fn the_sweep_ends_an_overdue_staged_job_across_a_restart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("bulkops.redb");
        let mut job = Job::new("staged".into(), JobType::SendMfp, "alice".into(), 0, 1_000);
        job.state = JobState::AwaitingData;
        job.upload_expires_at_ms = Some(10_000);
        let due = 10_000 + UPLOAD_GRACE_SECONDS * 1000;
        EmbeddedStore::open(&path)
            .expect("open")
            .create_job(&job)
            .await
            .expect("create");

        let store = EmbeddedStore::open(&path).expect("reopen");
        let sent = Arc::new(Sent::default());
        let clock = Arc::new(At(AtomicI64::new(due - 1)));
        let publisher =
            Publisher::new(Arc::new(store.clone()), sent.clone()).with_clock(clock.clone());
        assert_eq!(publisher.sweep(10).await.expect("sweep").overdue, 0);
        let waiting = store.get_job("staged").await.expect("get").expect("job");
        assert_eq!(waiting.state, JobState::AwaitingData);

        clock.0.store(due, Ordering::SeqCst);
        let stats = publisher.sweep(10).await.expect("sweep");
        assert_eq!((stats.overdue, stats.published), (1, 1));
        let failed = store.get_job("staged").await.expect("get").expect("job");
        assert_eq!(failed.state, JobState::Failed);
        assert_eq!(*sent.0.lock().expect("lock"), ["staged:FAILED"]);
        assert!(store
            .overdue_uploads(i64::MAX / 2, 10)
            .await
            .expect("read")
            .is_empty());

        let again = publisher.sweep(10).await.expect("sweep");
        assert_eq!((again.overdue, again.published), (0, 0));
    }

    /// Two sweeps at once (a scheduled run overlapping a retried one) end the job once; its
    /// event may go out twice, with the same id, as any event may.
    #[tokio::test]
    async fn racing_sweeps_end_a_job_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = EmbeddedStore::open(&dir.path().join("bulkops.redb")).expect("open");
        let mut job = Job::new("raced".into(), JobType::AddAccounts, "bob".into(), 0, 1_000);
        job.state = JobState::AwaitingData;
        job.upload_expires_at_ms = Some(10_000);
        store.create_job(&job).await.expect("create");
        let sent = Arc::new(Sent::default());
        let clock = Arc::new(At(AtomicI64::new(10_000 + UPLOAD_GRACE_SECONDS * 1000)));
        let sweeper =
            || Publisher::new(Arc::new(store.clone()), sent.clone()).with_clock(clock.clone());
        let (first, second) = (sweeper(), sweeper());
        let (a, b) = tokio::join!(first.sweep(10), second.sweep(10));
        assert!(a.expect("sweep").overdue + b.expect("sweep").overdue >= 1);
        let ended = store.get_job("raced").await.expect("get").expect("job");
        assert_eq!(ended.state, JobState::Failed);
        let message = ended.error_message.clone().unwrap_or_default();
        assert!(message.contains("upload URL expired"), "{message}");
        let sent = sent.0.lock().expect("lock").clone();
        assert!(
            !sent.is_empty() && sent.iter().all(|id| id == "raced:FAILED"),
            "{sent:?}"
        );
        assert!(ended.outbox.is_empty(), "published");
    }
}
