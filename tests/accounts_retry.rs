//! `POST /PasswordVault/API/BulkActions/Accounts/{bulkId}/retry` (additive): a new upload of
//! the failed rows of an ended upload, with the secrets they were uploaded with (kept apart
//! for 4 days after the upload was created, never shown), linked both ways; 409 while the
//! upload runs, when nothing failed or once the secrets are gone; only the uploader's; safe to
//! repeat with an Idempotency-Key; exact under 3× delivery and a processor that dies after
//! keeping the secrets. Real handlers, moto.

mod common;

use bulkops::reference::{load_vault, VaultInput};
use bulkops_shared::store::SECRETS_RETENTION_SECONDS;
use bulkops_testkit::{ApiCall, Fixture, PumpOptions};
use common::*;
use serde_json::{json, Value};

const UPLOADS: &str = "/PasswordVault/API/BulkActions/Accounts";

/// alice may add to Unix; Windows exists for her only once `grant_windows` ran.
async fn vault(fx: &Fixture, windows_members: Value) {
    let vault: VaultInput = serde_json::from_value(json!({
        "safes": [
            {"safeName": "Unix", "safeId": 24, "members": {"alice": {"addAccounts": true}}},
            {"safeName": "Windows", "safeId": 31, "members": windows_members},
        ],
        "platforms": [{"platformId": "UnixTelnet", "requiredProperties": ["address", "userName"]}],
    }))
    .unwrap();
    load_vault(&fx.records(), vault).await.expect("load vault");
}

/// Rows 1, 3, 5 go to Unix (succeed); rows 2 and 4 to Windows, which alice may not add to
/// yet (NOT_AUTHORIZED); row 6 to a safe that does not exist (SAFE_NOT_FOUND), without a
/// secret.
fn upload_body() -> Value {
    let account = |i: u32, safe: &str, secret: Option<&str>| {
        let mut a = json!({"userName": format!("user{i}"), "address": format!("host{i}"),
            "safeName": safe, "platformId": "UnixTelnet", "uploadIndex": 100 + i,
            "platformAccountProperties": {"Port": "22"},
            "secretManagement": {"automaticManagementEnabled": false, "manualManagementReason": "kept"}});
        if let Some(secret) = secret {
            a["secret"] = json!(secret);
        }
        a
    };
    json!({"source": "retry.csv", "accountsList": [
        account(1, "Unix", Some("pw-1")),
        account(2, "Windows", Some("pw-2")),
        account(3, "Unix", Some("pw-3")),
        account(4, "Windows", Some("pw-4")),
        account(5, "Unix", None),
        account(6, "Nowhere", None),
    ]})
}

fn retry(id: i64, query: &str, user: &str) -> ApiCall {
    ApiCall::new("POST", &format!("{UPLOADS}/{id}/retry"))
        .query(query)
        .user(user, "")
}

async fn post(fx: &Fixture, call: ApiCall) -> (u16, Value) {
    let response = call_submit(fx, call).await;
    (response.status().as_u16(), body_json(&response))
}

async fn result(fx: &Fixture, id: i64) -> Value {
    let call = ApiCall::new("GET", &format!("{UPLOADS}/{id}")).user("alice", "");
    let response = call_query(fx, call).await;
    assert_eq!(response.status(), 200, "{}", body_json(&response));
    body_json(&response)
}

/// The accounts created in safe `safe`: userName and secret.
async fn accounts_in(fx: &Fixture, safe: &str) -> Vec<(String, Option<String>)> {
    let mut found: Vec<(String, Option<String>)> = fx
        .scan_all()
        .await
        .into_iter()
        .filter(|item| {
            let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok());
            text("sk").is_some_and(|sk| sk.starts_with("ACCOUNT#"))
                && text("safeName").is_some_and(|s| s == safe)
        })
        .map(|item| {
            let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
            (text("userName").unwrap_or_default(), text("secret"))
        })
        .collect();
    found.sort();
    found
}

async fn uploaded(fx: &Fixture) -> i64 {
    let call = ApiCall::new("POST", UPLOADS)
        .json(upload_body().to_string())
        .user("alice", "");
    let (status, id) = post(fx, call).await;
    assert_eq!(status, 202, "{id}");
    id.as_i64().unwrap()
}

