//! The local server as a newcomer runs it: `bulkops serve` as a child process on a fresh
//! data directory, driven over real HTTP with tokens from `bulkops token`.

use std::path::Path;
use std::process::Command;

use bulkops_testkit::scenario::enrollment_id;
use bulkops_testkit::server::{fresh_dir, token, ServerProcess};
use serde_json::{json, Value};

const BINARY: &str = env!("CARGO_BIN_EXE_bulkops");
const MFP: &str = "/api/web/v2/mobileFlashPass";
const MFP_JOBS: &str = "/api/web/v1/mobileFlashPass";
const UPLOADS: &str = "/PasswordVault/API/BulkActions/Accounts";
const ALL: &str = "ISSUANCE:ADD ISSUANCE:VIEW ISSUANCE:REMOVE";

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn get(server: &ServerProcess, token: &str, path: &str) -> (u16, Value) {
    let response = client()
        .get(format!("{}{path}", server.url))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

async fn post(server: &ServerProcess, token: &str, path: &str, body: &Value) -> (u16, Value) {
    let response = client()
        .post(format!("{}{path}", server.url))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .expect("POST");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Polls `path` until `done` says so (at most `seconds`).
async fn wait_for(
    server: &ServerProcess,
    token: &str,
    path: &str,
    seconds: u64,
    done: impl Fn(&Value) -> bool,
) -> Value {
    for _ in 0..seconds * 10 {
        let (status, body) = get(server, token, path).await;
        assert_eq!(status, 200, "{path}: {body}");
        if done(&body) {
            return body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{path} did not finish within {seconds} s");
}

/// Runs `bulkops submit`; returns its exit code and output.
fn submit_file(server: &ServerProcess, token: &str, file: &Path) -> (Option<i32>, String) {
    let output = Command::new(BINARY)
        .args([
            "submit",
            "--no-progress",
            "--url",
            &server.url,
            "--token",
            token,
        ])
        .arg(file)
        .output()
        .expect("run bulkops submit");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code(), text)
}

/// The README's run command on a fresh directory: both APIs work end to end over HTTP,
/// through the operator client and through plain requests.
#[tokio::test]
async fn a_newcomer_runs_both_apis_end_to_end() {
    let root = fresh_dir("newcomer");
    let data = root.path().join(".bulkops");
    let server = ServerProcess::start(Path::new(BINARY), &data, &["--demo"]);
    let alice = server.token("alice", ALL);

    // The flash pass example from the demo files, through the operator client.
    let ids_csv = data.join("demo/mfp-ids.csv");
    let (code, output) = submit_file(&server, &alice, &ids_csv);
    assert_eq!(code, Some(3), "completed with failed rows:\n{output}");
    assert!(output.contains("COMPLETED"), "{output}");
    assert!(output.contains("990 succeeded"), "{output}");
    assert!(output.contains("10 failed"), "{output}");
    // The failed rows come back as a CSV of the same shape: the ten unknown enrollments.
    let failed =
        std::fs::read_to_string(data.join("demo/mfp-ids.failed.csv")).expect("failed rows file");
    let failed_ids: Vec<&str> = failed.lines().filter(|l| *l != "id").collect();
    let expected: Vec<String> = (0..1_000)
        .filter(|n| n % 100 == 99)
        .map(|n| enrollment_id(5_000_000 + n))
        .collect();
    assert_eq!(failed_ids, expected);

    // The same API with plain HTTP: create, get, list, logs.
    let ids: Vec<String> = (0..20).map(enrollment_id).collect();
    let (status, job) = post(&server, &alice, MFP, &json!({ "ids": ids })).await;
    assert_eq!(status, 200, "{job}");
    let id = job["id"].as_str().expect("job id").to_owned();
    let done = wait_for(&server, &alice, &format!("{MFP_JOBS}/{id}"), 60, |job| {
        job["state"] == "COMPLETED"
    })
    .await;
    assert_eq!(
        (done["rowsProcessed"].clone(), done["rowsFailed"].clone()),
        (json!(20), json!(0))
    );
    let (status, logs) = get(
        &server,
        &alice,
        &format!("/api/web/v2/mobileFlashPass/download/logs/{id}"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(logs.as_array().map(Vec::len), Some(20));
    let (_, list) = get(&server, &alice, MFP_JOBS).await;
    assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");

    // The account upload sample, through the client (CSV) and plain HTTP (JSON).
    let (code, output) = submit_file(&server, &alice, &data.join("demo/accounts.csv"));
    assert_eq!(code, Some(3), "completed with failed rows:\n{output}");
    assert!(output.contains("completedWithErrors"), "{output}");
    assert!(output.contains("NOT_AUTHORIZED"), "{output}");
    let failed = std::fs::read_to_string(data.join("demo/accounts.failed.csv")).expect("failed");
    let lines: Vec<&str> = failed.lines().collect();
    assert_eq!(lines.len(), 2, "{failed}");
    assert!(lines[1].starts_with("3,OracleAdmin,"), "{failed}");

    let bob = server.token("bob", "");
    let upload = json!({"source": "bob.csv", "accountsList": [
        {"userName": "svc1", "address": "h1", "safeName": "UnixAdminPasswords", "platformId": "UnixSSH", "secret": "pw1"},
        {"userName": "svc2", "address": "h2", "safeName": "WindowsPasswords", "platformId": "UnixSSH", "secret": "pw2"},
    ]});
    let (status, bulk_id) = post(&server, &bob, UPLOADS, &upload).await;
    assert_eq!(status, 202, "{bulk_id}");
    let bulk_id = bulk_id.as_i64().expect("bare int64 bulk id");
    let result = wait_for(&server, &bob, &format!("{UPLOADS}/{bulk_id}"), 60, |r| {
        r["Status"]
            .as_str()
            .is_some_and(|s| s.starts_with("completed"))
    })
    .await;
    assert_eq!(result["Result"], json!({"Succeeded": 1, "Failed": 1}));
    let account_id = result["SucceededItems"]["Items"][0]["id"]
        .as_str()
        .unwrap_or_default();
    assert!(account_id.starts_with("24_"), "{result}");
    assert_eq!(
        result["FailedItems"]["Items"][0]["errorCode"],
        "NOT_AUTHORIZED"
    );
    let (_, mine) = get(&server, &bob, UPLOADS).await;
    assert_eq!(mine["Total"], 1, "bob sees only his own upload: {mine}");
    // Another user's upload does not exist for alice.
    let (status, body) = get(&server, &alice, &format!("{UPLOADS}/{bulk_id}")).await;
    assert_eq!(status, 404, "{body}");

    server.stop();
}

/// 401 for every kind of bad token, 403 without the permission, 404 for what is not there,
/// each with a JSON body that says what is wrong.
#[tokio::test]
async fn unauthorized_forbidden_and_not_found_over_http() {
    let root = fresh_dir("auth");
    let data = root.path().join("data");
    let server = ServerProcess::start(Path::new(BINARY), &data, &[]);
    let url = |path: &str| format!("{}{path}", server.url);
    let expired = token(Path::new(BINARY), &data, "alice", ALL, -10);
    let foreign = {
        let other = root.path().join("other");
        token(Path::new(BINARY), &other, "alice", ALL, 3600)
    };
    // A token with "alg": "none" and no signature.
    let unsigned =
        "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhbGljZSIsInNjb3BlIjoiSVNTVUFOQ0U6QUREIn0.";
    let body = json!({"ids": [enrollment_id(1)]});
    let cases: Vec<(Option<String>, &str)> = vec![
        (None, "a token is required"),
        (Some(format!("Bearer {expired}")), "expired"),
        (
            Some(format!("Bearer {foreign}")),
            "not signed with this server's development key",
        ),
        (Some(format!("Bearer {unsigned}")), "not valid"),
        (Some("Basic YWxpY2U6cHc=".to_owned()), "not valid"),
    ];
    for (authorization, says) in cases {
        for (method, path) in [
            ("POST", MFP),
            ("GET", MFP_JOBS),
            ("POST", UPLOADS),
            ("GET", UPLOADS),
        ] {
            let mut request = client().request(method.parse().expect("method"), url(path));
            if let Some(value) = &authorization {
                request = request.header("authorization", value);
            }
            let response = request.json(&body).send().await.expect("request");
            assert_eq!(
                response.status(),
                401,
                "{method} {path} with {authorization:?}"
            );
            let error: Value = response.json().await.expect("JSON error body");
            // Each API's own error shape: Entrust's {code, message}, PVWA's {ErrorCode, ErrorMessage}.
            let (code, message) = match path {
                UPLOADS => ("ErrorCode", "ErrorMessage"),
                _ => ("code", "message"),
            };
            assert_eq!(error[code], "UNAUTHORIZED", "{error}");
            assert!(
                error[message].as_str().unwrap_or_default().contains(says),
                "{error}"
            );
        }
    }

    let viewer = server.token("carol", "ISSUANCE:VIEW");
    let (status, error) = post(&server, &viewer, MFP, &body).await;
    assert_eq!(status, 403, "{error}");
    assert_eq!(error["code"], "FORBIDDEN");
    assert!(error["message"]
        .as_str()
        .unwrap_or_default()
        .contains("ISSUANCE:ADD"));
    let response = client()
        .delete(url(&format!("{MFP_JOBS}/cancel/{}", uuid::Uuid::new_v4())))
        .bearer_auth(&viewer)
        .send()
        .await
        .expect("DELETE");
    assert_eq!(response.status(), 403);

    let alice = server.token("alice", ALL);
    let (status, error) = get(
        &server,
        &alice,
        &format!("{MFP_JOBS}/{}", uuid::Uuid::new_v4()),
    )
    .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (404, Some("NOT_FOUND")),
        "{error}"
    );
    let (status, error) = get(&server, &alice, &format!("{UPLOADS}/99")).await;
    assert_eq!(
        (status, error["ErrorCode"].as_str()),
        (404, Some("NOT_FOUND")),
        "{error}"
    );
    let (status, error) = get(&server, &alice, "/no/such/route").await;
    assert_eq!(
        (status, error["code"].as_str()),
        (404, Some("NOT_FOUND")),
        "{error}"
    );
    // Methods no route declares are refused by the gateway itself, before any token check.
    let response = client().put(url(MFP)).send().await.expect("PUT");
    assert_eq!(response.status(), 404);
    let error: Value = response.json().await.expect("JSON error body");
    assert_eq!(error["code"], "NOT_FOUND");

    // Nothing above created anything.
    let (_, list) = get(&server, &alice, MFP_JOBS).await;
    assert_eq!(list, json!([]));
    server.stop();
}

/// AWS mode: the same command, given `TABLE_NAME`, `QUEUE_URL` and `DEAD_LETTER_QUEUE_URL`,
/// serves both APIs against DynamoDB and SQS (moto here), with demo data loaded into the
/// table by `bulkops demo-data --table`.
#[tokio::test]
async fn aws_mode_serves_both_apis_against_dynamodb_and_sqs() {
    let fx = bulkops_testkit::Fixture::new().await;
    let endpoint = std::env::var(bulkops_testkit::ENDPOINT_VAR).expect("emulator endpoint");
    let aws_env = [
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    let root = fresh_dir("aws-mode");
    let data = root.path().join("data");
    let loaded = Command::new(BINARY)
        .args(["demo-data", "--table", &fx.table, "--data-dir"])
        .arg(&data)
        .envs(aws_env)
        .output()
        .expect("run bulkops demo-data");
    assert!(
        loaded.status.success(),
        "demo-data failed: {}",
        String::from_utf8_lossy(&loaded.stderr)
    );
    let mut env = aws_env.to_vec();
    env.extend([
        ("TABLE_NAME", fx.table.as_str()),
        ("QUEUE_URL", fx.queue_url.as_str()),
        ("DEAD_LETTER_QUEUE_URL", fx.dlq_url.as_str()),
    ]);
    let server = ServerProcess::start_with_env(Path::new(BINARY), &data, &[], &env);
    let alice = server.token("alice", ALL);

    let ids: Vec<String> = (0..30)
        .map(enrollment_id)
        .chain([enrollment_id(7_000_000)])
        .collect();
    let (status, job) = post(&server, &alice, MFP, &json!({ "ids": ids })).await;
    assert_eq!(status, 200, "{job}");
    let id = job["id"].as_str().expect("job id").to_owned();
    let done = wait_for(&server, &alice, &format!("{MFP_JOBS}/{id}"), 120, |job| {
        job["state"] == "COMPLETED"
    })
    .await;
    assert_eq!(done["rowsProcessed"], 30, "{done}");
    assert_eq!(done["rowsFailed"], 1, "{done}");
    assert_eq!(done["firstFailedRow"], 31, "{done}");
    // The job is in the DynamoDB table, not in a local file.
    let stored = fx.jobs().get_job(&id).await.expect("read the table");
    assert_eq!(stored.map(|j| j.rows_processed), Some(30));

    let (code, output) = submit_file(&server, &alice, &data.join("demo/accounts.json"));
    assert_eq!(code, Some(3), "completed with failed rows:\n{output}");
    assert!(output.contains("completedWithErrors"), "{output}");
    assert!(output.contains("2 succeeded"), "{output}");
    assert_eq!(
        fx.queue_depth(&fx.queue_url).await,
        0,
        "every chunk was deleted"
    );
    server.stop();
}
