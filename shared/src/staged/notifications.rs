//! The split queue's batches (on AWS): each message is an S3 event notification of the upload
//! bucket (`ObjectCreated` under `uploads/`); each of its records names a job's file, which is
//! split with [`split_upload`] and its job's events flushed. A message `{"resultsOf": "<id>"}`
//! asks for a final job's result files instead ([`crate::results::write_for_job`]). A message is reported in
//! `batchItemFailures` (and redelivered, then dead-lettered) only when trying again can help:
//! the table or the chunk queue failed, or the file cannot be read yet. S3's `s3:TestEvent`,
//! keys that name no job, jobs that do not exist (any more) and jobs that take no file are
//! logged and dropped.

use std::sync::Arc;

use aws_lambda_events::event::s3::{S3Event, S3EventRecord};
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use serde_json::Value;
use tracing::Instrument;

use super::s3::job_of_key;
use super::{split_upload, SplitDeps, SplitError, UploadStore};
use crate::engine::EventFlush;
use crate::model::JobState;
use crate::queue::ChunkQueue;
use crate::store::{ChunkParking, JobStore};

/// What the splitter function needs, built once per cold start.
pub struct Splitter {
    pub jobs: Arc<dyn JobStore>,
    /// Where a job's chunks wait for their turn (the table).
    pub parking: Arc<dyn ChunkParking>,
    /// The chunk queue, not windowed: the split parks every chunk and queues the first
    /// window itself.
    pub queue: Arc<dyn ChunkQueue>,
    /// Chunks of one job in the queue at once (`CHUNK_WINDOW`).
    pub window: u32,
    pub uploads: Arc<dyn UploadStore>,
    /// Told when a split moved its job (released, or failed), so its event goes out at once.
    pub events: Arc<dyn EventFlush>,
    /// Where final jobs' result files go: the split queue also carries the requests for them
    /// (`{"resultsOf": "<job id>"}`, see [`crate::results`]).
    pub results: Arc<dyn crate::results::ResultFileStore>,
    /// The split queue itself: a split that runs out of time queues its notification again.
    pub continuations: Arc<dyn crate::queue::MessageQueue>,
}

impl Splitter {
    /// What a split needs, stopping at `deadline_ms`.
    pub fn split_deps(&self, deadline_ms: Option<i64>) -> SplitDeps<'_> {
        SplitDeps {
            jobs: self.jobs.as_ref(),
            parking: self.parking.as_ref(),
            queue: self.queue.as_ref(),
            window: self.window,
            deadline_ms,
        }
    }
}

/// Why a message is redelivered.
#[derive(Debug, thiserror::Error)]
enum Retry {
    #[error("the message is not an S3 event notification: {0}")]
    Unreadable(String),
    #[error(transparent)]
    Split(SplitError),
    #[error("writing result files failed: {0}")]
    Results(crate::error::StoreError),
    #[error("a split out of time could not be queued to go on: {0}")]
    Continue(String),
}

/// A message to deliver again has no id to report it by.
#[derive(Debug, thiserror::Error)]
#[error("a notification failed and has no message id to report: the whole batch is retried")]
pub struct UnnamedFailure;

/// How long before the invocation's deadline a split stops (then its notification is queued
/// again and the next invocation goes on from where it stopped).
pub const SPLIT_STOP_BEFORE_DEADLINE_MS: i64 = 60_000;

/// Splits the files a batch of notifications names, each split stopping at `deadline_ms`; the
/// messages to deliver again (`Err`, every message again, only when a failed one has no id: an
/// empty identifier is never reported).
pub async fn handle_batch(
    splitter: &Splitter,
    event: SqsEvent,
    deadline_ms: Option<i64>,
) -> Result<SqsBatchResponse, UnnamedFailure> {
    let mut response = SqsBatchResponse::default();
    // One message at a time: a split already reads its file as fast as it can park it, and
    // the queue's trigger runs one message per invocation.
    for message in event.records {
        let id = message.message_id.clone().filter(|id| !id.is_empty());
        let span = tracing::info_span!("message", message_id = id.as_deref().unwrap_or("-"));
        let result = handle_message(splitter, &message, deadline_ms)
            .instrument(span)
            .await;
        if let Err(error) = result {
            tracing::error!(
                message_id = id.as_deref().unwrap_or("-"),
                %error,
                "notification failed; it will be retried"
            );
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id.ok_or(UnnamedFailure)?;
            response.batch_item_failures.push(failure);
        }
    }
    Ok(response)
}

async fn handle_message(
    splitter: &Splitter,
    message: &SqsMessage,
    deadline_ms: Option<i64>,
) -> Result<(), Retry> {
    let body = message.body.as_deref().unwrap_or_default();
    let records = match notification(body)? {
        Notification::Test => {
            tracing::info!("S3 test event dropped");
            return Ok(());
        }
        Notification::Records(records) => records,
        Notification::Results(job_id) => {
            let span = tracing::info_span!("results", job_id);
            return crate::results::write_for_job(
                splitter.jobs.as_ref(),
                splitter.results.as_ref(),
                &job_id,
            )
            .instrument(span)
            .await
            .map(|_| ())
            .map_err(Retry::Results);
        }
    };
    for record in &records {
        match split_record(splitter, record, deadline_ms).await {
            // Out of time: the notification goes back on the queue at once, for the next
            // invocation to go on from the chunks parked so far (if that send fails, the
            // message is redelivered after its visibility timeout instead).
            Err(Retry::Split(error @ SplitError::OutOfTime { .. })) => {
                tracing::info!(%error, "split continues in another invocation");
                return splitter
                    .continuations
                    .send(body)
                    .await
                    .map(|_| ())
                    .map_err(|e| Retry::Continue(e.to_string()));
            }
            other => other?,
        }
    }
    Ok(())
}

