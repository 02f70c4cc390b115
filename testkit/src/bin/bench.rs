//! Benchmark: a full-size (200 KB) mixed SEND_MFP job end to end through the real handlers
//! and the AWS emulator, with every AWS API call counted by an SDK interceptor.
//! Run by `scripts/bench.sh`, which starts moto and prints the README's table.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Instant;

use bulkops_testkit::cost::{cost_table, Usage};
use bulkops_testkit::scenario::{accounts_scenario, full_size_scenario};
use bulkops_testkit::{pump, ApiCall, Fixture, PumpOptions, ENDPOINT_VAR};
use lambda_runtime::{Context, LambdaEvent};

const RUNS: usize = 3;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let endpoint = std::env::var(ENDPOINT_VAR)
        .map_err(|_| anyhow::anyhow!("{ENDPOINT_VAR} is not set; use scripts/bench.sh"))?;
    let mut rates = Vec::new();
    let mut last = None;
    for run in 0..RUNS {
        let fx = Fixture::at(&endpoint).await;
        let scenario = full_size_scenario(&fx, run * 10_000).await;
        fx.counter.reset();
        fx.capacity.reset();
        let submit_deps = fx.submit_deps();
        let processor_deps = fx.processor_deps();
        let call = ApiCall::new("POST", "/api/web/v2/mobileFlashPass")
            .json(scenario.body.clone())
            .user("bench", "ISSUANCE:ADD");
        let started = Instant::now();
        let response = submit::handler(&submit_deps, call.request())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        anyhow::ensure!(
            response.status() == 200,
            "submit failed: {:?}",
            response.body()
        );
        let submit_ms = started.elapsed().as_secs_f64() * 1e3;
        let busy = Rc::new(Cell::new(submit_ms / 1e3));
        let stats = pump(
            &fx.source(),
            &fx.queue_arn,
            PumpOptions::default(),
            |event| {
                timed(
                    &busy,
                    processor::handler(
                        &processor_deps,
                        LambdaEvent::new(event, Context::default()),
                    ),
                )
            },
        )
        .await;
        let seconds = started.elapsed().as_secs_f64();
        // Counted before the bench's own read of the job below, which is not the service's.
        let (calls, capacity) = (fx.counter.snapshot(), fx.capacity.snapshot());
        let body: serde_json::Value = serde_json::from_slice(response.body().as_ref())?;
        let job = fx
            .jobs()
            .get_job(body["id"].as_str().unwrap_or_default())
            .await?
            .ok_or_else(|| anyhow::anyhow!("job vanished"))?;
        anyhow::ensure!(
            job.rows_accounted() == job.total_rows,
            "job not complete: {job:?}"
        );
        let rows = scenario.ids.len();
        rates.push(rows as f64 / seconds);
        eprintln!(
            "run {}: {rows} rows in {seconds:.2} s (submit {submit_ms:.0} ms) = {:.0} rows/s",
            run + 1,
            rows as f64 / seconds
        );
        let usage = Usage {
            rows,
            capacity,
            handler_seconds: busy.get(),
            invocations: 1 + stats.invocations,
        };
        last = Some((rows, calls, job.chunk_count, usage));
    }
    rates.sort_by(f64::total_cmp);
    let (rows, calls, chunks, flash_passes) = last.unwrap_or_default();
    let per_k = |n: u64| n as f64 * 1_000.0 / rows as f64;
    let engine_ops = ["DynamoDB", "SQS.SendMessageBatch"];
    let engine: u64 = calls
        .iter()
        .filter(|(k, _)| engine_ops.iter().any(|p| k.starts_with(p)))
        .map(|(_, v)| v)
        .sum();
    let total: u64 = calls.values().sum();
    println!("| measure (full-size job: {rows} rows, {chunks} chunks, moto) | value |");
    println!("|---|---|");
    println!(
        "| rows/s end to end, median of {RUNS} (min–max) | {:.0} ({:.0}–{:.0}) |",
        rates[RUNS / 2],
        rates[0],
        rates[RUNS - 1]
    );
    println!(
        "| AWS API calls per 1,000 rows, service (DynamoDB + SendMessageBatch) | {:.1} |",
        per_k(engine)
    );
    println!(
        "| AWS API calls per 1,000 rows, incl. queue polling (Receive/Delete) | {:.1} |",
        per_k(total)
    );
    for (operation, count) in &calls {
        println!(
            "| — {operation} | {count} ({:.1} per 1,000 rows) |",
            per_k(*count)
        );
    }
    let accounts = accounts(&endpoint).await?;
    println!();
    print!(
        "{}",
        cost_table(&[
            ("SEND_MFP, full-size job", flash_passes),
            ("account upload, 1,000 accounts", accounts),
        ])
    );
    Ok(())
}

