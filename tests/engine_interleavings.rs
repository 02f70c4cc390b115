//! Two deliveries of one chunk, interleaved at every step, on both stores (DynamoDB on moto,
//! embedded). Delivery A is held before its n-th store call while a rival runs to the end: a
//! duplicate delivery, a cancel followed by a duplicate, or the dead-letter function. Then A
//! goes on. For every n, the chunk's rows are counted once, as what was stored; a chunk counted
//! as skipped created nothing; every account holds the secret its row carried; staged secrets
//! are gone; a flash pass, once issued, is never issued again; and the report is honest: every
//! success shows its side effect, and every side effect written before the rival finished
//! (even by a delivery that then waits while the dead-letter path ends its chunk) is reported.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use bulkops::reference::{load_enrollments, load_vault, VaultInput};
use bulkops_shared::engine::sqs::WorkerDeps;
use bulkops_shared::engine::{EventFlush, NoFlush};
use bulkops_shared::enrollment::EnrollmentRef;
use bulkops_shared::model::{JobState, Outcome};
use bulkops_shared::ops::accounts::{account_key, model::parse_account};
use bulkops_shared::ops::mobile_flash_pass::pass_key;
use bulkops_shared::queue::{ChunkQueue, ChunkSource};
use bulkops_shared::store::{CancelOutcome, JobStore, RecordKey, RecordStore};
use bulkops_testkit::{sqs_event, ApiCall, Fixture};
use common::embedded::EmbeddedFixture;
use common::faults::{faulty_worker, Faults};
use common::held::{process, run_until_held};
use common::{body_json, enrollment, enrollment_id, submit_call};
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};

/// One backend's stores and queue, kept alive for a run.
struct Stores {
    jobs: Arc<dyn JobStore>,
    events: Arc<dyn EventFlush>,
    records: Arc<dyn RecordStore>,
    queue: Arc<dyn ChunkQueue>,
    source: Arc<dyn ChunkSource>,
    arn: String,
    _keep: Box<dyn std::any::Any + Send + Sync>,
}

async fn dynamo() -> Stores {
    let fx = Fixture::new().await;
    Stores {
        jobs: fx.jobs(),
        events: fx.events(),
        records: fx.records(),
        queue: fx.queue(),
        source: Arc::new(fx.source()),
        arn: fx.queue_arn.clone(),
        _keep: Box::new(fx),
    }
}

