//! Honest dead letters, on moto (DynamoDB + SQS) through the real processor and dead-letter
//! handlers: a chunk whose every delivery dies after writing part of its side effects is
//! dead-lettered; the dead-letter path then reports each row whose side effect exists as
//! succeeded, exactly as a normal delivery would report it, and fails only the others with
//! `PROCESSING_FAILED`. The counters are the stored outcomes', and no side effect is written
//! twice.

mod common;

use std::collections::{BTreeSet, HashMap};

use bulkops::reference::{load_vault, VaultInput};
use bulkops_shared::engine::{Secrets, DEAD_LETTER_CODE};
use bulkops_shared::enrollment::EnrollmentRef;
use bulkops_shared::model::{ChunkMessage, JobState, RowOutcome};
use bulkops_shared::ops::accounts::{account_key, model::parse_account};
use bulkops_shared::ops::mobile_flash_pass::pass_key;
use bulkops_shared::queue::ChunkSource;
use bulkops_shared::store::RecordKey;
use bulkops_testkit::{ApiCall, Fixture, PumpOptions};
use common::write_budget::WriteBudget;
use common::*;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{json, Value};

/// Lets `creates` side effects land, then fails the chunk's every delivery until SQS
/// dead-letters it; runs the real dead-letter handler on it and returns the chunk.
async fn dead_letter_after(fx: &Fixture, creates: usize) -> ChunkMessage {
    let deps = processor::Deps {
        jobs: fx.jobs(),
        events: fx.events(),
        operations: bulkops_shared::ops::registry(WriteBudget::new(fx.records(), creates)),
        metrics: fx.metrics.clone(),
        queue: fx.queue(),
        group_chunks: true,
    };
    let stats = run_processor_with(fx, &deps, PumpOptions::default()).await;
    assert_eq!(
        stats.reported_failures.len(),
        bulkops_shared::queue::MAX_RECEIVE_COUNT as usize,
        "received maxReceiveCount times, then dead-lettered"
    );
    assert_eq!(fx.queue_depth(&fx.queue_url).await, 0);
    let dead = fx.dead_letter_source().receive(10).await.expect("read DLQ");
    assert_eq!(dead.len(), 1, "one dead-lettered chunk");
    let chunk: ChunkMessage = serde_json::from_str(&dead[0].body).expect("a chunk message");
    let event = bulkops_testkit::sqs_event(&dead, &fx.dlq_arn);
    let response = dead_letter::handler(
        &fx.dead_letter_deps(),
        LambdaEvent::new(event, Context::default()),
    )
    .await
    .expect("the dead-letter function answers");
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    chunk
}

/// The job is COMPLETED, its counters are its stored outcomes', one per row; returns them.
async fn completed_outcomes(fx: &Fixture, job_id: &str) -> Vec<RowOutcome> {
    let job = fx.jobs().get_job(job_id).await.expect("read").expect("job");
    let outcomes = fx.jobs().row_outcomes(job_id).await.expect("outcomes");
    assert_eq!(job.state, JobState::Completed, "{job:?}");
    let rows: Vec<u32> = outcomes.iter().map(|o| o.row).collect();
    assert_eq!(
        rows,
        (1..=job.total_rows).collect::<Vec<_>>(),
        "one per row"
    );
    let failed: Vec<&RowOutcome> = outcomes.iter().filter(|o| o.is_failed()).collect();
    assert_eq!(
        (job.rows_processed, job.rows_failed, job.rows_skipped),
        (job.total_rows - failed.len() as u32, failed.len() as u32, 0),
        "the counters are the stored outcomes'"
    );
    assert_eq!(job.first_failed_row, failed.first().map(|o| o.row));
    outcomes
}

/// A dead-lettered row without a side effect: failed with the dead-letter reason.
fn assert_dead(outcome: &RowOutcome) {
    assert_eq!(
        outcome.error_code.as_deref(),
        Some(DEAD_LETTER_CODE),
        "{outcome:?}"
    );
    let message = outcome.error_message.as_deref().unwrap_or_default();
    assert!(message.contains("dead-lettered"), "{outcome:?}");
    assert_eq!(outcome.result, None);
}

