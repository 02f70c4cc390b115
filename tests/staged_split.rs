//! Splitting a staged flash pass file (issue 11, items 2 and 5, without the upload route yet):
//! the file is read line by line into parked chunks, the job gets its totals and is released,
//! and its chunks run through the real processor handler, delivered 3×, on moto and on the
//! embedded store: every row once, in file order, bad lines failed as rows with their reason,
//! duplicates pointing at their first row. A file that is not rows fails the job; a split that
//! dies part-way is run again without a chunk counted twice.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bulkops::reference::load_enrollments;
use bulkops_shared::error::StoreError;
use bulkops_shared::model::{ChunkMessage, Job, JobState, JobType};
use bulkops_shared::ops::mobile_flash_pass::staged::MfpFileRows;
use bulkops_shared::staged::{split, SplitDeps, SplitError};
use bulkops_shared::store::ChunkParking;
use bulkops_testkit::scenario::enrollment;
use bulkops_testkit::PumpOptions;
use common::backends::{embedded, moto, Backend};
use common::staged::file;

/// A job waiting for its file, as the staged upload route creates it.
async fn awaiting(b: &Backend, id: &str) {
    let mut job = Job::new(id.into(), JobType::SendMfp, "alice".into(), 0, 1_000);
    job.state = JobState::AwaitingData;
    job.upload_expires_at_ms = Some(2_000);
    b.jobs.create_job(&job).await.expect("create the job");
}

async fn split_file(deps: SplitDeps<'_>, id: &str, text: &[u8]) -> Result<Job, String> {
    split(deps, id, text, &mut MfpFileRows::default())
        .await
        .map_err(|e| e.to_string())
}

async fn runs_every_row_once(b: Backend, rows: usize) {
    load_enrollments(&b.records, (0..rows).map(enrollment).collect())
        .await
        .expect("load enrollments");
    awaiting(&b, "staged").await;
    let (text, expected) = file(rows);
    let rows_of = &mut MfpFileRows::default();
    let done = b
        .split_and_run("staged", text.as_bytes(), rows_of, rows)
        .await;
    let failed = expected.iter().filter(|e| e.is_some()).count() as u32;
    assert_eq!(done.state, JobState::Completed);
    assert_eq!(
        (done.rows_processed, done.rows_failed, done.rows_skipped),
        (rows as u32 - failed, failed, 0)
    );
    let outcomes = b.jobs.row_outcomes("staged").await.unwrap();
    assert_eq!(outcomes.len(), rows);
    for (index, outcome) in outcomes.iter().enumerate() {
        assert_eq!(outcome.row as usize, index + 1, "in file order");
        assert_eq!(
            outcome.error_code.as_deref(),
            expected[index],
            "row {}",
            outcome.row
        );
    }
    let duplicate = &outcomes[29];
    assert_eq!(
        duplicate.error_message.as_deref(),
        Some("Duplicate of row 29: the same enrollment appears earlier in the request")
    );
}

async fn a_file_that_is_not_rows_fails_the_job(b: Backend) {
    for (id, text, reason) in [
        (
            "binary",
            &b"id\n\x00\x01\x02"[..],
            "line 2 is not UTF-8 text",
        ),
        ("empty", &b"id\n\n  \n"[..], "the file holds no rows"),
    ] {
        awaiting(&b, id).await;
        let job = split_file(b.split_deps(), id, text).await.unwrap();
        assert_eq!(job.state, JobState::Failed, "{id}");
        let message = job.error_message.unwrap_or_default();
        assert!(message.contains(reason), "{id}: {message}");
    }
    // Cancelled while its file was on its way: read, but nothing is released or queued.
    awaiting(&b, "cancelled").await;
    b.jobs.cancel("cancelled", 2_000).await.unwrap();
    let (text, _) = file(10);
    let job = split_file(b.split_deps(), "cancelled", text.as_bytes())
        .await
        .unwrap();
    assert_eq!(job.state, JobState::Cancelled);
    assert_eq!(b.process_all(PumpOptions::default()).await.deliveries, 0);
}

/// Parks until the `fail_at`-th call (1-based), which fails.
struct DyingParking {
    inner: Arc<dyn ChunkParking>,
    calls: AtomicUsize,
    fail_at: usize,
}

