//! A Lambda function started without its settings says why once and stops: one JSON error
//! line in its log, and a POST to the Runtime API's init-error endpoint (played here by a
//! local server), so Lambda reports `Runtime.InitError` with the reason; the exit is non-zero.
//! Each function binary of the workspace runs as Lambda would start it.

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use serde_json::Value;

const FUNCTIONS: [&str; 8] = [
    "submit",
    "query",
    "cancel",
    "processor",
    "dead_letter",
    "publisher",
    "intake",
    "splitter",
];

/// `target/<profile>`, where cargo put the function binaries next to this test's directory.
fn binaries() -> PathBuf {
    let test = std::env::current_exe().expect("the test binary");
    test.parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>")
        .to_owned()
}

type Reports = Arc<Mutex<Vec<(String, HeaderMap, String)>>>;

async fn record(
    State(reports): State<Reports>,
    uri: Uri,
    headers: HeaderMap,
    body: String,
) -> StatusCode {
    reports
        .lock()
        .expect("reports")
        .push((uri.path().to_owned(), headers, body));
    StatusCode::ACCEPTED
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_without_its_settings_reports_an_init_error() {
    let reports: Reports = Arc::default();
    let app = axum::Router::new()
        .fallback(record)
        .with_state(reports.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let runtime_api = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await });

    for function in FUNCTIONS {
        let binary = binaries().join(function);
        assert!(
            binary.is_file(),
            "{} is missing: build the functions first (`cargo build --workspace --bins`, as scripts/test.sh does)",
            binary.display()
        );
        let output = tokio::task::spawn_blocking(move || {
            Command::new(&binary)
                .env_clear()
                .env("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string())
                .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
                .env("AWS_REGION", "eu-west-1")
                .env("AWS_ACCESS_KEY_ID", "test")
                .env("AWS_SECRET_ACCESS_KEY", "test")
                .output()
        })
        .await
        .expect("join")
        .expect("run the function");
        assert!(!output.status.success(), "{function} exits non-zero");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let line: Value = stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|l| l["level"] == "ERROR")
            .unwrap_or_else(|| panic!("{function}: no JSON error line in {stdout:?}"));
        assert!(
            line.to_string().contains("TABLE_NAME"),
            "{function}: the line names the setting: {line}"
        );
        let reports = reports.lock().expect("reports");
        let (path, headers, body) = reports.last().expect("a report").clone();
        assert_eq!(path, "/2018-06-01/runtime/init/error", "{function}");
        assert_eq!(
            headers["lambda-runtime-function-error-type"],
            "Runtime.InitError"
        );
        let body: Value = serde_json::from_str(&body).expect("a JSON diagnostic");
        // Submit also reads settings that may be malformed (its quota), hence its wider type.
        let error_type = match function {
            "submit" => "SettingError",
            _ => "MissingSetting",
        };
        assert_eq!(body["errorType"], error_type, "{function}");
        assert!(body["errorMessage"]
            .as_str()
            .unwrap_or_default()
            .contains("TABLE_NAME"));
        assert_eq!(
            reports.len(),
            FUNCTIONS.iter().position(|f| *f == function).unwrap() + 1
        );
    }
}
