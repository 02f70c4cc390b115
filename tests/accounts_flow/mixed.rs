//! A mixed upload (new accounts, existing ones, unknown safes, missing fields) through the
//! processor: every account in the right list, once, under redelivery and a crash; and
//! malformed uploads refused whole.

use super::*;

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

/// Alone (batches of one), the chunk is redelivered and runs again; together, the rows run
/// together die and each chunk runs again alone at once. Either way the accounts the dying
/// run created are reported created, never as existing.
#[tokio::test]
async fn a_processor_dying_after_creating_accounts_reports_them_as_created() {
    use common::faults::{faulty_processor, Call, Fault, Faults};
    for batch_size in [1, 10] {
        let fx = Fixture::new().await;
        seed_vault(&fx).await;
        preexisting(&fx).await;
        let (body, expected) = mixed_upload();
        let id = upload(&fx, "alice", &body).await;
        let faults = Faults::new(&[Fault::AfterWrite {
            call: Call::CreateMany,
            times: 1,
        }]);
        let deps = faulty_processor(&fx, faults.clone());
        let options = PumpOptions {
            batch_size,
            ..PumpOptions::default()
        };
        let stats = run_processor_with(&fx, &deps, options).await;
        assert!(faults.made(Call::CreateMany) > 1, "died, then ran again");
        // Alone, the injected crash, plus any transient 500 from moto: its server races
        // concurrent TransactWriteItems ("dictionary changed size during iteration"). Both
        // heal the same way.
        if batch_size == 1 {
            assert!(!stats.reported_failures.is_empty());
        }
        assert_mixed_result(&fx, id, &expected).await;
    }
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
