//! Per-caller quotas on the create routes (issue 12, item 4), through the real submit and
//! processor handlers on moto and on the embedded store: past a caller's active jobs or rows
//! in flight a create is a 429 with `Retry-After` and each API's JSON error; other callers are
//! not held back; a job that ended frees its place; concurrent creates never pass a limit
//! together; a job larger than the whole quota is a 400, as waiting would not help.

mod common;

use bulkops_shared::store::Quota;
use bulkops_testkit::{ApiCall, PumpOptions};
use common::backends::{embedded, moto, Backend};
use common::*;
use lambda_http::{Body, Response};
use serde_json::{json, Value};

async fn load_enrollments(b: &Backend, count: usize) -> Vec<String> {
    bulkops::reference::load_enrollments(&b.records, (0..count).map(enrollment).collect())
        .await
        .expect("load enrollments")
}

fn mfp_create(user: &str, ids: &[String]) -> ApiCall {
    ApiCall::new("POST", "/api/web/v2/mobileFlashPass")
        .json(json!({ "ids": ids }).to_string())
        .user(user, ALL_PERMISSIONS)
}

async fn send(b: &Backend, call: ApiCall) -> Response<Body> {
    submit::handler(&b.submit, call.request())
        .await
        .expect("the submit handler answers")
}

fn assert_quota_refusal(response: &Response<Body>, code_field: &str) {
    assert_eq!(response.status(), 429, "{}", body_json(response));
    assert_eq!(response.headers()["retry-after"], "30");
    assert_eq!(response.headers()["content-type"], "application/json");
    let body = body_json(response);
    assert_eq!(body[code_field], "QUOTA_EXCEEDED", "{body}");
}

async fn limits_hold_per_caller_and_free_up_when_jobs_end(mut b: Backend) {
    b.submit.quota = Quota {
        max_active_jobs: 2,
        max_rows_in_flight: 1_000,
    };
    let ids = load_enrollments(&b, 3).await;
    for _ in 0..2 {
        assert_eq!(send(&b, mfp_create("alice", &ids)).await.status(), 200);
    }
    let refused = send(&b, mfp_create("alice", &ids)).await;
    assert_quota_refusal(&refused, "code");
    let message = body_json(&refused)["message"].as_str().unwrap().to_owned();
    assert!(message.contains("2 active jobs"), "{message}");
    // The CyberArk route answers in its own error shape.
    let upload = ApiCall::new("POST", "/PasswordVault/API/BulkActions/Accounts")
        .json(json!({"accountsList": [{"safeName": "S", "platformId": "P"}]}).to_string())
        .user("alice", "");
    assert_quota_refusal(&send(&b, upload).await, "ErrorCode");
    // Another caller has a quota of its own, even a caller whose sub extends alice's.
    assert_eq!(send(&b, mfp_create("alice ", &ids)).await.status(), 200);
    assert_eq!(send(&b, mfp_create("bob", &ids)).await.status(), 200);

    // Once her jobs have ended, alice may create again.
    b.process_all(PumpOptions::default()).await;
    assert_eq!(send(&b, mfp_create("alice", &ids)).await.status(), 200);
}

#[tokio::test]
async fn limits_hold_per_caller_and_free_up_when_jobs_end_on_moto() {
    limits_hold_per_caller_and_free_up_when_jobs_end(moto(100).await).await;
}

#[tokio::test]
async fn limits_hold_per_caller_and_free_up_when_jobs_end_on_the_embedded_store() {
    limits_hold_per_caller_and_free_up_when_jobs_end(embedded(100)).await;
}

async fn rows_in_flight_are_limited_too(mut b: Backend) {
    b.submit.quota = Quota {
        max_active_jobs: 10,
        max_rows_in_flight: 5,
    };
    let ids = load_enrollments(&b, 6).await;
    assert_eq!(send(&b, mfp_create("alice", &ids[..3])).await.status(), 200);
    assert_eq!(send(&b, mfp_create("alice", &ids[..2])).await.status(), 200);
    assert_quota_refusal(&send(&b, mfp_create("alice", &ids[..1])).await, "code");
    // Six rows can never fit five: a 400 that says so, not a 429 to wait on.
    let too_large = send(&b, mfp_create("carol", &ids)).await;
    assert_eq!(too_large.status(), 400, "{}", body_json(&too_large));
    let message = body_json(&too_large)["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("at most 5 rows in flight"), "{message}");
}

#[tokio::test]
async fn rows_in_flight_are_limited_too_on_moto() {
    rows_in_flight_are_limited_too(moto(100).await).await;
}

#[tokio::test]
async fn rows_in_flight_are_limited_too_on_the_embedded_store() {
    rows_in_flight_are_limited_too(embedded(100)).await;
}

/// Ten creates at once against a quota of three: exactly three jobs, seven 429s, and nothing
/// left behind by the refused ones. Only on the embedded store: moto's server is threaded and
/// its DynamoDB backend takes no lock, so it evaluates a transaction's conditions and applies
/// its writes without excluding a concurrent one (it let four through here), where DynamoDB
/// evaluates them atomically. On moto the limits are shown one request at a time above.
async fn concurrent_creates_never_pass_the_limit(mut b: Backend) {
    b.submit.quota = Quota {
        max_active_jobs: 3,
        max_rows_in_flight: 1_000,
    };
    let ids = load_enrollments(&b, 2).await;
    let calls = (0..10).map(|_| send(&b, mfp_create("alice", &ids)));
    let statuses: Vec<u16> = futures::future::join_all(calls)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        7,
        "{statuses:?}"
    );
    let jobs = b
        .jobs
        .list_jobs(bulkops_shared::model::JobType::SendMfp, "alice", 100)
        .await
        .expect("list");
    assert_eq!(jobs.len(), 3);
}

#[tokio::test]
async fn concurrent_creates_never_pass_the_limit_on_the_embedded_store() {
    concurrent_creates_never_pass_the_limit(embedded(100)).await;
}

/// A refusal is not the Idempotency-Key's answer: once there is room, the same key and body
/// create the job instead of replaying the 429.
#[tokio::test]
async fn a_refused_create_can_be_retried_with_its_idempotency_key() {
    let mut b = embedded(100);
    b.submit.quota = Quota {
        max_active_jobs: 1,
        max_rows_in_flight: 1_000,
    };
    let ids = load_enrollments(&b, 2).await;
    assert_eq!(send(&b, mfp_create("alice", &ids)).await.status(), 200);
    let keyed = || mfp_create("alice", &ids).header("Idempotency-Key", "retry-me");
    assert_quota_refusal(&send(&b, keyed()).await, "code");
    b.process_all(PumpOptions::default()).await;
    let created = send(&b, keyed()).await;
    assert_eq!(created.status(), 200, "{}", body_json(&created));
    let replayed: Value = body_json(&send(&b, keyed()).await);
    assert_eq!(replayed["id"], body_json(&created)["id"]);
}
