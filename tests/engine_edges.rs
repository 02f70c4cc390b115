//! The engine's invariants at their edges, each case through the real handlers: valid uploads
//! at the platform's size limits, an enqueue whose outcome is unknown, a cancel during a
//! failing submit, chunks dead-lettered before their job started, and reference data reloaded
//! while rows run. (Two deliveries of one chunk interleaved at every step are in
//! `engine_interleavings.rs`; a crash after a caller saw a job complete, in `local_restart.rs`.)

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use bulkops::reference::{load_vault, VaultInput};
use bulkops_shared::chunking::MAX_ROW_BYTES;
use bulkops_shared::error::EnqueueError;
use bulkops_shared::model::{ChunkMessage, JobState};
use bulkops_shared::ops::accounts::{account_key, model::parse_account, safe_key};
use bulkops_shared::queue::ChunkQueue;
use bulkops_shared::store::{JobStore, RecordStore};
use bulkops_testkit::{ApiCall, Fixture, PumpOptions};
use common::embedded::EmbeddedFixture;
use common::faults::{Faults, FaultyRecordStore};
use common::*;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};

const UPLOADS: &str = "/PasswordVault/API/BulkActions/Accounts";

async fn seed_vault(records: &Arc<dyn RecordStore>) {
    let vault: VaultInput = serde_json::from_value(json!({
        "safes": [{"safeName": "Unix", "safeId": 7, "members": {"alice": {"addAccounts": true}}}],
        "platforms": [{"platformId": "UnixSSH", "requiredProperties": ["address"]}],
    }))
    .expect("vault");
    load_vault(records, vault).await.expect("load vault");
}

fn account(i: usize, secret: &str) -> Value {
    json!({"safeName": "Unix", "platformId": "UnixSSH", "userName": format!("u{i}"),
           "address": "10.0.0.1", "secretType": "key", "secret": secret})
}

async fn upload_with(
    deps: &submit::Deps,
    accounts: &[Value],
) -> lambda_http::Response<lambda_http::Body> {
    let body = json!({"source": "edges", "accountsList": accounts});
    let call = ApiCall::new("POST", UPLOADS)
        .json(body.to_string())
        .user("alice", "");
    submit::handler(deps, call.request())
        .await
        .expect("submit answers")
}

/// Items in the table whose sort key starts with `prefix`.
async fn items_with(fx: &Fixture, prefix: &str) -> usize {
    fx.scan_all()
        .await
        .iter()
        .filter(|item| {
            item.get("sk")
                .and_then(|v| v.as_s().ok())
                .is_some_and(|sk| sk.starts_with(prefix))
        })
        .count()
}

/// Case 1: 200 accounts with 2.6 KB SSH keys (a 560 KB body): the secrets are counted in the
/// chunk sizes, so every staged item fits; the upload completes and every account holds its key.
/// A row just under the per-row limit runs too.
#[tokio::test]
async fn an_upload_with_large_secrets_completes_with_every_secret_stored() {
    let fx = Fixture::new().await;
    seed_vault(&fx.records()).await;
    let key = |i: usize| format!("ssh-rsa {}{i}", "A".repeat(2_600));
    let mut accounts: Vec<Value> = (0..200).map(|i| account(i, &key(i))).collect();
    let heaviest = "B".repeat(MAX_ROW_BYTES - 1_024);
    accounts.push(account(200, &heaviest));
    let body_bytes = json!({"accountsList": accounts}).to_string().len();
    assert!(
        body_bytes > 540_000 && body_bytes < 1_048_576,
        "{body_bytes}"
    );

    let response = upload_with(&fx.submit_deps(), &accounts).await;
    assert_eq!(response.status(), 202, "{}", body_json(&response));
    let id = body_json(&response).to_string();
    assert!(
        items_with(&fx, "SECRETS#").await >= 10,
        "secrets staged in several chunks"
    );
    run_processor(&fx, PumpOptions::default()).await;

    let job = fx.jobs().get_job(&id).await.unwrap().unwrap();
    assert_eq!(
        (job.state, job.rows_processed, job.rows_failed),
        (JobState::Completed, 201, 0)
    );
    let keys: Vec<_> = accounts
        .iter()
        .map(|a| account_key(&parse_account(a, "a").unwrap().model))
        .collect();
    let stored = fx.records().get_many(&keys).await.unwrap();
    for (i, k) in keys.iter().enumerate() {
        let expected = if i == 200 { heaviest.clone() } else { key(i) };
        assert_eq!(
            stored[k]["secret"],
            json!(expected),
            "account {i} holds its key"
        );
    }
    assert_eq!(
        items_with(&fx, "SECRETS#").await,
        0,
        "every staged secret released"
    );
}

