//! `GET /PasswordVault/API/BulkActions/Accounts/{bulkId}/rows` (additive): an upload's rows a
//! page at a time, each as the extended result lists it plus its `row` and `outcome`, in row
//! order, filtered by outcome (any case) and errorCode; stable while chunks finish out of
//! order; the uploader's only; PVWA's error shape. Real handlers, moto.

mod common;

use bulkops::reference::{load_vault, VaultInput};
use bulkops_testkit::{ApiCall, Fixture, PumpOptions};
use common::chunks::process_only;
use common::pages::{stored_prefix, Follower, PVWA};
use common::*;
use serde_json::{json, Value};

const UPLOADS: &str = "/PasswordVault/API/BulkActions/Accounts";
const DAY_MS: i64 = 24 * 3600 * 1000;

/// alice may add to Unix and Windows; Oracle is bob's.
async fn vault(fx: &Fixture) {
    let vault: VaultInput = serde_json::from_value(json!({
        "safes": [
            {"safeName": "Unix", "safeId": 24, "members": {"alice": {"addAccounts": true}}},
            {"safeName": "Windows", "safeId": 31, "members": {"alice": {"addAccounts": true}}},
            {"safeName": "Oracle", "safeId": 40, "members": {"bob": {"addAccounts": true}}},
        ],
        "platforms": [{"platformId": "UnixSSH", "requiredProperties": ["address", "userName"]}],
    }))
    .expect("vault");
    load_vault(&fx.records(), vault).await.expect("load vault");
}

/// `n` accounts with secrets; row `i + 1` fails with the code beside it, if any.
fn upload(n: usize) -> (Value, Vec<Option<&'static str>>) {
    let (accounts, codes): (Vec<Value>, Vec<Option<&str>>) = (0..n)
        .map(|i| {
            let mut account = json!({"userName": format!("svc{i:05}"), "address": format!("host{i:05}.example.com"),
                "safeName": if i % 2 == 0 { "Unix" } else { "Windows" }, "platformId": "UnixSSH",
                "secret": format!("pw-{i}-Zq7!"), "secretManagement": {"automaticManagementEnabled": true}});
            let code = match i {
                i if i % 7 == 3 => {
                    account["safeName"] = json!("Oracle");
                    Some("NOT_AUTHORIZED")
                }
                i if i % 11 == 5 => {
                    account["safeName"] = json!("Nowhere");
                    Some("SAFE_NOT_FOUND")
                }
                i if i % 13 == 6 => {
                    account.as_object_mut().unwrap().remove("address");
                    Some("INVALID_FIELDS")
                }
                _ => None,
            };
            (account, code)
        })
        .unzip();
    (
        json!({"source": "rows.csv", "accountsList": accounts}),
        codes,
    )
}

async fn uploaded(fx: &Fixture, body: &Value) -> i64 {
    let call = ApiCall::new("POST", UPLOADS)
        .json(body.to_string())
        .user("alice", "");
    let response = call_submit(fx, call).await;
    assert_eq!(response.status(), 202, "{}", body_json(&response));
    body_json(&response).as_i64().expect("a bare bulk id")
}

async fn get(fx: &Fixture, path: &str, query: &str, user: &str) -> (u16, Value) {
    let call = ApiCall::new("GET", path).query(query).user(user, "");
    let response = call_query(fx, call).await;
    (response.status().as_u16(), body_json(&response))
}

fn follow(id: i64, query: &str, limit: usize) -> Follower {
    let call = ApiCall::new("GET", &format!("{UPLOADS}/{id}/rows")).user("alice", "");
    Follower::new(call, PVWA, query, limit)
}

