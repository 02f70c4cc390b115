//! Job events on the local server: the embedded store's outbox goes to `events.jsonl` and
//! from there to webhooks, signed the Standard Webhooks way, retried until acknowledged, and
//! resumed after a restart without losing an event or delivering an acknowledged one again.

#[path = "local_events/receiver.rs"]
mod receiver;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bulkops::local::backend::BackendConfig;
use bulkops::local::demo::enrollment_id;
use bulkops::local::signing::WebhookSecret;
use bulkops::local::webhook_cursor::Cursor;
use bulkops::local::webhooks::{Backoff, WebhookConfig};
use bulkops::local::{self, Running, ServeConfig};
use bulkops_embedded::{EmbeddedQueue, EmbeddedStore};
use bulkops_shared::engine::NoFlush;
use bulkops_shared::store::RecordStore;
use bulkops_testkit::server::{fresh_dir, ServerProcess};
use bulkops_testkit::ApiCall;
use receiver::{verify, Receiver};
use serde_json::{json, Value};

const BINARY: &str = env!("CARGO_BIN_EXE_bulkops");
const ALL: &str = "ISSUANCE:ADD ISSUANCE:VIEW ISSUANCE:REMOVE";
const KINDS: [&str; 3] = ["CREATED", "PROCESSING", "COMPLETED"];

/// `bulkops serve` in this process on `data`, with fast retries.
async fn serve(data: &Path, urls: &[reqwest::Url], secret: Option<WebhookSecret>) -> Running {
    serve_sweeping(data, urls, secret, Duration::from_millis(200)).await
}

/// As [`serve`], sweeping the outboxes every `sweep` (and at start).
async fn serve_sweeping(
    data: &Path,
    urls: &[reqwest::Url],
    secret: Option<WebhookSecret>,
    sweep: Duration,
) -> Running {
    local::start(ServeConfig {
        address: SocketAddr::from(([127, 0, 0, 1], 0)),
        backend: BackendConfig::Embedded {
            data_dir: data.to_owned(),
            visibility: Duration::from_secs(60),
        },
        data_dir: data.to_owned(),
        workers: 1,
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
    })
    .await
    .expect("start the server")
}

