//! Benchmark of a staged file through `bulkops serve` (the release binary beside this one, a
//! child process, embedded store): a 1,000,000-row flash pass file (every 50th enrollment
//! unknown) created, PUT over HTTP, split and run to COMPLETED, and its result files written.
//! Reports the split's and the whole run's rows per second, the time the result files took and
//! the server's peak memory (VmHWM) over all of it, which must not grow with the file. Run by `scripts/bench.sh`; `BENCH_STAGED_ROWS` sets another size.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bulkops::reference::load_enrollments;
use bulkops_embedded::EmbeddedStore;
use bulkops_shared::store::RecordStore;
use bulkops_testkit::scenario::{enrollment, enrollment_id};
use bulkops_testkit::server::{fresh_dir, ServerProcess};
use serde_json::{json, Value};

const LOAD_BATCH: usize = 50_000;

fn peak_kib(server: &ServerProcess) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

async fn job(client: &reqwest::Client, server: &ServerProcess, token: &str, id: &str) -> Value {
    let url = format!("{}/api/web/v1/mobileFlashPass/{id}", server.url);
    match client.get(&url).bearer_auth(token).send().await {
        Ok(response) => response.json().await.unwrap_or(Value::Null),
        Err(_) => Value::Null,
    }
}

/// Waits while the job's result files are written (a `409`, after it ends), so that the peak
/// covers them too; returns the status that ended the wait, a `303` to the file once written.
async fn result_files_written(
    server: &ServerProcess,
    token: &str,
    id: &str,
) -> anyhow::Result<reqwest::StatusCode> {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let url = format!(
        "{}/api/web/v2/mobileFlashPass/{id}/results/rows.jsonl",
        server.url
    );
    let waiting = Instant::now();
    loop {
        let status = client.get(&url).bearer_auth(token).send().await?.status();
        if status != reqwest::StatusCode::CONFLICT {
            return Ok(status);
        }
        anyhow::ensure!(
            waiting.elapsed() < Duration::from_secs(1_800),
            "the result files were not written after 30 minutes"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rows: usize = std::env::var("BENCH_STAGED_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let binary = std::env::current_exe()?
        .parent()
        .context("the bench binary has no directory")?
        .join("bulkops");
    let root = fresh_dir("bench-staged");
    let data = root.path().join("data");
    std::fs::create_dir_all(&data)?;
    {
        let store: Arc<dyn RecordStore> =
            Arc::new(EmbeddedStore::open(&data.join("bulkops.redb"))?);
        for start in (0..rows).step_by(LOAD_BATCH) {
            let batch = (start..(start + LOAD_BATCH).min(rows))
                .map(enrollment)
                .collect();
            load_enrollments(&store, batch).await?;
        }
    }
    let mut file = Vec::with_capacity(rows * 140);
    let mut unknown = 0;
    for i in 0..rows {
        let known = i % 50 != 7;
        unknown += usize::from(!known);
        file.extend_from_slice(enrollment_id(if known { i } else { rows + i }).as_bytes());
        file.push(b'\n');
    }
    let megabytes = file.len() as f64 / 1e6;

    let server = ServerProcess::start(Path::new(&binary), &data, &[]);
    let token = server.token("bench", "ISSUANCE:ADD ISSUANCE:VIEW");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(3_600))
        .build()?;
    let created: Value = client
        .post(format!("{}/api/web/v2/mobileFlashPass/uploads", server.url))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await?
        .json()
        .await?;
    let id = created["id"].as_str().context("no job id")?.to_owned();
    let url = created["upload"]["url"]
        .as_str()
        .context("no upload URL")?
        .to_owned();
    let started = Instant::now();
    let status = client.put(&url).body(file).send().await?.status();
    anyhow::ensure!(status.is_success(), "the PUT was answered {status}");
    let uploaded = started.elapsed().as_secs_f64();
    let mut split_at = None;
    let done = loop {
        let now = job(&client, &server, &token, &id).await;
        let state = now["state"].as_str().unwrap_or_default().to_owned();
        if split_at.is_none() && state != "AWAITING_DATA" && !state.is_empty() {
            split_at = Some(started.elapsed().as_secs_f64());
        }
        if ["COMPLETED", "FAILED", "CANCELLED"].contains(&state.as_str()) {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let total = started.elapsed().as_secs_f64();
    let files = result_files_written(&server, &token, &id).await?;
    let files_at = started.elapsed().as_secs_f64();
    anyhow::ensure!(files == 303, "the job's rows.jsonl was answered {files}");
    let peak = peak_kib(&server);
    server.stop();
    anyhow::ensure!(
        done["state"] == "COMPLETED" && done["rowsFailed"] == unknown,
        "the job did not end as expected: {done}"
    );
    let split = split_at.unwrap_or(total);
    let mib =
        |kib: Option<u64>| kib.map_or("n/a".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0));
    println!("| measure (`bulkops serve`, a {rows}-row staged flash pass file, {megabytes:.0} MB) | value |");
    println!("|---|---|");
    println!("| PUT of the file (local HTTP) | {uploaded:.1} s |");
    println!(
        "| split (PUT start to SCHEDULED, the first window queued): rows/s | {:.0} |",
        rows as f64 / split
    );
    println!(
        "| end to end (PUT start to COMPLETED): rows/s | {:.0} |",
        rows as f64 / total
    );
    println!(
        "| result files written (COMPLETED to the files' links) | {:.1} s |",
        files_at - total
    );
    println!(
        "| server memory, peak during the run and its result files (VmHWM) | {} |",
        mib(peak)
    );
    Ok(())
}
