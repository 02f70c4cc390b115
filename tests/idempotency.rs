//! `Idempotency-Key` on both create routes, through the real submit handler on moto: a
//! retried request replays the first answer and creates nothing; another body is a 422;
//! ten concurrent duplicates create one job; a request that died holding its key is finished
//! by the retry that takes the key over (its job is found or resumed, never made twice); a
//! service failure frees the key; bad keys are 400s.

mod common;

use bulkops_shared::store::{scoped_key, KeyClaim, KeyRecord, IDEMPOTENCY_LEASE_MS};
use bulkops_shared::time::now_ms;
use bulkops_testkit::{ApiCall, Fixture};
use common::*;
use lambda_http::{Body, Response};
use serde_json::{json, Value};

fn with_key(call: ApiCall, key: &str) -> ApiCall {
    call.header("Idempotency-Key", key)
}

fn upload_call(body: &Value) -> ApiCall {
    ApiCall::new("POST", "/PasswordVault/API/BulkActions/Accounts")
        .json(body.to_string())
        .user("alice", ALL_PERMISSIONS)
}

fn text(response: &Response<Body>) -> String {
    String::from_utf8_lossy(response.body().as_ref()).into_owned()
}

async fn job_count(fx: &Fixture) -> usize {
    fx.scan_all()
        .await
        .iter()
        .filter(|item| {
            let pk = item.get("pk").and_then(|v| v.as_s().ok());
            let sk = item.get("sk").and_then(|v| v.as_s().ok());
            pk.is_some_and(|pk| pk.starts_with("JOB#")) && sk.is_some_and(|sk| sk == "JOB")
        })
        .count()
}

#[tokio::test]
async fn a_retry_replays_the_first_answer_and_creates_nothing() {
    let fx = Fixture::new().await;
    let ids = load(&fx, 0..3).await;
    let first = call_submit(&fx, with_key(submit_call(&ids), "retry-1")).await;
    assert_eq!(first.status(), 200, "{}", text(&first));
    let again = call_submit(&fx, with_key(submit_call(&ids), "retry-1")).await;
    assert_eq!(again.status(), 200);
    assert_eq!(text(&again), text(&first), "the same answer, byte for byte");
    assert_eq!(
        again.headers().get("content-type").unwrap(),
        "application/json"
    );
    assert_eq!(job_count(&fx).await, 1);

    // Another body under the same key: 422, in the API's error shape.
    let other = call_submit(&fx, with_key(submit_call(&ids[..2]), "retry-1")).await;
    assert_eq!(other.status(), 422, "{}", text(&other));
    assert_eq!(body_json(&other)["code"], "IDEMPOTENCY_KEY_REUSED");
    // Another caller's key of the same spelling is theirs alone.
    let bob = submit_call(&ids).user("bob", ALL_PERMISSIONS);
    let theirs = call_submit(&fx, with_key(bob, "retry-1")).await;
    assert_eq!(theirs.status(), 200);
    assert_ne!(body_json(&theirs)["id"], body_json(&first)["id"]);
    // Without a key, as the vendors' clients send it: a new job each time.
    assert_eq!(call_submit(&fx, submit_call(&ids)).await.status(), 200);
    assert_eq!(job_count(&fx).await, 3);
}

