//! `submit` and the wait against a canned server: submit, poll, failed-rows file, exit
//! statuses and the error paths.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::args::{OutputArgs, ServerArgs, WaitFlags};
use super::http::ApiClient;
use super::progress::{Progress, Show};
use super::retry::Backoff;
use super::test_server::TestServer;
use super::wait::{Job, Polling, WaitError};
use super::*;

mod waits_and_retries;

/// A scratch directory removed when the test ends.
struct Scratch(tempfile::TempDir);

impl Scratch {
    fn new() -> Self {
        Self(tempfile::tempdir().expect("scratch dir"))
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.path().join(name);
        std::fs::write(&path, text).expect("write input");
        path
    }
}

fn args(file: &Path, url: &str) -> SubmitArgs {
    SubmitArgs {
        file: file.to_path_buf(),
        api: None,
        source: None,
        failed: None,
        no_wait: false,
        wait: WaitFlags {
            poll_ms: 5,
            timeout_secs: 10,
            no_progress: true,
        },
        server: ServerArgs {
            url: format!("{url}/"),
            token: Some("t0k".into()),
        },
        output: OutputArgs {
            json: false,
            quiet: true,
        },
    }
}

async fn submit(args: SubmitArgs) -> Result<Exit, ClientError> {
    let out = Output::from(args.output);
    let tracker = Tracker::default();
    submit::run(&args, &out, &tracker).await
}

fn ok(body: Value) -> (u16, String) {
    (200, body.to_string())
}

#[tokio::test]
async fn mfp_csv_job_writes_its_failed_row_in_csv() {
    let polls = Arc::new(AtomicUsize::new(0));
    let counter = polls.clone();
    let server = TestServer::start(move |request| {
        match (request.method.as_str(), request.path.as_str()) {
            ("POST", "/api/web/v2/mobileFlashPass") => ok(json!({
                "id": "job-1", "type": "SEND_MFP", "state": "SCHEDULED",
                "rowsProcessed": 0, "rowsFailed": 0, "rowsSkipped": 0, "totalRows": 3
            })),
            ("GET", "/api/web/v1/mobileFlashPass/job-1") => {
                if counter.fetch_add(1, Ordering::SeqCst) == 0 {
                    ok(json!({"id": "job-1", "state": "PROCESSING", "rowsProcessed": 1, "totalRows": 3}))
                } else {
                    ok(json!({
                        "id": "job-1", "state": "COMPLETED", "rowsProcessed": 2, "rowsFailed": 1,
                        "rowsSkipped": 0, "totalRows": 3, "firstFailedRow": 2, "errorMessage": "no such enrollment"
                    }))
                }
            }
            ("GET", "/api/web/v2/mobileFlashPass/download/logs/job-1") => ok(json!([
                {"row": 1, "id": "YQ", "outcome": "SUCCEEDED"},
                {"row": 2, "id": "Yg", "outcome": "FAILED", "errorCode": "ENROLLMENT_NOT_FOUND", "errorMessage": "no such enrollment"},
                {"row": 3, "id": "Yw", "outcome": "SUCCEEDED"}
            ])),
            _ => (404, json!({"code": "NOT_FOUND", "message": "no route"}).to_string()),
        }
    })
    .await;
    let scratch = Scratch::new();
    let file = scratch.file("ids.csv", "id\nYQ\nYg\nYw\n");

    let exit = submit(args(&file, &server.url)).await.unwrap();

    assert_eq!(exit, Exit::RowsFailed);
    let failed = scratch.0.path().join("ids.failed.csv");
    assert_eq!(std::fs::read_to_string(&failed).unwrap(), "id\nYg\n");

    let requests = server.requests();
    let submit = &requests[0];
    assert_eq!(submit.header("authorization"), Some("Bearer t0k"));
    assert_eq!(submit.header("content-type"), Some("application/json"));
    let key = submit.header("idempotency-key").unwrap_or_default();
    assert!(uuid::Uuid::parse_str(key).is_ok(), "{key:?}");
    let body: Value = serde_json::from_slice(&submit.body).unwrap();
    assert_eq!(body, json!({"ids": ["YQ", "Yg", "Yw"]}));
    assert!(polls.load(Ordering::SeqCst) >= 2);
}

