//! The CyberArk-style bulk account upload end to end through the real handlers on moto.

#[path = "../common/mod.rs"]
mod common;

use std::collections::HashSet;

use bulkops::reference::{load_vault, VaultInput};
use bulkops_testkit::{ApiCall, Fixture, PumpOptions};
use common::*;
use lambda_http::{Body, Response};
use serde_json::{json, Value};

mod mixed;

const UPLOADS: &str = "/PasswordVault/API/BulkActions/Accounts";

/// Safes and platforms of the seed example: alice may add accounts to the Unix and Windows
/// safes but not to OracleAdminPasswords; `ReadOnly` lists her without the right.
async fn seed_vault(fx: &Fixture) {
    let vault: VaultInput = serde_json::from_value(json!({
        "safes": [
            {"safeName": "UnixAdminPasswords", "safeId": 24, "nextAccountNumber": 1,
             "members": {"alice": {"addAccounts": true}, "bob": {"addAccounts": true}}},
            {"safeName": "WindowsPasswords", "safeId": 31, "members": {"alice": {"addAccounts": true}}},
            {"safeName": "OracleAdminPasswords", "safeId": 40, "members": {"dba": {"addAccounts": true}}},
            {"safeName": "ReadOnly", "safeId": 50, "members": {"alice": {"addAccounts": false}}},
        ],
        "platforms": [
            {"platformId": "UnixTelnet", "requiredProperties": ["address", "userName"]},
            {"platformId": "WinDesktopLocal", "requiredProperties": ["address", "userName"]},
            {"platformId": "Oracle", "requiredProperties": ["address", "userName"]},
        ],
    }))
    .unwrap();
    load_vault(&fx.records(), vault).await.expect("load vault");
}

fn upload_call(user: &str, body: &Value) -> ApiCall {
    ApiCall::new("POST", UPLOADS)
        .json(body.to_string())
        .user(user, "")
}

/// Uploads as `user`, asserts 202 and a bare int64, returns the bulk id.
async fn upload(fx: &Fixture, user: &str, body: &Value) -> i64 {
    let response = call_submit(fx, upload_call(user, body)).await;
    assert_eq!(response.status(), 202, "{}", body_json(&response));
    body_json(&response)
        .as_i64()
        .expect("the bulk id is a bare JSON number")
}

async fn get_upload(fx: &Fixture, user: &str, id: i64) -> Response<Body> {
    call_query(
        fx,
        ApiCall::new("GET", &format!("{UPLOADS}/{id}")).user(user, ""),
    )
    .await
}

async fn result(fx: &Fixture, user: &str, id: i64) -> Value {
    let response = get_upload(fx, user, id).await;
    assert_eq!(response.status(), 200, "{}", body_json(&response));
    body_json(&response)
}

fn seed_request() -> Value {
    json!({"source": "sample.csv", "accountsList": [
        {"uploadIndex": 1, "userName": "Root", "address": "92.168.11.99", "safeName": "UnixAdminPasswords",
         "platformId": "UnixTelnet", "groupName": "UnixAdmins", "secretType": "password", "secret": "S3cr3t-root!",
         "secretManagement": {"automaticManagementEnabled": true}},
        {"uploadIndex": 2, "userName": "Administrator", "address": "JSmith.exFinance.com", "safeName": "WindowsPasswords",
         "platformId": "WinDesktopLocal", "secretType": "password", "secret": "S3cr3t-admin!",
         "secretManagement": {"automaticManagementEnabled": true},
         "platformAccountProperties": {"LogonDomain": "192.168.50.31"}},
        {"uploadIndex": 3, "userName": "OracleAdmin", "address": "192.168.53.12", "safeName": "OracleAdminPasswords",
         "platformId": "Oracle", "secretType": "password", "secret": "S3cr3t-oracle!",
         "secretManagement": {"automaticManagementEnabled": false, "manualManagementReason": "Oracle Admin - Break Glass user"}},
    ]})
}

#[tokio::test]
async fn the_seed_example_is_reproduced_field_for_field() {
    let fx = Fixture::new().await;
    seed_vault(&fx).await;
    let before = bulkops_shared::time::now_ms() / 1000;
    let id = upload(&fx, "alice", &seed_request()).await;
    let pending = result(&fx, "alice", id).await;
    assert_eq!(pending["Status"], "Pending");

    run_processor(&fx, PumpOptions::default()).await;
    let mut got = result(&fx, "alice", id).await;
    let created = got["CreationTime"].as_i64().expect("epoch seconds");
    assert!((before..=before + 60).contains(&created));
    got["CreationTime"] = json!(0);
    let expiration = got["ExpirationTime"].as_i64().expect("epoch seconds");
    assert_eq!(
        expiration - created,
        bulkops_shared::model::JOB_RETENTION_SECONDS
    );
    got["ExpirationTime"] = json!(0);
    println!("{}", serde_json::to_string_pretty(&got).unwrap());
    let expected = json!({
        "Id": id,
        "Source": "sample.csv",
        "CreationTime": 0,
        "ExpirationTime": 0,
        "Status": "completedWithErrors",
        "Result": {"Succeeded": 2, "Failed": 1},
        "SucceededItems": {"Total": 2, "Items": [
            {"uploadIndex": 1, "userName": "Root", "address": "92.168.11.99", "safeName": "UnixAdminPasswords",
             "platformId": "UnixTelnet", "groupName": "UnixAdmins", "secretType": "password",
             "secretManagement": {"automaticManagementEnabled": true}, "id": "24_2"},
            {"uploadIndex": 2, "userName": "Administrator", "address": "JSmith.exFinance.com", "safeName": "WindowsPasswords",
             "platformId": "WinDesktopLocal", "secretType": "password",
             "secretManagement": {"automaticManagementEnabled": true},
             "platformAccountProperties": {"LogonDomain": "192.168.50.31"}, "id": "31_1"},
        ]},
        "FailedItems": {"Total": 1, "Items": [
            {"uploadIndex": 3, "userName": "OracleAdmin", "address": "192.168.53.12", "safeName": "OracleAdminPasswords",
             "platformId": "Oracle", "secretType": "password",
             "secretManagement": {"automaticManagementEnabled": false, "manualManagementReason": "Oracle Admin - Break Glass user"},
             "error": "You are not authorized to create object in safe OracleAdminPasswords",
             "errorCode": "NOT_AUTHORIZED"},
        ]},
    });
    assert_eq!(got, expected);
}

