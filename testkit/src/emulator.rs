use std::sync::Arc;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use aws_sdk_sqs::types::QueueAttributeName;
use bulkops_shared::aws::AwsClients;
use bulkops_shared::engine::EventFlush;
use bulkops_shared::events::Publisher;
use bulkops_shared::metrics::Registry;

use crate::bus::create_event_bus;
use crate::calls::{counted_clients, CallCounter};
use crate::capacity::CapacityMeter;
use crate::uploads::UploadBucket;
use crate::MovableClock;
use bulkops_shared::queue::ChunkQueue;
use bulkops_shared::store::dynamo::{JOBS_INDEX, OUTBOX_INDEX};
use bulkops_shared::store::keys::AWAITING_UPLOAD_INDEX;
use bulkops_shared::store::{JobStore, RecordStore};

/// The emulator endpoint (e.g. `http://127.0.0.1:5123`), set by `scripts/test.sh`.
pub const ENDPOINT_VAR: &str = "BULKOPS_TEST_ENDPOINT";
/// Receives before SQS moves a message to the dead-letter queue (as in template.yaml).
pub use bulkops_shared::queue::MAX_RECEIVE_COUNT;

/// SDK configuration for the emulator: static test credentials, us-east-1.
pub async fn emulator_sdk_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .load()
        .await
}

fn attribute(name: &str, kind: ScalarAttributeType) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(kind)
        .build()
        .expect("attribute definition")
}

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .expect("key schema")
}

/// Creates the service table (same schema as template.yaml): its keys and, for each index
/// (every one keyed `<index>pk`/`<index>sk`, projecting all attributes), its keys.
pub async fn create_table(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
) -> Result<(), aws_sdk_dynamodb::Error> {
    let mut table = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("pk", ScalarAttributeType::S))
        .attribute_definitions(attribute("sk", ScalarAttributeType::S))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range));
    for index in [JOBS_INDEX, OUTBOX_INDEX, AWAITING_UPLOAD_INDEX] {
        let (pk, sk) = (format!("{index}pk"), format!("{index}sk"));
        let projection = Projection::builder()
            .projection_type(ProjectionType::All)
            .build();
        let index = GlobalSecondaryIndex::builder()
            .index_name(index)
            .key_schema(key(&pk, KeyType::Hash))
            .key_schema(key(&sk, KeyType::Range))
            .projection(projection)
            .build()
            .expect("index");
        table = table
            .attribute_definitions(attribute(&pk, ScalarAttributeType::S))
            .attribute_definitions(attribute(&sk, ScalarAttributeType::S))
            .global_secondary_indexes(index);
    }
    table.send().await?;
    Ok(())
}

