//! A staged flash pass job through `bulkops serve` over HTTP (issue 11, items 1 and 6): the
//! create answers AWAITING_DATA with a signed upload URL; a wrong or expired signature is a
//! 403; the file (20,000 rows here; the million-row run belongs in the bench) is taken as a
//! stream and split, and the job runs to COMPLETED with exact counts; the URL then takes no
//! second file; a file that is not rows fails its job with an `errorMessage`.

use std::path::Path;
use std::sync::Arc;

use bulkops::local::uploads::LocalUploads;
use bulkops::reference::load_enrollments;
use bulkops_embedded::EmbeddedStore;
use bulkops_shared::staged::UploadStore;
use bulkops_shared::store::RecordStore;
use bulkops_testkit::scenario::{enrollment, enrollment_id};
use bulkops_testkit::server::{fresh_dir, ServerProcess};
use serde_json::{json, Value};

const BINARY: &str = env!("CARGO_BIN_EXE_bulkops");
const ROWS: usize = 20_000;

async fn create(server: &ServerProcess, token: &str) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{}/api/web/v2/mobileFlashPass/uploads", server.url))
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), 200);
    response.json().await.expect("JSON")
}

async fn put(url: &str, body: Vec<u8>) -> (u16, Value) {
    let response = reqwest::Client::new()
        .put(url)
        .body(body)
        .send()
        .await
        .expect("PUT");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Waits until job `id` is final; returns it.
async fn ended(server: &ServerProcess, token: &str, id: &str) -> Value {
    for _ in 0..600 {
        let job: Value = reqwest::Client::new()
            .get(format!("{}/api/web/v1/mobileFlashPass/{id}", server.url))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET")
            .json()
            .await
            .expect("JSON");
        if ["COMPLETED", "FAILED", "CANCELLED"].contains(&job["state"].as_str().unwrap_or("")) {
            return job;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("job {id} did not end within 60 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staged_file_runs_through_the_local_server() {
    let data = fresh_dir("staged");
    {
        // Reference data first (the server holds the store's lock while it runs).
        let store = EmbeddedStore::open(&data.path().join("bulkops.redb")).expect("open store");
        let records: Arc<dyn RecordStore> = Arc::new(store);
        load_enrollments(&records, (0..ROWS).map(enrollment).collect())
            .await
            .expect("load enrollments");
    }
    let server = ServerProcess::start(Path::new(BINARY), data.path(), &[]);
    let token = server.token("alice", "ISSUANCE:ADD ISSUANCE:VIEW");

    let job = create(&server, &token).await;
    assert_eq!(job["state"], "AWAITING_DATA", "{job}");
    assert_eq!(job["totalRows"], 0);
    assert_eq!(job["upload"]["method"], "PUT");
    assert_eq!(job["upload"]["expiresAt"], job["uploadExpiresAt"]);
    let (id, url) = (
        job["id"].as_str().unwrap().to_owned(),
        job["upload"]["url"].as_str().unwrap().to_owned(),
    );

    // Signatures: wrong, for another expiry, for another job, expired.
    let wrong = format!("{}0000", &url[..url.len() - 4]);
    assert_eq!(put(&wrong, b"x\n".to_vec()).await.0, 403);
    let other_expiry = url.replacen("expires=", "expires=1", 1);
    assert_eq!(put(&other_expiry, b"x\n".to_vec()).await.0, 403);
    let other_job = url.replacen(&id, "00000000-0000-4000-8000-000000000000", 1);
    assert_eq!(put(&other_job, b"x\n".to_vec()).await.0, 403);
    let signer = LocalUploads::open(data.path(), server.url.clone()).expect("the server's key");
    let expired = signer.upload_target(&id, 1_000).await.unwrap();
    let (status, body) = put(&expired.url, b"x\n".to_vec()).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("FORBIDDEN")),
        "{body}"
    );

    // The file: every 50th enrollment unknown, with a header.
    let mut file = String::from("id\n");
    for i in 0..ROWS {
        let known = i % 50 != 7;
        let id = enrollment_id(if known { i } else { 2_000_000 + i });
        file.push_str(&id);
        file.push('\n');
    }
    let (status, body) = put(&url, file.into_bytes()).await;
    assert_eq!(status, 200, "{body}");
    let done = ended(&server, &token, &id).await;
    let unknown = (0..ROWS).filter(|i| i % 50 == 7).count();
    assert_eq!(done["state"], "COMPLETED", "{done}");
    assert_eq!(done["totalRows"], ROWS);
    assert_eq!(done["rowsProcessed"], ROWS - unknown);
    assert_eq!(done["rowsFailed"], unknown);
    assert_eq!(done["firstFailedRow"], 8);
    // The URL takes no second file.
    assert_eq!(put(&url, b"x\n".to_vec()).await.0, 409);

    // A file that is not rows fails its job.
    let binary = create(&server, &token).await;
    let url = binary["upload"]["url"].as_str().unwrap();
    assert_eq!(put(url, vec![0, 159, 146, 150]).await.0, 200);
    let failed = ended(&server, &token, binary["id"].as_str().unwrap()).await;
    assert_eq!(failed["state"], "FAILED");
    assert!(
        failed["errorMessage"]
            .as_str()
            .unwrap_or_default()
            .contains("not UTF-8 text"),
        "{failed}"
    );
}