/// What a normal delivery reports for `rows` of the chunk now that their side effects exist
/// (it finds them and creates nothing).
async fn normal_report(
    fx: &Fixture,
    chunk: &ChunkMessage,
    rows: &BTreeSet<u32>,
) -> Vec<RowOutcome> {
    let operations = bulkops_shared::ops::registry(fx.records());
    let operation = operations.for_type(chunk.job_type).expect("operation");
    let job = fx
        .jobs()
        .get_job(&chunk.job_id)
        .await
        .expect("read")
        .expect("job");
    let rows: Vec<_> = chunk
        .rows
        .iter()
        .filter(|r| rows.contains(&r.row))
        .cloned()
        .collect();
    operation
        .run(&job, &rows, &Secrets::new())
        .await
        .expect("a normal run")
}

#[tokio::test]
async fn a_dead_lettered_chunk_reports_the_passes_it_issued_as_succeeded() {
    let fx = Fixture::new().await;
    let mut ids = load(&fx, 0..20).await;
    ids.push(enrollment_id(90_000)); // unknown: it would fail, but never issued anything
    ids.push(ids[0].clone()); // a duplicate of row 1, whose pass is row 1's
    let job_id = submit_ids(&fx, &ids).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let chunk = dead_letter_after(&fx, 8).await;

    let keys: Vec<RecordKey> = ids
        .iter()
        .map(|id| pass_key(&EnrollmentRef::from_id(id).expect("valid id"), &job_id))
        .collect();
    let issued = fx.records().get_many(&keys).await.expect("read passes");
    assert_eq!(
        issued.len(),
        8,
        "8 passes landed before the deliveries died"
    );
    let outcomes = completed_outcomes(&fx, &job_id).await;
    let mut recovered = BTreeSet::new();
    for outcome in &outcomes {
        let index = outcome.row as usize - 1;
        let echo = json!({ "id": ids[index] });
        assert_eq!(Value::Object(outcome.item.clone()), echo);
        match issued
            .get(&keys[index])
            .filter(|pass| pass["row"] == outcome.row)
        {
            Some(pass) => {
                let result = json!({ "passIssuedAt": pass["issuedAt"] });
                assert_eq!(outcome.result, Some(result), "row {}", outcome.row);
                assert!(!outcome.is_failed(), "{outcome:?}");
                recovered.insert(outcome.row);
            }
            None => assert_dead(outcome),
        }
    }
    assert_eq!(recovered.len(), 8, "every issued pass is reported");
    assert!(
        outcomes[21].is_failed(),
        "the duplicate does not own row 1's pass"
    );

    let normal = normal_report(&fx, &chunk, &recovered).await;
    let stored: Vec<RowOutcome> = outcomes
        .into_iter()
        .filter(|o| recovered.contains(&o.row))
        .collect();
    assert_eq!(stored, normal, "reported as a normal delivery reports them");
    assert_eq!(passes(&fx).await.len(), 8, "no pass issued twice");
    let reread = fx.records().get_many(&keys).await.expect("read passes");
    assert_eq!(reread, issued, "the passes are unchanged");
}