/// Creates a chunk queue and its dead-letter queue; returns `(queue_url, queue_arn, dlq_url, dlq_arn)`.
pub async fn create_queues(
    client: &aws_sdk_sqs::Client,
    name: &str,
) -> Result<(String, String, String, String), aws_sdk_sqs::Error> {
    let dlq_url = client
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .send()
        .await?
        .queue_url
        .unwrap_or_default();
    let dlq_arn = queue_arn(client, &dlq_url).await?;
    let redrive = serde_json::json!({ "deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT.to_string() });
    let queue_url = client
        .create_queue()
        .queue_name(name)
        .attributes(QueueAttributeName::RedrivePolicy, redrive.to_string())
        .attributes(QueueAttributeName::VisibilityTimeout, "180")
        .attributes(QueueAttributeName::MaximumMessageSize, "262144")
        .send()
        .await?
        .queue_url
        .unwrap_or_default();
    let arn = queue_arn(client, &queue_url).await?;
    Ok((queue_url, arn, dlq_url, dlq_arn))
}

pub(crate) async fn queue_arn(
    client: &aws_sdk_sqs::Client,
    url: &str,
) -> Result<String, aws_sdk_sqs::Error> {
    let out = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await?;
    Ok(out
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .unwrap_or_default())
}

/// A fresh table, queue, dead-letter queue and event bus on the emulator, with counted clients.
pub struct Fixture {
    pub clients: AwsClients,
    pub counter: CallCounter,
    /// DynamoDB and SQS units billed for those calls (the benchmarks' cost figures).
    pub capacity: CapacityMeter,
    pub table: String,
    pub queue_url: String,
    pub queue_arn: String,
    pub dlq_url: String,
    pub dlq_arn: String,
    /// The event bus, and the queue its rule forwards every event to.
    pub bus: String,
    pub events_queue_url: String,
    /// What the fixture's workers and publisher counted.
    pub metrics: Arc<Registry>,
    /// The HTTP routes' clock (expiry); tests advance it.
    pub clock: Arc<MovableClock>,
    /// Chunks of one job queued at once (the rest parked); tests may lower it.
    pub chunk_window: u32,
    /// Each caller's limits on the create routes; tests may lower them.
    pub quota: bulkops_shared::store::Quota,
    /// The upload bucket of staged files, once [`Fixture::add_upload_bucket`] made it: then
    /// the submit function takes staged files (presigned PUTs to it).
    pub uploads: Option<UploadBucket>,
}

impl Fixture {
    /// Panics (never skips) when the emulator is not configured or not reachable.
    pub async fn new() -> Self {
        let endpoint = std::env::var(ENDPOINT_VAR).unwrap_or_else(|_| {
            panic!("{ENDPOINT_VAR} is not set: run the tests with scripts/test.sh, which installs and starts moto")
        });
        Self::at(&endpoint).await
    }

    pub async fn at(endpoint: &str) -> Self {
        let config = emulator_sdk_config(endpoint).await;
        let counter = CallCounter::default();
        let capacity = CapacityMeter::default();
        let clients = counted_clients(&config, &counter, &capacity);
        let name = format!("bulkops-{}", uuid::Uuid::new_v4().simple());
        create_table(&clients.dynamodb, &name)
            .await
            .unwrap_or_else(|e| panic!("cannot create a table on the emulator at {endpoint}: {e}"));
        let (queue_url, queue_arn, dlq_url, dlq_arn) = create_queues(&clients.sqs, &name)
            .await
            .unwrap_or_else(|e| panic!("cannot create queues on the emulator at {endpoint}: {e}"));
        let events_queue_url = create_event_bus(&clients, &name).await.unwrap_or_else(|e| {
            panic!("cannot create an event bus on the emulator at {endpoint}: {e}")
        });
        counter.reset();
        capacity.reset();
        Self {
            clients,
            counter,
            capacity,
            bus: name.clone(),
            table: name,
            queue_url,
            queue_arn,
            dlq_url,
            dlq_arn,
            events_queue_url,
            metrics: Arc::default(),
            clock: Arc::default(),
            chunk_window: bulkops_shared::queue::DEFAULT_CHUNK_WINDOW,
            quota: Default::default(),
            uploads: None,
        }
    }

    /// Publishes this fixture's job events on its bus.
    pub fn publisher(&self) -> Publisher {
        self.clients
            .publisher(&self.table, &self.bus)
            .with_metrics(self.metrics.clone())
            .with_clock(self.clock.clone())
    }

    /// The publisher; with an upload bucket, a final job's result files are asked for on its
    /// split queue too (as the stack's functions do with `RESULTS_QUEUE_URL`).
    pub fn events(&self) -> Arc<dyn EventFlush> {
        let publisher = Arc::new(self.publisher());
        match self.result_access() {
            Some(access) => Arc::new(bulkops_shared::results::ResultsOnEnd {
                inner: publisher,
                jobs: self.jobs(),
                requests: access.requests,
            }),
            None => publisher,
        }
    }

    /// Every event the bus forwarded so far, by arrival (the queue is drained).
    pub async fn published_events(&self) -> Vec<serde_json::Value> {
        let mut events = Vec::new();
        loop {
            let out = self
                .clients
                .sqs
                .receive_message()
                .queue_url(&self.events_queue_url)
                .max_number_of_messages(10)
                .send()
                .await
                .expect("receive events");
            let messages = out.messages.unwrap_or_default();
            if messages.is_empty() {
                return events;
            }
            for message in messages {
                let body = message.body.unwrap_or_default();
                events.push(serde_json::from_str(&body).expect("an EventBridge event"));
                self.clients
                    .sqs
                    .delete_message()
                    .queue_url(&self.events_queue_url)
                    .receipt_handle(message.receipt_handle.unwrap_or_default())
                    .send()
                    .await
                    .expect("delete event");
            }
        }
    }

    pub fn jobs(&self) -> Arc<dyn JobStore> {
        self.clients.job_store(&self.table)
    }

    pub fn records(&self) -> Arc<dyn RecordStore> {
        self.clients.record_store(&self.table)
    }

    pub fn queue(&self) -> Arc<dyn ChunkQueue> {
        self.clients
            .windowed_chunk_queue(&self.table, &self.queue_url, self.chunk_window)
    }

    /// The chunk queue's consuming side.
    pub fn source(&self) -> bulkops_shared::queue::sqs::SqsChunkSource {
        bulkops_shared::queue::sqs::SqsChunkSource::new(self.clients.sqs.clone(), &self.queue_url)
    }

    /// The dead-letter queue's consuming side.
    pub fn dead_letter_source(&self) -> bulkops_shared::queue::sqs::SqsChunkSource {
        bulkops_shared::queue::sqs::SqsChunkSource::new(self.clients.sqs.clone(), &self.dlq_url)
    }

    pub fn submit_deps(&self) -> submit::Deps {
        submit::Deps {
            jobs: self.jobs(),
            queue: self.queue(),
            events: self.events(),
            clock: self.clock.clone(),
            quota: self.quota,
            uploads: self
                .uploads
                .as_ref()
                .map(|u| self.clients.uploads(&u.bucket)),
        }
    }

    pub fn query_deps(&self) -> query::Deps {
        query::Deps {
            jobs: self.jobs(),
            events: self.events(),
            clock: self.clock.clone(),
            results: self.result_access(),
        }
    }

    /// The cancel function takes what the query function takes (`api::JobsDeps`).
    pub fn cancel_deps(&self) -> cancel::Deps {
        self.query_deps()
    }

    pub fn processor_deps(&self) -> processor::Deps {
        processor::Deps {
            jobs: self.jobs(),
            operations: bulkops_shared::ops::registry(self.records()),
            events: self.events(),
            metrics: self.metrics.clone(),
            queue: self.queue(),
            group_chunks: true,
        }
    }

    pub fn dead_letter_deps(&self) -> dead_letter::Deps {
        dead_letter::Deps {
            jobs: self.jobs(),
            operations: bulkops_shared::ops::registry(self.records()),
            events: self.events(),
            metrics: self.metrics.clone(),
            queue: self.queue(),
            group_chunks: true,
        }
    }

    /// Every item in the table (for assertions about what was or was not written).
    pub async fn scan_all(
        &self,
    ) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .clients
                .dynamodb
                .scan()
                .table_name(&self.table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan");
            items.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if start.is_none() {
                return items;
            }
        }
    }

    /// Approximate number of messages (visible + in flight) in a queue; exact on moto.
    pub async fn queue_depth(&self, url: &str) -> u64 {
        let out = self
            .clients
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .expect("queue attributes");
        let attrs = out.attributes.unwrap_or_default();
        [
            QueueAttributeName::ApproximateNumberOfMessages,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        ]
        .iter()
        .map(|k| {
            attrs
                .get(k)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        })
        .sum()
    }
}
