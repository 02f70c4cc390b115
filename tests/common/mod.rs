#![allow(dead_code)]
//! Helpers shared by the integration tests: real handlers, real event JSON, moto.

pub mod backends;
pub mod chunks;
pub mod embedded;
pub mod faults;
pub mod grants;
pub mod held;
pub mod pages;
pub mod staged;
pub mod stores;
pub mod write_budget;

use bulkops::reference::load_enrollments;
#[allow(unused_imports)]
pub use bulkops_testkit::scenario::{enrollment, enrollment_id, malformed_enrollment_id};
use bulkops_testkit::{pump, ApiCall, Fixture, PumpOptions, PumpStats};
use lambda_http::{Body, Response};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};

pub const ALL_PERMISSIONS: &str = "ISSUANCE:ADD ISSUANCE:VIEW ISSUANCE:REMOVE";
/// Loads enrollments `range` and returns their ids.
pub async fn load(fx: &Fixture, range: std::ops::Range<usize>) -> Vec<String> {
    load_enrollments(&fx.records(), range.map(enrollment).collect())
        .await
        .expect("load enrollments")
}

pub fn body_json(response: &Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).unwrap_or_else(|e| {
        panic!(
            "response body is not JSON ({e}): {:?}",
            String::from_utf8_lossy(response.body().as_ref())
        )
    })
}

pub async fn call_submit(fx: &Fixture, call: ApiCall) -> Response<Body> {
    submit::handler(&fx.submit_deps(), call.request())
        .await
        .expect("submit handler returned Err")
}

pub async fn call_query(fx: &Fixture, call: ApiCall) -> Response<Body> {
    query::handler(&fx.query_deps(), call.request())
        .await
        .expect("query handler returned Err")
}

pub async fn call_cancel(fx: &Fixture, call: ApiCall) -> Response<Body> {
    cancel::handler(&fx.cancel_deps(), call.request())
        .await
        .expect("cancel handler returned Err")
}

pub fn submit_call(ids: &[String]) -> ApiCall {
    ApiCall::new("POST", "/api/web/v2/mobileFlashPass")
        .json(json!({ "ids": ids }).to_string())
        .user("alice", ALL_PERMISSIONS)
}

/// Submits `ids` as alice and returns the BulkOperation (asserting 200).
pub async fn submit_ids(fx: &Fixture, ids: &[String]) -> Value {
    let response = call_submit(fx, submit_call(ids)).await;
    assert_eq!(response.status(), 200, "submit: {}", body_json(&response));
    body_json(&response)
}

pub async fn get_job(fx: &Fixture, id: &str) -> Value {
    let call = ApiCall::new("GET", &format!("/api/web/v1/mobileFlashPass/{id}"))
        .user("alice", ALL_PERMISSIONS);
    let response = call_query(fx, call).await;
    assert_eq!(response.status(), 200, "get job: {}", body_json(&response));
    body_json(&response)
}

pub async fn get_logs(fx: &Fixture, id: &str) -> Vec<Value> {
    let call = ApiCall::new(
        "GET",
        &format!("/api/web/v2/mobileFlashPass/download/logs/{id}"),
    )
    .user("bob", "ISSUANCE:VIEW");
    let response = call_query(fx, call).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/octet-stream"
    );
    assert!(response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment;"));
    serde_json::from_slice(response.body().as_ref()).expect("log is a JSON array")
}

/// Pumps the main queue into the real processor handler.
pub async fn run_processor(fx: &Fixture, options: PumpOptions) -> PumpStats {
    run_processor_with(fx, &fx.processor_deps(), options).await
}

/// Pumps the main queue into the real processor handler with the given stores.
pub async fn run_processor_with(
    fx: &Fixture,
    deps: &processor::Deps,
    options: PumpOptions,
) -> PumpStats {
    pump(&fx.source(), &fx.queue_arn, options, |event| {
        processor::handler(deps, LambdaEvent::new(event, Context::default()))
    })
    .await
}

/// Pumps the dead-letter queue into the real dead-letter handler.
pub async fn run_dead_letter(fx: &Fixture) -> PumpStats {
    let deps = fx.dead_letter_deps();
    pump(
        &fx.dead_letter_source(),
        &fx.dlq_arn,
        PumpOptions::default(),
        |event| dead_letter::handler(&deps, LambdaEvent::new(event, Context::default())),
    )
    .await
}

/// Pumps the split queue (after `Fixture::add_upload_bucket`) into the real splitter
/// handler with `deps`.
pub async fn run_splitter_with(
    fx: &Fixture,
    deps: &splitter::Deps,
    options: PumpOptions,
) -> PumpStats {
    let arn = fx
        .uploads
        .as_ref()
        .expect("an upload bucket")
        .split_queue_arn
        .clone();
    pump(&fx.split_source(), &arn, options, |event| {
        splitter::handler(deps, LambdaEvent::new(event, Context::default()))
    })
    .await
}

/// Pumps the split queue into the real splitter handler.
pub async fn run_splitter(fx: &Fixture) -> PumpStats {
    run_splitter_with(fx, &fx.splitter_deps(), PumpOptions::default()).await
}

/// Sends `body` to the intake queue straight, as a producer without the bus would.
pub async fn send_to_intake(fx: &Fixture, queue: &bulkops_testkit::IntakeQueues, body: &str) {
    fx.clients
        .sqs
        .send_message()
        .queue_url(&queue.url)
        .message_body(body)
        .send()
        .await
        .expect("SendMessage");
}

/// Pumps the intake queue into the real intake handler with `deps`.
pub async fn run_intake(
    fx: &Fixture,
    queue: &bulkops_testkit::IntakeQueues,
    deps: &bulkops_shared::intake::Intake,
    options: PumpOptions,
) -> PumpStats {
    let source =
        bulkops_shared::queue::sqs::SqsChunkSource::new(fx.clients.sqs.clone(), &queue.url);
    pump(&source, &queue.arn, options, |event| {
        intake::handler(deps, LambdaEvent::new(event, Context::default()))
    })
    .await
}

/// Runs the scheduled publisher function on an EventBridge Scheduler event: it publishes
/// whatever is left in the outbox. Its answer (`published`, `left`).
pub async fn run_publisher(fx: &Fixture) -> Value {
    let scheduled = json!({
        "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event", "source": "aws.events", "account": "123456789012",
        "time": "2026-11-23T12:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/publisher"], "detail": {}
    });
    publisher::handler(
        &fx.publisher(),
        LambdaEvent::new(scheduled, Context::default()),
    )
    .await
    .expect("the bus took every pending event")
}

/// `PUT`s `body` to a staged job's upload URL (`upload.url` of its BulkOperation) as a client
/// would; the status. With a content type, as browsers and curl send one: moto reads an
/// untyped body as a form and stores an empty object.
pub async fn put_upload(job: &Value, body: Vec<u8>) -> u16 {
    let url = job["upload"]["url"].as_str().expect("an upload URL");
    reqwest::Client::new()
        .put(url)
        .header("content-type", "text/csv")
        .body(body)
        .send()
        .await
        .expect("PUT")
        .status()
        .as_u16()
}

/// Pass records (sk `MFP#...`) in the table, by enrollment key.
pub async fn passes(fx: &Fixture) -> Vec<(String, String)> {
    fx.scan_all()
        .await
        .into_iter()
        .filter_map(|item| {
            let sk = item.get("sk")?.as_s().ok()?.clone();
            let pk = item.get("pk")?.as_s().ok()?.clone();
            sk.starts_with("MFP#").then_some((pk, sk))
        })
        .collect()
}
