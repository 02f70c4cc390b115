//! A job's chunks delivered together (claimed, run and recorded as a group) against a second
//! delivery of one of them, interleaved at every store call of the group, on both stores
//! (DynamoDB on moto, embedded). The group is held before its n-th store call while a rival
//! runs to the end: a duplicate of its first chunk alone, or a cancel and then that duplicate.
//! Then the group goes on. For every n: every row is counted once, as what was stored; the
//! counts are the stored outcomes'; a pass, once issued, is never issued again; and every
//! succeeded row, and only those, has its pass.

mod common;

use std::collections::HashMap;
use std::sync::Arc;

use bulkops::reference::load_enrollments;
use bulkops_shared::enrollment::EnrollmentRef;
use bulkops_shared::model::{JobState, Outcome};
use bulkops_shared::ops::mobile_flash_pass::pass_key;
use bulkops_shared::store::{CancelOutcome, RecordKey};
use bulkops_testkit::sqs_event;
use common::backends::{self, Backend};
use common::faults::{faulty_worker, Faults};
use common::held::{process, run_until_held};
use common::{body_json, enrollment, enrollment_id, submit_call};
use serde_json::Value;

/// Known enrollments in the job; one unknown follows them.
const KNOWN: usize = 599;

/// A window larger than the job: both chunks are queued at once.
const WINDOW: u32 = 100;

async fn moto() -> Backend {
    backends::moto(WINDOW).await
}

/// The embedded store, its chunks grouped as on AWS (the local server runs them alone).
async fn embedded() -> Backend {
    let mut backend = backends::embedded(WINDOW);
    backend.worker.group_chunks = true;
    backend
}

/// A flash pass job of two chunks, submitted through the real handler: its id.
async fn submit(b: &Backend) -> String {
    let mut ids = load_enrollments(&b.records, (0..KNOWN).map(enrollment).collect())
        .await
        .expect("load enrollments");
    ids.push(enrollment_id(90_000));
    let response = submit::handler(&b.submit, submit_call(&ids).request())
        .await
        .expect("submit");
    assert_eq!(response.status(), 200);
    body_json(&response)["id"].as_str().expect("id").to_owned()
}

/// The passes issued for the job, by key.
async fn passes(s: &Backend, job_id: &str) -> HashMap<RecordKey, Value> {
    let keys: Vec<RecordKey> = (0..KNOWN)
        .map(|n| {
            let enrollment = EnrollmentRef::from_id(&enrollment_id(n)).expect("id");
            pass_key(&enrollment, job_id)
        })
        .collect();
    s.records.get_many(&keys).await.expect("read passes")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rival {
    Duplicate,
    CancelThenDuplicate,
}

async fn interleave<F, Fut>(stores: F, rival: Rival)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Backend>,
{
    let mut step = 0;
    loop {
        let s = stores().await;
        let job_id = submit(&s).await;
        let delivery = s.source.receive(10).await.expect("receive");
        assert_eq!(delivery.len(), 2, "two chunks");
        let (faults, mut gate) = Faults::gated(step);
        let held_deps = Arc::new(faulty_worker(
            s.jobs.clone(),
            s.records.clone(),
            s.worker.events.clone(),
            s.worker.queue.clone(),
            faults.clone(),
        ));
        let event = sqs_event(&delivery, &s.arn);
        let (call, held) = run_until_held(held_deps.clone(), event, &mut gate).await;
        let Some(call) = call else {
            assert!(
                step > 5,
                "{rival:?}: the group made only {step} store calls"
            );
            return;
        };
        let at = format!("{rival:?} while the group waits before {call:?} (call {step})");
        let mut expected_state = JobState::Completed;
        if rival == Rival::CancelThenDuplicate {
            // Cancelled unless the held group already completed the job.
            if let CancelOutcome::Cancelled(_) = s.jobs.cancel(&job_id, 1).await.expect("cancel") {
                expected_state = JobState::Cancelled;
            }
        }
        let alone = sqs_event(&delivery[..1], &s.arn);
        let response = process(&s.worker, alone).await;
        assert!(response.batch_item_failures.is_empty(), "{at}");
        let issued = passes(&s, &job_id).await;
        gate.release();
        faults.close_gate();
        let response = held.await.expect("the group finishes");
        assert!(
            response.batch_item_failures.is_empty(),
            "{at}: {response:?}"
        );

        let job = s.jobs.get_job(&job_id).await.expect("read").expect("job");
        assert_eq!(job.state, expected_state, "{at}");
        assert_eq!(job.rows_accounted(), KNOWN as u32 + 1, "{at}: {job:?}");
        let outcomes = s.jobs.row_outcomes(&job_id).await.expect("outcomes");
        let succeeded: Vec<u32> = outcomes
            .iter()
            .filter(|o| o.outcome == Outcome::Succeeded)
            .map(|o| o.row)
            .collect();
        let stored = outcomes.len() as u32;
        assert_eq!(
            (job.rows_processed, job.rows_failed, job.rows_skipped),
            (
                succeeded.len() as u32,
                stored - succeeded.len() as u32,
                job.total_rows - stored
            ),
            "{at}: the counts are the stored outcomes'"
        );
        let now = passes(&s, &job_id).await;
        for (key, pass) in &issued {
            assert_eq!(now.get(key), Some(pass), "{at}: a pass is issued once");
        }
        let mut pass_rows: Vec<u32> = now
            .values()
            .map(|pass| pass["row"].as_u64().expect("row") as u32)
            .collect();
        pass_rows.sort_unstable();
        assert_eq!(pass_rows, succeeded, "{at}: a pass for each succeeded row");
        step += 1;
    }
}

macro_rules! interleavings {
    ($($name:ident: $rival:expr;)*) => {
        mod dynamodb_on_moto {
            use super::*;
            $(#[tokio::test] async fn $name() { interleave(moto, $rival).await })*
        }
        mod embedded_redb {
            use super::*;
            $(#[tokio::test] async fn $name() { interleave(embedded, $rival).await })*
        }
    };
}

interleavings! {
    a_duplicate_of_a_chunk_during_its_group: Rival::Duplicate;
    a_cancel_and_a_duplicate_during_a_group: Rival::CancelThenDuplicate;
}
