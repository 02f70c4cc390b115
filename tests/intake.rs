//! Event-driven submission on moto: `Bulk Job Requested` events on the bus reach the intake
//! queue through the rule, the real intake handler runs them, and the job's events (or one
//! `Bulk Job Rejected`) come out on the bus. A client token creates one job however often its
//! request is delivered, raced or interrupted; an unreadable message is moved to the
//! dead-letter queue at once.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use bulkops_shared::model::JobType;
use bulkops_testkit::{ApiCall, Fixture, PumpOptions};
use common::faults::{Call, Fault, Faults, FaultyJobStore};
use common::*;
use serde_json::{json, Value};

/// Puts a `Bulk Job Requested` event on the fixture's bus, as another service would.
async fn request_on_bus(fx: &Fixture, detail: &Value) {
    let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
        .event_bus_name(&fx.bus)
        .source("orders.service")
        .detail_type("Bulk Job Requested")
        .detail(detail.to_string())
        .build();
    let out = fx
        .clients
        .eventbridge
        .put_events()
        .entries(entry)
        .send()
        .await
        .expect("PutEvents");
    assert_eq!(out.failed_entry_count, 0);
}

/// Sends a message to the intake queue directly.
fn mfp_request(token: &str, ids: &[String]) -> Value {
    json!({"api": "mobileFlashPass", "owner": "orders-service", "permissions": ["ISSUANCE:ADD"],
           "clientToken": token, "body": {"ids": ids}})
}

/// Events by id, with their deliveries.
fn by_id(events: &[Value]) -> BTreeMap<String, Vec<Value>> {
    let mut seen: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for event in events {
        let id = event["detail"]["eventId"]
            .as_str()
            .expect("eventId")
            .to_owned();
        seen.entry(id).or_default().push(event.clone());
    }
    seen
}

async fn jobs_of(fx: &Fixture, job_type: JobType, owner: &str) -> Vec<bulkops_shared::model::Job> {
    fx.jobs()
        .list_jobs(job_type, owner, 100)
        .await
        .expect("list")
}

#[tokio::test]
async fn a_requested_event_creates_one_job_however_often_it_is_delivered() {
    let fx = Fixture::new().await;
    let queue = fx.intake_queues().await;
    let mut ids = load(&fx, 0..30).await;
    ids.push(enrollment_id(9_000));
    let request = mfp_request("order-1", &ids);
    request_on_bus(&fx, &request).await;
    let three = PumpOptions {
        deliveries: 3,
        ..PumpOptions::default()
    };
    run_intake(&fx, &queue, &fx.intake(&queue), three).await;
    // The same request again, straight to the queue, twice in one batch: a race.
    send_to_intake(&fx, &queue, &request.to_string()).await;
    send_to_intake(&fx, &queue, &request.to_string()).await;
    run_intake(&fx, &queue, &fx.intake(&queue), PumpOptions::default()).await;
    run_processor(&fx, PumpOptions::default()).await;

    let jobs = jobs_of(&fx, JobType::SendMfp, "").await;
    assert_eq!(jobs.len(), 1, "one job per client token");
    let job = &jobs[0];
    assert_eq!(job.owner, "orders-service");
    assert_eq!((job.rows_processed, job.rows_failed), (30, 1));
    let events = by_id(&fx.published_events().await);
    let wanted: Vec<String> = ["COMPLETED", "CREATED", "PROCESSING"]
        .iter()
        .map(|k| format!("{}:{k}", job.id))
        .collect();
    assert_eq!(events.keys().cloned().collect::<Vec<_>>(), wanted);
    let created = &events[&format!("{}:CREATED", job.id)][0];
    assert_eq!(created["detail-type"], "Bulk Job Created");
    assert_eq!(created["detail"]["clientToken"], "order-1");
    assert_eq!(created["detail"]["owner"], "orders-service");
    let completed = &events[&format!("{}:COMPLETED", job.id)][0];
    assert_eq!(completed["detail"]["clientToken"], "order-1");
    assert_eq!(completed["detail"]["counts"]["failed"], 1);
    assert_eq!(fx.queue_depth(&queue.dlq_url).await, 0);
}

