//! A secret is stored only in its account record, or, for a row that failed, kept apart for a
//! retry: it never appears in a response, a log line, a queue or dead-letter message, or any
//! other item once its chunk is done.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use bulkops::reference::{load_vault, VaultInput};
use bulkops_testkit::{ApiCall, Fixture, PumpOptions};
use common::faults::{faulty_processor, Fault, Faults};
use common::*;
use serde_json::json;

const SECRET: &str = "Tr0ub4dor&3-never-leak";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_secret_appears_only_in_its_account_record() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let fx = Fixture::new().await;
    let vault: VaultInput = serde_json::from_value(json!({
        "safes": [{"safeName": "Unix", "safeId": 7, "members": {"alice": {"addAccounts": true}}},
                  {"safeName": "Locked", "safeId": 8, "members": {}}],
        "platforms": [{"platformId": "UnixSSH", "requiredProperties": ["address"]}],
    }))
    .unwrap();
    load_vault(&fx.records(), vault).await.unwrap();

    // Rows that succeed and every kind of failure, each carrying the secret; 700 rows make
    // several chunks, one of which is poisoned into the dead-letter queue.
    let accounts: Vec<_> = (0..700)
        .map(|i| match i % 4 {
            0 => json!({"safeName": "Unix", "platformId": "UnixSSH", "userName": format!("u{i}"), "address": "h", "secret": SECRET}),
            1 => json!({"safeName": "Locked", "platformId": "UnixSSH", "userName": format!("u{i}"), "address": "h", "secret": SECRET}),
            2 => json!({"safeName": "Unix", "platformId": "UnixSSH", "userName": format!("u{i}"), "secret": SECRET}),
            _ => json!({"safeName": "Unix", "platformId": "UnixSSH", "userName": format!("u{}", i - 3), "address": "h", "secret": SECRET}),
        })
        .collect();
    let body = json!({"source": "leak-test", "accountsList": accounts});
    let mut responses = Vec::new();
    let created = call_submit(
        &fx,
        ApiCall::new("POST", "/PasswordVault/API/BulkActions/Accounts")
            .json(body.to_string())
            .user("alice", ""),
    )
    .await;
    assert_eq!(created.status(), 202);
    let id = body_json(&created).as_i64().unwrap();
    responses.push(body_json(&created).to_string());

    // Every queued message, before processing.
    let queued = fx
        .clients
        .sqs
        .receive_message()
        .queue_url(&fx.queue_url)
        .max_number_of_messages(10)
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();
    let bodies: Vec<String> = queued
        .messages
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.body)
        .collect();
    assert!(bodies.len() >= 2, "several chunks");
    assert!(
        bodies.iter().all(|b| !b.contains(SECRET)),
        "queue messages carry no secret"
    );

    let faults = Faults::new(&[Fault::PoisonChunk { chunk: 1 }]);
    let deps = faulty_processor(&fx, faults);
    run_processor_with(&fx, &deps, PumpOptions::default()).await;
    let dead = fx
        .clients
        .sqs
        .receive_message()
        .queue_url(&fx.dlq_url)
        .max_number_of_messages(10)
        .visibility_timeout(0)
        .send()
        .await
        .unwrap();
    let dead_bodies: Vec<String> = dead
        .messages
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.body)
        .collect();
    assert_eq!(dead_bodies.len(), 1);
    assert!(
        !dead_bodies[0].contains(SECRET),
        "the dead-letter message carries no secret"
    );
    run_dead_letter(&fx).await;

    for path in [
        format!("/PasswordVault/API/BulkActions/Accounts/{id}"),
        "/PasswordVault/API/BulkActions/Accounts".to_owned(),
    ] {
        let response = call_query(&fx, ApiCall::new("GET", &path).user("alice", "")).await;
        assert_eq!(response.status(), 200);
        responses.push(String::from_utf8_lossy(response.body().as_ref()).into_owned());
    }
    let result: serde_json::Value = serde_json::from_str(&responses[1]).unwrap();
    assert_eq!(result["Status"], "completedWithErrors");
    assert_eq!(
        result["Result"]["Succeeded"].as_u64().unwrap()
            + result["Result"]["Failed"].as_u64().unwrap(),
        700
    );
    for response in &responses {
        assert!(
            !response.contains(SECRET),
            "a response leaked the secret: {response}"
        );
    }

    let log_text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(log_text.lines().count() > 10, "logs were captured");
    assert!(!log_text.contains(SECRET), "a log line leaked the secret");

    // In the table: only account records hold it, and the kept secrets of the failed rows (one
    // each); no staged secrets remain.
    let failed = result["Result"]["Failed"].as_u64().unwrap() as usize;
    assert!(failed > 0, "the upload has failed rows");
    let mut kept = 0;
    let mut accounts_with_secret = 0;
    for item in fx.scan_all().await {
        let sk = item
            .get("sk")
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default();
        let text = format!("{item:?}");
        assert!(
            !sk.starts_with("SECRETS#"),
            "staged secrets outlived their chunk: {sk}"
        );
        if sk.starts_with("KEPT#") {
            let secrets = item.get("secrets").and_then(|v| v.as_m().ok()).unwrap();
            kept += secrets.len();
            continue;
        }
        if text.contains(SECRET) {
            assert!(
                sk.starts_with("ACCOUNT#"),
                "the secret is stored outside an account record: {sk}"
            );
            accounts_with_secret += 1;
        }
    }
    assert!(accounts_with_secret > 0);
    assert_eq!(
        kept, failed,
        "the failed rows' secrets are kept, and only theirs"
    );
}