#[tokio::test]
async fn only_the_uploader_can_read_an_upload() {
    let fx = Fixture::new().await;
    seed_vault(&fx).await;
    let id = upload(&fx, "alice", &seed_request()).await;
    run_processor(&fx, PumpOptions::default()).await;
    for (user, path) in [
        ("bob", format!("{UPLOADS}/{id}")),
        ("alice", format!("{UPLOADS}/{}", id + 1000)),
        ("alice", format!("{UPLOADS}/not-a-number")),
    ] {
        let response = call_query(&fx, ApiCall::new("GET", &path).user(user, "")).await;
        assert_eq!(response.status(), 404, "{user} {path}");
        assert_eq!(body_json(&response)["ErrorCode"], "NOT_FOUND");
    }
    let bobs = call_query(&fx, ApiCall::new("GET", UPLOADS).user("bob", "")).await;
    assert_eq!(body_json(&bobs), json!({"Total": 0, "BulkActions": []}));
    let anonymous = call_query(&fx, ApiCall::new("GET", &format!("{UPLOADS}/{id}"))).await;
    assert_eq!(anonymous.status(), 401);
    // A path that names no route is a JSON 404, with or without permissions.
    for (method, user) in [("GET", "alice"), ("POST", "alice")] {
        let call = ApiCall::new(method, "/PasswordVault/API/Nothing/Here")
            .json("{}")
            .user(user, "");
        let response = if method == "GET" {
            call_query(&fx, call).await
        } else {
            call_submit(&fx, call).await
        };
        assert_eq!(response.status(), 404, "{method}");
        assert_eq!(body_json(&response)["ErrorCode"], "NOT_FOUND");
    }
    // Paths match case-insensitively, with a trailing slash.
    let call = ApiCall::new(
        "GET",
        &format!("/passwordvault/api/bulkactions/accounts/{id}/"),
    )
    .user("alice", "");
    assert_eq!(call_query(&fx, call).await.status(), 200);
}

#[tokio::test]
async fn listing_shows_own_uploads_newest_first_with_limit_and_filter() {
    let fx = Fixture::new().await;
    seed_vault(&fx).await;
    let first = upload(&fx, "alice", &seed_request()).await;
    run_processor(&fx, PumpOptions::default()).await;
    let ok = json!({"source": "ok.csv", "accountsList": [
        {"userName": "u1", "address": "h1", "safeName": "UnixAdminPasswords", "platformId": "UnixTelnet"}]});
    let second = upload(&fx, "alice", &ok).await;
    run_processor(&fx, PumpOptions::default()).await;
    let third = upload(&fx, "alice", &ok).await; // pending: not processed yet
    assert!(first < second && second < third, "bulk ids increase");
    upload(&fx, "bob", &ok).await;

    let list = |query: &str| {
        ApiCall::new("GET", &format!("{UPLOADS}/"))
            .query(query)
            .user("alice", "")
    };
    let all = body_json(&call_query(&fx, list("")).await);
    assert_eq!(all["Total"], 3);
    let ids: Vec<i64> = all["BulkActions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["Id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![third, second, first]);
    let statuses: Vec<&str> = all["BulkActions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["Status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        vec!["Pending", "completedSuccessfully", "completedWithErrors"]
    );
    assert!(all["BulkActions"][0].get("SucceededItems").is_none());

    let limited = body_json(&call_query(&fx, list("limit=1")).await);
    assert_eq!(limited["Total"], 3);
    assert_eq!(limited["BulkActions"].as_array().unwrap().len(), 1);
    let filtered =
        body_json(&call_query(&fx, list("filter=status%20eq%20completedWithErrors")).await);
    assert_eq!(filtered["Total"], 1);
    assert_eq!(filtered["BulkActions"][0]["Id"], first);
    let completed =
        body_json(&call_query(&fx, list("filter=status+eq+completed&limit=1000")).await);
    assert_eq!(completed["Total"], 2);

    for (query, target) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("filter=status%20eq%20done", "filter"),
        ("filter=name%20eq%20x", "filter"),
    ] {
        let response = call_query(&fx, list(query)).await;
        assert_eq!(response.status(), 400, "{query}");
        assert_eq!(body_json(&response)["Details"]["target"], target, "{query}");
    }
}
