//! Every answer of `bulkops serve` leaves only once what it reports is on disk. The embedded
//! store commits lazily everywhere (concurrent callers share one fsync) and the HTTP layer
//! syncs before it answers. A server killed (SIGKILL) right after answering, with its
//! periodic sync an hour away and no worker running, has kept everything it answered.

use std::path::Path;
use std::time::Duration;

use bulkops::local::demo::enrollment_id;
use bulkops_embedded::{EmbeddedQueue, EmbeddedStore};
use bulkops_shared::store::JobStore;
use bulkops_testkit::server::{fresh_dir, ServerProcess};
use serde_json::{json, Value};

const BINARY: &str = env!("CARGO_BIN_EXE_bulkops");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_killed_server_answered_is_on_disk() {
    let root = fresh_dir("answers");
    let data = root.path().join("data");
    let server = ServerProcess::start(
        Path::new(BINARY),
        &data,
        &["--demo", "--workers", "0", "--sync-interval-ms", "3600000"],
    );
    let token = server.token("alice", "ISSUANCE:ADD ISSUANCE:VIEW");
    let client = reqwest::Client::new();

    // A created job (200).
    let created: Value = client
        .post(format!("{}/api/web/v2/mobileFlashPass", server.url))
        .bearer_auth(&token)
        .json(&json!({"ids": [enrollment_id(0), enrollment_id(1)]}))
        .send()
        .await
        .expect("create a job")
        .json()
        .await
        .expect("a JSON answer");
    let job_id = created["id"].as_str().expect("a job id").to_owned();
    // Then a queued request (202) that the intake finds unreadable: it moves it to the
    // dead-letter queue and publishes nothing, so no event's sync covers the answer (the
    // job's events went out before it was sent).
    let queued = client
        .post(format!("{}/_local/requests", server.url))
        .bearer_auth(&token)
        .body(json!({"api": "nothing"}).to_string())
        .send()
        .await
        .expect("queue a request");
    assert_eq!(queued.status(), 202, "{:?}", queued.text().await);
    server.kill();

    let store = EmbeddedStore::open(&data.join("bulkops.redb")).expect("open the store");
    let queue = |name: &str| EmbeddedQueue::new(&store, name, None, 0, Duration::from_secs(60));
    let requests = queue("requests").depth().await.expect("depth")
        + queue("requests-dead-letter").depth().await.expect("depth");
    assert_eq!(
        requests, 1,
        "the request answered 202 was lost in the crash"
    );
    let job = store.get_job(&job_id).await.expect("read the job");
    assert!(job.is_some(), "the job answered 200 was lost in the crash");
}
