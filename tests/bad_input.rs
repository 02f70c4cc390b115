//! Every malformed, oversized or unauthorized request gets the right 4xx with a JSON error
//! body, and leaves no trace: no job item, no message.

mod common;

use bulkops_testkit::{ApiCall, Fixture};
use common::*;
use serde_json::{json, Value};

/// Submits `call`, asserts the status and error code, and that nothing was written.
async fn rejected(fx: &Fixture, call: ApiCall, status: u16, code: &str) -> Value {
    let response = call_submit(fx, call).await;
    let body = body_json(&response);
    assert_eq!(response.status(), status, "{body}");
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(
        fx.scan_all().await.is_empty(),
        "a rejected request wrote to the table"
    );
    assert_eq!(
        fx.queue_depth(&fx.queue_url).await,
        0,
        "a rejected request enqueued work"
    );
    body
}

fn post() -> ApiCall {
    ApiCall::new("POST", "/api/web/v2/mobileFlashPass").user("alice", ALL_PERMISSIONS)
}

#[tokio::test]
async fn wrong_or_missing_content_type_is_415() {
    let fx = Fixture::new().await;
    let body = json!({ "ids": [enrollment_id(1)] }).to_string();
    rejected(
        &fx,
        post().body(body.clone(), None),
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    )
    .await;
    rejected(
        &fx,
        post().body(body, Some("text/plain")),
        415,
        "UNSUPPORTED_MEDIA_TYPE",
    )
    .await;
}

#[tokio::test]
async fn a_body_over_200_kb_is_413_and_exactly_200_kb_is_accepted() {
    let fx = Fixture::new().await;
    let id = enrollment_id(1);
    let mut ids = vec![id.clone(); 204_800 / (id.len() + 3)];
    let mut body = json!({ "ids": ids }).to_string();
    // Pad with spaces (valid JSON whitespace) to exactly the limit.
    let exact = format!("{body}{}", " ".repeat(204_800 - body.len()));
    assert_eq!(exact.len(), 204_800);
    ids.push(id);
    body = json!({ "ids": ids }).to_string();
    assert!(body.len() > 204_800);
    let error = rejected(&fx, post().json(body), 413, "PAYLOAD_TOO_LARGE").await;
    assert!(error["message"].as_str().unwrap().contains("204800"));

    let response = call_submit(&fx, post().json(exact)).await;
    assert_eq!(response.status(), 200, "{}", body_json(&response));
}

#[tokio::test]
async fn malformed_bodies_are_400_naming_the_bad_field() {
    let fx = Fixture::new().await;
    let good = enrollment_id(1);
    let cases: Vec<(String, Option<&str>)> = vec![
        ("{not json".into(), None),
        ("".into(), None),
        ("[]".into(), None),
        ("{}".into(), Some("ids")),
        (r#"{"ids": null}"#.into(), Some("ids")),
        (r#"{"ids": "abc"}"#.into(), Some("ids")),
        (r#"{"ids": []}"#.into(), Some("ids")),
        (json!({ "ids": [good, 42] }).to_string(), Some("ids[1]")),
        (json!({ "ids": [good, null] }).to_string(), Some("ids[1]")),
        (json!({ "ids": [good, ""] }).to_string(), Some("ids[1]")),
    ];
    for (body, target) in cases {
        let error = rejected(&fx, post().json(body.clone()), 400, "INVALID_REQUEST").await;
        assert_eq!(error["target"].as_str(), target, "body {body:?}: {error}");
    }
    // The first bad id among many valid ones is named by its index.
    let mut ids: Vec<Value> = (0..40).map(|n| json!(enrollment_id(n))).collect();
    ids[17] = json!("not base64!");
    ids[30] = json!("also*bad");
    let error = rejected(
        &fx,
        post().json(json!({ "ids": ids }).to_string()),
        400,
        "INVALID_REQUEST",
    )
    .await;
    assert_eq!(error["target"], "ids[17]");
}

#[tokio::test]
async fn no_identity_is_401_even_with_an_authorization_header() {
    let fx = Fixture::new().await;
    let body = json!({ "ids": [enrollment_id(1)] }).to_string();
    let anonymous = ApiCall::new("POST", "/api/web/v2/mobileFlashPass").json(body.clone());
    rejected(&fx, anonymous.clone(), 401, "UNAUTHORIZED").await;
    // A plain header is never trusted for identity: only the authorizer's verified claims are.
    rejected(
        &fx,
        anonymous.header(
            "Authorization",
            "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJldmUifQ.",
        ),
        401,
        "UNAUTHORIZED",
    )
    .await;
    let no_sub = ApiCall::new("POST", "/api/web/v2/mobileFlashPass")
        .json(body)
        .claims(vec![("scope".into(), "ISSUANCE:ADD".into())]);
    rejected(&fx, no_sub, 401, "UNAUTHORIZED").await;
}

#[tokio::test]
async fn a_missing_permission_is_403_on_every_route() {
    let fx = Fixture::new().await;
    let body = json!({ "ids": [enrollment_id(1)] }).to_string();
    let call = ApiCall::new("POST", "/api/web/v2/mobileFlashPass")
        .json(body)
        .user("alice", "ISSUANCE:VIEW ISSUANCE:REMOVE");
    let error = rejected(&fx, call, 403, "FORBIDDEN").await;
    assert!(error["message"].as_str().unwrap().contains("ISSUANCE:ADD"));

    let id = uuid::Uuid::new_v4();
    for path in [
        "/api/web/v1/mobileFlashPass".to_owned(),
        format!("/api/web/v1/mobileFlashPass/{id}"),
        format!("/api/web/v2/mobileFlashPass/download/logs/{id}"),
    ] {
        let response = call_query(
            &fx,
            ApiCall::new("GET", &path).user("alice", "ISSUANCE:ADD ISSUANCE:REMOVE"),
        )
        .await;
        assert_eq!(response.status(), 403, "{path}");
        let response = call_query(&fx, ApiCall::new("GET", &path)).await;
        assert_eq!(response.status(), 401, "{path}");
    }
    let cancel = ApiCall::new(
        "DELETE",
        &format!("/api/web/v1/mobileFlashPass/cancel/{id}"),
    )
    .user("alice", "ISSUANCE:ADD ISSUANCE:VIEW");
    assert_eq!(call_cancel(&fx, cancel).await.status(), 403);
}
