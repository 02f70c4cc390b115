//! What the PVWA API answers about uploads: the status a job shows as, the summary
//! (BulkAccountsOperationResult) and extended result with every row, and the list filter.

use serde_json::{json, Map, Value};

use crate::error::{ApiError, StoreError};
use crate::model::{Job, JobState, Outcome, RowOutcome};
use crate::results::OutcomePages;
use crate::store::JobStore;

/// Upload status, derived from the job's state and counts.
pub fn status(job: &Job) -> &'static str {
    match job.state {
        JobState::Scheduled | JobState::AwaitingData => "Pending",
        JobState::Processing => "inProgress",
        JobState::Completed if job.rows_failed == 0 => "completedSuccessfully",
        JobState::Completed => "completedWithErrors",
        JobState::Failed | JobState::Cancelled => "failed",
    }
}

const STATUSES: [&str; 6] = [
    "Pending",
    "inProgress",
    "completedSuccessfully",
    "completedWithErrors",
    "failed",
    "completed",
];

/// BulkAccountsOperationResult.
pub fn summary(job: &Job) -> Map<String, Value> {
    let mut result = Map::new();
    result.insert("Succeeded".into(), json!(job.rows_processed));
    result.insert("Failed".into(), json!(job.rows_failed));
    if matches!(job.state, JobState::Failed | JobState::Cancelled) {
        let error = job
            .error_message
            .clone()
            .unwrap_or_else(|| "The upload was cancelled".to_owned());
        result.insert("Error".into(), json!(error));
    }
    let mut summary = Map::new();
    summary.insert(
        "Id".into(),
        json!(job.id.parse::<i64>().unwrap_or_default()),
    );
    summary.insert(
        "Source".into(),
        json!(job.source.clone().unwrap_or_default()),
    );
    summary.insert("CreationTime".into(), json!(job.init_time_ms / 1000));
    // Additive, in CreationTime's unit: when the upload and its results are deleted.
    summary.insert("ExpirationTime".into(), json!(job.expires_at_ms() / 1000));
    summary.insert("Status".into(), json!(status(job)));
    // Additive: the upload whose failed rows this one retries, and this one's retries.
    if let Some(original) = &job.retry_of {
        summary.insert("RetryOf".into(), bulk_id(original));
    }
    if !job.retries.is_empty() {
        let retries = job.retries.iter().map(|id| bulk_id(id)).collect();
        summary.insert("Retries".into(), Value::Array(retries));
    }
    summary.insert("Result".into(), Value::Object(result));
    summary
}

/// A bulk id as PVWA shows it: a number.
fn bulk_id(id: &str) -> Value {
    id.parse::<i64>().map_or_else(|_| json!(id), |n| json!(n))
}

/// A row as the extended result lists it: the echo, plus the new account's `id`
/// (SucceededItems) or the `error` and `errorCode` (FailedItems).
pub fn result_item(outcome: RowOutcome) -> Map<String, Value> {
    let mut item = outcome.item;
    if outcome.outcome == Outcome::Failed {
        item.insert(
            "error".into(),
            json!(outcome.error_message.unwrap_or_default()),
        );
        item.insert(
            "errorCode".into(),
            json!(outcome.error_code.unwrap_or_default()),
        );
    } else {
        let id = outcome
            .result
            .and_then(|r| r.get("id").cloned())
            .unwrap_or(Value::Null);
        item.insert("id".into(), id);
    }
    item
}

/// The most rows SucceededItems and FailedItems each list; their `Total` counts every row.
pub const ITEMS_CAP: usize = 1_000;
/// The most rows read to fill the lists: an upload's later rows are in its `rows` route and,
/// once it ends, its result files.
pub const ITEMS_SCAN_ROWS: usize = 10_000;

/// One of the extended result's lists: its first items and how many rows it has.
#[derive(Default)]
struct ItemList {
    items: Vec<Value>,
    seen: u64,
}

