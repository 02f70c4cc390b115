//! Every AWS call of the two event functions is an action template.yaml grants it, as
//! `granted_actions` checks for the HTTP and queue functions. The intake function runs a
//! flash pass request over a chunk window of one (its parked chunk), an account request with
//! secrets, the same request again (after the first), an invalid one (its rejection goes to the bus) and an
//! unreadable message (moved to its dead-letter queue); the publisher function sweeps the
//! events the intake left in the outbox.

mod common;

use bulkops::reference::{load_vault, VaultInput};
use bulkops_shared::intake::Intake;
use bulkops_testkit::{pump, Fixture, IntakeQueues, PumpOptions};
use common::grants::{assert_granted, needed};
use common::*;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::json;

async fn send(fx: &Fixture, queue: &IntakeQueues, body: &str) {
    fx.clients
        .sqs
        .send_message()
        .queue_url(&queue.url)
        .message_body(body)
        .send()
        .await
        .expect("SendMessage");
}

async fn run_intake(fx: &Fixture, queue: &IntakeQueues, deps: &Intake) {
    let source =
        bulkops_shared::queue::sqs::SqsChunkSource::new(fx.clients.sqs.clone(), &queue.url);
    let stats = pump(&source, &queue.arn, PumpOptions::default(), |event| {
        intake::handler(deps, LambdaEvent::new(event, Context::default()))
    })
    .await;
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
        send(&fx, &queue, &body.to_string()).await;
    }
    send(&fx, &queue, "not json").await;
    fx.counter.reset();

    // The events each transition flushes at once go out; a sweep finds what is left.
    let deps = Intake {
        events: std::sync::Arc::new(bulkops_shared::engine::NoFlush),
        queue: fx.clients.windowed_chunk_queue(&fx.table, &fx.queue_url, 1),
        ..fx.intake(&queue)
    };
    run_intake(&fx, &queue, &deps).await;
    // The same request again, once the first has made its job.
    send(&fx, &queue, &accounts.to_string()).await;
    run_intake(&fx, &queue, &deps).await;
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
    fx.counter.reset();

    let scheduled = json!({
        "version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event", "source": "aws.events", "account": "123456789012",
        "time": "2026-12-05T12:00:00Z", "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/publisher"], "detail": {}
    });
    let out = publisher::handler(
        &fx.publisher(),
        LambdaEvent::new(scheduled, Context::default()),
    )
    .await
    .expect("sweep");
    assert!(out["published"].as_u64() >= Some(2), "{out}");
    let publisher = needed(&fx);
    for action in ["dynamodb:Query", "dynamodb:UpdateItem", "events:PutEvents"] {
        assert!(publisher.contains(action), "{action}: {publisher:?}");
    }
    assert_granted("PublisherFunction", &publisher);
}
