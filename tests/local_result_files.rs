//! Result files through `bulkops serve` over HTTP (issue 11, items 3 and 6): once a job ends,
//! the server writes its files into its data directory and links them with URLs it signs. A
//! 40,000-row flash pass job's log is over 5 MB, so the download-logs route answers `303 See
//! Other` to its file (the same JSON a smaller log is answered with); an altered link is a 403.
//! An account upload's result lists at most 1,000 items each with exact totals and links its
//! files; its failed rows (CSV, with a column per platform property) upload again as they stand
//! and fail the same way.

use std::path::Path;
use std::sync::Arc;

use bulkops::reference::{load_enrollments, load_vault, VaultInput};
use bulkops_embedded::EmbeddedStore;
use bulkops_shared::store::RecordStore;
use bulkops_testkit::scenario::{enrollment, enrollment_id};
use bulkops_testkit::server::{fresh_dir, ServerProcess};
use serde_json::{json, Value};

const BINARY: &str = env!("CARGO_BIN_EXE_bulkops");
const ROWS: usize = 40_000;
const UPLOADS: &str = "/PasswordVault/API/BulkActions/Accounts";

/// A client that shows redirects instead of following them.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// `GET path` until it is no longer a 409 (result files being written): the answer.
async fn get_when_written(server: &ServerProcess, token: &str, path: &str) -> reqwest::Response {
    for _ in 0..600 {
        let response = no_redirects()
            .get(format!("{}{path}", server.url))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET");
        if response.status() != 409 {
            return response;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{path} was still being written after 60 s");
}

/// The 303's target, resolved against the server (the local server's links are paths).
fn location(server: &ServerProcess, response: &reqwest::Response) -> String {
    assert_eq!(response.status(), 303, "{:?}", response.headers());
    let location = response.headers()["location"].to_str().expect("ASCII");
    format!("{}{location}", server.url)
}

async fn download(url: &str) -> String {
    let response = reqwest::get(url).await.expect("GET");
    assert_eq!(response.status(), 200, "{url}");
    response.text().await.expect("text")
}

async fn post_json(server: &ServerProcess, token: &str, path: &str, body: Value) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", server.url))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("POST");
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_over_5_mb_is_a_303_to_its_file() {
    let data = fresh_dir("results-log");
    {
        let store = EmbeddedStore::open(&data.path().join("bulkops.redb")).expect("open store");
        let records: Arc<dyn RecordStore> = Arc::new(store);
        load_enrollments(&records, (0..ROWS).map(enrollment).collect())
            .await
            .expect("load enrollments");
    }
    let server = ServerProcess::start(Path::new(BINARY), data.path(), &[]);
    let token = server.token("alice", "ISSUANCE:ADD ISSUANCE:VIEW");
    let job = post_json(
        &server,
        &token,
        "/api/web/v2/mobileFlashPass/uploads",
        json!({}),
    )
    .await;
    let id = job["id"].as_str().expect("id").to_owned();
    let file: String = (0..ROWS).map(|i| enrollment_id(i) + "\n").collect();
    let put = reqwest::Client::new()
        .put(job["upload"]["url"].as_str().expect("upload URL"))
        .body(file)
        .send()
        .await
        .expect("PUT");
    assert_eq!(put.status(), 200);

    for _ in 0..600 {
        let job: Value = reqwest::Client::new()
            .get(format!("{}/api/web/v1/mobileFlashPass/{id}", server.url))
            .bearer_auth(&token)
            .send()
            .await
            .expect("GET")
            .json()
            .await
            .expect("JSON");
        if job["state"] == "COMPLETED" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let logs = format!("/api/web/v2/mobileFlashPass/download/logs/{id}");
    let answer = get_when_written(&server, &token, &logs).await;
    let url = location(&server, &answer);
    assert!(url.contains(&format!("/results/{id}/log.json?")), "{url}");
    let log: Vec<Value> = serde_json::from_str(&download(&url).await).expect("a JSON array");
    assert_eq!(log.len(), ROWS);
    assert!(
        log.iter().all(|row| row["outcome"] == "SUCCEEDED"),
        "{:?}",
        log.first()
    );
    let rows = get_when_written(
        &server,
        &token,
        &format!("/api/web/v2/mobileFlashPass/{id}/results/rows.jsonl"),
    )
    .await;
    let rows = download(&location(&server, &rows)).await;
    assert_eq!(rows.lines().count(), ROWS);
    assert_eq!(
        rows.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .collect::<Vec<_>>(),
        log,
        "every row, as the log has it"
    );

    // The link is the credential: altered, or for another file, it is refused.
    let altered = url.replace("signature=", "signature=00");
    assert_eq!(reqwest::get(&altered).await.unwrap().status(), 403);
    let other_file = url.replace("log.json", "rows.jsonl");
    assert_eq!(reqwest::get(&other_file).await.unwrap().status(), 403);
    // Someone without ISSUANCE:VIEW gets no link at all.
    let outsider = server.token("eve", "ISSUANCE:ADD");
    let refused = no_redirects()
        .get(format!("{}{logs}", server.url))
        .bearer_auth(outsider)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    server.stop();
}

/// An account of the upload: row `i` (1-based), in safe `safe`, with a platform property.
fn account(i: usize, safe: &str) -> Value {
    json!({"userName": format!("user{i}"), "address": format!("host{i}"), "safeName": safe,
           "platformId": "UnixSSH", "secret": format!("pw-{i}"),
           "platformAccountProperties": {"Port": format!("{}", 2000 + i)},
           "secretManagement": {"automaticManagementEnabled": i.is_multiple_of(2)}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploads_result_caps_its_lists_and_links_files_that_upload_again() {
    let data = fresh_dir("results-accounts");
    {
        let store = EmbeddedStore::open(&data.path().join("bulkops.redb")).expect("open store");
        let records: Arc<dyn RecordStore> = Arc::new(store);
        let vault: VaultInput = serde_json::from_value(json!({
            "safes": [{"safeName": "Unix", "safeId": 1, "members": {"alice": {"addAccounts": true}}}],
            "platforms": [{"platformId": "UnixSSH", "requiredProperties": ["address"]}],
        }))
        .unwrap();
        load_vault(&records, vault).await.expect("load vault");
    }
    let server = ServerProcess::start(Path::new(BINARY), data.path(), &[]);
    let alice = server.token("alice", "");
    // 1,500 accounts, every 7th in a safe that does not exist: the file goes up staged.
    let total = 1_500;
    let lines: String = (1..=total)
        .map(|i| account(i, if i % 7 == 0 { "Nowhere" } else { "Unix" }).to_string() + "\n")
        .collect();
    let failed = total / 7;
    let upload = post_json(&server, &alice, &format!("{UPLOADS}/uploads"), json!({})).await;
    let id = upload["Id"].as_i64().expect("Id");
    let put = reqwest::Client::new()
        .put(upload["UploadUrl"].as_str().unwrap())
        .body(lines)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let failed_csv = format!("{UPLOADS}/{id}/results/failed.csv");
    let answer = get_when_written(&server, &alice, &failed_csv).await;
    let csv = download(&location(&server, &answer)).await;

    let result: Value = reqwest::Client::new()
        .get(format!("{}{UPLOADS}/{id}", server.url))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (succeeded, failed_items) = (&result["SucceededItems"], &result["FailedItems"]);
    assert_eq!(succeeded["Total"], total - failed, "{}", succeeded["Total"]);
    assert_eq!(
        succeeded["Items"].as_array().unwrap().len(),
        1_000,
        "capped"
    );
    assert_eq!(failed_items["Total"], failed);
    assert_eq!(failed_items["Items"].as_array().unwrap().len(), failed);
    assert_eq!(
        result["ResultFiles"]["failed.csv"],
        format!("{UPLOADS}/{id}/results/failed.csv")
    );
    assert!(!csv.contains("pw-"), "no secret in a result file");
    let header = csv.lines().next().unwrap();
    assert!(
        header.starts_with("uploadIndex,name,address,userName,platformId,safeName"),
        "{header}"
    );
    assert!(
        header.ends_with(",platformAccountProperties.Port"),
        "{header}"
    );
    assert_eq!(csv.lines().count(), failed + 1);

    // The failed rows, uploaded again as they stand: the same accounts, failing the same way.
    let again = post_json(&server, &alice, &format!("{UPLOADS}/uploads"), json!({})).await;
    let again_id = again["Id"].as_i64().unwrap();
    let put = reqwest::Client::new()
        .put(again["UploadUrl"].as_str().unwrap())
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let again_csv = format!("{UPLOADS}/{again_id}/results/failed.jsonl");
    let answer = get_when_written(&server, &alice, &again_csv).await;
    let again_failed = download(&location(&server, &answer)).await;
    let first_jsonl = get_when_written(
        &server,
        &alice,
        &format!("{UPLOADS}/{id}/results/failed.jsonl"),
    )
    .await;
    let first_failed = download(&location(&server, &first_jsonl)).await;
    assert_eq!(
        again_failed, first_failed,
        "the same accounts, the same uploadIndex"
    );
    let rows = get_when_written(
        &server,
        &alice,
        &format!("{UPLOADS}/{again_id}/results/rows.jsonl"),
    )
    .await;
    let rows = download(&location(&server, &rows)).await;
    assert_eq!(rows.lines().count(), failed);
    assert!(
        rows.lines()
            .all(|l| l.contains("\"errorCode\":\"SAFE_NOT_FOUND\"")),
        "{rows}"
    );
    // Another user sees neither the upload nor its files.
    let bob = server.token("bob", "");
    let hidden = no_redirects()
        .get(format!("{}{failed_csv}", server.url))
        .bearer_auth(bob)
        .send()
        .await
        .unwrap();
    assert_eq!(hidden.status(), 404);
    server.stop();
}