#[tokio::test]
async fn failed_accounts_are_retried_with_their_secrets() {
    let fx = Fixture::new().await;
    vault(&fx, json!({})).await;
    let id = uploaded(&fx).await;

    // Not ended yet.
    let (status, error) = post(&fx, retry(id, "", "alice")).await;
    assert_eq!(status, 409, "{error}");

    run_processor(&fx, PumpOptions::default()).await;
    let first = result(&fx, id).await;
    assert_eq!(
        first["Result"],
        json!({"Succeeded": 3, "Failed": 3}),
        "{first}"
    );
    assert!(
        !first.to_string().contains("pw-"),
        "results never show a secret"
    );

    // Only the uploader may retry; anyone else learns nothing.
    assert_eq!(post(&fx, retry(id, "", "bob")).await.0, 404);
    assert_eq!(post(&fx, retry(id + 1000, "", "alice")).await.0, 404);
    let (status, error) = post(&fx, retry(id, "errorCode=NO_SUCH_CODE", "alice")).await;
    assert_eq!(status, 409, "{error}");

    // alice may now add to Windows: the NOT_AUTHORIZED rows are retried, keyed, 3× delivered.
    vault(&fx, json!({"alice": {"addAccounts": true}})).await;
    let keyed = || retry(id, "errorCode=NOT_AUTHORIZED", "alice").header("Idempotency-Key", "k-1");
    let (status, retry_id) = post(&fx, keyed()).await;
    assert_eq!(status, 202, "{retry_id}");
    assert_eq!(
        post(&fx, keyed()).await,
        (202, retry_id.clone()),
        "replayed"
    );
    let retry_id = retry_id.as_i64().unwrap();
    let options = PumpOptions {
        deliveries: 3,
        ..PumpOptions::default()
    };
    run_processor(&fx, options).await;
    let second = result(&fx, retry_id).await;
    assert_eq!(second["Status"], "completedSuccessfully", "{second}");
    assert_eq!(second["Result"], json!({"Succeeded": 2, "Failed": 0}));
    assert_eq!(second["Source"], "retry.csv");
    assert_eq!(second["RetryOf"], id);
    assert_eq!(result(&fx, id).await["Retries"], json!([retry_id]));
    let indexes: Vec<&Value> = second["SucceededItems"]["Items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| &item["uploadIndex"])
        .collect();
    assert_eq!(
        indexes,
        [&json!(102), &json!(104)],
        "the rows keep their uploadIndex"
    );
    let item = &second["SucceededItems"]["Items"][0];
    assert_eq!(item["platformAccountProperties"], json!({"Port": "22"}));
    assert_eq!(item["secretManagement"]["manualManagementReason"], "kept");
    assert_eq!(
        accounts_in(&fx, "Windows").await,
        [
            ("user2".to_owned(), Some("pw-2".to_owned())),
            ("user4".to_owned(), Some("pw-4".to_owned()))
        ],
        "created once each, with the secrets they were uploaded with"
    );

    // The row without a secret is retried without one.
    let (status, other) = post(&fx, retry(id, "errorCode=SAFE_NOT_FOUND", "alice")).await;
    assert_eq!(status, 202, "{other}");
    run_processor(&fx, PumpOptions::default()).await;
    let third = result(&fx, other.as_i64().unwrap()).await;
    assert_eq!(third["Result"], json!({"Succeeded": 0, "Failed": 1}));
    assert_eq!(third["FailedItems"]["Items"][0]["uploadIndex"], 106);

    // Once the secrets are gone, a retry is refused and says why.
    fx.clock.advance(SECRETS_RETENTION_SECONDS * 1000);
    let (status, error) = post(&fx, retry(id, "", "alice")).await;
    assert_eq!(status, 409, "{error}");
    assert!(
        error["ErrorMessage"]
            .as_str()
            .unwrap_or_default()
            .contains("upload them again"),
        "{error}"
    );
}

#[tokio::test]
async fn a_processor_dying_after_keeping_the_secrets_keeps_them_once() {
    use common::faults::{faulty_processor, Call, Fault, Faults};
    let fx = Fixture::new().await;
    vault(&fx, json!({})).await;
    let id = uploaded(&fx).await;
    let faults = Faults::new(&[
        Fault::AfterWrite {
            call: Call::KeepFailedSecrets,
            times: 1,
        },
        Fault::AfterWrite {
            call: Call::RecordChunk,
            times: 1,
        },
    ]);
    let deps = faulty_processor(&fx, faults);
    let stats = run_processor_with(&fx, &deps, PumpOptions::default()).await;
    assert_eq!(stats.reported_failures.len(), 2, "both crashes happened");
    assert_eq!(
        result(&fx, id).await["Result"],
        json!({"Succeeded": 3, "Failed": 3})
    );
    let staged: Vec<_> = fx
        .scan_all()
        .await
        .into_iter()
        .filter_map(|item| item.get("sk").and_then(|v| v.as_s().ok()).cloned())
        .filter(|sk| sk.starts_with("SECRETS#") || sk.starts_with("KEPT#"))
        .collect();
    assert_eq!(
        staged,
        ["KEPT#000000"],
        "staged secrets deleted, failed ones kept once"
    );
    let kept = fx.jobs().kept_secrets(&id.to_string()).await.unwrap();
    assert_eq!(
        kept.into_iter().collect::<Vec<_>>(),
        [(2, "pw-2".to_owned()), (4, "pw-4".to_owned())],
        "only the failed rows' secrets"
    );
}
