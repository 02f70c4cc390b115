//! An event announces only what a crash cannot take back, even when the transition it
//! announces was committed lazily by the row work and published from the job it returned.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bulkops_shared::engine::EventFlush;
use bulkops_shared::events::{EventSink, JobEvent, Publisher, SinkError};
use bulkops_shared::model::{Job, JobType};
use bulkops_shared::store::JobStore;

use super::EmbeddedStore;

/// Records each event it is sent with whether lazy commits were still unsynced at that moment.
struct Witness {
    store: EmbeddedStore,
    sent: Mutex<Vec<(String, bool)>>,
}

#[async_trait]
impl EventSink for Witness {
    async fn send(&self, events: &[JobEvent]) -> Result<Vec<String>, SinkError> {
        let unsynced = self.store.has_unsynced_commits();
        let mut sent = self.sent.lock().expect("lock");
        sent.extend(events.iter().map(|e| (e.id.clone(), unsynced)));
        Ok(Vec::new())
    }
}

#[tokio::test]
async fn a_lazily_committed_transition_is_durable_before_its_event_goes_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = EmbeddedStore::open(&dir.path().join("bulkops.redb")).expect("open");
    let work = store.lazy();
    let mut job = Job::new(
        "lazy-start".into(),
        JobType::SendMfp,
        "alice".into(),
        10,
        1_000,
    );
    job.chunk_count = 1;
    store.create_job(&job).await.expect("create");
    store.sync().expect("sync");

    // The row work starts the job on its lazy handle: not on disk yet.
    let started = work
        .start_processing("lazy-start", 2_000)
        .await
        .expect("start")
        .expect("SCHEDULED -> PROCESSING");
    assert!(store.has_unsynced_commits());

    let witness = Arc::new(Witness {
        store: store.clone(),
        sent: Mutex::new(Vec::new()),
    });
    let publisher = Publisher::new(Arc::new(store.clone()), witness.clone());
    publisher.flush_job(&started).await;

    let sent = witness.sent.lock().expect("lock").clone();
    assert!(
        sent.iter().any(|(id, _)| id == "lazy-start:PROCESSING"),
        "{sent:?}"
    );
    assert!(
        sent.iter().all(|(_, unsynced)| !unsynced),
        "an event went out while what it announces could still be lost: {sent:?}"
    );
}
