//! The CyberArk-style bulk account upload end to end through the real handlers on moto.

mod common;

use std::collections::HashSet;

use bulkops::reference::{load_vault, VaultInput};
use bulkops_testkit::{ApiCall, Fixture, PumpOptions};
use common::*;
use lambda_http::{Body, Response};
use serde_json::{json, Value};

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

/// 1,000 accounts: every failure kind, duplicates within the upload, and accounts that exist.
fn mixed_upload() -> (Value, Vec<Option<&'static str>>) {
    let mut accounts = Vec::new();
    let mut expected = Vec::new();
    for i in 0..1_000 {
        let ok = |safe: &str| {
            json!({"userName": format!("user{i}"), "address": format!("host{i}.example.com"),
            "safeName": safe, "platformId": "UnixTelnet", "secret": format!("pw-{i}")})
        };
        let (account, outcome) = match i % 10 {
            6 => (ok("NoSuchSafe"), Some("SAFE_NOT_FOUND")),
            7 => (ok("ReadOnly"), Some("NOT_AUTHORIZED")),
            8 => {
                let mut a = ok("UnixAdminPasswords");
                a["platformId"] = json!("NoSuchPlatform");
                (a, Some("PLATFORM_NOT_FOUND"))
            }
            9 => {
                let mut a = ok("UnixAdminPasswords");
                a.as_object_mut().unwrap().remove("address");
                (a, Some("INVALID_FIELDS"))
            }
            5 if i % 20 == 5 => {
                // The same account as row i - 5, in another letter case.
                let mut a = ok("unixadminpasswords");
                a["userName"] = json!(format!("USER{}", i - 5));
                a["address"] = json!(format!("host{}.example.com", i - 5));
                (a, Some("ACCOUNT_ALREADY_EXISTS"))
            }
            5 => (
                json!({"userName": "existing", "address": format!("old{i}"), "safeName": "WindowsPasswords",
                "platformId": "WinDesktopLocal"}),
                Some("ACCOUNT_ALREADY_EXISTS"),
            ),
            _ => (
                ok(if i % 2 == 0 {
                    "UnixAdminPasswords"
                } else {
                    "WindowsPasswords"
                }),
                None,
            ),
        };
        accounts.push(account);
        expected.push(outcome);
    }
    (
        json!({"source": "mixed.csv", "accountsList": accounts}),
        expected,
    )
}

/// Accounts that exist before the upload (created by dba's earlier upload).
async fn preexisting(fx: &Fixture) {
    let accounts: Vec<Value> = (0..1_000)
        .filter(|i| i % 20 == 15)
        .map(|i| json!({"userName": "existing", "address": format!("old{i}"), "safeName": "WindowsPasswords", "platformId": "WinDesktopLocal"}))
        .collect();
    let id = upload(
        fx,
        "alice",
        &json!({"source": "earlier", "accountsList": accounts}),
    )
    .await;
    run_processor(fx, PumpOptions::default()).await;
    assert_eq!(
        result(fx, "alice", id).await["Status"],
        "completedSuccessfully"
    );
}

async fn account_records(
    fx: &Fixture,
) -> Vec<std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>> {
    fx.scan_all()
        .await
        .into_iter()
        .filter(|item| {
            item.get("sk")
                .and_then(|v| v.as_s().ok())
                .is_some_and(|sk| sk.starts_with("ACCOUNT#"))
        })
        .collect()
}