#[tokio::test]
async fn an_upload_request_survives_a_crash_after_each_write() {
    for call in [
        Call::ClaimClientToken,
        Call::CreateJob,
        Call::Release,
        Call::MarkPublished,
    ] {
        let fx = Fixture::new().await;
        let queue = fx.intake_queues().await;
        let vault: bulkops::reference::VaultInput = serde_json::from_value(json!({
            "safes": [{"safeName": "Unix", "safeId": 7, "members": {"svc": {"addAccounts": true}}}],
            "platforms": [{"platformId": "UnixSSH", "requiredProperties": ["address"]}],
        }))
        .unwrap();
        bulkops::reference::load_vault(&fx.records(), vault)
            .await
            .unwrap();
        let accounts: Vec<Value> = (0..40)
            .map(|n| {
                json!({"safeName": "Unix", "platformId": "UnixSSH", "userName": format!("u{n}"),
                            "address": "h", "secret": format!("s3cret-{n}")})
            })
            .collect();
        let request = json!({"api": "accounts", "owner": "svc", "clientToken": "batch-7",
                             "body": {"source": "orders", "accountsList": accounts}});
        send_to_intake(&fx, &queue, &request.to_string()).await;
        let faults = Faults::new(&[Fault::AfterWrite { call, times: 1 }]);
        let mut deps = fx.intake(&queue);
        deps.jobs = Arc::new(FaultyJobStore {
            inner: fx.jobs(),
            faults,
        });
        let stats = run_intake(&fx, &queue, &deps, PumpOptions::default()).await;
        if matches!(call, Call::ClaimClientToken | Call::CreateJob) {
            // The crash failed the first delivery; the redelivery finished the job. (A lost
            // release is retried at once, and a lost outbox removal is the sweep's.)
            assert_eq!(stats.reported_failures.len(), 1, "{call:?}");
        }
        run_processor(&fx, PumpOptions::default()).await;
        fx.publisher().sweep(100).await.expect("sweep");

        let jobs = jobs_of(&fx, JobType::AddAccounts, "svc").await;
        assert_eq!(jobs.len(), 1, "{call:?}: one job ({stats:?})");
        let job = &jobs[0];
        assert_eq!((job.rows_processed, job.rows_failed), (40, 0), "{call:?}");
        let events = by_id(&fx.published_events().await);
        let mut wanted: Vec<String> = ["CREATED", "PROCESSING", "COMPLETED"]
            .iter()
            .map(|k| format!("{}:{k}", job.id))
            .collect();
        wanted.sort();
        assert_eq!(
            events.keys().cloned().collect::<Vec<_>>(),
            wanted,
            "{call:?}"
        );
        let completed = &events[&format!("{}:COMPLETED", job.id)][0];
        assert_eq!(completed["detail"]["bulkId"].as_i64(), job.id.parse().ok());
        assert_eq!(completed["detail"]["status"], "completedSuccessfully");
        let text = serde_json::to_string(&events).unwrap();
        assert!(!text.contains("s3cret"), "{call:?}: no secret in an event");
    }
}

