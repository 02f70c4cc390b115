//! Fairness between jobs on the one chunk queue (issue 12, item 4): a small job submitted
//! behind a big one completes long before the big one does, because a job keeps only a
//! window of its chunks queued (`WindowedQueue`). Through the real submit and processor
//! handlers, on moto and on the embedded store; with the window as large as the big job, the
//! same run shows the queue's plain arrival order (the small job last).

mod common;

use bulkops::reference::{load_vault, VaultInput};
use bulkops_shared::model::{Job, JobState};
use bulkops_testkit::{sqs_event, ApiCall, PumpOptions};
use common::backends::{embedded, moto, Backend};
use common::*;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};

/// Accounts in the big upload, each with a 5,000-character address: 11 fill a chunk's 60 KiB,
/// so the one request under the 1 MiB limit makes a job of 18 chunks while moto creates only
/// 192 accounts.
const BIG_ROWS: usize = 192;

/// Alice's big upload (one 1 MiB request) and then Bob's three flash passes; returns the two
/// job ids.
async fn submit_big_then_small(b: &Backend) -> (String, String) {
    let vault: VaultInput = serde_json::from_value(json!({
        "safes": [{"safeName": "Unix", "safeId": 1, "members": {"alice": {"addAccounts": true}}}],
        "platforms": [{"platformId": "UnixSSH", "requiredProperties": ["address", "userName"]}],
    }))
    .expect("vault");
    load_vault(&b.records, vault).await.expect("load vault");
    let ids = bulkops::reference::load_enrollments(&b.records, (0..3).map(enrollment).collect())
        .await
        .expect("load enrollments");

    let accounts: Vec<Value> = (0..BIG_ROWS)
        .map(|i| json!({"safeName": "Unix", "platformId": "UnixSSH", "userName": format!("u{i}"), "address": "h".repeat(5_000)}))
        .collect();
    let body = json!({ "accountsList": accounts }).to_string();
    assert!(body.len() < 1024 * 1024, "{} bytes", body.len());
    let big = ApiCall::new("POST", "/PasswordVault/API/BulkActions/Accounts")
        .json(body)
        .user("alice", "");
    let response = submit::handler(&b.submit, big.request()).await.unwrap();
    assert_eq!(response.status(), 202, "{}", body_json(&response));
    let big = body_json(&response).to_string();

    let small = ApiCall::new("POST", "/api/web/v2/mobileFlashPass")
        .json(json!({ "ids": ids }).to_string())
        .user("bob", ALL_PERMISSIONS);
    let response = submit::handler(&b.submit, small.request()).await.unwrap();
    assert_eq!(response.status(), 200, "{}", body_json(&response));
    let small = body_json(&response)["id"].as_str().unwrap().to_owned();
    (big, small)
}

async fn job(b: &Backend, id: &str) -> Job {
    b.jobs.get_job(id).await.expect("read").expect("the job")
}

/// Runs one chunk at a time (one poller, batches of one) until the small job completes;
/// returns how many deliveries that took and the big job as it was then.
async fn run_until_complete(b: &Backend, small: &str, big: &str) -> (usize, Job) {
    for delivered in 1..=100 {
        let deliveries = b.source.receive(1).await.expect("receive");
        assert_eq!(
            deliveries.len(),
            1,
            "the queue ran dry before the small job completed"
        );
        let event = sqs_event(&deliveries, &b.arn);
        let response = processor::handler(&b.worker, LambdaEvent::new(event, Context::default()))
            .await
            .expect("the processor answers");
        assert!(response.batch_item_failures.is_empty(), "{response:?}");
        b.source.ack(&deliveries[0].receipt).await.expect("ack");
        if job(b, small).await.state == JobState::Completed {
            return (delivered, job(b, big).await);
        }
    }
    panic!("the small job did not complete within 100 deliveries");
}

/// Drains the queue and checks the big job's counts are exact.
async fn finish_big(b: &Backend, big: &str, options: PumpOptions) -> usize {
    let stats = b.process_all(options).await;
    assert!(stats.reported_failures.is_empty(), "{stats:?}");
    let done = job(b, big).await;
    assert_eq!(done.state, JobState::Completed);
    assert_eq!(
        (done.rows_processed, done.rows_failed, done.rows_skipped),
        (BIG_ROWS as u32, 0, 0)
    );
    assert_eq!(done.chunks_recorded(), done.chunk_count);
    stats.deliveries
}

async fn small_job_overtakes(b: Backend) {
    let (big, small) = submit_big_then_small(&b).await;
    let chunks = job(&b, &big).await.chunk_count;
    assert_eq!(chunks, 18, "11 accounts of 5 KB fill a chunk");
    let (delivered, big_then) = run_until_complete(&b, &small, &big).await;
    // Two of the big job's chunks were queued before the small job's one.
    assert_eq!(delivered, 3, "the small job's chunk came third");
    assert_eq!(big_then.state, JobState::Processing);
    assert_eq!(
        big_then.chunks_recorded(),
        2,
        "all but 2 chunks still to run"
    );
    // Every other chunk of the big job is queued once, as its turn comes.
    let rest = finish_big(&b, &big, PumpOptions::default()).await;
    assert_eq!(rest, chunks as usize - 2, "each chunk delivered once");
}

#[tokio::test]
async fn a_small_job_overtakes_a_big_one_on_moto() {
    small_job_overtakes(moto(2).await).await;
}

#[tokio::test]
async fn a_small_job_overtakes_a_big_one_on_the_embedded_store() {
    small_job_overtakes(embedded(2)).await;
}

/// The baseline the window changes: with every chunk queued at once, the queue hands them out
/// in arrival order and the small job waits for the whole big one.
#[tokio::test]
async fn without_a_window_the_small_job_waits_for_the_whole_big_one() {
    let b = embedded(100);
    let (big, small) = submit_big_then_small(&b).await;
    let chunks = job(&b, &big).await.chunk_count as usize;
    let (delivered, big_then) = run_until_complete(&b, &small, &big).await;
    assert_eq!(delivered, chunks + 1);
    assert_eq!(big_then.state, JobState::Completed);
}

/// Every message delivered three times: the counts stay exact, and a recorded chunk's
/// duplicates do not queue its successor again, so duplicates do not multiply down the chain.
async fn windowed_job_under_triple_delivery(b: Backend) {
    let (big, _small) = submit_big_then_small(&b).await;
    let chunks = job(&b, &big).await.chunk_count as usize;
    let options = PumpOptions {
        deliveries: 3,
        ..PumpOptions::default()
    };
    let deliveries = finish_big(&b, &big, options).await;
    // The big job's chunks and the small one's, each queued once, received 3 times.
    assert_eq!(deliveries, 3 * (chunks + 1));
}

#[tokio::test]
async fn a_windowed_job_is_exact_under_triple_delivery_on_moto() {
    windowed_job_under_triple_delivery(moto(2).await).await;
}

#[tokio::test]
async fn a_windowed_job_is_exact_under_triple_delivery_on_the_embedded_store() {
    windowed_job_under_triple_delivery(embedded(2)).await;
}
