//! Which input rows failed or never ran, from the server's per-row reports: the mfp row log
//! (1-based row numbers) or the accounts `FailedItems`/`SucceededItems` (matched back by
//! `uploadIndex`).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;

use super::input::Row;

/// One failed row as the server reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// 0-based index of the input row, when the report could be matched to one.
    pub index: Option<usize>,
    /// The server's number for the row: the mfp `row`, or the upload's `uploadIndex`.
    pub row: Option<i64>,
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

/// The FAILED entries of an mfp row log, in input order; `row_count` is the input's rows
/// (0 when the input is not known: then no entry is matched to a row).
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
            let row = entry.get("row").and_then(Value::as_i64);
            let index = row
                .and_then(|row| usize::try_from(row).ok())
                .filter(|row| (1..=row_count).contains(row))
                .map(|row| row - 1);
            Failure {
                index,
                row,
                code: text(entry, "errorCode"),
                message: text(entry, "errorMessage"),
            }
        })
        .collect();
    failures.sort_by_key(|f| (f.index.unwrap_or(usize::MAX), f.row));
    failures
}

/// The input rows (0-based) that have no entry in the mfp row log: they never ran.
pub fn mfp_unrun(logs: &[Value], row_count: usize) -> Vec<usize> {
    let ran: HashSet<u64> = logs
        .iter()
        .filter_map(|entry| entry.get("row").and_then(Value::as_u64))
        .collect();
    (0..row_count)
        .filter(|&index| !ran.contains(&(index as u64 + 1)))
        .collect()
}

/// The upload index the server gives an account row: its own, or its 1-based position.
pub fn upload_index(row: &Row, index: usize) -> i64 {
    row.payload
        .get("uploadIndex")
        .and_then(Value::as_i64)
        .unwrap_or_else(|| i64::try_from(index + 1).unwrap_or(i64::MAX))
}

/// Fields echoed in an item that tell rows with the same upload index apart.
const IDENTITY_FIELDS: [&str; 5] = ["safeName", "platformId", "userName", "address", "name"];

/// Matches the items of an accounts result to input rows, each row at most once.
///
/// Upload indexes are the caller's and need not be unique: among rows sharing one, each
/// item takes the first row not yet taken whose identifying fields match the echo, else the
/// first row not yet taken.
struct Matcher<'a> {
    rows: &'a [Row],
    by_index: HashMap<i64, Vec<usize>>,
    taken: Vec<bool>,
}

impl<'a> Matcher<'a> {
    fn new(rows: &'a [Row]) -> Self {
        let mut by_index: HashMap<i64, Vec<usize>> = HashMap::new();
        for (index, row) in rows.iter().enumerate() {
            by_index
                .entry(upload_index(row, index))
                .or_default()
                .push(index);
        }
        Self {
            rows,
            by_index,
            taken: vec![false; rows.len()],
        }
    }

    fn take(&mut self, item: &Value) -> Option<usize> {
        let candidates = item
            .get("uploadIndex")
            .and_then(Value::as_i64)
            .and_then(|i| self.by_index.get(&i))
            .map(Vec::as_slice)
            .unwrap_or_default();
        let taken = &self.taken;
        let free = || candidates.iter().copied().filter(|&i| !taken[i]);
        let same = |&i: &usize| {
            IDENTITY_FIELDS
                .iter()
                .all(|f| item.get(*f) == self.rows[i].payload.get(*f))
        };
        let index = free().find(same).or_else(|| free().next());
        if let Some(index) = index {
            self.taken[index] = true;
        }
        index
    }
}

fn items<'v>(document: &'v Value, list: &str) -> &'v [Value] {
    document
        .pointer(&format!("/{list}/Items"))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// The failed items of an accounts result matched to input rows, in input order, and the