#[async_trait]
impl ChunkParking for DyingParking {
    async fn park_chunks(&self, chunks: &[ChunkMessage]) -> Result<(), StoreError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) + 1 == self.fail_at {
            return Err(StoreError::Backend("the splitter died".into()));
        }
        self.inner.park_chunks(chunks).await
    }
    async fn parked_chunk(
        &self,
        job: &str,
        chunk: u32,
    ) -> Result<Option<ChunkMessage>, StoreError> {
        self.inner.parked_chunk(job, chunk).await
    }
}

async fn a_split_that_dies_is_run_again(b: Backend, rows: usize) {
    load_enrollments(&b.records, (0..rows).map(enrollment).collect())
        .await
        .expect("load enrollments");
    awaiting(&b, "again").await;
    let (text, expected) = file(rows);
    let dying = DyingParking {
        inner: b.parking.clone(),
        calls: AtomicUsize::new(0),
        fail_at: 2,
    };
    let deps = SplitDeps {
        parking: &dying,
        ..b.split_deps()
    };
    let died = split_file(deps, "again", text.as_bytes()).await;
    assert!(died.is_err(), "the split died after parking a batch");
    assert_eq!(
        b.jobs.get_job("again").await.unwrap().unwrap().state,
        JobState::AwaitingData
    );
    let job = split_file(b.split_deps(), "again", text.as_bytes())
        .await
        .unwrap();
    // Run a third time, as a redelivered trigger would: the first window is queued again.
    let again = split_file(b.split_deps(), "again", text.as_bytes())
        .await
        .unwrap();
    assert_eq!(
        (again.total_rows, again.chunk_count),
        (job.total_rows, job.chunk_count)
    );
    b.process_all(PumpOptions::default()).await;
    let done = b.jobs.get_job("again").await.unwrap().unwrap();
    let failed = expected.iter().filter(|e| e.is_some()).count() as u32;
    assert_eq!(done.state, JobState::Completed);
    assert_eq!(
        (done.rows_processed, done.rows_failed, done.total_rows),
        (rows as u32 - failed, failed, rows as u32),
        "every row counted once"
    );
}

/// A file that came is never overdue, however long its split waits (here: a split that
/// died at its first chunks, waiting to be run again): the publisher's sweep leaves it be.
async fn a_file_that_came_is_never_overdue(b: Backend) {
    awaiting(&b, "came").await;
    let overdue = || async {
        let jobs = b.jobs.overdue_uploads(i64::MAX / 2, 10).await.unwrap();
        jobs.into_iter().map(|job| job.id).collect::<Vec<_>>()
    };
    assert_eq!(
        overdue().await,
        ["came"],
        "overdue while its file is not here"
    );
    let (text, _) = file(300);
    let dying = DyingParking {
        inner: b.parking.clone(),
        calls: AtomicUsize::new(0),
        fail_at: 1,
    };
    let deps = SplitDeps {
        parking: &dying,
        ..b.split_deps()
    };
    assert!(split_file(deps, "came", text.as_bytes()).await.is_err());
    let stuck = b.jobs.get_job("came").await.unwrap().unwrap();
    assert_eq!(stuck.state, JobState::AwaitingData);
    assert!(stuck.file_received_ms.is_some());
    assert!(overdue().await.is_empty(), "its file came");
    let job = split_file(b.split_deps(), "came", text.as_bytes()).await;
    assert_eq!(job.unwrap().state, JobState::Scheduled);
    assert_eq!(
        b.jobs
            .get_job("came")
            .await
            .unwrap()
            .unwrap()
            .file_received_ms,
        stuck.file_received_ms,
        "noted once"
    );
}

#[tokio::test]
async fn a_file_that_came_is_never_overdue_embedded() {
    a_file_that_came_is_never_overdue(embedded(2)).await;
}

#[tokio::test]
async fn a_file_that_came_is_never_overdue_on_moto() {
    a_file_that_came_is_never_overdue(moto(2).await).await;
}

/// Counts the chunks parked, by number.
struct CountingParking {
    inner: Arc<dyn ChunkParking>,
    parked: std::sync::Mutex<Vec<u32>>,
}

