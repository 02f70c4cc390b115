//! Chunks: counted once, claims against skips, the first failure, stored outcomes in order.

use super::*;

async fn a_chunk_is_counted_once(s: Stores) {
    s.jobs
        .create_job(&job("j1", JobType::SendMfp, "alice", 10, 1_000))
        .await
        .unwrap();
    s.jobs.start_processing("j1", 2_000).await.unwrap();
    let first = s
        .jobs
        .record_chunk("j1", 0, counts(4, 1), None)
        .await
        .unwrap()
        .unwrap();
    assert!(first.newly_recorded);
    assert_eq!((first.job.rows_processed, first.job.rows_failed), (4, 1));
    let again = s
        .jobs
        .record_chunk("j1", 0, counts(4, 1), None)
        .await
        .unwrap()
        .unwrap();
    assert!(
        !again.newly_recorded,
        "a duplicate delivery changes nothing"
    );
    assert_eq!((again.job.rows_processed, again.job.rows_failed), (4, 1));
    let second = s
        .jobs
        .record_chunk("j1", 1, counts(5, 0), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.job.rows_accounted(), 10);
    assert_eq!(second.job.chunks_recorded(), 2);
    assert!(second.job.is_chunk_recorded(0) && second.job.is_chunk_recorded(1));
    assert_eq!(
        s.jobs
            .record_chunk("missing", 0, counts(1, 0), None)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        s.jobs.get_job("missing").await.unwrap(),
        None,
        "recording never creates a job"
    );
}

