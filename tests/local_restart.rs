//! Stop the local server in the middle of 50,000 rows of work (34 full-size flash pass
//! requests and a 2,400-account upload, submitted at once), start it again, and every job
//! completes with exact counts: nothing lost, nothing done twice.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bulkops::reference::load_enrollments;
use bulkops_embedded::EmbeddedStore;
use bulkops_shared::enrollment::EnrollmentRef;
use bulkops_shared::ops::accounts::account_key;
use bulkops_shared::ops::accounts::model::parse_account;
use bulkops_shared::ops::mobile_flash_pass::pass_key;
use bulkops_shared::store::{RecordKey, RecordStore};
use bulkops_testkit::scenario::{
    enrollment, workload_body, workload_id, workload_job_completes, MAX_BODY,
    WORKLOAD_IDS_PER_REQUEST,
};
use bulkops_testkit::server::{fresh_dir, ServerProcess};
use serde_json::{json, Value};

const BINARY: &str = env!("CARGO_BIN_EXE_bulkops");
const MFP_REQUESTS: usize = 34;
const IDS_PER_REQUEST: usize = WORKLOAD_IDS_PER_REQUEST;
const ACCOUNTS: usize = 2_400;
const TOTAL_ROWS: usize = MFP_REQUESTS * IDS_PER_REQUEST + ACCOUNTS;

/// Account `i`: every 100th goes to a safe alice may not add to.
fn account(i: usize) -> (Value, bool) {
    let allowed = i % 100 != 99;
    let safe = match (allowed, i % 2) {
        (false, _) => "OracleAdminPasswords",
        (true, 0) => "UnixAdminPasswords",
        (true, _) => "WindowsPasswords",
    };
    let account = json!({
        "userName": format!("svc{i:05}"), "address": format!("host{i:05}.example.com"),
        "safeName": safe, "platformId": "UnixSSH", "secret": format!("pw-{i}"),
    });
    (account, allowed)
}

