//! AWS wiring: SDK configuration from the environment (so the same binary runs against AWS,
//! moto or LocalStack through the SDK's standard `AWS_ENDPOINT_URL`), required settings, and
//! the clients every function builds once.

use aws_config::{BehaviorVersion, SdkConfig};

/// A required setting is missing.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {0} must be set")]
pub struct MissingSetting(pub &'static str);

/// A setting that is missing or malformed.
#[derive(Debug, thiserror::Error)]
pub enum SettingError {
    #[error(transparent)]
    Missing(#[from] MissingSetting),
    #[error("environment variable {0} must be a positive integer, not {1:?}")]
    NotPositive(&'static str, String),
}

/// A positive integer setting; unset or empty is `default`.
fn positive_env<T: std::str::FromStr + PartialOrd + Default>(
    name: &'static str,
    default: T,
) -> Result<T, SettingError> {
    match optional_env(name) {
        None => Ok(default),
        Some(text) => match text.trim().parse::<T>() {
            Ok(value) if value > T::default() => Ok(value),
            _ => Err(SettingError::NotPositive(name, text)),
        },
    }
}

/// The per-caller quota of the create routes: `MAX_ACTIVE_JOBS_PER_CALLER` and
/// `MAX_ROWS_IN_FLIGHT_PER_CALLER` (template parameters), each defaulting when unset.
pub fn quota_from_env() -> Result<crate::store::Quota, SettingError> {
    let defaults = crate::store::Quota::default();
    Ok(crate::store::Quota {
        max_active_jobs: positive_env("MAX_ACTIVE_JOBS_PER_CALLER", defaults.max_active_jobs)?,
        max_rows_in_flight: positive_env(
            "MAX_ROWS_IN_FLIGHT_PER_CALLER",
            defaults.max_rows_in_flight,
        )?,
    })
}

/// Reads a required environment variable; functions call this at cold start and fail fast.
pub fn required_env(name: &'static str) -> Result<String, MissingSetting> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .ok_or(MissingSetting(name))
}

/// SDK configuration from the standard environment and credential chain.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// The S3 client's configuration: path-style addressing (`<endpoint>/<bucket>/<key>`) when
/// the endpoint is overridden (`AWS_ENDPOINT_URL`: moto, LocalStack), which cannot resolve
/// `<bucket>.<endpoint>` host names; virtual-hosted style on AWS.
pub fn s3_config(config: &SdkConfig) -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::config::Builder::from(config).force_path_style(config.endpoint_url().is_some())
}

/// Clients built once per cold start and shared by every invocation.
#[derive(Clone, Debug)]
pub struct AwsClients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub eventbridge: aws_sdk_eventbridge::Client,
    pub s3: aws_sdk_s3::Client,
}

impl AwsClients {
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            sqs: aws_sdk_sqs::Client::new(config),
            eventbridge: aws_sdk_eventbridge::Client::new(config),
            s3: aws_sdk_s3::Client::from_conf(s3_config(config).build()),
        }
    }

    pub fn job_store(&self, table: &str) -> std::sync::Arc<dyn crate::store::JobStore> {
        std::sync::Arc::new(crate::store::dynamo::DynamoJobStore::new(
            self.dynamodb.clone(),
            table,
        ))
    }

    pub fn record_store(&self, table: &str) -> std::sync::Arc<dyn crate::store::RecordStore> {
        std::sync::Arc::new(crate::store::dynamo::DynamoRecordStore::new(
            self.dynamodb.clone(),
            table,
        ))
    }

    /// The chunk queue `queue_url`, windowed per job (see [`crate::queue::WindowedQueue`]):
    /// `CHUNK_WINDOW` chunks of a job queued at once (default
    /// [`crate::queue::DEFAULT_CHUNK_WINDOW`]), the rest parked in `table`.
    pub fn chunk_queue(
        &self,
        table: &str,
        queue_url: &str,
    ) -> std::sync::Arc<dyn crate::queue::ChunkQueue> {
        self.windowed_chunk_queue(table, queue_url, chunk_window())
    }

    /// The chunk queue `queue_url` with `window` chunks of a job queued at once.
    pub fn windowed_chunk_queue(
        &self,
        table: &str,
        queue_url: &str,
        window: u32,
    ) -> std::sync::Arc<dyn crate::queue::ChunkQueue> {
        let sqs = crate::queue::sqs::SqsChunkQueue::new(self.sqs.clone(), queue_url);
        let parking = crate::store::dynamo::DynamoJobStore::new(self.dynamodb.clone(), table);
        std::sync::Arc::new(crate::queue::WindowedQueue::new(
            std::sync::Arc::new(sqs),
            std::sync::Arc::new(parking),
            window,
        ))
    }
}

impl AwsClients {
    /// Staged files in the S3 bucket `bucket` (objects `uploads/<job id>`).
    pub fn uploads(&self, bucket: &str) -> std::sync::Arc<dyn crate::staged::UploadStore> {
        std::sync::Arc::new(crate::staged::S3Uploads::new(self.s3.clone(), bucket))
    }

