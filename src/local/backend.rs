//! What the local server runs on: the embedded store and queue in a data directory (the
//! default), or DynamoDB and SQS (moto, LocalStack or an AWS account). Either way the
//! handlers get the same dependency structs the Lambda functions build at cold start.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bulkops_embedded::EmbeddedQueue;
use bulkops_embedded::EmbeddedStore;
use bulkops_shared::api::JobsDeps;
use bulkops_shared::aws::{load_sdk_config, AwsClients};
use bulkops_shared::engine::sqs::WorkerDeps;
use bulkops_shared::engine::EventFlush;
use bulkops_shared::error::StoreError;
use bulkops_shared::events::Publisher;
use bulkops_shared::queue::sqs::SqsChunkQueue;
use bulkops_shared::queue::sqs::SqsChunkSource;
use bulkops_shared::queue::{ChunkQueue, ChunkSource, SqsMessageQueue, WindowedQueue};
use bulkops_shared::staged::SplitDeps;
use bulkops_shared::store::dynamo::DynamoJobStore;
use bulkops_shared::store::{ChunkParking, JobStore, Quota, RecordStore};
use bulkops_shared::time::SystemClock;

use super::event_log::LocalEventLog;

use super::intake::Requests;
use bulkops_shared::intake::Intake;
use bulkops_shared::metrics::Registry;

/// Receives before a message moves to the dead-letter queue (template.yaml's redrive policy).
pub use bulkops_shared::queue::MAX_RECEIVE_COUNT;
/// The store file inside the data directory.
pub const STORE_FILE: &str = "bulkops.redb";
const MAIN_QUEUE: &str = "chunks";
const DEAD_LETTER_QUEUE: &str = "chunks-dead-letter";

/// Where the service keeps its state.
#[derive(Clone, Debug)]
pub enum BackendConfig {
    Embedded {
        data_dir: PathBuf,
        visibility: Duration,
        /// Chunks of one job queued at once (see `WindowedQueue`).
        chunk_window: u32,
    },
    Aws {
        table: String,
        queue_url: String,
        /// Chunks of one job queued at once (see `WindowedQueue`).
        chunk_window: u32,
        dead_letter_queue_url: Option<String>,
        /// Event-driven requests: the intake queue, its dead-letter queue and the bus.
        intake: Option<AwsIntake>,
    },
}

/// The stack's intake queues and event bus (outputs `IntakeQueueUrl`,
/// `IntakeDeadLetterQueueUrl`, `EventBus`).
#[derive(Clone, Debug)]
pub struct AwsIntake {
    pub queue_url: String,
    pub dead_letter_queue_url: String,
    pub bus: String,
}

/// A queue the workers poll, and the function its batches go to.
pub struct Poller {
    pub source: Arc<dyn ChunkSource>,
    pub queue_arn: String,
}

/// The embedded store's events: the log they go to and the publisher that sends them there.
pub struct LocalEvents {
    pub log: LocalEventLog,
    pub publisher: Publisher,
}

/// Every dependency of every function, built once.
pub struct Backend {
    pub submit: submit::Deps,
    pub query: JobsDeps,
    pub cancel: JobsDeps,
    pub processor: WorkerDeps,
    pub dead_letter: WorkerDeps,
    pub chunks: Poller,
    pub dead_letters: Option<Poller>,
    /// Event-driven requests, when this backend takes them.
    pub requests: Option<Requests>,
    /// Reference data and side effects (for loading demo data).
    pub records: Arc<dyn RecordStore>,
    /// The embedded store, whose lazy commits the server syncs periodically.
    pub embedded: Option<EmbeddedStore>,
    /// Embedded store: the events log and its publisher, which the server sweeps
    /// periodically. (In AWS mode the stack's publisher function sweeps.)
    pub events: Option<LocalEvents>,
    /// One line saying where the state lives.
    pub description: String,
    /// What the workers and the publisher counted, for `GET /metrics`.
    pub metrics: Arc<Registry>,
    /// What splitting a staged file needs (the server splits the files it receives).
    pub splitting: Splitting,
    /// Background work the server waits for when it stops (result files being written).
    pub background: super::results::Background,
}

/// The stores and the plain chunk queue a split writes to, and the chunk window.
pub struct Splitting {
    pub jobs: Arc<dyn JobStore>,
    pub parking: Arc<dyn ChunkParking>,
    pub queue: Arc<dyn ChunkQueue>,
    pub window: u32,
}

impl Splitting {
    pub fn deps(&self) -> SplitDeps<'_> {
        SplitDeps {
            jobs: self.jobs.as_ref(),
            parking: self.parking.as_ref(),
            queue: self.queue.as_ref(),
            window: self.window,
            deadline_ms: None,
        }
    }
}

