//! Result files on moto (issue 11, item 3): a 20,000-row flash pass file PUT to its presigned
//! URL, split, every chunk delivered 3×, its failed rows followed a page at a time while the
//! job runs and after; once it ends, the job's flush asks the split queue for its files, the
//! real splitter writes them to S3, and the results route answers 303 to presigned GETs whose
//! bytes are exact: every row, the failed rows (CSV and JSON Lines, each re-uploaded as a new
//! job as it stands), the succeeded rows, and the download log byte for byte. A writer that
//! fails part-way is retried and writes the same files.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bulkops_shared::error::StoreError;
use bulkops_shared::results::{ResultFile, ResultFileStore, ResultFileWriter};
use bulkops_testkit::{ApiCall, Fixture, PumpOptions};
use common::chunks::process_only;
use common::pages::{Follower, ENTRUST};
use common::staged::file;
use common::*;
use serde_json::{json, Value};

const ROWS: usize = 20_000;

async fn fixture() -> Fixture {
    let mut fx = Fixture::new().await;
    fx.chunk_window = 4;
    fx.add_upload_bucket().await;
    fx
}

/// A staged flash pass job, created through the real submit handler.
async fn create_staged(fx: &Fixture) -> Value {
    let call = ApiCall::new("POST", "/api/web/v2/mobileFlashPass/uploads")
        .json("{}")
        .user("alice", ALL_PERMISSIONS);
    let response = call_submit(fx, call).await;
    assert_eq!(response.status(), 200, "{}", body_json(&response));
    body_json(&response)
}

/// `GET …/results/<name>` as bob: the 303's `Location`.
async fn result_link(fx: &Fixture, id: &str, name: &str) -> String {
    let path = format!("/api/web/v2/mobileFlashPass/{id}/results/{name}");
    let response = call_query(fx, ApiCall::new("GET", &path).user("bob", "ISSUANCE:VIEW")).await;
    assert_eq!(response.status(), 303, "{name}: {:?}", response.body());
    let location = response.headers()["location"].to_str().expect("ASCII");
    location.to_owned()
}

