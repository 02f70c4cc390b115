//! Staged jobs waiting for their file: the set the publisher's sweep reads to end the ones
//! overdue that nobody reads. A job is in it from its creation until it leaves AWAITING_DATA,
//! by any transition, or its file arrives.

use super::*;
use bulkops_shared::model::UPLOAD_GRACE_SECONDS;
use bulkops_shared::store::{Admission, Quota};

const GRACE_MS: i64 = UPLOAD_GRACE_SECONDS * 1000;

/// A staged job whose upload URL expires at `url_expires_ms`.
fn staged(id: &str, url_expires_ms: i64) -> Job {
    let mut job = awaiting(id, 0);
    job.chunk_count = 0;
    job.upload_expires_at_ms = Some(url_expires_ms);
    job
}

async fn overdue(s: &Stores, now_ms: i64, limit: usize) -> Vec<String> {
    let jobs = s.jobs.overdue_uploads(now_ms, limit).await.unwrap();
    assert!(jobs.iter().all(|job| job.is_upload_overdue(now_ms)));
    jobs.into_iter().map(|job| job.id).collect()
}

async fn overdue_uploads_are_the_staged_jobs_still_waiting(s: Stores) {
    for (id, url_expires_ms) in [
        ("s2", 20_000),
        ("s1", 10_000),
        ("s3", 30_000),
        ("s4", 40_000),
        ("s5", 50_000),
    ] {
        s.jobs
            .create_job(&staged(id, url_expires_ms))
            .await
            .unwrap();
    }
    // Admitted under a quota: the same.
    let quota = Quota {
        max_active_jobs: 100,
        max_rows_in_flight: 1_000_000,
    };
    let s6 = staged("s6", 60_000);
    let admitted = s.jobs.create_job_within(&s6, &quota).await.unwrap();
    assert_eq!(admitted, Admission::Created);
    // Not staged: never in the set, however old.
    s.jobs.create_job(&awaiting("plain", 10)).await.unwrap();

    // Overdue from the URL's expiry plus the grace on, to the millisecond; earliest first.
    assert!(overdue(&s, 10_000 + GRACE_MS - 1, 100).await.is_empty());
    assert_eq!(overdue(&s, 10_000 + GRACE_MS, 100).await, ["s1"]);
    let all = ["s1", "s2", "s3", "s4", "s5", "s6"];
    assert_eq!(overdue(&s, 60_000 + GRACE_MS, 100).await, all);
    assert_eq!(overdue(&s, i64::MAX / 2, 2).await, ["s1", "s2"]);

    // A write that keeps it waiting keeps it in the set.
    s.jobs.record_split_progress("s6", 3).await.unwrap();
    assert_eq!(overdue(&s, i64::MAX / 2, 100).await, all);

    // Every way out of AWAITING_DATA takes it out.
    assert!(s
        .jobs
        .release_staged("s1", 0, 0)
        .await
        .unwrap()
        .moved()
        .is_some());
    let expired = s.jobs.abandon("s2", "file never came", 3_000);
    assert!(expired.await.unwrap().moved().is_some());
    let cancelled = s.jobs.cancel("s3", 3_000).await.unwrap();
    assert!(matches!(cancelled, CancelOutcome::Cancelled(_)));
    assert!(s.jobs.release("s4").await.unwrap().moved().is_some());
    assert_eq!(overdue(&s, i64::MAX / 2, 100).await, ["s5", "s6"]);
    // And nothing brings it back.
    assert!(s
        .jobs
        .start_processing("s1", 4_000)
        .await
        .unwrap()
        .is_some());
    assert!(s.jobs.complete("s1", 5_000).await.unwrap().is_some());
    assert_eq!(overdue(&s, i64::MAX / 2, 100).await, ["s5", "s6"]);

    // Its file arriving takes it out too, while it stays AWAITING_DATA to be split.
    let noted = s.jobs.note_file_received("s5", 6_000).await.unwrap();
    let noted = noted.moved().expect("an awaiting job");
    assert_eq!(noted.state, JobState::AwaitingData);
    assert_eq!(noted.file_received_ms, Some(6_000));
    let again = s.jobs.note_file_received("s5", 7_000).await.unwrap();
    assert_eq!(
        again.moved().unwrap().file_received_ms,
        Some(6_000),
        "noted once"
    );
    assert_eq!(overdue(&s, i64::MAX / 2, 100).await, ["s6"]);
    assert!(matches!(
        s.jobs.note_file_received("s1", 7_000).await.unwrap(),
        Transition::Unchanged(j) if j.file_received_ms.is_none()
    ));
    assert_eq!(
        s.jobs.note_file_received("none", 7_000).await.unwrap(),
        Transition::JobMissing
    );

    // Ending one for its missing file: only while no file came, even racing a reader that
    // saw it missing a moment before.
    let came = s.jobs.expire_upload("s5", "no file", 8_000).await.unwrap();
    assert!(matches!(came, Transition::Unchanged(j) if j.state == JobState::AwaitingData));
    let ended = s.jobs.expire_upload("s6", "no file", 8_000).await.unwrap();
    let ended = ended.moved().expect("no file came");
    assert_eq!(ended.state, JobState::Failed);
    assert_eq!(ended.error_message.as_deref(), Some("no file"));
    assert!(ended.outbox.contains_key(&EventKind::Failed));
    let again = s.jobs.expire_upload("s6", "no file", 9_000).await.unwrap();
    assert!(matches!(again, Transition::Unchanged(j) if j.state == JobState::Failed));
    assert!(overdue(&s, i64::MAX / 2, 100).await.is_empty());
}

both_stores!(overdue_uploads_are_the_staged_jobs_still_waiting);
