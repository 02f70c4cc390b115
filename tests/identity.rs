//! Identity is exactly the token's `sub`, on both stores (DynamoDB on moto, embedded): hostile
//! subjects that look like another (whitespace, NUL, key separators, look-alikes, very long,
//! stringified null/number/array) can neither read nor list another subject's uploads, and
//! each one's own uploads are listed exactly. Flash pass jobs are tenant-wide by permission
//! (as in Entrust), so a subject without the permission gets 403 for them.

mod common;

use bulkops_testkit::{ApiCall, Fixture};
use common::embedded::EmbeddedFixture;
use common::{body_json, enrollment_id, ALL_PERMISSIONS};
use lambda_http::{Body, Response};
use serde_json::{json, Value};

const UPLOADS: &str = "/PasswordVault/API/BulkActions/Accounts";

/// Subjects that an exact comparison must keep apart from "alice" and from each other.
fn hostile_subjects() -> Vec<String> {
    let mut subjects: Vec<String> = [
        "alice ",
        " alice",
        "alice\n",
        "alice\r\n",
        "\talice",
        "\u{a0}alice",
        "alice\u{a0}",
        "alice\u{200b}",
        "\u{feff}alice",
        "alice\u{0}",
        "alice\u{0}evil",
        "\u{0}alice",
        "alice\u{1}",
        "ALICE",
        "Alice",
        "alice#",
        "#alice",
        "alice#evil",
        "JOBS#ADD_ACCOUNTS#alice",
        "ADD_ACCOUNTS#alice",
        "alic",
        "a",
        "alicealice",
        "\u{430}lice",       // Cyrillic a
        "\u{ff41}lice",      // fullwidth a
        "ali\u{107}e",       // c with acute
        "alic\u{65}\u{301}", // e + combining acute
        "alice/",
        "alice\\",
        "alice%00",
        "../alice",
        "*",
        "%",
        "null",
        "0",
        "5",
        "[\"alice\"]",
        "{\"sub\":\"alice\"}",
        "true",
        "\u{10ffff}",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    subjects.push("x".repeat(5_000));
    subjects.push(format!("alice{}", "\u{0}".repeat(300)));
    subjects
}

/// The handlers of one backend.
struct Backend {
    submit: submit::Deps,
    query: query::Deps,
    cancel: cancel::Deps,
}

impl Backend {
    async fn submit(&self, call: ApiCall) -> Response<Body> {
        submit::handler(&self.submit, call.request())
            .await
            .expect("submit answers")
    }
    async fn query(&self, call: ApiCall) -> Response<Body> {
        query::handler(&self.query, call.request())
            .await
            .expect("query answers")
    }
    async fn cancel(&self, call: ApiCall) -> Response<Body> {
        cancel::handler(&self.cancel, call.request())
            .await
            .expect("cancel answers")
    }

    async fn upload(&self, sub: &str) -> i64 {
        let body = json!({"source": format!("by {sub:?}"), "accountsList": [
            {"platformId": "UnixSSH", "safeName": "Nowhere", "userName": "u"}]});
        let response = self
            .submit(
                ApiCall::new("POST", UPLOADS)
                    .json(body.to_string())
                    .user(sub, ""),
            )
            .await;
        assert_eq!(response.status(), 202, "{sub:?}: {}", body_json(&response));
        body_json(&response).as_i64().expect("bulk id")
    }

    async fn listed(&self, sub: &str) -> Vec<i64> {
        let response = self
            .query(
                ApiCall::new("GET", UPLOADS)
                    .query("limit=1000")
                    .user(sub, ""),
            )
            .await;
        assert_eq!(response.status(), 200, "{sub:?}");
        let list = body_json(&response);
        let ids: Vec<i64> = list["BulkActions"]
            .as_array()
            .expect("BulkActions")
            .iter()
            .map(|a| a["Id"].as_i64().expect("Id"))
            .collect();
        assert_eq!(list["Total"], ids.len(), "{sub:?}: {list}");
        ids
    }

    async fn read(&self, sub: &str, id: i64) -> u16 {
        let path = format!("{UPLOADS}/{id}");
        self.query(ApiCall::new("GET", &path).user(sub, ""))
            .await
            .status()
            .as_u16()
    }
}

async fn no_subject_sees_another(backend: Backend) {
    let alice = backend.upload("alice").await;
    let subjects = hostile_subjects();
    assert!(subjects.len() >= 30);
    let mut own = Vec::new();
    for sub in &subjects {
        own.push(backend.upload(sub).await);
    }
    assert_eq!(backend.listed("alice").await, vec![alice], "alice's list");
    assert_eq!(backend.read("alice", alice).await, 200);
    for (sub, id) in subjects.iter().zip(&own) {
        assert_eq!(
            backend.listed(sub).await,
            vec![*id],
            "{sub:?} lists exactly its own upload"
        );
        assert_eq!(backend.read(sub, *id).await, 200, "{sub:?} reads its own");
        assert_eq!(backend.read(sub, alice).await, 404, "{sub:?} reads alice's");
        assert_eq!(
            backend.read("alice", *id).await,
            404,
            "alice reads {sub:?}'s"
        );
    }

    // Flash pass jobs are the tenant's, guarded by permission: without it, 403 everywhere.
    let job = backend
        .submit(
            ApiCall::new("POST", "/api/web/v2/mobileFlashPass")
                .json(json!({"ids": [enrollment_id(1)]}).to_string())
                .user("alice", ALL_PERMISSIONS),
        )
        .await;
    assert_eq!(job.status(), 200);
    let job_id = body_json(&job)["id"].as_str().expect("id").to_owned();
    for sub in subjects.iter().take(8) {
        let get = ApiCall::new("GET", &format!("/api/web/v1/mobileFlashPass/{job_id}"));
        let list = ApiCall::new("GET", "/api/web/v1/mobileFlashPass");
        let cancel = ApiCall::new(
            "DELETE",
            &format!("/api/web/v1/mobileFlashPass/cancel/{job_id}"),
        );
        assert_eq!(backend.query(get.user(sub, "")).await.status(), 403);
        assert_eq!(backend.query(list.user(sub, "")).await.status(), 403);
        assert_eq!(backend.cancel(cancel.user(sub, "")).await.status(), 403);
    }
    let state = backend
        .query(
            ApiCall::new("GET", &format!("/api/web/v1/mobileFlashPass/{job_id}"))
                .user("alice", ALL_PERMISSIONS),
        )
        .await;
    assert_eq!(body_json(&state)["state"], "SCHEDULED", "not cancelled");

    // An empty subject is no subject at all.
    let anonymous = backend
        .query(ApiCall::new("GET", UPLOADS).user("", ""))
        .await;
    assert_eq!(anonymous.status(), 401);
    let error: Value = body_json(&anonymous);
    assert_eq!(error["ErrorCode"], "UNAUTHORIZED");
}

#[tokio::test]
async fn no_hostile_subject_sees_another_on_dynamodb() {
    let fx = Fixture::new().await;
    no_subject_sees_another(Backend {
        submit: fx.submit_deps(),
        query: fx.query_deps(),
        cancel: fx.cancel_deps(),
    })
    .await;
}

#[tokio::test]
async fn no_hostile_subject_sees_another_on_the_embedded_store() {
    let fx = EmbeddedFixture::new();
    no_subject_sees_another(Backend {
        submit: fx.submit_deps(),
        query: fx.query_deps(),
        cancel: fx.cancel_deps(),
    })
    .await;
}