impl Backend {
    /// The backend `config` names; its create routes hold each caller to `quota`.
    pub async fn open(config: &BackendConfig, quota: Quota) -> anyhow::Result<Self> {
        match config {
            BackendConfig::Embedded {
                data_dir,
                visibility,
                chunk_window,
            } => Self::embedded(data_dir, *visibility, *chunk_window, quota).await,
            BackendConfig::Aws {
                table,
                queue_url,
                chunk_window,
                dead_letter_queue_url,
                intake,
            } => Ok(Self::aws(
                table,
                (queue_url, *chunk_window),
                dead_letter_queue_url.as_deref(),
                intake.as_ref(),
                quota,
            )
            .await),
        }
    }

    /// Makes every commit so far durable: the HTTP layer calls it before each answer, so that
    /// no caller is told what a crash could take back. A no-op in AWS mode (DynamoDB's and
    /// SQS's writes are durable when they return).
    pub async fn make_durable(&self) -> Result<(), StoreError> {
        match &self.embedded {
            Some(store) => JobStore::make_durable(store).await,
            None => Ok(()),
        }
    }

    async fn embedded(
        data_dir: &Path,
        visibility: Duration,
        chunk_window: u32,
        quota: Quota,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
        let path = data_dir.join(STORE_FILE);
        let store = EmbeddedStore::open(&path).with_context(|| {
            format!(
                "opening {} (is another bulkops server using this data directory?)",
                path.display()
            )
        })?;
        // The row work commits lazily and the server syncs it (see EmbeddedStore::lazy for why
        // that is safe); staged files are split through durable commits.
        let work = store.lazy();
        let queue = |s: &EmbeddedStore| {
            EmbeddedQueue::new(
                s,
                MAIN_QUEUE,
                Some(DEAD_LETTER_QUEUE),
                MAX_RECEIVE_COUNT,
                visibility,
            )
        };
        let chunks = queue(&work);
        // A window of each job's chunks in the queue, the rest parked in the store.
        let windowed = |s: &EmbeddedStore| -> Arc<dyn ChunkQueue> {
            Arc::new(WindowedQueue::new(
                Arc::new(queue(s)),
                Arc::new(s.clone()),
                chunk_window,
            ))
        };
        let dead_letters = EmbeddedQueue::new(&work, DEAD_LETTER_QUEUE, None, 0, visibility);
        let released = chunks.release_in_flight().await? + dead_letters.release_in_flight().await?;
        if released > 0 {
            tracing::info!(
                released,
                "messages in flight when the server last stopped are visible again"
            );
        }
        // Every handle that serves callers and events commits lazily too: nothing leaves this
        // server before a sync. An answer waits for one (`Backend::make_durable`, called by
        // the HTTP layer), and the publisher makes the store durable before it sends (its
        // marks of sent events may be lost in a crash: the log keeps an event's id once).
        // Concurrent callers so share one fsync instead of each committing durably.
        let jobs = Arc::new(work.clone());
        let log = LocalEventLog::open(data_dir)?;
        let job_store: Arc<dyn JobStore> = jobs.clone();
        let metrics = Arc::new(Registry::default());
        let publisher =
            Publisher::new(job_store, Arc::new(log.clone())).with_metrics(metrics.clone());
        let events: Arc<dyn EventFlush> = Arc::new(publisher.clone());
        let worker = || WorkerDeps {
            jobs: Arc::new(work.clone()),
            operations: bulkops_shared::ops::registry(Arc::new(work.clone())),
            events: events.clone(),
            metrics: metrics.clone(),
            queue: windowed(&work),
            // Alone: on the embedded store, grouping measured more CPU (see `WorkerDeps`).
            group_chunks: false,
        };
        // Requests are answered (202) after a sync, like every caller.
        let (request_queue, request_poller, request_dead_letters) =
            super::intake::embedded_queues(&work, visibility).await?;
        let requests = Requests {
            queue: request_queue,
            poller: request_poller,
            intake: Intake {
                jobs: jobs.clone(),
                queue: windowed(&work),
                events: events.clone(),
                sink: Arc::new(log.clone()),
                dead_letters: request_dead_letters,
            },
        };
        Ok(Self {
            submit: submit::Deps {
                jobs: jobs.clone(),
                queue: windowed(&work),
                events: events.clone(),
                clock: Arc::new(SystemClock),
                quota,
                uploads: None,
            },
            query: JobsDeps {
                jobs: jobs.clone(),
                events: events.clone(),
                clock: Arc::new(SystemClock),
                results: None,
            },
            cancel: JobsDeps {
                jobs,
                events: events.clone(),
                clock: Arc::new(SystemClock),
                results: None,
            },
            processor: worker(),
            dead_letter: worker(),
            chunks: Poller {
                source: Arc::new(chunks),
                queue_arn: format!("arn:aws:sqs:local:000000000000:{MAIN_QUEUE}"),
            },
            dead_letters: Some(Poller {
                source: Arc::new(dead_letters),
                queue_arn: format!("arn:aws:sqs:local:000000000000:{DEAD_LETTER_QUEUE}"),
            }),
            requests: Some(requests),
            records: Arc::new(store.clone()),
            embedded: Some(store.clone()),
            events: Some(LocalEvents { log, publisher }),
            description: format!("embedded store {}", path.display()),
            metrics,
            splitting: Splitting {
                jobs: Arc::new(store.clone()),
                parking: Arc::new(store.clone()),
                queue: Arc::new(queue(&store)),
                window: chunk_window,
            },
            background: Default::default(),
        })
    }

