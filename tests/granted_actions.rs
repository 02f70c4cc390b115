//! Every AWS call a function makes is an action template.yaml grants it. Each function's
//! handlers run their paths on moto with counting clients (creates with secrets, a windowed job,
//! an Idempotency-Key, a quota refusal with its sweep, a retry; chunks with their successors;
//! a dead-lettered chunk; reads; a cancel; a staged create's presigned PUT and its file's
//! split), and the calls counted in each phase must map to the IAM actions of that function's
//! policies. A missing grant would only show on AWS as
//! AccessDenied (as `DeadLetterFunction`'s missing `dynamodb:BatchGetItem` once did).

mod common;

use std::collections::BTreeSet;

use bulkops::reference::{load_vault, VaultInput};
use bulkops_shared::model::{EventKind, UPLOAD_GRACE_SECONDS};
use bulkops_shared::queue::ChunkSource;
use bulkops_shared::staged::UPLOAD_URL_SECONDS;
use bulkops_shared::store::Quota;
use bulkops_testkit::{ApiCall, Fixture, PumpOptions};
use common::grants::{assert_granted, needed};
use common::*;
use serde_json::json;

#[tokio::test]
async fn every_call_of_every_function_is_granted() {
    let mut fx = Fixture::new().await;
    fx.chunk_window = 1;
    fx.add_upload_bucket().await;
    fx.quota = Quota {
        max_active_jobs: 3,
        max_rows_in_flight: 10_000,
    };
    let ids = load(&fx, 0..700).await;
    let vault: VaultInput = serde_json::from_value(json!({
        "safes": [{"safeName": "Unix", "safeId": 1, "members": {"alice": {"addAccounts": true}}}],
        "platforms": [{"platformId": "UnixSSH", "requiredProperties": ["address", "userName"]}],
    }))
    .expect("vault");
    load_vault(&fx.records(), vault).await.expect("load vault");
    let mut failing = ids[..600].to_vec();
    failing.push(enrollment_id(9_000_000));
    fx.counter.reset();

    // Submit: a two-chunk job (one parked), an upload with secrets, a keyed create.
    let mut submit = BTreeSet::new();
    let big = submit_ids(&fx, &failing).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let upload = ApiCall::new("POST", "/PasswordVault/API/BulkActions/Accounts")
        .json(json!({"accountsList": [
            {"safeName": "Unix", "platformId": "UnixSSH", "userName": "u", "address": "h", "secret": "s"},
            {"safeName": "Nowhere", "platformId": "UnixSSH", "userName": "u", "address": "h", "secret": "t"},
        ]}).to_string())
        .user("alice", "");
    assert_eq!(call_submit(&fx, upload).await.status(), 202);
    let keyed = submit_call(&ids[..2]).header("Idempotency-Key", "k1");
    assert_eq!(call_submit(&fx, keyed).await.status(), 200);
    submit.extend(needed(&fx));

    // Processor: every chunk, each queueing its successor.
    run_processor(&fx, PumpOptions::default()).await;
    assert_granted("ProcessorFunction", &needed(&fx));

    // Submit again: retries of the failed rows (both APIs), and a quota sweep of the ended jobs.
    let retry = ApiCall::new("POST", &format!("/api/web/v2/mobileFlashPass/{big}/retry"))
        .user("alice", ALL_PERMISSIONS);
    assert_eq!(call_submit(&fx, retry).await.status(), 200);
    let retry =
        ApiCall::new("POST", "/PasswordVault/API/BulkActions/Accounts/1/retry").user("alice", "");
    assert_eq!(call_submit(&fx, retry).await.status(), 202);
    let statuses: Vec<u16> = {
        let mut statuses = Vec::new();
        for _ in 0..2 {
            statuses.push(
                call_submit(&fx, submit_call(&ids[..1]))
                    .await
                    .status()
                    .as_u16(),
            );
        }
        statuses
    };
    assert_eq!(
        statuses,
        [200, 429],
        "the two retries and one more fill a quota of 3"
    );
    submit.extend(needed(&fx));
    assert_granted("SubmitFunction", &submit);

    // Query: a job, its log and its rows, the lists, an upload's result and rows.
    get_job(&fx, &big).await;
    get_logs(&fx, &big).await;
    for path in [
        "/api/web/v1/mobileFlashPass".to_owned(),
        format!("/api/web/v2/mobileFlashPass/{big}/rows"),
        "/PasswordVault/API/BulkActions/Accounts".to_owned(),
        "/PasswordVault/API/BulkActions/Accounts/1".to_owned(),
        "/PasswordVault/API/BulkActions/Accounts/1/rows".to_owned(),
    ] {
        let call = ApiCall::new("GET", &path).user("alice", ALL_PERMISSIONS);
        assert_eq!(call_query(&fx, call).await.status(), 200, "{path}");
    }
    assert_granted("QueryFunction", &needed(&fx));

    // Cancel: a job still queued (once the others have ended, so that the quota admits it).
    run_processor(&fx, PumpOptions::default()).await;
    let queued = submit_ids(&fx, &ids[..3]).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    fx.counter.reset();
    let cancel = ApiCall::new(
        "DELETE",
        &format!("/api/web/v1/mobileFlashPass/cancel/{queued}"),
    )
    .user("alice", ALL_PERMISSIONS);
    let status = call_cancel(&fx, cancel).await.status();
    assert!(status.is_success(), "{status}");
    assert_granted("CancelFunction", &needed(&fx));

    // Dead letter: a chunk moved to the dead-letter queue by hand, as SQS's redrive does.
    let fresh = submit_ids(&fx, &ids[600..700]).await;
    assert!(fresh["id"].is_string());
    let source = fx.source();
    let deliveries = source.receive(10).await.expect("receive");
    assert!(!deliveries.is_empty());
    for delivery in &deliveries {
        fx.clients
            .sqs
            .send_message()
            .queue_url(&fx.dlq_url)
            .message_body(&delivery.body)
            .send()
            .await
            .expect("move to the dead-letter queue");
        source.ack(&delivery.receipt).await.expect("ack");
    }
    fx.counter.reset();
    run_dead_letter(&fx).await;
    assert_granted("DeadLetterFunction", &needed(&fx));

    // Submit: a staged create, which hands out a presigned PUT (signed, not sent).
    let staged = ApiCall::new("POST", "/api/web/v2/mobileFlashPass/uploads")
        .json("{}")
        .user("alice", ALL_PERMISSIONS);
    let response = call_submit(&fx, staged).await;
    assert_eq!(response.status(), 200, "{}", body_json(&response));
    let staged = body_json(&response);
    let presigned = needed(&fx);
    assert!(presigned.contains("s3:PutObject"), "{presigned:?}");
    assert_granted("SubmitFunction", &presigned);

    // Splitter: the caller's file (PUT by the caller, not a function), split into two
    // chunks (one parked), the job released and its first chunk queued, its event published.
    assert_eq!(
        put_upload(&staged, ids[..600].join("\n").into_bytes()).await,
        200
    );
    fx.counter.reset();
    let stats = run_splitter(&fx).await;
    assert!(stats.reported_failures.is_empty(), "{stats:?}");
    let split = fx.jobs().get_job(staged["id"].as_str().unwrap()).await;
    assert_eq!(split.unwrap().unwrap().chunk_count, 2);
    let mut splitter = needed(&fx);
    // And an account file, whose secrets are staged per chunk.
    let upload = ApiCall::new("POST", "/PasswordVault/API/BulkActions/Accounts/uploads")
        .json("{}")
        .user("alice", "");
    let response = call_submit(&fx, upload).await;
    assert_eq!(response.status(), 202, "{}", body_json(&response));
    let upload = body_json(&response);
    let accounts = serde_json::json!({"upload": {"url": upload["UploadUrl"]}});
    let line = r#"{"safeName": "Unix", "platformId": "UnixSSH", "userName": "s", "address": "h", "secret": "pw"}"#;
    assert_eq!(put_upload(&accounts, line.as_bytes().to_vec()).await, 200);
    fx.counter.reset();
    let stats = run_splitter(&fx).await;
    assert!(stats.reported_failures.is_empty(), "{stats:?}");
    splitter.extend(needed(&fx));
    assert!(splitter.contains("s3:GetObject"), "{splitter:?}");
    assert!(splitter.contains("dynamodb:PutItem"), "{splitter:?}");
    // The ended jobs asked for their result files on the split queue: written by the splitter.
    assert!(splitter.contains("s3:PutObject"), "{splitter:?}");
    assert!(splitter.contains("dynamodb:Query"), "{splitter:?}");
    assert_granted("SplitterFunction", &splitter);

    // Query: a result file's link (a presigned GET, signed, not sent).
    let file = ApiCall::new(
        "GET",
        &format!("/api/web/v2/mobileFlashPass/{big}/results/failed.csv"),
    )
    .user("alice", ALL_PERMISSIONS);
    assert_eq!(call_query(&fx, file).await.status(), 303);
    let linked = needed(&fx);
    assert!(linked.contains("s3:GetObject"), "{linked:?}");
    assert_granted("QueryFunction", &linked);

    // Query: a staged job whose file never came, read an hour after its upload URL expired.
    // The read ends it FAILED (a conditional update); its Failed event waits in the outbox
    // for the publisher's sweep (every minute), which holds the bus's grant.
    fx.quota.max_active_jobs = 10;
    let never = ApiCall::new("POST", "/api/web/v2/mobileFlashPass/uploads")
        .json("{}")
        .user("alice", ALL_PERMISSIONS);
    let response = call_submit(&fx, never).await;
    assert_eq!(response.status(), 200, "{}", body_json(&response));
    let never = body_json(&response)["id"].as_str().unwrap().to_owned();
    fx.clock
        .advance((UPLOAD_URL_SECONDS + UPLOAD_GRACE_SECONDS) * 1000 + 1_000);
    fx.counter.reset();
    let failed = get_job(&fx, &never).await;
    assert_eq!(failed["state"], "FAILED", "{failed}");
    let ended = needed(&fx);
    assert!(ended.contains("dynamodb:UpdateItem"), "{ended:?}");
    assert_granted("QueryFunction", &ended);
    let stored = fx.jobs().get_job(&never).await.unwrap().unwrap();
    assert!(
        stored.outbox.contains_key(&EventKind::Failed),
        "{:?}",
        stored.outbox
    );
}
