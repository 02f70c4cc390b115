//! The Idempotency-Key port, on both stores (DynamoDB through moto, embedded redb): one
//! holder per key even when claims race; a different body is told apart; an answer is kept
//! once, by its holder only; a holder that never answered is taken over after its lease,
//! keeping its job id; a released or expired key is free again.

use std::sync::Arc;

use bulkops_embedded::EmbeddedStore;
use bulkops_shared::store::{
    scoped_key, JobStore, KeyClaim, KeyRecord, StoredResponse, IDEMPOTENCY_LEASE_MS,
    IDEMPOTENCY_RETENTION_SECONDS,
};
use bulkops_testkit::Fixture;

const NOW: i64 = 1_800_000_000_000;

struct Store {
    jobs: Arc<dyn JobStore>,
    _dir: Option<tempfile::TempDir>,
}

async fn dynamo() -> Store {
    Store {
        jobs: Fixture::new().await.jobs(),
        _dir: None,
    }
}

async fn embedded() -> Store {
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = EmbeddedStore::open(&dir.path().join("bulkops.redb")).expect("open");
    Store {
        jobs: Arc::new(store),
        _dir: Some(dir),
    }
}

fn claim(fingerprint: &str, job_id: &str, now_ms: i64) -> KeyRecord {
    KeyRecord::new(fingerprint.to_owned(), job_id.to_owned(), now_ms)
}

fn answer(body: &str) -> StoredResponse {
    StoredResponse {
        status: 200,
        content_type: "application/json".to_owned(),
        body: body.to_owned(),
    }
}

fn won(outcome: KeyClaim) -> KeyRecord {
    match outcome {
        KeyClaim::Won(record) => record,
        KeyClaim::Held(record) => panic!("held: {record:?}"),
    }
}

fn held(outcome: KeyClaim) -> KeyRecord {
    match outcome {
        KeyClaim::Held(record) => record,
        KeyClaim::Won(record) => panic!("won: {record:?}"),
    }
}

async fn one_holder_when_claims_race(s: Store) {
    let key = scoped_key(&["idempotency", "mobileFlashPass", "alice", "k-1"]);
    let claims: Vec<KeyRecord> = (0..10)
        .map(|n| claim("body-a", &format!("job-{n}"), NOW))
        .collect();
    let outcomes =
        futures::future::join_all(claims.iter().map(|c| s.jobs.claim_idempotency_key(&key, c)))
            .await;
    let winners: Vec<KeyRecord> = outcomes
        .into_iter()
        .filter_map(|o| match o.expect("claim") {
            KeyClaim::Won(record) => Some(record),
            KeyClaim::Held(_) => None,
        })
        .collect();
    assert_eq!(winners.len(), 1, "{winners:?}");
    let holder = &winners[0];
    assert_eq!(
        holder.expires_at,
        NOW / 1000 + IDEMPOTENCY_RETENTION_SECONDS
    );

    // Another owner's key of the same spelling is another key.
    let other = scoped_key(&["idempotency", "mobileFlashPass", "alicE", "k-1"]);
    won(s
        .jobs
        .claim_idempotency_key(&other, &claim("body-a", "x", NOW))
        .await
        .unwrap());

    // In progress: held, without an answer.
    let again = held(
        s.jobs
            .claim_idempotency_key(&key, &claim("body-a", "y", NOW + 1))
            .await
            .unwrap(),
    );
    assert_eq!(
        (again.job_id.as_str(), again.response.as_ref()),
        (holder.job_id.as_str(), None)
    );

    // Answered once, by its holder only.
    s.jobs
        .answer_idempotency_key(&key, NOW - 5, &answer("not the holder"))
        .await
        .unwrap();
    s.jobs
        .answer_idempotency_key(&key, holder.claimed_at_ms, &answer("first"))
        .await
        .unwrap();
    s.jobs
        .answer_idempotency_key(&key, holder.claimed_at_ms, &answer("second"))
        .await
        .unwrap();
    let later = NOW + IDEMPOTENCY_LEASE_MS * 10;
    let done = held(
        s.jobs
            .claim_idempotency_key(&key, &claim("body-a", "z", later))
            .await
            .unwrap(),
    );
    assert_eq!(done.response, Some(answer("first")));
    assert_eq!(done.fingerprint, "body-a");

    // A different body finds the record and its fingerprint.
    let other_body = held(
        s.jobs
            .claim_idempotency_key(&key, &claim("body-b", "w", later))
            .await
            .unwrap(),
    );
    assert_eq!(other_body.fingerprint, "body-a");
}

