//! One conformance suite for the storage ports, run against both implementations: DynamoDB
//! (through moto) and the embedded redb store. The engine relies on exactly these
//! behaviours; each case fails on either backend if its contract breaks.

mod common;

use std::sync::Arc;

use bulkops_embedded::EmbeddedStore;
use bulkops_shared::model::Secrets;
use bulkops_shared::model::{ChunkCounts, EventKind, Job, JobState, JobType, RowOutcome};
use bulkops_shared::store::{
    CancelOutcome, Claim, FirstFailure, JobStore, Record, RecordKey, RecordStore, Skip, Transition,
};
use serde_json::{json, Map};

use common::stores::{dynamo, embedded, Stores};

fn job(id: &str, job_type: JobType, owner: &str, rows: u32, init_ms: i64) -> Job {
    let mut job = Job::new(id.to_owned(), job_type, owner.to_owned(), rows, init_ms);
    job.chunk_count = 2;
    job
}

fn counts(succeeded: u32, failed: u32) -> ChunkCounts {
    ChunkCounts {
        succeeded,
        failed,
        skipped: 0,
    }
}

async fn jobs_round_trip_and_ids_are_unique(s: Stores) {
    let mut created = job("j1", JobType::SendMfp, "alice", 10, 1_000);
    created.source = Some("file.csv".into());
    s.jobs.create_job(&created).await.unwrap();
    assert_eq!(s.jobs.get_job("j1").await.unwrap(), Some(created.clone()));
    assert!(
        s.jobs.create_job(&created).await.is_err(),
        "a job id is created once"
    );
    assert_eq!(s.jobs.get_job("nope").await.unwrap(), None);
}

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

async fn state_moves_forward_only(s: Stores) {
    s.jobs
        .create_job(&job("j1", JobType::SendMfp, "alice", 1, 1_000))
        .await
        .unwrap();
    assert!(
        s.jobs.complete("j1", 1_500).await.unwrap().is_none(),
        "SCHEDULED cannot complete"
    );
    s.jobs.start_processing("j1", 2_000).await.unwrap();
    s.jobs.start_processing("j1", 9_000).await.unwrap();
    let j = s.jobs.get_job("j1").await.unwrap().unwrap();
    assert_eq!(
        (j.state, j.processing_start_ms),
        (JobState::Processing, Some(2_000))
    );
    assert!(s.jobs.complete("j1", 3_000).await.unwrap().is_some());
    assert!(
        s.jobs.complete("j1", 4_000).await.unwrap().is_none(),
        "COMPLETED is set exactly once"
    );
    let j = s.jobs.get_job("j1").await.unwrap().unwrap();
    assert_eq!(
        (j.state, j.processing_end_ms),
        (JobState::Completed, Some(3_000))
    );
    assert_eq!(
        s.jobs.cancel("j1", 5_000).await.unwrap(),
        CancelOutcome::AlreadyFinal(JobState::Completed)
    );
    assert!(matches!(
        s.jobs.abandon("j1", "late", 6_000).await.unwrap(),
        Transition::Unchanged(_)
    ));
    assert_eq!(
        s.jobs.get_job("j1").await.unwrap().unwrap().state,
        JobState::Completed
    );
}

/// Too many failed rows: PROCESSING → FAILED once, with the reason and the Failed event; a
/// job in any other state is left alone; the tolerance round-trips.
async fn a_processing_job_stops_failed_once(s: Stores) {
    let mut tolerant = job("t1", JobType::SendMfp, "alice", 10, 1_000);
    tolerant.tolerance.tolerated_failure_count = Some(2);
    tolerant.tolerance.tolerated_failure_percentage = Some(12.5);
    s.jobs.create_job(&tolerant).await.unwrap();
    let stored = s.jobs.get_job("t1").await.unwrap().unwrap();
    assert_eq!(stored.tolerance, tolerant.tolerance);
    // Whether stopping `id` failed moved it (and so returned the job).
    let stops = |id: &'static str, message: &'static str, at: i64| {
        let jobs = s.jobs.clone();
        async move { jobs.stop_failed(id, message, at).await.unwrap().is_some() }
    };
    assert!(!stops("t1", "too many", 1_500).await, "SCHEDULED stays");
    s.jobs.start_processing("t1", 2_000).await.unwrap();
    assert!(stops("t1", "too many", 3_000).await);
    assert!(!stops("t1", "again", 4_000).await, "once");
    assert!(s.jobs.complete("t1", 5_000).await.unwrap().is_none());
    let j = s.jobs.get_job("t1").await.unwrap().unwrap();
    assert_eq!(
        (j.state, j.processing_end_ms, j.error_message.as_deref()),
        (JobState::Failed, Some(3_000), Some("too many"))
    );
    assert!(j.outbox.contains_key(&EventKind::Failed));
    assert!(!stops("missing", "x", 1).await);
}

