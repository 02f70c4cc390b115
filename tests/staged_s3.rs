//! A staged flash pass job on the AWS side, on moto (issue 11, items 1 and 2 on AWS): the
//! real submit handler answers AWAITING_DATA with a presigned S3 PUT; the file (3,000 rows)
//! goes to that URL over HTTP; the bucket notifies the split queue, which is pumped into the
//! real splitter handler; the chunks run through the real processor, delivered 3×, to exact
//! counts. A splitter that dies after the split but before queueing, and runs twice more,
//! still counts every row once. S3's test event, keys that name no job and jobs that take no
//! file are dropped; a message that is no notification and a file not there yet are retried
//! (then dead-lettered); a file that is not text fails its job.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use bulkops_shared::error::EnqueueError;
use bulkops_shared::model::{ChunkMessage, JobState};
use bulkops_shared::queue::ChunkQueue;
use bulkops_testkit::{ApiCall, Fixture, PumpOptions};
use common::staged::file;
use common::*;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};

const ROWS: usize = 3_000;

/// A fixture with its upload bucket, and a job window smaller than the file's chunks.
async fn fixture() -> Fixture {
    let mut fx = Fixture::new().await;
    fx.chunk_window = 2;
    fx.add_upload_bucket().await;
    fx
}

/// `POST /api/web/v2/mobileFlashPass/uploads` through the real submit handler: the job.
async fn create(fx: &Fixture) -> Value {
    let call = ApiCall::new("POST", "/api/web/v2/mobileFlashPass/uploads")
        .json(json!({}).to_string())
        .user("alice", ALL_PERMISSIONS);
    let response = call_submit(fx, call).await;
    assert_eq!(response.status(), 200, "{}", body_json(&response));
    let job = body_json(&response);
    assert_eq!(job["state"], "AWAITING_DATA", "{job}");
    job
}

/// Runs the job's chunks (each delivered 3×) and checks every row's outcome.
async fn runs_to_exact_counts(fx: &Fixture, id: &str, expected: &[Option<&str>]) {
    let options = PumpOptions {
        deliveries: 3,
        ..PumpOptions::default()
    };
    let started = Instant::now();
    let stats = run_processor(fx, options).await;
    eprintln!(
        "{} rows processed in {:?} ({} deliveries)",
        expected.len(),
        started.elapsed(),
        stats.deliveries
    );
    let done = get_job(fx, id).await;
    let failed = expected.iter().filter(|e| e.is_some()).count() as u64;
    assert_eq!(done["state"], "COMPLETED", "{done}");
    assert_eq!(
        (
            done["totalRows"].as_u64(),
            done["rowsProcessed"].as_u64(),
            done["rowsFailed"].as_u64(),
            done["rowsSkipped"].as_u64(),
        ),
        (
            Some(expected.len() as u64),
            Some(expected.len() as u64 - failed),
            Some(failed),
            Some(0)
        ),
        "{done}"
    );
    let outcomes = fx.jobs().row_outcomes(id).await.unwrap();
    assert_eq!(outcomes.len(), expected.len());
    for (index, outcome) in outcomes.iter().enumerate() {
        assert_eq!(outcome.row as usize, index + 1, "in file order");
        assert_eq!(
            outcome.error_code.as_deref(),
            expected[index],
            "row {}",
            outcome.row
        );
    }
}