/// Follows the link as a client would: the file's bytes.
async fn download(url: &str) -> String {
    let response = reqwest::get(url).await.expect("GET");
    assert_eq!(response.status(), 200, "{url}");
    response.text().await.expect("body")
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

#[tokio::test]
async fn a_big_jobs_files_hold_every_row_exactly_and_its_failed_rows_upload_again() {
    let fx = fixture().await;
    load(&fx, 0..ROWS).await;
    let job = create_staged(&fx).await;
    let id = job["id"].as_str().expect("id").to_owned();
    let (text, expected) = file(ROWS);
    assert_eq!(put_upload(&job, text.into_bytes()).await, 200);
    let split = run_splitter(&fx).await;
    assert!(split.reported_failures.is_empty(), "{split:?}");

    // The failed rows, a page at a time while the job runs (3× delivery), then after it.
    let call = ApiCall::new("GET", &format!("/api/web/v2/mobileFlashPass/{id}/rows"))
        .user("bob", "ISSUANCE:VIEW");
    let mut failed_pages = Follower::new(call, ENTRUST, "outcome=failed", 97);
    process_only(&fx, &id, &[0, 1, 2]).await;
    failed_pages.catch_up(&fx).await;
    assert!(!failed_pages.ended && !failed_pages.rows.is_empty());
    let link = format!("/api/web/v2/mobileFlashPass/{id}/results/rows.jsonl");
    let early = call_query(&fx, ApiCall::new("GET", &link).user("bob", "ISSUANCE:VIEW")).await;
    assert_eq!(early.status(), 409, "no files while the job runs");
    let options = PumpOptions {
        deliveries: 3,
        ..PumpOptions::default()
    };
    run_processor(&fx, options).await;
    failed_pages.catch_up(&fx).await;
    assert!(failed_pages.ended);
    let done = get_job(&fx, &id).await;
    assert_eq!(done["state"], "COMPLETED", "{done}");
    let failed_rows: Vec<u64> = (1..)
        .zip(&expected)
        .filter(|(_, e)| e.is_some())
        .map(|(row, _)| row)
        .collect();
    assert_eq!(
        failed_pages.row_numbers(),
        failed_rows,
        "each failed row once"
    );
    let pending = call_query(&fx, ApiCall::new("GET", &link).user("bob", "ISSUANCE:VIEW")).await;
    assert_eq!(pending.status(), 409, "ended, its files not written yet");

    // The job's end asked for its files; a request delivered 3× writes them (the same bytes).
    let writes = run_splitter_with(&fx, &fx.splitter_deps(), options).await;
    assert!(writes.reported_failures.is_empty(), "{writes:?}");
    let stored = fx.jobs().get_job(&id).await.unwrap().unwrap();
    let names: Vec<&str> = stored.result_files.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "failed.csv",
            "failed.jsonl",
            "log.json",
            "rows.jsonl",
            "succeeded.jsonl"
        ]
    );

    let all = json_lines(&download(&result_link(&fx, &id, "rows.jsonl").await).await);
    let outcomes = fx.jobs().row_outcomes(&id).await.unwrap();
    assert_eq!(all.len(), ROWS);
    for (line, outcome) in all.iter().zip(&outcomes) {
        assert_eq!(*line, serde_json::to_value(outcome).unwrap());
    }
    let log = download(&result_link(&fx, &id, "log.json").await).await;
    let inline = call_query(
        &fx,
        ApiCall::new(
            "GET",
            &format!("/api/web/v2/mobileFlashPass/download/logs/{id}"),
        )
        .user("bob", "ISSUANCE:VIEW"),
    )
    .await;
    assert_eq!(inline.status(), 200, "a log under 5 MB is answered inline");
    assert_eq!(log.as_bytes(), inline.body().as_ref(), "the same bytes");
    assert_eq!(
        log.len() as u64,
        stored.result_files["log.json"],
        "its recorded size"
    );

    let failed_ids: Vec<String> = outcomes
        .iter()
        .filter(|o| o.is_failed())
        .map(|o| o.item["id"].as_str().unwrap().to_owned())
        .collect();
    let jsonl = download(&result_link(&fx, &id, "failed.jsonl").await).await;
    let expected_jsonl: Vec<Value> = failed_ids.iter().map(|i| json!({ "id": i })).collect();
    assert_eq!(json_lines(&jsonl), expected_jsonl);
    let csv = download(&result_link(&fx, &id, "failed.csv").await).await;
    assert_eq!(csv, format!("id\n{}\n", failed_ids.join("\n")));
    let succeeded = json_lines(&download(&result_link(&fx, &id, "succeeded.jsonl").await).await);
    let expected_succeeded: Vec<Value> = outcomes
        .iter()
        .filter(|o| !o.is_failed())
        .map(|o| serde_json::to_value(o).unwrap())
        .collect();
    assert_eq!(succeeded.len(), ROWS - failed_ids.len());
    assert_eq!(succeeded, expected_succeeded, "with what each row produced");

    // Each failed-rows file is a staged file as it stands: the new job has those rows, and
    // those that failed for what they are fail the same way again.
    for body in [csv, jsonl] {
        let again = create_staged(&fx).await;
        let again_id = again["id"].as_str().unwrap().to_owned();
        assert_eq!(put_upload(&again, body.into_bytes()).await, 200);
        assert!(run_splitter(&fx).await.reported_failures.is_empty());
        run_processor(&fx, PumpOptions::default()).await;
        let rows = fx.jobs().row_outcomes(&again_id).await.unwrap();
        let ids: Vec<&str> = rows
            .iter()
            .map(|o| o.item["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, failed_ids);
        for (row, original) in rows.iter().zip(outcomes.iter().filter(|o| o.is_failed())) {
            if original.error_code.as_deref() != Some("DUPLICATE_ROW") {
                assert_eq!(row.error_code, original.error_code, "{row:?}");
            }
        }
    }
}

/// Result files whose write number `dies_at` (counted over every file) fails: a writer that
/// dies part-way through a job's files.
struct DiesAt {
    inner: Arc<dyn ResultFileStore>,
    dies_at: usize,
    writes: Arc<AtomicUsize>,
}

struct CountedWriter {
    inner: Box<dyn ResultFileWriter>,
    dies_at: usize,
    writes: Arc<AtomicUsize>,
}

#[async_trait]
impl ResultFileStore for DiesAt {
    async fn create(
        &self,
        job_id: &str,
        file: ResultFile,
    ) -> Result<Box<dyn ResultFileWriter>, StoreError> {
        Ok(Box::new(CountedWriter {
            inner: self.inner.create(job_id, file).await?,
            dies_at: self.dies_at,
            writes: self.writes.clone(),
        }))
    }

    async fn link(&self, job_id: &str, file: ResultFile, until: i64) -> Result<String, StoreError> {
        self.inner.link(job_id, file, until).await
    }
}

#[async_trait]
impl ResultFileWriter for CountedWriter {
    async fn write(&mut self, bytes: &mut Vec<u8>) -> Result<(), StoreError> {
        if self.writes.fetch_add(1, Ordering::SeqCst) == self.dies_at {
            return Err(StoreError::Backend("the writer died".into()));
        }
        self.inner.write(bytes).await
    }

    async fn finish(self: Box<Self>) -> Result<u64, StoreError> {
        self.inner.finish().await
    }
}

#[tokio::test]
async fn a_writer_that_dies_part_way_is_retried_to_whole_files() {
    let fx = fixture().await;
    let ids = load(&fx, 0..300).await;
    let mut with_unknown = ids.clone();
    with_unknown.push(enrollment_id(5_000_000));
    let id = submit_ids(&fx, &with_unknown).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    run_processor(&fx, PumpOptions::default()).await;
    for dies_at in [0, 2, 4] {
        let writes = Arc::new(AtomicUsize::new(0));
        let mut deps = fx.splitter_deps();
        deps.results = Arc::new(DiesAt {
            inner: deps.results.clone(),
            dies_at,
            writes: writes.clone(),
        });
        if dies_at > 0 {
            // Asked again (as a read of the missing files would): files are rewritten whole.
            let requests = fx.result_access().expect("an upload bucket").requests;
            requests.request(&id).await.expect("request");
        }
        fx.jobs()
            .record_result_files(&id, &Default::default())
            .await
            .expect("forget the files");
        // The delivery that dies is reported and comes back; the next one writes every file.
        let stats = run_splitter_with(&fx, &deps, PumpOptions::default()).await;
        assert_eq!(stats.reported_failures.len(), 1, "{stats:?}");
        let job = fx.jobs().get_job(&id).await.unwrap().unwrap();
        assert_eq!(job.result_files.len(), 5, "{:?}", job.result_files);
        let csv = download(&result_link(&fx, &id, "failed.csv").await).await;
        assert_eq!(csv, format!("id\n{}\n", enrollment_id(5_000_000)));
        let rows = json_lines(&download(&result_link(&fx, &id, "rows.jsonl").await).await);
        assert_eq!(rows.len(), 301);
        assert_eq!(
            json_lines(&download(&result_link(&fx, &id, "log.json").await).await).len(),
            1
        );
    }
    let dead = fx.uploads.clone().expect("a bucket").split_dlq_url;
    assert_eq!(fx.queue_depth(&dead).await, 0);
}

/// A job stopped while chunks are still queued ends before its rows are all in: its files are
/// asked for when its last chunk is counted (skipped), and hold exactly the stored rows.
#[tokio::test]
async fn a_stopped_jobs_files_wait_for_its_last_chunk() {
    let fx = fixture().await;
    let mut ids = load(&fx, 0..1_400).await;
    ids[0] = enrollment_id(6_000_000);
    let call = ApiCall::new("POST", "/api/web/v2/mobileFlashPass")
        .json(json!({"ids": ids, "toleratedFailureCount": 0}).to_string())
        .user("alice", ALL_PERMISSIONS);
    let response = call_submit(&fx, call).await;
    assert_eq!(response.status(), 200, "{}", body_json(&response));
    let id = body_json(&response)["id"].as_str().unwrap().to_owned();
    let chunks = fx.jobs().get_job(&id).await.unwrap().unwrap().chunk_count;
    assert!(chunks >= 3, "{chunks}");
    // Chunk 0 fails a row: the job stops FAILED with its other chunks not counted yet.
    process_only(&fx, &id, &[0]).await;
    let stopped = fx.jobs().get_job(&id).await.unwrap().unwrap();
    assert_eq!(stopped.state.as_str(), "FAILED");
    assert!(!stopped.is_settled());
    run_splitter(&fx).await;
    assert!(
        fx.jobs()
            .get_job(&id)
            .await
            .unwrap()
            .unwrap()
            .result_files
            .is_empty(),
        "not asked for before its last chunk is counted"
    );
    // The rest are skipped as they come (3× each); the last one settles the job.
    let options = PumpOptions {
        deliveries: 3,
        ..PumpOptions::default()
    };
    run_processor(&fx, options).await;
    let settled = fx.jobs().get_job(&id).await.unwrap().unwrap();
    assert!(settled.is_settled(), "{settled:?}");
    assert!(run_splitter(&fx).await.reported_failures.is_empty());
    let written = fx.jobs().get_job(&id).await.unwrap().unwrap();
    assert_eq!(written.result_files.len(), 5, "{:?}", written.result_files);
    let stored = fx.jobs().row_outcomes(&id).await.unwrap();
    let rows = json_lines(&download(&result_link(&fx, &id, "rows.jsonl").await).await);
    assert_eq!(rows.len(), stored.len());
    assert!(rows.len() < 1_400, "only the chunk that ran");
    let csv = download(&result_link(&fx, &id, "failed.csv").await).await;
    assert_eq!(csv, format!("id\n{}\n", enrollment_id(6_000_000)));
}
