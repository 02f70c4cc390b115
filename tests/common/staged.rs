//! A staged flash pass file shared by the staged-file tests: every spelling of an id, blank
//! lines, bad lines, duplicates and unknown enrollments, with each row's expected outcome.

use bulkops_shared::ops::mobile_flash_pass::codes;
use bulkops_testkit::scenario::enrollment_id;

/// A file of `rows` rows after an `id` header, each id spelled one of three ways, with blank
/// lines; and what each row must end as (None: succeeded).
pub fn file(rows: usize) -> (String, Vec<Option<&'static str>>) {
    let mut text = String::from("id\n");
    let mut expected = Vec::new();
    for i in 0..rows {
        let (id, outcome) = match i % 100 {
            13 => (
                "not base64!!".to_owned(),
                Some(codes::INVALID_ENROLLMENT_ID),
            ),
            29 => (enrollment_id(i - 1), Some(codes::DUPLICATE_ROW)),
            n if n % 50 == 7 => (
                enrollment_id(1_000_000 + i),
                Some(codes::ENROLLMENT_NOT_FOUND),
            ),
            _ => (enrollment_id(i), None),
        };
        match i % 3 {
            0 => text.push_str(&id),
            1 => text.push_str(&format!("\"{id}\"")),
            _ => text.push_str(&format!("{{\"id\": \"{id}\"}}")),
        }
        text.push_str(if i % 17 == 0 { "\r\n\n" } else { "\n" });
        expected.push(outcome);
    }
    (text, expected)
}
