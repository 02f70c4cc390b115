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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rows(payloads: Vec<Value>) -> Vec<Row> {
        payloads
            .into_iter()
            .map(|payload| Row {
                payload,
                cells: None,
            })
            .collect()
    }

    fn indexes(failures: &[Failure]) -> Vec<Option<usize>> {
        failures.iter().map(|f| f.index).collect()
    }

    #[test]
    fn mfp_log_rows_are_one_based_and_only_failed_ones_count() {
        let logs = [
            json!({"row": 3, "id": "Yw", "outcome": "FAILED", "errorCode": "NOT_FOUND", "errorMessage": "gone"}),
            json!({"row": 1, "id": "YQ", "outcome": "SUCCEEDED", "result": {}}),
            json!({"row": 2, "id": "Yg", "outcome": "FAILED", "errorCode": "BAD", "errorMessage": "bad"}),
            json!({"row": 9, "outcome": "FAILED"}),
        ];
        let failures = from_mfp_logs(&logs, 3);
        assert_eq!(indexes(&failures), vec![Some(1), Some(2), None]);
        assert_eq!(failures[0].code, "BAD");
        assert_eq!(failures[1].message, "gone");
        assert_eq!(failed_rows(&failures), vec![1, 2]);
    }

    #[test]
    fn upload_index_is_explicit_or_the_one_based_position() {
        let rows = rows(vec![json!({"uploadIndex": 40}), json!({})]);
        assert_eq!(upload_index(&rows[0], 0), 40);
        assert_eq!(upload_index(&rows[1], 1), 2);
    }

    #[test]
    fn failed_items_match_positions_when_the_input_has_no_indexes() {
        let input = rows(vec![
            json!({"safeName": "a"}),
            json!({"safeName": "b"}),
            json!({"safeName": "c"}),
        ]);
        let items = [
            json!({"uploadIndex": 3, "safeName": "c", "error": "no", "errorCode": "E"}),
            json!({"uploadIndex": 1, "safeName": "a", "error": "no", "errorCode": "E"}),
        ];
        assert_eq!(
            indexes(&from_failed_items(&items, &input)),
            vec![Some(0), Some(2)]
        );
    }

    #[test]
    fn failed_items_match_explicit_indexes() {
        let input = rows(vec![
            json!({"uploadIndex": 30, "safeName": "a"}),
            json!({"uploadIndex": 10, "safeName": "b"}),
            json!({"safeName": "c"}),
        ]);
        let items = [
            json!({"uploadIndex": 10, "error": "x"}),
            json!({"uploadIndex": 3, "error": "y"}),
            json!({"uploadIndex": 2, "error": "unknown row"}),
        ];
        let failures = from_failed_items(&items, &input);
        assert_eq!(indexes(&failures), vec![Some(1), Some(2), None]);
        assert_eq!(failures[0].message, "x");
    }

    #[test]
    fn shared_indexes_are_told_apart_by_the_echoed_fields() {
        let input = rows(vec![
            json!({"uploadIndex": 1, "safeName": "s", "userName": "alice"}),
            json!({"uploadIndex": 1, "safeName": "s", "userName": "bob"}),
        ]);
        let bob = [json!({"uploadIndex": 1, "safeName": "s", "userName": "bob", "error": "e"})];
        assert_eq!(indexes(&from_failed_items(&bob, &input)), vec![Some(1)]);
        let both = [
            json!({"uploadIndex": 1, "userName": "x"}),
            json!({"uploadIndex": 1, "userName": "y"}),
        ];
        assert_eq!(
            indexes(&from_failed_items(&both, &input)),
            vec![Some(0), Some(1)]
        );
    }

    #[test]
    fn counts_by_code_most_frequent_first() {
        let failure = |code: &str| Failure {
            index: None,
            code: code.into(),
            message: String::new(),
        };
        let failures = [failure("B"), failure("A"), failure("B"), failure("")];
        assert_eq!(
            counts_by_code(&failures),
            vec![("B".into(), 2), ("A".into(), 1), ("UNKNOWN".into(), 1)]
        );
    }
}