/// Runs `handler`, adding the seconds it took to `busy`.
async fn timed<T>(busy: &Cell<f64>, handler: impl std::future::Future<Output = T>) -> T {
    let started = Instant::now();
    let answer = handler.await;
    busy.set(busy.get() + started.elapsed().as_secs_f64());
    answer
}

/// A 1,000-account upload (all valid, with secrets) end to end; returns its usage.
async fn accounts(endpoint: &str) -> anyhow::Result<Usage> {
    const ACCOUNTS: usize = 1_000;
    let mut rates = Vec::new();
    let mut last = None;
    for run in 0..RUNS {
        let fx = Fixture::at(endpoint).await;
        let body = accounts_scenario(&fx, ACCOUNTS).await;
        fx.counter.reset();
        fx.capacity.reset();
        let submit_deps = fx.submit_deps();
        let processor_deps = fx.processor_deps();
        let call = ApiCall::new("POST", "/PasswordVault/API/BulkActions/Accounts")
            .json(body)
            .user("alice", "");
        let started = Instant::now();
        let response = submit::handler(&submit_deps, call.request())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        anyhow::ensure!(
            response.status() == 202,
            "upload failed: {:?}",
            response.body()
        );
        let busy = Rc::new(Cell::new(started.elapsed().as_secs_f64()));
        let stats = pump(
            &fx.source(),
            &fx.queue_arn,
            PumpOptions::default(),
            |event| {
                timed(
                    &busy,
                    processor::handler(
                        &processor_deps,
                        LambdaEvent::new(event, Context::default()),
                    ),
                )
            },
        )
        .await;
        // moto's server races concurrent TransactWriteItems (HTTP 500); a chunk that loses
        // three times is dead-lettered, and the dead-letter function fails its rows that created
        // no account (those that did are reported created).
        let dead_letter_deps = fx.processor_deps();
        pump(
            &fx.dead_letter_source(),
            &fx.dlq_arn,
            PumpOptions::default(),
            |event| {
                dead_letter::handler(
                    &dead_letter_deps,
                    LambdaEvent::new(event, Context::default()),
                )
            },
        )
        .await;
        let seconds = started.elapsed().as_secs_f64();
        // Counted before the bench's own read of the job below, which is not the service's.
        let (calls, capacity) = (fx.counter.snapshot(), fx.capacity.snapshot());
        let id: i64 = serde_json::from_slice(response.body().as_ref())?;
        let job = fx
            .jobs()
            .get_job(&id.to_string())
            .await?
            .ok_or_else(|| anyhow::anyhow!("job vanished"))?;
        anyhow::ensure!(
            job.rows_accounted() as usize == ACCOUNTS,
            "the upload did not complete: {job:?}"
        );
        if job.rows_failed > 0 {
            eprintln!(
                "accounts run {}: {} rows dead-lettered after moto's transaction races",
                run + 1,
                job.rows_failed
            );
        }
        rates.push(ACCOUNTS as f64 / seconds);
        eprintln!(
            "accounts run {}: {ACCOUNTS} accounts in {seconds:.2} s = {:.0} accounts/s",
            run + 1,
            ACCOUNTS as f64 / seconds
        );
        let usage = Usage {
            rows: ACCOUNTS,
            capacity,
            handler_seconds: busy.get(),
            invocations: 1 + stats.invocations,
        };
        last = Some((calls, job.chunk_count, usage));
    }
    rates.sort_by(f64::total_cmp);
    let (calls, chunks, usage) = last.unwrap_or_default();
    let per_k = |n: u64| n as f64 * 1_000.0 / ACCOUNTS as f64;
    let service: u64 = calls
        .iter()
        .filter(|(k, _)| k.starts_with("DynamoDB") || k.as_str() == "SQS.SendMessageBatch")
        .map(|(_, v)| v)
        .sum();
    println!();
    println!(
        "| measure (bulk account upload: {ACCOUNTS} accounts, {chunks} chunks, moto) | value |"
    );
    println!("|---|---|");
    println!(
        "| accounts/s end to end, median of {RUNS} (min–max) | {:.0} ({:.0}–{:.0}) |",
        rates[RUNS / 2],
        rates[0],
        rates[RUNS - 1]
    );
    println!(
        "| AWS API calls per 1,000 accounts, service (DynamoDB + SendMessageBatch) | {:.1} |",
        per_k(service)
    );
    println!(
        "| AWS API calls per 1,000 accounts, incl. queue polling (Receive/Delete) | {:.1} |",
        per_k(calls.values().sum())
    );
    for (operation, count) in &calls {
        println!("| — {operation} | {count} |");
    }
    Ok(usage)
}