/// What a message of the split queue holds.
#[derive(Debug)]
enum Notification {
    /// The `s3:TestEvent` S3 sends when the notification is configured.
    Test,
    Records(Vec<S3EventRecord>),
    /// A request for a final job's result files.
    Results(String),
}

fn notification(body: &str) -> Result<Notification, Retry> {
    let mut value: Value =
        serde_json::from_str(body).map_err(|e| Retry::Unreadable(e.to_string()))?;
    if let Some(job_id) = value[crate::results::RESULTS_MESSAGE_FIELD].as_str() {
        return Ok(Notification::Results(job_id.to_owned()));
    }
    if value["Event"] == "s3:TestEvent" {
        return Ok(Notification::Test);
    }
    // S3 always sends `userIdentity` and `requestParameters`; emulators (moto) leave them
    // out, and `S3Event` requires them. Nothing here reads either.
    if let Some(records) = value["Records"].as_array_mut() {
        for record in records.iter_mut().filter_map(Value::as_object_mut) {
            for field in ["userIdentity", "requestParameters"] {
                record
                    .entry(field)
                    .or_insert_with(|| Value::Object(Default::default()));
            }
        }
    }
    let event: S3Event =
        serde_json::from_value(value).map_err(|e| Retry::Unreadable(e.to_string()))?;
    Ok(Notification::Records(event.records))
}

async fn split_record(
    splitter: &Splitter,
    record: &S3EventRecord,
    deadline_ms: Option<i64>,
) -> Result<(), Retry> {
    let event_name = record.event_name.as_deref().unwrap_or_default();
    let raw_key = record.s3.object.key.as_deref().unwrap_or_default();
    if !event_name.starts_with("ObjectCreated") {
        tracing::warn!(event_name, key = raw_key, "not an object creation; dropped");
        return Ok(());
    }
    let Some(key) = decode_key(raw_key) else {
        tracing::warn!(
            key = raw_key,
            "an object key that is not URL-encoded; dropped"
        );
        return Ok(());
    };
    let Some(job_id) = job_of_key(&key) else {
        tracing::warn!(key, "an object that is no job's upload; dropped");
        return Ok(());
    };
    let span = tracing::info_span!("split", job_id);
    async {
        let deps = splitter.split_deps(deadline_ms);
        match split_upload(deps, splitter.uploads.as_ref(), job_id).await {
            Ok(job) => {
                if job.state != JobState::AwaitingData {
                    splitter.events.flush(job_id).await;
                }
                tracing::info!(
                    state = job.state.as_str(),
                    total_rows = job.total_rows,
                    chunks = job.chunk_count,
                    "upload handled"
                );
                Ok(())
            }
            Err(
                error @ (SplitError::JobMissing(_)
                | SplitError::NotStaged { .. }
                | SplitError::NotAwaitingFile(_)),
            ) => {
                tracing::warn!(%error, "an upload no job takes; dropped");
                Ok(())
            }
            Err(error) => {
                tracing::error!(%error, "split failed; the notification will be retried");
                Err(Retry::Split(error))
            }
        }
    }
    .instrument(span)
    .await
}

/// An S3 notification's object key, decoded as S3 encodes it (form URL encoding: `+` is a
/// space, `%XX` a byte); `None` when it is not such an encoding of UTF-8 text.
pub fn decode_key(key: &str) -> Option<String> {
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = key.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_decoded_as_s3_encodes_them() {
        assert_eq!(decode_key("uploads%2F42").as_deref(), Some("uploads/42"));
        assert_eq!(decode_key("uploads/42").as_deref(), Some("uploads/42"));
        assert_eq!(
            decode_key("Happy+Face%20.jpg").as_deref(),
            Some("Happy Face .jpg")
        );
        assert_eq!(decode_key("%C3%A9").as_deref(), Some("é"));
        for bad in ["%", "%2", "%zz", "%ff", "%C3"] {
            assert_eq!(decode_key(bad), None, "{bad}");
        }
    }

    #[test]
    fn notifications_are_read_from_s3_and_from_moto() {
        let s3 = include_str!("../../../tests/events/s3-object-created.json");
        let Notification::Records(records) = notification(s3).unwrap() else {
            panic!("records")
        };
        assert_eq!(records.len(), 1);
        assert_eq!(
            records[0].s3.object.key.as_deref(),
            Some("uploads/0f8fad5b-d9cb-469f-a165-70867728950e")
        );
        // moto's: no userIdentity, no requestParameters, the key's slash encoded.
        let moto = r#"{"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3",
            "awsRegion": "us-east-1", "eventTime": "2026-12-03T19:24:34.866Z",
            "eventName": "ObjectCreated:Put", "s3": {"s3SchemaVersion": "1.0",
            "configurationId": "x", "bucket": {"name": "b", "arn": "arn:aws:s3:::b"},
            "object": {"key": "uploads%2F123", "size": 4, "eTag": "e"}}}]}"#;
        let Notification::Records(records) = notification(moto).unwrap() else {
            panic!("records")
        };
        assert_eq!(records[0].s3.object.key.as_deref(), Some("uploads%2F123"));
        let test = r#"{"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2026-12-03T19:24:26.031Z", "Bucket": "b"}"#;
        assert!(matches!(notification(test), Ok(Notification::Test)));
        assert!(matches!(notification("{}"), Err(Retry::Unreadable(_))));
        assert!(matches!(
            notification("not json"),
            Err(Retry::Unreadable(_))
        ));
    }
}
