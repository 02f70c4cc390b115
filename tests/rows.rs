//! `GET /api/web/v2/mobileFlashPass/{id}/rows` (additive): the row log a page at a time, in
//! row order, filtered by outcome and errorCode, continued by an opaque cursor. Pages are
//! stable while chunks finish out of order: a poll never skips a row that shows up later,
//! never repeats one, and `nextCursor` is null only once the job is final and every row was
//! read (a cancelled job's skipped chunks included). Real handlers, moto.

mod common;

use bulkops_testkit::{ApiCall, Fixture, PumpOptions};
use common::chunks::process_only;
use common::pages::{stored_prefix, Follower, ENTRUST};
use common::*;
use serde_json::{json, Value};

const UNKNOWN: &str = "ENROLLMENT_NOT_FOUND";
const INVALID: &str = "INVALID_ENROLLMENT_ID";
const DAY_MS: i64 = 24 * 3600 * 1000;

fn rows_path(id: &str) -> String {
    format!("/api/web/v2/mobileFlashPass/{id}/rows")
}

/// Reads a page as bob: flash pass jobs are the tenant's, not their creator's.
async fn page(fx: &Fixture, id: &str, query: &str) -> (u16, Value) {
    let call = ApiCall::new("GET", &rows_path(id))
        .query(query)
        .user("bob", "ISSUANCE:VIEW");
    let response = call_query(fx, call).await;
    (response.status().as_u16(), body_json(&response))
}

/// `n` ids, loaded enrollments but for every 10th (unknown) and every 50th (malformed); the
/// expected error code of each row (1-based row = index + 1).
async fn mixed_job(fx: &Fixture, n: usize) -> (Vec<String>, Vec<Option<&'static str>>) {
    let loaded = load(fx, 0..n).await;
    (0..n)
        .map(|i| match i {
            i if i % 50 == 17 => (malformed_enrollment_id(i), Some(INVALID)),
            i if i % 10 == 3 => (enrollment_id(8_000_000 + i), Some(UNKNOWN)),
            i => (loaded[i].clone(), None),
        })
        .unzip()
}

/// Follows job `id`'s rows with `query`, `limit` rows a page, as bob.
fn follow(id: &str, query: &str, limit: usize) -> Follower {
    let call = ApiCall::new("GET", &rows_path(id)).user("bob", "ISSUANCE:VIEW");
    Follower::new(call, ENTRUST, query, limit)
}

#[tokio::test]
async fn every_row_once_in_order_while_chunks_finish_out_of_order() {
    let fx = Fixture::new().await;
    let (ids, expected) = mixed_job(&fx, 1_400).await;
    let id = submit_ids(&fx, &ids).await["id"]
        .as_str()
        .expect("job id")
        .to_owned();
    let chunks = fx.jobs().get_job(&id).await.unwrap().unwrap().chunk_count;
    assert!(chunks >= 4, "{chunks} chunks");

    // Nothing stored yet: no rows, and a cursor to come back with.
    let mut follower = follow(&id, "", 7);
    follower.catch_up(&fx).await;
    assert!(follower.rows.is_empty() && !follower.ended);
    let mut order: Vec<u32> = vec![2, chunks - 1, 0];
    order.extend(3..chunks - 1);
    order.push(1);
    for chunk in order {
        process_only(&fx, &id, &[chunk]).await;
        follower.catch_up(&fx).await;
        let state = get_job(&fx, &id).await["state"].clone();
        assert_eq!(
            follower.ended,
            state == "COMPLETED",
            "nextCursor is null exactly once the job is final (after chunk {chunk})"
        );
        assert_eq!(
            follower.row_numbers(),
            stored_prefix(&fx, &id).await,
            "after chunk {chunk}: every row before the first chunk not stored, once, in order"
        );
    }
    assert!(follower.ended);
    assert_eq!(
        follower.rows,
        get_logs(&fx, &id).await,
        "each row is its row log entry"
    );

    // Filters are exact, in any page size.
    let rows_with = |code: Option<&str>| -> Vec<u64> {
        (1..)
            .zip(&expected)
            .filter(|(_, e)| code.is_none_or(|c| **e == Some(c)) && e.is_some())
            .map(|(row, _)| row)
            .collect()
    };
    for (query, limit, rows) in [
        (
            "outcome=failed&errorCode=ENROLLMENT_NOT_FOUND",
            7,
            rows_with(Some(UNKNOWN)),
        ),
        (
            "errorCode=INVALID_ENROLLMENT_ID",
            7,
            rows_with(Some(INVALID)),
        ),
        ("outcome=FAILED", 1_000, rows_with(None)),
        ("outcome=failed&errorCode=enrollment_not_found", 7, vec![]),
        (
            "outcome=succeeded&errorCode=ENROLLMENT_NOT_FOUND",
            7,
            vec![],
        ),
    ] {
        let mut filtered = follow(&id, query, limit);
        filtered.catch_up(&fx).await;
        assert!(filtered.ended, "{query}");
        assert_eq!(filtered.row_numbers(), rows, "{query}");
    }
    let mut succeeded = follow(&id, "outcome=Succeeded", 1_000);
    succeeded.catch_up(&fx).await;
    assert!(succeeded.rows.iter().all(|r| r["outcome"] == "SUCCEEDED"));
    let failed = expected.iter().filter(|e| e.is_some()).count();
    assert_eq!(succeeded.rows.len(), 1_400 - failed);
}