#[tokio::test]
async fn an_invalid_request_is_rejected_once_as_the_http_route_would_answer() {
    let fx = Fixture::new().await;
    let queue = fx.intake_queues().await;
    let ids = load(&fx, 0..3).await;
    let mut bad_ids = ids.clone();
    bad_ids.insert(1, "not base64!".into());
    let cases = [
        (mfp_request("bad-ids", &bad_ids), 400),
        (
            json!({"api": "mobileFlashPass", "owner": "orders-service", "permissions": ["ISSUANCE:VIEW"],
                   "clientToken": "no-permission", "body": {"ids": ids}}),
            403,
        ),
        (
            json!({"api": "accounts", "owner": "svc", "clientToken": "empty",
                   "body": {"accountsList": []}}),
            400,
        ),
    ];
    for (request, _) in &cases {
        request_on_bus(&fx, request).await;
    }
    run_intake(&fx, &queue, &fx.intake(&queue), PumpOptions::default()).await;
    assert!(jobs_of(&fx, JobType::SendMfp, "").await.is_empty());
    assert!(jobs_of(&fx, JobType::AddAccounts, "svc").await.is_empty());
    let events = fx.published_events().await;
    assert_eq!(events.len(), cases.len(), "{events:#?}");
    for (request, status) in &cases {
        let token = request["clientToken"].as_str().unwrap();
        let event = events
            .iter()
            .find(|e| e["detail"]["clientToken"] == token)
            .unwrap_or_else(|| panic!("a rejection of {token}"));
        assert_eq!(event["detail-type"], "Bulk Job Rejected");
        assert_eq!(event["detail"]["status"], *status, "{token}");
        assert!(event["detail"]["eventId"]
            .as_str()
            .unwrap()
            .ends_with(":REJECTED"));
    }
    // The error is the HTTP route's, verbatim.
    let http = call_submit(
        &fx,
        ApiCall::new("POST", "/api/web/v2/mobileFlashPass")
            .json(json!({ "ids": bad_ids }).to_string())
            .user("orders-service", "ISSUANCE:ADD"),
    )
    .await;
    assert_eq!(http.status(), 400);
    let rejected = events
        .iter()
        .find(|e| e["detail"]["clientToken"] == "bad-ids")
        .unwrap();
    assert_eq!(rejected["detail"]["error"], body_json(&http));

    // Delivered again: the same rejection by id, still no job.
    request_on_bus(&fx, &cases[0].0).await;
    run_intake(&fx, &queue, &fx.intake(&queue), PumpOptions::default()).await;
    let again = fx.published_events().await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0]["detail"]["eventId"], rejected["detail"]["eventId"]);
}

#[tokio::test]
async fn an_unreadable_message_goes_to_the_dead_letter_queue_and_creates_nothing() {
    let fx = Fixture::new().await;
    let queue = fx.intake_queues().await;
    let unreadable = [
        "not json at all".to_owned(),
        json!({"api": "mobileFlashPass", "owner": "orders-service"}).to_string(),
        json!({"api": "nothing", "owner": "o", "clientToken": "t", "body": {}}).to_string(),
    ];
    for body in &unreadable {
        send_to_intake(&fx, &queue, body).await;
    }
    let stats = run_intake(&fx, &queue, &fx.intake(&queue), PumpOptions::default()).await;
    assert_eq!(
        (stats.deliveries, stats.reported_failures.len()),
        (3, 0),
        "each received once and moved to the dead-letter queue at once"
    );
    assert_eq!(fx.queue_depth(&queue.url).await, 0);
    let mut dead: Vec<String> = receive_all(&fx, &queue.dlq_url).await;
    dead.sort();
    let mut sent = unreadable.to_vec();
    sent.sort();
    assert_eq!(dead, sent, "the messages as they were sent");
    assert!(jobs_of(&fx, JobType::SendMfp, "").await.is_empty());
    assert!(fx.published_events().await.is_empty());

    // The dead-letter queue cannot be reached: the message is retried, and the queue's
    // redrive policy dead-letters it after maxReceiveCount receives; it never loops.
    send_to_intake(&fx, &queue, "still not json").await;
    let mut deps = fx.intake(&queue);
    deps.dead_letters = Arc::new(bulkops_shared::queue::SqsMessageQueue::new(
        fx.clients.sqs.clone(),
        format!("{}-missing", queue.dlq_url),
    ));
    let stats = run_intake(&fx, &queue, &deps, PumpOptions::default()).await;
    assert_eq!(
        stats.reported_failures.len(),
        bulkops_shared::queue::MAX_RECEIVE_COUNT as usize
    );
    assert_eq!(fx.queue_depth(&queue.url).await, 0);
    assert_eq!(receive_all(&fx, &queue.dlq_url).await, ["still not json"]);
}

