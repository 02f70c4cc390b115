//! Records, the outbox of events, and a whole job on the embedded store.

use super::*;

async fn records_batch_create_and_count(s: Stores) {
    let key = |n: usize| RecordKey::new(format!("P#{}", n % 3), format!("S#{n}"));
    let many: Vec<_> = (0..130)
        .map(|n| {
            let record = Record::of(&json!({"n": n, "nested": {"a": [1, 2]}})).unwrap();
            (key(n), record)
        })
        .collect();
    s.records.put_many(many).await.unwrap();
    let keys: Vec<_> = (0..140).map(key).collect();
    let found = s.records.get_many(&keys).await.unwrap();
    assert_eq!(found.len(), 130, "missing keys are absent");
    assert_eq!(found[&key(5)], json!({"n": 5, "nested": {"a": [1, 2]}}));
    // Presence alone, over more than one batch of reads, each key once however often asked.
    let mut asked = keys.clone();
    asked.extend([key(7), key(135)]);
    let present = s.records.existing(&asked).await.unwrap();
    assert_eq!(present.len(), asked.len(), "an answer for each key asked");
    for (asked, present) in asked.iter().zip(&present) {
        assert_eq!(*present, found.contains_key(asked), "{asked:?}");
    }
    assert_eq!(
        present.iter().filter(|p| **p).count(),
        131,
        "key 7 asked twice"
    );
    assert!(!present[present.len() - 1], "key 135 was never written");

    let fresh: Vec<_> = (125..135)
        .map(|n| (key(n), Record::of(&json!({"n": n * 100})).unwrap()))
        .collect();
    let existing = s.records.create_many(fresh).await.unwrap();
    assert_eq!(existing.len(), 5);
    let after = s.records.get_many(&[key(126), key(131)]).await.unwrap();
    assert_eq!(
        after[&key(126)]["n"],
        126,
        "an existing record is left unchanged"
    );
    assert_eq!(after[&key(131)]["n"], 13_100, "a free key is created");

    assert_eq!(
        s.records.increment(&key(1), "counter", 3).await.unwrap(),
        Some(3)
    );
    assert_eq!(
        s.records.increment(&key(1), "counter", 2).await.unwrap(),
        Some(5)
    );
    assert_eq!(
        s.records.increment(&key(999), "counter", 1).await.unwrap(),
        None,
        "no record, no counter"
    );
    assert_eq!(
        s.records.get_many(&[key(1)]).await.unwrap()[&key(1)]["n"],
        1
    );

    // A reloaded record never lowers its counter: accounts numbered meanwhile keep theirs.
    let safe = RecordKey::new("SAFE#s", "SAFE");
    let version = |v: i64, counter: i64| json!({"version": v, "members": {"a": {"x": true}}, "next": counter});
    s.records
        .put_keeping_counter(&safe, version(1, 5), "next")
        .await
        .unwrap();
    assert_eq!(
        s.records.increment(&safe, "next", 3).await.unwrap(),
        Some(8)
    );
    s.records
        .put_keeping_counter(&safe, version(2, 2), "next")
        .await
        .unwrap();
    let reloaded = &s
        .records
        .get_many(std::slice::from_ref(&safe))
        .await
        .unwrap()[&safe];
    assert_eq!(
        (reloaded["version"].as_i64(), reloaded["next"].as_i64()),
        (Some(2), Some(8))
    );
    assert_eq!(reloaded["members"], json!({"a": {"x": true}}));
    s.records
        .put_keeping_counter(&safe, version(3, 20), "next")
        .await
        .unwrap();
    assert_eq!(
        s.records
            .get_many(std::slice::from_ref(&safe))
            .await
            .unwrap()[&safe]["next"],
        20
    );
}

