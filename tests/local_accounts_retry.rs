//! Retrying an upload's failed accounts through `bulkops serve` over HTTP: the rows that
//! failed for want of a safe are retried, after the safe exists, as a new upload linked both
//! ways, and the accounts are created with the secrets they were first uploaded with (kept in
//! the data directory between the two runs of the server).

use std::path::Path;
use std::sync::Arc;

use bulkops::reference::{load_vault, VaultInput};
use bulkops_embedded::EmbeddedStore;
use bulkops_shared::ops::accounts::{account_key, model::parse_account};
use bulkops_shared::store::RecordStore;
use bulkops_testkit::server::{fresh_dir, ServerProcess};
use serde_json::{json, Value};

const BINARY: &str = env!("CARGO_BIN_EXE_bulkops");
const UPLOADS: &str = "/PasswordVault/API/BulkActions/Accounts";

/// Loads safes `safes` (alice may add to each) and the platform into the store in `data`.
async fn safes(data: &Path, safes: &[&str]) {
    let store = EmbeddedStore::open(&data.join("bulkops.redb")).expect("open store");
    let records: Arc<dyn RecordStore> = Arc::new(store);
    let safes: Vec<Value> = safes
        .iter()
        .enumerate()
        .map(|(i, name)| json!({"safeName": name, "safeId": 10 + i, "members": {"alice": {"addAccounts": true}}}))
        .collect();
    let platforms = json!([{"platformId": "UnixSSH", "requiredProperties": ["address"]}]);
    let vault: VaultInput =
        serde_json::from_value(json!({"safes": safes, "platforms": platforms})).unwrap();
    load_vault(&records, vault).await.expect("load vault");
}

fn account(i: usize, safe: &str) -> Value {
    json!({"userName": format!("user{i}"), "address": format!("host{i}"), "safeName": safe,
           "platformId": "UnixSSH", "secret": format!("pw-{i}")})
}

/// Waits until upload `id` has ended; returns its result.
async fn ended(server: &ServerProcess, token: &str, id: i64) -> Value {
    for _ in 0..300 {
        let upload: Value = reqwest::Client::new()
            .get(format!("{}{UPLOADS}/{id}", server.url))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET")
            .json()
            .await
            .expect("JSON");
        if upload["Status"]
            .as_str()
            .is_some_and(|s| s.starts_with("completed"))
        {
            return upload;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("upload {id} did not end within 30 s");
}

async fn post(
    server: &ServerProcess,
    token: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}{path}", server.url))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("POST");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn failed_accounts_are_retried_with_their_secrets_over_http() {
    let data = fresh_dir("accounts-retry");
    safes(data.path(), &["Unix"]).await;
    let accounts = vec![
        account(1, "Unix"),
        account(2, "Later"),
        account(3, "Unix"),
        account(4, "Later"),
    ];
    let server = ServerProcess::start(Path::new(BINARY), data.path(), &[]);
    let alice = server.token("alice", "");
    let (status, id) = post(
        &server,
        &alice,
        UPLOADS,
        Some(json!({"accountsList": accounts})),
    )
    .await;
    assert_eq!(status, 202, "{id}");
    let id = id.as_i64().unwrap();
    let first = ended(&server, &alice, id).await;
    assert_eq!(
        first["Result"],
        json!({"Succeeded": 2, "Failed": 2}),
        "{first}"
    );
    server.stop();

    safes(data.path(), &["Unix", "Later"]).await;
    let server = ServerProcess::start(Path::new(BINARY), data.path(), &[]);
    let alice = server.token("alice", "");
    let (status, retry_id) = post(&server, &alice, &format!("{UPLOADS}/{id}/retry"), None).await;
    assert_eq!(status, 202, "{retry_id}");
    let retry_id = retry_id.as_i64().unwrap();
    let second = ended(&server, &alice, retry_id).await;
    assert_eq!(second["Status"], "completedSuccessfully", "{second}");
    assert_eq!(second["Result"], json!({"Succeeded": 2, "Failed": 0}));
    assert_eq!(second["RetryOf"], id);
    assert_eq!(
        ended(&server, &alice, id).await["Retries"],
        json!([retry_id])
    );
    server.stop();

    let store = EmbeddedStore::open(&data.path().join("bulkops.redb")).expect("open store");
    for i in [2, 4] {
        let parsed = parse_account(&account(i, "Later"), "account").unwrap();
        let key = account_key(&parsed.model);
        let mut found = store
            .get_many(std::slice::from_ref(&key))
            .await
            .expect("read");
        let record = found
            .remove(&key)
            .unwrap_or_else(|| panic!("account {i} was created"));
        assert_eq!(record["secret"], format!("pw-{i}"));
    }
}
