//! The job item does not grow with its chunks (issue 11, item 5): the recorded chunks fold
//! into a low-water mark as they fill in, on both stores, while every chunk is still counted
//! exactly once — recorded again, claimed or skipped after it was folded, it changes nothing.

mod common;

use bulkops_shared::model::{ChunkCounts, Job, JobType};
use bulkops_shared::store::{Claim, Skip};
use common::stores::{dynamo, embedded, Stores};

const CHUNKS: u32 = 1_000;
/// Chunks recorded about in order, as a job's window lets them through.
const WINDOW: u32 = 100;

fn one_row() -> ChunkCounts {
    ChunkCounts {
        succeeded: 1,
        failed: 0,
        skipped: 0,
    }
}

async fn record(s: &Stores, chunk: u32) -> bool {
    let recorded = s.jobs.record_chunk("big", chunk, one_row(), None).await;
    recorded.unwrap().expect("the job exists").newly_recorded
}

async fn job(s: &Stores) -> Job {
    s.jobs
        .get_job("big")
        .await
        .unwrap()
        .expect("the job exists")
}

async fn a_thousand_chunks_fold_into_a_small_job(s: Stores) {
    let mut big = Job::new(
        "big".into(),
        JobType::SendMfp,
        "alice".into(),
        CHUNKS,
        1_000,
    );
    big.chunk_count = CHUNKS;
    s.jobs.create_job(&big).await.unwrap();
    s.jobs.start_processing("big", 2_000).await.unwrap();

    // Each window backwards (the worst order within a window), every 7th chunk twice; chunk
    // 705 is a straggler, recorded last.
    for window in 0..CHUNKS / WINDOW {
        for chunk in (window * WINDOW..(window + 1) * WINDOW).rev() {
            if chunk == 705 {
                continue;
            }
            assert!(record(&s, chunk).await, "chunk {chunk} recorded once");
            if chunk % 7 == 0 {
                assert!(!record(&s, chunk).await, "chunk {chunk} again: a duplicate");
            }
        }
        if window == 5 {
            let half = job(&s).await;
            assert!(half.recorded_below >= 500, "{}", half.recorded_below);
            assert!(half.recorded_chunks.len() < 64 + WINDOW as usize);
            assert_eq!(half.chunks_recorded(), 600);
        }
    }

    // Folded chunks stay recorded: a duplicate, a late claim or a skip changes nothing.
    let folded = 42;
    assert!(job(&s).await.recorded_below > folded);
    assert!(!record(&s, folded).await);
    assert!(matches!(
        s.jobs.claim_chunk("big", folded).await.unwrap(),
        Claim::Refused(_)
    ));
    match s.jobs.skip_chunk("big", folded, 1).await.unwrap() {
        Skip::Recorded(recorded) => assert!(!recorded.newly_recorded),
        other => panic!("a folded chunk is recorded: {other:?}"),
    }

    let waiting = job(&s).await;
    assert_eq!(waiting.recorded_below, 705, "the straggler holds the mark");
    assert!(!waiting.is_chunk_recorded(705));
    assert!(record(&s, 705).await);
    let done = job(&s).await;
    assert_eq!(done.rows_processed, CHUNKS, "every chunk counted once");
    assert_eq!(done.chunks_recorded(), CHUNKS);
    assert_eq!(
        (done.recorded_below, done.recorded_chunks.len()),
        (CHUNKS, 0),
        "everything folded once the straggler is in"
    );
    assert!(done.claimed_chunks.is_empty());
}

/// Chunks claimed and then recorded leave no claim behind.
async fn recording_drops_the_claim(s: Stores) {
    let mut small = Job::new("big".into(), JobType::SendMfp, "alice".into(), 3, 1_000);
    small.chunk_count = 3;
    s.jobs.create_job(&small).await.unwrap();
    for chunk in 0..3 {
        let Claim::Claimed(claimed) = s.jobs.claim_chunk("big", chunk).await.unwrap() else {
            panic!("chunk {chunk} is claimable");
        };
        assert!(claimed.claimed_chunks.contains(&chunk));
        assert!(record(&s, chunk).await);
    }
    let done = job(&s).await;
    assert!(done.claimed_chunks.is_empty(), "{:?}", done.claimed_chunks);
    assert_eq!(done.chunks_recorded(), 3);
}

both_stores!(
    a_thousand_chunks_fold_into_a_small_job,
    recording_drops_the_claim
);
