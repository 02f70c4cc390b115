//! `Idempotency-Key` through `bulkops serve` (the embedded store) over real HTTP: ten
//! concurrent duplicates create one job, a retry replays the first answer, another body is a
//! 422 with the API's error shape.

use std::collections::BTreeSet;
use std::path::Path;

use bulkops_testkit::scenario::enrollment_id;
use bulkops_testkit::server::{fresh_dir, ServerProcess};
use serde_json::{json, Value};

const BINARY: &str = env!("CARGO_BIN_EXE_bulkops");
const MFP: &str = "/api/web/v2/mobileFlashPass";
const MFP_JOBS: &str = "/api/web/v1/mobileFlashPass";
const ALL: &str = "ISSUANCE:ADD ISSUANCE:VIEW ISSUANCE:REMOVE";

async fn post(url: &str, token: &str, key: &str, body: &Value) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(url)
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .expect("POST");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_create_one_job_and_replay_its_answer() {
    let root = fresh_dir("idempotency");
    let server = ServerProcess::start(Path::new(BINARY), &root.path().join("data"), &[]);
    let alice = server.token("alice", ALL);
    let url = format!("{}{MFP}", server.url);
    let body = json!({ "ids": (0..20).map(enrollment_id).collect::<Vec<_>>() });

    let calls = (0..10).map(|_| post(&url, &alice, "local-race", &body));
    let answers = futures::future::join_all(calls).await;
    let mut ids = BTreeSet::new();
    for (status, text) in &answers {
        let answer: Value = serde_json::from_str(text).expect("a JSON answer");
        match status {
            200 => {
                ids.insert(answer["id"].as_str().expect("job id").to_owned());
            }
            409 => assert_eq!(answer["code"], "IDEMPOTENCY_KEY_IN_USE"),
            other => panic!("{other}: {text}"),
        }
    }
    assert_eq!(ids.len(), 1, "{answers:?}");
    let first = answers
        .iter()
        .find(|(status, _)| *status == 200)
        .map(|(_, text)| text.clone())
        .expect("a 200");

    let (status, replayed) = post(&url, &alice, "local-race", &body).await;
    assert_eq!((status, replayed), (200, first));
    let (status, other) = post(
        &url,
        &alice,
        "local-race",
        &json!({"ids": [enrollment_id(1)]}),
    )
    .await;
    assert_eq!(status, 422, "{other}");

    let list: Value = reqwest::Client::new()
        .get(format!("{}{MFP_JOBS}", server.url))
        .bearer_auth(&alice)
        .send()
        .await
        .expect("GET")
        .json()
        .await
        .expect("the list");
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    server.stop();
}
