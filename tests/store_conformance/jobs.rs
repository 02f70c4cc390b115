//! Jobs: creation and ids, forward-only states, release, cancel and abandon, listings,
//! sequences and staged secrets, client tokens.

use super::*;

async fn jobs_round_trip_and_ids_are_unique(s: Stores) {
    let mut created = job("j1", JobType::SendMfp, "alice", 10, 1_000);
    created.source = Some("file.csv".into());
    s.jobs.create_job(&created).await.unwrap();
    assert_eq!(s.jobs.get_job("j1").await.unwrap(), Some(created.clone()));
    assert!(
        s.jobs.create_job(&created).await.is_err(),
        "a job id is created once"
    );
    assert_eq!(s.jobs.get_job("nope").await.unwrap(), None);
}

async fn state_moves_forward_only(s: Stores) {
    s.jobs
        .create_job(&job("j1", JobType::SendMfp, "alice", 1, 1_000))
        .await
        .unwrap();
    assert!(
        s.jobs.complete("j1", 1_500).await.unwrap().is_none(),
        "SCHEDULED cannot complete"
    );
    s.jobs.start_processing("j1", 2_000).await.unwrap();
    s.jobs.start_processing("j1", 9_000).await.unwrap();
    let j = s.jobs.get_job("j1").await.unwrap().unwrap();
    assert_eq!(
        (j.state, j.processing_start_ms),
        (JobState::Processing, Some(2_000))
    );
    assert!(s.jobs.complete("j1", 3_000).await.unwrap().is_some());
    assert!(
        s.jobs.complete("j1", 4_000).await.unwrap().is_none(),
        "COMPLETED is set exactly once"
    );
    let j = s.jobs.get_job("j1").await.unwrap().unwrap();
    assert_eq!(
        (j.state, j.processing_end_ms),
        (JobState::Completed, Some(3_000))
    );
    assert_eq!(
        s.jobs.cancel("j1", 5_000).await.unwrap(),
        CancelOutcome::AlreadyFinal(JobState::Completed)
    );
    assert!(matches!(
        s.jobs.abandon("j1", "late", 6_000).await.unwrap(),
        Transition::Unchanged(_)
    ));
    assert_eq!(
        s.jobs.get_job("j1").await.unwrap().unwrap().state,
        JobState::Completed
    );
}

/// Too many failed rows: PROCESSING → FAILED once, with the reason and the Failed event; a
/// job in any other state is left alone; the tolerance round-trips.
async fn a_processing_job_stops_failed_once(s: Stores) {
    let mut tolerant = job("t1", JobType::SendMfp, "alice", 10, 1_000);
    tolerant.tolerance.tolerated_failure_count = Some(2);
    tolerant.tolerance.tolerated_failure_percentage = Some(12.5);
    s.jobs.create_job(&tolerant).await.unwrap();
    let stored = s.jobs.get_job("t1").await.unwrap().unwrap();
    assert_eq!(stored.tolerance, tolerant.tolerance);
    // Whether stopping `id` failed moved it (and so returned the job).
    let stops = |id: &'static str, message: &'static str, at: i64| {
        let jobs = s.jobs.clone();
        async move { jobs.stop_failed(id, message, at).await.unwrap().is_some() }
    };
    assert!(!stops("t1", "too many", 1_500).await, "SCHEDULED stays");
    s.jobs.start_processing("t1", 2_000).await.unwrap();
    assert!(stops("t1", "too many", 3_000).await);
    assert!(!stops("t1", "again", 4_000).await, "once");
    assert!(s.jobs.complete("t1", 5_000).await.unwrap().is_none());
    let j = s.jobs.get_job("t1").await.unwrap().unwrap();
    assert_eq!(
        (j.state, j.processing_end_ms, j.error_message.as_deref()),
        (JobState::Failed, Some(3_000), Some("too many"))
    );
    assert!(j.outbox.contains_key(&EventKind::Failed));
    assert!(!stops("missing", "x", 1).await);
}

