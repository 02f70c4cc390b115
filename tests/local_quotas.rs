//! Quotas and fairness through `bulkops serve` over HTTP (issue 12, item 4): the
//! `--max-active-jobs-per-caller` flag answers 429 with `Retry-After`, and with
//! `--chunk-window 1` a small job queued behind a three-chunk one completes before it.

use std::path::Path;

use bulkops_testkit::scenario::enrollment_id;
use bulkops_testkit::server::{fresh_dir, ServerProcess};
use serde_json::{json, Value};

const BINARY: &str = env!("CARGO_BIN_EXE_bulkops");
const MFP: &str = "/api/web/v2/mobileFlashPass";
const ALL: &str = "ISSUANCE:ADD ISSUANCE:VIEW ISSUANCE:REMOVE";

/// POSTs a flash pass job of enrollments `ids`; the status, `Retry-After` and body.
async fn create(
    server: &ServerProcess,
    token: &str,
    ids: std::ops::Range<usize>,
) -> (u16, Option<String>, Value) {
    let ids: Vec<String> = ids.map(enrollment_id).collect();
    let response = reqwest::Client::new()
        .post(format!("{}{MFP}", server.url))
        .bearer_auth(token)
        .json(&json!({ "ids": ids }))
        .send()
        .await
        .expect("POST");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap_or_default().to_owned());
    (
        status,
        retry_after,
        response.json().await.unwrap_or(Value::Null),
    )
}

/// Waits until job `id` is COMPLETED; returns it.
async fn completed(server: &ServerProcess, token: &str, id: &str) -> Value {
    for _ in 0..300 {
        let job: Value = reqwest::Client::new()
            .get(format!("{}/api/web/v1/mobileFlashPass/{id}", server.url))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET")
            .json()
            .await
            .expect("JSON");
        if job["state"] == "COMPLETED" {
            return job;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("job {id} did not complete within 30 s");
}

#[tokio::test]
async fn a_caller_past_its_active_jobs_gets_429_with_retry_after() {
    let data = fresh_dir("quota");
    let args = [
        "--demo",
        "--workers",
        "0",
        "--max-active-jobs-per-caller",
        "1",
    ];
    let server = ServerProcess::start(Path::new(BINARY), data.path(), &args);
    let (alice, bob) = (server.token("alice", ALL), server.token("bob", ALL));
    assert_eq!(create(&server, &alice, 0..2).await.0, 200);
    let (status, retry_after, body) = create(&server, &alice, 0..2).await;
    assert_eq!(
        (status, retry_after.as_deref()),
        (429, Some("30")),
        "{body}"
    );
    assert_eq!(body["code"], "QUOTA_EXCEEDED");
    assert_eq!(create(&server, &bob, 0..2).await.0, 200);
    server.stop();
}

#[tokio::test]
async fn a_small_job_completes_before_a_big_one_queued_ahead_of_it() {
    let data = fresh_dir("window");
    // Both jobs are queued before any chunk runs: the big one's first chunk, then the small
    // one's; the big one's other two chunks wait parked (the window applies when a job is
    // queued, and each queued chunk carries it).
    let args = ["--demo", "--workers", "0", "--chunk-window", "1"];
    let idle = ServerProcess::start(Path::new(BINARY), data.path(), &args);
    let (alice, bob) = (idle.token("alice", ALL), idle.token("bob", ALL));
    let (status, _, big) = create(&idle, &alice, 0..1_200).await;
    assert_eq!(status, 200, "{big}");
    let (status, _, small) = create(&idle, &bob, 1_200..1_201).await;
    assert_eq!(status, 200, "{small}");
    idle.stop();

    let server = ServerProcess::start(Path::new(BINARY), data.path(), &[]);
    let small = completed(&server, &bob, small["id"].as_str().unwrap()).await;
    let big = completed(&server, &alice, big["id"].as_str().unwrap()).await;
    assert_eq!(big["rowsProcessed"], 1_200, "{big}");
    // RFC 3339 in UTC with milliseconds: the text orders as the time does.
    let (small_end, big_end) = (
        small["processingEndTime"].as_str().unwrap(),
        big["processingEndTime"].as_str().unwrap(),
    );
    assert!(small_end < big_end, "small {small_end}, big {big_end}");
    server.stop();
}