/// input rows that are in neither list (they never ran).
pub fn from_accounts_result(document: &Value, rows: &[Row]) -> (Vec<Failure>, Vec<usize>) {
    let mut matcher = Matcher::new(rows);
    let mut failures: Vec<Failure> = items(document, "FailedItems")
        .iter()
        .map(|item| Failure {
            index: matcher.take(item),
            row: item.get("uploadIndex").and_then(Value::as_i64),
            code: text(item, "errorCode"),
            message: text(item, "error"),
        })
        .collect();
    for item in items(document, "SucceededItems") {
        matcher.take(item);
    }
    failures.sort_by_key(|f| (f.index.unwrap_or(usize::MAX), f.row));
    let unrun = (0..rows.len()).filter(|&i| !matcher.taken[i]).collect();
    (failures, unrun)
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
                line: None,
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
        assert_eq!(failures[2].row, Some(9));
        assert_eq!(failed_rows(&failures), vec![1, 2]);
        // Without the input, the server's row numbers remain.
        let unmatched = from_mfp_logs(&logs, 0);
        assert_eq!(indexes(&unmatched), vec![None, None, None]);
        assert_eq!(
            unmatched.iter().map(|f| f.row).collect::<Vec<_>>(),
            [Some(2), Some(3), Some(9)]
        );
    }

    #[test]
    fn rows_missing_from_the_mfp_log_never_ran() {
        let logs = [json!({"row": 1}), json!({"row": 3})];
        assert_eq!(mfp_unrun(&logs, 5), vec![1, 3, 4]);
        assert_eq!(mfp_unrun(&logs, 0), Vec::<usize>::new());
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
        let document = json!({"FailedItems": {"Items": [
            {"uploadIndex": 3, "safeName": "c", "error": "no", "errorCode": "E"},
            {"uploadIndex": 1, "safeName": "a", "error": "no", "errorCode": "E"},
        ]}});
        let (failures, unrun) = from_accounts_result(&document, &input);
        assert_eq!(indexes(&failures), vec![Some(0), Some(2)]);
        // Row 2 is in neither list: it never ran.
        assert_eq!(unrun, vec![1]);
        let document = json!({
            "FailedItems": {"Items": [{"uploadIndex": 3, "safeName": "c"}]},
            "SucceededItems": {"Items": [{"uploadIndex": 1}, {"uploadIndex": 2}]},
        });
        assert_eq!(
            from_accounts_result(&document, &input).1,
            Vec::<usize>::new()
        );
    }

    #[test]
    fn failed_items_match_explicit_indexes() {
        let input = rows(vec![
            json!({"uploadIndex": 30, "safeName": "a"}),
            json!({"uploadIndex": 10, "safeName": "b"}),
            json!({"safeName": "c"}),
        ]);
        let document = json!({"FailedItems": {"Items": [
            {"uploadIndex": 10, "error": "x"},
            {"uploadIndex": 3, "error": "y"},
            {"uploadIndex": 2, "error": "unknown row"},
        ]}});
        let (failures, _) = from_accounts_result(&document, &input);
        assert_eq!(indexes(&failures), vec![Some(1), Some(2), None]);
        assert_eq!(failures[0].message, "x");
    }

    #[test]
    fn shared_indexes_are_told_apart_by_the_echoed_fields() {
        let input = rows(vec![
            json!({"uploadIndex": 1, "safeName": "s", "userName": "alice"}),
            json!({"uploadIndex": 1, "safeName": "s", "userName": "bob"}),
        ]);
        let bob = json!({"FailedItems": {"Items": [
            {"uploadIndex": 1, "safeName": "s", "userName": "bob", "error": "e"}
        ]}});
        assert_eq!(
            indexes(&from_accounts_result(&bob, &input).0),
            vec![Some(1)]
        );
        let both = json!({"FailedItems": {"Items": [
            {"uploadIndex": 1, "userName": "x"},
            {"uploadIndex": 1, "userName": "y"},
        ]}});
        assert_eq!(
            indexes(&from_accounts_result(&both, &input).0),
            vec![Some(0), Some(1)]
        );
    }

    #[test]
    fn counts_by_code_most_frequent_first() {
        let failure = |code: &str| Failure {
            index: None,
            row: None,
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