async fn release_cancel_and_abandon(s: Stores) {
    s.jobs
        .create_job(&job("c", JobType::SendMfp, "alice", 5, 1_000))
        .await
        .unwrap();
    assert!(
        matches!(s.jobs.cancel("c", 2_000).await.unwrap(), CancelOutcome::Cancelled(j) if j.state == JobState::Cancelled)
    );
    assert_eq!(
        s.jobs.cancel("c", 2_000).await.unwrap(),
        CancelOutcome::AlreadyFinal(JobState::Cancelled)
    );
    assert_eq!(
        s.jobs.cancel("none", 2_000).await.unwrap(),
        CancelOutcome::NotFound
    );
    assert!(s.jobs.complete("c", 3_000).await.unwrap().is_none());

    // Released once, and only from AWAITING_DATA.
    s.jobs.create_job(&awaiting("r", 10)).await.unwrap();
    assert!(
        matches!(s.jobs.release("r").await.unwrap(), Transition::Moved(j) if j.state == JobState::Scheduled)
    );
    assert!(
        matches!(s.jobs.release("r").await.unwrap(), Transition::Unchanged(j) if j.state == JobState::Scheduled)
    );
    assert_eq!(
        s.jobs.release("none").await.unwrap(),
        Transition::JobMissing
    );

    // Cancelled before release: nothing can run, every row is skipped at once.
    s.jobs.create_job(&awaiting("a", 10)).await.unwrap();
    let CancelOutcome::Cancelled(a) = s.jobs.cancel("a", 2_000).await.unwrap() else {
        panic!("an awaiting job can be cancelled");
    };
    assert_eq!((a.state, a.rows_skipped), (JobState::Cancelled, 10));
    assert_eq!(a.chunks_recorded(), 2);
    assert!(a.is_chunk_recorded(0) && a.is_chunk_recorded(1));

    // Abandoned (its chunks could not all be queued): FAILED, every row skipped, every chunk
    // recorded, so a chunk that was queued after all is not counted again.
    s.jobs.create_job(&awaiting("f", 10)).await.unwrap();
    assert!(matches!(
        s.jobs.abandon("f", "queue down", 2_000).await.unwrap(),
        Transition::Moved(_)
    ));
    let f = s.jobs.get_job("f").await.unwrap().unwrap();
    assert_eq!((f.state, f.rows_skipped), (JobState::Failed, 10));
    assert_eq!(f.error_message.as_deref(), Some("queue down"));
    assert!(
        !s.jobs
            .record_chunk("f", 1, counts(4, 0), None)
            .await
            .unwrap()
            .unwrap()
            .newly_recorded
    );
    assert!(matches!(
        s.jobs.claim_chunk("f", 0).await.unwrap(),
        Claim::Refused(_)
    ));
    assert!(matches!(
        s.jobs.abandon("r", "released already", 3_000).await.unwrap(),
        Transition::Unchanged(j) if j.state == JobState::Scheduled
    ));
    assert_eq!(
        s.jobs.abandon("none", "x", 3_000).await.unwrap(),
        Transition::JobMissing
    );
}

async fn listing_is_newest_first_and_owner_scoped_where_required(s: Stores) {
    for (id, t, owner, at) in [
        ("m1", JobType::SendMfp, "alice", 1_000),
        ("m2", JobType::SendMfp, "bob", 2_000),
        ("1", JobType::AddAccounts, "alice", 1_500),
        ("2", JobType::AddAccounts, "bob", 2_500),
        ("3", JobType::AddAccounts, "alice", 3_000),
    ] {
        s.jobs.create_job(&job(id, t, owner, 1, at)).await.unwrap();
    }
    let ids = |jobs: Vec<Job>| jobs.into_iter().map(|j| j.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s
            .jobs
            .list_jobs(JobType::SendMfp, "anyone", 10)
            .await
            .unwrap()),
        vec!["m2", "m1"]
    );
    assert_eq!(
        ids(s
            .jobs
            .list_jobs(JobType::AddAccounts, "alice", 10)
            .await
            .unwrap()),
        vec!["3", "1"]
    );
    assert_eq!(
        ids(s
            .jobs
            .list_jobs(JobType::AddAccounts, "alice", 1)
            .await
            .unwrap()),
        vec!["3"]
    );
    assert!(s
        .jobs
        .list_jobs(JobType::AddAccounts, "carol", 10)
        .await
        .unwrap()
        .is_empty());
}