#[tokio::test]
async fn a_dead_lettered_chunk_reports_the_accounts_it_created_as_succeeded() {
    let fx = Fixture::new().await;
    let vault: VaultInput = serde_json::from_value(json!({
        "safes": [{"safeName": "Unix", "safeId": 7, "members": {"alice": {"addAccounts": true}}}],
        "platforms": [{"platformId": "UnixSSH", "requiredProperties": ["address"]}],
    }))
    .expect("vault");
    load_vault(&fx.records(), vault).await.expect("load vault");
    let mut list: Vec<Value> = (0..10)
        .map(|i| json!({"safeName": "Unix", "platformId": "UnixSSH", "userName": format!("u{i}"), "address": "h", "secret": format!("dl-secret-{i}")}))
        .collect();
    list.push(json!({"safeName": "Nowhere", "platformId": "UnixSSH", "userName": "x", "address": "h", "secret": "dl-secret-x"}));
    list.push(json!({"safeName": "Unix", "platformId": "UnixSSH", "userName": "u0", "address": "h", "secret": "dl-secret-dup"}));
    let call = ApiCall::new("POST", "/PasswordVault/API/BulkActions/Accounts")
        .json(json!({"source": "dead-letters", "accountsList": list}).to_string())
        .user("alice", "");
    let response = call_submit(&fx, call).await;
    assert_eq!(response.status(), 202);
    let bulk_id = body_json(&response).as_i64().expect("bulk id");
    let job_id = bulk_id.to_string();
    let chunk = dead_letter_after(&fx, 4).await;

    let keys: Vec<RecordKey> = list
        .iter()
        .map(|a| account_key(&parse_account(a, "a").expect("account").model))
        .collect();
    let created: HashMap<RecordKey, Value> =
        fx.records().get_many(&keys).await.expect("read accounts");
    assert_eq!(
        created.len(),
        4,
        "4 accounts landed before the deliveries died"
    );
    let outcomes = completed_outcomes(&fx, &job_id).await;
    let mut recovered = BTreeSet::new();
    for outcome in &outcomes {
        let index = outcome.row as usize - 1;
        assert_eq!(outcome.item["userName"], list[index]["userName"]);
        assert!(!outcome.item.contains_key("secret"), "{outcome:?}");
        let own = created
            .get(&keys[index])
            .filter(|a| a["bulkId"] == job_id.as_str() && a["uploadRow"] == outcome.row);
        match own {
            Some(account) => {
                assert_eq!(outcome.result, Some(json!({ "id": account["id"] })));
                assert!(!outcome.is_failed(), "{outcome:?}");
                assert_eq!(account["secret"], list[index]["secret"]);
                recovered.insert(outcome.row);
            }
            None => assert_dead(outcome),
        }
    }
    assert_eq!(recovered.len(), 4, "every created account is reported");
    assert!(
        outcomes[11].is_failed(),
        "the duplicate does not own row 1's account"
    );

    // The operator's view: the created accounts under their ids, no secret anywhere.
    let view = call_query(
        &fx,
        ApiCall::new(
            "GET",
            &format!("/PasswordVault/API/BulkActions/Accounts/{bulk_id}"),
        )
        .user("alice", ""),
    )
    .await;
    let text = String::from_utf8_lossy(view.body().as_ref()).into_owned();
    assert!(!text.contains("dl-secret"), "a response leaked a secret");
    let view = body_json(&view);
    assert_eq!(view["Result"], json!({"Succeeded": 4, "Failed": 8}));
    let shown: BTreeSet<&str> = view["SucceededItems"]["Items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["id"].as_str())
        .collect();
    let ids: BTreeSet<&str> = created.values().filter_map(|a| a["id"].as_str()).collect();
    assert_eq!(shown, ids);
    assert!(
        fx.jobs()
            .chunk_secrets(&job_id, chunk.chunk)
            .await
            .expect("secrets")
            .is_empty(),
        "staged secrets released"
    );

    let normal = normal_report(&fx, &chunk, &recovered).await;
    let stored: Vec<RowOutcome> = outcomes
        .into_iter()
        .filter(|o| recovered.contains(&o.row))
        .collect();
    assert_eq!(stored, normal, "reported as a normal delivery reports them");
    let reread = fx.records().get_many(&keys).await.expect("read accounts");
    assert_eq!(reread, created, "the accounts are unchanged");
    let accounts = fx
        .scan_all()
        .await
        .into_iter()
        .filter(|item| {
            item.get("sk")
                .and_then(|v| v.as_s().ok())
                .is_some_and(|sk| sk.starts_with("ACCOUNT#"))
        })
        .count();
    assert_eq!(accounts, 4, "no account created twice");
}
