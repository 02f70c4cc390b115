//! What a deployed function writes to CloudWatch, read from the function binaries themselves,
//! run as Lambda runs them (a Runtime API stub hands out real events; moto is the AWS):
//! every log line is one JSON object with timestamp, level, service, function, Lambda's
//! request id and whether the invocation was a cold start; a chunk's lines name its job and
//! chunk, an HTTP request's lines API Gateway's request id; the first invocation counts one
//! `ColdStart` metric (EMF), later ones none.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use bulkops_testkit::runtime_api::{function_binary, RuntimeApi};
use bulkops_testkit::{ApiCall, Fixture, PumpOptions};
use common::*;
use serde_json::Value;

/// A function binary under the stub, with the fixture's table, queue and bus, and moto as
/// its AWS endpoint.
fn start(function: &str, name: &str, api: &RuntimeApi, fx: &Fixture) -> Child {
    let endpoint = std::env::var(bulkops_testkit::ENDPOINT_VAR).expect("the emulator");
    Command::new(function_binary(function))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", api.address())
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env("AWS_LAMBDA_LOG_LEVEL", "INFO")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("TABLE_NAME", &fx.table)
        .env("QUEUE_URL", &fx.queue_url)
        .env("EVENT_BUS_NAME", &fx.bus)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the function")
}

/// Stops the function and returns its stdout, one JSON value per line (panics on any other).
fn stop(mut child: Child) -> Vec<Value> {
    child.kill().expect("stop the function");
    let stdout = child.stdout.take().expect("stdout");
    let lines: Vec<Value> = BufReader::new(stdout)
        .lines()
        .map(|line| {
            let line = line.expect("a line");
            serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("a line that is not JSON ({e}): {line}"))
        })
        .collect();
    let _ = child.wait();
    lines
}

/// EMF lines carry `_aws`; the others are log lines.
fn split(lines: Vec<Value>) -> (Vec<Value>, Vec<Value>) {
    lines
        .into_iter()
        .partition(|line| line.get("_aws").is_some())
}

fn assert_common_fields(line: &Value, function: &str) {
    let timestamp = line["timestamp"].as_str().unwrap_or_default();
    assert!(
        timestamp.contains('T') && timestamp.ends_with('Z'),
        "an RFC 3339 UTC timestamp: {line}"
    );
    assert!(line["level"].is_string(), "a level: {line}");
    assert!(line["message"].is_string(), "a message: {line}");
    assert_eq!(line["service"], "bulkops", "{line}");
    assert_eq!(line["function"], function, "{line}");
    assert!(line["requestId"].is_string(), "Lambda's request id: {line}");
    assert!(line["cold_start"].is_boolean(), "cold_start: {line}");
}

fn cold_starts(metrics: &[Value], function: &str) -> usize {
    metrics
        .iter()
        .filter(|m| m["ColdStart"] == 1.0 && m["Function"] == function)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processor_lines_name_the_request_the_job_and_the_chunk() {
    let fx = Fixture::new().await;
    let ids = load(&fx, 0..5).await;
    let job = submit_ids(&fx, &ids).await;
    let job_id = job["id"].as_str().expect("job id").to_owned();
    let api = RuntimeApi::start().await;
    let name = "bulkops-test-Processor";
    let child = start("processor", name, &api, &fx);
    // Every message twice: the second invocation is warm, and a duplicate delivery.
    let options = PumpOptions {
        deliveries: 2,
        ..PumpOptions::default()
    };
    let stats = bulkops_testkit::pump(&fx.source(), &fx.queue_arn, options, |event| async {
        let answer = api
            .invoke(serde_json::to_value(event).expect("event JSON"))
            .await;
        assert_eq!(answer.kind, "response", "{:?}", answer.body);
        serde_json::from_value::<aws_lambda_events::event::sqs::SqsBatchResponse>(answer.body)
            .map_err(|e| e.to_string())
    })
    .await;
    assert_eq!(stats.invocations, 2, "{stats:?}");
    let (metrics, logs) = split(stop(child));

    assert_eq!(
        cold_starts(&metrics, name),
        1,
        "one cold start: {metrics:?}"
    );
    assert!(
        metrics
            .iter()
            .any(|m| m["JobType"] == "SEND_MFP" && m["RowsSucceeded"] == 5.0),
        "the chunk's counts as EMF: {metrics:?}"
    );
    assert!(!logs.is_empty());
    for line in &logs {
        assert_common_fields(line, name);
    }
    let first = logs
        .iter()
        .find(|l| l["message"] == "chunk recorded")
        .unwrap_or_else(|| panic!("the chunk is recorded: {logs:?}"));
    let duplicate = logs
        .iter()
        .find(|l| l["message"] == "chunk already recorded: a duplicate delivery")
        .unwrap_or_else(|| panic!("the duplicate is logged: {logs:?}"));
    for (line, (request, cold)) in [
        (first, ("request-1", true)),
        (duplicate, ("request-2", false)),
    ] {
        assert_eq!(line["requestId"], request, "{line}");
        assert_eq!(line["cold_start"], cold, "{line}");
        assert_eq!(line["job_id"], job_id.as_str(), "{line}");
        assert_eq!(line["chunk"], 0, "{line}");
        assert!(line["message_id"].is_string(), "{line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_lines_name_api_gateways_request_and_the_job() {
    let fx = Fixture::new().await;
    let api = RuntimeApi::start().await;
    let name = "bulkops-test-Query";
    let child = start("query", name, &api, &fx);
    let call = ApiCall::new("GET", "/api/web/v1/mobileFlashPass/424242")
        .user("alice", ALL_PERMISSIONS)
        .event_json();
    let api_request_id = call["requestContext"]["requestId"]
        .as_str()
        .expect("the event's request id")
        .to_owned();
    let answer = api.invoke(call).await;
    assert_eq!(answer.kind, "response", "{:?}", answer.body);
    assert_eq!(answer.body["statusCode"], 404, "{:?}", answer.body);
    let (metrics, logs) = split(stop(child));

    assert_eq!(cold_starts(&metrics, name), 1, "{metrics:?}");
    let rejected = logs
        .iter()
        .find(|l| l["message"] == "request rejected")
        .unwrap_or_else(|| panic!("the 404 is logged: {logs:?}"));
    assert_common_fields(rejected, name);
    assert_eq!(rejected["requestId"], "request-1");
    assert_eq!(rejected["cold_start"], true);
    assert_eq!(rejected["api_request_id"], api_request_id.as_str());
    assert_eq!(rejected["job_id"], "424242");
    assert_eq!(rejected["status"], 404);
}