async fn embedded() -> Stores {
    let fx = EmbeddedFixture::new();
    Stores {
        jobs: fx.jobs(),
        events: Arc::new(NoFlush),
        records: fx.records(),
        queue: Arc::new(fx.queue.clone()),
        source: Arc::new(fx.queue.clone()),
        arn: "arn:aws:sqs:local:000000000000:chunks".into(),
        _keep: Box::new(fx),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rival {
    Duplicate,
    CancelThenDuplicate,
    DeadLetter,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Work {
    Accounts,
    FlashPasses,
}

fn worker(s: &Stores) -> WorkerDeps {
    WorkerDeps {
        events: s.events.clone(),
        jobs: s.jobs.clone(),
        operations: bulkops_shared::ops::registry(s.records.clone()),
        metrics: std::sync::Arc::new(bulkops_shared::metrics::NoMetrics),
        queue: s.queue.clone(),
        group_chunks: true,
    }
}

fn accounts() -> Vec<Value> {
    let mut list: Vec<Value> = (0..10)
        .map(|i| json!({"safeName": "Unix", "platformId": "UnixSSH", "userName": format!("u{i}"), "address": "h", "secret": format!("secret-{i}")}))
        .collect();
    list.push(json!({"safeName": "Nowhere", "platformId": "UnixSSH", "userName": "x", "address": "h", "secret": "secret-x"}));
    list.push(json!({"safeName": "Unix", "platformId": "UnixSSH", "userName": "u0", "address": "h", "secret": "secret-dup"}));
    list
}

/// Submits the work through the real submit handler; returns the job id and total rows.
async fn submit(s: &Stores, work: Work) -> (String, u32) {
    let deps = submit::Deps {
        clock: std::sync::Arc::new(bulkops_shared::time::SystemClock),
        jobs: s.jobs.clone(),
        queue: s.queue.clone(),
        events: s.events.clone(),
        quota: Default::default(),
        uploads: None,
    };
    match work {
        Work::Accounts => {
            let vault: VaultInput = serde_json::from_value(json!({
                "safes": [{"safeName": "Unix", "safeId": 7, "members": {"alice": {"addAccounts": true}}}],
                "platforms": [{"platformId": "UnixSSH", "requiredProperties": ["address"]}],
            }))
            .expect("vault");
            load_vault(&s.records, vault).await.expect("load vault");
            let body = json!({"source": "interleaving", "accountsList": accounts()});
            let call = ApiCall::new("POST", "/PasswordVault/API/BulkActions/Accounts")
                .json(body.to_string())
                .user("alice", "");
            let response = submit::handler(&deps, call.request())
                .await
                .expect("submit");
            assert_eq!(response.status(), 202);
            (body_json(&response).to_string(), 12)
        }
        Work::FlashPasses => {
            let mut ids = load_enrollments(&s.records, (0..20).map(enrollment).collect())
                .await
                .expect("load enrollments");
            ids.push(enrollment_id(90_000));
            let response = submit::handler(&deps, submit_call(&ids).request())
                .await
                .expect("submit");
            assert_eq!(response.status(), 200);
            (
                body_json(&response)["id"].as_str().expect("id").to_owned(),
                21,
            )
        }
    }
}

/// The flash passes issued for the job, by key, with their claim tokens.
async fn passes(s: &Stores, job_id: &str) -> HashMap<RecordKey, Value> {
    let keys: Vec<RecordKey> = (0..20)
        .map(|n| {
            pass_key(
                &EnrollmentRef::from_id(&enrollment_id(n)).expect("id"),
                job_id,
            )
        })
        .collect();
    s.records.get_many(&keys).await.expect("read passes")
}

fn account_keys() -> Vec<RecordKey> {
    accounts()
        .iter()
        .map(|a| account_key(&parse_account(a, "a").expect("account").model))
        .collect()
}

/// The job's side effects that exist now, by the row that wrote them, as the result that
/// row's outcome shows: its pass's issue time, or its account's id.
async fn side_effects(s: &Stores, work: Work, job_id: &str) -> HashMap<u32, Value> {
    let records: Vec<Value> = match work {
        Work::FlashPasses => passes(s, job_id).await.into_values().collect(),
        Work::Accounts => s
            .records
            .get_many(&account_keys())
            .await
            .expect("accounts")
            .into_values()
            .filter(|a| a["bulkId"] == job_id)
            .collect(),
    };
    let row = |record: &Value, field: &str| record[field].as_u64().expect("row") as u32;
    records
        .iter()
        .map(|r| match work {
            Work::FlashPasses => (row(r, "row"), json!({ "passIssuedAt": r["issuedAt"] })),
            Work::Accounts => (row(r, "uploadRow"), json!({ "id": r["id"] })),
        })
        .collect()
}

/// The report is honest: a success shows a side effect that exists, and a side effect that
/// existed once the rival finished is reported as a success. (A held delivery that resumes
/// after the dead-letter path recorded the chunk may still write side effects its stored
/// outcomes do not show; in production the visibility timeout, 6 × the function timeout,
/// ends every delivery before its chunk can be dead-lettered.)
async fn check_honest(
    s: &Stores,
    work: Work,
    job_id: &str,
    before: &HashMap<u32, Value>,
    at: &str,
) {
    let outcomes = s.jobs.row_outcomes(job_id).await.expect("outcomes");
    let after = side_effects(s, work, job_id).await;
    let succeeded: HashMap<u32, Option<&Value>> = outcomes
        .iter()
        .filter(|o| o.outcome == Outcome::Succeeded)
        .map(|o| (o.row, o.result.as_ref()))
        .collect();
    for (row, result) in &succeeded {
        assert_eq!(
            *result,
            after.get(row),
            "{at}: row {row} succeeded with its side effect"
        );
    }
    for (row, result) in before {
        assert_eq!(
            succeeded.get(row),
            Some(&Some(result)),
            "{at}: row {row}'s side effect is reported"
        );
    }
}

/// The invariants, whatever the interleaving.
async fn check(
    s: &Stores,
    work: Work,
    job_id: &str,
    total: u32,
    expected_state: JobState,
    at: &str,
) {
    let job = s.jobs.get_job(job_id).await.expect("read").expect("job");
    assert_eq!(
        job.rows_accounted(),
        total,
        "{at}: every row counted once: {job:?}"
    );
    let outcomes = s.jobs.row_outcomes(job_id).await.expect("outcomes");
    let succeeded = outcomes
        .iter()
        .filter(|o| o.outcome == Outcome::Succeeded)
        .count() as u32;
    assert_eq!(
        (job.rows_processed, job.rows_failed, job.rows_skipped),
        (
            succeeded,
            outcomes.len() as u32 - succeeded,
            total - outcomes.len() as u32
        ),
        "{at}: the counts are the stored outcomes'"
    );
    assert_eq!(job.state, expected_state, "{at}");
    assert!(
        s.jobs
            .chunk_secrets(job_id, 0)
            .await
            .expect("secrets")
            .is_empty(),
        "{at}: staged secrets released"
    );
    if work == Work::Accounts {
        let list = accounts();
        let keys = account_keys();
        let created = s.records.get_many(&keys).await.expect("accounts");
        for (account, key) in list.iter().zip(&keys) {
            if let Some(record) = created.get(key) {
                assert_eq!(record["bulkId"], job_id, "{at}");
                let row = record["uploadRow"].as_u64().expect("row") as usize;
                assert_eq!(
                    record["secret"],
                    list[row - 1]["secret"],
                    "{at}: an account holds the secret its row carried: {account}"
                );
            }
        }
        if job.rows_skipped == total {
            assert!(created.is_empty(), "{at}: a skipped chunk created nothing");
        }
    }
}

async fn interleave<F, Fut>(stores: F, work: Work, rival: Rival)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Stores>,
{
    let mut step = 0;
    loop {
        let s = stores().await;
        let (job_id, total) = submit(&s, work).await;
        let delivery = s.source.receive(1).await.expect("receive");
        assert_eq!(delivery.len(), 1, "one chunk");
        let event = sqs_event(&delivery, &s.arn);

        let (faults, mut gate) = Faults::gated(step);
        let held_deps = Arc::new(faulty_worker(
            s.jobs.clone(),
            s.records.clone(),
            s.events.clone(),
            s.queue.clone(),
            faults.clone(),
        ));
        let (call, held) = run_until_held(held_deps.clone(), event.clone(), &mut gate).await;
        let Some(call) = call else {
            assert!(
                step > 3,
                "{work:?}/{rival:?}: the delivery made only {step} store calls"
            );
            return;
        };
        let at = format!(
            "{work:?}, {rival:?} while the first delivery waits before {call:?} (call {step})"
        );
        let mut expected_state = JobState::Completed;
        match rival {
            Rival::Duplicate => {
                let response = process(&worker(&s), event.clone()).await;
                assert!(response.batch_item_failures.is_empty(), "{at}");
            }
            Rival::CancelThenDuplicate => {
                // Cancelled unless the held delivery already completed the job.
                if let CancelOutcome::Cancelled(_) =
                    s.jobs.cancel(&job_id, 1).await.expect("cancel")
                {
                    expected_state = JobState::Cancelled;
                }
                let response = process(&worker(&s), event.clone()).await;
                assert!(response.batch_item_failures.is_empty(), "{at}");
            }
            Rival::DeadLetter => {
                let response = dead_letter::handler(
                    &worker(&s),
                    LambdaEvent::new(event.clone(), Context::default()),
                )
                .await
                .expect("the dead-letter function answers");
                assert!(response.batch_item_failures.is_empty(), "{at}");
            }
        }
        let issued = passes(&s, &job_id).await;
        let before = side_effects(&s, work, &job_id).await;
        gate.release();
        faults.close_gate();
        let response = held.await.expect("the held delivery finishes");
        assert!(
            response.batch_item_failures.is_empty(),
            "{at}: {response:?}"
        );
        check(&s, work, &job_id, total, expected_state, &at).await;
        check_honest(&s, work, &job_id, &before, &at).await;
        let now = passes(&s, &job_id).await;
        for (key, pass) in &issued {
            assert_eq!(now.get(key), Some(pass), "{at}: a pass is issued once");
        }
        // The dead-letter path issues nothing: the held delivery may issue the passes it
        // was about to. Any other rival issued every pass the chunk issues.
        if rival != Rival::DeadLetter {
            assert_eq!(now.len(), issued.len(), "{at}: a pass is issued once");
        }
        step += 1;
    }
}

macro_rules! interleavings {
    ($($name:ident: $work:expr, $rival:expr;)*) => {
        mod dynamodb_on_moto {
            use super::*;
            $(#[tokio::test] async fn $name() { interleave(dynamo, $work, $rival).await })*
        }
        mod embedded_redb {
            use super::*;
            $(#[tokio::test] async fn $name() { interleave(embedded, $work, $rival).await })*
        }
    };
}

interleavings! {
    duplicate_deliveries_of_an_upload: Work::Accounts, Rival::Duplicate;
    a_cancel_and_a_duplicate_during_an_upload: Work::Accounts, Rival::CancelThenDuplicate;
    the_dead_letter_path_during_an_upload: Work::Accounts, Rival::DeadLetter;
    duplicate_deliveries_of_flash_passes: Work::FlashPasses, Rival::Duplicate;
    a_cancel_and_a_duplicate_during_flash_passes: Work::FlashPasses, Rival::CancelThenDuplicate;
    the_dead_letter_path_during_flash_passes: Work::FlashPasses, Rival::DeadLetter;
}