/// Case 2: one account with a 300 KB property among 600 (a 365 KB body) cannot be queued as
/// any SQS message: the request is refused up front with a 413 naming that row, and nothing
/// is written or queued (no chunk runs for a caller told it failed). The same for a flash
/// pass id over the row limit.
#[tokio::test]
async fn a_row_too_large_for_the_platform_is_refused_up_front_naming_it() {
    let fx = Fixture::new().await;
    seed_vault(&fx.records()).await;
    let before = fx.scan_all().await.len();
    let mut accounts: Vec<Value> = (0..600).map(|i| account(i, "s")).collect();
    accounts[417]["platformAccountProperties"] = json!({"Notes": "x".repeat(300_000)});
    let response = upload_with(&fx.submit_deps(), &accounts).await;
    let error = body_json(&response);
    assert_eq!(response.status(), 413, "{error}");
    assert_eq!(error["ErrorCode"], "PAYLOAD_TOO_LARGE");
    assert_eq!(error["Details"]["target"], "accountsList[417]", "{error}");

    let mut ids: Vec<String> = (0..3).map(enrollment_id).collect();
    ids.insert(1, format!("eyJ3b3Jr{}", "A".repeat(MAX_ROW_BYTES)));
    let response = call_submit(&fx, submit_call(&ids)).await;
    let error = body_json(&response);
    assert_eq!(response.status(), 413, "{error}");
    assert_eq!(error["target"], "ids[1]", "{error}");

    assert_eq!(fx.scan_all().await.len(), before, "nothing was written");
    assert_eq!(fx.queue_depth(&fx.queue_url).await, 0, "nothing was queued");
}

/// A queue whose send lands but whose answer is lost (a timeout after SQS accepted the batch).
struct AcceptedThenLost {
    inner: Arc<dyn ChunkQueue>,
}

#[async_trait]
impl ChunkQueue for AcceptedThenLost {
    async fn enqueue(&self, chunks: &[ChunkMessage]) -> Result<(), EnqueueError> {
        self.inner.enqueue(chunks).await?;
        Err(EnqueueError {
            sent: 0,
            total: chunks.len(),
            unsent_chunks: chunks.iter().map(|c| c.chunk).collect(),
            reason: "SendMessageBatch: timed out waiting for a response".into(),
        })
    }
}

/// Case 3: every chunk was queued but the submit saw an error. The caller is told 503 and the
/// job is FAILED with every row skipped once; the chunks that arrive anyway are dropped, so
/// no row runs and nothing is counted twice.
#[tokio::test]
async fn an_ambiguous_enqueue_is_counted_once_and_runs_nothing() {
    let fx = Fixture::new().await;
    seed_vault(&fx.records()).await;
    let accounts: Vec<Value> = (0..600).map(|i| account(i, "s")).collect();
    let deps = submit::Deps {
        clock: std::sync::Arc::new(bulkops_shared::time::SystemClock),
        jobs: fx.jobs(),
        queue: Arc::new(AcceptedThenLost { inner: fx.queue() }),
        events: fx.events(),
        quota: Default::default(),
        uploads: None,
    };
    let response = upload_with(&deps, &accounts).await;
    assert_eq!(response.status(), 503, "{}", body_json(&response));
    let job = fx
        .jobs()
        .list_jobs(bulkops_shared::model::JobType::AddAccounts, "alice", 10)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        (job.state, job.rows_skipped, job.rows_accounted()),
        (JobState::Failed, 600, 600)
    );
    assert!(
        fx.queue_depth(&fx.queue_url).await > 0,
        "the chunks were queued after all"
    );

    let stats = run_processor(&fx, PumpOptions::default()).await;
    assert!(stats.deliveries > 0);
    let after = fx.jobs().get_job(&job.id).await.unwrap().unwrap();
    assert_eq!(
        (after.state, after.rows_skipped, after.rows_accounted()),
        (JobState::Failed, 600, 600)
    );
    assert_eq!(items_with(&fx, "ACCOUNT#").await, 0, "no row ran");
    assert_eq!(
        items_with(&fx, "SECRETS#").await,
        0,
        "staged secrets released"
    );
}

/// A queue that fails while the caller cancels the job.
struct CancelledWhileQueueing {
    jobs: Arc<dyn JobStore>,
}

#[async_trait]
impl ChunkQueue for CancelledWhileQueueing {
    async fn enqueue(&self, chunks: &[ChunkMessage]) -> Result<(), EnqueueError> {
        self.jobs
            .cancel(&chunks[0].job_id, 1)
            .await
            .expect("cancel");
        Err(EnqueueError {
            sent: 0,
            total: chunks.len(),
            unsent_chunks: chunks.iter().map(|c| c.chunk).collect(),
            reason: "the queue is unavailable".into(),
        })
    }
}

