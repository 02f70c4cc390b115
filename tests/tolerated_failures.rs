//! Tolerated failures (additive to both create bodies): a job failing more rows than its
//! caller accepts ends FAILED with an errorMessage saying so, its chunks not yet started are
//! skipped and counted, exactly once under 3× delivery; a job within its tolerance completes;
//! a bad tolerance is a 400 naming the property. Real handlers, moto.

mod common;

use bulkops_testkit::{ApiCall, Fixture, PumpOptions};
use common::*;
use serde_json::{json, Value};

fn create(ids: &[String], tolerance: Value) -> ApiCall {
    let mut body = json!({ "ids": ids });
    body.as_object_mut()
        .unwrap()
        .extend(tolerance.as_object().unwrap().clone());
    ApiCall::new("POST", "/api/web/v2/mobileFlashPass")
        .json(body.to_string())
        .user("alice", ALL_PERMISSIONS)
}

/// 1,400 rows (a full 200 KB body, three chunks or more): every row names an unknown enrollment but each 10th.
async fn mostly_failing(fx: &Fixture) -> Vec<String> {
    let known = load(fx, 0..140).await;
    (0..1_400)
        .map(|i| {
            if i % 10 == 0 {
                known[i / 10].clone()
            } else {
                enrollment_id(5_000_000 + i)
            }
        })
        .collect()
}

#[tokio::test]
async fn too_many_failures_stop_the_job_once_under_redelivery() {
    let fx = Fixture::new().await;
    let ids = mostly_failing(&fx).await;
    let response = call_submit(&fx, create(&ids, json!({"toleratedFailureCount": 10}))).await;
    assert_eq!(response.status(), 200, "{}", body_json(&response));
    let job = body_json(&response);
    assert_eq!(job["toleratedFailureCount"], 10, "echoed: {job}");
    let id = job["id"].as_str().unwrap().to_owned();
    let chunks = fx.jobs().get_job(&id).await.unwrap().unwrap().chunk_count;
    assert!(chunks >= 3, "{chunks} chunks");

    // One chunk at a time, each delivered three times.
    let options = PumpOptions {
        batch_size: 1,
        deliveries: 3,
        ..PumpOptions::default()
    };
    run_processor(&fx, options).await;

    let job = get_job(&fx, &id).await;
    assert_eq!(job["state"], "FAILED", "{job}");
    let message = job["errorMessage"].as_str().unwrap();
    assert!(message.contains("more than the 10 tolerated"), "{message}");
    let (processed, failed, skipped) = (
        job["rowsProcessed"].as_u64().unwrap(),
        job["rowsFailed"].as_u64().unwrap(),
        job["rowsSkipped"].as_u64().unwrap(),
    );
    assert_eq!(processed + failed + skipped, 1_400, "{job}");
    assert!(skipped > 0, "chunks after the stop were skipped: {job}");
    let outcomes = fx.jobs().row_outcomes(&id).await.unwrap();
    assert_eq!(
        outcomes.len() as u64,
        processed + failed,
        "every run row has one outcome"
    );
    let stored_failed = outcomes.iter().filter(|o| o.is_failed()).count() as u64;
    assert_eq!(stored_failed, failed);
    // The stop was published once, as the job's Failed event.
    let failed_events = fx
        .published_events()
        .await
        .into_iter()
        .filter(|e| e["detail-type"] == "Bulk Job Failed")
        .count();
    assert_eq!(failed_events, 1);
}

#[tokio::test]
async fn a_job_within_its_tolerance_completes() {
    let fx = Fixture::new().await;
    let mut ids = load(&fx, 0..190).await;
    ids.extend((0..10).map(|i| enrollment_id(7_000_000 + i)));
    let response = call_submit(&fx, create(&ids, json!({"toleratedFailurePercentage": 5}))).await;
    let id = body_json(&response)["id"].as_str().unwrap().to_owned();
    run_processor(&fx, PumpOptions::default()).await;
    let job = get_job(&fx, &id).await;
    assert_eq!(job["state"], "COMPLETED", "5% failed is tolerated: {job}");
    assert_eq!(
        (job["rowsFailed"].as_u64(), job["rowsSkipped"].as_u64()),
        (Some(10), Some(0))
    );
}

#[tokio::test]
async fn a_bad_tolerance_is_a_400_naming_it() {
    let fx = Fixture::new().await;
    let ids = load(&fx, 0..1).await;
    for (tolerance, target) in [
        (
            json!({"toleratedFailureCount": -1}),
            "toleratedFailureCount",
        ),
        (
            json!({"toleratedFailurePercentage": 101}),
            "toleratedFailurePercentage",
        ),
    ] {
        let response = call_submit(&fx, create(&ids, tolerance)).await;
        assert_eq!(response.status(), 400);
        assert_eq!(body_json(&response)["target"], target);
    }
    let upload = ApiCall::new("POST", "/PasswordVault/API/BulkActions/Accounts")
        .json(json!({"accountsList": [{"userName": "a", "address": "b", "safeName": "S", "platformId": "P"}],
                     "toleratedFailureCount": "ten"}).to_string())
        .user("alice", ALL_PERMISSIONS);
    let response = call_submit(&fx, upload).await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        body_json(&response)["Details"]["target"],
        "toleratedFailureCount"
    );
}