fn awaiting(id: &str, rows: u32) -> Job {
    let mut awaiting = job(id, JobType::SendMfp, "alice", rows, 1_000);
    awaiting.state = JobState::AwaitingData;
    awaiting
}

async fn release_cancel_and_abandon(s: Stores) {
    s.jobs
        .create_job(&job("c", JobType::SendMfp, "alice", 5, 1_000))
        .await
        .unwrap();
    assert!(
        matches!(s.jobs.cancel("c", 2_000).await.unwrap(), CancelOutcome::Cancelled(j) if j.state == JobState::Cancelled)
    );
    assert_eq!(
        s.jobs.cancel("c", 2_000).await.unwrap(),
        CancelOutcome::AlreadyFinal(JobState::Cancelled)
    );
    assert_eq!(
        s.jobs.cancel("none", 2_000).await.unwrap(),
        CancelOutcome::NotFound
    );
    assert!(s.jobs.complete("c", 3_000).await.unwrap().is_none());

    // Released once, and only from AWAITING_DATA.
    s.jobs.create_job(&awaiting("r", 10)).await.unwrap();
    assert!(
        matches!(s.jobs.release("r").await.unwrap(), Transition::Moved(j) if j.state == JobState::Scheduled)
    );
    assert!(
        matches!(s.jobs.release("r").await.unwrap(), Transition::Unchanged(j) if j.state == JobState::Scheduled)
    );
    assert_eq!(
        s.jobs.release("none").await.unwrap(),
        Transition::JobMissing
    );

    // Cancelled before release: nothing can run, every row is skipped at once.
    s.jobs.create_job(&awaiting("a", 10)).await.unwrap();
    let CancelOutcome::Cancelled(a) = s.jobs.cancel("a", 2_000).await.unwrap() else {
        panic!("an awaiting job can be cancelled");
    };
    assert_eq!((a.state, a.rows_skipped), (JobState::Cancelled, 10));
    assert_eq!(a.chunks_recorded(), 2);
    assert!(a.is_chunk_recorded(0) && a.is_chunk_recorded(1));

    // Abandoned (its chunks could not all be queued): FAILED, every row skipped, every chunk
    // recorded, so a chunk that was queued after all is not counted again.
    s.jobs.create_job(&awaiting("f", 10)).await.unwrap();
    assert!(matches!(
        s.jobs.abandon("f", "queue down", 2_000).await.unwrap(),
        Transition::Moved(_)
    ));
    let f = s.jobs.get_job("f").await.unwrap().unwrap();
    assert_eq!((f.state, f.rows_skipped), (JobState::Failed, 10));
    assert_eq!(f.error_message.as_deref(), Some("queue down"));
    assert!(
        !s.jobs
            .record_chunk("f", 1, counts(4, 0), None)
            .await
            .unwrap()
            .unwrap()
            .newly_recorded
    );
    assert!(matches!(
        s.jobs.claim_chunk("f", 0).await.unwrap(),
        Claim::Refused(_)
    ));
    assert!(matches!(
        s.jobs.abandon("r", "released already", 3_000).await.unwrap(),
        Transition::Unchanged(j) if j.state == JobState::Scheduled
    ));
    assert_eq!(
        s.jobs.abandon("none", "x", 3_000).await.unwrap(),
        Transition::JobMissing
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

async fn listing_is_newest_first_and_owner_scoped_where_required(s: Stores) {
    for (id, t, owner, at) in [
        ("m1", JobType::SendMfp, "alice", 1_000),
        ("m2", JobType::SendMfp, "bob", 2_000),
        ("1", JobType::AddAccounts, "alice", 1_500),
        ("2", JobType::AddAccounts, "bob", 2_500),
        ("3", JobType::AddAccounts, "alice", 3_000),
    ] {
        s.jobs.create_job(&job(id, t, owner, 1, at)).await.unwrap();
    }
    let ids = |jobs: Vec<Job>| jobs.into_iter().map(|j| j.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s
            .jobs
            .list_jobs(JobType::SendMfp, "anyone", 10)
            .await
            .unwrap()),
        vec!["m2", "m1"]
    );
    assert_eq!(
        ids(s
            .jobs
            .list_jobs(JobType::AddAccounts, "alice", 10)
            .await
            .unwrap()),
        vec!["3", "1"]
    );
    assert_eq!(
        ids(s
            .jobs
            .list_jobs(JobType::AddAccounts, "alice", 1)
            .await
            .unwrap()),
        vec!["3"]
    );
    assert!(s
        .jobs
        .list_jobs(JobType::AddAccounts, "carol", 10)
        .await
        .unwrap()
        .is_empty());
}

async fn sequences_increase_and_secrets_are_staged(s: Stores) {
    let a = s.jobs.next_sequence("S").await.unwrap();
    let b = s.jobs.next_sequence("S").await.unwrap();
    assert_eq!((a, b), (1, 2));
    assert_eq!(s.jobs.next_sequence("T").await.unwrap(), 1);
    let secrets = Secrets::from([(1, "one".to_owned()), (2, "two".to_owned())]);
    s.jobs.put_chunk_secrets("j1", 0, &secrets).await.unwrap();
    assert_eq!(s.jobs.chunk_secrets("j1", 0).await.unwrap(), secrets);
    assert!(s.jobs.chunk_secrets("j1", 1).await.unwrap().is_empty());
    s.jobs.delete_chunk_secrets("j1", 0).await.unwrap();
    s.jobs.delete_chunk_secrets("j1", 0).await.unwrap();
    assert!(s.jobs.chunk_secrets("j1", 0).await.unwrap().is_empty());

    // Kept secrets: per job (j1's never include j10's); a redelivery's write changes nothing.
    let later = bulkops_shared::time::now_ms() + 60_000;
    let one = Secrets::from([(1, "one".to_owned())]);
    let three = Secrets::from([(300, "three".to_owned())]);
    s.jobs
        .keep_failed_secrets("j1", 0, &one, later)
        .await
        .unwrap();
    s.jobs
        .keep_failed_secrets("j1", 0, &one, later)
        .await
        .unwrap();
    s.jobs
        .keep_failed_secrets("j1", 2, &three, later)
        .await
        .unwrap();
    let other = Secrets::from([(1, "other".to_owned())]);
    s.jobs
        .keep_failed_secrets("j10", 0, &other, later)
        .await
        .unwrap();
    let expected = Secrets::from([(1, "one".to_owned()), (300, "three".to_owned())]);
    assert_eq!(s.jobs.kept_secrets("j1").await.unwrap(), expected);
    assert_eq!(s.jobs.kept_secrets("j10").await.unwrap(), other);
    assert!(s.jobs.kept_secrets("j2").await.unwrap().is_empty());
}

async fn records_batch_create_and_count(s: Stores) {
    let key = |n: usize| RecordKey::new(format!("P#{}", n % 3), format!("S#{n}"));
    let many: Vec<_> = (0..130)
        .map(|n| {
            let record = Record::of(&json!({"n": n, "nested": {"a": [1, 2]}})).unwrap();
            (key(n), record)
        })
        .collect();
    s.records.put_many(many).await.unwrap();
    let keys: Vec<_> = (0..140).map(key).collect();
    let found = s.records.get_many(&keys).await.unwrap();
    assert_eq!(found.len(), 130, "missing keys are absent");
    assert_eq!(found[&key(5)], json!({"n": 5, "nested": {"a": [1, 2]}}));
    // Presence alone, over more than one batch of reads, each key once however often asked.
    let mut asked = keys.clone();
    asked.extend([key(7), key(135)]);
    let present = s.records.existing(&asked).await.unwrap();
    assert_eq!(present.len(), 130);
    assert_eq!(present, found.keys().cloned().collect());
    assert!(!present.contains(&key(135)));

    let fresh: Vec<_> = (125..135)
        .map(|n| (key(n), Record::of(&json!({"n": n * 100})).unwrap()))
        .collect();
    let existing = s.records.create_many(fresh).await.unwrap();
    assert_eq!(existing.len(), 5);
    let after = s.records.get_many(&[key(126), key(131)]).await.unwrap();
    assert_eq!(
        after[&key(126)]["n"],
        126,
        "an existing record is left unchanged"
    );
    assert_eq!(after[&key(131)]["n"], 13_100, "a free key is created");

    assert_eq!(
        s.records.increment(&key(1), "counter", 3).await.unwrap(),
        Some(3)
    );
    assert_eq!(
        s.records.increment(&key(1), "counter", 2).await.unwrap(),
        Some(5)
    );
    assert_eq!(
        s.records.increment(&key(999), "counter", 1).await.unwrap(),
        None,
        "no record, no counter"
    );
    assert_eq!(
        s.records.get_many(&[key(1)]).await.unwrap()[&key(1)]["n"],
        1
    );

    // A reloaded record never lowers its counter: accounts numbered meanwhile keep theirs.
    let safe = RecordKey::new("SAFE#s", "SAFE");
    let version = |v: i64, counter: i64| json!({"version": v, "members": {"a": {"x": true}}, "next": counter});
    s.records
        .put_keeping_counter(&safe, version(1, 5), "next")
        .await
        .unwrap();
    assert_eq!(
        s.records.increment(&safe, "next", 3).await.unwrap(),
        Some(8)
    );
    s.records
        .put_keeping_counter(&safe, version(2, 2), "next")
        .await
        .unwrap();
    let reloaded = &s
        .records
        .get_many(std::slice::from_ref(&safe))
        .await
        .unwrap()[&safe];
    assert_eq!(
        (reloaded["version"].as_i64(), reloaded["next"].as_i64()),
        (Some(2), Some(8))
    );
    assert_eq!(reloaded["members"], json!({"a": {"x": true}}));
    s.records
        .put_keeping_counter(&safe, version(3, 20), "next")
        .await
        .unwrap();
    assert_eq!(
        s.records
            .get_many(std::slice::from_ref(&safe))
            .await
            .unwrap()[&safe]["next"],
        20
    );
}

/// The engine and the real handlers run unchanged on the embedded store and queue: no AWS,
/// every message delivered twice.
#[tokio::test]
async fn a_job_runs_end_to_end_fully_embedded() {
    use bulkops_embedded::EmbeddedQueue;
    use bulkops_testkit::{pump, PumpOptions};
    use common::*;
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = Arc::new(EmbeddedStore::open(&dir.path().join("bulkops.redb")).unwrap());
    let queue = EmbeddedQueue::new(
        &store,
        "chunks",
        Some("chunks-dlq"),
        3,
        std::time::Duration::from_secs(60),
    );
    let records: Arc<dyn RecordStore> = store.clone();
    let ids = bulkops::reference::load_enrollments(&records, (0..600).map(enrollment).collect())
        .await
        .unwrap();
    let mut request = ids.clone();
    request.push(enrollment_id(9_999));
    request.push(ids[3].clone());
    let submit_deps = submit::Deps {
        clock: std::sync::Arc::new(bulkops_shared::time::SystemClock),
        jobs: store.clone(),
        queue: Arc::new(queue.clone()),
        events: Arc::new(bulkops_shared::engine::NoFlush),
        quota: Default::default(),
        uploads: None,
    };
    let response = submit::handler(&submit_deps, submit_call(&request).request())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let id = body_json(&response)["id"].as_str().unwrap().to_owned();
    let processor_deps = processor::Deps {
        jobs: store.clone(),
        operations: bulkops_shared::ops::registry(records.clone()),
        events: Arc::new(bulkops_shared::engine::NoFlush),
        metrics: Arc::new(bulkops_shared::metrics::NoMetrics),
        queue: Arc::new(queue.clone()),
    };
    let options = PumpOptions {
        deliveries: 2,
        ..PumpOptions::default()
    };
    let stats = pump(
        &queue,
        "arn:aws:sqs:local:000000000000:chunks",
        options,
        |event| {
            processor::handler(
                &processor_deps,
                lambda_runtime::LambdaEvent::new(event, Default::default()),
            )
        },
    )
    .await;
    assert_eq!(stats.deliveries, 4, "2 chunks, each delivered twice");
    let job = store.get_job(&id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Completed);
    assert_eq!(
        (job.rows_processed, job.rows_failed, job.first_failed_row),
        (600, 2, Some(601))
    );
    assert_eq!(store.row_outcomes(&id).await.unwrap().len(), 602);
}

/// Every transition records its event in the job's outbox in the same write; published
/// events leave it, and a job with none pending is no longer listed for the publisher.
async fn transitions_record_their_events_until_published(s: Stores) {
    let kinds = |job: &Job| job.outbox.keys().copied().collect::<Vec<_>>();
    s.jobs.create_job(&awaiting("a", 10)).await.unwrap();
    assert!(
        s.jobs
            .get_job("a")
            .await
            .unwrap()
            .unwrap()
            .outbox
            .is_empty(),
        "no event before release"
    );
    s.jobs.release("a").await.unwrap();
    s.jobs.start_processing("a", 2_000).await.unwrap();
    s.jobs
        .record_chunk("a", 0, counts(5, 0), None)
        .await
        .unwrap();
    s.jobs
        .record_chunk("a", 1, counts(4, 1), None)
        .await
        .unwrap();
    assert!(s.jobs.complete("a", 3_000).await.unwrap().is_some());
    let a = s.jobs.get_job("a").await.unwrap().unwrap();
    assert_eq!(
        kinds(&a),
        vec![
            EventKind::Created,
            EventKind::Processing,
            EventKind::Completed
        ]
    );
    assert_eq!(a.outbox[&EventKind::Completed], 3_000);

    s.jobs.create_job(&awaiting("f", 10)).await.unwrap();
    s.jobs.abandon("f", "queue down", 4_000).await.unwrap();
    s.jobs.create_job(&awaiting("c", 10)).await.unwrap();
    s.jobs.release("c").await.unwrap();
    s.jobs.cancel("c", 5_000).await.unwrap();
    assert_eq!(
        kinds(&s.jobs.get_job("f").await.unwrap().unwrap()),
        vec![EventKind::Failed]
    );
    assert_eq!(
        kinds(&s.jobs.get_job("c").await.unwrap().unwrap()),
        vec![EventKind::Created, EventKind::Cancelled]
    );
    let pending: Vec<String> = s
        .jobs
        .jobs_with_pending_events(10)
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(pending.len(), 3, "{pending:?}");

    // Published in two steps; the job leaves the list with its last event, and a repeat is harmless.
    s.jobs
        .mark_published("a", &[EventKind::Created])
        .await
        .unwrap();
    assert_eq!(s.jobs.jobs_with_pending_events(10).await.unwrap().len(), 3);
    s.jobs
        .mark_published("a", &[EventKind::Processing, EventKind::Completed])
        .await
        .unwrap();
    s.jobs
        .mark_published("a", &[EventKind::Completed])
        .await
        .unwrap();
    assert!(s
        .jobs
        .get_job("a")
        .await
        .unwrap()
        .unwrap()
        .outbox
        .is_empty());
    let pending: Vec<String> = s
        .jobs
        .jobs_with_pending_events(10)
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert!(!pending.contains(&"a".to_owned()), "{pending:?}");
    s.jobs
        .mark_published("f", &[EventKind::Failed])
        .await
        .unwrap();
    s.jobs
        .mark_published("c", &[EventKind::Created, EventKind::Cancelled])
        .await
        .unwrap();
    assert!(s
        .jobs
        .jobs_with_pending_events(10)
        .await
        .unwrap()
        .is_empty());
    s.jobs
        .mark_published("none", &[EventKind::Failed])
        .await
        .unwrap();
}

/// A client token is held by the first job that claims it, also when claims race.
async fn a_client_token_is_held_by_its_first_job(s: Stores) {
    let key = bulkops_shared::store::client_token_key("accounts", "alice", "t-1");
    let ids: Vec<String> = (0..8).map(|n| n.to_string()).collect();
    let claims =
        futures::future::join_all(ids.iter().map(|id| s.jobs.claim_client_token(&key, id))).await;
    let holders: std::collections::BTreeSet<String> =
        claims.into_iter().map(|c| c.unwrap()).collect();
    assert_eq!(holders.len(), 1, "{holders:?}");
    let holder = holders.into_iter().next().unwrap();
    assert_eq!(s.jobs.claim_client_token(&key, "99").await.unwrap(), holder);
    let other = bulkops_shared::store::client_token_key("accounts", "bob", "t-1");
    assert_eq!(s.jobs.claim_client_token(&other, "7").await.unwrap(), "7");
}

both_stores!(
    a_processing_job_stops_failed_once,
    jobs_round_trip_and_ids_are_unique,
    a_chunk_is_counted_once,
    state_moves_forward_only,
    release_cancel_and_abandon,
    transitions_record_their_events_until_published,
    a_claimed_chunk_is_never_skipped_and_a_skipped_one_never_claimed,
    the_first_failure_is_the_lowest_row,
    row_outcomes_come_back_in_row_order,
    chunk_outcomes_come_back_from_a_chunk_in_chunk_order,
    listing_is_newest_first_and_owner_scoped_where_required,
    sequences_increase_and_secrets_are_staged,
    records_batch_create_and_count,
    a_client_token_is_held_by_its_first_job,
);
