//! The mobile flash pass API end to end through the real handlers on moto.

mod common;

use bulkops_testkit::{ApiCall, Fixture, PumpOptions};
use common::*;
use serde_json::json;

#[tokio::test]
async fn a_small_job_runs_to_completion_with_exact_counts_and_log() {
    let fx = Fixture::new().await;
    let mut ids = load(&fx, 0..3).await;
    ids.push(enrollment_id(99)); // row 4: unknown
    ids.push(ids[0].clone()); // row 5: duplicate of row 1
    ids.push(malformed_enrollment_id(1)); // row 6: not an enrollment reference

    let op = submit_ids(&fx, &ids).await;
    assert_eq!(op["type"], "SEND_MFP");
    assert_eq!(op["state"], "SCHEDULED");
    assert_eq!(op["rowsProcessed"], 0);
    assert!(op["initTime"].as_str().unwrap().ends_with('Z'));
    let id = op["id"].as_str().unwrap().to_owned();
    uuid::Uuid::parse_str(&id).expect("id is a UUID");

    let stats = run_processor(&fx, PumpOptions::default()).await;
    assert!(stats.reported_failures.is_empty());

    let job = get_job(&fx, &id).await;
    assert_eq!(job["state"], "COMPLETED");
    assert_eq!(job["rowsProcessed"], 3);
    assert_eq!(job["rowsFailed"], 3);
    assert_eq!(job["firstFailedRow"], 4);
    assert!(
        job["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with("No enrollment matches"),
        "{job}"
    );
    assert!(job["processingStartTime"].is_string());
    assert!(job["processingEndTime"].is_string());
    assert!(job["processingTime"].as_i64().unwrap() >= 0);

    let log = get_logs(&fx, &id).await;
    let codes: Vec<_> = log
        .iter()
        .map(|r| {
            (
                r["row"].as_u64().unwrap(),
                r["outcome"].clone(),
                r["errorCode"].clone(),
            )
        })
        .collect();
    assert_eq!(
        codes,
        vec![
            (1, json!("SUCCEEDED"), json!(null)),
            (2, json!("SUCCEEDED"), json!(null)),
            (3, json!("SUCCEEDED"), json!(null)),
            (4, json!("FAILED"), json!("ENROLLMENT_NOT_FOUND")),
            (5, json!("FAILED"), json!("DUPLICATE_ROW")),
            (6, json!("FAILED"), json!("INVALID_ENROLLMENT_ID")),
        ]
    );
    assert!(log[4]["errorMessage"].as_str().unwrap().contains("row 1"));
    assert_eq!(log[0]["id"], json!(ids[0]));
    assert!(
        !log.iter().any(|r| r.to_string().contains("claimToken")),
        "claim tokens never reach the log"
    );
    assert_eq!(passes(&fx).await.len(), 3, "one pass per found enrollment");
}

#[tokio::test]
async fn list_returns_jobs_newest_first() {
    let fx = Fixture::new().await;
    let ids = load(&fx, 0..1).await;
    let first = submit_ids(&fx, &ids).await["id"].clone();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let second = submit_ids(&fx, &ids).await["id"].clone();
    let response = call_query(
        &fx,
        ApiCall::new("GET", "/api/web/v1/mobileFlashPass").user("carol", "ISSUANCE:VIEW"),
    )
    .await;
    assert_eq!(response.status(), 200);
    let list = body_json(&response);
    let listed: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].clone())
        .collect();
    assert_eq!(listed, vec![second, first]);
}

#[tokio::test]
async fn cancel_skips_unprocessed_chunks_and_a_terminal_job_is_not_changed() {
    let fx = Fixture::new().await;
    let ids = load(&fx, 0..2).await;
    let id = submit_ids(&fx, &ids).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cancel_call = || {
        ApiCall::new(
            "DELETE",
            &format!("/api/web/v1/mobileFlashPass/cancel/{id}"),
        )
        .user("alice", "ISSUANCE:REMOVE")
    };
    let response = call_cancel(&fx, cancel_call()).await;
    assert_eq!(response.status(), 200);
    assert!(response.body().is_empty());

    run_processor(&fx, PumpOptions::default()).await;
    let job = get_job(&fx, &id).await;
    assert_eq!(job["state"], "CANCELLED");
    assert_eq!(job["rowsProcessed"], 0);
    assert_eq!(
        job["rowsSkipped"], 2,
        "the chunk was acknowledged, not run: {job}"
    );
    assert!(passes(&fx).await.is_empty());

    let again = call_cancel(&fx, cancel_call()).await;
    assert_eq!(again.status(), 409);
    assert_eq!(body_json(&again)["code"], "CONFLICT");

    // A completed job cannot be cancelled either.
    let done = submit_ids(&fx, &ids).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    run_processor(&fx, PumpOptions::default()).await;
    let call = ApiCall::new(
        "DELETE",
        &format!("/api/web/v1/mobileFlashPass/cancel/{done}"),
    )
    .user("alice", "ISSUANCE:REMOVE");
    assert_eq!(call_cancel(&fx, call).await.status(), 409);
    assert_eq!(get_job(&fx, &done).await["state"], "COMPLETED");
}

#[tokio::test]
async fn unknown_jobs_are_404_on_every_route() {
    let fx = Fixture::new().await;
    let unknown = uuid::Uuid::new_v4();
    for path in [
        format!("/api/web/v1/mobileFlashPass/{unknown}"),
        format!("/api/web/v2/mobileFlashPass/download/logs/{unknown}"),
        "/api/web/v1/mobileFlashPass/not-a-uuid".to_owned(),
    ] {
        let response = call_query(
            &fx,
            ApiCall::new("GET", &path).user("alice", ALL_PERMISSIONS),
        )
        .await;
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(body_json(&response)["code"], "NOT_FOUND");
    }
    let call = ApiCall::new(
        "DELETE",
        &format!("/api/web/v1/mobileFlashPass/cancel/{unknown}"),
    )
    .user("alice", ALL_PERMISSIONS);
    assert_eq!(call_cancel(&fx, call).await.status(), 404);
}