async fn rows_done(client: &reqwest::Client, server: &ServerProcess, token: &str) -> Option<u64> {
    let jobs: Value = client
        .get(format!("{}/api/web/v1/mobileFlashPass", server.url))
        .bearer_auth(token)
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    Some(
        jobs.as_array()?
            .iter()
            .map(|j| {
                ["rowsProcessed", "rowsFailed", "rowsSkipped"]
                    .iter()
                    .map(|f| j[*f].as_u64().unwrap_or(0))
                    .sum::<u64>()
            })
            .sum(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_finishes_every_job_exactly_after_restart() {
    let root = fresh_dir("restart");
    let data = root.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    {
        // Reference data first (the server holds the store's lock while it runs).
        let store = EmbeddedStore::open(&data.join("bulkops.redb")).expect("open store");
        let records: Arc<dyn RecordStore> = Arc::new(store);
        let inputs = (0..MFP_REQUESTS * IDS_PER_REQUEST)
            .map(enrollment)
            .collect();
        load_enrollments(&records, inputs)
            .await
            .expect("load enrollments");
    }
    let server = ServerProcess::start(Path::new(BINARY), &data, &["--demo"]);
    let token = server.token("alice", "ISSUANCE:ADD ISSUANCE:VIEW");
    let client = reqwest::Client::new();

    // Everything is submitted at once.
    let mut requests = Vec::new();
    for r in 0..MFP_REQUESTS {
        let body = workload_body(r);
        assert!(
            body.len() <= MAX_BODY,
            "request {r} is {} bytes",
            body.len()
        );
        let request = client
            .post(format!("{}/api/web/v2/mobileFlashPass", server.url))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body);
        requests.push(request.send());
    }
    let accounts: Vec<Value> = (0..ACCOUNTS).map(|i| account(i).0).collect();
    let upload = client
        .post(format!(
            "{}/PasswordVault/API/BulkActions/Accounts",
            server.url
        ))
        .bearer_auth(&token)
        .json(&json!({"source": "restart.csv", "accountsList": accounts}))
        .send();
    let (responses, upload) = tokio::join!(futures::future::join_all(requests), upload);
    let mut job_ids = Vec::new();
    for response in responses {
        let response = response.expect("submit");
        assert_eq!(response.status(), 200);
        let job: Value = response.json().await.expect("job");
        job_ids.push(job["id"].as_str().expect("id").to_owned());
    }
    let upload = upload.expect("upload");
    assert_eq!(upload.status(), 202);
    let bulk_id: i64 = upload.json().await.expect("bulk id");

    // Kill it (SIGKILL: no chance to finish anything) once some, not all, work is done.
    let started = Instant::now();
    let done_at_kill = loop {
        let done = rows_done(&client, &server, &token).await.unwrap_or(0);
        if done >= 2_000 {
            break done;
        }
        assert!(started.elapsed() < Duration::from_secs(120), "no progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    server.kill();
    let mfp_rows = (MFP_REQUESTS * IDS_PER_REQUEST) as u64;
    assert!(
        done_at_kill < mfp_rows,
        "the work finished before the kill ({done_at_kill} rows)"
    );
    eprintln!("killed the server with {done_at_kill} of {TOTAL_ROWS} rows done");

    let server = ServerProcess::start(Path::new(BINARY), &data, &[]);
    let deadline = Instant::now() + Duration::from_secs(300);
    for id in &job_ids {
        workload_job_completes(&client, &server.url, &token, id, deadline).await;
    }
    let upload_result = loop {
        let result: Value = client
            .get(format!(
                "{}/PasswordVault/API/BulkActions/Accounts/{bulk_id}",
                server.url
            ))
            .bearer_auth(&token)
            .send()
            .await
            .expect("get upload")
            .json()
            .await
            .expect("upload json");
        if result["Status"] == "completedWithErrors" {
            break result;
        }
        assert!(
            Instant::now() < deadline,
            "upload did not complete: {}",
            result["Status"]
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let failed_accounts = ACCOUNTS / 100;
    assert_eq!(
        upload_result["Result"],
        json!({"Succeeded": ACCOUNTS - failed_accounts, "Failed": failed_accounts})
    );

    // Every row's outcome, in order.
    for (r, id) in job_ids.iter().enumerate() {
        let logs: Vec<Value> = client
            .get(format!(
                "{}/api/web/v2/mobileFlashPass/download/logs/{id}",
                server.url
            ))
            .bearer_auth(&token)
            .send()
            .await
            .expect("logs")
            .json()
            .await
            .expect("logs json");
        assert_eq!(logs.len(), IDS_PER_REQUEST);
        for (i, row) in logs.iter().enumerate() {
            assert_eq!(row["row"], json!(i + 1));
            let expected = if workload_id(r, i).1 {
                "SUCCEEDED"
            } else {
                "FAILED"
            };
            assert_eq!(row["outcome"], expected, "job {r} row {}", i + 1);
        }
    }
    // The result lists at most 1,000 items: every succeeded row, a page at a time.
    assert_eq!(
        upload_result["SucceededItems"]["Total"],
        json!(ACCOUNTS - failed_accounts)
    );
    let mut succeeded_ids: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!(
            "{}/PasswordVault/API/BulkActions/Accounts/{bulk_id}/rows?outcome=succeeded&limit=1000",
            server.url
        );
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let page: Value = client
            .get(url)
            .bearer_auth(&token)
            .send()
            .await
            .expect("rows")
            .json()
            .await
            .expect("rows json");
        let items = page["Items"].as_array().expect("items");
        succeeded_ids.extend(
            items
                .iter()
                .map(|item| item["id"].as_str().unwrap_or_default().to_owned()),
        );
        match page["NextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(succeeded_ids.len(), ACCOUNTS - failed_accounts);
    assert_eq!(
        succeeded_ids.iter().collect::<HashSet<_>>().len(),
        ACCOUNTS - failed_accounts,
        "every created account has its own id"
    );
    server.stop();

    // The side effects, read from the store itself: one pass for every succeeded row and
    // none for the others; each created account recorded once, under the id reported.
    let store = EmbeddedStore::open(&data.join("bulkops.redb")).expect("reopen store");
    for (r, job_id) in job_ids.iter().enumerate() {
        let keys: Vec<(RecordKey, bool)> = (0..IDS_PER_REQUEST)
            .map(|i| {
                let (id, ok) = workload_id(r, i);
                let enrollment = EnrollmentRef::from_id(&id).expect("enrollment id");
                (pass_key(&enrollment, job_id), ok)
            })
            .collect();
        let all: Vec<RecordKey> = keys.iter().map(|(k, _)| k.clone()).collect();
        let found = store.get_many(&all).await.expect("read passes");
        for (key, ok) in keys {
            assert_eq!(found.contains_key(&key), ok, "pass {key:?}");
        }
    }
    let accounts: Vec<(RecordKey, bool)> = (0..ACCOUNTS)
        .map(|i| {
            let (value, ok) = account(i);
            let model = parse_account(&value, "account")
                .expect("a valid account")
                .model;
            (account_key(&model), ok)
        })
        .collect();
    let all: Vec<RecordKey> = accounts.iter().map(|(k, _)| k.clone()).collect();
    let found = store.get_many(&all).await.expect("read accounts");
    let mut stored_ids = HashSet::new();
    for (key, ok) in accounts {
        assert_eq!(found.contains_key(&key), ok, "account {key:?}");
        if let Some(record) = found.get(&key) {
            assert_eq!(
                record["secret"].as_str().map(|s| s.starts_with("pw-")),
                Some(true)
            );
            stored_ids.insert(record["id"].as_str().unwrap_or_default().to_owned());
        }
    }
    assert_eq!(
        stored_ids,
        succeeded_ids.into_iter().collect::<HashSet<_>>()
    );
}

/// What a caller saw survives a crash: the server syncs its lazy row-work commits only every
/// ten minutes here, yet a job a caller saw COMPLETED is still COMPLETED after a SIGKILL, with
/// the same end time (it is not rolled back and completed a second time). Reads are made
/// durable before they answer.
#[tokio::test]
async fn a_job_a_caller_saw_completed_survives_a_crash() {
    let root = fresh_dir("durable-reads");
    let data = root.path().join("data");
    let lazy = ["--demo", "--sync-interval-ms", "600000"];
    let server = ServerProcess::start(Path::new(BINARY), &data, &lazy);
    let token = server.token("alice", "ISSUANCE:ADD ISSUANCE:VIEW");
    let client = reqwest::Client::new();
    let ids: Vec<String> = (0..50)
        .map(bulkops_testkit::scenario::enrollment_id)
        .collect();
    let job: Value = client
        .post(format!("{}/api/web/v2/mobileFlashPass", server.url))
        .bearer_auth(&token)
        .json(&json!({ "ids": ids }))
        .send()
        .await
        .expect("submit")
        .json()
        .await
        .expect("job");
    let path = format!(
        "/api/web/v1/mobileFlashPass/{}",
        job["id"].as_str().expect("id")
    );
    let get = |server: &ServerProcess| {
        let request = client
            .get(format!("{}{path}", server.url))
            .bearer_auth(&token)
            .send();
        async move {
            request
                .await
                .expect("GET")
                .json::<Value>()
                .await
                .expect("job")
        }
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let seen = loop {
        let current = get(&server).await;
        if current["state"] == "COMPLETED" {
            break current;
        }
        assert!(
            Instant::now() < deadline,
            "the job did not complete: {current}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    server.kill();
    let server = ServerProcess::start(Path::new(BINARY), &data, &[]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = get(&server).await;
    assert_eq!(
        after, seen,
        "the completed job a caller saw is exactly what survived"
    );
    server.stop();
}
