//! The handlers' dependencies on either backend, moto or the embedded store, with the chunk
//! queue windowed as in production: for tests that run one scenario on both.

use std::sync::Arc;
use std::time::Duration;

use bulkops_embedded::{EmbeddedQueue, EmbeddedStore};
use bulkops_shared::engine::NoFlush;
use bulkops_shared::model::{Job, JobState};
use bulkops_shared::queue::sqs::SqsChunkQueue;
use bulkops_shared::queue::{ChunkQueue, ChunkSource, WindowedQueue};
use bulkops_shared::staged::{split, SplitDeps, StagedRows};
use bulkops_shared::store::dynamo::DynamoJobStore;
use bulkops_shared::store::{ChunkParking, JobStore, RecordStore};
use bulkops_testkit::{pump, Fixture, PumpOptions, PumpStats};
use lambda_runtime::{Context, LambdaEvent};

/// The handlers' dependencies on one backend.
pub struct Backend {
    pub submit: submit::Deps,
    pub worker: processor::Deps,
    pub jobs: Arc<dyn JobStore>,
    pub records: Arc<dyn RecordStore>,
    pub source: Arc<dyn ChunkSource>,
    /// Where a job's chunks wait for their turn, and the queue without the window (the
    /// staged-file splitter parks and queues by itself).
    pub parking: Arc<dyn ChunkParking>,
    pub plain_queue: Arc<dyn ChunkQueue>,
    pub window: u32,
    pub arn: String,
    _keep: Box<dyn std::any::Any + Send + Sync>,
}

pub async fn moto(window: u32) -> Backend {
    let mut fx = Fixture::new().await;
    fx.chunk_window = window;
    Backend {
        submit: fx.submit_deps(),
        worker: fx.processor_deps(),
        jobs: fx.jobs(),
        records: fx.records(),
        source: Arc::new(fx.source()),
        parking: Arc::new(DynamoJobStore::new(fx.clients.dynamodb.clone(), &fx.table)),
        plain_queue: Arc::new(SqsChunkQueue::new(fx.clients.sqs.clone(), &fx.queue_url)),
        window,
        arn: fx.queue_arn.clone(),
        _keep: Box::new(fx),
    }
}

pub fn embedded(window: u32) -> Backend {
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = EmbeddedStore::open(&dir.path().join("bulkops.redb")).expect("open store");
    let plain = EmbeddedQueue::new(&store, "chunks", None, 5, Duration::from_secs(60));
    let queue: Arc<dyn ChunkQueue> = Arc::new(WindowedQueue::new(
        Arc::new(plain.clone()),
        Arc::new(store.clone()),
        window,
    ));
    let jobs: Arc<dyn JobStore> = Arc::new(store.clone());
    let records: Arc<dyn RecordStore> = Arc::new(store.clone());
    Backend {
        submit: submit::Deps {
            jobs: jobs.clone(),
            queue: queue.clone(),
            events: Arc::new(NoFlush),
            clock: Arc::new(bulkops_shared::time::SystemClock),
            quota: Default::default(),
            uploads: None,
        },
        worker: processor::Deps {
            jobs: jobs.clone(),
            operations: bulkops_shared::ops::registry(records.clone()),
            events: Arc::new(NoFlush),
            metrics: Arc::new(bulkops_shared::metrics::NoMetrics),
            queue,
            // As the local server's embedded backend.
            group_chunks: false,
        },
        jobs,
        records,
        source: Arc::new(plain.clone()),
        parking: Arc::new(store.clone()),
        plain_queue: Arc::new(plain),
        window,
        arn: "arn:aws:sqs:local:000000000000:chunks".into(),
        _keep: Box::new(dir),
    }
}

impl Backend {
    /// The moto fixture behind this backend, if it runs on moto (to scan its table).
    pub fn fixture(&self) -> Option<&Fixture> {
        self._keep.downcast_ref::<Fixture>()
    }

    /// What the staged-file splitter needs on this backend.
    pub fn split_deps(&self) -> SplitDeps<'_> {
        SplitDeps {
            jobs: self.jobs.as_ref(),
            parking: self.parking.as_ref(),
            queue: self.plain_queue.as_ref(),
            window: self.window,
            deadline_ms: None,
        }
    }

    /// Splits job `id`'s staged `file` with `rows`, checks that the job was released with
    /// `total` rows in more chunks than the window, runs every chunk with each message
    /// delivered 3× and checks that each chunk was queued once; the job as it ended.
    pub async fn split_and_run(
        &self,
        id: &str,
        file: &[u8],
        rows: &mut dyn StagedRows,
        total: usize,
    ) -> Job {
        let job = split(self.split_deps(), id, file, rows)
            .await
            .expect("split the file");
        assert_eq!(job.state, JobState::Scheduled, "{:?}", job.error_message);
        assert_eq!(job.total_rows as usize, total);
        assert!(
            job.chunk_count > self.window,
            "more chunks than the window: {}",
            job.chunk_count
        );
        let options = PumpOptions {
            deliveries: 3,
            ..PumpOptions::default()
        };
        let stats = self.process_all(options).await;
        assert_eq!(
            stats.deliveries,
            3 * job.chunk_count as usize,
            "each chunk queued once"
        );
        self.jobs.get_job(id).await.unwrap().expect("the job")
    }

    /// Pumps the chunk queue into the real processor handler until it is empty.
    pub async fn process_all(&self, options: PumpOptions) -> PumpStats {
        let worker = &self.worker;
        pump(self.source.as_ref(), &self.arn, options, |event| {
            processor::handler(worker, LambdaEvent::new(event, Context::default()))
        })
        .await
    }
}
