//! A staged job whose file never comes (issue 11, item 2): an hour after its upload URL
//! expired (the grace for an upload begun in time), its first read ends it FAILED with an
//! `errorMessage` saying so, once, through the real handlers on moto with a moved clock; until
//! then it waits AWAITING_DATA (Pending). Its place in the caller's quota is freed. A job
//! nobody reads is ended by the scheduled publisher's sweep, which sends its Failed event.

mod common;

use std::sync::Arc;

use bulkops::local::uploads::LocalUploads;
use bulkops_shared::model::UPLOAD_GRACE_SECONDS;
use bulkops_shared::staged::UPLOAD_URL_SECONDS;
use bulkops_shared::store::Quota;
use bulkops_testkit::{ApiCall, Fixture};
use common::*;
use serde_json::Value;

/// Job items still in the awaiting-uploads index (`gsi3`).
async fn indexed_as_awaiting(fx: &Fixture) -> usize {
    let items = fx.scan_all().await;
    items.iter().filter(|i| i.contains_key("gsi3pk")).count()
}

async fn submit(fx: &Fixture, uploads: &Arc<LocalUploads>, call: ApiCall) -> (u16, Value) {
    let mut deps = fx.submit_deps();
    deps.uploads = Some(uploads.clone());
    let response = submit::handler(&deps, call.request())
        .await
        .expect("submit");
    (response.status().as_u16(), body_json(&response))
}

#[tokio::test]
async fn a_file_that_never_comes_fails_its_job_once() {
    let mut fx = Fixture::new().await;
    fx.quota = Quota {
        max_active_jobs: 2,
        max_rows_in_flight: 1_000,
    };
    let dir = tempfile::tempdir().unwrap();
    let uploads = Arc::new(LocalUploads::open(dir.path(), "http://127.0.0.1:1".into()).unwrap());
    let staged = || {
        ApiCall::new("POST", "/api/web/v2/mobileFlashPass/uploads").user("alice", ALL_PERMISSIONS)
    };
    let (status, job) = submit(&fx, &uploads, staged()).await;
    assert_eq!(status, 200, "{job}");
    let id = job["id"].as_str().unwrap().to_owned();
    let (status, upload) = submit(
        &fx,
        &uploads,
        ApiCall::new("POST", "/PasswordVault/API/BulkActions/Accounts/uploads").user("alice", ""),
    )
    .await;
    assert_eq!(status, 202, "{upload}");
    let bulk_id = upload["Id"].as_i64().unwrap();
    // Both staged jobs hold the caller's two places.
    assert_eq!(submit(&fx, &uploads, staged()).await.0, 429);

    // Past the URL's expiry, within the grace: still waiting.
    fx.clock.advance(UPLOAD_URL_SECONDS * 1000 + 1_000);
    assert_eq!(get_job(&fx, &id).await["state"], "AWAITING_DATA");

    // Past the grace: the first read ends it, once.
    fx.clock.advance(UPLOAD_GRACE_SECONDS * 1000);
    let failed = get_job(&fx, &id).await;
    assert_eq!(failed["state"], "FAILED", "{failed}");
    let message = failed["errorMessage"].as_str().unwrap_or_default();
    assert!(message.contains("upload URL expired"), "{message}");
    assert_eq!(get_job(&fx, &id).await, failed, "read again: the same");
    let list = call_query(
        &fx,
        ApiCall::new("GET", "/PasswordVault/API/BulkActions/Accounts").user("alice", ""),
    )
    .await;
    let list = body_json(&list);
    assert_eq!(list["BulkActions"][0]["Id"], bulk_id);
    assert_eq!(list["BulkActions"][0]["Status"], "failed", "{list}");

    // Their places are free again.
    assert_eq!(submit(&fx, &uploads, staged()).await.0, 200);
}