/// Submits a flash pass job for demo enrollments `0..rows`; returns its id.
async fn submit(url: &str, token: &str, rows: usize) -> String {
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

async fn job_state(url: &str, token: &str, id: &str) -> String {
    let job: Value = reqwest::Client::new()
        .get(format!("{url}/api/web/v1/mobileFlashPass/{id}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("get the job")
        .json()
        .await
        .expect("the job");
    job["state"].as_str().unwrap_or_default().to_owned()
}

/// Polls `done` every 20 ms until it holds; fails after `seconds`.
async fn wait_until(what: &str, seconds: u64, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {seconds} s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_for_state(url: &str, token: &str, id: &str, state: &str) {
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

fn event_ids(job: &str) -> Vec<String> {
    KINDS.iter().map(|kind| format!("{job}:{kind}")).collect()
}

/// The lines of `<data>/events.jsonl`.
fn log_lines(data: &Path) -> Vec<String> {
    std::fs::read_to_string(data.join("events.jsonl"))
        .expect("the events log")
        .lines()
        .map(str::to_owned)
        .collect()
}

fn ids_of(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|line| {
            let value: Value = serde_json::from_str(line).expect("a JSON line");
            value["id"].as_str().expect("an id").to_owned()
        })
        .collect()
}

/// Runs `bulkops events <args>` and returns its output.
fn events_command(data: &Path, args: &[&str]) -> String {
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
async fn create_jobs_offline(data: &Path, queue: &str, count: usize, rows: usize) -> Vec<String> {
    std::fs::create_dir_all(data).expect("data dir");
    let store = EmbeddedStore::open(&data.join("bulkops.redb")).expect("open the store");
    let records: Arc<dyn RecordStore> = Arc::new(store.clone());
    local::demo::load_demo(&records, &data.join("demo"))
        .await
        .expect("demo data");
    let deps = submit::Deps {
        jobs: Arc::new(store.clone()),
        queue: Arc::new(EmbeddedQueue::new(
            &store,
            queue,
            Some("chunks-dead-letter"),
            3,
            Duration::from_secs(60),
        )),
        events: Arc::new(NoFlush),
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

/// A job end to end: the webhook gets its three events once each, validly signed, with the
/// bodies that are in the log; `bulkops events` prints the log, and follows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_reaches_the_webhook_signed_and_the_log() {
    let root = fresh_dir("events-e2e");
    let data = root.path().join("data");
    let hook = Receiver::start(0, None).await;
    let running = serve(&data, std::slice::from_ref(&hook.url), None).await;
    let url = format!("http://{}", running.address);
    let token = running.key.mint("alice", ALL, 3600).expect("a token");

    // The secret was created in the data directory, readable by its owner only.
    let secret = std::fs::read_to_string(data.join("webhook-secret")).expect("the secret file");
    let running_secret = running.webhook_secret.as_ref().expect("webhooks are on");
    assert_eq!(secret, running_secret.expose());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(data.join("webhook-secret")).expect("metadata");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }

    let mut follower = Command::new(BINARY)
        .args(["events", "--follow", "--data-dir"])
        .arg(&data)
        .stdout(Stdio::piped())
        .spawn()
        .expect("run bulkops events --follow");
    let stdout = follower.stdout.take().expect("follower stdout");
    let (followed_tx, followed) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            followed_tx.send(line).ok();
        }
    });

    let job = submit(&url, &token, 20).await;
    wait_for_state(&url, &token, &job, "COMPLETED").await;
    wait_until("three events acknowledged", 60, || {
        hook.acknowledged().len() >= 3
    })
    .await;
    let expected = event_ids(&job);
    assert_eq!(hook.acknowledged(), expected);
    let deliveries = hook.deliveries();
    assert_eq!(deliveries.len(), 3, "no retries were needed");
    verify(&deliveries, &secret);

    // The log holds the same events, and each body is its line, byte for byte.
    let lines = log_lines(&data);
    assert_eq!(ids_of(&lines), expected);
    for (delivery, line) in deliveries.iter().zip(&lines) {
        assert_eq!(delivery.body.as_ref(), line.as_bytes());
    }
    let completed: Value = serde_json::from_str(&lines[2]).expect("JSON");
    assert_eq!(completed["version"], "0");
    assert_eq!(completed["detail-type"], "Bulk Job Completed");
    assert_eq!(completed["source"], "bulkops");
    assert_eq!(completed["account"], "000000000000");
    assert_eq!(completed["region"], "local");
    assert_eq!(completed["resources"], json!([]));
    assert_eq!(completed["detail"]["jobId"], job.as_str());
    assert_eq!(completed["detail"]["state"], "COMPLETED");

    // `bulkops events` prints the log (while the server runs), filtered by job on request.
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    assert_eq!(events_command(&data, &[]), text);
    assert_eq!(events_command(&data, &["--job", &job]), text);
    assert_eq!(events_command(&data, &["--job", "another-job"]), "");
    // And `--follow` printed them as they came.
    let mut printed = Vec::new();
    while printed.len() < 3 {
        match followed.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => printed.push(line),
            Err(e) => panic!("bulkops events --follow printed {printed:?}, then {e}"),
        }
    }
    assert_eq!(printed, lines);
    follower.kill().expect("stop the follower");
    follower.wait().ok();
    running.shutdown().await.expect("shutdown");
}

/// A receiver that answers 500 three times gets the first event retried until it answers
/// 200, then the rest in order; another URL is not held up by it; each acknowledges each id
/// once, and each URL's cursor counts three.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_deliveries_are_retried_until_acknowledged_once_per_url() {
    let root = fresh_dir("events-retry");
    let data = root.path().join("data");
    let flaky = Receiver::start(3, None).await;
    let steady = Receiver::start(0, None).await;
    let secret = WebhookSecret::generate().expect("a secret");
    let urls = [flaky.url.clone(), steady.url.clone()];
    let running = serve(&data, &urls, Some(secret.clone())).await;
    assert!(
        !data.join("webhook-secret").exists(),
        "a given secret is not written"
    );
    let url = format!("http://{}", running.address);
    let token = running.key.mint("alice", ALL, 3600).expect("a token");

    let job = submit(&url, &token, 5).await;
    wait_until("both URLs acknowledged three events", 60, || {
        flaky.acknowledged().len() >= 3 && steady.acknowledged().len() >= 3
    })
    .await;
    let expected = event_ids(&job);
    assert_eq!(flaky.acknowledged(), expected);
    assert_eq!(steady.acknowledged(), expected);
    let attempts = flaky.deliveries();
    let statuses: Vec<(String, u16)> = attempts.iter().map(|d| (d.id.clone(), d.status)).collect();
    let created = &expected[0];
    assert_eq!(
        statuses,
        [
            (created.clone(), 500),
            (created.clone(), 500),
            (created.clone(), 500),
            (created.clone(), 200),
            (expected[1].clone(), 200),
            (expected[2].clone(), 200),
        ]
    );
    verify(&attempts, secret.expose());
    verify(&steady.deliveries(), secret.expose());
    running.shutdown().await.expect("shutdown");

    for receiver in [&flaky, &steady] {
        let cursor = Cursor::load(&Cursor::path(&data, receiver.url.as_str())).expect("cursor");
        assert_eq!(cursor.delivered, 3);
        assert_eq!(cursor.last_id.as_deref(), Some(expected[2].as_str()));
    }
}

