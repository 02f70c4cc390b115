//! `bulkops serve` on a disk that fills up: its files may not grow past a limit
//! (`RLIMIT_FSIZE`, with `SIGXFSZ` ignored, so a write past it fails with `EFBIG` as on a full
//! disk). Requests sent one after another are each answered 200 (the job is on disk) or 503
//! with a JSON error (nothing was kept); the server stays up. Started again without the
//! limit, it holds exactly the jobs it answered 200, and each completes with exact counts.
//! With workers, the disk fills under the rows' work between requests; without, under a
//! create's own writes (the store's file grows as it queues the job's chunks). A failing
//! fsync itself is not reached this way: the file grows before a sync writes into it.

#![cfg(unix)]

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bulkops::reference::load_enrollments;
use bulkops_embedded::EmbeddedStore;
use bulkops_shared::store::RecordStore;
use bulkops_testkit::scenario::{
    enrollment, workload_body, workload_job_completes, WORKLOAD_IDS_PER_REQUEST,
};
use bulkops_testkit::server::{fresh_dir, ServerProcess};
use serde_json::Value;

const BINARY: &str = env!("CARGO_BIN_EXE_bulkops");
/// More than the limit lets in: the disk fills well before the last.
const REQUESTS: usize = 16;
/// How far the store's file may grow past its size after the reference data is loaded.
const ROOM_KIB: u64 = 3 * 1024;

/// A script that runs `bulkops` with its files limited to `limit_kib` (bash's `ulimit -f`
/// counts KiB) and `SIGXFSZ` ignored (the disposition survives `exec`).
fn limited_binary(dir: &Path, limit_kib: u64) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("bulkops-limited");
    let text = format!("#!/bin/bash\ntrap '' XFSZ\nulimit -f {limit_kib}\nexec {BINARY} \"$@\"\n");
    std::fs::write(&script, text).expect("write the wrapper");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    script
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_filled_by_the_rows_work_answers_503_and_keeps_what_it_answered_200() {
    fill_the_disk(&["--demo"], Duration::from_millis(300)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disk_filled_by_the_sync_before_an_answer_answers_503_and_keeps_what_it_answered_200() {
    fill_the_disk(&["--demo", "--workers", "0"], Duration::ZERO).await;
}

/// Sends `REQUESTS` jobs to a server run with `extra` on a disk with `ROOM_KIB` to spare,
/// `pause` apart, then checks what a server with room again holds.
async fn fill_the_disk(extra: &[&str], pause: Duration) {
    let root = fresh_dir("disk-full");
    let data = root.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let store_file = data.join("bulkops.redb");
    {
        let store = EmbeddedStore::open(&store_file).expect("open store");
        let records: Arc<dyn RecordStore> = Arc::new(store);
        let inputs = (0..REQUESTS * WORKLOAD_IDS_PER_REQUEST)
            .map(enrollment)
            .collect();
        load_enrollments(&records, inputs)
            .await
            .expect("load enrollments");
    }
    let loaded_kib = std::fs::metadata(&store_file).expect("store size").len() / 1024;
    let limited = limited_binary(root.path(), loaded_kib + ROOM_KIB);
    let server = ServerProcess::start(&limited, &data, extra);
    let token = server.token("alice", "ISSUANCE:ADD ISSUANCE:VIEW");
    let client = reqwest::Client::new();

    let mut answered_200 = BTreeSet::new();
    let mut refused = 0;
    for r in 0..REQUESTS {
        let response = client
            .post(format!("{}/api/web/v2/mobileFlashPass", server.url))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(workload_body(r))
            .send()
            .await
            .expect("an answer, not a dropped connection");
        let status = response.status().as_u16();
        let body: Value = response.json().await.expect("a JSON body");
        match status {
            200 => {
                answered_200.insert(body["id"].as_str().expect("a job id").to_owned());
            }
            503 => {
                assert_eq!(body["code"], "SERVICE_UNAVAILABLE", "{body}");
                // The HTTP layer's answer when the sync before an answer fails: after an
                // I/O error the store refuses its syncs too, whatever the route computed.
                assert_eq!(
                    body["message"], "the store could not be written to disk; retry the request",
                    "{body}"
                );
                refused += 1;
            }
            other => panic!("request {r} was answered {other}: {body}"),
        }
        tokio::time::sleep(pause).await;
    }
    assert!(
        refused > 0,
        "the store never reached its limit of {ROOM_KIB} KiB more than {loaded_kib} KiB"
    );
    assert!(
        !answered_200.is_empty(),
        "no request was accepted before the disk filled"
    );
    let mut server = server;
    assert!(
        server
            .child
            .try_wait()
            .expect("the server's status")
            .is_none(),
        "the server died when its disk filled"
    );
    eprintln!(
        "{} jobs answered 200, {refused} requests 503",
        answered_200.len()
    );
    server.kill();

    // Room again: every job answered 200, and only those, completes exactly.
    let server = ServerProcess::start(Path::new(BINARY), &data, &[]);
    let listed: Value = client
        .get(format!("{}/api/web/v1/mobileFlashPass", server.url))
        .bearer_auth(&token)
        .send()
        .await
        .expect("list the jobs")
        .json()
        .await
        .expect("a JSON list");
    let listed: BTreeSet<String> = listed
        .as_array()
        .expect("a list of jobs")
        .iter()
        .map(|j| j["id"].as_str().expect("a job id").to_owned())
        .collect();
    assert_eq!(
        listed, answered_200,
        "the jobs kept are not the jobs answered 200"
    );
    let deadline = Instant::now() + Duration::from_secs(300);
    for id in &answered_200 {
        workload_job_completes(&client, &server.url, &token, id, deadline).await;
    }
    server.stop();
}