    async fn aws(
        table: &str,
        (queue_url, chunk_window): (&str, u32),
        dead_letter_queue_url: Option<&str>,
        intake: Option<&AwsIntake>,
        quota: Quota,
    ) -> Self {
        let clients = AwsClients::new(&load_sdk_config().await);
        let events = clients.event_flush(table);
        let metrics = Arc::new(Registry::default());
        let worker = || WorkerDeps {
            jobs: clients.job_store(table),
            operations: bulkops_shared::ops::registry(clients.record_store(table)),
            events: events.clone(),
            metrics: metrics.clone(),
            queue: clients.windowed_chunk_queue(table, queue_url, chunk_window),
            group_chunks: true,
        };
        let poller = |url: &str| Poller {
            source: Arc::new(SqsChunkSource::new(clients.sqs.clone(), url).long_polling(1)),
            queue_arn: queue_arn(url),
        };
        Self {
            submit: submit::Deps {
                jobs: clients.job_store(table),
                queue: clients.windowed_chunk_queue(table, queue_url, chunk_window),
                events: events.clone(),
                clock: Arc::new(SystemClock),
                quota,
                uploads: None,
            },
            query: JobsDeps {
                jobs: clients.job_store(table),
                events: events.clone(),
                clock: Arc::new(SystemClock),
                results: None,
            },
            cancel: JobsDeps {
                jobs: clients.job_store(table),
                events: events.clone(),
                clock: Arc::new(SystemClock),
                results: None,
            },
            processor: worker(),
            dead_letter: worker(),
            chunks: poller(queue_url),
            dead_letters: dead_letter_queue_url.map(poller),
            requests: intake.map(|intake| Requests {
                queue: Arc::new(SqsMessageQueue::new(clients.sqs.clone(), &intake.queue_url)),
                poller: poller(&intake.queue_url),
                intake: Intake {
                    queue: clients.windowed_chunk_queue(table, queue_url, chunk_window),
                    ..clients.intake(table, queue_url, &intake.bus, &intake.dead_letter_queue_url)
                },
            }),
            records: clients.record_store(table),
            embedded: None,
            events: None,
            description: format!("DynamoDB table {table}, SQS queue {queue_url}"),
            metrics,
            splitting: Splitting {
                jobs: clients.job_store(table),
                parking: Arc::new(DynamoJobStore::new(clients.dynamodb.clone(), table)),
                queue: Arc::new(SqsChunkQueue::new(clients.sqs.clone(), queue_url)),
                window: chunk_window,
            },
            background: Default::default(),
        }
    }
}

/// `https://sqs.<region>.amazonaws.com/<account>/<name>` → `arn:aws:sqs:<region>:<account>:<name>`
/// (best effort: the ARN only labels the events).
fn queue_arn(url: &str) -> String {
    let parts: Vec<&str> = url.trim_end_matches('/').rsplit('/').take(2).collect();
    let region = url
        .split("sqs.")
        .nth(1)
        .and_then(|rest| rest.split('.').next())
        .unwrap_or("local");
    match parts.as_slice() {
        [name, account] => format!("arn:aws:sqs:{region}:{account}:{name}"),
        _ => format!("arn:aws:sqs:{region}:000000000000:queue"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn queue_arns_from_urls() {
        assert_eq!(
            super::queue_arn("https://sqs.eu-west-1.amazonaws.com/123456789012/chunks"),
            "arn:aws:sqs:eu-west-1:123456789012:chunks"
        );
        assert_eq!(
            super::queue_arn("http://127.0.0.1:5000/000000000000/q"),
            "arn:aws:sqs:local:000000000000:q"
        );
    }
}