/// Every transition records its event in the job's outbox in the same write; published
/// events leave it, and a job with none pending is no longer listed for the publisher.
async fn transitions_record_their_events_until_published(s: Stores) {
    let kinds = |job: &Job| job.outbox.keys().copied().collect::<Vec<_>>();
    s.jobs.create_job(&awaiting("a", 10)).await.unwrap();
    assert!(
        s.jobs
            .get_job("a")
            .await
            .unwrap()
            .unwrap()
            .outbox
            .is_empty(),
        "no event before release"
    );
    s.jobs.release("a").await.unwrap();
    s.jobs.start_processing("a", 2_000).await.unwrap();
    s.jobs
        .record_chunk("a", 0, counts(5, 0), None)
        .await
        .unwrap();
    s.jobs
        .record_chunk("a", 1, counts(4, 1), None)
        .await
        .unwrap();
    assert!(s.jobs.complete("a", 3_000).await.unwrap().is_some());
    let a = s.jobs.get_job("a").await.unwrap().unwrap();
    assert_eq!(
        kinds(&a),
        vec![
            EventKind::Created,
            EventKind::Processing,
            EventKind::Completed
        ]
    );
    assert_eq!(a.outbox[&EventKind::Completed], 3_000);

    s.jobs.create_job(&awaiting("f", 10)).await.unwrap();
    s.jobs.abandon("f", "queue down", 4_000).await.unwrap();
    s.jobs.create_job(&awaiting("c", 10)).await.unwrap();
    s.jobs.release("c").await.unwrap();
    s.jobs.cancel("c", 5_000).await.unwrap();
    assert_eq!(
        kinds(&s.jobs.get_job("f").await.unwrap().unwrap()),
        vec![EventKind::Failed]
    );
    assert_eq!(
        kinds(&s.jobs.get_job("c").await.unwrap().unwrap()),
        vec![EventKind::Created, EventKind::Cancelled]
    );
    let pending: Vec<String> = s
        .jobs
        .jobs_with_pending_events(10)
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(pending.len(), 3, "{pending:?}");

    // Published in two steps; the job leaves the list with its last event, and a repeat is harmless.
    s.jobs
        .mark_published("a", &[EventKind::Created])
        .await
        .unwrap();
    assert_eq!(s.jobs.jobs_with_pending_events(10).await.unwrap().len(), 3);
    s.jobs
        .mark_published("a", &[EventKind::Processing, EventKind::Completed])
        .await
        .unwrap();
    s.jobs
        .mark_published("a", &[EventKind::Completed])
        .await
        .unwrap();
    assert!(s
        .jobs
        .get_job("a")
        .await
        .unwrap()
        .unwrap()
        .outbox
        .is_empty());
    let pending: Vec<String> = s
        .jobs
        .jobs_with_pending_events(10)
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert!(!pending.contains(&"a".to_owned()), "{pending:?}");
    s.jobs
        .mark_published("f", &[EventKind::Failed])
        .await
        .unwrap();
    s.jobs
        .mark_published("c", &[EventKind::Created, EventKind::Cancelled])
        .await
        .unwrap();
    assert!(s
        .jobs
        .jobs_with_pending_events(10)
        .await
        .unwrap()
        .is_empty());
    s.jobs
        .mark_published("none", &[EventKind::Failed])
        .await
        .unwrap();
}

/// The engine and the real handlers run unchanged on the embedded store and queue: no AWS,
/// every message delivered twice.
#[tokio::test]
async fn a_job_runs_end_to_end_fully_embedded() {
    use bulkops_embedded::EmbeddedQueue;
    use bulkops_testkit::{pump, PumpOptions};
    use common::*;
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = Arc::new(EmbeddedStore::open(&dir.path().join("bulkops.redb")).unwrap());
    let queue = EmbeddedQueue::new(
        &store,
        "chunks",
        Some("chunks-dlq"),
        3,
        std::time::Duration::from_secs(60),
    );
    let records: Arc<dyn RecordStore> = store.clone();
    let ids = bulkops::reference::load_enrollments(&records, (0..600).map(enrollment).collect())
        .await
        .unwrap();
    let mut request = ids.clone();
    request.push(enrollment_id(9_999));
    request.push(ids[3].clone());
    let submit_deps = submit::Deps {
        clock: std::sync::Arc::new(bulkops_shared::time::SystemClock),
        jobs: store.clone(),
        queue: Arc::new(queue.clone()),
        events: Arc::new(bulkops_shared::engine::NoFlush),
        quota: Default::default(),
        uploads: None,
    };
    let response = submit::handler(&submit_deps, submit_call(&request).request())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let id = body_json(&response)["id"].as_str().unwrap().to_owned();
    let processor_deps = processor::Deps {
        jobs: store.clone(),
        operations: bulkops_shared::ops::registry(records.clone()),
        events: Arc::new(bulkops_shared::engine::NoFlush),
        metrics: Arc::new(bulkops_shared::metrics::NoMetrics),
        queue: Arc::new(queue.clone()),
        group_chunks: false,
    };
    let options = PumpOptions {
        deliveries: 2,
        ..PumpOptions::default()
    };
    let stats = pump(
        &queue,
        "arn:aws:sqs:local:000000000000:chunks",
        options,
        |event| {
            processor::handler(
                &processor_deps,
                lambda_runtime::LambdaEvent::new(event, Default::default()),
            )
        },
    )
    .await;
    assert_eq!(stats.deliveries, 4, "2 chunks, each delivered twice");
    let job = store.get_job(&id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Completed);
    assert_eq!(
        (job.rows_processed, job.rows_failed, job.first_failed_row),
        (600, 2, Some(601))
    );
    assert_eq!(store.row_outcomes(&id).await.unwrap().len(), 602);
}

both_stores!(
    records_batch_create_and_count,
    transitions_record_their_events_until_published,
);