async fn a_claimed_chunk_is_never_skipped_and_a_skipped_one_never_claimed(s: Stores) {
    s.jobs
        .create_job(&job("j", JobType::SendMfp, "alice", 30, 1_000))
        .await
        .unwrap();
    let claimed = |claim: Claim| match claim {
        Claim::Claimed(job) => Some(job),
        _ => None,
    };
    let first = claimed(s.jobs.claim_chunk("j", 0).await.unwrap()).expect("claimable");
    assert!(first.claimed_chunks.contains(&0));
    assert!(
        claimed(s.jobs.claim_chunk("j", 0).await.unwrap()).is_some(),
        "claims repeat"
    );
    s.jobs.cancel("j", 2_000).await.unwrap();
    // After the cancel: chunk 1 never started, so it is skipped and can no longer be claimed.
    assert!(matches!(
        s.jobs.claim_chunk("j", 1).await.unwrap(),
        Claim::Refused(_)
    ));
    let Skip::Recorded(skipped) = s.jobs.skip_chunk("j", 1, 10).await.unwrap() else {
        panic!("an unclaimed chunk of a cancelled job is skipped");
    };
    assert!(skipped.newly_recorded);
    assert_eq!(skipped.job.rows_skipped, 10);
    assert!(matches!(
        s.jobs.skip_chunk("j", 1, 10).await.unwrap(),
        Skip::Recorded(again) if !again.newly_recorded
    ));
    // Chunk 0 started before the cancel: it is finished, never skipped.
    assert_eq!(s.jobs.skip_chunk("j", 0, 10).await.unwrap(), Skip::Claimed);
    assert!(claimed(s.jobs.claim_chunk("j", 0).await.unwrap()).is_some());
    let recorded = s
        .jobs
        .record_chunk("j", 0, counts(9, 1), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(recorded.job.rows_accounted(), 20);
    assert!(
        matches!(s.jobs.claim_chunk("j", 0).await.unwrap(), Claim::Refused(_)),
        "recorded"
    );

    s.jobs.create_job(&awaiting("w", 10)).await.unwrap();
    assert!(
        matches!(s.jobs.claim_chunk("w", 0).await.unwrap(), Claim::Refused(j) if j.state == JobState::AwaitingData)
    );
    assert_eq!(
        s.jobs.claim_chunk("none", 0).await.unwrap(),
        Claim::JobMissing
    );
    assert_eq!(
        s.jobs.skip_chunk("none", 0, 1).await.unwrap(),
        Skip::JobMissing
    );
}

async fn the_first_failure_is_the_lowest_row(s: Stores) {
    let mut j1 = job("j1", JobType::SendMfp, "alice", 100, 1_000);
    j1.chunk_count = 4;
    s.jobs.create_job(&j1).await.unwrap();
    s.jobs.start_processing("j1", 1_500).await.unwrap();
    let failure = |row, message| Some(FirstFailure { row, message });
    for (chunk, row, message) in [
        (0, 50, "fifty"),
        (1, 7, "seven"),
        (2, 30, "thirty"),
        (3, 7, "seven again"),
    ] {
        let recorded = s
            .jobs
            .record_chunk("j1", chunk, counts(24, 1), failure(row, message))
            .await
            .unwrap()
            .unwrap();
        assert!(recorded.newly_recorded, "chunk {chunk}");
    }
    // A redelivered chunk is counted once, and its failure with it: not at all.
    let again = s
        .jobs
        .record_chunk("j1", 2, counts(24, 1), failure(2, "two"))
        .await
        .unwrap()
        .unwrap();
    assert!(!again.newly_recorded);
    let j = s.jobs.get_job("j1").await.unwrap().unwrap();
    assert_eq!(
        (j.first_failed_row, j.error_message.as_deref()),
        (Some(7), Some("seven"))
    );
    assert_eq!((j.rows_processed, j.rows_failed), (96, 4));
    // A final job's errorMessage is its own: a late chunk is counted, its failure is not.
    s.jobs
        .create_job(&job("f", JobType::SendMfp, "alice", 10, 1_000))
        .await
        .unwrap();
    s.jobs.start_processing("f", 1_500).await.unwrap();
    assert!(s
        .jobs
        .stop_failed("f", "too many", 2_000)
        .await
        .unwrap()
        .is_some());
    let late = s
        .jobs
        .record_chunk("f", 0, counts(4, 1), failure(1, "late row"))
        .await
        .unwrap()
        .unwrap();
    assert!(late.newly_recorded);
    let f = s.jobs.get_job("f").await.unwrap().unwrap();
    assert_eq!(
        (
            f.first_failed_row,
            f.error_message.as_deref(),
            f.rows_failed
        ),
        (None, Some("too many"), 1)
    );
}

async fn row_outcomes_come_back_in_row_order(s: Stores) {
    s.jobs
        .create_job(&job("j1", JobType::SendMfp, "alice", 4, 1_000))
        .await
        .unwrap();
    let outcome = |row: u32| RowOutcome::succeeded(row, Map::new(), Some(json!({"n": row})));
    let stored = s
        .jobs
        .store_chunk_outcomes("j1", 1, &[outcome(3), outcome(4)])
        .await
        .unwrap();
    assert_eq!(stored, None, "stored now: nothing earlier to count instead");
    s.jobs
        .store_chunk_outcomes("j1", 0, &[outcome(1), outcome(2)])
        .await
        .unwrap();
    let failed = RowOutcome::failed(1, Map::new(), "X", "a later delivery's view");
    let kept = s
        .jobs
        .store_chunk_outcomes("j1", 0, &[failed.clone(), outcome(2)])
        .await
        .unwrap();
    assert_eq!(
        kept,
        Some(vec![outcome(1), outcome(2)]),
        "outcomes are stored once: the first are kept and returned"
    );
    let rows: Vec<u32> = s
        .jobs
        .row_outcomes("j1")
        .await
        .unwrap()
        .iter()
        .map(|o| o.row)
        .collect();
    assert_eq!(rows, vec![1, 2, 3, 4], "a redelivery never duplicates");
    assert!(s.jobs.row_outcomes("other").await.unwrap().is_empty());
}

/// Stored chunks come back from a given chunk on, in chunk order, at most as many as asked;
/// chunks not stored are absent (a page of rows stops at the first of them).
async fn chunk_outcomes_come_back_from_a_chunk_in_chunk_order(s: Stores) {
    let mut created = job("j1", JobType::SendMfp, "alice", 12, 1_000);
    created.chunk_count = 6;
    s.jobs.create_job(&created).await.unwrap();
    // Another job whose id extends this one's must never show up in its chunks.
    s.jobs
        .create_job(&job("j10", JobType::SendMfp, "alice", 2, 1_000))
        .await
        .unwrap();
    let outcome = |row: u32| RowOutcome::succeeded(row, Map::new(), None);
    // Chunks finish out of order; chunk 2 is not stored; rows are stored out of order too.
    for chunk in [4u32, 0, 5, 1, 3] {
        let rows = [chunk * 2 + 2, chunk * 2 + 1].map(outcome);
        s.jobs
            .store_chunk_outcomes("j1", chunk, &rows)
            .await
            .unwrap();
    }
    s.jobs
        .store_chunk_outcomes("j10", 0, &[outcome(1), outcome(2)])
        .await
        .unwrap();
    let read = |first: u32, max: usize| {
        let jobs = s.jobs.clone();
        async move {
            let chunks = jobs.chunk_outcomes_from("j1", first, max).await.unwrap();
            let shape: Vec<(u32, Vec<u32>)> = chunks
                .iter()
                .map(|c| (c.chunk, c.outcomes.iter().map(|o| o.row).collect()))
                .collect();
            shape
        }
    };
    let all = read(0, 50).await;
    assert_eq!(
        all,
        vec![
            (0, vec![1, 2]),
            (1, vec![3, 4]),
            (3, vec![7, 8]),
            (4, vec![9, 10]),
            (5, vec![11, 12]),
        ],
        "every stored chunk in chunk order, rows in row order"
    );
    assert_eq!(read(0, 2).await, all[..2].to_vec(), "at most max");
    assert_eq!(
        read(2, 2).await,
        all[2..4].to_vec(),
        "from a chunk not stored"
    );
    assert_eq!(read(4, 50).await, all[3..].to_vec());
    assert_eq!(read(5, 1).await, all[4..].to_vec());
    assert!(read(6, 50).await.is_empty(), "past the last chunk");
    let other = s.jobs.chunk_outcomes_from("nope", 0, 10).await.unwrap();
    assert!(other.is_empty());
}

both_stores!(
    a_chunk_is_counted_once,
    a_claimed_chunk_is_never_skipped_and_a_skipped_one_never_claimed,
    the_first_failure_is_the_lowest_row,
    row_outcomes_come_back_in_row_order,
    chunk_outcomes_come_back_from_a_chunk_in_chunk_order,
);