#[async_trait]
impl ChunkParking for CountingParking {
    async fn park_chunks(&self, chunks: &[ChunkMessage]) -> Result<(), StoreError> {
        self.inner.park_chunks(chunks).await?;
        let mut parked = self.parked.lock().unwrap();
        parked.extend(chunks.iter().map(|c| c.chunk));
        Ok(())
    }
    async fn parked_chunk(
        &self,
        job: &str,
        chunk: u32,
    ) -> Result<Option<ChunkMessage>, StoreError> {
        self.inner.parked_chunk(job, chunk).await
    }
    async fn parked_chunks(
        &self,
        job: &str,
        first: u32,
        count: u32,
    ) -> Result<Vec<ChunkMessage>, StoreError> {
        self.inner.parked_chunks(job, first, count).await
    }
}

/// A split whose deadline has always passed: each run parks one batch (25 chunks), notes it
/// and stops; the next goes on from there. No chunk is parked twice, the duplicates across a
/// stop still point at their first row, and every row is counted once.
async fn a_split_out_of_time_goes_on_where_it_stopped(b: Backend, rows: usize, min_runs: usize) {
    load_enrollments(&b.records, (0..rows).map(enrollment).collect())
        .await
        .expect("load enrollments");
    awaiting(&b, "long").await;
    let (text, expected) = file(rows);
    let counting = CountingParking {
        inner: b.parking.clone(),
        parked: Default::default(),
    };
    let deps = SplitDeps {
        parking: &counting,
        deadline_ms: Some(0),
        ..b.split_deps()
    };
    let mut runs = 0;
    let job = loop {
        runs += 1;
        assert!(runs < 10, "the split makes progress");
        match split(deps, "long", text.as_bytes(), &mut MfpFileRows::default()).await {
            Ok(job) => break job,
            Err(SplitError::OutOfTime { parked_below, .. }) => {
                let noted = b.jobs.get_job("long").await.unwrap().unwrap();
                assert_eq!(noted.state, JobState::AwaitingData);
                assert_eq!(noted.split_parked_below, parked_below);
                assert_eq!(parked_below, 25 * runs as u32, "a batch a run");
            }
            Err(other) => panic!("{other}"),
        }
    };
    assert!(runs >= min_runs, "{runs} runs");
    assert_eq!(job.state, JobState::Scheduled);
    let parked = counting.parked.lock().unwrap().clone();
    assert_eq!(
        parked,
        (0..job.chunk_count).collect::<Vec<_>>(),
        "every chunk parked once, in order"
    );
    b.process_all(PumpOptions {
        deliveries: 3,
        ..PumpOptions::default()
    })
    .await;
    let done = b.jobs.get_job("long").await.unwrap().unwrap();
    let failed = expected.iter().filter(|e| e.is_some()).count() as u32;
    assert_eq!(
        (done.state, done.rows_processed, done.rows_failed),
        (JobState::Completed, rows as u32 - failed, failed)
    );
    let outcomes = b.jobs.row_outcomes("long").await.unwrap();
    for (outcome, expected) in outcomes.iter().zip(&expected) {
        assert_eq!(
            outcome.error_code.as_deref(),
            *expected,
            "row {}",
            outcome.row
        );
    }
}

#[tokio::test]
async fn a_split_out_of_time_goes_on_where_it_stopped_embedded() {
    a_split_out_of_time_goes_on_where_it_stopped(embedded(4), 30_000, 3).await;
}

#[tokio::test]
async fn a_split_out_of_time_goes_on_where_it_stopped_on_moto() {
    // Over 25 chunks (a chunk closes at 60 KiB, about 460 of these ids): two runs.
    a_split_out_of_time_goes_on_where_it_stopped(moto(2).await, 13_000, 2).await;
}

#[tokio::test]
async fn a_staged_file_runs_every_row_once_on_moto() {
    runs_every_row_once(moto(2).await, 2_400).await;
}

#[tokio::test]
async fn a_staged_file_runs_every_row_once_embedded() {
    runs_every_row_once(embedded(4), 20_000).await;
}

#[tokio::test]
async fn a_file_that_is_not_rows_fails_the_job_on_moto() {
    a_file_that_is_not_rows_fails_the_job(moto(2).await).await;
}

#[tokio::test]
async fn a_file_that_is_not_rows_fails_the_job_embedded() {
    a_file_that_is_not_rows_fails_the_job(embedded(2)).await;
}

/// More than one batch of parked chunks (25), so the split dies with some parked.
#[tokio::test]
async fn a_split_that_dies_is_run_again_embedded() {
    a_split_that_dies_is_run_again(embedded(4), 12_000).await;
}
