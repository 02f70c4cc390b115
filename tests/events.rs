//! Job events on the bus (moto's EventBridge, with a rule forwarding to an SQS queue the test
//! reads): one event per transition, by id `<job id>:<KIND>`, none lost and none invented,
//! under redelivery, crashes after every write and a bus that refuses events for a while.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bulkops_shared::events::{EventBridgeSink, EventSink, JobEvent, Publisher, SinkError};
use bulkops_testkit::{ApiCall, Fixture, PumpOptions};
use common::faults::{faulty_worker, Call, Fault, Faults};
use common::*;
use serde_json::{json, Value};

/// Event ids seen, with how many deliveries each had.
fn ids(events: &[Value]) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for event in events {
        let id = event["detail"]["eventId"]
            .as_str()
            .expect("eventId")
            .to_owned();
        *seen.entry(id).or_default() += 1;
    }
    seen
}

fn expected(job: &str, kinds: &[&str]) -> Vec<String> {
    kinds.iter().map(|k| format!("{job}:{k}")).collect()
}

/// Runs the scheduled publisher function, which publishes whatever is left in the outbox.
async fn sweep(fx: &Fixture) {
    let out = run_publisher(fx).await;
    assert!(out["published"].as_u64().is_some(), "{out}");
}

#[tokio::test]
async fn a_job_publishes_one_event_per_transition_in_order() {
    let fx = Fixture::new().await;
    let mut ids_in = load(&fx, 0..20).await;
    ids_in.push(enrollment_id(9_000));
    let job = submit_ids(&fx, &ids_in).await;
    let id = job["id"].as_str().unwrap().to_owned();
    run_processor(&fx, PumpOptions::default()).await;
    let events = fx.published_events().await;
    let seen: Vec<String> = ids(&events).into_keys().collect();
    let mut wanted = expected(&id, &["CREATED", "PROCESSING", "COMPLETED"]);
    wanted.sort();
    assert_eq!(seen, wanted, "{events:#?}");
    let by_kind = |kind: &str| {
        events
            .iter()
            .find(|e| e["detail"]["eventId"] == format!("{id}:{kind}"))
            .cloned()
            .expect("event")
    };
    let completed = by_kind("COMPLETED");
    assert_eq!(completed["source"], "bulkops");
    assert_eq!(completed["detail-type"], "Bulk Job Completed");
    assert_eq!(
        completed["detail"]["counts"],
        json!({"total": 21, "succeeded": 20, "failed": 1, "skipped": 0})
    );
    assert_eq!(completed["detail"]["firstFailedRow"], 21);
    assert_eq!(completed["detail"]["api"], "mobileFlashPass");
    assert_eq!(
        completed["detail"]["paths"]["results"],
        format!("/api/web/v2/mobileFlashPass/download/logs/{id}")
    );
    let created = by_kind("CREATED");
    assert_eq!(created["detail"]["state"], "SCHEDULED");
    assert_eq!(created["detail"]["counts"]["succeeded"], 0);
    // In order of time.
    let times: Vec<String> = ["CREATED", "PROCESSING", "COMPLETED"]
        .iter()
        .map(|k| by_kind(k)["time"].as_str().unwrap().to_owned())
        .collect();
    let mut sorted = times.clone();
    sorted.sort();
    assert_eq!(times, sorted);
    assert!(
        fx.jobs()
            .jobs_with_pending_events(10)
            .await
            .unwrap()
            .is_empty(),
        "nothing pending"
    );
}

#[tokio::test]
async fn an_upload_says_its_bulk_id_and_cyberark_status_and_never_a_secret() {
    let fx = Fixture::new().await;
    let vault: bulkops::reference::VaultInput = serde_json::from_value(json!({
        "safes": [{"safeName": "Unix", "safeId": 7, "members": {"alice": {"addAccounts": true}}}],
        "platforms": [{"platformId": "UnixSSH", "requiredProperties": ["address"]}],
    }))
    .unwrap();
    bulkops::reference::load_vault(&fx.records(), vault)
        .await
        .unwrap();
    let body = json!({"source": "events", "accountsList": [
        {"safeName": "Unix", "platformId": "UnixSSH", "userName": "a", "address": "h", "secret": "hunter2-secret"},
        {"safeName": "Nowhere", "platformId": "UnixSSH", "userName": "b", "address": "h"}]});
    let response = call_submit(
        &fx,
        ApiCall::new("POST", "/PasswordVault/API/BulkActions/Accounts")
            .json(body.to_string())
            .user("alice", ""),
    )
    .await;
    let bulk = body_json(&response).as_i64().unwrap();
    run_processor(&fx, PumpOptions::default()).await;
    let events = fx.published_events().await;
    assert_eq!(ids(&events).len(), 3);
    let completed = events
        .iter()
        .find(|e| e["detail-type"] == "Bulk Job Completed")
        .unwrap();
    assert_eq!(completed["detail"]["bulkId"], bulk);
    assert_eq!(completed["detail"]["api"], "accounts");
    assert_eq!(completed["detail"]["status"], "completedWithErrors");
    assert_eq!(completed["detail"]["owner"], "alice");
    assert!(!serde_json::to_string(&events).unwrap().contains("hunter2"));
}