/// Case 5: a job cancelled while its submit fails to queue it accounts for every row.
#[tokio::test]
async fn a_cancel_during_a_failing_submit_accounts_for_every_row() {
    let fx = Fixture::new().await;
    let ids: Vec<String> = (0..10).map(enrollment_id).collect();
    let deps = submit::Deps {
        clock: std::sync::Arc::new(bulkops_shared::time::SystemClock),
        jobs: fx.jobs(),
        queue: Arc::new(CancelledWhileQueueing { jobs: fx.jobs() }),
        events: fx.events(),
        quota: Default::default(),
        uploads: None,
    };
    let response = submit::handler(&deps, submit_call(&ids).request())
        .await
        .unwrap();
    assert_eq!(response.status(), 503, "{}", body_json(&response));
    let job = fx
        .jobs()
        .list_jobs(bulkops_shared::model::JobType::SendMfp, "", 10)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(
        (job.state, job.total_rows, job.rows_skipped),
        (JobState::Cancelled, 10, 10),
        "every row of the cancelled job is accounted for"
    );
}

/// Case 6: every chunk dead-lettered before any delivery started the job: the job still
/// reaches COMPLETED, every row failed with a reason.
#[tokio::test]
async fn a_job_whose_chunks_are_all_dead_lettered_before_it_starts_completes() {
    let fx = Fixture::new().await;
    let mut ids = load(&fx, 0..600).await;
    ids.extend((1_000..1_500).map(enrollment_id));
    let op = submit_ids(&fx, &ids).await;
    let id = op["id"].as_str().unwrap();
    assert_eq!(op["state"], "SCHEDULED");
    let deliveries = bulkops_shared::queue::ChunkSource::receive(&fx.source(), 10)
        .await
        .unwrap();
    assert!(deliveries.len() >= 2, "several chunks");
    let event = bulkops_testkit::sqs_event(&deliveries, &fx.dlq_arn);
    let response = dead_letter::handler(
        &fx.dead_letter_deps(),
        LambdaEvent::new(event, Context::default()),
    )
    .await
    .unwrap();
    assert!(response.batch_item_failures.is_empty());
    let job = get_job(&fx, id).await;
    assert_eq!(job["state"], "COMPLETED", "{job}");
    assert_eq!(
        (job["rowsProcessed"].as_u64(), job["rowsFailed"].as_u64()),
        (Some(0), Some(1_100))
    );
    assert!(get_logs(&fx, id)
        .await
        .iter()
        .all(|r| r["errorCode"] == "PROCESSING_FAILED"));
}

/// Case 7: reloading the vault while accounts are numbered never moves a safe's counter back
/// (which would hand the same account ids out twice), whichever store call the reload is at.
async fn a_vault_reload_never_lowers_a_counter(records: Arc<dyn RecordStore>) {
    seed_vault(&records).await;
    let safe = safe_key("Unix");
    let mut step = 0;
    loop {
        let before = records.get_many(std::slice::from_ref(&safe)).await.unwrap()[&safe]
            ["nextAccountNumber"]
            .as_i64()
            .unwrap();
        let (faults, mut gate) = Faults::gated(step);
        let held: Arc<dyn RecordStore> = Arc::new(FaultyRecordStore {
            inner: records.clone(),
            faults: faults.clone(),
        });
        let mut reload = tokio::spawn(async move { seed_vault(&held).await });
        let call = tokio::select! {
            call = gate.held() => call,
            _ = &mut reload => None,
        };
        let Some(call) = call else {
            assert!(step > 0, "the reload made no store call");
            return;
        };
        // Accounts are numbered while the reload waits.
        let last = records
            .increment(&safe, "nextAccountNumber", 5)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(last, before + 5);
        gate.release();
        faults.close_gate();
        reload.await.unwrap();
        let after = records.get_many(std::slice::from_ref(&safe)).await.unwrap()[&safe]
            ["nextAccountNumber"]
            .as_i64()
            .unwrap();
        assert!(
            after >= last,
            "held before {call:?}: the counter went back from {last} to {after}"
        );
        step += 1;
    }
}

#[tokio::test]
async fn a_vault_reload_never_lowers_a_counter_on_dynamodb() {
    let fx = Fixture::new().await;
    a_vault_reload_never_lowers_a_counter(fx.records()).await;
}

#[tokio::test]
async fn a_vault_reload_never_lowers_a_counter_on_the_embedded_store() {
    let fx = EmbeddedFixture::new();
    a_vault_reload_never_lowers_a_counter(fx.records()).await;
}
