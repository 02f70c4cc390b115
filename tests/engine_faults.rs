//! The engine's invariants under injected faults: at-least-once delivery, a processor dying
//! between any two writes, throttling, poison chunks (dead-lettered after their passes were
//! issued), and a queue that refuses work.

mod common;

use std::sync::Arc;

use bulkops_shared::queue::ChunkSource;
use bulkops_testkit::{Fixture, PumpOptions};
use common::faults::{faulty_processor, Call, Fault, Faults};
use common::*;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;

/// 1,100 rows (4 chunks of ≤ 60 KiB): 1,000 known enrollments, then 50 unknown, 50 duplicates.
async fn mixed_job(fx: &Fixture) -> (String, Vec<String>) {
    let mut ids = load(fx, 0..1_000).await;
    ids.extend((5_000..5_050).map(enrollment_id));
    let duplicates: Vec<String> = ids[..50].to_vec();
    ids.extend(duplicates);
    let op = submit_ids(fx, &ids).await;
    (op["id"].as_str().unwrap().to_owned(), ids)
}

async fn assert_exact(fx: &Fixture, id: &str) -> Value {
    let job = get_job(fx, id).await;
    assert_eq!(job["state"], "COMPLETED", "{job}");
    assert_eq!(job["rowsProcessed"], 1_000, "{job}");
    assert_eq!(job["rowsFailed"], 100, "{job}");
    assert_eq!(job["firstFailedRow"], 1_001, "{job}");
    let log = get_logs(fx, id).await;
    assert_eq!(log.len(), 1_100, "every row has exactly one outcome");
    let rows: Vec<u64> = log.iter().map(|r| r["row"].as_u64().unwrap()).collect();
    assert_eq!(rows, (1..=1_100).collect::<Vec<_>>());
    let passes = passes(fx).await;
    assert_eq!(passes.len(), 1_000, "one pass per enrollment");
    job
}

/// Runs the processor with fault-injecting stores around the real ones.
async fn run_faulty(
    fx: &Fixture,
    faults: Arc<Faults>,
    options: PumpOptions,
) -> bulkops_testkit::PumpStats {
    let deps = faulty_processor(fx, faults);
    run_processor_with(fx, &deps, options).await
}

#[tokio::test]
async fn every_message_delivered_three_times_counts_once() {
    let fx = Fixture::new().await;
    let (id, _) = mixed_job(&fx).await;
    let stats = run_processor(
        &fx,
        PumpOptions {
            deliveries: 3,
            ..PumpOptions::default()
        },
    )
    .await;
    assert_eq!(stats.deliveries, 12, "4 chunks × 3 deliveries");
    assert_exact(&fx, &id).await;
}

/// Each chunk alone (batches of one), and the chunks of one batch claimed, run and recorded
/// together. Together, a claim, run or record that dies is done again alone at once, and a
/// start that dies is tried again by the first chunk alone: nothing is redelivered.
#[tokio::test]
async fn a_processor_dying_after_any_write_heals_on_redelivery() {
    let alone = [
        Call::ClaimChunk,
        Call::StartProcessing,
        Call::PutMany,
        Call::StoreChunkOutcomes,
        Call::RecordChunk,
        Call::Complete,
    ]
    .map(|call| (1, call, 1));
    let together = [
        (Call::ClaimChunks, 0),
        (Call::StartProcessing, 0),
        (Call::PutMany, 0),
        (Call::StoreChunkOutcomes, 1),
        (Call::RecordChunks, 0),
        (Call::Complete, 1),
    ]
    .map(|(call, redelivered)| (10, call, redelivered));
    for (batch_size, call, redelivered) in alone.into_iter().chain(together) {
        let fx = Fixture::new().await;
        let (id, _) = mixed_job(&fx).await;
        let faults = Faults::new(&[Fault::AfterWrite { call, times: 1 }]);
        let options = PumpOptions {
            batch_size,
            ..PumpOptions::default()
        };
        let stats = run_faulty(&fx, faults.clone(), options).await;
        assert!(faults.made(call) > 0, "{call:?} in batches of {batch_size}");
        assert_eq!(
            stats.reported_failures.len(),
            redelivered,
            "{call:?} in batches of {batch_size}: chunks redelivered"
        );
        assert_exact(&fx, &id).await;
    }
}

/// The same with a window of one chunk (one queued, three parked): each chunk queues the next
/// before it is recorded, so a delivery dying after any write leaves the chain whole, and the
/// successors it queued twice are counted once.
#[tokio::test]
async fn a_windowed_job_heals_from_a_processor_dying_after_any_write() {
    for call in [
        Call::ClaimChunk,
        Call::PutMany,
        Call::StoreChunkOutcomes,
        Call::RecordChunk,
        Call::Complete,
    ] {
        let mut fx = Fixture::new().await;
        fx.chunk_window = 1;
        let (id, _) = mixed_job(&fx).await;
        let faults = Faults::new(&[Fault::AfterWrite { call, times: 1 }]);
        let stats = run_faulty(&fx, faults, PumpOptions::default()).await;
        assert_eq!(stats.reported_failures.len(), 1, "{call:?}");
        assert_exact(&fx, &id).await;
    }
}