    /// The splitter of the files arriving in `bucket`: jobs and parked chunks on `table`, the
    /// first window of each job (`CHUNK_WINDOW`) on the chunk queue `queue_url`, splits that
    /// go on in another invocation on its own queue `split_queue_url`.
    pub fn splitter(
        &self,
        table: &str,
        queue_url: &str,
        bucket: &str,
        split_queue_url: &str,
    ) -> crate::staged::Splitter {
        crate::staged::Splitter {
            jobs: self.job_store(table),
            parking: std::sync::Arc::new(crate::store::dynamo::DynamoJobStore::new(
                self.dynamodb.clone(),
                table,
            )),
            queue: std::sync::Arc::new(crate::queue::sqs::SqsChunkQueue::new(
                self.sqs.clone(),
                queue_url,
            )),
            window: chunk_window(),
            uploads: self.uploads(bucket),
            events: self.event_flush(table),
            results: self.result_files(bucket),
            continuations: std::sync::Arc::new(crate::queue::SqsMessageQueue::new(
                self.sqs.clone(),
                split_queue_url,
            )),
        }
    }

    /// Result files in the S3 bucket `bucket` (objects `results/<job id>/<name>`).
    pub fn result_files(
        &self,
        bucket: &str,
    ) -> std::sync::Arc<dyn crate::results::ResultFileStore> {
        std::sync::Arc::new(crate::results::s3::S3ResultFiles::new(
            self.s3.clone(),
            bucket,
        ))
    }

    /// Requests for result files as messages to the queue `queue_url` (the split queue).
    pub fn results_requests(
        &self,
        queue_url: &str,
    ) -> std::sync::Arc<dyn crate::results::ResultsRequests> {
        std::sync::Arc::new(crate::results::SqsResultsRequests {
            queue: std::sync::Arc::new(crate::queue::SqsMessageQueue::new(
                self.sqs.clone(),
                queue_url,
            )),
        })
    }

    /// The read routes' result files, from `UPLOAD_BUCKET` and `RESULTS_QUEUE_URL` (both, or
    /// the result file routes answer 404).
    pub fn result_access(&self) -> Option<crate::results::ResultAccess> {
        let bucket = optional_env("UPLOAD_BUCKET")?;
        let queue = optional_env("RESULTS_QUEUE_URL")?;
        Some(crate::results::ResultAccess {
            files: self.result_files(&bucket),
            requests: self.results_requests(&queue),
        })
    }
}

/// `CHUNK_WINDOW`: chunks of one job queued at once. Unset, empty or not a positive number is
/// the default; every function of a stack gets the same value from the template.
pub fn chunk_window() -> u32 {
    optional_env("CHUNK_WINDOW")
        .and_then(|value| value.parse().ok())
        .filter(|window| *window > 0)
        .unwrap_or(crate::queue::DEFAULT_CHUNK_WINDOW)
}

/// An optional setting (unset or empty is `None`).
pub fn optional_env(name: &'static str) -> Option<String> {
    required_env(name).ok()
}

impl AwsClients {
    /// The publisher of `table`'s job events on the EventBridge bus `bus`.
    pub fn publisher(&self, table: &str, bus: &str) -> crate::events::Publisher {
        crate::events::Publisher::new(
            self.job_store(table),
            std::sync::Arc::new(crate::events::EventBridgeSink::new(
                self.eventbridge.clone(),
                bus,
            )),
        )
        .with_metrics(std::sync::Arc::new(crate::metrics::Emf))
    }

    /// Publishes job events at once when `EVENT_BUS_NAME` is set; without a bus they wait in
    /// the outbox.
    /// With `RESULTS_QUEUE_URL`, a final job's result files are asked for there too.
    pub fn event_flush(&self, table: &str) -> std::sync::Arc<dyn crate::engine::EventFlush> {
        let events: std::sync::Arc<dyn crate::engine::EventFlush> =
            match optional_env("EVENT_BUS_NAME") {
                Some(bus) => std::sync::Arc::new(self.publisher(table, &bus)),
                None => std::sync::Arc::new(crate::engine::NoFlush),
            };
        match optional_env("RESULTS_QUEUE_URL") {
            Some(queue) => std::sync::Arc::new(crate::results::ResultsOnEnd {
                inner: events,
                jobs: self.job_store(table),
                requests: self.results_requests(&queue),
            }),
            None => events,
        }
    }
}

impl AwsClients {
    /// The intake of event-driven requests: jobs on `table`, chunks on `queue_url`, events
    /// (and rejections) on `bus`, unreadable requests to `dead_letter_url`.
    pub fn intake(
        &self,
        table: &str,
        queue_url: &str,
        bus: &str,
        dead_letter_url: &str,
    ) -> crate::intake::Intake {
        crate::intake::Intake {
            jobs: self.job_store(table),
            queue: self.chunk_queue(table, queue_url),
            events: std::sync::Arc::new(self.publisher(table, bus)),
            sink: std::sync::Arc::new(crate::events::EventBridgeSink::new(
                self.eventbridge.clone(),
                bus,
            )),
            dead_letters: std::sync::Arc::new(crate::queue::SqsMessageQueue::new(
                self.sqs.clone(),
                dead_letter_url,
            )),
        }
    }
}

/// The composition root of the worker functions: the job store and every registered
/// operation, on one table.
impl crate::engine::sqs::WorkerDeps {
    /// From `TABLE_NAME` (jobs, reference data and side effects share the table) and
    /// `QUEUE_URL` (the chunk queue, where a windowed job's next chunks go).
    pub fn from_env(clients: &AwsClients) -> Result<Self, MissingSetting> {
        let table = required_env("TABLE_NAME")?;
        Ok(Self {
            queue: clients.chunk_queue(&table, &required_env("QUEUE_URL")?),
            jobs: clients.job_store(&table),
            operations: crate::ops::registry(clients.record_store(&table)),
            events: clients.event_flush(&table),
            metrics: std::sync::Arc::new(crate::metrics::Emf),
            group_chunks: true,
        })
    }
}
