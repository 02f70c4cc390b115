//! Every AWS call of the two event functions is an action template.yaml grants it, as
//! `granted_actions` checks for the HTTP and queue functions. The intake function, as
//! deployed, runs a flash pass request over a chunk window of one (its parked chunk), an
//! account request with secrets, the same request again (after the first), an invalid one
//! (its rejection goes to the bus) and an unreadable message (moved to its dead-letter queue).
//! The publisher function then sweeps the events of a request whose flush was lost, and ends
//! a staged job whose file never came.

mod common;

use bulkops::reference::{load_vault, VaultInput};
use bulkops_shared::intake::Intake;
use bulkops_testkit::{Fixture, IntakeQueues, PumpOptions};
use common::grants::{assert_granted, needed};
use common::*;
use serde_json::json;

/// Pumps the intake queue into the intake function: each message handled, none left failed.
async fn intake_all(fx: &Fixture, queue: &IntakeQueues, deps: &Intake) {
    let stats = run_intake(fx, queue, deps, PumpOptions::default()).await;
    assert!(stats.reported_failures.is_empty(), "{stats:?}");
}

#[tokio::test]
async fn every_call_of_the_event_functions_is_granted() {
    let fx = Fixture::new().await;
    let queue = fx.intake_queues().await;
    // Two chunks, with a window of one: the second is parked.
    let ids = load(&fx, 0..600).await;
    let vault: VaultInput = serde_json::from_value(json!({
        "safes": [{"safeName": "Unix", "safeId": 1, "members": {"svc": {"addAccounts": true}}}],
        "platforms": [{"platformId": "UnixSSH", "requiredProperties": ["address"]}],
    }))
    .expect("vault");
    load_vault(&fx.records(), vault).await.expect("load vault");
    let flash_passes = json!({"api": "mobileFlashPass", "owner": "orders-service",
        "permissions": ["ISSUANCE:ADD"], "clientToken": "order-1", "body": {"ids": ids}});
    let accounts = json!({"api": "accounts", "owner": "svc", "clientToken": "batch-1",
        "body": {"accountsList": [{"safeName": "Unix", "platformId": "UnixSSH",
            "userName": "u", "address": "h", "secret": "s3cret"}]}});
    let invalid = json!({"api": "accounts", "owner": "svc", "clientToken": "empty",
        "body": {"accountsList": []}});
    for body in [&flash_passes, &accounts, &invalid] {
        send_to_intake(&fx, &queue, &body.to_string()).await;
    }
    send_to_intake(&fx, &queue, "not json").await;
    fx.counter.reset();

    // As deployed (each transition's event published at once), with a chunk window of one.
    let deps = Intake {
        queue: fx.clients.windowed_chunk_queue(&fx.table, &fx.queue_url, 1),
        ..fx.intake(&queue)
    };
    intake_all(&fx, &queue, &deps).await;
    // The same request again, once the first has made its job.
    send_to_intake(&fx, &queue, &accounts.to_string()).await;
    intake_all(&fx, &queue, &deps).await;
    let intake = needed(&fx);
    for action in [
        "dynamodb:PutItem",
        "dynamodb:BatchWriteItem",
        "sqs:SendMessage",
        "events:PutEvents",
    ] {
        assert!(intake.contains(action), "{action}: {intake:?}");
    }
    assert_granted("IntakeFunction", &intake);
    assert_eq!(
        fx.queue_depth(&queue.dlq_url).await,
        1,
        "the unreadable one"
    );

    // A request whose events were not published at once (a flush lost to a crash): they wait
    // in the outbox for the scheduled sweep.
    let lost = Intake {
        events: std::sync::Arc::new(bulkops_shared::engine::NoFlush),
        ..fx.intake(&queue)
    };
    let ids = load(&fx, 600..610).await;
    let request = json!({"api": "mobileFlashPass", "owner": "orders-service",
        "permissions": ["ISSUANCE:ADD"], "clientToken": "order-2", "body": {"ids": ids}});
    send_to_intake(&fx, &queue, &request.to_string()).await;
    intake_all(&fx, &queue, &lost).await;
    fx.counter.reset();
    let out = run_publisher(&fx).await;
    assert_eq!(
        out["published"], 1,
        "the lost request's Created event: {out}"
    );
    let publisher = needed(&fx);
    for action in ["dynamodb:Query", "dynamodb:UpdateItem", "events:PutEvents"] {
        assert!(publisher.contains(action), "{action}: {publisher:?}");
    }
    assert_granted("PublisherFunction", &publisher);
}

#[tokio::test]
async fn the_publisher_may_end_an_overdue_staged_job() {
    use bulkops::local::uploads::LocalUploads;
    use bulkops_shared::model::UPLOAD_GRACE_SECONDS;
    use bulkops_shared::staged::UPLOAD_URL_SECONDS;
    use bulkops_testkit::ApiCall;

    let fx = Fixture::new().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let uploads = LocalUploads::open(dir.path(), "http://127.0.0.1:1".into()).expect("uploads");
    let mut deps = fx.submit_deps();
    deps.uploads = Some(std::sync::Arc::new(uploads));
    let staged = ApiCall::new("POST", "/api/web/v2/mobileFlashPass/uploads")
        .user("alice", ALL_PERMISSIONS)
        .request();
    let response = submit::handler(&deps, staged).await.expect("submit");
    assert_eq!(response.status().as_u16(), 200, "{}", body_json(&response));

    // Its file never comes, and nobody reads it: the sweep ends it and sends its event.
    fx.clock
        .advance((UPLOAD_URL_SECONDS + UPLOAD_GRACE_SECONDS) * 1000 + 1_000);
    fx.counter.reset();
    let out = run_publisher(&fx).await;
    assert_eq!(out["published"], 1, "its Failed event: {out}");
    let publisher = needed(&fx);
    for action in [
        "dynamodb:Query",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "events:PutEvents",
    ] {
        assert!(publisher.contains(action), "{action}: {publisher:?}");
    }
    assert_granted("PublisherFunction", &publisher);
}