#[tokio::test]
async fn cancelled_and_failed_jobs_emit_theirs() {
    let fx = Fixture::new().await;
    let ids_in = load(&fx, 0..10).await;
    let job = submit_ids(&fx, &ids_in).await;
    let id = job["id"].as_str().unwrap().to_owned();
    let cancel = ApiCall::new(
        "DELETE",
        &format!("/api/web/v1/mobileFlashPass/cancel/{id}"),
    )
    .user("alice", ALL_PERMISSIONS);
    assert_eq!(call_cancel(&fx, cancel).await.status(), 200);
    run_processor(&fx, PumpOptions::default()).await;
    let events = fx.published_events().await;
    let mut wanted = expected(&id, &["CREATED", "CANCELLED"]);
    wanted.sort();
    assert_eq!(ids(&events).into_keys().collect::<Vec<_>>(), wanted);

    // A job that could not be queued was never released: FAILED only.
    let missing = format!("{}-missing", fx.queue_url);
    let deps = submit::Deps {
        clock: std::sync::Arc::new(bulkops_shared::time::SystemClock),
        jobs: fx.jobs(),
        queue: fx.clients.chunk_queue(&fx.table, &missing),
        events: fx.events(),
        quota: Default::default(),
        uploads: None,
    };
    let response = submit::handler(&deps, submit_call(&ids_in).request())
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let events = fx.published_events().await;
    let failed: Vec<&Value> = events
        .iter()
        .filter(|e| e["detail-type"] == "Bulk Job Failed")
        .collect();
    assert_eq!((events.len(), failed.len()), (1, 1), "{events:#?}");
    assert_eq!(failed[0]["detail"]["counts"]["skipped"], 10);
    assert!(failed[0]["detail"]["errorMessage"]
        .as_str()
        .unwrap()
        .contains("could not be queued"));
}

/// A bus that refuses the first `refuse` calls' entries and fails the next `fail` calls.
struct FlakyBus {
    inner: EventBridgeSink,
    refuse: AtomicU32,
    fail: AtomicU32,
}

#[async_trait]
impl EventSink for FlakyBus {
    async fn send(&self, events: &[JobEvent]) -> Result<Vec<String>, SinkError> {
        if self
            .refuse
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Ok(events.iter().map(|e| e.id.clone()).collect());
        }
        if self
            .fail
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(SinkError("ThrottlingException: rate exceeded".into()));
        }
        self.inner.send(events).await
    }
}

/// 1,100 rows delivered 3× each, a processor dying after each of its writes in turn, and a bus
/// refusing entries (FailedEntryCount) then throttling: after the sweep, each job's events are
/// exactly its transitions by id.
#[tokio::test]
async fn no_event_is_lost_or_invented_under_redelivery_crashes_and_a_failing_bus() {
    for call in [
        None,
        Some(Call::StartProcessing),
        Some(Call::Complete),
        Some(Call::MarkPublished),
        Some(Call::MakeDurable),
        Some(Call::RecordChunk),
    ] {
        let fx = Fixture::new().await;
        let bus = Arc::new(FlakyBus {
            inner: EventBridgeSink::new(fx.clients.eventbridge.clone(), &fx.bus),
            refuse: AtomicU32::new(2),
            fail: AtomicU32::new(2),
        });
        let faults = Faults::new(
            &call
                .map(|call| Fault::AfterWrite { call, times: 1 })
                .into_iter()
                .collect::<Vec<_>>(),
        );
        let faulty_jobs: Arc<dyn bulkops_shared::store::JobStore> =
            Arc::new(common::faults::FaultyJobStore {
                inner: fx.jobs(),
                faults: faults.clone(),
            });
        let events = Arc::new(Publisher::new(faulty_jobs, bus));
        let mut ids_in = load(&fx, 0..1_000).await;
        ids_in.extend((5_000..5_100).map(enrollment_id));
        let deps = submit::Deps {
            clock: std::sync::Arc::new(bulkops_shared::time::SystemClock),
            jobs: fx.jobs(),
            queue: fx.queue(),
            events: events.clone(),
            quota: Default::default(),
            uploads: None,
        };
        let response = submit::handler(&deps, submit_call(&ids_in).request())
            .await
            .unwrap();
        let id = body_json(&response)["id"].as_str().unwrap().to_owned();
        let worker = faulty_worker(fx.jobs(), fx.records(), events, fx.queue(), faults);
        run_processor_with(
            &fx,
            &worker,
            PumpOptions {
                deliveries: 3,
                ..PumpOptions::default()
            },
        )
        .await;
        sweep(&fx).await;
        let events = fx.published_events().await;
        let mut wanted = expected(&id, &["CREATED", "PROCESSING", "COMPLETED"]);
        wanted.sort();
        assert_eq!(
            ids(&events).into_keys().collect::<Vec<_>>(),
            wanted,
            "{call:?}: exactly the transitions, by id"
        );
        let job = get_job(&fx, &id).await;
        assert_eq!(
            (job["rowsProcessed"].as_u64(), job["rowsFailed"].as_u64()),
            (Some(1_000), Some(100))
        );
    }
}

