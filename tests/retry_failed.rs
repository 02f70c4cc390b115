//! `POST /api/web/v2/mobileFlashPass/{id}/retry` (additive): a new job of only the failed rows
//! of a final job (optionally of one errorCode), linked both ways (`retryOf`, `retries`);
//! 409 while the job runs or when nothing failed; the permissions of creating and reading;
//! safe to repeat with an Idempotency-Key; run under 3× delivery with exact counts. Real
//! handlers, moto.

mod common;

use bulkops_testkit::{ApiCall, Fixture, PumpOptions};
use common::*;
use serde_json::Value;

fn retry(id: &str, query: &str) -> ApiCall {
    ApiCall::new("POST", &format!("/api/web/v2/mobileFlashPass/{id}/retry"))
        .query(query)
        .user("alice", ALL_PERMISSIONS)
}

async fn retried(fx: &Fixture, call: ApiCall) -> (u16, Value) {
    let response = call_submit(fx, call).await;
    (response.status().as_u16(), body_json(&response))
}

#[tokio::test]
async fn failed_rows_become_a_new_linked_job() {
    let fx = Fixture::new().await;
    let mut ids = load(&fx, 0..6).await;
    let unknown: Vec<String> = (0..3).map(|i| enrollment_id(8_000_000 + i)).collect();
    ids.splice(1..1, unknown.clone());
    ids.push(malformed_enrollment_id(1));
    let job = submit_ids(&fx, &ids).await;
    let id = job["id"].as_str().unwrap().to_owned();

    // Not final yet.
    let (status, error) = retried(&fx, retry(&id, "")).await;
    assert_eq!(status, 409, "{error}");
    assert!(error["message"]
        .as_str()
        .unwrap()
        .contains("once it is final"));

    run_processor(&fx, PumpOptions::default()).await;
    assert_eq!(get_job(&fx, &id).await["rowsFailed"], 4);

    // Reading and creating are both needed.
    let add_only = retry(&id, "").user("alice", "ISSUANCE:ADD");
    assert_eq!(retried(&fx, add_only).await.0, 403);

    // Only the unknown enrollments, keyed so a repeat replays.
    let keyed = || retry(&id, "errorCode=ENROLLMENT_NOT_FOUND").header("Idempotency-Key", "r-1");
    let (status, again) = retried(&fx, keyed()).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        (again["totalRows"].as_u64(), again["retryOf"].as_str()),
        (Some(3), Some(id.as_str()))
    );
    let retry_id = again["id"].as_str().unwrap().to_owned();
    assert_eq!(retried(&fx, keyed()).await.1["id"], retry_id.as_str());

    // Every failed row, delivered three times.
    let (status, all) = retried(&fx, retry(&id, "")).await;
    assert_eq!((status, all["totalRows"].as_u64()), (200, Some(4)));
    let options = PumpOptions {
        deliveries: 3,
        ..PumpOptions::default()
    };
    run_processor(&fx, options).await;
    let all_id = all["id"].as_str().unwrap();
    let done = get_job(&fx, all_id).await;
    assert_eq!(
        (
            done["state"].as_str(),
            done["rowsProcessed"].as_u64(),
            done["rowsFailed"].as_u64()
        ),
        (Some("COMPLETED"), Some(0), Some(4)),
        "{done}"
    );
    let outcomes = fx.jobs().row_outcomes(all_id).await.unwrap();
    let retried_ids: Vec<&str> = outcomes
        .iter()
        .map(|o| o.item["id"].as_str().unwrap())
        .collect();
    let mut expected: Vec<&str> = unknown.iter().map(String::as_str).collect();
    expected.push(ids.last().unwrap());
    assert_eq!(retried_ids, expected, "the failed rows, in their order");

    // Linked both ways, oldest first.
    let original = get_job(&fx, &id).await;
    assert_eq!(original["retries"], serde_json::json!([retry_id, all_id]));

    // Nothing of that code failed.
    let (status, error) = retried(&fx, retry(&id, "errorCode=NO_SUCH_CODE")).await;
    assert_eq!(status, 409, "{error}");
    // An unknown job is a 404.
    let missing = retry("00000000-0000-4000-8000-000000000000", "");
    assert_eq!(retried(&fx, missing).await.0, 404);
}