#[tokio::test]
async fn accounts_json_job_writes_failed_rows_in_the_input_shape() {
    let server = TestServer::start(|request| match (request.method.as_str(), request.path.as_str()) {
        ("POST", "/PasswordVault/API/BulkActions/Accounts") => (202, "17".into()),
        ("GET", "/PasswordVault/API/BulkActions/Accounts/17") => ok(json!({
            "Id": 17, "Source": "hr", "CreationTime": 1, "Status": "completedWithErrors",
            "Result": {"Succeeded": 1, "Failed": 1},
            "SucceededItems": {"Total": 1, "Items": [{"uploadIndex": 5, "safeName": "s", "id": "24_1"}]},
            "FailedItems": {"Total": 1, "Items": [
                {"uploadIndex": 2, "safeName": "t", "platformId": "p", "error": "You are not authorized", "errorCode": "NOT_AUTHORIZED"}
            ]}
        })),
        _ => (404, json!({"code": "NOT_FOUND", "message": "no route"}).to_string()),
    })
    .await;
    let scratch = Scratch::new();
    let file = scratch.file(
        "accounts.json",
        r#"{"source": "hr", "accountsList": [
            {"uploadIndex": 5, "safeName": "s", "platformId": "p", "secret": "a"},
            {"safeName": "t", "platformId": "p", "secret": "b"}]}"#,
    );
    let failed = scratch.0.path().join("retry.json");
    let mut args = args(&file, &server.url);
    args.failed = Some(failed.clone());

    let exit = submit(args).await.unwrap();

    assert_eq!(exit, Exit::RowsFailed);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&failed).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the row holds a secret");
    }
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&failed).unwrap()).unwrap();
    assert_eq!(
        written,
        json!({"source": "hr", "accountsList": [{"safeName": "t", "platformId": "p", "secret": "b"}]})
    );
    let body: Value = serde_json::from_slice(&server.requests()[0].body).unwrap();
    assert_eq!(body["source"], "hr");
    assert_eq!(body["accountsList"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn a_rejected_submit_says_status_code_and_message() {
    let server = TestServer::start(|_| {
        let body = json!({"code": "INVALID_REQUEST", "message": "ids[1] is not a valid Base64 enrollment id", "target": "ids[1]"});
        (400, body.to_string())
    })
    .await;
    let scratch = Scratch::new();
    let file = scratch.file("ids.csv", "id\nYQ\nYg\n");

    let error = submit(args(&file, &server.url)).await.unwrap_err();

    assert_eq!(
        error.to_string(),
        "submit rejected: 400 INVALID_REQUEST ids[1] is not a valid Base64 enrollment id"
    );
    assert_eq!(error.exit(), Exit::Input);
}

#[tokio::test]
async fn an_unauthorized_submit_hints_at_the_token() {
    let server = TestServer::start(|_| {
        (
            401,
            json!({"code": "UNAUTHORIZED", "message": "missing or invalid identity"}).to_string(),
        )
    })
    .await;
    let scratch = Scratch::new();
    let file = scratch.file("ids.csv", "id\nYQ\n");

    let error = submit(args(&file, &server.url)).await.unwrap_err();
    assert_eq!(error.exit(), Exit::Auth);
    let error = error.to_string();

    assert!(
        error.starts_with("submit rejected: 401 UNAUTHORIZED"),
        "{error}"
    );
    assert!(
        error.contains("--token") && error.contains("bulkops token"),
        "{error}"
    );
}

#[tokio::test]
async fn an_input_over_the_request_limit_goes_as_a_staged_file() {
    // The upload URL names the server itself, known once it listens.
    let base = Arc::new(std::sync::Mutex::new(String::new()));
    let url = base.clone();
    let server =
        TestServer::start(
            move |request| match (request.method.as_str(), request.path.as_str()) {
                ("POST", "/api/web/v2/mobileFlashPass/uploads") => ok(json!({
                    "id": "job-9", "state": "AWAITING_DATA", "totalRows": 0,
                    "upload": {"url": format!("{}/put/job-9?signature=s", url.lock().unwrap()),
                               "method": "PUT", "expiresAt": "2026-12-03T20:00:00Z"}
                })),
                ("PUT", "/put/job-9?signature=s") => (200, String::new()),
                ("GET", "/api/web/v1/mobileFlashPass/job-9") => ok(json!({
                    "id": "job-9", "state": "COMPLETED", "totalRows": 5_000,
                    "rowsProcessed": 5_000, "rowsFailed": 0
                })),
                _ => (
                    404,
                    json!({"code": "NOT_FOUND", "message": "no route"}).to_string(),
                ),
            },
        )
        .await;
    *base.lock().unwrap() = server.url.clone();
    let scratch = Scratch::new();
    let ids: String = (0..5_000).map(|i| format!("{:0>48}\n", i)).collect();
    let file = scratch.file("ids.csv", &ids);

    let exit = submit(args(&file, &server.url)).await.unwrap();

    assert_eq!(exit, Exit::Success);
    let requests = server.requests();
    let create = &requests[0];
    assert_eq!(create.path, "/api/web/v2/mobileFlashPass/uploads");
    assert!(create.header("idempotency-key").is_some());
    let put = &requests[1];
    assert_eq!(put.method, "PUT");
    assert_eq!(
        put.header("authorization"),
        None,
        "the signed URL is the credential"
    );
    let lines: Vec<&str> = std::str::from_utf8(&put.body).unwrap().lines().collect();
    assert_eq!(lines.len(), 5_000);
    assert_eq!(
        lines[7],
        format!("\"{:0>48}\"", 7),
        "one JSON id per line, in order"
    );
    assert!(
        !requests
            .iter()
            .any(|r| r.path == "/api/web/v2/mobileFlashPass"),
        "no direct request"
    );
}

#[tokio::test]
async fn the_failed_rows_file_may_not_be_the_input() {
    let server = TestServer::start(|_| (500, String::new())).await;
    let scratch = Scratch::new();
    let file = scratch.file("ids.csv", "id\nYQ\n");
    let mut args = args(&file, &server.url);
    args.failed = Some(scratch.0.path().join(".").join("ids.csv"));

    let error = submit(args).await.unwrap_err();

    assert_eq!(error.exit(), Exit::Input);
    assert!(
        error.to_string().contains("is the input file itself"),
        "{error}"
    );
    assert!(server.requests().is_empty());
}