#[tokio::test]
async fn upload_rows_page_in_order_while_chunks_finish_out_of_order() {
    let fx = Fixture::new().await;
    vault(&fx).await;
    let (body, codes) = upload(1_000);
    let id = uploaded(&fx, &body).await;
    let chunks = fx
        .jobs()
        .get_job(&id.to_string())
        .await
        .unwrap()
        .unwrap()
        .chunk_count;
    assert!(chunks >= 3, "{chunks} chunks");

    let mut follower = follow(id, "", 9);
    let mut order = vec![1, chunks - 1, 0];
    order.extend(2..chunks - 1);
    for (done, &chunk) in order.iter().enumerate() {
        process_only(&fx, &id.to_string(), &[chunk]).await;
        follower.catch_up(&fx).await;
        let last = done + 1 == order.len();
        assert_eq!(follower.ended, last, "after chunk {chunk}");
        assert_eq!(
            follower.row_numbers(),
            stored_prefix(&fx, &id.to_string()).await,
            "after chunk {chunk}"
        );
    }

    // Each item is the extended result's item of its row (uploadIndex is the row here), with
    // its row and outcome.
    let (status, result) = get(&fx, &format!("{UPLOADS}/{id}"), "", "alice").await;
    assert_eq!(status, 200, "{result}");
    let mut expected: Vec<Value> = ["SucceededItems", "FailedItems"]
        .iter()
        .flat_map(|list| {
            let outcome = if *list == "FailedItems" {
                "failed"
            } else {
                "succeeded"
            };
            result[list]["Items"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |item| {
                    let mut item = item.clone();
                    item["row"] = item["uploadIndex"].clone();
                    item["outcome"] = json!(outcome);
                    item
                })
        })
        .collect();
    expected.sort_by_key(|item| item["row"].as_u64());
    assert_eq!(follower.rows, expected);
    assert!(
        !serde_json::to_string(&follower.rows)
            .unwrap()
            .contains("pw-"),
        "no secret"
    );

    // Filters: outcome in any case, errorCode exact.
    let rows_with = |code: Option<&str>| -> Vec<u64> {
        (1..)
            .zip(&codes)
            .filter(|(_, c)| c.is_some() && code.is_none_or(|code| **c == Some(code)))
            .map(|(row, _)| row)
            .collect()
    };
    for (query, limit, rows) in [
        (
            "outcome=Failed&errorCode=NOT_AUTHORIZED",
            9,
            rows_with(Some("NOT_AUTHORIZED")),
        ),
        (
            "errorCode=INVALID_FIELDS",
            9,
            rows_with(Some("INVALID_FIELDS")),
        ),
        ("outcome=FAILED", 1_000, rows_with(None)),
        ("errorCode=not_authorized", 9, vec![]),
    ] {
        let mut filtered = follow(id, query, limit);
        filtered.catch_up(&fx).await;
        assert!(filtered.ended, "{query}");
        assert_eq!(filtered.row_numbers(), rows, "{query}");
        assert!(filtered
            .rows
            .iter()
            .all(|r| r["outcome"] == "failed" && r["error"].is_string()));
    }
    let mut succeeded = follow(id, "outcome=succeeded", 1_000);
    succeeded.catch_up(&fx).await;
    let failed = codes.iter().filter(|c| c.is_some()).count();
    assert_eq!(succeeded.rows.len(), 1_000 - failed);
    assert!(succeeded
        .rows
        .iter()
        .all(|r| r["id"].is_string() && r["outcome"] == "succeeded"));
}

#[tokio::test]
async fn only_the_uploader_reads_them_and_bad_parameters_are_400s_in_pvwas_shape() {
    let fx = Fixture::new().await;
    vault(&fx).await;
    let (body, _) = upload(4);
    let (a, b) = (uploaded(&fx, &body).await, uploaded(&fx, &body).await);
    run_processor(&fx, PumpOptions::default()).await;

    // Any spelling of the path, as PVWA's; a cursor continues its own upload only.
    let lower = format!("/passwordvault/api/bulkactions/accounts/{a}/ROWS/");
    let (status, first) = get(&fx, &lower, "limit=3", "alice").await;
    assert_eq!(status, 200, "{first}");
    let rows: Vec<&Value> = first["Items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["row"])
        .collect();
    assert_eq!(rows, [&json!(1), &json!(2), &json!(3)]);
    let cursor = first["NextCursor"].as_str().expect("a cursor").to_owned();
    let path = |id: i64| format!("{UPLOADS}/{id}/rows");
    let (_, rest) = get(&fx, &path(a), &format!("cursor={cursor}"), "alice").await;
    assert_eq!(
        (rest["Items"][0]["row"].as_u64(), &rest["NextCursor"]),
        (Some(4), &Value::Null)
    );
    assert_eq!(rest["Items"][0]["errorCode"], "NOT_AUTHORIZED", "{rest}");

    let foreign = format!("cursor={cursor}");
    for (id, query, target) in [
        (a, "limit=0", "limit"),
        (a, "limit=1001", "limit"),
        (a, "limit=abc", "limit"),
        (a, "outcome=bogus", "outcome"),
        (a, "errorCode=", "errorCode"),
        (a, "cursor=garbage", "cursor"),
        (b, foreign.as_str(), "cursor"),
    ] {
        let (status, error) = get(&fx, &path(id), query, "alice").await;
        assert_eq!(status, 400, "{query}: {error}");
        assert_eq!(
            (
                error["ErrorCode"].as_str(),
                error["Details"]["target"].as_str()
            ),
            (Some("INVALID_REQUEST"), Some(target)),
            "{query}: {error}"
        );
    }

    // The uploader's only: anyone else, and any id that is not an upload, learn nothing.
    for (id, user) in [
        (a.to_string(), "bob"),
        ((b + 100).to_string(), "alice"),
        ("x".into(), "alice"),
    ] {
        let (status, error) = get(&fx, &format!("{UPLOADS}/{id}/rows"), "", user).await;
        assert_eq!(
            (status, error["ErrorCode"].as_str()),
            (404, Some("NOT_FOUND")),
            "{error}"
        );
    }
    let anonymous = call_query(&fx, ApiCall::new("GET", &path(a))).await;
    assert_eq!(anonymous.status(), 401);
    assert!(body_json(&anonymous)["ErrorCode"].is_string());

    // Past its retention, as its result: 410.
    fx.clock.advance(31 * DAY_MS);
    let (status, error) = get(&fx, &path(a), "", "alice").await;
    assert_eq!(
        (status, error["ErrorCode"].as_str()),
        (410, Some("GONE")),
        "{error}"
    );
}