async fn an_abandoned_key_is_taken_over_after_its_lease(s: Store) {
    let key = scoped_key(&["idempotency", "accounts", "alice", "k-2"]);
    let first = won(s
        .jobs
        .claim_idempotency_key(&key, &claim("f", "17", NOW))
        .await
        .unwrap());
    // Within the lease: held.
    let early = NOW + IDEMPOTENCY_LEASE_MS - 1;
    held(
        s.jobs
            .claim_idempotency_key(&key, &claim("f", "18", early))
            .await
            .unwrap(),
    );
    // After it, with another body: still held (it is another request).
    let late = NOW + IDEMPOTENCY_LEASE_MS;
    held(
        s.jobs
            .claim_idempotency_key(&key, &claim("g", "19", late))
            .await
            .unwrap(),
    );
    // After it, same body: taken over, with the first holder's job id; racing retries get one.
    let retries: Vec<KeyRecord> = (0..5).map(|n| claim("f", &format!("2{n}"), late)).collect();
    let outcomes = futures::future::join_all(
        retries
            .iter()
            .map(|c| s.jobs.claim_idempotency_key(&key, c)),
    )
    .await;
    let takers: Vec<KeyRecord> = outcomes
        .into_iter()
        .filter_map(|o| match o.expect("claim") {
            KeyClaim::Won(record) => Some(record),
            KeyClaim::Held(_) => None,
        })
        .collect();
    assert_eq!(takers.len(), 1, "{takers:?}");
    assert_eq!(takers[0].job_id, first.job_id);
    assert_eq!(takers[0].claimed_at_ms, late);
    // The first holder, back from the dead, can no longer answer or release it.
    s.jobs
        .answer_idempotency_key(&key, NOW, &answer("stale"))
        .await
        .unwrap();
    s.jobs.release_idempotency_key(&key, NOW).await.unwrap();
    let still = held(
        s.jobs
            .claim_idempotency_key(&key, &claim("f", "30", late + 1))
            .await
            .unwrap(),
    );
    assert_eq!((still.claimed_at_ms, still.response), (late, None));
    // Its taker releases it (a 5xx): the next request claims it afresh.
    s.jobs.release_idempotency_key(&key, late).await.unwrap();
    let fresh = won(s
        .jobs
        .claim_idempotency_key(&key, &claim("h", "31", late + 2))
        .await
        .unwrap());
    assert_eq!(
        (fresh.job_id.as_str(), fresh.fingerprint.as_str()),
        ("31", "h")
    );
}

async fn an_expired_key_is_free(s: Store) {
    let key = scoped_key(&["idempotency", "accounts", "bob", "k-3"]);
    let first = won(s
        .jobs
        .claim_idempotency_key(&key, &claim("f", "1", NOW))
        .await
        .unwrap());
    s.jobs
        .answer_idempotency_key(&key, first.claimed_at_ms, &answer("one"))
        .await
        .unwrap();
    let after = (first.expires_at + 1) * 1000;
    let again = won(s
        .jobs
        .claim_idempotency_key(&key, &claim("g", "2", after))
        .await
        .unwrap());
    assert_eq!((again.job_id.as_str(), again.response), ("2", None));
}

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod dynamodb_on_moto {
            $(#[tokio::test] async fn $case() { super::$case(super::dynamo().await).await })*
        }
        mod embedded_redb {
            $(#[tokio::test] async fn $case() { super::$case(super::embedded().await).await })*
        }
    };
}

conformance!(
    one_holder_when_claims_race,
    an_abandoned_key_is_taken_over_after_its_lease,
    an_expired_key_is_free,
);
