//! Job events on the local server: the embedded store's outbox goes to `events.jsonl` and
//! from there to webhooks, signed the Standard Webhooks way, retried until acknowledged, and
//! resumed after a restart without losing an event or delivering an acknowledged one again.

#[path = "local_events/receiver.rs"]
mod receiver;
#[path = "local_events/support.rs"]
mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use bulkops::local::signing::WebhookSecret;
use bulkops::local::webhook_cursor::Cursor;
use bulkops_testkit::server::{fresh_dir, ServerProcess};
use receiver::{verify, Receiver};
use serde_json::{json, Value};
use support::*;

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
