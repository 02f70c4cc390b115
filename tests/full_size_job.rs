//! The end-to-end test: a full 200 KB request of real-format enrollment ids, mixed valid,
//! unknown, malformed and duplicate, submitted through the real handler and pumped through
//! the real processor.

mod common;

use bulkops_testkit::scenario::{full_size_scenario, MAX_BODY};
use bulkops_testkit::{ApiCall, Fixture, PumpOptions};
use common::*;

#[tokio::test]
async fn a_full_200_kb_request_completes_with_exact_counts_and_every_row_logged() {
    let fx = Fixture::new().await;
    let scenario = full_size_scenario(&fx, 0).await;
    assert!(
        scenario.body.len() <= MAX_BODY && scenario.body.len() > MAX_BODY - 200,
        "{}",
        scenario.body.len()
    );
    assert!(
        (1_400..=1_600).contains(&scenario.ids.len()),
        "{} ids",
        scenario.ids.len()
    );
    assert!(scenario
        .ids
        .iter()
        .all(|id| (120..=140).contains(&id.len())));

    let call = ApiCall::new("POST", "/api/web/v2/mobileFlashPass")
        .json(scenario.body.clone())
        .user("alice", ALL_PERMISSIONS);
    let response = call_submit(&fx, call).await;
    assert_eq!(response.status(), 200, "{}", body_json(&response));
    let id = body_json(&response)["id"].as_str().unwrap().to_owned();

    let stats = run_processor(&fx, PumpOptions::default()).await;
    assert!(stats.reported_failures.is_empty());

    let job = get_job(&fx, &id).await;
    assert_eq!(job["state"], "COMPLETED", "{job}");
    assert_eq!(job["totalRows"], scenario.ids.len());
    assert_eq!(job["rowsProcessed"], scenario.succeeded(), "{job}");
    assert_eq!(job["rowsFailed"], scenario.failed(), "{job}");
    assert_eq!(job["firstFailedRow"], scenario.first_failed_row().unwrap());
    assert!(
        job["errorMessage"]
            .as_str()
            .unwrap()
            .starts_with("No enrollment matches"),
        "{job}"
    );

    let log = get_logs(&fx, &id).await;
    assert_eq!(log.len(), scenario.ids.len(), "every row logged");
    for (index, row) in log.iter().enumerate() {
        assert_eq!(row["row"], index + 1);
        assert_eq!(row["id"], scenario.ids[index]);
        match scenario.expected[index] {
            None => assert_eq!(row["outcome"], "SUCCEEDED", "{row}"),
            Some(code) => {
                assert_eq!(row["outcome"], "FAILED", "{row}");
                assert_eq!(row["errorCode"], code, "{row}");
                assert!(row["errorMessage"].as_str().is_some_and(|m| !m.is_empty()));
            }
        }
    }
    assert_eq!(
        passes(&fx).await.len(),
        scenario.succeeded(),
        "one pass per succeeded row"
    );
}