async fn sequences_increase_and_secrets_are_staged(s: Stores) {
    let a = s.jobs.next_sequence("S").await.unwrap();
    let b = s.jobs.next_sequence("S").await.unwrap();
    assert_eq!((a, b), (1, 2));
    assert_eq!(s.jobs.next_sequence("T").await.unwrap(), 1);
    let secrets = Secrets::from([(1, "one".to_owned()), (2, "two".to_owned())]);
    s.jobs.put_chunk_secrets("j1", 0, &secrets).await.unwrap();
    assert_eq!(s.jobs.chunk_secrets("j1", 0).await.unwrap(), secrets);
    assert!(s.jobs.chunk_secrets("j1", 1).await.unwrap().is_empty());
    s.jobs.delete_chunk_secrets("j1", 0).await.unwrap();
    s.jobs.delete_chunk_secrets("j1", 0).await.unwrap();
    assert!(s.jobs.chunk_secrets("j1", 0).await.unwrap().is_empty());

    // Kept secrets: per job (j1's never include j10's); a redelivery's write changes nothing.
    let later = bulkops_shared::time::now_ms() + 60_000;
    let one = Secrets::from([(1, "one".to_owned())]);
    let three = Secrets::from([(300, "three".to_owned())]);
    s.jobs
        .keep_failed_secrets("j1", 0, &one, later)
        .await
        .unwrap();
    s.jobs
        .keep_failed_secrets("j1", 0, &one, later)
        .await
        .unwrap();
    s.jobs
        .keep_failed_secrets("j1", 2, &three, later)
        .await
        .unwrap();
    let other = Secrets::from([(1, "other".to_owned())]);
    s.jobs
        .keep_failed_secrets("j10", 0, &other, later)
        .await
        .unwrap();
    let expected = Secrets::from([(1, "one".to_owned()), (300, "three".to_owned())]);
    assert_eq!(s.jobs.kept_secrets("j1").await.unwrap(), expected);
    assert_eq!(s.jobs.kept_secrets("j10").await.unwrap(), other);
    assert!(s.jobs.kept_secrets("j2").await.unwrap().is_empty());
}

/// A client token is held by the first job that claims it, also when claims race.
async fn a_client_token_is_held_by_its_first_job(s: Stores) {
    let key = bulkops_shared::store::client_token_key("accounts", "alice", "t-1");
    let ids: Vec<String> = (0..8).map(|n| n.to_string()).collect();
    let claims =
        futures::future::join_all(ids.iter().map(|id| s.jobs.claim_client_token(&key, id))).await;
    let holders: std::collections::BTreeSet<String> =
        claims.into_iter().map(|c| c.unwrap()).collect();
    assert_eq!(holders.len(), 1, "{holders:?}");
    let holder = holders.into_iter().next().unwrap();
    assert_eq!(s.jobs.claim_client_token(&key, "99").await.unwrap(), holder);
    let other = bulkops_shared::store::client_token_key("accounts", "bob", "t-1");
    assert_eq!(s.jobs.claim_client_token(&other, "7").await.unwrap(), "7");
}

both_stores!(
    jobs_round_trip_and_ids_are_unique,
    state_moves_forward_only,
    a_processing_job_stops_failed_once,
    release_cancel_and_abandon,
    listing_is_newest_first_and_owner_scoped_where_required,
    sequences_increase_and_secrets_are_staged,
    a_client_token_is_held_by_its_first_job,
);
