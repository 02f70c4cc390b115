//! Benchmark of `bulkops serve` (the release binary beside this one, run as a child
//! process): rows per second for 50,400 rows of work (36 full-size flash pass requests
//! submitted at once over HTTP) on the embedded store, the same through moto (AWS mode),
//! and the server's memory. Run by `scripts/bench.sh`, which starts moto and prints the
//! README's table.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bulkops::reference::load_enrollments;
use bulkops_embedded::EmbeddedStore;
use bulkops_shared::store::RecordStore;
use bulkops_testkit::scenario::{enrollment, workload_body, WORKLOAD_IDS_PER_REQUEST};
use bulkops_testkit::server::{fresh_dir, ServerProcess};
use bulkops_testkit::{Fixture, ENDPOINT_VAR};
use serde_json::Value;

const REQUESTS: usize = 36;
const ROWS: usize = REQUESTS * WORKLOAD_IDS_PER_REQUEST;
const SCOPE: &str = "ISSUANCE:ADD ISSUANCE:VIEW";

/// What one run measured.
struct Run {
    seconds: f64,
    submit_seconds: f64,
    /// What the server used during the run (CPU: user + system).
    used: Usage,
}

/// A process's resource counters so far (Linux), or their growth over a run.
#[derive(Clone, Copy)]
struct Usage {
    user_seconds: f64,
    system_seconds: f64,
    /// Bytes handed to write calls (`wchar`), and those calls (`syscw`).
    written: u64,
    write_calls: u64,
    /// Bytes the process caused to be sent to storage (`write_bytes`).
    stored: u64,
}

impl Usage {
    fn of(pid: u32) -> Self {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        // Fields after the command name (which may hold spaces) start at ") ".
        let fields: Vec<&str> = stat
            .rsplit_once(") ")
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let ticks = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        let io = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap_or_default();
        let counter = |name: &str| {
            io.lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(": "))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0)
        };
        Self {
            // utime and stime are fields 14 and 15 (1-based), in clock ticks (100 per second).
            user_seconds: ticks(11) / 100.0,
            system_seconds: ticks(12) / 100.0,
            written: counter("wchar"),
            write_calls: counter("syscw"),
            stored: counter("write_bytes"),
        }
    }

    fn since(self, before: Self) -> Self {
        Self {
            user_seconds: self.user_seconds - before.user_seconds,
            system_seconds: self.system_seconds - before.system_seconds,
            written: self.written.saturating_sub(before.written),
            write_calls: self.write_calls.saturating_sub(before.write_calls),
            stored: self.stored.saturating_sub(before.stored),
        }
    }

    fn cpu_seconds(&self) -> f64 {
        self.user_seconds + self.system_seconds
    }
}

fn server_binary() -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe()?;
    let binary = me
        .parent()
        .context("the bench binary has no directory")?
        .join("bulkops");
    anyhow::ensure!(
        binary.exists(),
        "{} is missing: build it with `cargo build --release -p bulkops --bins`",
        binary.display()
    );
    Ok(binary)
}

/// Submits the workload at once over HTTP and waits until every job is final.
/// Sends one request as a client of the API does: a 503 says nothing was created and to retry
/// (moto answers concurrent quota transactions with errors), so it is sent again, up to thirty
/// times. Returns how many times it was sent again.
async fn submit(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    body: String,
) -> anyhow::Result<u32> {
    for retry in 0..30u32 {
        let response = client
            .post(url)
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await?;
        if response.status() == 503 {
            let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]);
            tokio::time::sleep(Duration::from_millis(50 + 2 * jitter)).await;
            continue;
        }
        anyhow::ensure!(
            response.status() == 200,
            "submit: {}",
            response.text().await?
        );
        return Ok(retry);
    }
    anyhow::bail!("submit: 503 thirty times")
}