#[tokio::test]
async fn a_file_that_never_comes_and_nobody_reads_is_ended_by_the_sweep() {
    let fx = Fixture::new().await;
    let dir = tempfile::tempdir().unwrap();
    let uploads = Arc::new(LocalUploads::open(dir.path(), "http://127.0.0.1:1".into()).unwrap());
    let (status, job) = submit(
        &fx,
        &uploads,
        ApiCall::new("POST", "/api/web/v2/mobileFlashPass/uploads").user("alice", ALL_PERMISSIONS),
    )
    .await;
    assert_eq!(status, 200, "{job}");
    let id = job["id"].as_str().unwrap().to_owned();
    let (status, upload) = submit(
        &fx,
        &uploads,
        ApiCall::new("POST", "/PasswordVault/API/BulkActions/Accounts/uploads").user("bob", ""),
    )
    .await;
    assert_eq!(status, 202, "{upload}");
    assert_eq!(indexed_as_awaiting(&fx).await, 2);

    // Within the grace (a minute before its end: the clock also moves by itself) the sweep
    // leaves them waiting.
    fx.clock
        .advance((UPLOAD_URL_SECONDS + UPLOAD_GRACE_SECONDS) * 1000 - 60_000);
    let out = run_publisher(&fx).await;
    assert_eq!(
        (&out["published"], &out["overdueUploads"]),
        (&0.into(), &0.into())
    );
    assert_eq!(indexed_as_awaiting(&fx).await, 2);

    // Past it, the scheduled publisher ends both and sends their Failed events, once.
    fx.clock.advance(120_000);
    let out = run_publisher(&fx).await;
    assert_eq!(
        (&out["published"], &out["overdueUploads"]),
        (&2.into(), &2.into())
    );
    let events = fx.published_events().await;
    let failed: Vec<&Value> = events
        .iter()
        .filter(|e| e["detail-type"] == "Bulk Job Failed")
        .collect();
    assert_eq!((events.len(), failed.len()), (2, 2), "{events:#?}");
    assert!(failed
        .iter()
        .any(|e| e["detail"]["eventId"] == format!("{id}:FAILED")));
    let job = fx.jobs().get_job(&id).await.unwrap().expect("job");
    assert_eq!(job.state, bulkops_shared::model::JobState::Failed);
    let message = job.error_message.unwrap_or_default();
    assert!(message.contains("upload URL expired"), "{message}");
    assert_eq!(
        indexed_as_awaiting(&fx).await,
        0,
        "ended jobs leave the index"
    );

    // Nothing is ended or sent twice.
    assert_eq!(run_publisher(&fx).await["published"], 0);
    assert!(fx.published_events().await.is_empty());
}

/// Ending an overdue job fails (throttled, or its write lands and the sweep dies there): the
/// outbox is swept all the same, the sweep reports the failure, and the job ends once, its
/// Failed event sent once, by the next sweep at the latest.
#[tokio::test]
async fn a_sweep_that_fails_ending_a_job_ends_it_next_time() {
    use bulkops_shared::events::{EventBridgeSink, Publisher};
    use bulkops_shared::model::{Job, JobState, JobType};
    use bulkops_shared::store::JobStore;
    use bulkops_shared::time::Clock;
    use common::faults::{Call, Fault, Faults, FaultyJobStore};

    let event_ids = |events: Vec<Value>| -> Vec<String> {
        let ids = events.iter().map(|e| e["detail"]["eventId"].as_str());
        ids.map(|id| id.unwrap_or_default().to_owned()).collect()
    };
    for fault in [
        Fault::Throttle {
            call: Call::ExpireUpload,
            times: 1,
        },
        Fault::AfterWrite {
            call: Call::ExpireUpload,
            times: 1,
        },
    ] {
        let fx = Fixture::new().await;
        let jobs: Arc<dyn JobStore> = Arc::new(FaultyJobStore {
            inner: fx.jobs(),
            faults: Faults::new(&[fault]),
        });
        let bus = EventBridgeSink::new(fx.clients.eventbridge.clone(), &fx.bus);
        let publisher = Publisher::new(jobs, Arc::new(bus)).with_clock(fx.clock.clone());
        // A staged job nobody reads, and a job whose Created event waits in its outbox.
        let mut staged = Job::new("staged".into(), JobType::SendMfp, "alice".into(), 0, 1_000);
        staged.state = JobState::AwaitingData;
        staged.upload_expires_at_ms = Some(fx.clock.now_ms());
        fx.jobs().create_job(&staged).await.unwrap();
        let mut waiting = Job::new("waiting".into(), JobType::SendMfp, "bob".into(), 5, 1_000);
        waiting.state = JobState::AwaitingData;
        waiting.chunk_count = 1;
        fx.jobs().create_job(&waiting).await.unwrap();
        assert!(fx
            .jobs()
            .release("waiting")
            .await
            .unwrap()
            .moved()
            .is_some());
        fx.clock.advance(UPLOAD_GRACE_SECONDS * 1000);

        assert!(publisher.sweep(100).await.is_err(), "{fault:?}");
        let mut sent = event_ids(fx.published_events().await);
        assert!(
            sent.contains(&"waiting:CREATED".into()),
            "{fault:?}: {sent:?}"
        );

        // Throttled, the job ends now; ended before the failure, its event goes out now (or
        // went out with the outbox already).
        publisher.sweep(100).await.expect("the next sweep");
        sent.extend(event_ids(fx.published_events().await));
        sent.sort();
        assert_eq!(sent, ["staged:FAILED", "waiting:CREATED"], "{fault:?}");
        let job = fx.jobs().get_job("staged").await.unwrap().expect("job");
        assert_eq!(job.state, JobState::Failed, "{fault:?}");

        let stats = publisher.sweep(100).await.expect("a third sweep");
        assert_eq!((stats.overdue, stats.published), (0, 0), "{fault:?}");
        assert!(fx.published_events().await.is_empty(), "{fault:?}");
    }
}
