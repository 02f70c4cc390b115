//! Event-driven submission on `bulkops serve` (embedded store): `bulkops request FILE` queues
//! a request on the local intake queue, the intake handler runs it, and the outcome is in the
//! events log: one job per client token whatever is sent again, one `Bulk Job Rejected` for an
//! invalid request, and an unreadable one in the intake's dead-letter queue.

#[path = "local_events/support.rs"]
#[allow(dead_code)]
mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use bulkops::local::demo::enrollment_id;
use bulkops_embedded::EmbeddedQueue;
use bulkops_testkit::server::fresh_dir;
use serde_json::{json, Value};
use support::*;

/// Runs `bulkops request <file>` against the server; returns its answer.
fn request(url: &str, token: &str, dir: &Path, name: &str, body: &Value) -> Value {
    let file = dir.join(name);
    std::fs::write(&file, body.to_string()).expect("write the request");
    let output = Command::new(BINARY)
        .args(["request", "--url", url, "--token", token])
        .arg(&file)
        .output()
        .expect("run bulkops request");
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).expect("the answer is JSON")
}

/// The events in the log, parsed.
fn events(data: &Path) -> Vec<Value> {
    if !data.join("events.jsonl").exists() {
        return Vec::new();
    }
    log_lines(data)
        .iter()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

fn with_token<'a>(events: &'a [Value], token: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["detail"]["clientToken"] == token)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_become_one_job_each_or_one_rejection() {
    let root = fresh_dir("intake");
    let data = root.path().join("data");
    let running = serve(&data, &[], None).await;
    let url = format!("http://{}", running.address);
    let token = running.key.mint("producer", "", 3600).expect("a token");
    let ids: Vec<String> = (0..12).map(enrollment_id).collect();
    let valid = json!({"api": "mobileFlashPass", "owner": "orders-service",
                       "permissions": ["ISSUANCE:ADD"], "clientToken": "order-7",
                       "body": {"ids": ids}});
    let answer = request(&url, &token, root.path(), "valid.json", &valid);
    assert!(answer["messageId"].as_str().is_some(), "{answer}");
    wait_until("the job completes", 60, || {
        with_token(&events(&data), "order-7")
            .iter()
            .any(|e| e["detail-type"] == "Bulk Job Completed")
    })
    .await;

    // Sent again, bare and as the whole event: still that one job.
    let event = json!({"version": "0", "id": "x", "detail-type": "Bulk Job Requested",
                       "source": "orders.service", "detail": valid});
    request(&url, &token, root.path(), "again.json", &valid);
    request(&url, &token, root.path(), "event.json", &event);
    // An invalid request and an unreadable one.
    let mut forbidden = valid.clone();
    forbidden["permissions"] = json!(["ISSUANCE:VIEW"]);
    forbidden["clientToken"] = json!("order-8");
    request(&url, &token, root.path(), "forbidden.json", &forbidden);
    request(
        &url,
        &token,
        root.path(),
        "unreadable.json",
        &json!({"api": "nothing"}),
    );
    let store = running.backend.embedded.clone().expect("embedded");
    let dead_letters = EmbeddedQueue::new(
        &store,
        "requests-dead-letter",
        None,
        0,
        Duration::from_secs(60),
    );
    let requests = EmbeddedQueue::new(&store, "requests", None, 0, Duration::from_secs(60));
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while requests.depth().await.expect("depth") > 0
        || with_token(&events(&data), "order-8").is_empty()
    {
        assert!(std::time::Instant::now() < deadline, "requests not handled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(dead_letters.depth().await.expect("depth"), 1);

    let all = events(&data);
    let job: Vec<&Value> = with_token(&all, "order-7");
    let mut kinds: Vec<&str> = job
        .iter()
        .map(|e| e["detail-type"].as_str().unwrap())
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "Bulk Job Completed",
            "Bulk Job Created",
            "Bulk Job Processing"
        ],
        "one job's events, once each"
    );
    let job_id = job[0]["detail"]["jobId"].as_str().unwrap();
    assert!(job
        .iter()
        .all(|e| e["detail"]["owner"] == "orders-service" && e["detail"]["jobId"] == job_id));
    assert_eq!(job[0]["detail"]["counts"]["total"], 12);
    let rejected = with_token(&all, "order-8");
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0]["detail-type"], "Bulk Job Rejected");
    assert_eq!(rejected[0]["detail"]["status"], 403);
    assert_eq!(rejected[0]["detail"]["error"]["code"], "FORBIDDEN");
    assert_eq!(all.len(), 4, "nothing else was published");

    // The job is the owner's, through the API.
    let owner = running
        .key
        .mint("orders-service", ALL, 3600)
        .expect("a token");
    assert_eq!(job_state(&url, &owner, job_id).await, "COMPLETED");

    // The server's metrics count the job's rows and its end, as Prometheus scrapes them.
    let metrics = reqwest::get(format!("{url}/metrics"))
        .await
        .expect("scrape")
        .text()
        .await
        .expect("metrics text");
    let value = |series: &str| -> f64 {
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("{series} in {metrics}"))
    };
    let counts = &job[0]["detail"]["counts"];
    let succeeded = value("bulkops_rows_succeeded_total{job_type=\"SEND_MFP\"}");
    let failed = value("bulkops_rows_failed_total{job_type=\"SEND_MFP\"}");
    let completed_event = job
        .iter()
        .find(|e| e["detail-type"] == "Bulk Job Completed")
        .unwrap();
    assert_eq!(
        (succeeded, failed),
        (
            completed_event["detail"]["counts"]["succeeded"]
                .as_f64()
                .unwrap(),
            completed_event["detail"]["counts"]["failed"]
                .as_f64()
                .unwrap()
        )
    );
    assert_eq!(succeeded + failed, counts["total"].as_f64().unwrap());
    assert_eq!(
        value("bulkops_jobs_completed_total{job_type=\"SEND_MFP\"}"),
        1.0
    );

    // No token: the endpoint is not open.
    let anonymous = reqwest::Client::new()
        .post(format!("{url}/_local/requests"))
        .json(&valid)
        .send()
        .await
        .expect("post");
    assert_eq!(anonymous.status(), 401);
    running.shutdown().await.expect("shutdown");
}