#[tokio::test]
async fn a_cancelled_job_ends_once_its_skipped_chunks_are_recorded() {
    let fx = Fixture::new().await;
    let (ids, _) = mixed_job(&fx, 700).await;
    let id = submit_ids(&fx, &ids).await["id"]
        .as_str()
        .expect("job id")
        .to_owned();
    let chunks = fx.jobs().get_job(&id).await.unwrap().unwrap().chunk_count;
    assert!(chunks >= 2, "{chunks} chunks");
    process_only(&fx, &id, &[1]).await;
    let cancel = ApiCall::new(
        "DELETE",
        &format!("/api/web/v1/mobileFlashPass/cancel/{id}"),
    )
    .user("alice", ALL_PERMISSIONS);
    assert_eq!(call_cancel(&fx, cancel).await.status(), 200);

    // Final, but chunk 0 is not settled yet: the page waits before it.
    let (status, waiting) = page(&fx, &id, "").await;
    assert_eq!(status, 200, "{waiting}");
    assert_eq!(waiting["rows"], json!([]));
    let cursor = waiting["nextCursor"].as_str().expect("a cursor").to_owned();

    // The other chunks are skipped (recorded, never stored): their rows never show.
    run_processor(&fx, PumpOptions::default()).await;
    let job = get_job(&fx, &id).await;
    assert_eq!(job["state"], "CANCELLED");
    let (status, rest) = page(&fx, &id, &format!("limit=1000&cursor={cursor}")).await;
    assert_eq!(status, 200, "{rest}");
    assert_eq!(rest["nextCursor"], Value::Null, "every chunk is settled");
    let rows = rest["rows"].as_array().expect("rows");
    assert_eq!(rows, &get_logs(&fx, &id).await, "the rows of chunk 1");
    assert_eq!(
        rows.len() as u64 + job["rowsSkipped"].as_u64().unwrap(),
        700,
        "every row is either shown or skipped"
    );
}

#[tokio::test]
async fn bad_parameters_are_400s_naming_them_and_access_is_the_jobs() {
    let fx = Fixture::new().await;
    let ids = load(&fx, 0..3).await;
    let a = submit_ids(&fx, &ids).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = submit_ids(&fx, &ids[..2]).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    run_processor(&fx, PumpOptions::default()).await;

    // A cursor continues its own job.
    let (status, first) = page(&fx, &a, "limit=1").await;
    assert_eq!((status, first["rows"][0]["row"].as_u64()), (200, Some(1)));
    let cursor = first["nextCursor"].as_str().expect("a cursor").to_owned();
    let (_, second) = page(&fx, &a, &format!("limit=2&cursor={cursor}")).await;
    let rows: Vec<&Value> = second["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["row"])
        .collect();
    assert_eq!(
        (rows, &second["nextCursor"]),
        (vec![&json!(2), &json!(3)], &Value::Null)
    );

    let foreign = format!("cursor={cursor}");
    for (on, query, target) in [
        (&a, "limit=0", "limit"),
        (&a, "limit=1001", "limit"),
        (&a, "limit=abc", "limit"),
        (&a, "outcome=bogus", "outcome"),
        (&a, "errorCode=", "errorCode"),
        (&a, "cursor=garbage", "cursor"),
        (&a, "cursor=eyJ2IjoxfQ", "cursor"),
        (&b, foreign.as_str(), "cursor"),
    ] {
        let (status, error) = page(&fx, on, query).await;
        assert_eq!(status, 400, "{query}: {error}");
        assert_eq!(
            (error["code"].as_str(), error["target"].as_str()),
            (Some("INVALID_REQUEST"), Some(target)),
            "{query}: {error}"
        );
    }

    // The permission of reading jobs; the job must exist and be a flash pass job.
    let call = |id: &str, user: Option<(&str, &str)>| {
        let call = ApiCall::new("GET", &rows_path(id));
        match user {
            Some((sub, scope)) => call.user(sub, scope),
            None => call,
        }
    };
    let status = |response: lambda_http::Response<lambda_http::Body>| response.status().as_u16();
    assert_eq!(status(call_query(&fx, call(&a, None)).await), 401);
    let adder = Some(("alice", "ISSUANCE:ADD ISSUANCE:REMOVE"));
    assert_eq!(status(call_query(&fx, call(&a, adder)).await), 403);
    let viewer = Some(("carol", "ISSUANCE:VIEW"));
    for missing in ["00000000-0000-4000-8000-000000000000", "not-a-uuid", "1"] {
        let response = call_query(&fx, call(missing, viewer)).await;
        assert_eq!(status(response), 404, "{missing}");
    }
    let upload_route = ApiCall::new(
        "GET",
        &format!("/PasswordVault/API/BulkActions/Accounts/{a}/rows"),
    )
    .user("alice", ALL_PERMISSIONS);
    assert_eq!(
        status(call_query(&fx, upload_route).await),
        404,
        "not an upload"
    );

    // Past its retention, as its other reads: 410.
    fx.clock.advance(31 * DAY_MS);
    let (status, error) = page(&fx, &a, "").await;
    assert_eq!(
        (status, error["code"].as_str()),
        (410, Some("GONE")),
        "{error}"
    );
}