/// Stopped after its first event was acknowledged and while the receiver refuses the rest,
/// the server delivers the rest after a restart on the same data directory, and not the
/// acknowledged one again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_resumes_delivery_at_its_cursor() {
    let root = fresh_dir("events-resume");
    let data = root.path().join("data");
    let hook = Receiver::start(0, Some(1)).await;
    let secret = WebhookSecret::generate().expect("a secret");
    let urls = [hook.url.clone()];
    let running = serve(&data, &urls, Some(secret.clone())).await;
    let url = format!("http://{}", running.address);
    let token = running.key.mint("alice", ALL, 3600).expect("a token");
    let job = submit(&url, &token, 20).await;
    let expected = event_ids(&job);
    wait_for_state(&url, &token, &job, "COMPLETED").await;
    // The second event is being retried: delivery is behind the log.
    wait_until("the second event refused", 60, || {
        hook.deliveries().iter().any(|d| d.id == expected[1])
    })
    .await;
    running.shutdown().await.expect("shutdown");
    assert_eq!(hook.acknowledged(), expected[..1]);
    assert_eq!(ids_of(&log_lines(&data)), expected);

    hook.open();
    let running = serve(&data, &urls, Some(secret.clone())).await;
    wait_until("all three acknowledged", 60, || {
        hook.acknowledged().len() >= 3
    })
    .await;
    assert_eq!(hook.acknowledged(), expected);
    verify(&hook.deliveries(), secret.expose());
    // The events are in the log once each, though the server published again at start.
    assert_eq!(ids_of(&log_lines(&data)), expected);
    running.shutdown().await.expect("shutdown");
}

/// Events a crash left in an outbox (the transition written, its event not yet published)
/// go out when the server starts: the first sweep runs at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_left_in_an_outbox_go_out_at_start() {
    let root = fresh_dir("events-outbox");
    let data = root.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    // A job created with no publisher, its chunks on a queue no worker polls: only the sweep
    // can send its CREATED event.
    let job = create_jobs_offline(&data, "elsewhere", 1, 3)
        .await
        .remove(0);
    assert!(!data.join("events.jsonl").exists());

    let hook = Receiver::start(0, None).await;
    let secret = WebhookSecret::generate().expect("a secret");
    // The next sweep is an hour away: only the one at start can send it.
    let hour = Duration::from_secs(3600);
    let running = serve_sweeping(
        &data,
        std::slice::from_ref(&hook.url),
        Some(secret.clone()),
        hour,
    )
    .await;
    let created = format!("{job}:CREATED");
    wait_until("the CREATED event delivered", 60, || {
        hook.acknowledged().contains(&created)
    })
    .await;
    assert_eq!(ids_of(&log_lines(&data)), std::slice::from_ref(&created));
    assert_eq!(hook.acknowledged(), [created]);
    verify(&hook.deliveries(), secret.expose());
    running.shutdown().await.expect("shutdown");
}