#[tokio::test]
async fn account_uploads_replay_their_bulk_id() {
    let fx = Fixture::new().await;
    let body = json!({"source": "a.csv", "accountsList": [
        {"userName": "svc1", "address": "h1", "safeName": "S", "platformId": "P", "secret": "pw-1"}
    ]});
    let first = call_submit(&fx, with_key(upload_call(&body), "\"upload-7\"")).await;
    assert_eq!(first.status(), 202, "{}", text(&first));
    let again = call_submit(&fx, with_key(upload_call(&body), "\"upload-7\"")).await;
    assert_eq!((again.status().as_u16(), text(&again)), (202, text(&first)));
    let mut changed = body.clone();
    changed["source"] = json!("b.csv");
    let other = call_submit(&fx, with_key(upload_call(&changed), "\"upload-7\"")).await;
    assert_eq!(other.status(), 422);
    assert_eq!(body_json(&other)["ErrorCode"], "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(job_count(&fx).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_concurrent_duplicates_create_one_job() {
    let fx = Fixture::new().await;
    let ids = load(&fx, 0..5).await;
    let calls = (0..10).map(|_| call_submit(&fx, with_key(submit_call(&ids), "race")));
    let responses = futures::future::join_all(calls).await;
    let mut jobs = std::collections::BTreeSet::new();
    for response in &responses {
        match response.status().as_u16() {
            200 => {
                jobs.insert(body_json(response)["id"].as_str().unwrap().to_owned());
            }
            409 => assert_eq!(body_json(response)["code"], "IDEMPOTENCY_KEY_IN_USE"),
            other => panic!("{other}: {}", text(response)),
        }
    }
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(job_count(&fx).await, 1);
    // Once answered, every retry gets the answer.
    let after = call_submit(&fx, with_key(submit_call(&ids), "race")).await;
    assert_eq!(
        body_json(&after)["id"].as_str(),
        jobs.iter().next().map(String::as_str)
    );
}

/// Claims `key` for `body` as a request that then died, `lease` ago, holding job `job_id`.
async fn dead_holder(fx: &Fixture, owner: &str, key: &str, body: &str, job_id: &str) {
    let fingerprint = bulkops_shared::store::sha256_hex(body.as_bytes());
    let scoped = scoped_key(&["idempotency", "mobileFlashPass", owner, key]);
    let claimed = now_ms() - IDEMPOTENCY_LEASE_MS - 1;
    let record = KeyRecord::new(fingerprint, job_id.to_owned(), claimed);
    let outcome = fx.jobs().claim_idempotency_key(&scoped, &record).await;
    assert!(matches!(outcome, Ok(KeyClaim::Won(_))), "{outcome:?}");
}

#[tokio::test]
async fn a_retry_finishes_the_job_of_a_request_that_died() {
    let fx = Fixture::new().await;
    let ids = load(&fx, 0..4).await;
    let body = json!({ "ids": ids }).to_string();
    // Died before creating anything: the retry creates the job under the claimed id.
    dead_holder(
        &fx,
        "alice",
        "k-dead",
        &body,
        "11111111-1111-4111-8111-111111111111",
    )
    .await;
    let retry = call_submit(&fx, with_key(submit_call(&ids), "k-dead")).await;
    assert_eq!(retry.status(), 200, "{}", text(&retry));
    assert_eq!(
        body_json(&retry)["id"],
        "11111111-1111-4111-8111-111111111111"
    );

    // Died after creating its job: the retry answers with that job, and makes none.
    let first = call_submit(&fx, submit_call(&ids)).await;
    let id = body_json(&first)["id"].as_str().unwrap().to_owned();
    dead_holder(&fx, "alice", "k-late", &body, &id).await;
    let retry = call_submit(&fx, with_key(submit_call(&ids), "k-late")).await;
    assert_eq!(
        (retry.status().as_u16(), body_json(&retry)["id"].as_str()),
        (200, Some(id.as_str()))
    );
    assert_eq!(job_count(&fx).await, 2);

    // Within the lease a request still holds it: 409.
    let scoped = scoped_key(&["idempotency", "mobileFlashPass", "alice", "k-live"]);
    let live = KeyRecord::new("x".into(), "j".into(), now_ms());
    fx.jobs()
        .claim_idempotency_key(&scoped, &live)
        .await
        .unwrap();
    let busy = call_submit(&fx, with_key(submit_call(&ids), "k-live")).await;
    assert_eq!(busy.status(), 422, "another body's key");
}

#[tokio::test]
async fn bad_keys_are_400s_and_invalid_bodies_hold_no_key() {
    let fx = Fixture::new().await;
    let ids = load(&fx, 0..1).await;
    for bad in ["", "\"\"", &"k".repeat(256), "caf\u{e9}"] {
        let call = ApiCall::new("POST", "/api/web/v2/mobileFlashPass")
            .json(json!({ "ids": ids }).to_string())
            .user("alice", ALL_PERMISSIONS);
        let response = call_submit(&fx, with_key(call, bad)).await;
        assert_eq!(response.status(), 400, "{bad:?}: {}", text(&response));
        assert_eq!(body_json(&response)["target"], "Idempotency-Key");
    }
    // A body refused before anything is written leaves the key free for the fixed body.
    let broken = ApiCall::new("POST", "/api/web/v2/mobileFlashPass")
        .json(r#"{"ids": []}"#)
        .user("alice", ALL_PERMISSIONS);
    assert_eq!(
        call_submit(&fx, with_key(broken, "fix-me")).await.status(),
        400
    );
    let fixed = call_submit(&fx, with_key(submit_call(&ids), "fix-me")).await;
    assert_eq!(fixed.status(), 200, "{}", text(&fixed));
    assert_eq!(job_count(&fx).await, 1);
}
