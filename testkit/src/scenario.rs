//! The full-size mixed request used by the end-to-end test and the benchmark.

use bulkops_shared::ops::mobile_flash_pass::codes;
use serde_json::json;

use crate::Fixture;
use bulkops::reference::load_enrollments;

pub use bulkops::local::demo::{enrollment, enrollment_id, WORKFLOW};
/// The contract's body limit.
pub const MAX_BODY: usize = 204_800;

/// Base64 of JSON that is not an enrollment reference.
pub fn malformed_enrollment_id(n: usize) -> String {
    let reference = json!({ "workflowId": format!("not-a-uuid-{n:025}"), "whereClause": { "QUICKSTARTPRIMARYKEY": "00000001" } });
    bulkops_shared::enrollment::encode_id(&reference)
}

/// A request and the outcome every row must end with.
pub struct Scenario {
    pub ids: Vec<String>,
    /// Per row (index = row - 1): `None` for success, or the expected error code.
    pub expected: Vec<Option<&'static str>>,
    /// The JSON body, at most [`MAX_BODY`] bytes.
    pub body: String,
}

impl Scenario {
    pub fn succeeded(&self) -> usize {
        self.expected.iter().filter(|e| e.is_none()).count()
    }
    pub fn failed(&self) -> usize {
        self.expected.len() - self.succeeded()
    }
    pub fn first_failed_row(&self) -> Option<usize> {
        self.expected
            .iter()
            .position(Option::is_some)
            .map(|i| i + 1)
    }
}

/// As many real-format ids as fit in a 200 KB body (≈1,440): every 20 rows hold one unknown
/// enrollment, one malformed reference and one duplicate of an earlier row; the rest are
/// enrollments loaded into the fixture's table (numbered from `first`).
pub async fn full_size_scenario(fx: &Fixture, first: usize) -> Scenario {
    let mut ids: Vec<String> = Vec::new();
    let mut expected = Vec::new();
    let mut loaded = Vec::new();
    let mut next = first;
    loop {
        let i = ids.len();
        let (id, outcome) = match i % 20 {
            7 => (
                enrollment_id(9_000_000 + i),
                Some(codes::ENROLLMENT_NOT_FOUND),
            ),
            13 => (
                malformed_enrollment_id(i),
                Some(codes::INVALID_ENROLLMENT_ID),
            ),
            17 => (ids[i - 10].clone(), Some(codes::DUPLICATE_ROW)),
            _ => {
                loaded.push(enrollment(next));
                next += 1;
                (enrollment_id(next - 1), None)
            }
        };
        ids.push(id);
        expected.push(outcome);
        if json!({ "ids": ids }).to_string().len() > MAX_BODY {
            ids.pop();
            expected.pop();
            if expected.iter().filter(|e| e.is_none()).count() < loaded.len() {
                loaded.pop();
            }
            break;
        }
    }
    load_enrollments(&fx.records(), loaded)
        .await
        .expect("load enrollments");
    let body = json!({ "ids": ids }).to_string();
    Scenario {
        ids,
        expected,
        body,
    }
}

/// Loads two safes (alice may add accounts) and a platform, and returns an upload of `count`
/// valid accounts with secrets, spread over both safes.
pub async fn accounts_scenario(fx: &Fixture, count: usize) -> String {
    let vault: bulkops::reference::VaultInput = serde_json::from_value(json!({
        "safes": [
            {"safeName": "UnixAdminPasswords", "safeId": 24, "members": {"alice": {"addAccounts": true}}},
            {"safeName": "WindowsPasswords", "safeId": 31, "members": {"alice": {"addAccounts": true}}},
        ],
        "platforms": [{"platformId": "UnixSSH", "requiredProperties": ["address", "userName"]}],
    }))
    .expect("vault");
    bulkops::reference::load_vault(&fx.records(), vault)
        .await
        .expect("load vault");
    let accounts: Vec<_> = (0..count)
        .map(|i| {
            json!({
                "userName": format!("svc{i:05}"), "address": format!("host{i:05}.example.com"),
                "safeName": if i % 2 == 0 { "UnixAdminPasswords" } else { "WindowsPasswords" },
                "platformId": "UnixSSH", "secretType": "password", "secret": format!("pw-{i}-Zq7!"),
                "secretManagement": {"automaticManagementEnabled": true},
            })
        })
        .collect();
    json!({ "source": "bench.csv", "accountsList": accounts }).to_string()
}

/// Ids per request of the many-request workload: fills a full-size (200 KB) body.
pub const WORKLOAD_IDS_PER_REQUEST: usize = 1_400;

/// Row `i` (0-based) of request `r` of the many-request workload, and whether it succeeds:
/// enrollment `r * 1,400 + i`, except that every 50th row names an unknown enrollment.
pub fn workload_id(r: usize, i: usize) -> (String, bool) {
    let n = r * WORKLOAD_IDS_PER_REQUEST + i;
    if i % 50 == 49 {
        (enrollment_id(10_000_000 + n), false)
    } else {
        (enrollment_id(n), true)
    }
}

/// The JSON body of request `r` of the many-request workload.
pub fn workload_body(r: usize) -> String {
    let ids: Vec<String> = (0..WORKLOAD_IDS_PER_REQUEST)
        .map(|i| workload_id(r, i).0)
        .collect();
    json!({ "ids": ids }).to_string()
}

/// Waits until the many-request workload's job `id` on the server at `url` is COMPLETED and
/// checks its counts (every 50th row failed, the first at row 50); fails at `deadline`.
pub async fn workload_job_completes(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    id: &str,
    deadline: std::time::Instant,
) {
    loop {
        let job = mfp_job(client, url, token, id).await;
        if job["state"] == "COMPLETED" {
            let failed = WORKLOAD_IDS_PER_REQUEST / 50;
            assert_eq!(
                job["rowsProcessed"],
                json!(WORKLOAD_IDS_PER_REQUEST - failed),
                "{job}"
            );
            assert_eq!(job["rowsFailed"], json!(failed), "{job}");
            assert_eq!(job["rowsSkipped"], json!(0), "{job}");
            assert_eq!(job["firstFailedRow"], json!(50), "{job}");
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "job {id} did not complete: {job}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Flash pass job `id` as the server at `url` shows it to `token`'s caller.
pub async fn mfp_job(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    id: &str,
) -> serde_json::Value {
    client
        .get(format!("{url}/api/web/v1/mobileFlashPass/{id}"))
        .bearer_auth(token)
        .send()
        .await
        .expect("get the job")
        .json()
        .await
        .expect("a JSON job")
}