/// SIGKILL while jobs run and events are being delivered: after a restart every event of
/// every job is in the log exactly once and has reached the receiver. An acknowledgement the
/// kill cut off before the cursor was saved may come twice (same `webhook-id`): at most the
/// last one acknowledged before the kill.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_delivers_every_event_after_restart() {
    const JOBS: usize = 6;
    let root = fresh_dir("events-kill");
    let data = root.path().join("data");
    let hook = Receiver::start(0, None).await;
    let secret = WebhookSecret::generate().expect("a secret");
    let flags = |demo: bool| {
        let mut flags = vec![
            "--webhook".to_owned(),
            hook.url.to_string(),
            "--webhook-secret".to_owned(),
            secret.expose().to_owned(),
        ];
        if demo {
            flags.push("--demo".to_owned());
        }
        flags
    };
    // The jobs wait in the queue before the server starts, so that it is killed while it
    // runs them: as soon as the first one has started.
    let jobs = create_jobs_offline(&data, "chunks", JOBS, 1_400).await;
    let first = flags(true);
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    let server = ServerProcess::start(Path::new(BINARY), &data, &first);
    let started = format!("{}:PROCESSING", jobs[0]);
    wait_until("the first PROCESSING event delivered", 120, || {
        hook.acknowledged().contains(&started)
    })
    .await;
    server.kill();
    let before = hook.acknowledged();
    let completed_at_kill = ids_of(&log_lines(&data))
        .iter()
        .filter(|id| id.ends_with(":COMPLETED"))
        .count();
    assert!(
        completed_at_kill < JOBS,
        "every job was done before the kill"
    );

    eprintln!(
        "killed with {completed_at_kill} of {JOBS} jobs completed and {} of {} events acknowledged",
        before.len(),
        JOBS * KINDS.len()
    );
    let second = flags(false);
    let second: Vec<&str> = second.iter().map(String::as_str).collect();
    let server = ServerProcess::start(Path::new(BINARY), &data, &second);
    let expected: Vec<String> = jobs.iter().flat_map(|job| event_ids(job)).collect();
    wait_until("every event acknowledged", 240, || {
        let acknowledged = hook.acknowledged();
        expected.iter().all(|id| acknowledged.contains(id))
    })
    .await;
    server.stop();

    let mut logged = ids_of(&log_lines(&data));
    logged.sort();
    let mut all = expected.clone();
    all.sort();
    assert_eq!(logged, all, "each event in the log exactly once");
    // Each job's events arrived in the order of its transitions.
    let acknowledged = hook.acknowledged();
    let first_at = |id: &String| acknowledged.iter().position(|a| a == id);
    for job in &jobs {
        let at: Vec<Option<usize>> = event_ids(job).iter().map(first_at).collect();
        assert!(at.windows(2).all(|w| w[0] < w[1]), "{job}: {at:?}");
    }
    let mut counts: HashMap<String, usize> = HashMap::new();
    for id in acknowledged.iter().cloned() {
        *counts.entry(id).or_default() += 1;
    }
    let twice: Vec<&String> = counts
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| id)
        .collect();
    assert!(
        twice.is_empty() || (twice.len() == 1 && before.last() == Some(twice[0])),
        "acknowledged more than once: {twice:?} (last before the kill: {:?})",
        before.last()
    );
    verify(&hook.deliveries(), secret.expose());
}