/// A SCHEDULED one-chunk job `id` created through a job store that injects `fault`, and a
/// publisher to the bus over that store.
async fn scheduled_job_behind(
    fx: &Fixture,
    id: &str,
    fault: Fault,
) -> (Arc<dyn bulkops_shared::store::JobStore>, Publisher) {
    use bulkops_shared::model::{Job, JobType};

    let jobs: Arc<dyn bulkops_shared::store::JobStore> = Arc::new(common::faults::FaultyJobStore {
        inner: fx.jobs(),
        faults: Faults::new(&[fault]),
    });
    let bus = Arc::new(EventBridgeSink::new(
        fx.clients.eventbridge.clone(),
        &fx.bus,
    ));
    let mut job = Job::new(id.into(), JobType::SendMfp, "alice".into(), 10, 1_000);
    job.chunk_count = 1;
    jobs.create_job(&job).await.unwrap();
    (jobs.clone(), Publisher::new(jobs, bus))
}

/// A transition's own flush publishes from the job the transition returned: the job is not
/// read again. Here every read of the job fails, and its events still go out.
#[tokio::test]
async fn a_transition_flushes_from_the_job_it_returned_without_reading_it() {
    use bulkops_shared::engine::EventFlush;

    let fx = Fixture::new().await;
    let (unreadable, publisher) = scheduled_job_behind(
        &fx,
        "read-free",
        Fault::Throttle {
            call: Call::GetJob,
            times: u32::MAX,
        },
    )
    .await;

    // By id, the flush has to read the job, and cannot: nothing is published.
    publisher.flush("read-free").await;
    assert!(fx.published_events().await.is_empty());

    let started = unreadable
        .start_processing("read-free", 2_000)
        .await
        .unwrap()
        .expect("SCHEDULED -> PROCESSING");
    publisher.flush_job(&started).await;
    let seen: Vec<String> = ids(&fx.published_events().await).into_keys().collect();
    assert_eq!(seen, expected("read-free", &["PROCESSING"]));
}

/// Nothing is announced that the store could not make durable: while `make_durable` fails,
/// the job's events stay in its outbox, and the next flush sends them.
#[tokio::test]
async fn an_event_waits_while_its_transition_cannot_be_made_durable() {
    use bulkops_shared::engine::EventFlush;

    let fx = Fixture::new().await;
    let (jobs, publisher) = scheduled_job_behind(
        &fx,
        "not-yet",
        Fault::Throttle {
            call: Call::MakeDurable,
            times: 1,
        },
    )
    .await;
    let started = jobs
        .start_processing("not-yet", 2_000)
        .await
        .unwrap()
        .expect("SCHEDULED -> PROCESSING");

    publisher.flush_job(&started).await;
    assert!(
        fx.published_events().await.is_empty(),
        "an event went out that the store had not made durable"
    );
    assert!(jobs
        .get_job("not-yet")
        .await
        .unwrap()
        .expect("job")
        .outbox
        .contains_key(&bulkops_shared::model::EventKind::Processing));

    publisher.flush("not-yet").await;
    let seen: Vec<String> = ids(&fx.published_events().await).into_keys().collect();
    assert_eq!(seen, expected("not-yet", &["PROCESSING"]));
}