/// Every message body in a queue (the queue is drained).
async fn receive_all(fx: &Fixture, url: &str) -> Vec<String> {
    let mut bodies = Vec::new();
    loop {
        let out = fx
            .clients
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .send()
            .await
            .expect("ReceiveMessage");
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            return bodies;
        }
        for message in messages {
            bodies.push(message.body.unwrap_or_default());
            fx.clients
                .sqs
                .delete_message()
                .queue_url(url)
                .receipt_handle(message.receipt_handle.unwrap_or_default())
                .send()
                .await
                .expect("DeleteMessage");
        }
    }
}

/// A flash pass body of exactly the route's 200 KB limit (compact JSON, as the intake measures
/// it) becomes a job; 4 bytes more is the route's 413, as a rejection.
#[tokio::test]
async fn a_body_at_the_size_limit_is_taken_and_one_over_is_rejected() {
    let fx = Fixture::new().await;
    let queue = fx.intake_queues().await;
    let limit = bulkops_shared::ops::mobile_flash_pass::api::MAX_BODY_BYTES;
    // `{"ids":[` + n × `"AAAA",` − 1 + `]}` = 9 + 7n; the last id grows by the rest.
    let n = 29_249;
    let rest = limit - (9 + 7 * n);
    assert_eq!(rest % 4, 0);
    let mut ids = vec!["AAAA".to_owned(); n];
    ids[n - 1] = "A".repeat(4 + rest);
    let at_limit = mfp_request("at-limit", &ids);
    assert_eq!(serde_json::to_vec(&at_limit["body"]).unwrap().len(), limit);
    ids[n - 1].push_str("AAAA");
    let over = mfp_request("over-limit", &ids);
    for request in [&at_limit, &over] {
        send_to_intake(&fx, &queue, &request.to_string()).await;
    }
    run_intake(&fx, &queue, &fx.intake(&queue), PumpOptions::default()).await;
    let jobs = jobs_of(&fx, JobType::SendMfp, "").await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].total_rows as usize, n);
    assert_eq!(jobs[0].client_token.as_deref(), Some("at-limit"));
    let events = fx.published_events().await;
    let rejected: Vec<&Value> = events
        .iter()
        .filter(|e| e["detail-type"] == "Bulk Job Rejected")
        .collect();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0]["detail"]["clientToken"], "over-limit");
    assert_eq!(rejected[0]["detail"]["status"], 413);
}

/// A request whose job cannot be queued ends in that job FAILED, announced with its client
/// token; sending it again finds that job and creates no other.
#[tokio::test]
async fn a_job_that_cannot_be_queued_fails_once_with_its_client_token() {
    let fx = Fixture::new().await;
    let queue = fx.intake_queues().await;
    let ids = load(&fx, 0..5).await;
    let request = mfp_request("unqueueable", &ids);
    let mut deps = fx.intake(&queue);
    deps.queue = fx
        .clients
        .chunk_queue(&fx.table, &format!("{}-missing", fx.queue_url));
    for _ in 0..2 {
        send_to_intake(&fx, &queue, &request.to_string()).await;
        let stats = run_intake(&fx, &queue, &deps, PumpOptions::default()).await;
        assert!(stats.reported_failures.is_empty(), "answered, not retried");
    }
    let jobs = jobs_of(&fx, JobType::SendMfp, "").await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(
        (jobs[0].state, jobs[0].rows_skipped),
        (bulkops_shared::model::JobState::Failed, 5)
    );
    let events = fx.published_events().await;
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["detail-type"], "Bulk Job Failed");
    assert_eq!(events[0]["detail"]["clientToken"], "unqueueable");
}
