//! Benchmark of every function's cold start: each release function binary (beside this one)
//! is started as Lambda starts it, under a Runtime API stub, with moto as its AWS, and handed
//! one real event; the time from the process's spawn to its answer is the cold start (settings
//! read, clients built, the first invocation served, including its AWS calls). The same event
//! is then handed over again: cold minus that warm answer is what starting costs. Nine starts a
//! function; prints the median and the range as the README's table. Run by `scripts/bench.sh`
//! (moto started by it); `BENCH_STARTS` sets another count.

use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::Context;
use bulkops_testkit::runtime_api::RuntimeApi;
use bulkops_testkit::{ApiCall, Fixture};
use serde_json::{json, Value};

/// A function, and the event its first invocation gets.
struct Start {
    function: &'static str,
    event: Value,
}

fn events() -> Vec<Start> {
    let user = |call: ApiCall| call.user("alice", "ISSUANCE:ADD ISSUANCE:VIEW ISSUANCE:REMOVE");
    let unknown = "00000000-0000-4000-8000-000000000000";
    let sqs = json!({ "Records": [] });
    vec![
        Start {
            function: "submit",
            event: user(
                ApiCall::new("POST", "/api/web/v2/mobileFlashPass").json(
                    json!({"ids": [bulkops_testkit::scenario::enrollment_id(1)]}).to_string(),
                ),
            )
            .event_json(),
        },
        Start {
            function: "query",
            event: user(ApiCall::new(
                "GET",
                &format!("/api/web/v1/mobileFlashPass/{unknown}"),
            ))
            .event_json(),
        },
        Start {
            function: "cancel",
            event: user(ApiCall::new(
                "DELETE",
                &format!("/api/web/v1/mobileFlashPass/cancel/{unknown}"),
            ))
            .event_json(),
        },
        Start {
            function: "processor",
            event: sqs.clone(),
        },
        Start {
            function: "dead_letter",
            event: sqs.clone(),
        },
        Start {
            function: "intake",
            event: sqs.clone(),
        },
        Start {
            function: "splitter",
            event: sqs,
        },
        Start {
            function: "publisher",
            event: json!({
                "version": "0", "id": "tick", "detail-type": "Scheduled Event",
                "source": "aws.events", "account": "123456789012",
                "time": "2026-12-03T00:00:00Z", "region": "us-east-1",
                "resources": [], "detail": {}
            }),
        },
    ]
}

/// One start of a function: milliseconds from spawn to its first answer, and of the same
/// event's second invocation (warm: the same work without the start).
struct Timing {
    cold: f64,
    warm: f64,
}

/// One cold start of `function` answering `event`, then the same event again.
async fn cold_start(
    binary: &std::path::Path,
    fx: &Fixture,
    endpoint: &str,
    start: &Start,
) -> anyhow::Result<Timing> {
    let api = RuntimeApi::start().await;
    let uploads = fx.uploads.as_ref().context("an upload bucket")?;
    let began = Instant::now();
    let mut child = Command::new(binary)
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", api.address())
        .env(
            "AWS_LAMBDA_FUNCTION_NAME",
            format!("bench-{}", start.function),
        )
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_LAMBDA_LOG_LEVEL", "WARN")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("TABLE_NAME", &fx.table)
        .env("QUEUE_URL", &fx.queue_url)
        .env("DEAD_LETTER_QUEUE_URL", &fx.dlq_url)
        .env("EVENT_BUS_NAME", &fx.bus)
        .env("UPLOAD_BUCKET", &uploads.bucket)
        .env("RESULTS_QUEUE_URL", &uploads.split_queue_url)
        .env("SPLIT_QUEUE_URL", &uploads.split_queue_url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let answer = api.invoke(start.event.clone()).await;
    let cold = began.elapsed().as_secs_f64() * 1000.0;
    let again = Instant::now();
    let second = api.invoke(start.event.clone()).await;
    let warm = again.elapsed().as_secs_f64() * 1000.0;
    child.kill().ok();
    child.wait().ok();
    for answer in [answer, second] {
        anyhow::ensure!(
            answer.kind == "response",
            "{} answered {}: {}",
            start.function,
            answer.kind,
            answer.body
        );
    }
    Ok(Timing { cold, warm })
}

/// The median and the range of some times.
fn spread(mut times: Vec<f64>) -> (f64, f64, f64) {
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], times[0], times[times.len() - 1])
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let starts: usize = std::env::var("BENCH_STARTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(9);
    let endpoint = std::env::var(bulkops_testkit::ENDPOINT_VAR)
        .context("the emulator's endpoint (scripts/bench.sh starts moto)")?;
    let directory = std::env::current_exe()?
        .parent()
        .context("the bench binary has no directory")?
        .to_owned();
    let mut fx = Fixture::new().await;
    fx.add_upload_bucket().await;
    println!(
        "| function (release, {}), ms | cold: spawn to first answer, median (min–max) | warm: the same event again, median | start-up: cold − warm, median | size |",
        std::env::consts::ARCH
    );
    println!("|---|---|---|---|---|");
    for start in events() {
        let binary = directory.join(start.function);
        let mut timings = Vec::with_capacity(starts);
        for _ in 0..starts {
            timings.push(cold_start(&binary, &fx, &endpoint, &start).await?);
        }
        let (cold, fastest, slowest) = spread(timings.iter().map(|t| t.cold).collect());
        let (warm, _, _) = spread(timings.iter().map(|t| t.warm).collect());
        let (start_up, _, _) = spread(timings.iter().map(|t| t.cold - t.warm).collect());
        let size = std::fs::metadata(&binary).map(|m| m.len() / 1024)?;
        println!(
            "| {} | {cold:.1} ({fastest:.1}–{slowest:.1}) | {warm:.1} | {start_up:.1} | {size} KiB |",
            start.function,
        );
    }
    Ok(())
}
