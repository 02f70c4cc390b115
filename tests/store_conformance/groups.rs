//! Several chunks of one job claimed in one write and recorded in one write: all or none.

use super::*;

fn four_chunks(id: &str) -> Job {
    let mut job = job(id, JobType::SendMfp, "alice", 40, 1_000);
    job.chunk_count = 4;
    job
}

async fn chunks_are_claimed_together_or_not_at_all(s: Stores) {
    s.jobs.create_job(&four_chunks("g")).await.unwrap();
    let claimed = s.jobs.claim_chunks("g", &[0, 1, 2]).await.unwrap();
    let claimed = claimed.expect("a runnable job, none recorded");
    assert!([0, 1, 2].iter().all(|c| claimed.claimed_chunks.contains(c)));
    assert!(!claimed.claimed_chunks.contains(&3));
    assert!(
        s.jobs.claim_chunks("g", &[0, 1]).await.unwrap().is_some(),
        "claims repeat"
    );
    s.jobs
        .record_chunk("g", 1, counts(10, 0), None)
        .await
        .unwrap();
    assert_eq!(
        s.jobs.claim_chunks("g", &[3, 1]).await.unwrap(),
        None,
        "chunk 1 is recorded"
    );
    let job = s.jobs.get_job("g").await.unwrap().unwrap();
    assert!(!job.claimed_chunks.contains(&3), "none claimed");
    s.jobs.cancel("g", 2_000).await.unwrap();
    assert_eq!(s.jobs.claim_chunks("g", &[3]).await.unwrap(), None);
    assert!(
        matches!(s.jobs.skip_chunk("g", 3, 10).await.unwrap(), Skip::Recorded(r) if r.newly_recorded),
        "a chunk the refused claim named was never claimed, so it is skipped"
    );
    assert_eq!(s.jobs.skip_chunk("g", 2, 10).await.unwrap(), Skip::Claimed);

    s.jobs.create_job(&awaiting("w", 10)).await.unwrap();
    assert_eq!(s.jobs.claim_chunks("w", &[0, 1]).await.unwrap(), None);
    assert_eq!(s.jobs.claim_chunks("none", &[0, 1]).await.unwrap(), None);
    assert_eq!(s.jobs.get_job("none").await.unwrap(), None);
}

async fn chunks_are_recorded_together_once(s: Stores) {
    s.jobs.create_job(&four_chunks("r")).await.unwrap();
    s.jobs.start_processing("r", 1_500).await.unwrap();
    s.jobs.claim_chunks("r", &[0, 1, 2, 3]).await.unwrap();
    let failure = |row, message| Some(FirstFailure { row, message });
    let recorded = s
        .jobs
        .record_chunks(
            "r",
            &[(0, counts(9, 1)), (1, counts(10, 0))],
            failure(5, "five"),
        )
        .await
        .unwrap()
        .expect("neither recorded");
    assert_eq!((recorded.rows_processed, recorded.rows_failed), (19, 1));
    assert_eq!(recorded.first_failed_row, Some(5));
    assert_eq!(recorded.error_message.as_deref(), Some("five"));
    assert!(recorded.is_chunk_recorded(0) && recorded.is_chunk_recorded(1));
    assert!(!recorded.claimed_chunks.contains(&0) && recorded.claimed_chunks.contains(&2));

    let again = s
        .jobs
        .record_chunks(
            "r",
            &[(1, counts(10, 0)), (2, counts(8, 2))],
            failure(1, "one"),
        )
        .await
        .unwrap();
    assert_eq!(again, None, "chunk 1 is recorded: nothing is");
    let job = s.jobs.get_job("r").await.unwrap().unwrap();
    assert!(!job.is_chunk_recorded(2));
    assert_eq!((job.rows_accounted(), job.first_failed_row), (20, Some(5)));

    // A higher first failure leaves the job's as it is; the counts go in.
    let last = s
        .jobs
        .record_chunks(
            "r",
            &[(2, counts(8, 2)), (3, counts(10, 0))],
            failure(7, "seven"),
        )
        .await
        .unwrap()
        .expect("neither recorded");
    assert_eq!((last.rows_processed, last.rows_failed), (37, 3));
    assert_eq!(last.first_failed_row, Some(5));
    assert_eq!(last.error_message.as_deref(), Some("five"));
    assert_eq!(last.chunks_recorded(), 4);

    // A final job takes the counts of the chunks it claimed, not their failure.
    s.jobs.create_job(&four_chunks("f")).await.unwrap();
    s.jobs.claim_chunks("f", &[0, 1]).await.unwrap();
    s.jobs.cancel("f", 2_000).await.unwrap();
    let cancelled = s
        .jobs
        .record_chunks(
            "f",
            &[(0, counts(9, 1)), (1, counts(10, 0))],
            failure(2, "two"),
        )
        .await
        .unwrap()
        .expect("claimed chunks of a cancelled job are recorded");
    assert_eq!(cancelled.rows_accounted(), 20);
    assert_eq!(cancelled.first_failed_row, None);

    let one = [(0, counts(1, 0))];
    let missing = s.jobs.record_chunks("none", &one, None).await.unwrap();
    assert_eq!(missing, None);
    assert_eq!(s.jobs.get_job("none").await.unwrap(), None);
}

/// A group as large as the processor makes one: its writes' conditions stay within limits.
async fn a_largest_group_is_claimed_and_recorded(s: Stores) {
    let mut big = job("big", JobType::SendMfp, "alice", 100, 1_000);
    big.chunk_count = 10;
    s.jobs.create_job(&big).await.unwrap();
    s.jobs.start_processing("big", 1_500).await.unwrap();
    let chunks: Vec<u32> = (0..bulkops_shared::engine::MAX_GROUP as u32).collect();
    let claimed = s.jobs.claim_chunks("big", &chunks).await.unwrap();
    assert_eq!(claimed.expect("claimed").claimed_chunks.len(), chunks.len());
    let counted: Vec<(u32, ChunkCounts)> = chunks.iter().map(|&c| (c, counts(9, 1))).collect();
    let first = Some(FirstFailure {
        row: 3,
        message: "three",
    });
    let recorded = s.jobs.record_chunks("big", &counted, first).await.unwrap();
    let recorded = recorded.expect("recorded");
    assert_eq!((recorded.rows_processed, recorded.rows_failed), (90, 10));
    assert_eq!(recorded.chunks_recorded(), 10);
    assert!(recorded.claimed_chunks.is_empty());
}

both_stores!(
    chunks_are_claimed_together_or_not_at_all,
    chunks_are_recorded_together_once,
    a_largest_group_is_claimed_and_recorded,
);
