//! The rows routes of both APIs through `bulkops serve` over HTTP: a cursor taken while
//! nothing has run (`--workers 0`) is polled again after a restart with workers, and the
//! pages from it are the whole row log, in order, ending with a null cursor; the upload's
//! pages in any spelling of the path, filtered; the errors in each API's shape.

use std::path::Path;

use bulkops_testkit::scenario::enrollment_id;
use bulkops_testkit::server::{fresh_dir, ServerProcess};
use serde_json::{json, Value};

const BINARY: &str = env!("CARGO_BIN_EXE_bulkops");
const ALL: &str = "ISSUANCE:ADD ISSUANCE:VIEW ISSUANCE:REMOVE";
const UPLOADS: &str = "/PasswordVault/API/BulkActions/Accounts";

async fn call(
    server: &ServerProcess,
    token: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let client = reqwest::Client::new();
    let url = format!("{}{path}", server.url);
    let mut request = match method {
        "POST" => client.post(url),
        _ => client.get(url),
    }
    .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Waits until `path` answers a `field` for which `done` holds.
async fn wait_for(
    server: &ServerProcess,
    token: &str,
    path: &str,
    field: &str,
    done: fn(&str) -> bool,
) {
    for _ in 0..300 {
        let (_, body) = call(server, token, "GET", path, None).await;
        if body[field].as_str().is_some_and(done) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{path} did not end within 30 s");
}

/// Every page of `path` from `cursor` on, `limit` rows each: the rows, in order.
async fn follow(
    server: &ServerProcess,
    token: &str,
    path: &str,
    query: &str,
    (rows_key, next_key): (&str, &str),
    mut cursor: Option<String>,
) -> Vec<Value> {
    let mut rows = Vec::new();
    for _ in 0..100 {
        let mut url = format!("{path}?{query}");
        if let Some(cursor) = &cursor {
            url.push_str(&format!("&cursor={cursor}"));
        }
        let (status, page) = call(server, token, "GET", &url, None).await;
        assert_eq!(status, 200, "{url}: {page}");
        rows.extend(page[rows_key].as_array().expect("rows").iter().cloned());
        match &page[next_key] {
            Value::Null => return rows,
            next => cursor = Some(next.as_str().expect("a cursor").to_owned()),
        }
    }
    panic!("{path}: no end after 100 pages");
}

#[tokio::test]
async fn pages_over_http_continue_across_a_restart_and_end_with_the_job() {
    let data = fresh_dir("rows");
    let server = ServerProcess::start(
        Path::new(BINARY),
        data.path(),
        &["--demo", "--workers", "0"],
    );
    let alice = server.token("alice", ALL);
    let ids: Vec<String> = (0..1_000)
        .map(|i| {
            if i % 100 == 7 {
                enrollment_id(9_000_000 + i)
            } else {
                enrollment_id(i)
            }
        })
        .collect();
    let (status, job) = call(
        &server,
        &alice,
        "POST",
        "/api/web/v2/mobileFlashPass",
        Some(&json!({"ids": ids})),
    )
    .await;
    assert_eq!(status, 200, "{job}");
    let id = job["id"].as_str().expect("job id").to_owned();
    let upload: Value = serde_json::from_str(
        &std::fs::read_to_string(data.path().join("demo/accounts.json")).expect("the demo upload"),
    )
    .expect("JSON");
    let (status, bulk) = call(&server, &alice, "POST", UPLOADS, Some(&upload)).await;
    assert_eq!(status, 202, "{bulk}");
    let bulk = bulk.as_i64().expect("a bare bulk id");

    // Nothing has run: no rows yet, and a cursor to come back with.
    let rows_path = format!("/api/web/v2/mobileFlashPass/{id}/rows");
    let (status, waiting) = call(
        &server,
        &alice,
        "GET",
        &format!("{rows_path}?limit=10"),
        None,
    )
    .await;
    assert_eq!((status, &waiting["rows"]), (200, &json!([])), "{waiting}");
    let cursor = waiting["nextCursor"].as_str().expect("a cursor").to_owned();
    let upload_rows = format!("/passwordvault/api/bulkactions/accounts/{bulk}/ROWS/");
    let (status, pending) = call(&server, &alice, "GET", &upload_rows, None).await;
    assert_eq!((status, &pending["Items"]), (200, &json!([])), "{pending}");
    assert!(pending["NextCursor"].is_string(), "{pending}");
    server.stop();

    // The same data directory with workers: the jobs run, and the cursor goes on.
    let server = ServerProcess::start(Path::new(BINARY), data.path(), &[]);
    let job_path = format!("/api/web/v1/mobileFlashPass/{id}");
    wait_for(&server, &alice, &job_path, "state", |s| s == "COMPLETED").await;
    let upload_path = format!("{UPLOADS}/{bulk}");
    wait_for(&server, &alice, &upload_path, "Status", |s| {
        s.starts_with("completed")
    })
    .await;

    let rows = follow(
        &server,
        &alice,
        &rows_path,
        "limit=100",
        ("rows", "nextCursor"),
        Some(cursor),
    )
    .await;
    let logs_path = format!("/api/web/v2/mobileFlashPass/download/logs/{id}");
    let logs = reqwest::Client::new()
        .get(format!("{}{logs_path}", server.url))
        .bearer_auth(&alice)
        .send()
        .await
        .expect("logs")
        .json::<Vec<Value>>()
        .await
        .expect("a JSON array");
    assert_eq!(rows.len(), 1_000);
    assert_eq!(rows, logs, "the pages are the row log");
    let failed = follow(
        &server,
        &alice,
        &rows_path,
        "outcome=failed&limit=3",
        ("rows", "nextCursor"),
        None,
    )
    .await;
    let failed: Vec<u64> = failed.iter().map(|r| r["row"].as_u64().unwrap()).collect();
    assert_eq!(failed, (0..10).map(|k| 100 * k + 8).collect::<Vec<_>>());

    // The upload: its failed row, as its result lists it, with its row and outcome.
    let items = follow(
        &server,
        &alice,
        &upload_rows,
        "outcome=Failed",
        ("Items", "NextCursor"),
        None,
    )
    .await;
    let (_, result) = call(&server, &alice, "GET", &upload_path, None).await;
    let mut expected = result["FailedItems"]["Items"][0].clone();
    expected["row"] = json!(3);
    expected["outcome"] = json!("failed");
    assert_eq!(items, vec![expected]);

    // Errors in each API's shape; another user's upload is not found.
    let (status, error) = call(
        &server,
        &alice,
        "GET",
        &format!("{rows_path}?limit=0"),
        None,
    )
    .await;
    assert_eq!(
        (status, &error["target"]),
        (400, &json!("limit")),
        "{error}"
    );
    let (_, page) = call(
        &server,
        &alice,
        "GET",
        &format!("{rows_path}?limit=1"),
        None,
    )
    .await;
    let foreign = page["nextCursor"].as_str().expect("a cursor");
    let (status, error) = call(
        &server,
        &alice,
        "GET",
        &format!("{upload_rows}?cursor={foreign}"),
        None,
    )
    .await;
    assert_eq!(
        (status, &error["Details"]["target"]),
        (400, &json!("cursor")),
        "{error}"
    );
    let bob = server.token("bob", ALL);
    let (status, error) = call(&server, &bob, "GET", &upload_rows, None).await;
    assert_eq!(
        (status, &error["ErrorCode"]),
        (404, &json!("NOT_FOUND")),
        "{error}"
    );
    server.stop();
}