async fn assert_mixed_result(fx: &Fixture, id: i64, expected: &[Option<&str>]) {
    let got = result(fx, "alice", id).await;
    let succeeded = expected.iter().filter(|e| e.is_none()).count();
    assert_eq!(got["Status"], "completedWithErrors");
    assert_eq!(
        got["Result"],
        json!({"Succeeded": succeeded, "Failed": 1_000 - succeeded})
    );
    assert_eq!(got["SucceededItems"]["Total"], succeeded);
    assert_eq!(got["FailedItems"]["Total"], 1_000 - succeeded);
    for item in got["SucceededItems"]["Items"].as_array().unwrap() {
        let index = item["uploadIndex"].as_u64().unwrap() as usize - 1;
        assert_eq!(expected[index], None, "{item}");
        assert!(item["id"].as_str().is_some_and(|id| id.contains('_')));
    }
    for item in got["FailedItems"]["Items"].as_array().unwrap() {
        let index = item["uploadIndex"].as_u64().unwrap() as usize - 1;
        assert_eq!(
            Some(item["errorCode"].as_str().unwrap()),
            expected[index],
            "{item}"
        );
        assert!(!item["error"].as_str().unwrap().is_empty());
    }
    let ids: HashSet<&str> = got["SucceededItems"]["Items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), succeeded, "account ids are unique");
}

#[tokio::test]
async fn a_thousand_account_upload_puts_every_item_in_the_right_list() {
    let fx = Fixture::new().await;
    seed_vault(&fx).await;
    preexisting(&fx).await;
    let (body, expected) = mixed_upload();
    let id = upload(&fx, "alice", &body).await;
    run_processor(&fx, PumpOptions::default()).await;
    assert_mixed_result(&fx, id, &expected).await;
    let succeeded = expected.iter().filter(|e| e.is_none()).count();
    assert_eq!(account_records(&fx).await.len(), succeeded + 50);
}

#[tokio::test]
async fn every_message_delivered_three_times_creates_each_account_once() {
    let fx = Fixture::new().await;
    seed_vault(&fx).await;
    preexisting(&fx).await;
    let (body, expected) = mixed_upload();
    let id = upload(&fx, "alice", &body).await;
    let stats = run_processor(
        &fx,
        PumpOptions {
            deliveries: 3,
            ..PumpOptions::default()
        },
    )
    .await;
    assert!(stats.deliveries >= 6);
    assert_mixed_result(&fx, id, &expected).await;
    let succeeded = expected.iter().filter(|e| e.is_none()).count();
    assert_eq!(
        account_records(&fx).await.len(),
        succeeded + 50,
        "no account created twice"
    );
}

#[tokio::test]
async fn a_processor_dying_after_creating_accounts_reports_them_as_created() {
    use common::faults::{faulty_processor, Call, Fault, Faults};
    let fx = Fixture::new().await;
    seed_vault(&fx).await;
    preexisting(&fx).await;
    let (body, expected) = mixed_upload();
    let id = upload(&fx, "alice", &body).await;
    let faults = Faults::new(&[Fault::AfterWrite {
        call: Call::CreateMany,
        times: 1,
    }]);
    let deps = faulty_processor(&fx, faults);
    let stats = run_processor_with(&fx, &deps, PumpOptions::default()).await;
    // The injected crash, plus any transient 500 from moto: its server races concurrent
    // TransactWriteItems ("dictionary changed size during iteration"). Both heal the same way.
    assert!(!stats.reported_failures.is_empty());
    assert_mixed_result(&fx, id, &expected).await;
}

#[tokio::test]
async fn malformed_uploads_are_400_and_write_nothing() {
    let fx = Fixture::new().await;
    seed_vault(&fx).await;
    let before = fx.scan_all().await.len();
    let ok = json!({"platformId": "UnixTelnet", "safeName": "UnixAdminPasswords"});
    let cases = [
        (json!({"source": "x"}), "accountsList"),
        (json!({"accountsList": []}), "accountsList"),
        (
            json!({"accountsList": [ok, ok, ok, {"platformId": "UnixTelnet"}]}),
            "accountsList[3].safeName",
        ),
        (
            json!({"accountsList": [ok, {"platformId": "p", "safeName": "s", "secretType": "token", "secret": "hunter2"}]}),
            "accountsList[1].secretType",
        ),
        (json!({"accountsList": [ok, "account"]}), "accountsList[1]"),
    ];
    for (body, target) in cases {
        let response = call_submit(&fx, upload_call("alice", &body)).await;
        let error = body_json(&response);
        assert_eq!(response.status(), 400, "{error}");
        assert_eq!(error["Details"]["target"], target);
        assert!(
            error["ErrorMessage"].is_string(),
            "PVWA's error shape: {error}"
        );
        assert!(
            !error.to_string().contains("hunter2"),
            "errors never echo a secret"
        );
    }
    let not_json = call_submit(
        &fx,
        ApiCall::new("POST", UPLOADS).json("{").user("alice", ""),
    )
    .await;
    assert_eq!(not_json.status(), 400);
    let wrong_type = call_submit(
        &fx,
        ApiCall::new("POST", UPLOADS)
            .body("{}", Some("text/csv"))
            .user("alice", ""),
    )
    .await;
    assert_eq!(wrong_type.status(), 415);
    let too_big = json!({"accountsList": [{"platformId": "p", "safeName": "s", "name": "x".repeat(1_048_576)}]});
    let too_big = call_submit(&fx, upload_call("alice", &too_big)).await;
    assert_eq!(too_big.status(), 413);
    assert_eq!(body_json(&too_big)["ErrorCode"], "PAYLOAD_TOO_LARGE");
    let anonymous = call_submit(
        &fx,
        ApiCall::new("POST", UPLOADS).json(seed_request().to_string()),
    )
    .await;
    assert_eq!(anonymous.status(), 401);
    // Every error of the PVWA API in PVWA's shape, which psPAS and CyberArk's scripts read.
    for (response, code) in [
        (not_json, "INVALID_REQUEST"),
        (wrong_type, "UNSUPPORTED_MEDIA_TYPE"),
        (anonymous, "UNAUTHORIZED"),
    ] {
        let error = body_json(&response);
        assert_eq!(error["ErrorCode"], code, "{error}");
        assert!(error["ErrorMessage"].is_string(), "{error}");
        assert!(error.get("code").is_none(), "{error}");
    }
    assert_eq!(fx.scan_all().await.len(), before, "nothing was written");
    assert_eq!(fx.queue_depth(&fx.queue_url).await, 0);
}