#[tokio::test]
async fn a_file_put_to_its_presigned_url_runs_every_row_once() {
    let fx = fixture().await;
    load(&fx, 0..ROWS).await;
    let bucket = fx.uploads.clone().expect("a bucket").bucket;
    fx.counter.reset();
    let job = create(&fx).await;
    let id = job["id"].as_str().unwrap().to_owned();
    // Presigned here: the SDK runs PutObject up to its signature (the counter sees that
    // attempt) and sends nothing; the only object is the file below (one notification).
    let s3_calls: Vec<(String, u64)> = fx
        .counter
        .snapshot()
        .into_iter()
        .filter(|(call, _)| call.starts_with("S3."))
        .collect();
    assert_eq!(s3_calls, [("S3.PutObject".to_owned(), 1)]);
    let upload = &job["upload"];
    assert_eq!(upload["method"], "PUT");
    assert_eq!(upload["expiresAt"], job["uploadExpiresAt"]);
    let url = upload["url"].as_str().unwrap();
    assert!(url.contains(&format!("/{bucket}/uploads/{id}?")), "{url}");
    // The URL ends at uploadExpiresAt, an hour after the create: signed at a whole second,
    // its start plus its seconds is that very second, however long the create took to sign it
    // (3 s once, on a loaded CI machine).
    let parameter = |name: &str| {
        url.split_once('?')
            .and_then(|(_, query)| {
                query
                    .split('&')
                    .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
            })
            .unwrap_or_default()
    };
    let signed_at =
        chrono::NaiveDateTime::parse_from_str(parameter("X-Amz-Date"), "%Y%m%dT%H%M%SZ")
            .expect("X-Amz-Date")
            .and_utc()
            .timestamp();
    let seconds: i64 = parameter("X-Amz-Expires").parse().expect("X-Amz-Expires");
    let ends = job["uploadExpiresAt"].as_str().expect("uploadExpiresAt");
    let ends = chrono::DateTime::parse_from_rfc3339(ends)
        .expect("RFC 3339")
        .timestamp();
    assert_eq!(signed_at + seconds, ends, "{url}");
    assert!((3_540..=3_600).contains(&seconds), "about an hour: {url}");
    assert!(url.contains("X-Amz-Signature="), "{url}");

    let (text, expected) = file(ROWS);
    assert_eq!(put_upload(&job, text.into_bytes()).await, 200);
    let started = Instant::now();
    let stats = run_splitter(&fx).await;
    eprintln!("{ROWS} rows split in {:?}", started.elapsed());
    // S3's test event of the new notification, then the file's.
    assert_eq!((stats.deliveries, stats.reported_failures.len()), (2, 0));
    let split = get_job(&fx, &id).await;
    assert_eq!(split["state"], "SCHEDULED", "{split}");
    assert_eq!(split["totalRows"].as_u64(), Some(ROWS as u64));
    let stored = fx.jobs().get_job(&id).await.unwrap().unwrap();
    assert!(
        stored.chunk_count > fx.chunk_window,
        "{}",
        stored.chunk_count
    );
    // The splitter published the job's release at once.
    let events = fx.published_events().await;
    assert!(
        events
            .iter()
            .any(|e| e["detail"]["eventId"] == format!("{id}:CREATED")),
        "{events:?}"
    );

    runs_to_exact_counts(&fx, &id, &expected).await;
    assert_eq!(fx.queue_depth(&fx.dlq_url).await, 0);
}

/// A chunk queue that refuses its first send, as a splitter that dies after the split but
/// before queueing (its notification is then delivered again).
struct DiesBeforeQueueing {
    inner: Arc<dyn ChunkQueue>,
    died: AtomicBool,
}

#[async_trait]
impl ChunkQueue for DiesBeforeQueueing {
    async fn enqueue(&self, chunks: &[ChunkMessage]) -> Result<(), EnqueueError> {
        if !self.died.swap(true, Ordering::SeqCst) {
            return Err(EnqueueError {
                sent: 0,
                total: chunks.len(),
                unsent_chunks: chunks.iter().map(|c| c.chunk).collect(),
                reason: "the splitter died".to_owned(),
            });
        }
        self.inner.enqueue(chunks).await
    }
}

#[tokio::test]
async fn a_splitter_that_dies_before_queueing_counts_every_row_once() {
    let fx = fixture().await;
    load(&fx, 0..ROWS).await;
    let job = create(&fx).await;
    let id = job["id"].as_str().unwrap().to_owned();
    let (text, expected) = file(ROWS);
    assert_eq!(put_upload(&job, text.into_bytes()).await, 200);

    let mut deps = fx.splitter_deps();
    deps.queue = Arc::new(DiesBeforeQueueing {
        inner: deps.queue.clone(),
        died: AtomicBool::new(false),
    });
    // Every notification delivered three times: the split that dies, then two more.
    let options = PumpOptions {
        deliveries: 3,
        ..PumpOptions::default()
    };
    let stats = run_splitter_with(&fx, &deps, options).await;
    assert_eq!(stats.reported_failures.len(), 1, "{stats:?}");
    let job_after = fx.jobs().get_job(&id).await.unwrap().unwrap();
    assert_eq!(job_after.state, JobState::Scheduled);
    assert_eq!(job_after.total_rows as usize, ROWS);
    // The first window (two chunks), queued by each of the two later runs.
    assert_eq!(
        fx.queue_depth(&fx.queue_url).await,
        2 * u64::from(fx.chunk_window)
    );

    runs_to_exact_counts(&fx, &id, &expected).await;
}

