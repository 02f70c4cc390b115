//! Helpers of the local events tests: the server in this process with fast retries, jobs
//! submitted over HTTP or written to the store before the server starts, the events log, and
//! waiting for a condition with a deadline.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bulkops::local::backend::BackendConfig;
use bulkops::local::demo::enrollment_id;
use bulkops::local::signing::WebhookSecret;
use bulkops::local::webhooks::{Backoff, WebhookConfig};
use bulkops::local::{self, Running, ServeConfig};
use bulkops_embedded::{EmbeddedQueue, EmbeddedStore};
use bulkops_shared::engine::NoFlush;
use bulkops_shared::store::RecordStore;
use bulkops_testkit::ApiCall;
use serde_json::{json, Value};

pub const BINARY: &str = env!("CARGO_BIN_EXE_bulkops");
pub const ALL: &str = "ISSUANCE:ADD ISSUANCE:VIEW ISSUANCE:REMOVE";
pub const KINDS: [&str; 3] = ["CREATED", "PROCESSING", "COMPLETED"];

/// `bulkops serve` in this process on `data`, with fast retries.
pub async fn serve(data: &Path, urls: &[reqwest::Url], secret: Option<WebhookSecret>) -> Running {
    serve_sweeping(data, urls, secret, Duration::from_millis(200)).await
}

/// As [`serve`], sweeping the outboxes every `sweep` (and at start).
pub async fn serve_sweeping(
    data: &Path,
    urls: &[reqwest::Url],
    secret: Option<WebhookSecret>,
    sweep: Duration,
) -> Running {
    local::start(ServeConfig {
        address: ([127, 0, 0, 1], 0).into(),
        backend: BackendConfig::Embedded {
            data_dir: data.to_owned(),
            visibility: Duration::from_secs(60),
            chunk_window: bulkops_shared::queue::DEFAULT_CHUNK_WINDOW,
        },
        data_dir: data.to_owned(),
        workers: 1,
        row_threads: Some(1),
        idle_poll: Duration::from_millis(20),
        sync_interval: Duration::from_millis(200),
        demo: true,
        event_sweep: sweep,
        webhooks: WebhookConfig {
            urls: urls.to_vec(),
            secret,
            backoff: Backoff {
                first: Duration::from_millis(10),
                max: Duration::from_millis(100),
            },
        },
        quota: Default::default(),
    })
    .await
    .expect("start the server")
}

/// Submits a flash pass job for demo enrollments `0..rows`; returns its id.
pub async fn submit(url: &str, token: &str, rows: usize) -> String {
    let ids: Vec<String> = (0..rows).map(enrollment_id).collect();
    let response = reqwest::Client::new()
        .post(format!("{url}/api/web/v2/mobileFlashPass"))
        .bearer_auth(token)
        .json(&json!({ "ids": ids }))
        .send()
        .await
        .expect("submit");
    assert_eq!(response.status(), 200);
    let job: Value = response.json().await.expect("the job");
    job["id"].as_str().expect("a job id").to_owned()
}

pub async fn job_state(url: &str, token: &str, id: &str) -> String {
    let job = bulkops_testkit::scenario::mfp_job(&reqwest::Client::new(), url, token, id).await;
    job["state"].as_str().unwrap_or_default().to_owned()
}

/// Polls `done` every 20 ms until it holds; fails after `seconds`.
pub async fn wait_until(what: &str, seconds: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {seconds} s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn wait_for_state(url: &str, token: &str, id: &str, state: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let current = job_state(url, token, id).await;
        if current == state {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "job {id} is {current}, not {state}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn event_ids(job: &str) -> Vec<String> {
    KINDS.iter().map(|kind| format!("{job}:{kind}")).collect()
}

/// The lines of `<data>/events.jsonl`.
pub fn log_lines(data: &Path) -> Vec<String> {
    std::fs::read_to_string(data.join("events.jsonl"))
        .expect("the events log")
        .lines()
        .map(str::to_owned)
        .collect()
}

pub fn ids_of(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|line| {
            let value: Value = serde_json::from_str(line).expect("a JSON line");
            value["id"].as_str().expect("an id").to_owned()
        })
        .collect()
}

/// Runs `bulkops events <args>` and returns its output.
pub fn events_command(data: &Path, args: &[&str]) -> String {
    let output = Command::new(BINARY)
        .arg("events")
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .output()
        .expect("run bulkops events");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).expect("UTF-8")
}

/// Creates `count` jobs of `rows` demo enrollments in the store of `data` while no server
/// runs, as the submit route does but publishing nothing: their CREATED events stay in the
/// outboxes. Their chunks go to `queue` (`chunks` is the one the server's workers poll).
pub async fn create_jobs_offline(
    data: &Path,
    queue: &str,
    count: usize,
    rows: usize,
) -> Vec<String> {
    std::fs::create_dir_all(data).expect("data dir");
    let store = EmbeddedStore::open(&data.join("bulkops.redb")).expect("open the store");
    let records: Arc<dyn RecordStore> = Arc::new(store.clone());
    local::demo::load_demo(&records, &data.join("demo"))
        .await
        .expect("demo data");
    let deps = submit::Deps {
        clock: std::sync::Arc::new(bulkops_shared::time::SystemClock),
        jobs: Arc::new(store.clone()),
        queue: Arc::new(EmbeddedQueue::new(
            &store,
            queue,
            Some("chunks-dead-letter"),
            3,
            Duration::from_secs(60),
        )),
        events: Arc::new(NoFlush),
        quota: Default::default(),
        uploads: None,
    };
    let ids: Vec<String> = (0..rows).map(enrollment_id).collect();
    let mut jobs = Vec::new();
    for _ in 0..count {
        let call = ApiCall::new("POST", "/api/web/v2/mobileFlashPass")
            .json(json!({ "ids": ids }).to_string())
            .user("alice", ALL);
        let response = submit::handler(&deps, call.request())
            .await
            .expect("submit");
        assert_eq!(response.status(), 200);
        let job: Value = serde_json::from_slice(response.body().as_ref()).expect("job");
        jobs.push(job["id"].as_str().expect("job id").to_owned());
    }
    jobs
}
