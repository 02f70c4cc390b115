//! The handlers' dependencies on the embedded store and queue in a fresh temporary directory:
//! for tests about the local store, and for fast property tests of the request path.

use std::sync::Arc;
use std::time::Duration;

use bulkops_embedded::EmbeddedQueue;
use bulkops_embedded::EmbeddedStore;
use bulkops_shared::engine::NoFlush;
use bulkops_shared::model::JobType;
use bulkops_shared::store::{JobStore, RecordStore};
use bulkops_testkit::MovableClock;

pub struct EmbeddedFixture {
    pub store: EmbeddedStore,
    pub queue: EmbeddedQueue,
    /// The HTTP routes' clock (decides expiry); tests advance it.
    pub clock: Arc<MovableClock>,
    _dir: tempfile::TempDir,
}

impl EmbeddedFixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        let store = EmbeddedStore::open(&dir.path().join("bulkops.redb")).expect("open store");
        let queue = EmbeddedQueue::new(
            &store,
            "chunks",
            Some("chunks-dead-letter"),
            3,
            Duration::from_secs(60),
        );
        Self {
            store,
            queue,
            clock: Arc::default(),
            _dir: dir,
        }
    }

    pub fn jobs(&self) -> Arc<dyn JobStore> {
        Arc::new(self.store.clone())
    }

    pub fn records(&self) -> Arc<dyn RecordStore> {
        Arc::new(self.store.clone())
    }

    pub fn submit_deps(&self) -> submit::Deps {
        submit::Deps {
            events: Arc::new(NoFlush),
            jobs: self.jobs(),
            queue: Arc::new(EmbeddedQueue::new(
                &self.store,
                "chunks",
                Some("chunks-dead-letter"),
                3,
                Duration::from_secs(60),
            )),
            clock: self.clock.clone(),
            quota: Default::default(),
            uploads: None,
        }
    }

    pub fn query_deps(&self) -> query::Deps {
        query::Deps {
            jobs: self.jobs(),
            events: Arc::new(NoFlush),
            clock: self.clock.clone(),
            results: None,
        }
    }

    pub fn cancel_deps(&self) -> cancel::Deps {
        cancel::Deps {
            jobs: self.jobs(),
            events: Arc::new(NoFlush),
            clock: self.clock.clone(),
            results: None,
        }
    }

    /// Jobs listed for `owner` (both types) and messages queued: what a rejected request
    /// must leave unchanged.
    pub async fn footprint(&self, owner: &str) -> (usize, usize, usize) {
        let mfp = self
            .store
            .list_jobs(JobType::SendMfp, owner, usize::MAX)
            .await
            .expect("list jobs")
            .len();
        let uploads = self
            .store
            .list_jobs(JobType::AddAccounts, owner, usize::MAX)
            .await
            .expect("list uploads")
            .len();
        (mfp, uploads, self.queue.depth().await.expect("queue depth"))
    }
}