#[tokio::test]
async fn test_events_and_files_no_job_takes_are_dropped() {
    let fx = fixture().await;
    let bucket = fx.uploads.clone().expect("a bucket");
    let ids = load(&fx, 0..3).await;
    // A job created with its rows: no URL was handed out for it.
    let direct = submit_ids(&fx, &ids).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for key in [
        "uploads/not-a-job".to_owned(),
        "uploads/0f8fad5b-d9cb-469f-a165-70867728950e".to_owned(),
        "uploads/7".to_owned(),
        format!("uploads/{direct}"),
        // Not under uploads/: never notified.
        "results/1".to_owned(),
    ] {
        fx.clients
            .s3
            .put_object()
            .bucket(&bucket.bucket)
            .key(&key)
            .content_type("text/csv")
            .body(enrollment_id(0).into_bytes().into())
            .send()
            .await
            .expect("put an object");
    }
    let stats = run_splitter(&fx).await;
    assert_eq!(stats.deliveries, 5, "the test event and four uploads/ keys");
    assert!(stats.reported_failures.is_empty(), "{stats:?}");
    assert_eq!(fx.queue_depth(&bucket.split_dlq_url).await, 0);
    assert_eq!(
        fx.jobs()
            .get_job(&direct)
            .await
            .unwrap()
            .unwrap()
            .total_rows,
        3,
        "the job created with its rows keeps them"
    );

    // Not a notification: redelivered (then dead-lettered), by its id; a failure without an
    // id fails the invocation instead of reporting an empty identifier.
    let deps = fx.splitter_deps();
    let mut event = bulkops_testkit::sqs_event(&[], &bucket.split_queue_arn);
    let mut message = aws_lambda_events::event::sqs::SqsMessage::default();
    message.body = Some("not a notification".to_owned());
    message.message_id = Some("m-1".to_owned());
    event.records.push(message);
    let response = splitter::handler(&deps, LambdaEvent::new(event.clone(), Context::default()))
        .await
        .expect("a partial batch response");
    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(response.batch_item_failures[0].item_identifier, "m-1");
    event.records[0].message_id = None;
    assert!(
        splitter::handler(&deps, LambdaEvent::new(event, Context::default()))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_file_not_there_is_retried_then_dead_lettered() {
    let fx = fixture().await;
    let bucket = fx.uploads.clone().expect("a bucket");
    let job = create(&fx).await;
    let id = job["id"].as_str().unwrap().to_owned();
    assert_eq!(put_upload(&job, enrollment_id(0).into_bytes()).await, 200);
    // Gone before the split (a lifecycle rule, an operator): nothing to read, yet.
    fx.clients
        .s3
        .delete_object()
        .bucket(&bucket.bucket)
        .key(format!("uploads/{id}"))
        .send()
        .await
        .expect("delete");
    let stats = run_splitter(&fx).await;
    assert_eq!(
        stats.reported_failures.len(),
        bulkops_shared::queue::MAX_RECEIVE_COUNT as usize,
        "{stats:?}"
    );
    assert_eq!(fx.queue_depth(&bucket.split_dlq_url).await, 1);
    assert_eq!(get_job(&fx, &id).await["state"], "AWAITING_DATA");
}

#[tokio::test]
async fn a_file_that_is_not_text_fails_its_job() {
    let fx = fixture().await;
    let job = create(&fx).await;
    let id = job["id"].as_str().unwrap().to_owned();
    assert_eq!(
        put_upload(&job, b"id\n\x00\x01\x02\xff\n".to_vec()).await,
        200
    );
    let stats = run_splitter(&fx).await;
    assert!(stats.reported_failures.is_empty(), "{stats:?}");
    let failed = get_job(&fx, &id).await;
    assert_eq!(failed["state"], "FAILED", "{failed}");
    let message = failed["errorMessage"].as_str().unwrap_or_default();
    assert!(message.contains("line 2 is not UTF-8 text"), "{message}");
    let events = fx.published_events().await;
    assert!(
        events
            .iter()
            .any(|e| e["detail"]["eventId"] == format!("{id}:FAILED")),
        "{events:?}"
    );
    assert_eq!(fx.queue_depth(&fx.queue_url).await, 0, "nothing queued");
}

/// A split that runs out of time queues its notification again, and the next invocation goes
/// on from the chunks parked so far, until the job is released with every chunk parked.
#[tokio::test]
async fn a_split_out_of_time_goes_on_in_the_next_invocation() {
    let fx = fixture().await;
    let job = create(&fx).await;
    let id = job["id"].as_str().unwrap().to_owned();
    // Over 25 chunks (one parked batch) of about 460 ids each.
    let (text, _) = file(13_000);
    assert_eq!(put_upload(&job, text.into_bytes()).await, 200);
    let deps = fx.splitter_deps();
    let arn = fx.uploads.clone().expect("a bucket").split_queue_arn;
    // Every invocation's deadline has passed: each parks one batch and goes on in another.
    let stats = bulkops_testkit::pump(&fx.split_source(), &arn, PumpOptions::default(), |event| {
        bulkops_shared::staged::notifications::handle_batch(&deps, event, Some(0))
    })
    .await;
    assert!(stats.reported_failures.is_empty(), "{stats:?}");
    let released = fx.jobs().get_job(&id).await.unwrap().unwrap();
    assert_eq!(released.state, JobState::Scheduled);
    assert_eq!(released.total_rows, 13_000);
    assert!(
        released.split_parked_below >= 25,
        "{}",
        released.split_parked_below
    );
    // The test event, the file's notification, and one more for each stop.
    let stops = released.chunk_count.div_ceil(25) as usize - 1;
    assert!(stops >= 1);
    assert_eq!(stats.deliveries, 2 + stops, "{stats:?}");
    assert_eq!(
        fx.queue_depth(&fx.queue_url).await,
        u64::from(fx.chunk_window)
    );
}