/// Runs the 36 requests: all at once, or (`at_once` false) one after another.
async fn run_workload(server: &ServerProcess, at_once: bool) -> anyhow::Result<Run> {
    let token = server.token("bench", SCOPE);
    let client = reqwest::Client::new();
    let bodies: Vec<String> = (0..REQUESTS).map(workload_body).collect();
    let before = Usage::of(server.child.id());
    let started = Instant::now();
    let url = format!("{}/api/web/v2/mobileFlashPass", server.url);
    let sends = bodies
        .into_iter()
        .map(|body| submit(&client, &url, &token, body));
    let retries: u32 = if at_once {
        futures::future::try_join_all(sends)
            .await?
            .into_iter()
            .sum()
    } else {
        let mut retries = 0;
        for send in sends {
            retries += send.await?;
        }
        retries
    };
    if retries > 0 {
        eprintln!("{retries} submits answered 503 (nothing created) and were sent again");
    }
    let submit_seconds = started.elapsed().as_secs_f64();
    loop {
        let jobs: Value = client
            .get(format!("{}/api/web/v1/mobileFlashPass", server.url))
            .bearer_auth(&token)
            .send()
            .await?
            .json()
            .await?;
        let jobs = jobs.as_array().cloned().unwrap_or_default();
        let done: u64 = jobs
            .iter()
            .map(|j| {
                j["rowsProcessed"].as_u64().unwrap_or(0) + j["rowsFailed"].as_u64().unwrap_or(0)
            })
            .sum();
        if jobs.len() >= REQUESTS && jobs.iter().all(|j| j["state"] == "COMPLETED") {
            anyhow::ensure!(done == ROWS as u64, "{done} rows counted, expected {ROWS}");
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(1800),
            "not done after 30 minutes ({done} rows)"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Ok(Run {
        seconds: started.elapsed().as_secs_f64(),
        submit_seconds,
        used: Usage::of(server.child.id()).since(before),
    })
}

async fn load(records: Arc<dyn RecordStore>) -> anyhow::Result<()> {
    load_enrollments(&records, (0..ROWS).map(enrollment).collect()).await?;
    Ok(())
}

fn kib(value: Option<u64>) -> String {
    value.map_or("n/a".to_owned(), |v| {
        format!("{:.1} MiB", v as f64 / 1024.0)
    })
}

fn peak_kib(server: &ServerProcess) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

async fn embedded(
    binary: &Path,
    runs: usize,
) -> anyhow::Result<(Vec<Run>, Option<u64>, Option<u64>)> {
    let mut results = Vec::new();
    let (mut idle, mut peak) = (None, None);
    for _ in 0..runs {
        let root = fresh_dir("bench");
        let data = root.path().join("data");
        std::fs::create_dir_all(&data)?;
        {
            let store = EmbeddedStore::open(&data.join("bulkops.redb"))?;
            load(Arc::new(store)).await?;
        }
        let server = ServerProcess::start(binary, &data, &[]);
        tokio::time::sleep(Duration::from_secs(2)).await;
        idle = server.rss_kib();
        let run = run_workload(&server, true).await?;
        peak = peak_kib(&server);
        eprintln!(
            "embedded: {ROWS} rows in {:.2} s (submit {:.2} s, server CPU {:.2} s) = {:.0} rows/s",
            run.seconds,
            run.submit_seconds,
            run.used.cpu_seconds(),
            ROWS as f64 / run.seconds
        );
        results.push(run);
        server.stop();
    }
    Ok((results, idle, peak))
}

async fn moto(binary: &Path, endpoint: &str) -> anyhow::Result<Run> {
    let fx = Fixture::at(endpoint).await;
    load(fx.records()).await?;
    let root = fresh_dir("bench-moto");
    let data = root.path().join("data");
    let server = ServerProcess::start_with_env(
        binary,
        &data,
        &[],
        &[
            ("TABLE_NAME", fx.table.as_str()),
            ("QUEUE_URL", fx.queue_url.as_str()),
            ("DEAD_LETTER_QUEUE_URL", fx.dlq_url.as_str()),
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
        ],
    );
    // One after another: moto's TransactWriteItems (each create's quota admission) copies the
    // whole table and fails when a write lands meanwhile, so concurrent creates keep failing.
    let run = match run_workload(&server, false).await {
        Ok(run) => run,
        Err(e) => {
            let log = std::fs::read_to_string(data.with_extension("log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            for line in tail.into_iter().rev() {
                eprintln!("server: {line}");
            }
            return Err(e);
        }
    };
    eprintln!(
        "moto: {ROWS} rows in {:.2} s = {:.0} rows/s",
        run.seconds,
        ROWS as f64 / run.seconds
    );
    server.stop();
    Ok(run)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let binary = server_binary()?;
    const RUNS: usize = 3;
    let (mut runs, idle, peak) = embedded(&binary, RUNS).await?;
    runs.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
    let rate = |run: &Run| ROWS as f64 / run.seconds;
    println!(
        "| measure (`bulkops serve`, {ROWS} rows: {REQUESTS} full-size requests at once) | value |"
    );
    println!("|---|---|");
    println!(
        "| embedded store: rows/s, submit to last job COMPLETED, median of {RUNS} (min–max) | {:.0} ({:.0}–{:.0}) |",
        rate(&runs[RUNS / 2]),
        rate(&runs[RUNS - 1]),
        rate(&runs[0])
    );
    println!(
        "| embedded store: time to accept all {REQUESTS} requests (median run) | {:.2} s |",
        runs[RUNS / 2].submit_seconds
    );
    let median = &runs[RUNS / 2].used;
    let per_10k = |value: f64| value * 10_000.0 / ROWS as f64;
    println!(
        "| embedded store: server CPU seconds per 10,000 rows (median run; 2 cores) | {:.2} |",
        per_10k(median.cpu_seconds())
    );
    println!(
        "| — of which in the kernel (system time) | {:.2} |",
        per_10k(median.system_seconds)
    );
    println!(
        "| embedded store: bytes the server wrote per row (median run; write calls per 1,000 rows) | {:.0} B ({:.0}) |",
        median.written as f64 / ROWS as f64,
        median.write_calls as f64 * 1_000.0 / ROWS as f64
    );
    println!(
        "| embedded store: bytes sent to the disk per row (median run, `write_bytes`) | {:.0} B |",
        median.stored as f64 / ROWS as f64
    );
    println!("| server memory, idle after start (RSS) | {} |", kib(idle));
    println!(
        "| server memory, peak during the run (VmHWM) | {} |",
        kib(peak)
    );
    match std::env::var(ENDPOINT_VAR) {
        Ok(endpoint) => {
            let run = moto(&binary, &endpoint).await?;
            println!(
                "| moto (AWS mode, DynamoDB + SQS): rows/s, one run | {:.0} |",
                rate(&run)
            );
        }
        Err(_) => eprintln!(
            "{ENDPOINT_VAR} is not set: the moto row is left out (scripts/bench.sh sets it)"
        ),
    }
    Ok(())
}