impl ItemList {
    fn push(&mut self, outcome: RowOutcome) {
        self.seen += 1;
        if self.items.len() < ITEMS_CAP {
            self.items.push(Value::Object(result_item(outcome)));
        }
    }

    /// `counted`: the job's counter of the list's rows, exact once the upload ended.
    fn into_value(self, read_all: bool, counted: u32) -> Value {
        let total = match read_all {
            true => self.seen,
            false => self.seen.max(u64::from(counted)),
        };
        json!({ "Total": total, "Items": self.items })
    }
}

/// BulkAccountsOperationResultExtended: the summary plus each list's first rows in row order
/// ([`ITEMS_CAP`] at most, among the first [`ITEMS_SCAN_ROWS`]) and its exact `Total`; once the
/// upload's result files are written, the additive `ResultFiles` links them by name.
pub async fn extended(jobs: &dyn JobStore, job: &Job) -> Result<Value, StoreError> {
    let (mut succeeded, mut failed) = (ItemList::default(), ItemList::default());
    let mut pages = OutcomePages::new(jobs, &job.id);
    let mut read_all = true;
    let mut scanned = 0;
    while let Some(outcomes) = pages.next().await? {
        scanned += outcomes.len();
        for outcome in outcomes {
            match outcome.is_failed() {
                true => failed.push(outcome),
                false => succeeded.push(outcome),
            }
        }
        let full = succeeded.items.len() >= ITEMS_CAP && failed.items.len() >= ITEMS_CAP;
        if full || scanned >= ITEMS_SCAN_ROWS {
            read_all = pages.next().await?.is_none_or(|more| more.is_empty());
            break;
        }
    }
    let mut value = summary(job);
    value.insert(
        "SucceededItems".into(),
        succeeded.into_value(read_all, job.rows_processed),
    );
    value.insert(
        "FailedItems".into(),
        failed.into_value(read_all, job.rows_failed),
    );
    let base = crate::api::Route::UploadGet(job.id.clone()).path();
    if let Some(links) = crate::api::result_files::result_links(job, &base) {
        value.insert("ResultFiles".into(), Value::Object(links));
    }
    Ok(Value::Object(value))
}

/// `status eq <Status>` (case-insensitive keywords and values) → the canonical status.
pub fn parse_filter(filter: &str) -> Result<&'static str, ApiError> {
    let words: Vec<&str> = filter.split_whitespace().collect();
    let invalid = || {
        ApiError::bad_request(
            format!(
                "filter must be of the form 'status eq <{}>'",
                STATUSES.join("|")
            ),
            Some("filter".to_owned()),
        )
    };
    match words.as_slice() {
        [field, op, value]
            if field.eq_ignore_ascii_case("status") && op.eq_ignore_ascii_case("eq") =>
        {
            STATUSES
                .iter()
                .copied()
                .find(|s| s.eq_ignore_ascii_case(value))
                .ok_or_else(invalid)
        }
        _ => Err(invalid()),
    }
}

pub fn status_matches(wanted: &str, actual: &str) -> bool {
    wanted == actual || (wanted == "completed" && actual.starts_with("completed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Any filter text is a status or a 400 naming `filter`.
        #[test]
        fn any_filter_is_a_status_or_a_400(filter in ".{0,40}") {
            match parse_filter(&filter) {
                Ok(status) => proptest::prop_assert!(STATUSES.contains(&status)),
                Err(ApiError::BadRequest { target, .. }) => {
                    proptest::prop_assert_eq!(target.as_deref(), Some("filter"))
                }
                Err(other) => proptest::prop_assert!(false, "{other:?}"),
            }
        }
    }

    #[test]
    fn filters_name_a_status() {
        assert_eq!(parse_filter("status eq inProgress").unwrap(), "inProgress");
        assert_eq!(parse_filter("Status EQ completed").unwrap(), "completed");
        assert!(parse_filter("status ne failed").is_err());
        assert!(parse_filter("status eq done").is_err());
        assert!(status_matches("completed", "completedWithErrors"));
    }
}