/// Alone, each throttled read or record fails its chunk. Together, the first throttled read
/// fails the rows run together, which then run alone, and the second fails one chunk; the
/// throttled group record sends the others to record alone, and the next throttle fails one.
#[tokio::test]
async fn throttled_reads_and_writes_are_retried_to_exact_counts() {
    for (batch_size, records, redelivered) in [
        (1, vec![Call::RecordChunk], 3),
        (10, vec![Call::RecordChunks, Call::RecordChunk], 2),
    ] {
        let fx = Fixture::new().await;
        let (id, _) = mixed_job(&fx).await;
        let mut throttled = vec![Fault::Throttle {
            call: Call::GetMany,
            times: 2,
        }];
        throttled.extend(
            records
                .iter()
                .map(|&call| Fault::Throttle { call, times: 1 }),
        );
        let faults = Faults::new(&throttled);
        let options = PumpOptions {
            batch_size,
            ..PumpOptions::default()
        };
        let stats = run_faulty(&fx, faults.clone(), options).await;
        for call in records {
            assert!(
                faults.made(call) > 1,
                "{call:?} was throttled, then made again"
            );
        }
        let failed = stats.reported_failures.len();
        assert_eq!(failed, redelivered, "batches of {batch_size}");
        assert_exact(&fx, &id).await;
    }
}

/// The chunks of one batch are claimed in one write and start their job once. A start that
/// fails sends each chunk on alone: each claims its own and the first starts the job.
#[tokio::test]
async fn the_chunks_of_one_batch_start_their_job_once() {
    for (throttled, starts, claimed_alone) in [(0, 1, 0), (1, 2, 4)] {
        let fx = Fixture::new().await;
        let (id, _) = mixed_job(&fx).await;
        let faults = Faults::new(&[Fault::Throttle {
            call: Call::StartProcessing,
            times: throttled,
        }]);
        let stats = run_faulty(&fx, faults.clone(), PumpOptions::default()).await;
        assert_eq!(stats.reported_failures.len(), 0);
        assert_eq!(faults.made(Call::ClaimChunks), 1, "all in one batch");
        assert_eq!(faults.made(Call::ClaimChunk), claimed_alone);
        assert_eq!(faults.made(Call::StartProcessing), starts);
        assert_eq!(faults.made(Call::RecordChunks), 1 - throttled);
        assert_exact(&fx, &id).await;
    }
}

#[tokio::test]
async fn the_partial_batch_response_names_exactly_the_failed_messages() {
    let fx = Fixture::new().await;
    let (id, _) = mixed_job(&fx).await;
    let faults = Faults::new(&[Fault::Throttle {
        call: Call::StoreChunkOutcomes,
        times: 1,
    }]);
    let deps = faulty_processor(&fx, faults);
    // One invocation with all four chunks, sequenced so exactly one chunk fails.
    let messages = fx.source().receive(10).await.unwrap();
    assert_eq!(messages.len(), 4);
    let event = bulkops_testkit::sqs_event(&messages, &fx.queue_arn);
    let response = processor::handler(&deps, LambdaEvent::new(event, Context::default()))
        .await
        .unwrap();
    assert_eq!(response.batch_item_failures.len(), 1);
    let failed = &response.batch_item_failures[0].item_identifier;
    assert!(
        messages.iter().any(|m| &m.message_id == failed),
        "names a real message id"
    );
    assert!(!failed.is_empty());
    let job = get_job(&fx, &id).await;
    assert_eq!(
        job["state"], "PROCESSING",
        "the failed chunk is not counted: {job}"
    );
    assert!(job["rowsProcessed"].as_u64().unwrap() + job["rowsFailed"].as_u64().unwrap() < 1_100);
}

#[tokio::test]
async fn a_poison_chunk_is_dead_lettered_and_reports_the_passes_it_issued() {
    let fx = Fixture::new().await;
    let (id, _) = mixed_job(&fx).await;
    let faults = Faults::new(&[Fault::PoisonChunk { chunk: 1 }]);
    let stats = run_faulty(&fx, faults, PumpOptions::default()).await;
    assert_eq!(
        stats.reported_failures.len(),
        bulkops_shared::queue::MAX_RECEIVE_COUNT as usize,
        "received maxReceiveCount times, then dead-lettered"
    );
    assert_eq!(fx.queue_depth(&fx.queue_url).await, 0);
    assert_eq!(fx.queue_depth(&fx.dlq_url).await, 1);
    assert_eq!(get_job(&fx, &id).await["state"], "PROCESSING");

    let dead = run_dead_letter(&fx).await;
    assert_eq!(dead.deliveries, 1);
    assert!(dead.reported_failures.is_empty());
    // The poison strikes after the passes were written (at the chunk's outcome write): the
    // dead-letter path finds every pass of chunk 1 and reports its rows as succeeded, so the
    // job ends exactly as if the chunk had been processed, each pass issued once.
    assert_exact(&fx, &id).await;
    let log = get_logs(&fx, &id).await;
    assert!(
        log.iter().all(|r| r["errorCode"] != "PROCESSING_FAILED"),
        "no row with a pass is reported failed"
    );
}

#[tokio::test]
async fn a_queue_that_refuses_work_fails_the_job_with_503() {
    let fx = Fixture::new().await;
    let ids = load(&fx, 0..3).await;
    let missing_queue = fx.queue_url.replace("bulkops-", "missing-");
    let deps = submit::Deps {
        clock: std::sync::Arc::new(bulkops_shared::time::SystemClock),
        jobs: fx.jobs(),
        queue: fx.clients.chunk_queue(&fx.table, &missing_queue),
        events: fx.events(),
        quota: Default::default(),
        uploads: None,
    };
    let response = submit::handler(&deps, submit_call(&ids).request())
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let body = body_json(&response);
    assert_eq!(body["code"], "SERVICE_UNAVAILABLE");
    let id = body["message"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .nth(3)
        .unwrap()
        .to_owned();
    let job = get_job(&fx, &id).await;
    assert_eq!(job["state"], "FAILED");
    assert!(
        job["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with("The job could not be queued"),
        "{job}"
    );
    assert_eq!(
        job["rowsSkipped"], 3,
        "every row is accounted for as never run"
    );
}
