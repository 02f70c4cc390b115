//! The upload bucket of staged files on the emulator, as template.yaml's `UploadBucket`: the
//! bucket, its split queue and the notification between them, and the fixture's splitter.

use bulkops_shared::aws::AwsClients;

use crate::emulator::{create_queues, Fixture};

/// An upload bucket as template.yaml's `UploadBucket`: objects created under `uploads/` are
/// notified to a split queue (with its dead-letter queue).
#[derive(Clone, Debug)]
pub struct UploadBucket {
    pub bucket: String,
    pub split_queue_url: String,
    pub split_queue_arn: String,
    pub split_dlq_url: String,
}

/// Creates the bucket `name`, its split queue and the notification between them. S3 sends an
/// `s3:TestEvent` to the queue once the notification is set, as on AWS.
pub async fn create_upload_bucket(
    clients: &AwsClients,
    name: &str,
) -> Result<UploadBucket, Box<dyn std::error::Error>> {
    use aws_sdk_s3::types::{
        Event, FilterRule, FilterRuleName, NotificationConfiguration,
        NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter,
    };
    clients.s3.create_bucket().bucket(name).send().await?;
    let (split_queue_url, split_queue_arn, split_dlq_url, _) =
        create_queues(&clients.sqs, &format!("{name}-split")).await?;
    let prefix = FilterRule::builder()
        .name(FilterRuleName::Prefix)
        .value(bulkops_shared::staged::s3::UPLOAD_PREFIX)
        .build();
    let queue = QueueConfiguration::builder()
        .id("uploads")
        .queue_arn(&split_queue_arn)
        .events(Event::S3ObjectCreated)
        .filter(
            NotificationConfigurationFilter::builder()
                .key(S3KeyFilter::builder().filter_rules(prefix).build())
                .build(),
        )
        .build()?;
    clients
        .s3
        .put_bucket_notification_configuration()
        .bucket(name)
        .notification_configuration(
            NotificationConfiguration::builder()
                .queue_configurations(queue)
                .build(),
        )
        .send()
        .await?;
    Ok(UploadBucket {
        bucket: name.to_owned(),
        split_queue_url,
        split_queue_arn,
        split_dlq_url,
    })
}

impl Fixture {
    /// Creates this fixture's upload bucket (named as its table) and split queue.
    pub async fn add_upload_bucket(&mut self) -> UploadBucket {
        let bucket = create_upload_bucket(&self.clients, &self.table)
            .await
            .unwrap_or_else(|e| panic!("cannot create an upload bucket on the emulator: {e}"));
        self.uploads = Some(bucket.clone());
        bucket
    }

    /// The splitter function's dependencies (after [`Fixture::add_upload_bucket`]).
    pub fn splitter_deps(&self) -> splitter::Deps {
        let bucket = self.uploads.as_ref().expect("add_upload_bucket first");
        let mut deps = self.clients.splitter(
            &self.table,
            &self.queue_url,
            &bucket.bucket,
            &bucket.split_queue_url,
        );
        deps.window = self.chunk_window;
        deps.events = self.events();
        deps
    }

    /// The result files in the upload bucket, asked for on its split queue (after
    /// [`Fixture::add_upload_bucket`]; `None` before).
    pub fn result_access(&self) -> Option<bulkops_shared::results::ResultAccess> {
        let bucket = self.uploads.as_ref()?;
        Some(bulkops_shared::results::ResultAccess {
            files: self.clients.result_files(&bucket.bucket),
            requests: self.clients.results_requests(&bucket.split_queue_url),
        })
    }

    /// The split queue's consuming side (after [`Fixture::add_upload_bucket`]).
    pub fn split_source(&self) -> bulkops_shared::queue::sqs::SqsChunkSource {
        let bucket = self.uploads.as_ref().expect("add_upload_bucket first");
        bulkops_shared::queue::sqs::SqsChunkSource::new(
            self.clients.sqs.clone(),
            &bucket.split_queue_url,
        )
    }
}
