//! Which input rows failed, from the server's per-row reports: the mfp row log (1-based row
//! numbers) or the accounts `FailedItems` (matched back by `uploadIndex`).

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::input::Row;

/// One failed row as the server reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// 0-based index of the input row, when the report could be matched to one.
    pub index: Option<usize>,
    pub code: String,
    pub message: String,
}

fn text(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The FAILED entries of an mfp row log, in input order.
pub fn from_mfp_logs(logs: &[Value], row_count: usize) -> Vec<Failure> {
    let mut failures: Vec<Failure> = logs
        .iter()
        .filter(|entry| {
            entry
                .get("outcome")
                .and_then(Value::as_str)
                .is_some_and(|o| o.eq_ignore_ascii_case("FAILED"))
        })
        .map(|entry| {
            let index = entry
                .get("row")
                .and_then(Value::as_u64)
                .and_then(|row| usize::try_from(row).ok())
                .filter(|row| (1..=row_count).contains(row))
                .map(|row| row - 1);
            Failure {
                index,
                code: text(entry, "errorCode"),
                message: text(entry, "errorMessage"),
            }
        })
        .collect();
    failures.sort_by_key(|f| f.index.unwrap_or(usize::MAX));
    failures
}

/// The upload index the server gives an account row: its own, or its 1-based position.
pub fn upload_index(row: &Row, index: usize) -> i64 {
    row.payload
        .get("uploadIndex")
        .and_then(Value::as_i64)
        .unwrap_or_else(|| i64::try_from(index + 1).unwrap_or(i64::MAX))
}

/// Fields echoed in a failed item that tell rows with the same upload index apart.
const IDENTITY_FIELDS: [&str; 5] = ["safeName", "platformId", "userName", "address", "name"];

/// Matches the accounts `FailedItems.Items` to input rows, in input order.
///
/// Upload indexes are the caller's and need not be unique: among rows sharing one, each
/// report takes the first row not yet taken whose identifying fields match the echo, else the
/// first row not yet taken.
pub fn from_failed_items(items: &[Value], rows: &[Row]) -> Vec<Failure> {
    let mut by_index: HashMap<i64, Vec<usize>> = HashMap::new();
    for (index, row) in rows.iter().enumerate() {
        by_index
            .entry(upload_index(row, index))
            .or_default()
            .push(index);
    }
    let mut taken = vec![false; rows.len()];
    let mut failures: Vec<Failure> = items
        .iter()
        .map(|item| {
            let candidates = item
                .get("uploadIndex")
                .and_then(Value::as_i64)
                .and_then(|i| by_index.get(&i))
                .map(Vec::as_slice)
                .unwrap_or_default();
            let free = || candidates.iter().copied().filter(|&i| !taken[i]);
            let same = |&i: &usize| {
                IDENTITY_FIELDS
                    .iter()
                    .all(|f| item.get(*f) == rows[i].payload.get(*f))
            };
            let index = free().find(same).or_else(|| free().next());
            if let Some(index) = index {
                taken[index] = true;
            }
            Failure {
                index,
                code: text(item, "errorCode"),
                message: text(item, "error"),
            }
        })
        .collect();
    failures.sort_by_key(|f| f.index.unwrap_or(usize::MAX));
    failures
}

/// The input rows to write to the failed-rows file, in input order.
pub fn failed_rows(failures: &[Failure]) -> Vec<usize> {
    let mut indexes: Vec<usize> = failures.iter().filter_map(|f| f.index).collect();
    indexes.sort_unstable();
    indexes.dedup();
    indexes
}

/// Failure counts per error code, most frequent first (a missing code counts as `UNKNOWN`).
pub fn counts_by_code(failures: &[Failure]) -> Vec<(String, u64)> {
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for failure in failures {
        let code = if failure.code.is_empty() {
            "UNKNOWN"
        } else {
            &failure.code
        };
        *counts.entry(code).or_default() += 1;
    }
    let mut counts: Vec<(String, u64)> = counts
        .into_iter()
        .map(|(code, n)| (code.to_owned(), n))
        .collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    counts
}
