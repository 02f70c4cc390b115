//! Retention stated and kept: every job says when it expires (`expiresAt`, CyberArk's
//! `ExpirationTime`); after it, reads of the job answer 410 Gone with a JSON error in the
//! API's shape and lists omit it, whether or not TTL deleted the item yet. The routes' clock
//! is moved, never slept on; on DynamoDB (moto) and on the embedded store.

mod common;

use std::sync::Arc;

use bulkops_shared::model::JOB_RETENTION_SECONDS;
use bulkops_testkit::{ApiCall, Fixture, MovableClock};
use common::embedded::EmbeddedFixture;
use common::*;
use lambda_http::{Body, Response};
use serde_json::{json, Value};

struct Routes {
    submit: submit::Deps,
    query: query::Deps,
    cancel: cancel::Deps,
    clock: Arc<MovableClock>,
}

impl Routes {
    async fn call(&self, call: ApiCall) -> (u16, Value) {
        let request = call.request();
        let response: Response<Body> = match request.method().as_str() {
            "POST" => submit::handler(&self.submit, request).await,
            "DELETE" => cancel::handler(&self.cancel, request).await,
            _ => query::handler(&self.query, request).await,
        }
        .expect("a response");
        let text = String::from_utf8_lossy(response.body().as_ref()).into_owned();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (response.status().as_u16(), body)
    }
}

const DAY_MS: i64 = 24 * 3600 * 1000;

async fn jobs_expire_into_410s(routes: Routes) {
    let alice = |call: ApiCall| call.user("alice", ALL_PERMISSIONS);
    let (status, job) = routes
        .call(
            alice(ApiCall::new("POST", "/api/web/v2/mobileFlashPass"))
                .json(json!({ "ids": [enrollment_id(1), enrollment_id(2)] }).to_string()),
        )
        .await;
    assert_eq!(status, 200, "{job}");
    let id = job["id"].as_str().unwrap().to_owned();
    let init = chrono::DateTime::parse_from_rfc3339(job["initTime"].as_str().unwrap()).unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(job["expiresAt"].as_str().unwrap()).unwrap();
    assert_eq!((expires - init).num_seconds(), JOB_RETENTION_SECONDS);

    let upload = json!({"accountsList": [
        {"userName": "svc1", "address": "h1", "safeName": "S", "platformId": "P", "secret": "pw-1"}
    ]});
    let (status, bulk_id) = routes
        .call(
            alice(ApiCall::new(
                "POST",
                "/PasswordVault/API/BulkActions/Accounts",
            ))
            .json(upload.to_string()),
        )
        .await;
    assert_eq!(status, 202, "{bulk_id}");
    let upload_path = format!("/PasswordVault/API/BulkActions/Accounts/{bulk_id}");
    let (status, result) = routes.call(alice(ApiCall::new("GET", &upload_path))).await;
    assert_eq!(status, 200);
    assert_eq!(
        result["ExpirationTime"].as_i64().unwrap() - result["CreationTime"].as_i64().unwrap(),
        JOB_RETENTION_SECONDS
    );

    let job_path = format!("/api/web/v1/mobileFlashPass/{id}");
    let logs_path = format!("/api/web/v2/mobileFlashPass/download/logs/{id}");
    // A day before: still there.
    routes.clock.advance(29 * DAY_MS);
    assert_eq!(
        routes.call(alice(ApiCall::new("GET", &job_path))).await.0,
        200
    );
    // After it: gone, in each API's error shape; lists omit it; unknown ids stay 404.
    routes.clock.advance(DAY_MS + 1_000);
    let (status, error) = routes.call(alice(ApiCall::new("GET", &job_path))).await;
    assert_eq!((status, &error["code"]), (410, &json!("GONE")), "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("expired"),
        "{error}"
    );
    assert_eq!(
        routes.call(alice(ApiCall::new("GET", &logs_path))).await.0,
        410
    );
    let cancel = format!("/api/web/v1/mobileFlashPass/cancel/{id}");
    assert_eq!(
        routes.call(alice(ApiCall::new("DELETE", &cancel))).await.0,
        410
    );
    let (status, list) = routes
        .call(alice(ApiCall::new("GET", "/api/web/v1/mobileFlashPass")))
        .await;
    assert_eq!((status, list), (200, json!([])));
    let (status, error) = routes.call(alice(ApiCall::new("GET", &upload_path))).await;
    assert_eq!(
        (status, &error["ErrorCode"]),
        (410, &json!("GONE")),
        "{error}"
    );
    let (_, uploads) = routes
        .call(alice(ApiCall::new(
            "GET",
            "/PasswordVault/API/BulkActions/Accounts",
        )))
        .await;
    assert_eq!(uploads["Total"], 0, "{uploads}");
    let unknown = "/api/web/v1/mobileFlashPass/00000000-0000-4000-8000-000000000000";
    assert_eq!(
        routes.call(alice(ApiCall::new("GET", unknown))).await.0,
        404
    );
}

#[tokio::test]
async fn on_dynamodb() {
    let fx = Fixture::new().await;
    jobs_expire_into_410s(Routes {
        submit: fx.submit_deps(),
        query: fx.query_deps(),
        cancel: fx.cancel_deps(),
        clock: fx.clock.clone(),
    })
    .await;
}

#[tokio::test]
async fn on_the_embedded_store() {
    let fx = EmbeddedFixture::new();
    jobs_expire_into_410s(Routes {
        submit: fx.submit_deps(),
        query: fx.query_deps(),
        cancel: fx.cancel_deps(),
        clock: fx.clock.clone(),
    })
    .await;
}
